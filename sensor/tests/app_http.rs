//! HTTP parser against Zeek http.log, Arkime session HTTP fields and nDPI
//! (URL, User-Agent) on the same captures.

mod app_support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use app_support::{connections, corpus, pcaps_in, subdirs, zeek_log, Conn, Score};
use serde_json::Value;
use vigie_sensor::app::http::{HttpState, HttpTransaction};
use vigie_sensor::app::{detect_protocol, hex_digest, AppProto, Direction};

/// Runs the HTTP parser over a TCP connection detected as HTTP.
fn run_http(c: &Conn) -> Vec<HttpTransaction> {
    if c.proto != 6 {
        return Vec::new();
    }
    let ts = c.stream(Direction::ToServer);
    let tc = c.stream(Direction::ToClient);
    let mut st = match detect_protocol(6, c.client.1, c.server.1, &ts, &tc) {
        Some(AppProto::Http) => HttpState::new(),
        // HTTP/2 streams are compared like HTTP/1 transactions.
        Some(AppProto::Http2) => HttpState::http2(Default::default()),
        _ => return Vec::new(),
    };
    for (i, (d, chunk)) in c.chunks.iter().enumerate() {
        match c.gaps.get(&i) {
            Some(n) => st.gap(*d, *n),
            None => st.parse(chunk, *d),
        }
    }
    st.close(Direction::ToServer);
    st.close(Direction::ToClient);
    st.take_all()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn zeek(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/zeek")) {
        let log = dir.join("http.log");
        if !log.exists() {
            continue;
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with("http-methods") {
            // Zeek's test of malformed request lines ("GET/HTTP/1.1", binary
            // methods): its verdicts there are Zeek's own, not a reference.
            continue;
        }
        let conns: Vec<Conn> = pcaps_in(&dir).iter().flat_map(|p| connections(p)).collect();
        for row in zeek_log(&log) {
            let get = |k: &str| row.get(k).map(String::as_str).unwrap_or("-");
            let (Ok(a), Ok(ap), Ok(b), Ok(bp), Ok(depth)) = (
                get("id.orig_h").parse::<IpAddr>(),
                get("id.orig_p").parse::<u16>(),
                get("id.resp_h").parse::<IpAddr>(),
                get("id.resp_p").parse::<u16>(),
                get("trans_depth").parse::<usize>(),
            ) else {
                continue;
            };
            let ctx = format!("zeek {name} {a}:{ap} #{depth}");
            let txs: Vec<HttpTransaction> = conns
                .iter()
                .filter(|c| c.proto == 6 && c.is(a, ap, b, bp))
                .flat_map(run_http)
                .collect();
            let Some(tx) = depth.checked_sub(1).and_then(|i| txs.get(i)) else {
                score.check("zeek.transaction", "missing", "present", &ctx);
                continue;
            };
            score.check("zeek.transaction", "present", "present", &ctx);
            let or_dash = |v: &[u8]| {
                if v.is_empty() {
                    "-".to_string()
                } else {
                    text(v)
                }
            };
            score.check("zeek.method", &or_dash(&tx.method), get("method"), &ctx);
            score.check("zeek.uri", &or_dash(&tx.uri_raw), get("uri"), &ctx);
            let host = tx
                .header(Direction::ToServer, "host")
                .map(text)
                .unwrap_or_else(|| "-".into());
            // Zeek drops the port from the Host header value.
            let host = host
                .rsplit_once(':')
                .filter(|(_, p)| p.parse::<u16>().is_ok())
                .map(|(h, _)| h.to_string())
                .unwrap_or(host);
            score.check("zeek.host", &host, get("host"), &ctx);
            let ua = tx
                .header(Direction::ToServer, "user-agent")
                .map(text)
                .unwrap_or_else(|| "-".into());
            score.check("zeek.user_agent", &ua, get("user_agent"), &ctx);
            // Zeek logs the reply's version, 0.9 for a bare HTTP/0.9 exchange.
            let version = if tx.request_protocol.is_empty() && !tx.method.is_empty() {
                "HTTP/0.9".to_string()
            } else {
                text(&tx.response_protocol)
            };
            score.check(
                "zeek.version",
                version.strip_prefix("HTTP/").unwrap_or("-"),
                get("version"),
                &ctx,
            );
            // Zeek logs status 0 / "<empty>" for an HTTP/0.9 reply.
            let http09 = tx.request_protocol.is_empty() && tx.response_complete;
            let status = match tx.status_code {
                Some(s) => s.to_string(),
                None if http09 => "0".into(),
                None => "-".into(),
            };
            score.check("zeek.status_code", &status, get("status_code"), &ctx);
            if tx.status_code.is_some() || http09 {
                let msg = if tx.status_msg.is_empty() {
                    "<empty>".to_string()
                } else {
                    text(&tx.status_msg)
                };
                score.check("zeek.status_msg", &msg, get("status_msg"), &ctx);
            }
            score.check(
                "zeek.request_body_len",
                &tx.request_body_len.to_string(),
                get("request_body_len"),
                &ctx,
            );
            // Zeek counts the body after content decoding.
            score.check(
                "zeek.response_body_len",
                &tx.response_body_decoded_len.to_string(),
                get("response_body_len"),
                &ctx,
            );
        }
    }
}

fn strs(v: &Value) -> BTreeSet<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .or_else(|| x.as_u64().map(|n| n.to_string()))
            })
            .collect(),
        _ => BTreeSet::new(),
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
        if !text_json.contains("\"method\"") && !text_json.contains("\"statuscode\"") {
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
            let h = &b["http"];
            if b["ipProtocol"].as_u64() != Some(6)
                || (h.get("method").is_none() && h.get("statuscode").is_none())
            {
                continue;
            }
            // HTTP inside SOCKS, and HTTP/2 (PRI preface), need parsers vigie
            // does not have: not comparable.
            let protos = strs(&b["protocol"]);
            if protos.contains("socks") || strs(&h["method"]).contains("PRI") {
                continue;
            }
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
            let txs: Vec<HttpTransaction> = conns
                .iter()
                .filter(|c| c.proto == 6 && c.is(sip, sp, dip, dp))
                .flat_map(run_http)
                .collect();
            let set = |f: &dyn Fn(&HttpTransaction) -> Option<String>| -> String {
                txs.iter()
                    .filter_map(f)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            let theirs = |k: &str| strs(&h[k]).into_iter().collect::<Vec<_>>().join(" | ");
            if h.get("method").is_some() {
                score.check(
                    "arkime.method",
                    &set(&|t| (!t.method.is_empty()).then(|| text(&t.method))),
                    &theirs("method"),
                    &ctx,
                );
            }
            if h.get("statuscode").is_some() {
                // Arkime lists interim 1xx codes too.
                let codes = |t: &HttpTransaction| -> Vec<String> {
                    t.interim_status
                        .into_iter()
                        .chain(t.status_code)
                        .map(|c| c.to_string())
                        .collect()
                };
                let ours: BTreeSet<String> = txs.iter().flat_map(codes).collect();
                score.check(
                    "arkime.statuscode",
                    &ours.into_iter().collect::<Vec<_>>().join(" | "),
                    &theirs("statuscode"),
                    &ctx,
                );
            }
            if h.get("useragent").is_some() {
                score.check(
                    "arkime.useragent",
                    &set(&|t| t.header(Direction::ToServer, "user-agent").map(text)),
                    &theirs("useragent"),
                    &ctx,
                );
            }
            if h.get("path").is_some() {
                let path = |t: &HttpTransaction| {
                    if t.uri_raw.is_empty() {
                        return None;
                    }
                    let u = text(&t.uri_raw);
                    let u = u.split('?').next().unwrap_or("").to_string();
                    Some(u)
                };
                score.check("arkime.path", &set(&path), &theirs("path"), &ctx);
            }
            // Arkime hashes each response body as transferred (dechunked,
            // not decompressed): compare against the set of hashes it lists.
            // Arkime hashes content-encoded bodies before decoding, vigie (as
            // Suricata's file.data) after: only bodies without a
            // Content-Encoding are comparable.
            if txs
                .iter()
                .any(|t| t.header(Direction::ToClient, "content-encoding").is_some())
            {
                continue;
            }
            for (key, field) in [("md5", "arkime.body_md5"), ("sha256", "arkime.body_sha256")] {
                for want in strs(&h[key]) {
                    let found = txs.iter().any(|t| {
                        let (m, s, rm, rs) = body_digests(t);
                        if key == "md5" {
                            m == want || rm == want
                        } else {
                            s == want || rs == want
                        }
                    });
                    score.check(field, if found { &want } else { "" }, &want, &ctx);
                }
            }
        }
    }
}

