//! MQTT detection buffers: what a transaction's packets show to rules.

use super::parser::{Body, Message};
use super::MqttTx;

/// Buffer names MQTT transactions provide.
pub const BUFFER_NAMES: &[&str] = &[
    "mqtt.type",
    "mqtt.flags",
    "mqtt.qos",
    "mqtt.reason_code",
    "mqtt.protocol_version",
    "mqtt.connack.session_present",
    "mqtt.connect.flags",
    "mqtt.connect.clientid",
    "mqtt.connect.username",
    "mqtt.connect.password",
    "mqtt.connect.willtopic",
    "mqtt.connect.willmessage",
    "mqtt.connect.protocol_string",
    "mqtt.publish.topic",
    "mqtt.publish.message",
    "mqtt.subscribe.topic",
    "mqtt.unsubscribe.topic",
];

/// Topic instances of `mqtt.subscribe.topic` / `mqtt.unsubscribe.topic` per
/// transaction (the reference IDS's default match limit).
pub const MAX_TOPIC_INSTANCES: usize = 100;

/// The reason code `mqtt.reason_code` sees first: of an acknowledgement
/// with one, an AUTH, a CONNACK or a DISCONNECT with one.
fn first_reason_code(msgs: &[Message]) -> Option<u8> {
    msgs.iter().find_map(|m| match &m.body {
        Body::Ack { reason_code, .. } | Body::Disconnect { reason_code, .. } => *reason_code,
        Body::Auth { reason_code, .. } => Some(*reason_code),
        Body::Connack { return_code, .. } => Some(*return_code),
        _ => None,
    })
}

/// The first non-empty value (the reference IDS skips empty ones).
fn first<'a>(mut it: impl Iterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    it.find(|v| !v.is_empty())
}

impl MqttTx {
    /// Calls `f(name, bytes)` for each detection buffer of this transaction:
    /// integer buffers (one byte) once per packet they concern, byte
    /// buffers from the first packet with a non-empty value, topic buffers
    /// once per topic.
    pub fn for_each_buffer(&self, mut f: impl FnMut(&'static str, &[u8])) {
        for m in &self.msgs {
            f("mqtt.type", &[m.header.kind]);
            f("mqtt.flags", &[m.header.flag_bits()]);
            f("mqtt.qos", &[m.header.qos]);
        }
        if !self.msgs.is_empty() {
            f("mqtt.protocol_version", &[self.protocol_version]);
        }
        if let Some(rc) = first_reason_code(&self.msgs) {
            f("mqtt.reason_code", &[rc]);
        }
        let mut sub = 0;
        let mut unsub = 0;
        for m in &self.msgs {
            match &m.body {
                Body::Connack {
                    session_present, ..
                } => f(
                    "mqtt.connack.session_present",
                    &[u8::from(*session_present)],
                ),
                Body::Connect(c) => f("mqtt.connect.flags", &[c.flags]),
                Body::Suback { codes, .. } | Body::Unsuback { codes, .. } => {
                    for c in codes {
                        f("mqtt.reason_code", &[*c]);
                    }
                }
                Body::Subscribe { topics, .. } => {
                    for (t, _) in topics {
                        if sub < MAX_TOPIC_INSTANCES {
                            f("mqtt.subscribe.topic", t);
                            sub += 1;
                        }
                    }
                }
                Body::Unsubscribe { topics, .. } => {
                    for t in topics {
                        if unsub < MAX_TOPIC_INSTANCES {
                            f("mqtt.unsubscribe.topic", t);
                            unsub += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        let connect = self.msgs.iter().filter_map(|m| match &m.body {
            Body::Connect(c) => Some(c),
            _ => None,
        });
        let fields: [(&'static str, Option<&[u8]>); 6] = [
            (
                "mqtt.connect.clientid",
                first(connect.clone().map(|c| &c.client_id[..])),
            ),
            (
                "mqtt.connect.username",
                first(connect.clone().filter_map(|c| c.username.as_deref())),
            ),
            (
                "mqtt.connect.password",
                first(connect.clone().filter_map(|c| c.password.as_deref())),
            ),
            (
                "mqtt.connect.willtopic",
                first(
                    connect
                        .clone()
                        .filter_map(|c| c.will.as_ref().map(|w| &w.0[..])),
                ),
            ),
            (
                "mqtt.connect.willmessage",
                first(
                    connect
                        .clone()
                        .filter_map(|c| c.will.as_ref().map(|w| &w.1[..])),
                ),
            ),
            (
                "mqtt.connect.protocol_string",
                first(connect.clone().map(|c| &c.protocol_string[..])),
            ),
        ];
        for (name, v) in fields {
            if let Some(v) = v {
                f(name, v);
            }
        }
        let publish = self.msgs.iter().filter_map(|m| match &m.body {
            Body::Publish { topic, payload, .. } => Some((&topic[..], &payload[..])),
            _ => None,
        });
        if let Some(v) = first(publish.clone().map(|p| p.0)) {
            f("mqtt.publish.topic", v);
        }
        if let Some(v) = first(publish.map(|p| p.1)) {
            f("mqtt.publish.message", v);
        }
    }
}
