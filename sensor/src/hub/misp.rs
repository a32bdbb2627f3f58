//! MISP sources: a feed directory served over HTTP (`manifest.json` plus one
//! `<uuid>.json` per event, fetched incrementally by the manifest timestamps)
//! and the `restSearch` API (attributes, with an API key).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use vigie_rules::intel::misp::{load_misp_json, MispFeedCursor, MispManifest, MispOptions};
use vigie_rules::intel::IndicatorSetBuilder;

use super::http::{HubAuth, HubClient, HubError};
use super::{IndicatorSource, PollStats};

/// A MISP feed directory over HTTP, polled incrementally.
///
/// The fetched events and the cursor are kept in memory and, with a state
/// folder, on disk (`cursor.json` and `events/<uuid>.json`), so a restart
/// fetches only what changed.
pub struct MispFeedSource {
    name: String,
    base: String,
    auth: HubAuth,
    opts: MispOptions,
    cursor: MispFeedCursor,
    events: BTreeMap<String, Vec<u8>>,
    /// Events the manifest lists but the server does not serve (HTTP 404),
    /// as a partial mirror does: counted in every load, asked for again when
    /// the manifest gives them a new timestamp.
    missing: BTreeSet<String>,
    state_dir: Option<PathBuf>,
}

impl MispFeedSource {
    /// A feed at `base_url` (the folder holding `manifest.json`); `name` is
    /// the feed name written in alerts.
    pub fn new(name: &str, base_url: &str, auth: HubAuth, opts: MispOptions) -> MispFeedSource {
        MispFeedSource {
            name: name.to_string(),
            base: base_url.trim_end_matches('/').to_string(),
            auth,
            opts,
            cursor: MispFeedCursor::default(),
            events: BTreeMap::new(),
            missing: BTreeSet::new(),
            state_dir: None,
        }
    }

    /// Persists the cursor and events in `dir`, and loads what a previous run
    /// stored there. A broken state folder is an error naming the file.
    pub fn with_state_dir(mut self, dir: PathBuf) -> Result<MispFeedSource, HubError> {
        let cpath = dir.join("cursor.json");
        let shown = cpath.display().to_string();
        if cpath.exists() {
            let bytes = std::fs::read(&cpath).map_err(|e| HubError::new(&shown, e.to_string()))?;
            let cursor: MispFeedCursor =
                serde_json::from_slice(&bytes).map_err(|e| HubError::new(&shown, e.to_string()))?;
            for uuid in cursor.events.keys() {
                if !safe_uuid(uuid) {
                    continue;
                }
                let p = dir.join("events").join(format!("{uuid}.json"));
                if let Ok(b) = std::fs::read(&p) {
                    self.events.insert(uuid.clone(), b);
                }
            }
            let mpath = dir.join("missing.json");
            if let Ok(b) = std::fs::read(&mpath) {
                let list: Vec<String> = serde_json::from_slice(&b)
                    .map_err(|e| HubError::new(&mpath.display().to_string(), e.to_string()))?;
                self.missing = list
                    .into_iter()
                    .filter(|u| cursor.events.contains_key(u))
                    .collect();
            }
            // Events whose file is gone are fetched again.
            self.cursor.events = cursor
                .events
                .into_iter()
                .filter(|(u, _)| self.events.contains_key(u) || self.missing.contains(u))
                .collect();
        }
        self.state_dir = Some(dir);
        Ok(self)
    }

    /// The cursor (event uuid → timestamp) after the last successful poll.
    pub fn cursor(&self) -> &MispFeedCursor {
        &self.cursor
    }

    fn save_state(&self) -> Result<(), HubError> {
        let Some(dir) = &self.state_dir else {
            return Ok(());
        };
        let err = |p: &std::path::Path, e: std::io::Error| {
            HubError::new(&p.display().to_string(), e.to_string())
        };
        let edir = dir.join("events");
        std::fs::create_dir_all(&edir).map_err(|e| err(&edir, e))?;
        for (uuid, body) in &self.events {
            let p = edir.join(format!("{uuid}.json"));
            if !p.exists() {
                write_atomic(&p, body).map_err(|e| err(&p, e))?;
            }
        }
        let mpath = dir.join("missing.json");
        let json = serde_json::to_vec_pretty(&self.missing).unwrap_or_default();
        write_atomic(&mpath, &json).map_err(|e| err(&mpath, e))?;
        let cpath = dir.join("cursor.json");
        let json = serde_json::to_vec_pretty(&self.cursor).unwrap_or_default();
        write_atomic(&cpath, &json).map_err(|e| err(&cpath, e))
    }

    /// Events the manifest lists that the server answered 404 for.
    pub fn missing(&self) -> usize {
        self.missing.len()
    }
}

