//! Dedup window by alert id, persisted across restarts.
//!
//! Ids are appended to `dedup.log` (one per line) once their alert is archived
//! and published; on start the last `capacity` ids are loaded and the log is
//! rewritten with just those, so it never grows past twice the window.

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The last `capacity` alert ids seen.
#[derive(Debug)]
pub struct DedupWindow {
    path: PathBuf,
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
    log: File,
    logged: usize,
}

impl DedupWindow {
    /// Opens the window persisted in `dir/dedup.log`.
    pub fn open(dir: &Path, capacity: usize) -> io::Result<DedupWindow> {
        let path = dir.join("dedup.log");
        let mut order = VecDeque::new();
        let mut seen = HashSet::new();
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).split(b'\n') {
                    let line = line?;
                    // A torn last line (crash mid-write) is not a full id: skip it.
                    let Ok(id) = String::from_utf8(line) else {
                        continue;
                    };
                    if id.is_empty() || seen.contains(&id) {
                        continue;
                    }
                    seen.insert(id.clone());
                    order.push_back(id);
                    if order.len() > capacity {
                        if let Some(old) = order.pop_front() {
                            seen.remove(&old);
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut w = DedupWindow {
            log: File::create(dir.join("dedup.log.tmp"))?,
            path,
            capacity: capacity.max(1),
            order,
            seen,
            logged: 0,
        };
        w.rewrite()?;
        Ok(w)
    }

    fn rewrite(&mut self) -> io::Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        {
            let mut f = io::BufWriter::new(File::create(&tmp)?);
            for id in &self.order {
                f.write_all(id.as_bytes())?;
                f.write_all(b"\n")?;
            }
            f.flush()?;
            f.get_ref().sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        self.log = OpenOptions::new().append(true).open(&self.path)?;
        self.logged = self.order.len();
        Ok(())
    }

    /// True if `id` was recorded before.
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Records ids (already delivered) durably.
    pub fn record<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        let mut buf = Vec::new();
        for id in ids {
            if id.contains('\n') || !self.seen.insert(id.to_string()) {
                continue;
            }
            self.order.push_back(id.to_string());
            buf.extend_from_slice(id.as_bytes());
            buf.push(b'\n');
            if self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
            self.logged += 1;
        }
        self.log.write_all(&buf)?;
        self.log.sync_data()?;
        if self.logged > 2 * self.capacity {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Ids in the window.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn window_persists_and_forgets_oldest() {
        let d = std::env::temp_dir().join(format!("vigie-dedup-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        {
            let mut w = DedupWindow::open(&d, 3).unwrap();
            w.record(["a", "b"]).unwrap();
            w.record(["b", "c", "d"]).unwrap();
            assert!(!w.contains("a"));
            assert!(w.contains("d"));
        }
        // Torn last line from a crash.
        let mut f = OpenOptions::new()
            .append(true)
            .open(d.join("dedup.log"))
            .unwrap();
        f.write_all(&[b'e', 0xff]).unwrap();
        drop(f);
        let mut w = DedupWindow::open(&d, 3).unwrap();
        assert_eq!(w.len(), 3);
        assert!(w.contains("b") && w.contains("c") && w.contains("d"));
        for i in 0..20 {
            w.record([format!("x{i}").as_str()]).unwrap();
        }
        assert!(
            fs::read_to_string(d.join("dedup.log"))
                .unwrap()
                .lines()
                .count()
                <= 7
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
