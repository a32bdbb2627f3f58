//! Detection glue: loads the signature engine, turns a decoded packet, its flow
//! and its app-layer buffers into the engine's input, and runs it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigie_rules::signature::{
    AppProto as RuleApp, BufferId, DetectScratch, Engine, EngineBuilder, FlowInfo, FlowVars,
    IcmpFields, IpFields, LoadReport, Match, PacketInput, TcpFields, IPOPT_EOL, IPOPT_ESEC,
    IPOPT_LSRR, IPOPT_NOP, IPOPT_RR, IPOPT_SATID, IPOPT_SEC, IPOPT_SSRR, IPOPT_TS,
};

use crate::app::AppProto;
use crate::decode::{ipopt, L4};
use crate::flow::table::{Direction, Flow};
use crate::pipeline::WorkPacket;

/// The rule files named by `paths`: files as given, directories expanded to
/// their `*.rules` files in name order.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "rules"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!(
                    "{}: no *.rules file in this directory",
                    p.display()
                ));
            }
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such rule file", p.display()));
        }
    }
    Ok(out)
}

/// Every buffer the sensor fills, for the engine's "waiting for buffer" report.
pub fn provided_buffers() -> Vec<BufferId> {
    crate::app::http::detect::BUFFER_NAMES
        .iter()
        .chain(crate::app::tls::detect::BUFFER_NAMES)
        .chain(crate::app::dns::detect::BUFFER_NAMES)
        .chain(crate::app::smb::detect::BUFFER_NAMES)
        .chain(crate::app::file::BUFFER_NAMES)
        .chain(["quic.version"].iter())
        .chain(crate::app::sip::detect::BUFFER_NAMES)
        .chain(crate::app::dcerpc::BUFFER_NAMES)
        .chain(crate::app::smb::detect::BUFFER_NAMES_SMB)
        .chain(crate::app::mqtt::detect::BUFFER_NAMES)
        .chain(crate::app::ssh::BUFFER_NAMES)
        .chain(crate::app::dhcp::BUFFER_NAMES)
        .chain(["pkt_data", "http.header_names"].iter())
        .filter_map(|n| BufferId::from_name(n))
        .chain(BufferId::ALL.iter().copied().filter(|b| b.is_frame()))
        .collect()
}

/// Rule variables set by the operator, over the built-in defaults
/// (`HOME_NET` = RFC 1918 ranges, `EXTERNAL_NET` = `!$HOME_NET`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleVars {
    /// Address variables (`HOME_NET` = `[10.0.0.0/8]`), applied in order.
    pub address: Vec<(String, String)>,
    /// Port variables (`HTTP_PORTS` = `[80,8080]`), applied in order.
    pub port: Vec<(String, String)>,
}

impl RuleVars {
    /// Adds `NAME=VALUE`: a port variable when the name ends in `_PORTS` or
    /// `_PORT` (as every port group of the reference IDS's defaults), an
    /// address variable otherwise.
    pub fn set_assignment(&mut self, text: &str) -> Result<(), String> {
        let (name, value) = text
            .split_once('=')
            .map(|(n, v)| (n.trim().trim_start_matches('$'), v.trim()))
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .ok_or_else(|| format!("{text:?}: expected NAME=VALUE"))?;
        let list = if name.ends_with("_PORTS") || name.ends_with("_PORT") {
            &mut self.port
        } else {
            &mut self.address
        };
        list.push((name.to_string(), value.to_string()));
        Ok(())
    }
}

/// Rule variables from an optional Suricata configuration, then the
/// operator's `NAME=VALUE` assignments over them; the configuration too, for
/// its other settings.
pub fn rule_settings(
    suricata_yaml: Option<&Path>,
    assignments: impl IntoIterator<Item = String>,
) -> Result<(RuleVars, Option<crate::suricata_conf::SuricataConf>), String> {
    let mut vars = RuleVars::default();
    let conf = match suricata_yaml {
        Some(p) => {
            let c = crate::suricata_conf::load(p)?;
            vars.address.extend(c.address_vars.iter().cloned());
            vars.port.extend(c.port_vars.iter().cloned());
            Some(c)
        }
        None => None,
    };
    for a in assignments {
        vars.set_assignment(&a)?;
    }
    Ok((vars, conf))
}

