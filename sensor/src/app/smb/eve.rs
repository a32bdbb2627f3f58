//! SMB EVE output: the `fileinfo` object of a file, as alerts carry it in
//! their `files` array.

use serde_json::{json, Value};

use super::state::SmbFile;

/// The fileinfo object of `f` (no hashes: contents are not stored).
pub fn eve_fileinfo(f: &SmbFile) -> Value {
    json!({
        "filename": f.name,
        "sid": [],
        "gaps": f.gaps,
        "state": f.state_name(),
        "stored": false,
        "size": f.size,
        "tx_id": f.tx_id,
    })
}

/// The `files` array of an alert on file `f`.
pub fn eve_alert_files(f: &SmbFile) -> Value {
    Value::Array(vec![eve_fileinfo(f)])
}
