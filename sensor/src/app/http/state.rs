//! Per-flow HTTP/1.x state machine: requests and responses in order,
//! pipelining, 100-continue, CONNECT/Upgrade tunnels, bounded transactions.

use super::body::{
    BodyAnomaly, BodyHashes, BodyLimits, BodySink, ChunkState, Coding, FrameError, Framing,
};
use super::uri::{normalize_uri, uri_authority};
use crate::app::Direction;

/// Limits on everything the traffic controls.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Longest request/status/header line.
    pub max_line_len: usize,
    /// Headers kept per message.
    pub max_header_count: usize,
    /// Header bytes kept per message (raw block).
    pub max_header_bytes: usize,
    /// Request body bytes kept.
    pub request_body_limit: usize,
    /// Response body bytes kept.
    pub response_body_limit: usize,
    /// Decoded bytes produced from one compressed body.
    pub decompress_limit: u64,
    /// Largest decoded/encoded ratio of a compressed body.
    pub decompress_max_ratio: u64,
    /// Transactions kept per flow before parsing stops.
    pub max_transactions: usize,
    /// Compute MD5 and SHA-256 of request and response bodies.
    pub body_hashes: bool,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            max_line_len: 16 * 1024,
            max_header_count: 256,
            max_header_bytes: 64 * 1024,
            request_body_limit: 100 * 1024,
            response_body_limit: 100 * 1024,
            decompress_limit: 8 * 1024 * 1024,
            decompress_max_ratio: 2048,
            max_transactions: 512,
            body_hashes: true,
        }
    }
}

/// HTTP protocol anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpEvent {
    /// A request or status line longer than the limit.
    LineTooLong,
    /// A request line that is not `METHOD URI [PROTOCOL]`.
    InvalidRequestLine,
    /// A response that does not start with `HTTP/`.
    InvalidResponseLine,
    /// A status code that is not three digits.
    InvalidStatusCode,
    /// A header line without a colon.
    InvalidHeader,
    /// More headers than kept.
    TooManyHeaders,
    /// A header block bigger than kept.
    HeadersTooLarge,
    /// A Content-Length that is not a number.
    InvalidContentLength,
    /// Both Content-Length and chunked Transfer-Encoding.
    ContentLengthWithChunked,
    /// A chunk size that is not hex.
    InvalidChunkLength,
    /// Chunk data not followed by CRLF.
    MissingChunkCrlf,
    /// A compressed body that failed to decode.
    DecompressionFailed,
    /// A compressed body that decoded past the size cap.
    DecompressedTooLarge,
    /// A compressed body whose ratio passed the cap.
    CompressionBomb,
    /// More transactions than kept: parsing stopped.
    TooManyTransactions,
    /// A response with no request outstanding.
    UnsolicitedResponse,
    /// Request has no Host header (HTTP/1.1).
    MissingHost,
    /// Host header and absolute URI disagree.
    HostMismatch,
    /// The connection ended inside a message.
    TruncatedMessage,
    /// A request line without a protocol (HTTP/0.9 or malformed).
    MissingProtocol,
    /// Stream bytes were lost (reassembly gap).
    Gap,
    /// HTTP/2: a frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE.
    H2LongFrameData,
    /// HTTP/2: a frame whose payload does not fit its type (padding past the
    /// end, a DATA or HEADERS frame on stream 0, a short SETTINGS entry).
    H2InvalidFrame,
    /// HTTP/2: a header block HPACK cannot decode; the connection's header
    /// state is lost and parsing stops.
    H2InvalidHeader,
    /// HTTP/2: a header block larger than the cap; parsing stops.
    H2HeaderBlockTooLarge,
    /// HTTP/2: the client did not start with the connection preface.
    H2InvalidClientMagic,
    /// A request chunk-size line carries a chunk extension (`;name=value`).
    RequestChunkExtension,
    /// A request with more than one Content-Length header.
    DuplicateContentLengthRequest,
    /// A response with more than one Content-Length header.
    DuplicateContentLengthResponse,
    /// An Authorization header whose scheme is not Basic, Digest or Bearer.
    RequestAuthUnrecognized,
    /// A URI path or query with a percent-encoded `%` followed by an escape (`%2527`).
    DoubleEncodedUri,
    /// A response Content-Encoding with more layers than are decoded.
    TooManyEncodingLayers,
    /// Bytes after a request without body that are no request line: read as its body.
    RequestBodyUnexpected,
    /// A request Transfer-Encoding whose value is not `chunked`.
    InvalidTransferEncodingRequest,
}

impl HttpEvent {
    /// Every event, in declaration order (index = counter slot).
    pub const ALL: [HttpEvent; 34] = [
        HttpEvent::LineTooLong,
        HttpEvent::InvalidRequestLine,
        HttpEvent::InvalidResponseLine,
        HttpEvent::InvalidStatusCode,
        HttpEvent::InvalidHeader,
        HttpEvent::TooManyHeaders,
        HttpEvent::HeadersTooLarge,
        HttpEvent::InvalidContentLength,
        HttpEvent::ContentLengthWithChunked,
        HttpEvent::InvalidChunkLength,
        HttpEvent::MissingChunkCrlf,
        HttpEvent::DecompressionFailed,
        HttpEvent::DecompressedTooLarge,
        HttpEvent::CompressionBomb,
        HttpEvent::TooManyTransactions,
        HttpEvent::UnsolicitedResponse,
        HttpEvent::MissingHost,
        HttpEvent::HostMismatch,
        HttpEvent::TruncatedMessage,
        HttpEvent::MissingProtocol,
        HttpEvent::Gap,
        HttpEvent::H2LongFrameData,
        HttpEvent::H2InvalidFrame,
        HttpEvent::H2InvalidHeader,
        HttpEvent::H2HeaderBlockTooLarge,
        HttpEvent::H2InvalidClientMagic,
        HttpEvent::RequestChunkExtension,
        HttpEvent::DuplicateContentLengthRequest,
        HttpEvent::DuplicateContentLengthResponse,
        HttpEvent::RequestAuthUnrecognized,
        HttpEvent::DoubleEncodedUri,
        HttpEvent::TooManyEncodingLayers,
        HttpEvent::RequestBodyUnexpected,
        HttpEvent::InvalidTransferEncodingRequest,
    ];

