//! One DNS message (UDP datagram), parsed and logged as EVE.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::dns::{eve, DnsSide, DnsState, DnsVariant};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut s = DnsState::new();
    s.parse_udp(data, Direction::ToServer);
    s.parse_udp(data, Direction::ToClient);
    for tx in s.take_all() {
        let _ = eve::eve_alert(&tx);
        for side in [DnsSide::Request, DnsSide::Response] {
            for variant in [DnsVariant::Dns, DnsVariant::Mdns, DnsVariant::Llmnr] {
                let _ = tx.buffers(side, variant);
            }
        }
    }
});
