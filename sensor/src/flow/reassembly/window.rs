//! The recent-data window of one direction: the last bytes delivered in
//! order, kept contiguous so the signature engine can match across segment
//! boundaries (Suricata's raw stream buffer).

use super::ReassemblyBudget;

/// Last up to `cap` bytes of reassembled data, contiguous, ending at `end_off`.
///
/// Stored in one `Vec` of at most `2 * cap` bytes: appends are memcpy, and
/// the oldest half is dropped in one move when full, so each byte is moved
/// at most once more on average. Memory is reserved from the budget as the
/// vector grows; when the budget refuses, the window is dropped for good.
#[derive(Debug, Default)]
pub(super) struct StreamWindow {
    buf: Vec<u8>,
    cap: usize,
    end_off: u64,
    reserved: usize,
    disabled: bool,
}

impl StreamWindow {
    pub(super) fn new(cap: usize) -> StreamWindow {
        StreamWindow {
            cap,
            ..StreamWindow::default()
        }
    }

    /// The window's bytes (empty when disabled or after a gap).
    pub(super) fn data(&self) -> &[u8] {
        let from = self.buf.len().saturating_sub(self.cap);
        self.buf.get(from..).unwrap_or(&[])
    }

    /// Stream offset of the first byte of [`StreamWindow::data`].
    pub(super) fn start_offset(&self) -> u64 {
        self.end_off - self.data().len() as u64
    }

    /// The bytes at stream offsets `[off, off + len)`, if still in the window.
    pub(super) fn get(&self, off: u64, len: usize) -> Option<&[u8]> {
        let start = self.start_offset();
        if off < start || off + len as u64 > self.end_off {
            return None;
        }
        let from = usize::try_from(off - start).ok()?;
        self.data().get(from..from + len)
    }

    /// Restarts the window empty at stream offset `end_off` (after a gap).
    pub(super) fn restart(&mut self, end_off: u64) {
        self.buf.clear();
        self.end_off = end_off;
    }

    /// Appends delivered bytes; returns false when the window had to be
    /// dropped because the budget refused the memory.
    pub(super) fn push(&mut self, data: &[u8], budget: &mut ReassemblyBudget) -> bool {
        self.end_off += data.len() as u64;
        if self.cap == 0 || self.disabled {
            return true;
        }
        if data.len() >= self.cap {
            self.buf.clear();
            let tail = data.get(data.len() - self.cap..).unwrap_or(&[]);
            if !self.grow_to(tail.len(), budget) {
                return false;
            }
            self.buf.extend_from_slice(tail);
            return true;
        }
        let limit = 2 * self.cap;
        if self.buf.len() + data.len() > limit {
            let keep = self.cap - data.len();
            let drop = self.buf.len() - keep.min(self.buf.len());
            self.buf.drain(..drop);
        }
        if !self.grow_to(self.buf.len() + data.len(), budget) {
            return false;
        }
        self.buf.extend_from_slice(data);
        true
    }

    /// Makes room for `needed` bytes, reserving the memory from the budget.
    fn grow_to(&mut self, needed: usize, budget: &mut ReassemblyBudget) -> bool {
        if needed <= self.buf.capacity() {
            return true;
        }
        let target = (self.buf.capacity() * 2)
            .max(256)
            .min(2 * self.cap)
            .max(needed);
        if !budget.try_reserve(target.saturating_sub(self.reserved)) {
            self.release(budget);
            self.disabled = true;
            return false;
        }
        self.buf.reserve_exact(target - self.buf.len());
        self.reserved = target;
        // the allocator may hand out more than asked; account for what we hold
        let actual = self.buf.capacity();
        if actual > self.reserved {
            budget.force_reserve(actual - self.reserved);
            self.reserved = actual;
        }
        true
    }

    /// Frees the window's memory and returns it to the budget.
    pub(super) fn release(&mut self, budget: &mut ReassemblyBudget) {
        budget.release(self.reserved);
        self.reserved = 0;
        self.buf = Vec::new();
    }

    /// Bytes of memory this window holds from the budget.
    pub(super) fn memuse(&self) -> usize {
        self.reserved
    }
}

#[cfg(test)]
mod test {
    use super::super::{ReassemblyBudget, ReassemblyConfig};
    use super::*;

    #[test]
    fn keeps_last_cap_bytes_contiguous() {
        let mut budget = ReassemblyBudget::new(ReassemblyConfig::default());
        let mut w = StreamWindow::new(10);
        let mut all = Vec::new();
        for i in 0..50u8 {
            let chunk: Vec<u8> = (0..(i % 4 + 1))
                .map(|k| i.wrapping_mul(7).wrapping_add(k))
                .collect();
            all.extend_from_slice(&chunk);
            assert!(w.push(&chunk, &mut budget));
            let want = &all[all.len().saturating_sub(10)..];
            assert_eq!(w.data(), want);
            assert_eq!(w.start_offset(), (all.len() - want.len()) as u64);
            assert!(w.buf.len() <= 20);
        }
        let end = all.len() as u64;
        assert_eq!(w.get(end - 3, 3), Some(&all[all.len() - 3..]));
        assert_eq!(w.get(end - 11, 3), None);
        assert_eq!(w.get(end - 2, 3), None);
        assert!(budget.memuse() >= 20);
        w.release(&mut budget);
        assert_eq!(budget.memuse(), 0);
    }

    #[test]
    fn big_push_and_restart() {
        let mut budget = ReassemblyBudget::new(ReassemblyConfig::default());
        let mut w = StreamWindow::new(4);
        assert!(w.push(b"abcdefgh", &mut budget));
        assert_eq!(w.data(), b"efgh");
        assert_eq!(w.start_offset(), 4);
        w.restart(100);
        assert_eq!(w.data(), b"");
        assert!(w.push(b"xy", &mut budget));
        assert_eq!(w.start_offset(), 100);
        assert_eq!(w.get(100, 2), Some(&b"xy"[..]));
        w.release(&mut budget);
    }

    #[test]
    fn refused_by_budget_disables() {
        let mut budget = ReassemblyBudget::new(ReassemblyConfig {
            memcap: 100,
            ..ReassemblyConfig::default()
        });
        let mut w = StreamWindow::new(1000);
        assert!(!w.push(&[1u8; 500], &mut budget));
        assert_eq!(w.data(), b"");
        assert_eq!(budget.memuse(), 0);
        assert!(w.push(b"more", &mut budget));
        assert_eq!(w.data(), b"");
        assert_eq!(w.get(500, 4), None);
    }
}
