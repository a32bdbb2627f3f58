//! MQTT 3.1, 3.1.1 and 5.0 control packets (OASIS MQTT 3.1.1 and 5.0):
//! the fixed header with its variable-length remaining length, then one
//! body per packet type. Total: every length is checked before it is taken;
//! a short buffer says how much is needed, a body that does not hold what
//! its type needs is malformed.

/// Most bytes of a remaining-length varint (MQTT caps it at four).
const MAX_VARINT: usize = 4;

/// Packet type numbers (fixed header, high nibble).
pub mod kind {
    /// Reserved (0): not a packet type.
    pub const RESERVED: u8 = 0;
    /// Client asks to connect.
    pub const CONNECT: u8 = 1;
    /// Server answers CONNECT.
    pub const CONNACK: u8 = 2;
    /// Application message.
    pub const PUBLISH: u8 = 3;
    /// QoS 1 acknowledgement.
    pub const PUBACK: u8 = 4;
    /// QoS 2, part 1.
    pub const PUBREC: u8 = 5;
    /// QoS 2, part 2.
    pub const PUBREL: u8 = 6;
    /// QoS 2, part 3.
    pub const PUBCOMP: u8 = 7;
    /// Subscription request.
    pub const SUBSCRIBE: u8 = 8;
    /// Subscription answer.
    pub const SUBACK: u8 = 9;
    /// Unsubscription request.
    pub const UNSUBSCRIBE: u8 = 10;
    /// Unsubscription answer.
    pub const UNSUBACK: u8 = 11;
    /// Keep-alive request.
    pub const PINGREQ: u8 = 12;
    /// Keep-alive answer.
    pub const PINGRESP: u8 = 13;
    /// End of session.
    pub const DISCONNECT: u8 = 14;
    /// Enhanced authentication (MQTT 5).
    pub const AUTH: u8 = 15;
}

/// Name of a packet type, as rules (`mqtt.type:CONNECT`) and EVE spell it.
pub fn type_name(t: u8) -> &'static str {
    match t {
        kind::CONNECT => "CONNECT",
        kind::CONNACK => "CONNACK",
        kind::PUBLISH => "PUBLISH",
        kind::PUBACK => "PUBACK",
        kind::PUBREC => "PUBREC",
        kind::PUBREL => "PUBREL",
        kind::PUBCOMP => "PUBCOMP",
        kind::SUBSCRIBE => "SUBSCRIBE",
        kind::SUBACK => "SUBACK",
        kind::UNSUBSCRIBE => "UNSUBSCRIBE",
        kind::UNSUBACK => "UNSUBACK",
        kind::PINGREQ => "PINGREQ",
        kind::PINGRESP => "PINGRESP",
        kind::DISCONNECT => "DISCONNECT",
        kind::AUTH => "AUTH",
        _ => "UNASSIGNED",
    }
}

/// The fixed header every packet starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Packet type (0..=15).
    pub kind: u8,
    /// DUP flag (bit 3).
    pub dup: bool,
    /// QoS (bits 2-1); 3 is invalid but kept.
    pub qos: u8,
    /// RETAIN flag (bit 0).
    pub retain: bool,
    /// Bytes of the packet after the fixed header.
    pub remaining: u32,
}

impl FixedHeader {
    /// The flag nibble as `mqtt.flags` sees it: retain 0x1, dup 0x8.
    pub fn flag_bits(&self) -> u8 {
        u8::from(self.retain) | (u8::from(self.dup) << 3)
    }
}

/// What the bytes at the start of a buffer show of a fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The header and its length in bytes.
    Complete(FixedHeader, usize),
    /// Fewer bytes than the header needs.
    Incomplete,
    /// A remaining length longer than four bytes.
    Invalid,
}

