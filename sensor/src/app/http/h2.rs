//! HTTP/2 (RFC 9113) over cleartext TCP: frames, HPACK header blocks
//! (RFC 7541, decoded by `loona-hpack`) and streams, turned into the same
//! [`HttpTransaction`]s HTTP/1 gives: one per stream, so `http.*` buffers,
//! indicators and EVE work alike.
//!
//! Each direction has its own frame reader and HPACK decoder. Frames up to
//! [`MAX_COLLECT`] are read whole; a longer DATA frame is streamed into the
//! body, any other longer frame is skipped (both counted as
//! `long_frame_data` when over the peer's SETTINGS_MAX_FRAME_SIZE). A header
//! block that cannot be decoded loses the connection's HPACK state: the
//! connection stops being parsed, counted. Not parsed: HTTP/2 inside TLS
//! (the sensor sees ciphertext), the HTTP/1.1 `Upgrade: h2c` switch, and
//! pushed responses (their header blocks are decoded to keep HPACK in step,
//! then dropped).

use super::{
    header_buffer, normalized_host, BodySink, Direction, HttpEvent, HttpHeader, HttpState,
    HttpTransaction,
};
use crate::app::http::uri::normalize_uri;

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frames read whole up to this size.
const MAX_COLLECT: usize = 64 << 10;
/// Largest header block (HEADERS + CONTINUATION) decoded.
const MAX_HEADER_BLOCK: usize = 64 << 10;
/// HPACK dynamic table size accepted from an encoder.
const MAX_TABLE: usize = 64 << 10;
/// The default SETTINGS_MAX_FRAME_SIZE.
const DEFAULT_MAX_FRAME: u32 = 16_384;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const CONTINUATION: u8 = 9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

#[derive(Clone, Copy, Debug)]
struct Frame {
    len: u32,
    ty: u8,
    flags: u8,
    stream: u32,
}

/// How the payload of the current frame is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Take {
    Collect,
    /// A long unpadded DATA frame: straight into the stream's body.
    Stream,
    Skip,
}

/// One direction's frame reader.
struct H2Dir {
    /// Preface bytes still expected (to-server only).
    preface_left: usize,
    head: [u8; 9],
    head_len: usize,
    cur: Option<(Frame, Take)>,
    left: usize,
    buf: Vec<u8>,
    /// Header block being gathered: (stream, END_STREAM, push promise).
    block_of: Option<(u32, bool, bool)>,
    block: Vec<u8>,
    /// Largest frame this direction's sender may send (the receiver's setting).
    max_frame: u32,
    hpack: loona_hpack::Decoder<'static>,
    /// Bodies being read, by stream.
    bodies: Vec<(u32, Box<BodySink>)>,
}

impl std::fmt::Debug for H2Dir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Dir")
            .field("cur", &self.cur)
            .field("left", &self.left)
            .field("bodies", &self.bodies.len())
            .finish_non_exhaustive()
    }
}

impl H2Dir {
    fn new(preface_left: usize) -> H2Dir {
        let mut hpack = loona_hpack::Decoder::new();
        hpack.set_max_allowed_table_size(MAX_TABLE);
        H2Dir {
            preface_left,
            head: [0; 9],
            head_len: 0,
            cur: None,
            left: 0,
            buf: Vec::new(),
            block_of: None,
            block: Vec::new(),
            max_frame: DEFAULT_MAX_FRAME,
            hpack,
            bodies: Vec::new(),
        }
    }
}

/// HTTP/2 state of a connection.
#[derive(Debug)]
pub(super) struct H2Conn {
    dirs: [H2Dir; 2],
    /// Streams with a live transaction: (stream id, tx_id).
    streams: Vec<(u32, u64)>,
    failed: bool,
}

