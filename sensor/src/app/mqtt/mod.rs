//! MQTT 3.1, 3.1.1 and 5.0 over TCP.
//!
//! As in the reference IDS, a transaction is a request with its answer:
//! CONNECT with CONNACK, PUBLISH (QoS 1 and 2) with its PUBACK or
//! PUBREC/PUBREL/PUBCOMP, SUBSCRIBE with SUBACK, UNSUBSCRIBE with UNSUBACK,
//! paired by packet identifier; every other packet is a transaction of its
//! own. Protocol anomalies are events on the transaction they concern.

pub mod detect;
pub mod parser;

use serde_json::{json, Map, Value};

use super::detect::Probe;
use super::Direction;
use parser::{fixed_header, kind, parse_body, Body, Header, Message, PropValue, Property};

/// Packets longer than this (remaining length) are skipped, not parsed
/// (the reference IDS's default `max-msg-length`, 1 MiB).
pub const MAX_MSG_LEN: u32 = 1 << 20;

/// Transactions kept per flow; past it the oldest unanswered one is closed
/// with [`MqttEvent::TooManyTransactions`] (the reference IDS's `max-tx`).
pub const MAX_TX: usize = 1024;

/// Pseudo packet identifier pairing CONNECT with CONNACK (real ones are 16 bits).
const CONNECT_PKT_ID: u32 = u32::MAX;

/// MQTT anomalies. The first eleven are the reference IDS's
/// `app-layer-event:mqtt.*` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MqttEvent {
    /// CONNACK without a CONNECT before it.
    MissingConnect,
    /// PUBACK/PUBREC/PUBREL/PUBCOMP without its PUBLISH.
    MissingPublish,
    /// SUBACK without its SUBSCRIBE.
    MissingSubscribe,
    /// UNSUBACK without its UNSUBSCRIBE.
    MissingUnsubscribe,
    /// A CONNECT after the session was connected.
    DoubleConnect,
    /// A packet before the CONNECT/CONNACK exchange completed.
    UnintroducedMessage,
    /// A QoS of 3.
    InvalidQosLevel,
    /// A QoS 1 or 2 PUBLISH without a packet identifier.
    MissingMsgId,
    /// Packet type 0 (reserved).
    UnassignedMsgType,
    /// More than [`MAX_TX`] transactions on the flow.
    TooManyTransactions,
    /// Bytes that are not an MQTT packet: parsing stops for the flow.
    MalformedTraffic,
    /// A packet longer than [`MAX_MSG_LEN`], skipped (vigie's).
    MessageTooLarge,
    /// Stream bytes lost; parsing resumes with the next data (vigie's).
    Gap,
}

impl MqttEvent {
    /// Every event, in counter order.
    pub const ALL: [MqttEvent; 13] = [
        MqttEvent::MissingConnect,
        MqttEvent::MissingPublish,
        MqttEvent::MissingSubscribe,
        MqttEvent::MissingUnsubscribe,
        MqttEvent::DoubleConnect,
        MqttEvent::UnintroducedMessage,
        MqttEvent::InvalidQosLevel,
        MqttEvent::MissingMsgId,
        MqttEvent::UnassignedMsgType,
        MqttEvent::TooManyTransactions,
        MqttEvent::MalformedTraffic,
        MqttEvent::MessageTooLarge,
        MqttEvent::Gap,
    ];

