//! Per-flow SMB state: NBSS framing per direction, file handles mapped to
//! names, file contents collected in offset order, anomaly counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::parser::{parse_record, FileId, ReqKey, SmbOp, TreeId};
use crate::app::dcerpc::DcerpcState;
use crate::app::Direction;

/// NBSS records up to this length are buffered whole before parsing (SMB1
/// records are at most 128 KiB; SMB2 ones are usually smaller).
pub const MAX_RECORD_BUFFER: usize = 128 * 1024 + 1024;
/// Of a larger record, only this prefix is buffered and parsed; the data it
/// announces is streamed into the file as it arrives.
pub const LARGE_RECORD_PREFIX: usize = 4096;
/// Files with collected data tracked at once per flow.
pub const MAX_FILES: usize = 64;
/// Open handles whose name is remembered per flow.
pub const MAX_HANDLES: usize = 1024;
/// Outstanding open and read requests remembered per flow (each kind).
pub const MAX_PENDING: usize = 1024;
/// Bytes of a file kept for `file.data` (as the HTTP body limit).
pub const FILE_DEPTH: usize = 100 * 1024;
/// Bytes of out-of-order file data held per file until the hole fills.
pub const MAX_OUT_OF_ORDER: usize = FILE_DEPTH;
/// Out-of-order chunks held per file.
pub const MAX_HELD: usize = 256;
/// Bytes kept while looking for an SMB header after a gap.
const RESYNC_KEEP: usize = 7;
/// SMB command transactions (for `smb.version`, `smb.share`,
/// `smb.named_pipe`) tracked at once per flow; the oldest goes past it.
pub const MAX_COMMANDS: usize = 256;
/// Named pipes followed as DCERPC at once per flow.
pub const MAX_PIPES: usize = 64;
/// File name used when the open of a handle was not seen.
const UNKNOWN_NAME: &str = "<unknown>";

/// SMB protocol anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmbEvent {
    /// A record does not start with a readable SMB1/SMB2 header.
    MalformedHeader,
    /// A command's fixed fields are cut short.
    MalformedCommand,
    /// An SMB1 AndX offset points backwards or outside the record.
    AndxBadOffset,
    /// An SMB2 NextCommand offset is too small or outside the record.
    CompoundBadOffset,
    /// More chained or compounded commands than are followed.
    ChainTooLong,
    /// A data offset or length points outside its message.
    DataOutOfRange,
    /// An encrypted or compressed SMB3 record (not inspectable).
    Encrypted,
    /// An NBSS record of an unknown type: framing lost until resync.
    NbssBadType,
    /// More files with data than are tracked: a file was not tracked.
    TooManyFiles,
    /// More open handles or outstanding requests than are remembered.
    TooManyPending,
    /// A file went past the bytes kept for inspection.
    FileDepthReached,
    /// Out-of-order file data past its limit: held data flushed with a gap.
    OutOfOrderLimit,
    /// A TCP stream gap.
    Gap,
    /// More commands or pipes than are tracked: the oldest was dropped.
    TooManyCommands,
}

impl SmbEvent {
    /// Every event, in declaration order (index = counter slot).
    pub const ALL: [SmbEvent; 14] = [
        SmbEvent::MalformedHeader,
        SmbEvent::MalformedCommand,
        SmbEvent::AndxBadOffset,
        SmbEvent::CompoundBadOffset,
        SmbEvent::ChainTooLong,
        SmbEvent::DataOutOfRange,
        SmbEvent::Encrypted,
        SmbEvent::NbssBadType,
        SmbEvent::TooManyFiles,
        SmbEvent::TooManyPending,
        SmbEvent::FileDepthReached,
        SmbEvent::OutOfOrderLimit,
        SmbEvent::Gap,
        SmbEvent::TooManyCommands,
    ];

    /// Name, as in `app-layer-event:smb.<name>` style rules.
    pub fn name(self) -> &'static str {
        match self {
            SmbEvent::MalformedHeader => "malformed_header",
            SmbEvent::MalformedCommand => "malformed_data",
            SmbEvent::AndxBadOffset => "andx_bad_offset",
            SmbEvent::CompoundBadOffset => "compound_bad_offset",
            SmbEvent::ChainTooLong => "chain_too_long",
            SmbEvent::DataOutOfRange => "data_out_of_range",
            SmbEvent::Encrypted => "encrypted",
            SmbEvent::NbssBadType => "nbss_bad_type",
            SmbEvent::TooManyFiles => "too_many_files",
            SmbEvent::TooManyPending => "too_many_pending",
            SmbEvent::FileDepthReached => "file_depth_reached",
            SmbEvent::OutOfOrderLimit => "out_of_order_limit",
            SmbEvent::Gap => "gap",
            SmbEvent::TooManyCommands => "too_many_commands",
        }
    }
}

/// One file's contents in one direction (written: to server; read: to client).
#[derive(Debug, Clone)]
pub struct SmbFile {
    /// Per-flow transaction number, from 0.
    pub tx_id: u64,
    /// The handle.
    pub id: FileId,
    /// Which way the data travelled.
    pub dir: Direction,
    /// Name given when the handle was opened, or `<unknown>`.
    pub name: String,
    /// In-order contents from offset 0, up to [`FILE_DEPTH`] bytes.
    pub data: Vec<u8>,
    /// In-order bytes seen (including those past the depth).
    pub size: u64,
    /// A hole was skipped (lost or never sent data).
    pub gaps: bool,
    /// The handle was closed.
    pub closed: bool,
    /// Bytes of `data` already inspected by rules.
    pub inspected: usize,
    /// Rules saw the file closed (its final size and digests).
    pub inspected_closed: bool,
    next: u64,
    /// Out-of-order chunks by offset: (length, bytes kept of them).
    held: BTreeMap<u64, (usize, Vec<u8>)>,
    held_bytes: usize,
}

