//! TAXII 2.1 client: discovery, API root collections, and the objects of one
//! collection polled with `added_after` (the last `X-TAXII-Date-Added-Last`
//! seen), following `next` while the server says `more`.
//!
//! Objects are kept by id (the newest `modified` wins, `revoked` removes) and
//! loaded as one STIX 2.1 bundle with the library's STIX loader.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use vigie_rules::intel::stix::load_stix_json;
use vigie_rules::intel::IndicatorSetBuilder;

use super::http::{HubAuth, HubClient, HubError};
use super::misp::write_atomic;
use super::{IndicatorSource, PollStats};

/// Media type of TAXII 2.1 requests and answers.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// Most pages followed in one poll (a server that always says `more`).
const MAX_PAGES: usize = 10_000;

#[derive(Deserialize)]
struct Discovery {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    api_roots: Vec<String>,
}

#[derive(Deserialize)]
struct Collections {
    #[serde(default)]
    collections: Vec<CollectionInfo>,
}

/// A collection as the API root lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct CollectionInfo {
    /// Collection id.
    pub id: String,
    /// Human title.
    #[serde(default)]
    pub title: String,
    /// The credentials may read it.
    #[serde(default)]
    pub can_read: bool,
    /// The credentials may add objects to it.
    #[serde(default)]
    pub can_write: bool,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    more: bool,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    objects: Vec<serde_json::Value>,
}

/// API roots a TAXII server announces at `<server>/taxii2/` (default first).
pub fn discover(client: &HubClient, server: &str, auth: &HubAuth) -> Result<Vec<String>, HubError> {
    let url = format!("{}/taxii2/", server.trim_end_matches('/'));
    let body = client.get(&url, TAXII_MEDIA_TYPE, auth)?.body;
    let d: Discovery = serde_json::from_slice(&body)
        .map_err(|e| HubError::new(&url, format!("not a TAXII discovery answer: {e}")))?;
    let mut roots = Vec::new();
    if let Some(def) = d.default {
        roots.push(def);
    }
    for r in d.api_roots {
        if !roots.contains(&r) {
            roots.push(r);
        }
    }
    // Roots may be relative to the server.
    Ok(roots
        .into_iter()
        .map(|r| {
            if r.starts_with("http://") || r.starts_with("https://") {
                r
            } else {
                format!(
                    "{}/{}",
                    server.trim_end_matches('/'),
                    r.trim_start_matches('/')
                )
            }
        })
        .collect())
}

/// Collections of an API root.
pub fn collections(
    client: &HubClient,
    api_root: &str,
    auth: &HubAuth,
) -> Result<Vec<CollectionInfo>, HubError> {
    let url = format!("{}/collections/", api_root.trim_end_matches('/'));
    let body = client.get(&url, TAXII_MEDIA_TYPE, auth)?.body;
    let c: Collections = serde_json::from_slice(&body)
        .map_err(|e| HubError::new(&url, format!("not a TAXII collections answer: {e}")))?;
    Ok(c.collections)
}

/// What survives a restart: the cursor and the objects.
#[derive(serde::Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TaxiiState {
    added_after: Option<String>,
    objects: Vec<serde_json::Value>,
}

/// One TAXII 2.1 collection as an indicator source.
pub struct TaxiiSource {
    name: String,
    api_root: String,
    collection: String,
    collection_id: Option<String>,
    auth: HubAuth,
    page_limit: usize,
    added_after: Option<String>,
    objects: BTreeMap<String, (String, serde_json::Value)>,
    state_file: Option<PathBuf>,
}

impl TaxiiSource {
    /// The collection `collection` (id or title) of `api_root`; `name` is the
    /// feed name written in alerts.
    pub fn new(name: &str, api_root: &str, collection: &str, auth: HubAuth) -> TaxiiSource {
        TaxiiSource {
            name: name.to_string(),
            api_root: api_root.trim_end_matches('/').to_string(),
            collection: collection.to_string(),
            collection_id: None,
            auth,
            page_limit: 1000,
            added_after: None,
            objects: BTreeMap::new(),
            state_file: None,
        }
    }

    /// Objects per page asked from the server.
    pub fn page_limit(mut self, n: usize) -> TaxiiSource {
        self.page_limit = n.max(1);
        self
    }

    /// Persists the cursor and objects in `file` (JSON), loading a previous
    /// run's state from it.
    pub fn with_state_file(mut self, file: PathBuf) -> Result<TaxiiSource, HubError> {
        if file.exists() {
            let shown = file.display().to_string();
            let bytes = std::fs::read(&file).map_err(|e| HubError::new(&shown, e.to_string()))?;
            let st: TaxiiState =
                serde_json::from_slice(&bytes).map_err(|e| HubError::new(&shown, e.to_string()))?;
            self.added_after = st.added_after;
            for o in st.objects {
                self.merge(o);
            }
        }
        self.state_file = Some(file);
        Ok(self)
    }

    /// The `added_after` cursor of the next poll.
    pub fn cursor(&self) -> Option<&str> {
        self.added_after.as_deref()
    }

