//! Capture files: pcap (micro- and nanosecond), pcapng (any number of sections and
//! interfaces, per-interface time resolution and offset), gzip-compressed or not,
//! several files read one after the other. Pure Rust (`pcap-parser`).

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

use super::RawBatch;

/// Link type used for frames whose interface is unknown (bad pcapng interface id).
pub const DLT_INVALID: u32 = u32::MAX;

const INITIAL_BUFFER: usize = 4 << 20;
/// A record larger than this is taken as corruption, not as a frame.
const MAX_BUFFER: usize = 64 << 20;

/// Why a capture file could not be read (completely).
#[derive(Debug)]
pub struct CaptureError {
    path: PathBuf,
    kind: CaptureErrorKind,
}

#[derive(Debug)]
enum CaptureErrorKind {
    Open(io::Error),
    Empty,
    NotACapture,
    Truncated { offset: u64 },
    Corrupt { offset: u64, what: String },
    Read(String),
}

impl CaptureError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the file was readable up to a point (truncated or corrupt tail):
    /// what came before was processed.
    pub fn is_partial(&self) -> bool {
        matches!(
            self.kind,
            CaptureErrorKind::Truncated { .. } | CaptureErrorKind::Corrupt { .. }
        )
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            CaptureErrorKind::Open(e) => write!(f, "{p}: cannot open: {e}"),
            CaptureErrorKind::Empty => write!(f, "{p}: empty file, no capture header"),
            CaptureErrorKind::NotACapture => {
                write!(f, "{p}: not a pcap or pcapng file (unknown header)")
            }
            CaptureErrorKind::Truncated { offset } => write!(
                f,
                "{p}: truncated: last record incomplete at byte {offset}; packets before it were processed"
            ),
            CaptureErrorKind::Corrupt { offset, what } => write!(
                f,
                "{p}: corrupt record at byte {offset} ({what}); packets before it were processed"
            ),
            CaptureErrorKind::Read(e) => write!(f, "{p}: read error: {e}"),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Per-file outcome, for the end-of-run summary.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    /// Packets read from the file.
    pub packets: u64,
    /// Captured bytes read from the file.
    pub bytes: u64,
}

#[derive(Clone, Copy)]
struct Interface {
    dlt: u32,
    /// Units per second of the interface's timestamps.
    resolution: u64,
    offset_s: i64,
    snaplen: u32,
}

/// Opens a file, sniffing gzip by its magic.
fn open_maybe_gzip(path: &Path) -> Result<Box<dyn Read + Send>, io::Error> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    f.seek(SeekFrom::Start(0))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        let buffered = BufReader::with_capacity(1 << 20, f);
        Ok(Box::new(flate2::read::MultiGzDecoder::new(buffered)))
    } else {
        // pcap-parser reads in large chunks into its own buffer: no second buffer.
        Ok(Box::new(f))
    }
}

/// Checks that every path can be opened, so a typo fails before any work is done.
pub fn check_readable(paths: &[PathBuf]) -> Result<(), CaptureError> {
    for p in paths {
        if let Err(e) = File::open(p) {
            return Err(CaptureError {
                path: p.clone(),
                kind: CaptureErrorKind::Open(e),
            });
        }
        if p.is_dir() {
            return Err(CaptureError {
                path: p.clone(),
                kind: CaptureErrorKind::Open(io::Error::other("is a directory")),
            });
        }
    }
    Ok(())
}

/// Reads capture files in order and fills batches.
pub struct FileSource {
    paths: Vec<PathBuf>,
    next_path: usize,
    current: Option<OpenFile>,
    pkt_no: u64,
    /// Outcome per file, in order (filled as files end).
    pub files: Vec<(PathBuf, FileStats)>,
    /// Errors met, in order; reading goes on with the next file.
    pub errors: Vec<CaptureError>,
    /// Read classic pcap files through a memory map (default).
    map_files: bool,
}

struct OpenFile {
    path: PathBuf,
    reader: Reader,
    state: FileState,
}

enum Reader {
    /// pcap-parser over the file (or its gzip stream): pcapng, compressed
    /// files and anything unusual.
    Stream(Box<dyn PcapReaderIterator + Send>),
    /// Classic pcap records read straight from a memory map.
    Mapped(MappedPcap),
}