/// Loads rule files (and an optional classification file) into an engine.
/// Bad rules are reported in the load report, never fatal; only a file that
/// cannot be read, a variable that does not parse, or a build failure is an
/// error.
pub fn load_engine(
    paths: &[PathBuf],
    classification: Option<&Path>,
    vars: &RuleVars,
) -> Result<(Engine, LoadReport), String> {
    let mut b = EngineBuilder::new();
    if let Some(c) = classification {
        b.classification_file(c).map_err(|e| e.to_string())?;
    }
    // A variable may use one set after it: retry those that failed while
    // a pass makes progress, then report the first still failing.
    let mut todo: Vec<(bool, &(String, String))> = vars
        .address
        .iter()
        .map(|v| (true, v))
        .chain(vars.port.iter().map(|v| (false, v)))
        .collect();
    loop {
        let before = todo.len();
        let mut first_err = None;
        todo.retain(|(is_addr, (name, value))| {
            let r = if *is_addr {
                b.address_var(name, value).map(|_| ())
            } else {
                b.port_var(name, value).map(|_| ())
            };
            match r {
                Ok(()) => false,
                Err(e) => {
                    first_err.get_or_insert(e.to_string());
                    true
                }
            }
        });
        match first_err {
            None => break,
            Some(e) if todo.len() == before => return Err(e),
            Some(_) => {}
        }
    }
    b.provided_buffers(&provided_buffers());
    b.decode_events(
        crate::decode::DecodeEvent::ALL
            .iter()
            .map(|e| e.rule_name()),
    );
    b.app_events(
        crate::app::event_rule_names().into_iter().chain(
            crate::flow::reassembly::TcpAnomaly::ALL
                .iter()
                .filter_map(|a| a.rule_name()),
        ),
    );
    for f in rule_files(paths)? {
        b.add_file(&f).map_err(|e| e.to_string())?;
    }
    let report = b.report();
    let engine = b.build().map_err(|e| e.to_string())?;
    Ok((engine, report))
}

/// What the flow's session adds to one inspection.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionInfo<'a> {
    /// The flow's application protocol, once detected.
    pub app: Option<AppProto>,
    /// What each direction's own first bytes showed (to server, to client).
    pub app_dirs: [Option<AppProto>; 2],
    /// A protocol was detected with this packet.
    pub app_detected: bool,
    /// TCP sequence space used by (client, server), for `stream_size`.
    pub stream_size: Option<(u64, u64)>,
    /// `flow:established`: TCP handshake seen and session not closed; other
    /// protocols: traffic seen both ways.
    pub established: bool,
    /// Stream bytes this packet made available in order, preceded by the
    /// given number of bytes of earlier stream data (context for patterns
    /// split over segments).
    pub stream: Option<(&'a [u8], usize)>,
    /// Inspect only rules that use app-layer buffers (a transaction part after
    /// the packet pass).
    pub app_only: bool,
    /// App-layer and stream events raised with the packet, or carried by the
    /// transaction part inspected ([`vigie_rules::signature::event_id`]s).
    pub events: &'a [u32],
    /// When the buffers hold both sides of a transaction (request side
    /// first): index of the first response-side buffer.
    pub to_client_buffers_from: Option<usize>,
}

/// One worker's detection state.
pub struct Detector {
    engine: Arc<Engine>,
    scratch: DetectScratch,
    /// Matches of the last inspection.
    pub matches: Vec<Match>,
    /// The frames the engine's rules inspect.
    frames: crate::app::frames::FrameNeeds,
}

