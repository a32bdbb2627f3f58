//! TLS parser against other tools' outputs on the same captures: nDPI
//! (SNI, JA3C, JA3S, JA4, certificate issuer/subject/SHA-1), Arkime (JA3,
//! JA3S, JA4, certificate hashes and serials) and Zeek ssl.log (SNI, version).

mod app_support;

use std::net::IpAddr;
use std::path::Path;

use app_support::{connections, corpus, pcaps_in, subdirs, zeek_log, Conn, Score};
use serde_json::Value;
use vigie_sensor::app::quic::QuicState;
use vigie_sensor::app::tls::TlsState;
use vigie_sensor::app::Direction;

/// Offset of the first TLS handshake record of type `hs` in `s` (STARTTLS
/// protocols speak plaintext first; their own parsers are out of scope).
fn tls_start(s: &[u8], hs: u8) -> Option<usize> {
    s.windows(6)
        .position(|w| w[0] == 0x16 && w[1] == 3 && w[2] <= 4 && w[5] == hs)
}

/// Runs the TLS parser over a TCP connection, if it carries TLS.
fn run_tls(c: &Conn) -> Option<TlsState> {
    if c.proto != 6 {
        return None;
    }
    let ts = c.stream(Direction::ToServer);
    let tc = c.stream(Direction::ToClient);
    let cs = tls_start(&ts, 1).or_else(|| (ts.first().is_some_and(|b| b & 0x80 != 0)).then_some(0));
    let ss = tls_start(&tc, 2);
    if cs.is_none() && ss.is_none() {
        return None;
    }
    let cs = cs.unwrap_or(ts.len());
    let ss = ss.unwrap_or(tc.len());
    let mut st = TlsState::new();
    // Feed chunks in capture order, skipping any plaintext prefix.
    let mut seen = [0usize, 0usize];
    for (n, (d, chunk)) in c.chunks.iter().enumerate() {
        let (i, start) = match d {
            Direction::ToServer => (0, cs),
            Direction::ToClient => (1, ss),
        };
        if let Some(len) = c.gaps.get(&n) {
            if seen[i] >= start {
                st.gap(*d, *len);
            }
            continue;
        }
        let from = start.saturating_sub(seen[i]).min(chunk.len());
        seen[i] += chunk.len();
        if from < chunk.len() {
            st.parse(&chunk[from..], *d);
        }
    }
    Some(st)
}

fn find(conns: &[Conn], a: IpAddr, ap: u16, b: IpAddr, bp: u16) -> Option<&Conn> {
    conns.iter().find(|c| c.proto == 6 && c.is(a, ap, b, bp))
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
            let Ok(text) = std::fs::read_to_string(&out) else {
                continue;
            };
            let conns = connections(&pcap);
            let name = pcap
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for line in text.lines() {
                let Some(rest) = line.split("\tTCP ").nth(1) else {
                    continue;
                };
                if bracket(line, "JA3C").is_none() && bracket(line, "JA4").is_none() {
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
                let st = find(&conns, aip, ap, bip, bp).and_then(run_tls);
                let ch = st.as_ref().and_then(|s| s.client_hello.as_ref());
                if let Some(v) = bracket(line, "JA3C") {
                    let ours = st
                        .as_ref()
                        .and_then(|s| s.ja3.as_ref())
                        .map(|j| j.hash.clone())
                        .unwrap_or_default();
                    score.check("ndpi.ja3c", &ours, v, &ctx);
                }
                if let Some(v) = bracket(line, "JA4") {
                    // This nDPI release always writes `d` for the SNI flag and
                    // does not take the ALPN's last character, unlike the FoxIO
                    // spec (which Arkime follows, compared in full below): the
                    // other 32 characters are compared here.
                    let ours = st.as_ref().and_then(|s| s.ja4.clone()).unwrap_or_default();
                    let strip = |j: &str| -> String {
                        j.char_indices()
                            .filter(|(i, _)| *i != 3 && *i != 8 && *i != 9)
                            .map(|(_, c)| c)
                            .collect()
                    };
                    score.check(
                        "ndpi.ja4 (no sni/alpn chars)",
                        &strip(&ours),
                        &strip(v),
                        &ctx,
                    );
                }
                if let Some(v) = bracket(line, "JA3S") {
                    // nDPI appends its own verdict, e.g. " (WEAK)".
                    let v = v.split(' ').next().unwrap_or(v);
                    let ours = st
                        .as_ref()
                        .and_then(|s| s.ja3s.as_ref())
                        .map(|j| j.hash.clone())
                        .unwrap_or_default();
                    score.check("ndpi.ja3s", &ours, v, &ctx);
                }
                if let Some(v) = bracket(line, "Hostname/SNI") {
                    // Only where nDPI took the name from TLS (not SMTP/HTTP).
                    if ch.is_some() && line.contains("/TLS") {
                        let ours = ch
                            .and_then(|c| c.sni.as_deref())
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .unwrap_or_default();
                        score.check("ndpi.sni", &ours, v, &ctx);
                    }
                }
                let leaf = st.as_ref().and_then(|s| s.leaf());
                if let Some(v) = bracket(line, "Certificate SHA-1") {
                    let ours = leaf
                        .map(|c| c.fingerprint.to_uppercase())
                        .unwrap_or_default();
                    score.check("ndpi.cert_sha1", &ours, v, &ctx);
                }
                if let Some(v) = bracket(line, "Issuer") {
                    score.check(
                        "ndpi.cert_issuer",
                        leaf.map(|c| c.issuer.as_str()).unwrap_or(""),
                        v,
                        &ctx,
                    );
                }
                if let Some(v) = bracket(line, "Subject") {
                    score.check(
                        "ndpi.cert_subject",
                        leaf.map(|c| c.subject.as_str()).unwrap_or(""),
                        v,
                        &ctx,
                    );
                }
            }
        }
    }
}

fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn arkime(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/arkime")) {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.test"))) else {
            continue;
        };
        if !text.contains("\"ja3\"") && !text.contains("\"cert\"") {
            continue;
        }
        let Ok(json) = serde_json::from_str::<Value>(&text) else {
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
            if b["ipProtocol"].as_u64() != Some(6) || b.get("tls").is_none() {
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
            let st = find(&conns, sip, sp, dip, dp).and_then(run_tls);
            let tls = &b["tls"];
            let pairs: [(&'static str, &str, Option<String>); 5] = [
                (
                    "arkime.ja3",
                    "ja3",
                    st.as_ref()
                        .and_then(|s| s.ja3.as_ref())
                        .map(|j| j.hash.clone()),
                ),
                (
                    "arkime.ja3string",
                    "ja3string",
                    st.as_ref()
                        .and_then(|s| s.ja3.as_ref())
                        .map(|j| j.string.clone()),
                ),
                (
                    "arkime.ja3s",
                    "ja3s",
                    st.as_ref()
                        .and_then(|s| s.ja3s.as_ref())
                        .map(|j| j.hash.clone()),
                ),
                (
                    "arkime.ja3sstring",
                    "ja3sstring",
                    st.as_ref()
                        .and_then(|s| s.ja3s.as_ref())
                        .map(|j| j.string.clone()),
                ),
                ("arkime.ja4", "ja4", st.as_ref().and_then(|s| s.ja4.clone())),
            ];
            for (field, key, ours) in pairs {
                let theirs = strs(&tls[key]);
                if let Some(t) = theirs.first() {
                    score.check(field, ours.as_deref().unwrap_or(""), t, &ctx);
                }
            }
            if let Some(t) = strs(&tls["ja4_r"]).first() {
                score.check(
                    "arkime.ja4_r",
                    st.as_ref().and_then(|s| s.ja4_r.as_deref()).unwrap_or(""),
                    t,
                    &ctx,
                );
            }
            if let Some(certs) = b["cert"].as_array() {
                let ours: Vec<String> = st
                    .as_ref()
                    .map(|s| {
                        s.server_certs
                            .iter()
                            .map(|c| c.fingerprint.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let ours_serials: Vec<String> = st
                    .as_ref()
                    .map(|s| {
                        s.server_certs
                            .iter()
                            .map(|c| c.serial.replace(':', "").to_lowercase())
                            .collect()
                    })
                    .unwrap_or_default();
                for c in certs {
                    if let Some(h) = c["hash"].as_str() {
                        let found = if ours.iter().any(|o| o == h) { h } else { "" };
                        score.check("arkime.cert_sha1", found, h, &ctx);
                    }
                    if let Some(sn) = c["serial"].as_str() {
                        // Arkime drops a leading 00 sign byte.
                        let found = ours_serials
                            .iter()
                            .any(|o| o == sn || o.strip_prefix("00") == Some(sn));
                        score.check("arkime.cert_serial", if found { sn } else { "" }, sn, &ctx);
                    }
                }
            }
        }
    }
}

fn zeek_version(v: u16) -> &'static str {
    match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv10",
        0x0302 => "TLSv11",
        0x0303 => "TLSv12",
        0x0304 => "TLSv13",
        _ => "-",
    }
}

fn zeek(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/zeek")) {
        let log = dir.join("ssl.log");
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
            let (Ok(a), Ok(ap), Ok(b), Ok(bp)) = (
                get("id.orig_h").parse::<IpAddr>(),
                get("id.orig_p").parse::<u16>(),
                get("id.resp_h").parse::<IpAddr>(),
                get("id.resp_p").parse::<u16>(),
            ) else {
                continue;
            };
            let Some(c) = find(&conns, a, ap, b, bp) else {
                // QUIC rows (UDP) are not compared: QUIC is out of scope.
                continue;
            };
            let ctx = format!("zeek {name} {a}:{ap}");
            let st = run_tls(c);
            let sni = st
                .as_ref()
                .and_then(|s| s.client_hello.as_ref())
                .and_then(|c| c.sni.as_deref())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_else(|| "-".into());
            score.check("zeek.server_name", &sni, get("server_name"), &ctx);
            let ver = st
                .as_ref()
                .and_then(|s| s.server_hello.as_ref())
                .map(|h| zeek_version(h.negotiated_version()))
                .unwrap_or("-");
            score.check("zeek.version", ver, get("version"), &ctx);
        }
    }
}

