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
    /// Skip frames sent by this host.
    #[serde(default)]
    pub ignore_outgoing: bool,
    /// BPF filter expression (libpcap backend only).
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
        if self.capture.filter.is_some() && self.capture.backend != Backend::Libpcap {
            return Err("capture.filter needs capture.backend = \"libpcap\"".into());
        }
        if self.daemon.group.is_some() && self.daemon.user.is_none() {
            return Err("daemon.group is set but daemon.user is not".into());
        }
        Ok(())
    }

    /// The EVE types to write.
    pub fn eve_types(&self) -> EveTypes {
        EveTypes::parse(&self.output.types).unwrap_or_default()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const MIN: &str = "[capture]\ninterface = \"eth1\"\n[output]\neve = \"/tmp/eve.json\"\n";

    #[test]
    fn minimal_config_takes_defaults() {
        let c = DaemonConfig::parse(MIN, Path::new("t.toml")).unwrap();
        assert_eq!(c.capture.backend, Backend::AfPacket);
        assert_eq!(c.capture.block_count, 64);
        assert!(c.capture.promisc);
        assert!(c.metrics.listen.is_none());
        assert_eq!(c.output.stats_interval_s, 60);
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
    fn packaged_example_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/vigie.toml");
        DaemonConfig::load(&p).unwrap();
    }
}
