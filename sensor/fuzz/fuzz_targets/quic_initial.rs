//! QUIC datagrams: long-header walking, Initial decryption, CRYPTO frames.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::quic::QuicState;
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut s = QuicState::new();
    for d in data.split(|&b| b == 0xfe).take(8) {
        s.parse(d, Direction::ToServer);
    }
    let _ = s.eve();
});
