//! `vigie`: network sensor and IDS agent.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use vigie_sensor::pipeline::{self, EveTypes, Progress, ReplayConfig, RunSummary};

#[derive(Parser)]
#[command(name = "vigie", version, about = "Network sensor and IDS agent")]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay capture files (pcap, pcapng, gzip-compressed) and write EVE JSON.
    Replay(ReplayArgs),
    /// List network interfaces a live capture could use.
    Interfaces,
    /// Signature rule tools.
    Rules {
        #[command(subcommand)]
        cmd: RulesCommand,
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
        /// Rule files or directories of *.rules.
        #[arg(value_name = "FILE|DIR", required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Signature rule file or directory of *.rules (repeatable).
    #[arg(long = "rules", value_name = "FILE|DIR")]
    rules: Vec<PathBuf>,
    /// classification.config to use instead of the embedded default.
    #[arg(long, value_name = "FILE")]
    classification: Option<PathBuf>,
    /// EVE JSON output file, `-` for stdout.
    #[arg(long, value_name = "PATH|-", default_value = "eve.json")]
    eve: String,
    /// Event types to write: alert, stats, flow, anomaly, http, dns, tls.
    #[arg(long = "eve-types", value_name = "LIST", default_value = "alert,stats")]
    eve_types: String,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// No progress bar and no summary.
    #[arg(long)]
    quiet: bool,
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
        Command::Replay(a) => replay(a),
        Command::Rules {
            cmd:
                RulesCommand::Check {
                    strict,
                    classification,
                    paths,
                },
        } => rules_check(&paths, classification.as_deref(), strict),
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
    let engine = if a.rules.is_empty() {
        None
    } else {
        match vigie_sensor::detect::load_engine(&a.rules, a.classification.as_deref()) {
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
    let cfg = ReplayConfig {
        threads: a.threads,
        eve_types,
        engine,
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

fn rules_check(paths: &[PathBuf], classification: Option<&std::path::Path>, strict: bool) -> ExitCode {
    match vigie_sensor::detect::load_engine(paths, classification) {
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
