//! SMB EVE output: the `fileinfo` object of a file, as alerts carry it in
//! their `files` array and `fileinfo` events show it.

use serde_json::Value;

use super::state::SmbFile;
use crate::app::file;

/// The fileinfo object of `f`; digests when `hash` and the whole file was kept.
pub fn eve_fileinfo(f: &SmbFile, hash: bool) -> Value {
    file::smb_file(f, hash).eve()
}

/// The `files` array of an alert on file `f`.
pub fn eve_alert_files(f: &SmbFile, hash: bool) -> Value {
    Value::Array(vec![eve_fileinfo(f, hash)])
}
