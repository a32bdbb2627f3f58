//! Protocol detection over arbitrary first bytes and ports.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::detect_protocol;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let proto = if data[0] & 1 == 0 { 6 } else { 17 };
    let sport = u16::from_be_bytes([data[1], data[2]]);
    let dport = u16::from_be_bytes([data[3], data[4]]);
    let rest = &data[5..];
    let split = usize::from(data[5]).min(rest.len());
    let _ = detect_protocol(proto, sport, dport, &rest[..split], &rest[split..]);
});
