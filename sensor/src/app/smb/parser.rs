//! SMB1 and SMB2/3 message parsing: one NBSS record in, the file operations it
//! carries out. Pure and total: every offset and length the traffic gives is
//! checked against the record before it is used.
//!
//! Data of WRITE requests and READ responses is returned as a range of the
//! record, not a slice, because a large record may be only partly buffered:
//! the state streams the rest of the range into the file as it arrives.

use super::state::SmbEvent;

/// SMB1 header length.
const SMB1_HEADER: usize = 32;
/// SMB2 header length.
const SMB2_HEADER: usize = 64;
/// AndX commands followed in one SMB1 message, or SMB2 messages compounded
/// in one record, before the rest is ignored.
pub const MAX_CHAIN: usize = 32;
/// Bytes of a file name kept (after UTF-16 decoding).
pub const MAX_NAME: usize = 1024;

// SMB1 commands.
const SMB1_CLOSE: u8 = 0x04;
const SMB1_LOCKING_ANDX: u8 = 0x24;
const SMB1_OPEN_ANDX: u8 = 0x2d;
const SMB1_READ_ANDX: u8 = 0x2e;
const SMB1_WRITE_ANDX: u8 = 0x2f;
const SMB1_SESSION_SETUP_ANDX: u8 = 0x73;
const SMB1_LOGOFF_ANDX: u8 = 0x74;
const SMB1_TREE_CONNECT_ANDX: u8 = 0x75;
const SMB1_NT_CREATE_ANDX: u8 = 0xa2;
const SMB1_TRANS: u8 = 0x25;
/// SMB1 TRANS subcommand TransactNmPipe: a write then a read on a pipe.
const TRANS_TRANSACT_NMPIPE: u16 = 0x0026;
/// SMB1 TREE_CONNECT_ANDX reply service of a named-pipe share (IPC$).
const IPC_SERVICE: &[u8] = b"IPC\0";
/// SMB1 FLAGS: the message is a reply.
const SMB1_FLAGS_REPLY: u8 = 0x80;
/// SMB1 FLAGS2: strings are UTF-16LE.
const SMB1_FLAGS2_UNICODE: u16 = 0x8000;

// SMB2 commands.
const SMB2_TREE_CONNECT: u16 = 0x03;
/// SMB2 TREE_CONNECT response ShareType of a named-pipe share (IPC$).
const SMB2_SHARE_TYPE_PIPE: u8 = 0x02;
const SMB2_CREATE: u16 = 0x05;
const SMB2_CLOSE: u16 = 0x06;
const SMB2_READ: u16 = 0x08;
const SMB2_WRITE: u16 = 0x09;
const SMB2_IOCTL: u16 = 0x0b;
/// FSCTL_PIPE_TRANSCEIVE: a write then a read on a named pipe in one IOCTL.
const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;
/// SMB2 Flags: the message is a response.
const SMB2_FLAGS_RESPONSE: u32 = 0x01;
/// NT status of an interim (async) response: the real one follows.
const STATUS_PENDING: u32 = 0x0000_0103;
/// NT status of a read that returned less than asked (data still valid).
const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;

/// Which request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReqKey {
    /// SMB1: user, tree, process and multiplex ids.
    Smb1 {
        /// User id.
        uid: u16,
        /// Tree id.
        tid: u16,
        /// Process id (high and low halves).
        pid: u32,
        /// Multiplex id.
        mid: u16,
    },
    /// SMB2: message id.
    Smb2(u64),
}

/// A server-given handle of an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileId {
    /// SMB1 FID.
    Smb1(u16),
    /// SMB2 FileId (persistent + volatile halves).
    Smb2([u8; 16]),
}

/// A tree (share) connection: SMB1 or SMB2 tree id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TreeId {
    /// SMB1 TID.
    Smb1(u16),
    /// SMB2 TreeId.
    Smb2(u32),
}