    /// Name as used in `app-layer-event:http.<name>` rules.
    pub fn name(self) -> &'static str {
        match self {
            HttpEvent::LineTooLong => "request_line_too_long",
            HttpEvent::InvalidRequestLine => "invalid_request_line",
            HttpEvent::InvalidResponseLine => "invalid_response_line",
            HttpEvent::InvalidStatusCode => "invalid_response_status_code",
            HttpEvent::InvalidHeader => "invalid_header",
            HttpEvent::TooManyHeaders => "too_many_headers",
            HttpEvent::HeadersTooLarge => "request_field_too_long",
            HttpEvent::InvalidContentLength => "invalid_content_length",
            HttpEvent::ContentLengthWithChunked => "request_smuggling",
            HttpEvent::InvalidChunkLength => "invalid_chunklen",
            HttpEvent::MissingChunkCrlf => "chunk_missing_crlf",
            HttpEvent::DecompressionFailed => "decompression_failed",
            HttpEvent::DecompressedTooLarge => "decompressed_too_large",
            HttpEvent::CompressionBomb => "compression_bomb",
            HttpEvent::TooManyTransactions => "too_many_transactions",
            HttpEvent::UnsolicitedResponse => "unsolicited_response",
            HttpEvent::MissingHost => "missing_host_header",
            HttpEvent::HostMismatch => "host_header_ambiguous",
            HttpEvent::TruncatedMessage => "truncated_message",
            HttpEvent::MissingProtocol => "request_line_missing_protocol",
            HttpEvent::Gap => "gap",
            HttpEvent::H2LongFrameData => "long_frame_data",
            HttpEvent::H2InvalidFrame => "invalid_frame_data",
            HttpEvent::H2InvalidHeader => "invalid_header",
            HttpEvent::H2HeaderBlockTooLarge => "reassembly_limit_reached",
            HttpEvent::H2InvalidClientMagic => "invalid_client_magic",
            HttpEvent::RequestChunkExtension => "request_chunk_extension",
            HttpEvent::DuplicateContentLengthRequest => "duplicate_content_length_field_in_request",
            HttpEvent::DuplicateContentLengthResponse => {
                "duplicate_content_length_field_in_response"
            }
            HttpEvent::RequestAuthUnrecognized => "request_auth_unrecognized",
            HttpEvent::DoubleEncodedUri => "double_encoded_uri",
            HttpEvent::TooManyEncodingLayers => "too_many_encoding_layers",
            HttpEvent::RequestBodyUnexpected => "request_body_unexpected",
            HttpEvent::InvalidTransferEncodingRequest => {
                "invalid_transfer_encoding_value_in_request"
            }
        }
    }

    /// Name in `app-layer-event` rules (the reference IDS's), for the events
    /// raised on a transaction with the same meaning there; `None` for
    /// vigie's own (they are counted and logged, not matched).
    pub fn rule_name(self) -> Option<&'static str> {
        Some(match self {
            HttpEvent::InvalidRequestLine => "http.request_line_invalid",
            HttpEvent::DecompressionFailed => "http.gzip_decompression_failed",
            HttpEvent::CompressionBomb => "http.compression_bomb",
            HttpEvent::UnsolicitedResponse => "http.unable_to_match_response_to_request",
            HttpEvent::MissingHost => "http.missing_host_header",
            HttpEvent::HostMismatch => "http.host_header_ambiguous",
            HttpEvent::MissingProtocol => "http.request_line_missing_protocol",
            HttpEvent::RequestChunkExtension => "http.request_chunk_extension",
            HttpEvent::DuplicateContentLengthRequest => {
                "http.duplicate_content_length_field_in_request"
            }
            HttpEvent::DuplicateContentLengthResponse => {
                "http.duplicate_content_length_field_in_response"
            }
            HttpEvent::RequestAuthUnrecognized => "http.request_auth_unrecognized",
            HttpEvent::DoubleEncodedUri => "http.double_encoded_uri",
            HttpEvent::TooManyEncodingLayers => "http.too_many_encoding_layers",
            HttpEvent::RequestBodyUnexpected => "http.request_body_unexpected",
            HttpEvent::InvalidTransferEncodingRequest => {
                "http.invalid_transfer_encoding_value_in_request"
            }
            _ => return None,
        })
    }
}

/// A URI where a percent-encoded `%` (`%25`) is followed by two hex
/// digits: decoding it twice gives another byte (`%2527` -> `%27` -> `'`).
fn double_encoded(uri: &[u8]) -> bool {
    uri.windows(5).any(|w| {
        w[0] == b'%'
            && w[1] == b'2'
            && w[2] == b'5'
            && w[3].is_ascii_hexdigit()
            && w[4].is_ascii_hexdigit()
    })
}

/// Content codings past which a response is flagged (the reference IDS's
/// default decompression layer limit); vigie decodes only the last one.
const MAX_ENCODING_LAYERS: usize = 2;

/// Methods a request line may start with; after a request without a body,
/// a line starting with anything else is read as that request's body.
const KNOWN_METHODS: &[&[u8]] = &[
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"CONNECT",
    b"OPTIONS",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"VERSION-CONTROL",
    b"CHECKOUT",
    b"UNCHECKOUT",
    b"CHECKIN",
    b"UPDATE",
    b"LABEL",
    b"REPORT",
    b"MKWORKSPACE",
    b"MKACTIVITY",
    b"BASELINE-CONTROL",
    b"MERGE",
    b"INVALID",
];

/// How many times each [`HttpEvent`] was raised on a flow.
#[derive(Debug)]
struct EventCounts([u64; HttpEvent::ALL.len()]);

impl Default for EventCounts {
    fn default() -> Self {
        EventCounts([0; HttpEvent::ALL.len()])
    }
}

/// One header, value with surrounding whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHeader {
    /// Name as sent.
    pub name: Vec<u8>,
    /// Value; repeated headers are merged with ", " as libhtp does.
    pub value: Vec<u8>,
}

/// One request/response exchange.
#[derive(Debug, Default)]
pub struct HttpTransaction {
    /// Per-flow transaction number, from 0.
    pub tx_id: u64,
    /// Request line without CRLF.
    pub request_line: Vec<u8>,
    /// Method.
    pub method: Vec<u8>,
    /// URI as sent.
    pub uri_raw: Vec<u8>,
    /// Normalised URI (`http.uri`).
    pub uri: Vec<u8>,
    /// Request protocol, e.g. `HTTP/1.1` (empty for HTTP/0.9).
    pub request_protocol: Vec<u8>,
    /// Request headers.
    pub request_headers: Vec<HttpHeader>,
    /// Raw request header block, including the final empty line (capped).
    pub request_headers_raw: Vec<u8>,
    /// Normalised host: lowercase, no port, no trailing dot.
    pub host: Option<Vec<u8>>,
    /// Raw Host header value (or URI authority).
    pub host_raw: Option<Vec<u8>>,
    /// Port given in the Host header or URI, if any.
    pub host_port: Option<u16>,
    /// Request body (decoded, capped).
    pub request_body: Vec<u8>,
    /// Request body bytes after transfer decoding.
    pub request_body_len: u64,
    /// Digests of the whole decoded request body (when hashing is on and
    /// no byte was lost).
    pub request_body_hashes: Option<BodyHashes>,
    /// Status line without CRLF.
    pub response_line: Vec<u8>,
    /// Response protocol, e.g. `HTTP/1.1`.
    pub response_protocol: Vec<u8>,
    /// Status code as sent (three digits).
    pub status_code_raw: Vec<u8>,
    /// Status code.
    pub status_code: Option<u16>,
    /// Reason phrase.
    pub status_msg: Vec<u8>,
    /// Status of the last interim (1xx) response, e.g. 100 Continue.
    pub interim_status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<HttpHeader>,
    /// Raw response header block, including the final empty line (capped).
    pub response_headers_raw: Vec<u8>,
    /// Response body, dechunked and decompressed (capped): `file.data`.
    pub response_body: Vec<u8>,
    /// Response body bytes after dechunking, before decompression.
    pub response_body_len: u64,
    /// Decoded response body bytes.
    pub response_body_decoded_len: u64,
    /// Digests of the whole decoded response body (when hashing is on and
    /// no byte was lost).
    pub response_body_hashes: Option<BodyHashes>,
    /// Request bytes seen on the wire (line, headers, body).
    pub request_bytes: u64,
    /// Response bytes seen on the wire (including interim 1xx responses).
    pub response_bytes: u64,
    /// Request fully parsed.
    pub request_complete: bool,
    /// Response fully parsed.
    pub response_complete: bool,
    /// Events raised on this transaction.
    pub events: Vec<HttpEvent>,
    /// `http.header` buffer for the request (built when headers end).
    pub(crate) request_header_buf: Vec<u8>,
    /// `http.header` buffer for the response.
    pub(crate) response_header_buf: Vec<u8>,
}

impl HttpTransaction {
    /// First header named `name` (case-insensitive) of direction `dir`.
    pub fn header(&self, dir: Direction, name: &str) -> Option<&[u8]> {
        let list = match dir {
            Direction::ToServer => &self.request_headers,
            Direction::ToClient => &self.response_headers,
        };
        list.iter()
            .find(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.as_slice())
    }
}

#[derive(Debug)]
enum Phase {
    Line,
    Headers,
    Body(Framing, Box<BodySink>),
    /// CONNECT or Upgrade: the rest is another protocol.
    Tunnel,
    /// Unrecoverable framing: the rest of this direction is ignored.
    Failed,
}

