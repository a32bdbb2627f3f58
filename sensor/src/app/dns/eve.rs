//! DNS EVE records, Suricata "version 2" layout (`type` query / answer).

use serde_json::{json, Map, Value};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::parser::{rcode_string, rrtype_string, DnsAnswer, DnsMessage, RData};
use super::state::{DnsTransaction, DnsVariant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One EVE `dns` object per question of the request (Suricata logs each
/// question as its own `type: query` record).
pub fn eve_queries(tx: &DnsTransaction) -> Vec<Value> {
    let Some(req) = &tx.request else {
        return Vec::new();
    };
    req.queries
        .iter()
        .map(|q| {
            json!({
                "type": "query",
                "id": req.header.id,
                "rrname": text(&q.name),
                "rrtype": rrtype_string(q.rrtype),
                "tx_id": tx.tx_id,
                "opcode": req.header.opcode(),
            })
        })
        .collect()
}

/// The EVE `dns` object of the response (`type: answer`), if one was seen.
pub fn eve_answer(tx: &DnsTransaction) -> Option<Value> {
    let resp = tx.response.as_ref()?;
    let h = &resp.header;
    let mut o = Map::new();
    o.insert("version".into(), json!(2));
    o.insert("type".into(), json!("answer"));
    o.insert("id".into(), json!(h.id));
    o.insert("flags".into(), json!(format!("{:x}", h.flags)));
    for (name, set) in [
        ("qr", h.is_response()),
        ("aa", h.aa()),
        ("tc", h.tc()),
        ("rd", h.rd()),
        ("ra", h.ra()),
        ("z", h.z()),
    ] {
        if set {
            o.insert(name.into(), json!(true));
        }
    }
    o.insert("opcode".into(), json!(h.opcode()));
    if let Some(q) = resp.queries.first() {
        o.insert("rrname".into(), json!(text(&q.name)));
        o.insert("rrtype".into(), json!(rrtype_string(q.rrtype)));
    }
    o.insert("rcode".into(), json!(rcode_string(u16::from(h.rcode()))));
    if !resp.answers.is_empty() {
        o.insert(
            "answers".into(),
            Value::Array(resp.answers.iter().map(eve_rr).collect()),
        );
        o.insert("grouped".into(), grouped(resp));
    }
    if !resp.authorities.is_empty() {
        o.insert(
            "authorities".into(),
            Value::Array(resp.authorities.iter().map(eve_rr).collect()),
        );
    }
    Some(Value::Object(o))
}

/// Header fields shared by v3 request and response records.
fn v3_header(o: &mut Map<String, Value>, m: &DnsMessage, kind: &str) {
    let h = &m.header;
    o.insert("version".into(), json!(3));
    o.insert("type".into(), json!(kind));
    o.insert("id".into(), json!(h.id));
    o.insert("flags".into(), json!(format!("{:x}", h.flags)));
    for (name, set) in [
        ("qr", h.is_response()),
        ("aa", h.aa()),
        ("tc", h.tc()),
        ("rd", h.rd()),
        ("ra", h.ra()),
        ("z", h.z()),
    ] {
        if set {
            o.insert(name.into(), json!(true));
        }
    }
    o.insert("opcode".into(), json!(h.opcode()));
    let queries: Vec<Value> = m
        .queries
        .iter()
        .map(|q| json!({"rrname": text(&q.name), "rrtype": rrtype_string(q.rrtype)}))
        .collect();
    if !queries.is_empty() {
        o.insert("queries".into(), Value::Array(queries));
    }
}

/// The EVE `dns` record of the request in Suricata's version 3 layout
/// (`type: request`, `queries` list), if a request was seen.
pub fn eve_request_v3(tx: &DnsTransaction) -> Option<Value> {
    let req = tx.request.as_ref()?;
    let mut o = Map::new();
    v3_header(&mut o, req, "request");
    o.insert("tx_id".into(), json!(tx.tx_id));
    Some(Value::Object(o))
}

/// The EVE `dns` record of the response in Suricata's version 3 layout
/// (`type: response`, `queries`, `answers`, `authorities`), if one was seen.
pub fn eve_response_v3(tx: &DnsTransaction) -> Option<Value> {
    let resp = tx.response.as_ref()?;
    let mut o = Map::new();
    v3_header(&mut o, resp, "response");
    o.insert(
        "rcode".into(),
        json!(rcode_string(u16::from(resp.header.rcode()))),
    );
    if !resp.answers.is_empty() {
        o.insert(
            "answers".into(),
            Value::Array(resp.answers.iter().map(eve_rr).collect()),
        );
    }
    if !resp.authorities.is_empty() {
        o.insert(
            "authorities".into(),
            Value::Array(resp.authorities.iter().map(eve_rr).collect()),
        );
    }
    Some(Value::Object(o))
}

/// The `dns` object for an alert on this transaction: `query` list and
/// `answer` object, as Suricata adds to alerts.
pub fn eve_alert(tx: &DnsTransaction) -> Value {
    let mut o = Map::new();
    let q = eve_queries(tx);
    if !q.is_empty() {
        o.insert("query".into(), Value::Array(q));
    }
    if let Some(a) = eve_answer(tx) {
        o.insert("answer".into(), a);
    }
    Value::Object(o)
}

/// The EVE object of an mDNS or LLMNR transaction (one message): `type`
/// request or response, flags as a list, and each record's data under its
/// lowercase type name (`a`, `ptr`, `txt` list, `soa` object, ...), as the
/// reference IDS logs these protocols.
pub fn eve_multicast(tx: &DnsTransaction, variant: DnsVariant) -> Value {
    let (kind, m) = match (&tx.request, &tx.response) {
        (Some(m), _) => ("request", m),
        (None, Some(m)) => ("response", m),
        (None, None) => return Value::Object(Map::new()),
    };
    let h = &m.header;
    let mut o = Map::new();
    o.insert("type".into(), json!(kind));
    o.insert("id".into(), json!(tx.tx_id));
    let flag_names: &[(u16, &str)] = match variant {
        DnsVariant::Llmnr => &[(0x0400, "c"), (0x0200, "tc"), (0x0100, "t")],
        _ => &[
            (0x0400, "aa"),
            (0x0200, "tc"),
            (0x0100, "rd"),
            (0x0080, "ra"),
            (0x0040, "z"),
            (0x0020, "ad"),
            (0x0010, "cd"),
        ],
    };
    let flags: Vec<Value> = flag_names
        .iter()
        .filter(|(bit, _)| h.flags & bit != 0)
        .map(|(_, n)| json!(n))
        .collect();
    if !flags.is_empty() {
        o.insert("flags".into(), Value::Array(flags));
    }
    o.insert("opcode".into(), json!(h.opcode()));
    if variant != DnsVariant::Llmnr {
        o.insert("rcode".into(), json!(h.rcode()));
    }
    if !m.queries.is_empty() {
        let q: Vec<Value> = m
            .queries
            .iter()
            .map(|q| {
                json!({"rrname": text(&q.name), "rrtype": rrtype_string(q.rrtype).to_lowercase()})
            })
            .collect();
        o.insert("queries".into(), Value::Array(q));
    }
    for (key, rrs) in [
        ("answers", &m.answers),
        ("authorities", &m.authorities),
        ("additionals", &m.additionals),
    ] {
        // An EDNS OPT record without options says nothing worth a line.
        let list: Vec<Value> = rrs
            .iter()
            .filter(|r| !(r.rrtype == 41 && matches!(&r.data, RData::Raw(b) if b.is_empty())))
            .map(multicast_rr)
            .collect();
        if !list.is_empty() {
            o.insert(key.into(), Value::Array(list));
        }
    }
    Value::Object(o)
}

fn multicast_rr(rr: &DnsAnswer) -> Value {
    let mut o = Map::new();
    o.insert("rrname".into(), json!(text(&rr.name)));
    let key = rrtype_string(rr.rrtype).to_lowercase();
    let v = match &rr.data {
        RData::Txt(parts) => Value::Array(parts.iter().map(|p| json!(text(p))).collect()),
        RData::Raw(b) => json!(text(b)),
        d => match structured_rdata(d) {
            Some((_, v)) => v,
            None => json!(rdata_text(rr).unwrap_or_default()),
        },
    };
    o.insert(key, v);
    Value::Object(o)
}

/// Text form of a record's data where Suricata gives one as `rdata`.
pub fn rdata_text(rr: &DnsAnswer) -> Option<String> {
    Some(match &rr.data {
        RData::A(a) => Ipv4Addr::from(*a).to_string(),
        RData::Aaaa(a) => Ipv6Addr::from(*a).to_string(),
        RData::Name(n) => text(n),
        RData::Mx { exchange, .. } => text(exchange),
        RData::Txt(parts) => text(&parts.concat()),
        RData::Srv { target, .. } => text(target),
        RData::Soa { mname, .. } => text(mname),
        RData::Raw(_) => return None,
    })
}

fn eve_rr(rr: &DnsAnswer) -> Value {
    let mut o = Map::new();
    o.insert("rrname".into(), json!(text(&rr.name)));
    o.insert("rrtype".into(), json!(rrtype_string(rr.rrtype)));
    o.insert("ttl".into(), json!(rr.ttl));
    match structured_rdata(&rr.data) {
        Some((key, v)) => {
            o.insert(key.into(), v);
        }
        None => {
            if let Some(t) = rdata_text(rr) {
                o.insert("rdata".into(), json!(t));
            }
        }
    }
    Value::Object(o)
}

/// The object Suricata writes for SOA and SRV data, with its key (`soa`,
/// `srv`); other records have a text form or none.
fn structured_rdata(data: &RData) -> Option<(&'static str, Value)> {
    match data {
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => Some((
            "soa",
            json!({"mname": text(mname), "rname": text(rname), "serial": serial,
                   "refresh": refresh, "retry": retry, "expire": expire, "minimum": minimum}),
        )),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => Some((
            "srv",
            json!({"priority": priority, "weight": weight, "port": port, "name": text(target)}),
        )),
        _ => None,
    }
}

fn grouped(resp: &DnsMessage) -> Value {
    let mut g: Map<String, Value> = Map::new();
    for rr in &resp.answers {
        if let Some(t) = rdata_text(rr) {
            let e = g
                .entry(rrtype_string(rr.rrtype))
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = e {
                a.push(json!(t));
            }
        }
    }
    Value::Object(g)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::dns::DnsState;
    use crate::app::Direction;

    #[test]
    fn answer_record_fields() {
        let q: &[u8] = &[
            0x9d, 0x2b, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, b'w',
            b'w', b'w', 0x06, b'g', b'o', b'o', b'g', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00,
            0x00, 0x1c, 0x00, 0x01,
        ];
        let mut r = q.to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        r.extend_from_slice(&[
            0x2a, 0x00, 0x14, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x04,
        ]);
        let mut s = DnsState::new();
        s.parse_udp(q, Direction::ToServer);
        s.parse_udp(&r, Direction::ToClient);
        let tx = &s.transactions()[0];
        let qs = eve_queries(tx);
        assert_eq!(qs[0]["rrname"], "www.google.com");
        assert_eq!(qs[0]["rrtype"], "AAAA");
        let a = eve_answer(tx).unwrap();
        assert_eq!(a["flags"], "8180");
        assert_eq!(a["rcode"], "NOERROR");
        assert_eq!(a["answers"][0]["rdata"], "2a00:1450::2004");
        assert_eq!(a["grouped"]["AAAA"][0], "2a00:1450::2004");
        assert_eq!(a["qr"], true);
        assert!(a.get("aa").is_none());
        let q3 = eve_request_v3(tx).unwrap();
        assert_eq!(q3["type"], "request");
        assert_eq!(q3["queries"][0]["rrname"], "www.google.com");
        let r3 = eve_response_v3(tx).unwrap();
        assert_eq!(r3["type"], "response");
        assert_eq!(r3["answers"][0]["rdata"], "2a00:1450::2004");
        assert_eq!(r3["rcode"], "NOERROR");
    }
}