    /// Name after `mqtt.` in `app-layer-event` rules and EVE anomalies.
    pub fn name(self) -> &'static str {
        match self {
            MqttEvent::MissingConnect => "missing_connect",
            MqttEvent::MissingPublish => "missing_publish",
            MqttEvent::MissingSubscribe => "missing_subscribe",
            MqttEvent::MissingUnsubscribe => "missing_unsubscribe",
            MqttEvent::DoubleConnect => "double_connect",
            MqttEvent::UnintroducedMessage => "unintroduced_message",
            MqttEvent::InvalidQosLevel => "invalid_qos_level",
            MqttEvent::MissingMsgId => "missing_msg_id",
            MqttEvent::UnassignedMsgType => "unassigned_msg_type",
            MqttEvent::TooManyTransactions => "too_many_transactions",
            MqttEvent::MalformedTraffic => "malformed_traffic",
            MqttEvent::MessageTooLarge => "message_too_large",
            MqttEvent::Gap => "gap",
        }
    }

    /// `mqtt.<name>`, as `app-layer-event` rules name it; None for vigie's
    /// own events (oversized message, stream gap), which the reference IDS
    /// does not raise: they are EVE anomalies and counters only.
    pub fn rule_name(self) -> Option<&'static str> {
        Some(match self {
            MqttEvent::MissingConnect => "mqtt.missing_connect",
            MqttEvent::MissingPublish => "mqtt.missing_publish",
            MqttEvent::MissingSubscribe => "mqtt.missing_subscribe",
            MqttEvent::MissingUnsubscribe => "mqtt.missing_unsubscribe",
            MqttEvent::DoubleConnect => "mqtt.double_connect",
            MqttEvent::UnintroducedMessage => "mqtt.unintroduced_message",
            MqttEvent::InvalidQosLevel => "mqtt.invalid_qos_level",
            MqttEvent::MissingMsgId => "mqtt.missing_msg_id",
            MqttEvent::UnassignedMsgType => "mqtt.unassigned_msg_type",
            MqttEvent::TooManyTransactions => "mqtt.too_many_transactions",
            MqttEvent::MalformedTraffic => "mqtt.malformed_traffic",
            MqttEvent::MessageTooLarge | MqttEvent::Gap => return None,
        })
    }
}

/// One MQTT transaction: a request and its answer, or a lone packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttTx {
    /// Transaction id within the flow.
    pub tx_id: u64,
    /// Direction of its first packet.
    pub dir: Direction,
    /// Its packets, in order.
    pub msgs: Vec<Message>,
    /// Anomalies raised on it.
    pub events: Vec<MqttEvent>,
    /// The session's protocol level when it was last updated.
    pub protocol_version: u8,
    /// Packet identifier an answer pairs with, while open.
    pkt_id: Option<u32>,
    /// No more packets join it.
    pub complete: bool,
    /// Packets and events detection has seen.
    pub inspected: (usize, usize),
}

impl MqttTx {
    /// Whether detection has seen all its packets and events.
    pub fn is_inspected(&self) -> bool {
        self.inspected == (self.msgs.len(), self.events.len())
    }
}

/// One direction's stream: bytes of a packet not complete yet.
#[derive(Debug, Default)]
struct StreamDir {
    buf: Vec<u8>,
    /// Bytes of an oversized packet still to pass over.
    skip: u64,
}

