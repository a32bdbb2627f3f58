//! Message bodies: framing (Content-Length, chunked, until close), content
//! decoding (gzip, deflate) with size and ratio caps, hashing, capped storage.

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::Write;

/// How a body's end is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(ChunkState),
    /// Everything until the connection closes.
    UntilClose,
}

/// Where the chunked decoder stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkState {
    /// Reading a chunk-size line (bytes so far).
    Size(Vec<u8>),
    /// Inside chunk data: bytes left.
    Data(u64),
    /// After chunk data: expecting CRLF.
    DataEnd,
    /// Reading trailer lines (bytes of the current line so far).
    Trailer(Vec<u8>),
}

/// Result of feeding bytes to the framing decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A chunk-size line that is not hex or too long.
    BadChunkSize,
    /// Chunk data not followed by CRLF.
    MissingChunkCrlf,
    /// A chunk-size line with a chunk extension (`;name=value`): accepted.
    ChunkExtension,
}

/// Longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 1024;

impl Framing {
    /// Feeds `data`; calls `sink` with body bytes; returns (bytes consumed,
    /// body finished, anomaly). Bytes after the body's end are not consumed.
    pub fn feed(
        &mut self,
        data: &[u8],
        mut sink: impl FnMut(&[u8]),
    ) -> (usize, bool, Option<FrameError>) {
        let mut pos = 0;
        let mut anomaly = None;
        loop {
            match self {
                Framing::Length(n) => {
                    let take = (*n).min((data.len() - pos) as u64) as usize;
                    if take > 0 {
                        sink(&data[pos..pos + take]);
                    }
                    pos += take;
                    *n -= take as u64;
                    return (pos, *n == 0, anomaly);
                }
                Framing::UntilClose => {
                    if pos < data.len() {
                        sink(&data[pos..]);
                    }
                    return (data.len(), false, anomaly);
                }
                Framing::Chunked(state) => {
                    if pos >= data.len() {
                        return (pos, false, anomaly);
                    }
                    match state {
                        ChunkState::Size(line) => {
                            let rest = &data[pos..];
                            match memchr::memchr(b'\n', rest) {
                                Some(i) => {
                                    line.extend_from_slice(&rest[..i]);
                                    pos += i + 1;
                                    if line.contains(&b';') && anomaly.is_none() {
                                        anomaly = Some(FrameError::ChunkExtension);
                                    }
                                    match parse_chunk_size(line) {
                                        Some(0) => *state = ChunkState::Trailer(Vec::new()),
                                        Some(n) => *state = ChunkState::Data(n),
                                        None => return (pos, true, Some(FrameError::BadChunkSize)),
                                    }
                                }
                                None => {
                                    line.extend_from_slice(rest);
                                    pos = data.len();
                                    if line.len() > MAX_CHUNK_LINE {
                                        return (pos, true, Some(FrameError::BadChunkSize));
                                    }
                                }
                            }
                        }
                        ChunkState::Data(n) => {
                            let take = (*n).min((data.len() - pos) as u64) as usize;
                            sink(&data[pos..pos + take]);
                            pos += take;
                            *n -= take as u64;
                            if *n == 0 {
                                *state = ChunkState::DataEnd;
                            }
                        }
                        ChunkState::DataEnd => {
                            match data[pos] {
                                b'\r' => pos += 1,
                                b'\n' => {
                                    pos += 1;
                                    *state = ChunkState::Size(Vec::new());
                                }
                                _ => {
                                    // Tolerate a missing CRLF: read the next size line.
                                    anomaly = Some(FrameError::MissingChunkCrlf);
                                    *state = ChunkState::Size(Vec::new());
                                }
                            }
                        }
                        ChunkState::Trailer(line) => {
                            let rest = &data[pos..];
                            match memchr::memchr(b'\n', rest) {
                                Some(i) => {
                                    line.extend_from_slice(&rest[..i]);
                                    pos += i + 1;
                                    let empty = line.is_empty() || line.as_slice() == b"\r";
                                    line.clear();
                                    if empty {
                                        return (pos, true, anomaly);
                                    }
                                }
                                None => {
                                    line.extend_from_slice(rest);
                                    pos = data.len();
                                    if line.len() > MAX_CHUNK_LINE {
                                        line.clear();
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|&c| c == b';').unwrap_or(line.len());
    let s = line[..end].trim_ascii();
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// Content coding of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No coding (or one that is not decoded).
    Identity,
    /// gzip / x-gzip.
    Gzip,
    /// deflate: zlib-wrapped or, as some servers send, raw.
    Deflate,
}

impl Coding {
    /// Coding named by a Content-Encoding value (last coding applied wins).
    pub fn from_header(v: &[u8]) -> Coding {
        let last = v.rsplit(|&c| c == b',').next().unwrap_or(v).trim_ascii();
        if last.eq_ignore_ascii_case(b"gzip") || last.eq_ignore_ascii_case(b"x-gzip") {
            Coding::Gzip
        } else if last.eq_ignore_ascii_case(b"deflate") {
            Coding::Deflate
        } else {
            Coding::Identity
        }
    }
}

enum Decoder {
    Gzip(GzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
    /// Deflate whose wrapping is not known yet (first bytes pending).
    DeflatePending(Vec<u8>),
    /// Labelled gzip, magic not seen yet (first bytes pending).
    GzipPending(Vec<u8>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "Gzip",
            Decoder::Zlib(_) => "Zlib",
            Decoder::Raw(_) => "Raw",
            Decoder::DeflatePending(_) => "DeflatePending",
            Decoder::GzipPending(_) => "GzipPending",
        })
    }
}

/// Anomalies a body sink reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAnomaly {
    /// The compressed stream is corrupt: decoding stopped.
    DecompressionFailed,
    /// Decoded size passed the cap: decoding stopped.
    DecompressedTooLarge,
    /// Decoded/encoded ratio passed the cap: decoding stopped.
    CompressionBomb,
}

/// Limits of a body sink.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bytes of decoded body kept for detection and logging.
    pub store_limit: usize,
    /// Decoded bytes produced from a compressed body before decoding stops.
    pub decompress_limit: u64,
    /// Largest decoded/encoded ratio tolerated (after the first 64 KiB).
    pub max_ratio: u64,
    /// Compute MD5 and SHA-256 of the decoded body (the costliest part of
    /// body handling; Suricata only hashes when file logging or rules ask).
    pub hash: bool,
}

/// Input is fed to the inflater in steps this big, so one step can never
/// expand past about 1 KiB x 1032.
const INFLATE_STEP: usize = 1024;
/// Decoded bytes allowed before the ratio cap applies.
const RATIO_GRACE: u64 = 64 * 1024;

/// Digests of a decoded body, for file-hash indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyHashes {
    /// MD5.
    pub md5: [u8; 16],
    /// SHA-1.
    pub sha1: [u8; 20],
    /// SHA-256.
    pub sha256: [u8; 32],
}

impl BodyHashes {
    /// (EVE name suffix, digest) of each hash.
    pub fn digests(&self) -> [(&'static str, &[u8]); 3] {
        [
            ("md5", &self.md5),
            ("sha1", &self.sha1),
            ("sha256", &self.sha256),
        ]
    }
}

/// Receives a body's transfer-decoded bytes: decodes, hashes, stores.
#[derive(Debug)]
pub struct BodySink {
    limits: BodyLimits,
    decoder: Option<Decoder>,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    /// Stored decoded bytes (capped).
    pub data: Vec<u8>,
    /// Body bytes after transfer decoding (before content decoding).
    pub wire_len: u64,
    /// Decoded bytes seen (hashed), stored or not.
    pub decoded_len: u64,
    /// Decoded bytes past the store cap were dropped.
    pub truncated: bool,
    anomalies: Vec<BodyAnomaly>,
    stopped: bool,
    /// The body has a content coding (caps apply to its output).
    coded: bool,
    /// Bytes of the body were lost in a stream gap: no hashes.
    pub gap: bool,
}

impl BodySink {
    /// A sink for a body with content coding `coding`.
    pub fn new(coding: Coding, limits: BodyLimits) -> BodySink {
        let decoder = match coding {
            Coding::Identity => None,
            Coding::Gzip => Some(Decoder::GzipPending(Vec::new())),
            Coding::Deflate => Some(Decoder::DeflatePending(Vec::new())),
        };
        BodySink {
            limits,
            decoder,
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            data: Vec::new(),
            wire_len: 0,
            decoded_len: 0,
            truncated: false,
            anomalies: Vec::new(),
            stopped: false,
            coded: coding != Coding::Identity,
            gap: false,
        }
    }

    /// Feeds transfer-decoded body bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        self.wire_len += bytes.len() as u64;
        if self.stopped {
            return;
        }
        if self.limits.store_limit == 0 && !self.limits.hash {
            // Nobody reads the decoded body: only its length is counted.
            self.truncated |= !bytes.is_empty();
            return;
        }
        if self.decoder.is_none() {
            self.emit(bytes);
            return;
        }
        for step in bytes.chunks(INFLATE_STEP) {
            if self.stopped {
                return;
            }
            self.inflate(step);
        }
    }

    fn inflate(&mut self, step: &[u8]) {
        if let Some(Decoder::GzipPending(buf)) = &mut self.decoder {
            buf.extend_from_slice(step);
            if buf.len() < 2 {
                return;
            }
            let pending = std::mem::take(buf);
            if pending.starts_with(&[0x1f, 0x8b]) {
                self.decoder = Some(Decoder::Gzip(GzDecoder::new(Vec::new())));
                self.inflate(&pending);
            } else {
                // Labelled gzip but sent as it is (servers and malware do
                // this): the body is taken as it came, as other IDSs do.
                self.decoder = None;
                self.coded = false;
                self.emit(&pending);
            }
            return;
        }
        if let Some(Decoder::DeflatePending(buf)) = &mut self.decoder {
            buf.extend_from_slice(step);
            if buf.len() < 2 {
                return;
            }
            let pending = std::mem::take(buf);
            let zlib = pending[0] & 0x0f == 8
                && (u16::from(pending[0]) << 8 | u16::from(pending[1])) % 31 == 0;
            self.decoder = Some(if zlib {
                Decoder::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                Decoder::Raw(DeflateDecoder::new(Vec::new()))
            });
            self.inflate(&pending);
            return;
        }
        let res = match &mut self.decoder {
            Some(Decoder::Gzip(d)) => d.write_all(step).map(|_| std::mem::take(d.get_mut())),
            Some(Decoder::Zlib(d)) => d.write_all(step).map(|_| std::mem::take(d.get_mut())),
            Some(Decoder::Raw(d)) => d.write_all(step).map(|_| std::mem::take(d.get_mut())),
            // Taken as identity after the first bytes (see GzipPending).
            None => {
                self.emit(step);
                return;
            }
            Some(Decoder::DeflatePending(_) | Decoder::GzipPending(_)) => return,
        };
        match res {
            Ok(out) => self.emit(&out),
            Err(_) => {
                self.anomalies.push(BodyAnomaly::DecompressionFailed);
                self.stopped = true;
            }
        }
    }

    fn emit(&mut self, out: &[u8]) {
        if out.is_empty() {
            return;
        }
        let mut out = out;
        if self.coded {
            let room = self
                .limits
                .decompress_limit
                .saturating_sub(self.decoded_len);
            if out.len() as u64 > room {
                out = &out[..room as usize];
                self.anomalies.push(BodyAnomaly::DecompressedTooLarge);
                self.stopped = true;
            }
            let after = self.decoded_len + out.len() as u64;
            if after > RATIO_GRACE
                && after > self.limits.max_ratio.saturating_mul(self.wire_len.max(1))
            {
                self.anomalies.push(BodyAnomaly::CompressionBomb);
                self.stopped = true;
            }
        }
        if self.limits.hash {
            self.md5.update(out);
            self.sha1.update(out);
            self.sha256.update(out);
        }
        self.decoded_len += out.len() as u64;
        let room = self.limits.store_limit.saturating_sub(self.data.len());
        if out.len() > room {
            self.truncated = true;
        }
        self.data.extend_from_slice(&out[..out.len().min(room)]);
    }

    /// `len` body bytes were lost in a stream gap: stored data stays, a
    /// compressed stream stops decoding, and no hashes will be given.
    pub fn gap(&mut self, len: u64) {
        self.wire_len += len;
        self.gap = true;
        if self.coded {
            self.stopped = true;
        }
    }

    /// Flushes the decoder at the body's end; returns the MD5, SHA-1 and
    /// SHA-256 of the decoded body, or `None` when a gap made them
    /// meaningless or hashing is off.
    pub fn finish(&mut self) -> Option<BodyHashes> {
        if !self.stopped {
            let tail = match self.decoder.take() {
                Some(Decoder::Gzip(d)) => d.finish().ok(),
                Some(Decoder::Zlib(d)) => d.finish().ok(),
                Some(Decoder::Raw(d)) => d.finish().ok(),
                Some(Decoder::DeflatePending(b)) => Some(b),
                Some(Decoder::GzipPending(b)) => {
                    self.coded = false;
                    Some(b)
                }
                None => None,
            };
            if let Some(t) = tail {
                self.decoder = None;
                self.emit(&t);
            }
        }
        self.stopped = true;
        let md5 = std::mem::take(&mut self.md5).finalize();
        let sha1 = std::mem::take(&mut self.sha1).finalize();
        let sha256 = std::mem::take(&mut self.sha256).finalize();
        if self.gap || !self.limits.hash {
            return None;
        }
        Some(BodyHashes {
            md5: md5.into(),
            sha1: sha1.into(),
            sha256: sha256.into(),
        })
    }

    /// Anomalies raised since the last call.
    pub fn take_anomalies(&mut self) -> Vec<BodyAnomaly> {
        std::mem::take(&mut self.anomalies)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;

    const LIMITS: BodyLimits = BodyLimits {
        store_limit: 1 << 20,
        decompress_limit: 4 << 20,
        max_ratio: 100,
        hash: true,
    };

    #[test]
    fn chunked_split_everywhere() {
        let wire =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut f = Framing::Chunked(ChunkState::Size(Vec::new()));
            let mut out = Vec::new();
            let (n1, done1, e1) = f.feed(&wire[..split], |b| out.extend_from_slice(b));
            let mut consumed = n1;
            let mut errs = vec![e1];
            if !done1 {
                let (n2, done2, e2) = f.feed(&wire[split..], |b| out.extend_from_slice(b));
                assert!(done2);
                errs.push(e2);
                consumed += n2;
            }
            // The one chunk extension is reported once, wherever the split is.
            let errs: Vec<_> = errs.into_iter().flatten().collect();
            assert_eq!(errs, vec![FrameError::ChunkExtension], "split {split}");
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(&wire[consumed..], b"NEXT");
        }
    }

    #[test]
    fn bad_chunk_size() {
        let mut f = Framing::Chunked(ChunkState::Size(Vec::new()));
        let (_, done, e) = f.feed(b"zz\r\n", |_| {});
        assert!(done);
        assert_eq!(e, Some(FrameError::BadChunkSize));
    }

    #[test]
    fn gzip_and_deflate_round_trip() {
        let text = b"hello hello hello vigie".repeat(50);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut s = BodySink::new(Coding::Gzip, LIMITS);
        for c in gz.chunks(7) {
            s.write(c);
        }
        let md5 = s.finish().unwrap().md5;
        assert_eq!(s.data, text);
        assert_eq!(md5, <[u8; 16]>::from(Md5::digest(&text)));
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&text).unwrap();
        let z = z.finish().unwrap();
        let mut s = BodySink::new(Coding::from_header(b"deflate"), LIMITS);
        s.write(&z);
        s.finish();
        assert_eq!(s.data, text);
        assert!(s.take_anomalies().is_empty());
    }

    #[test]
    fn bomb_is_stopped() {
        let zeros = vec![0u8; 2 << 20];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&zeros).unwrap();
        let gz = gz.finish().unwrap();
        let mut s = BodySink::new(Coding::Gzip, LIMITS);
        s.write(&gz);
        s.finish();
        let a = s.take_anomalies();
        assert!(a.contains(&BodyAnomaly::CompressionBomb), "{a:?}");
        assert!(s.decoded_len < 4 << 20);
        // Corrupt gzip is an anomaly, not a panic.
        let mut s = BodySink::new(Coding::Gzip, LIMITS);
        s.write(b"\x1f\x8b\x08\x00garbagegarbagegarbage");
        s.finish();
        assert_eq!(s.take_anomalies(), vec![BodyAnomaly::DecompressionFailed]);
    }

    #[test]
    fn gzip_label_on_clear_text_keeps_the_body() {
        let body = br#"{"sdk_version":"1","app_package":"x"}"#;
        // Whole, byte by byte (the magic check waits for two bytes), and a
        // one-byte body that ends before the check.
        for step in [body.len(), 1] {
            let mut s = BodySink::new(Coding::Gzip, LIMITS);
            for c in body.chunks(step) {
                s.write(c);
            }
            let h = s.finish().unwrap();
            assert_eq!(s.data, body);
            assert_eq!(h.md5, <[u8; 16]>::from(Md5::digest(body)));
            assert!(s.take_anomalies().is_empty());
        }
        let mut s = BodySink::new(Coding::Gzip, LIMITS);
        s.write(b"{");
        s.finish();
        assert_eq!(s.data, b"{");
    }
}
