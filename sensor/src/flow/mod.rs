//! Flow tracking: per-worker flow table and TCP stream reassembly.

pub mod reassembly;
