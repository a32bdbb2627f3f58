//! One direction of a TCP session: sequence tracking, out-of-order holding,
//! overlap resolution, gaps, depth and the recent-data window.
//!
//! Positions are kept as 64-bit stream offsets (offset 0 is the first data
//! byte: ISN + 1 after a SYN, or the first seen sequence number when picked up
//! midstream). A 32-bit sequence number is turned into an offset relative to
//! the next expected byte with wrapping arithmetic, so sequence numbers that
//! wrap at 2^32 need no special case.

use std::collections::VecDeque;

use super::window::StreamWindow;
use super::{DeliveryMode, Direction, OverlapPolicy, ReassemblyBudget, StreamEvent, TcpAnomaly};

/// Memory charged per held segment on top of its bytes (bookkeeping).
const HELD_OVERHEAD: usize = 48;

/// An out-of-order segment waiting for the hole before it to fill.
#[derive(Debug)]
struct Held {
    start: u64,
    data: Vec<u8>,
}

impl Held {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }

    fn cost(&self) -> usize {
        self.data.len() + HELD_OVERHEAD
    }
}

/// Counts an anomaly and tells the caller about it.
fn report<O: FnMut(StreamEvent<'_>)>(
    dir: Direction,
    anomaly: TcpAnomaly,
    budget: &mut ReassemblyBudget,
    out: &mut O,
) {
    budget.counters.record(anomaly);
    out(StreamEvent::Anomaly { dir, anomaly });
}

/// One direction of a TCP session.
///
/// Data is delivered in order as soon as it is contiguous; segments after a
/// hole are held (sorted, never overlapping each other) until the hole fills,
/// the peer acknowledges past it, the hold limit is reached or the session
/// ends. Delivered data cannot be taken back, so a later segment that
/// disagrees with delivered bytes is reported, never applied.
#[derive(Debug)]
pub struct TcpStream {
    started: bool,
    isn: Option<u32>,
    base_seq: u32,
    next_off: u64,
    max_end: u64,
    /// Offsets below this may be delivered (the peer's ACK in `Acked` mode).
    ack_limit: u64,
    held: VecDeque<Held>,
    held_mem: usize,
    fin_off: Option<u64>,
    fin_acked: bool,
    ended: bool,
    depth_reached: bool,
    midstream: bool,
    delivered: u64,
    gap_bytes: u64,
    window: StreamWindow,
}

impl TcpStream {
    pub(super) fn new(window: usize) -> TcpStream {
        TcpStream {
            started: false,
            isn: None,
            base_seq: 0,
            next_off: 0,
            max_end: 0,
            ack_limit: u64::MAX,
            held: VecDeque::new(),
            held_mem: 0,
            fin_off: None,
            fin_acked: false,
            ended: false,
            depth_reached: false,
            midstream: false,
            delivered: 0,
            gap_bytes: 0,
            window: StreamWindow::new(window),
        }
    }

    /// Whether a first sequence number has been seen for this direction.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The initial sequence number, when this direction's SYN was seen.
    pub fn isn(&self) -> Option<u32> {
        self.isn
    }

    /// Whether this direction was picked up without its SYN.
    pub fn is_midstream(&self) -> bool {
        self.midstream
    }

    /// Sequence number of the next byte expected in order.
    pub fn next_seq(&self) -> u32 {
        self.base_seq.wrapping_add(self.next_off as u32)
    }

    /// Sequence space used so far: the next expected sequence number less
    /// the initial one (in-order bytes plus gaps, plus one for the SYN when
    /// it was seen), what `stream_size` compares.
    pub fn seq_size(&self) -> u64 {
        self.next_off + u64::from(self.isn.is_some())
    }

    /// Stream offset of the next byte expected in order (bytes delivered plus gaps).
    pub fn offset(&self) -> u64 {
        self.next_off
    }

    /// Bytes delivered in order so far.
    pub fn delivered_bytes(&self) -> u64 {
        self.delivered
    }

    /// Bytes skipped by gaps so far.
    pub fn gap_bytes(&self) -> u64 {
        self.gap_bytes
    }

    /// Out-of-order segments currently held.
    pub fn held_segments(&self) -> usize {
        self.held.len()
    }

    /// Whether this direction sent a FIN.
    pub fn fin_seen(&self) -> bool {
        self.fin_off.is_some()
    }