impl SmbFile {
    /// EVE `state`: `CLOSED`, `TRUNCATED` (past the depth) or `OPEN`.
    pub fn state_name(&self) -> &'static str {
        if self.size > self.data.len() as u64 {
            "TRUNCATED"
        } else if self.closed {
            "CLOSED"
        } else {
            "OPEN"
        }
    }

    /// True when rules should look at `data` again: first bytes, closed or
    /// past the depth with new bytes, or doubled since the last look (so a
    /// growing file is not rescanned on every record).
    pub fn wants_inspection(&self) -> bool {
        let n = self.data.len();
        (n > self.inspected
            && (self.inspected == 0 || self.closed || n >= FILE_DEPTH || n >= 2 * self.inspected))
            || (self.closed && !self.inspected_closed)
    }

    fn put(&mut self, offset: u64, chunk: &[u8], keep: bool, ev: &mut Vec<SmbEvent>) {
        if chunk.is_empty() {
            return;
        }
        let end = offset.saturating_add(chunk.len() as u64);
        if end <= self.next {
            return; // Already seen.
        }
        if offset > self.next {
            // Held until the hole fills: only the bytes that can still land
            // within the depth are kept, the rest is counted by length.
            let stored = if keep {
                let room = (FILE_DEPTH as u64).saturating_sub(offset);
                &chunk[..chunk.len().min(room as usize)]
            } else {
                &[][..]
            };
            if self.held_bytes + stored.len() > MAX_OUT_OF_ORDER || self.held.len() >= MAX_HELD {
                ev.push(SmbEvent::OutOfOrderLimit);
                self.flush_held(keep, ev);
                self.gaps = true;
                self.next = offset;
            } else {
                // Of two chunks at one offset, the longer stays.
                let longer = self.held.get(&offset).is_none_or(|h| h.0 < chunk.len());
                if longer {
                    if let Some(old) = self.held.insert(offset, (chunk.len(), stored.to_vec())) {
                        self.held_bytes -= old.1.len();
                    }
                    self.held_bytes += stored.len();
                }
                return;
            }
        }
        let skip = (self.next - offset) as usize;
        self.append(chunk.len() - skip, &chunk[skip..], keep, ev);
        // Held chunks that now continue the data.
        while let Some((&off, _)) = self.held.first_key_value() {
            if off > self.next {
                break;
            }
            if let Some((off, (len, bytes))) = self.held.pop_first() {
                self.held_bytes -= bytes.len();
                self.append_held(off, len, &bytes, keep, ev);
            }
        }
    }

    /// `len` in-order bytes, of which `b` (a prefix) are known.
    fn append(&mut self, len: usize, b: &[u8], keep: bool, ev: &mut Vec<SmbEvent>) {
        self.next += len as u64;
        self.size += len as u64;
        if !keep {
            return;
        }
        let room = FILE_DEPTH.saturating_sub(self.data.len());
        if len > room && room > 0 {
            ev.push(SmbEvent::FileDepthReached);
        }
        self.data.extend_from_slice(&b[..b.len().min(room)]);
    }

    /// A held chunk at `off` (at or before `next`): its part past `next`.
    fn append_held(&mut self, off: u64, len: usize, b: &[u8], keep: bool, ev: &mut Vec<SmbEvent>) {
        let e = off + len as u64;
        if e <= self.next {
            return;
        }
        let skip = (self.next - off) as usize;
        let known = b.get(skip..).unwrap_or(&[]);
        self.append(len - skip, known, keep, ev);
    }

    /// Held chunks go in, in offset order, with holes marked as gaps.
    fn flush_held(&mut self, keep: bool, ev: &mut Vec<SmbEvent>) {
        for (off, (len, bytes)) in std::mem::take(&mut self.held) {
            if off > self.next {
                self.gaps = true;
                self.next = off;
            }
            self.append_held(off, len, &bytes, keep, ev);
        }
        self.held_bytes = 0;
    }
}

/// One SMB command, request and response: what `smb.version`, `smb.share`
/// and `smb.named_pipe` rules look at.
#[derive(Debug, Clone)]
pub struct SmbCommand {
    /// Per-flow transaction number.
    pub tx_id: u64,
    /// Request identity, to find the response.
    pub req: ReqKey,
    /// 1, or 2 for SMB2/3.
    pub version: u8,
    /// Command code.
    pub command: u16,
    /// Share path of a tree connect.
    pub share: Option<String>,
    /// Whether that share is a named-pipe one, once the response said.
    pub pipe: Option<bool>,
    /// The response was seen.
    pub responded: bool,
    /// Detection state per direction: 1 = ready with the direction's next
    /// packet, 2 = inspected.
    pub inspect: [u8; 2],
}

