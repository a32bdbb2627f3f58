//! Files a flow carries, whatever the protocol: HTTP request and response
//! bodies (each `multipart/form-data` part with a filename is a file of its
//! own), SMB reads and writes. A [`FileView`] gives what the file keywords
//! (`file.name`, `filemagic`, `filemd5`, `filesize`, ...) and EVE
//! `fileinfo` need: name, size, state, hashes and type.
//!
//! Files are views over what the protocol parsers already keep (stored
//! bodies, SMB file contents) and the digests they compute as bytes
//! stream by, so nothing is copied or hashed twice.

pub mod magic;
pub mod multipart;

use std::borrow::Cow;

use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use sha1::Sha1;
use sha2::Sha256;
use vigie_rules::signature::BufferId;

use crate::app::http::body::BodyHashes;
use crate::app::http::HttpTransaction;
use crate::app::smb::SmbFile;
use crate::app::{hex_lower, Direction};

/// Buffers files provide (with `file.data`, which each protocol gives).
pub const BUFFER_NAMES: &[&str] = &[
    "file.name",
    "file.magic",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesize",
];

/// The file buffers detection may ask for.
pub const FILE_BUFFERS: [BufferId; 6] = [
    BufferId::FileName,
    BufferId::FileMagic,
    BufferId::FileMd5,
    BufferId::FileSha1,
    BufferId::FileSha256,
    BufferId::FileSize,
];

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// More bytes may come.
    Open,
    /// Ended normally: size and hashes are the file's.
    Closed,
    /// Ended with bytes missing (a gap, a cut connection, past the depth).
    Truncated,
}

impl FileState {
    /// EVE `fileinfo.state`.
    pub fn name(self) -> &'static str {
        match self {
            FileState::Open => "OPEN",
            FileState::Closed => "CLOSED",
            FileState::Truncated => "TRUNCATED",
        }
    }

    /// First byte of the `filesize` buffer.
    fn byte(self) -> u8 {
        match self {
            FileState::Open => 0,
            FileState::Closed => 1,
            FileState::Truncated => 2,
        }
    }
}

/// One file as detection and EVE see it.
#[derive(Debug, Clone)]
pub struct FileView<'a> {
    /// Name: the URI path, a Content-Disposition or multipart filename, the
    /// SMB path.
    pub name: Cow<'a, [u8]>,
    /// Contents kept (capped by the protocol's body or file depth).
    pub data: &'a [u8],
    /// Bytes seen so far (or in all, once closed).
    pub size: u64,
    /// Open, closed or truncated.
    pub state: FileState,
    /// Bytes were lost in a stream gap.
    pub gaps: bool,
    /// Digests of the whole file: only for a closed file without gaps, and
    /// only when hashing is on.
    pub hashes: Option<BodyHashes>,
    /// Transaction the file belongs to.
    pub tx_id: u64,
    /// Which way it travelled.
    pub dir: Direction,
}

/// Digests of `data`.
pub fn hash_all(data: &[u8]) -> BodyHashes {
    BodyHashes {
        md5: Md5::digest(data).into(),
        sha1: Sha1::digest(data).into(),
        sha256: Sha256::digest(data).into(),
    }
}

impl FileView<'_> {
    /// libmagic-like type of the contents.
    pub fn magic(&self) -> Option<String> {
        magic::describe(self.data)
    }

    /// Pushes the file's detection buffers that `wants` asks for:
    /// `file.data`, `file.name`, `file.magic`, the digests (closed files
    /// only) and `filesize`.
    pub fn push_buffers(
        &self,
        out: &mut Vec<(BufferId, Vec<u8>)>,
        with_data: bool,
        wants: &dyn Fn(BufferId) -> bool,
    ) {
        if with_data && !self.data.is_empty() && wants(BufferId::FileData) {
            out.push((BufferId::FileData, self.data.to_vec()));
        }
        if !self.name.is_empty() && wants(BufferId::FileName) {
            out.push((BufferId::FileName, self.name.to_vec()));
        }
        if wants(BufferId::FileMagic) {
            if let Some(m) = self.magic() {
                out.push((BufferId::FileMagic, m.into_bytes()));
            }
        }
        if let Some(h) = self.hashes.filter(|_| self.state == FileState::Closed) {
            for (b, d) in [
                (BufferId::FileMd5, &h.md5[..]),
                (BufferId::FileSha1, &h.sha1[..]),
                (BufferId::FileSha256, &h.sha256[..]),
            ] {
                if wants(b) {
                    out.push((b, d.to_vec()));
                }
            }
        }
        if wants(BufferId::FileSize) {
            let mut v = Vec::with_capacity(9);
            v.push(self.state.byte());
            v.extend_from_slice(&self.size.to_be_bytes());
            out.push((BufferId::FileSize, v));
        }
    }

    /// The EVE `fileinfo` object, with the reference IDS's field names.
    pub fn eve(&self) -> Value {
        let mut o = Map::new();
        o.insert(
            "filename".into(),
            json!(String::from_utf8_lossy(&self.name)),
        );
        o.insert("sid".into(), json!([]));
        if let Some(m) = self.magic() {
            o.insert("magic".into(), json!(m));
        }
        o.insert("gaps".into(), json!(self.gaps));
        o.insert("state".into(), json!(self.state.name()));
        if let Some(h) = self.hashes.filter(|_| self.state == FileState::Closed) {
            for (name, d) in h.digests() {
                o.insert(name.into(), json!(hex_lower(d)));
            }
        }
        o.insert("stored".into(), json!(false));
        o.insert("size".into(), json!(self.size));
        o.insert("tx_id".into(), json!(self.tx_id));
        Value::Object(o)
    }
}

