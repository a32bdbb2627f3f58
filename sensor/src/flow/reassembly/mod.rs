//! TCP session tracking and stream reassembly.
//!
//! A [`TcpSession`] follows one connection in both directions: the handshake,
//! the session state, and for each direction a [`TcpStream`] that turns
//! segments into in-order data. It takes plain values ([`Segment`]: sequence
//! and acknowledgement numbers, flags, payload, timestamp), so it depends on
//! neither the decoder nor the flow table.
//!
//! ```text
//! let mut budget = ReassemblyBudget::new(ReassemblyConfig::default()); // one per worker
//! let mut session = TcpSession::new(budget.config());                   // one per TCP flow
//! session.on_segment(Direction::ToServer, &segment, &mut budget, &mut |event| match event {
//!     StreamEvent::Data { dir, data, .. } => app_parser.feed(dir, data),
//!     StreamEvent::Gap { dir, len, .. } => app_parser.gap(dir, len),
//!     _ => {}
//! });
//! let stream_buffer = session.stream(Direction::ToServer).window(); // for content matching
//! // when the flow table drops the flow (timeout, eviction, end of capture):
//! session.finish(&mut budget, &mut |event| { /* last data, gaps, StreamEnd, Closed */ });
//! ```
//!
//! Design choices:
//! - [`DeliveryMode::Immediate`] (default) delivers data as soon as it is in
//!   order, so one-sided captures reassemble too and the in-order path does
//!   not copy: data goes to the callback straight from the packet, and only
//!   into the bounded window. Overlap policies then decide between copies
//!   still held out of order; a later segment that disagrees with bytes
//!   already delivered is reported ([`TcpAnomaly::OverlapDifferentData`],
//!   when the bytes are still in the window) and otherwise ignored.
//! - [`DeliveryMode::Acked`] delivers data once the peer acknowledged it, as
//!   Suricata does in IDS mode, so the policy also decides between an
//!   in-order segment and a different resend of it (suricata-verify's
//!   `eve-overlap-payload-*` cases). It copies every segment (into recycled
//!   buffers) and delays delivery by one round trip.
//! - Memory for held segments and windows comes from the worker's
//!   [`ReassemblyBudget`]; a session gives it back in [`TcpSession::finish`] or
//!   [`TcpSession::release`], which the owner must call before dropping it.
//! - Every path that can not wait (hold limit, memcap, ACK past a hole,
//!   session end) moves on with an explicit [`StreamEvent::Gap`], so app
//!   parsers can resync; nothing is silently skipped.

mod counters;
mod policy;
mod stream;
mod window;

pub use counters::{TcpAnomaly, TcpCounters};
pub use policy::{HostPolicies, OverlapPolicy};
pub use stream::TcpStream;

/// Spare segment buffers kept for reuse, and the largest one worth keeping.
const SPARE_BUFFERS: usize = 1024;
const SPARE_BUFFER_MAX: usize = 4096;

/// A RST is accepted when its sequence number is within this many bytes of
/// the next expected one (a blind RST must guess that closely).
const RST_SEQ_TOLERANCE: u32 = 1 << 20;

/// Which way a segment travels, from the flow owner's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side that opened the flow (client) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// 0 for [`Direction::ToServer`], 1 for [`Direction::ToClient`].
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// TCP header flags, as the raw flags byte (FIN is bit 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgement field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// The parts of one TCP segment that tracking needs.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (used only when [`TcpFlags::ACK`] is set).
    pub ack: u32,
    /// Header flags.
    pub flags: TcpFlags,
    /// TCP payload.
    pub payload: &'a [u8],
    /// Capture time in microseconds since the Unix epoch.
    pub ts_us: u64,
}

/// What feeding a segment produced, in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The three-way handshake completed, or the session was picked up midstream.
    Established,
    /// In-order bytes of one direction, starting at stream offset `offset`.
    Data {
        /// Direction of the data.
        dir: Direction,
        /// Stream offset of `data[0]` (0 is the first byte after the SYN).
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// `len` bytes at `offset` are missing and will not come: parsers should resync.
    Gap {
        /// Direction of the gap.
        dir: Direction,
        /// Stream offset of the first missing byte.
        offset: u64,
        /// Missing bytes.
        len: u64,
    },
    /// An anomaly, already counted in the budget's [`TcpCounters`].
    Anomaly {
        /// Direction of the segment that caused it.
        dir: Direction,
        /// What happened.
        anomaly: TcpAnomaly,
    },
    /// No more data will come in this direction (FIN reached, reset or session end).
    StreamEnd {
        /// Direction that ended.
        dir: Direction,
    },
    /// The session is over: both FINs acknowledged, or reset.
    Closed {
        /// Whether it ended with a RST.
        reset: bool,
    },
}

