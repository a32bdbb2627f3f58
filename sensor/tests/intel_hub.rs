//! Hub sync against real servers: a MISP feed folder served over HTTP by a
//! small file server in the test, and the TAXII 2.1 reference server
//! `medallion` (memory backend) seeded from a corpus STIX bundle.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::medallion::{medallion_available, start_medallion, Medallion};
use vigie_rules::intel::misp::MispOptions;
use vigie_rules::intel::{load_path, IndicatorSet, IndicatorSetBuilder};
use vigie_sensor::hub::misp::MispFeedSource;
use vigie_sensor::hub::taxii::{self, TaxiiSource};
use vigie_sensor::hub::{HubAuth, HubClient, HubSync};
use vigie_sensor::intel::SharedIndicators;

/// A static file server: GET /<path> from `root`. Counts requests.
struct FileServer {
    addr: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    fn start(root: PathBuf) -> FileServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(c) = conn else { continue };
                r.fetch_add(1, Ordering::SeqCst);
                serve(c, &root);
            }
        });
        FileServer {
            addr,
            requests,
            stop,
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr.trim_start_matches("http://"));
    }
}

fn serve(c: TcpStream, root: &Path) {
    let mut rd = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    if rd.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if rd.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    let path = line
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/');
    let file = root.join(path);
    let mut c = c;
    let ok = !path.contains("..") && file.is_file();
    if ok {
        let body = std::fs::read(&file).unwrap();
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = c.write_all(&body);
    } else {
        let _ = c
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

fn keys(set: &IndicatorSet) -> Vec<String> {
    let mut v: Vec<String> = set
        .iter()
        .map(|h| format!("{} {} {}", h.kind(), h.value(), h.event_id()))
        .collect();
    v.sort();
    v
}

#[test]

fn misp_feed_over_http_incremental() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let src = corpus.join("intel/misp/tweetfeed-feed");
    // A copy the test may change, served over HTTP.
    let tmp = std::env::temp_dir().join(format!("vigie-misp-feed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let feed = tmp.join("tweetfeed-feed");
    std::fs::create_dir_all(&feed).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, feed.join(p.file_name().unwrap())).unwrap();
        }
    }
    let server = FileServer::start(tmp.clone());

    // Reference: the same folder loaded from disk.
    let mut b = IndicatorSetBuilder::new();
    load_path(&feed, &MispOptions::default(), &mut b).unwrap();
    let (local, _) = b.build();
    assert!(!local.is_empty());

    let shared = SharedIndicators::new(IndicatorSet::default());
    let client = HubClient::new(Duration::from_secs(10));
    let mut sync = HubSync::new(shared.clone(), client, Duration::from_secs(60));
    let state = tmp.join("state");
    let source = MispFeedSource::new(
        "tweetfeed-feed",
        &format!("{}/tweetfeed-feed", server.addr),
        HubAuth::None,
        MispOptions::default(),
    )
    .with_state_dir(state.clone())
    .unwrap();
    sync.add_source(Box::new(source));
    let report = sync.sync_now().expect("first sync builds a set");
    println!("first sync: {report}");
    assert_eq!(
        keys(&shared.current()),
        keys(&local),
        "HTTP sync equals the local load"
    );
    assert_eq!(shared.generation(), 2);
    let (_, h) = sync.health()[0];
    let events = h.last_fetched;
    assert!(events > 0);
    println!(
        "events fetched: {events}, requests: {}",
        server.requests.load(Ordering::SeqCst)
    );

    // Nothing changed: only the manifest is fetched, no new set.
    let before = server.requests.load(Ordering::SeqCst);
    assert!(sync.sync_now().is_none());
    assert_eq!(server.requests.load(Ordering::SeqCst), before + 1);
    assert_eq!(shared.generation(), 2);

    // One event removed from the manifest: the next set drops its indicators.
    let mpath = feed.join("manifest.json");
    let mut manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    // An event the mirror serves (most listed events are 404 in this mirror).
    let gone = manifest
        .keys()
        .find(|u| feed.join(format!("{u}.json")).is_file())
        .unwrap()
        .clone();
    manifest.remove(&gone);
    std::fs::write(&mpath, serde_json::to_vec(&manifest).unwrap()).unwrap();
    sync.sync_now().expect("a removal builds a new set");
    let now = shared.current();
    assert!(
        now.iter().all(|h| h.event_id() != gone),
        "removed event's indicators are gone"
    );
    assert!(now.len() < local.len());

    // A restart with the state folder fetches nothing but the manifest.
    let shared2 = SharedIndicators::new(IndicatorSet::default());
    let mut sync2 = HubSync::new(
        shared2.clone(),
        HubClient::default(),
        Duration::from_secs(60),
    );
    let source2 = MispFeedSource::new(
        "tweetfeed-feed",
        &format!("{}/tweetfeed-feed", server.addr),
        HubAuth::None,
        MispOptions::default(),
    )
    .with_state_dir(state)
    .unwrap();
    sync2.add_source(Box::new(source2));
    let before = server.requests.load(Ordering::SeqCst);
    sync2.sync_now().expect("first build of the new process");
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        before + 1,
        "only the manifest"
    );
    assert_eq!(keys(&shared2.current()), keys(&now));

    // The server breaks: the last good set stays and the failure is counted.
    std::fs::write(&mpath, b"{not json").unwrap();
    assert!(sync.sync_now().is_none());
    assert_eq!(keys(&shared.current()), keys(&now));
    let (_, h) = sync.health()[0];
    assert_eq!(h.polls_failed, 1);
    println!(
        "failure kept last good set: {}",
        h.last_error.as_deref().unwrap_or("")
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn post_objects(m: &Medallion, objects: serde_json::Value) {
    let url = format!(
        "{}/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/",
        m.url
    );
    let body = serde_json::to_vec(&serde_json::json!({ "objects": objects })).unwrap();
    let auth = HubAuth::Basic {
        user: "vigie".into(),
        password: "s3cret".into(),
    };
    HubClient::default()
        .post_json(
            &url,
            taxii::TAXII_MEDIA_TYPE,
            taxii::TAXII_MEDIA_TYPE,
            &auth,
            &body,
        )
        .expect("medallion accepts the object");
}

#[test]

fn taxii_medallion_sync_and_poll() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !medallion_available() {
        return;
    }
    let bundle_path = corpus.join("intel/stix/amnesty-cytrox.stix2.json");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    let tmp = std::env::temp_dir().join(format!("vigie-taxii-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let m = start_medallion(&tmp, &bundle);
    let auth = HubAuth::Basic {
        user: "vigie".into(),
        password: "s3cret".into(),
    };
    let client = HubClient::new(Duration::from_secs(30));

    // Discovery → API root → collection by title.
    let roots = taxii::discover(&client, &m.url, &auth).expect("discovery");
    assert_eq!(roots[0], format!("{}/api1/", m.url));
    let cols = taxii::collections(&client, &roots[0], &auth).unwrap();
    assert_eq!(cols[0].title, "vigie indicators");
    // Wrong password: a clear error.
    let bad = HubAuth::Basic {
        user: "vigie".into(),
        password: "wrong".into(),
    };
    let e = taxii::collections(&client, &roots[0], &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");

    // Reference: the bundle loaded from disk.
    let mut b = IndicatorSetBuilder::new();
    vigie_rules::intel::stix::load_stix_file(&bundle_path, "cytrox", &mut b).unwrap();
    let (local, _) = b.build();
    assert!(!local.is_empty());

    let shared = SharedIndicators::new(IndicatorSet::default());
    let mut sync = HubSync::new(shared.clone(), client.clone(), Duration::from_secs(60));
    // Small pages so paging (more/next) is exercised.
    let source =
        TaxiiSource::new("cytrox", &roots[0], "vigie indicators", auth.clone()).page_limit(7);
    sync.add_source(Box::new(source));
    sync.sync_now().expect("first sync");
    let (_, h) = sync.health()[0];
    assert_eq!(h.last_error, None);
    assert_eq!(
        h.last_fetched,
        bundle["objects"].as_array().unwrap().len(),
        "all pages followed"
    );
    assert_eq!(
        keys(&shared.current()),
        keys(&local),
        "TAXII sync equals the local bundle"
    );

    // Next poll: nothing new since the cursor, no new set.
    assert!(sync.sync_now().is_none());
    assert_eq!(sync.health()[0].1.last_fetched, 0);

    // A new indicator is added on the server; the next poll sees only it.
    let new = serde_json::json!([{
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b",
        "created": "2030-01-01T00:00:00.000Z",
        "modified": "2030-01-01T00:00:00.000Z",
        "name": "vigie test C2",
        "pattern": "[domain-name:value = 'c2.vigie-test.example']",
        "pattern_type": "stix",
        "valid_from": "2030-01-01T00:00:00Z",
    }]);
    post_objects(&m, new);
    sync.sync_now().expect("the new object builds a new set");
    assert_eq!(sync.health()[0].1.last_fetched, 1);
    let set = shared.current();
    let hit = set
        .lookup_domain(b"c2.vigie-test.example", 1_900_000_000)
        .next();
    assert!(hit.is_some(), "new indicator is live after the poll");
    assert_eq!(set.len(), local.len() + 1);

    // The server goes away: last good set kept, failure counted.
    drop(m);
    assert!(sync.sync_now().is_none());
    assert_eq!(shared.current().len(), local.len() + 1);
    assert_eq!(sync.health()[0].1.polls_failed, 1);
    let _ = std::fs::remove_dir_all(&tmp);
}
