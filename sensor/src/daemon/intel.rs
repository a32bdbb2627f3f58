//! Indicators in the daemon: the `[intel]` files and the `[[hub]]` sources,
//! kept in one [`SharedIndicators`] the workers read. A background thread
//! polls the hub sources, rebuilds the set off the packet path when something
//! changed, re-reads the files on SIGHUP (a file that no longer loads keeps
//! the running set), and publishes counts and source health as metrics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigie_rules::intel::misp::MispOptions;
use vigie_rules::intel::{IndicatorKind, IndicatorSet, LoadReport, SetPart};

use super::config::{DaemonConfig, HubKind, HubSection};
use super::metrics::{LiveState, Metric};
use crate::hub::misp::{MispFeedSource, MispRestSearchSource};
use crate::hub::taxii::TaxiiSource;
use crate::hub::{HubAuth, HubClient, HubSync, IndicatorSource};
use crate::intel::SharedIndicators;

/// The running indicator side of the daemon.
pub struct IntelRuntime {
    /// The set the workers match against; `None` when nothing is configured.
    pub shared: Option<SharedIndicators>,
    reload: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// MISP loading options from `[intel]`.
pub fn misp_options(cfg: &DaemonConfig) -> MispOptions {
    MispOptions {
        include_non_ids: cfg.intel.include_non_ids,
        max_age: cfg.intel.max_age_days.map(|d| d.saturating_mul(86_400)),
    }
}

fn env_secret(var: &str) -> Result<String, String> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("environment variable {var} is not set"))
}

