//! HTTP detection buffers.

use super::state::HttpTransaction;
use crate::app::Direction;

/// Buffer names HTTP transactions provide.
pub const BUFFER_NAMES: &[&str] = &[
    "http.method",
    "http.uri",
    "http.uri.raw",
    "http.host",
    "http.host.raw",
    "http.user_agent",
    "http.header",
    "http.header.raw",
    "http.cookie",
    "http.request_body",
    "http.stat_code",
    "http.stat_msg",
    "http.content_type",
    "http.response_body",
    "file.data",
    "http.protocol",
    "http.request_line",
    "http.response_line",
    "http.server",
    "http.location",
    "http.referer",
    "http.content_len",
    "http.accept",
    "http.accept_enc",
    "http.accept_lang",
    "http.connection",
    "http.request_header",
    "http.response_header",
];

impl HttpTransaction {
    /// Calls `f(name, bytes)` for each detection buffer of this transaction in
    /// direction `dir` that has content.
    pub fn for_each_buffer<'a>(
        &'a self,
        dir: Direction,
        mut f: impl FnMut(&'static str, &'a [u8]),
    ) {
        let mut hdr = |name: &'static str, header: &str| {
            if let Some(v) = self.header(dir, header) {
                f(name, v);
            }
        };
        match dir {
            Direction::ToServer => {
                hdr("http.user_agent", "user-agent");
                hdr("http.cookie", "cookie");
                hdr("http.referer", "referer");
                hdr("http.accept", "accept");
                hdr("http.accept_enc", "accept-encoding");
                hdr("http.accept_lang", "accept-language");
            }
            Direction::ToClient => {
                hdr("http.cookie", "set-cookie");
                hdr("http.server", "server");
                hdr("http.location", "location");
            }
        }
        hdr("http.content_type", "content-type");
        hdr("http.content_len", "content-length");
        hdr("http.connection", "connection");
        let mut put = |name: &'static str, v: &'a [u8]| {
            if !v.is_empty() {
                f(name, v);
            }
        };
        match dir {
            Direction::ToServer => {
                put("http.method", &self.method);
                put("http.uri", &self.uri);
                put("http.uri.raw", &self.uri_raw);
                if let Some(h) = &self.host {
                    put("http.host", h);
                }
                if let Some(h) = &self.host_raw {
                    put("http.host.raw", h);
                }
                put("http.header", &self.request_header_buf);
                put("http.header.raw", &self.request_headers_raw);
                put("http.request_body", &self.request_body);
                // Each uploaded file of a multipart form is a file.data
                // instance of its own; any other body is one file.
                let parts = crate::app::file::request_parts(self)
                    .filter(|p| p.iter().any(|p| p.filename.is_some()));
                match parts {
                    Some(parts) => {
                        for p in parts.iter().filter(|p| p.filename.is_some()) {
                            put("file.data", p.data);
                        }
                    }
                    None => put("file.data", &self.request_body),
                }
                put("http.protocol", &self.request_protocol);
                put("http.request_line", &self.request_line);
            }
            Direction::ToClient => {
                put("http.stat_code", &self.status_code_raw);
                put("http.stat_msg", &self.status_msg);
                put("http.header", &self.response_header_buf);
                put("http.header.raw", &self.response_headers_raw);
                put("http.response_body", &self.response_body);
                put("file.data", &self.response_body);
                put("http.protocol", &self.response_protocol);
                put("http.response_line", &self.response_line);
            }
        }
    }

    /// The (buffer name, bytes) pairs of this transaction in direction `dir`.
    pub fn buffers(&self, dir: Direction) -> Vec<(&'static str, &[u8])> {
        let mut v = Vec::new();
        self.for_each_buffer(dir, |n, b| v.push((n, b)));
        v
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::http::HttpState;

    #[test]
    fn buffers_of_a_real_exchange() {
        let mut s = HttpState::new();
        s.parse(
            b"GET /x/../y?q=%41 HTTP/1.1\r\nHost: WWW.Example.org\r\nUser-Agent: curl/8.0\r\nCookie: a=b\r\nAccept: */*\r\n\r\n",
            Direction::ToServer,
        );
        s.parse(
            b"HTTP/1.1 302 Found\r\nServer: nginx\r\nLocation: /z\r\nSet-Cookie: s=1\r\nContent-Length: 2\r\n\r\nhi",
            Direction::ToClient,
        );
        let tx = &s.transactions()[0];
        let req = tx.buffers(Direction::ToServer);
        let get =
            |v: &[(&str, &[u8])], n: &str| v.iter().find(|(k, _)| *k == n).map(|(_, b)| b.to_vec());
        assert_eq!(get(&req, "http.uri").unwrap(), b"/y?q=%41");
        assert_eq!(get(&req, "http.uri.raw").unwrap(), b"/x/../y?q=%41");
        assert_eq!(get(&req, "http.host").unwrap(), b"www.example.org");
        assert_eq!(get(&req, "http.host.raw").unwrap(), b"WWW.Example.org");
        assert_eq!(get(&req, "http.cookie").unwrap(), b"a=b");
        assert_eq!(
            get(&req, "http.header").unwrap(),
            b"Host: WWW.Example.org\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n"
        );
        assert_eq!(
            get(&req, "http.request_line").unwrap(),
            b"GET /x/../y?q=%41 HTTP/1.1"
        );
        let resp = tx.buffers(Direction::ToClient);
        assert_eq!(get(&resp, "http.stat_code").unwrap(), b"302");
        assert_eq!(get(&resp, "http.stat_msg").unwrap(), b"Found");
        assert_eq!(get(&resp, "http.location").unwrap(), b"/z");
        assert_eq!(get(&resp, "http.cookie").unwrap(), b"s=1");
        assert_eq!(get(&resp, "file.data").unwrap(), b"hi");
        assert!(get(&resp, "http.header")
            .unwrap()
            .starts_with(b"Server: nginx\r\n"));
        for (n, _) in req.iter().chain(resp.iter()) {
            assert!(BUFFER_NAMES.contains(n), "{n}");
        }
    }
}
