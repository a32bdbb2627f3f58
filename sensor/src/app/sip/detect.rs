//! SIP detection buffers.

use super::parser::{SipHeader, StartLine};
use super::SipTx;

/// Buffer names SIP messages provide.
pub const BUFFER_NAMES: &[&str] = &[
    "sip.method",
    "sip.uri",
    "sip.request_line",
    "sip.stat_code",
    "sip.stat_msg",
    "sip.response_line",
    "sip.protocol",
    "sip.from",
    "sip.to",
    "sip.via",
    "sip.user_agent",
    "sip.content_type",
    "sip.content_length",
];

/// The buffer each kept header fills.
fn header_buffer(h: SipHeader) -> &'static str {
    match h {
        SipHeader::From => "sip.from",
        SipHeader::To => "sip.to",
        SipHeader::Via => "sip.via",
        SipHeader::UserAgent => "sip.user_agent",
        SipHeader::ContentType => "sip.content_type",
        SipHeader::ContentLength => "sip.content_length",
    }
}

impl SipTx {
    /// Calls `f(name, bytes)` for each non-empty detection buffer of this
    /// message; header buffers come once per header field, in order.
    pub fn for_each_buffer<'a>(&'a self, mut f: impl FnMut(&'static str, &'a [u8])) {
        let mut put = |name: &'static str, v: &'a [u8]| {
            if !v.is_empty() {
                f(name, v);
            }
        };
        match &self.head.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                put("sip.method", method);
                put("sip.uri", uri);
                put("sip.request_line", &self.head.start_line);
                put("sip.protocol", version);
            }
            StartLine::Response {
                version,
                code,
                reason,
            } => {
                put("sip.stat_code", code);
                put("sip.stat_msg", reason);
                put("sip.response_line", &self.head.start_line);
                put("sip.protocol", version);
            }
        }
        for (h, v) in &self.head.headers {
            put(header_buffer(*h), v);
        }
    }
}

#[cfg(test)]
mod test {
    use crate::app::sip::SipState;
    use crate::app::Direction;

    #[test]
    fn buffers_of_a_request_and_a_response() {
        let mut s = SipState::default();
        s.parse_datagram(
            b"INVITE sip:bob@b.example SIP/2.0\r\nv: SIP/2.0/UDP a\r\nVia: SIP/2.0/UDP b\r\n\
f: <sip:alice@a.example>\r\nUser-Agent: Nero SIPPS\r\nl: 0\r\nSubject: x\r\n\r\n",
            Direction::ToServer,
        );
        s.parse_datagram(
            b"SIP/2.0 180 \r\nt: <sip:bob@b.example>\r\n\r\n",
            Direction::ToClient,
        );
        let mut got = Vec::new();
        for tx in s.transactions() {
            tx.for_each_buffer(|n, b| got.push((n, String::from_utf8_lossy(b).into_owned())));
        }
        let want: Vec<(&str, String)> = [
            ("sip.method", "INVITE"),
            ("sip.uri", "sip:bob@b.example"),
            ("sip.request_line", "INVITE sip:bob@b.example SIP/2.0"),
            ("sip.protocol", "SIP/2.0"),
            ("sip.via", "SIP/2.0/UDP a"),
            ("sip.via", "SIP/2.0/UDP b"),
            ("sip.from", "<sip:alice@a.example>"),
            ("sip.user_agent", "Nero SIPPS"),
            ("sip.content_length", "0"),
            ("sip.stat_code", "180"),
            ("sip.response_line", "SIP/2.0 180 "),
            ("sip.protocol", "SIP/2.0"),
            ("sip.to", "<sip:bob@b.example>"),
        ]
        .iter()
        .map(|(n, v)| (*n, v.to_string()))
        .collect();
        assert_eq!(got, want);
        for (n, _) in &got {
            assert!(super::BUFFER_NAMES.contains(n));
            assert!(vigie_rules::signature::BufferId::from_name(n).is_some());
        }
    }
}
