//! Capture sources: they fill [`RawBatch`]es with frames, in capture order.

#[cfg(target_os = "linux")]
pub mod afpacket;
pub mod file;
pub mod interfaces;
#[cfg(feature = "libpcap")]
pub mod pcap_live;

/// Where packets come from: capture files, or a live interface. The reader
/// thread calls `fill` until it returns false.
pub trait PacketSource: Send {
    /// Fills `batch` with up to `max_pkts` frames (about `max_bytes` bytes at
    /// most); false when the source is finished and nothing was added.
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool;
    /// Packets delivered so far.
    fn packets(&self) -> u64;
    /// Captured bytes delivered so far.
    fn bytes(&self) -> u64;
    /// Packets the kernel dropped (live capture); 0 for files.
    fn kernel_drops(&self) -> u64 {
        0
    }
    /// Kernel drops of each socket, when the source has several (fanout).
    fn socket_drops(&self) -> Vec<u64> {
        Vec::new()
    }
    /// Errors met (unreadable or truncated files, ...), one line each.
    fn errors(&self) -> Vec<String>;
}

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
    /// When the reader handed the batch to the pipeline (stage latencies).
    pub filled_at: Option<std::time::Instant>,
}

impl RawBatch {
    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.recs.clear();
        self.data.clear();
        self.first_pkt_no = 0;
        self.filled_at = None;
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
