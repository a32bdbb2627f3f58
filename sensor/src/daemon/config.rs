//! The daemon's TOML configuration (`vigie run --config FILE`). Unknown keys are
//! errors that name the key, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pipeline::EveTypes;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Where packets come from.
    pub capture: CaptureSection,
    /// Rules and worker threads.
    #[serde(default)]
    pub detect: DetectSection,
    /// EVE JSON output.
    pub output: OutputSection,
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsSection,
    /// Process settings.
    #[serde(default)]
    pub daemon: ProcessSection,
    /// Indicator files and hub polling.
    #[serde(default)]
    pub intel: IntelSection,
    /// Remote indicator sources (`[[hub]]`, one table per source).
    #[serde(default)]
    pub hub: Vec<HubSection>,
    /// Alert shipping to a collector.
    #[serde(default)]
    pub ship: Option<ShipSection>,
}

/// `[intel]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelSection {
    /// Indicator files or directories (MISP feed folders and events, STIX 2.1
    /// bundles, Zeek intel, CSV, MISP warninglists); re-read on SIGHUP.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Also load MISP attributes whose `to_ids` flag is off.
    #[serde(default)]
    pub include_non_ids: bool,
    /// Indicators expire this many days after they were last seen.
    #[serde(default)]
    pub max_age_days: Option<u64>,
    /// Seconds between polls of each `[[hub]]` source (failing sources back off
    /// up to 16 times this).
    #[serde(default = "default_poll_interval")]
    pub poll_interval_s: u64,
    /// Where hub cursors and fetched documents are kept, so a restart fetches
    /// only what changed.
    #[serde(default = "default_hub_state")]
    pub state_dir: PathBuf,
    /// Hash every HTTP body (MD5, SHA-256); otherwise only while file-hash
    /// indicators are loaded.
    #[serde(default)]
    pub body_hashes: bool,
    /// Seconds sightings are batched before they are reported to a hub.
    #[serde(default = "default_sightings_wait")]
    pub sightings_wait_s: u64,
}

impl Default for IntelSection {
    fn default() -> Self {
        IntelSection {
            files: Vec::new(),
            include_non_ids: false,
            max_age_days: None,
            poll_interval_s: default_poll_interval(),
            state_dir: default_hub_state(),
            body_hashes: false,
            sightings_wait_s: default_sightings_wait(),
        }
    }
}

/// Kind of a `[[hub]]` source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HubKind {
    /// A MISP feed folder over HTTP (`manifest.json` + events).
    MispFeed,
    /// MISP `attributes/restSearch` with an API key.
    MispRest,
    /// A TAXII 2.1 collection.
    Taxii,
}

/// `[[hub]]`: one remote indicator source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    /// Feed name written in alerts (`alert.source.feed`); unique.
    pub name: String,
    /// `misp-feed`, `misp-rest` or `taxii`.
    pub kind: HubKind,
    /// Feed folder URL (misp-feed), MISP server URL (misp-rest) or TAXII API
    /// root URL (taxii).
    pub url: String,
    /// TAXII collection id or title.
    #[serde(default)]
    pub collection: Option<String>,
    /// HTTP basic user (TAXII servers).
    #[serde(default)]
    pub user: Option<String>,
    /// Environment variable holding the basic-auth password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Environment variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Environment variable holding the MISP API key (misp-rest; default
    /// `VIGIE_MISP_KEY`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Report hits on this source's indicators back to it (MISP sightings,
    /// STIX `sighting` objects to the TAXII collection).
    #[serde(default)]
    pub sightings: bool,
}

