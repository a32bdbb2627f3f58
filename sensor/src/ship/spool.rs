//! On-disk alert spool: at-least-once delivery across link cuts and restarts.
//!
//! Alerts are appended to segment files (`seg-<n>.log`) before they are sent and
//! forgotten only once the collector has acked them. Each record is framed as
//! `[0xA5][len: u32 LE][crc32(len ‖ payload): u32 LE][payload]`, so a flipped
//! byte or a torn tail is detected by the CRC, never misread: a bad record is
//! skipped (the scan resynchronises on the next valid frame) and a bad tail of
//! the newest segment is cut.
//!
//! Payload kinds: an alert (`seq`, `severity`, encoded bytes) or a tombstone
//! (`seq`s acked or evicted). Opening the spool replays the segments and keeps
//! the alerts without a tombstone. The next sequence number is persisted in
//! `next_seq` so alert ids stay unique even once every segment is gone.
//!
//! Bounds: live alert bytes are kept under half of `max_bytes`; past that the
//! oldest alert of the lowest severity (highest Suricata severity number) is
//! evicted and counted. Disk use is kept under `max_bytes` by moving the live
//! alerts of the oldest segment to the head segment and deleting it.
//! Drain order is highest severity first (severity 1 before 3), then oldest.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAGIC: u8 = 0xA5;
const HEADER: usize = 9;
const KIND_ALERT: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
/// Largest record accepted when reading; anything larger is corruption.
const MAX_RECORD: usize = 16 << 20;

/// When appended records are flushed to stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Never call fsync (the OS writes back when it likes).
    Never,
    /// fsync on [`Spool::commit`], i.e. once per batch of alerts.
    Batch,
    /// fsync after every record.
    Always,
}

impl FsyncPolicy {
    /// Parses `never`, `batch` or `always`.
    pub fn parse(s: &str) -> Result<FsyncPolicy, String> {
        match s {
            "never" => Ok(FsyncPolicy::Never),
            "batch" => Ok(FsyncPolicy::Batch),
            "always" => Ok(FsyncPolicy::Always),
            other => Err(format!(
                "unknown fsync policy {other:?} (known: never, batch, always)"
            )),
        }
    }
}

/// Spool settings.
#[derive(Clone, Debug)]
pub struct SpoolConfig {
    /// Directory holding the segments (created if missing).
    pub dir: PathBuf,
    /// Bound on disk use, bytes.
    pub max_bytes: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Durability policy.
    pub fsync: FsyncPolicy,
}

impl SpoolConfig {
    /// Defaults for `dir`: 1 GiB bound, 8 MiB segments, fsync per batch.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolConfig {
        SpoolConfig {
            dir: dir.into(),
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            fsync: FsyncPolicy::Batch,
        }
    }
}

/// What opening and running the spool met, for stats and SensorHealth.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolCounters {
    /// Alerts appended.
    pub appended: u64,
    /// Alerts acked and forgotten.
    pub acked: u64,
    /// Alerts evicted because the bound was reached.
    pub evicted: u64,
    /// Records with a bad frame or CRC skipped while opening.
    pub corrupt_records: u64,
    /// Bytes cut from the torn tail of the newest segment while opening.
    pub torn_tail_bytes: u64,
    /// Alerts recovered from disk while opening.
    pub recovered: u64,
}

#[derive(Clone, Copy, Debug)]
struct Loc {
    seg: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug, Default)]
struct Segment {
    live: u64,
    bytes: u64,
    /// Tombstones held by this segment for alerts of other segments.
    refs: Vec<(u64, u64)>,
}

/// One spooled alert handed to the shipper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledAlert {
    /// Sequence number (unique per sensor, monotonic).
    pub seq: u64,
    /// Suricata severity (1 is the most severe).
    pub severity: u8,
    /// Encoded alert as appended.
    pub data: Vec<u8>,
}

