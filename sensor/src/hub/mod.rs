//! Hub sync: indicator sources polled over HTTP (MISP feeds and `restSearch`,
//! TAXII 2.1 collections) next to static files. Each sync builds a new
//! [`IndicatorSet`](vigie_rules::intel::IndicatorSet) off the hot path and
//! stores it in the workers' [`SharedIndicators`]; a source that fails keeps
//! its last good indicators in the new set and is counted. The new set is
//! built as the next generation of the running one
//! ([`IndicatorSetBuilder::reloading`]): when little changed it shares the
//! running set's base and holds only the changes, so a sync costs memory in
//! proportion to what changed. When most of it changed, it is rebuilt and
//! swapped part by part (by kind), so that only one part is held twice at a
//! time (see [`SharedIndicators::store_staged`]).
//!
//! The other direction: [`sightings`] reports indicator hits back to MISP
//! servers and TAXII collections, batched.

mod backoff;
pub mod http;
pub mod misp;
pub mod sightings;
pub mod taxii;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use vigie_rules::intel::misp::MispOptions;
use vigie_rules::intel::{load_path, IndicatorSetBuilder, LoadReport, SetLayout};

pub use backoff::Backoff;
pub use http::{HubAuth, HubClient, HubError};

use crate::intel::SharedIndicators;

/// What one successful poll changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Documents or objects fetched.
    pub fetched: usize,
    /// Documents dropped because the source no longer lists them.
    pub removed: usize,
    /// Documents the cursor says are unchanged.
    pub unchanged: usize,
    /// Documents listed by the source but not served (HTTP 404), counted.
    pub missing: usize,
}

/// A remote indicator source: polled for changes, then loaded into a builder.
pub trait IndicatorSource: Send {
    /// Feed name (written in alerts).
    fn name(&self) -> &str;
    /// Fetches what changed. On error the source keeps its last good state.
    fn poll(&mut self, client: &HubClient) -> Result<PollStats, HubError>;
    /// Adds the source's current indicators to `b`.
    fn load_into(&self, b: &mut IndicatorSetBuilder);
}

/// Health of one source, for stats and metrics.
#[derive(Clone, Debug, Default)]
pub struct SourceHealth {
    /// Successful polls.
    pub polls_ok: u64,
    /// Failed polls.
    pub polls_failed: u64,
    /// Last error, if the last poll failed.
    pub last_error: Option<String>,
    /// Objects fetched by the last successful poll.
    pub last_fetched: usize,
}

struct Entry {
    source: Box<dyn IndicatorSource>,
    health: SourceHealth,
    backoff: Backoff,
    next_poll: Instant,
}

/// Polls sources and swaps new indicator sets into a [`SharedIndicators`].
pub struct HubSync {
    client: HubClient,
    shared: SharedIndicators,
    files: Vec<PathBuf>,
    opts: MispOptions,
    interval: Duration,
    sources: Vec<Entry>,
    builds: u64,
    last_build: Option<BuildStats>,
}

/// How the last stored set was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildStats {
    /// Reading the sources and building, until the swap.
    pub took: Duration,
    /// The new set's layout (a shared base and a delta, or one layer).
    pub layout: SetLayout,
    /// The new set shares its base with the one it replaced.
    pub shared_base: bool,
    /// Some parts were rebuilt whole and published one at a time.
    pub staged: bool,
}

impl HubSync {
    /// A sync writing into `shared`, polling every `interval` (failing
    /// sources back off from `interval` up to 16 times it).
    pub fn new(shared: SharedIndicators, client: HubClient, interval: Duration) -> HubSync {
        HubSync {
            client,
            shared,
            files: Vec::new(),
            opts: MispOptions::default(),
            interval,
            sources: Vec::new(),
            builds: 0,
            last_build: None,
        }
    }

    /// Static indicator files loaded into every set.
    pub fn with_files(mut self, files: Vec<PathBuf>, opts: MispOptions) -> HubSync {
        self.files = files;
        self.opts = opts;
        self
    }

    /// Adds a remote source.
    pub fn add_source(&mut self, source: Box<dyn IndicatorSource>) {
        self.sources.push(Entry {
            source,
            health: SourceHealth::default(),
            backoff: Backoff::new(self.interval, self.interval.saturating_mul(16)),
            next_poll: Instant::now(),
        });
    }

    /// Health of each source, by name.
    pub fn health(&self) -> Vec<(&str, &SourceHealth)> {
        self.sources
            .iter()
            .map(|e| (e.source.name(), &e.health))
            .collect()
    }

    /// Sets built and stored so far.
    pub fn builds(&self) -> u64 {
        self.builds
    }

    /// How the last stored set was built (`None` before the first).
    pub fn last_build(&self) -> Option<BuildStats> {
        self.last_build
    }

