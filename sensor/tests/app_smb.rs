//! SMB over real captures from the shared corpus (skipped when it is
//! missing): every SMB connection parses without panic within the caps, and
//! the files Zeek lists for its SMB test captures are found with their
//! names and contents.

mod app_support;

use std::path::Path;

use app_support::{connections, corpus, pcaps_under};
use vigie_sensor::app::smb::state::{FILE_DEPTH, MAX_FILES};
use vigie_sensor::app::smb::{eve as smb_eve, SmbEvent, SmbFile, SmbState};
use vigie_sensor::app::{detect_protocol, AppProto, Direction};

/// Every SMB connection of `path`: the files seen (closed or not) and the
/// anomaly counts.
fn replay(path: &Path) -> (usize, Vec<SmbFile>, [u64; SmbEvent::ALL.len()]) {
    let mut files = Vec::new();
    let mut counts = [0u64; SmbEvent::ALL.len()];
    let mut conns = 0;
    for c in connections(path) {
        if c.proto != 6 {
            continue;
        }
        let ts = c.stream(Direction::ToServer);
        let tc = c.stream(Direction::ToClient);
        let head = |v: &[u8]| v[..v.len().min(64)].to_vec();
        let by_content = detect_protocol(6, c.client.1, c.server.1, &head(&ts), &head(&tc));
        if by_content != Some(AppProto::Smb) {
            continue;
        }
        conns += 1;
        let mut s = SmbState::new();
        for (i, (d, chunk)) in c.chunks.iter().enumerate() {
            if let Some(n) = c.gaps.get(&i) {
                s.gap(*d, *n);
                continue;
            }
            s.parse(chunk, *d);
            assert!(s.files().len() <= MAX_FILES);
        }
        for (i, e) in SmbEvent::ALL.iter().enumerate() {
            counts[i] += s.count(*e);
        }
        for f in s.take_closed(true) {
            assert!(f.data.len() <= FILE_DEPTH);
            let v = smb_eve::eve_fileinfo(&f, true);
            assert_eq!(v["filename"].as_str(), Some(f.name.as_str()));
            files.push(f);
        }
    }
    (conns, files, counts)
}

#[test]
fn corpus_smb_captures_parse_within_caps() {
    let Some(root) = corpus() else { return };
    let mut pcaps = Vec::new();
    pcaps_under(&root.join("pcaps"), &mut pcaps);
    pcaps_under(&root.join("expected"), &mut pcaps);
    pcaps.sort();
    let (mut conns, mut nfiles, mut bytes) = (0, 0, 0u64);
    let mut total = [0u64; SmbEvent::ALL.len()];
    for p in &pcaps {
        let (c, files, counts) = replay(p);
        conns += c;
        nfiles += files.len();
        bytes += files.iter().map(|f| f.size).sum::<u64>();
        if c == 0 {
            continue;
        }
        let ev: Vec<String> = SmbEvent::ALL
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(e, n)| format!("{}={n}", e.name()))
            .collect();
        println!(
            "{}: {c} smb connections, {} files, events [{}]",
            p.strip_prefix(&root).unwrap_or(p).display(),
            files.len(),
            ev.join(" ")
        );
        for (t, n) in total.iter_mut().zip(counts) {
            *t += n;
        }
    }
    println!(
        "{} captures, {conns} smb connections, {nfiles} files, {bytes} file bytes",
        pcaps.len()
    );
    assert!(
        conns >= 100 && nfiles >= 5,
        "{conns} connections, {nfiles} files"
    );
}

fn names(files: &[SmbFile]) -> Vec<(&str, Direction)> {
    files.iter().map(|f| (f.name.as_str(), f.dir)).collect()
}

fn zeek_smb(root: &Path, case: &str, pcap: &str) -> Vec<SmbFile> {
    replay(&root.join("expected/zeek").join(case).join(pcap)).1
}

#[test]
fn smb2_read_and_write_as_zeek_sees_them() {
    let Some(root) = corpus() else { return };
    // Zeek's smb_files.log: "pythonfile" read (16 bytes), "pythonfile2" written empty.
    let files = zeek_smb(
        &root,
        "base-protocols-smb-smb2-read-write",
        "smb2readwrite.pcap",
    );
    let read = files
        .iter()
        .find(|f| f.name == "pythonfile" && f.dir == Direction::ToClient)
        .unwrap_or_else(|| panic!("no read of pythonfile in {:?}", names(&files)));
    assert_eq!(read.size, 16);
    assert_eq!(read.data.len(), 16);
    assert!(!read.gaps);
}

#[test]
fn smb1_file_copy_as_zeek_sees_it() {
    let Some(root) = corpus() else { return };
    // Zeek's smb_files.log: "Test\2009-12 Payroll.xlsx", 25940 bytes.
    let files = zeek_smb(&root, "base-protocols-smb-smb1", "smb1.pcap");
    let f = files
        .iter()
        .find(|f| f.name.ends_with("2009-12 Payroll.xlsx"))
        .unwrap_or_else(|| panic!("no payroll file in {:?}", names(&files)));
    assert_eq!(f.size, 25940);
    // An .xlsx is a zip archive.
    assert!(f.data.starts_with(b"PK\x03\x04"), "{:?}", &f.data[..8]);
}
