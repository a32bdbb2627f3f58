//! DNS over TCP: length-prefixed messages split at a fuzzer-chosen point.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::dns::DnsState;
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(rest.len());
    let mut s = DnsState::new();
    s.parse_tcp(&rest[..cut], Direction::ToServer);
    s.parse_tcp(&rest[cut..], Direction::ToServer);
    s.parse_tcp(rest, Direction::ToClient);
    let _ = s.take_complete();
});