    /// Polls every source now (ignoring backoff), then builds and stores a
    /// new set if anything changed or nothing was built yet. Returns the
    /// load report of the stored set, or `None` when the set was kept.
    pub fn sync_now(&mut self) -> Option<LoadReport> {
        let mut changed = self.builds == 0;
        for e in &mut self.sources {
            changed |= poll_entry(e, &self.client, Instant::now());
        }
        changed.then(|| self.rebuild())
    }

    /// Polls the sources whose time has come; builds when something changed.
    pub fn tick(&mut self, now: Instant) -> Option<LoadReport> {
        let mut changed = false;
        for e in &mut self.sources {
            if e.next_poll <= now {
                changed |= poll_entry(e, &self.client, now);
                let wait = if e.health.last_error.is_some() {
                    e.backoff.delay()
                } else {
                    self.interval
                };
                e.next_poll = now + wait;
            }
        }
        changed.then(|| self.rebuild())
    }

    /// Runs [`HubSync::tick`] until `stop` returns true, sleeping between.
    pub fn run(&mut self, stop: &dyn Fn() -> bool) {
        while !stop() {
            self.tick(Instant::now());
            let next = self.sources.iter().map(|e| e.next_poll).min();
            let wait = next
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(self.interval)
                .min(Duration::from_secs(1));
            std::thread::sleep(wait);
        }
    }

    /// Builds a set from the files and every source's last good state and
    /// stores it: workers take it on their next batch. A file that no longer
    /// loads is skipped and counted in the report.
    fn rebuild(&mut self) -> LoadReport {
        // Not strict: loading cannot fail.
        self.build_and_store(false).unwrap_or_default()
    }

    /// Re-reads the files (SIGHUP) and builds a new set with the sources'
    /// last good state. A file that no longer loads is an error naming it,
    /// and the running set is kept.
    pub fn reload_files(&mut self) -> Result<LoadReport, String> {
        self.build_and_store(true)
    }

    /// Loads the files and the sources into `b`. `strict`: a file that
    /// does not load is an error; else it is skipped and counted.
    fn load_all(&self, b: &mut IndicatorSetBuilder, strict: bool) -> Result<(), String> {
        for f in &self.files {
            match load_path(f, &self.opts, b) {
                Ok(_) => {}
                Err(e) if strict => return Err(e.to_string()),
                Err(e) => b.skip(&format!("hub: {e}")),
            }
        }
        for e in &self.sources {
            e.source.load_into(b);
        }
        Ok(())
    }

    /// Builds the next generation of the running set and stores it.
    ///
    /// A first pass loads every source into a reloading builder: it checks
    /// that everything loads (when `strict`, a failure keeps the running
    /// set, and nothing is published) and builds the parts that changed
    /// little as a delta on their old base. A part that must be rebuilt
    /// whole (most of it changed) is only counted in that pass; each such
    /// part is then built by a pass of its own that stores only its
    /// entries, and published as soon as it is built, so that the old
    /// version of only one part is held next to its new one at any time.
    /// If a source no longer loads in such a later pass (it changed in
    /// between), the part keeps its old version and the report says so.
    fn build_and_store(&mut self, strict: bool) -> Result<LoadReport, String> {
        let started = Instant::now();
        let current = self.shared.current();
        let mut b = IndicatorSetBuilder::reloading(&current).staged();
        self.load_all(&mut b, strict)?;
        let mut staged = b.build_staged();
        let first = staged.set();
        let rebuilt = staged.parts_left() > 0;
        let shared_base = !rebuilt && first.shares_base_with(&current);
        drop(current);
        self.shared
            .store_staged(first, true, staged.parts_left() > 0);
        while staged.next_part().is_some() {
            let Some(mut pb) = staged.part_builder() else {
                break;
            };
            match self.load_all(&mut pb, strict) {
                Ok(()) => staged.install(pb),
                Err(e) => {
                    drop(pb);
                    staged.keep_old(&e);
                }
            }
            self.shared
                .store_staged(staged.set(), false, staged.parts_left() > 0);
        }
        let (set, report) = staged.finish();
        self.last_build = Some(BuildStats {
            took: started.elapsed(),
            layout: set.layout(),
            shared_base,
            staged: rebuilt,
        });
        self.builds += 1;
        Ok(report)
    }
}

/// Polls one source; true when it fetched or removed something.
fn poll_entry(e: &mut Entry, client: &HubClient, _now: Instant) -> bool {
    match e.source.poll(client) {
        Ok(st) => {
            e.health.polls_ok += 1;
            e.health.last_error = None;
            e.health.last_fetched = st.fetched;
            e.backoff.succeeded();
            st.fetched > 0 || st.removed > 0 || st.missing > 0
        }
        Err(err) => {
            e.health.polls_failed += 1;
            e.health.last_error = Some(err.to_string());
            e.backoff.failed();
            false
        }
    }
}
