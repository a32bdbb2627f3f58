//! Which alert ids are delivered and which are being delivered.
//!
//! A stream pipelines its batches: batch N+1 is archived and published while
//! batch N waits for its JetStream acks, and another stream of the same sensor
//! (a reconnect) may carry the same ids. An id is therefore either delivered
//! (in the persisted [`DedupWindow`]), claimed by the one batch delivering it,
//! or free. A batch only publishes the ids it claims; for ids claimed by
//! another batch it waits for that batch's [`Delivery`] before its own ack, so
//! an alert is acked to a sensor only once it is stored, and published once.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::dedup::DedupWindow;
use crate::lock;

/// Outcome of one batch's delivery: `None` while pending, then whether its
/// alerts were archived, published and recorded.
#[derive(Debug)]
pub struct Delivery(watch::Sender<Option<bool>>);

impl Delivery {
    fn new() -> Arc<Delivery> {
        Arc::new(Delivery(watch::Sender::new(None)))
    }

    /// Waits for the batch to finish; true if it delivered its alerts.
    pub async fn delivered(&self) -> bool {
        let mut rx = self.0.subscribe();
        let outcome = rx.wait_for(|v| v.is_some()).await.map(|v| *v);
        matches!(outcome, Ok(Some(true)))
    }
}

/// Delivered ids (persisted) and ids claimed by batches in flight.
#[derive(Debug)]
pub struct Ledger {
    delivered: DedupWindow,
    claimed: HashMap<String, Arc<Delivery>>,
}

/// What [`Ledger::claim`] made of a batch's ids.
#[derive(Debug)]
pub struct Sorted {
    /// Index in the batch of each id this batch now delivers.
    pub fresh: Vec<usize>,
    /// Ids delivered before, repeated in the batch, or claimed by another batch.
    pub duplicates: u32,
    /// Other batches delivering some of this batch's ids, one entry each.
    pub waits_for: Vec<Arc<Delivery>>,
    /// The claim on the fresh ids: settle it, or drop it to give them up.
    pub claim: Claim,
}

impl Ledger {
    /// A ledger over the persisted window, nothing in flight.
    pub fn new(delivered: DedupWindow) -> Ledger {
        Ledger {
            delivered,
            claimed: HashMap::new(),
        }
    }

    /// Sorts a batch's ids into fresh (claimed for this batch) and duplicates.
    pub fn claim<'a>(
        ledger: &Arc<Mutex<Ledger>>,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Sorted {
        let own = Delivery::new();
        let mut fresh = Vec::new();
        let mut claimed_ids = Vec::new();
        let mut duplicates = 0u32;
        let mut waits_for: Vec<Arc<Delivery>> = Vec::new();
        {
            let mut l = lock(ledger);
            for (i, id) in ids.into_iter().enumerate() {
                if l.delivered.contains(id) {
                    duplicates += 1;
                } else if let Some(d) = l.claimed.get(id) {
                    duplicates += 1;
                    // A repeat within the batch waits for nothing (least of all itself).
                    if !Arc::ptr_eq(d, &own) && !waits_for.iter().any(|w| Arc::ptr_eq(w, d)) {
                        waits_for.push(d.clone());
                    }
                } else {
                    l.claimed.insert(id.to_string(), own.clone());
                    claimed_ids.push(id.to_string());
                    fresh.push(i);
                }
            }
        }
        Sorted {
            fresh,
            duplicates,
            waits_for,
            claim: Claim {
                ledger: ledger.clone(),
                ids: claimed_ids,
                delivery: own,
                settled: false,
            },
        }
    }

    /// Ids in the delivered window.
    pub fn delivered_len(&self) -> usize {
        self.delivered.len()
    }
}

/// A batch's hold on the ids it delivers. Dropped unsettled (an error, a
/// broken stream), it frees them and tells waiting batches delivery failed.
#[derive(Debug)]
pub struct Claim {
    ledger: Arc<Mutex<Ledger>>,
    ids: Vec<String>,
    delivery: Arc<Delivery>,
    settled: bool,
}

impl Claim {
    /// The claimed ids were archived and published: records them durably as
    /// delivered, then frees them and tells waiting batches.
    pub fn settle(mut self) -> io::Result<()> {
        let ledger = self.ledger.clone();
        let mut l = lock(&ledger);
        if !self.ids.is_empty() {
            l.delivered.record(self.ids.iter().map(String::as_str))?;
        }
        self.release(&mut l, true);
        Ok(())
    }

    /// Frees the claimed ids (under the caller's lock) and tells waiting
    /// batches the outcome.
    fn release(&mut self, l: &mut Ledger, delivered: bool) {
        for id in &self.ids {
            l.claimed.remove(id);
        }
        self.settled = true;
        self.delivery.0.send_replace(Some(delivered));
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            let ledger = self.ledger.clone();
            self.release(&mut lock(&ledger), false);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ledger(name: &str) -> (Arc<Mutex<Ledger>>, std::path::PathBuf) {
        let d = std::env::temp_dir().join(format!("vigie-ledger-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let w = DedupWindow::open(&d, 100).unwrap();
        (Arc::new(Mutex::new(Ledger::new(w))), d)
    }

    fn now<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn repeats_and_ids_in_flight_are_not_claimed_twice() {
        let (l, d) = ledger("claims");
        let a = Ledger::claim(&l, ["s-1", "s-2", "s-1"]);
        assert_eq!(a.fresh, [0, 1]);
        assert_eq!(a.duplicates, 1);
        assert!(
            a.waits_for.is_empty(),
            "a repeat within a batch waits for nothing"
        );
        let b = Ledger::claim(&l, ["s-2", "s-3"]);
        assert_eq!(b.fresh, [1]);
        assert_eq!(b.waits_for.len(), 1);
        a.claim.settle().unwrap();
        assert!(now(b.waits_for[0].delivered()));
        b.claim.settle().unwrap();
        let c = Ledger::claim(&l, ["s-1", "s-2", "s-3"]);
        assert!(c.fresh.is_empty() && c.waits_for.is_empty());
        assert_eq!(c.duplicates, 3);
        assert_eq!(l.lock().unwrap().delivered_len(), 3);
        // Settled ids survive a restart.
        drop((c, l));
        let l = Arc::new(Mutex::new(Ledger::new(DedupWindow::open(&d, 100).unwrap())));
        assert_eq!(Ledger::claim(&l, ["s-3"]).duplicates, 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_dropped_claim_frees_its_ids_and_fails_its_waiters() {
        let (l, d) = ledger("drop");
        let a = Ledger::claim(&l, ["s-1"]);
        let b = Ledger::claim(&l, ["s-1"]);
        assert!(b.fresh.is_empty());
        drop(a);
        assert!(!now(b.waits_for[0].delivered()));
        let c = Ledger::claim(&l, ["s-1"]);
        assert_eq!(c.fresh, [0], "a failed delivery's ids can be claimed again");
        assert_eq!(l.lock().unwrap().delivered_len(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
