//! EVE `alert` for an indicator hit: the same shape as a signature alert, with
//! `alert.signature_id` the feed's sid (gid 1) and `alert.source` naming the
//! indicator (value, type, feed, event id, tags, TLP).

use super::matcher::{AlertContext, IntelAlert};
use crate::flow::table::Flow;
use crate::output::eve;

/// Category written for every indicator alert.
pub const INTEL_CATEGORY: &str = "Threat intelligence indicator match";

/// Severity of a hit: 1 for confidence 75 or more, 2 for 40 or more or no
/// confidence given, 3 below.
pub fn severity(confidence: Option<u8>) -> u8 {
    match confidence {
        Some(c) if c >= 75 => 1,
        Some(c) if c < 40 => 3,
        _ => 2,
    }
}

/// The `alert.signature` text: `VIGIE INTEL <type> <value> (feed <feed>)`.
pub fn signature_text(a: &IntelAlert) -> String {
    format!(
        "VIGIE INTEL {} {} (feed {})",
        a.kind.as_str(),
        a.value,
        a.feed
    )
}

/// Appends one EVE `alert` line (with its newline-free JSON) for `a`.
pub fn write_intel_alert(out: &mut Vec<u8>, f: &Flow, c: &AlertContext, a: &IntelAlert) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, c.ts_ns);
    out.extend_from_slice(b"\",\"flow_id\":");
    eve::push_u64(out, f.id);
    if c.pkt_no != u64::MAX {
        out.extend_from_slice(b",\"pcap_cnt\":");
        eve::push_u64(out, c.pkt_no);
    }
    out.extend_from_slice(b",\"event_type\":\"alert\"");
    if f.vlan_count > 0 {
        out.extend_from_slice(b",\"vlan\":[");
        for (i, v) in f.vlan[..(f.vlan_count as usize).min(3)].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            eve::push_u64(out, u64::from(*v));
        }
        out.push(b']');
    }
    let icmp = c.proto == 1 || c.proto == 58;
    out.extend_from_slice(b",\"src_ip\":");
    eve::push_ip(out, &c.src);
    if !icmp {
        out.extend_from_slice(b",\"src_port\":");
        eve::push_u64(out, u64::from(c.sport));
    }
    out.extend_from_slice(b",\"dest_ip\":");
    eve::push_ip(out, &c.dst);
    if !icmp {
        out.extend_from_slice(b",\"dest_port\":");
        eve::push_u64(out, u64::from(c.dport));
    }
    out.push(b',');
    eve::push_proto(out, c.proto);
    if icmp {
        out.extend_from_slice(b",\"icmp_type\":");
        eve::push_u64(out, u64::from(c.sport));
        out.extend_from_slice(b",\"icmp_code\":");
        eve::push_u64(out, u64::from(c.dport));
    }
    out.extend_from_slice(b",\"pkt_src\":\"wire/pcap\",\"community_id\":");
    let cid = eve::community_id(f.src, f.dst, f.sport, f.dport, f.proto);
    eve::push_str(out, &cid);
    out.extend_from_slice(b",\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":");
    eve::push_u64(out, u64::from(a.sid));
    out.extend_from_slice(b",\"rev\":1,\"signature\":");
    eve::push_str(out, &signature_text(a));
    out.extend_from_slice(b",\"category\":");
    eve::push_str(out, INTEL_CATEGORY);
    out.extend_from_slice(b",\"severity\":");
    eve::push_u64(out, u64::from(severity(a.confidence)));
    out.extend_from_slice(b",\"source\":{\"kind\":\"intel\",\"value\":");
    eve::push_str(out, &a.value);
    out.extend_from_slice(b",\"type\":");
    eve::push_str(out, a.kind.as_str());
    out.extend_from_slice(b",\"seen_in\":");
    eve::push_str(out, a.seen_in);
    out.extend_from_slice(b",\"feed\":");
    eve::push_str(out, &a.feed);
    out.extend_from_slice(b",\"event_id\":");
    eve::push_str(out, &a.event_id);
    out.extend_from_slice(b",\"tags\":[");
    for (i, t) in a.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        eve::push_str(out, t);
    }
    out.extend_from_slice(b"],\"tlp\":");
    eve::push_str(out, a.tlp.as_str());
    if let Some(conf) = a.confidence {
        out.extend_from_slice(b",\"confidence\":");
        eve::push_u64(out, u64::from(conf));
    }
    out.extend_from_slice(b"}}");
    if let Some(ap) = a.app_proto {
        out.extend_from_slice(b",\"app_proto\":");
        eve::push_str(out, ap);
    }
    out.extend_from_slice(b",\"direction\":");
    eve::push_str(
        out,
        if c.to_server {
            "to_server"
        } else {
            "to_client"
        },
    );
    crate::output::flowlog::push_flow_counts(out, f);
    out.extend_from_slice(b"\"}");
    if let Some((name, v)) = &a.app {
        out.push(b',');
        eve::push_str(out, name);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    }
    out.push(b'}');
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn severity_from_confidence() {
        assert_eq!(severity(None), 2);
        assert_eq!(severity(Some(100)), 1);
        assert_eq!(severity(Some(75)), 1);
        assert_eq!(severity(Some(50)), 2);
        assert_eq!(severity(Some(10)), 3);
    }
}
