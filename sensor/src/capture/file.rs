//! Capture files: pcap (micro- and nanosecond), pcapng (any number of sections and
//! interfaces, per-interface time resolution and offset), gzip-compressed or not,
//! several files read one after the other. Pure Rust (`pcap-parser`).

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

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
}

struct OpenFile {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    state: FileState,
}

struct FileState {
    legacy_dlt: u32,
    legacy_nanos: bool,
    ifaces: Vec<Interface>,
    stats: FileStats,
}

enum Step {
    Packet,
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
        }
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
        while batch.recs.len() < max_pkts && batch.data.len() < max_bytes {
            if self.current.is_none() && !self.open_next() {
                break;
            }
            let Some(cur) = self.current.as_mut() else {
                break;
            };
            match cur.step(batch) {
                Ok(Step::Packet) => self.pkt_no += 1,
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
            match OpenFile::open(&path) {
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
    fn open(path: &Path) -> Result<OpenFile, CaptureErrorKind> {
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
            reader,
            state: FileState {
                legacy_dlt: DLT_INVALID,
                legacy_nanos: false,
                ifaces: Vec::new(),
                stats: FileStats::default(),
            },
        })
    }

    fn step(&mut self, batch: &mut RawBatch) -> Result<Step, CaptureErrorKind> {
        loop {
            let offset_now = self.reader.consumed() as u64;
            match self.reader.next() {
                Ok((len, block)) => {
                    let step = self.state.handle(block, batch);
                    self.reader.consume(len);
                    return Ok(step);
                }
                Err(PcapError::Eof) => return Ok(Step::End),
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.reader.refill() {
                        let what = describe(&e);
                        return Err(CaptureErrorKind::Read(what));
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    let cap = self.reader.data().len().max(INITIAL_BUFFER) * 2;
                    if cap > MAX_BUFFER || !self.reader.grow(cap) {
                        return Err(CaptureErrorKind::Corrupt {
                            offset: offset_now,
                            what: "record length beyond 64 MiB".into(),
                        });
                    }
                    if let Err(e) = self.reader.refill() {
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
                let frac = if self.legacy_nanos {
                    b.ts_usec as u64
                } else {
                    b.ts_usec as u64 * 1000
                };
                let ts = b.ts_sec as u64 * 1_000_000_000 + frac;
                let n = (b.caplen as usize).min(b.data.len());
                self.push(batch, ts, self.legacy_dlt, b.origlen, &b.data[..n]);
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
        assert_eq!(b[0].recs[0].ts_ns, 10_000_005_000);
        assert_eq!(b[0].recs[1].ts_ns, 10_000_000_005);
        assert_eq!(b[0].recs[0].dlt, 1);
        assert_eq!(b[0].frame(&b[0].recs[1]), b"abcdef");
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