/// Per-flow MQTT state.
#[derive(Debug, Default)]
pub struct MqttState {
    txs: Vec<MqttTx>,
    next_id: u64,
    /// Protocol level of the last CONNECT (0 before one).
    pub protocol_version: u8,
    connected: bool,
    streams: [StreamDir; 2],
    /// Bytes that did not parse: nothing more is parsed on the flow.
    failed: bool,
    counts: [u64; MqttEvent::ALL.len()],
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// Whether one direction's first bytes are MQTT: on the MQTT port any
/// plausible fixed header (not type 0, QoS at most 2, as the reference
/// IDS's probe); on any port a CONNECT naming the protocol.
pub fn probe(first: &[u8], on_port: bool) -> Probe {
    match parser::starts_with_connect(first) {
        Some(true) => return Probe::Match,
        None if !first.is_empty() => return Probe::NeedMore,
        _ => {}
    }
    if !on_port || first.is_empty() {
        return Probe::NoMatch;
    }
    match fixed_header(first) {
        Header::Complete(h, _) if h.kind != kind::RESERVED && h.qos <= 2 => Probe::Match,
        Header::Complete(..) | Header::Invalid => Probe::NoMatch,
        Header::Incomplete => Probe::NeedMore,
    }
}

/// What one step of a direction's parsing found.
enum Step {
    /// A packet of this many bytes.
    Packet(Message, usize),
    /// An oversized packet: its header, and the bytes to skip in all.
    Skip(parser::FixedHeader, u64),
    /// More bytes needed.
    NeedMore,
    /// Not MQTT.
    Malformed,
}

fn step(b: &[u8], version: u8) -> Step {
    let (h, n) = match fixed_header(b) {
        Header::Complete(h, n) => (h, n),
        Header::Incomplete => return Step::NeedMore,
        Header::Invalid => return Step::Malformed,
    };
    if h.remaining > MAX_MSG_LEN {
        return Step::Skip(h, n as u64 + u64::from(h.remaining));
    }
    let end = n + h.remaining as usize;
    let Some(body) = b.get(n..end) else {
        return Step::NeedMore;
    };
    match parse_body(&h, body, version) {
        Ok(body) => Step::Packet(Message { header: h, body }, end),
        Err(_) => Step::Malformed,
    }
}

impl MqttState {
    /// In-order TCP stream bytes in `dir`.
    pub fn parse(&mut self, mut data: &[u8], dir: Direction) {
        if self.failed {
            return;
        }
        let i = slot(dir);
        let s = &mut self.streams[i];
        if s.skip > 0 {
            let n = s.skip.min(data.len() as u64);
            s.skip -= n;
            data = data.get(n as usize..).unwrap_or_default();
        }
        if data.is_empty() {
            return;
        }
        let mut buf = std::mem::take(&mut self.streams[i].buf);
        buf.extend_from_slice(data);
        let mut at = 0;
        while at < buf.len() {
            match step(&buf[at..], self.protocol_version) {
                Step::Packet(m, n) => {
                    at += n;
                    self.handle(m, dir);
                }
                Step::Skip(h, total) => {
                    let have = (buf.len() - at) as u64;
                    let taken = have.min(total);
                    at += taken as usize;
                    self.streams[i].skip = total - taken;
                    self.raise(MqttEvent::MessageTooLarge);
                    self.handle(
                        Message {
                            header: h,
                            body: Body::Truncated { skipped: total },
                        },
                        dir,
                    );
                }
                Step::NeedMore => break,
                Step::Malformed => {
                    self.fail(dir);
                    return;
                }
            }
        }
        buf.drain(..at);
        self.streams[i].buf = buf;
    }

    /// Stream bytes lost in `dir`: the partial packet goes, parsing resumes
    /// with the next bytes.
    pub fn gap(&mut self, dir: Direction) {
        let s = &mut self.streams[slot(dir)];
        s.buf = Vec::new();
        s.skip = 0;
        self.raise(MqttEvent::Gap);
    }

    /// Bytes that are not MQTT: an event on a transaction of its own, then
    /// nothing more is parsed (as the reference IDS).
    fn fail(&mut self, dir: Direction) {
        self.failed = true;
        self.streams = Default::default();
        let mut tx = self.new_tx(None, dir);
        tx.complete = true;
        self.set_event(&mut tx, MqttEvent::MalformedTraffic);
        self.txs.push(tx);
    }

    fn raise(&mut self, ev: MqttEvent) {
        if let Some(i) = MqttEvent::ALL.iter().position(|e| *e == ev) {
            self.counts[i] += 1;
        }
    }

    fn set_event(&mut self, tx: &mut MqttTx, ev: MqttEvent) {
        self.raise(ev);
        if !tx.events.contains(&ev) {
            tx.events.push(ev);
        }
    }

    /// How many times `ev` happened on this flow.
    pub fn count(&self, ev: MqttEvent) -> u64 {
        MqttEvent::ALL
            .iter()
            .position(|e| *e == ev)
            .map_or(0, |i| self.counts[i])
    }

