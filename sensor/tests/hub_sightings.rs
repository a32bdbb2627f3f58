//! Sightings reported to real components: the TAXII 2.1 reference server
//! `medallion` (memory backend), and a small HTTP server in the test standing
//! in for MISP's `/sightings/add` (no MISP server is available here).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::medallion::{medallion_available, start_medallion};
use vigie_sensor::hub::sightings::{
    identity_id, SightingConfig, SightingReporter, SightingStats, SightingTarget,
};
use vigie_sensor::hub::taxii::TAXII_MEDIA_TYPE;
use vigie_sensor::hub::{HubAuth, HubClient};

/// One EVE alert line for an indicator hit.
fn alert(feed: &str, kind: &str, value: &str, event_id: &str, ts: &str) -> Vec<u8> {
    let mut l = serde_json::to_vec(&serde_json::json!({
        "timestamp": ts, "flow_id": 7, "event_type": "alert",
        "src_ip": "10.0.0.1", "src_port": 53000, "dest_ip": "10.0.0.53", "dest_port": 53,
        "proto": "UDP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 9000123, "rev": 1,
            "signature": format!("VIGIE INTEL {kind} {value} (feed {feed})"),
            "category": "Threat intelligence indicator match", "severity": 2,
            "source": {"kind": "intel", "value": value, "type": kind, "seen_in": "dns.query",
                "feed": feed, "event_id": event_id, "tags": [], "tlp": "clear"}}
    }))
    .unwrap();
    l.push(b'\n');
    l
}

/// Waits (bounded) until `f` holds for the reporter's stats.
fn wait_for(r: &SightingReporter, what: &str, f: impl Fn(&SightingStats) -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if f(&r.stats()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}: {:?}", r.stats());
}

// ---------------------------------------------------------------- MISP stand-in