impl Default for H2Conn {
    fn default() -> H2Conn {
        H2Conn {
            dirs: [H2Dir::new(PREFACE.len()), H2Dir::new(0)],
            streams: Vec::new(),
            failed: false,
        }
    }
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// The payload without its padding (and `skip` more leading bytes), or
/// `None` when the padding runs past the end.
fn unpad(flags: u8, payload: &[u8], skip: usize) -> Option<&[u8]> {
    let (pad, rest) = if flags & PADDED != 0 {
        let (&p, rest) = payload.split_first()?;
        (p as usize, rest)
    } else {
        (0, payload)
    };
    let rest = rest.get(skip..)?;
    rest.get(..rest.len().checked_sub(pad)?)
}

impl HttpState {
    pub(super) fn parse_h2(&mut self, data: &[u8], dir: Direction) {
        let Some(mut h2) = self.h2.take() else {
            return;
        };
        self.h2_feed(&mut h2, data, dir);
        self.h2 = Some(h2);
    }

    fn h2_feed(&mut self, h2: &mut H2Conn, mut data: &[u8], dir: Direction) {
        let i = slot(dir);
        while !data.is_empty() && !h2.failed {
            let d = &mut h2.dirs[i];
            if d.preface_left > 0 {
                let at = PREFACE.len() - d.preface_left;
                let n = d.preface_left.min(data.len());
                if data[..n] != PREFACE[at..at + n] {
                    self.raise(HttpEvent::H2InvalidClientMagic, None);
                    h2.failed = true;
                    return;
                }
                d.preface_left -= n;
                data = &data[n..];
                continue;
            }
            let Some((frame, take)) = d.cur else {
                let n = (9 - d.head_len).min(data.len());
                d.head[d.head_len..d.head_len + n].copy_from_slice(&data[..n]);
                d.head_len += n;
                data = &data[n..];
                if d.head_len < 9 {
                    return;
                }
                d.head_len = 0;
                let h = d.head;
                let f = Frame {
                    len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
                    ty: h[3],
                    flags: h[4],
                    stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
                };
                let long = f.len > d.max_frame;
                let take = if (f.len as usize) <= MAX_COLLECT {
                    Take::Collect
                } else if f.ty == DATA && f.flags & PADDED == 0 {
                    Take::Stream
                } else {
                    Take::Skip
                };
                if long {
                    self.raise(HttpEvent::H2LongFrameData, None);
                }
                if take == Take::Skip && matches!(f.ty, HEADERS | CONTINUATION | PUSH_PROMISE) {
                    // The header block is lost, and HPACK state with it.
                    self.raise(HttpEvent::H2HeaderBlockTooLarge, None);
                    h2.failed = true;
                    return;
                }
                let d = &mut h2.dirs[i];
                d.buf.clear();
                d.left = f.len as usize;
                d.cur = Some((f, take));
                if f.len == 0 {
                    d.cur = None;
                    self.h2_frame(h2, dir, f, &[]);
                }
                continue;
            };
            let n = d.left.min(data.len());
            match take {
                Take::Collect => d.buf.extend_from_slice(&data[..n]),
                Take::Stream => self.h2_body(h2, dir, frame.stream, &data[..n]),
                Take::Skip => {}
            }
            let d = &mut h2.dirs[i];
            d.left -= n;
            data = &data[n..];
            if d.left == 0 {
                d.cur = None;
                let payload = std::mem::take(&mut d.buf);
                match take {
                    Take::Collect => self.h2_frame(h2, dir, frame, &payload),
                    Take::Stream if frame.flags & END_STREAM != 0 => {
                        self.h2_end_body(h2, dir, frame.stream)
                    }
                    _ => {}
                }
                let d = &mut h2.dirs[i];
                if d.buf.capacity() == 0 && payload.capacity() <= MAX_COLLECT {
                    d.buf = payload; // keep the allocation
                }
            }
        }
    }