/// Bytes read between two releases of the pages behind the reader.
const RELEASE_EVERY: usize = 8 << 20;
/// Pages are released only behind the batch started this many batches ago:
/// the batches in between may still be in the pipeline, reading their
/// frames from the map. The pipeline recycles a fixed pool of 10 reader
/// batches, so no older batch is alive. (Releasing a page still in use is
/// harmless, it is read from the file again, but it then stays resident.)
const RELEASE_BEHIND_BATCHES: usize = 16;

/// An uncompressed classic pcap file read through a memory map: no read()
/// copy into a buffer, no buffer shifting, and no copy into the batch either
/// (batches point into the shared map). Pages well behind the reader are
/// released as it goes, so the resident size stays flat however large the
/// file.
struct MappedPcap {
    map: Arc<memmap2::Mmap>,
    pos: usize,
    released: usize,
    /// Where the latest batches began, oldest first (at most
    /// `RELEASE_BEHIND_BATCHES`).
    batch_starts: std::collections::VecDeque<usize>,
    big_endian: bool,
}

impl MappedPcap {
    /// Maps `path` when it is a regular, uncompressed classic pcap file with
    /// standard 16-byte record headers; None sends it to the streaming reader.
    fn open(path: &Path) -> Option<(MappedPcap, u32, bool)> {
        let f = File::open(path).ok()?;
        let meta = f.metadata().ok()?;
        if !meta.is_file() || meta.len() < 24 || meta.len() > usize::MAX as u64 {
            return None;
        }
        // SAFETY: the map is read-only and private to this reader. The one
        // hazard of a file mapping is the file shrinking while mapped (reads
        // past the new end fault); capture files being replayed are not
        // truncated under the reader (a file still being appended to is fine:
        // the map covers the length at open).
        let map = unsafe { memmap2::MmapOptions::new().map(&f) }.ok()?;
        let (big_endian, nanos) = match map[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            _ => return None,
        };
        let _ = map.advise(memmap2::Advice::Sequential);
        let m = MappedPcap {
            map: Arc::new(map),
            pos: 24,
            released: 0,
            batch_starts: std::collections::VecDeque::new(),
            big_endian,
        };
        let dlt = m.u32_at(20);
        Some((m, dlt, nanos))
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = [
            self.map[at],
            self.map[at + 1],
            self.map[at + 2],
            self.map[at + 3],
        ];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The next record, with the same outcomes as the streaming reader: end
    /// of file at a record boundary, a truncated last record (also when a
    /// corrupt length points past the end), or a record length beyond
    /// 64 MiB inside the file taken as corruption.
    fn step(
        &mut self,
        state: &mut FileState,
        batch: &mut RawBatch,
    ) -> Result<Step, CaptureErrorKind> {
        let len = self.map.len();
        let at = self.pos;
        let rest = len - at;
        if rest == 0 {
            return Ok(Step::End);
        }
        if rest < 16 {
            return Err(CaptureErrorKind::Truncated { offset: at as u64 });
        }
        let caplen = self.u32_at(at + 8) as usize;
        if caplen > rest - 16 {
            return Err(CaptureErrorKind::Truncated { offset: at as u64 });
        }
        if caplen > MAX_BUFFER - 16 {
            return Err(CaptureErrorKind::Corrupt {
                offset: at as u64,
                what: "record length beyond 64 MiB".into(),
            });
        }
        if !batch.takes_mapped(&self.map, at + 16 + caplen) {
            return Ok(Step::BatchFull);
        }
        let (ts_sec, ts_frac, origlen) =
            (self.u32_at(at), self.u32_at(at + 4), self.u32_at(at + 12));
        let ts = state.legacy_ts(ts_sec, ts_frac);
        state.stats.packets += 1;
        state.stats.bytes += caplen as u64;
        batch.push_mapped(
            &self.map,
            at + 16,
            caplen as u32,
            ts,
            state.legacy_dlt,
            origlen,
        );
        self.pos = at + 16 + caplen;
        if batch.recs.len() == 1 {
            self.batch_starts.push_back(at);
            if self.batch_starts.len() > RELEASE_BEHIND_BATCHES {
                self.batch_starts.pop_front();
                self.release();
            }
        }
        Ok(Step::Packet)
    }

    /// Drops the pages before the oldest batch that may still be in the
    /// pipeline from this process's resident set, once `RELEASE_EVERY`
    /// bytes have gathered.
    fn release(&mut self) {
        const PAGE: usize = 4096;
        let oldest = self.batch_starts.front().copied().unwrap_or(0);
        let upto = oldest / PAGE * PAGE;
        if upto >= self.released + RELEASE_EVERY {
            // SAFETY: MADV_DONTNEED on a read-only shared file mapping only
            // drops resident pages: the mapping stays valid, and a later
            // access (a batch still in the pipeline reading a frame in this
            // range) reads the same bytes from the file again.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.released,
                    upto - self.released,
                )
            };
            self.released = upto;
        }
    }
}

