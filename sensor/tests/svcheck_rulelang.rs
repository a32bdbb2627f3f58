//! Rule-language keywords on real suricata-verify captures: raw header
//! buffers, parameterised transforms, `=>` rules, hostbits, vlan.id,
//! header multi-buffers and `absent`. Every case listed must pass. Needs
//! python3 with PyYAML and the case folder (`VIGIE_SV_DIR`, default
//! `../shared/suricata-verify` beside the workspace); without them the test is skipped with a
//! reason, unless `VIGIE_EXTERNAL_TESTS=1`.

mod common;

use std::process::Command;

const CASES: &[&str] = &[
    "detect-bytemath-add-04",
    "detect-bytemath-mult-04",
    "detect-bytemath-sub-03",
    "ipv4-hdr-keyword",
    "ipv6-hdr-keyword-02",
    "issue-3341-tcphdr-01",
    "tcp-hdr-keyword",
    "icmp-hdr-02",
    "ipv6-evasion--ipv6-kill-router-gateway",
    "from_base64-01",
    "transform-gunzip",
    "detect-pcrexform-01",
    "detect-pcrexform-05",
    "detect-xor-key--detect-xor-key-01",
    "detect-xor-key--detect-xor-key-03",
    "detect-xor-key--detect-xor-key-12",
    "detect-xor-key--detect-xor-key-13",
    "detect-xor-key--detect-xor-key-16",
    "subslice--subslice-03",
    "subslice--subslice-05",
    "detect-bidir-flowbits",
    "bug-8336-01-default-track-only",
    "detect-vlan-id",
    "detect-hostbits--detect-hostbits-02",
    "detect-hostbits--detect-hostbits-03",
    "prefilter-multibuf-multipkts",
    "detect-absent-file-multi",
];

#[test]
fn rule_language_cases_pass() {
    let Some((sv, svcheck)) = common::svcheck("svcheck_rulelang") else {
        return;
    };
    let missing: Vec<&str> = CASES
        .iter()
        .copied()
        .filter(|c| !sv.join("tests").join(c).is_dir())
        .collect();
    if !missing.is_empty() {
        return common::skip(
            "svcheck_rulelang",
            &format!("cases {missing:?} not under {}", sv.display()),
        );
    }
    let dir = std::env::temp_dir().join(format!("vigie-svcheck-rulelang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let names = dir.join("names.txt");
    std::fs::write(&names, CASES.join("\n") + "\n").expect("write names");
    let bin = env!("CARGO_BIN_EXE_vigie");
    let template =
        format!("{bin} replay --quiet --rules {{rules}} --eve {{outdir}}/eve.json {{pcap}}");
    let out = Command::new("python3")
        .arg(&svcheck)
        .arg("--sensor")
        .arg(&template)
        .arg(sv.join("tests"))
        .arg("--names")
        .arg(&names)
        .args(["--jobs", "2", "--timeout", "300", "--verbose", "--report"])
        .arg(dir.join("report.json"))
        .output()
        .expect("run svcheck.py");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    assert_eq!(
        last,
        format!("{} passed, 0 failed", CASES.len()),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