/// Reads a variable byte integer (at most four bytes, 7 bits each).
/// `Ok(None)`: too short; `Err`: a fifth byte would be needed.
fn varint(b: &[u8]) -> Result<Option<(u32, usize)>, ()> {
    let mut v: u32 = 0;
    for i in 0..MAX_VARINT {
        let Some(&c) = b.get(i) else {
            return Ok(None);
        };
        v |= u32::from(c & 0x7f) << (7 * i);
        if c & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    Err(())
}

/// Parses the fixed header at the start of `b`.
pub fn fixed_header(b: &[u8]) -> Header {
    let Some(&first) = b.first() else {
        return Header::Incomplete;
    };
    match varint(b.get(1..).unwrap_or_default()) {
        Err(()) => Header::Invalid,
        Ok(None) => Header::Incomplete,
        Ok(Some((remaining, n))) => Header::Complete(
            FixedHeader {
                kind: first >> 4,
                dup: first & 0x08 != 0,
                qos: (first >> 1) & 0x03,
                retain: first & 0x01 != 0,
                remaining,
            },
            1 + n,
        ),
    }
}

/// An MQTT 5 property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    /// Byte, two-byte, four-byte or variable integers.
    Int(u64),
    /// UTF-8 string or binary data.
    Bytes(Vec<u8>),
    /// User property: name and value.
    Pair(Vec<u8>, Vec<u8>),
}

/// One MQTT 5 property: identifier and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Property identifier (MQTT 5.0 2.2.2.2).
    pub id: u32,
    /// Its value.
    pub value: PropValue,
}

/// Wire type of a property's value.
enum PropType {
    Byte,
    Two,
    Four,
    Var,
    Bytes,
    Pair,
}

/// Name (EVE key) and wire type of a known property identifier.
fn property_kind(id: u32) -> Option<(&'static str, PropType)> {
    use PropType::*;
    Some(match id {
        1 => ("payload_format_indicator", Byte),
        2 => ("message_expiry_interval", Four),
        3 => ("content_type", Bytes),
        8 => ("response_topic", Bytes),
        9 => ("correlation_data", Bytes),
        11 => ("subscription_identifier", Var),
        17 => ("session_expiry_interval", Four),
        18 => ("assigned_client_identifier", Bytes),
        19 => ("server_keep_alive", Two),
        21 => ("authentication_method", Bytes),
        22 => ("authentication_data", Bytes),
        23 => ("request_problem_information", Byte),
        24 => ("will_delay_interval", Four),
        25 => ("request_response_information", Byte),
        26 => ("response_information", Bytes),
        28 => ("server_reference", Bytes),
        31 => ("reason_string", Bytes),
        33 => ("receive_maximum", Two),
        34 => ("topic_alias_maximum", Two),
        35 => ("topic_alias", Two),
        36 => ("maximum_qos", Byte),
        37 => ("retain_available", Byte),
        38 => ("user_property", Pair),
        39 => ("maximum_packet_size", Four),
        40 => ("wildcard_subscription_available", Byte),
        41 => ("subscription_identifier_available", Byte),
        42 => ("shared_subscription_available", Byte),
        _ => return None,
    })
}

/// EVE key of a property identifier (`None` for unknown ones).
pub fn property_name(id: u32) -> Option<&'static str> {
    property_kind(id).map(|(n, _)| n)
}