/// MD5 and SHA-256 of the decoded response and request bodies.
fn body_digests(t: &HttpTransaction) -> (String, String, String, String) {
    let h = |d: Option<&[u8]>| d.map(hex_digest).unwrap_or_default();
    (
        h(t.response_body_hashes.as_ref().map(|d| &d.md5[..])),
        h(t.response_body_hashes.as_ref().map(|d| &d.sha256[..])),
        h(t.request_body_hashes.as_ref().map(|d| &d.md5[..])),
        h(t.request_body_hashes.as_ref().map(|d| &d.sha256[..])),
    )
}

fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some((ip.parse().ok()?, port.parse().ok()?))
}

fn bracket<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let k = format!("[{key}: ");
    let i = line.find(&k)? + k.len();
    let rest = &line[i..];
    Some(&rest[..rest.find(']')?])
}

fn ndpi(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/ndpi")) {
        for pcap in pcaps_in(&dir) {
            let out = std::path::PathBuf::from(format!("{}.out", pcap.display()));
            let Ok(body) = std::fs::read_to_string(&out) else {
                continue;
            };
            let conns = connections(&pcap);
            let name = pcap
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for line in body.lines() {
                let Some(rest) = line.split("\tTCP ").nth(1) else {
                    continue;
                };
                if !line.contains("/HTTP") || bracket(line, "URL").is_none() {
                    continue;
                }
                let mut parts = rest.split(' ');
                let (Some(a), Some(_), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                let (Some((aip, ap)), Some((bip, bp))) = (parse_endpoint(a), parse_endpoint(b))
                else {
                    continue;
                };
                let ctx = format!("ndpi {name} {a}-{b}");
                let txs: Vec<HttpTransaction> = conns
                    .iter()
                    .filter(|c| c.proto == 6 && c.is(aip, ap, bip, bp))
                    .flat_map(run_http)
                    .collect();
                let first = txs.first();
                if let Some(v) = bracket(line, "URL") {
                    // nDPI: Host header value followed by the raw URI.
                    let ours = first
                        .map(|t| {
                            let host = t
                                .header(Direction::ToServer, "host")
                                .map(text)
                                .unwrap_or_default();
                            format!("{host}{}", text(&t.uri_raw))
                        })
                        .unwrap_or_default();
                    // nDPI cuts long URLs and stops at ']' (its own field end).
                    let cut =
                        ours.starts_with(v) && (v.len() >= 200 || ours[v.len()..].starts_with(']'));
                    score.check("ndpi.url", if cut { v } else { &ours }, v, &ctx);
                }
                if let Some(v) = bracket(line, "User-Agent") {
                    let ours = first
                        .and_then(|t| t.header(Direction::ToServer, "user-agent"))
                        .map(text)
                        .unwrap_or_default();
                    score.check("ndpi.user_agent", &ours, v, &ctx);
                }
            }
        }
    }
}

#[test]
fn http_matches_zeek_arkime_ndpi() {
    let Some(root) = corpus() else { return };
    let mut score = Score::default();
    zeek(&root, &mut score);
    arkime(&root, &mut score);
    ndpi(&root, &mut score);
    score.print("HTTP vs Zeek / Arkime / nDPI");
    let (eq, tot) = score.totals();
    // Measured 2166/2169. Left: Zeek decodes %XX in the URI (vigie keeps the
    // raw URI, as the reference IDS's http.url does) in two URIs, and one body in
    // GTP over outer IP fragments that this helper's simple TCP assembler
    // sees 5,760 bytes short.
    assert!(tot >= 2100, "too few comparisons: {tot}");
    assert!(score.ratio() >= 0.995, "{eq}/{tot}");
}
