//! App-layer frames: the PDUs of a protocol (and their parts) as byte ranges
//! of one direction's stream, for rules with `frame:proto.name`.
//!
//! Built only for the protocols whose frames a loaded rule inspects
//! ([`FrameNeeds`]): nothing here runs otherwise. The HTTP/1 parser marks its
//! messages; the length-prefixed protocols (DNS over TCP, TLS records, SSH
//! binary packets) and SIP over TCP are cut by small framers over the kept
//! bytes, since their parsers stop early (SSH after KEXINIT) or keep no
//! offsets. A datagram (DNS, SIP over UDP) is its own frame. A frame is cut
//! at the first gap in it and to [`MAX_FRAME_BYTES`] (then `complete` is
//! false); the parts of a PDU (SIP line/headers/body, SSH and TLS header and
//! data) come from the PDU's bytes.

use serde_json::{json, Value};
use vigie_rules::signature::BufferId;

use super::sip::parser::{find_head_end, parse_head, Parsed, MAX_HEAD};
use super::Direction;

/// Which protocols' frames the loaded rules inspect, so that no frame is
/// built for nobody.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameNeeds(u8);

impl FrameNeeds {
    /// HTTP/1 request and response frames.
    pub const HTTP1: u8 = 1;
    /// DNS message frames.
    pub const DNS: u8 = 2;
    /// SIP message frames and their parts.
    pub const SIP: u8 = 4;
    /// SSH binary packet frames.
    pub const SSH: u8 = 8;
    /// TLS record frames.
    pub const TLS: u8 = 16;
    /// A `proto.stream` frame (the stream itself; built by the worker).
    pub const STREAM: u8 = 32;

    /// The needs of an engine whose rules use the buffers `uses` says.
    pub fn from_uses(uses: impl Fn(BufferId) -> bool) -> FrameNeeds {
        let mut n = 0;
        for b in BufferId::ALL.iter().copied().filter(|b| b.is_frame()) {
            if uses(b) {
                n |= match b.name() {
                    s if s.ends_with(".stream") => Self::STREAM,
                    s if s.starts_with("frame:http1.") => Self::HTTP1,
                    s if s.starts_with("frame:dns.") => Self::DNS,
                    s if s.starts_with("frame:sip.") => Self::SIP,
                    s if s.starts_with("frame:ssh.") => Self::SSH,
                    s if s.starts_with("frame:tls.") => Self::TLS,
                    _ => 0,
                };
            }
        }
        FrameNeeds(n)
    }

    /// Needs with exactly the bits `bits`.
    pub fn with(bits: u8) -> FrameNeeds {
        FrameNeeds(bits)
    }

    /// Whether the protocol bit `bit` is needed.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// Whether any PDU frame is needed.
    pub fn any_pdu(self) -> bool {
        self.0 & !Self::STREAM != 0
    }
}

/// Most bytes of one frame kept; a longer frame is inspected cut there.
pub const MAX_FRAME_BYTES: usize = 256 << 10;

/// Most frames waiting for inspection per flow; more are dropped (counted).
pub const MAX_READY_FRAMES: usize = 256;

/// One frame, ready for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its type, as the buffer rules name it.
    pub kind: BufferId,
    /// Direction of its stream.
    pub dir: Direction,
    /// Per-flow frame number.
    pub id: u64,
    /// Offset of its first byte in the direction's stream (0 for a datagram).
    pub offset: u64,
    /// Its length on the wire.
    pub len: u64,
    /// Its bytes: all of them, or those before the first gap or the cap.
    pub data: Vec<u8>,
    /// Whether `data` holds the whole frame.
    pub complete: bool,
}

impl Frame {
    /// The EVE `frame` object of an alert on this frame.
    pub fn eve(&self) -> Value {
        let name = self.kind.name().strip_prefix("frame:").unwrap_or_default();
        let ty = name.split_once('.').map_or(name, |(_, t)| t);
        json!({
            "type": ty,
            "id": self.id,
            "direction": match self.dir {
                Direction::ToServer => "toserver",
                Direction::ToClient => "toclient",
            },
            "stream_offset": self.offset,
            "length": self.len,
            "complete": self.complete,
        })
    }
}

