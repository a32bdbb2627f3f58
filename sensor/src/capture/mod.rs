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

/// A batch of frames, with the bytes of all of them in one buffer, or in one
/// memory-mapped capture file. Batches are recycled, so the hot path
/// allocates nothing per packet.
#[derive(Debug, Default)]
pub struct RawBatch {
    /// Packet number (1-based, over the whole run) of the first record.
    pub first_pkt_no: u64,
    /// The frames.
    pub recs: Vec<RawRecord>,
    /// Bytes of every frame, back to back (unless the batch is mapped).
    pub data: Vec<u8>,
    /// A mapped batch's frames stay in the capture file's memory map (no
    /// copy): record offsets count from `base` in `map`, and the batch keeps
    /// the map alive while any worker holds it.
    mapped: Option<MappedFrames>,
    /// When the reader handed the batch to the pipeline (stage latencies).
    pub filled_at: Option<std::time::Instant>,
}

/// Where a mapped batch's frames are.
#[derive(Debug)]
struct MappedFrames {
    map: std::sync::Arc<memmap2::Mmap>,
    base: usize,
    /// Bytes of the batch's frames (record headers between them not counted).
    frame_bytes: usize,
}

impl RawBatch {
    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.recs.clear();
        self.data.clear();
        self.mapped = None;
        self.first_pkt_no = 0;
        self.filled_at = None;
    }

    /// The bytes of record `i`.
    pub fn frame(&self, rec: &RawRecord) -> &[u8] {
        self.bytes_at(rec.off, rec.caplen)
    }

    /// `len` bytes at offset `off` of the batch's frame bytes.
    pub fn bytes_at(&self, off: u32, len: u32) -> &[u8] {
        let start = off as usize;
        let end = start + len as usize;
        match &self.mapped {
            Some(m) => &m.map[m.base + start..m.base + end],
            None => &self.data[start..end],
        }
    }

    /// Bytes of all frames in the batch.
    pub fn byte_len(&self) -> usize {
        match &self.mapped {
            Some(m) => m.frame_bytes,
            None => self.data.len(),
        }
    }

    /// Whether a frame of `map` ending at `end` can join this batch: a batch
    /// holds frames of one mapped file (within 4 GiB of its first), or
    /// copied frames, not both.
    pub fn takes_mapped(&self, map: &std::sync::Arc<memmap2::Mmap>, end: usize) -> bool {
        match &self.mapped {
            Some(m) => std::sync::Arc::ptr_eq(&m.map, map) && end - m.base <= u32::MAX as usize,
            None => self.recs.is_empty(),
        }
    }

    /// Whether a copied frame can join this batch (see [`RawBatch::takes_mapped`]).
    pub fn takes_copied(&self) -> bool {
        self.mapped.is_none()
    }

    /// Appends one frame that stays in `map` at `at..at + caplen`. The caller
    /// checks [`RawBatch::takes_mapped`] first; frames are appended in file order.
    pub fn push_mapped(
        &mut self,
        map: &std::sync::Arc<memmap2::Mmap>,
        at: usize,
        caplen: u32,
        ts_ns: u64,
        dlt: u32,
        origlen: u32,
    ) {
        let m = self.mapped.get_or_insert_with(|| MappedFrames {
            map: map.clone(),
            base: at,
            frame_bytes: 0,
        });
        let off = at - m.base;
        m.frame_bytes += caplen as usize;
        self.recs.push(RawRecord {
            off: off as u32,
            caplen,
            origlen,
            ts_ns,
            dlt,
        });
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
