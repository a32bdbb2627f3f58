//! EVE `flow` records and the flow part of every event's header.

use super::eve;
use crate::flow::table::{EndReason, Flow};

/// Appends the common EVE header of a flow: timestamp through community_id.
pub fn push_flow_header(out: &mut Vec<u8>, f: &Flow, ts: u64, pkt_no: Option<u64>, event: &str) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, ts);
    out.extend_from_slice(b"\",\"flow_id\":");
    eve::push_u64(out, f.id);
    if let Some(n) = pkt_no {
        out.extend_from_slice(b",\"pcap_cnt\":");
        eve::push_u64(out, n);
    }
    out.extend_from_slice(b",\"event_type\":");
    eve::push_str(out, event);
    if f.vlan_count > 0 {
        out.extend_from_slice(b",\"vlan\":[");
        for (i, v) in f.vlan[..(f.vlan_count as usize).min(3)].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            eve::push_u64(out, *v as u64);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"src_ip\":");
    eve::push_ip(out, &f.src);
    let icmp = f.proto == 1 || f.proto == 58;
    if !icmp {
        out.extend_from_slice(b",\"src_port\":");
        eve::push_u64(out, f.sport as u64);
    }
    out.extend_from_slice(b",\"dest_ip\":");
    eve::push_ip(out, &f.dst);
    if !icmp {
        out.extend_from_slice(b",\"dest_port\":");
        eve::push_u64(out, f.dport as u64);
    }
    out.push(b',');
    eve::push_proto(out, f.proto);
    if icmp {
        out.extend_from_slice(b",\"icmp_type\":");
        eve::push_u64(out, f.sport as u64);
        out.extend_from_slice(b",\"icmp_code\":");
        eve::push_u64(out, f.dport as u64);
    }
    out.extend_from_slice(b",\"community_id\":");
    let cid = eve::community_id(f.src, f.dst, f.sport, f.dport, f.proto);
    eve::push_str(out, &cid);
}

fn tcp_flags_hex(out: &mut Vec<u8>, name: &str, v: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.push(HEX[(v >> 4) as usize]);
    out.push(HEX[(v & 15) as usize]);
    out.push(b'"');
}

/// Appends `,"flow":{` with the flow's packet and byte counts per direction
/// and `"start":"<time>` (the string and the object left open).
pub fn push_flow_counts(out: &mut Vec<u8>, f: &Flow) {
    out.extend_from_slice(b",\"flow\":{\"pkts_toserver\":");
    eve::push_u64(out, f.pkts[0]);
    out.extend_from_slice(b",\"pkts_toclient\":");
    eve::push_u64(out, f.pkts[1]);
    out.extend_from_slice(b",\"bytes_toserver\":");
    eve::push_u64(out, f.bytes[0]);
    out.extend_from_slice(b",\"bytes_toclient\":");
    eve::push_u64(out, f.bytes[1]);
    out.extend_from_slice(b",\"start\":\"");
    eve::push_timestamp(out, f.first_ts);
}

