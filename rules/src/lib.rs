//! vigie detection library: the Suricata rule language (parse, compile, prefilter,
//! evaluate) and indicator sets with their loaders. Pure library: no threads, no
//! sockets, no I/O on the hot path.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod intel;
pub mod signature;
