//! Rotating EVE JSONL archive: `eve-<n>.json`, a new file past `max_file_bytes`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Appends EVE lines, rotating by size; oldest files beyond `keep_files` go.
#[derive(Debug)]
pub struct EveArchive {
    dir: PathBuf,
    max_file_bytes: u64,
    keep_files: usize,
    n: u64,
    file: File,
    len: u64,
}

fn number(name: &str) -> Option<u64> {
    name.strip_prefix("eve-")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

impl EveArchive {
    /// Opens the archive in `dir`, appending to its newest file.
    pub fn open(dir: &Path, max_file_bytes: u64, keep_files: usize) -> io::Result<EveArchive> {
        fs::create_dir_all(dir)?;
        let n = Self::numbers(dir)?.last().copied().unwrap_or(1);
        let (file, len) = Self::open_file(dir, n)?;
        Ok(EveArchive {
            dir: dir.to_path_buf(),
            max_file_bytes: max_file_bytes.max(1),
            keep_files: keep_files.max(1),
            n,
            file,
            len,
        })
    }

    fn numbers(dir: &Path) -> io::Result<Vec<u64>> {
        let mut v: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| number(&e.file_name().to_string_lossy()))
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    fn open_file(dir: &Path, n: u64) -> io::Result<(File, u64)> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("eve-{n:08}.json")))?;
        let len = f.metadata()?.len();
        Ok((f, len))
    }

    /// Writes lines already joined, each ending in a newline, and syncs them
    /// to disk. They go to one file: rotation happens before, not within.
    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.len > 0 && self.len + buf.len() as u64 > self.max_file_bytes {
            self.file.sync_all()?;
            self.n += 1;
            let (f, len) = Self::open_file(&self.dir, self.n)?;
            self.file = f;
            self.len = len;
            let nums = Self::numbers(&self.dir)?;
            if nums.len() > self.keep_files {
                for old in &nums[..nums.len() - self.keep_files] {
                    fs::remove_file(self.dir.join(format!("eve-{old:08}.json")))?;
                }
            }
        }
        self.file.write_all(buf)?;
        self.file.sync_data()?;
        self.len += buf.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn rotates_and_keeps_newest() {
        let d = std::env::temp_dir().join(format!("vigie-archive-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        let mut a = EveArchive::open(&d, 100, 2).unwrap();
        for i in 0..30 {
            let l = format!("{{\"n\":{i:020}}}\n");
            a.write_all(l.as_bytes()).unwrap();
        }
        let files = EveArchive::numbers(&d).unwrap();
        assert_eq!(files.len(), 2);
        let last = fs::read_to_string(d.join(format!("eve-{:08}.json", files[1]))).unwrap();
        assert!(last.ends_with(&format!("{{\"n\":{:020}}}\n", 29)));
        drop(a);
        let mut a = EveArchive::open(&d, 100, 2).unwrap();
        a.write_all(b"{}\n").unwrap();
        fs::remove_dir_all(&d).unwrap();
    }
}