#[derive(Debug)]
struct Side {
    phase: Phase,
    line: Vec<u8>,
    line_too_long: bool,
    /// Wire bytes of the start line so far (it may span several calls).
    line_bytes: u64,
    /// Transaction index this side is working on.
    tx: Option<usize>,
    /// Response is an interim 1xx: headers end back at `Line`.
    interim: bool,
}

impl Default for Side {
    fn default() -> Side {
        Side {
            phase: Phase::Line,
            line: Vec::new(),
            line_too_long: false,
            line_bytes: 0,
            tx: None,
            interim: false,
        }
    }
}

fn fslot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

#[path = "h2.rs"]
mod h2;
pub use h2::PREFACE as H2_PREFACE;

/// Per-flow HTTP parser state.
#[derive(Debug, Default)]
pub struct HttpState {
    cfg: HttpConfig,
    txs: Vec<HttpTransaction>,
    /// tx_id of `txs[0]` (completed transactions are taken out from the front).
    next_tx_id: u64,
    req: Side,
    resp: Side,
    counts: EventCounts,
    stopped: bool,
    /// HTTP/2 framing, when the connection speaks HTTP/2.
    h2: Option<Box<h2::H2Conn>>,
    /// Message frames, when rules inspect them.
    frames: Option<Box<MessageFrames>>,
}

/// Where each direction's messages start and end in its stream, for the
/// `http1.request` / `http1.response` frames.
#[derive(Debug, Default)]
struct MessageFrames {
    /// Stream offset of the next byte per direction (to server, to client).
    pos: [u64; 2],
    /// Start of the message being read per direction.
    open: [Option<u64>; 2],
    /// Messages read: (direction, stream offset, length).
    done: Vec<(Direction, u64, u64)>,
}

impl HttpState {
    /// The response body stored so far while it is still being read:
    /// (transaction id, decoded bytes), so detection can inspect a body that
    /// has not completed (yet, or ever).
    pub fn response_body_in_progress(&self) -> Option<(u64, &[u8])> {
        match &self.resp.phase {
            Phase::Body(_, sink) => {
                let t = self.txs.get(self.resp.tx?)?;
                Some((t.tx_id, &sink.data))
            }
            _ => None,
        }
    }

    /// New state with default limits.
    pub fn new() -> HttpState {
        HttpState::with_config(HttpConfig::default())
    }

    /// New state with the given limits.
    pub fn with_config(cfg: HttpConfig) -> HttpState {
        HttpState {
            cfg,
            ..HttpState::default()
        }
    }

    /// Live transactions, oldest first.
    pub fn transactions(&self) -> &[HttpTransaction] {
        &self.txs
    }

    /// Removes and returns the leading transactions whose request and response
    /// are both complete.
    pub fn take_complete(&mut self) -> Vec<HttpTransaction> {
        let n = self
            .txs
            .iter()
            .take_while(|t| t.request_complete && t.response_complete)
            .count();
        // Indexes held by the sides shift down by n.
        for side in [&mut self.req, &mut self.resp] {
            side.tx = side.tx.and_then(|i| i.checked_sub(n));
        }
        self.next_tx_id += n as u64;
        self.txs.drain(..n).collect()
    }

    /// Removes and returns every transaction (flow end).
    pub fn take_all(&mut self) -> Vec<HttpTransaction> {
        self.req.tx = None;
        self.resp.tx = None;
        self.next_tx_id += self.txs.len() as u64;
        std::mem::take(&mut self.txs)
    }

    /// How many times `ev` was raised on this flow.
    pub fn event_count(&self, ev: HttpEvent) -> u64 {
        self.counts.0[ev as usize]
    }

    /// True when either direction switched to a tunnel (CONNECT, Upgrade).
    pub fn is_tunnel(&self) -> bool {
        matches!(self.req.phase, Phase::Tunnel) || matches!(self.resp.phase, Phase::Tunnel)
    }

    fn raise(&mut self, ev: HttpEvent, tx: Option<usize>) {
        self.counts.0[ev as usize] += 1;
        if let Some(t) = tx.and_then(|i| self.txs.get_mut(i)) {
            if t.events.len() < 32 {
                t.events.push(ev);
            }
        }
    }

    /// New state for an HTTP/2 connection (prior knowledge: the client
    /// starts with the connection preface).
    pub fn http2(cfg: HttpConfig) -> HttpState {
        HttpState {
            h2: Some(Box::default()),
            ..HttpState::with_config(cfg)
        }
    }