/// A packet body that does not hold what its type needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// A checked cursor over one packet's body.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.b.len() {
            return Err(Malformed);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        let t = self.take(2)?;
        Ok(t.iter().fold(0u16, |a, b| (a << 8) | u16::from(*b)))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let t = self.take(4)?;
        Ok(t.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)))
    }

    fn varint(&mut self) -> Result<u32, Malformed> {
        match varint(self.b) {
            Ok(Some((v, n))) => {
                self.take(n)?;
                Ok(v)
            }
            _ => Err(Malformed),
        }
    }

    /// A two-byte length then that many bytes (strings and binary data).
    fn bytes(&mut self) -> Result<Vec<u8>, Malformed> {
        let n = self.u16()?;
        Ok(self.take(usize::from(n))?.to_vec())
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.b)
    }

    fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// MQTT 5 properties: a varint length, then properties filling exactly
    /// that many bytes. A length past the body is malformed.
    fn properties(&mut self) -> Result<Vec<Property>, Malformed> {
        let len = self.varint()?;
        let mut c = Cursor {
            b: self.take(len as usize)?,
        };
        let mut out = Vec::new();
        while !c.is_empty() {
            let id = c.varint()?;
            // An unknown identifier is kept out; what follows it is read
            // as the next identifier (the reference IDS does the same).
            let Some((_, t)) = property_kind(id) else {
                continue;
            };
            let value = match t {
                PropType::Byte => PropValue::Int(u64::from(c.u8()?)),
                PropType::Two => PropValue::Int(u64::from(c.u16()?)),
                PropType::Four => PropValue::Int(u64::from(c.u32()?)),
                PropType::Var => PropValue::Int(u64::from(c.varint()?)),
                PropType::Bytes => PropValue::Bytes(c.bytes()?),
                PropType::Pair => {
                    let k = c.bytes()?;
                    PropValue::Pair(k, c.bytes()?)
                }
            };
            out.push(Property { id, value });
        }
        Ok(out)
    }

    /// Properties where the version has them (MQTT 5), else none.
    fn properties_if(&mut self, v5: bool) -> Result<Vec<Property>, Malformed> {
        if v5 {
            self.properties()
        } else {
            Ok(Vec::new())
        }
    }
}

/// CONNECT's variable header and payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connect {
    /// "MQTT" (3.1.1, 5) or "MQIsdp" (3.1).
    pub protocol_string: Vec<u8>,
    /// Protocol level: 3 (3.1), 4 (3.1.1) or 5.
    pub protocol_version: u8,
    /// The raw connect flags byte.
    pub flags: u8,
    /// Keep alive, seconds.
    pub keepalive: u16,
    /// Client identifier.
    pub client_id: Vec<u8>,
    /// Will topic and message, when the will flag is set.
    pub will: Option<(Vec<u8>, Vec<u8>)>,
    /// Will properties (MQTT 5).
    pub will_properties: Vec<Property>,
    /// User name, when its flag is set.
    pub username: Option<Vec<u8>>,
    /// Password, when its flag is set.
    pub password: Option<Vec<u8>>,
    /// CONNECT properties (MQTT 5).
    pub properties: Vec<Property>,
}

/// Connect flag bits (MQTT 3.1.1 3.1.2.3).
pub mod connect_flag {
    /// User name present.
    pub const USERNAME: u8 = 0x80;
    /// Password present.
    pub const PASSWORD: u8 = 0x40;
    /// Will message retained.
    pub const WILL_RETAIN: u8 = 0x20;
    /// Will message present.
    pub const WILL: u8 = 0x04;
    /// Clean session (clean start in MQTT 5).
    pub const CLEAN_SESSION: u8 = 0x02;
}