struct FileState {
    legacy_dlt: u32,
    legacy_nanos: bool,
    ifaces: Vec<Interface>,
    stats: FileStats,
}

enum Step {
    Packet,
    /// The record was left for the next batch (a batch holds frames of one
    /// mapped file, or copied frames).
    BatchFull,
    Other,
    End,
}

impl FileSource {
    /// A source over `paths`, read in the given order.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        FileSource {
            paths,
            next_path: 0,
            current: None,
            pkt_no: 0,
            files: Vec::new(),
            errors: Vec::new(),
            map_files: true,
        }
    }

    /// Reads every file with the streaming reader, never through a memory
    /// map (the reference the mapped reader is tested against).
    pub fn streaming_only(mut self) -> Self {
        self.map_files = false;
        self
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        self.pkt_no
    }

    /// Fills `batch` with up to `max_pkts` frames (or about `max_bytes` bytes).
    /// Returns false when every file is done and nothing was added.
    pub fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        batch.clear();
        batch.first_pkt_no = self.pkt_no + 1;
        while batch.recs.len() < max_pkts && batch.byte_len() < max_bytes {
            if self.current.is_none() && !self.open_next() {
                break;
            }
            let Some(cur) = self.current.as_mut() else {
                break;
            };
            match cur.step(batch) {
                Ok(Step::Packet) => self.pkt_no += 1,
                Ok(Step::BatchFull) => break,
                Ok(Step::Other) => {}
                Ok(Step::End) => self.close_current(None),
                Err(e) => self.close_current(Some(e)),
            }
        }
        !batch.recs.is_empty()
    }

    fn close_current(&mut self, err: Option<CaptureErrorKind>) {
        if let Some(cur) = self.current.take() {
            if let Some(kind) = err {
                self.errors.push(CaptureError {
                    path: cur.path.clone(),
                    kind,
                });
            }
            self.files.push((cur.path, cur.state.stats));
        }
    }

    fn open_next(&mut self) -> bool {
        while self.next_path < self.paths.len() {
            let path = self.paths[self.next_path].clone();
            self.next_path += 1;
            match OpenFile::open(&path, self.map_files) {
                Ok(f) => {
                    self.current = Some(f);
                    return true;
                }
                Err(kind) => {
                    self.errors.push(CaptureError {
                        path: path.clone(),
                        kind,
                    });
                    self.files.push((path, FileStats::default()));
                }
            }
        }
        false
    }
}

fn describe<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof => "end of file".into(),
        PcapError::BufferTooSmall => "record too large".into(),
        PcapError::UnexpectedEof => "unexpected end of file".into(),
        PcapError::ReadError => "read error".into(),
        PcapError::Incomplete(n) => format!("incomplete, {n} more bytes needed"),
        PcapError::HeaderNotRecognized => "unknown header".into(),
        PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
            format!("malformed block ({k:?})")
        }
    }
}

impl OpenFile {
    fn open(path: &Path, map: bool) -> Result<OpenFile, CaptureErrorKind> {
        let mut state = FileState {
            legacy_dlt: DLT_INVALID,
            legacy_nanos: false,
            ifaces: Vec::new(),
            stats: FileStats::default(),
        };
        if let Some((m, dlt, nanos)) = map.then(|| MappedPcap::open(path)).flatten() {
            state.legacy_dlt = dlt;
            state.legacy_nanos = nanos;
            return Ok(OpenFile {
                path: path.to_path_buf(),
                reader: Reader::Mapped(m),
                state,
            });
        }
        Self::open_streaming(path, state)
    }

