//! Settings read from a Suricata configuration file (`suricata.yaml`), so a
//! SOC moving a sensor over keeps its network definitions and the options
//! its rules were tuned with.
//!
//! Read: rule variables (`vars.address-groups`, `vars.port-groups`), TCP
//! overlap policies per host (`host-os-policy`), midstream pickup
//! (`stream.midstream`) and the X-Forwarded-For option of EVE alerts
//! (`outputs: - eve-log: types: - alert: xff:`).
//! `include:` files are read first (paths relative to the including file),
//! then the file's own keys override theirs. Every other key is left alone:
//! [`SuricataConf::ignored`] names the top-level sections not applied.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::app::http::xff::{XffConfig, XffDeployment, XffMode};
use crate::flow::reassembly::{HostPolicies, OverlapPolicy};

/// Largest configuration file read (a full suricata.yaml is ~90 KB).
const MAX_FILE: u64 = 4 << 20;
/// `include:` nesting limit (also stops include loops).
const MAX_DEPTH: usize = 8;

/// What vigie takes from a Suricata configuration.
#[derive(Debug, Default)]
pub struct SuricataConf {
    /// `vars.address-groups`, in file order.
    pub address_vars: Vec<(String, String)>,
    /// `vars.port-groups`, in file order.
    pub port_vars: Vec<(String, String)>,
    /// `host-os-policy`.
    pub host_policies: HostPolicies,
    /// The EVE alert output's `xff` option, when enabled.
    pub xff: Option<XffConfig>,
    /// `stream.midstream`, when set.
    pub midstream: Option<bool>,
    /// Top-level sections present but not applied.
    pub ignored: Vec<String>,
}

/// Top-level sections vigie applies (`outputs` only for the alert `xff`
/// option, `stream` only for `midstream`).
const APPLIED: &[&str] = &["vars", "host-os-policy", "outputs", "stream", "include"];

/// Reads `path` and the files it includes.
pub fn load(path: &Path) -> Result<SuricataConf, String> {
    let doc = read_merged(path, 0)?;
    from_yaml(&doc).map_err(|e| format!("{}: {e}", path.display()))
}

/// Settings from an already merged document.
pub fn from_yaml(doc: &Yaml) -> Result<SuricataConf, String> {
    let mut conf = SuricataConf::default();
    let Some(top) = doc.as_hash() else {
        return Err("not a YAML mapping at the top level".into());
    };
    for (k, _) in top {
        if let Some(k) = k.as_str() {
            if !APPLIED.contains(&k) {
                conf.ignored.push(k.to_string());
            }
        }
    }
    let vars = &doc["vars"];
    for (group, out) in [
        ("address-groups", &mut conf.address_vars),
        ("port-groups", &mut conf.port_vars),
    ] {
        match &vars[group] {
            Yaml::Hash(h) => {
                for (name, value) in h {
                    let name =
                        scalar(name).ok_or_else(|| format!("vars.{group}: a name is not text"))?;
                    let value = scalar(value)
                        .ok_or_else(|| format!("vars.{group}.{name}: not a single value"))?;
                    out.push((name, value));
                }
            }
            Yaml::BadValue | Yaml::Null => {}
            _ => return Err(format!("vars.{group}: not a mapping of NAME: value")),
        }
    }
    match &doc["host-os-policy"] {
        Yaml::Hash(h) => {
            for (name, nets) in h {
                let name = scalar(name).unwrap_or_default();
                let nets = net_list(nets);
                if nets.is_empty() {
                    // Full configs list every policy, most with no host.
                    continue;
                }
                let policy = OverlapPolicy::from_name(&name).ok_or_else(|| {
                    format!(
                        "host-os-policy: policy {name:?} is not one vigie implements ({})",
                        "first, last, bsd, linux, old-linux, solaris, windows, windows2k3, vista, hpux10, hpux11, irix, macos"
                    )
                })?;
                for net in nets {
                    conf.host_policies
                        .add(&net, policy)
                        .map_err(|e| format!("host-os-policy.{name}: {e}"))?;
                }
            }
        }
        Yaml::BadValue | Yaml::Null => {}
        _ => return Err("host-os-policy: not a mapping of policy: [networks]".into()),
    }
    conf.xff = alert_xff(doc)?;
    let midstream = &doc["stream"]["midstream"];
    if !midstream.is_badvalue() && !midstream.is_null() {
        conf.midstream = Some(truthy(midstream).ok_or("stream.midstream: not a yes/no value")?);
    }
    Ok(conf)
}

