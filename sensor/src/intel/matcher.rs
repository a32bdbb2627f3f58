//! Per-worker indicator matching: which fields are looked up when, and the
//! per-flow memory that keeps one alert per indicator per flow.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;
use vigie_rules::intel::{Hit, Hits, IndicatorKind, IndicatorSet, IndicatorValue, Tlp};

use super::eve::write_intel_alert;
use super::SharedIndicators;
use crate::app::dns::eve as dns_eve;
use crate::app::dns::parser::{DnsMessage, RData};
use crate::app::http::eve as http_eve;
use crate::app::tls::eve as tls_eve;
use crate::app::AppState;
use crate::flow::session::FlowSession;
use crate::flow::table::{Direction, Flow};
use crate::pipeline::WorkPacket;

/// Receives each alert as a writer of its EVE line.
pub type AlertSink<'a> = dyn FnMut(&dyn Fn(&mut Vec<u8>)) + 'a;

/// Where an alert is reported: the packet (or flow end) that revealed the hit.
#[derive(Clone, Copy, Debug)]
pub struct AlertContext {
    /// Packet time (ns since epoch).
    pub ts_ns: u64,
    /// Packet number written as `pcap_cnt`.
    pub pkt_no: u64,
    /// Source address as written in `src_ip`.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (ICMP type).
    pub sport: u16,
    /// Destination port (ICMP code).
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// The packet goes from client to server.
    pub to_server: bool,
}

/// One indicator hit waiting to be written, owned so the set may be swapped.
#[derive(Clone, Debug)]
pub struct IntelAlert {
    /// Indicator kind.
    pub kind: IndicatorKind,
    /// The indicator's value as stored (normalised).
    pub value: String,
    /// The traffic field that matched (`dns.query`, `http.host`, `tls.sni`...).
    pub seen_in: &'static str,
    /// Feed name.
    pub feed: String,
    /// Signature id of the feed.
    pub sid: u32,
    /// Event or object id in the feed.
    pub event_id: String,
    /// Tags of the indicator.
    pub tags: Vec<String>,
    /// TLP marking.
    pub tlp: Tlp,
    /// Confidence 0..=100 if the feed gave one.
    pub confidence: Option<u8>,
    /// EVE `app_proto` of the flow.
    pub app_proto: Option<&'static str>,
    /// App-layer object written next to the alert (`http`, `dns`, `tls`).
    pub app: Option<(&'static str, serde_json::Value)>,
}

/// Counters of one worker's matcher (or of all workers, merged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntelCounters {
    /// Lookups made.
    pub lookups: u64,
    /// Live indicators matched (before the one-per-flow rule).
    pub hits: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Indicator sets taken into use by this worker (1 + reloads seen).
    pub sets_used: u64,
}

impl IntelCounters {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &IntelCounters) {
        self.lookups += o.lookups;
        self.hits += o.hits;
        self.alerts += o.alerts;
        self.sets_used = self.sets_used.max(o.sets_used);
    }
}

/// What the matcher remembers about one flow.
#[derive(Debug, Default)]
struct FlowIntel {
    /// Keys of the indicators that alerted on this flow.
    alerted: Vec<u64>,
    http_req_next: u64,
    http_resp_next: u64,
    dns_req_next: u64,
    dns_resp_next: u64,
    tls_client_done: bool,
    tls_server_done: bool,
}

/// Most distinct indicators that alert on one flow; more hits are counted but
/// not written, so a hostile flow cannot flood the output.
const MAX_ALERTS_PER_FLOW: usize = 64;

/// A worker's indicator matcher.
pub struct IntelMatcher {
    shared: SharedIndicators,
    /// The set of the current batch; between batches, `idle`.
    set: Arc<IndicatorSet>,
    /// An empty set held between batches, so that an idle worker keeps no
    /// old set (or old part of a staged reload) alive.
    idle: Arc<IndicatorSet>,
    generation: u64,
    flows: HashMap<u64, FlowIntel>,
    pending: Vec<IntelAlert>,
    /// Counters.
    pub counters: IntelCounters,
}

impl IntelMatcher {
    /// A matcher reading the current set of `shared`.
    pub fn new(shared: SharedIndicators) -> IntelMatcher {
        let generation = shared.generation();
        // No set is held until the first batch (see `end_batch`).
        let idle = Arc::new(IndicatorSet::default());
        IntelMatcher {
            set: idle.clone(),
            idle,
            shared,
            generation,
            flows: HashMap::new(),
            pending: Vec::new(),
            counters: IntelCounters {
                sets_used: 1,
                ..Default::default()
            },
        }
    }

