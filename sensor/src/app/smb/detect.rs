//! SMB detection buffers.

use super::state::SmbFile;

/// Buffer names SMB files provide.
pub const BUFFER_NAMES: &[&str] = &["file.data"];

/// Buffer names SMB command transactions provide.
pub const BUFFER_NAMES_SMB: &[&str] = &["smb.version", "smb.share", "smb.named_pipe"];

impl SmbFile {
    /// Calls `f(name, bytes)` for each detection buffer of this file that
    /// has content.
    pub fn for_each_buffer<'a>(&'a self, mut f: impl FnMut(&'static str, &'a [u8])) {
        if !self.data.is_empty() {
            f("file.data", &self.data);
        }
    }
}
