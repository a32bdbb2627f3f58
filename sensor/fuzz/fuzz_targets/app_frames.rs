//! App-layer frames over hostile streams: the HTTP/1 parser's message marks
//! and the DNS/TLS/SSH/SIP framers, with gaps, split anywhere; and DNS/SIP
//! datagrams as frames.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::frames::FrameNeeds;
use vigie_sensor::app::{AppLayer, Direction};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // The first byte picks the server port (and so the protocol), TCP or UDP.
    let port = [80, 53, 443, 22, 5060][usize::from(sel % 5)];
    let proto = if sel & 0x80 != 0 { 17 } else { 6 };
    let mut a = AppLayer::new(proto, 40000, port);
    a.needs.frames = FrameNeeds::with(0x3f);
    for (i, part) in rest.split(|&b| b == 0xfe).take(16).enumerate() {
        let dir = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        // 0xfd in a part marks a lost segment before it
        if proto == 6 && part.first() == Some(&0xfd) {
            a.on_gap(dir, u64::from(part.get(1).copied().unwrap_or(1)));
        }
        for chunk in part.chunks(usize::from(sel % 13) + 1) {
            a.on_data(dir, chunk);
        }
        if let Some(f) = a.frames.as_mut() {
            for fr in f.take_ready(dir) {
                assert!(fr.data.len() as u64 <= fr.len);
                let _ = fr.eve();
            }
        }
    }
    a.on_close(Direction::ToServer);
    a.on_close(Direction::ToClient);
});