/// `[ship]`: alerts to a collector over gRPC with mutual TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipSection {
    /// Collector URL, `https://host:port`.
    pub to: String,
    /// CA that signed the collector's certificate (PEM).
    pub ca: PathBuf,
    /// This sensor's certificate (PEM; its CN is the sensor id).
    pub cert: PathBuf,
    /// This sensor's private key (PEM).
    pub key: PathBuf,
    /// Sensor id (prefix of alert ids; must equal the certificate's CN).
    pub sensor_id: String,
    /// Spool directory (alerts wait here until the collector acks them).
    pub spool: PathBuf,
    /// TLS name expected from the collector (default: the URL's host).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Compress batches with zstd.
    #[serde(default)]
    pub zstd: bool,
    /// Spool bound in MiB (oldest low-severity alerts go first beyond it).
    #[serde(default = "default_spool_mb")]
    pub spool_max_mb: u64,
    /// Spool fsync policy: `never`, `batch` or `always`.
    #[serde(default = "default_fsync")]
    pub spool_fsync: String,
    /// Seconds to wait at shutdown for the spool to drain (the rest is sent
    /// after the next start).
    #[serde(default = "default_drain")]
    pub drain_s: u64,
}

/// Capture backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Linux AF_PACKET TPACKET_V3 ring (default).
    AfPacket,
    /// libpcap (only when built with the `libpcap` feature).
    Libpcap,
}

/// `[capture]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Interface to capture on.
    pub interface: String,
    /// `af-packet` (default) or `libpcap`.
    #[serde(default = "default_backend")]
    pub backend: Backend,
    /// Ring block size in bytes (AF_PACKET).
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Ring blocks (AF_PACKET).
    #[serde(default = "default_block_count")]
    pub block_count: u32,
    /// Block retire timeout in milliseconds (AF_PACKET).
    #[serde(default = "default_block_timeout")]
    pub block_timeout_ms: u32,
    /// Bytes kept per frame.
    #[serde(default = "default_snaplen")]
    pub snaplen: u32,
    /// Promiscuous mode.
    #[serde(default = "default_true")]
    pub promisc: bool,
    /// AF_PACKET fanout group id (hash mode, defrag flag), to share an
    /// interface's flows between several sensors.
    #[serde(default)]
    pub fanout_group: Option<u16>,
    /// AF_PACKET sockets in one fanout hash group, each with its own ring
    /// and drop counter (set it to detect.threads for one per worker);
    /// 1 (default): one socket.
    #[serde(default = "one")]
    pub sockets: usize,
    /// Skip frames sent by this host.
    #[serde(default)]
    pub ignore_outgoing: bool,
    /// BPF filter expression (tcpdump syntax), compiled by libpcap and run in
    /// the kernel on either backend; needs a build with the libpcap feature.
    #[serde(default)]
    pub filter: Option<String>,
}

/// `[detect]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSection {
    /// Rule files or directories of `*.rules`; reloaded on SIGHUP.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// classification.config instead of the embedded default.
    #[serde(default)]
    pub classification: Option<PathBuf>,
    /// Worker threads (default 1).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Rule variables over the defaults, e.g. `HOME_NET = "[10.0.0.0/8]"`;
    /// names ending in `_PORTS` or `_PORT` are port variables. Applied after
    /// those of `suricata_yaml`, and re-read on SIGHUP.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    /// A Suricata configuration to take rule variables (`vars`), per-host
    /// TCP overlap policies (`host-os-policy`) and the EVE alert `xff` option
    /// from. Its variables are re-read on SIGHUP; the other two at start.
    #[serde(default)]
    pub suricata_yaml: Option<PathBuf>,
    /// Reassemble and parse TCP sessions already under way when capture
    /// started (a restart, a new span port). Default: `stream.midstream`
    /// of `suricata_yaml`, else false as in the reference IDS.
    #[serde(default)]
    pub midstream: Option<bool>,
}

