//! STIX 2.1 bundles (also 2.0): `indicator` objects with `pattern_type`
//! `stix` (or none, as in 2.0) are translated by [`pattern::alternatives`].
//!
//! Provenance: event id = indicator id; tags = `labels`, `indicator_types`
//! and the names of the malware / intrusion sets / threat actors / campaigns /
//! tools the indicator `indicates` (relationships in the same bundle);
//! confidence = `confidence`; TLP from `object_marking_refs` (TLP 1.0 ids or
//! TLP marking definitions in the bundle); first seen = `valid_from`;
//! expiry = `valid_until`. Revoked indicators are skipped. Patterns or parts
//! of patterns that are not supported are counted as skipped with the
//! reason; values that do not validate are rejected.

pub mod pattern;

use super::time::parse_timestamp;
use super::{
    read_capped, IndicatorSetBuilder, IntelError, Location, Provenance, Tlp, MAX_JSON_DOCUMENT,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

#[derive(Deserialize, Debug, Default)]
struct Definition {
    #[serde(default)]
    tlp: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
struct StixObject {
    #[serde(rename = "type", default)]
    ty: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    pattern_type: Option<String>,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    indicator_types: Vec<String>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    object_marking_refs: Vec<String>,
    #[serde(default)]
    relationship_type: Option<String>,
    #[serde(default)]
    source_ref: Option<String>,
    #[serde(default)]
    target_ref: Option<String>,
    #[serde(default)]
    definition_type: Option<String>,
    #[serde(default)]
    definition: Option<Definition>,
}

#[derive(Deserialize, Debug, Default)]
struct Bundle {
    #[serde(rename = "type", default)]
    ty: String,
    #[serde(default)]
    objects: Vec<StixObject>,
}

/// TLP 1.0 marking definitions have fixed ids in STIX 2.x; the TLP 2.0
/// ones use the uuids of FIRST's TLP 2.0 definitions (as CACAO does).
fn well_known_tlp(id: &str) -> Option<Tlp> {
    Some(match id {
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487" => Tlp::Clear,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" => Tlp::Green,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" => Tlp::Amber,
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" => Tlp::AmberStrict,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" => Tlp::Red,
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Tlp::Clear,
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Tlp::Green,
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Tlp::Amber,
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Tlp::Red,
        _ => return None,
    })
}

/// Loads a STIX bundle from bytes; `feed` names the feed of its indicators.
pub fn load_stix_json(
    bytes: &[u8],
    source: &str,
    feed: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    if bytes.len() as u64 > MAX_JSON_DOCUMENT {
        return Err(IntelError::too_large(
            source,
            bytes.len() as u64,
            MAX_JSON_DOCUMENT,
        ));
    }
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| IntelError::json(source, e))?;
    if bundle.ty != "bundle" {
        return Err(IntelError::format(
            source,
            format!(
                "not a STIX bundle (type is {:?})",
                super::report::truncate_detail(&bundle.ty)
            ),
        ));
    }
    b.count_source();
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut markings: HashMap<&str, Tlp> = HashMap::new();
    for o in &bundle.objects {
        match o.ty.as_str() {
            "malware" | "intrusion-set" | "threat-actor" | "campaign" | "tool" => {
                if let Some(n) = &o.name {
                    names.insert(&o.id, n);
                }
            }
            "marking-definition" => {
                let tlp = o
                    .definition
                    .as_ref()
                    .filter(|_| o.definition_type.as_deref() == Some("tlp"))
                    .and_then(|d| d.tlp.as_deref())
                    .and_then(Tlp::parse)
                    .or_else(|| o.name.as_deref().and_then(Tlp::parse));
                if let Some(t) = tlp {
                    markings.insert(&o.id, t);
                }
            }
            _ => {}
        }
    }
    let mut indicates: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in &bundle.objects {
        if o.ty == "relationship" && o.relationship_type.as_deref() == Some("indicates") {
            if let (Some(s), Some(t)) = (&o.source_ref, &o.target_ref) {
                if let Some(n) = names.get(t.as_str()) {
                    let v = indicates.entry(s.as_str()).or_default();
                    if v.len() < 16 && !v.contains(n) {
                        v.push(n);
                    }
                }
            }
        }
    }
    for (i, o) in bundle.objects.iter().enumerate() {
        if o.ty != "indicator" {
            continue;
        }
        let at = Location::Index(i as u64);
        if o.revoked == Some(true) {
            b.skip("stix: revoked indicator");
            continue;
        }
        match o.pattern_type.as_deref() {
            None | Some("stix") => {}
            Some(other) => {
                b.skip(&format!(
                    "stix: pattern_type {} not supported",
                    super::report::truncate_detail(other)
                ));
                continue;
            }
        }
        let Some(pat) = &o.pattern else {
            b.reject(source, at, "stix indicator without pattern", &o.id);
            continue;
        };
        let mut tags: Vec<&str> = Vec::new();
        for t in o.labels.iter().chain(&o.indicator_types).take(32) {
            if !tags.contains(&t.as_str()) {
                tags.push(t);
            }
        }
        if let Some(ns) = indicates.get(o.id.as_str()) {
            tags.extend(ns.iter().copied());
        }
        let tlp = o
            .object_marking_refs
            .iter()
            .find_map(|m| {
                markings
                    .get(m.as_str())
                    .copied()
                    .or_else(|| well_known_tlp(m))
            })
            .unwrap_or_default();
        let prov = Provenance {
            feed,
            event_id: &o.id,
            tags: &tags,
            tlp,
            confidence: o.confidence.map(|c| c.clamp(0.0, 100.0) as u8),
            first_seen: o.valid_from.as_deref().and_then(parse_timestamp),
            last_seen: None,
            expires: o.valid_until.as_deref().and_then(parse_timestamp),
        };
        for alt in pattern::alternatives(pat) {
            match alt {
                Ok((ty, value)) => {
                    b.add(ty, &value, &prov, source, at);
                }
                Err(pattern::Unsupported::Syntax(pos, m)) => {
                    b.reject(
                        source,
                        at,
                        "stix pattern: syntax error",
                        &format!("{m} at byte {pos}"),
                    );
                }
                Err(e) => b.skip(e.category()),
            }
        }
    }
    Ok(())
}

/// Loads a STIX bundle file.
pub fn load_stix_file(
    path: &Path,
    feed: &str,
    b: &mut IndicatorSetBuilder,
) -> Result<(), IntelError> {
    let bytes = read_capped(path, MAX_JSON_DOCUMENT)?;
    load_stix_json(&bytes, &path.display().to_string(), feed, b)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::intel::testutil::corpus;
    use crate::intel::IndicatorKind as K;

    fn load(f: &str) -> Option<(crate::intel::IndicatorSet, crate::intel::LoadReport)> {
        let dir = corpus("intel/stix")?;
        let mut b = IndicatorSetBuilder::new();
        load_stix_file(&dir.join(f), "stix", &mut b).unwrap();
        Some(b.build())
    }

    #[test]
    fn amnesty_bundles() {
        // Counts of pattern paths from MANIFEST.tsv.
        let Some((set, r)) = load("amnesty-pegasus.stix2.json") else {
            return;
        };
        // domain-name=1438, email-addr=29 supported; process:name=81, file:name=1 skipped.
        assert_eq!(
            r.loaded() + r.duplicates() + r.rejected_total(),
            1438 + 29,
            "{r}"
        );
        assert_eq!(r.skipped_total(), 82);
        assert!(set.count(K::Email) > 0);
        let h = set
            .lookup_domain(b"www.weather4free.com", 0)
            .next()
            .unwrap();
        assert_eq!(h.value().to_string(), "weather4free.com");
        assert!(h.event_id().starts_with("indicator--"));
        assert!(
            h.tags().any(|t| t == "Pegasus"),
            "{:?}",
            h.tags().collect::<Vec<_>>()
        );
        assert!(h.tags().any(|t| t == "malicious-activity"));
        assert!(h.first_seen().is_some());

        let (set, r) = load("amnesty-cytrox.stix2.json").unwrap();
        assert_eq!(r.loaded() + r.duplicates() + r.rejected_total(), 336, "{r}");
        assert_eq!(r.skipped_total(), 7);
        assert_eq!(set.count(K::Domain) + set.count(K::Ipv4), r.loaded());

        let (set, r) = load("amnesty-novispy.stix2.json").unwrap();
        // 7 domain-name (one is an IP address → IP indicator) + 4 file sha256; app:* skipped.
        assert_eq!(r.loaded() + r.duplicates() + r.rejected_total(), 11, "{r}");
        assert_eq!(r.skipped_total(), 7);
        assert!(set
            .lookup_ip("176.223.111.131".parse().unwrap(), 0)
            .next()
            .is_some());
        assert_eq!(set.count(K::Sha256), 4);

        let (_, r) = load("amnesty-wintego_helios.stix2.json").unwrap();
        assert_eq!(r.loaded() + r.duplicates() + r.rejected_total(), 175, "{r}");
    }

    #[test]
    fn oasis_examples() {
        let Some((set, r)) = load("oasis-indicator-for-c2-ip-address.json") else {
            return;
        };
        assert_eq!((set.len(), r.rejected_total()), (1, 0));
        assert!(set
            .lookup_ip("10.0.0.0".parse().unwrap(), 0)
            .next()
            .is_some());
        let (set, _) = load("oasis-indicator-to-campaign-relationship.json").unwrap();
        assert_eq!(set.len(), 1);
        let (set, r) = load("oasis-indicators-for-C2-with-COA.json").unwrap();
        assert_eq!(
            (set.count(K::Ipv4), set.count(K::Sha256), r.rejected_total()),
            (1, 1, 0)
        );
        let (set, r) = load("oasis-infrastructure.json").unwrap();
        assert_eq!((set.len(), r.rejected_total()), (0, 0));
        let (set, r) = load("oasis-malicious-email-indicator-with-attachment.json").unwrap();
        assert_eq!((set.len(), r.skipped_total()), (0, 2));
        let (set, r) = load("oasis-threat-report-apt1.json").unwrap();
        // 4 ipv4 + 3 domains + 3 md5 load; the x509 issuer AND serial pattern (x2) is skipped.
        assert_eq!(
            (set.count(K::Ipv4), set.count(K::Domain), set.count(K::Md5)),
            (4, 3, 3),
            "{r}"
        );
        assert_eq!(
            r.skipped().collect::<Vec<_>>(),
            [("stix pattern: AND of different properties", 2)]
        );
        assert!(set
            .lookup_ip("223.167.1.1".parse().unwrap(), 0)
            .next()
            .is_some());
        let (set, r) = load("oasis-threat-report-poisonivy.json").unwrap();
        // 40 ipv4 + 25 domain comparisons (OR'ed), file:name x2 skipped.
        assert_eq!(r.loaded() + r.duplicates() + r.rejected_total(), 65, "{r}");
        assert_eq!(r.skipped_total(), 2);
        let h = set
            .lookup_domain(b"www.webserver.dynssl.com", 0)
            .next()
            .unwrap();
        assert!(
            h.tags().any(|t| t == "admin@338"),
            "{:?}",
            h.tags().collect::<Vec<_>>()
        );
    }

    #[test]
    fn validity_revocation_and_markings() {
        let doc = br#"{"type":"bundle","id":"bundle--1","objects":[
          {"type":"marking-definition","id":"marking-definition--x","definition_type":"tlp","definition":{"tlp":"red"}},
          {"type":"indicator","id":"indicator--a","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",
           "valid_from":"2020-01-01T00:00:00Z","valid_until":"2020-02-01T00:00:00Z","confidence":85,
           "object_marking_refs":["marking-definition--x"]},
          {"type":"indicator","id":"indicator--b","pattern":"[ipv4-addr:value = '198.51.100.2']","revoked":true},
          {"type":"indicator","id":"indicator--c","pattern":"alert tcp any any","pattern_type":"snort"},
          {"type":"indicator","id":"indicator--d","pattern":"[ipv4-addr:value = '198.51.100.4'",
           "object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
          {"type":"indicator","id":"indicator--e","pattern":"[ipv4-addr:value = '198.51.100.999']"},
          {"type":"indicator","id":"indicator--f","pattern":"[domain-name:value = 'ok.test']",
           "object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}
        ]}"#;
        let mut b = IndicatorSetBuilder::new();
        load_stix_json(doc, "b.json", "f", &mut b).unwrap();
        let (set, r) = b.build();
        assert_eq!(set.len(), 2);
        assert_eq!((r.rejected_total(), r.skipped_total()), (2, 2));
        let reasons: Vec<String> = r.rejections().iter().map(ToString::to_string).collect();
        assert!(
            reasons[0].starts_with("b.json[4]: stix pattern: syntax error"),
            "{reasons:?}"
        );
        assert_eq!(
            reasons[1],
            "b.json[5]: invalid IP address: \"198.51.100.999\""
        );
        let t = parse_timestamp("2020-01-15T00:00:00Z").unwrap();
        let h = set
            .lookup_ip("198.51.100.1".parse().unwrap(), t)
            .next()
            .unwrap();
        assert_eq!((h.tlp(), h.confidence()), (Tlp::Red, Some(85)));
        let after = parse_timestamp("2020-02-01T00:00:00Z").unwrap();
        assert!(set
            .lookup_ip("198.51.100.1".parse().unwrap(), after)
            .next()
            .is_none());
        assert_eq!(
            set.lookup_domain(b"ok.test", 0).next().unwrap().tlp(),
            Tlp::Green
        );
        let mut b = IndicatorSetBuilder::new();
        assert!(load_stix_json(br#"{"type":"indicator"}"#, "x", "f", &mut b).is_err());
        assert!(load_stix_json(
            br#"{"type":"bundle","objects":[{"type":1}]}"#,
            "x",
            "f",
            &mut b
        )
        .is_err());
    }

    #[test]
    fn stix_2_0_bundle_from_pymisp() {
        let Some(dir) = corpus("intel/misp/pymisp-tests") else {
            return;
        };
        let mut b = IndicatorSetBuilder::new();
        load_stix_file(&dir.join("stix2.json"), "x", &mut b).unwrap();
        assert_eq!(b.build().0.len(), 0);
    }
}
