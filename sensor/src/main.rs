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
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Signature rule file or directory of *.rules (repeatable).
    #[arg(long = "rules", value_name = "FILE|DIR")]
    rules: Vec<PathBuf>,
    /// EVE JSON output file, `-` for stdout.
    #[arg(long, value_name = "PATH|-", default_value = "eve.json")]
    eve: String,
    /// Event types to write: alert, stats, flow, anomaly.
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
    if let Some(r) = a.rules.first() {
        return fail(format!(
            "--rules {}: the signature engine is not part of this build yet",
            r.display()
        ));
    }
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
