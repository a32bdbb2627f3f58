//! DER certificate reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::tls::parse_certificate;

fuzz_target!(|data: &[u8]| {
    let _ = parse_certificate(data);
});
