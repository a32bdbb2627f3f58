//! Sightings: indicator hits reported back to where the indicators came from,
//! batched. MISP servers get `POST /sightings/add` with the sighted values;
//! TAXII 2.1 collections get STIX 2.1 `sighting` objects (and the sensor's
//! `identity`) POSTed to their `objects/` endpoint.
//!
//! The reporter reads EVE alert lines from an [`AlertTee`] on its own thread.
//! Only indicator alerts (`alert.source.kind == "intel"`) whose `feed` has a
//! target are kept. Hits are deduplicated per target by
//! (type, value, event id), counting repeats and keeping the first and last
//! hit time. A target's pending sightings go out when `batch_max` of them are
//! waiting, when the oldest has waited `batch_wait`, and on
//! [`SightingReporter::finish`]. A failed POST keeps them for the next try
//! (with backoff); at most [`MAX_PENDING`] sightings wait per target, the
//! oldest are dropped (and counted) beyond that.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, select, Receiver, Sender};
use serde_json::{json, Value};

use super::backoff::Backoff;
use super::http::{HubAuth, HubClient, HubError};
use super::taxii::{self, TAXII_MEDIA_TYPE};
use crate::ship::AlertTee;

/// Most sightings waiting per target; beyond that the oldest are dropped.
pub const MAX_PENDING: usize = 10_000;

/// Alert lines queued between the output thread and the reporter.
const TEE_CAPACITY: usize = 16_384;

/// First retry delay after a failed POST (doubles up to [`BACKOFF_MAX`]).
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Largest STIX `count` (the spec bounds it to 999,999,999).
const STIX_MAX_COUNT: u64 = 999_999_999;

/// Namespace of the uuid v5 ids vigie derives (identity and sighting ids).
const VIGIE_NS: [u8; 16] = [
    0x6b, 0x1f, 0x0c, 0x52, 0x3e, 0x8a, 0x4d, 0x27, 0x9a, 0x41, 0x2c, 0x55, 0x7e, 0x90, 0x13, 0xd4,
];

/// `created`/`modified` of the sensor identity: fixed, so every POST carries
/// the same version of it (a TAXII server stores it once).
const IDENTITY_TIME: &str = "1970-01-01T00:00:00.000Z";

/// Where the sightings of one feed go.
#[derive(Clone, Debug)]
pub enum SightingTarget {
    /// MISP server base URL (https://misp.example) and its API key.
    Misp {
        /// Base URL of the MISP server.
        url: String,
        /// Credentials, normally [`HubAuth::MispKey`].
        auth: HubAuth,
    },
    /// TAXII 2.1 API root URL and a collection id or title to POST to.
    Taxii {
        /// API root URL.
        api_root: String,
        /// Collection id or title.
        collection: String,
        /// Credentials.
        auth: HubAuth,
    },
}

/// Reporter settings.
#[derive(Clone, Debug)]
pub struct SightingConfig {
    /// Sensor id, written as the sighting source (MISP `source`
    /// `vigie/<sensor>`, STIX identity name) and `created_by`.
    pub sensor: String,
    /// (feed name as in `alert.source.feed`, target).
    pub targets: Vec<(String, SightingTarget)>,
    /// Most sightings per POST; a target with this many waiting is sent at once.
    pub batch_max: usize,
    /// Longest wait of a sighting before its batch is sent.
    pub batch_wait: Duration,
}

impl SightingConfig {
    /// Defaults (500 sightings, 30 s) around the required settings.
    pub fn new(sensor: &str, targets: Vec<(String, SightingTarget)>) -> SightingConfig {
        SightingConfig {
            sensor: sensor.to_string(),
            targets,
            batch_max: 500,
            batch_wait: Duration::from_secs(30),
        }
    }
}