/// A POST the stand-in received.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Records requests; answers them with the statuses of `script` in turn
/// (200 once the script is used up).
struct MispStandIn {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl MispStandIn {
    fn start(script: Vec<u16>) -> MispStandIn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for conn in l.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(c) = conn else { continue };
                let Some(req) = read_request(&c) else {
                    continue;
                };
                let status = script.next().unwrap_or(200);
                let ok = req.method == "POST" && req.path == "/sightings/add";
                seen2.lock().unwrap().push(req);
                let (code, body): (u16, &[u8]) = match (ok, status) {
                    (false, _) => (404, br#"{"message":"not found"}"#),
                    (true, 200) => (200, br#"{"message":"Sighting added"}"#),
                    (true, s) => (s, br#"{"message":"Internal error"}"#),
                };
                let mut c = c;
                let _ = write!(
                    c,
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(body);
            }
        });
        MispStandIn { url, seen, stop }
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for MispStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn read_request(c: &TcpStream) -> Option<Request> {
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut rd = BufReader::new(c.try_clone().ok()?);
    let mut first = String::new();
    rd.read_line(&mut first).ok()?;
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if rd.read_line(&mut h).ok()? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    rd.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

#[test]
fn misp_sightings_batched_and_retried_after_500() {
    let misp = MispStandIn::start(vec![500]);
    let cfg = SightingConfig {
        batch_max: 500,
        // Long enough that all ten lines are taken before the first POST even
        // on a loaded machine (the assertions below count them).
        batch_wait: Duration::from_millis(500),
        ..SightingConfig::new(
            "sensor-1",
            vec![(
                "cert-misp".to_string(),
                SightingTarget::Misp {
                    // A trailing slash is tolerated.
                    url: format!("{}/", misp.url),
                    auth: HubAuth::MispKey("k3y-123".into()),
                },
            )],
        )
    };
    let r = SightingReporter::start(cfg, HubClient::new(Duration::from_secs(10)));
    let tee = r.tee();
    let ev = "5f1e0b4c-0d9a-4a57-9c3e-8d7a1b2c3d4e";
    let hits = [
        ("domain", "evil.example", "2026-11-26T10:00:00.000000+0000"),
        ("domain", "evil.example", "2026-11-26T10:00:05.000000+0000"),
        ("domain", "evil.example", "2026-11-26T10:00:01.000000+0000"),
        ("ip-dst", "203.0.113.9", "2026-11-26T10:00:02.000000+0000"),
        ("ip-dst", "203.0.113.9", "2026-11-26T10:00:03.000000+0000"),
        (
            "url",
            "http://bad.example/x",
            "2026-11-26T10:00:04.000000+0000",
        ),
    ];
    for (kind, value, ts) in hits {
        tee.offer(&alert("cert-misp", kind, value, ev, ts));
    }
    // Ignored: a feed without a target, a signature alert, garbage, a non-alert.
    tee.offer(&alert(
        "other-feed",
        "domain",
        "x.example",
        ev,
        "2026-11-26T10:00:00.000000+0000",
    ));
    tee.offer(br#"{"event_type":"alert","alert":{"signature_id":2000001,"severity":1}}"#);
    tee.offer(b"{\"event_type\":\"alert\",\"alert\":{\"source\":{\"kind\":\"intel\"");
    tee.offer(br#"{"event_type":"dns","dns":{"rrname":"evil.example"}}"#);

    // The first POST gets 500: the batch stays and the failure is counted.
    wait_for(&r, "the failed first POST", |s| s.failed_posts == 1);
    let st = r.stats();
    assert_eq!(st.queued, 6);
    assert_eq!(st.sent, 0);
    assert_eq!(st.pending, 3, "deduplicated: three distinct indicators");
    assert!(st.last_error.as_deref().unwrap().contains("500"), "{st:?}");
    // The next attempt (after the backoff) delivers it.
    wait_for(&r, "the retried POST", |s| s.sent == 3);
    let st = r.finish(Duration::from_secs(5));
    println!("misp stats: {st:?}");
    assert_eq!(st.sent, 3, "one sighting per distinct indicator");
    assert_eq!(st.failed_posts, 1);
    assert_eq!(st.pending, 0);
    assert_eq!((st.dropped, st.rejected, st.tee_drops), (0, 0, 0));

    let reqs = misp.requests();
    assert_eq!(reqs.len(), 2, "one failed POST, one retry: {reqs:?}");
    for q in &reqs {
        assert_eq!(q.method, "POST");
        assert_eq!(q.path, "/sightings/add");
        assert_eq!(q.header("Authorization"), Some("k3y-123"));
        assert_eq!(q.header("Accept"), Some("application/json"));
        assert_eq!(q.header("Content-Type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&q.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "values": ["203.0.113.9", "evil.example", "http://bad.example/x"],
                "source": "vigie/sensor-1",
                // 2026-11-26T10:00:05Z, the latest hit.
                "timestamp": 1_795_687_205,
                "type": "0",
            })
        );
    }
}

#[test]
fn misp_batch_max_splits_posts() {
    let misp = MispStandIn::start(Vec::new());
    let cfg = SightingConfig {
        batch_max: 2,
        batch_wait: Duration::from_secs(3600),
        ..SightingConfig::new(
            "s",
            vec![(
                "f".to_string(),
                SightingTarget::Misp {
                    url: misp.url.clone(),
                    auth: HubAuth::MispKey("k".into()),
                },
            )],
        )
    };
    let r = SightingReporter::start(cfg, HubClient::new(Duration::from_secs(10)));
    let tee = r.tee();
    for v in ["a.example", "b.example", "c.example"] {
        tee.offer(&alert(
            "f",
            "domain",
            v,
            "e",
            "2026-11-26T10:00:00.000000+0000",
        ));
    }
    // Two are a full batch and go at once; the third waits for finish. The
    // reporter thread may send the first two before it has taken the third
    // line, so wait for both facts rather than reading pending after sent.
    wait_for(&r, "the full batch sent, the third pending", |s| {
        s.sent == 2 && s.pending == 1
    });
    let st = r.finish(Duration::from_secs(5));
    assert_eq!(st.sent, 3);
    let bodies: Vec<serde_json::Value> = misp
        .requests()
        .iter()
        .map(|q| serde_json::from_slice(&q.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0]["values"],
        serde_json::json!(["a.example", "b.example"])
    );
    assert_eq!(bodies[1]["values"], serde_json::json!(["c.example"]));
}

#[test]
fn taxii_sightings_posted_to_medallion() {
    if !medallion_available() {
        return;
    }
    let ind = "indicator--0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
    let ind2 = "indicator--6a3b1c2d-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": "bundle--2f3a4b5c-6d7e-4f80-9a1b-2c3d4e5f6a7b",
        "objects": [
            {
                "type": "indicator", "spec_version": "2.1", "id": ind,
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "name": "vigie test C2",
                "pattern": "[domain-name:value = 'c2.vigie-test.example']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
            },
            {
                "type": "indicator", "spec_version": "2.1", "id": ind2,
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "name": "vigie test IP",
                "pattern": "[ipv4-addr:value = '198.51.100.7']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
            },
        ],
    });
    let tmp = std::env::temp_dir().join(format!("vigie-sightings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let m = start_medallion(&tmp, &bundle);
    let auth = HubAuth::Basic {
        user: "vigie".into(),
        password: "s3cret".into(),
    };
    let api_root = format!("{}/api1/", m.url);
    let cfg = SightingConfig {
        batch_max: 500,
        batch_wait: Duration::from_secs(3600),
        ..SightingConfig::new(
            "sensor-1",
            vec![(
                "cti-taxii".to_string(),
                SightingTarget::Taxii {
                    api_root: api_root.clone(),
                    // Resolved by title.
                    collection: "vigie indicators".into(),
                    auth: auth.clone(),
                },
            )],
        )
    };
    let r = SightingReporter::start(cfg, HubClient::new(Duration::from_secs(30)));
    let tee = r.tee();
    for ts in ["10:00:00", "10:00:09", "10:00:03"] {
        let ts = format!("2026-11-26T{ts}.250000+0000");
        tee.offer(&alert(
            "cti-taxii",
            "domain",
            "c2.vigie-test.example",
            ind,
            &ts,
        ));
    }
    tee.offer(&alert(
        "cti-taxii",
        "ipv4",
        "198.51.100.7",
        ind2,
        "2026-11-26T11:00:00.000000+0000",
    ));
    // Not a STIX indicator id: nothing to point a sighting at.
    tee.offer(&alert(
        "cti-taxii",
        "domain",
        "other.example",
        "5f1e0b4c-0d9a-4a57-9c3e-8d7a1b2c3d4e",
        "2026-11-26T10:00:00.000000+0000",
    ));
    let st = r.finish(Duration::from_secs(20));
    println!("taxii stats: {st:?}");
    assert_eq!(st.last_error, None);
    assert_eq!(st.queued, 4);
    assert_eq!(st.skipped, 1);
    assert_eq!(st.sent, 2);
    assert_eq!((st.pending, st.failed_posts, st.rejected), (0, 0, 0));

    // The collection now holds the sightings and the sensor identity.
    let url = format!("{api_root}collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/");
    let body = HubClient::default()
        .get(&url, TAXII_MEDIA_TYPE, &auth)
        .expect("objects of the collection")
        .body;
    let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let objects = env["objects"].as_array().unwrap();
    let sightings: Vec<&serde_json::Value> =
        objects.iter().filter(|o| o["type"] == "sighting").collect();
    assert_eq!(sightings.len(), 2, "{env:#}");
    let s1 = sightings
        .iter()
        .find(|s| s["sighting_of_ref"] == ind)
        .expect("sighting of the domain indicator");
    assert_eq!(s1["count"], 3);
    assert_eq!(s1["spec_version"], "2.1");
    assert_eq!(s1["first_seen"], "2026-11-26T10:00:00.250Z");
    assert_eq!(s1["last_seen"], "2026-11-26T10:00:09.250Z");
    let ident = identity_id("sensor-1");
    assert_eq!(s1["where_sighted_refs"], serde_json::json!([ident]));
    assert_eq!(s1["created_by_ref"], ident);
    let s2 = sightings
        .iter()
        .find(|s| s["sighting_of_ref"] == ind2)
        .expect("sighting of the IP indicator");
    assert_eq!(s2["count"], 1);
    let identity = objects
        .iter()
        .find(|o| o["id"] == ident)
        .expect("the sensor identity");
    assert_eq!(identity["type"], "identity");
    assert_eq!(identity["name"], "vigie/sensor-1");

    // A second reporter run adds new sightings; the identity is not doubled.
    let cfg = SightingConfig {
        batch_max: 1,
        ..SightingConfig::new(
            "sensor-1",
            vec![(
                "cti-taxii".to_string(),
                SightingTarget::Taxii {
                    api_root: api_root.clone(),
                    // Resolved by id this time.
                    collection: "91a7b528-80eb-42ed-a74d-c6fbd5a26116".into(),
                    auth: auth.clone(),
                },
            )],
        )
    };
    let r = SightingReporter::start(cfg, HubClient::new(Duration::from_secs(30)));
    r.tee().offer(&alert(
        "cti-taxii",
        "domain",
        "c2.vigie-test.example",
        ind,
        "2026-11-26T12:00:00.000000+0000",
    ));
    let st = r.finish(Duration::from_secs(20));
    assert_eq!((st.sent, st.rejected), (1, 0), "{st:?}");
    let body = HubClient::default()
        .get(&url, TAXII_MEDIA_TYPE, &auth)
        .unwrap()
        .body;
    let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let objects = env["objects"].as_array().unwrap();
    assert_eq!(
        objects.iter().filter(|o| o["type"] == "sighting").count(),
        3
    );
    assert_eq!(objects.iter().filter(|o| o["id"] == ident).count(), 1);

    // Wrong password: the POST fails, the sighting stays pending.
    let bad = HubAuth::Basic {
        user: "vigie".into(),
        password: "wrong".into(),
    };
    let cfg = SightingConfig::new(
        "sensor-1",
        vec![(
            "cti-taxii".to_string(),
            SightingTarget::Taxii {
                api_root,
                collection: "vigie indicators".into(),
                auth: bad,
            },
        )],
    );
    let r = SightingReporter::start(cfg, HubClient::new(Duration::from_secs(30)));
    r.tee().offer(&alert(
        "cti-taxii",
        "domain",
        "c2.vigie-test.example",
        ind,
        "2026-11-26T13:00:00.000000+0000",
    ));
    let st = r.finish(Duration::from_millis(500));
    assert_eq!((st.sent, st.pending, st.failed_posts), (0, 1, 1), "{st:?}");
    assert!(st.last_error.as_deref().unwrap().contains("401"), "{st:?}");
    drop(m);
    let _ = std::fs::remove_dir_all(&tmp);
}