/// Counters of the frames of one flow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameCounts {
    /// Frames built.
    pub frames: u64,
    /// Frames inspected shorter than they are (gap or [`MAX_FRAME_BYTES`]).
    pub truncated: u64,
    /// Frames dropped: more than [`MAX_READY_FRAMES`] waiting, or their
    /// start was not kept.
    pub dropped: u64,
}

/// The framer of a length-prefixed or header-delimited protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framer {
    /// The parser marks the PDUs (HTTP/1).
    Parser,
    /// DNS over TCP: 2-byte length, then the message.
    DnsTcp,
    /// TLS records: 5-byte header with a 2-byte length.
    Tls,
    /// SSH: banner line(s), then binary packets until NEWKEYS.
    Ssh,
    /// SIP over TCP: head up to the empty line, then Content-Length bytes.
    SipTcp,
}

/// One direction's kept stream bytes and framing position.
#[derive(Debug, Default)]
struct DirFrames {
    /// Stream offset of the next byte.
    offset: u64,
    /// Kept bytes as contiguous runs (stream offset, bytes), in order.
    runs: Vec<(u64, Vec<u8>)>,
    /// Bytes kept in `runs`.
    kept: usize,
    /// Where the next PDU starts (framers).
    next: u64,
    /// SSH: the banner was passed.
    banner_done: bool,
    /// The framing is lost (a gap in a header, a bad length, encryption).
    done: bool,
}

impl DirFrames {
    fn append(&mut self, data: &[u8]) {
        let at = self.offset;
        self.offset += data.len() as u64;
        let room = MAX_FRAME_BYTES.saturating_sub(self.kept);
        let take = &data[..data.len().min(room)];
        if take.is_empty() {
            return;
        }
        self.kept += take.len();
        match self.runs.last_mut() {
            Some((o, b)) if *o + b.len() as u64 == at => b.extend_from_slice(take),
            _ => self.runs.push((at, take.to_vec())),
        }
    }

    /// The kept bytes from `start`, contiguous, at most `len`.
    fn bytes(&self, start: u64, len: u64) -> Option<&[u8]> {
        let (o, b) = self
            .runs
            .iter()
            .find(|(o, b)| *o <= start && start < *o + b.len() as u64)?;
        let from = usize::try_from(start - o).ok()?;
        let to = from.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        b.get(from..to.min(b.len()))
    }

    /// Forgets the bytes before `upto`.
    fn release(&mut self, upto: u64) {
        let mut kept = 0;
        self.runs.retain_mut(|(o, b)| {
            let end = *o + b.len() as u64;
            if end <= upto {
                return false;
            }
            if *o < upto {
                let cut = usize::try_from(upto - *o).unwrap_or(b.len()).min(b.len());
                b.drain(..cut);
                *o = upto;
            }
            kept += b.len();
            true
        });
        self.kept = kept;
    }
}

