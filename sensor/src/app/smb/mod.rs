//! SMB 1 and 2/3 over NetBIOS session service (TCP 139/445): NBSS framing,
//! file handles mapped to names, and file contents (WRITE to server, READ
//! responses to client) collected in offset order for `file.data` rules.

pub mod detect;
pub mod eve;
pub mod parser;
pub mod state;

pub use parser::{FileId, ReqKey, SmbOp};
pub use state::{SmbCommand, SmbEvent, SmbFile, SmbPipe, SmbState};