impl SmbCommand {
    /// Calls `f(name, bytes)` for each buffer inspected in `dir`: the
    /// version both ways; to server (the reference IDS registers them that
    /// way only), a tree connect's path as `smb.named_pipe` once the
    /// response said it is a pipe share, as `smb.share` otherwise (before
    /// the response too, as the reference IDS: the kind defaults to disk).
    pub fn for_each_buffer(&self, dir: Direction, mut f: impl FnMut(&'static str, &[u8])) {
        f("smb.version", &[self.version]);
        if let (Some(s), Direction::ToServer) = (&self.share, dir) {
            if self.pipe == Some(true) {
                f("smb.named_pipe", s.as_bytes());
            } else {
                f("smb.share", s.as_bytes());
            }
        }
    }
}

/// A named pipe opened on an IPC$ tree: its data is DCERPC.
#[derive(Debug)]
pub struct SmbPipe {
    /// The handle.
    pub id: FileId,
    /// The DCERPC calls on it.
    pub rpc: DcerpcState,
    /// The handle was closed: the pipe goes once its calls are taken.
    pub closed: bool,
}

/// Where the not yet buffered rest of a large record goes.
#[derive(Debug, Clone, Copy, Default)]
struct Tail {
    /// Bytes to drop before the data.
    skip_before: usize,
    /// Data bytes to stream, and where to.
    stream: usize,
    target: Option<(FileId, u64)>,
    /// Bytes to drop after the data (the rest of the record).
    skip_after: usize,
}

impl Tail {
    fn remaining(&self) -> usize {
        self.skip_before + self.stream + self.skip_after
    }
}

/// NBSS framing of one direction.
#[derive(Debug, Default)]
struct Framer {
    /// NBSS header plus the record (or its prefix) so far.
    buf: Vec<u8>,
    tail: Tail,
    /// After a gap or a bad record type: looking for the next SMB header.
    resync: bool,
}

/// Per-flow SMB parser state.
#[derive(Debug)]
pub struct SmbState {
    framers: [Framer; 2],
    names: HashMap<FileId, String>,
    /// Trees on named-pipe shares, and the handles opened on them: their
    /// reads and writes are DCERPC, not file contents.
    pipe_trees: HashSet<TreeId>,
    pipes: Vec<SmbPipe>,
    pipes_opened: u64,
    commands: Vec<SmbCommand>,
    /// SMB1 TransactNmPipe requests: their responses carry no handle.
    pending_trans: HashMap<ReqKey, FileId>,
    pending_opens: HashMap<ReqKey, (String, bool)>,
    pending_reads: HashMap<ReqKey, (FileId, u64)>,
    files: Vec<SmbFile>,
    next_tx_id: u64,
    keep_data: bool,
    counts: [u64; SmbEvent::ALL.len()],
    ops: Vec<SmbOp>,
    events: Vec<SmbEvent>,
}

impl Default for SmbState {
    fn default() -> Self {
        SmbState::new()
    }
}

/// Whether a response answers request `a`: SMB1 replies to a tree connect
/// carry the new tree id, so the tree id is left out there.
fn same_call(a: ReqKey, b: ReqKey) -> bool {
    match (a, b) {
        (
            ReqKey::Smb1 { uid, pid, mid, .. },
            ReqKey::Smb1 {
                uid: u2,
                pid: p2,
                mid: m2,
                ..
            },
        ) => uid == u2 && pid == p2 && mid == m2,
        _ => a == b,
    }
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// NBSS session message.
const NBSS_MESSAGE: u8 = 0x00;

impl SmbState {
    /// New, empty state that keeps file contents.
    pub fn new() -> SmbState {
        SmbState {
            framers: [Framer::default(), Framer::default()],
            names: HashMap::new(),
            pipe_trees: HashSet::new(),
            pipes: Vec::new(),
            pipes_opened: 0,
            commands: Vec::new(),
            pending_trans: HashMap::new(),
            pending_opens: HashMap::new(),
            pending_reads: HashMap::new(),
            files: Vec::new(),
            next_tx_id: 0,
            keep_data: true,
            counts: [0; SmbEvent::ALL.len()],
            ops: Vec::new(),
            events: Vec::new(),
        }
    }

    /// New state that tracks files (names, sizes) without keeping contents,
    /// for flows no rule inspects.
    pub fn without_data() -> SmbState {
        SmbState {
            keep_data: false,
            ..SmbState::new()
        }
    }

    /// How many times `e` was raised on this flow.
    pub fn count(&self, e: SmbEvent) -> u64 {
        self.counts[e as usize]
    }

    /// Files tracked now (closed ones stay until taken).
    pub fn files(&self) -> &[SmbFile] {
        &self.files
    }

    /// Files tracked now, for detection to record what it inspected.
    pub fn files_mut(&mut self) -> &mut [SmbFile] {
        &mut self.files
    }

    /// Removes and returns the closed files whose data rules have seen in
    /// full (all files when `all`). A read file is closed by a request going
    /// the other way: it waits for its direction's next packet to be inspected.
    pub fn take_closed(&mut self, all: bool) -> Vec<SmbFile> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.files.len() {
            let f = &self.files[i];
            let seen_closed = f.inspected_closed || f.inspected == 0;
            if all || (f.closed && f.inspected >= f.data.len() && seen_closed) {
                out.push(self.files.remove(i));
            } else {
                i += 1;
            }
        }
        out
    }

    fn raise(&mut self, e: SmbEvent) {
        self.counts[e as usize] += 1;
    }

    /// Command transactions tracked now.
    pub fn commands(&self) -> &[SmbCommand] {
        &self.commands
    }

    /// Command transactions, for detection to record what it inspected.
    pub fn commands_mut(&mut self) -> &mut [SmbCommand] {
        &mut self.commands
    }

    /// Removes the commands rules have seen both ways (all when `all`, or
    /// those answered when `inspected_only` is false: no rules look).
    pub fn take_commands(&mut self, all: bool, inspected_only: bool) -> Vec<SmbCommand> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.commands.len() {
            let c = &self.commands[i];
            let done = if inspected_only {
                c.inspect == [2, 2]
            } else {
                c.responded
            };
            if all || done {
                out.push(self.commands.remove(i));
            } else {
                i += 1;
            }
        }
        out
    }

    /// Readies every command not inspected yet, both ways (flow end).
    pub fn ready_all(&mut self) {
        for c in &mut self.commands {
            for e in &mut c.inspect {
                if *e == 0 {
                    *e = 1;
                }
            }
        }
    }

    /// The named pipes followed now.
    pub fn pipes(&self) -> &[SmbPipe] {
        &self.pipes
    }

    /// The named pipes, for detection and logging to take their calls.
    pub fn pipes_mut(&mut self) -> &mut [SmbPipe] {
        &mut self.pipes
    }

    /// Forgets closed pipes without calls left.
    pub fn drop_idle_pipes(&mut self) {
        self.pipes
            .retain(|p| !(p.closed && p.rpc.transactions().is_empty()));
    }

    fn pipe_mut(&mut self, id: FileId) -> Option<&mut SmbPipe> {
        self.pipes
            .iter_mut()
            .rev()
            .find(|p| p.id == id && !p.closed)
    }

    fn is_pipe(&self, id: FileId) -> bool {
        self.pipes.iter().any(|p| p.id == id && !p.closed)
    }

    fn command(&mut self, req: ReqKey, version: u8, command: u16, response: bool) {
        if response {
            if let Some(c) = self
                .commands
                .iter_mut()
                .rev()
                .find(|c| same_call(c.req, req) && !c.responded)
            {
                c.responded = true;
            }
            return;
        }
        if self.commands.len() >= MAX_COMMANDS {
            self.raise(SmbEvent::TooManyCommands);
            self.commands.remove(0);
        }
        self.commands.push(SmbCommand {
            tx_id: self.next_tx_id,
            req,
            version,
            command,
            share: None,
            pipe: None,
            responded: false,
            inspect: [0; 2],
        });
        self.next_tx_id += 1;
    }