/// The frames of one flow: kept bytes per direction and frames ready for
/// inspection.
#[derive(Debug)]
pub struct FrameState {
    needs: FrameNeeds,
    framer: Framer,
    /// The PDU frame type of the protocol.
    pdu: BufferId,
    dirs: [DirFrames; 2],
    ready: Vec<Frame>,
    next_id: u64,
    /// Counters.
    pub counts: FrameCounts,
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl FrameState {
    /// Frames for a flow of protocol `proto` (Suricata's name) over TCP
    /// (`stream`) or UDP; `None` when no rule wants its frames.
    pub fn new(proto: &str, stream: bool, needs: FrameNeeds) -> Option<FrameState> {
        let (bit, framer, pdu) = match proto {
            "http" => (
                FrameNeeds::HTTP1,
                Framer::Parser,
                BufferId::FrameHttp1Request,
            ),
            "dns" => (FrameNeeds::DNS, Framer::DnsTcp, BufferId::FrameDnsPdu),
            "sip" => (FrameNeeds::SIP, Framer::SipTcp, BufferId::FrameSipPdu),
            "ssh" => (FrameNeeds::SSH, Framer::Ssh, BufferId::FrameSshRecordPdu),
            "tls" => (FrameNeeds::TLS, Framer::Tls, BufferId::FrameTlsPdu),
            _ => return None,
        };
        if !needs.has(bit) || (!stream && !matches!(framer, Framer::DnsTcp | Framer::SipTcp)) {
            return None;
        }
        Some(FrameState {
            needs,
            framer,
            pdu,
            dirs: Default::default(),
            ready: Vec::new(),
            next_id: 0,
            counts: FrameCounts::default(),
        })
    }

    /// Whether the parser marks the PDUs (else a framer cuts them).
    pub fn parser_marks(&self) -> bool {
        self.framer == Framer::Parser
    }

    /// Stream bytes in `dir`, before the parser sees them.
    pub fn on_data(&mut self, dir: Direction, data: &[u8]) {
        self.dirs[slot(dir)].append(data);
    }

    /// `len` stream bytes lost in `dir`.
    pub fn on_gap(&mut self, dir: Direction, len: u64) {
        let d = &mut self.dirs[slot(dir)];
        d.offset = d.offset.saturating_add(len);
    }

    /// Stream offset of the next byte in `dir`.
    pub fn offset(&self, dir: Direction) -> u64 {
        self.dirs[slot(dir)].offset
    }

    /// A PDU of type `kind` the parser marked: `len` bytes from stream
    /// offset `start` in `dir`, all of which have been fed.
    pub fn mark(&mut self, dir: Direction, kind: BufferId, start: u64, len: u64) {
        let d = &self.dirs[slot(dir)];
        let data = d.bytes(start, len).map(<[u8]>::to_vec);
        self.push_pdu(dir, kind, start, len, data);
        self.dirs[slot(dir)].release(start.saturating_add(len));
    }

    /// Cuts what the framer of `dir` can after new bytes (stream framers).
    pub fn frame_stream(&mut self, dir: Direction) {
        let i = slot(dir);
        loop {
            let d = &mut self.dirs[i];
            if d.done || self.framer == Framer::Parser {
                return;
            }
            let avail = d.bytes(d.next, u64::MAX).unwrap_or_default();
            if self.framer == Framer::Ssh && !d.banner_done {
                // Lines up to and including the "SSH-" banner are no records.
                let Some(nl) = avail.iter().position(|c| *c == b'\n') else {
                    if d.offset > d.next && avail.is_empty() {
                        d.done = true;
                    }
                    return;
                };
                d.banner_done = avail.starts_with(b"SSH-");
                d.next += nl as u64 + 1;
                d.release(d.next);
                continue;
            }
            if self.framer == Framer::SipTcp {
                // Line ends between messages (keep-alives) are no frames.
                let skip = avail
                    .iter()
                    .take_while(|c| matches!(c, b'\r' | b'\n'))
                    .count();
                if skip > 0 {
                    d.next += skip as u64;
                    d.release(d.next);
                    continue;
                }
            }
            let len = match pdu_len(self.framer, avail) {
                PduLen::Len(n) => n,
                PduLen::NeedMore => {
                    // A gap (or the cap) cut the bytes the length needs.
                    if d.offset > d.next.saturating_add(avail.len() as u64) {
                        d.done = true;
                    }
                    return;
                }
                PduLen::Lost => {
                    d.done = true;
                    return;
                }
            };
            let end = d.next.saturating_add(len);
            if d.offset < end {
                return;
            }
            let start = d.next;
            let data = d.bytes(start, len).map(<[u8]>::to_vec);
            if self.framer == Framer::Ssh && data.as_deref().and_then(|b| b.get(5)) == Some(&21) {
                // NEWKEYS: the packets after it are encrypted.
                d.done = true;
            }
            d.next = end;
            d.release(end);
            let (kind, data) = match self.framer {
                // The message without its 2-byte length, as over UDP.
                Framer::DnsTcp => (
                    self.pdu,
                    data.map(|b| b.get(2..).unwrap_or_default().to_vec()),
                ),
                _ => (self.pdu, data),
            };
            let (start, len) = match self.framer {
                Framer::DnsTcp => (start + 2, len - 2),
                _ => (start, len),
            };
            self.push_pdu(dir, kind, start, len, data);
        }
    }

    /// One datagram in `dir` (DNS, SIP over UDP): a frame of its own.
    pub fn on_datagram(&mut self, dir: Direction, data: &[u8]) {
        self.push_pdu(dir, self.pdu, 0, data.len() as u64, Some(data.to_vec()));
    }

    fn push_pdu(
        &mut self,
        dir: Direction,
        kind: BufferId,
        start: u64,
        len: u64,
        data: Option<Vec<u8>>,
    ) {
        if len == 0 {
            return;
        }
        let Some(data) = data else {
            self.counts.dropped += 1;
            return;
        };
        let complete = data.len() as u64 == len;
        let pdu = Frame {
            kind,
            dir,
            id: 0,
            offset: start,
            len,
            data,
            complete,
        };
        let parts = match kind {
            BufferId::FrameSipPdu => sip_parts(&pdu),
            BufferId::FrameSshRecordPdu => fixed_parts(
                &pdu,
                6,
                BufferId::FrameSshRecordHdr,
                BufferId::FrameSshRecordData,
            ),
            BufferId::FrameTlsPdu => tls_parts(&pdu),
            _ => Vec::new(),
        };
        for mut f in std::iter::once(pdu).chain(parts) {
            if self.ready.len() >= MAX_READY_FRAMES {
                self.counts.dropped += 1;
                continue;
            }
            f.id = self.next_id;
            self.next_id += 1;
            self.counts.frames += 1;
            self.counts.truncated += u64::from(!f.complete);
            self.ready.push(f);
        }
    }

    /// Takes the frames of `dir` ready for inspection.
    pub fn take_ready(&mut self, dir: Direction) -> Vec<Frame> {
        if self.ready.is_empty() {
            return Vec::new();
        }
        let (mine, rest) = std::mem::take(&mut self.ready)
            .into_iter()
            .partition(|f| f.dir == dir);
        self.ready = rest;
        mine
    }

    /// What the frames were built for.
    pub fn needs(&self) -> FrameNeeds {
        self.needs
    }
}

enum PduLen {
    Len(u64),
    NeedMore,
    Lost,
}

/// The length of the PDU that starts `b`, for the stream framers.
fn pdu_len(framer: Framer, b: &[u8]) -> PduLen {
    let be = |n: usize| -> Option<u64> {
        Some(b.get(..n)?.iter().fold(0u64, |a, x| a << 8 | u64::from(*x)))
    };
    match framer {
        Framer::Parser => PduLen::Lost,
        Framer::DnsTcp => match be(2) {
            Some(0) => PduLen::Len(2),
            Some(n) => PduLen::Len(2 + n),
            None => PduLen::NeedMore,
        },
        Framer::Tls => match (b.first(), b.get(1), b.get(3..5)) {
            (Some(t), Some(3), Some(l)) if (20..=24).contains(t) => {
                PduLen::Len(5 + u64::from(u16::from_be_bytes([l[0], l[1]])))
            }
            (Some(_), Some(_), Some(_)) => PduLen::Lost,
            _ => PduLen::NeedMore,
        },
        Framer::Ssh => match be(4) {
            Some(n) if (5..=256 * 1024).contains(&n) => PduLen::Len(4 + n),
            Some(_) => PduLen::Lost,
            None => PduLen::NeedMore,
        },
        Framer::SipTcp => match find_head_end(b, 0) {
            None if b.len() > MAX_HEAD => PduLen::Lost,
            None => PduLen::NeedMore,
            Some(end) => match parse_head(b.get(..end).unwrap_or_default()) {
                Parsed::Head(h, _) => PduLen::Len(end as u64 + h.content_length.unwrap_or(0)),
                _ => PduLen::Lost,
            },
        },
    }
}

/// A part of `pdu`: bytes `from..to` of it as a frame of type `kind`.
fn part(pdu: &Frame, kind: BufferId, from: u64, to: u64) -> Option<Frame> {
    if to <= from {
        return None;
    }
    let f = usize::try_from(from).ok()?;
    let t = usize::try_from(to).ok()?;
    let data = pdu.data.get(f.min(pdu.data.len())..t.min(pdu.data.len()))?;
    if data.is_empty() {
        return None;
    }
    Some(Frame {
        kind,
        dir: pdu.dir,
        id: 0,
        offset: pdu.offset + from,
        len: to - from,
        complete: data.len() as u64 == to - from,
        data: data.to_vec(),
    })
}

/// A header of `hdr` bytes, then the data (SSH packets).
fn fixed_parts(pdu: &Frame, hdr: u64, h: BufferId, d: BufferId) -> Vec<Frame> {
    [
        part(pdu, h, 0, hdr.min(pdu.len)),
        part(pdu, d, hdr, pdu.len),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A TLS record: header, data, and the data again as `alert` or `heartbeat`.
fn tls_parts(pdu: &Frame) -> Vec<Frame> {
    let mut v = fixed_parts(pdu, 5, BufferId::FrameTlsHdr, BufferId::FrameTlsData);
    let extra = match pdu.data.first() {
        Some(21) => Some(BufferId::FrameTlsAlert),
        Some(24) => Some(BufferId::FrameTlsHeartbeat),
        _ => None,
    };
    if let Some(k) = extra {
        v.extend(part(pdu, k, 5, pdu.len));
    }
    v
}

/// A SIP message: its start line (with CRLF), header lines (without the
/// empty line) and body, as request or response parts.
fn sip_parts(pdu: &Frame) -> Vec<Frame> {
    let b = &pdu.data;
    let response = b.starts_with(b"SIP/");
    let (line, headers, body) = if response {
        (
            BufferId::FrameSipResponseLine,
            BufferId::FrameSipResponseHeaders,
            BufferId::FrameSipResponseBody,
        )
    } else {
        (
            BufferId::FrameSipRequestLine,
            BufferId::FrameSipRequestHeaders,
            BufferId::FrameSipRequestBody,
        )
    };
    let Some(line_end) = b.iter().position(|c| *c == b'\n').map(|p| p as u64 + 1) else {
        return Vec::new();
    };
    let mut v: Vec<Frame> = part(pdu, line, 0, line_end).into_iter().collect();
    let Some(head_end) = find_head_end(b, 0).map(|e| e as u64) else {
        return v;
    };
    // The empty line is CRLF (or a bare LF) before the head's end.
    let blank = if b.get(head_end as usize - 2) == Some(&b'\r') {
        2
    } else {
        1
    };
    let headers_end = head_end.saturating_sub(blank).max(line_end);
    v.extend(part(pdu, headers, line_end, headers_end));
    v.extend(part(pdu, body, head_end, pdu.len));
    v
}

#[cfg(test)]
mod test {
    use super::*;

    fn all(s: &mut FrameState) -> Vec<(String, Vec<u8>, bool)> {
        let mut v = s.take_ready(Direction::ToServer);
        v.extend(s.take_ready(Direction::ToClient));
        v.into_iter()
            .map(|f| (f.kind.name().to_string(), f.data, f.complete))
            .collect()
    }

    fn needs() -> FrameNeeds {
        FrameNeeds::with(0x1f)
    }

    #[test]
    fn dns_tcp_frames_drop_the_length_and_span_segments() {
        let mut s = FrameState::new("dns", true, needs()).unwrap();
        let msg = [0x12u8, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        let mut wire = vec![0, msg.len() as u8];
        wire.extend_from_slice(&msg);
        wire.extend_from_slice(&wire.clone());
        for chunk in wire.chunks(3) {
            s.on_data(Direction::ToServer, chunk);
            s.frame_stream(Direction::ToServer);
        }
        let f = s.take_ready(Direction::ToServer);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].data, msg);
        assert_eq!((f[0].offset, f[1].offset), (2, 17));
        assert!(f
            .iter()
            .all(|f| f.complete && f.kind == BufferId::FrameDnsPdu));
    }

    #[test]
    fn ssh_records_after_the_banner_until_newkeys() {
        let mut s = FrameState::new("ssh", true, needs()).unwrap();
        let mut wire = b"SSH-2.0-x\r\n".to_vec();
        // KEXINIT-like packet: length 12, padding 4, code 20, 6 bytes, pad.
        wire.extend_from_slice(&[
            0, 0, 0, 12, 4, 20, b'c', b'u', b'r', b'v', b'e', b'!', 0, 0, 0, 0,
        ]);
        // NEWKEYS: length 12, padding 10, code 21.
        wire.extend_from_slice(&[0, 0, 0, 12, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Encrypted: not framed.
        wire.extend_from_slice(&[0xff; 40]);
        s.on_data(Direction::ToServer, &wire);
        s.frame_stream(Direction::ToServer);
        let f = all(&mut s);
        let names: Vec<&str> = f.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "frame:ssh.record.pdu",
                "frame:ssh.record.hdr",
                "frame:ssh.record.data",
                "frame:ssh.record.pdu",
                "frame:ssh.record.hdr",
                "frame:ssh.record.data"
            ]
        );
        assert_eq!(f[1].1, [0, 0, 0, 12, 4, 20]);
        assert!(f[2].1.starts_with(b"curve"));
        assert_eq!(f[4].1.last(), Some(&21));
    }

    #[test]
    fn tls_records_and_alert_parts() {
        let mut s = FrameState::new("tls", true, needs()).unwrap();
        let wire = [22u8, 3, 1, 0, 2, 1, 2, 21, 3, 3, 0, 2, 2, 40];
        s.on_data(Direction::ToClient, &wire[..6]);
        s.frame_stream(Direction::ToClient);
        assert!(all(&mut s).is_empty());
        s.on_data(Direction::ToClient, &wire[6..]);
        s.frame_stream(Direction::ToClient);
        let f = all(&mut s);
        let names: Vec<&str> = f.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "frame:tls.pdu",
                "frame:tls.hdr",
                "frame:tls.data",
                "frame:tls.pdu",
                "frame:tls.hdr",
                "frame:tls.data",
                "frame:tls.alert"
            ]
        );
        assert_eq!(f[6].1, [2, 40]);
    }

