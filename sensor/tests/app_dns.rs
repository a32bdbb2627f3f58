//! DNS parser against Zeek dns.log and Arkime session DNS fields on the same
//! captures.

mod app_support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use app_support::{connections, corpus, pcaps_in, subdirs, zeek_log, Conn, Score};
use serde_json::Value;
use vigie_sensor::app::dns::parser::{rcode_string, rrtype_string};
use vigie_sensor::app::dns::{DnsAnswer, DnsState, DnsTransaction, DnsVariant, RData};
use vigie_sensor::app::{detect_protocol, AppProto, Direction};

/// Runs the DNS parser over a connection detected as DNS.
fn run_dns(c: &Conn) -> Vec<DnsTransaction> {
    let ts = c.stream(Direction::ToServer);
    let tc = c.stream(Direction::ToClient);
    let first = |d: Direction| {
        c.chunks
            .iter()
            .find(|(x, _)| *x == d)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    };
    let (a, b) = if c.proto == 17 {
        (first(Direction::ToServer), first(Direction::ToClient))
    } else {
        (ts, tc)
    };
    // mDNS and LLMNR are DNS on the wire (the references log them as DNS).
    let variant = match detect_protocol(c.proto, c.client.1, c.server.1, &a, &b) {
        Some(AppProto::Dns) => DnsVariant::Dns,
        Some(AppProto::Mdns) => DnsVariant::Mdns,
        Some(AppProto::Llmnr) => DnsVariant::Llmnr,
        _ => return Vec::new(),
    };
    let mut st = DnsState::with_variant(variant);
    for (i, (d, chunk)) in c.chunks.iter().enumerate() {
        if c.proto == 17 {
            st.parse_udp(chunk, *d);
        } else if let Some(n) = c.gaps.get(&i) {
            st.gap(*d, *n);
        } else {
            st.parse_tcp(chunk, *d);
        }
    }
    st.take_all()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An answer as Zeek's dns.log `answers` shows it, if Zeek shows that type.
fn zeek_answer(rr: &DnsAnswer) -> Option<String> {
    Some(match &rr.data {
        RData::A(a) => Ipv4Addr::from(*a).to_string(),
        RData::Aaaa(a) => Ipv6Addr::from(*a).to_string(),
        RData::Name(n) => text(n),
        RData::Mx { exchange, .. } => text(exchange),
        RData::Txt(parts) => {
            let kind = if rr.rrtype == 99 { "SPF" } else { "TXT" };
            parts
                .iter()
                .map(|p| format!("{kind} {} {}", p.len(), text(p)))
                .collect::<Vec<_>>()
                .join(" ")
        }
        RData::Srv { target, .. } => text(target),
        RData::Raw(raw) if rr.rrtype == 46 => {
            // RRSIG: type covered, then the signer name (uncompressed) at 18.
            let covered = u16::from_be_bytes([*raw.first()?, *raw.get(1)?]);
            let mut signer = Vec::new();
            let mut i = 18;
            while let Some(&l) = raw.get(i) {
                if l == 0 {
                    break;
                }
                if !signer.is_empty() {
                    signer.push(b'.');
                }
                signer.extend_from_slice(raw.get(i + 1..i + 1 + usize::from(l))?);
                i += 1 + usize::from(l);
            }
            format!("RRSIG {covered} {}", text(&signer))
        }
        _ => return None,
    })
}

fn zeek(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/zeek")) {
        let log = dir.join("dns.log");
        if !log.exists() {
            continue;
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let conns: Vec<Conn> = pcaps_in(&dir).iter().flat_map(|p| connections(p)).collect();
        for row in zeek_log(&log) {
            let get = |k: &str| row.get(k).map(String::as_str).unwrap_or("-");
            let (Ok(a), Ok(ap), Ok(b), Ok(bp), Ok(id)) = (
                get("id.orig_h").parse::<IpAddr>(),
                get("id.orig_p").parse::<u16>(),
                get("id.resp_h").parse::<IpAddr>(),
                get("id.resp_p").parse::<u16>(),
                get("trans_id").parse::<u16>(),
            ) else {
                continue;
            };
            let proto = if get("proto") == "tcp" { 6 } else { 17 };
            let ctx = format!("zeek {name} {a}:{ap} id={id}");
            let txs: Vec<DnsTransaction> = conns
                .iter()
                .filter(|c| c.proto == proto && c.is(a, ap, b, bp))
                .flat_map(run_dns)
                .collect();
            let answered = get("rcode") != "-";
            let tx = txs
                .iter()
                .find(|t| t.id() == Some(id) && t.response.is_some() == answered);
            let Some(tx) = tx else {
                score.check("zeek.transaction", "missing", "present", &ctx);
                continue;
            };
            score.check("zeek.transaction", "present", "present", &ctx);
            let msg = tx.request.as_ref().or(tx.response.as_ref());
            let q = msg.and_then(|m| m.queries.first());
            // Zeek lowercases names; Suricata and vigie keep the case sent.
            let qname = q
                .map(|q| text(&q.name).to_lowercase())
                .unwrap_or_else(|| "-".into());
            score.check("zeek.query", &qname, get("query"), &ctx);
            if get("qtype") != "-" {
                score.check(
                    "zeek.qtype",
                    &q.map(|q| q.rrtype.to_string()).unwrap_or_default(),
                    get("qtype"),
                    &ctx,
                );
            }
            let Some(resp) = &tx.response else { continue };
            score.check(
                "zeek.rcode_name",
                &rcode_string(u16::from(resp.header.rcode())),
                get("rcode_name"),
                &ctx,
            );
            let flag = |b: bool| if b { "T" } else { "F" };
            score.check("zeek.AA", flag(resp.header.aa()), get("AA"), &ctx);
            score.check("zeek.TC", flag(resp.header.tc()), get("TC"), &ctx);
            // Zeek logs RD as the query set it (F when it saw no query).
            if let Some(req) = &tx.request {
                score.check("zeek.RD", flag(req.header.rd()), get("RD"), &ctx);
            }
            score.check("zeek.RA", flag(resp.header.ra()), get("RA"), &ctx);
            let answers: Vec<String> = resp.answers.iter().filter_map(zeek_answer).collect();
            let ours = if answers.is_empty() {
                "-".to_string()
            } else {
                answers.join(",").to_lowercase()
            };
            score.check("zeek.answers", &ours, &get("answers").to_lowercase(), &ctx);
            let ttls: Vec<String> = resp
                .answers
                .iter()
                .filter(|r| zeek_answer(r).is_some())
                .map(|r| format!("{}.000000", r.ttl))
                .collect();
            let ours = if ttls.is_empty() {
                "-".to_string()
            } else {
                ttls.join(",")
            };
            score.check("zeek.TTLs", &ours, get("TTLs"), &ctx);
        }
    }
}

fn arkime(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/arkime")) {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(text_json) = std::fs::read_to_string(dir.join(format!("{name}.test"))) else {
            continue;
        };
        if !text_json.contains("\"dns\"") {
            continue;
        }
        let Ok(json) = serde_json::from_str::<Value>(&text_json) else {
            continue;
        };
        let conns = pcaps_in(&dir)
            .first()
            .map(|p| connections(p))
            .unwrap_or_default();
        let Some(sessions) = json["sessions3"].as_array() else {
            continue;
        };
        for s in sessions {
            let b = &s["body"];
            let Some(items) = b["dns"].as_array() else {
                continue;
            };
            let proto = b["ipProtocol"].as_u64().unwrap_or(0) as u8;
            let (Some(sip), Some(dip)) =
                (b["source"]["ip"].as_str(), b["destination"]["ip"].as_str())
            else {
                continue;
            };
            let (Ok(sip), Ok(dip)) = (sip.parse::<IpAddr>(), dip.parse::<IpAddr>()) else {
                continue;
            };
            let sp = b["source"]["port"].as_u64().unwrap_or(0) as u16;
            let dp = b["destination"]["port"].as_u64().unwrap_or(0) as u16;
            let ctx = format!("arkime {name} {sip}:{sp}-{dip}:{dp}");
            let txs: Vec<DnsTransaction> = conns
                .iter()
                .filter(|c| c.proto == proto && c.is(sip, sp, dip, dp))
                .flat_map(run_dns)
                .collect();
            for item in items {
                let Some(host) = item["queryHost"].as_str() else {
                    continue;
                };
                if !host.is_ascii() {
                    // Arkime shows IDNs decoded from punycode: not comparable.
                    continue;
                }
                // Arkime writes the root name as "<root>"; vigie keeps it empty.
                let host = if host == "<root>" { "" } else { host };
                let qt = item["qt"].as_str().unwrap_or("");
                let tx = txs.iter().find(|t| {
                    let m = t.request.as_ref().or(t.response.as_ref());
                    m.and_then(|m| m.queries.first()).is_some_and(|q| {
                        text(&q.name).eq_ignore_ascii_case(host) && rrtype_string(q.rrtype) == qt
                    })
                });
                let Some(tx) = tx else {
                    score.check("arkime.query", "", host, &ctx);
                    continue;
                };
                score.check("arkime.query", host, host, &ctx);
                let Some(resp) = &tx.response else { continue };
                if let Some(st) = item["status"].as_str() {
                    // Arkime's names for rcodes 4 and 16.
                    let st = match st {
                        "NOTIMPL" => "NOTIMP",
                        "BADSIG_VERS" => "BADVERS",
                        x => x,
                    };
                    score.check(
                        "arkime.status",
                        &rcode_string(resp.extended_rcode()),
                        st,
                        &ctx,
                    );
                }
                if let Some(answers) = item["answers"].as_array() {
                    let mut theirs: Vec<String> = answers
                        .iter()
                        .map(|a| {
                            let v = a
                                .get("ip")
                                .or(a.get("cname"))
                                .or(a.get("nameserver"))
                                .or(a.get("mx"));
                            let v = v
                                .and_then(Value::as_str)
                                .or_else(|| a["txt"][0].as_str())
                                .unwrap_or("");
                            format!("{} {} {}", a["type"].as_str().unwrap_or(""), a["ttl"], v)
                        })
                        .collect();
                    let all = resp
                        .answers
                        .iter()
                        .chain(&resp.authorities)
                        .chain(&resp.additionals);
                    let mut ours: Vec<String> = all
                        .filter(|r| r.rrtype != 41)
                        .map(|r| {
                            let v = match &r.data {
                                RData::A(a) => Ipv4Addr::from(*a).to_string(),
                                RData::Aaaa(a) => Ipv6Addr::from(*a).to_string(),
                                // Arkime keeps no value for PTR.
                                RData::Name(_) if r.rrtype == 12 => String::new(),
                                RData::Name(n) => text(n),
                                RData::Mx { exchange, .. } => text(exchange),
                                RData::Txt(p) => p.first().map(|x| text(x)).unwrap_or_default(),
                                _ => String::new(),
                            };
                            format!("{} {} {}", rrtype_string(r.rrtype), r.ttl, v)
                        })
                        .collect();
                    // Arkime lists only the types it decodes.
                    ours.retain(|o| {
                        theirs
                            .iter()
                            .any(|t| t.split(' ').next() == o.split(' ').next())
                    });
                    ours.sort();
                    theirs.sort();
                    ours.dedup();
                    theirs.dedup();
                    score.check(
                        "arkime.answers",
                        &ours.join(" | "),
                        &theirs.join(" | "),
                        &ctx,
                    );
                }
                if let Some(flags) = item["headerFlags"].as_array() {
                    let h = resp.header;
                    let mut ours: Vec<&str> = Vec::new();
                    for (n, set) in [
                        ("AA", h.aa()),
                        ("TC", h.tc()),
                        ("RD", h.rd()),
                        ("RA", h.ra()),
                        ("Z", h.z()),
                        ("AD", h.ad()),
                        ("CD", h.cd()),
                    ] {
                        if set {
                            ours.push(n);
                        }
                    }
                    let mut theirs: Vec<&str> = flags.iter().filter_map(Value::as_str).collect();
                    ours.sort_unstable();
                    theirs.sort_unstable();
                    score.check(
                        "arkime.headerFlags",
                        &ours.join(","),
                        &theirs.join(","),
                        &ctx,
                    );
                }
            }
        }
    }
}

#[test]
fn dns_matches_zeek_and_arkime() {
    let Some(root) = corpus() else { return };
    let mut score = Score::default();
    zeek(&root, &mut score);
    arkime(&root, &mut score);
    score.print("DNS vs Zeek / Arkime");
    let (eq, tot) = score.totals();
    // Measured 427/431 (frames go through vigie's decoder, so fragmented and
    // tunnelled DNS count too). Left: Zeek's RD=F on two queries that set RD and
    // RA=F on one NXDOMAIN that sets RA, one AAAA record Arkime keeps with
    // another copy's TTL.
    assert!(tot >= 400, "too few comparisons: {tot}");
    assert!(score.ratio() >= 0.99, "{eq}/{tot}");
}