    /// Feeds in-order TCP stream bytes travelling in `dir`.
    pub fn parse(&mut self, mut data: &[u8], dir: Direction) {
        let s = slot(dir);
        while !data.is_empty() {
            // The rest of a large record: skipped or streamed into its file.
            let tail = self.framers[s].tail;
            if tail.remaining() > 0 {
                let used = self.feed_tail(s, dir, data);
                data = &data[used..];
                continue;
            }
            if self.framers[s].resync {
                data = self.resync(s, data);
                continue;
            }
            let f = &mut self.framers[s];
            if f.buf.len() < 4 {
                let n = (4 - f.buf.len()).min(data.len());
                f.buf.extend_from_slice(&data[..n]);
                data = &data[n..];
                continue;
            }
            let kind = f.buf[0];
            let len = if kind == NBSS_MESSAGE {
                // Direct-hosted SMB uses all 24 bits.
                usize::from(f.buf[1]) << 16 | usize::from(f.buf[2]) << 8 | usize::from(f.buf[3])
            } else {
                usize::from(f.buf[1] & 1) << 16 | usize::from(f.buf[2]) << 8 | usize::from(f.buf[3])
            };
            if !matches!(kind, NBSS_MESSAGE | 0x81..=0x85) {
                self.raise(SmbEvent::NbssBadType);
                let f = &mut self.framers[s];
                f.resync = true;
                // The bytes after the bad type byte may start the next header.
                f.buf.remove(0);
                continue;
            }
            if kind != NBSS_MESSAGE {
                f.buf.clear();
                f.tail = Tail {
                    skip_after: len,
                    ..Tail::default()
                };
                continue;
            }
            let want = if len <= MAX_RECORD_BUFFER {
                len
            } else {
                LARGE_RECORD_PREFIX
            };
            let have = f.buf.len() - 4;
            let n = (want - have).min(data.len());
            f.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if f.buf.len() - 4 == want {
                let buf = std::mem::take(&mut f.buf);
                if len > 0 {
                    self.record(s, dir, &buf[4..], len);
                }
                let mut buf = buf;
                buf.clear();
                if buf.capacity() <= 2 * LARGE_RECORD_PREFIX {
                    self.framers[s].buf = buf;
                }
            }
        }
    }

    /// Consumes bytes of a large record's unbuffered rest; returns how many.
    fn feed_tail(&mut self, s: usize, dir: Direction, data: &[u8]) -> usize {
        let mut t = self.framers[s].tail;
        let mut used = 0;
        let n = t.skip_before.min(data.len());
        t.skip_before -= n;
        used += n;
        if t.skip_before == 0 && t.stream > 0 && used < data.len() {
            let n = t.stream.min(data.len() - used);
            if let Some((id, off)) = t.target {
                self.file_data(id, dir, off, &data[used..used + n]);
                t.target = Some((id, off + n as u64));
            }
            t.stream -= n;
            used += n;
        }
        if t.skip_before == 0 && t.stream == 0 {
            let n = t.skip_after.min(data.len() - used);
            t.skip_after -= n;
            used += n;
        }
        self.framers[s].tail = t;
        used
    }