fn rule_app(p: Option<AppProto>) -> RuleApp {
    match p {
        None => RuleApp::Unknown,
        Some(AppProto::Http) => RuleApp::Http1,
        Some(AppProto::Http2) => RuleApp::Http2,
        Some(AppProto::Tls) => RuleApp::Tls,
        Some(AppProto::Dns) => RuleApp::Dns,
        Some(AppProto::Mdns) => RuleApp::Mdns,
        Some(AppProto::Llmnr) => RuleApp::Llmnr,
        Some(AppProto::Quic) => RuleApp::from_name("quic").unwrap_or(RuleApp::Unknown),
        Some(AppProto::Smb) => RuleApp::Smb,
        Some(AppProto::Ssh) => RuleApp::Ssh,
        Some(AppProto::Smtp) => RuleApp::Smtp,
        Some(AppProto::Tftp) => RuleApp::Tftp,
        Some(AppProto::Dhcp) => RuleApp::Dhcp,
        Some(AppProto::Sip) => RuleApp::Sip,
        Some(AppProto::Dcerpc) => RuleApp::Dcerpc,
        Some(AppProto::Mqtt) => RuleApp::Mqtt,
        Some(AppProto::Unknown) => RuleApp::Failed,
    }
}

fn ipopts(bits: u16) -> u32 {
    let map = [
        (ipopt::RR, IPOPT_RR),
        (ipopt::LSRR, IPOPT_LSRR),
        (ipopt::SSRR, IPOPT_SSRR),
        (ipopt::TS, IPOPT_TS),
        (ipopt::SEC, IPOPT_SEC),
        (ipopt::ESEC, IPOPT_ESEC),
        (ipopt::SATID, IPOPT_SATID),
        (ipopt::EOL, IPOPT_EOL),
        (ipopt::NOP, IPOPT_NOP),
    ];
    map.iter()
        .filter(|(d, _)| bits & d != 0)
        .fold(0, |acc, (_, r)| acc | r)
}

impl Detector {
    /// A detector over a shared engine.
    /// Matches carry their address-tracked thresholds as gates, for the
    /// output stage to apply in packet order across workers.
    pub fn new(engine: Arc<Engine>) -> Self {
        let mut scratch = DetectScratch::default();
        scratch.defer_address_tracking(true);
        let frames = crate::app::frames::FrameNeeds::from_uses(|b| engine.uses_buffer(b));
        Detector {
            engine,
            scratch,
            matches: Vec::new(),
            frames,
        }
    }

    /// The app-layer frames some loaded rule inspects.
    pub fn frame_needs(&self) -> crate::app::frames::FrameNeeds {
        self.frames
    }

    /// Whether some loaded rule inspects buffer `b`.
    pub fn uses_buffer(&self, b: BufferId) -> bool {
        self.engine.uses_buffer(b)
    }

    /// Runs the `decode-event` rules on a packet the decoder raised `events`
    /// on, outside any flow (the packet may have no IP layer, or be a held
    /// fragment): `l3` is its addresses and protocol when it got that far,
    /// `ports` its transport ports when decoded.
    pub fn inspect_events(
        &mut self,
        ts_ns: u64,
        l3: Option<(std::net::IpAddr, std::net::IpAddr, u8)>,
        ports: (u16, u16),
        events: &[u32],
    ) {
        let unspecified = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        let (src, dst, proto) = l3.unwrap_or((unspecified, unspecified, 0));
        let mut input = PacketInput::new(src, dst, proto, &[]);
        input.ts_micros = ts_ns / 1000;
        (input.sport, input.dport) = ports;
        input.decode_events = events;
        self.inspect_flowless(&input);
    }

    /// Runs the `arp` rules on an ARP frame.
    pub fn inspect_arp(&mut self, ts_ns: u64, arp: &crate::decode::Arp) {
        let mut input = PacketInput::new(arp.spa.into(), arp.tpa.into(), 0, &[]);
        input.ts_micros = ts_ns / 1000;
        input.arp = true;
        self.inspect_flowless(&input);
    }

    /// Runs the engine on a packet that belongs to no flow (no rule state).
    fn inspect_flowless(&mut self, input: &PacketInput<'_>) {
        self.matches.clear();
        self.engine.inspect(
            input,
            &mut FlowVars::default(),
            &mut self.scratch,
            &mut self.matches,
        );
    }

