//! `vigie`: network sensor and IDS agent.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The flow, reassembly and app-layer paths allocate small, short-lived
/// buffers (header lines, transactions, certificate fields) on every worker
/// thread; mimalloc's thread-local free lists serve them faster than glibc's
/// arenas: about 20 % less CPU on the big corpus mix. Version 2 (segments)
/// rather than 3, built with arena memory committed as segments use it
/// (`MI_DEFAULT_ARENA_EAGER_COMMIT=0` in .cargo/config.toml): the default
/// eager commit doubled the peak RSS of a replay (see README, design notes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use vigie_sensor::pipeline::{self, EveTypes, Progress, ReplayConfig, RunSummary};
use vigie_sensor::suricata_conf::SuricataConf;

#[derive(Parser)]
#[command(name = "vigie", version, about = "Network sensor and IDS agent")]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay capture files (pcap, pcapng, gzip-compressed) and write EVE JSON.
    Replay(Box<ReplayArgs>),
    /// Live capture as a daemon, configured by a TOML file (SIGHUP reloads rules and indicators).
    Run {
        /// Daemon configuration (TOML), e.g. /etc/vigie/vigie.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Daemon configuration tools.
    Config {
        #[command(subcommand)]
        cmd: ConfigCommand,
    },
    /// List network interfaces a live capture could use.
    Interfaces,
    /// Signature rule tools.
    Rules {
        #[command(subcommand)]
        cmd: RulesCommand,
    },
    /// Central collector: receive alerts from sensors over gRPC with mTLS.
    Collector(CollectorArgs),
    /// Certificates for collector and sensors: `pki init`, `pki issue`.
    Pki {
        #[command(subcommand)]
        cmd: PkiCommand,
    },
    /// Indicator (threat intelligence) tools.
    Intel {
        #[command(subcommand)]
        cmd: IntelCommand,
    },
}

#[derive(clap::Args)]
struct CollectorArgs {
    /// Collector config (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// `status`: print per-sensor health instead of running.
    #[arg(value_name = "status")]
    action: Option<String>,
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Make a CA (ca.pem, ca.key) in DIR.
    Init {
        /// Directory for the CA files.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// CA common name.
        #[arg(long, default_value = "vigie CA")]
        name: String,
    },
    /// Issue NAME.pem/NAME.key signed by the CA in DIR: a sensor certificate
    /// (CN = sensor id), or with --server a collector certificate.
    Issue {
        /// Directory holding ca.pem and ca.key.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Sensor id or collector name.
        #[arg(long)]
        name: String,
        /// Collector (server) certificate.
        #[arg(long)]
        server: bool,
        /// Subject alternative names (DNS names or IPs; repeatable).
        #[arg(long = "san")]
        sans: Vec<String>,
    },
}

