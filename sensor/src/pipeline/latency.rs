//! Per-stage latency of the pipeline, as histograms a scrape can read while
//! the threads write them: one relaxed atomic add per batch and stage, never
//! per packet.
//!
//! Stages, per reader batch:
//! - `dispatch`: from the reader handing the batch over to a worker starting
//!   on it (dispatcher queue, decoding and hashing, worker queue);
//! - `worker`: a worker's time on its share of the batch (flows, reassembly,
//!   app parsers, detection, EVE encoding);
//! - `pipeline`: from the reader handing the batch over to its events being
//!   written by the output stage (all of the above plus reordering).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket `i` counts latencies up to 2^i µs; the last one (2^25 µs, about
/// 34 s) also takes everything slower.
pub const BUCKETS: usize = 26;

/// A histogram of durations in power-of-two microsecond buckets.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

/// A copy of a histogram's counters, for reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Count per bucket (not cumulative); bucket `i` is `<= 2^i` µs.
    pub buckets: [u64; BUCKETS],
    /// Sum of all recorded latencies, µs.
    pub sum_us: u64,
    /// Recorded latencies.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one latency.
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        // Smallest i with us <= 2^i.
        let i = if us <= 1 {
            0
        } else {
            (64 - (us - 1).leading_zeros()) as usize
        };
        self.buckets[i.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> LatencySnapshot {
        let mut s = LatencySnapshot::default();
        for (d, b) in s.buckets.iter_mut().zip(&self.buckets) {
            *d = b.load(Ordering::Relaxed);
        }
        s.sum_us = self.sum_us.load(Ordering::Relaxed);
        // The count is the buckets' sum, so a snapshot taken while a thread
        // records is still consistent with itself.
        s.count = s.buckets.iter().sum();
        s
    }
}

impl LatencySnapshot {
    /// Upper bound in µs of bucket `i`.
    pub fn bound_us(i: usize) -> u64 {
        1u64 << i
    }

    /// The upper bound (µs) of the bucket holding quantile `q` (0..=1); 0
    /// when nothing was recorded.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let want = ((self.count as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return Self::bound_us(i);
            }
        }
        Self::bound_us(BUCKETS - 1)
    }
}

/// The pipeline's stage histograms.
#[derive(Debug, Default)]
pub struct StageLatency {
    /// Reader hand-over → worker start.
    pub dispatch: LatencyHistogram,
    /// Worker processing time per batch.
    pub worker: LatencyHistogram,
    /// Reader hand-over → events written.
    pub pipeline: LatencyHistogram,
}

impl StageLatency {
    /// (stage name, histogram), in a fixed order.
    pub fn stages(&self) -> [(&'static str, &LatencyHistogram); 3] {
        [
            ("dispatch", &self.dispatch),
            ("worker", &self.worker),
            ("pipeline", &self.pipeline),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_microseconds() {
        let h = LatencyHistogram::default();
        for us in [0u64, 1, 2, 3, 4, 5, 1000, 1024, 1025] {
            h.record(Duration::from_micros(us));
        }
        h.record(Duration::from_secs(3600));
        let s = h.snapshot();
        assert_eq!(s.buckets[0], 2, "0 and 1 µs");
        assert_eq!(s.buckets[1], 1, "2 µs");
        assert_eq!(s.buckets[2], 2, "3 and 4 µs");
        assert_eq!(s.buckets[3], 1, "5 µs");
        assert_eq!(s.buckets[10], 2, "1000 and 1024 µs");
        assert_eq!(s.buckets[11], 1, "1025 µs");
        assert_eq!(
            s.buckets[BUCKETS - 1],
            1,
            "an hour lands in the last bucket"
        );
        assert_eq!(s.count, 10);
        assert_eq!(s.sum_us, 15 + 1000 + 1024 + 1025 + 3_600_000_000);
    }

    #[test]
    fn quantiles_name_the_bucket_bound() {
        let h = LatencyHistogram::default();
        assert_eq!(h.snapshot().quantile_us(0.5), 0);
        for _ in 0..98 {
            h.record(Duration::from_micros(100));
        }
        h.record(Duration::from_millis(50));
        h.record(Duration::from_millis(50));
        let s = h.snapshot();
        assert_eq!(s.quantile_us(0.5), 128);
        assert_eq!(s.quantile_us(0.98), 128);
        assert_eq!(s.quantile_us(0.99), 65536);
        assert_eq!(s.quantile_us(1.0), 65536);
    }
}