    /// Whether the connection speaks HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.h2.is_some()
    }

    /// Feeds in-order stream bytes travelling in `dir`.
    pub fn parse(&mut self, data: &[u8], dir: Direction) {
        if self.h2.is_some() {
            return self.parse_h2(data, dir);
        }
        match dir {
            Direction::ToServer => self.parse_request(data),
            Direction::ToClient => self.parse_response(data),
        }
        if let Some(f) = self.frames.as_mut() {
            f.pos[fslot(dir)] += data.len() as u64;
        }
    }

    /// Marks where each message starts and ends in its stream, for frames
    /// ([`HttpState::take_frame_marks`]).
    pub fn enable_frames(&mut self) {
        self.frames = Some(Box::default());
    }

    /// The messages read since the last call: (direction, stream offset, length).
    pub fn take_frame_marks(&mut self) -> Vec<(Direction, u64, u64)> {
        // A gap or the stream's end may have finished a message.
        if self.frames.is_some() {
            self.frame_end(Direction::ToServer, 0);
            self.frame_end(Direction::ToClient, 0);
        }
        self.frames
            .as_mut()
            .map(|f| std::mem::take(&mut f.done))
            .unwrap_or_default()
    }

    /// Frames: a message starts `at` bytes into the current call's data.
    fn frame_start(&mut self, dir: Direction, at: usize) {
        if let Some(f) = self.frames.as_mut() {
            let i = fslot(dir);
            if f.open[i].is_none() {
                f.open[i] = Some(f.pos[i] + at as u64);
            }
        }
    }

    /// Frames: the message read in `dir` ends `at` bytes into the current
    /// call's data, unless the side is still inside it (or in a 1xx's
    /// final response).
    fn frame_end(&mut self, dir: Direction, at: u64) {
        let side = match dir {
            Direction::ToServer => &self.req,
            Direction::ToClient => &self.resp,
        };
        let inside = side.interim
            || matches!(side.phase, Phase::Headers | Phase::Body(..))
            || !side.line.is_empty();
        let Some(f) = self.frames.as_mut() else {
            return;
        };
        let i = fslot(dir);
        if inside {
            return;
        }
        if let Some(start) = f.open[i].take() {
            let end = f.pos[i] + at;
            f.done.push((dir, start, end.saturating_sub(start)));
        }
    }

    /// The parsing state of one direction.
    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        }
    }

    /// The stream in `dir` ended: finishes a body read until close and
    /// flags messages cut short.
    pub fn close(&mut self, dir: Direction) {
        if self.h2.is_some() {
            return self.close_h2(dir);
        }
        let side = self.side(dir);
        let phase = std::mem::replace(&mut side.phase, Phase::Failed);
        let tx = side.tx;
        match phase {
            Phase::Body(Framing::UntilClose, sink) => self.finish_body(dir, tx, sink),
            Phase::Body(_, sink) => {
                self.raise(HttpEvent::TruncatedMessage, tx);
                self.finish_body(dir, tx, sink);
            }
            Phase::Headers => {
                let http09 = dir == Direction::ToServer
                    && tx
                        .and_then(|i| self.txs.get(i))
                        .is_some_and(|t| t.request_protocol.is_empty());
                match (http09, tx) {
                    (true, Some(i)) => self.finish_request_headers(i),
                    (false, Some(i)) => self.close_in_headers(dir, i),
                    _ => self.raise(HttpEvent::TruncatedMessage, tx),
                }
            }
            other => self.side(dir).phase = other,
        }
    }

    /// The stream in `dir` ended inside the headers of transaction `i`
    /// (no blank line): what arrived is all there is. A last unterminated
    /// line still counts, the headers are finished so detection and logs see
    /// them, and the message ends there with no body.
    fn close_in_headers(&mut self, dir: Direction, i: usize) {
        self.raise(HttpEvent::TruncatedMessage, Some(i));
        if self.side(dir).line.iter().any(|&c| c != b'\r') {
            self.on_header_line(dir);
        }
        match dir {
            Direction::ToServer => self.finish_request_headers(i),
            Direction::ToClient => self.finish_response_headers(i),
        }
        if let Phase::Body(_, sink) = std::mem::replace(&mut self.side(dir).phase, Phase::Failed) {
            self.finish_body(dir, Some(i), sink);
        }
        if let Some(t) = self.txs.get_mut(i) {
            match dir {
                Direction::ToServer => t.request_complete = true,
                Direction::ToClient => t.response_complete = true,
            }
        }
    }

    /// `len` bytes of the stream in `dir` are missing (a reassembly gap).
    /// Inside a body of known framing the body goes on (and gets no hashes);
    /// anywhere else the direction's framing is lost and it stops.
    pub fn gap(&mut self, dir: Direction, len: u64) {
        if self.h2.is_some() {
            return self.gap_h2(dir);
        }
        if let Some(f) = self.frames.as_mut() {
            f.pos[fslot(dir)] += len;
        }
        let side = self.side(dir);
        let tx = side.tx;
        let mut done = false;
        let ok = match &mut side.phase {
            Phase::Tunnel | Phase::Failed => return,
            Phase::Body(Framing::Length(n), sink) if len <= *n => {
                *n -= len;
                sink.gap(len);
                done = *n == 0;
                true
            }
            Phase::Body(Framing::Chunked(ChunkState::Data(n)), sink) if len <= *n => {
                *n -= len;
                sink.gap(len);
                if *n == 0 {
                    if let Phase::Body(Framing::Chunked(st), _) = &mut side.phase {
                        *st = ChunkState::DataEnd;
                    }
                }
                true
            }
            Phase::Body(Framing::UntilClose, sink) => {
                sink.gap(len);
                true
            }
            _ => false,
        };
        self.raise(HttpEvent::Gap, tx);
        if !ok {
            let side = self.side(dir);
            let phase = std::mem::replace(&mut side.phase, Phase::Failed);
            if let Phase::Body(_, sink) = phase {
                self.finish_body(dir, tx, sink);
            }
            return;
        }
        if done {
            self.after_body_feed(dir, true, None);
        }
    }

    /// Takes one line (without LF) from `data` into the side's line buffer.
    /// Returns (bytes consumed, complete line available).
    fn take_line(side: &mut Side, data: &[u8], max: usize) -> (usize, bool) {
        match memchr::memchr(b'\n', data) {
            Some(i) => {
                if side.line.len() + i <= max {
                    side.line.extend_from_slice(&data[..i]);
                } else {
                    side.line_too_long = true;
                }
                (i + 1, true)
            }
            None => {
                if side.line.len() + data.len() <= max {
                    side.line.extend_from_slice(data);
                } else {
                    side.line_too_long = true;
                }
                (data.len(), false)
            }
        }
    }

    fn parse_request(&mut self, mut data: &[u8]) {
        let total = data.len();
        while !data.is_empty() && !self.stopped {
            if self.frames.is_some() {
                let at = (total - data.len()) as u64;
                self.frame_end(Direction::ToServer, at);
            }
            match &mut self.req.phase {
                Phase::Tunnel | Phase::Failed => return,
                Phase::Line => {
                    // Blank lines between pipelined requests are skipped.
                    if self.req.line.is_empty() {
                        let skip = data
                            .iter()
                            .take_while(|&&c| c == b'\r' || c == b'\n')
                            .count();
                        data = &data[skip..];
                        if data.is_empty() {
                            return;
                        }
                    }
                    if self.frames.is_some() && self.req.line.is_empty() {
                        self.frame_start(Direction::ToServer, total - data.len());
                    }
                    let (n, done) = Self::take_line(&mut self.req, data, self.cfg.max_line_len);
                    data = &data[n..];
                    self.req.line_bytes += n as u64;
                    if !done {
                        return;
                    }
                    let consumed = std::mem::take(&mut self.req.line_bytes);
                    self.on_request_line(consumed);
                }
                Phase::Headers => {
                    let (n, done) = Self::take_line(&mut self.req, data, self.cfg.max_line_len);
                    self.append_raw(Direction::ToServer, &data[..n]);
                    self.add_bytes(Direction::ToServer, n);
                    data = &data[n..];
                    if done {
                        self.on_header_line(Direction::ToServer);
                    }
                }
                Phase::Body(framing, sink) => {
                    let (n, done, err) = framing.feed(data, |b| sink.write(b));
                    data = &data[n..];
                    self.add_bytes(Direction::ToServer, n);
                    self.after_body_feed(Direction::ToServer, done, err);
                }
            }
        }
        if self.frames.is_some() {
            self.frame_end(Direction::ToServer, (total - data.len()) as u64);
        }
    }

    fn parse_response(&mut self, mut data: &[u8]) {
        let total = data.len();
        while !data.is_empty() && !self.stopped {
            if self.frames.is_some() {
                let at = (total - data.len()) as u64;
                self.frame_end(Direction::ToClient, at);
            }
            match &mut self.resp.phase {
                Phase::Tunnel | Phase::Failed => return,
                Phase::Line => {
                    if self.resp.line.is_empty() {
                        let skip = data
                            .iter()
                            .take_while(|&&c| c == b'\r' || c == b'\n')
                            .count();
                        data = &data[skip..];
                        if data.is_empty() {
                            return;
                        }
                        if !data.starts_with(&b"HTTP/"[..data.len().min(5)]) {
                            let t = self
                                .resp
                                .tx
                                .filter(|_| self.resp.interim)
                                .or_else(|| self.oldest_unanswered());
                            let http09 = t
                                .and_then(|i| self.txs.get(i))
                                .is_some_and(|x| x.request_protocol.is_empty());
                            if let (true, Some(i)) = (http09, t) {
                                // HTTP/0.9: the response is a bare body up to close.
                                self.resp.tx = Some(i);
                                let limits = self.limits(self.cfg.response_body_limit);
                                let sink = BodySink::new(Coding::Identity, limits);
                                self.resp.phase = Phase::Body(Framing::UntilClose, Box::new(sink));
                                continue;
                            }
                            self.raise(HttpEvent::InvalidResponseLine, t);
                            self.resp.phase = Phase::Failed;
                            return;
                        }
                    }
                    if self.frames.is_some() && self.resp.line.is_empty() {
                        self.frame_start(Direction::ToClient, total - data.len());
                    }
                    let (n, done) = Self::take_line(&mut self.resp, data, self.cfg.max_line_len);
                    data = &data[n..];
                    self.resp.line_bytes += n as u64;
                    if !done {
                        return;
                    }
                    let consumed = std::mem::take(&mut self.resp.line_bytes);
                    self.on_status_line(consumed);
                }
                Phase::Headers => {
                    let (n, done) = Self::take_line(&mut self.resp, data, self.cfg.max_line_len);
                    self.append_raw(Direction::ToClient, &data[..n]);
                    self.add_bytes(Direction::ToClient, n);
                    data = &data[n..];
                    if done {
                        self.on_header_line(Direction::ToClient);
                    }
                }
                Phase::Body(framing, sink) => {
                    let (n, done, err) = framing.feed(data, |b| sink.write(b));
                    data = &data[n..];
                    self.add_bytes(Direction::ToClient, n);
                    self.after_body_feed(Direction::ToClient, done, err);
                }
            }
        }
        if self.frames.is_some() {
            self.frame_end(Direction::ToClient, (total - data.len()) as u64);
        }
    }

    fn add_bytes(&mut self, dir: Direction, n: usize) {
        let tx = self.side(dir).tx;
        if let Some(t) = tx.and_then(|i| self.txs.get_mut(i)) {
            match dir {
                Direction::ToServer => t.request_bytes += n as u64,
                Direction::ToClient => t.response_bytes += n as u64,
            }
        }
    }

    fn oldest_unanswered(&self) -> Option<usize> {
        self.txs
            .iter()
            .position(|t| !t.response_complete && !t.request_line.is_empty())
    }

    fn append_raw(&mut self, dir: Direction, bytes: &[u8]) {
        let max = self.cfg.max_header_bytes;
        let tx = self.side(dir).tx;
        let Some(t) = tx.and_then(|i| self.txs.get_mut(i)) else {
            return;
        };
        let raw = match dir {
            Direction::ToServer => &mut t.request_headers_raw,
            Direction::ToClient => &mut t.response_headers_raw,
        };
        let room = max.saturating_sub(raw.len());
        raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn on_request_line(&mut self, consumed: u64) {
        let mut line = std::mem::take(&mut self.req.line);
        let too_long = std::mem::take(&mut self.req.line_too_long);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if self.unexpected_body(&line) {
            return;
        }
        if self.txs.len() >= self.cfg.max_transactions {
            self.raise(HttpEvent::TooManyTransactions, None);
            self.stopped = true;
            return;
        }
        let tx_id = self.next_tx_id + self.txs.len() as u64;
        let mut tx = HttpTransaction {
            tx_id,
            request_bytes: consumed,
            ..HttpTransaction::default()
        };
        let idx = self.txs.len();
        // METHOD SP URI [SP PROTOCOL]; a URI with spaces in it is kept whole
        // (the protocol is the last word when it starts with HTTP/).
        let is_sp = |c: &u8| *c == b' ' || *c == b'\t';
        let trimmed = line.trim_ascii();
        let (method, rest) = match trimmed.iter().position(is_sp) {
            Some(i) => (&trimmed[..i], trimmed[i..].trim_ascii()),
            None => (trimmed, &b""[..]),
        };
        let (uri, proto, extra) = match rest.iter().rposition(is_sp) {
            Some(i) if rest[i + 1..].starts_with(b"HTTP/") => {
                let u = rest[..i].trim_ascii();
                (
                    Some(u.to_vec()),
                    Some(rest[i + 1..].to_vec()),
                    u.iter().any(is_sp),
                )
            }
            Some(_) => (Some(rest.to_vec()), None, true),
            None if rest.is_empty() => (None, None, false),
            None => (Some(rest.to_vec()), None, false),
        };
        let method = method.to_vec();
        tx.method = method;
        tx.request_line = line;
        self.txs.push(tx);
        self.req.tx = Some(idx);
        if too_long {
            self.raise(HttpEvent::LineTooLong, Some(idx));
        }
        let Some(uri) = uri else {
            self.raise(HttpEvent::InvalidRequestLine, Some(idx));
            self.req.phase = Phase::Failed;
            return;
        };
        let valid_method = self.txs[idx]
            .method
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_".contains(c));
        if extra || !valid_method {
            self.raise(HttpEvent::InvalidRequestLine, Some(idx));
        }
        let t = &mut self.txs[idx];
        t.uri = normalize_uri(&uri);
        t.uri_raw = uri;
        match proto {
            Some(p) => {
                if !p.starts_with(b"HTTP/") {
                    self.raise(HttpEvent::InvalidRequestLine, Some(idx));
                }
                self.txs[idx].request_protocol = p;
                self.req.phase = Phase::Headers;
            }
            None => {
                // No protocol: HTTP/0.9, unless header lines follow (as
                // libhtp does, they are read; the stream end finishes a
                // true 0.9 request).
                self.raise(HttpEvent::MissingProtocol, Some(idx));
                self.req.phase = Phase::Headers;
            }
        }
    }

    /// After a request without a body, a line that starts with no known
    /// method is read as that request's body (as libhtp does), with an event.
    fn unexpected_body(&mut self, line: &[u8]) -> bool {
        let Some(i) = self.req.tx.filter(|&i| i + 1 == self.txs.len()) else {
            return false;
        };
        let limit = self.cfg.request_body_limit;
        let t = &mut self.txs[i];
        let seen = t.events.contains(&HttpEvent::RequestBodyUnexpected);
        let method = line
            .trim_ascii_start()
            .split(|&c| c == b' ' || c == b'\t')
            .next()
            .unwrap_or_default();
        if !t.request_complete
            || t.request_protocol.is_empty()
            || (t.request_body_len != 0 && !seen)
            || method.is_empty()
            || KNOWN_METHODS.contains(&method)
        {
            return false;
        }
        let room = limit.saturating_sub(t.request_body.len());
        let add = [line, b"\r\n"].concat();
        t.request_body
            .extend_from_slice(&add[..add.len().min(room)]);
        t.request_body_len += add.len() as u64;
        t.request_bytes += add.len() as u64;
        if !seen {
            self.raise(HttpEvent::RequestBodyUnexpected, Some(i));
        }
        true
    }

    fn on_status_line(&mut self, consumed: u64) {
        let mut line = std::mem::take(&mut self.resp.line);
        let too_long = std::mem::take(&mut self.resp.line_too_long);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let idx = match self.resp.tx {
            Some(i) if self.resp.interim => i,
            _ => match self.oldest_unanswered() {
                Some(i) => i,
                None => {
                    if self.txs.len() >= self.cfg.max_transactions {
                        self.raise(HttpEvent::TooManyTransactions, None);
                        self.stopped = true;
                        return;
                    }
                    let tx_id = self.next_tx_id + self.txs.len() as u64;
                    self.txs.push(HttpTransaction {
                        tx_id,
                        request_complete: true,
                        ..HttpTransaction::default()
                    });
                    let i = self.txs.len() - 1;
                    self.raise(HttpEvent::UnsolicitedResponse, Some(i));
                    i
                }
            },
        };
        self.resp.tx = Some(idx);
        self.resp.interim = false;
        if too_long {
            self.raise(HttpEvent::LineTooLong, Some(idx));
        }
        let mut it = line.splitn(2, |&c| c == b' ');
        let proto = it.next().unwrap_or_default().to_vec();
        let rest = it.next().unwrap_or_default();
        let rest = rest.trim_ascii_start();
        let (code, msg) = match rest.iter().position(|&c| c == b' ') {
            Some(i) => (&rest[..i], rest[i + 1..].to_vec()),
            None => (rest, Vec::new()),
        };
        let status = if code.len() == 3 && code.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(code)
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
        } else {
            None
        };
        if status.is_none() {
            self.raise(HttpEvent::InvalidStatusCode, Some(idx));
        }
        let t = &mut self.txs[idx];
        t.response_bytes += consumed;
        t.response_protocol = proto;
        t.status_code_raw = code.to_vec();
        t.status_code = status;
        t.status_msg = msg;
        t.response_line = line;
        // A new status line replaces interim headers.
        t.response_headers.clear();
        t.response_headers_raw.clear();
        self.resp.phase = Phase::Headers;
    }

    fn on_header_line(&mut self, dir: Direction) {
        let side = self.side(dir);
        let mut line = std::mem::take(&mut side.line);
        let too_long = std::mem::take(&mut side.line_too_long);
        let Some(idx) = side.tx else {
            return;
        };
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if too_long {
            self.raise(HttpEvent::HeadersTooLarge, Some(idx));
        }
        if line.is_empty() && !too_long {
            match dir {
                Direction::ToServer => self.finish_request_headers(idx),
                Direction::ToClient => self.finish_response_headers(idx),
            }
            return;
        }
        let (max_count, max_bytes) = (self.cfg.max_header_count, self.cfg.max_header_bytes);
        let t = &mut self.txs[idx];
        let headers = match dir {
            Direction::ToServer => &mut t.request_headers,
            Direction::ToClient => &mut t.response_headers,
        };
        // Folded continuation of the previous header.
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            if let Some(h) = headers.last_mut() {
                let v = line.trim_ascii();
                if h.value.len() + v.len() < max_bytes {
                    h.value.push(b' ');
                    h.value.extend_from_slice(v);
                }
            }
            return;
        }
        let Some(colon) = memchr::memchr(b':', &line) else {
            self.raise(HttpEvent::InvalidHeader, Some(idx));
            return;
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        let total: usize = headers.iter().map(|h| h.name.len() + h.value.len()).sum();
        if let Some(h) = headers
            .iter_mut()
            .find(|h| h.name.eq_ignore_ascii_case(name))
        {
            // A repeated Content-Length is ambiguous unless both are the same number.
            let ambiguous = name.eq_ignore_ascii_case(b"content-length")
                && !(h.value == value && !value.is_empty() && value.iter().all(u8::is_ascii_digit));
            if total + value.len() + 2 <= max_bytes {
                h.value.extend_from_slice(b", ");
                h.value.extend_from_slice(value);
            }
            if ambiguous {
                let ev = match dir {
                    Direction::ToServer => HttpEvent::DuplicateContentLengthRequest,
                    Direction::ToClient => HttpEvent::DuplicateContentLengthResponse,
                };
                self.raise(ev, Some(idx));
            }
            return;
        }
        if headers.len() >= max_count {
            self.raise(HttpEvent::TooManyHeaders, Some(idx));
            return;
        }
        if total + name.len() + value.len() > max_bytes {
            self.raise(HttpEvent::HeadersTooLarge, Some(idx));
            return;
        }
        headers.push(HttpHeader {
            name: name.to_vec(),
            value: value.to_vec(),
        });
    }

    /// Chooses body framing from the headers of one message.
    fn framing(&mut self, idx: usize, dir: Direction) -> Option<Framing> {
        let t = &self.txs[idx];
        let te = t
            .header(dir, "transfer-encoding")
            .map(|v| v.to_ascii_lowercase());
        let cl = t.header(dir, "content-length").map(|v| v.to_vec());
        let chunked = te
            .as_ref()
            .is_some_and(|v| v.windows(7).any(|w| w == b"chunked"));
        if dir == Direction::ToServer {
            // Transfer-Encoding without the `chunked` token, or chunked before HTTP/1.1.
            let has_token = te.as_ref().is_some_and(|v| {
                v.split(|&c| c == b',')
                    .any(|x| x.trim_ascii() == b"chunked")
            });
            let old = !t.request_protocol.eq_ignore_ascii_case(b"HTTP/1.1");
            if te.is_some() && (!has_token || old) {
                self.raise(HttpEvent::InvalidTransferEncodingRequest, Some(idx));
            }
        }
        if chunked {
            if cl.is_some() {
                self.raise(HttpEvent::ContentLengthWithChunked, Some(idx));
            }
            return Some(Framing::Chunked(ChunkState::Size(Vec::new())));
        }
        if let Some(v) = cl {
            // Repeated values were merged as "n, m": they must agree.
            let mut vals = v.split(|&c| c == b',').map(|x| x.trim_ascii());
            if let Some(f) = vals.next() {
                if vals.any(|x| x != f) {
                    self.raise(HttpEvent::InvalidContentLength, Some(idx));
                }
            }
            let first = v
                .split(|&c| c == b',')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let parsed =
                if !first.is_empty() && first.len() <= 18 && first.iter().all(u8::is_ascii_digit) {
                    std::str::from_utf8(first)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                } else {
                    None
                };
            return match parsed {
                Some(0) => None,
                Some(n) => Some(Framing::Length(n)),
                None => {
                    self.raise(HttpEvent::InvalidContentLength, Some(idx));
                    None
                }
            };
        }
        None
    }

    fn finish_request_headers(&mut self, idx: usize) {
        self.txs[idx].request_header_buf = header_buffer(&self.txs[idx].request_headers, b"cookie");
        self.set_host(idx);
        let t = &self.txs[idx];
        let auth_unknown = t
            .header(Direction::ToServer, "authorization")
            .is_some_and(|v| {
                let scheme = v.split(|&c| c == b' ').next().unwrap_or_default();
                !(scheme.eq_ignore_ascii_case(b"basic")
                    || scheme.eq_ignore_ascii_case(b"digest")
                    || scheme.eq_ignore_ascii_case(b"bearer"))
            });
        if auth_unknown {
            self.raise(HttpEvent::RequestAuthUnrecognized, Some(idx));
        }
        if double_encoded(&self.txs[idx].uri_raw) {
            self.raise(HttpEvent::DoubleEncodedUri, Some(idx));
        }
        let framing = self.framing(idx, Direction::ToServer);
        let t = &self.txs[idx];
        let connect = t.method.eq_ignore_ascii_case(b"CONNECT");
        match framing {
            Some(f) => {
                let sink = self.body_sink(t, Direction::ToServer);
                self.req.phase = Phase::Body(f, sink);
            }
            None => {
                self.txs[idx].request_complete = true;
                self.req.phase = if connect { Phase::Tunnel } else { Phase::Line };
            }
        }
    }

    /// The sink for the body of `t` travelling in `dir`: its content coding,
    /// this direction's store limit.
    fn body_sink(&self, t: &HttpTransaction, dir: Direction) -> Box<BodySink> {
        let coding = t
            .header(dir, "content-encoding")
            .map(Coding::from_header)
            .unwrap_or(Coding::Identity);
        let store = match dir {
            Direction::ToServer => self.cfg.request_body_limit,
            Direction::ToClient => self.cfg.response_body_limit,
        };
        Box::new(BodySink::new(coding, self.limits(store)))
    }

    fn limits(&self, store: usize) -> BodyLimits {
        BodyLimits {
            store_limit: store,
            decompress_limit: self.cfg.decompress_limit,
            max_ratio: self.cfg.decompress_max_ratio,
            hash: self.cfg.body_hashes,
        }
    }

    fn finish_response_headers(&mut self, idx: usize) {
        self.txs[idx].response_header_buf =
            header_buffer(&self.txs[idx].response_headers, b"set-cookie");
        let t = &self.txs[idx];
        let status = t.status_code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            // Interim response: the final one for this request follows.
            self.txs[idx].interim_status = Some(status);
            self.resp.interim = true;
            self.resp.phase = Phase::Line;
            return;
        }
        let head = t.method.eq_ignore_ascii_case(b"HEAD");
        let connect_ok = t.method.eq_ignore_ascii_case(b"CONNECT") && (200..300).contains(&status);
        if status == 101 || connect_ok {
            self.txs[idx].response_complete = true;
            self.resp.phase = Phase::Tunnel;
            self.req.phase = Phase::Tunnel;
            return;
        }
        if t.method.eq_ignore_ascii_case(b"CONNECT") && matches!(self.req.phase, Phase::Tunnel) {
            // CONNECT refused: the client may go on with plain requests.
            self.req.phase = Phase::Line;
        }
        let no_body = head || status == 204 || status == 304;
        let framing = if no_body {
            None
        } else {
            match self.framing(idx, Direction::ToClient) {
                Some(f) => Some(f),
                None if self.txs[idx]
                    .header(Direction::ToClient, "content-length")
                    .is_some() =>
                {
                    None
                }
                None => Some(Framing::UntilClose),
            }
        };
        let layers = self.txs[idx]
            .header(Direction::ToClient, "content-encoding")
            .map_or(0, |v| {
                v.split(|&c| c == b',')
                    .map(|x| x.trim_ascii())
                    .filter(|x| !x.is_empty() && !x.eq_ignore_ascii_case(b"identity"))
                    .count()
            });
        if layers > MAX_ENCODING_LAYERS {
            self.raise(HttpEvent::TooManyEncodingLayers, Some(idx));
        }
        match framing {
            Some(f) => {
                let sink = self.body_sink(&self.txs[idx], Direction::ToClient);
                self.resp.phase = Phase::Body(f, sink);
            }
            None => {
                self.txs[idx].response_complete = true;
                self.resp.phase = Phase::Line;
            }
        }
    }

    fn after_body_feed(&mut self, dir: Direction, done: bool, err: Option<FrameError>) {
        let side = self.side(dir);
        let tx = side.tx;
        let mut anomalies = Vec::new();
        if let Phase::Body(_, sink) = &mut side.phase {
            anomalies = sink.take_anomalies();
        }
        for a in anomalies {
            self.raise(body_event(a), tx);
        }
        if let Some(e) = &err {
            let ev = match e {
                FrameError::BadChunkSize => Some(HttpEvent::InvalidChunkLength),
                FrameError::MissingChunkCrlf => Some(HttpEvent::MissingChunkCrlf),
                FrameError::ChunkExtension if dir == Direction::ToServer => {
                    Some(HttpEvent::RequestChunkExtension)
                }
                FrameError::ChunkExtension => None,
            };
            if let Some(ev) = ev {
                self.raise(ev, tx);
            }
        }
        if done {
            let side = self.side(dir);
            let failed = matches!(err, Some(FrameError::BadChunkSize));
            let next = if failed { Phase::Failed } else { Phase::Line };
            if let Phase::Body(_, sink) = std::mem::replace(&mut side.phase, next) {
                self.finish_body(dir, tx, sink);
            }
        }
    }

    fn finish_body(&mut self, dir: Direction, tx: Option<usize>, mut sink: Box<BodySink>) {
        let hashes = sink.finish();
        for a in sink.take_anomalies() {
            self.raise(body_event(a), tx);
        }
        let Some(t) = tx.and_then(|i| self.txs.get_mut(i)) else {
            return;
        };
        match dir {
            Direction::ToServer => {
                t.request_body = std::mem::take(&mut sink.data);
                t.request_body_len = sink.wire_len;
                t.request_body_hashes = hashes;
                t.request_complete = true;
                if t.method.eq_ignore_ascii_case(b"CONNECT") {
                    self.req.phase = Phase::Tunnel;
                }
            }
            Direction::ToClient => {
                t.response_body = std::mem::take(&mut sink.data);
                t.response_body_len = sink.wire_len;
                t.response_body_decoded_len = sink.decoded_len;
                t.response_body_hashes = hashes;
                t.response_complete = true;
            }
        }
    }

    fn set_host(&mut self, idx: usize) {
        let t = &self.txs[idx];
        let header = t.header(Direction::ToServer, "host").map(|h| h.to_vec());
        let from_uri = uri_authority(&t.uri_raw).map(|a| a.to_vec());
        let http11 = t.request_protocol.as_slice() == b"HTTP/1.1";
        if header.is_none() && http11 {
            self.raise(HttpEvent::MissingHost, Some(idx));
        }
        let raw = from_uri.clone().or(header.clone());
        if let (Some(u), Some(h)) = (&from_uri, &header) {
            if !split_host(u).0.eq_ignore_ascii_case(&split_host(h).0) {
                self.raise(HttpEvent::HostMismatch, Some(idx));
            }
        }
        let t = &mut self.txs[idx];
        if let Some(raw) = raw {
            (t.host, t.host_port) = normalized_host(&raw);
            t.host_raw = header.or(Some(raw));
        }
    }
}

