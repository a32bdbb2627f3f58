//! Capture sources: they fill [`RawBatch`]es with frames, in capture order.

pub mod file;
pub mod interfaces;

/// One captured frame inside a [`RawBatch`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RawRecord {
    /// Offset of the frame's bytes in [`RawBatch::data`].
    pub off: u32,
    /// Captured length.
    pub caplen: u32,
    /// Length on the wire (may exceed `caplen` when the snaplen cut it).
    pub origlen: u32,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Link type (pcap DLT number).
    pub dlt: u32,
}

/// A batch of frames, with the bytes of all of them in one buffer. Batches are
/// recycled, so the hot path allocates nothing per packet.
#[derive(Debug, Default)]
pub struct RawBatch {
    /// Packet number (1-based, over the whole run) of the first record.
    pub first_pkt_no: u64,
    /// The frames.
    pub recs: Vec<RawRecord>,
    /// Bytes of every frame, back to back.
    pub data: Vec<u8>,
}

impl RawBatch {
    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.recs.clear();
        self.data.clear();
        self.first_pkt_no = 0;
    }

    /// The bytes of record `i`.
    pub fn frame(&self, rec: &RawRecord) -> &[u8] {
        let start = rec.off as usize;
        &self.data[start..start + rec.caplen as usize]
    }

    /// Appends one frame.
    pub fn push(&mut self, ts_ns: u64, dlt: u32, origlen: u32, bytes: &[u8]) {
        let off = self.data.len() as u32;
        self.data.extend_from_slice(bytes);
        self.recs.push(RawRecord {
            off,
            caplen: bytes.len() as u32,
            origlen,
            ts_ns,
            dlt,
        });
    }
}
