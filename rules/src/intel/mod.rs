//! Indicator sets and their loaders.
//!
//! An [`IndicatorSet`] holds indicators of compromise (IP addresses and CIDRs,
//! domains, URLs, file hashes, JA3/JA3S/JA4 fingerprints, TLS certificate SHA-1
//! and e-mail addresses) with their provenance, and answers lookups from the
//! sensor's hot path without allocating. It is built once by an
//! [`IndicatorSetBuilder`], is immutable afterwards and is `Send + Sync`, so the
//! sensor shares it behind an `Arc` and swaps a new one in on reload.
//!
//! Loaders read feed formats from bytes or readers (so the hub-sync side can
//! reuse them on fetched bodies): MISP feed directories, events and `restSearch`
//! answers ([`misp`]), STIX 2.1 bundles ([`stix`]), Zeek intel files ([`zeek`]),
//! simple CSV lists ([`csv`]), abuse.ch SSLBL lists ([`abusech`]) and
//! Suricata dataset files ([`suricata`]); [`load_path`] recognises the format
//! of a file or folder by its content. MISP
//! warninglists ([`warninglist`]) remove known false positives when the set is
//! built. Every entry a loader cannot use is counted in the [`LoadReport`] with
//! the source, the line or index and the reason.
//!
//! How the sensor calls it: IP lookups once per flow (source and destination,
//! when the flow is created), domain lookups for DNS queries and answers, HTTP
//! `Host` and TLS SNI, URL lookups per HTTP request, hash lookups per file,
//! JA3/JA4 and certificate lookups once per TLS handshake. Every lookup takes
//! `now` (unix seconds, the packet time) so expired indicators do not match.
//!
//! Signature ids: each feed gets a stable sid from [`feed_sid`], a hash of the
//! feed name into the reserved range [`INTEL_SID_BASE`] ..
//! `INTEL_SID_BASE + INTEL_SID_SPAN`, so alerts from one feed keep their sid
//! across reloads and sensors.

pub mod abusech;
pub mod csv;
mod index;
mod ip;
mod layer;
mod lines;
pub mod misp;
mod parts;
mod report;
mod set;
pub mod source;
pub mod stix;
pub mod suricata;
mod time;
mod value;
pub mod warninglist;
pub mod zeek;

pub use parts::{IndicatorSet, IndicatorSetBuilder, SetPart, StagedReload};
pub use report::{LoadReport, Location, Rejection};
pub use set::{
    Hit, Hits, IndicatorValue, SetLayout, DEFAULT_MAX_DELTA_PERCENT, DEFAULT_MAX_INDICATORS,
};
pub use source::{detect_format, load_path, SourceFormat};
pub use time::parse_timestamp;
pub use value::{IndicatorType, MAX_VALUE_LEN};

use std::fmt;

/// What an indicator is, as stored in an [`IndicatorSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum IndicatorKind {
    /// IPv4 address or CIDR.
    Ipv4 = 0,
    /// IPv6 address or CIDR.
    Ipv6 = 1,
    /// Domain name (exact, or the domain and its subdomains).
    Domain = 2,
    /// URL, matched on host + path (+ query).
    Url = 3,
    /// MD5 file hash.
    Md5 = 4,
    /// SHA-1 file hash.
    Sha1 = 5,
    /// SHA-256 file hash.
    Sha256 = 6,
    /// JA3 TLS client fingerprint (MD5).
    Ja3 = 7,
    /// JA3S TLS server fingerprint (MD5).
    Ja3s = 8,
    /// JA4 TLS client fingerprint.
    Ja4 = 9,
    /// SHA-1 of a TLS certificate (DER).
    CertSha1 = 10,
    /// E-mail address.
    Email = 11,
}

impl IndicatorKind {
    /// All kinds, in storage order.
    pub const ALL: [IndicatorKind; 12] = [
        IndicatorKind::Ipv4,
        IndicatorKind::Ipv6,
        IndicatorKind::Domain,
        IndicatorKind::Url,
        IndicatorKind::Md5,
        IndicatorKind::Sha1,
        IndicatorKind::Sha256,
        IndicatorKind::Ja3,
        IndicatorKind::Ja3s,
        IndicatorKind::Ja4,
        IndicatorKind::CertSha1,
        IndicatorKind::Email,
    ];

