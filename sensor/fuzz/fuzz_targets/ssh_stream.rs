//! SSH streams: banners, binary packet framing, KEXINIT name-lists, HASSH.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::ssh::{eve_ssh, SshState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut s = SshState::default();
    for (i, part) in data.split(|&b| b == 0xfe).take(16).enumerate() {
        let dir = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if part.first() == Some(&0xfd) {
            s.gap(dir);
        }
        for chunk in part.chunks(11) {
            s.parse(chunk, dir);
        }
    }
    let _ = eve_ssh(&s);
    for (side, dir) in s
        .sides
        .iter()
        .zip([Direction::ToServer, Direction::ToClient])
    {
        side.for_each_buffer(dir, |_, _| {});
    }
});