/// Counters of a reporter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SightingStats {
    /// Indicator hits taken into a batch (before deduplication).
    pub queued: u64,
    /// Sightings delivered: MISP values accepted, STIX sightings stored.
    pub sent: u64,
    /// POSTs that failed (their sightings stay pending).
    pub failed_posts: u64,
    /// Pending sightings dropped because a target had [`MAX_PENDING`].
    pub dropped: u64,
    /// Sightings waiting now (all targets).
    pub pending: u64,
    /// Last failure or rejection, with the feed name.
    pub last_error: Option<String>,
    /// Hits for a TAXII target without a STIX indicator id (`event_id` not
    /// `indicator--…`): nothing to point a sighting at, skipped.
    pub skipped: u64,
    /// Sightings the server answered but refused (MISP "Could not add",
    /// TAXII status failures); not retried.
    pub rejected: u64,
    /// Alert lines dropped at the tee because the reporter's queue was full.
    pub tee_drops: u64,
}

/// A running reporter: one thread reading the tee and POSTing batches.
pub struct SightingReporter {
    tee: AlertTee,
    tee_drops: Arc<AtomicU64>,
    stats: Arc<Mutex<SightingStats>>,
    stop: Sender<Instant>,
    thread: Option<JoinHandle<()>>,
}

fn lock(m: &Mutex<SightingStats>) -> std::sync::MutexGuard<'_, SightingStats> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SightingReporter {
    /// Starts the reporter thread.
    pub fn start(cfg: SightingConfig, client: HubClient) -> SightingReporter {
        let (tee, rx, tee_drops) = AlertTee::channel(TEE_CAPACITY);
        let stats = Arc::new(Mutex::new(SightingStats::default()));
        let (stop, stop_rx) = bounded::<Instant>(1);
        let mut worker = Worker::new(cfg, client, stats.clone());
        let thread = std::thread::Builder::new()
            .name("vigie-sightings".into())
            .spawn(move || worker.run(&rx, &stop_rx))
            .ok();
        if thread.is_none() {
            lock(&stats).last_error = Some("could not start the sightings thread".into());
        }
        SightingReporter {
            tee,
            tee_drops,
            stats,
            stop,
            thread,
        }
    }

    /// The tee to plug into `ReplayConfig.alert_tees`.
    pub fn tee(&self) -> AlertTee {
        self.tee.clone()
    }

    /// Current counters.
    pub fn stats(&self) -> SightingStats {
        let mut s = lock(&self.stats).clone();
        s.tee_drops = self.tee_drops.load(Ordering::Relaxed);
        s
    }

    /// Takes the alert lines already queued, sends every pending sighting
    /// (retrying failed targets with backoff until `timeout`), stops the
    /// thread. A POST in flight at the deadline is not waited for.
    pub fn finish(mut self, timeout: Duration) -> SightingStats {
        let deadline = Instant::now() + timeout;
        let _ = self.stop.try_send(deadline);
        if let Some(h) = self.thread.take() {
            // Grace for a request started just before the deadline.
            let give_up = deadline + Duration::from_secs(1);
            while !h.is_finished() && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
        self.stats()
    }
}

impl Drop for SightingReporter {
    fn drop(&mut self) {
        // Without finish(): stop at once, pending sightings are lost.
        let _ = self.stop.try_send(Instant::now());
    }
}

/// One indicator hit read from an alert line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub feed: String,
    pub kind: String,
    pub value: String,
    pub event_id: String,
    /// Unix ns of the alert (`timestamp`), when it parses.
    pub ts_ns: Option<i64>,
}

/// The indicator hit of an EVE alert line, or `None` for anything else.
pub(crate) fn parse_hit(line: &[u8]) -> Option<Hit> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let v: Value = serde_json::from_slice(line).ok()?;
    let src = v.get("alert")?.get("source")?;
    if src.get("kind")?.as_str()? != "intel" {
        return None;
    }
    let s = |k: &str| src.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Hit {
        feed: s("feed")?,
        kind: s("type").unwrap_or_default(),
        value: s("value").filter(|v| !v.is_empty())?,
        event_id: s("event_id").unwrap_or_default(),
        ts_ns: v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(crate::ship::eve_time_ns),
    })
}

/// What a sighting is of, within one target.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub kind: String,
    pub value: String,
    pub event_id: String,
}

/// Hits of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Agg {
    pub count: u64,
    pub first_ns: i64,
    pub last_ns: i64,
}

/// The pending sightings of one target, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    entries: HashMap<Key, Agg>,
    order: VecDeque<Key>,
    /// When the oldest pending sighting arrived.
    started: Option<Instant>,
    cap: usize,
}