/// Connection state, seen from the sensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// Nothing seen yet.
    New,
    /// The client's SYN was seen.
    SynSent,
    /// The server's SYN/ACK was seen.
    SynRecv,
    /// Handshake completed (or picked up midstream).
    Established,
    /// One side sent a FIN that is not acknowledged yet.
    FinWait1,
    /// One side's FIN was acknowledged; the other side may still send.
    FinWait2,
    /// Both sides sent a FIN; not both acknowledged yet.
    Closing,
    /// Both FINs acknowledged.
    Closed,
    /// A valid RST ended the session.
    Reset,
}

/// When in-order data is handed to the consumer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeliveryMode {
    /// As soon as it is in order: lowest latency, works on one-sided captures.
    /// A resend that disagrees with delivered bytes is only reported.
    #[default]
    Immediate,
    /// Once the peer acknowledged it (Suricata's IDS mode), so the overlap
    /// policy also decides between an in-order segment and a resend of it.
    /// Unacknowledged data is delivered anyway when the hold limit or the
    /// memcap is reached, and at session end.
    Acked,
}

/// Reassembly settings, shared by all sessions of a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Overlap policy for new sessions (see [`TcpSession::set_policy`] for per-host ones).
    pub policy: OverlapPolicy,
    /// Per-host policies (`host-os-policy`), applied to the host receiving
    /// the data; hosts not listed use `policy`.
    pub hosts: std::sync::Arc<HostPolicies>,
    /// Bytes reassembled per direction before giving up on it; 0 = no limit. Default 1 MiB.
    pub depth: u64,
    /// Bytes of held segments and windows all sessions of a worker may use. Default 64 MiB.
    pub memcap: usize,
    /// Out-of-order segments held per direction before forcing a gap. Default 256.
    pub max_ooo_segments: usize,
    /// Bytes of recent in-order data kept per direction for stream inspection; 0 = none. Default 32 KiB.
    pub window: usize,
    /// Whether sessions seen without their SYN are tracked (reassembled and
    /// parsed). Default false, as the reference IDS's `stream.midstream`:
    /// their packets are still inspected one by one.
    pub midstream: bool,
    /// When in-order data is delivered. Default [`DeliveryMode::Immediate`].
    pub delivery: DeliveryMode,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            policy: OverlapPolicy::default(),
            hosts: Default::default(),
            depth: 1 << 20,
            memcap: 64 << 20,
            max_ooo_segments: 256,
            window: 32 << 10,
            midstream: false,
            delivery: DeliveryMode::Immediate,
        }
    }
}

/// A worker's reassembly resources: its settings, its memory budget, and its
/// counters. Owned by the worker and lent to each call; never shared.
///
/// It also keeps up to 1024 spare segment buffers of at most 4 KiB for reuse
/// (at most 4 MiB, outside [`ReassemblyBudget::memuse`]).
#[derive(Debug)]
pub struct ReassemblyBudget {
    config: ReassemblyConfig,
    memuse: usize,
    memuse_peak: usize,
    spare: Vec<Vec<u8>>,
    /// Counters of everything the worker's sessions saw.
    pub counters: TcpCounters,
}

