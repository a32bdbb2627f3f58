//! vigie sensor: capture, decode, flow tracking, detection and EVE output.
//!
//! Stages, in the order a packet meets them: [`capture`] reads frames into
//! batches, [`pipeline`] decodes and dispatches them to workers by a symmetric
//! flow hash, workers track [`flow`]s and run detection, and [`output`] writes
//! EVE JSON in packet order.
#![deny(missing_docs)]

pub mod app;
pub mod capture;
pub mod daemon;
pub mod decode;
pub mod detect;
pub mod flow;
pub mod hub;
pub mod intel;
pub mod output;
pub mod pipeline;
pub mod ship;
pub mod suricata_conf;
