//! `vigie-collector --config FILE`: the collector as its own binary
//! (the same as `vigie collector --config FILE`).
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.as_slice() {
        [_, flag, path] if flag == "--config" => path,
        _ => {
            eprintln!("usage: vigie-collector --config FILE");
            return ExitCode::from(2);
        }
    };
    match vigie_collector::run_blocking(std::path::Path::new(path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigie-collector: {e}");
            ExitCode::from(1)
        }
    }
}
