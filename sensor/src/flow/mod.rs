//! Flow tracking: per-worker flow table and TCP stream reassembly.

pub mod reassembly;
pub mod session;
pub mod table;

pub use table::{
    Direction, EndReason, Flow, FlowConfig, FlowKey, FlowPacket, FlowState, FlowTable,
};
