//! Ratchet on detection agreement: runs suricata-verify's core tier through
//! `svcheck.py` with the built `vigie` and fails if fewer cases pass than the
//! count reached so far. Needs python3 with PyYAML and the case folder
//! (`VIGIE_SV_DIR`, default `../shared/suricata-verify` beside the workspace); without them the
//! test is skipped with a reason, unless `VIGIE_EXTERNAL_TESTS=1`.

mod common;

use std::process::Command;

/// Core-tier cases passing when this was last raised (see the commit log),
/// with the command (rules, capture, EVE path only).
const MIN_CORE_PASS: usize = 98;
/// The same, when vigie also reads the case's `suricata.yaml`
/// (`--suricata-yaml {yaml}`: rule variables, host-os-policy, alert xff).
const MIN_CORE_PASS_WITH_YAML: usize = 100;
/// Extended-tier cases passing with the command.
const MIN_EXTENDED_PASS: usize = 160;

#[test]
fn core_tier_pass_count_does_not_fall() {
    let Some((sv, svcheck)) = common::svcheck("svcheck_core") else {
        return;
    };
    let names = sv.join("tiers/core.txt");
    if !names.is_file() {
        return common::skip(
            "svcheck_core",
            &format!("no tier list at {}", names.display()),
        );
    }
    let bin = env!("CARGO_BIN_EXE_vigie");
    let plain =
        format!("{bin} replay --quiet --rules {{rules}} --eve {{outdir}}/eve.json {{pcap}}");
    let with_yaml = format!(
        "{bin} replay --quiet --suricata-yaml {{yaml}} --rules {{rules}} --eve {{outdir}}/eve.json {{pcap}}"
    );
    let extended = sv.join("tiers/extended.txt");
    for (tier, names, template, floor) in [
        ("core", &names, &plain, MIN_CORE_PASS),
        ("core", &names, &with_yaml, MIN_CORE_PASS_WITH_YAML),
        ("extended", &extended, &plain, MIN_EXTENDED_PASS),
    ] {
        let (passed, last, stdout) = run_svcheck(&svcheck, &sv, names, template);
        eprintln!("svcheck {tier} tier ({template}): {last}");
        assert!(
            passed >= floor,
            "{tier} tier with {template}: {passed} passed, fewer than {floor}\n{stdout}"
        );
    }
}

/// Runs svcheck with `template`: (passed, last line, whole output).
fn run_svcheck(
    svcheck: &std::path::Path,
    sv: &std::path::Path,
    names: &std::path::Path,
    template: &str,
) -> (usize, String, String) {
    let report =
        std::env::temp_dir().join(format!("vigie-svcheck-core-{}.json", std::process::id()));
    let out = Command::new("python3")
        .arg(svcheck)
        .arg("--sensor")
        .arg(template)
        .arg(sv.join("tests"))
        .arg("--names")
        .arg(names)
        .args(["--jobs", "2", "--timeout", "300", "--report"])
        .arg(&report)
        .output()
        .expect("run svcheck.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::remove_file(&report);
    // Last line: "N passed, M failed".
    let last = stdout.lines().last().unwrap_or("").to_string();
    let passed: usize = last
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "unexpected svcheck output: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (passed, last, stdout)
}