/// Appends an EVE `flow` record (no newline) for a flow that ended at `now` (ns).
pub fn write_flow_record(out: &mut Vec<u8>, f: &Flow, reason: EndReason, now: u64) {
    let ts = if reason == EndReason::Shutdown {
        f.last_ts
    } else {
        now.max(f.last_ts)
    };
    push_flow_header(out, f, ts, None, "flow");
    push_flow_counts(out, f);
    out.extend_from_slice(b"\",\"end\":\"");
    eve::push_timestamp(out, f.last_ts);
    out.extend_from_slice(b"\",\"age\":");
    eve::push_u64(out, (f.last_ts.saturating_sub(f.first_ts)) / 1_000_000_000);
    out.extend_from_slice(b",\"state\":");
    eve::push_str(out, f.state.as_str());
    out.extend_from_slice(b",\"reason\":");
    eve::push_str(out, reason.as_str());
    out.extend_from_slice(b",\"alerted\":");
    out.extend_from_slice(if f.alerted { b"true" } else { b"false" });
    out.push(b'}');
    if f.proto == 6 {
        out.extend_from_slice(b",\"tcp\":{");
        let all = f.tcp_flags[0] | f.tcp_flags[1];
        // strip the leading comma of the first field
        let mark = out.len();
        tcp_flags_hex(out, "tcp_flags", all);
        out.remove(mark);
        tcp_flags_hex(out, "tcp_flags_ts", f.tcp_flags[0]);
        tcp_flags_hex(out, "tcp_flags_tc", f.tcp_flags[1]);
        for (bit, name) in [
            (0x01u8, "fin"),
            (0x02, "syn"),
            (0x04, "rst"),
            (0x08, "psh"),
            (0x10, "ack"),
            (0x20, "urg"),
            (0x40, "ece"),
            (0x80, "cwr"),
        ] {
            if all & bit != 0 {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":true");
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// Appends an EVE `anomaly` event (no newline) for a decoder anomaly.
pub fn write_anomaly(out: &mut Vec<u8>, a: &crate::pipeline::dispatch::AnomalyRecord) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, a.ts_ns);
    out.extend_from_slice(b"\",\"pcap_cnt\":");
    eve::push_u64(out, a.pkt_no);
    out.extend_from_slice(b",\"event_type\":\"anomaly\"");
    if let Some((src, dst, proto)) = a.l3 {
        out.extend_from_slice(b",\"src_ip\":");
        eve::push_ip(out, &src);
        out.extend_from_slice(b",\"dest_ip\":");
        eve::push_ip(out, &dst);
        out.push(b',');
        eve::push_proto(out, proto);
    }
    out.extend_from_slice(b",\"anomaly\":{\"type\":\"decode\",\"event\":");
    let name = a.event.name();
    eve::push_str(out, &name.replacen("decoder.event.", "decoder.", 1));
    out.extend_from_slice(b"}}");
}

/// Appends an EVE `alert` event (no newline): packet addresses and ports, the
/// rule, the flow so far and the app-layer object of the transaction, if any.
#[allow(clippy::too_many_arguments)]
pub fn write_alert(
    out: &mut Vec<u8>,
    f: &Flow,
    ts_ns: u64,
    pkt_no: u64,
    src: &std::net::IpAddr,
    dst: &std::net::IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    to_server: bool,
    m: &vigie_rules::signature::Match,
    app_proto: Option<&str>,
    app: Option<(&str, &serde_json::Value)>,
    xff: Option<&std::net::IpAddr>,
) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, ts_ns);
    out.extend_from_slice(b"\",\"flow_id\":");
    eve::push_u64(out, f.id);
    out.extend_from_slice(b",\"pcap_cnt\":");
    eve::push_u64(out, pkt_no);
    out.extend_from_slice(b",\"event_type\":\"alert\"");
    if f.vlan_count > 0 {
        out.extend_from_slice(b",\"vlan\":[");
        for (i, v) in f.vlan[..(f.vlan_count as usize).min(3)].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            eve::push_u64(out, *v as u64);
        }
        out.push(b']');
    }
    let icmp = proto == 1 || proto == 58;
    out.extend_from_slice(b",\"src_ip\":");
    eve::push_ip(out, src);
    if !icmp {
        out.extend_from_slice(b",\"src_port\":");
        eve::push_u64(out, sport as u64);
    }
    out.extend_from_slice(b",\"dest_ip\":");
    eve::push_ip(out, dst);
    if !icmp {
        out.extend_from_slice(b",\"dest_port\":");
        eve::push_u64(out, dport as u64);
    }
    out.push(b',');
    eve::push_proto(out, proto);
    if icmp {
        out.extend_from_slice(b",\"icmp_type\":");
        eve::push_u64(out, sport as u64);
        out.extend_from_slice(b",\"icmp_code\":");
        eve::push_u64(out, dport as u64);
    }
    out.extend_from_slice(b",\"pkt_src\":\"wire/pcap\",\"community_id\":");
    let cid = eve::community_id(f.src, f.dst, f.sport, f.dport, f.proto);
    eve::push_str(out, &cid);
    push_alert_object(out, m);
    if let Some(ap) = app_proto {
        out.extend_from_slice(b",\"app_proto\":");
        eve::push_str(out, ap);
    }
    if let Some(ip) = xff {
        out.extend_from_slice(b",\"xff\":");
        eve::push_ip(out, ip);
    }
    out.extend_from_slice(b",\"direction\":");
    eve::push_str(out, if to_server { "to_server" } else { "to_client" });
    push_flow_counts(out, f);
    out.extend_from_slice(b"\"}");
    if let Some((name, v)) = app {
        push_app_objects(out, name, v);
    }
    out.push(b'}');
}