/// The spool. Single owner; wrap it in a mutex to share.
#[derive(Debug)]
pub struct Spool {
    cfg: SpoolConfig,
    segments: BTreeMap<u64, Segment>,
    files: HashMap<u64, File>,
    head: u64,
    head_len: u64,
    /// (severity, seq) → where the record is: drain and eviction order.
    index: BTreeMap<(u8, u64), Loc>,
    seq_sev: HashMap<u64, u8>,
    in_flight: HashSet<u64>,
    live_bytes: u64,
    disk_bytes: u64,
    next_seq: u64,
    counters: SpoolCounters,
    /// (first sequence number, when it was appended), at most one mark per
    /// second of appends: how long the oldest waiting alert has waited.
    marks: VecDeque<(u64, Instant)>,
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(MAGIC);
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(payload);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Tries to read one frame at `pos`; returns the payload range.
fn parse_frame(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let hdr = buf.get(pos..pos.checked_add(HEADER)?)?;
    if hdr[0] != MAGIC {
        return None;
    }
    let len_bytes: [u8; 4] = hdr[1..5].try_into().ok()?;
    let crc_bytes: [u8; 4] = hdr[5..9].try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len > MAX_RECORD {
        return None;
    }
    let start = pos + HEADER;
    let payload = buf.get(start..start.checked_add(len)?)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    if h.finalize() != u32::from_le_bytes(crc_bytes) {
        return None;
    }
    Some((start, start + len))
}

fn seg_name(n: u64) -> String {
    format!("seg-{n:016}.log")
}

fn seg_number(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

impl Spool {
    /// Opens (or creates) the spool in `cfg.dir`, replaying its segments.
    pub fn open(cfg: SpoolConfig) -> io::Result<Spool> {
        fs::create_dir_all(&cfg.dir)
            .map_err(|e| io::Error::new(e.kind(), format!("spool {}: {e}", cfg.dir.display())))?;
        let mut nums: Vec<u64> = fs::read_dir(&cfg.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| seg_number(&e.file_name().to_string_lossy()))
            .collect();
        nums.sort_unstable();
        let mut next_seq = read_next_seq(&cfg.dir)?;
        let mut sp = Spool {
            segments: BTreeMap::new(),
            files: HashMap::new(),
            head: 0,
            head_len: 0,
            index: BTreeMap::new(),
            seq_sev: HashMap::new(),
            in_flight: HashSet::new(),
            live_bytes: 0,
            disk_bytes: 0,
            next_seq: 0,
            counters: SpoolCounters::default(),
            marks: VecDeque::new(),
            cfg,
        };
        let mut tombs: Vec<(u64, u64)> = Vec::new(); // (segment holding it, seq)
        let last = nums.last().copied();
        for &n in &nums {
            let path = sp.cfg.dir.join(seg_name(n));
            let buf = fs::read(&path)?;
            let mut pos = 0usize;
            let mut good_end = 0usize;
            while pos < buf.len() {
                match parse_frame(&buf, pos) {
                    Some((s, e)) => {
                        let p = &buf[s..e];
                        match p.first() {
                            Some(&KIND_ALERT) if p.len() >= 10 => {
                                let seq = u64::from_le_bytes(p[1..9].try_into().unwrap_or([0; 8]));
                                let sev = p[9];
                                next_seq = next_seq.max(seq + 1);
                                let loc = Loc {
                                    seg: n,
                                    offset: (s + 10) as u64,
                                    len: (e - s - 10) as u32,
                                };
                                if let Some(old) = sp.seq_sev.insert(seq, sev) {
                                    // Moved by compaction: the later copy wins.
                                    if let Some(l) = sp.index.remove(&(old, seq)) {
                                        sp.live_bytes -= l.len as u64;
                                        if let Some(sg) = sp.segments.get_mut(&l.seg) {
                                            sg.live -= 1;
                                        }
                                    }
                                }
                                sp.index.insert((sev, seq), loc);
                                sp.live_bytes += loc.len as u64;
                                sp.segments.entry(n).or_default().live += 1;
                            }
                            Some(&KIND_TOMBSTONE) => {
                                for c in p[1..].chunks_exact(8) {
                                    let seq = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
                                    tombs.push((n, seq));
                                }
                            }
                            _ => sp.counters.corrupt_records += 1,
                        }
                        pos = e;
                        good_end = e;
                    }
                    None => {
                        // Resynchronise on the next valid frame.
                        let mut q = pos + 1;
                        while q < buf.len() && parse_frame(&buf, q).is_none() {
                            q += 1;
                        }
                        if q >= buf.len() && Some(n) == last {
                            break;
                        }
                        sp.counters.corrupt_records += 1;
                        pos = q;
                    }
                }
            }
            let seg = sp.segments.entry(n).or_default();
            if Some(n) == last && good_end < buf.len() {
                sp.counters.torn_tail_bytes += (buf.len() - good_end) as u64;
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(good_end as u64)?;
                f.sync_all()?;
                seg.bytes = good_end as u64;
            } else {
                seg.bytes = buf.len() as u64;
            }
            sp.disk_bytes += seg.bytes;
        }
        for (holder, seq) in tombs {
            if let Some(sev) = sp.seq_sev.remove(&seq) {
                if let Some(l) = sp.index.remove(&(sev, seq)) {
                    sp.live_bytes -= l.len as u64;
                    if let Some(sg) = sp.segments.get_mut(&l.seg) {
                        sg.live -= 1;
                    }
                    if l.seg != holder {
                        if let Some(h) = sp.segments.get_mut(&holder) {
                            h.refs.push((l.seg, seq));
                        }
                    }
                }
            }
        }
        sp.counters.recovered = sp.index.len() as u64;
        // Recovered alerts have waited at least since now.
        sp.marks.push_back((0, Instant::now()));
        sp.next_seq = next_seq;
        // Always write into a fresh segment: an old one may end in a cut tail.
        sp.head = last.map_or(1, |l| l + 1);
        sp.open_head()?;
        let empty: Vec<u64> = sp
            .segments
            .iter()
            .filter(|(n, s)| **n != sp.head && s.live == 0)
            .map(|(n, _)| *n)
            .collect();
        for n in empty {
            sp.delete_segment(n)?;
        }
        Ok(sp)
    }

    fn open_head(&mut self) -> io::Result<()> {
        let path = self.cfg.dir.join(seg_name(self.head));
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)?;
        self.head_len = f.metadata()?.len();
        self.files.insert(self.head, f);
        self.segments.entry(self.head).or_default().bytes = self.head_len;
        Ok(())
    }

    fn file(&mut self, n: u64) -> io::Result<&File> {
        if !self.files.contains_key(&n) {
            let f = File::open(self.cfg.dir.join(seg_name(n)))?;
            self.files.insert(n, f);
        }
        self.files
            .get(&n)
            .ok_or_else(|| io::Error::other("spool segment vanished"))
    }

    fn write_record(&mut self, payload: &[u8]) -> io::Result<u64> {
        if self.head_len >= self.cfg.segment_bytes {
            if self.cfg.fsync != FsyncPolicy::Never {
                self.file(self.head)?.sync_data()?;
            }
            self.head += 1;
            self.open_head()?;
        }
        let rec = frame(payload);
        let head = self.head;
        let offset = self.head_len;
        let always = self.cfg.fsync == FsyncPolicy::Always;
        let mut f = self.file(head)?;
        f.write_all(&rec)?;
        if always {
            f.sync_data()?;
        }
        self.head_len += rec.len() as u64;
        self.disk_bytes += rec.len() as u64;
        if let Some(s) = self.segments.get_mut(&head) {
            s.bytes += rec.len() as u64;
        }
        Ok(offset + HEADER as u64)
    }

    fn alert_payload(seq: u64, severity: u8, data: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(10 + data.len());
        p.push(KIND_ALERT);
        p.extend_from_slice(&seq.to_le_bytes());
        p.push(severity);
        p.extend_from_slice(data);
        p
    }

    /// Appends an alert. `build` gets the alert's sequence number and returns its
    /// encoded bytes. Evicts the oldest low-severity alerts past the bound.
    pub fn append(&mut self, severity: u8, build: impl FnOnce(u64) -> Vec<u8>) -> io::Result<u64> {
        let seq = self.next_seq;
        let data = build(seq);
        if data.len() > MAX_RECORD - 10 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "alert of {} bytes is larger than a spool record may be",
                    data.len()
                ),
            ));
        }
        self.next_seq += 1;
        let now = Instant::now();
        if self
            .marks
            .back()
            .is_none_or(|m| now.duration_since(m.1) >= Duration::from_secs(1))
        {
            self.marks.push_back((seq, now));
        }
        let live_limit = self.cfg.max_bytes / 2;
        while self.live_bytes + data.len() as u64 > live_limit {
            if !self.evict_one(severity)? {
                // Nothing less severe to evict: this alert is the one dropped.
                self.counters.evicted += 1;
                return Ok(seq);
            }
        }
        let payload = Self::alert_payload(seq, severity, &data);
        let off = self.write_record(&payload)?;
        let loc = Loc {
            seg: self.head,
            offset: off + 10,
            len: data.len() as u32,
        };
        self.index.insert((severity, seq), loc);
        self.seq_sev.insert(seq, severity);
        self.live_bytes += data.len() as u64;
        if let Some(s) = self.segments.get_mut(&self.head) {
            s.live += 1;
        }
        self.counters.appended += 1;
        self.compact()?;
        Ok(seq)
    }

    /// Evicts the oldest alert of the lowest severity, if it is not more severe
    /// than `incoming` (Suricata: a larger number is less severe).
    fn evict_one(&mut self, incoming: u8) -> io::Result<bool> {
        let victim = self
            .index
            .iter()
            .rev()
            .map(|(k, _)| k.0)
            .next()
            .and_then(|worst| {
                self.index
                    .range((worst, 0)..=(worst, u64::MAX))
                    .map(|(k, _)| *k)
                    .find(|k| !self.in_flight.contains(&k.1))
            });
        match victim {
            Some((sev, seq)) if sev >= incoming => {
                self.forget(&[seq])?;
                self.counters.evicted += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Keeps disk use under the bound by moving the oldest segment's live alerts
    /// to the head segment.
    fn compact(&mut self) -> io::Result<()> {
        while self.disk_bytes > self.cfg.max_bytes {
            let oldest = match self.segments.keys().next() {
                Some(&n) if n != self.head => n,
                _ => return Ok(()),
            };
            let moving: Vec<(u8, u64, Loc)> = self
                .index
                .iter()
                .filter(|(_, l)| l.seg == oldest)
                .map(|(k, l)| (k.0, k.1, *l))
                .collect();
            for (sev, seq, loc) in moving {
                let mut data = vec![0u8; loc.len as usize];
                self.file(loc.seg)?.read_exact_at(&mut data, loc.offset)?;
                let payload = Self::alert_payload(seq, sev, &data);
                let off = self.write_record(&payload)?;
                self.index.insert(
                    (sev, seq),
                    Loc {
                        seg: self.head,
                        offset: off + 10,
                        len: loc.len,
                    },
                );
                if let Some(s) = self.segments.get_mut(&self.head) {
                    s.live += 1;
                }
            }
            if self.cfg.fsync != FsyncPolicy::Never {
                self.file(self.head)?.sync_data()?;
            }
            self.delete_segment(oldest)?;
        }
        Ok(())
    }

    /// Flushes appended records as the fsync policy asks; call once per batch.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.cfg.fsync != FsyncPolicy::Never {
            self.file(self.head)?.sync_data()?;
        }
        Ok(())
    }

    /// Takes up to `max` alerts that are not in flight, most severe first, and
    /// marks them in flight.
    pub fn take_batch(&mut self, max: usize) -> io::Result<Vec<SpooledAlert>> {
        let keys: Vec<((u8, u64), Loc)> = self
            .index
            .iter()
            .filter(|(k, _)| !self.in_flight.contains(&k.1))
            .take(max)
            .map(|(k, l)| (*k, *l))
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for ((sev, seq), loc) in keys {
            let mut data = vec![0u8; loc.len as usize];
            self.file(loc.seg)?.read_exact_at(&mut data, loc.offset)?;
            self.in_flight.insert(seq);
            out.push(SpooledAlert {
                seq,
                severity: sev,
                data,
            });
        }
        Ok(out)
    }

    /// Puts in-flight alerts back for a later send (the link failed).
    pub fn release(&mut self, seqs: &[u64]) {
        for s in seqs {
            self.in_flight.remove(s);
        }
    }

    /// Releases every in-flight alert (after a reconnect).
    pub fn release_all(&mut self) {
        self.in_flight.clear();
    }

    /// The collector acked these alerts: forget them for good.
    pub fn ack(&mut self, seqs: &[u64]) -> io::Result<()> {
        let n = self.forget(seqs)?;
        self.counters.acked += n;
        Ok(())
    }

    fn forget(&mut self, seqs: &[u64]) -> io::Result<u64> {
        let mut tomb = vec![KIND_TOMBSTONE];
        let mut hit = Vec::new();
        for &seq in seqs {
            self.in_flight.remove(&seq);
            if let Some(sev) = self.seq_sev.remove(&seq) {
                if let Some(l) = self.index.remove(&(sev, seq)) {
                    tomb.extend_from_slice(&seq.to_le_bytes());
                    self.live_bytes -= l.len as u64;
                    hit.push((l.seg, seq));
                }
            }
        }
        if hit.is_empty() {
            return Ok(0);
        }
        self.write_record(&tomb)?;
        if self.cfg.fsync == FsyncPolicy::Batch {
            self.file(self.head)?.sync_data()?;
        }
        let head = self.head;
        let mut emptied = Vec::new();
        for &(seg, seq) in &hit {
            if seg != head {
                if let Some(h) = self.segments.get_mut(&head) {
                    h.refs.push((seg, seq));
                }
            }
            if let Some(s) = self.segments.get_mut(&seg) {
                s.live -= 1;
                if s.live == 0 && seg != head {
                    emptied.push(seg);
                }
            }
        }
        emptied.sort_unstable();
        emptied.dedup();
        for seg in emptied {
            self.delete_segment(seg)?;
        }
        Ok(hit.len() as u64)
    }

    /// Deletes a segment without live alerts, first copying the tombstones it
    /// holds for segments that still exist, so they are not resurrected.
    fn delete_segment(&mut self, n: u64) -> io::Result<()> {
        let seg = match self.segments.remove(&n) {
            Some(s) => s,
            None => return Ok(()),
        };
        let keep: Vec<(u64, u64)> = seg
            .refs
            .into_iter()
            .filter(|(target, _)| self.segments.contains_key(target))
            .collect();
        if !keep.is_empty() {
            let mut tomb = vec![KIND_TOMBSTONE];
            for (_, seq) in &keep {
                tomb.extend_from_slice(&seq.to_le_bytes());
            }
            self.write_record(&tomb)?;
            self.file(self.head)?.sync_data()?;
            let head = self.head;
            if let Some(h) = self.segments.get_mut(&head) {
                h.refs.extend(keep);
            }
        }
        write_next_seq(&self.cfg.dir, self.next_seq)?;
        self.files.remove(&n);
        self.disk_bytes = self.disk_bytes.saturating_sub(seg.bytes);
        match fs::remove_file(self.cfg.dir.join(seg_name(n))) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lowest sequence number still in the spool.
    fn oldest_seq(&self) -> Option<u64> {
        // The index is ordered by (severity, seq): the first entry of each
        // severity is that severity's oldest.
        let mut best: Option<u64> = None;
        let mut from = 0u16;
        while from <= u8::MAX as u16 {
            let Some((&(sev, seq), _)) = self.index.range((from as u8, 0)..).next() else {
                break;
            };
            best = Some(best.map_or(seq, |b| b.min(seq)));
            from = sev as u16 + 1;
        }
        best
    }

    /// How long the oldest alert still in the spool has waited for the
    /// collector's ack (to within a second; zero when the spool is empty).
    /// Alerts recovered at start count from the start.
    pub fn oldest_wait(&mut self) -> Duration {
        let Some(oldest) = self.oldest_seq() else {
            self.marks.clear();
            return Duration::ZERO;
        };
        while self.marks.len() >= 2 && self.marks[1].0 <= oldest {
            self.marks.pop_front();
        }
        self.marks.front().map_or(Duration::ZERO, |m| m.1.elapsed())
    }

    /// Alerts waiting for an ack (in flight or not).
    pub fn depth(&self) -> u64 {
        self.index.len() as u64
    }

    /// Alerts waiting and not in flight.
    pub fn available(&self) -> usize {
        self.index.len().saturating_sub(self.in_flight.len())
    }

    /// Bytes of spool files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.disk_bytes
    }

    /// Next sequence number to be given.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Counters so far.
    pub fn counters(&self) -> &SpoolCounters {
        &self.counters
    }

    /// Directory of the spool.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }
}