impl Batch {
    pub fn new(cap: usize) -> Batch {
        Batch {
            cap: cap.max(1),
            ..Batch::default()
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Adds one hit at `ts_ns`; returns the sightings dropped to make room.
    pub fn add(&mut self, key: Key, ts_ns: i64, now: Instant) -> u64 {
        if let Some(a) = self.entries.get_mut(&key) {
            a.count = a.count.saturating_add(1);
            a.first_ns = a.first_ns.min(ts_ns);
            a.last_ns = a.last_ns.max(ts_ns);
            return 0;
        }
        let mut dropped = 0;
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
                dropped += 1;
            }
        }
        self.entries.insert(
            key.clone(),
            Agg {
                count: 1,
                first_ns: ts_ns,
                last_ns: ts_ns,
            },
        );
        self.order.push_back(key);
        self.started.get_or_insert(now);
        dropped
    }

    /// The oldest `n` sightings.
    pub fn head(&self, n: usize) -> Vec<(Key, Agg)> {
        self.order
            .iter()
            .take(n)
            .filter_map(|k| self.entries.get(k).map(|a| (k.clone(), *a)))
            .collect()
    }

    /// Forgets the oldest `n` sightings (they were delivered).
    pub fn remove_head(&mut self, n: usize) {
        for _ in 0..n {
            match self.order.pop_front() {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
        if self.order.is_empty() {
            self.started = None;
        }
    }

    /// The batch should go out: full, or its oldest sighting waited long enough.
    pub fn due(&self, now: Instant, batch_max: usize, wait: Duration) -> bool {
        !self.is_empty()
            && (self.len() >= batch_max
                || self
                    .started
                    .is_some_and(|s| now.saturating_duration_since(s) >= wait))
    }

    /// When the oldest sighting's wait ends.
    pub fn deadline(&self, wait: Duration) -> Option<Instant> {
        self.started.map(|s| s + wait)
    }
}

/// MISP `/sightings/add` body: the distinct values (sorted), the source,
/// the latest hit (Unix seconds) and type 0 (sighting). MISP counts one
/// sighting per value and request. Returns the body and the value count.
pub(crate) fn misp_body(sensor: &str, entries: &[(Key, Agg)]) -> (Vec<u8>, usize) {
    let values: BTreeSet<&str> = entries.iter().map(|(k, _)| k.value.as_str()).collect();
    let last_ns = entries.iter().map(|(_, a)| a.last_ns).max().unwrap_or(0);
    let body = json!({
        "values": values,
        "source": format!("vigie/{sensor}"),
        "timestamp": last_ns.div_euclid(1_000_000_000),
        "type": "0",
    });
    (serde_json::to_vec(&body).unwrap_or_default(), values.len())
}

/// STIX id of the sensor's identity (uuid v5 of `vigie/<sensor>`).
pub fn identity_id(sensor: &str) -> String {
    format!(
        "identity--{}",
        uuid_v5(&VIGIE_NS, format!("vigie/{sensor}").as_bytes())
    )
}

/// TAXII envelope with the sensor identity and one STIX 2.1 `sighting` per
/// indicator id (hits of several values of one indicator are summed).
/// Entries whose event id is not an indicator id are left out. Returns the
/// body and the sighting count.
pub(crate) fn taxii_body(sensor: &str, entries: &[(Key, Agg)], now_ns: i64) -> (Vec<u8>, usize) {
    let mut per: BTreeMap<&str, Agg> = BTreeMap::new();
    for (k, a) in entries {
        if !is_indicator_id(&k.event_id) {
            continue;
        }
        per.entry(k.event_id.as_str())
            .and_modify(|m| {
                m.count = m.count.saturating_add(a.count);
                m.first_ns = m.first_ns.min(a.first_ns);
                m.last_ns = m.last_ns.max(a.last_ns);
            })
            .or_insert(*a);
    }
    let ident = identity_id(sensor);
    let now = rfc3339(now_ns);
    let mut objects = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": ident,
        "created": IDENTITY_TIME,
        "modified": IDENTITY_TIME,
        "name": format!("vigie/{sensor}"),
        "identity_class": "system",
    })];
    for (ind, a) in &per {
        let count = a.count.min(STIX_MAX_COUNT);
        let name = format!(
            "{sensor}\n{ind}\n{}\n{}\n{count}\n{now_ns}",
            a.first_ns, a.last_ns
        );
        objects.push(json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": format!("sighting--{}", uuid_v5(&VIGIE_NS, name.as_bytes())),
            "created": now,
            "modified": now,
            "created_by_ref": ident,
            "sighting_of_ref": ind,
            "count": count,
            "first_seen": rfc3339(a.first_ns),
            "last_seen": rfc3339(a.last_ns),
            "where_sighted_refs": [ident],
        }));
    }
    let body = json!({ "objects": objects });
    (serde_json::to_vec(&body).unwrap_or_default(), per.len())
}

