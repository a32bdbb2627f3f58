//! Output stage: puts the events of all workers back in packet order and
//! writes them, so the output bytes do not depend on the number of workers.

use std::collections::BTreeMap;
use std::io::Write;

use crossbeam_channel::{Receiver, Sender};

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
}

impl EventBuf {
    /// Empties the buffer, keeping its allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.index.clear();
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

/// Writes events in order until every worker has hung up. Returns the sink and
/// the number of events written.
pub fn write_ordered(
    rx: Receiver<WorkerOutput>,
    recycle: Sender<EventBuf>,
    workers: usize,
    sink: Box<dyn Write + Send>,
    tees: Vec<crate::ship::AlertTee>,
    progress: &super::Progress,
) -> std::io::Result<(Box<dyn Write + Send>, u64)> {
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    let mut pending: BTreeMap<u64, (Vec<EventBuf>, Option<std::time::Instant>)> = BTreeMap::new();
    let mut next_seq = 0u64;
    let mut written = 0u64;
    let mut merged: Vec<(EventKey, usize, u32, u32)> = Vec::new();
    let mut flush = |bufs: Vec<EventBuf>,
                     sink: &mut std::io::BufWriter<Box<dyn Write + Send>>,
                     written: &mut u64|
     -> std::io::Result<()> {
        merged.clear();
        for (i, b) in bufs.iter().enumerate() {
            merged.extend(b.index.iter().map(|(k, s, e)| (*k, i, *s, *e)));
        }
        merged.sort_unstable_by_key(|m| (m.0, m.1));
        for (k, i, s, e) in &merged {
            let line = &bufs[*i].data[*s as usize..*e as usize];
            sink.write_all(line)?;
            if k.kind == 0 {
                for t in &tees {
                    t.offer(line);
                }
            }
        }
        *written += merged.len() as u64;
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
    Ok((inner, written))
}