/// Appends `,"name":v`; an empty name with an object appends each of its
/// members (an alert on an HTTP transaction with files carries `http` and
/// `files`).
fn push_app_objects(out: &mut Vec<u8>, name: &str, v: &serde_json::Value) {
    match v {
        serde_json::Value::Object(m) if name.is_empty() => {
            for (k, v) in m {
                push_app_objects(out, k, v);
            }
        }
        _ => {
            out.push(b',');
            eve::push_str(out, name);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, v);
        }
    }
}

/// A `fileinfo` event: the protocol object of the file's transaction (if
/// any), `app_proto`, then the `fileinfo` object.
pub fn write_fileinfo_event(
    out: &mut Vec<u8>,
    f: &Flow,
    ts_ns: u64,
    app: Option<(&str, &serde_json::Value)>,
    app_proto: &str,
    fileinfo: &serde_json::Value,
) {
    push_flow_header(out, f, ts_ns, None, "fileinfo");
    if let Some((name, v)) = app {
        push_app_objects(out, name, v);
    }
    out.extend_from_slice(b",\"app_proto\":");
    eve::push_str(out, app_proto);
    push_app_objects(out, "fileinfo", fileinfo);
    out.push(b'}');
}

/// Appends `,"alert":{...}`: the rule's action, ids, message, category,
/// severity and metadata.
fn push_alert_object(out: &mut Vec<u8>, m: &vigie_rules::signature::Match) {
    let r = &m.rule;
    out.extend_from_slice(b",\"alert\":{\"action\":");
    let action = match m.action {
        vigie_rules::signature::Action::Drop
        | vigie_rules::signature::Action::Reject
        | vigie_rules::signature::Action::RejectSrc
        | vigie_rules::signature::Action::RejectDst
        | vigie_rules::signature::Action::RejectBoth => "blocked",
        _ => "allowed",
    };
    eve::push_str(out, action);
    out.extend_from_slice(b",\"gid\":");
    eve::push_u64(out, r.gid as u64);
    out.extend_from_slice(b",\"signature_id\":");
    eve::push_u64(out, r.sid as u64);
    out.extend_from_slice(b",\"rev\":");
    eve::push_u64(out, r.rev as u64);
    out.extend_from_slice(b",\"signature\":");
    eve::push_str(out, &r.msg);
    out.extend_from_slice(b",\"category\":");
    eve::push_str(out, r.category.as_deref().unwrap_or(""));
    out.extend_from_slice(b",\"severity\":");
    eve::push_u64(out, r.severity as u64);
    if !r.metadata.is_empty() {
        // key -> [values], keys in first-seen order
        out.extend_from_slice(b",\"metadata\":{");
        let mut keys: Vec<&str> = Vec::new();
        for (k, _) in r.metadata.iter() {
            if !keys.contains(&&**k) {
                keys.push(k);
            }
        }
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            eve::push_str(out, k);
            out.extend_from_slice(b":[");
            let mut first = true;
            for (_, v) in r.metadata.iter().filter(|(kk, _)| &**kk == *k) {
                if !first {
                    out.push(b',');
                }
                first = false;
                eve::push_str(out, v);
            }
            out.push(b']');
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// Appends an EVE `alert` event (no newline) for a packet outside any flow:
/// a `decode-event` rule on a packet the decoder flagged, which may have no
/// IP layer (then no addresses are written) or be a fragment still held.
pub fn write_packet_alert(
    out: &mut Vec<u8>,
    a: &crate::pipeline::dispatch::AnomalyRecord,
    m: &vigie_rules::signature::Match,
) {
    let (ts_ns, pkt_no) = (a.ts_ns, a.pkt_no);
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, ts_ns);
    out.extend_from_slice(b"\",\"pcap_cnt\":");
    eve::push_u64(out, pkt_no);
    out.extend_from_slice(b",\"event_type\":\"alert\"");
    if let Some((src, dst, proto)) = a.l3 {
        // Ports of TCP, UDP and SCTP as decoded, 0 when the header was not.
        let ported = matches!(proto, 6 | 17 | 132);
        out.extend_from_slice(b",\"src_ip\":");
        eve::push_ip(out, &src);
        if ported {
            out.extend_from_slice(b",\"src_port\":");
            eve::push_u64(out, u64::from(a.ports.0));
        }
        out.extend_from_slice(b",\"dest_ip\":");
        eve::push_ip(out, &dst);
        if ported {
            out.extend_from_slice(b",\"dest_port\":");
            eve::push_u64(out, u64::from(a.ports.1));
        }
        out.push(b',');
        eve::push_proto(out, proto);
    }
    out.extend_from_slice(b",\"pkt_src\":\"wire/pcap\"");
    push_alert_object(out, m);
    out.push(b'}');
}

/// Appends an EVE `alert` event (no newline) for an ARP frame: the sender's
/// and target's protocol addresses as `src_ip`/`dest_ip`, proto `ARP`, and
/// the message as an `arp` object.
pub fn write_arp_alert(
    out: &mut Vec<u8>,
    a: &crate::pipeline::dispatch::ArpRecord,
    m: &vigie_rules::signature::Match,
) {
    let arp = &a.arp;
    out.extend_from_slice(b"{\"timestamp\":\"");
    eve::push_timestamp(out, a.ts_ns);
    out.extend_from_slice(b"\",\"pcap_cnt\":");
    eve::push_u64(out, a.pkt_no);
    out.extend_from_slice(b",\"event_type\":\"alert\",\"src_ip\":");
    eve::push_ip(out, &arp.spa.into());
    out.extend_from_slice(b",\"dest_ip\":");
    eve::push_ip(out, &arp.tpa.into());
    out.extend_from_slice(b",\"proto\":\"ARP\",\"pkt_src\":\"wire/pcap\"");
    push_alert_object(out, m);
    let opcode = match arp.op {
        1 => "request".to_string(),
        2 => "reply".to_string(),
        n => n.to_string(),
    };
    let v = serde_json::json!({
        "hw_type": if arp.htype == 1 { "ethernet".to_string() } else { arp.htype.to_string() },
        "proto_type": if arp.ptype == 0x0800 { "ipv4".to_string() } else { format!("{:#06x}", arp.ptype) },
        "opcode": opcode,
        "src_mac": crate::app::hex_colon(&arp.sha, false),
        "src_ip": arp.spa.to_string(),
        "dest_mac": crate::app::hex_colon(&arp.tha, false),
        "dest_ip": arp.tpa.to_string(),
    });
    out.extend_from_slice(b",\"arp\":");
    let _ = serde_json::to_writer(&mut *out, &v);
    out.push(b'}');
}

/// Appends an app-layer EVE event (`http`, `dns`, `tls`) for a transaction.
pub fn write_app_event(out: &mut Vec<u8>, f: &Flow, ts_ns: u64, name: &str, v: &serde_json::Value) {
    push_flow_header(out, f, ts_ns, None, name);
    out.push(b',');
    eve::push_str(out, name);
    out.push(b':');
    let _ = serde_json::to_writer(&mut *out, v);
    out.push(b'}');
}
