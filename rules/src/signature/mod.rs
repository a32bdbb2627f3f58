//! Suricata-syntax signatures: parse, compile, prefilter (Aho-Corasick over
//! each rule's fast pattern, grouped by protocol and buffer), evaluate.
//!
//! ```
//! use vigie_rules::signature::{EngineBuilder, PacketInput, FlowVars, DetectScratch};
//! let mut b = EngineBuilder::new();
//! b.add_str(r#"alert udp any any -> any 53 (msg:"x"; content:"evil"; nocase; sid:1;)"#, "inline");
//! let engine = b.build().unwrap();
//! let mut p = PacketInput::new("10.0.0.1".parse().unwrap(), "8.8.8.8".parse().unwrap(), 17, b"..EVIL..");
//! p.dport = 53;
//! let (mut fv, mut sc, mut out) = (FlowVars::default(), DetectScratch::new(), Vec::new());
//! engine.inspect(&p, &mut fv, &mut sc, &mut out);
//! assert_eq!(out[0].rule.sid, 1);
//! ```

mod addr;
mod buffer;
mod config;
mod engine;
mod input;
mod matcher;
mod rule;
mod text;

pub use buffer::{AppProto, BufferId};
pub use config::Classifications;
pub use engine::{
    check_report, BuildError, Engine, EngineBuilder, FileReport, LoadReport, RejectedRule,
};
pub use input::{
    tcp_flags, DetectScratch, FlowInfo, FlowVars, IcmpFields, IpFields, Match, PacketInput,
    TcpFields, IPOPT_EOL, IPOPT_ESEC, IPOPT_LSRR, IPOPT_NOP, IPOPT_RR, IPOPT_SATID, IPOPT_SEC,
    IPOPT_SSRR, IPOPT_TS,
};
pub use rule::{Action, RuleMeta};

#[cfg(test)]
mod keyword_table;