/// The body of a control packet, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// CONNECT.
    Connect(Box<Connect>),
    /// CONNACK.
    Connack {
        /// Session present flag.
        session_present: bool,
        /// Return code (3.1.1) or reason code (5).
        return_code: u8,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// PUBLISH.
    Publish {
        /// Topic name.
        topic: Vec<u8>,
        /// Packet identifier (QoS 1 and 2).
        message_id: Option<u16>,
        /// Application message.
        payload: Vec<u8>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// PUBACK, PUBREC, PUBREL or PUBCOMP (the type says which).
    Ack {
        /// Packet identifier.
        message_id: u16,
        /// Reason code (MQTT 5).
        reason_code: Option<u8>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// SUBSCRIBE.
    Subscribe {
        /// Packet identifier.
        message_id: u16,
        /// Topic filters and their requested QoS (options byte).
        topics: Vec<(Vec<u8>, u8)>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// SUBACK.
    Suback {
        /// Packet identifier.
        message_id: u16,
        /// Granted QoS (3.1.1) or reason codes (5), one per topic.
        codes: Vec<u8>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// UNSUBSCRIBE.
    Unsubscribe {
        /// Packet identifier.
        message_id: u16,
        /// Topic filters.
        topics: Vec<Vec<u8>>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// UNSUBACK.
    Unsuback {
        /// Packet identifier.
        message_id: u16,
        /// Reason codes (MQTT 5), one per topic.
        codes: Vec<u8>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// PINGREQ or PINGRESP.
    Ping,
    /// DISCONNECT.
    Disconnect {
        /// Reason code (MQTT 5).
        reason_code: Option<u8>,
        /// Properties (MQTT 5).
        properties: Vec<Property>,
    },
    /// AUTH (MQTT 5).
    Auth {
        /// Reason code.
        reason_code: u8,
        /// Properties.
        properties: Vec<Property>,
    },
    /// Reserved type 0.
    Unassigned,
    /// Longer than the size cap: skipped, not parsed.
    Truncated {
        /// Bytes skipped, fixed header included.
        skipped: u64,
    },
}

/// One control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its fixed header.
    pub header: FixedHeader,
    /// Its parsed body.
    pub body: Body,
}

/// Parses the body of a packet of fixed header `h` (exactly `body`), for a
/// session at protocol level `version` (5 has properties and reason codes).
pub fn parse_body(h: &FixedHeader, body: &[u8], version: u8) -> Result<Body, Malformed> {
    let v5 = version == 5;
    let mut c = Cursor { b: body };
    Ok(match h.kind {
        kind::CONNECT => Body::Connect(Box::new(parse_connect(&mut c)?)),
        kind::CONNACK => {
            let ack = c.u8()?;
            let return_code = c.u8()?;
            Body::Connack {
                session_present: ack & 1 != 0,
                return_code,
                properties: c.properties_if(v5)?,
            }
        }
        kind::PUBLISH => {
            let topic = c.bytes()?;
            let message_id = if h.qos > 0 { Some(c.u16()?) } else { None };
            let properties = c.properties_if(v5)?;
            Body::Publish {
                topic,
                message_id,
                payload: c.rest().to_vec(),
                properties,
            }
        }
        kind::PUBACK | kind::PUBREC | kind::PUBREL | kind::PUBCOMP => {
            let message_id = c.u16()?;
            let (reason_code, properties) = if !v5 {
                (None, Vec::new())
            } else if c.is_empty() {
                // Remaining length 2: success, no properties.
                (Some(0), Vec::new())
            } else {
                let rc = c.u8()?;
                let props = if c.is_empty() {
                    Vec::new()
                } else {
                    c.properties()?
                };
                (Some(rc), props)
            };
            Body::Ack {
                message_id,
                reason_code,
                properties,
            }
        }
        kind::SUBSCRIBE => {
            let message_id = c.u16()?;
            let properties = c.properties_if(v5)?;
            let mut topics = Vec::new();
            // At least one topic filter; a partial one at the end is ignored.
            while !c.is_empty() {
                match (c.bytes(), c.u8()) {
                    (Ok(t), Ok(q)) => topics.push((t, q)),
                    _ => break,
                }
            }
            if topics.is_empty() {
                return Err(Malformed);
            }
            Body::Subscribe {
                message_id,
                topics,
                properties,
            }
        }
        kind::SUBACK => {
            let message_id = c.u16()?;
            let properties = c.properties_if(v5)?;
            Body::Suback {
                message_id,
                codes: c.rest().to_vec(),
                properties,
            }
        }
        kind::UNSUBSCRIBE => {
            let message_id = c.u16()?;
            let properties = c.properties_if(v5)?;
            let mut topics = Vec::new();
            while let Ok(t) = c.bytes() {
                topics.push(t);
            }
            Body::Unsubscribe {
                message_id,
                topics,
                properties,
            }
        }
        kind::UNSUBACK => {
            let message_id = c.u16()?;
            let properties = c.properties_if(v5)?;
            Body::Unsuback {
                message_id,
                codes: c.rest().to_vec(),
                properties,
            }
        }
        kind::PINGREQ | kind::PINGRESP => Body::Ping,
        kind::DISCONNECT => {
            if !v5 {
                Body::Disconnect {
                    reason_code: None,
                    properties: Vec::new(),
                }
            } else if c.is_empty() {
                // Remaining length 0: normal disconnection.
                Body::Disconnect {
                    reason_code: Some(0),
                    properties: Vec::new(),
                }
            } else {
                let rc = c.u8()?;
                let properties = if c.is_empty() {
                    Vec::new()
                } else {
                    c.properties()?
                };
                Body::Disconnect {
                    reason_code: Some(rc),
                    properties,
                }
            }
        }
        kind::AUTH => {
            if c.is_empty() {
                // Remaining length 0: success.
                Body::Auth {
                    reason_code: 0,
                    properties: Vec::new(),
                }
            } else {
                let reason_code = c.u8()?;
                let properties = if c.is_empty() {
                    Vec::new()
                } else {
                    c.properties()?
                };
                Body::Auth {
                    reason_code,
                    properties,
                }
            }
        }
        _ => Body::Unassigned,
    })
}

fn parse_connect(c: &mut Cursor<'_>) -> Result<Connect, Malformed> {
    let protocol_string = c.bytes()?;
    let protocol_version = c.u8()?;
    let flags = c.u8()?;
    let keepalive = c.u16()?;
    let v5 = protocol_version == 5;
    let properties = c.properties_if(v5)?;
    let client_id = c.bytes()?;
    let mut will_properties = Vec::new();
    let mut will = None;
    if flags & connect_flag::WILL != 0 {
        will_properties = c.properties_if(v5)?;
        let topic = c.bytes()?;
        will = Some((topic, c.bytes()?));
    }
    let username = if flags & connect_flag::USERNAME != 0 {
        Some(c.bytes()?)
    } else {
        None
    };
    let password = if flags & connect_flag::PASSWORD != 0 {
        Some(c.bytes()?)
    } else {
        None
    };
    Ok(Connect {
        protocol_string,
        protocol_version,
        flags,
        keepalive,
        client_id,
        will,
        will_properties,
        username,
        password,
        properties,
    })
}

/// Whether `b` opens with a CONNECT naming the MQTT protocol ("MQTT" or
/// "MQIsdp"): `Some(true)` yes, `Some(false)` no, `None` too short to tell.
pub fn starts_with_connect(b: &[u8]) -> Option<bool> {
    let &first = b.first()?;
    if first != 0x10 {
        return Some(false);
    }
    let n = match fixed_header(b) {
        Header::Complete(_, n) => n,
        Header::Incomplete => return None,
        Header::Invalid => return Some(false),
    };
    let rest = b.get(n..).unwrap_or_default();
    for name in [&b"\x00\x04MQTT"[..], &b"\x00\x06MQIsdp"[..]] {
        let k = rest.len().min(name.len());
        if rest[..k] == name[..k] {
            return if k == name.len() { Some(true) } else { None };
        }
    }
    Some(false)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn remaining_length_varint_limits() {
        assert_eq!(varint(&[0x00]), Ok(Some((0, 1))));
        assert_eq!(
            varint(&[0xff, 0xff, 0xff, 0x7f]),
            Ok(Some((268_435_455, 4)))
        );
        assert_eq!(varint(&[0xff, 0xff, 0xff, 0x80]), Err(()));
        assert_eq!(varint(&[0x80, 0x80]), Ok(None));
        assert_eq!(fixed_header(&[0x30]), Header::Incomplete);
        assert_eq!(
            fixed_header(&[0x30, 0xff, 0xff, 0xff, 0xff]),
            Header::Invalid
        );
    }

    // The CONNECT of suricata-verify's mqtt5-excessiveproplen: property
    // length 4351 in a 47-byte packet.
    const EXCESSIVE: &[u8] = b"\x10\x2f\x00\x04MQTT\x05\xc2\x00\x3c\xff\x21\x00\x14\x00\x13myvoiceismypassport\x00\x04user\x00\x04pass";

    #[test]
    fn property_length_past_the_packet_is_malformed() {
        let Header::Complete(h, n) = fixed_header(EXCESSIVE) else {
            panic!("header")
        };
        assert_eq!(
            (h.kind, h.remaining as usize, n),
            (1, EXCESSIVE.len() - 2, 2)
        );
        assert_eq!(parse_body(&h, &EXCESSIVE[n..], 0), Err(Malformed));
        // The packet as sent in mqtt-sub-rules: property length 3 (receive maximum).
        let mut ok = EXCESSIVE.to_vec();
        ok[12] = 0x03;
        let Body::Connect(c) = parse_body(&h, &ok[2..], 0).unwrap() else {
            panic!("not connect")
        };
        assert_eq!(c.protocol_version, 5);
        assert_eq!(c.client_id, b"myvoiceismypassport");
        assert_eq!(c.username.as_deref(), Some(&b"user"[..]));
        assert_eq!(c.password.as_deref(), Some(&b"pass"[..]));
        assert_eq!(
            c.properties,
            vec![Property {
                id: 33,
                value: PropValue::Int(20)
            }]
        );
    }

    #[test]
    fn publish_with_invalid_qos_keeps_its_id() {
        // mqtt-events-invalid-qos: PUBLISH with QoS 3.
        let pkt = b"\x36\x1a\x00\x06topicX\x00\x01baabaablacksheep";
        let Header::Complete(h, n) = fixed_header(pkt) else {
            panic!("header")
        };
        assert_eq!(h.qos, 3);
        let b = parse_body(&h, &pkt[n..], 4).unwrap();
        assert_eq!(
            b,
            Body::Publish {
                topic: b"topicX".to_vec(),
                message_id: Some(1),
                payload: b"baabaablacksheep".to_vec(),
                properties: vec![]
            }
        );
    }

    #[test]
    fn subscribe_needs_a_topic_and_v5_acks_may_omit_the_reason() {
        let h = FixedHeader {
            kind: kind::SUBSCRIBE,
            dup: false,
            qos: 1,
            retain: false,
            remaining: 0,
        };
        assert_eq!(parse_body(&h, b"\x00\x01", 4), Err(Malformed));
        let b = parse_body(&h, b"\x00\x01\x00\x00\x06topicX\x00\x00\x06topicY\x00", 5).unwrap();
        let Body::Subscribe { topics, .. } = b else {
            panic!("not subscribe")
        };
        assert_eq!(
            topics,
            vec![(b"topicX".to_vec(), 0), (b"topicY".to_vec(), 0)]
        );
        let ack = FixedHeader {
            kind: kind::PUBACK,
            ..h
        };
        assert_eq!(
            parse_body(&ack, b"\x00\x07", 5),
            Ok(Body::Ack {
                message_id: 7,
                reason_code: Some(0),
                properties: vec![]
            })
        );
        assert_eq!(
            parse_body(&ack, b"\x00\x07\x10", 5),
            Ok(Body::Ack {
                message_id: 7,
                reason_code: Some(0x10),
                properties: vec![]
            })
        );
        assert_eq!(parse_body(&ack, b"\x00", 5), Err(Malformed));
    }

    #[test]
    fn connect_detection_by_protocol_name() {
        assert_eq!(starts_with_connect(b"\x10\x0c\x00\x04MQ"), None);
        assert_eq!(starts_with_connect(b"\x10\x0c\x00\x04MQTT\x04"), Some(true));
        assert_eq!(
            starts_with_connect(b"\x10\x0c\x00\x06MQIsdp\x03"),
            Some(true)
        );
        assert_eq!(starts_with_connect(b"\x10\x0c\x00\x04HTTP"), Some(false));
        assert_eq!(starts_with_connect(b"GET / HTTP/1.1"), Some(false));
        assert_eq!(starts_with_connect(b""), None);
    }
}
