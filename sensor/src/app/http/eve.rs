//! HTTP EVE object, with Suricata's field names.

use serde_json::{json, Map, Value};

use super::state::HttpTransaction;
use crate::app::{hex_lower, Direction};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The EVE `http` object of a transaction.
pub fn eve_http(tx: &HttpTransaction) -> Value {
    let mut o = Map::new();
    if let Some(h) = &tx.host {
        o.insert("hostname".into(), json!(text(h)));
    }
    if let Some(p) = tx.host_port {
        o.insert("http_port".into(), json!(p));
    }
    if !tx.uri_raw.is_empty() {
        o.insert("url".into(), json!(text(&tx.uri_raw)));
    }
    let hdr = |o: &mut Map<String, Value>, key: &str, dir: Direction, name: &str| {
        if let Some(v) = tx.header(dir, name) {
            o.insert(key.into(), json!(text(v)));
        }
    };
    hdr(&mut o, "http_user_agent", Direction::ToServer, "user-agent");
    hdr(&mut o, "xff", Direction::ToServer, "x-forwarded-for");
    hdr(
        &mut o,
        "http_content_type",
        Direction::ToClient,
        "content-type",
    );
    hdr(&mut o, "http_refer", Direction::ToServer, "referer");
    if !tx.method.is_empty() {
        o.insert("http_method".into(), json!(text(&tx.method)));
    }
    let proto = if tx.request_protocol.is_empty() {
        &tx.response_protocol
    } else {
        &tx.request_protocol
    };
    if !proto.is_empty() {
        o.insert("protocol".into(), json!(text(proto)));
    }
    if let Some(s) = tx.status_code {
        o.insert("status".into(), json!(s));
    }
    hdr(&mut o, "redirect", Direction::ToClient, "location");
    o.insert("length".into(), json!(tx.response_body_len));
    if let Some(h) = tx.response_body_hashes.filter(|_| tx.response_body_len > 0) {
        for (name, d) in h.digests() {
            o.insert(format!("response_body_{name}"), json!(hex_lower(d)));
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::http::HttpState;

    #[test]
    fn suricata_field_names() {
        let mut s = HttpState::new();
        s.parse(
            b"GET /index.html HTTP/1.1\r\nHost: testmyids.com:8080\r\nUser-Agent: curl/7.58.0\r\nReferer: http://a/\r\n\r\n",
            Direction::ToServer,
        );
        s.parse(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 39\r\n\r\nuid=0(root) gid=0(root) groups=0(root)\n",
            Direction::ToClient,
        );
        let v = eve_http(&s.transactions()[0]);
        assert_eq!(v["hostname"], "testmyids.com");
        assert_eq!(v["http_port"], 8080);
        assert_eq!(v["url"], "/index.html");
        assert_eq!(v["http_user_agent"], "curl/7.58.0");
        assert_eq!(v["http_content_type"], "text/html");
        assert_eq!(v["http_refer"], "http://a/");
        assert_eq!(v["http_method"], "GET");
        assert_eq!(v["protocol"], "HTTP/1.1");
        assert_eq!(v["status"], 200);
        assert_eq!(v["length"], 39);
        assert_eq!(v["response_body_md5"].as_str().map(str::len), Some(32));
    }
}
