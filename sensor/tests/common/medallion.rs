//! medallion, the reference TAXII 2.1 server, started for a test on loopback.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// medallion on a free port, with `data` as its memory backend.
pub struct Medallion {
    /// The server process.
    pub child: Child,
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// medallion is installed (else the test skips, or fails under VIGIE_EXTERNAL_TESTS=1).
pub fn medallion_available() -> bool {
    let ok = Command::new("medallion")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if std::env::var("VIGIE_EXTERNAL_TESTS").is_ok_and(|v| v == "1") {
        panic!("VIGIE_EXTERNAL_TESTS=1 but medallion is not installed (pip install medallion)");
    }
    eprintln!("skip: medallion not installed (pip install medallion)");
    false
}

/// Starts medallion with a memory backend seeded with `bundle`.
pub fn start_medallion(dir: &Path, bundle: &serde_json::Value) -> Medallion {
    let port = super::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let objects = bundle["objects"].as_array().unwrap().clone();
    let manifest: Vec<serde_json::Value> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            serde_json::json!({
                "id": o["id"],
                "date_added": format!("2024-01-01T{:02}:{:02}:{:02}.000000Z", i / 3600, (i / 60) % 60, i % 60),
                "version": o.get("modified").or_else(|| o.get("created")).cloned().unwrap_or_else(|| "2024-01-01T00:00:00.000Z".into()),
                "media_type": "application/stix+json;version=2.1",
            })
        })
        .collect();
    let data = serde_json::json!({
        "/discovery": {
            "title": "vigie test TAXII server",
            "default": format!("{url}/api1/"),
            "api_roots": [format!("{url}/api1/")],
        },
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 104857600,
            },
            "status": [],
            "collections": [{
                "id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
                "title": "vigie indicators",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": objects,
                "manifest": manifest,
            }],
        },
    });
    let data_path = dir.join("medallion-data.json");
    std::fs::write(&data_path, serde_json::to_vec(&data).unwrap()).unwrap();
    let cfg = serde_json::json!({
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": data_path,
        },
        "users": {"vigie": "s3cret"},
        "taxii": {"max_page_size": 100},
    });
    let cfg_path = dir.join("medallion.json");
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let child = Command::new("medallion")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("medallion.log")).unwrap())
        .spawn()
        .expect("start medallion");
    let mut m = Medallion { child, url };
    // Wait until it accepts connections (bounded; not a timing assertion).
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return m;
        }
        if let Ok(Some(status)) = m.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("medallion.log")).unwrap_or_default();
            panic!("medallion exited with {status}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("medallion.log")).unwrap_or_default();
    panic!("medallion did not start on port {port}:\n{log}");
}