    #[test]
    fn sip_parts_over_tcp_with_a_body() {
        let mut s = FrameState::new("sip", true, needs()).unwrap();
        let msg = b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\nContent-Length: 3\r\n\r\nv=0";
        let mut wire = b"\r\n".to_vec();
        wire.extend_from_slice(msg);
        wire.extend_from_slice(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        s.on_data(Direction::ToServer, &wire);
        s.frame_stream(Direction::ToServer);
        let f = all(&mut s);
        let got: Vec<(&str, &[u8])> = f.iter().map(|f| (f.0.as_str(), f.1.as_slice())).collect();
        assert_eq!(
            got,
            [
                ("frame:sip.pdu", &msg[..]),
                ("frame:sip.request.line", &b"INVITE sip:a@b SIP/2.0\r\n"[..]),
                (
                    "frame:sip.request.headers",
                    &b"Via: x\r\nContent-Length: 3\r\n"[..]
                ),
                ("frame:sip.request.body", &b"v=0"[..]),
                (
                    "frame:sip.pdu",
                    &b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"[..]
                ),
                ("frame:sip.response.line", &b"SIP/2.0 200 OK\r\n"[..]),
                ("frame:sip.response.headers", &b"Content-Length: 0\r\n"[..]),
            ]
        );
    }

    #[test]
    fn a_gap_cuts_the_frame_and_a_gap_in_a_header_stops_framing() {
        let mut s = FrameState::new("tls", true, needs()).unwrap();
        s.on_data(Direction::ToServer, &[23, 3, 3, 0, 8, 1, 2]);
        s.on_gap(Direction::ToServer, 3);
        s.on_data(Direction::ToServer, &[6, 7, 8]);
        s.frame_stream(Direction::ToServer);
        let f = s.take_ready(Direction::ToServer);
        assert_eq!(f[0].data, [23, 3, 3, 0, 8, 1, 2]);
        assert!(!f[0].complete);
        assert_eq!(f[0].len, 13);
        s.on_gap(Direction::ToServer, 2);
        s.on_data(Direction::ToServer, &[0, 1, 2, 3, 4, 5, 6]);
        s.frame_stream(Direction::ToServer);
        assert!(s.take_ready(Direction::ToServer).is_empty());
        // The record and its data part.
        assert_eq!(s.counts.truncated, 2);
    }

    #[test]
    fn hostile_lengths_never_panic() {
        for framer in ["dns", "tls", "ssh", "sip"] {
            let mut s = FrameState::new(framer, true, needs()).unwrap();
            for b in [
                &b"SSH-\n\xff\xff\xff\xff\x00"[..],
                &[0xff; 9],
                &[0; 9],
                b"\n\n\n",
            ] {
                s.on_data(Direction::ToServer, b);
                s.frame_stream(Direction::ToServer);
                s.on_gap(Direction::ToServer, 1);
                s.frame_stream(Direction::ToServer);
            }
            let _ = all(&mut s);
        }
        assert!(FrameState::new("http", true, FrameNeeds::with(FrameNeeds::DNS)).is_none());
    }
}