    fn new_tx(&mut self, m: Option<Message>, dir: Direction) -> MqttTx {
        if self.txs.len() >= MAX_TX {
            // Close the oldest open transaction so that the flow's list is freed.
            if let Some(i) = self.txs.iter().position(|t| !t.complete) {
                let mut old = std::mem::replace(&mut self.txs[i], empty_tx());
                old.complete = true;
                old.pkt_id = None;
                self.set_event(&mut old, MqttEvent::TooManyTransactions);
                self.txs[i] = old;
            }
        }
        let tx = MqttTx {
            tx_id: self.next_id,
            dir,
            msgs: m.into_iter().collect(),
            events: Vec::new(),
            protocol_version: self.protocol_version,
            pkt_id: None,
            complete: false,
            inspected: (0, 0),
        };
        self.next_id += 1;
        tx
    }

    /// The open transaction waiting for an answer with packet id `id`.
    fn open_tx(&mut self, id: u32) -> Option<&mut MqttTx> {
        self.txs
            .iter_mut()
            .find(|t| !t.complete && t.pkt_id == Some(id))
    }

    /// Adds `m` to the open transaction `id`; `None` when there is none.
    fn answer(&mut self, id: u32, m: Message, close: bool) -> Option<Message> {
        let v = self.protocol_version;
        match self.open_tx(id) {
            Some(tx) => {
                tx.msgs.push(m);
                tx.protocol_version = v;
                if close {
                    tx.complete = true;
                    tx.pkt_id = None;
                }
                None
            }
            None => Some(m),
        }
    }

    /// An answer without its request: a transaction of its own with `ev`.
    fn orphan(&mut self, m: Message, dir: Direction, ev: MqttEvent) {
        let mut tx = self.new_tx(Some(m), dir);
        tx.complete = true;
        self.set_event(&mut tx, ev);
        if !self.connected && ev != MqttEvent::MissingConnect {
            self.set_event(&mut tx, MqttEvent::UnintroducedMessage);
        }
        self.txs.push(tx);
    }

    fn handle(&mut self, m: Message, dir: Direction) {
        let qos = m.header.qos;
        match &m.body {
            Body::Connect(c) => {
                self.protocol_version = c.protocol_version;
                let mut tx = self.new_tx(Some(m), dir);
                tx.pkt_id = Some(CONNECT_PKT_ID);
                if self.connected {
                    self.set_event(&mut tx, MqttEvent::DoubleConnect);
                }
                self.txs.push(tx);
            }
            Body::Publish { .. } | Body::Subscribe { .. } | Body::Unsubscribe { .. } => {
                let id = match &m.body {
                    Body::Publish { message_id, .. } => *message_id,
                    Body::Subscribe { message_id, .. } | Body::Unsubscribe { message_id, .. } => {
                        Some(*message_id)
                    }
                    _ => None,
                };
                let mut tx = self.new_tx(Some(m), dir);
                match qos {
                    // Nothing answers QoS 0.
                    0 => tx.complete = true,
                    1 | 2 => match id {
                        Some(id) => tx.pkt_id = Some(u32::from(id)),
                        None => self.set_event(&mut tx, MqttEvent::MissingMsgId),
                    },
                    _ => self.set_event(&mut tx, MqttEvent::InvalidQosLevel),
                }
                if !self.connected {
                    self.set_event(&mut tx, MqttEvent::UnintroducedMessage);
                }
                self.txs.push(tx);
            }
            Body::Connack { .. } => match self.answer(CONNECT_PKT_ID, m, true) {
                None => self.connected = true,
                Some(m) => self.orphan(m, dir, MqttEvent::MissingConnect),
            },
            Body::Ack { message_id, .. } => {
                let id = u32::from(*message_id);
                // PUBREC and PUBREL continue a QoS 2 exchange, PUBACK and
                // PUBCOMP end it.
                let close = matches!(m.header.kind, kind::PUBACK | kind::PUBCOMP);
                if let Some(m) = self.answer(id, m, close) {
                    self.orphan(m, dir, MqttEvent::MissingPublish);
                }
            }
            Body::Suback { message_id, .. } => {
                if let Some(m) = self.answer(u32::from(*message_id), m, true) {
                    self.orphan(m, dir, MqttEvent::MissingSubscribe);
                }
            }
            Body::Unsuback { message_id, .. } => {
                if let Some(m) = self.answer(u32::from(*message_id), m, true) {
                    self.orphan(m, dir, MqttEvent::MissingUnsubscribe);
                }
            }
            Body::Unassigned => {
                let mut tx = self.new_tx(Some(m), dir);
                tx.complete = true;
                self.set_event(&mut tx, MqttEvent::UnassignedMsgType);
                self.txs.push(tx);
            }
            Body::Truncated { .. } => {
                let mut tx = self.new_tx(Some(m), dir);
                tx.complete = true;
                self.txs.push(tx);
            }
            Body::Ping | Body::Disconnect { .. } | Body::Auth { .. } => {
                let mut tx = self.new_tx(Some(m), dir);
                tx.complete = true;
                if !self.connected {
                    self.set_event(&mut tx, MqttEvent::UnintroducedMessage);
                }
                self.txs.push(tx);
            }
        }
    }

