//! MISP: feed directories (`manifest.json`, `<uuid>.json` events,
//! `hashes.csv`), single events in core format (as PyMISP writes them, with or
//! without the `{"Event": ...}` wrapper), and REST `restSearch` answers
//! (`{"response": {"Attribute": [...]}}` or `{"response": [{"Event": ...}]}`).
//!
//! Only attributes flagged `to_ids` are loaded (MISP's "use for detection"
//! flag) unless [`MispOptions::include_non_ids`] is set; deleted attributes
//! are skipped. Type mapping: `ip-src`/`ip-dst` (and `|port`) → IP,
//! `domain` → domain and subdomains, `hostname` (and `|port`) → exact host,
//! `domain|ip` → both, `url` → URL, `md5`/`sha1`/`sha256` (and `filename|...`,
//! `malware-sample`) → hashes, `ja3-fingerprint-md5` → JA3,
//! `ja4-fingerprint` → JA4, `x509-fingerprint-sha1` → certificate,
//! `email`/`email-src`/`email-dst` → e-mail. Other types are skipped and
//! counted. Rejections give the attribute's index in the event (event
//! attributes first, then each object's attributes, in file order).

use super::time::parse_timestamp;
use super::{
    read_capped, IndicatorSetBuilder, IndicatorType, IntelError, Location, Provenance, Tlp,
    MAX_JSON_DOCUMENT,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// How MISP attributes are turned into indicators.
#[derive(Clone, Debug, Default)]
pub struct MispOptions {
    /// Also load attributes whose `to_ids` flag is off.
    pub include_non_ids: bool,
    /// Indicators expire this many seconds after their last-seen time (or
    /// attribute timestamp). `None`: they never expire.
    pub max_age: Option<u64>,
}

/// A JSON scalar MISP sends as string, number or bool depending on version.
#[derive(Debug, Default, Clone)]
struct Loose(Option<String>);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Loose, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, bool or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
                Ok(Loose(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose, E> {
                Ok(Loose(Some(if v { "1" } else { "0" }.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
                Ok(Loose(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose, E> {
                Ok(Loose(Some((v as i64).to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Loose, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Loose, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl Loose {
    fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    fn truthy(&self) -> bool {
        matches!(self.as_str(), "1" | "true" | "True")
    }

    fn time(&self) -> Option<u64> {
        parse_timestamp(self.as_str())
    }
}

#[derive(Deserialize, Debug, Default)]
struct TagRef {
    #[serde(default)]
    name: Loose,
}

#[derive(Deserialize, Debug, Default)]
struct EventRef {
    #[serde(default)]
    uuid: Loose,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagRef>,
}

#[derive(Deserialize, Debug, Default)]
struct Attribute {
    #[serde(rename = "type", default)]
    ty: Loose,
    #[serde(default)]
    value: Loose,
    #[serde(default)]
    to_ids: Loose,
    #[serde(default)]
    deleted: Loose,
    #[serde(default)]
    timestamp: Loose,
    #[serde(default)]
    first_seen: Loose,
    #[serde(default)]
    last_seen: Loose,
    #[serde(default)]
    event_id: Loose,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagRef>,
    #[serde(rename = "Event", default)]
    event: Option<EventRef>,
}

#[derive(Deserialize, Debug, Default)]
struct Object {
    #[serde(default)]
    deleted: Loose,
    #[serde(rename = "Attribute", default)]
    attributes: Vec<Attribute>,
}

#[derive(Deserialize, Debug, Default)]
struct Event {
    #[serde(default)]
    uuid: Loose,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagRef>,
    #[serde(rename = "Attribute", default)]
    attributes: Vec<Attribute>,
    #[serde(rename = "Object", default)]
    objects: Vec<Object>,
}

#[derive(Deserialize, Debug, Default)]
struct Wrapped {
    #[serde(rename = "Event")]
    event: Event,
}

/// `response` of restSearch: attributes (map form) or events (list form).
#[derive(Debug)]
enum Response {
    Attributes(Vec<Attribute>),
    Events(Vec<Wrapped>),
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Response, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Response;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with \"Attribute\" or a list of events")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Response, A::Error> {
                let mut attrs = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    if k == "Attribute" {
                        attrs = m.next_value()?;
                    } else {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Response::Attributes(attrs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Response, A::Error> {
                let mut events = Vec::new();
                while let Some(e) = s.next_element::<Wrapped>()? {
                    events.push(e);
                }
                Ok(Response::Events(events))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any MISP JSON document vigie reads: a wrapped event, a bare event, or a
/// restSearch response.
#[derive(Deserialize, Debug, Default)]
struct Document {
    #[serde(rename = "Event", default)]
    event: Option<Event>,
    #[serde(default)]
    response: Option<Response>,
    #[serde(default)]
    uuid: Loose,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagRef>,
    #[serde(rename = "Attribute", default)]
    attributes: Vec<Attribute>,
    #[serde(rename = "Object", default)]
    objects: Vec<Object>,
}

/// Context shared by the attributes of one event.
struct EventCtx<'a> {
    uuid: &'a str,
    tags: Vec<&'a str>,
    tlp: Tlp,
    confidence: Option<u8>,
}

fn confidence_of(tag: &str) -> Option<u8> {
    let v = tag.strip_prefix("osint:certainty=")?.trim_matches('"');
    v.parse::<f64>().ok().map(|c| c.clamp(0.0, 100.0) as u8)
}

fn event_ctx<'a>(uuid: &'a str, tags: &'a [TagRef]) -> EventCtx<'a> {
    let mut ctx = EventCtx {
        uuid,
        tags: Vec::new(),
        tlp: Tlp::Unknown,
        confidence: None,
    };
    for t in tags.iter().take(64) {
        let name = t.name.as_str();
        if let Some(tlp) = name
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("tlp:"))
            .and(Tlp::parse(name))
        {
            ctx.tlp = tlp;
        } else if !name.is_empty() {
            ctx.confidence = ctx.confidence.or(confidence_of(name));
            ctx.tags.push(name);
        }
    }
    ctx
}

/// Indicator(s) a MISP attribute type and value give.
fn map_type<'v>(ty: &str, value: &'v str) -> Option<[Option<(IndicatorType, &'v str)>; 2]> {
    let before = |v: &'v str| v.rsplit_once('|').map_or(v, |(a, _)| a);
    let after = |v: &'v str| v.split_once('|').map_or(v, |(_, b)| b);
    let one = |t, v| Some([Some((t, v)), None]);
    match ty {
        "ip-dst" | "ip-src" => one(IndicatorType::Ip, value),
        "ip-dst|port" | "ip-src|port" => one(IndicatorType::Ip, before(value)),
        "domain" => one(IndicatorType::Domain, value),
        "hostname" => one(IndicatorType::Hostname, value),
        "hostname|port" => one(IndicatorType::Hostname, before(value)),
        "domain|ip" => {
            let (d, ip) = value.split_once('|').unwrap_or((value, ""));
            Some([
                Some((IndicatorType::Domain, d)),
                Some((IndicatorType::Ip, ip)),
            ])
        }
        "url" => one(IndicatorType::Url, value),
        "md5" => one(IndicatorType::Md5, value),
        "sha1" => one(IndicatorType::Sha1, value),
        "sha256" => one(IndicatorType::Sha256, value),
        "filename|md5" | "malware-sample" => one(IndicatorType::Md5, after(value)),
        "filename|sha1" => one(IndicatorType::Sha1, after(value)),
        "filename|sha256" => one(IndicatorType::Sha256, after(value)),
        "ja3-fingerprint-md5" => one(IndicatorType::Ja3, value),
        "ja4-fingerprint" => one(IndicatorType::Ja4, value),
        "x509-fingerprint-sha1" => one(IndicatorType::CertSha1, value),
        "email" | "email-src" | "email-dst" => one(IndicatorType::Email, value),
        _ => None,
    }
}

/// Where the attributes being loaded come from and how to treat them.
struct Input<'a> {
    feed: &'a str,
    source: &'a str,
    opts: &'a MispOptions,
}

fn load_attribute(
    a: &Attribute,
    ctx: &EventCtx<'_>,
    index: u64,
    input: &Input<'_>,
    b: &mut IndicatorSetBuilder,
) {
    let Input { feed, source, opts } = *input;
    if a.deleted.truthy() {
        b.skip("misp: deleted attribute");
        return;
    }
    if !opts.include_non_ids && !a.to_ids.truthy() {
        b.skip("misp: to_ids off");
        return;
    }
    let ty = a.ty.as_str();
    let Some(parts) = map_type(ty, a.value.as_str()) else {
        b.skip(&format!(
            "misp type '{}': not a network indicator",
            super::report::truncate_detail(ty)
        ));
        return;
    };
    // Attribute tags add to the event's; an attribute TLP tag overrides it.
    let mut attr_ctx_tags: Vec<&str> = ctx.tags.clone();
    let mut tlp = ctx.tlp;
    let mut confidence = ctx.confidence;
    let event_tags = a.event.as_ref().map(|e| e.tags.as_slice()).unwrap_or(&[]);
    for t in a.tags.iter().chain(event_tags).take(64) {
        let name = t.name.as_str();
        if let Some(p) = name
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("tlp:"))
            .and(Tlp::parse(name))
        {
            tlp = p;
        } else if !name.is_empty() && !attr_ctx_tags.contains(&name) {
            confidence = confidence.or(confidence_of(name));
            attr_ctx_tags.push(name);
        }
    }
    let event_uuid = match a.event.as_ref().map(|e| e.uuid.as_str()) {
        Some(u) if !u.is_empty() => u,
        _ if !ctx.uuid.is_empty() => ctx.uuid,
        _ => a.event_id.as_str(),
    };
    let first_seen = a.first_seen.time().or(a.timestamp.time());
    let last_seen = a.last_seen.time();
    let expires = opts
        .max_age
        .and_then(|age| last_seen.or(first_seen).map(|t| t.saturating_add(age)));
    let prov = Provenance {
        feed,
        event_id: event_uuid,
        tags: &attr_ctx_tags,
        tlp,
        confidence,
        first_seen,
        last_seen,
        expires,
    };
    for (ity, v) in parts.into_iter().flatten() {
        b.add(ity, v, &prov, source, Location::Index(index));
    }
}

fn load_event(e: &Event, input: &Input<'_>, b: &mut IndicatorSetBuilder) {
    let ctx = event_ctx(e.uuid.as_str(), &e.tags);
    let (attributes, objects) = (&e.attributes, &e.objects);
    let mut index = 0u64;
    for a in attributes {
        load_attribute(a, &ctx, index, input, b);
        index += 1;
    }
    for o in objects {
        for a in &o.attributes {
            if o.deleted.truthy() {
                b.skip("misp: attribute of a deleted object");
            } else {
                load_attribute(a, &ctx, index, input, b);
            }
            index += 1;
        }
    }
}

/// Loads a MISP JSON document from bytes: an event (`{"Event": ...}` or bare),
/// or a restSearch response. `feed` names the feed of every indicator.
pub fn load_misp_json(
    bytes: &[u8],
    source: &str,
    feed: &str,
    opts: &MispOptions,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    if bytes.len() as u64 > MAX_JSON_DOCUMENT {
        return Err(IntelError::too_large(
            source,
            bytes.len() as u64,
            MAX_JSON_DOCUMENT,
        ));
    }
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| IntelError::json(source, e))?;
    b.count_source();
    let input = Input { feed, source, opts };
    if let Some(e) = &doc.event {
        load_event(e, &input, b);
    } else if let Some(r) = &doc.response {
        match r {
            Response::Attributes(attrs) => {
                let ctx = event_ctx("", &[]);
                for (i, a) in attrs.iter().enumerate() {
                    load_attribute(a, &ctx, i as u64, &input, b);
                }
            }
            Response::Events(events) => {
                for w in events {
                    load_event(&w.event, &input, b);
                }
            }
        }
    } else if !doc.attributes.is_empty() || !doc.objects.is_empty() || !doc.uuid.as_str().is_empty()
    {
        let bare = Event {
            uuid: doc.uuid,
            tags: doc.tags,
            attributes: doc.attributes,
            objects: doc.objects,
        };
        load_event(&bare, &input, b);
    } else {
        return Err(IntelError::format(
            source,
            "not a MISP event or restSearch response (no Event, response or Attribute key)",
        ));
    }
    Ok(())
}

/// Loads a MISP event or restSearch file.
pub fn load_misp_file(
    path: &Path,
    feed: &str,
    opts: &MispOptions,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    let bytes = read_capped(path, MAX_JSON_DOCUMENT)?;
    load_misp_json(&bytes, &path.display().to_string(), feed, opts, b)
}

/// One event listed in a feed's `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Event uuid (validated: 36 chars of hex digits and dashes, safe as a file name).
    pub uuid: String,
    /// Event timestamp (last change), unix seconds.
    pub timestamp: u64,
    /// Event title.
    pub info: String,
}

/// A MISP feed's `manifest.json`: the events it offers and when each last changed.
#[derive(Clone, Debug, Default)]
pub struct MispManifest {
    /// Valid entries, sorted by timestamp then uuid.
    pub events: Vec<ManifestEntry>,
    /// Entries refused (bad uuid or timestamp), with the reason.
    pub rejected: Vec<String>,
}

#[derive(Deserialize)]
struct RawManifestEntry {
    #[serde(default)]
    timestamp: Loose,
    #[serde(default)]
    info: Loose,
}

fn valid_uuid(u: &str) -> bool {
    u.len() == 36
        && u.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl MispManifest {
    /// Parses `manifest.json`. Entries whose key is not a uuid (which could
    /// otherwise escape the feed directory or URL) or that lack a timestamp
    /// are refused and listed in `rejected`.
    pub fn parse(bytes: &[u8], source: &str) -> Result<MispManifest, IntelError> {
        if bytes.len() as u64 > MAX_JSON_DOCUMENT {
            return Err(IntelError::too_large(
                source,
                bytes.len() as u64,
                MAX_JSON_DOCUMENT,
            ));
        }
        let raw: BTreeMap<String, RawManifestEntry> =
            serde_json::from_slice(bytes).map_err(|e| IntelError::json(source, e))?;
        let mut m = MispManifest::default();
        for (uuid, e) in raw {
            if !valid_uuid(&uuid) {
                m.rejected.push(format!(
                    "{source}: event key {:?} is not a uuid",
                    super::report::truncate_detail(&uuid)
                ));
                continue;
            }
            let Some(timestamp) = e.timestamp.time() else {
                m.rejected.push(format!(
                    "{source}: event {uuid}: missing or invalid timestamp"
                ));
                continue;
            };
            m.events.push(ManifestEntry {
                uuid: uuid.to_ascii_lowercase(),
                timestamp,
                info: super::report::truncate_detail(e.info.as_str()),
            });
        }
        m.events
            .sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.uuid.cmp(&b.uuid)));
        Ok(m)
    }
}

/// What the sensor has already fetched from a feed: event uuid → timestamp.
/// Serialise it (serde) between runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MispFeedCursor {
    /// Timestamp of each event as last fetched.
    pub events: BTreeMap<String, u64>,
}

/// Result of comparing a manifest with a cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MispFetchPlan {
    /// Events to (re)fetch: new, or changed since the cursor (oldest first).
    pub fetch: Vec<String>,
    /// Events in the cursor that the manifest no longer lists.
    pub removed: Vec<String>,
    /// Events unchanged since the cursor.
    pub unchanged: usize,
    /// The cursor to store once every event in `fetch` is loaded.
    pub next: MispFeedCursor,
}

impl MispFeedCursor {
    /// Which events to fetch, given the feed's current manifest.
    pub fn plan(&self, manifest: &MispManifest) -> MispFetchPlan {
        let mut plan = MispFetchPlan::default();
        for e in &manifest.events {
            match self.events.get(&e.uuid) {
                Some(&ts) if ts >= e.timestamp => plan.unchanged += 1,
                _ => plan.fetch.push(e.uuid.clone()),
            }
            plan.next.events.insert(e.uuid.clone(), e.timestamp);
        }
        plan.removed = self
            .events
            .keys()
            .filter(|u| !plan.next.events.contains_key(*u))
            .cloned()
            .collect();
        plan
    }
}

/// Summary of a feed's `hashes.csv` (MD5 of each attribute value, with the
/// event uuid): MISP uses it for correlation and caching; vigie checks it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MispHashesSummary {
    /// Well-formed rows.
    pub entries: u64,
    /// Distinct event uuids.
    pub events: usize,
    /// Malformed rows.
    pub malformed: u64,
}

/// Reads a feed's `hashes.csv` (`<md5>,<event uuid>` rows).
pub fn read_hashes_csv<R: std::io::BufRead>(
    reader: R,
    source: &str,
) -> Result<MispHashesSummary, IntelError> {
    let mut lines = super::lines::LineReader::new(reader);
    let mut s = MispHashesSummary::default();
    let mut events = std::collections::BTreeSet::new();
    while let Some((_, line)) = lines.next_line().map_err(|e| IntelError::io(source, e))? {
        let super::lines::Line::Text(t) = line else {
            s.malformed += 1;
            continue;
        };
        if t.trim().is_empty() {
            continue;
        }
        match t.trim().split_once(',') {
            Some((h, u))
                if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) && valid_uuid(u) =>
            {
                s.entries += 1;
                if events.len() < 1_000_000 {
                    events.insert(u.to_string());
                }
            }
            _ => s.malformed += 1,
        }
    }
    s.events = events.len();
    Ok(s)
}

/// What [`load_misp_feed_dir`] did.
#[derive(Clone, Debug, Default)]
pub struct MispFeedDirSummary {
    /// The feed's manifest.
    pub manifest: MispManifest,
    /// Event files loaded.
    pub events_loaded: usize,
    /// Events listed in the manifest without a file in the directory.
    pub events_missing: usize,
    /// `hashes.csv` summary, if the file exists.
    pub hashes: Option<MispHashesSummary>,
}

/// Loads a MISP feed directory: every event of `manifest.json` whose
/// `<uuid>.json` is present. Missing event files are counted, not errors
/// (a partial mirror is normal); a broken event file is an error.
pub fn load_misp_feed_dir(
    dir: &Path,
    feed: &str,
    opts: &MispOptions,
    b: &mut IndicatorSetBuilder,
) -> Result<MispFeedDirSummary, IntelError> {
    let mpath = dir.join("manifest.json");
    let bytes = read_capped(&mpath, MAX_JSON_DOCUMENT)?;
    let manifest = MispManifest::parse(&bytes, &mpath.display().to_string())?;
    for r in &manifest.rejected {
        b.reject(
            &mpath.display().to_string(),
            Location::Whole,
            "bad manifest entry",
            r,
        );
    }
    let mut summary = MispFeedDirSummary::default();
    for e in &manifest.events {
        let p = dir.join(format!("{}.json", e.uuid));
        if !p.exists() {
            summary.events_missing += 1;
            continue;
        }
        load_misp_file(&p, feed, opts, b)?;
        summary.events_loaded += 1;
    }
    let hpath = dir.join("hashes.csv");
    if hpath.exists() {
        let name = hpath.display().to_string();
        let f = std::fs::File::open(&hpath).map_err(|e| IntelError::io(&name, e))?;
        summary.hashes = Some(read_hashes_csv(std::io::BufReader::new(f), &name)?);
    }
    summary.manifest = manifest;
    Ok(summary)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::IndicatorKind as K;

    #[test]
    fn tweetfeed_feed_directory() {
        let Some(dir) = corpus("intel/misp/tweetfeed-feed") else {
            return;
        };
        let mut b = IndicatorSetBuilder::new();
        let s = load_misp_feed_dir(&dir, "tweetfeed", &MispOptions::default(), &mut b).unwrap();
        assert_eq!(s.manifest.events.len(), 365);
        assert_eq!((s.events_loaded, s.events_missing), (10, 355));
        let h = s.hashes.unwrap();
        assert_eq!((h.entries, h.events, h.malformed), (12092, 31, 0));
        let (set, report) = b.build();
        // MANIFEST.tsv attribute counts over the 10 events: 2810 attributes, all to_ids.
        let total = 59 + 646 + 144 + 141 + 299 + 294 + 465 + 168 + 422 + 172;
        assert_eq!(
            report.loaded() + report.rejected_total() + report.duplicates(),
            total,
            "{report}"
        );
        let urls = 29 + 305 + 55 + 61 + 130 + 135 + 216 + 61 + 196 + 73;
        let domains = 28 + 300 + 32 + 51 + 87 + 134 + 204 + 42 + 186 + 56;
        assert_eq!(
            [K::Ipv4, K::Domain, K::Url, K::Md5, K::Sha256].map(|k| set.count(k)),
            [225, 1120, 1256, 51, 153]
        );
        assert_eq!((report.duplicates(), report.rejected_total()), (5, 0));
        assert!(set.count(K::Url) <= urls && set.count(K::Url) > urls * 9 / 10);
        assert!(set.count(K::Domain) <= domains && set.count(K::Domain) > domains * 9 / 10);
        let h = set
            .lookup_domain(b"scr33nc0nn3ctz00m.com", 0)
            .next()
            .unwrap();
        assert_eq!(h.event_id(), "67317f07-5461-555f-9491-d7685196f614");
        assert_eq!(h.tlp(), Tlp::Clear);
        assert!(h.tags().any(|t| t == "TweetFeed"));
        assert!(set
            .lookup_url(b"scr33nc0nn3ctz00m.com", b"/", 0)
            .next()
            .is_some());
        let h = set
            .lookup_domain(b"gfytvd-wiyn-np4qjd-g9ewg7.pages.dev", 0)
            .next()
            .unwrap();
        assert!(h.tags().any(|t| t == "ransomware"));
    }

    #[test]
    fn incremental_plan_from_manifest() {
        let Some(dir) = corpus("intel/misp/tweetfeed-feed") else {
            return;
        };
        let bytes = std::fs::read(dir.join("manifest.json")).unwrap();
        let m = MispManifest::parse(&bytes, "manifest.json").unwrap();
        let first = MispFeedCursor::default().plan(&m);
        assert_eq!(
            (first.fetch.len(), first.unchanged, first.removed.len()),
            (365, 0, 0)
        );
        let again = first.next.plan(&m);
        assert_eq!((again.fetch.len(), again.unchanged), (0, 365));
        // One event changed, one vanished from the manifest, one new.
        let mut cursor = first.next.clone();
        *cursor
            .events
            .get_mut("67317f07-5461-555f-9491-d7685196f614")
            .unwrap() -= 10;
        cursor
            .events
            .insert("00000000-0000-0000-0000-000000000000".into(), 1);
        cursor.events.remove("ec185261-dda2-5256-bf1a-f93d913192fa");
        let p = cursor.plan(&m);
        assert_eq!(
            p.fetch,
            [
                "ec185261-dda2-5256-bf1a-f93d913192fa",
                "67317f07-5461-555f-9491-d7685196f614"
            ]
        );
        assert_eq!(p.removed, ["00000000-0000-0000-0000-000000000000"]);
        assert_eq!(p.unchanged, 363);
        let json = serde_json::to_string(&p.next).unwrap();
        assert_eq!(
            serde_json::from_str::<MispFeedCursor>(&json).unwrap(),
            p.next
        );
        let bad = MispManifest::parse(
            br#"{"../../etc/passwd":{"timestamp":"1"},"5a3c2fda-78f4-44b7-8366-46da02de0b81":{}}"#,
            "m",
        )
        .unwrap();
        assert_eq!((bad.events.len(), bad.rejected.len()), (0, 2));
    }

    #[test]
    fn pymisp_events() {
        let Some(dir) = corpus("intel/misp/pymisp-tests") else {
            return;
        };
        let load = |f: &str| {
            let mut b = IndicatorSetBuilder::new();
            load_misp_file(&dir.join(f), "pymisp", &MispOptions::default(), &mut b).unwrap();
            b.build()
        };
        // to_ids attributes of network/hash types, from MANIFEST.tsv / the files.
        let (set, r) = load("to_delete2.json");
        // 90 ip-dst + 3 ip-dst|port + 16 md5 + 2 sha1 + 2 sha256 (to_ids); filename/ssdeep skipped.
        assert_eq!(r.loaded() + r.duplicates() + r.rejected_total(), 113, "{r}");
        assert!(set
            .lookup_ip("125.212.132.222".parse().unwrap(), 0)
            .next()
            .is_some());
        let h = set
            .lookup_ip("125.212.132.222".parse().unwrap(), 0)
            .next()
            .unwrap();
        assert_eq!(h.tlp(), Tlp::Clear);
        assert!(h.tags().any(|t| t == "misp-galaxy:rat=\"FALLCHILL\""));

        let (set, r) = load("existing_event.json"); // bare event (no wrapper)
        assert_eq!(
            r.loaded() + r.duplicates() + r.rejected_total(),
            19 + 12 + 37,
            "{r}"
        );
        assert!(set.count(K::Sha1) > 0 && set.count(K::Domain) > 0);
        let (_, r) = load("misp_event.json"); // nothing is to_ids
        assert_eq!((r.loaded(), r.skipped_total()), (0, 2));
        let (set, r) = load("mainly_objects_1.json"); // object attributes
        assert_eq!(
            r.loaded() + r.duplicates() + r.rejected_total(),
            11 + 3 + 3,
            "{r}"
        );
        assert_eq!(
            (set.count(K::Md5), set.count(K::Sha1), set.count(K::Sha256)),
            (11 - r.duplicates(), 3, 3)
        );
        let (_, r) = load("long_event.json");
        assert_eq!(
            r.loaded() + r.duplicates() + r.rejected_total(),
            3 + 44 + 44 + 9 + 8 + 31 + 57 + 40 + 14,
            "{r}"
        );
        let (_, r) = load("very_long_event.json");
        assert_eq!(
            r.loaded() + r.duplicates() + r.rejected_total(),
            2 + 16 + 8 + 8 + 1,
            "{r}"
        );
        let (_, r) = load("HTML_event.json");
        assert_eq!(
            r.loaded() + r.duplicates() + r.rejected_total(),
            1 + 1 + 1 + 1 + 1,
            "{r}"
        );
        let (_, r) = load("57c4445b-c548-4654-af0b-4be3950d210f.json");
        assert_eq!(r.loaded() + r.duplicates() + r.rejected_total(), 3, "{r}");
        // A STIX bundle is not a MISP document.
        let mut b = IndicatorSetBuilder::new();
        let e = load_misp_file(
            &dir.join("stix2.json"),
            "x",
            &MispOptions::default(),
            &mut b,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a MISP event"));
    }

    #[test]
    fn rest_search_attributes() {
        let body = br#"{"response": {"Attribute": [
            {"id":"1","event_id":"7","type":"ip-dst","value":"198.51.100.7","to_ids":true,
             "timestamp":"1700000000","first_seen":null,"last_seen":"2023-11-20T00:00:00+00:00",
             "Event":{"uuid":"5c066053-0e94-46eb-9746-4b7d950d210f","info":"x"},
             "Tag":[{"name":"tlp:amber"},{"name":"osint:certainty=\"75\""}]},
            {"id":"2","event_id":"7","type":"domain|ip","value":"bad.example|203.0.113.9","to_ids":"1"},
            {"id":"3","event_id":"8","type":"ip-dst","value":"not-an-ip","to_ids":true},
            {"id":"4","event_id":"8","type":"comment","value":"hi","to_ids":true},
            {"id":"5","event_id":"8","type":"url","value":"http://x.example/a","to_ids":false}
        ]}}"#;
        let mut b = IndicatorSetBuilder::new();
        let opts = MispOptions {
            max_age: Some(86_400),
            ..MispOptions::default()
        };
        load_misp_json(body, "restSearch", "misp-prod", &opts, &mut b).unwrap();
        let (set, r) = b.build();
        assert_eq!(
            (set.len(), r.rejected_total(), r.skipped_total()),
            (3, 1, 2)
        );
        assert_eq!(
            r.rejections()[0].to_string(),
            "restSearch[2]: invalid IP address: \"not-an-ip\""
        );
        let t = parse_timestamp("2023-11-20T00:00:00Z").unwrap();
        let h = set
            .lookup_ip("198.51.100.7".parse().unwrap(), t)
            .next()
            .unwrap();
        assert_eq!(
            (h.tlp(), h.confidence(), h.event_id()),
            (Tlp::Amber, Some(75), "5c066053-0e94-46eb-9746-4b7d950d210f")
        );
        assert_eq!(h.expires(), Some(t + 86_400));
        assert!(set
            .lookup_ip("198.51.100.7".parse().unwrap(), t + 86_400)
            .next()
            .is_none());
        assert_eq!(
            set.lookup_domain(b"www.bad.example", 0)
                .next()
                .unwrap()
                .event_id(),
            "7"
        );
        assert!(set
            .lookup_ip("203.0.113.9".parse().unwrap(), 0)
            .next()
            .is_some());
        // The list form of restSearch.
        let body = br#"{"response":[{"Event":{"uuid":"u","Attribute":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427f","to_ids":true}]}}]}"#;
        let mut b = IndicatorSetBuilder::new();
        load_misp_json(body, "rs", "f", &MispOptions::default(), &mut b).unwrap();
        assert_eq!(b.build().0.len(), 1);
    }

    #[test]
    fn hostile_misp_json() {
        let opts = MispOptions::default();
        for (doc, want) in [
            (
                &b"{\"Event\": {\"Attribute\": [{\"type\":\"ip-dst\""[..],
                "invalid JSON",
            ),
            (b"[1,2,3]", "invalid JSON"),
            (b"{}", "not a MISP event"),
            (b"", "invalid JSON"),
        ] {
            let mut b = IndicatorSetBuilder::new();
            let e = load_misp_json(doc, "evil.json", "f", &opts, &mut b).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
            assert!(e.to_string().starts_with("evil.json: "));
        }
        // Deep nesting neither overflows the stack nor loads anything: a nested
        // value where a string belongs is an empty value, rejected.
        let deep = format!(
            "{{\"Event\":{{\"x\":{}{}}}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let mut b = IndicatorSetBuilder::new();
        let _ = load_misp_json(deep.as_bytes(), "deep.json", "f", &opts, &mut b);
        assert!(b.is_empty());
        let deep = format!(
            "{{\"Event\":{{\"Attribute\":[{{\"type\":\"ip-dst\",\"to_ids\":true,\"value\":{}{}}}]}}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        load_misp_json(deep.as_bytes(), "deep.json", "f", &opts, &mut b).unwrap();
        assert_eq!(
            b.report().rejections()[0].to_string(),
            "deep.json[0]: empty value: \"\""
        );
        // A huge value is rejected with a short detail.
        let huge = format!(
            r#"{{"Event":{{"Attribute":[{{"type":"domain","value":"{}","to_ids":true}}]}}}}"#,
            "a".repeat(5_000_000)
        );
        let mut b = IndicatorSetBuilder::new();
        load_misp_json(huge.as_bytes(), "huge.json", "f", &opts, &mut b).unwrap();
        let (_, r) = b.build();
        assert_eq!(r.rejected_total(), 1);
        assert!(r.rejections()[0].detail.len() < 200);
    }
}
