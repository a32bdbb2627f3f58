//! The Debian package: `cargo deb` builds it from the release binary, and its
//! contents, metadata and maintainer scripts are what packaging/README.md says.
//! The packaged binary then checks a config written the way the packaged one
//! is laid out (rules directory with the empty local.rules).
//!
//! Needs `cargo-deb` (`cargo install cargo-deb`), `dpkg-deb` and a release
//! build of the binary (`cargo build --release -p vigie-sensor`, as .ci/run
//! does). Skips with a printed reason when one is missing, unless
//! VIGIE_EXTERNAL_TESTS=1, when it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

fn external_required() -> bool {
    std::env::var("VIGIE_EXTERNAL_TESTS").is_ok_and(|v| v == "1")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn missing_prerequisite(release_bin: &Path) -> Option<String> {
    let ok = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok("cargo", "deb") && !ok("cargo-deb", "--version") {
        // `cargo deb` with no manifest argument fails too; ask for its version.
        if !Command::new("cargo")
            .args(["deb", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some("cargo-deb is not installed (cargo install cargo-deb)".into());
        }
    }
    if !ok("dpkg-deb", "--version") {
        return Some("dpkg-deb is not installed".into());
    }
    if !release_bin.exists() {
        return Some(format!(
            "{} is missing (cargo build --release -p vigie-sensor)",
            release_bin.display()
        ));
    }
    None
}

/// A scratch directory removed when the test ends, pass or fail.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let p = std::env::temp_dir().join(format!("vigie-deb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cargo_deb_builds_the_documented_package() {
    let root = workspace();
    let release_bin = root.join("target/release/vigie");
    if let Some(why) = missing_prerequisite(&release_bin) {
        assert!(!external_required(), "VIGIE_EXTERNAL_TESTS=1 but {why}");
        eprintln!("skip: {why}");
        return;
    }
    let tmp = Scratch::new();
    let deb = tmp.path().join("vigie.deb");
    // --no-build: the test must not start a second release build; it packages
    // the binary .ci/run built. --strip: what an operator installs.
    run(Command::new("cargo")
        .current_dir(&root)
        .args(["deb", "-p", "vigie-sensor", "--no-build", "--strip", "-o"])
        .arg(&deb));
    assert!(
        deb.exists(),
        "cargo deb wrote no package at {}",
        deb.display()
    );

    // Files, modes and owners.
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{listing}"))
            .to_string()
    };
    // (mode, owner) of an entry; dpkg-deb prints the owner by name or id.
    let mode_owner = |path: &str| {
        let e = entry(path);
        let mut f = e.split_whitespace();
        let mode = f.next().unwrap_or_default().to_string();
        let owner = f.next().unwrap_or_default().replace("root", "0");
        (mode, owner)
    };
    assert_eq!(
        mode_owner("./usr/bin/vigie"),
        ("-rwxr-xr-x".into(), "0/0".into())
    );
    for f in [
        "./etc/vigie/vigie.toml",
        "./etc/vigie/rules/local.rules",
        "./lib/systemd/system/vigie.service",
        "./usr/share/doc/vigie/README.md",
    ] {
        assert_eq!(
            mode_owner(f),
            ("-rw-r--r--".into(), "0/0".into()),
            "{f} mode and owner"
        );
    }

    // Control fields.
    let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} field:\n{info}"))
            .to_string()
    };
    assert_eq!(field("Package"), "vigie");
    let version = field("Version");
    assert!(
        version.starts_with(&format!("{}-", env!("CARGO_PKG_VERSION").replace('-', "~"))),
        "Version {version}: the crate's version plus a Debian revision"
    );
    assert_eq!(field("Section"), "net");
    assert!(field("Depends").contains("adduser"), "{info}");
    // The default build links only libc (no libpcap): what lets the same
    // package recipe work on aarch64 without target C libraries.
    assert!(!field("Depends").contains("libpcap"), "{info}");

    // Maintainer scripts and conffiles.
    let ctl = tmp.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&ctl));
    let conffiles = std::fs::read_to_string(ctl.join("conffiles")).expect("conffiles");
    assert!(
        conffiles.lines().any(|l| l == "/etc/vigie/vigie.toml"),
        "{conffiles}"
    );
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/vigie/rules/local.rules"),
        "{conffiles}"
    );
    let postinst = std::fs::read_to_string(ctl.join("postinst")).expect("postinst");
    assert!(
        postinst.contains("adduser --system"),
        "postinst makes the vigie user"
    );
    assert!(postinst.contains("/var/log/vigie /var/lib/vigie"));
    assert!(ctl.join("postrm").exists());

    // The unit as installed is the hardened one.
    let x = tmp.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x));
    let unit = std::fs::read_to_string(x.join("lib/systemd/system/vigie.service")).unwrap();
    for want in [
        "Type=notify",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "ExecReload=",
    ] {
        assert!(unit.contains(want), "unit lacks {want}:\n{unit}");
    }

    // The packaged binary runs and checks a config laid out like the packaged
    // one: the example config with paths moved into the scratch root, and the
    // rules directory holding only the shipped (comment-only) local.rules.
    let bin = x.join("usr/bin/vigie");
    let version = run(Command::new(&bin).arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    let etc = x.join("etc/vigie");
    let conf = std::fs::read_to_string(etc.join("vigie.toml")).unwrap();
    let scratch = |p: &str| x.join(p.trim_start_matches('/')).display().to_string();
    let conf = conf
        .replace(
            "\"/etc/vigie/rules\"",
            &format!("{:?}", scratch("/etc/vigie/rules")),
        )
        .replace(
            "\"/var/log/vigie/eve.json\"",
            &format!("{:?}", scratch("/var/log/vigie/eve.json")),
        )
        .replace(
            "\"/var/lib/vigie/hub\"",
            &format!("{:?}", scratch("/var/lib/vigie/hub")),
        )
        .replace("interface = \"eth1\"", "interface = \"lo\"");
    std::fs::create_dir_all(x.join("var/log/vigie")).unwrap();
    let cfg = tmp.path().join("vigie.toml");
    std::fs::write(&cfg, conf).unwrap();
    let check = Command::new(&bin)
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.status.success(), "config check failed: {said}");
    assert!(said.contains("0 rules loaded, 0 rejected"), "{said}");

    // A rule added to local.rules is picked up; a broken one is an error that
    // names the file.
    let local = etc.join("rules/local.rules");
    let mut rules = std::fs::read_to_string(&local).unwrap();
    rules.push_str(
        "alert dns any any -> any any (msg:\"test\"; dns.query; content:\"c2.example\"; sid:9000001; rev:1;)\n",
    );
    std::fs::write(&local, &rules).unwrap();
    let said = run(Command::new(&bin).args(["config", "check"]).arg(&cfg));
    assert!(said.contains("1 rules loaded, 0 rejected"), "{said}");
    std::fs::write(&local, "alert tcp any any -> (broken\n").unwrap();
    let bad = Command::new(&bin)
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        !bad.status.success(),
        "an all-rejected rules dir must fail the check"
    );
}