    /// Whether the peer acknowledged this direction's FIN.
    pub fn fin_acked(&self) -> bool {
        self.fin_acked
    }

    /// Whether [`StreamEvent::StreamEnd`] was emitted for this direction.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Whether this direction hit the reassembly depth.
    pub fn depth_reached(&self) -> bool {
        self.depth_reached
    }

    /// The last up to `ReassemblyConfig::window` bytes delivered in order,
    /// contiguous (emptied at each gap). This is the stream buffer the
    /// signature engine inspects after each segment.
    pub fn window(&self) -> &[u8] {
        self.window.data()
    }

    /// Stream offset of the first byte of [`TcpStream::window`].
    pub fn window_offset(&self) -> u64 {
        self.window.start_offset()
    }

    /// Bytes of reassembly memory this direction holds from the budget.
    pub fn memuse(&self) -> usize {
        self.held_mem + self.window.memuse()
    }

    /// Starts (or restarts, on a SYN with a new ISN) the direction at `base_seq`.
    /// A restart keeps offsets growing, so consumers never see them go back.
    pub(super) fn start(
        &mut self,
        base_seq: u32,
        isn: Option<u32>,
        midstream: bool,
        budget: &mut ReassemblyBudget,
    ) {
        self.drop_held(budget);
        self.started = true;
        self.isn = isn;
        self.base_seq = base_seq.wrapping_sub(self.next_off as u32);
        self.max_end = self.next_off;
        self.ack_limit = match budget.config().delivery {
            DeliveryMode::Immediate => u64::MAX,
            DeliveryMode::Acked => self.next_off,
        };
        self.fin_off = None;
        self.fin_acked = false;
        self.midstream = midstream;
        self.window.restart(self.next_off);
    }

    /// Offset of `seq` relative to stream offset 0; negative before the start.
    fn signed_offset(&self, seq: u32) -> i64 {
        let delta = i64::from(seq.wrapping_sub(self.next_seq()) as i32);
        // stream offsets stay far below 2^63
        (self.next_off as i64).saturating_add(delta)
    }

    /// Whether a segment of `len` bytes at `seq` is a keep-alive probe: at
    /// most one (garbage) byte just before the highest byte seen.
    pub(super) fn is_keepalive(&self, seq: u32, len: usize) -> bool {
        self.started
            && len <= 1
            && self.max_end > 0
            && self.signed_offset(seq).saturating_add(1) == self.max_end as i64
    }