    fn h2_frame(&mut self, h2: &mut H2Conn, dir: Direction, f: Frame, payload: &[u8]) {
        let i = slot(dir);
        // A header block must continue on its stream before anything else.
        if h2.dirs[i].block_of.is_some() && f.ty != CONTINUATION {
            self.raise(HttpEvent::H2InvalidFrame, None);
            h2.failed = true;
            return;
        }
        if let Some(t) = self.h2_tx_index(h2, f.stream) {
            let t = &mut self.txs[t];
            let n = 9 + u64::from(f.len);
            match dir {
                Direction::ToServer => t.request_bytes += n,
                Direction::ToClient => t.response_bytes += n,
            }
        }
        match f.ty {
            DATA => {
                let Some(body) = unpad(f.flags, payload, 0).filter(|_| f.stream != 0) else {
                    self.raise(HttpEvent::H2InvalidFrame, None);
                    return;
                };
                self.h2_body(h2, dir, f.stream, body);
                if f.flags & END_STREAM != 0 {
                    self.h2_end_body(h2, dir, f.stream);
                }
            }
            HEADERS | PUSH_PROMISE => {
                let skip = match f.ty {
                    PUSH_PROMISE => 4,
                    _ if f.flags & PRIORITY != 0 => 5,
                    _ => 0,
                };
                let Some(frag) = unpad(f.flags, payload, skip).filter(|_| f.stream != 0) else {
                    self.raise(HttpEvent::H2InvalidFrame, None);
                    h2.failed = true;
                    return;
                };
                let d = &mut h2.dirs[i];
                d.block.clear();
                d.block.extend_from_slice(frag);
                d.block_of = Some((f.stream, f.flags & END_STREAM != 0, f.ty == PUSH_PROMISE));
                if f.flags & END_HEADERS != 0 {
                    self.h2_block_done(h2, dir);
                }
            }
            CONTINUATION => {
                let d = &mut h2.dirs[i];
                if d.block_of.map(|b| b.0) != Some(f.stream) {
                    self.raise(HttpEvent::H2InvalidFrame, None);
                    h2.failed = true;
                    return;
                }
                if d.block.len() + payload.len() > MAX_HEADER_BLOCK {
                    self.raise(HttpEvent::H2HeaderBlockTooLarge, None);
                    h2.failed = true;
                    return;
                }
                d.block.extend_from_slice(payload);
                if f.flags & END_HEADERS != 0 {
                    self.h2_block_done(h2, dir);
                }
            }
            SETTINGS if f.flags & ACK == 0 => {
                if !payload.len().is_multiple_of(6) {
                    self.raise(HttpEvent::H2InvalidFrame, None);
                }
                for e in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([e[0], e[1]]);
                    let v = u32::from_be_bytes([e[2], e[3], e[4], e[5]]);
                    // SETTINGS_MAX_FRAME_SIZE bounds what the peer sends.
                    if id == 0x5 && (DEFAULT_MAX_FRAME..=0xff_ffff).contains(&v) {
                        h2.dirs[1 - i].max_frame = v;
                    }
                }
            }
            RST_STREAM => self.h2_reset(h2, f.stream),
            // PRIORITY, PING, GOAWAY, WINDOW_UPDATE, unknown types: nothing
            // a transaction carries.
            _ => {}
        }
    }

    fn h2_tx_index(&self, h2: &H2Conn, stream: u32) -> Option<usize> {
        let (_, id) = h2.streams.iter().find(|(s, _)| *s == stream)?;
        let i = id.checked_sub(self.next_tx_id)? as usize;
        (i < self.txs.len()).then_some(i)
    }

