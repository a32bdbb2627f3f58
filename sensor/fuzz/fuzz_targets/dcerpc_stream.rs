//! DCERPC PDU streams: header framing, BIND/BIND_ACK contexts, request and
//! response fragments, gaps and resync, detection buffers and EVE.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::dcerpc::{eve::eve_dcerpc, for_each_buffer, DcerpcState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut tcp = DcerpcState::new();
    let mut pipe = DcerpcState::for_pipe(1 << 32);
    for (i, part) in data.split(|&b| b == 0xfe).take(16).enumerate() {
        let dir = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        // 0xfd in a part marks a lost segment before it
        if part.first() == Some(&0xfd) {
            tcp.gap(dir);
        }
        for chunk in part.chunks(5) {
            tcp.parse(chunk, dir);
        }
        pipe.parse_message(part, dir);
    }
    for st in [&tcp, &pipe] {
        for tx in st.transactions() {
            let _ = eve_dcerpc(st, tx);
            for_each_buffer(st, tx, Direction::ToServer, |_, _| {});
            for_each_buffer(st, tx, Direction::ToClient, |_, _| {});
        }
    }
    let _ = tcp.take_complete(true, false);
});