    /// STIX objects held.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Keeps the newest version of an object; a revoked object is dropped.
    fn merge(&mut self, o: serde_json::Value) {
        let Some(id) = o.get("id").and_then(|v| v.as_str()).map(str::to_string) else {
            return;
        };
        let modified = o
            .get("modified")
            .or_else(|| o.get("created"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if let Some((old, _)) = self.objects.get(&id) {
            // RFC 3339 timestamps in UTC compare as text.
            if old.as_str() > modified.as_str() {
                return;
            }
        }
        if o.get("revoked").and_then(|v| v.as_bool()) == Some(true) {
            self.objects.remove(&id);
            return;
        }
        self.objects.insert(id, (modified, o));
    }

    fn resolve(&mut self, client: &HubClient) -> Result<String, HubError> {
        if let Some(id) = &self.collection_id {
            return Ok(id.clone());
        }
        let list = collections(client, &self.api_root, &self.auth)?;
        let found = list
            .iter()
            .find(|c| c.id == self.collection)
            .or_else(|| list.iter().find(|c| c.title == self.collection))
            .ok_or_else(|| {
                HubError::new(
                    &self.api_root,
                    format!(
                        "no collection with id or title {:?} (available: {})",
                        self.collection,
                        list.iter()
                            .map(|c| c.title.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        if !found.can_read {
            return Err(HubError::new(
                &self.api_root,
                format!(
                    "collection {:?} is not readable with these credentials",
                    found.title
                ),
            ));
        }
        self.collection_id = Some(found.id.clone());
        Ok(found.id.clone())
    }

    fn bundle(&self) -> Vec<u8> {
        let objects: Vec<&serde_json::Value> = self.objects.values().map(|(_, o)| o).collect();
        serde_json::to_vec(&serde_json::json!({
            "type": "bundle",
            "id": "bundle--00000000-0000-4000-8000-000000000000",
            "objects": objects,
        }))
        .unwrap_or_default()
    }
}

/// Percent-encodes a query value (timestamps have `:` and `+`).
pub(crate) fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl IndicatorSource for TaxiiSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self, client: &HubClient) -> Result<PollStats, HubError> {
        let id = self.resolve(client)?;
        let base = format!("{}/collections/{}/objects/", self.api_root, encode(&id));
        let mut next: Option<String> = None;
        let mut got = Vec::new();
        let mut last = self.added_after.clone();
        for _ in 0..MAX_PAGES {
            let mut url = format!("{base}?limit={}", self.page_limit);
            if let Some(a) = &self.added_after {
                url.push_str(&format!("&added_after={}", encode(a)));
            }
            if let Some(n) = &next {
                url.push_str(&format!("&next={}", encode(n)));
            }
            let resp = client.get(&url, TAXII_MEDIA_TYPE, &self.auth)?;
            let env: Envelope = serde_json::from_slice(&resp.body)
                .map_err(|e| HubError::new(&url, format!("not a TAXII envelope: {e}")))?;
            got.extend(env.objects);
            if let Some(d) = resp.date_added_last {
                let newer = match &last {
                    Some(l) => l.as_str() < d.as_str(),
                    None => true,
                };
                if newer {
                    last = Some(d);
                }
            }
            match (env.more, env.next) {
                (true, Some(n)) if !n.is_empty() => next = Some(n),
                _ => break,
            }
        }
        let fetched = got.len();
        for o in got {
            self.merge(o);
        }
        self.added_after = last;
        if let Some(file) = &self.state_file {
            let st = TaxiiState {
                added_after: self.added_after.clone(),
                objects: self.objects.values().map(|(_, o)| o.clone()).collect(),
            };
            let json = serde_json::to_vec(&st).unwrap_or_default();
            write_atomic(file, &json)
                .map_err(|e| HubError::new(&file.display().to_string(), e.to_string()))?;
        }
        Ok(PollStats {
            fetched,
            ..PollStats::default()
        })
    }

    fn load_into(&self, b: &mut IndicatorSetBuilder) {
        if self.objects.is_empty() {
            return;
        }
        let source = format!("{}/collections/{}", self.api_root, self.collection);
        if load_stix_json(&self.bundle(), &source, &self.name, b).is_err() {
            b.skip("hub: TAXII objects do not form a loadable bundle");
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn merge_keeps_newest_and_drops_revoked() {
        let mut s = TaxiiSource::new("t", "http://x/api", "c", HubAuth::None);
        let o = |m: &str, revoked: bool| serde_json::json!({"type":"indicator","id":"indicator--1","modified":m,"revoked":revoked});
        s.merge(o("2020-01-02T00:00:00.000Z", false));
        s.merge(o("2020-01-01T00:00:00.000Z", true));
        assert_eq!(s.object_count(), 1, "an older revocation is ignored");
        s.merge(o("2020-01-03T00:00:00.000Z", true));
        assert_eq!(s.object_count(), 0);
        s.merge(serde_json::json!({"no":"id"}));
        assert_eq!(s.object_count(), 0);
        assert_eq!(
            encode("2020-01-01T00:00:00+00:00"),
            "2020-01-01T00%3A00%3A00%2B00%3A00"
        );
    }
}