    /// Transactions not yet freed.
    pub fn transactions(&self) -> &[MqttTx] {
        &self.txs
    }

    /// Transactions not yet freed, for detection to mark what it inspected.
    pub fn transactions_mut(&mut self) -> &mut [MqttTx] {
        &mut self.txs
    }

    /// Takes the transactions done with: all of them when `all` (flow end),
    /// else the complete ones that detection has seen whole (or all
    /// complete ones when nothing inspects them).
    pub fn take_complete(&mut self, all: bool, inspected_only: bool) -> Vec<MqttTx> {
        if all {
            return std::mem::take(&mut self.txs);
        }
        let (done, keep) = std::mem::take(&mut self.txs)
            .into_iter()
            .partition(|t| t.complete && (!inspected_only || t.is_inspected()));
        self.txs = keep;
        done
    }
}

fn empty_tx() -> MqttTx {
    MqttTx {
        tx_id: 0,
        dir: Direction::ToServer,
        msgs: Vec::new(),
        events: Vec::new(),
        protocol_version: 0,
        pkt_id: None,
        complete: true,
        inspected: (0, 0),
    }
}

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

fn properties(props: &[Property]) -> Value {
    let mut m = Map::new();
    for p in props {
        let name = parser::property_name(p.id).unwrap_or("unknown");
        match &p.value {
            PropValue::Int(v) => {
                m.insert(name.into(), json!(v));
            }
            PropValue::Bytes(b) => {
                m.insert(name.into(), text(b));
            }
            // User properties are keyed by their own name.
            PropValue::Pair(k, v) => {
                m.insert(String::from_utf8_lossy(k).into_owned(), text(v));
            }
        }
    }
    Value::Object(m)
}

fn header_fields(m: &Message) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("qos".into(), json!(m.header.qos));
    o.insert("retain".into(), json!(m.header.retain));
    o.insert("dup".into(), json!(m.header.dup));
    o
}