    fn open_streaming(path: &Path, state: FileState) -> Result<OpenFile, CaptureErrorKind> {
        let input = open_maybe_gzip(path).map_err(CaptureErrorKind::Open)?;
        let reader = match create_reader(INITIAL_BUFFER, input) {
            Ok(r) => r,
            Err(PcapError::Eof) => return Err(CaptureErrorKind::Empty),
            Err(PcapError::HeaderNotRecognized) | Err(PcapError::Incomplete(_)) => {
                return Err(CaptureErrorKind::NotACapture)
            }
            Err(e) => return Err(CaptureErrorKind::Read(describe(&e))),
        };
        Ok(OpenFile {
            path: path.to_path_buf(),
            reader: Reader::Stream(reader),
            state,
        })
    }

    fn step(&mut self, batch: &mut RawBatch) -> Result<Step, CaptureErrorKind> {
        let reader = match &mut self.reader {
            Reader::Mapped(m) => return m.step(&mut self.state, batch),
            Reader::Stream(_) if !batch.takes_copied() => return Ok(Step::BatchFull),
            Reader::Stream(r) => r,
        };
        loop {
            let offset_now = reader.consumed() as u64;
            match reader.next() {
                Ok((len, block)) => {
                    let step = self.state.handle(block, batch);
                    reader.consume(len);
                    return Ok(step);
                }
                Err(PcapError::Eof) => return Ok(Step::End),
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = reader.refill() {
                        let what = describe(&e);
                        return Err(CaptureErrorKind::Read(what));
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    let cap = reader.data().len().max(INITIAL_BUFFER) * 2;
                    if cap > MAX_BUFFER || !reader.grow(cap) {
                        return Err(CaptureErrorKind::Corrupt {
                            offset: offset_now,
                            what: "record length beyond 64 MiB".into(),
                        });
                    }
                    if let Err(e) = reader.refill() {
                        return Err(CaptureErrorKind::Read(describe(&e)));
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureErrorKind::Truncated { offset: offset_now })
                }
                Err(e) => {
                    let what = describe(&e);
                    return Err(CaptureErrorKind::Corrupt {
                        offset: offset_now,
                        what,
                    });
                }
            }
        }
    }
}