/// The networks of one policy: a YAML list, or Suricata's `"[a, b]"` text.
fn net_list(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Array(a) => a.iter().filter_map(scalar).collect(),
        other => scalar(other)
            .map(|s| {
                s.trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// `outputs: - eve-log: types: - alert: xff: {enabled, mode, deployment, header}`.
fn alert_xff(doc: &Yaml) -> Result<Option<XffConfig>, String> {
    let Some(outputs) = doc["outputs"].as_vec() else {
        return Ok(None);
    };
    for out in outputs {
        let eve = &out["eve-log"];
        if eve.is_badvalue() || !truthy(&eve["enabled"]).unwrap_or(true) {
            continue;
        }
        for t in eve["types"].as_vec().map(Vec::as_slice).unwrap_or(&[]) {
            let xff = &t["alert"]["xff"];
            if xff.is_badvalue() || !truthy(&xff["enabled"]).unwrap_or(false) {
                continue;
            }
            let word =
                |key: &str, default: &str| scalar(&xff[key]).unwrap_or_else(|| default.to_string());
            let mode = match word("mode", "extra-data").as_str() {
                "extra-data" => XffMode::ExtraData,
                "overwrite" => XffMode::Overwrite,
                m => {
                    return Err(format!(
                        "eve-log alert xff.mode {m:?}: extra-data or overwrite"
                    ))
                }
            };
            let deployment = match word("deployment", "reverse").as_str() {
                "reverse" => XffDeployment::Reverse,
                "forward" => XffDeployment::Forward,
                d => {
                    return Err(format!(
                        "eve-log alert xff.deployment {d:?}: reverse or forward"
                    ))
                }
            };
            return XffConfig::new(mode, deployment, &word("header", "X-Forwarded-For")).map(Some);
        }
    }
    Ok(None)
}

/// A YAML 1.1 boolean (`yes`, `no`, `true`, `on`, ...), read as text or bool.
fn truthy(v: &Yaml) -> Option<bool> {
    match v {
        Yaml::Boolean(b) => Some(*b),
        other => match scalar(other)?.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
    }
}

/// A scalar as text (`1521` and `"1521"` alike).
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads one file, its includes merged under it.
fn read_merged(path: &Path, depth: usize) -> Result<Yaml, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{}: includes nested deeper than {MAX_DEPTH} (a loop?)",
            path.display()
        ));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{}: {} bytes, larger than the {MAX_FILE} read",
            path.display(),
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let own = docs.into_iter().next().unwrap_or(Yaml::Null);
    let includes: Vec<PathBuf> = match &own["include"] {
        Yaml::Array(a) => a.iter().filter_map(scalar).map(PathBuf::from).collect(),
        v => scalar(v).map(PathBuf::from).into_iter().collect(),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut merged = Yaml::Hash(Default::default());
    for inc in includes {
        let inc = if inc.is_absolute() {
            inc
        } else {
            base.join(inc)
        };
        merge(&mut merged, read_merged(&inc, depth + 1)?);
    }
    merge(&mut merged, own);
    Ok(merged)
}

/// Deep merge: mappings key by key, anything else replaced by `over`.
fn merge(base: &mut Yaml, over: Yaml) {
    match (base, over) {
        (Yaml::Hash(b), Yaml::Hash(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, Yaml::Null) if !matches!(b, Yaml::Null) => {}
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SuricataConf, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
        from_yaml(&docs[0])
    }

    #[test]
    fn vars_policies_and_xff_are_read() {
        let c = parse(
            r#"%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[10.0.0.0/8]"
    EXTERNAL_NET: "!$HOME_NET"
  port-groups:
    HTTP_PORTS: "80"
    ORACLE_PORTS: 1521
host-os-policy:
  windows: [0.0.0.0/0]
  old-linux: [2.2.2.2]
  linux: "[10.1.0.0/16, 10.2.0.0/16]"
  solaris: []
  bsd-right: []
outputs:
  - fast:
      enabled: yes
  - eve-log:
      enabled: yes
      types:
        - alert:
            metadata: no
            xff:
              enabled: yes
              mode: overwrite
              deployment: forward
        - http
stream:
  memcap: 64mb
"#,
        )
        .unwrap();
        assert_eq!(
            c.address_vars,
            vec![
                ("HOME_NET".into(), "[10.0.0.0/8]".into()),
                ("EXTERNAL_NET".into(), "!$HOME_NET".into())
            ]
        );
        assert_eq!(c.port_vars[1], ("ORACLE_PORTS".into(), "1521".into()));
        let ip = |s: &str| s.parse().unwrap();
        assert_eq!(
            c.host_policies.lookup(ip("2.2.2.2")),
            Some(OverlapPolicy::OldLinux)
        );
        assert_eq!(
            c.host_policies.lookup(ip("10.2.3.4")),
            Some(OverlapPolicy::Linux)
        );
        assert_eq!(
            c.host_policies.lookup(ip("8.8.8.8")),
            Some(OverlapPolicy::Bsd)
        );
        let x = c.xff.unwrap();
        assert_eq!(
            (x.mode, x.deployment),
            (XffMode::Overwrite, XffDeployment::Forward)
        );
        assert_eq!(x.header(), "X-Forwarded-For");
        assert!(c.ignored.is_empty(), "{:?}", c.ignored);
        assert_eq!(c.midstream, None);
        assert_eq!(
            parse("stream:\n  midstream: true\n").unwrap().midstream,
            Some(true)
        );
        assert_eq!(
            parse("stream:\n  midstream: no\n").unwrap().midstream,
            Some(false)
        );
        assert!(parse("stream:\n  midstream: maybe\n").is_err());
    }

    #[test]
    fn xff_disabled_or_absent_is_none_and_defaults_apply() {
        let off = "outputs:\n  - eve-log:\n      types:\n        - alert:\n            xff:\n              enabled: no\n";
        assert!(parse(off).unwrap().xff.is_none());
        let on = "outputs:\n  - eve-log:\n      types:\n        - alert:\n            xff:\n              enabled: yes\n";
        let x = parse(on).unwrap().xff.unwrap();
        assert_eq!(
            (x.mode, x.deployment),
            (XffMode::ExtraData, XffDeployment::Reverse)
        );
    }

    #[test]
    fn bad_values_say_where() {
        for (text, want) in [
            ("host-os-policy:\n  plan9: [1.2.3.4]\n", "not one vigie implements"),
            ("host-os-policy:\n  linux: [10.0.0.0/40]\n", "host-os-policy.linux"),
            ("vars:\n  address-groups: [a, b]\n", "vars.address-groups"),
            ("vars:\n  address-groups:\n    HOME_NET: [a]\n", "HOME_NET"),
            (
                "outputs:\n  - eve-log:\n      types:\n        - alert:\n            xff:\n              enabled: yes\n              mode: replace\n",
                "xff.mode",
            ),
            ("- a\n- b\n", "top level"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn includes_merge_under_the_file_and_loops_stop() {
        let dir = std::env::temp_dir().join(format!("vigie-suri-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/base.yaml"),
            "vars:\n  address-groups:\n    HOME_NET: \"[192.168.0.0/16]\"\n    DNS_SERVERS: \"$HOME_NET\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("main.yaml"),
            "include: etc/base.yaml\nvars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/8]\"\n",
        )
        .unwrap();
        let c = load(&dir.join("main.yaml")).unwrap();
        assert_eq!(
            c.address_vars,
            vec![
                ("HOME_NET".into(), "[10.0.0.0/8]".into()),
                ("DNS_SERVERS".into(), "$HOME_NET".into())
            ]
        );
        std::fs::write(dir.join("loop.yaml"), "include: loop.yaml\n").unwrap();
        assert!(load(&dir.join("loop.yaml")).unwrap_err().contains("nested"));
        assert!(load(&dir.join("missing.yaml")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_suricata_verify_config_reads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/suricata-verify/tests");
        if !root.is_dir() {
            assert!(
                std::env::var("VIGIE_EXTERNAL_TESTS").as_deref() != Ok("1"),
                "VIGIE_EXTERNAL_TESTS=1 but {} is missing",
                root.display()
            );
            eprintln!("skip: {} not found", root.display());
            return;
        }
        let mut n = 0;
        for e in std::fs::read_dir(&root).unwrap().flatten() {
            let p = e.path().join("suricata.yaml");
            if p.exists() {
                load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n > 50, "{n} configs");
    }
}