/// The EVE `mqtt` object of a transaction, with the reference IDS's fields:
/// one member per packet type it holds.
pub fn eve_mqtt(tx: &MqttTx) -> Value {
    let mut out = Map::new();
    for m in &tx.msgs {
        let mut o = header_fields(m);
        let mut props: &[Property] = &[];
        let key = match &m.body {
            Body::Connect(c) => {
                o.insert("protocol_string".into(), text(&c.protocol_string));
                o.insert("protocol_version".into(), json!(c.protocol_version));
                o.insert("client_id".into(), text(&c.client_id));
                let f = |bit: u8| json!(c.flags & bit != 0);
                o.insert(
                    "flags".into(),
                    json!({
                        "username": f(parser::connect_flag::USERNAME),
                        "password": f(parser::connect_flag::PASSWORD),
                        "will_retain": f(parser::connect_flag::WILL_RETAIN),
                        "will": f(parser::connect_flag::WILL),
                        "clean_session": f(parser::connect_flag::CLEAN_SESSION),
                    }),
                );
                if let Some(u) = &c.username {
                    o.insert("username".into(), text(u));
                }
                if let Some(p) = &c.password {
                    o.insert("password".into(), text(p));
                }
                if let Some((topic, msg)) = &c.will {
                    let mut w = Map::new();
                    w.insert("topic".into(), text(topic));
                    w.insert("message".into(), text(msg));
                    if !c.will_properties.is_empty() {
                        w.insert("properties".into(), properties(&c.will_properties));
                    }
                    o.insert("will".into(), Value::Object(w));
                }
                props = &c.properties;
                "connect"
            }
            Body::Connack {
                session_present,
                return_code,
                properties,
            } => {
                o.insert("session_present".into(), json!(session_present));
                o.insert("return_code".into(), json!(return_code));
                props = properties;
                "connack"
            }
            Body::Publish {
                topic,
                message_id,
                payload,
                properties,
            } => {
                o.insert("topic".into(), text(topic));
                if let Some(id) = message_id {
                    o.insert("message_id".into(), json!(id));
                }
                o.insert("message".into(), text(payload));
                props = properties;
                "publish"
            }
            Body::Ack {
                message_id,
                reason_code,
                properties,
            } => {
                o.insert("message_id".into(), json!(message_id));
                if let Some(rc) = reason_code {
                    o.insert("reason_code".into(), json!(rc));
                }
                props = properties;
                match m.header.kind {
                    kind::PUBACK => "puback",
                    kind::PUBREC => "pubrec",
                    kind::PUBREL => "pubrel",
                    _ => "pubcomp",
                }
            }
            Body::Subscribe {
                message_id,
                topics,
                properties,
            } => {
                o.insert("message_id".into(), json!(message_id));
                let t: Vec<Value> = topics
                    .iter()
                    .map(|(t, q)| json!({"topic": text(t), "qos": q}))
                    .collect();
                o.insert("topics".into(), Value::Array(t));
                props = properties;
                "subscribe"
            }
            Body::Suback {
                message_id, codes, ..
            } => {
                o.insert("message_id".into(), json!(message_id));
                o.insert("qos_granted".into(), json!(codes));
                "suback"
            }
            Body::Unsubscribe {
                message_id, topics, ..
            } => {
                o.insert("message_id".into(), json!(message_id));
                let t: Vec<Value> = topics.iter().map(|t| text(t)).collect();
                o.insert("topics".into(), Value::Array(t));
                "unsubscribe"
            }
            Body::Unsuback {
                message_id, codes, ..
            } => {
                o.insert("message_id".into(), json!(message_id));
                if !codes.is_empty() {
                    o.insert("reason_codes".into(), json!(codes));
                }
                "unsuback"
            }
            Body::Ping if m.header.kind == kind::PINGREQ => "pingreq",
            Body::Ping => "pingresp",
            Body::Disconnect {
                reason_code,
                properties,
            } => {
                if let Some(rc) = reason_code {
                    o.insert("reason_code".into(), json!(rc));
                }
                props = properties;
                "disconnect"
            }
            Body::Auth {
                reason_code,
                properties,
            } => {
                o.insert("reason_code".into(), json!(reason_code));
                props = properties;
                "auth"
            }
            Body::Truncated { skipped } => {
                o.insert("truncated".into(), json!(true));
                o.insert("skipped_length".into(), json!(skipped));
                match m.header.kind {
                    kind::CONNECT => "connect",
                    kind::CONNACK => "connack",
                    kind::PUBLISH => "publish",
                    kind::PUBACK => "puback",
                    kind::PUBREC => "pubrec",
                    kind::PUBREL => "pubrel",
                    kind::PUBCOMP => "pubcomp",
                    kind::SUBSCRIBE => "subscribe",
                    kind::SUBACK => "suback",
                    kind::UNSUBSCRIBE => "unsubscribe",
                    kind::UNSUBACK => "unsuback",
                    kind::PINGREQ => "pingreq",
                    kind::PINGRESP => "pingresp",
                    kind::DISCONNECT => "disconnect",
                    kind::AUTH => "auth",
                    _ => "unassigned",
                }
            }
            Body::Unassigned => continue,
        };
        if !props.is_empty() {
            o.insert("properties".into(), properties(props));
        }
        out.insert(key.into(), Value::Object(o));
    }
    Value::Object(out)
}

#[cfg(test)]
mod test {
    use super::*;

