//! TLS records in both directions, fed in two pieces each.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::tls::{eve, TlsState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(cut) * 8).min(rest.len());
    let (a, b) = rest.split_at(cut);
    let mut s = TlsState::new();
    s.parse(a, Direction::ToServer);
    s.parse(b, Direction::ToClient);
    s.parse(a, Direction::ToClient);
    s.parse(b, Direction::ToServer);
    let _ = eve::eve_tls(&s);
    let _ = s.buffers(Direction::ToClient);
});