fn read_next_seq(dir: &Path) -> io::Result<u64> {
    match fs::read_to_string(dir.join("next_seq")) {
        Ok(s) => Ok(s.trim().parse().unwrap_or(0)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

fn write_next_seq(dir: &Path, n: u64) -> io::Result<()> {
    let tmp = dir.join("next_seq.tmp");
    {
        let mut f = File::create(&tmp)?;
        writeln!(f, "{n}")?;
        f.sync_all()?;
    }
    fs::rename(tmp, dir.join("next_seq"))
}

#[cfg(test)]
mod test {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vigie-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn cfg(dir: &Path) -> SpoolConfig {
        SpoolConfig {
            dir: dir.to_path_buf(),
            max_bytes: 1 << 20,
            segment_bytes: 4096,
            fsync: FsyncPolicy::Batch,
        }
    }

    fn body(seq: u64) -> Vec<u8> {
        format!("alert-{seq:06}-{}", "x".repeat(40)).into_bytes()
    }

    fn drain(sp: &mut Spool) -> Vec<SpooledAlert> {
        let b = sp.take_batch(usize::MAX).unwrap();
        sp.release_all();
        b
    }

    #[test]
    fn survives_restart_and_drains_most_severe_first() {
        let d = tmp("restart");
        {
            let mut sp = Spool::open(cfg(&d)).unwrap();
            for i in 0..300u64 {
                sp.append((i % 3 + 1) as u8, body).unwrap();
            }
            sp.commit().unwrap();
        }
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert_eq!(sp.counters().recovered, 300);
        assert_eq!(sp.next_seq(), 300);
        let all = drain(&mut sp);
        assert_eq!(all.len(), 300);
        assert!(all
            .windows(2)
            .all(|w| (w[0].severity, w[0].seq) < (w[1].severity, w[1].seq)));
        for a in &all {
            assert_eq!(a.data, body(a.seq));
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn acked_alerts_stay_gone_and_segments_are_deleted() {
        let d = tmp("ack");
        {
            let mut sp = Spool::open(cfg(&d)).unwrap();
            for i in 0..200u64 {
                sp.append((i % 2 + 1) as u8, body).unwrap();
            }
            // Ack the severe ones (spread over every segment), then half the rest.
            let b = sp.take_batch(100).unwrap();
            assert!(b.iter().all(|a| a.severity == 1));
            sp.ack(&b.iter().map(|a| a.seq).collect::<Vec<_>>())
                .unwrap();
            let b = sp.take_batch(50).unwrap();
            sp.ack(&b.iter().map(|a| a.seq).collect::<Vec<_>>())
                .unwrap();
            assert_eq!(sp.depth(), 50);
        }
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert_eq!(sp.depth(), 50);
        let rest = drain(&mut sp);
        assert!(rest.iter().all(|a| a.severity == 2 && a.seq >= 101));
        sp.ack(&rest.iter().map(|a| a.seq).collect::<Vec<_>>())
            .unwrap();
        drop(sp);
        // Sequence numbers keep growing after every alert is gone.
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert_eq!(sp.depth(), 0);
        assert_eq!(sp.append(1, body).unwrap(), 200);
        let segs = fs::read_dir(&d)
            .unwrap()
            .filter(|e| seg_number(&e.as_ref().unwrap().file_name().to_string_lossy()).is_some());
        assert!(segs.count() <= 2);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn oldest_wait_follows_the_oldest_alert_of_any_severity() {
        let d = tmp("lag");
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert_eq!(sp.oldest_wait(), Duration::ZERO);
        // A low-severity alert first, then (over a second later) severe ones:
        // the severe ones drain first, the wait is the low one's.
        let old = sp.append(3, body).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let newer: Vec<u64> = (0..3).map(|_| sp.append(1, body).unwrap()).collect();
        assert!(sp.oldest_wait() >= Duration::from_millis(1100));
        sp.ack(&newer).unwrap();
        assert!(sp.oldest_wait() >= Duration::from_millis(1100));
        sp.ack(&[old]).unwrap();
        assert_eq!(sp.oldest_wait(), Duration::ZERO);
        // A fresh alert waits from its own append, not from the old marks.
        sp.append(2, body).unwrap();
        assert!(sp.oldest_wait() < Duration::from_millis(1000));
    }

    #[test]
    fn in_flight_alerts_are_not_taken_twice() {
        let d = tmp("inflight");
        let mut sp = Spool::open(cfg(&d)).unwrap();
        for _ in 0..10 {
            sp.append(2, body).unwrap();
        }
        let a = sp.take_batch(4).unwrap();
        let b = sp.take_batch(100).unwrap();
        assert_eq!(a.len() + b.len(), 10);
        assert!(a.iter().all(|x| b.iter().all(|y| x.seq != y.seq)));
        sp.release(&a.iter().map(|x| x.seq).collect::<Vec<_>>());
        assert_eq!(sp.take_batch(100).unwrap().len(), 4);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn torn_tail_is_cut_not_misread() {
        let d = tmp("torn");
        {
            let mut sp = Spool::open(cfg(&d)).unwrap();
            for _ in 0..5 {
                sp.append(1, body).unwrap();
            }
            sp.commit().unwrap();
        }
        let seg = d.join(seg_name(1));
        let len = fs::metadata(&seg).unwrap().len();
        for cut in [1u64, 5, 20] {
            let f = OpenOptions::new().write(true).open(&seg).unwrap();
            f.set_len(len - cut).unwrap();
            drop(f);
            let mut sp = Spool::open(cfg(&d)).unwrap();
            // Segment 1 is no longer the newest, but the cut leaves it with 4 alerts.
            let got = drain(&mut sp);
            assert_eq!(got.len(), 4, "cut {cut}");
            assert!(got.iter().all(|a| a.data == body(a.seq)));
            drop(sp);
            // Restore the length for the next round: zero-filled tail is garbage.
            let f = OpenOptions::new().write(true).open(&seg).unwrap();
            f.set_len(len).unwrap();
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn torn_tail_of_newest_segment_is_truncated() {
        let d = tmp("torn-newest");
        {
            let mut sp = Spool::open(cfg(&d)).unwrap();
            for _ in 0..3 {
                sp.append(1, body).unwrap();
            }
        }
        let seg = d.join(seg_name(1));
        let mut bytes = fs::read(&seg).unwrap();
        let full = bytes.len();
        bytes.truncate(full - 7);
        fs::write(&seg, &bytes).unwrap();
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert!(sp.counters().torn_tail_bytes > 0);
        assert_eq!(drain(&mut sp).len(), 2);
        // A record appended after the cut is read back whole.
        sp.append(1, body).unwrap();
        drop(sp);
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert_eq!(drain(&mut sp).len(), 3);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn flipped_byte_skips_one_record_and_keeps_the_rest() {
        let d = tmp("flip");
        {
            let mut sp = Spool::open(cfg(&d)).unwrap();
            for _ in 0..20 {
                sp.append(2, body).unwrap();
            }
        }
        let seg = d.join(seg_name(1));
        let orig = fs::read(&seg).unwrap();
        let rec = orig.len() / 20;
        // Flip a payload byte, a length byte, the magic byte, a CRC byte.
        for off in [rec * 3 + 30, rec * 7 + 2, rec * 11, rec * 15 + 6] {
            let mut bytes = orig.clone();
            bytes[off] ^= 0x5a;
            fs::write(&seg, &bytes).unwrap();
            let mut sp = Spool::open(cfg(&d)).unwrap();
            assert!(sp.counters().corrupt_records >= 1, "offset {off}");
            let got = drain(&mut sp);
            assert_eq!(got.len(), 19, "offset {off}");
            assert!(got.iter().all(|a| a.data == body(a.seq)));
            drop(sp);
            // Reopening wrote a new head segment; remove it for the next round.
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p != seg {
                    fs::remove_file(p).unwrap();
                }
            }
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn garbage_files_do_not_panic() {
        let d = tmp("garbage");
        fs::create_dir_all(&d).unwrap();
        let mut x = 0x1234_5678u32;
        let junk: Vec<u8> = (0..50_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if x & 7 == 0 {
                    MAGIC
                } else {
                    x as u8
                }
            })
            .collect();
        fs::write(d.join(seg_name(1)), &junk).unwrap();
        fs::write(d.join(seg_name(2)), &junk[..100]).unwrap();
        fs::write(d.join("next_seq"), b"not a number").unwrap();
        let mut sp = Spool::open(cfg(&d)).unwrap();
        assert_eq!(drain(&mut sp).len(), 0);
        sp.append(1, body).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bound_evicts_oldest_low_severity_first_and_counts() {
        let d = tmp("bound");
        let mut c = cfg(&d);
        c.max_bytes = 64 * 1024;
        c.segment_bytes = 8 * 1024;
        let mut sp = Spool::open(c.clone()).unwrap();
        // 10 severe alerts first, then a flood of low-severity ones.
        for _ in 0..10 {
            sp.append(1, body).unwrap();
        }
        for _ in 0..5000 {
            sp.append(3, body).unwrap();
        }
        let ev = sp.counters().evicted;
        assert!(ev > 4000, "evicted {ev}");
        assert!(
            sp.disk_bytes() <= c.max_bytes + c.segment_bytes,
            "disk {}",
            sp.disk_bytes()
        );
        let got = drain(&mut sp);
        assert_eq!(got.len() as u64 + ev, 5010);
        assert_eq!(got.iter().filter(|a| a.severity == 1).count(), 10);
        // The low-severity alerts kept are the newest ones.
        let low: Vec<u64> = got
            .iter()
            .filter(|a| a.severity == 3)
            .map(|a| a.seq)
            .collect();
        assert_eq!(*low.last().unwrap(), 5009);
        assert!(low.windows(2).all(|w| w[1] == w[0] + 1));
        drop(sp);
        let mut sp = Spool::open(c).unwrap();
        assert_eq!(drain(&mut sp).len(), got.len());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn low_severity_is_dropped_when_only_severe_alerts_fill_the_spool() {
        let d = tmp("bound-severe");
        let mut c = cfg(&d);
        c.max_bytes = 16 * 1024;
        let mut sp = Spool::open(c).unwrap();
        for _ in 0..1000 {
            sp.append(1, body).unwrap();
        }
        let before = sp.depth();
        sp.append(3, body).unwrap();
        assert_eq!(sp.depth(), before);
        assert!(drain(&mut sp).iter().all(|a| a.severity == 1));
        fs::remove_dir_all(&d).unwrap();
    }
}