/// The multipart parts of a request body, when its Content-Type says multipart.
pub fn request_parts(tx: &HttpTransaction) -> Option<Vec<multipart::Part<'_>>> {
    let ct = tx.header(Direction::ToServer, "content-type")?;
    let b = multipart::boundary(ct)?;
    Some(multipart::parts(&tx.request_body, b))
}

/// Multipart parts of a request body past the cap: not tracked as files.
pub fn request_parts_over_cap(tx: &HttpTransaction) -> usize {
    tx.header(Direction::ToServer, "content-type")
        .and_then(multipart::boundary)
        .map_or(0, |b| multipart::parts_over_cap(&tx.request_body, b))
}

/// The path of a normalised URI (query left out): the name of a file sent
/// or fetched without a better one.
fn uri_path(uri: &[u8]) -> &[u8] {
    let end = memchr::memchr(b'?', uri).unwrap_or(uri.len());
    &uri[..end]
}

/// State of an HTTP body: open until its message completed.
fn http_state(tx: &HttpTransaction, complete: bool) -> (FileState, bool) {
    use crate::app::http::HttpEvent;
    let gaps = tx.events.contains(&HttpEvent::Gap);
    let state = if !complete {
        FileState::Open
    } else if gaps || tx.events.contains(&HttpEvent::TruncatedMessage) {
        FileState::Truncated
    } else {
        FileState::Closed
    };
    (state, gaps)
}

/// The files of HTTP transaction `tx` travelling in `dir`. `in_progress`:
/// the response body stored so far while it is still being read.
/// `hash_parts`: hash multipart files (their digests are not computed as
/// the body streams by).
pub fn http_files<'a>(
    tx: &'a HttpTransaction,
    dir: Direction,
    in_progress: Option<&'a [u8]>,
    hash_parts: bool,
) -> Vec<FileView<'a>> {
    let mut out = Vec::new();
    match dir {
        Direction::ToServer => {
            if tx.request_body_len == 0 {
                return out;
            }
            let (state, gaps) = http_state(tx, tx.request_complete);
            if let Some(parts) = request_parts(tx) {
                let body_cut = (tx.request_body.len() as u64) < tx.request_body_len;
                for p in parts {
                    let Some(name) = p.filename else { continue };
                    let st = match (state, p.complete) {
                        (FileState::Closed, true) => FileState::Closed,
                        (FileState::Open, _) => FileState::Open,
                        (_, false) if !body_cut && !tx.request_complete => FileState::Open,
                        _ => FileState::Truncated,
                    };
                    let hashes = (hash_parts && st == FileState::Closed).then(|| hash_all(p.data));
                    out.push(FileView {
                        name: Cow::Borrowed(name),
                        data: p.data,
                        size: p.data.len() as u64,
                        state: st,
                        gaps,
                        hashes,
                        tx_id: tx.tx_id,
                        dir,
                    });
                }
                return out;
            }
            out.push(FileView {
                name: Cow::Borrowed(uri_path(&tx.uri)),
                data: &tx.request_body,
                size: tx.request_body_len,
                state,
                gaps,
                hashes: tx.request_body_hashes,
                tx_id: tx.tx_id,
                dir,
            });
        }
        Direction::ToClient => {
            let (data, size) = match in_progress {
                Some(b) if !tx.response_complete => (b, b.len() as u64),
                _ => (&tx.response_body[..], tx.response_body_decoded_len),
            };
            if size == 0 {
                return out;
            }
            let (state, gaps) = http_state(tx, tx.response_complete);
            let name = tx
                .header(Direction::ToClient, "content-disposition")
                .and_then(|v| multipart::param(v, b"filename"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| uri_path(&tx.uri));
            out.push(FileView {
                name: Cow::Borrowed(name),
                data,
                size,
                state,
                gaps,
                hashes: tx.response_body_hashes,
                tx_id: tx.tx_id,
                dir,
            });
        }
    }
    out
}

