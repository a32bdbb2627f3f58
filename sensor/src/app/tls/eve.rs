//! TLS EVE object, with Suricata's field names.

use serde_json::{json, Map, Value};

use super::cert::format_time;
use super::parser::version_string;
use super::state::TlsState;

/// The EVE `tls` object of a flow's handshake.
pub fn eve_tls(s: &TlsState) -> Value {
    let mut o = Map::new();
    if let Some(c) = s.leaf() {
        o.insert("subject".into(), json!(c.subject));
        o.insert("issuerdn".into(), json!(c.issuer));
        o.insert("serial".into(), json!(c.serial));
        o.insert("fingerprint".into(), json!(c.fingerprint));
    }
    if let Some(sni) = s.client_hello.as_ref().and_then(|c| c.sni.as_deref()) {
        o.insert("sni".into(), json!(String::from_utf8_lossy(sni)));
    }
    if let Some(v) = s.version() {
        o.insert("version".into(), json!(version_string(v)));
    }
    if let Some(c) = s.leaf() {
        o.insert("notbefore".into(), json!(format_time(c.not_before)));
        o.insert("notafter".into(), json!(format_time(c.not_after)));
        if !c.san_dns.is_empty() {
            o.insert("subjectaltname".into(), json!(c.san_dns));
        }
    }
    if let Some(j) = &s.ja3 {
        o.insert("ja3".into(), json!({"hash": j.hash, "string": j.string}));
    }
    if let Some(j) = &s.ja3s {
        o.insert("ja3s".into(), json!({"hash": j.hash, "string": j.string}));
    }
    if let Some(j) = &s.ja4 {
        o.insert("ja4".into(), json!(j));
    }
    if let Some(alpn) = s
        .client_hello
        .as_ref()
        .map(|c| &c.alpn)
        .filter(|a| !a.is_empty())
    {
        let list: Vec<String> = alpn
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        o.insert("client_alpns".into(), json!(list));
    }
    if let Some(a) = s.server_hello.as_ref().and_then(|h| h.alpn.as_deref()) {
        o.insert("server_alpns".into(), json!([String::from_utf8_lossy(a)]));
    }
    Value::Object(o)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::tls::{ClientHello, ServerHello};

    #[test]
    fn fields_and_names() {
        let mut s = TlsState::new();
        assert_eq!(eve_tls(&s), json!({}));
        s.client_hello = Some(ClientHello {
            version: 0x0303,
            sni: Some(b"a.example".to_vec()),
            ..ClientHello::default()
        });
        s.server_hello = Some(ServerHello {
            version: 0x0303,
            selected_version: Some(0x0304),
            ..ServerHello::default()
        });
        let v = eve_tls(&s);
        assert_eq!(v["sni"], "a.example");
        assert_eq!(v["version"], "TLS 1.3");
        assert!(v.get("subject").is_none());
    }
}