/// Runs the QUIC Initial parser over a UDP flow.
fn run_quic(c: &Conn) -> QuicState {
    let mut q = QuicState::new();
    for (d, dgram) in &c.chunks {
        q.parse(dgram, *d);
    }
    q
}

/// QUIC Initial ClientHellos against Zeek quic.log and nDPI.
fn quic(root: &Path, score: &mut Score) {
    for dir in subdirs(&root.join("expected/zeek")) {
        let log = dir.join("quic.log");
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
            let (Ok(a), Ok(ap), Ok(b), Ok(bp)) = (
                get("id.orig_h").parse::<IpAddr>(),
                get("id.orig_p").parse::<u16>(),
                get("id.resp_h").parse::<IpAddr>(),
                get("id.resp_p").parse::<u16>(),
            ) else {
                continue;
            };
            let ctx = format!("zeek {name} {a}:{ap}");
            let q = conns
                .iter()
                .find(|c| c.proto == 17 && c.is(a, ap, b, bp))
                .map(run_quic);
            let sni = q
                .as_ref()
                .and_then(|q| q.sni())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_else(|| "-".into());
            score.check("zeek.quic.server_name", &sni, get("server_name"), &ctx);
            let alpn = q
                .as_ref()
                .and_then(|q| q.client_hello.as_ref())
                .and_then(|c| c.alpn.first())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .unwrap_or_else(|| "-".into());
            score.check(
                "zeek.quic.client_protocol",
                &alpn,
                get("client_protocol"),
                &ctx,
            );
        }
    }
    for dir in subdirs(&root.join("expected/ndpi")) {
        for pcap in pcaps_in(&dir) {
            let out = std::path::PathBuf::from(format!("{}.out", pcap.display()));
            let Ok(text) = std::fs::read_to_string(&out) else {
                continue;
            };
            let conns = connections(&pcap);
            let name = pcap
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for line in text.lines() {
                let Some(rest) = line.split("\tUDP ").nth(1) else {
                    continue;
                };
                if !line.contains("/QUIC") {
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
                let q = conns
                    .iter()
                    .find(|c| c.proto == 17 && c.is(aip, ap, bip, bp))
                    .map(run_quic);
                if let Some(v) = bracket(line, "Hostname/SNI") {
                    let ours = q
                        .as_ref()
                        .and_then(|q| q.sni())
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .unwrap_or_default();
                    score.check("ndpi.quic.sni", &ours, v, &ctx);
                }
                if let Some(v) = bracket(line, "JA4") {
                    // Same nDPI JA4 deviations as for TLS (SNI flag, ALPN chars).
                    let ours = q.as_ref().and_then(|q| q.ja4.clone()).unwrap_or_default();
                    let strip = |j: &str| -> String {
                        j.char_indices()
                            .filter(|(i, _)| *i != 3 && *i != 8 && *i != 9)
                            .map(|(_, c)| c)
                            .collect()
                    };
                    score.check(
                        "ndpi.quic.ja4 (no sni/alpn chars)",
                        &strip(&ours),
                        &strip(v),
                        &ctx,
                    );
                }
            }
        }
    }
}

#[test]
fn tls_matches_ndpi_arkime_zeek() {
    let Some(root) = corpus() else { return };
    let mut score = Score::default();
    ndpi(&root, &mut score);
    arkime(&root, &mut score);
    zeek(&root, &mut score);
    quic(&root, &mut score);
    score.print("TLS (and QUIC Initial) vs nDPI / Arkime / Zeek");
    let (eq, tot) = score.totals();
    // Measured: 608/610. Left: nDPI leaves the DC= parts out of one issuer
    // DN; one nDPI QUIC flow is Google QUIC (not IETF QUIC), not parsed.
    assert!(tot >= 600, "too few comparisons: {tot}");
    assert!(score.ratio() >= 0.995, "{eq}/{tot}");
}
