//! TFTP and DHCP datagrams: requests, BOOTP headers, option lists, EVE.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::dhcp::{eve_dhcp, DhcpState};
use vigie_sensor::app::tftp::{eve_tftp, TftpState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut t = TftpState::default();
    let mut d = DhcpState::default();
    for (i, dg) in data.split(|&b| b == 0xfe).take(8).enumerate() {
        let dir = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        t.parse(dg, dir);
        d.parse(dg);
    }
    for tx in t.take_complete() {
        let _ = eve_tftp(&tx);
    }
    for tx in d.take_complete() {
        let _ = eve_dhcp(&tx);
    }
});