    fn h2_block_done(&mut self, h2: &mut H2Conn, dir: Direction) {
        let d = &mut h2.dirs[slot(dir)];
        let Some((stream, end_stream, push)) = d.block_of.take() else {
            return;
        };
        let block = std::mem::take(&mut d.block);
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let res = d.hpack.decode_with_cb(&block, |n, v| {
            // Indexed fields can repeat large table entries: cap the total.
            bytes += n.len() + v.len();
            if bytes <= MAX_HEADER_BLOCK * 4 {
                fields.push((n.into_owned(), v.into_owned()));
            }
        });
        d.block = block;
        if res.is_err() {
            self.raise(HttpEvent::H2InvalidHeader, None);
            h2.failed = true;
            return;
        }
        if push {
            return;
        }
        match dir {
            Direction::ToServer => self.h2_request_headers(h2, stream, end_stream, fields),
            Direction::ToClient => self.h2_response_headers(h2, stream, end_stream, fields),
        }
    }

    fn h2_request_headers(
        &mut self,
        h2: &mut H2Conn,
        stream: u32,
        end_stream: bool,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    ) {
        if self.h2_tx_index(h2, stream).is_some() {
            // Trailers.
            if end_stream {
                self.h2_end_body(h2, Direction::ToServer, stream);
            }
            return;
        }
        if self.txs.len() >= self.cfg.max_transactions {
            self.raise(HttpEvent::TooManyTransactions, None);
            return;
        }
        let mut t = HttpTransaction {
            tx_id: self.next_tx_id + self.txs.len() as u64,
            request_protocol: b"HTTP/2".to_vec(),
            ..HttpTransaction::default()
        };
        let mut authority = None;
        let mut count = 0;
        for (name, value) in fields {
            match name.as_slice() {
                b":method" => t.method = value,
                b":path" => t.uri_raw = value,
                b":authority" => authority = Some(value),
                b":scheme" | b":protocol" => {}
                _ if count < self.cfg.max_header_count => {
                    count += 1;
                    add_header(&mut t.request_headers, name, value);
                }
                _ => {}
            }
        }
        t.uri = normalize_uri(&t.uri_raw);
        t.request_line = [&t.method[..], b" ", &t.uri_raw, b" HTTP/2"].concat();
        let host_header = t.header(Direction::ToServer, "host").map(<[u8]>::to_vec);
        if let Some(raw) = authority.or(host_header) {
            (t.host, t.host_port) = normalized_host(&raw);
            t.host_raw = Some(raw);
        }
        t.request_header_buf = header_buffer(&t.request_headers, b"cookie");
        t.request_complete = end_stream;
        if !end_stream {
            h2.dirs[0]
                .bodies
                .push((stream, self.body_sink(&t, Direction::ToServer)));
        }
        h2.streams.push((stream, t.tx_id));
        self.txs.push(t);
        if count >= self.cfg.max_header_count {
            self.raise(HttpEvent::TooManyHeaders, Some(self.txs.len() - 1));
        }
    }