    /// Drops bytes until an NBSS message header followed by an SMB magic;
    /// returns the input from that header on (or nothing left).
    fn resync<'d>(&mut self, s: usize, data: &'d [u8]) -> &'d [u8] {
        let f = &mut self.framers[s];
        let keep = f.buf.len();
        let take = data.len().min(4096);
        let mut w = std::mem::take(&mut f.buf);
        w.extend_from_slice(&data[..take]);
        let found = w.windows(8).position(|x| {
            x[0] == NBSS_MESSAGE && (x[4] == 0xff || x[4] == 0xfe) && &x[5..8] == b"SMB"
        });
        match found {
            Some(p) if p < keep => {
                // The header starts in the bytes kept from before.
                f.resync = false;
                f.buf = w[p..keep].to_vec();
                data
            }
            Some(p) => {
                f.resync = false;
                &data[p - keep..]
            }
            None => {
                let cut = w.len().saturating_sub(RESYNC_KEEP);
                f.buf = w[cut..].to_vec();
                &data[take..]
            }
        }
    }

    /// `len` bytes of the stream in `dir` are missing.
    pub fn gap(&mut self, dir: Direction, len: u64) {
        self.raise(SmbEvent::Gap);
        let s = slot(dir);
        let t = self.framers[s].tail;
        if t.remaining() as u64 >= len && self.framers[s].buf.is_empty() {
            // The hole is inside a record whose framing is known: skip it.
            let mut left = len as usize;
            let mut t = t;
            let n = t.skip_before.min(left);
            t.skip_before -= n;
            left -= n;
            let n = t.stream.min(left);
            t.stream -= n;
            left -= n;
            if let Some((id, off)) = t.target {
                t.target = Some((id, off + n as u64));
            }
            t.skip_after -= left.min(t.skip_after);
            self.framers[s].tail = t;
            return;
        }
        let f = &mut self.framers[s];
        f.buf.clear();
        f.tail = Tail::default();
        f.resync = true;
    }

    /// One NBSS session message (or its prefix when large).
    fn record(&mut self, s: usize, dir: Direction, rec: &[u8], total: usize) {
        let mut ops = std::mem::take(&mut self.ops);
        let mut events = std::mem::take(&mut self.events);
        ops.clear();
        events.clear();
        parse_record(rec, total, &mut ops, &mut events);
        for e in events.drain(..) {
            self.raise(e);
        }
        let mut tail_set = false;
        for op in ops.drain(..) {
            match op {
                SmbOp::PipeTree { tree } => {
                    if self.pipe_trees.len() >= MAX_HANDLES {
                        self.raise(SmbEvent::TooManyPending);
                    } else {
                        self.pipe_trees.insert(tree);
                    }
                }
                SmbOp::OpenRequest { req, tree, name } => {
                    if self.pending_opens.len() >= MAX_PENDING {
                        self.raise(SmbEvent::TooManyPending);
                        self.pending_opens.clear();
                    }
                    let pipe = self.pipe_trees.contains(&tree);
                    self.pending_opens.insert(req, (name, pipe));
                }
                SmbOp::OpenResponse { req, file } => {
                    if let Some((name, pipe)) = self.pending_opens.remove(&req) {
                        if pipe {
                            self.open_pipe(file);
                        } else if self.names.len() >= MAX_HANDLES && !self.names.contains_key(&file)
                        {
                            self.raise(SmbEvent::TooManyPending);
                        } else {
                            self.names.insert(file, name);
                        }
                    }
                }
                SmbOp::Command {
                    req,
                    version,
                    command,
                    response,
                } => self.command(req, version, command, response),
                SmbOp::TreeRequest { req, share } => {
                    if let Some(c) = self.commands.iter_mut().rev().find(|c| c.req == req) {
                        c.share = Some(share);
                    }
                }
                SmbOp::TreeResponse { req, pipe } => {
                    if let Some(c) =
                        self.commands.iter_mut().rev().find(|c| {
                            same_call(c.req, req) && c.share.is_some() && c.pipe.is_none()
                        })
                    {
                        c.pipe = Some(pipe);
                    }
                }
                SmbOp::PipeData {
                    file,
                    req,
                    start,
                    len,
                } => {
                    let file = match file {
                        Some(f) if dir == Direction::ToServer => {
                            if matches!(f, FileId::Smb1(_)) {
                                if self.pending_trans.len() >= MAX_PENDING {
                                    self.raise(SmbEvent::TooManyPending);
                                    self.pending_trans.clear();
                                }
                                self.pending_trans.insert(req, f);
                            }
                            Some(f)
                        }
                        Some(f) => Some(f),
                        None => self.pending_trans.remove(&req),
                    };
                    let end = start.saturating_add(len).min(rec.len());
                    if let (Some(f), Some(b)) = (file, rec.get(start.min(end)..end)) {
                        if let Some(p) = self.pipe_mut(f) {
                            p.rpc.parse_message(b, dir);
                        }
                    }
                }
                SmbOp::ReadRequest { req, file, offset } => {
                    if self.pending_reads.len() >= MAX_PENDING {
                        self.raise(SmbEvent::TooManyPending);
                        self.pending_reads.clear();
                    }
                    self.pending_reads.insert(req, (file, offset));
                }
                SmbOp::Write {
                    file,
                    offset,
                    start,
                    len,
                } => {
                    self.data_op(
                        s,
                        dir,
                        rec,
                        total,
                        (file, offset),
                        (start, len),
                        &mut tail_set,
                    );
                }
                SmbOp::ReadResponse { req, start, len } => {
                    if let Some(target) = self.pending_reads.remove(&req) {
                        self.data_op(s, dir, rec, total, target, (start, len), &mut tail_set);
                    }
                }
                SmbOp::Close { file } => {
                    self.names.remove(&file);
                    if let Some(p) = self.pipe_mut(file) {
                        p.closed = true;
                    }
                    for f in self.files.iter_mut().filter(|f| f.id == file) {
                        f.closed = true;
                        let keep = self.keep_data;
                        let mut ev = Vec::new();
                        f.flush_held(keep, &mut ev);
                        for e in ev {
                            self.counts[e as usize] += 1;
                        }
                    }
                }
            }
        }
        if !tail_set && total > rec.len() {
            self.framers[s].tail = Tail {
                skip_after: total - rec.len(),
                ..Tail::default()
            };
        }
        self.ops = ops;
        self.events = events;
    }

    /// File data at record range `start..start+len`; what is past the
    /// buffered part of the record is streamed later (first such range only).
    #[allow(clippy::too_many_arguments)]
    fn data_op(
        &mut self,
        s: usize,
        dir: Direction,
        rec: &[u8],
        total: usize,
        (file, offset): (FileId, u64),
        (start, len): (usize, usize),
        tail_set: &mut bool,
    ) {
        let end = start.saturating_add(len);
        let here = rec
            .get(start.min(rec.len())..end.min(rec.len()))
            .unwrap_or(&[]);
        self.file_data(file, dir, offset, here);
        if end > rec.len() && !*tail_set {
            *tail_set = true;
            let from = start.max(rec.len());
            let streamed = (end - from) as u64;
            self.framers[s].tail = Tail {
                skip_before: from - rec.len(),
                stream: end - from,
                target: Some((file, offset + (len as u64 - streamed))),
                skip_after: total.saturating_sub(end),
            };
        }
    }

    /// A handle opened on a named-pipe tree: followed as DCERPC.
    fn open_pipe(&mut self, file: FileId) {
        if self.is_pipe(file) {
            return;
        }
        if self.pipes.len() >= MAX_PIPES {
            self.raise(SmbEvent::TooManyCommands);
            self.pipes.remove(0);
        }
        self.pipes_opened += 1;
        // Each pipe's calls get transaction ids of their own range.
        self.pipes.push(SmbPipe {
            id: file,
            rpc: DcerpcState::for_pipe(self.pipes_opened << 32),
            closed: false,
        });
    }

    fn file_data(&mut self, id: FileId, dir: Direction, offset: u64, data: &[u8]) {
        if let Some(p) = self.pipe_mut(id) {
            // A pipe is a byte stream: offsets mean nothing.
            let _ = offset;
            p.rpc.parse(data, dir);
            return;
        }
        let idx = match self
            .files
            .iter()
            .position(|f| f.id == id && f.dir == dir && !f.closed)
        {
            Some(i) => i,
            None => {
                if data.is_empty() {
                    return;
                }
                if self.files.len() >= MAX_FILES {
                    self.raise(SmbEvent::TooManyFiles);
                    return;
                }
                let name = self
                    .names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| UNKNOWN_NAME.to_string());
                self.files.push(SmbFile {
                    tx_id: self.next_tx_id,
                    id,
                    dir,
                    name,
                    data: Vec::new(),
                    size: 0,
                    gaps: false,
                    closed: false,
                    inspected: 0,
                    inspected_closed: false,
                    next: 0,
                    held: BTreeMap::new(),
                    held_bytes: 0,
                });
                self.next_tx_id += 1;
                self.files.len() - 1
            }
        };
        let keep = self.keep_data;
        let mut ev = Vec::new();
        self.files[idx].put(offset, data, keep, &mut ev);
        for e in ev {
            self.raise(e);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    fn nbss(msg: &[u8]) -> Vec<u8> {
        let n = msg.len();
        let mut v = vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        v.extend_from_slice(msg);
        v
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    fn smb1_hdr(cmd: u8, reply: bool, mid: u16) -> Vec<u8> {
        let mut h = b"\xffSMB".to_vec();
        h.push(cmd);
        h.extend_from_slice(&[0; 4]);
        h.push(if reply { 0x98 } else { 0x18 });
        h.extend_from_slice(&0xc843u16.to_le_bytes());
        h.extend_from_slice(&[0; 12]); // pid high, signature, reserved
        h.extend_from_slice(&1u16.to_le_bytes()); // tid
        h.extend_from_slice(&100u16.to_le_bytes()); // pid
        h.extend_from_slice(&2u16.to_le_bytes()); // uid
        h.extend_from_slice(&mid.to_le_bytes());
        h
    }

    fn smb1_create(name: &str, mid: u16) -> Vec<u8> {
        let mut m = smb1_hdr(0xa2, false, mid);
        let n = utf16(name);
        let mut w = vec![0xff, 0, 0, 0, 0];
        w.extend_from_slice(&(n.len() as u16).to_le_bytes());
        w.resize(48, 0);
        m.push(24);
        m.extend_from_slice(&w);
        m.extend_from_slice(&((n.len() + 3) as u16).to_le_bytes());
        m.push(0); // pad to 2
        m.extend_from_slice(&n);
        m.extend_from_slice(&[0, 0]);
        m
    }

    fn smb1_create_resp(fid: u16, mid: u16) -> Vec<u8> {
        let mut m = smb1_hdr(0xa2, true, mid);
        let mut w = vec![0xff, 0, 0, 0, 0];
        w.extend_from_slice(&fid.to_le_bytes());
        w.resize(68, 0);
        m.push(34);
        m.extend_from_slice(&w);
        m.extend_from_slice(&[0, 0]);
        m
    }

    fn write_words(fid: u16, offset: u32, len: usize, data_off: usize, next: (u8, u16)) -> Vec<u8> {
        let mut w = vec![next.0, 0];
        w.extend_from_slice(&next.1.to_le_bytes());
        w.extend_from_slice(&fid.to_le_bytes());
        w.extend_from_slice(&offset.to_le_bytes());
        w.extend_from_slice(&[0; 8]); // timeout, mode, remaining
        w.extend_from_slice(&((len >> 16) as u16).to_le_bytes());
        w.extend_from_slice(&(len as u16).to_le_bytes());
        w.extend_from_slice(&(data_off as u16).to_le_bytes());
        w.extend_from_slice(&[0; 4]); // offset high
        w
    }

    fn smb1_write(fid: u16, offset: u32, data: &[u8], mid: u16) -> Vec<u8> {
        let mut m = smb1_hdr(0x2f, false, mid);
        m.push(14);
        m.extend_from_slice(&write_words(fid, offset, data.len(), 64, (0xff, 0)));
        m.extend_from_slice(&((data.len() + 1) as u16).to_le_bytes());
        m.push(0);
        m.extend_from_slice(data);
        m
    }

    fn smb1_close(fid: u16, mid: u16) -> Vec<u8> {
        let mut m = smb1_hdr(0x04, false, mid);
        m.push(3);
        m.extend_from_slice(&fid.to_le_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&[0, 0]);
        m
    }

    fn smb1_session(fid: u16) -> (Vec<u8>, Vec<u8>) {
        let mut ts = nbss(&smb1_create("\\eicar", 7));
        ts.extend(nbss(&smb1_write(fid, 0, EICAR, 8)));
        ts.extend(nbss(&smb1_close(fid, 9)));
        (ts, nbss(&smb1_create_resp(fid, 7)))
    }

    fn run(chunks: &[(Direction, &[u8])], step: usize) -> SmbState {
        let mut s = SmbState::new();
        for (d, b) in chunks {
            for c in b.chunks(step.max(1)) {
                s.parse(c, *d);
            }
        }
        s
    }

    fn only_file(s: &SmbState) -> &SmbFile {
        assert_eq!(s.files().len(), 1, "{:?}", s.files());
        &s.files()[0]
    }

    #[test]
    fn smb1_write_whole_and_split_every_way() {
        let (ts, tc) = smb1_session(0x4004);
        // Client's create first, then the server's answer, then write + close.
        let split = nbss(&smb1_create("\\eicar", 7)).len();
        for step in [1, 2, 3, 7, 31, 64, 1000] {
            let s = run(
                &[
                    (Direction::ToServer, &ts[..split]),
                    (Direction::ToClient, &tc),
                    (Direction::ToServer, &ts[split..]),
                ],
                step,
            );
            let f = only_file(&s);
            assert_eq!(f.name, "\\eicar", "step {step}");
            assert_eq!(f.data, EICAR);
            assert_eq!(f.dir, Direction::ToServer);
            assert!(f.closed && !f.gaps);
            assert_eq!(f.state_name(), "CLOSED");
            assert!(SmbEvent::ALL.iter().all(|e| s.count(*e) == 0));
        }
        // A closed file is freed only once rules have seen all of it.
        let mut s = run(&[(Direction::ToServer, &ts)], 4096);
        assert!(s.files()[0].wants_inspection());
        assert!(s.take_closed(false).is_empty());
        s.files_mut()[0].inspected = EICAR.len();
        // Rules saw the bytes, not yet the closed file (final size, digests).
        assert!(s.files()[0].wants_inspection());
        assert!(s.take_closed(false).is_empty());
        s.files_mut()[0].inspected_closed = true;
        assert!(!s.files()[0].wants_inspection());
        assert_eq!(s.take_closed(false).len(), 1);
        // Without contents kept, closed files go at once.
        let mut s = SmbState::without_data();
        s.parse(&ts, Direction::ToServer);
        assert_eq!(s.take_closed(false)[0].size, EICAR.len() as u64);
    }

    #[test]
    fn smb1_andx_chain_with_data_after_the_close() {
        // LOCKING_ANDX -> WRITE_ANDX -> CLOSE, the written bytes last.
        let mut m = smb1_hdr(0x24, false, 8);
        let lock_at = m.len();
        let write_at = lock_at + 1 + 16 + 2;
        let close_at = write_at + 1 + 28 + 2;
        let data_at = close_at + 1 + 6 + 2;
        m.push(8);
        let mut w = vec![0x2f, 0];
        w.extend_from_slice(&(write_at as u16).to_le_bytes());
        w.resize(16, 0);
        m.extend_from_slice(&w);
        m.extend_from_slice(&[0, 0]);
        m.push(14);
        m.extend_from_slice(&write_words(
            5,
            0,
            EICAR.len(),
            data_at,
            (0x04, close_at as u16),
        ));
        m.extend_from_slice(&[0, 0]);
        m.push(3);
        m.extend_from_slice(&5u16.to_le_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&(EICAR.len() as u16).to_le_bytes());
        assert_eq!(m.len(), data_at);
        m.extend_from_slice(EICAR);
        let s = run(&[(Direction::ToServer, &nbss(&m))], 5);
        let f = only_file(&s);
        assert_eq!(f.data, EICAR);
        assert_eq!(f.name, "<unknown>");
        assert!(f.closed);
    }

    #[test]
    fn several_records_in_one_chunk_with_keepalive_and_session_request() {
        let (ts, tc) = smb1_session(9);
        let mut all = vec![0x81, 0, 0, 4, 1, 2, 3, 4, 0x85, 0, 0, 0];
        all.extend_from_slice(&ts);
        let mut s = SmbState::new();
        s.parse(&tc, Direction::ToClient);
        s.parse(&all, Direction::ToServer);
        // The response came before the request: the name is unknown.
        assert_eq!(only_file(&s).name, "<unknown>");
        assert_eq!(only_file(&s).data, EICAR);
    }

    #[test]
    fn out_of_order_writes_are_put_in_offset_order() {
        let mut ts = nbss(&smb1_write(1, 4, b"4567", 1));
        ts.extend(nbss(&smb1_write(1, 0, b"0123", 2)));
        ts.extend(nbss(&smb1_write(1, 2, b"23456789", 3)));
        let s = run(&[(Direction::ToServer, &ts)], 1000);
        assert_eq!(only_file(&s).data, b"0123456789");
        assert_eq!(only_file(&s).size, 10);
        // A hole never filled is flushed as a gap on close.
        let mut ts = nbss(&smb1_write(1, 0, b"ab", 1));
        ts.extend(nbss(&smb1_write(1, 10, b"yz", 2)));
        ts.extend(nbss(&smb1_close(1, 3)));
        let s = run(&[(Direction::ToServer, &ts)], 1000);
        let f = only_file(&s);
        assert_eq!(f.data, b"abyz");
        assert!(f.gaps && f.closed);
        // Held chunks past the depth keep their length, not their bytes.
        let big = vec![b'q'; 60_000];
        let mut ts = nbss(&smb1_write(1, 120_000, &big, 1));
        ts.extend(nbss(&smb1_write(1, 60_000, &big, 2)));
        ts.extend(nbss(&smb1_write(1, 0, &big, 3)));
        let mut s = SmbState::new();
        s.parse(&ts[..ts.len() / 3 + 1], Direction::ToServer);
        assert!(s.files()[0].held_bytes == 0 && s.files()[0].data.is_empty());
        s.parse(&ts[ts.len() / 3 + 1..], Direction::ToServer);
        let f = only_file(&s);
        assert_eq!((f.size, f.data.len(), f.gaps), (180_000, FILE_DEPTH, false));
    }

    #[test]
    fn hostile_lengths_and_offsets_are_events_not_panics() {
        // Data offset and length past the record.
        let mut m = smb1_hdr(0x2f, false, 1);
        m.push(14);
        m.extend_from_slice(&write_words(1, 0, 0xffff, 0xfff0, (0xff, 0)));
        m.extend_from_slice(&[0, 0]);
        let mut s = run(&[(Direction::ToServer, &nbss(&m))], 1000);
        assert_eq!(s.count(SmbEvent::DataOutOfRange), 1);
        assert!(s.files().is_empty());
        // An AndX offset pointing back at itself.
        let mut m = smb1_hdr(0x24, false, 1);
        m.push(8);
        let mut w = vec![0x24, 0];
        w.extend_from_slice(&32u16.to_le_bytes());
        w.resize(16, 0);
        m.extend_from_slice(&w);
        m.extend_from_slice(&[0, 0]);
        s.parse(&nbss(&m), Direction::ToServer);
        assert_eq!(s.count(SmbEvent::AndxBadOffset), 1);
        // Word count past the end; a header cut short.
        let mut m = smb1_hdr(0x2f, false, 1);
        m.push(200);
        s.parse(&nbss(&m), Direction::ToServer);
        s.parse(&nbss(b"\xffSMB\x2f"), Direction::ToServer);
        assert_eq!(s.count(SmbEvent::MalformedCommand), 1);
        assert_eq!(s.count(SmbEvent::MalformedHeader), 1);
        // A bad NBSS type loses the framing until the next SMB header.
        let (ts, _) = smb1_session(3);
        let mut bad = vec![0x42, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00];
        bad.extend_from_slice(&ts);
        let s = run(&[(Direction::ToServer, &bad)], 3);
        assert_eq!(s.count(SmbEvent::NbssBadType), 1);
        assert_eq!(only_file(&s).data, EICAR);
    }

    #[test]
    fn caps_hold() {
        let mut ts = Vec::new();
        for fid in 0..(MAX_FILES as u16 + 6) {
            ts.extend(nbss(&smb1_write(fid, 0, b"x", fid)));
        }
        let s = run(&[(Direction::ToServer, &ts)], 4096);
        assert_eq!(s.files().len(), MAX_FILES);
        assert_eq!(s.count(SmbEvent::TooManyFiles), 6);
        // Past the depth, bytes are counted, not kept.
        let chunk = vec![b'a'; 60_000];
        let mut ts = Vec::new();
        for i in 0..3u32 {
            ts.extend(nbss(&smb1_write(1, i * 60_000, &chunk, 1)));
        }
        let s = run(&[(Direction::ToServer, &ts)], 4096);
        let f = only_file(&s);
        assert_eq!(f.data.len(), FILE_DEPTH);
        assert_eq!(f.size, 180_000);
        assert_eq!(f.state_name(), "TRUNCATED");
        assert_eq!(s.count(SmbEvent::FileDepthReached), 1);
    }

    fn smb2_hdr(cmd: u16, response: bool, msg_id: u64, next: u32) -> Vec<u8> {
        let mut h = b"\xfeSMB".to_vec();
        h.extend_from_slice(&64u16.to_le_bytes());
        h.extend_from_slice(&[0; 6]); // credit charge, status
        h.extend_from_slice(&cmd.to_le_bytes());
        h.extend_from_slice(&[1, 0]);
        h.extend_from_slice(&u32::from(response).to_le_bytes());
        h.extend_from_slice(&next.to_le_bytes());
        h.extend_from_slice(&msg_id.to_le_bytes());
        h.resize(64, 0);
        h
    }

    const GUID: [u8; 16] = [7; 16];

    fn smb2_create(name: &str, msg_id: u64) -> Vec<u8> {
        let mut m = smb2_hdr(5, false, msg_id, 0);
        let n = utf16(name);
        let mut b = vec![57, 0];
        b.resize(44, 0);
        b.extend_from_slice(&120u16.to_le_bytes());
        b.extend_from_slice(&(n.len() as u16).to_le_bytes());
        b.resize(56, 0);
        m.extend_from_slice(&b);
        m.extend_from_slice(&n);
        m
    }

    fn smb2_create_resp(msg_id: u64) -> Vec<u8> {
        let mut m = smb2_hdr(5, true, msg_id, 0);
        let mut b = vec![89, 0];
        b.resize(64, 0);
        b.extend_from_slice(&GUID);
        b.resize(88, 0);
        m.extend_from_slice(&b);
        m
    }

    fn smb2_write(offset: u64, data: &[u8], msg_id: u64, next: u32) -> Vec<u8> {
        let mut m = smb2_hdr(9, false, msg_id, next);
        let mut b = vec![49, 0, 112, 0];
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&GUID);
        b.resize(48, 0);
        m.extend_from_slice(&b);
        m.extend_from_slice(data);
        m
    }

    fn smb2_read(offset: u64, msg_id: u64) -> Vec<u8> {
        let mut m = smb2_hdr(8, false, msg_id, 0);
        let mut b = vec![49, 0, 0, 0];
        b.extend_from_slice(&1024u32.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.extend_from_slice(&GUID);
        b.resize(49, 0);
        m.extend_from_slice(&b);
        m
    }

    fn smb2_read_resp(data: &[u8], msg_id: u64) -> Vec<u8> {
        let mut m = smb2_hdr(8, true, msg_id, 0);
        let mut b = vec![17, 0, 80, 0];
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.resize(16, 0);
        m.extend_from_slice(&b);
        m.extend_from_slice(data);
        m
    }

    fn smb2_close(msg_id: u64) -> Vec<u8> {
        let mut m = smb2_hdr(6, false, msg_id, 0);
        let mut b = vec![24, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&GUID);
        m.extend_from_slice(&b);
        m
    }

    #[test]
    fn smb2_compounded_writes_and_a_read() {
        let mut w1 = smb2_write(0, &EICAR[..30], 2, 0);
        w1.resize(w1.len().next_multiple_of(8), 0);
        let next = w1.len() as u32;
        w1[20..24].copy_from_slice(&next.to_le_bytes());
        let mut rec = w1;
        rec.extend(smb2_write(30, &EICAR[30..], 3, 0));
        let mut ts = nbss(&smb2_create("dir\\eicar.txt", 1));
        let tc1 = nbss(&smb2_create_resp(1));
        let mut ts2 = nbss(&rec);
        ts2.extend(nbss(&smb2_read(0, 4)));
        let tc2 = nbss(&smb2_read_resp(b"hello", 4));
        ts.extend(nbss(&smb2_close(5)));
        for step in [1, 13, 4096] {
            let s = run(
                &[
                    (
                        Direction::ToServer,
                        &ts[..nbss(&smb2_create("dir\\eicar.txt", 1)).len()],
                    ),
                    (Direction::ToClient, &tc1),
                    (Direction::ToServer, &ts2),
                    (Direction::ToClient, &tc2),
                ],
                step,
            );
            assert_eq!(s.files().len(), 2);
            let w = &s.files()[0];
            assert_eq!(
                (w.name.as_str(), w.dir),
                ("dir\\eicar.txt", Direction::ToServer)
            );
            assert_eq!(w.data, EICAR);
            let r = &s.files()[1];
            assert_eq!(
                (r.dir, r.data.as_slice()),
                (Direction::ToClient, &b"hello"[..])
            );
            assert!(
                SmbEvent::ALL.iter().all(|e| s.count(*e) == 0),
                "step {step}"
            );
        }
    }

    #[test]
    fn named_pipes_are_not_files() {
        // TREE_CONNECT response for a pipe share (IPC$), tree 0 as the create's.
        let mut tree = smb2_hdr(3, true, 1, 0);
        tree.extend_from_slice(&[16, 0, 2, 0]);
        tree.resize(64 + 16, 0);
        let s = run(
            &[
                (Direction::ToClient, &nbss(&tree)),
                (Direction::ToServer, &nbss(&smb2_create("srvsvc", 2))),
                (Direction::ToClient, &nbss(&smb2_create_resp(2))),
                (
                    Direction::ToServer,
                    &nbss(&smb2_write(0, b"\x05\x00\x0b", 3, 0)),
                ),
            ],
            4096,
        );
        assert!(s.files().is_empty());
    }

    #[test]
    fn large_record_is_streamed_and_gap_inside_it_skipped() {
        let data: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
        let rec = nbss(&smb2_write(0, &data, 2, 0));
        let s = run(&[(Direction::ToServer, &rec)], 1460);
        let f = only_file(&s);
        assert_eq!(f.size, 400_000);
        assert_eq!(f.data, &data[..FILE_DEPTH]);
        // A hole inside the streamed part: the framing holds, the file has a gap.
        let mut s = SmbState::new();
        s.parse(&rec[..10_000], Direction::ToServer);
        s.gap(Direction::ToServer, 5_000);
        s.parse(&rec[15_000..], Direction::ToServer);
        s.parse(&nbss(&smb2_close(3)), Direction::ToServer);
        let f = only_file(&s);
        assert!(f.gaps && f.closed);
        assert_eq!(f.size, 400_000 - 5_000);
        assert_eq!(s.count(SmbEvent::Gap), 1);
        // A gap in the framing: resync on the next header.
        let mut s = SmbState::new();
        let (ts, _) = smb1_session(3);
        s.parse(&ts[..10], Direction::ToServer);
        s.gap(Direction::ToServer, 10);
        s.parse(&ts[20..], Direction::ToServer);
        assert_eq!(only_file(&s).data, EICAR);
    }

    #[test]
    fn pseudo_random_input_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (ts, _) = smb1_session(3);
        let w2 = nbss(&smb2_write(0, EICAR, 2, 0));
        for _ in 0..3000 {
            let mut s = SmbState::new();
            for base in [&ts, &w2] {
                let mut b = base.clone();
                for _ in 0..(next() % 6) {
                    let i = (next() as usize) % b.len();
                    b[i] = next() as u8;
                }
                let cut = (next() as usize) % b.len();
                s.parse(&b[..cut], Direction::ToServer);
                if next() % 4 == 0 {
                    s.gap(Direction::ToServer, next() % 100);
                }
                s.parse(&b[cut..], Direction::ToClient);
                s.parse(&b, Direction::ToServer);
            }
            assert!(s.files().len() <= MAX_FILES);
        }
    }
}