    /// The current set holds file-hash indicators, so HTTP bodies must be
    /// hashed.
    pub fn wants_body_hashes(&self) -> bool {
        [
            IndicatorKind::Md5,
            IndicatorKind::Sha1,
            IndicatorKind::Sha256,
        ]
        .iter()
        .any(|&k| self.set.count(k) > 0)
    }

    /// Takes the current set into use; called once per batch, before any
    /// lookup of the batch.
    pub fn begin_batch(&mut self) {
        let g = self.shared.generation();
        self.set = self.shared.current();
        if g != self.generation {
            self.generation = g;
            self.counters.sets_used += 1;
        }
    }

    /// Lets the set go at the end of a batch: the next batch takes the
    /// current one again.
    pub fn end_batch(&mut self) {
        self.set = self.idle.clone();
    }

    /// Checks one packet of `flow`: endpoints when the packet created the flow,
    /// then app-layer fields that became available. Each alert is handed to
    /// `sink` as a writer of its EVE line (when `write` is set). Returns the
    /// number of alerts raised.
    pub fn on_packet(
        &mut self,
        p: &WorkPacket,
        flow: &mut Flow,
        dir: Direction,
        write: bool,
        sink: &mut AlertSink<'_>,
    ) -> u64 {
        let now = p.ts_ns / 1_000_000_000;
        if flow.first_pkt_no == p.pkt_no {
            let mut addrs: [Option<(IpAddr, &'static str)>; 10] = [None; 10];
            addrs[0] = Some((flow.src, "src_ip"));
            addrs[1] = Some((flow.dst, "dest_ip"));
            for (i, t) in p.dec.tunnels().iter().take(4).enumerate() {
                addrs[2 + 2 * i] = Some((t.src, "tunnel.src_ip"));
                addrs[3 + 2 * i] = Some((t.dst, "tunnel.dest_ip"));
            }
            let set = self.set.clone();
            for (ip, seen_in) in addrs.into_iter().flatten() {
                self.counters.lookups += 1;
                let hits = set.lookup_ip(ip, now);
                self.collect(flow.first_pkt_no, hits, seen_in, None, None);
            }
        }
        if let Some(sess) = flow.session.as_deref() {
            let app_proto = sess.app.proto.map(|a| a.eve_name());
            self.scan_app(flow.first_pkt_no, sess, now, false, app_proto);
        }
        if self.pending.is_empty() {
            return 0;
        }
        let Some(l3) = p.dec.l3 else {
            self.pending.clear();
            return 0;
        };
        let ctx = AlertContext {
            ts_ns: p.ts_ns,
            pkt_no: p.pkt_no,
            src: l3.src,
            dst: l3.dst,
            sport: p.sport,
            dport: p.dport,
            proto: l3.proto,
            to_server: dir == Direction::ToServer,
        };
        self.flush(flow, &ctx, write, sink)
    }

    /// The flow ends: checks what its session still holds (`sess` already
    /// flushed by reassembly), then forgets the flow. Alerts are reported at
    /// `order_pkt` in the client-to-server orientation.
    pub fn on_flow_end(
        &mut self,
        flow: &mut Flow,
        sess: Option<&FlowSession>,
        order_pkt: u64,
        now_ns: u64,
        write: bool,
        sink: &mut AlertSink<'_>,
    ) -> u64 {
        let mut n = 0;
        if let Some(sess) = sess {
            let app_proto = sess.app.proto.map(|a| a.eve_name());
            self.scan_app(
                flow.first_pkt_no,
                sess,
                now_ns / 1_000_000_000,
                true,
                app_proto,
            );
            if !self.pending.is_empty() {
                let ctx = AlertContext {
                    ts_ns: now_ns,
                    pkt_no: order_pkt,
                    src: flow.src,
                    dst: flow.dst,
                    sport: flow.sport,
                    dport: flow.dport,
                    proto: flow.proto,
                    to_server: true,
                };
                n = self.flush(flow, &ctx, write, sink);
            }
        }
        self.flows.remove(&flow.first_pkt_no);
        n
    }

    /// Flows the matcher holds state for (tests, memory checks).
    pub fn tracked_flows(&self) -> usize {
        self.flows.len()
    }

    fn flush(
        &mut self,
        flow: &mut Flow,
        ctx: &AlertContext,
        write: bool,
        sink: &mut AlertSink<'_>,
    ) -> u64 {
        let n = self.pending.len() as u64;
        flow.alerted = true;
        self.counters.alerts += n;
        if write {
            let f: &Flow = flow;
            for a in &self.pending {
                sink(&|out: &mut Vec<u8>| write_intel_alert(out, f, ctx, a));
            }
        }
        self.pending.clear();
        n
    }

    /// Looks up the app-layer fields not looked up yet.
    fn scan_app(
        &mut self,
        key: u64,
        sess: &FlowSession,
        now: u64,
        at_end: bool,
        app_proto: Option<&'static str>,
    ) {
        let set = self.set.clone();
        match &sess.app.state {
            AppState::Http(h) => {
                for tx in h.transactions() {
                    let st = self.flows.entry(key).or_default();
                    let req = tx.tx_id >= st.http_req_next
                        && (tx.request_complete || (at_end && !tx.request_line.is_empty()));
                    let resp = tx.tx_id >= st.http_resp_next && (tx.response_complete || at_end);
                    if !(req || resp) {
                        continue;
                    }
                    if req {
                        st.http_req_next = tx.tx_id + 1;
                    }
                    if resp {
                        st.http_resp_next = tx.tx_id + 1;
                    }
                    let mut app: Option<serde_json::Value> = None;
                    let mut look = |m: &mut IntelMatcher, hits: Hits<'_>, seen_in: &'static str| {
                        if hits.clone().next().is_some() && app.is_none() {
                            app = Some(http_eve::eve_http(tx));
                        }
                        m.counters.lookups += 1;
                        m.collect(
                            key,
                            hits,
                            seen_in,
                            app_proto,
                            app.as_ref().map(|v| ("http", v)),
                        );
                    };
                    if req {
                        let host = tx.host.as_deref().unwrap_or(b"");
                        if !host.is_empty() {
                            look(self, set.lookup_domain(host, now), "http.hostname");
                        }
                        let target = if tx.uri_raw.is_empty() {
                            &tx.uri
                        } else {
                            &tx.uri_raw
                        };
                        if !target.is_empty() {
                            look(self, set.lookup_url(host, target, now), "http.url");
                        }
                        for (_, d) in tx.request_body_hashes.iter().flat_map(|h| h.digests()) {
                            look(self, set.lookup_hash(d, now), "http.request_body");
                        }
                    }
                    if resp {
                        for (_, d) in tx.response_body_hashes.iter().flat_map(|h| h.digests()) {
                            look(self, set.lookup_hash(d, now), "http.response_body");
                        }
                    }
                }
            }
            AppState::Dns(d) => {
                for tx in d.transactions() {
                    let st = self.flows.entry(key).or_default();
                    let req = tx.request.is_some() && tx.tx_id >= st.dns_req_next;
                    let resp = tx.response.is_some() && tx.tx_id >= st.dns_resp_next;
                    if !(req || resp) {
                        continue;
                    }
                    if req {
                        st.dns_req_next = tx.tx_id + 1;
                    }
                    if resp {
                        st.dns_resp_next = tx.tx_id + 1;
                    }
                    let mut app: Option<serde_json::Value> = None;
                    let mut look = |m: &mut IntelMatcher, hits: Hits<'_>, seen_in: &'static str| {
                        if hits.clone().next().is_some() && app.is_none() {
                            app = Some(dns_eve::eve_alert(tx));
                        }
                        m.counters.lookups += 1;
                        m.collect(
                            key,
                            hits,
                            seen_in,
                            app_proto,
                            app.as_ref().map(|v| ("dns", v)),
                        );
                    };
                    let msgs: [(Option<&DnsMessage>, bool); 2] = [
                        (tx.request.as_ref().filter(|_| req), false),
                        (tx.response.as_ref().filter(|_| resp), true),
                    ];
                    for (msg, is_resp) in msgs {
                        let Some(msg) = msg else { continue };
                        // A response repeats the query: it is looked up on the
                        // request side unless the request was not seen.
                        if !is_resp || tx.request.is_none() {
                            for q in &msg.queries {
                                look(self, set.lookup_domain(&q.name, now), "dns.query");
                            }
                        }
                        if !is_resp {
                            continue;
                        }
                        for a in &msg.answers {
                            match &a.data {
                                RData::A(b) => {
                                    look(self, set.lookup_ip(IpAddr::from(*b), now), "dns.answer")
                                }
                                RData::Aaaa(b) => {
                                    look(self, set.lookup_ip(IpAddr::from(*b), now), "dns.answer")
                                }
                                RData::Name(n) => {
                                    look(self, set.lookup_domain(n, now), "dns.answer")
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            AppState::Tls(t) => {
                let st = self.flows.entry(key).or_default();
                let client = !st.tls_client_done && t.client_hello.is_some();
                let server = !st.tls_server_done
                    && t.server_hello.is_some()
                    && (t.leaf().is_some() || t.handshake_done() || at_end);
                if !(client || server) {
                    return;
                }
                if client {
                    st.tls_client_done = true;
                }
                if server {
                    st.tls_server_done = true;
                }
                let mut app: Option<serde_json::Value> = None;
                let mut look = |m: &mut IntelMatcher, hits: Hits<'_>, seen_in: &'static str| {
                    if hits.clone().next().is_some() && app.is_none() {
                        app = Some(tls_eve::eve_tls(t));
                    }
                    m.counters.lookups += 1;
                    m.collect(
                        key,
                        hits,
                        seen_in,
                        app_proto,
                        app.as_ref().map(|v| ("tls", v)),
                    );
                };
                if client {
                    if let Some(sni) = t.client_hello.as_ref().and_then(|c| c.sni.as_deref()) {
                        look(self, set.lookup_domain(sni, now), "tls.sni");
                    }
                    if let Some(j) = &t.ja3 {
                        look(self, set.lookup_ja3(&j.hash, now), "tls.ja3");
                    }
                    if let Some(j) = &t.ja4 {
                        look(self, set.lookup_ja4(j, now), "tls.ja4");
                    }
                }
                if server {
                    if let Some(j) = &t.ja3s {
                        look(self, set.lookup_ja3s(&j.hash, now), "tls.ja3s");
                    }
                    for c in &t.server_certs {
                        if let Some(d) = colon_hex_sha1(&c.fingerprint) {
                            look(self, set.lookup_cert_sha1(&d, now), "tls.certificate");
                        }
                        if let Some(cn) = subject_cn(&c.subject).filter(|cn| cn.contains('.')) {
                            look(
                                self,
                                set.lookup_domain(cn.as_bytes(), now),
                                "tls.certificate",
                            );
                        }
                        for name in &c.san_dns {
                            look(
                                self,
                                set.lookup_domain(name.as_bytes(), now),
                                "tls.certificate",
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Queues the hits not alerted on this flow yet.
    fn collect(
        &mut self,
        key: u64,
        hits: Hits<'_>,
        seen_in: &'static str,
        app_proto: Option<&'static str>,
        app: Option<(&'static str, &serde_json::Value)>,
    ) {
        for h in hits {
            self.counters.hits += 1;
            let id = hit_key(&h);
            let st = self.flows.entry(key).or_default();
            if st.alerted.contains(&id) || st.alerted.len() >= MAX_ALERTS_PER_FLOW {
                continue;
            }
            st.alerted.push(id);
            self.pending.push(IntelAlert {
                kind: h.kind(),
                value: h.value().to_string(),
                seen_in,
                feed: h.feed().to_string(),
                sid: h.sid(),
                event_id: h.event_id().to_string(),
                tags: h.tags().map(str::to_string).collect(),
                tlp: h.tlp(),
                confidence: h.confidence(),
                app_proto,
                app: app.map(|(n, v)| (n, v.clone())),
            });
        }
    }
}

/// Identity of an indicator across set reloads: kind, value, feed and event.
fn hit_key(h: &Hit<'_>) -> u64 {
    // SipHash with fixed keys: the same on every run.
    #[allow(deprecated)]
    let mut s = std::hash::SipHasher::new();
    (h.kind() as u8).hash(&mut s);
    match h.value() {
        IndicatorValue::Ip(ip, len) => {
            ip.hash(&mut s);
            len.hash(&mut s);
        }
        IndicatorValue::Text(t) => t.hash(&mut s),
        IndicatorValue::Digest(d) => d.hash(&mut s),
    }
    h.feed().hash(&mut s);
    h.event_id().hash(&mut s);
    s.finish()
}

/// `aa:bb:...` (20 bytes) to raw bytes.
fn colon_hex_sha1(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut n = 0;
    for part in s.split(':') {
        let b = u8::from_str_radix(part, 16).ok()?;
        *out.get_mut(n)? = b;
        n += 1;
    }
    (n == 20).then_some(out)
}

/// The common name of an RFC 4514-ish DN ("C=US, O=Org, CN=name").
fn subject_cn(dn: &str) -> Option<&str> {
    dn.split(", ")
        .filter_map(|p| p.strip_prefix("CN="))
        .last()
        .map(str::trim)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn cert_helpers() {
        let fp = "2c:32:2a:e2:b7:fe:91:39:1c:9a:06:0f:52:87:f5:9b:77:64:c9:da";
        let d = colon_hex_sha1(fp).unwrap();
        assert_eq!(d[0], 0x2c);
        assert_eq!(d[19], 0xda);
        assert!(colon_hex_sha1("2c:32").is_none());
        assert!(colon_hex_sha1(&format!("{fp}:00")).is_none());
        assert!(colon_hex_sha1("zz").is_none());
        assert_eq!(
            subject_cn("C=US, O=Org, CN=www.example.org"),
            Some("www.example.org")
        );
        assert_eq!(subject_cn("C=US"), None);
    }
}