impl ReassemblyBudget {
    /// A budget with nothing in use.
    pub fn new(config: ReassemblyConfig) -> ReassemblyBudget {
        ReassemblyBudget {
            config,
            memuse: 0,
            memuse_peak: 0,
            spare: Vec::new(),
            counters: TcpCounters::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Bytes currently held by sessions.
    pub fn memuse(&self) -> usize {
        self.memuse
    }

    /// Highest [`ReassemblyBudget::memuse`] so far.
    pub fn memuse_peak(&self) -> usize {
        self.memuse_peak
    }

    /// Calls `f` with every counter, plus the `tcp.reassembly_memuse` gauge.
    pub fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters.visit(f);
        f("tcp.reassembly_memuse", self.memuse as u64);
    }

    fn try_reserve(&mut self, bytes: usize) -> bool {
        match self.memuse.checked_add(bytes) {
            Some(total) if total <= self.config.memcap => {
                self.memuse = total;
                self.memuse_peak = self.memuse_peak.max(total);
                true
            }
            _ => false,
        }
    }

    fn has_room(&self, bytes: usize) -> bool {
        self.memuse.saturating_add(bytes) <= self.config.memcap
    }

    fn force_reserve(&mut self, bytes: usize) {
        self.memuse = self.memuse.saturating_add(bytes);
        self.memuse_peak = self.memuse_peak.max(self.memuse);
    }

    fn release(&mut self, bytes: usize) {
        self.memuse = self.memuse.saturating_sub(bytes);
    }

    /// A copy of `data` in a recycled buffer when one is spare.
    fn copy_of(&mut self, data: &[u8]) -> Vec<u8> {
        match self.spare.pop() {
            Some(mut buf) => {
                buf.extend_from_slice(data);
                buf
            }
            None => data.to_vec(),
        }
    }

    /// Keeps a no longer needed segment buffer for reuse.
    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() <= SPARE_BUFFER_MAX {
            buf.clear();
            self.spare.push(buf);
        }
    }
}

/// One TCP connection, both directions.
#[derive(Debug)]
pub struct TcpSession {
    streams: [TcpStream; 2],
    state: TcpState,
    /// Overlap policy per direction: that of the host receiving the data.
    policies: [OverlapPolicy; 2],
    client: Option<Direction>,
    midstream: bool,
    counted: bool,
    established_sent: bool,
    closed_sent: bool,
    last_ts_us: u64,
    /// Sequence number of the first SYN, and of the different SYNs resent
    /// before the handshake went on (at most [`MAX_SYN_QUEUED`]).
    first_syn: u32,
    syn_queue: Vec<u32>,
}

/// Different SYNs remembered during one handshake; more raise
/// [`TcpAnomaly::SynFlood`] (the reference IDS's `stream.max-syn-queued` default).
pub const MAX_SYN_QUEUED: usize = 10;

impl TcpSession {
    /// A session that has seen nothing, with the policy and window size of `config`.
    pub fn new(config: &ReassemblyConfig) -> TcpSession {
        TcpSession {
            streams: [TcpStream::new(config.window), TcpStream::new(config.window)],
            state: TcpState::New,
            policies: [config.policy; 2],
            client: None,
            midstream: false,
            counted: false,
            established_sent: false,
            closed_sent: false,
            last_ts_us: 0,
            first_syn: 0,
            syn_queue: Vec::new(),
        }
    }

    /// Changes the overlap policy of both directions.
    pub fn set_policy(&mut self, policy: OverlapPolicy) {
        self.policies = [policy; 2];
    }

    /// Changes the overlap policy of the data going in `dir`: that of the
    /// host receiving it (a per-host `host-os-policy`).
    pub fn set_receiver_policy(&mut self, dir: Direction, policy: OverlapPolicy) {
        self.policies[dir.index()] = policy;
    }

    /// The overlap policy of the data going in `dir`.
    pub fn policy(&self, dir: Direction) -> OverlapPolicy {
        self.policies[dir.index()]
    }

    /// Connection state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Whether the session was picked up without its handshake.
    pub fn is_midstream(&self) -> bool {
        self.midstream
    }

    /// Which direction sent the SYN (or the first packet, midstream).
    pub fn client(&self) -> Option<Direction> {
        self.client
    }

    /// One direction's stream: offsets, counts, and its [`TcpStream::window`].
    pub fn stream(&self, dir: Direction) -> &TcpStream {
        &self.streams[dir.index()]
    }

    /// Timestamp of the last segment fed, in microseconds.
    pub fn last_ts_us(&self) -> u64 {
        self.last_ts_us
    }

    /// Bytes of reassembly memory this session holds from the budget.
    pub fn memuse(&self) -> usize {
        self.streams[0].memuse() + self.streams[1].memuse()
    }