/// `http.host` of a Host header or authority: lowercase, no port, no
/// trailing dot; and the port, if one was given.
fn normalized_host(raw: &[u8]) -> (Option<Vec<u8>>, Option<u16>) {
    let (host, port) = split_host(raw);
    let mut host = host.to_ascii_lowercase();
    while host.last() == Some(&b'.') {
        host.pop();
    }
    (Some(host), port)
}

/// Host and optional port of a Host header value (IPv6 literals in brackets).
fn split_host(v: &[u8]) -> (Vec<u8>, Option<u16>) {
    let v = v.trim_ascii();
    if v.first() == Some(&b'[') {
        if let Some(end) = memchr::memchr(b']', v) {
            let port = v.get(end + 2..).and_then(parse_port);
            return (v[..=end].to_vec(), port);
        }
    }
    match memchr::memrchr(b':', v) {
        Some(i) if memchr::memchr(b':', &v[..i]).is_none() => {
            (v[..i].to_vec(), parse_port(&v[i + 1..]))
        }
        _ => (v.to_vec(), None),
    }
}

fn parse_port(p: &[u8]) -> Option<u16> {
    std::str::from_utf8(p).ok()?.parse().ok()
}

fn body_event(a: BodyAnomaly) -> HttpEvent {
    match a {
        BodyAnomaly::DecompressionFailed => HttpEvent::DecompressionFailed,
        BodyAnomaly::DecompressedTooLarge => HttpEvent::DecompressedTooLarge,
        BodyAnomaly::CompressionBomb => HttpEvent::CompressionBomb,
    }
}