impl DetectSection {
    /// The rule variables, and the Suricata configuration when one is named.
    pub fn settings(
        &self,
    ) -> Result<
        (
            crate::detect::RuleVars,
            Option<crate::suricata_conf::SuricataConf>,
        ),
        String,
    > {
        crate::detect::rule_settings(
            self.suricata_yaml.as_deref(),
            self.vars.iter().map(|(n, v)| format!("{n}={v}")),
        )
        .map_err(|e| format!("[detect]: {e}"))
    }
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// EVE JSON file (appended to), or `-` for stdout.
    pub eve: String,
    /// Event types, as for `vigie replay --eve-types`.
    #[serde(default = "default_types")]
    pub types: String,
    /// Seconds between periodic `stats` events (0: only at shutdown).
    #[serde(default = "default_stats_interval")]
    pub stats_interval_s: u64,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Address of the Prometheus text endpoint, e.g. `127.0.0.1:9477`.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

/// `[daemon]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSection {
    /// User to switch to once sockets and files are open (when started as root).
    #[serde(default)]
    pub user: Option<String>,
    /// Group to switch to (default: the user's primary group).
    #[serde(default)]
    pub group: Option<String>,
}

fn default_backend() -> Backend {
    Backend::AfPacket
}
fn default_block_size() -> u32 {
    1 << 20
}
fn default_block_count() -> u32 {
    64
}
fn default_block_timeout() -> u32 {
    10
}
fn default_snaplen() -> u32 {
    65535
}
fn default_true() -> bool {
    true
}
fn default_types() -> String {
    "alert,stats".into()
}
fn default_stats_interval() -> u64 {
    60
}
fn default_poll_interval() -> u64 {
    300
}
fn default_hub_state() -> PathBuf {
    PathBuf::from("/var/lib/vigie/hub")
}
fn default_sightings_wait() -> u64 {
    30
}
fn default_spool_mb() -> u64 {
    1024
}
fn default_fsync() -> String {
    "batch".into()
}
fn default_drain() -> u64 {
    10
}

impl DaemonConfig {
    /// Parses and checks a configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<DaemonConfig, String> {
        let cfg: DaemonConfig =
            toml::from_str(text).map_err(|e| format!("{}: {e}", origin.display()))?;
        cfg.validate()
            .map_err(|e| format!("{}: {e}", origin.display()))?;
        Ok(cfg)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<DaemonConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        EveTypes::parse(&self.output.types).map_err(|e| format!("output.types: {e}"))?;
        if self.capture.interface.is_empty() {
            return Err("capture.interface is empty".into());
        }
        if let Some(t) = self.detect.threads {
            if t == 0 || t > 256 {
                return Err(format!("detect.threads = {t}: must be between 1 and 256"));
            }
        }
        if self.capture.backend == Backend::Libpcap && !cfg!(feature = "libpcap") {
            return Err(
                "capture.backend = \"libpcap\": this vigie was built without the libpcap feature"
                    .into(),
            );
        }
        if self.capture.filter.is_some() && !cfg!(feature = "libpcap") {
            // libpcap compiles the expression, for either backend.
            return Err(
                "capture.filter: this vigie was built without the libpcap feature, which compiles BPF filters"
                    .into(),
            );
        }
        if self.capture.sockets == 0 || self.capture.sockets > 64 {
            return Err(format!(
                "capture.sockets = {}: must be between 1 and 64",
                self.capture.sockets
            ));
        }
        if self.daemon.group.is_some() && self.daemon.user.is_none() {
            return Err("daemon.group is set but daemon.user is not".into());
        }
        if self.intel.poll_interval_s == 0 {
            return Err("intel.poll_interval_s must be at least 1".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, h) in self.hub.iter().enumerate() {
            let at = format!("hub[{i}] ({:?})", h.name);
            if h.name.is_empty()
                || !h
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!("{at}: name: use letters, digits, '-', '_' or '.'"));
            }
            if !names.insert(h.name.as_str()) {
                return Err(format!("{at}: name used twice"));
            }
            if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
                return Err(format!("{at}: url {:?} must be http:// or https://", h.url));
            }
            if (h.kind == HubKind::Taxii) != h.collection.is_some() {
                return Err(format!(
                    "{at}: collection is required for kind = \"taxii\" and only there"
                ));
            }
            if h.sightings && h.kind == HubKind::MispFeed {
                return Err(format!(
                    "{at}: sightings need kind = \"misp-rest\" (the MISP server) or \"taxii\"; a feed folder takes no sightings"
                ));
            }
            if h.password_env.is_some() && h.user.is_none() {
                return Err(format!("{at}: password_env needs user"));
            }
            for var in [&h.password_env, &h.token_env, &h.api_key_env]
                .into_iter()
                .flatten()
            {
                if std::env::var(var).map_or(true, |v| v.trim().is_empty()) {
                    return Err(format!("{at}: environment variable {var} is not set"));
                }
            }
        }
        if let Some(s) = &self.ship {
            crate::ship::spool::FsyncPolicy::parse(&s.spool_fsync)
                .map_err(|e| format!("ship.spool_fsync: {e}"))?;
            if !s.to.starts_with("https://") {
                return Err(format!("ship.to {:?}: must be https://host:port", s.to));
            }
        }
        Ok(())
    }

    /// The EVE types to write.
    pub fn eve_types(&self) -> EveTypes {
        EveTypes::parse(&self.output.types).unwrap_or_default()
    }
}

