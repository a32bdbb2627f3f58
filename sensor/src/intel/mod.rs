//! Indicator matching on the sensor side: the current [`IndicatorSet`] shared
//! by all workers and swapped atomically on reload ([`SharedIndicators`]), the
//! per-worker matcher that looks up flow endpoints and app-layer fields
//! ([`IntelMatcher`]) and the EVE `alert` it writes for a hit ([`eve`]).
//!
//! Lookups happen at fixed points: both endpoint addresses (and the outer
//! addresses of tunnels) once per flow when it is created; DNS query names and
//! answer names/addresses per transaction; HTTP `Host`, URL and body MD5 /
//! SHA-256 per transaction; TLS SNI, JA3, JA4, JA3S, certificate SHA-1 and
//! certificate names once per handshake. An indicator alerts at most once per
//! flow.

pub mod eve;
mod matcher;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use vigie_rules::intel::misp::MispOptions;
use vigie_rules::intel::{
    load_path, IndicatorSet, IndicatorSetBuilder, IntelError, LoadReport, SetPart,
};

pub use matcher::{AlertContext, AlertSink, IntelAlert, IntelCounters, IntelMatcher};

/// The indicator set all workers read, replaced on reload.
///
/// Workers take the current `Arc` once per batch ([`SharedIndicators::current`])
/// and let it go at the end of the batch, so a swap never changes the set in
/// the middle of a batch, never blocks the hot path, and an idle worker
/// holds no old set.
///
/// A reload that rebuilds most of the set is published part by part
/// ([`SharedIndicators::store_staged`]): each [`SetPart`] (IPv4, IPv6,
/// domains, URLs, file hashes, TLS/e-mail) is swapped as soon as it is built,
/// so for a short time lookups of different kinds may answer from different
/// generations. Each part's generation is counted
/// ([`SharedIndicators::part_generation`]), and so are the publications that
/// left such a mix ([`SharedIndicators::mixed_publications`]).
#[derive(Clone)]
pub struct SharedIndicators {
    inner: Arc<Shared>,
}

struct Shared {
    set: ArcSwap<IndicatorSet>,
    generation: AtomicU64,
    part_generations: [AtomicU64; SetPart::ALL.len()],
    mixed: AtomicBool,
    mixed_publications: AtomicU64,
    staged_reloads: AtomicU64,
}

impl std::fmt::Debug for SharedIndicators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedIndicators")
            .field("indicators", &self.inner.set.load().len())
            .field("generation", &self.generation())
            .finish()
    }
}

impl SharedIndicators {
    /// A handle holding `set` as generation 1.
    pub fn new(set: IndicatorSet) -> SharedIndicators {
        SharedIndicators {
            inner: Arc::new(Shared {
                set: ArcSwap::from_pointee(set),
                generation: AtomicU64::new(1),
                part_generations: std::array::from_fn(|_| AtomicU64::new(1)),
                mixed: AtomicBool::new(false),
                mixed_publications: AtomicU64::new(0),
                staged_reloads: AtomicU64::new(0),
            }),
        }
    }

    /// The set in use now.
    pub fn current(&self) -> Arc<IndicatorSet> {
        self.inner.set.load_full()
    }

    /// Replaces the set; workers see it from their next batch.
    pub fn store(&self, set: IndicatorSet) {
        self.publish(set);
        self.inner.mixed.store(false, Ordering::Release);
        self.inner.generation.fetch_add(1, Ordering::Release);
    }

    /// One publication of a staged reload: `set` has the parts built so far
    /// and the old versions of the others (`more` when parts are still to
    /// come). The first publication of a reload (`first`) counts as one new
    /// generation; each part that changed gets a new part generation.
    pub fn store_staged(&self, set: IndicatorSet, first: bool, more: bool) {
        self.publish(set);
        self.inner.mixed.store(more, Ordering::Release);
        if more {
            self.inner
                .mixed_publications
                .fetch_add(1, Ordering::Relaxed);
        }
        if first {
            if more {
                self.inner.staged_reloads.fetch_add(1, Ordering::Relaxed);
            }
            self.inner.generation.fetch_add(1, Ordering::Release);
        }
    }

    fn publish(&self, set: IndicatorSet) {
        let old = self.inner.set.swap(Arc::new(set));
        let new = self.inner.set.load();
        for p in SetPart::ALL {
            if !new.same_part(&old, p) {
                self.inner.part_generations[p as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Generation of one part: 1, +1 each time a reload replaced it.
    pub fn part_generation(&self, p: SetPart) -> u64 {
        self.inner.part_generations[p as usize].load(Ordering::Relaxed)
    }

    /// True while a staged reload has published some parts but not all:
    /// lookups of different kinds answer from different generations.
    pub fn mixed(&self) -> bool {
        self.inner.mixed.load(Ordering::Acquire)
    }

    /// Publications that left parts of different generations in use.
    pub fn mixed_publications(&self) -> u64 {
        self.inner.mixed_publications.load(Ordering::Relaxed)
    }

    /// Reloads that were published part by part.
    pub fn staged_reloads(&self) -> u64 {
        self.inner.staged_reloads.load(Ordering::Relaxed)
    }

    /// How many sets have been stored (1 after [`SharedIndicators::new`]).
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }
}

/// Loads indicator files and folders (any format [`load_path`] recognises)
/// into one set. A source that cannot be read at all is an error naming it;
/// bad entries are counted in the report.
pub fn load_indicators(
    paths: &[PathBuf],
    opts: &MispOptions,
) -> Result<(IndicatorSet, LoadReport), IntelError> {
    let mut b = IndicatorSetBuilder::new();
    for p in paths {
        load_path(p, opts, &mut b)?;
    }
    Ok(b.build())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn shared_indicators_is_send_sync_and_swaps() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SharedIndicators>();
        let s = SharedIndicators::new(IndicatorSet::default());
        let old = s.current();
        assert_eq!(s.generation(), 1);
        let mut b = IndicatorSetBuilder::new();
        let prov = vigie_rules::intel::Provenance {
            feed: "test",
            ..Default::default()
        };
        b.add(
            vigie_rules::intel::IndicatorType::Ip,
            "192.0.2.1",
            &prov,
            "test",
            vigie_rules::intel::Location::Whole,
        );
        let (set, _) = b.build();
        s.store(set);
        assert_eq!(s.generation(), 2);
        // The old Arc stays valid for a worker still using it.
        assert_eq!(old.len(), 0);
        assert_eq!(s.current().len(), 1);
    }
}
