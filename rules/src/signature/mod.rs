//! Suricata-syntax signatures: parse, compile, prefilter, evaluate.
//!
//! * [`EngineBuilder`]: variables (Suricata's default address/port groups, settable),
//!   classification table (ET Open's by default), `threshold.config`, rules from
//!   files or strings. Bad rules never fail the load: each is recorded in the
//!   [`LoadReport`] as `file:line sid N: reason`; [`check_report`] renders what
//!   `vigie rules check` prints. [`EngineBuilder::provided_buffers`] declares the
//!   app-layer buffers the sensor fills; rules needing others load and are counted
//!   as waiting.
//! * [`Engine`]: immutable, `Send + Sync`. [`Engine::inspect`] takes a
//!   [`PacketInput`] (header fields, payload, optional reassembled stream, app-layer
//!   buffers), the flow's [`FlowVars`] (flowbits, flowint, `by_flow` thresholds) and
//!   the worker's [`DetectScratch`] (prefilter scratch, threshold/detection_filter
//!   counters, xbits), and appends [`Match`]es sharing the rule's `Arc<RuleMeta>`.
//! * Prefilter: rules are grouped by protocol class (tcp, udp, icmp, other) and
//!   direction (`flow:to_server` / `to_client`); per group and buffer (with its
//!   transforms) one Aho-Corasick automaton over the rules' fast patterns
//!   (explicit `fast_pattern`, else the longest positive content; matched
//!   ASCII-case-insensitively, confirmed by full evaluation). Rules without a
//!   pattern are keyed by app protocol or by a narrow source/destination address
//!   set (IP reputation lists) where possible, else evaluated on every packet of
//!   their group. Candidates are deduplicated and evaluated in a fixed order
//!   (pass, drop, reject, alert; then load order); a matching `pass` rule stops
//!   evaluation of the packet.
//! * Not supported (rules are rejected with the reason): `asn1`, `ftpbounce`,
//!   `app-layer-event`, `tls.version`, `ssl_version`, `ssl_state`,
//!   `dataset`/`iprep`, `lua`, hash transforms, byte_* `dce`, `xor` keyed by a
//!   byte variable, `pcrexform` patterns the `regex` crate cannot run,
//!   rule hooks (`tcp:flow_start`),
//!   Snort 3 syntax. `tag` is accepted and has no effect.
//! * xbits, hostbits and threshold counters live in the worker's
//!   [`DetectScratch`]: the dispatcher hashes flows (not hosts) to workers, so
//!   with several workers a host bit set by a flow on one worker is not seen by
//!   that host's flows on another, and counters are per worker. One worker
//!   (`--threads 1`) gives exact host semantics.
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
mod transform;

pub use buffer::{AppProto, BufferId};
pub use config::Classifications;
pub use engine::{
    check_report, BuildError, Engine, EngineBuilder, FileReport, LoadReport, RejectedRule,
};
pub use input::{
    tcp_flags, DetectScratch, FlowInfo, FlowVars, Gate, GateState, IcmpFields, IpFields, Match,
    PacketInput, TcpFields, IPOPT_EOL, IPOPT_ESEC, IPOPT_LSRR, IPOPT_NOP, IPOPT_RR, IPOPT_SATID,
    IPOPT_SEC, IPOPT_SSRR, IPOPT_TS,
};
pub use rule::{event_id, Action, RuleMeta};

#[cfg(test)]
mod keyword_table;
