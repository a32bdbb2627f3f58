//! MQTT streams: fixed headers, every packet body at protocol levels 3 to 5,
//! properties, request/answer pairing, caps, gaps, detection buffers and EVE.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::mqtt::{eve_mqtt, MqttState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let mut s = MqttState::default();
    for (i, part) in data.split(|&b| b == 0xfe).take(16).enumerate() {
        let dir = if i % 2 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        // 0xfd opening a part marks a lost segment before it
        if part.first() == Some(&0xfd) {
            s.gap(dir);
        }
        for chunk in part.chunks(5) {
            s.parse(chunk, dir);
        }
    }
    for tx in s.take_complete(true, false) {
        let _ = eve_mqtt(&tx);
        tx.for_each_buffer(|_, _| {});
    }
});
