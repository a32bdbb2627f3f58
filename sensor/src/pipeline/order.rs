//! Output stage: puts the events of all workers back in packet order and
//! writes them, so the output bytes do not depend on the number of workers.

use std::collections::BTreeMap;
use std::io::Write;

use crossbeam_channel::{Receiver, Sender};
use vigie_rules::signature::{Gate, GateState};

/// Sort key of an event: packet number, then kind, then a tiebreak that is the
/// same whatever worker produced the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey {
    /// Packet number the event belongs to (for flow ends: the batch's last packet).
    pub pkt_no: u64,
    /// 0 alerts, 1 anomalies, 2 flow records.
    pub kind: u8,
    /// Within a packet: rule order; for flow records: the flow's first packet number.
    pub tiebreak: u64,
    /// Order of writing within one worker batch (events of one flow keep their order).
    pub sub: u32,
}

/// Encoded EVE lines of one worker batch, with their sort keys.
#[derive(Debug, Default)]
pub struct EventBuf {
    /// JSON lines back to back, each ending in `\n`.
    pub data: Vec<u8>,
    /// (key, start, end) of each line in `data`.
    pub index: Vec<(EventKey, u32, u32)>,
    /// (position in `index`, gate): alerts whose address-tracked thresholds
    /// the output applies, in packet order, before writing them.
    pub gates: Vec<(u32, Box<Gate>)>,
}

impl EventBuf {
    /// Empties the buffer, keeping its allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.index.clear();
        self.gates.clear();
    }

    /// Starts an event; write its bytes to `data`, then call [`EventBuf::end`].
    pub fn begin(&mut self) -> usize {
        self.data.len()
    }

    /// Ends the event started at `start`, appending the newline.
    pub fn end(&mut self, start: usize, key: EventKey) {
        self.data.push(b'\n');
        self.index.push((key, start as u32, self.data.len() as u32));
    }

    /// The event just ended is written only if `gate` passes.
    pub fn gate_last(&mut self, gate: Box<Gate>) {
        if let Some(at) = self.index.len().checked_sub(1) {
            self.gates.push((at as u32, gate));
        }
    }
}

/// What a worker sends to the output for one batch.
#[derive(Debug)]
pub struct WorkerOutput {
    /// Reader batch sequence number; `u64::MAX` for the end-of-run flush.
    pub seq: u64,
    /// The events.
    pub events: EventBuf,
    /// When the reader handed the batch over; None for the final flush.
    pub born: Option<std::time::Instant>,
}

/// What the output stage did.
pub struct OrderedOutput {
    /// The sink, for the final stats line.
    pub sink: Box<dyn Write + Send>,
    /// Events written.
    pub written: u64,
    /// Alerts held back by an address-tracked threshold or detection_filter.
    pub gated: u64,
    /// Threshold tracking entries dropped because the table was full.
    pub gate_evictions: u64,
}

/// Writes events in order until every worker has hung up. Alerts carrying a
/// gate pass through one threshold state here, in packet order, so they are
/// the same whatever the number of workers.
pub fn write_ordered(
    rx: Receiver<WorkerOutput>,
    recycle: Sender<EventBuf>,
    workers: usize,
    sink: Box<dyn Write + Send>,
    tees: Vec<crate::ship::AlertTee>,
    progress: &super::Progress,
) -> std::io::Result<OrderedOutput> {
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    let mut pending: BTreeMap<u64, (Vec<EventBuf>, Option<std::time::Instant>)> = BTreeMap::new();
    let mut next_seq = 0u64;
    let mut written = 0u64;
    let mut gates = GateState::default();
    let mut gated = 0u64;
    // (key, buffer, start, end, position in the buffer's gates or NO_GATE)
    const NO_GATE: u32 = u32::MAX;
    let mut merged: Vec<(EventKey, usize, u32, u32, u32)> = Vec::new();
    let mut flush = |bufs: Vec<EventBuf>,
                     sink: &mut std::io::BufWriter<Box<dyn Write + Send>>,
                     written: &mut u64|
     -> std::io::Result<()> {
        merged.clear();
        for (i, b) in bufs.iter().enumerate() {
            let start = merged.len();
            merged.extend(b.index.iter().map(|(k, s, e)| (*k, i, *s, *e, NO_GATE)));
            for (g, (at, _)) in b.gates.iter().enumerate() {
                if let Some(m) = merged.get_mut(start + *at as usize) {
                    m.4 = g as u32;
                }
            }
        }
        merged.sort_unstable_by_key(|m| (m.0, m.1));
        for (k, i, s, e, g) in &merged {
            let gate = bufs[*i].gates.get(*g as usize).map(|(_, g)| g);
            if gate.is_some_and(|g| !g.pass(&mut gates)) {
                gated += 1;
                progress
                    .alerts_suppressed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            let line = &bufs[*i].data[*s as usize..*e as usize];
            sink.write_all(line)?;
            if k.kind == 0 {
                for t in &tees {
                    t.offer(line);
                }
            }
            *written += 1;
        }
        for mut b in bufs {
            b.clear();
            let _ = recycle.send(b);
        }
        Ok(())
    };
    while let Ok(out) = rx.recv() {
        let slot = pending.entry(out.seq).or_default();
        slot.0.push(out.events);
        slot.1 = slot.1.or(out.born);
        // Write every batch all workers have finished, in sequence order.
        loop {
            let ready = matches!(pending.get(&next_seq), Some(v) if v.0.len() == workers);
            if !ready {
                break;
            }
            if let Some((bufs, born)) = pending.remove(&next_seq) {
                flush(bufs, &mut sink, &mut written)?;
                if let Some(at) = born {
                    progress.latency.pipeline.record(at.elapsed());
                }
            }
            next_seq += 1;
        }
    }
    // Anything left (the final flush has seq u64::MAX) goes out in sequence order.
    for (_, (bufs, _)) in std::mem::take(&mut pending) {
        flush(bufs, &mut sink, &mut written)?;
    }
    sink.flush()?;
    let inner = sink
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(OrderedOutput {
        sink: inner,
        written,
        gated,
        gate_evictions: gates.evictions(),
    })
}