/// The file view of an SMB file; `hash`: compute its digests when it is
/// complete (the whole file is within the kept depth).
pub fn smb_file(f: &SmbFile, hash: bool) -> FileView<'_> {
    let state = match f.state_name() {
        "CLOSED" if !f.gaps => FileState::Closed,
        "OPEN" => FileState::Open,
        _ => FileState::Truncated,
    };
    let hashes = (hash && state == FileState::Closed).then(|| hash_all(&f.data));
    FileView {
        name: Cow::Borrowed(f.name.as_bytes()),
        data: &f.data,
        size: f.size,
        state,
        gaps: f.gaps,
        hashes,
        tx_id: f.tx_id,
        dir: f.dir,
    }
}

/// A file still open when its flow ended is truncated (as the reference
/// IDS logs it).
pub fn at_flow_end(mut f: FileView<'_>, flow_end: bool) -> FileView<'_> {
    if flow_end && f.state == FileState::Open {
        f.state = FileState::Truncated;
    }
    f
}

/// The `files` array of an alert: the fileinfo of each file.
pub fn eve_files(files: &[FileView<'_>]) -> Value {
    Value::Array(files.iter().map(FileView::eve).collect())
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::http::HttpState;

    #[test]
    fn download_and_upload() {
        let mut s = HttpState::new();
        let body = "--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"g\"\r\n\r\nv\r\n--XX--\r\n";
        let req = format!(
            "POST /up?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.parse(req.as_bytes(), Direction::ToServer);
        s.parse(
            b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Length: 9\r\n\r\n%PDF-1.4\n",
            Direction::ToClient,
        );
        let tx = &s.transactions()[0];
        let up = http_files(tx, Direction::ToServer, None, true);
        assert_eq!(up.len(), 1, "the field without filename is no file");
        assert_eq!(&*up[0].name, b"a.txt");
        assert_eq!(up[0].data, b"hello");
        assert_eq!(up[0].state, FileState::Closed);
        assert_eq!(up[0].hashes.unwrap().md5, hash_all(b"hello").md5);
        let down = http_files(tx, Direction::ToClient, None, true);
        assert_eq!(&*down[0].name, b"r.pdf");
        assert_eq!(down[0].size, 9);
        assert_eq!(
            down[0].magic().as_deref(),
            Some("PDF document, version 1.4")
        );
        let v = down[0].eve();
        assert_eq!(v["state"], "CLOSED");
        assert_eq!(v["md5"], hex_lower(&hash_all(b"%PDF-1.4\n").md5));
        let mut bufs = Vec::new();
        down[0].push_buffers(&mut bufs, false, &|_| true);
        let size = bufs.iter().find(|(b, _)| *b == BufferId::FileSize).unwrap();
        assert_eq!(size.1, [1, 0, 0, 0, 0, 0, 0, 0, 9]);
    }

    /// What the `file_tracking` fuzz target does, over cuts of a real
    /// upload and download: no input panics.
    #[test]
    fn hostile_inputs_never_panic() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nMZ\x00\r\n--B--\r\n";
        let wire = format!(
            "POST /u HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n{body}HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\r\nContent-Length: 4\r\n\r\n%PDF",
            body.len()
        );
        let wire = wire.as_bytes();
        for n in 0..wire.len() {
            let data = &wire[..n];
            let _ = magic::describe(data);
            if let Some(b) = multipart::boundary(b"multipart/form-data; boundary=B") {
                assert!(multipart::parts(data, b).len() <= multipart::MAX_PARTS);
            }
            let mut s = HttpState::new();
            for chunk in data.chunks(11) {
                s.parse(chunk, Direction::ToServer);
                s.parse(chunk, Direction::ToClient);
            }
            for tx in s.transactions() {
                for dir in [Direction::ToServer, Direction::ToClient] {
                    for f in http_files(tx, dir, None, true) {
                        let mut bufs = Vec::new();
                        f.push_buffers(&mut bufs, true, &|_| true);
                        let _ = at_flow_end(f, true).eve();
                    }
                }
            }
        }
    }
}
