//! Retry delay for a failing source: doubles per failure up to a cap, back to
//! the base after a success.

use std::time::Duration;

/// Exponential backoff state of one source.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Backoff starting at `base`, never longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    /// Records a failure; returns how long to wait before the next try.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.delay()
    }

    /// Records a success: the next failure starts from `base` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The current delay: `base` after no failure, `base * 2^(n-1)` after n.
    pub fn delay(&self) -> Duration {
        let shift = self.failures.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn doubles_and_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        assert_eq!(b.delay(), Duration::from_secs(1));
        assert_eq!(b.failed(), Duration::from_secs(1));
        assert_eq!(b.failed(), Duration::from_secs(2));
        assert_eq!(b.failed(), Duration::from_secs(4));
        assert_eq!(b.failed(), Duration::from_secs(8));
        assert_eq!(b.failed(), Duration::from_secs(10));
        for _ in 0..100 {
            b.failed();
        }
        assert_eq!(b.delay(), Duration::from_secs(10));
        b.succeeded();
        assert_eq!(b.failures(), 0);
        assert_eq!(b.failed(), Duration::from_secs(1));
    }
}