impl FileState {
    fn handle(&mut self, block: PcapBlockOwned<'_>, batch: &mut RawBatch) -> Step {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy_dlt = h.network.0 as u32;
                self.legacy_nanos = h.is_nanosecond_precision();
                Step::Other
            }
            PcapBlockOwned::Legacy(b) => {
                let n = (b.caplen as usize).min(b.data.len());
                self.legacy(batch, b.ts_sec, b.ts_usec, b.origlen, &b.data[..n]);
                Step::Packet
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                self.ifaces.clear();
                Step::Other
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.ifaces.push(Interface {
                    dlt: idb.linktype.0 as u32,
                    resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset_s: idb.if_tsoffset,
                    snaplen: idb.snaplen,
                });
                Step::Other
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let iface = self.ifaces.get(epb.if_id as usize).copied();
                let ts = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                let n = (epb.caplen as usize).min(epb.data.len());
                self.push_ng(batch, iface, ts, epb.origlen, &epb.data[..n]);
                Step::Packet
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let iface = self.ifaces.first().copied();
                let mut n = (spb.origlen as usize).min(spb.data.len());
                if let Some(i) = iface {
                    if i.snaplen > 0 {
                        n = n.min(i.snaplen as usize);
                    }
                }
                // Simple packet blocks carry no timestamp.
                self.push_ng(batch, iface, 0, spb.origlen, &spb.data[..n]);
                Step::Packet
            }
            PcapBlockOwned::NG(Block::Unknown(ub)) if ub.block_type == 2 => {
                // Obsolete Packet Block: if_id u16, drops u16, ts_high, ts_low, caplen, origlen, data.
                let d = ub.data;
                if d.len() < 20 {
                    return Step::Other;
                }
                let le = |o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
                let if_id = u16::from_le_bytes([d[0], d[1]]) as usize;
                let ts = ((le(4) as u64) << 32) | le(8) as u64;
                let caplen = (le(12) as usize).min(d.len() - 20);
                let iface = self.ifaces.get(if_id).copied();
                self.push_ng(batch, iface, ts, le(16), &d[20..20 + caplen]);
                Step::Packet
            }
            PcapBlockOwned::NG(_) => Step::Other,
        }
    }

    /// A classic pcap record.
    fn legacy(
        &mut self,
        batch: &mut RawBatch,
        ts_sec: u32,
        ts_frac: u32,
        origlen: u32,
        data: &[u8],
    ) {
        let ts = self.legacy_ts(ts_sec, ts_frac);
        self.push(batch, ts, self.legacy_dlt, origlen, data);
    }

    /// A classic pcap record's time in ns.
    fn legacy_ts(&self, ts_sec: u32, ts_frac: u32) -> u64 {
        let frac = if self.legacy_nanos {
            ts_frac as u64
        } else {
            ts_frac as u64 * 1000
        };
        ts_sec as u64 * 1_000_000_000 + frac
    }

    fn push_ng(
        &mut self,
        batch: &mut RawBatch,
        iface: Option<Interface>,
        raw_ts: u64,
        origlen: u32,
        data: &[u8],
    ) {
        let (dlt, ts) = match iface {
            Some(i) => {
                let secs = raw_ts / i.resolution;
                let frac = raw_ts % i.resolution;
                let frac_ns = (frac as u128 * 1_000_000_000 / i.resolution as u128) as u64;
                let secs = (secs as i64).saturating_add(i.offset_s).max(0) as u64;
                (
                    i.dlt,
                    secs.saturating_mul(1_000_000_000).saturating_add(frac_ns),
                )
            }
            None => (DLT_INVALID, 0),
        };
        self.push(batch, ts, dlt, origlen, data);
    }

    fn push(&mut self, batch: &mut RawBatch, ts: u64, dlt: u32, origlen: u32, data: &[u8]) {
        self.stats.packets += 1;
        self.stats.bytes += data.len() as u64;
        batch.push(ts, dlt, origlen, data);
    }
}