    /// Takes the payload of a segment whose first byte has sequence number `seq`.
    pub(super) fn on_data<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        seq: u32,
        payload: &[u8],
        policy: OverlapPolicy,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        if !self.started || payload.is_empty() || self.depth_reached {
            return;
        }
        let signed_start = self.signed_offset(seq);
        if signed_start.saturating_add(payload.len() as i64) <= 0 {
            // entirely before the first byte (e.g. a resent SYN's data)
            budget.counters.overlap += 1;
            return;
        }
        let mut data = payload;
        let mut start = 0u64;
        if signed_start < 0 {
            data = data
                .get(signed_start.unsigned_abs() as usize..)
                .unwrap_or(&[]);
        } else {
            start = signed_start as u64;
        }
        if let Some(fin) = self.fin_off {
            // bytes after the FIN are not part of the stream
            if start >= fin {
                return;
            }
            let keep = usize::try_from(fin - start)
                .unwrap_or(usize::MAX)
                .min(data.len());
            data = data.get(..keep).unwrap_or(&[]);
        }
        let end = start + data.len() as u64;
        self.max_end = self.max_end.max(end);
        loop {
            if self.depth_reached || data.is_empty() {
                return;
            }
            if end <= self.next_off {
                self.overlap_with_delivered(dir, start, data, budget, out);
                return;
            }
            if start < self.next_off {
                let cut = (self.next_off - start) as usize;
                let (old, new) = data.split_at(cut.min(data.len()));
                self.overlap_with_delivered(dir, start, old, budget, out);
                data = new;
                start = self.next_off;
            }
            if start == self.next_off {
                let overlaps_held = match self.held.front() {
                    Some(h) => h.start < end,
                    None => false,
                };
                if self.ack_limit != u64::MAX {
                    // Acked mode: hold until acknowledged, unless there is no room
                    let room = self.held.len() < budget.config().max_ooo_segments
                        && budget.has_room(data.len() + 2 * HELD_OVERHEAD);
                    if !room || !self.insert(dir, start, data, policy, false, budget, out) {
                        // no room: deliver it now rather than lose it
                        self.ack_limit = self.ack_limit.max(end);
                        self.insert(dir, start, data, policy, true, budget, out);
                    }
                } else if overlaps_held {
                    self.insert(dir, start, data, policy, true, budget, out);
                } else {
                    self.deliver(dir, data, budget, out);
                }
                self.drain(dir, budget, out);
                return;
            }
            if self.held.len() < budget.config().max_ooo_segments {
                let tight = !budget.has_room(data.len() + 2 * HELD_OVERHEAD);
                if tight && self.release_unacked(dir, budget, out) {
                    continue;
                }
                self.insert(dir, start, data, policy, false, budget, out);
                return;
            }
            // hold list full: move on to the first held byte (or to this
            // segment), delivering the first held segment even if unacknowledged
            report(dir, TcpAnomaly::OutOfOrderLimit, budget, out);
            let target = match self.held.front() {
                Some(h) => {
                    self.ack_limit = self.ack_limit.max(h.end());
                    h.start.min(start)
                }
                None => start,
            };
            self.skip_to(dir, target, budget, out);
            self.drain(dir, budget, out);
        }
    }

    /// Memory is short: delivers the unacknowledged data contiguous with the
    /// stream (Acked mode) to free it; false when there was none.
    fn release_unacked<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) -> bool {
        let mut run_end = self.next_off;
        for h in &self.held {
            if h.start > run_end {
                break;
            }
            run_end = run_end.max(h.end());
        }
        if run_end <= self.next_off || run_end <= self.ack_limit {
            return false;
        }
        self.ack_limit = run_end;
        let before = self.next_off;
        self.drain(dir, budget, out);
        self.next_off > before
    }

    /// A segment resent bytes that were already delivered.
    fn overlap_with_delivered<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        start: u64,
        data: &[u8],
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        budget.counters.overlap += 1;
        if let Some(old) = self.window.get(start, data.len()) {
            if old != data {
                report(dir, TcpAnomaly::OverlapDifferentData, budget, out);
            }
        }
    }

    /// Holds `data` at `start`, resolving overlaps with held segments by
    /// `policy`; false when the memcap refused it. `force` takes the memory
    /// even over the memcap (for data delivered at once).
    #[allow(clippy::too_many_arguments)]
    fn insert<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        start: u64,
        data: &[u8],
        policy: OverlapPolicy,
        force: bool,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) -> bool {
        let end = start + data.len() as u64;
        let first = self.held.partition_point(|h| h.end() <= start);
        let mut last = first;
        while self.held.get(last).is_some_and(|h| h.start < end) {
            last += 1;
        }
        if first == last {
            let cost = data.len() + HELD_OVERHEAD;
            if force {
                budget.force_reserve(cost);
            } else if !budget.try_reserve(cost) {
                report(dir, TcpAnomaly::SegmentMemcapDrop, budget, out);
                return false;
            }
            self.held_mem += cost;
            let data = budget.copy_of(data);
            self.held.insert(first, Held { start, data });
            return true;
        }
        budget.counters.overlap += 1;

        // same range as one held segment: resolve in place
        if last == first + 1 {
            if let Some(h) = self.held.get_mut(first) {
                if h.start == start && h.end() == end {
                    if h.data != data {
                        if policy.new_data_wins(start, end, start, end) {
                            h.data.copy_from_slice(data);
                        }
                        report(dir, TcpAnomaly::OverlapDifferentData, budget, out);
                    }
                    return true;
                }
            }
        }

        let mut merged = budget.copy_of(data);
        let mut differs = false;
        for h in self.held.range(first..last) {
            let (os, oe) = (start.max(h.start), end.min(h.end()));
            let new_part = merged.get_mut((os - start) as usize..(oe - start) as usize);
            let old_part = h.data.get((os - h.start) as usize..(oe - h.start) as usize);
            let (Some(new_part), Some(old_part)) = (new_part, old_part) else {
                continue;
            };
            if new_part != old_part {
                differs = true;
                if !policy.new_data_wins(start, end, h.start, h.end()) {
                    new_part.copy_from_slice(old_part);
                }
            }
        }
        if differs {
            report(dir, TcpAnomaly::OverlapDifferentData, budget, out);
        }

        // the held bytes outside [start, end) stay as they are
        let left_len = match self.held.get(first) {
            Some(h) if h.start < start => (start - h.start) as usize,
            _ => 0,
        };
        let right_from = match self.held.get(last - 1) {
            Some(h) if h.end() > end => Some((end - h.start) as usize),
            _ => None,
        };
        let old_cost: usize = self.held.range(first..last).map(Held::cost).sum();
        let mut new_cost = merged.len() + HELD_OVERHEAD;
        if left_len > 0 {
            new_cost += left_len + HELD_OVERHEAD;
        }
        if let Some(h) = self.held.get(last - 1) {
            if let Some(from) = right_from {
                new_cost += h.data.len().saturating_sub(from) + HELD_OVERHEAD;
            }
        }
        if new_cost > old_cost {
            let extra = new_cost - old_cost;
            if force {
                budget.force_reserve(extra);
            } else if !budget.try_reserve(extra) {
                report(dir, TcpAnomaly::SegmentMemcapDrop, budget, out);
                budget.recycle(merged);
                return false;
            }
        } else {
            budget.release(old_cost - new_cost);
        }
        self.held_mem = self.held_mem + new_cost - old_cost;

        // rare path: allocating here is fine
        let mut removed: Vec<Held> = self.held.drain(first..last).collect();
        let tail = match (removed.last(), right_from) {
            (Some(h), Some(from)) => h.data.get(from..).map(|d| Held {
                start: end,
                data: budget.copy_of(d),
            }),
            _ => None,
        };
        let mut at = first;
        if left_len > 0 && !removed.is_empty() {
            let mut left = removed.swap_remove(0);
            left.data.truncate(left_len);
            self.held.insert(at, left);
            at += 1;
        }
        self.held.insert(
            at,
            Held {
                start,
                data: merged,
            },
        );
        if let Some(t) = tail {
            self.held.insert(at + 1, t);
        }
        for h in removed {
            budget.recycle(h.data);
        }
        true
    }

    /// Delivers `data`, which starts at the next expected offset, up to the depth.
    fn deliver<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        data: &[u8],
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        let depth = budget.config().depth;
        let mut data = data;
        if depth > 0 {
            let room = usize::try_from(depth.saturating_sub(self.next_off)).unwrap_or(usize::MAX);
            data = data.get(..room.min(data.len())).unwrap_or(&[]);
        }
        if !data.is_empty() {
            if !self.window.push(data, budget) {
                report(dir, TcpAnomaly::WindowMemcapDrop, budget, out);
            }
            let offset = self.next_off;
            let len = data.len() as u64;
            self.next_off += len;
            self.delivered += len;
            budget.counters.reassembled_bytes += len;
            out(StreamEvent::Data { dir, offset, data });
        }
        if depth > 0 && self.next_off >= depth {
            self.reach_depth(dir, budget, out);
        }
    }

    /// Skips `len` missing bytes.
    fn gap<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        len: u64,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        let depth = budget.config().depth;
        let mut len = len;
        if depth > 0 {
            len = len.min(depth.saturating_sub(self.next_off));
        }
        if len > 0 {
            let offset = self.next_off;
            self.next_off += len;
            self.gap_bytes += len;
            budget.counters.gap_bytes += len;
            self.window.restart(self.next_off);
            report(dir, TcpAnomaly::Gap, budget, out);
            out(StreamEvent::Gap { dir, offset, len });
        }
        if depth > 0 && self.next_off >= depth {
            self.reach_depth(dir, budget, out);
        }
    }

    fn reach_depth<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        if !self.depth_reached {
            self.depth_reached = true;
            self.drop_held(budget);
            report(dir, TcpAnomaly::DepthReached, budget, out);
        }
    }

    /// Delivers held segments that became contiguous.
    fn drain<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        while !self.depth_reached {
            let (start, end) = match self.held.front() {
                Some(h) if h.start <= self.next_off => (h.start, h.end()),
                _ => break,
            };
            let until = end.min(self.ack_limit);
            if end > self.next_off && until <= self.next_off {
                break; // waiting for the peer's ACK
            }
            let Some(h) = self.held.pop_front() else {
                break;
            };
            let cost = h.cost();
            self.held_mem -= cost;
            budget.release(cost);
            if end > self.next_off {
                let from = (self.next_off - start) as usize;
                let to = (until - start) as usize;
                self.deliver(dir, h.data.get(from..to).unwrap_or(&[]), budget, out);
            }
            if self.next_off < end && !self.depth_reached {
                // partly acknowledged: keep the rest
                self.held_mem += cost;
                budget.force_reserve(cost);
                self.held.push_front(h);
                break;
            }
            budget.recycle(h.data);
        }
        self.check_end(dir, out);
    }

    /// Moves the next expected offset to `target`, delivering held data on the
    /// way and reporting the missing ranges as gaps.
    fn skip_to<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        target: u64,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        // moving on to `target` means giving out everything before it
        self.ack_limit = self.ack_limit.max(target);
        while self.next_off < target && !self.depth_reached {
            let held_start = match self.held.front() {
                Some(h) if h.start < target => Some(h.start),
                _ => None,
            };
            match held_start {
                Some(s) => {
                    if s > self.next_off {
                        self.gap(dir, s - self.next_off, budget, out);
                    }
                    self.drain(dir, budget, out);
                }
                None => self.gap(dir, target - self.next_off, budget, out),
            }
        }
        self.drain(dir, budget, out);
    }

    /// This direction sent a FIN with sequence number `fin_seq`.
    pub(super) fn on_fin<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        fin_seq: u32,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        if !self.started || self.fin_off.is_some() {
            return;
        }
        let off = self.signed_offset(fin_seq);
        // a FIN before bytes already delivered would truncate the past: not credible
        if off < 0 || (off as u64) < self.next_off {
            return;
        }
        let off = off as u64;
        self.fin_off = Some(off);
        self.max_end = self.max_end.max(off);
        // held bytes past the FIN are not part of the stream
        while self.held.back().is_some_and(|h| h.end() > off) {
            let Some(mut h) = self.held.pop_back() else {
                break;
            };
            let cost = h.cost();
            if h.start < off {
                h.data.truncate((off - h.start) as usize);
                self.held_mem = self.held_mem - cost + h.cost();
                budget.release(cost - h.cost());
                self.held.push_back(h);
                break;
            }
            self.held_mem -= cost;
            budget.release(cost);
        }
        self.check_end(dir, out);
    }

    /// The peer acknowledged everything before `ack`: a hole it covers will
    /// never be filled, so skip it.
    pub(super) fn on_peer_ack<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        ack: u32,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        if !self.started {
            return;
        }
        let acked = self.signed_offset(ack);
        if acked <= 0 {
            return;
        }
        let acked = acked as u64;
        if let Some(fin) = self.fin_off {
            if acked > fin {
                self.fin_acked = true;
            }
        }
        if self.ack_limit != u64::MAX {
            self.ack_limit = self.ack_limit.max(acked);
        }
        // only skip over ranges we saw data beyond: a forged ACK cannot push
        // the stream past bytes nobody sent
        let target = acked.min(self.max_end);
        if self.depth_reached {
            return;
        }
        if target > self.next_off {
            self.skip_to(dir, target, budget, out);
        } else {
            self.drain(dir, budget, out);
        }
    }

    /// The session is over: deliver what is held, report what is missing, end the stream.
    pub(super) fn finish<O: FnMut(StreamEvent<'_>)>(
        &mut self,
        dir: Direction,
        budget: &mut ReassemblyBudget,
        out: &mut O,
    ) {
        if self.started && !self.depth_reached {
            self.ack_limit = u64::MAX;
            let mut target = self.max_end;
            if let Some(fin) = self.fin_off {
                target = target.max(fin);
            }
            if let Some(h) = self.held.back() {
                target = target.max(h.end());
            }
            self.skip_to(dir, target, budget, out);
        }
        self.drop_held(budget);
        if !self.ended {
            self.ended = true;
            out(StreamEvent::StreamEnd { dir });
        }
    }

    fn check_end<O: FnMut(StreamEvent<'_>)>(&mut self, dir: Direction, out: &mut O) {
        if !self.ended && self.fin_off.is_some_and(|f| self.next_off >= f) {
            self.ended = true;
            out(StreamEvent::StreamEnd { dir });
        }
    }

    fn drop_held(&mut self, budget: &mut ReassemblyBudget) {
        for h in self.held.drain(..) {
            budget.recycle(h.data);
        }
        budget.release(self.held_mem);
        self.held_mem = 0;
    }

    /// Returns all memory to the budget (held segments and window).
    pub(super) fn release(&mut self, budget: &mut ReassemblyBudget) {
        self.drop_held(budget);
        self.window.release(budget);
    }
}
