//! SMB EVE output: the `fileinfo` object of a file, as alerts carry it in
//! their `files` array and `fileinfo` events show it.

use serde_json::{json, Value};

use super::state::{SmbCommand, SmbFile};
use crate::app::file;

/// The fileinfo object of `f`; digests when `hash` and the whole file was kept.
pub fn eve_fileinfo(f: &SmbFile, hash: bool) -> Value {
    file::smb_file(f, hash).eve()
}

/// The `files` array of an alert on file `f`.
pub fn eve_alert_files(f: &SmbFile, hash: bool) -> Value {
    Value::Array(vec![eve_fileinfo(f, hash)])
}

/// Command name as the reference IDS writes it (`SMB2_COMMAND_CREATE`).
pub fn command_name(version: u8, command: u16) -> String {
    const SMB2: [&str; 19] = [
        "NEGOTIATE_PROTOCOL",
        "SESSION_SETUP",
        "SESSION_LOGOFF",
        "TREE_CONNECT",
        "TREE_DISCONNECT",
        "CREATE",
        "CLOSE",
        "FLUSH",
        "READ",
        "WRITE",
        "LOCK",
        "IOCTL",
        "CANCEL",
        "KEEPALIVE",
        "QUERY_DIRECTORY",
        "CHANGE_NOTIFY",
        "QUERY_INFO",
        "SET_INFO",
        "OPLOCK_BREAK",
    ];
    let smb1 = |c: u16| match c {
        0x04 => Some("CLOSE"),
        0x25 => Some("TRANS"),
        0x2e => Some("READ_ANDX"),
        0x2f => Some("WRITE_ANDX"),
        0x32 => Some("TRANS2"),
        0x71 => Some("TREE_DISCONNECT"),
        0x72 => Some("NEGOTIATE_PROTOCOL"),
        0x73 => Some("SESSION_SETUP_ANDX"),
        0x74 => Some("LOGOFF_ANDX"),
        0x75 => Some("TREE_CONNECT_ANDX"),
        0xa0 => Some("NT_TRANS"),
        0xa2 => Some("NT_CREATE_ANDX"),
        _ => None,
    };
    let known = if version == 1 {
        smb1(command)
    } else {
        SMB2.get(usize::from(command)).copied()
    };
    match known {
        Some(n) => format!("SMB{}_COMMAND_{n}", version.min(2)),
        None => format!("SMB{}_COMMAND_UNKNOWN_{command:#x}", version.min(2)),
    }
}

/// The `smb` object of an alert on command `c`.
pub fn eve_command(c: &SmbCommand) -> Value {
    let mut v = json!({
        "id": c.tx_id,
        "command": command_name(c.version, c.command),
    });
    if let (Some(s), Value::Object(o)) = (&c.share, &mut v) {
        let key = if c.pipe == Some(true) {
            "named_pipe"
        } else {
            "share"
        };
        o.insert(key.into(), json!(s));
    }
    v
}