/// Starts the sighting reporter for the `[[hub]]` sources with
/// `sightings = true`; `None` when there is none. `sensor` names this sensor
/// in the sightings.
pub fn start_sightings(
    cfg: &DaemonConfig,
    sensor: &str,
) -> Result<Option<crate::hub::sightings::SightingReporter>, String> {
    use crate::hub::sightings::{SightingConfig, SightingReporter, SightingTarget};
    let mut targets = Vec::new();
    for h in cfg.hub.iter().filter(|h| h.sightings) {
        let target = match h.kind {
            HubKind::MispRest => SightingTarget::Misp {
                url: h.url.clone(),
                auth: HubAuth::MispKey(misp_key(h)?),
            },
            HubKind::Taxii => SightingTarget::Taxii {
                api_root: h.url.clone(),
                collection: h.collection.clone().unwrap_or_default(),
                auth: hub_auth(h).map_err(|e| format!("hub {:?}: {e}", h.name))?,
            },
            HubKind::MispFeed => continue,
        };
        targets.push((h.name.clone(), target));
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let mut sc = SightingConfig::new(sensor, targets);
    sc.batch_wait = Duration::from_secs(cfg.intel.sightings_wait_s.max(1));
    Ok(Some(SightingReporter::start(sc, HubClient::default())))
}

/// Sighting counters as metrics.
pub fn publish_sightings(state: &LiveState, r: &crate::hub::sightings::SightingReporter) {
    let s = r.stats();
    state.publish(
        "sightings",
        vec![
            Metric::new(
                "vigie_sightings_sent_total",
                "sightings.sent",
                "Sightings the hubs accepted.",
                true,
                s.sent,
            ),
            Metric::new(
                "vigie_sightings_pending",
                "sightings.pending",
                "Sightings waiting to be reported.",
                false,
                s.pending,
            ),
            Metric::new(
                "vigie_sightings_failed_posts_total",
                "sightings.failed_posts",
                "Sighting reports that failed (kept and retried with backoff).",
                true,
                s.failed_posts,
            ),
            Metric::new(
                "vigie_sightings_dropped_total",
                "sightings.dropped",
                "Sightings dropped: pending bound reached or queue full.",
                true,
                s.dropped + s.tee_drops,
            ),
        ],
    );
}

/// How a `[[hub]]` source authenticates.
pub fn hub_auth(h: &HubSection) -> Result<HubAuth, String> {
    if let Some(var) = &h.token_env {
        return Ok(HubAuth::Bearer(env_secret(var)?));
    }
    if let Some(user) = &h.user {
        let password = match &h.password_env {
            Some(var) => env_secret(var)?,
            None => String::new(),
        };
        return Ok(HubAuth::Basic {
            user: user.clone(),
            password,
        });
    }
    Ok(HubAuth::None)
}

/// The MISP API key of a `misp-rest` source.
pub fn misp_key(h: &HubSection) -> Result<String, String> {
    let var = h.api_key_env.as_deref().unwrap_or("VIGIE_MISP_KEY");
    env_secret(var).map_err(|e| format!("hub {:?}: MISP API key: {e}", h.name))
}

/// Builds the polled source of one `[[hub]]` entry, with its state folder
/// under `state_dir/<name>`.
pub fn hub_source(
    h: &HubSection,
    state_dir: &std::path::Path,
    opts: &MispOptions,
) -> Result<Box<dyn IndicatorSource>, String> {
    let dir = state_dir.join(&h.name);
    let at = |e: String| format!("hub {:?}: {e}", h.name);
    std::fs::create_dir_all(&dir).map_err(|e| at(format!("{}: {e}", dir.display())))?;
    let auth = hub_auth(h).map_err(at)?;
    Ok(match h.kind {
        HubKind::MispFeed => Box::new(
            MispFeedSource::new(&h.name, &h.url, auth, opts.clone())
                .with_state_dir(dir)
                .map_err(|e| at(e.to_string()))?,
        ),
        HubKind::MispRest => Box::new(MispRestSearchSource::new(
            &h.name,
            &h.url,
            &misp_key(h)?,
            serde_json::Map::new(),
            opts.clone(),
        )),
        HubKind::Taxii => {
            let collection = h.collection.clone().unwrap_or_default();
            Box::new(
                TaxiiSource::new(&h.name, &h.url, &collection, auth)
                    .with_state_file(dir.join("taxii.json"))
                    .map_err(|e| at(e.to_string()))?,
            )
        }
    })
}

fn publish(state: &LiveState, shared: &SharedIndicators, sync: &HubSync, report: &LoadReport) {
    let set = shared.current();
    let mut m = vec![
        Metric::new(
            "vigie_indicators",
            "intel.indicators",
            "Indicators in the running set.",
            false,
            set.len() as u64,
        ),
        Metric::new(
            "vigie_indicator_set_generation",
            "intel.generation",
            "Indicator set generation (+1 per swap).",
            false,
            shared.generation(),
        ),
        Metric::new(
            "vigie_indicator_staged_reloads_total",
            "intel.staged_reloads",
            "Reloads that rebuilt most of the set and swapped it part by part.",
            true,
            shared.staged_reloads(),
        ),
        Metric::new(
            "vigie_indicator_mixed_publications_total",
            "intel.mixed_publications",
            "Publications of a staged reload that left parts of different generations in use (until its last part).",
            true,
            shared.mixed_publications(),
        ),
        Metric::new(
            "vigie_indicator_set_mixed",
            "intel.mixed",
            "1 while a staged reload has swapped some parts of the set but not all.",
            false,
            u64::from(shared.mixed()),
        ),
        Metric::new(
            "vigie_indicators_rejected",
            "intel.rejected",
            "Indicators rejected by the last build (see vigie intel check).",
            false,
            report.rejected_total(),
        ),
        Metric::new(
            "vigie_indicators_warninglisted",
            "intel.warninglist_removed",
            "Indicators removed by warninglists in the last build.",
            false,
            report.warninglist_removed_total(),
        ),
    ];
    for part in SetPart::ALL {
        m.push(
            Metric::new(
                "vigie_indicator_part_generation",
                "intel.part_generation",
                "Generation of each part of the indicator set (+1 each time a reload replaced it).",
                false,
                shared.part_generation(part),
            )
            .labeled("part", part.as_str()),
        );
    }
    for kind in IndicatorKind::ALL {
        m.push(
            Metric::new(
                "vigie_indicators_by_type",
                "intel.type",
                "Indicators in the running set, by type.",
                false,
                set.count(kind),
            )
            .labeled("type", kind.as_str()),
        );
    }
    for (feed, n) in report.feeds() {
        m.push(
            Metric::new(
                "vigie_indicators_by_feed",
                "intel.feed",
                "Indicators loaded from each feed by the last build.",
                false,
                n,
            )
            .labeled("feed", feed),
        );
    }
    for (name, h) in sync.health() {
        m.push(
            Metric::new(
                "vigie_hub_polls_total",
                "hub.polls",
                "Successful polls of a hub source.",
                true,
                h.polls_ok,
            )
            .labeled("source", name),
        );
        m.push(
            Metric::new(
                "vigie_hub_polls_failed_total",
                "hub.polls_failed",
                "Failed polls of a hub source (its last good indicators stay).",
                true,
                h.polls_failed,
            )
            .labeled("source", name),
        );
        m.push(
            Metric::new(
                "vigie_hub_source_up",
                "hub.up",
                "1 when the last poll of the source succeeded.",
                false,
                u64::from(h.last_error.is_none() && h.polls_ok > 0),
            )
            .labeled("source", name),
        );
    }
    state.publish("intel", m);
}

impl IntelRuntime {
    /// Loads the `[intel]` files (an unreadable file is a start-up error),
    /// opens the hub sources and starts the sync thread.
    pub fn start(cfg: &DaemonConfig, state: Arc<LiveState>) -> Result<IntelRuntime, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        if cfg.intel.files.is_empty() && cfg.hub.is_empty() {
            return Ok(IntelRuntime {
                shared: None,
                reload,
                stop,
                thread: None,
            });
        }
        let opts = misp_options(cfg);
        let files: Vec<PathBuf> = cfg.intel.files.clone();
        let n_files = files.len();
        let shared = SharedIndicators::new(IndicatorSet::default());
        let interval = Duration::from_secs(cfg.intel.poll_interval_s);
        let mut sync = HubSync::new(shared.clone(), HubClient::default(), interval)
            .with_files(files, opts.clone());
        for h in &cfg.hub {
            sync.add_source(hub_source(h, &cfg.intel.state_dir, &opts)?);
        }
        // The files, and what the hub sources kept in their state folders,
        // are loaded by the hub thread itself: the set's memory then
        // belongs to the thread that frees and rebuilds it on reload, so a
        // reload reuses it (memory freed from another thread's heap would
        // wait for that thread, which sleeps, to collect it).
        let has_sources = !cfg.hub.is_empty();
        let (loaded_tx, loaded_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = {
            let (stop, reload, shared) = (stop.clone(), reload.clone(), shared.clone());
            std::thread::Builder::new()
                .name("vigie-hub".into())
                .spawn(move || {
                    let report = match sync.reload_files() {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = loaded_tx.send(Err(format!("intel.files: {e}")));
                            return;
                        }
                    };
                    super::log(&format!(
                        "{} indicators loaded from {n_files} file(s) and stored hub state, {} rejected (details: vigie intel check)",
                        report.loaded(),
                        report.rejected_total()
                    ));
                    publish(&state, &shared, &sync, &report);
                    let _ = loaded_tx.send(Ok(()));
                    sync_loop(sync, has_sources, report, &shared, &state, &stop, &reload)
                })
                .map_err(|e| format!("starting the hub thread: {e}"))?
        };
        match loaded_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err("intel: the hub thread stopped while loading".into());
            }
        }
        Ok(IntelRuntime {
            shared: Some(shared),
            reload,
            stop,
            thread: Some(thread),
        })
    }

    /// Asks the sync thread to re-read the files (SIGHUP).
    pub fn request_reload(&self) {
        self.reload.store(true, Ordering::SeqCst);
    }

    /// Stops the sync thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sync_loop(
    mut sync: HubSync,
    has_sources: bool,
    mut last_report: LoadReport,
    shared: &SharedIndicators,
    state: &LiveState,
    stop: &AtomicBool,
    reload: &AtomicBool,
) {
    let log_build = |what: &str, r: &LoadReport, sync: &HubSync| {
        let how = match sync.last_build() {
            Some(b) if b.shared_base => format!(
                ", built in {} ms sharing the previous set ({} new or changed, {} dropped)",
                b.took.as_millis(),
                b.layout.delta,
                b.layout.dead
            ),
            Some(b) if b.staged => format!(
                ", built in {} ms, swapped part by part (part generations {})",
                b.took.as_millis(),
                SetPart::ALL
                    .iter()
                    .map(|&p| format!("{} {}", p.as_str(), shared.part_generation(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(b) => format!(", built in {} ms", b.took.as_millis()),
            None => String::new(),
        };
        super::log(&format!(
            "{what}: indicator set generation {}: {} indicators, {} rejected{how}",
            shared.generation(),
            r.loaded(),
            r.rejected_total()
        ));
    };
    if has_sources {
        // The first poll of every source; the files' set serves meanwhile.
        if let Some(r) = sync.sync_now() {
            log_build("hub sync", &r, &sync);
            last_report = r;
        }
        for (name, h) in sync.health() {
            if let Some(e) = &h.last_error {
                super::log(&format!("hub {name:?}: {e} (will retry with backoff)"));
            }
        }
        publish(state, shared, &sync, &last_report);
    }
    while !stop.load(Ordering::SeqCst) {
        if reload.swap(false, Ordering::SeqCst) {
            match sync.reload_files() {
                Ok(r) => {
                    log_build("intel reload", &r, &sync);
                    last_report = r;
                }
                Err(e) => super::log(&format!("intel reload failed, running set kept: {e}")),
            }
            publish(state, shared, &sync, &last_report);
        }
        if has_sources {
            let polls = |sync: &HubSync| -> (u64, u64) {
                sync.health().iter().fold((0, 0), |(ok, failed), (_, h)| {
                    (ok + h.polls_ok, failed + h.polls_failed)
                })
            };
            let before = polls(&sync);
            let built = sync.tick(Instant::now());
            let after = polls(&sync);
            if after.1 > before.1 {
                for (name, h) in sync.health() {
                    if let Some(e) = &h.last_error {
                        super::log(&format!("hub {name:?}: {e} (last good indicators kept)"));
                    }
                }
            }
            if let Some(r) = built {
                log_build("hub sync", &r, &sync);
                last_report = r;
            }
            // Metrics change only when a source was polled.
            if after != before {
                publish(state, shared, &sync, &last_report);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