#[derive(Subcommand)]
enum IntelCommand {
    /// Load indicator files as the sensor would and report counts per type,
    /// rejected entries (file:line, reason) and warninglist removals.
    Check {
        /// Also load MISP attributes whose to_ids flag is off.
        #[arg(long)]
        misp_include_non_ids: bool,
        /// Indicator files or directories (MISP, STIX 2.1, Zeek intel, CSV, ...).
        #[arg(value_name = "FILE|DIR", required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Parse a daemon configuration and load the rules it names.
    Check {
        /// Configuration file (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rule files as the sensor would and report every rejected rule.
    Check {
        /// Exit non-zero if any rule is rejected.
        #[arg(long)]
        strict: bool,
        /// classification.config to use instead of the embedded default.
        #[arg(long, value_name = "FILE")]
        classification: Option<PathBuf>,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Rule files or directories of *.rules.
        #[arg(value_name = "FILE|DIR", required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Rule variables and settings shared by `replay` and `rules check`.
#[derive(clap::Args)]
struct SettingsArgs {
    /// Rule variable NAME=VALUE (repeatable; `HOME_NET=[10.0.0.0/8]`, `HTTP_PORTS=[80,8080]`):
    /// names ending in _PORTS or _PORT are port variables. Applied after --suricata-yaml's.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Suricata configuration to take rule variables (vars), per-host TCP overlap
    /// policies (host-os-policy) and the EVE alert xff option from; other keys are ignored
    /// (an empty path: none).
    #[arg(long = "suricata-yaml", value_name = "FILE")]
    suricata_yaml: Option<String>,
}

impl SettingsArgs {
    /// The rule variables, and the Suricata configuration when one was named.
    fn load(&self) -> Result<(vigie_sensor::detect::RuleVars, Option<SuricataConf>), String> {
        // An empty path (a script's unset variable) means none.
        let yaml = self.suricata_yaml.as_deref().filter(|p| !p.is_empty());
        vigie_sensor::detect::rule_settings(
            yaml.map(std::path::Path::new),
            self.vars.iter().cloned(),
        )
        .map_err(|e| {
            if e.contains("NAME=VALUE") {
                format!("--var {e}")
            } else {
                e
            }
        })
    }
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Signature rule file or directory of *.rules (repeatable).
    #[arg(long = "rules", value_name = "FILE|DIR")]
    rules: Vec<PathBuf>,
    /// classification.config to use instead of the embedded default.
    #[arg(long, value_name = "FILE")]
    classification: Option<PathBuf>,
    #[command(flatten)]
    settings: SettingsArgs,
    /// Ship alerts to this collector (`https://host:port`), spooled on disk first.
    #[arg(long = "ship-to", value_name = "URL", requires_all = ["ship_ca", "ship_cert", "ship_key", "spool", "sensor_id"])]
    ship_to: Option<String>,
    /// CA that signed the collector's certificate (PEM).
    #[arg(long = "ship-ca", value_name = "FILE")]
    ship_ca: Option<PathBuf>,
    /// This sensor's certificate (PEM, CN = sensor id).
    #[arg(long = "ship-cert", value_name = "FILE")]
    ship_cert: Option<PathBuf>,
    /// This sensor's private key (PEM).
    #[arg(long = "ship-key", value_name = "FILE")]
    ship_key: Option<PathBuf>,
    /// TLS name expected from the collector (default: the URL's host).
    #[arg(long = "ship-server-name", value_name = "NAME")]
    ship_server_name: Option<String>,
    /// Compress shipped batches with zstd.
    #[arg(long = "ship-zstd")]
    ship_zstd: bool,
    /// Seconds to wait at the end for the spool to drain.
    #[arg(long = "ship-drain-secs", default_value_t = 60)]
    ship_drain_secs: u64,
    /// Alert spool directory.
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
    /// Spool bound in MiB.
    #[arg(long = "spool-max-mb", default_value_t = 1024)]
    spool_max_mb: u64,
    /// Spool fsync policy: never, batch, always.
    #[arg(long = "spool-fsync", default_value = "batch")]
    spool_fsync: String,
    /// Sensor id: prefix of alert ids (must match the certificate's CN).
    #[arg(long = "sensor-id", value_name = "ID")]
    sensor_id: Option<String>,
    /// Indicator file or directory: MISP, STIX 2.1, Zeek intel, CSV (repeatable).
    #[arg(long = "intel", value_name = "FILE|DIR")]
    intel: Vec<PathBuf>,
    /// EVE JSON output file, `-` for stdout.
    #[arg(long, value_name = "PATH|-", default_value = "eve.json")]
    eve: String,
    /// Event types to write: alert, stats, flow, anomaly, http, dns, tls, tftp, dhcp, sip, ssh, fileinfo, dcerpc, mqtt.
    #[arg(long = "eve-types", value_name = "LIST", default_value = "alert,stats")]
    eve_types: String,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Packets per pipeline batch: larger batches mean fewer hand-overs
    /// between threads. Alerts do not depend on it; flow records can move,
    /// since idle flows are swept once per batch (and a capture whose clock
    /// jumps back may then join or split a flow differently).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    batch_packets: u64,
    /// No progress bar and no summary.
    #[arg(long)]
    quiet: bool,
    /// Hash every HTTP body (MD5 and SHA-256 in `http` events); by default
    /// bodies are hashed only while indicators hold file hashes.
    #[arg(long)]
    body_hashes: bool,
    /// Decode and dispatch only: no flows, reassembly, parsers or detection
    /// (a fast survey of decode anomalies, and the decode benchmark).
    #[arg(long, conflicts_with_all = ["rules", "intel"])]
    decode_only: bool,
    /// Reassemble and parse TCP sessions whose start is not in the capture
    /// (off by default, as the reference IDS's `stream.midstream`; their
    /// packets are inspected one by one either way).
    #[arg(long)]
    midstream: bool,
    /// Capture files, processed in the order given.
    #[arg(value_name = "PCAP", required = true)]
    pcaps: Vec<PathBuf>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("vigie: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Command::Replay(a) => replay(*a),
        Command::Run { config } => match vigie_sensor::daemon::run(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Config {
            cmd: ConfigCommand::Check { file },
        } => match vigie_sensor::daemon::check(&file) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Rules {
            cmd:
                RulesCommand::Check {
                    strict,
                    classification,
                    settings,
                    paths,
                },
        } => rules_check(&paths, classification.as_deref(), &settings, strict),
        Command::Collector(c) => collector(c),
        Command::Pki { cmd } => pki(cmd),
        Command::Intel {
            cmd:
                IntelCommand::Check {
                    misp_include_non_ids,
                    paths,
                },
        } => intel_check(&paths, misp_include_non_ids),
        Command::Interfaces => {
            for i in vigie_sensor::capture::interfaces::list() {
                println!(
                    "{:<16} {:<5} {:<18} {}",
                    i.name,
                    if i.up { "up" } else { "down" },
                    i.mac.unwrap_or_default(),
                    i.addrs.join(" ")
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn replay(a: ReplayArgs) -> ExitCode {
    let eve_types = match EveTypes::parse(&a.eve_types) {
        Ok(t) => t,
        Err(e) => return fail(format!("--eve-types: {e}")),
    };
    if a.threads == 0 || a.threads > 256 {
        return fail("--threads must be between 1 and 256");
    }
    let (vars, suricata) = match a.settings.load() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if let Some(c) = suricata.as_ref().filter(|_| !a.quiet) {
        if !c.ignored.is_empty() {
            eprintln!(
                "vigie: --suricata-yaml: not applied: {} (vigie reads vars, host-os-policy and the alert xff option)",
                c.ignored.join(", ")
            );
        }
    }
    let engine = if a.rules.is_empty() {
        None
    } else {
        match vigie_sensor::detect::load_engine(&a.rules, a.classification.as_deref(), &vars) {
            Ok((engine, report)) => {
                if !a.quiet {
                    eprintln!(
                        "vigie: {} rules loaded, {} rejected (details: vigie rules check)",
                        report.loaded(),
                        report.rejected_count()
                    );
                }
                Some(Arc::new(engine))
            }
            Err(e) => return fail(format!("--rules: {e}")),
        }
    };
    let intel = if a.intel.is_empty() {
        None
    } else {
        let opts = vigie_rules::intel::misp::MispOptions::default();
        match vigie_sensor::intel::load_indicators(&a.intel, &opts) {
            Ok((set, report)) => {
                if !a.quiet {
                    eprintln!(
                        "vigie: {} indicators loaded, {} rejected (details: vigie intel check)",
                        report.loaded(),
                        report.rejected_total()
                    );
                }
                Some(vigie_sensor::intel::SharedIndicators::new(set))
            }
            Err(e) => return fail(format!("--intel: {e}")),
        }
    };
    if let Err(e) = vigie_sensor::capture::file::check_readable(&a.pcaps) {
        return fail(e);
    }
    let sink: Box<dyn Write + Send> = if a.eve == "-" {
        Box::new(std::io::stdout())
    } else {
        match std::fs::File::create(&a.eve) {
            Ok(f) => Box::new(f),
            Err(e) => return fail(format!("cannot create EVE file {}: {e}", a.eve)),
        }
    };
    let shipper = match start_shipper(&a) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut eve_types = eve_types;
    let mut reassembly = vigie_sensor::flow::reassembly::ReassemblyConfig::default();
    if let Some(c) = suricata {
        eve_types.xff = c.xff;
        reassembly.hosts = Arc::new(c.host_policies);
        reassembly.midstream = c.midstream.unwrap_or(false);
    }
    reassembly.midstream |= a.midstream;
    let cfg = ReplayConfig {
        threads: a.threads,
        batch_packets: a.batch_packets as usize,
        eve_types,
        reassembly,
        engine,
        intel,
        alert_tees: shipper.as_ref().and_then(|s| s.tee()).into_iter().collect(),
        body_hashes: a.body_hashes,
        decode_only: a.decode_only,
        ..Default::default()
    };
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let p = progress.clone();
        let d = done.clone();
        std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::new_spinner();
            while !d.load(Ordering::Relaxed) {
                bar.set_message(format!(
                    "{} packets, {:.1} MB",
                    p.packets.load(Ordering::Relaxed),
                    p.bytes.load(Ordering::Relaxed) as f64 / 1e6
                ));
                bar.tick();
                std::thread::sleep(Duration::from_millis(200));
            }
            bar.finish_and_clear();
        })
    });
    let result = pipeline::replay(&cfg, a.pcaps, sink, progress);
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    drop(cfg);
    if let Some(s) = shipper {
        match s.finish(Duration::from_secs(a.ship_drain_secs)) {
            Ok(r) => {
                if !a.quiet || r.spooled > 0 || r.tee_drops > 0 || r.spool_evicted > 0 {
                    eprintln!(
                        "vigie: shipped {} alerts in {} batches; {} left in spool, {} dropped (queue), {} evicted (spool bound), {} corrupt spool records, {} reconnects",
                        r.acked, r.batches, r.spooled, r.tee_drops, r.spool_evicted, r.spool_corrupt, r.reconnects
                    );
                }
            }
            Err(e) => eprintln!("vigie: shipping: {e}"),
        }
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => return fail(format!("writing EVE output: {e}")),
    };
    if !a.quiet {
        print_summary(&summary);
    }
    for e in &summary.capture_errors {
        eprintln!("vigie: {e}");
    }
    if summary.capture_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_summary(s: &RunSummary) {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "vigie: {} packets, {:.1} MB in {:.3} s: {:.0} packets/s, {:.1} Mbit/s",
        s.packets,
        s.bytes as f64 / 1e6,
        secs,
        s.packets as f64 / secs,
        s.bytes as f64 * 8.0 / secs / 1e6
    );
    let _ = writeln!(
        err,
        "vigie: {} alerts, {} flows, {} decoder anomalies, {} events written",
        s.alerts,
        s.flows.total,
        s.decode.anomalies(),
        s.events_written
    );
    for (dlt, n) in s.decode.unsupported_linktypes() {
        let _ = writeln!(
            err,
            "vigie: link type {dlt} not supported: {n} packets counted, not decoded"
        );
    }
    let total: u64 = s.per_worker_packets.iter().sum::<u64>().max(1);
    let balance: Vec<String> = s
        .per_worker_packets
        .iter()
        .enumerate()
        .map(|(i, n)| format!("w{i} {:.1}%", *n as f64 * 100.0 / total as f64))
        .collect();
    let _ = writeln!(err, "vigie: worker balance: {}", balance.join(", "));
}

fn rules_check(
    paths: &[PathBuf],
    classification: Option<&std::path::Path>,
    settings: &SettingsArgs,
    strict: bool,
) -> ExitCode {
    let vars = match settings.load() {
        Ok((vars, _)) => vars,
        Err(e) => return fail(e),
    };
    match vigie_sensor::detect::load_engine(paths, classification, &vars) {
        Ok((_, report)) => {
            println!("{}", vigie_rules::signature::check_report(&report));
            if report.loaded() == 0 || (strict && report.rejected_count() > 0) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(e),
    }
}

fn intel_check(paths: &[PathBuf], include_non_ids: bool) -> ExitCode {
    let opts = vigie_rules::intel::misp::MispOptions {
        include_non_ids,
        ..Default::default()
    };
    match vigie_sensor::intel::load_indicators(paths, &opts) {
        Ok((_, report)) => {
            println!("{report}");
            if report.loaded() == 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(e),
    }
}

fn start_shipper(a: &ReplayArgs) -> Result<Option<vigie_sensor::ship::Shipper>, String> {
    let Some(url) = a.ship_to.clone() else {
        return Ok(None);
    };
    let need = |o: &Option<PathBuf>, flag: &str| o.clone().ok_or(format!("--ship-to needs {flag}"));
    let mut cfg = vigie_sensor::ship::ShipConfig::new(
        url,
        need(&a.ship_ca, "--ship-ca")?,
        need(&a.ship_cert, "--ship-cert")?,
        need(&a.ship_key, "--ship-key")?,
        a.sensor_id.clone().ok_or("--ship-to needs --sensor-id")?,
        need(&a.spool, "--spool")?,
    );
    cfg.server_name = a.ship_server_name.clone();
    cfg.zstd = a.ship_zstd;
    cfg.spool.max_bytes = a.spool_max_mb.saturating_mul(1 << 20);
    cfg.spool.fsync = vigie_sensor::ship::spool::FsyncPolicy::parse(&a.spool_fsync)
        .map_err(|e| format!("--spool-fsync: {e}"))?;
    vigie_sensor::ship::Shipper::start(cfg).map(Some)
}

fn collector(c: CollectorArgs) -> ExitCode {
    match c.action.as_deref() {
        None => match vigie_collector::run_blocking(&c.config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("collector: {e}")),
        },
        Some("status") => {
            let status = vigie_collector::CollectorConfig::load(&c.config)
                .and_then(|cfg| vigie_collector::read_status(&cfg));
            match status {
                Ok(m) => {
                    println!(
                        "{:<24} {:>10} {:>10} {:>12} {:>12} {:>12}  last seen",
                        "sensor", "accepted", "dups", "spool depth", "spool drops", "queue drops"
                    );
                    for (id, s) in m {
                        println!(
                            "{:<24} {:>10} {:>10} {:>12} {:>12} {:>12}  {}",
                            id,
                            s.accepted,
                            s.duplicates,
                            s.spool_depth,
                            s.spool_dropped,
                            s.queue_drops,
                            s.last_seen
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Some(other) => fail(format!(
            "collector: unknown action {other:?} (known: status)"
        )),
    }
}

fn pki(cmd: PkiCommand) -> ExitCode {
    let r = match cmd {
        PkiCommand::Init { dir, name } => vigie_collector::pki::init(&dir, &name),
        PkiCommand::Issue {
            dir,
            name,
            server,
            sans,
        } => vigie_collector::pki::issue(&dir, &name, server, &sans),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("pki: {e}")),
    }
}
