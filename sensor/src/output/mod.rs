//! Outputs: EVE JSON encoding and the stats event.

pub mod eve;
pub mod flowlog;
pub mod stats;