    const TS: Direction = Direction::ToServer;
    const TC: Direction = Direction::ToClient;

    // From suricata-verify's mqtt-sub-rules capture (MQTT 5).
    const CONNECT: &[u8] = b"\x10\x2f\x00\x04MQTT\x05\xc2\x00\x3c\x03\x21\x00\x14\x00\x13myvoiceismypassport\x00\x04user\x00\x04pass";
    const CONNACK: &[u8] = b"\x20\x06\x00\x00\x03\x22\x00\x0a";
    const SUBSCRIBE: &[u8] = b"\x82\x15\x00\x01\x00\x00\x06topicX\x00\x00\x06topicY\x00";
    const SUBACK: &[u8] = b"\x90\x05\x00\x01\x00\x00\x00";

    fn events(s: &MqttState) -> Vec<Vec<&'static str>> {
        s.transactions()
            .iter()
            .map(|t| t.events.iter().map(|e| e.name()).collect())
            .collect()
    }

    #[test]
    fn request_and_answer_share_a_transaction_across_segments() {
        let mut s = MqttState::default();
        let (a, b) = CONNECT.split_at(7);
        s.parse(a, TS);
        assert!(s.transactions().is_empty());
        s.parse(b, TS);
        s.parse(CONNACK, TC);
        let mut both = SUBSCRIBE.to_vec();
        both.extend_from_slice(b"\xe0\x00");
        s.parse(&both, TS);
        s.parse(SUBACK, TC);
        let txs = s.transactions();
        assert_eq!(txs.len(), 3);
        let kinds: Vec<Vec<u8>> = txs
            .iter()
            .map(|t| t.msgs.iter().map(|m| m.header.kind).collect())
            .collect();
        assert_eq!(kinds, vec![vec![1, 2], vec![8, 9], vec![14]]);
        // The SUBACK joined its SUBSCRIBE after the DISCONNECT was seen.
        assert!(txs.iter().all(|t| t.complete));
        assert_eq!(events(&s), vec![Vec::<&str>::new(); 3]);
        let mut bufs = Vec::new();
        txs[1].for_each_buffer(|n, b| bufs.push((n, b.to_vec())));
        assert!(bufs.contains(&("mqtt.subscribe.topic", b"topicY".to_vec())));
        assert!(bufs.contains(&("mqtt.reason_code", vec![0])));
        let v = eve_mqtt(&txs[0]);
        assert_eq!(v["connect"]["client_id"], "myvoiceismypassport");
        assert_eq!(v["connect"]["properties"]["receive_maximum"], 20);
        assert_eq!(v["connack"]["properties"]["topic_alias_maximum"], 10);
    }

    #[test]
    fn anomalies_are_events_on_their_transaction() {
        let mut s = MqttState::default();
        // An answer without its question, before any CONNECT.
        s.parse(CONNACK, TC);
        s.parse(SUBACK, TC);
        s.parse(CONNECT, TS);
        s.parse(CONNACK, TC);
        s.parse(CONNECT, TS);
        // PUBLISH QoS 3 (MQTT 5: empty properties), then reserved type 0.
        s.parse(b"\x36\x0b\x00\x06topicX\x00\x01\x00", TS);
        s.parse(b"\x00\x00", TS);
        assert_eq!(
            events(&s),
            vec![
                vec!["missing_connect"],
                vec!["missing_subscribe", "unintroduced_message"],
                vec![],
                vec!["double_connect"],
                vec!["invalid_qos_level"],
                vec!["unassigned_msg_type"],
            ]
        );
    }

    #[test]
    fn malformed_bytes_stop_parsing_the_flow() {
        let mut s = MqttState::default();
        // mqtt5-excessiveproplen: property length 4351 in a 47-byte packet.
        let mut bad = CONNECT.to_vec();
        bad[12] = 0xff;
        s.parse(&bad, TS);
        s.parse(CONNACK, TC);
        assert_eq!(events(&s), vec![vec!["malformed_traffic"]]);
        assert!(s.transactions()[0].msgs.is_empty());
        // A fifth remaining-length byte is malformed too.
        let mut s = MqttState::default();
        s.parse(b"\x30\xff\xff\xff\xff\x01", TS);
        assert_eq!(s.count(MqttEvent::MalformedTraffic), 1);
    }

    #[test]
    fn oversized_packets_are_skipped_and_counted() {
        let mut s = MqttState::default();
        s.parse(CONNECT, TS);
        s.parse(CONNACK, TC);
        // PUBLISH of MAX_MSG_LEN + 1 bytes, in two pieces, then a PINGREQ.
        let len = MAX_MSG_LEN + 1;
        let mut p = vec![0x30, 0x81, 0x80, 0x40];
        p.extend(std::iter::repeat_n(b'x', 1000));
        s.parse(&p, TS);
        let mut rest = vec![b'y'; len as usize - 1000];
        rest.extend_from_slice(b"\xc0\x00");
        s.parse(&rest, TS);
        assert_eq!(s.count(MqttEvent::MessageTooLarge), 1);
        let kinds: Vec<u8> = s
            .transactions()
            .iter()
            .flat_map(|t| t.msgs.iter().map(|m| m.header.kind))
            .collect();
        assert_eq!(kinds, vec![1, 2, 3, 12]);
        assert_eq!(
            eve_mqtt(&s.transactions()[1])["publish"]["skipped_length"],
            u64::from(len) + 4
        );
    }

    #[test]
    fn unanswered_transactions_are_capped() {
        let mut s = MqttState::default();
        s.parse(CONNECT, TS);
        s.parse(CONNACK, TC);
        // QoS 1 PUBLISHes nobody acknowledges.
        for id in 0..(MAX_TX as u16 + 5) {
            let mut p = b"\x32\x06\x00\x01t".to_vec();
            p.extend_from_slice(&id.to_be_bytes());
            p.push(0);
            s.parse(&p, TS);
        }
        assert_eq!(s.count(MqttEvent::TooManyTransactions), 6);
        let closed = s.transactions().iter().filter(|t| t.complete).count();
        assert_eq!(closed, 1 + 6);
        assert_eq!(s.take_complete(false, false).len(), 7);
    }

    /// The fuzz target's harness (`mqtt_messages`) on mutated real packets:
    /// no panic, and every transaction renders.
    #[test]
    fn mutated_packets_never_panic() {
        let seed: Vec<u8> = [CONNECT, CONNACK, SUBSCRIBE, SUBACK, b"\xe0\x00"].concat();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let mut d = seed.clone();
            for _ in 0..(1 + round % 6) {
                let r = next();
                let i = (r as usize) % d.len();
                match (r >> 32) % 3 {
                    0 => d[i] = (r >> 40) as u8,
                    1 => d.insert(i, (r >> 40) as u8),
                    _ => {
                        d.remove(i);
                    }
                }
            }
            let mut st = MqttState::default();
            let cut = (next() as usize) % d.len();
            for (k, part) in [&d[..cut], &d[cut..]].into_iter().enumerate() {
                let dir = if k == 0 { TS } else { TC };
                for chunk in part.chunks(1 + round % 9) {
                    st.parse(chunk, dir);
                }
            }
            for tx in st.take_complete(true, false) {
                let _ = eve_mqtt(&tx);
                tx.for_each_buffer(|_, _| {});
            }
        }
    }

    #[test]
    fn probe_by_port_and_by_connect() {
        assert_eq!(probe(CONNECT, false), Probe::Match);
        assert_eq!(probe(&CONNECT[..5], false), Probe::NeedMore);
        assert_eq!(probe(CONNACK, false), Probe::NoMatch);
        assert_eq!(probe(CONNACK, true), Probe::Match);
        assert_eq!(probe(b"\x36\x02\x00\x00", true), Probe::NoMatch);
        assert_eq!(probe(b"\x00\x00", true), Probe::NoMatch);
        assert_eq!(probe(b"\x30", true), Probe::NeedMore);
        assert_eq!(probe(b"", true), Probe::NoMatch);
    }
}