    /// Whether the session is over (closed or reset).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, TcpState::Closed | TcpState::Reset)
    }

    /// Whether `seg` opens a new connection on the same addresses and ports
    /// (a SYN after this session closed or was reset): the flow owner should
    /// then [`TcpSession::finish`] this session and start a new one.
    pub fn is_port_reuse(&self, seg: &Segment<'_>) -> bool {
        self.is_closed() && seg.flags.contains(TcpFlags::SYN) && !seg.flags.contains(TcpFlags::ACK)
    }

    /// Feeds one segment travelling in `dir`; calls `out` with the data,
    /// gaps, anomalies and state changes it produced, in order.
    pub fn on_segment(
        &mut self,
        dir: Direction,
        seg: &Segment<'_>,
        budget: &mut ReassemblyBudget,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        if !self.counted {
            self.counted = true;
            budget.counters.sessions += 1;
        }
        budget.counters.segments += 1;
        self.last_ts_us = seg.ts_us;
        let flags = seg.flags;
        let syn = flags.contains(TcpFlags::SYN);
        let ack = flags.contains(TcpFlags::ACK);
        let fin = flags.contains(TcpFlags::FIN);
        let rst = flags.contains(TcpFlags::RST);
        match (syn, ack) {
            (true, false) => budget.counters.syn += 1,
            (true, true) => budget.counters.synack += 1,
            _ => {}
        }
        if rst {
            budget.counters.rst += 1;
        }
        if fin {
            budget.counters.fin += 1;
        }
        if self.is_closed() {
            return;
        }
        if rst {
            self.on_rst(dir, seg, budget, out);
            return;
        }
        if syn && !self.on_syn(dir, seg, ack, budget, out) {
            return;
        }
        let i = dir.index();
        if self.state == TcpState::New {
            if !budget.config().midstream {
                return;
            }
            self.client = Some(dir);
            self.midstream = true;
            budget.counters.midstream_pickups += 1;
        }
        // a direction seen without its SYN starts at its first data (or FIN):
        // a bare ACK's sequence number is not worth trusting
        if !self.streams[i].is_started() && (!seg.payload.is_empty() || fin) {
            self.streams[i].start(seg.seq, None, true, budget);
        }
        match self.state {
            TcpState::New => self.establish(out),
            TcpState::SynRecv if ack && !syn => self.establish(out),
            TcpState::SynSent | TcpState::SynRecv if !syn && !seg.payload.is_empty() => {
                self.establish(out)
            }
            _ => {}
        }

        // data on a SYN starts after the SYN's sequence number
        let data_seq = if syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let policy = self.policies[i];
        let keepalive = !syn && !fin && self.streams[i].is_keepalive(seg.seq, seg.payload.len());
        if keepalive {
            budget.counters.keepalive += 1;
        } else {
            self.streams[i].on_data(dir, data_seq, seg.payload, policy, budget, out);
        }
        if ack {
            let other = dir.opposite();
            self.streams[other.index()].on_peer_ack(other, seg.ack, budget, out);
        }
        if fin {
            let fin_seq = data_seq.wrapping_add(seg.payload.len() as u32);
            self.streams[i].on_fin(dir, fin_seq, budget, out);
        }
        self.update_close_state(budget, out);
    }

    /// Handles a SYN or SYN/ACK; returns whether the segment should be processed further.
    fn on_syn(
        &mut self,
        dir: Direction,
        seg: &Segment<'_>,
        ack: bool,
        budget: &mut ReassemblyBudget,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) -> bool {
        let i = dir.index();
        let data_base = seg.seq.wrapping_add(1);
        if !ack {
            match self.state {
                TcpState::New => {
                    self.client = Some(dir);
                    self.state = TcpState::SynSent;
                    self.first_syn = seg.seq;
                    self.streams[i].start(data_base, Some(seg.seq), false, budget);
                    true
                }
                TcpState::SynSent if self.client == Some(dir) => {
                    if seg.seq != self.first_syn && !self.syn_queue.contains(&seg.seq) {
                        if self.syn_queue.len() < MAX_SYN_QUEUED {
                            self.syn_queue.push(seg.seq);
                        } else {
                            budget.counters.record(TcpAnomaly::SynFlood);
                            out(StreamEvent::Anomaly {
                                dir,
                                anomaly: TcpAnomaly::SynFlood,
                            });
                        }
                    }
                    if self.streams[i].isn() != Some(seg.seq) {
                        // the client gave up and retried with a new ISN
                        self.streams[i].start(data_base, Some(seg.seq), false, budget);
                    }
                    true
                }
                TcpState::SynSent if self.streams[i].isn().is_none() => {
                    // the server answers with a SYN of its own (simultaneous
                    // open, split handshake): take its ISN
                    self.streams[i].start(data_base, Some(seg.seq), false, budget);
                    true
                }
                // SYN on a running session: not a new stream, ignore it
                _ => false,
            }
        } else {
            let client = dir.opposite();
            match self.state {
                TcpState::New => {
                    // SYN not seen: the SYN/ACK tells both ISNs
                    self.client = Some(client);
                    self.state = TcpState::SynRecv;
                    self.streams[i].start(data_base, Some(seg.seq), false, budget);
                    self.streams[client.index()].start(seg.ack, None, false, budget);
                    true
                }
                TcpState::SynSent if self.client == Some(client) => {
                    let want = self.streams[client.index()].next_seq();
                    if seg.ack != want {
                        budget.counters.record(TcpAnomaly::SynAckWrongAck);
                        out(StreamEvent::Anomaly {
                            dir,
                            anomaly: TcpAnomaly::SynAckWrongAck,
                        });
                        return false;
                    }
                    self.state = TcpState::SynRecv;
                    self.streams[i].start(data_base, Some(seg.seq), false, budget);
                    true
                }
                TcpState::SynRecv if self.client == Some(client) => {
                    // resent SYN/ACK; keep the first ISN, but its ACK still counts
                    self.streams[i].isn() == Some(seg.seq)
                }
                TcpState::SynSent if self.client == Some(dir) => {
                    // split handshake: the client acknowledges the server's SYN
                    let server = &self.streams[client.index()];
                    if server.isn().is_none() || seg.ack != server.next_seq() {
                        budget.counters.record(TcpAnomaly::SynAckWrongAck);
                        out(StreamEvent::Anomaly {
                            dir,
                            anomaly: TcpAnomaly::SynAckWrongAck,
                        });
                        return false;
                    }
                    self.state = TcpState::SynRecv;
                    true
                }
                _ => false,
            }
        }
    }

    fn on_rst(
        &mut self,
        dir: Direction,
        seg: &Segment<'_>,
        budget: &mut ReassemblyBudget,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        let stream = &self.streams[dir.index()];
        if stream.is_started() {
            let distance = (seg.seq.wrapping_sub(stream.next_seq()) as i32).unsigned_abs();
            if distance > RST_SEQ_TOLERANCE {
                budget.counters.record(TcpAnomaly::RstInvalid);
                out(StreamEvent::Anomaly {
                    dir,
                    anomaly: TcpAnomaly::RstInvalid,
                });
                return;
            }
        }
        self.state = TcpState::Reset;
        self.close(true, budget, out);
    }

    fn establish(&mut self, out: &mut impl FnMut(StreamEvent<'_>)) {
        self.state = TcpState::Established;
        if !self.established_sent {
            self.established_sent = true;
            out(StreamEvent::Established);
        }
    }

    fn update_close_state(
        &mut self,
        budget: &mut ReassemblyBudget,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        let [a, b] = &self.streams;
        let state = match (a.fin_seen(), b.fin_seen()) {
            (false, false) => return,
            (true, true) if a.fin_acked() && b.fin_acked() => TcpState::Closed,
            (true, true) => TcpState::Closing,
            (true, false) if a.fin_acked() => TcpState::FinWait2,
            (false, true) if b.fin_acked() => TcpState::FinWait2,
            _ => TcpState::FinWait1,
        };
        self.state = state;
        if state == TcpState::Closed {
            self.close(false, budget, out);
        }
    }

    /// Ends both directions and reports the session closed (once).
    fn close(
        &mut self,
        reset: bool,
        budget: &mut ReassemblyBudget,
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.streams[dir.index()].finish(dir, budget, out);
        }
        if !self.closed_sent {
            self.closed_sent = true;
            out(StreamEvent::Closed { reset });
        }
    }

    /// The flow is going away (timeout, eviction, end of capture): delivers
    /// held data with gaps for what is missing, ends both directions, reports
    /// [`StreamEvent::Closed`] if not done yet, and returns all memory.
    pub fn finish(&mut self, budget: &mut ReassemblyBudget, out: &mut impl FnMut(StreamEvent<'_>)) {
        let reset = self.state == TcpState::Reset;
        self.close(reset, budget, out);
        if !reset {
            self.state = TcpState::Closed;
        }
        self.release(budget);
    }

    /// Returns all reassembly memory to the budget without delivering anything.
    pub fn release(&mut self, budget: &mut ReassemblyBudget) {
        for s in &mut self.streams {
            s.release(budget);
        }
    }
}

#[cfg(test)]
mod test;