fn one() -> usize {
    1
}

#[cfg(test)]
mod test {
    use super::*;

    const MIN: &str = "[capture]\ninterface = \"eth1\"\n[output]\neve = \"/tmp/eve.json\"\n";

    #[test]
    fn rule_variables_come_from_the_config_and_a_suricata_yaml() {
        let dir = std::env::temp_dir().join(format!("vigie-cfg-vars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = dir.join("suricata.yaml");
        std::fs::write(
            &yaml,
            "vars:\n  address-groups:\n    HOME_NET: \"[192.168.0.0/16]\"\n  port-groups:\n    HTTP_PORTS: \"80\"\nhost-os-policy:\n  linux: [10.0.0.0/8]\n",
        )
        .unwrap();
        let text = format!(
            "{MIN}[detect]\nsuricata_yaml = {:?}\n[detect.vars]\nHOME_NET = \"[10.0.0.0/8]\"\nHTTP_PORTS = \"[80,8080]\"\n",
            yaml.display()
        );
        let c = DaemonConfig::parse(&text, Path::new("t.toml")).unwrap();
        let (vars, conf) = c.detect.settings().unwrap();
        // the config's own values come after the yaml's, so they win
        assert_eq!(
            vars.address,
            vec![
                ("HOME_NET".into(), "[192.168.0.0/16]".into()),
                ("HOME_NET".into(), "[10.0.0.0/8]".into())
            ]
        );
        assert_eq!(vars.port.last().unwrap().1, "[80,8080]");
        let conf = conf.unwrap();
        assert!(!conf.host_policies.is_empty());
        let (engine, _) = crate::detect::load_engine(&[], None, &vars).expect("variables resolve");
        drop(engine);
        let bad = format!("{MIN}[detect.vars]\nHOME_NET = \"[10.0.0.0/33]\"\n");
        let c = DaemonConfig::parse(&bad, Path::new("t.toml")).unwrap();
        let (vars, _) = c.detect.settings().unwrap();
        let e = crate::detect::load_engine(&[], None, &vars).err().unwrap();
        assert!(e.contains("HOME_NET"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn minimal_config_takes_defaults() {
        let c = DaemonConfig::parse(MIN, Path::new("t.toml")).unwrap();
        assert_eq!(c.capture.backend, Backend::AfPacket);
        assert_eq!(c.capture.block_count, 64);
        assert!(c.capture.promisc);
        assert!(c.metrics.listen.is_none());
        assert_eq!(c.output.stats_interval_s, 60);
        assert_eq!(c.capture.sockets, 1);
    }

    #[test]
    fn typo_is_an_error_naming_the_key() {
        let text = MIN.replace("interface", "interfce");
        let e = DaemonConfig::parse(&text, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("interfce") && e.contains("t.toml"), "{e}");
        let text = format!("{MIN}[metrics]\nlisten = \"127.0.0.1:9477\"\nlsten = 1\n");
        let e = DaemonConfig::parse(&text, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("lsten"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let text = format!("{MIN}[detect]\nthreads = 0\n");
        let e = DaemonConfig::parse(&text, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("detect.threads"), "{e}");
        let text = MIN.replace("eve = ", "types = \"alert,bogus\"\neve = ");
        let e = DaemonConfig::parse(&text, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn filter_needs_the_libpcap_feature_on_either_backend() {
        let text = MIN.replace(
            "interface = \"eth1\"\n",
            "interface = \"eth1\"\nfilter = \"not port 22\"\n",
        );
        let r = DaemonConfig::parse(&text, Path::new("t.toml"));
        if cfg!(feature = "libpcap") {
            let c = r.unwrap();
            assert_eq!(c.capture.backend, Backend::AfPacket);
            assert_eq!(c.capture.filter.as_deref(), Some("not port 22"));
        } else {
            let e = r.unwrap_err();
            assert!(e.contains("capture.filter") && e.contains("libpcap"), "{e}");
        }
    }

    #[test]
    fn hub_and_ship_sections_are_checked() {
        let hub = |extra: &str| {
            format!(
                "{MIN}[[hub]]\nname = \"t\"\nkind = \"taxii\"\nurl = \"https://x/api1/\"\n{extra}"
            )
        };
        let c = DaemonConfig::parse(&hub("collection = \"c\"\n"), Path::new("t.toml")).unwrap();
        assert_eq!(c.hub[0].kind, HubKind::Taxii);
        assert_eq!(c.intel.poll_interval_s, 300);
        let e = DaemonConfig::parse(&hub(""), Path::new("t.toml")).unwrap_err();
        assert!(e.contains("collection is required"), "{e}");
        let e = DaemonConfig::parse(
            &hub("collection = \"c\"\nuser = \"u\"\npassword_env = \"VIGIE_TEST_UNSET_VAR\"\n"),
            Path::new("t.toml"),
        )
        .unwrap_err();
        assert!(e.contains("VIGIE_TEST_UNSET_VAR is not set"), "{e}");
        let e = DaemonConfig::parse(&hub("colection = \"c\"\n"), Path::new("t.toml")).unwrap_err();
        assert!(e.contains("colection"), "{e}");
        let two = format!(
            "{}[[hub]]\nname = \"t\"\nkind = \"misp-feed\"\nurl = \"https://y/\"\n",
            hub("collection = \"c\"\n")
        );
        let e = DaemonConfig::parse(&two, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("name used twice"), "{e}");
        let feed = format!("{MIN}[[hub]]\nname = \"f\"\nkind = \"misp-feed\"\nurl = \"https://y/\"\nsightings = true\n");
        let e = DaemonConfig::parse(&feed, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("sightings need"), "{e}");
        let ship = format!(
            "{MIN}[ship]\nto = \"http://c:1\"\nca = \"a\"\ncert = \"b\"\nkey = \"k\"\nsensor_id = \"s\"\nspool = \"/tmp/s\"\n"
        );
        let e = DaemonConfig::parse(&ship, Path::new("t.toml")).unwrap_err();
        assert!(e.contains("ship.to"), "{e}");
        let e = DaemonConfig::parse(
            &ship
                .replace("http://", "https://")
                .replace("spool = ", "spool_fsync = \"sometimes\"\nspool = "),
            Path::new("t.toml"),
        )
        .unwrap_err();
        assert!(e.contains("ship.spool_fsync"), "{e}");
    }

    #[test]
    fn packaged_example_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/vigie.toml");
        DaemonConfig::load(&p).unwrap();
    }
}