    fn h2_response_headers(
        &mut self,
        h2: &mut H2Conn,
        stream: u32,
        end_stream: bool,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    ) {
        let Some(idx) = self.h2_tx_index(h2, stream) else {
            // A response to no request we saw (or a pushed stream).
            self.raise(HttpEvent::UnsolicitedResponse, None);
            return;
        };
        if self.txs[idx].status_code.is_some() {
            // Trailers.
            if end_stream {
                self.h2_end_body(h2, Direction::ToClient, stream);
            }
            return;
        }
        let max = self.cfg.max_header_count;
        let t = &mut self.txs[idx];
        let mut status = None;
        let mut headers = Vec::new();
        for (name, value) in fields {
            if name == b":status" {
                status = Some(value);
            } else if !name.starts_with(b":") && headers.len() < max {
                add_header(&mut headers, name, value);
            }
        }
        let code = status
            .as_deref()
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok());
        if let Some(c) = code.filter(|c| (100..200).contains(c)) {
            // Interim (1xx): the final response follows.
            t.interim_status = Some(c);
            return;
        }
        t.status_code = code;
        t.status_code_raw = status.unwrap_or_default();
        t.response_protocol = b"HTTP/2".to_vec();
        t.response_line = [&b"HTTP/2 "[..], &t.status_code_raw].concat();
        t.response_headers = headers;
        t.response_header_buf = header_buffer(&t.response_headers, b"set-cookie");
        t.response_complete = end_stream;
        if end_stream {
            self.h2_forget_if_done(h2, stream, idx);
        } else {
            let sink = self.body_sink(&self.txs[idx], Direction::ToClient);
            h2.dirs[1].bodies.push((stream, sink));
        }
    }

    fn h2_body(&mut self, h2: &mut H2Conn, dir: Direction, stream: u32, bytes: &[u8]) {
        if let Some((_, sink)) = h2.dirs[slot(dir)]
            .bodies
            .iter_mut()
            .find(|(s, _)| *s == stream)
        {
            sink.write(bytes);
        }
    }

    /// The stream's message in `dir` ended (END_STREAM).
    fn h2_end_body(&mut self, h2: &mut H2Conn, dir: Direction, stream: u32) {
        let bodies = &mut h2.dirs[slot(dir)].bodies;
        let sink = bodies
            .iter()
            .position(|(s, _)| *s == stream)
            .map(|p| bodies.swap_remove(p).1);
        let Some(idx) = self.h2_tx_index(h2, stream) else {
            return;
        };
        if let Some(sink) = sink {
            self.finish_body(dir, Some(idx), sink);
        }
        let t = &mut self.txs[idx];
        match dir {
            Direction::ToServer => t.request_complete = true,
            Direction::ToClient => t.response_complete = true,
        }
        self.h2_forget_if_done(h2, stream, idx);
    }

    fn h2_forget_if_done(&mut self, h2: &mut H2Conn, stream: u32, idx: usize) {
        let t = &self.txs[idx];
        if t.request_complete && t.response_complete {
            h2.streams.retain(|(s, _)| *s != stream);
        }
    }

    /// RST_STREAM: whatever the stream carried is all there is.
    fn h2_reset(&mut self, h2: &mut H2Conn, stream: u32) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            if self.h2_tx_index(h2, stream).is_some() {
                self.h2_end_body(h2, dir, stream);
            }
        }
    }

    /// The stream in `dir` ended: open messages in that direction end too.
    pub(super) fn close_h2(&mut self, dir: Direction) {
        let Some(mut h2) = self.h2.take() else {
            return;
        };
        let open: Vec<u32> = h2.streams.iter().map(|(s, _)| *s).collect();
        for stream in open {
            if let Some(idx) = self.h2_tx_index(&h2, stream) {
                let t = &self.txs[idx];
                let done = match dir {
                    Direction::ToServer => t.request_complete,
                    Direction::ToClient => t.response_complete,
                };
                if !done {
                    self.raise(HttpEvent::TruncatedMessage, Some(idx));
                    self.h2_end_body(&mut h2, dir, stream);
                }
            }
        }
        self.h2 = Some(h2);
    }

    /// Bytes lost in `dir`: frame boundaries are gone, parsing stops.
    pub(super) fn gap_h2(&mut self, _dir: Direction) {
        self.raise(HttpEvent::Gap, None);
        if let Some(h2) = self.h2.as_mut() {
            h2.failed = true;
        }
    }
}

/// Adds a field; a repeated name is merged with ", " as HTTP/1 headers are.
fn add_header(list: &mut Vec<HttpHeader>, name: Vec<u8>, value: Vec<u8>) {
    if let Some(h) = list.iter_mut().find(|h| h.name.eq_ignore_ascii_case(&name)) {
        // HTTP/2 sends each cookie crumb as its own field (RFC 9113 8.2.3).
        let sep: &[u8] = if name.eq_ignore_ascii_case(b"cookie") {
            b"; "
        } else {
            b", "
        };
        h.value.extend_from_slice(sep);
        h.value.extend_from_slice(&value);
    } else {
        list.push(HttpHeader { name, value });
    }
}

#[cfg(test)]
mod tests {
    use super::super::HttpConfig;
    use super::*;