/// MISP event uuids become file names: only hex digits and dashes pass.
fn safe_uuid(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

impl IndicatorSource for MispFeedSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self, client: &HubClient) -> Result<PollStats, HubError> {
        let murl = format!("{}/manifest.json", self.base);
        let body = client.get(&murl, "application/json", &self.auth)?.body;
        let manifest =
            MispManifest::parse(&body, &murl).map_err(|e| HubError::new(&murl, e.to_string()))?;
        let plan = self.cursor.plan(&manifest);
        // Fetch everything first: a failure leaves the last good state alone.
        let mut fetched = Vec::new();
        let mut missing = Vec::new();
        for uuid in &plan.fetch {
            if !safe_uuid(uuid) {
                return Err(HubError::new(
                    &murl,
                    format!("event uuid {uuid:?} is not a uuid"),
                ));
            }
            let url = format!("{}/{uuid}.json", self.base);
            let body = match client.get(&url, "application/json", &self.auth) {
                Ok(r) => r.body,
                // Listed but not served: a partial mirror, not a broken feed.
                Err(e) if e.status() == Some(404) => {
                    missing.push(uuid.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Checked now so a broken event never replaces a good one.
            let mut probe = IndicatorSetBuilder::new();
            load_misp_json(&body, &url, &self.name, &self.opts, &mut probe)
                .map_err(|e| HubError::new(&url, e.to_string()))?;
            fetched.push((uuid.clone(), body));
        }
        let stats = PollStats {
            fetched: fetched.len(),
            removed: plan.removed.len(),
            unchanged: plan.unchanged,
            missing: missing.len(),
        };
        for uuid in &plan.removed {
            self.events.remove(uuid);
            self.missing.remove(uuid);
            if let Some(dir) = &self.state_dir {
                let _ = std::fs::remove_file(dir.join("events").join(format!("{uuid}.json")));
            }
        }
        for (uuid, body) in fetched {
            if let Some(dir) = &self.state_dir {
                // A changed event replaces the stored one.
                let _ = std::fs::remove_file(dir.join("events").join(format!("{uuid}.json")));
            }
            self.missing.remove(&uuid);
            self.events.insert(uuid, body);
        }
        for uuid in missing {
            // An event that vanished from the server is no longer loaded.
            if self.events.remove(&uuid).is_some() {
                if let Some(dir) = &self.state_dir {
                    let _ = std::fs::remove_file(dir.join("events").join(format!("{uuid}.json")));
                }
            }
            self.missing.insert(uuid);
        }
        self.cursor = plan.next;
        self.save_state()?;
        Ok(stats)
    }

    fn load_into(&self, b: &mut IndicatorSetBuilder) {
        for (uuid, body) in &self.events {
            let source = format!("{}/{uuid}.json", self.base);
            // Checked when fetched; a failure here cannot happen but is counted.
            if load_misp_json(body, &source, &self.name, &self.opts, b).is_err() {
                b.skip("hub: stored MISP event no longer loads");
            }
        }
        for _ in &self.missing {
            b.skip("hub: MISP event listed in the manifest but not served (HTTP 404)");
        }
    }
}

/// MISP `restSearch` on attributes: every poll asks for the current IDS
/// attributes (`to_ids`, not deleted), optionally narrowed by `filters`.
pub struct MispRestSearchSource {
    name: String,
    url: String,
    auth: HubAuth,
    filters: serde_json::Map<String, serde_json::Value>,
    opts: MispOptions,
    last: Option<Vec<u8>>,
}

impl MispRestSearchSource {
    /// `base_url` is the MISP server (`https://misp.example`); `api_key` is the
    /// user's automation key (from the config or `VIGIE_MISP_KEY`).
    pub fn new(
        name: &str,
        base_url: &str,
        api_key: &str,
        filters: serde_json::Map<String, serde_json::Value>,
        opts: MispOptions,
    ) -> MispRestSearchSource {
        MispRestSearchSource {
            name: name.to_string(),
            url: format!("{}/attributes/restSearch", base_url.trim_end_matches('/')),
            auth: HubAuth::MispKey(api_key.to_string()),
            filters,
            opts,
            last: None,
        }
    }

    /// The API key from `VIGIE_MISP_KEY` when the config gives none.
    pub fn key_from_env(configured: Option<&str>) -> Option<String> {
        configured
            .map(str::to_string)
            .or_else(|| std::env::var("VIGIE_MISP_KEY").ok())
            .filter(|k| !k.trim().is_empty())
    }
}

impl IndicatorSource for MispRestSearchSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self, client: &HubClient) -> Result<PollStats, HubError> {
        let mut q = self.filters.clone();
        q.insert("returnFormat".into(), "json".into());
        q.entry("to_ids").or_insert(true.into());
        q.entry("deleted").or_insert(false.into());
        let body = serde_json::to_vec(&q).unwrap_or_default();
        let resp = client.post_json(
            &self.url,
            "application/json",
            "application/json",
            &self.auth,
            &body,
        )?;
        let mut probe = IndicatorSetBuilder::new();
        load_misp_json(&resp.body, &self.url, &self.name, &self.opts, &mut probe)
            .map_err(|e| HubError::new(&self.url, e.to_string()))?;
        self.last = Some(resp.body);
        Ok(PollStats {
            fetched: probe.len(),
            ..PollStats::default()
        })
    }

    fn load_into(&self, b: &mut IndicatorSetBuilder) {
        if let Some(body) = &self.last {
            if load_misp_json(body, &self.url, &self.name, &self.opts, b).is_err() {
                b.skip("hub: stored restSearch answer no longer loads");
            }
        }
    }
}