    /// Short lowercase name, as used in EVE output and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ipv4 => "ipv4",
            IndicatorKind::Ipv6 => "ipv6",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Url => "url",
            IndicatorKind::Md5 => "md5",
            IndicatorKind::Sha1 => "sha1",
            IndicatorKind::Sha256 => "sha256",
            IndicatorKind::Ja3 => "ja3",
            IndicatorKind::Ja3s => "ja3s",
            IndicatorKind::Ja4 => "ja4",
            IndicatorKind::CertSha1 => "cert-sha1",
            IndicatorKind::Email => "email",
        }
    }

    fn from_u8(v: u8) -> IndicatorKind {
        IndicatorKind::ALL
            .get(usize::from(v))
            .copied()
            .unwrap_or(IndicatorKind::Email)
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Traffic Light Protocol marking of an indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Tlp {
    /// No TLP marking given.
    #[default]
    Unknown = 0,
    /// TLP:CLEAR (TLP 1.0 WHITE).
    Clear = 1,
    /// TLP:GREEN.
    Green = 2,
    /// TLP:AMBER.
    Amber = 3,
    /// TLP:AMBER+STRICT.
    AmberStrict = 4,
    /// TLP:RED.
    Red = 5,
}

impl Tlp {
    /// Lowercase name (`clear`, `green`, ...; `unknown` when unmarked).
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Unknown => "unknown",
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// Parses a TLP name or tag (`tlp:white`, `TLP:AMBER+STRICT`, `green`).
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim();
        let s = if s.len() >= 4 && s[..4].eq_ignore_ascii_case("tlp:") {
            &s[4..]
        } else {
            s
        };
        let s = s.trim_matches('"');
        Some(match s.to_ascii_lowercase().as_str() {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }

    fn from_u8(v: u8) -> Tlp {
        match v {
            1 => Tlp::Clear,
            2 => Tlp::Green,
            3 => Tlp::Amber,
            4 => Tlp::AmberStrict,
            5 => Tlp::Red,
            _ => Tlp::Unknown,
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an indicator came from and how long it is valid, given to
/// [`IndicatorSetBuilder::add`].
#[derive(Clone, Debug, Default)]
pub struct Provenance<'a> {
    /// Feed name (interned; also the key of [`feed_sid`]).
    pub feed: &'a str,
    /// Event or object id inside the feed (MISP event uuid, STIX indicator id).
    pub event_id: &'a str,
    /// Tags (MISP tags, STIX labels, Zeek `meta.desc`).
    pub tags: &'a [&'a str],
    /// TLP marking.
    pub tlp: Tlp,
    /// Confidence 0..=100, if the feed gives one.
    pub confidence: Option<u8>,
    /// First seen, unix seconds.
    pub first_seen: Option<u64>,
    /// Last seen, unix seconds.
    pub last_seen: Option<u64>,
    /// The indicator stops matching at this time (unix seconds).
    pub expires: Option<u64>,
}

/// First signature id of the range reserved for indicator alerts.
pub const INTEL_SID_BASE: u32 = 3_000_000_000;
/// Size of the reserved range: sids are `INTEL_SID_BASE + (hash % INTEL_SID_SPAN)`.
pub const INTEL_SID_SPAN: u32 = 1 << 24;

/// Stable signature id of a feed: 32-bit FNV-1a of the feed name, reduced into
/// `INTEL_SID_BASE .. INTEL_SID_BASE + INTEL_SID_SPAN`. The same feed name gives
/// the same sid on every sensor and across reloads; two feeds may collide (the
/// alert still carries the feed name).
pub fn feed_sid(feed: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in feed.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    INTEL_SID_BASE + (h % INTEL_SID_SPAN)
}

/// A fatal loader error: the whole input could not be read (I/O error, not
/// JSON, wrong document shape). Entries that are merely bad are not errors;
/// they are counted in the [`LoadReport`].
#[derive(Debug)]
pub struct IntelError {
    source_name: String,
    kind: IntelErrorKind,
}

#[derive(Debug)]
enum IntelErrorKind {
    Io(std::io::Error),
    Json(serde_json::Error),
    Format(String),
    TooLarge(u64, u64),
}

impl IntelError {
    pub(crate) fn io(source: &str, e: std::io::Error) -> IntelError {
        IntelError {
            source_name: source.to_string(),
            kind: IntelErrorKind::Io(e),
        }
    }

    pub(crate) fn json(source: &str, e: serde_json::Error) -> IntelError {
        IntelError {
            source_name: source.to_string(),
            kind: IntelErrorKind::Json(e),
        }
    }

    pub(crate) fn format(source: &str, msg: impl Into<String>) -> IntelError {
        IntelError {
            source_name: source.to_string(),
            kind: IntelErrorKind::Format(msg.into()),
        }
    }

    pub(crate) fn too_large(source: &str, size: u64, max: u64) -> IntelError {
        IntelError {
            source_name: source.to_string(),
            kind: IntelErrorKind::TooLarge(size, max),
        }
    }

    /// The file or source name the error is about.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

impl fmt::Display for IntelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IntelErrorKind::Io(e) => write!(f, "{}: read failed: {e}", self.source_name),
            IntelErrorKind::Json(e) => write!(
                f,
                "{}: invalid JSON: {e} (check the file is complete and is the expected format)",
                self.source_name
            ),
            IntelErrorKind::Format(m) => write!(f, "{}: {m}", self.source_name),
            IntelErrorKind::TooLarge(size, max) => write!(
                f,
                "{}: document of {size} bytes exceeds the limit of {max} bytes",
                self.source_name
            ),
        }
    }
}

impl std::error::Error for IntelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            IntelErrorKind::Io(e) => Some(e),
            IntelErrorKind::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// Largest JSON document (MISP event, STIX bundle, warninglist) a loader
/// accepts. Parsing holds the document and its parsed form (about three times
/// its size), so this bounds a hostile feed to about 1 GiB.
pub const MAX_JSON_DOCUMENT: u64 = 256 << 20;

/// Reads a whole file, refusing files larger than `max` bytes.
pub(crate) fn read_capped(path: &std::path::Path, max: u64) -> Result<Vec<u8>, IntelError> {
    use std::io::Read;
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| IntelError::io(&name, e))?;
    let size = file.metadata().map_err(|e| IntelError::io(&name, e))?.len();
    if size > max {
        return Err(IntelError::too_large(&name, size, max));
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| IntelError::io(&name, e))?;
    if buf.len() as u64 > max {
        return Err(IntelError::too_large(&name, buf.len() as u64, max));
    }
    Ok(buf)
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;

    /// The shared corpus folder, or `None` (after printing why) when it is
    /// absent and external tests are not required.
    pub fn corpus(sub: &str) -> Option<PathBuf> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus")
            .join(sub);
        if p.exists() {
            return Some(p);
        }
        if std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() == Ok("1") {
            panic!(
                "corpus path {} missing and VIGIE_EXTERNAL_TESTS=1",
                p.display()
            );
        }
        eprintln!("skipping: corpus path {} not found", p.display());
        None
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn feed_sid_is_stable_and_in_range() {
        let a = feed_sid("tweetfeed");
        assert_eq!(a, feed_sid("tweetfeed"));
        assert_ne!(a, feed_sid("tweetfeed2"));
        for name in ["", "a", "abuse.ch", "CPS-CTI", "x".repeat(1000).as_str()] {
            let s = feed_sid(name);
            assert!((INTEL_SID_BASE..INTEL_SID_BASE + INTEL_SID_SPAN).contains(&s));
        }
        // FNV-1a 32 of "a" is 0xe40c292c; pinned so the sid never silently changes.
        assert_eq!(
            feed_sid("a"),
            INTEL_SID_BASE + (0xe40c_292c % INTEL_SID_SPAN)
        );
    }

    #[test]
    fn tlp_parse() {
        assert_eq!(Tlp::parse("tlp:white"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("red"), Some(Tlp::Red));
        assert_eq!(Tlp::parse("tlp:purple"), None);
    }
}