    /// A frame with `payload`.
    fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend_from_slice(&[ty, flags]);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// HPACK literal without indexing, new name (no Huffman).
    fn lit(name: &str, value: &str) -> Vec<u8> {
        let mut b = vec![0x00, name.len() as u8];
        b.extend_from_slice(name.as_bytes());
        b.push(value.len() as u8);
        b.extend_from_slice(value.as_bytes());
        b
    }

    fn request(stream: u32, path: &str, end: bool) -> Vec<u8> {
        // :method GET (static index 2), :scheme http (6), then literals
        let mut block = vec![0x82, 0x86];
        block.extend(lit(":path", path));
        block.extend(lit(":authority", "Example.COM:8443"));
        block.extend(lit("user-agent", "t/1"));
        block.extend(lit("cookie", "a=1"));
        block.extend(lit("cookie", "b=2"));
        let flags = END_HEADERS | if end { END_STREAM } else { 0 };
        frame(HEADERS, flags, stream, &block)
    }

    fn response(stream: u32, status: &str, body: &[u8]) -> Vec<u8> {
        let mut block = lit(":status", status);
        block.extend(lit("content-type", "text/html"));
        let mut out = frame(HEADERS, END_HEADERS, stream, &block);
        out.extend(frame(DATA, END_STREAM, stream, body));
        out
    }

    fn client_start() -> Vec<u8> {
        let mut c = PREFACE.to_vec();
        c.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
        c
    }

