//! The EVE `stats` event, with the reference IDS's counter names
//! (`stats.decoder.pkts`, `stats.capture.kernel_drops`, ...), so existing
//! dashboards read it.

use serde_json::{Map, Value};

use super::eve;
use crate::pipeline::RunSummary;

/// Counters by dotted name, in a fixed order.
#[derive(Debug, Default, Clone)]
pub struct StatsSnapshot {
    /// (name, value) pairs, e.g. ("decoder.pkts", 42).
    pub counters: Vec<(String, u64)>,
    /// Seconds the run took.
    pub uptime_s: u64,
}

impl StatsSnapshot {
    /// Collects every counter of a finished run.
    pub fn from_summary(s: &RunSummary) -> StatsSnapshot {
        let mut c: Vec<(String, u64)> = Vec::new();
        c.push(("capture.kernel_packets".into(), s.packets + s.kernel_drops));
        c.push(("capture.kernel_drops".into(), s.kernel_drops));
        c.push(("capture.kernel_ifdrops".into(), 0));
        s.decode.visit(&mut |name, v| c.push((name.to_string(), v)));
        s.flows.visit(&mut |name, v| c.push((name.to_string(), v)));
        for (name, v) in &s.worker.stream {
            c.push((name.to_string(), *v));
        }
        c.push(("detect.alert".into(), s.alerts));
        c.push(("detect.alerts_suppressed".into(), s.alerts_suppressed));
        c.push(("detect.threshold_evictions".into(), s.threshold_evictions));
        StatsSnapshot {
            counters: c,
            uptime_s: s.elapsed.as_secs(),
        }
    }

    /// The value of one counter, if present.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// Nested JSON object of the counters (`decoder.event.ipv4.trunc_pkt` becomes
    /// `{"decoder":{"event":{"ipv4":{"trunc_pkt":N}}}}`).
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        root.insert("uptime".into(), Value::from(self.uptime_s));
        for (name, v) in &self.counters {
            let mut cur = &mut root;
            let mut parts = name.split('.').peekable();
            while let Some(p) = parts.next() {
                if parts.peek().is_none() {
                    cur.insert(p.to_string(), Value::from(*v));
                    break;
                }
                let entry = cur
                    .entry(p.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    // a name that is both a counter and a prefix keeps the counter
                    break;
                }
                match entry {
                    Value::Object(m) => cur = m,
                    _ => break,
                }
            }
        }
        Value::Object(root)
    }

    /// Appends the `stats` event line (with newline) at packet time `ts_ns`.
    pub fn write_eve(&self, out: &mut Vec<u8>, ts_ns: u64) {
        out.extend_from_slice(b"{\"timestamp\":\"");
        eve::push_timestamp(out, ts_ns);
        out.extend_from_slice(b"\",\"event_type\":\"stats\",\"stats\":");
        let _ = serde_json::to_writer(&mut *out, &self.to_json());
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn dotted_names_nest() {
        let s = StatsSnapshot {
            counters: vec![
                ("decoder.pkts".into(), 3),
                ("decoder.event.ipv4.trunc_pkt".into(), 1),
                ("capture.kernel_drops".into(), 0),
            ],
            uptime_s: 1,
        };
        let mut line = Vec::new();
        s.write_eve(&mut line, 0);
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["event_type"], "stats");
        assert_eq!(v["stats"]["decoder"]["pkts"], 3);
        assert_eq!(v["stats"]["decoder"]["event"]["ipv4"]["trunc_pkt"], 1);
        assert_eq!(v["stats"]["capture"]["kernel_drops"], 0);
    }
}