/// A STIX indicator id: `indicator--<uuid>`.
fn is_indicator_id(s: &str) -> bool {
    s.strip_prefix("indicator--").is_some_and(|u| {
        u.len() == 36
            && u.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    })
}

/// RFC 4122 name-based uuid (SHA-1, version 5).
pub(crate) fn uuid_v5(ns: &[u8; 16], name: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(ns);
    h.update(name);
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of Unix ns.
pub(crate) fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How a POST went.
enum Posted {
    /// Delivered: this many sightings stored, this many refused (and why).
    Done {
        sent: u64,
        rejected: u64,
        note: Option<String>,
    },
    /// Not delivered; keep the batch.
    Failed(HubError),
}

struct TargetState {
    feed: String,
    target: SightingTarget,
    batch: Batch,
    backoff: Backoff,
    /// No POST before this (backoff after a failure).
    next_try: Instant,
    /// Resolved TAXII collection id.
    collection_id: Option<String>,
}

struct Worker {
    sensor: String,
    batch_max: usize,
    batch_wait: Duration,
    client: HubClient,
    targets: Vec<TargetState>,
    by_feed: HashMap<String, usize>,
    stats: Arc<Mutex<SightingStats>>,
}

impl Worker {
    fn new(cfg: SightingConfig, client: HubClient, stats: Arc<Mutex<SightingStats>>) -> Worker {
        let now = Instant::now();
        let mut targets = Vec::new();
        let mut by_feed = HashMap::new();
        for (feed, target) in cfg.targets {
            // A feed listed twice reports to its first target.
            if by_feed.contains_key(&feed) {
                continue;
            }
            by_feed.insert(feed.clone(), targets.len());
            targets.push(TargetState {
                feed,
                target,
                batch: Batch::new(MAX_PENDING),
                backoff: Backoff::new(BACKOFF_BASE, BACKOFF_MAX),
                next_try: now,
                collection_id: None,
            });
        }
        Worker {
            sensor: cfg.sensor,
            batch_max: cfg.batch_max.clamp(1, MAX_PENDING),
            batch_wait: cfg.batch_wait,
            client,
            targets,
            by_feed,
            stats,
        }
    }

    fn run(&mut self, rx: &Receiver<Vec<u8>>, stop: &Receiver<Instant>) {
        let deadline = loop {
            let wait = self
                .next_wake()
                .map_or(Duration::from_secs(1), |t| {
                    t.saturating_duration_since(Instant::now())
                })
                .min(Duration::from_secs(1));
            select! {
                recv(rx) -> line => match line {
                    Ok(l) => {
                        self.take(&l);
                        // Take what else is queued before looking at batches.
                        for l in rx.try_iter().take(4096) {
                            self.take(&l);
                        }
                    }
                    // Every tee dropped: flush what is left, no deadline set.
                    Err(_) => break Instant::now() + BACKOFF_MAX,
                },
                recv(stop) -> d => break d.unwrap_or_else(|_| Instant::now()),
                default(wait) => {}
            }
            self.flush_due(Instant::now(), false);
        };
        // Stop: take the lines already queued, then send everything.
        for l in rx.try_iter() {
            self.take(&l);
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.flush_due(now, true);
            let left: Vec<&TargetState> = self
                .targets
                .iter()
                .filter(|t| !t.batch.is_empty())
                .collect();
            let Some(next) = left.iter().map(|t| t.next_try).min() else {
                break;
            };
            if next >= deadline {
                break;
            }
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        self.publish_pending();
    }

    /// Earliest instant a batch may become due or a backoff ends.
    fn next_wake(&self) -> Option<Instant> {
        self.targets
            .iter()
            .filter(|t| !t.batch.is_empty())
            .filter_map(|t| {
                let due = if t.batch.len() >= self.batch_max {
                    Some(Instant::now())
                } else {
                    t.batch.deadline(self.batch_wait)
                };
                due.map(|d| d.max(t.next_try))
            })
            .min()
    }

    /// One alert line from the tee.
    fn take(&mut self, line: &[u8]) {
        let Some(hit) = parse_hit(line) else {
            return;
        };
        let Some(&i) = self.by_feed.get(&hit.feed) else {
            return;
        };
        let t = &mut self.targets[i];
        if matches!(t.target, SightingTarget::Taxii { .. }) && !is_indicator_id(&hit.event_id) {
            lock(&self.stats).skipped += 1;
            return;
        }
        let ts = hit.ts_ns.unwrap_or_else(now_ns);
        let key = Key {
            kind: hit.kind,
            value: hit.value,
            event_id: hit.event_id,
        };
        let dropped = t.batch.add(key, ts, Instant::now());
        let mut st = lock(&self.stats);
        st.queued += 1;
        st.dropped += dropped;
        drop(st);
        self.publish_pending();
    }

    fn publish_pending(&self) {
        let n: usize = self.targets.iter().map(|t| t.batch.len()).sum();
        lock(&self.stats).pending = n as u64;
    }

    /// POSTs the batches that are due (all non-empty ones when `all`), in
    /// chunks of `batch_max`, until a target fails.
    fn flush_due(&mut self, now: Instant, all: bool) {
        for i in 0..self.targets.len() {
            loop {
                let t = &self.targets[i];
                if t.batch.is_empty() || now < t.next_try {
                    break;
                }
                if !all && !t.batch.due(now, self.batch_max, self.batch_wait) {
                    break;
                }
                let chunk = t.batch.head(self.batch_max);
                let n = chunk.len();
                let r = self.post(i, &chunk);
                let t = &mut self.targets[i];
                let mut st = lock(&self.stats);
                match r {
                    Posted::Done {
                        sent,
                        rejected,
                        note,
                    } => {
                        t.batch.remove_head(n);
                        t.backoff.succeeded();
                        st.sent += sent;
                        st.rejected += rejected;
                        if let Some(n) = note {
                            st.last_error = Some(format!("{}: {n}", t.feed));
                        }
                    }
                    Posted::Failed(e) => {
                        st.failed_posts += 1;
                        st.last_error = Some(format!("{}: {e}", t.feed));
                        t.next_try = Instant::now() + t.backoff.failed();
                        break;
                    }
                }
            }
        }
        self.publish_pending();
    }

    fn post(&mut self, i: usize, chunk: &[(Key, Agg)]) -> Posted {
        let sensor = self.sensor.clone();
        let client = self.client.clone();
        let t = &mut self.targets[i];
        match &t.target {
            SightingTarget::Misp { url, auth } => {
                let (body, n) = misp_body(&sensor, chunk);
                let url = format!("{}/sightings/add", url.trim_end_matches('/'));
                match client.post_json(&url, "application/json", "application/json", auth, &body) {
                    Ok(resp) => misp_outcome(&resp.body, n as u64),
                    Err(e) => Posted::Failed(e),
                }
            }
            SightingTarget::Taxii {
                api_root,
                collection,
                auth,
            } => {
                let (body, n) = taxii_body(&sensor, chunk, now_ns());
                if n == 0 {
                    return Posted::Done {
                        sent: 0,
                        rejected: 0,
                        note: None,
                    };
                }
                let api_root = api_root.trim_end_matches('/').to_string();
                let id = match &t.collection_id {
                    Some(id) => id.clone(),
                    None => match resolve(&client, &api_root, collection, auth) {
                        Ok(id) => {
                            t.collection_id = Some(id.clone());
                            id
                        }
                        Err(e) => return Posted::Failed(e),
                    },
                };
                let url = format!("{api_root}/collections/{}/objects/", taxii::encode(&id));
                match client.post_json(&url, TAXII_MEDIA_TYPE, TAXII_MEDIA_TYPE, auth, &body) {
                    Ok(resp) => taxii_outcome(&resp.body, n as u64),
                    Err(e) => {
                        if e.status() == Some(404) {
                            // The collection may have been replaced: look again.
                            t.collection_id = None;
                        }
                        Posted::Failed(e)
                    }
                }
            }
        }
    }
}

/// The collection with id or title `want`, if the credentials may write it.
fn resolve(
    client: &HubClient,
    api_root: &str,
    want: &str,
    auth: &HubAuth,
) -> Result<String, HubError> {
    let list = taxii::collections(client, api_root, auth)?;
    let found = list
        .iter()
        .find(|c| c.id == want)
        .or_else(|| list.iter().find(|c| c.title == want))
        .ok_or_else(|| {
            HubError::new(
                api_root,
                format!("no collection with id or title {want:?} to report sightings to"),
            )
        })?;
    if !found.can_write {
        return Err(HubError::new(
            api_root,
            format!(
                "collection {:?} is not writable with these credentials",
                found.title
            ),
        ));
    }
    Ok(found.id.clone())
}

/// A 2xx answer of MISP: `{"message":"Sighting added"}` or, still with
/// status 200, `{"message":"Could not add the Sighting. Reason: …"}`.
fn misp_outcome(body: &[u8], n: u64) -> Posted {
    let msg = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("message")
            .or_else(|| v.get("errors"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    match msg {
        Some(m) if m.contains("Could not") => Posted::Done {
            sent: 0,
            rejected: n,
            note: Some(m.chars().take(200).collect()),
        },
        _ => Posted::Done {
            sent: n,
            rejected: 0,
            note: None,
        },
    }
}

/// A 2xx answer of a TAXII server: a status resource; failures of sighting
/// objects count as rejected (a duplicate identity is expected and ignored).
fn taxii_outcome(body: &[u8], n: u64) -> Posted {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Posted::Done {
            sent: n,
            rejected: 0,
            note: None,
        };
    };
    let failures: Vec<&Value> = v
        .get("failures")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|f| {
                    f.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.starts_with("sighting--"))
                })
                .collect()
        })
        .unwrap_or_default();
    let rejected = (failures.len() as u64).min(n);
    let note = failures.first().map(|f| {
        format!(
            "TAXII server refused {rejected} sighting(s): {}",
            f.get("message")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
        )
    });
    Posted::Done {
        sent: n - rejected,
        rejected,
        note,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn line(feed: &str, value: &str, event_id: &str, ts: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "timestamp": ts, "flow_id": 1, "event_type": "alert",
            "alert": {"action": "allowed", "gid": 1, "signature_id": 9000123,
                "source": {"kind": "intel", "value": value, "type": "domain",
                    "seen_in": "dns.query", "feed": feed, "event_id": event_id,
                    "tags": [], "tlp": "clear"}}
        }))
        .unwrap()
    }

    fn key(v: &str, e: &str) -> Key {
        Key {
            kind: "domain".into(),
            value: v.into(),
            event_id: e.into(),
        }
    }

    #[test]
    fn parses_intel_hits_only() {
        let l = line(
            "f",
            "evil.example",
            "ev1",
            "2026-11-26T10:00:00.000000+0000",
        );
        let h = parse_hit(&l).unwrap();
        assert_eq!(h.feed, "f");
        assert_eq!(h.value, "evil.example");
        assert_eq!(h.kind, "domain");
        assert_eq!(h.event_id, "ev1");
        assert_eq!(rfc3339(h.ts_ns.unwrap()), "2026-11-26T10:00:00.000Z");
        let mut nl = l.clone();
        nl.push(b'\n');
        assert!(parse_hit(&nl).is_some());
        // Signature alerts, other kinds, hostile input: nothing.
        for bad in [
            &br#"{"event_type":"alert","alert":{"signature_id":1}}"#[..],
            br#"{"event_type":"alert","alert":{"source":{"kind":"rule","feed":"f","value":"x"}}}"#,
            br#"{"event_type":"alert","alert":{"source":"signature"}}"#,
            br#"{"event_type":"alert","alert":{"source":{"kind":"intel","feed":7,"value":"x"}}}"#,
            br#"{"event_type":"alert","alert":{"source":{"kind":"intel","feed":"f","value":""}}}"#,
            br#"{"event_type":"alert","alert":[1,2]}"#,
            b"{\"event_type\":\"alert\"",
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(parse_hit(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        // A broken timestamp still gives a hit (the reporter uses now).
        let l = line("f", "x", "e", "yesterday");
        assert_eq!(parse_hit(&l).unwrap().ts_ns, None);
    }

    #[test]
    fn batch_dedupes_counts_and_bounds() {
        let now = Instant::now();
        let mut b = Batch::new(3);
        assert!(!b.due(now, 2, Duration::ZERO));
        assert_eq!(b.add(key("a", "e1"), 10, now), 0);
        assert_eq!(b.add(key("a", "e1"), 5, now), 0);
        assert_eq!(b.add(key("a", "e1"), 20, now), 0);
        assert_eq!(
            b.add(key("a", "e2"), 7, now),
            0,
            "another event: another sighting"
        );
        assert_eq!(b.len(), 2);
        let h = b.head(10);
        assert_eq!(h[0].0, key("a", "e1"));
        assert_eq!(
            h[0].1,
            Agg {
                count: 3,
                first_ns: 5,
                last_ns: 20
            }
        );
        assert_eq!(h[1].1.count, 1);
        // Due when full or when the wait is over.
        assert!(b.due(now, 2, Duration::from_secs(60)));
        assert!(!b.due(now, 3, Duration::from_secs(60)));
        assert!(b.due(now + Duration::from_secs(60), 3, Duration::from_secs(60)));
        // Bound: the oldest goes.
        assert_eq!(b.add(key("b", "e1"), 1, now), 0);
        assert_eq!(b.add(key("c", "e1"), 1, now), 1);
        assert_eq!(b.len(), 3);
        assert_eq!(b.head(1)[0].0, key("a", "e2"));
        // Delivered head is forgotten; a repeat after that is a new sighting.
        b.remove_head(2);
        assert_eq!(b.len(), 1);
        assert_eq!(b.head(5)[0].0, key("c", "e1"));
        b.remove_head(5);
        assert!(b.is_empty());
        assert_eq!(b.deadline(Duration::ZERO), None);
        assert_eq!(b.add(key("a", "e1"), 1, now), 0);
        assert_eq!(b.head(1)[0].1.count, 1);
    }

    #[test]
    fn misp_body_lists_distinct_values() {
        let agg = |c, f, l| Agg {
            count: c,
            first_ns: f,
            last_ns: l,
        };
        let entries = vec![
            (key("b.example", "e1"), agg(3, 1_000_000_000, 5_500_000_000)),
            (key("a.example", "e1"), agg(1, 2_000_000_000, 2_000_000_000)),
            (key("b.example", "e2"), agg(1, 1_000_000_000, 9_000_000_000)),
        ];
        let (body, n) = misp_body("s1", &entries);
        assert_eq!(n, 2);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"values": ["a.example", "b.example"], "source": "vigie/s1",
                "timestamp": 9, "type": "0"})
        );
        match misp_outcome(br#"{"message":"Sighting added"}"#, 2) {
            Posted::Done { sent, rejected, .. } => assert_eq!((sent, rejected), (2, 0)),
            Posted::Failed(_) => panic!(),
        }
        match misp_outcome(
            br#"{"message":"Could not add the Sighting. Reason: No valid attributes found."}"#,
            2,
        ) {
            Posted::Done {
                sent,
                rejected,
                note,
            } => {
                assert_eq!((sent, rejected), (0, 2));
                assert!(note.unwrap().contains("No valid attributes"));
            }
            Posted::Failed(_) => panic!(),
        }
    }

    #[test]
    fn taxii_body_is_stix_21() {
        let i1 = "indicator--0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
        let i2 = "indicator--11111111-2222-4333-8444-555555555555";
        let agg = |c, f, l| Agg {
            count: c,
            first_ns: f,
            last_ns: l,
        };
        let entries = vec![
            (key("a.example", i1), agg(2, 1_000_000_000, 3_000_000_000)),
            (key("b.example", i1), agg(3, 500_000_000, 2_000_000_000)),
            (key("c.example", i2), agg(1, 4_000_000_000, 4_000_000_000)),
            (key("d.example", "misp-event-uuid"), agg(9, 0, 0)),
        ];
        let now = 1_764_151_200_123_000_000; // 2025-11-26T10:00:00.123Z
        let (body, n) = taxii_body("s1", &entries, now);
        assert_eq!(n, 2);
        let v: Value = serde_json::from_slice(&body).unwrap();
        let objs = v["objects"].as_array().unwrap();
        assert_eq!(objs.len(), 3);
        let ident = &objs[0];
        assert_eq!(ident["type"], "identity");
        assert_eq!(ident["id"], identity_id("s1"));
        assert_eq!(ident["name"], "vigie/s1");
        assert_ne!(identity_id("s1"), identity_id("s2"));
        let s = &objs[1];
        assert_eq!(s["type"], "sighting");
        assert_eq!(s["spec_version"], "2.1");
        assert_eq!(s["sighting_of_ref"], i1);
        assert_eq!(s["count"], 5, "the values of one indicator are summed");
        assert_eq!(s["first_seen"], "1970-01-01T00:00:00.500Z");
        assert_eq!(s["last_seen"], "1970-01-01T00:00:03.000Z");
        assert_eq!(s["created"], "2025-11-26T10:00:00.123Z");
        assert_eq!(s["modified"], s["created"]);
        assert_eq!(s["created_by_ref"], identity_id("s1"));
        assert_eq!(s["where_sighted_refs"], json!([identity_id("s1")]));
        let id = s["id"].as_str().unwrap();
        assert!(id.starts_with("sighting--"));
        let u = id.trim_start_matches("sighting--");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "5", "uuid version 5");
        assert!("89ab".contains(&u[19..20]), "RFC 4122 variant");
        assert_eq!(objs[2]["sighting_of_ref"], i2);
        assert_ne!(objs[2]["id"], s["id"]);
        // Same input, same ids (a retried POST does not duplicate).
        assert_eq!(taxii_body("s1", &entries, now).0, body);
        // Nothing with an indicator id: no sightings.
        assert_eq!(taxii_body("s1", &entries[3..], now).1, 0);
    }

    #[test]
    fn uuid_v5_matches_rfc_example() {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid_v5(&dns, b"python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
        assert!(is_indicator_id(
            "indicator--886313e1-3b8a-5372-9b90-0c9aee199e5d"
        ));
        assert!(!is_indicator_id("indicator--886313e1"));
        assert!(!is_indicator_id("886313e1-3b8a-5372-9b90-0c9aee199e5d"));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(-1_000_000), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn taxii_status_failures_count_sightings_only() {
        let body = br#"{"status":"complete","success_count":1,"failure_count":2,
            "failures":[{"id":"identity--x","message":"Unable to process object"},
                        {"id":"sighting--y","message":"bad"}]}"#;
        match taxii_outcome(body, 2) {
            Posted::Done {
                sent,
                rejected,
                note,
            } => {
                assert_eq!((sent, rejected), (1, 1));
                assert!(note.unwrap().contains("bad"));
            }
            Posted::Failed(_) => panic!(),
        }
    }

    #[test]
    fn reporter_with_unreachable_target_keeps_and_counts() {
        // Port 9 on localhost: connection refused.
        let cfg = SightingConfig {
            batch_max: 10,
            batch_wait: Duration::from_millis(10),
            ..SightingConfig::new(
                "s1",
                vec![(
                    "f".into(),
                    SightingTarget::Misp {
                        url: "http://127.0.0.1:9".into(),
                        auth: HubAuth::MispKey("k".into()),
                    },
                )],
            )
        };
        let r = SightingReporter::start(cfg, HubClient::new(Duration::from_secs(2)));
        let tee = r.tee();
        tee.offer(&line("f", "a", "e", "2026-11-26T10:00:00.000000+0000"));
        tee.offer(&line("f", "a", "e", "2026-11-26T10:00:01.000000+0000"));
        tee.offer(&line("other", "b", "e", "2026-11-26T10:00:00.000000+0000"));
        let st = r.finish(Duration::from_millis(300));
        assert_eq!(st.queued, 2);
        assert_eq!(st.sent, 0);
        assert!(st.failed_posts >= 1);
        assert_eq!(st.pending, 1);
        assert!(st.last_error.unwrap().starts_with("f: "));
    }
}
