//! SIP datagrams and streams: start lines, headers, Content-Length framing,
//! gaps, detection buffers and EVE.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::sip::{eve_sip, SipState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut udp = SipState::default();
    let mut tcp = SipState::default();
    for (i, part) in data.split(|&b| b == 0xfe).take(16).enumerate() {
        let dir = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        udp.parse_datagram(part, dir);
        // 0xfd in a part marks a lost segment before it
        if part.first() == Some(&0xfd) {
            tcp.gap(dir);
        }
        for chunk in part.chunks(7) {
            tcp.parse_stream(chunk, dir);
        }
    }
    for tx in udp
        .take_complete(true, true)
        .iter()
        .chain(tcp.transactions())
    {
        let _ = eve_sip(tx);
        tx.for_each_buffer(|_, _| {});
    }
});