    /// Runs the engine on one packet of `flow` going in `dir`, with the
    /// app-layer `buffers` that became available with it; `sess` is what the
    /// flow's session knows (app protocol, handshake, new stream bytes). Matches are left in
    /// `self.matches`, in the engine's deterministic order.
    #[allow(clippy::too_many_arguments)]
    pub fn inspect(
        &mut self,
        p: &WorkPacket,
        bytes: &[u8],
        flow: &Flow,
        dir: Direction,
        sess: SessionInfo<'_>,
        vars: &mut FlowVars,
        buffers: &[(BufferId, &[u8])],
    ) {
        self.matches.clear();
        let Some(l3) = p.dec.l3 else { return };
        let start = (p.dec.payload_off as usize).min(bytes.len());
        let end = (start + p.dec.payload_len as usize).min(bytes.len());
        let payload = &bytes[start..end];
        // Raw headers for `ipv4.hdr`, `tcp.hdr`, ...: slices, no copy.
        let ip_off = (p.dec.ip_off as usize).min(start);
        let l4_off = (p.dec.l4_off as usize).clamp(ip_off, start);
        let l3_header = &bytes[ip_off..l4_off];
        let l4_header = &bytes[l4_off..start];
        let (sport, dport) = p.dec.ports();
        let tcp = match p.dec.l4 {
            L4::Tcp(t) => Some(TcpFields {
                flags: t.flags,
                seq: t.seq,
                ack: t.ack,
                window: t.window,
                mss: t.mss,
            }),
            _ => None,
        };
        let icmp = match p.dec.l4 {
            L4::Icmp4 {
                itype,
                code,
                id,
                seq,
            }
            | L4::Icmp6 {
                itype,
                code,
                id,
                seq,
            } => {
                let echo = matches!(itype, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18 | 128 | 129);
                Some(IcmpFields {
                    itype,
                    icode: code,
                    id: echo.then_some(id),
                    seq: echo.then_some(seq),
                })
            }
            _ => None,
        };
        let input = PacketInput {
            ts_micros: p.ts_ns / 1000,
            src: l3.src,
            dst: l3.dst,
            sport,
            dport,
            proto: l3.proto,
            ip: IpFields {
                ttl: l3.ttl,
                id: l3.id,
                tos: l3.tos,
                df: l3.df,
                mf: l3.mf,
                rb: l3.rb,
                frag_offset: l3.frag_offset,
                ipopts: ipopts(l3.ipopts),
            },
            is_fragment: false,
            tcp,
            icmp,
            payload,
            vlan: p
                .dec
                .vlan
                .get(..p.dec.vlan_count as usize)
                .unwrap_or_default(),
            l3_header,
            l4_header,
            flow: FlowInfo {
                tracked: true,
                to_server: dir == Direction::ToServer,
                established: sess.established,
                app_proto: rule_app(sess.app),
                app_proto_ts: sess.app_dirs[0].map_or(RuleApp::Unknown, |a| rule_app(Some(a))),
                app_proto_tc: sess.app_dirs[1].map_or(RuleApp::Unknown, |a| rule_app(Some(a))),
                app_detected: sess.app_detected,
                first_in_direction: flow.pkts[dir as usize] == 1,
                bytes_to_server: flow.bytes[0],
                bytes_to_client: flow.bytes[1],
                pkts_to_server: flow.pkts[0],
                pkts_to_client: flow.pkts[1],
                stream_size: sess.stream_size,
            },
            stream: sess.stream.map(|(s, _)| s),
            stream_context: sess.stream.map_or(0, |(_, c)| c),
            buffers,
            to_client_buffers_from: sess.to_client_buffers_from,
            decode_events: &[],
            events: sess.events,
            arp: false,
            app_only: sess.app_only,
        };
        self.engine
            .inspect(&input, vars, &mut self.scratch, &mut self.matches);
    }
}