    #[test]
    fn interleaved_streams_become_transactions() {
        let mut s = HttpState::http2(HttpConfig::default());
        let mut c = client_start();
        c.extend(request(1, "/a/../b%20c", true));
        c.extend(request(3, "/up", false));
        c.extend(frame(DATA, PADDED, 3, &[2, b'h', b'i', 0, 0]));
        c.extend(frame(DATA, END_STREAM, 3, b"!"));
        // server: settings, then stream 3's answer before stream 1's
        let mut srv = frame(SETTINGS, 0, 0, &[]);
        srv.extend(response(3, "201", b"made"));
        srv.extend(response(1, "200", b"<html>"));
        for b in c.chunks(7) {
            s.parse(b, Direction::ToServer);
        }
        for b in srv.chunks(5) {
            s.parse(b, Direction::ToClient);
        }
        let txs = s.take_complete();
        assert_eq!(txs.len(), 2);
        let (a, b) = (&txs[0], &txs[1]);
        assert_eq!(a.method, b"GET");
        assert_eq!(a.uri_raw, b"/a/../b%20c");
        assert_eq!(a.uri, normalize_uri(b"/a/../b%20c"));
        assert_eq!(a.host.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(a.host_port, Some(8443));
        assert_eq!(
            a.header(Direction::ToServer, "cookie"),
            Some(&b"a=1; b=2"[..])
        );
        assert_eq!(a.request_line, b"GET /a/../b%20c HTTP/2");
        assert_eq!(a.status_code, Some(200));
        assert_eq!(a.response_body, b"<html>");
        assert_eq!(b.uri_raw, b"/up");
        assert_eq!(b.request_body, b"hi!");
        assert_eq!(b.status_code, Some(201));
        assert_eq!(b.response_body, b"made");
        assert_eq!(s.event_count(HttpEvent::H2InvalidFrame), 0);
    }

    #[test]
    fn a_long_data_frame_is_counted_and_the_next_stream_parsed() {
        let mut s = HttpState::http2(HttpConfig::default());
        let mut c = client_start();
        c.extend(request(1, "/", true));
        s.parse(&c, Direction::ToServer);
        let mut srv = frame(SETTINGS, 0, 0, &[]);
        let mut block = lit(":status", "200");
        block.extend(lit("content-type", "text/plain"));
        srv.extend(frame(HEADERS, END_HEADERS, 1, &block));
        srv.extend(frame(DATA, END_STREAM, 1, &vec![b'X'; 70_000]));
        s.parse(&srv, Direction::ToClient);
        s.parse(
            &request(3, "/malware/payload.exe", true),
            Direction::ToServer,
        );
        assert_eq!(s.event_count(HttpEvent::H2LongFrameData), 1);
        let txs = s.take_all();
        assert_eq!(txs.len(), 2);
        assert_eq!(txs[0].response_body_len, 70_000);
        assert_eq!(txs[1].uri_raw, b"/malware/payload.exe");
    }

    #[test]
    fn continuation_frames_and_huffman_fields() {
        let mut s = HttpState::http2(HttpConfig::default());
        s.parse(&client_start(), Direction::ToServer);
        // :method GET, :path "/index.html" (static 5), :authority
        // "www.example.com" Huffman-coded (RFC 7541 C.4.1)
        let block = [
            0x82, 0x86, 0x85, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        let mut c = frame(HEADERS, END_STREAM, 1, &block[..4]);
        c.extend(frame(CONTINUATION, END_HEADERS, 1, &block[4..]));
        s.parse(&c, Direction::ToServer);
        let t = &s.transactions()[0];
        assert_eq!(t.uri_raw, b"/index.html");
        assert_eq!(t.host.as_deref(), Some(&b"www.example.com"[..]));
        assert!(t.request_complete);
    }

    #[test]
    fn hostile_input_is_counted_never_a_panic() {
        // wrong preface
        let mut s = HttpState::http2(HttpConfig::default());
        s.parse(b"PRI * HTTP/1.1\r\n", Direction::ToServer);
        assert_eq!(s.event_count(HttpEvent::H2InvalidClientMagic), 1);
        // padding past the end, HEADERS on stream 0, bad HPACK index
        let mut s = HttpState::http2(HttpConfig::default());
        let mut c = client_start();
        c.extend(frame(DATA, PADDED, 1, &[9, 1]));
        c.extend(frame(HEADERS, END_HEADERS, 0, &[0x82]));
        s.parse(&c, Direction::ToServer);
        assert_eq!(s.event_count(HttpEvent::H2InvalidFrame), 2);
        // an HPACK index past both tables
        let mut s = HttpState::http2(HttpConfig::default());
        let mut c = client_start();
        c.extend(frame(HEADERS, END_HEADERS, 1, &[0xff, 0xff, 0xff, 0x7f]));
        c.extend(request(3, "/after", true));
        s.parse(&c, Direction::ToServer);
        assert_eq!(s.event_count(HttpEvent::H2InvalidHeader), 1);
        assert!(
            s.transactions().is_empty(),
            "parsing stops with HPACK state lost"
        );
        // random bytes after a good start
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..300 {
            let mut s = HttpState::http2(HttpConfig::default());
            s.parse(&client_start(), Direction::ToServer);
            let mut junk = Vec::new();
            for _ in 0..(round * 7 % 400) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                junk.push(seed as u8);
            }
            for b in junk.chunks(13) {
                s.parse(b, Direction::ToServer);
                s.parse(b, Direction::ToClient);
            }
            s.close(Direction::ToServer);
            s.close(Direction::ToClient);
            let _ = s.take_all();
        }
    }

    #[test]
    fn reset_and_close_finish_open_streams() {
        let mut s = HttpState::http2(HttpConfig::default());
        let mut c = client_start();
        c.extend(request(1, "/a", false));
        c.extend(frame(DATA, 0, 1, b"part"));
        c.extend(request(3, "/b", true));
        c.extend(frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]));
        s.parse(&c, Direction::ToServer);
        let t = &s.transactions()[0];
        assert!(t.request_complete && t.response_complete);
        assert_eq!(t.request_body, b"part");
        s.close(Direction::ToClient);
        assert_eq!(s.take_complete().len(), 2);
        assert_eq!(s.event_count(HttpEvent::TruncatedMessage), 1);
    }
}