impl super::PacketSource for FileSource {
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        FileSource::fill(self, batch, max_pkts, max_bytes)
    }
    fn packets(&self) -> u64 {
        self.pkt_no
    }
    fn bytes(&self) -> u64 {
        let done: u64 = self.files.iter().map(|(_, s)| s.bytes).sum();
        done + self.current.as_ref().map_or(0, |c| c.state.stats.bytes)
    }
    fn errors(&self) -> Vec<String> {
        self.errors.iter().map(|e| e.to_string()).collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::io::Write;

    fn corpus(rel: &str) -> Option<PathBuf> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus")
            .join(rel);
        if p.exists() {
            Some(p)
        } else {
            assert!(
                std::env::var("VIGIE_EXTERNAL_TESTS").is_err(),
                "corpus file {} missing",
                p.display()
            );
            eprintln!("skip: {} not found", p.display());
            None
        }
    }

    fn count(paths: Vec<PathBuf>) -> (u64, Vec<String>, Vec<RawBatch>) {
        let mut src = FileSource::new(paths);
        let mut out = Vec::new();
        loop {
            let mut b = RawBatch::default();
            if !src.fill(&mut b, 64, 1 << 20) {
                break;
            }
            out.push(b);
        }
        let errs = src.errors.iter().map(|e| e.to_string()).collect();
        (src.packets(), errs, out)
    }

    fn pcap_bytes(nanos: bool, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        let magic: u32 = if nanos { 0xa1b23c4d } else { 0xa1b2c3d4 };
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (s, f, d) in recs {
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&f.to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(d);
        }
        v
    }

    fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigie-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn pcap_micro_and_nano_timestamps() {
        let us = tmp("us.pcap", &pcap_bytes(false, &[(10, 5, b"abcdef")]));
        let ns = tmp("ns.pcap", &pcap_bytes(true, &[(10, 5, b"abcdef")]));
        let (n, e, b) = count(vec![us, ns]);
        assert_eq!(n, 2);
        assert!(e.is_empty(), "{e:?}");
        // Frames of two mapped files never share a batch.
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].recs[0].ts_ns, 10_000_005_000);
        assert_eq!(b[1].recs[0].ts_ns, 10_000_000_005);
        assert_eq!(b[0].recs[0].dlt, 1);
        assert_eq!(b[1].frame(&b[1].recs[0]), b"abcdef");
    }

    #[test]
    fn mapped_and_streamed_files_in_one_run_keep_order_and_bytes() {
        let a = tmp(
            "m1.pcap",
            &pcap_bytes(false, &[(1, 0, b"one"), (2, 0, b"two")]),
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&pcap_bytes(false, &[(3, 0, b"three")]))
            .unwrap();
        let g = tmp("s.pcap.gz", &gz.finish().unwrap());
        let c = tmp(
            "m2.pcap",
            &pcap_bytes(false, &[(4, 0, b"four"), (5, 0, b"five")]),
        );
        let (n, e, batches) = count(vec![a, g, c]);
        assert_eq!(n, 5);
        assert!(e.is_empty(), "{e:?}");
        let frames: Vec<(u64, Vec<u8>)> = batches
            .iter()
            .flat_map(|b| b.recs.iter().map(|r| (r.ts_ns, b.frame(r).to_vec())))
            .collect();
        let want: Vec<(u64, Vec<u8>)> = [&b"one"[..], b"two", b"three", b"four", b"five"]
            .iter()
            .enumerate()
            .map(|(i, f)| ((i as u64 + 1) * 1_000_000_000, f.to_vec()))
            .collect();
        assert_eq!(frames, want);
        // One batch per file: the mapped ones point into their own map.
        assert_eq!(batches.len(), 3);
        assert_eq!(
            batches.iter().map(|b| b.byte_len()).collect::<Vec<_>>(),
            [6, 5, 8]
        );
    }

    #[test]
    fn truncated_pcap_keeps_what_was_read() {
        let mut bytes = pcap_bytes(false, &[(1, 0, b"0123456789"), (2, 0, b"0123456789")]);
        bytes.truncate(bytes.len() - 4);
        let p = tmp("trunc.pcap", &bytes);
        let (n, e, _) = count(vec![p]);
        assert_eq!(n, 1);
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("truncated"), "{}", e[0]);
    }

    #[test]
    fn gzip_and_garbage_and_missing() {
        let raw = pcap_bytes(false, &[(1, 0, b"xyz"), (2, 0, b"xyz"), (3, 0, b"xyz")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gzp = tmp("a.pcap.gz", &gz.finish().unwrap());
        let junk = tmp("junk.pcap", b"this is not a capture file at all, no no no");
        let empty = tmp("empty.pcap", b"");
        let (n, e, _) = count(vec![gzp, junk, empty, PathBuf::from("/nonexistent/x.pcap")]);
        assert_eq!(n, 3);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("not a pcap"));
        assert!(e[1].contains("empty"));
        assert!(e[2].contains("cannot open"));
    }

    /// (timestamp ns, link type, origlen, bytes) of one record.
    type Rec = (u64, u32, u32, Vec<u8>);

    /// Every record and every error, from the mapped and the streaming reader.
    fn read_all(paths: Vec<PathBuf>, map: bool) -> (Vec<Rec>, Vec<String>) {
        let mut src = FileSource::new(paths);
        if !map {
            src = src.streaming_only();
        }
        let mut recs = Vec::new();
        let mut b = RawBatch::default();
        while src.fill(&mut b, 64, 1 << 20) {
            for r in &b.recs {
                recs.push((r.ts_ns, r.dlt, r.origlen, b.frame(r).to_vec()));
            }
        }
        // Error kinds and whether packets before them were kept; the byte
        // offset of a bad record may differ where the streaming reader
        // reports where its buffer stood.
        let errs = src
            .errors
            .iter()
            .map(|e| {
                let t = e.to_string();
                let kind = t.split(':').nth(1).unwrap_or_default().trim().to_string();
                format!("{} {kind} partial={}", e.path().display(), e.is_partial())
            })
            .collect();
        (recs, errs)
    }

    #[test]
    fn mapped_reader_equals_streaming_reader() {
        let recs: &[(u32, u32, &[u8])] =
            &[(1, 999_999, b"0123456789"), (2, 5, b"abc"), (3, 0, b"")];
        let le = pcap_bytes(false, recs);
        let ns = pcap_bytes(true, recs);
        // The same records big-endian: swap every 32-bit header field.
        let mut be = Vec::new();
        be.extend_from_slice(&[0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4]);
        be.extend_from_slice(&[0; 8]);
        be.extend_from_slice(&65535u32.to_be_bytes());
        be.extend_from_slice(&113u32.to_be_bytes());
        for (s, f, d) in recs {
            for v in [*s, *f, d.len() as u32, d.len() as u32 + 7] {
                be.extend_from_slice(&v.to_be_bytes());
            }
            be.extend_from_slice(d);
        }
        let mut cut_header = le.clone();
        cut_header.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
        let mut cut_data = le.clone();
        cut_data.truncate(le.len() - 1 - 16);
        let mut huge = le.clone();
        huge.extend_from_slice(&[
            9, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 4, 0, 0, 0, 1, 2,
        ]);
        let mut header_only = le.clone();
        header_only.truncate(24);
        let files = vec![
            tmp("m-le.pcap", &le),
            tmp("m-ns.pcap", &ns),
            tmp("m-be.pcap", &be),
            tmp("m-cut-header.pcap", &cut_header),
            tmp("m-cut-data.pcap", &cut_data),
            tmp("m-huge.pcap", &huge),
            tmp("m-header-only.pcap", &header_only),
        ];
        for f in &files {
            let mapped = read_all(vec![f.clone()], true);
            assert_eq!(mapped, read_all(vec![f.clone()], false), "{}", f.display());
        }
        let (all, errs) = read_all(files.clone(), true);
        assert_eq!(all.len(), 3 + 3 + 3 + 3 + 1 + 3, "{errs:?}");
        assert_eq!(all[6].1, 113, "big-endian link type");
        assert_eq!(all[6].2, 17, "big-endian origlen");
        assert_eq!(all[3].0, 1_000_000_000 + 999_999, "nanosecond timestamps");
        assert_eq!(errs.len(), 3, "{errs:?}");

        // Real captures: the corpus's classic pcap files (pcapng and gzip
        // ones go to the streaming reader either way).
        let Some(manifest) = corpus("MANIFEST.tsv") else {
            return;
        };
        let text = std::fs::read_to_string(manifest).unwrap();
        let mut compared = 0;
        for line in text.lines().filter(|l| l.starts_with("corpus/pcaps/")) {
            let path = line.split('\t').next().unwrap_or_default();
            let Some(p) = corpus(path.trim_start_matches("corpus/")) else {
                return;
            };
            if MappedPcap::open(&p).is_none() {
                continue;
            }
            assert_eq!(
                read_all(vec![p.clone()], true),
                read_all(vec![p.clone()], false),
                "{}",
                p.display()
            );
            compared += 1;
            if compared == 300 {
                break;
            }
        }
        assert_eq!(compared, 300, "classic pcap files compared");
    }

    #[test]
    fn pcapng_real_file() {
        // A real pcapng from the tcpdump tests.
        let Some(p) = corpus("pcaps/tcpdump/OSPFv2_Capture_FINAL.pcapng") else {
            return;
        };
        let (n, e, _) = count(vec![p]);
        assert!(n > 0);
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn record_counts_match_capinfos() {
        // A handful of known files; the full sweep is in tests/corpus_sweep.rs.
        let Some(manifest) = corpus("MANIFEST.tsv") else {
            return;
        };
        let text = std::fs::read_to_string(manifest).unwrap();
        let mut checked = 0;
        for line in text.lines().filter(|l| l.starts_with("corpus/pcaps/zeek/")) {
            let path = line.split('\t').next().unwrap();
            let Some(n) = line
                .split("packets=")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let Some(p) = corpus(path.trim_start_matches("corpus/")) else {
                return;
            };
            let (got, _, _) = count(vec![p]);
            assert_eq!(got, n, "{path}");
            checked += 1;
            if checked == 25 {
                break;
            }
        }
        assert_eq!(checked, 25);
    }
}