/// Builds the `http.header` buffer: "Name: value\r\n" per header, skipping
/// `skip` (cookie headers have their own buffer).
fn header_buffer(headers: &[HttpHeader], skip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for h in headers {
        if h.name.eq_ignore_ascii_case(skip) {
            continue;
        }
        out.extend_from_slice(&h.name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    fn feed_all(s: &mut HttpState, req: &[u8], resp: &[u8]) {
        s.parse(req, Direction::ToServer);
        s.parse(resp, Direction::ToClient);
    }

    fn events_of(req: &[u8], resp: &[u8]) -> Vec<Vec<HttpEvent>> {
        let mut s = HttpState::new();
        feed_all(&mut s, req, resp);
        s.transactions().iter().map(|t| t.events.clone()).collect()
    }

    #[test]
    fn reference_ids_events_on_transactions() {
        use HttpEvent as E;
        // Chunk extension on the request: once per line that has one.
        let ev = events_of(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0 ; x=1\r\n\r\n",
            b"",
        );
        assert_eq!(ev, vec![vec![E::RequestChunkExtension]]);
        // Two different Content-Length values; the same value twice is fine.
        let ev = events_of(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        );
        assert_eq!(
            ev,
            vec![vec![
                E::DuplicateContentLengthRequest,
                E::InvalidContentLength
            ]]
        );
        // Authorization schemes, double encoding.
        let ev = events_of(
            b"GET /a%2527b HTTP/1.1\r\nHost: h\r\nAuthorization: Turbo x\r\n\r\nGET /ok%25 HTTP/1.1\r\nHost: h\r\nAuthorization: Basic eA==\r\n\r\n",
            b"",
        );
        assert_eq!(
            ev,
            vec![
                vec![E::RequestAuthUnrecognized, E::DoubleEncodedUri],
                vec![]
            ]
        );
        // Transfer-Encoding without chunked.
        let ev = events_of(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"",
        );
        assert_eq!(ev, vec![vec![E::InvalidTransferEncodingRequest]]);
        // Three content codings on a response.
        let ev = events_of(
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Encoding: identity, gzip, gzip, gzip\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(ev, vec![vec![E::TooManyEncodingLayers]]);
    }

    #[test]
    fn a_line_that_is_no_request_after_a_bodiless_request_is_its_body() {
        let mut s = HttpState::new();
        s.parse(
            b"POST /a HTTP/1.1\r\nHost: h\r\n\r\nlogin=foo\r\nmore\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
            Direction::ToServer,
        );
        let txs = s.transactions();
        assert_eq!(txs.len(), 2);
        assert_eq!(txs[0].request_body, b"login=foo\r\nmore\r\n");
        assert_eq!(txs[0].events, vec![HttpEvent::RequestBodyUnexpected]);
        assert_eq!(txs[1].uri_raw, b"/b");
        assert!(txs[1].events.is_empty());
    }

    #[test]
    fn pipelined_requests_byte_by_byte() {
        let req = b"GET /a HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: t\r\nCookie: c=1\r\n\r\nPOST /b%20c/../d HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhelloHEAD /h HTTP/1.1\r\nHost: x\r\n\r\n";
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        let mut s = HttpState::new();
        for b in req {
            s.parse(std::slice::from_ref(b), Direction::ToServer);
        }
        for b in resp {
            s.parse(std::slice::from_ref(b), Direction::ToClient);
        }
        let txs = s.take_complete();
        assert_eq!(txs.len(), 3);
        assert_eq!(txs[0].host.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(txs[0].host_port, Some(8080));
        assert_eq!(
            txs[0].request_header_buf,
            b"Host: Example.COM:8080\r\nUser-Agent: t\r\n"
        );
        assert_eq!(txs[0].response_body, b"abc");
        assert_eq!(txs[1].uri, b"/d");
        assert_eq!(txs[1].uri_raw, b"/b%20c/../d");
        assert_eq!(txs[1].request_body, b"hello");
        assert_eq!(txs[1].response_body, b"xy");
        assert_eq!(txs[1].status_code, Some(201));
        assert_eq!(txs[2].method, b"HEAD");
        assert!(txs[2].response_body.is_empty());
        assert_eq!(
            txs.iter().map(|t| t.tx_id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        // Byte counts add up to the streams, fed one byte at a time.
        let req_total: u64 = txs.iter().map(|t| t.request_bytes).sum();
        let resp_total: u64 = txs.iter().map(|t| t.response_bytes).sum();
        assert_eq!(req_total, req.len() as u64);
        assert_eq!(resp_total, resp.len() as u64);
    }

    #[test]
    fn close_inside_response_headers_keeps_them() {
        // The server closes after its headers without the blank line (and the
        // last line unterminated in the second case): the headers still count.
        for resp in [
            &b"HTTP/1.0 200 OK\r\nServer:ng1nx\r\n"[..],
            b"HTTP/1.0 200 OK\r\nX-A: 1\r\nServer: ng1nx",
        ] {
            let mut s = HttpState::new();
            feed_all(&mut s, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", resp);
            s.close(Direction::ToClient);
            let txs = s.take_complete();
            assert_eq!(txs.len(), 1);
            assert_eq!(
                txs[0].header(Direction::ToClient, "server"),
                Some(&b"ng1nx"[..])
            );
            assert!(txs[0].response_header_buf.ends_with(b"ng1nx\r\n"));
            assert_eq!(s.event_count(HttpEvent::TruncatedMessage), 1);
        }
    }

    #[test]
    fn continue_then_final_response() {
        let mut s = HttpState::new();
        feed_all(
            &mut s,
            b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
        );
        assert!(!s.transactions()[0].response_complete);
        feed_all(
            &mut s,
            b"data",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
        let txs = s.take_complete();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].status_code, Some(200));
        assert_eq!(txs[0].request_body, b"data");
        assert_eq!(txs[0].response_body, b"ok");
    }

    #[test]
    fn body_until_close_and_gzip() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"<html>compressed</html>").unwrap();
        let gz = gz.finish().unwrap();
        let mut resp = b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
        resp.extend_from_slice(&gz);
        let mut s = HttpState::new();
        feed_all(&mut s, b"GET / HTTP/1.0\r\n\r\n", &resp);
        assert!(s.take_complete().is_empty());
        s.close(Direction::ToClient);
        let txs = s.take_complete();
        assert_eq!(txs[0].response_body, b"<html>compressed</html>");
        assert_eq!(txs[0].response_body_len, gz.len() as u64);
    }

    #[test]
    fn connect_tunnel_and_upgrade() {
        let mut s = HttpState::new();
        feed_all(
            &mut s,
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01garbage",
            b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03more",
        );
        assert!(s.is_tunnel());
        assert_eq!(s.take_complete().len(), 1);
        assert_eq!(s.event_count(HttpEvent::InvalidRequestLine), 0);
    }

    #[test]
    fn uri_with_spaces_and_http09() {
        let mut s = HttpState::new();
        feed_all(
            &mut s,
            b"GET /a b?c d HTTP/1.1\r\nHost: h\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        );
        let t = &s.transactions()[0];
        assert_eq!(t.uri_raw, b"/a b?c d");
        assert_eq!(t.request_protocol, b"HTTP/1.1");
        assert_eq!(s.event_count(HttpEvent::InvalidRequestLine), 1);
        let mut s = HttpState::new();
        feed_all(&mut s, b"GET /\r\n", b"<html>old</html>");
        s.close(Direction::ToServer);
        s.close(Direction::ToClient);
        let t = &s.take_complete()[0];
        assert_eq!(t.response_body, b"<html>old</html>");
        assert_eq!(t.status_code, None);
        assert_eq!(t.events, vec![HttpEvent::MissingProtocol]);
        // Not 0.9 after all: header lines follow the protocol-less line.
        let mut s = HttpState::new();
        s.parse(
            b"GET /\nFakeHeader\nHost: localhost\nUser-Agent: myscript\n\n",
            Direction::ToServer,
        );
        let t = &s.transactions()[0];
        assert!(t.request_complete);
        assert_eq!(
            t.header(Direction::ToServer, "user-agent"),
            Some(&b"myscript"[..])
        );
        assert_eq!(s.event_count(HttpEvent::InvalidHeader), 1);
    }

    #[test]
    fn gaps_in_bodies_and_headers() {
        let mut s = HttpState::new();
        s.parse(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", Direction::ToServer);
        s.parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            Direction::ToClient,
        );
        s.gap(Direction::ToClient, 4);
        s.parse(b"xyz", Direction::ToClient);
        let t = &s.take_complete()[0];
        assert_eq!(t.response_body, b"abcxyz");
        assert_eq!(t.response_body_len, 10);
        assert!(t.response_body_hashes.is_none());
        assert_eq!(t.events, vec![HttpEvent::Gap]);
        // A gap in the headers loses the framing: the direction stops.
        let mut s = HttpState::new();
        s.parse(b"GET / HTTP/1.1\r\nHo", Direction::ToServer);
        s.gap(Direction::ToServer, 100);
        s.parse(b"GET /next HTTP/1.1\r\n\r\n", Direction::ToServer);
        assert_eq!(s.transactions().len(), 1);
        assert_eq!(s.event_count(HttpEvent::Gap), 1);
    }

    #[test]
    fn conflicting_content_lengths() {
        let mut s = HttpState::new();
        s.parse(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            Direction::ToServer,
        );
        assert_eq!(s.event_count(HttpEvent::InvalidContentLength), 0);
        s.parse(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc",
            Direction::ToServer,
        );
        assert_eq!(s.event_count(HttpEvent::InvalidContentLength), 1);
        assert_eq!(s.transactions()[0].request_body, b"abc");
    }

    #[test]
    fn caps_raise_events() {
        let cfg = HttpConfig {
            max_header_count: 2,
            max_transactions: 2,
            ..HttpConfig::default()
        };
        let mut s = HttpState::with_config(cfg);
        s.parse(
            b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nHost: h\r\n\r\n",
            Direction::ToServer,
        );
        assert_eq!(s.event_count(HttpEvent::TooManyHeaders), 2);
        s.parse(
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            Direction::ToServer,
        );
        assert_eq!(s.event_count(HttpEvent::TooManyTransactions), 1);
        assert_eq!(s.transactions().len(), 2);
        let mut s = HttpState::new();
        let long = vec![b'a'; 20_000];
        s.parse(b"GET /", Direction::ToServer);
        s.parse(&long, Direction::ToServer);
        s.parse(b" HTTP/1.1\r\n\r\n", Direction::ToServer);
        assert_eq!(s.event_count(HttpEvent::LineTooLong), 1);
        let mut s = HttpState::new();
        s.parse(b"GET / HTTP/1.1\r\n\r\n", Direction::ToServer);
        s.parse(b"SSH-2.0-x\r\n", Direction::ToClient);
        assert_eq!(s.event_count(HttpEvent::InvalidResponseLine), 1);
        s.parse(b"more", Direction::ToClient);
    }
}