/// One file operation found in a record. Data ranges are record offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmbOp {
    /// A tree connected to a named-pipe share (IPC$): opens on it are pipes
    /// (DCERPC), not files.
    PipeTree {
        /// The tree.
        tree: TreeId,
    },
    /// An open naming a file; its response gives the handle.
    OpenRequest {
        /// Request identity.
        req: ReqKey,
        /// Tree the file is opened on.
        tree: TreeId,
        /// File name as sent (UTF-16 decoded).
        name: String,
    },
    /// A successful open's handle.
    OpenResponse {
        /// Request answered.
        req: ReqKey,
        /// The handle.
        file: FileId,
    },
    /// Data written to a file (to server).
    Write {
        /// Handle written to.
        file: FileId,
        /// File offset of the first byte.
        offset: u64,
        /// Record offset of the data.
        start: usize,
        /// Data length (may run past the buffered part of the record).
        len: usize,
    },
    /// A read request: its response carries the data.
    ReadRequest {
        /// Request identity.
        req: ReqKey,
        /// Handle read from.
        file: FileId,
        /// File offset asked for.
        offset: u64,
    },
    /// Data read from a file (to client).
    ReadResponse {
        /// Request answered.
        req: ReqKey,
        /// Record offset of the data.
        start: usize,
        /// Data length.
        len: usize,
    },
    /// A handle closed.
    Close {
        /// The handle.
        file: FileId,
    },
    /// Any command, request or response (one per SMB2 message, one per
    /// SMB1 message for its first command): SMB transactions for rules.
    Command {
        /// Request identity.
        req: ReqKey,
        /// 1, or 2 for SMB2/3.
        version: u8,
        /// Command code.
        command: u16,
        /// A response.
        response: bool,
    },
    /// A tree connect request naming its share (UNC path).
    TreeRequest {
        /// Request identity.
        req: ReqKey,
        /// The path as sent (UTF-16 decoded).
        share: String,
    },
    /// A successful tree connect response.
    TreeResponse {
        /// Request answered.
        req: ReqKey,
        /// The share is a named-pipe one (IPC$).
        pipe: bool,
    },
    /// Data of a pipe transaction (IOCTL FSCTL_PIPE_TRANSCEIVE, SMB1
    /// TransactNmPipe) on a handle, in the record's direction.
    PipeData {
        /// The handle, when the message names it.
        file: Option<FileId>,
        /// Request identity (a TRANS response finds its handle by it).
        req: ReqKey,
        /// Record offset of the data.
        start: usize,
        /// Data length.
        len: usize,
    },
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)
        .map(|x| u16::from_le_bytes([x[0], x[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = u64::from(u32_at(b, at)?);
    let hi = u64::from(u32_at(b, at.checked_add(4)?)?);
    Some(hi << 32 | lo)
}

fn guid_at(b: &[u8], at: usize) -> Option<[u8; 16]> {
    let s = b.get(at..at.checked_add(16)?)?;
    let mut g = [0u8; 16];
    g.copy_from_slice(s);
    Some(g)
}

/// A file name from UTF-16LE (or 8-bit) bytes, up to the first NUL, capped.
pub fn decode_name(b: &[u8], unicode: bool) -> String {
    let mut s = if unicode {
        let units = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0);
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
    } else {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    if s.len() > MAX_NAME {
        let mut cut = MAX_NAME;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// A data range `[start, start + len)` of a record `total` bytes long: checked,
/// and cut at the record's end (with an event) when it runs past it.
fn data_range(start: usize, len: usize, total: usize, ev: &mut Vec<SmbEvent>) -> (usize, usize) {
    if start > total {
        ev.push(SmbEvent::DataOutOfRange);
        return (total, 0);
    }
    let room = total - start;
    if len > room {
        ev.push(SmbEvent::DataOutOfRange);
        return (start, room);
    }
    (start, len)
}

/// Parses one NBSS session message. `rec` is what is buffered of it (a
/// prefix when the record is large), `total` its full length.
pub fn parse_record(rec: &[u8], total: usize, out: &mut Vec<SmbOp>, ev: &mut Vec<SmbEvent>) {
    match rec.get(..4) {
        Some(b"\xffSMB") => parse_smb1(rec, total, out, ev),
        Some(b"\xfeSMB") => parse_smb2(rec, total, out, ev),
        // Encrypted (transform) or compressed SMB3: nothing readable.
        Some(b"\xfdSMB") | Some(b"\xfcSMB") => ev.push(SmbEvent::Encrypted),
        _ => ev.push(SmbEvent::MalformedHeader),
    }
}

/// True when the record's fixed parts are cut by buffering, not by the sender.
fn cut(rec: &[u8], total: usize) -> bool {
    rec.len() < total
}

fn parse_smb1(rec: &[u8], total: usize, out: &mut Vec<SmbOp>, ev: &mut Vec<SmbEvent>) {
    if rec.len() < SMB1_HEADER {
        if !cut(rec, total) {
            ev.push(SmbEvent::MalformedHeader);
        }
        return;
    }
    let mut command = rec[4];
    let status = u32_at(rec, 5).unwrap_or(0);
    let reply = rec[9] & SMB1_FLAGS_REPLY != 0;
    let unicode = u16_at(rec, 10).unwrap_or(0) & SMB1_FLAGS2_UNICODE != 0;
    let pid_high = u32::from(u16_at(rec, 12).unwrap_or(0));
    let tid = u16_at(rec, 24).unwrap_or(0);
    let pid = pid_high << 16 | u32::from(u16_at(rec, 26).unwrap_or(0));
    let uid = u16_at(rec, 28).unwrap_or(0);
    let mid = u16_at(rec, 30).unwrap_or(0);
    let req = ReqKey::Smb1 { uid, tid, pid, mid };
    out.push(SmbOp::Command {
        req,
        version: 1,
        command: u16::from(command),
        response: reply,
    });
    // Error replies carry no parameters worth reading.
    if reply && status != 0 {
        return;
    }
    let mut at = SMB1_HEADER;
    for _ in 0..MAX_CHAIN {
        let Some(&wc) = rec.get(at) else {
            if !cut(rec, total) {
                ev.push(SmbEvent::MalformedCommand);
            }
            return;
        };
        let words_at = at + 1;
        let words_len = 2 * usize::from(wc);
        let Some(words) = rec.get(words_at..words_at + words_len) else {
            if !cut(rec, total) {
                ev.push(SmbEvent::MalformedCommand);
            }
            return;
        };
        let bc_at = words_at + words_len;
        let bytes_at = bc_at + 2;
        let byte_count = u16_at(rec, bc_at).map(usize::from);
        if wc == 0 {
            return;
        }
        smb1_command(
            command,
            reply,
            unicode,
            (req, tid),
            words,
            rec,
            total,
            (bytes_at, byte_count),
            out,
            ev,
        );
        let andx = matches!(
            command,
            SMB1_LOCKING_ANDX
                | SMB1_OPEN_ANDX
                | SMB1_READ_ANDX
                | SMB1_WRITE_ANDX
                | SMB1_SESSION_SETUP_ANDX
                | SMB1_LOGOFF_ANDX
                | SMB1_TREE_CONNECT_ANDX
                | SMB1_NT_CREATE_ANDX
        );
        if !andx || words.len() < 4 || words[0] == 0xff {
            return;
        }
        let next = usize::from(u16_at(words, 2).unwrap_or(0));
        // The chain must move forward, or it could loop.
        if next <= at || next >= total {
            ev.push(SmbEvent::AndxBadOffset);
            return;
        }
        command = words[0];
        at = next;
    }
    ev.push(SmbEvent::ChainTooLong);
}

#[allow(clippy::too_many_arguments)]
fn smb1_command(
    command: u8,
    reply: bool,
    unicode: bool,
    (req, tid): (ReqKey, u16),
    words: &[u8],
    rec: &[u8],
    total: usize,
    (bytes_at, byte_count): (usize, Option<usize>),
    out: &mut Vec<SmbOp>,
    ev: &mut Vec<SmbEvent>,
) {
    let malformed = |ev: &mut Vec<SmbEvent>| ev.push(SmbEvent::MalformedCommand);
    match (command, reply) {
        (SMB1_NT_CREATE_ANDX, false) => {
            if words.len() < 48 {
                return malformed(ev);
            }
            let name_len = usize::from(u16_at(words, 5).unwrap_or(0));
            let mut start = bytes_at;
            // UTF-16 strings are aligned on 2 bytes from the header.
            if unicode && start % 2 == 1 {
                start += 1;
            }
            let avail = byte_count.map_or(0, |n| (bytes_at + n).saturating_sub(start));
            let end = start + name_len.min(avail);
            match rec.get(start..end) {
                Some(b) => out.push(SmbOp::OpenRequest {
                    req,
                    tree: TreeId::Smb1(tid),
                    name: decode_name(b, unicode),
                }),
                None if cut(rec, total) => {}
                None => malformed(ev),
            }
        }
        (SMB1_NT_CREATE_ANDX, true) => match u16_at(words, 5) {
            Some(fid) => out.push(SmbOp::OpenResponse {
                req,
                file: FileId::Smb1(fid),
            }),
            None => malformed(ev),
        },
        (SMB1_WRITE_ANDX, false) => {
            if words.len() < 24 {
                return malformed(ev);
            }
            let fid = u16_at(words, 4).unwrap_or(0);
            let mut offset = u64::from(u32_at(words, 6).unwrap_or(0));
            if words.len() >= 28 {
                offset |= u64::from(u32_at(words, 24).unwrap_or(0)) << 32;
            }
            let len = usize::from(u16_at(words, 18).unwrap_or(0)) << 16
                | usize::from(u16_at(words, 20).unwrap_or(0));
            let data_off = usize::from(u16_at(words, 22).unwrap_or(0));
            let (start, len) = data_range(data_off, len, total, ev);
            out.push(SmbOp::Write {
                file: FileId::Smb1(fid),
                offset,
                start,
                len,
            });
        }
        (SMB1_READ_ANDX, false) => {
            if words.len() < 20 {
                return malformed(ev);
            }
            let fid = u16_at(words, 4).unwrap_or(0);
            let mut offset = u64::from(u32_at(words, 6).unwrap_or(0));
            if words.len() >= 24 {
                offset |= u64::from(u32_at(words, 20).unwrap_or(0)) << 32;
            }
            out.push(SmbOp::ReadRequest {
                req,
                file: FileId::Smb1(fid),
                offset,
            });
        }
        (SMB1_READ_ANDX, true) => {
            if words.len() < 16 {
                return malformed(ev);
            }
            let len = usize::from(u16_at(words, 14).unwrap_or(0)) << 16
                | usize::from(u16_at(words, 10).unwrap_or(0));
            let data_off = usize::from(u16_at(words, 12).unwrap_or(0));
            let (start, len) = data_range(data_off, len, total, ev);
            out.push(SmbOp::ReadResponse { req, start, len });
        }
        // The reply's bytes start with the service type, "IPC" for pipes.
        (SMB1_TREE_CONNECT_ANDX, true) => {
            let pipe = rec.get(bytes_at..bytes_at + IPC_SERVICE.len()) == Some(IPC_SERVICE);
            if pipe {
                out.push(SmbOp::PipeTree {
                    tree: TreeId::Smb1(tid),
                });
            }
            out.push(SmbOp::TreeResponse { req, pipe });
        }
        // Password, then the path (UTF-16 aligned on 2 from the header).
        (SMB1_TREE_CONNECT_ANDX, false) => {
            let pw = usize::from(u16_at(words, 6).unwrap_or(0));
            let end = byte_count.map_or(rec.len(), |n| (bytes_at + n).min(rec.len()));
            let mut start = bytes_at.saturating_add(pw);
            if unicode && start % 2 == 1 {
                start += 1;
            }
            if let Some(b) = rec.get(start..end) {
                out.push(SmbOp::TreeRequest {
                    req,
                    share: decode_name(b, unicode),
                });
            }
        }
        (SMB1_TRANS, false) => {
            // Setup words follow the 14 fixed words: subcommand, then FID.
            let (Some(count), Some(off), Some(sub), Some(fid)) = (
                u16_at(words, 22),
                u16_at(words, 24),
                u16_at(words, 28),
                u16_at(words, 30),
            ) else {
                return;
            };
            if sub == TRANS_TRANSACT_NMPIPE {
                let (start, len) = data_range(usize::from(off), usize::from(count), total, ev);
                out.push(SmbOp::PipeData {
                    file: Some(FileId::Smb1(fid)),
                    req,
                    start,
                    len,
                });
            }
        }
        (SMB1_TRANS, true) => {
            let (Some(count), Some(off)) = (u16_at(words, 12), u16_at(words, 14)) else {
                return;
            };
            let (start, len) = data_range(usize::from(off), usize::from(count), total, ev);
            out.push(SmbOp::PipeData {
                file: None,
                req,
                start,
                len,
            });
        }
        (SMB1_CLOSE, false) => match u16_at(words, 0) {
            Some(fid) => out.push(SmbOp::Close {
                file: FileId::Smb1(fid),
            }),
            None => malformed(ev),
        },
        _ => {}
    }
}

fn parse_smb2(rec: &[u8], total: usize, out: &mut Vec<SmbOp>, ev: &mut Vec<SmbEvent>) {
    let mut at = 0usize;
    for _ in 0..MAX_CHAIN {
        let Some(h) = rec.get(at..at + SMB2_HEADER) else {
            if !cut(rec, total) {
                ev.push(SmbEvent::MalformedHeader);
            }
            return;
        };
        if &h[..4] != b"\xfeSMB" {
            ev.push(SmbEvent::MalformedHeader);
            return;
        }
        let status = u32_at(h, 8).unwrap_or(0);
        let command = u16_at(h, 12).unwrap_or(0);
        let flags = u32_at(h, 16).unwrap_or(0);
        let next = u32_at(h, 20).map_or(0, |n| n as usize);
        let msg_id = u64_at(h, 24).unwrap_or(0);
        let tree = TreeId::Smb2(u32_at(h, 36).unwrap_or(0));
        // The message ends at the next compounded one, or at the record's end.
        let end = if next == 0 {
            total
        } else {
            at.saturating_add(next).min(total)
        };
        let response = flags & SMB2_FLAGS_RESPONSE != 0;
        smb2_command(
            command,
            response,
            status,
            (ReqKey::Smb2(msg_id), tree),
            rec,
            (at, end),
            out,
            ev,
        );
        if next == 0 {
            return;
        }
        if next < SMB2_HEADER || at.saturating_add(next) >= total {
            ev.push(SmbEvent::CompoundBadOffset);
            return;
        }
        at += next;
    }
    ev.push(SmbEvent::ChainTooLong);
}

#[allow(clippy::too_many_arguments)]
fn smb2_command(
    command: u16,
    response: bool,
    status: u32,
    (req, tree): (ReqKey, TreeId),
    rec: &[u8],
    (hdr, end): (usize, usize),
    out: &mut Vec<SmbOp>,
    ev: &mut Vec<SmbEvent>,
) {
    let body = hdr + SMB2_HEADER;
    let cut = rec.len() < end;
    // A fixed part missing from a full record is malformed; from a partly
    // buffered one, it is just not here.
    let missing = |ev: &mut Vec<SmbEvent>| {
        if !cut {
            ev.push(SmbEvent::MalformedCommand);
        }
    };
    if response && status == STATUS_PENDING {
        return;
    }
    out.push(SmbOp::Command {
        req,
        version: 2,
        command,
        response,
    });
    match (command, response) {
        (SMB2_CREATE, false) => {
            let (Some(name_off), Some(name_len)) = (u16_at(rec, body + 44), u16_at(rec, body + 46))
            else {
                return missing(ev);
            };
            let start = hdr + usize::from(name_off);
            let stop = start + usize::from(name_len);
            match rec.get(start..stop.min(end)) {
                Some(b) if stop <= end => out.push(SmbOp::OpenRequest {
                    req,
                    tree,
                    name: decode_name(b, true),
                }),
                // A create with an empty name opens the share's root.
                _ if name_len == 0 => out.push(SmbOp::OpenRequest {
                    req,
                    tree,
                    name: String::new(),
                }),
                _ => missing(ev),
            }
        }
        (SMB2_TREE_CONNECT, true) if status == 0 => {
            let pipe = rec.get(body + 2) == Some(&SMB2_SHARE_TYPE_PIPE);
            if pipe {
                out.push(SmbOp::PipeTree { tree });
            }
            out.push(SmbOp::TreeResponse { req, pipe });
        }
        (SMB2_TREE_CONNECT, false) => {
            let (Some(off), Some(len)) = (u16_at(rec, body + 4), u16_at(rec, body + 6)) else {
                return missing(ev);
            };
            let start = hdr + usize::from(off);
            let stop = start + usize::from(len);
            if let Some(b) = rec.get(start..stop.min(end)) {
                out.push(SmbOp::TreeRequest {
                    req,
                    share: decode_name(b, true),
                });
            }
        }
        (SMB2_IOCTL, _) => {
            if response && status != 0 && status != STATUS_BUFFER_OVERFLOW {
                return;
            }
            // Request: input at +24/+28; response: output at +32/+36.
            let (off_at, len_at) = if response { (32, 36) } else { (24, 28) };
            let (Some(code), Some(g), Some(off), Some(len)) = (
                u32_at(rec, body + 4),
                guid_at(rec, body + 8),
                u32_at(rec, body + off_at),
                u32_at(rec, body + len_at),
            ) else {
                return missing(ev);
            };
            if code == FSCTL_PIPE_TRANSCEIVE {
                let start = hdr.saturating_add(off as usize);
                let (start, len) = data_range(start, len as usize, end, ev);
                out.push(SmbOp::PipeData {
                    file: Some(FileId::Smb2(g)),
                    req,
                    start,
                    len,
                });
            }
        }
        (SMB2_CREATE, true) => {
            if status != 0 {
                return;
            }
            match guid_at(rec, body + 64) {
                Some(g) => out.push(SmbOp::OpenResponse {
                    req,
                    file: FileId::Smb2(g),
                }),
                None => missing(ev),
            }
        }
        (SMB2_WRITE, false) => {
            let (Some(data_off), Some(len), Some(offset), Some(g)) = (
                u16_at(rec, body + 2),
                u32_at(rec, body + 4),
                u64_at(rec, body + 8),
                guid_at(rec, body + 16),
            ) else {
                return missing(ev);
            };
            let start = hdr + usize::from(data_off);
            let (start, len) = data_range(start, len as usize, end, ev);
            out.push(SmbOp::Write {
                file: FileId::Smb2(g),
                offset,
                start,
                len,
            });
        }
        (SMB2_READ, false) => {
            let (Some(offset), Some(g)) = (u64_at(rec, body + 8), guid_at(rec, body + 16)) else {
                return missing(ev);
            };
            out.push(SmbOp::ReadRequest {
                req,
                file: FileId::Smb2(g),
                offset,
            });
        }
        (SMB2_READ, true) => {
            if status != 0 && status != STATUS_BUFFER_OVERFLOW {
                return;
            }
            let (Some(&data_off), Some(len)) = (rec.get(body + 2), u32_at(rec, body + 4)) else {
                return missing(ev);
            };
            let start = hdr + usize::from(data_off);
            let (start, len) = data_range(start, len as usize, end, ev);
            out.push(SmbOp::ReadResponse { req, start, len });
        }
        (SMB2_CLOSE, false) => match guid_at(rec, body + 8) {
            Some(g) => out.push(SmbOp::Close {
                file: FileId::Smb2(g),
            }),
            None => missing(ev),
        },
        _ => {}
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_decode_and_are_capped() {
        assert_eq!(decode_name(b"\\\0e\0i\0\0\0x\0", true), "\\ei");
        assert_eq!(decode_name(b"abc\0def", false), "abc");
        // A lone surrogate and an odd trailing byte.
        assert_eq!(decode_name(&[0x00, 0xd8, b'a', 0, 1], true), "\u{fffd}a");
        let long: Vec<u8> = "é"
            .repeat(2000)
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let n = decode_name(&long, true);
        assert!(n.len() <= MAX_NAME && n.len() >= MAX_NAME - 1);
    }

    #[test]
    fn records_of_every_short_length_parse_totally() {
        let mut rec = b"\xfeSMB".to_vec();
        rec.resize(200, 0xff);
        for n in 0..rec.len() {
            let (mut ops, mut ev) = (Vec::new(), Vec::new());
            parse_record(&rec[..n], n, &mut ops, &mut ev);
            parse_record(&rec[..n], 1 << 20, &mut ops, &mut ev);
            rec[0] = 0xff;
            parse_record(&rec[..n], n, &mut ops, &mut ev);
            rec[0] = 0xfe;
        }
    }
}
