//! Engine builder (load rules, collect per-rule errors), the compiled engine
//! with its prefilter, and packet inspection.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::addr::{parse_addr, parse_ports, AddrIndex, Vars};
use super::buffer::{AppProto, BufferId};
use super::config::{Classifications, ThresholdConfig};
use super::input::{
    tracked, DetectScratch, FlowVars, Gate, Match, PacketInput, TrackEntry, TrackKey, MAX_TRACKS,
};
use super::matcher::{match_list, ListCtx};
use super::rule::{
    compile_rule, event_id, Action, AlpSide, BitAct, BitCond, ByteOp, CompileCtx, FlagMode,
    FlowSide, Hdr, IntAct, IntCond, KnownEvents, MultiIndex, Names, PktCheck, Rule, RuleMeta, Src,
    StreamSel, StreamWhich, Threshold, Track, Transform, Transport, VlanLayer, XOp, XTrack, Xbit,
};
use super::text::logical_lines;
use super::transform::apply_transforms;

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// Error from building an engine or reading its input files.
#[derive(Debug)]
pub struct BuildError {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    Io { path: PathBuf, err: std::io::Error },
    Var { name: String, reason: String },
    Prefilter(String),
    TooManyRules(usize),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Io { path, err } => write!(f, "cannot read {}: {err}", path.display()),
            ErrorKind::Var { name, reason } => write!(f, "bad value for variable {name}: {reason}"),
            ErrorKind::Prefilter(e) => write!(f, "cannot build the prefilter automaton: {e}"),
            ErrorKind::TooManyRules(n) => write!(
                f,
                "too many rules ({n}); at most {} are supported",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}

/// One rule that did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRule {
    /// File or origin name.
    pub origin: Arc<str>,
    /// Line of the rule's first line.
    pub line: usize,
    /// The rule's sid, if it could be read.
    pub sid: Option<u32>,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for RejectedRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sid {
            Some(s) => write!(
                f,
                "{}:{} sid {}: {}",
                self.origin, self.line, s, self.reason
            ),
            None => write!(f, "{}:{} sid ?: {}", self.origin, self.line, self.reason),
        }
    }
}

impl RejectedRule {
    /// Reason without its specifics (text before the first ':'), for grouping.
    pub fn reason_kind(&self) -> &str {
        match self.reason.find(": ") {
            Some(i) => &self.reason[..i],
            None => &self.reason,
        }
    }
}

/// Per-origin counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// File or origin name.
    pub origin: Arc<str>,
    /// Rules loaded.
    pub loaded: usize,
    /// Rules rejected.
    pub rejected: usize,
}

/// What loading rules did: per-file counts, every rejected rule with its
/// reason, rules waiting for a buffer the sensor does not provide, and config errors.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// One entry per file/origin, in load order.
    pub files: Vec<FileReport>,
    /// Every rejected rule, in load order.
    pub rejected: Vec<RejectedRule>,
    /// Loaded rules that need a buffer the sensor does not provide yet, per buffer.
    pub waiting: BTreeMap<BufferId, usize>,
    /// Errors in classification/threshold config and variables, as `origin:line: reason`.
    pub config_errors: Vec<String>,
}

impl LoadReport {
    /// Rules loaded in total.
    pub fn loaded(&self) -> usize {
        self.files.iter().map(|f| f.loaded).sum()
    }

    /// Rules rejected in total.
    pub fn rejected_count(&self) -> usize {
        self.rejected.len()
    }

    /// Rejection reasons grouped by [`RejectedRule::reason_kind`], most frequent first.
    pub fn reasons(&self) -> Vec<(String, usize)> {
        let mut m: HashMap<&str, usize> = HashMap::new();
        for r in &self.rejected {
            *m.entry(r.reason_kind()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// The text `vigie rules check` prints: per-file counts, each rejected rule as
/// `file:line sid N: reason`, rules waiting for buffers, config errors, and a
/// last line `N rules loaded, M rejected`.
pub fn check_report(report: &LoadReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for f in &report.files {
        let _ = writeln!(
            s,
            "{}: {} loaded, {} rejected",
            f.origin, f.loaded, f.rejected
        );
    }
    for r in &report.rejected {
        let _ = writeln!(s, "{r}");
    }
    for e in &report.config_errors {
        let _ = writeln!(s, "{e}");
    }
    for (b, n) in &report.waiting {
        let _ = writeln!(s, "{n} rules waiting for buffer {b}");
    }
    let _ = write!(
        s,
        "{} rules loaded, {} rejected",
        report.loaded(),
        report.rejected_count()
    );
    s
}

/// Collects variables, configs and rules, then builds an [`Engine`].
/// Set variables and classifications before adding rules: rules are compiled as they are added.
#[derive(Debug)]
pub struct EngineBuilder {
    vars: Vars,
    classes: Classifications,
    thresholds: ThresholdConfig,
    provided: Option<Vec<BufferId>>,
    decode_events: std::collections::HashSet<u32>,
    app_events: KnownEvents,
    prefilter: bool,
    rules: Vec<Rule>,
    names: Names,
    report: LoadReport,
    sids: HashMap<(u32, u32), (Arc<str>, usize)>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineBuilder {
    /// A builder with Suricata's default variables and the built-in classification table.
    pub fn new() -> Self {
        EngineBuilder {
            vars: Vars::default(),
            classes: Classifications::default(),
            thresholds: ThresholdConfig::default(),
            provided: None,
            decode_events: Default::default(),
            app_events: KnownEvents::default(),
            prefilter: true,
            rules: Vec::new(),
            names: Names::default(),
            report: LoadReport::default(),
            sids: HashMap::new(),
        }
    }

    /// Sets an address variable (`HOME_NET` = `"[10.0.0.0/8]"`); name without `$`.
    pub fn address_var(&mut self, name: &str, value: &str) -> Result<&mut Self, BuildError> {
        let name = name.trim_start_matches('$').to_string();
        self.names.clear_exprs();
        let old = self.vars.addr.insert(name.clone(), value.to_string());
        if let Err(reason) = parse_addr(value, &self.vars) {
            match old {
                Some(o) => self.vars.addr.insert(name.clone(), o),
                None => self.vars.addr.remove(&name),
            };
            return Err(BuildError {
                kind: ErrorKind::Var { name, reason },
            });
        }
        Ok(self)
    }

    /// Sets a port variable (`HTTP_PORTS` = `"[80,8080]"`); name without `$`.
    pub fn port_var(&mut self, name: &str, value: &str) -> Result<&mut Self, BuildError> {
        let name = name.trim_start_matches('$').to_string();
        self.names.clear_exprs();
        let old = self.vars.port.insert(name.clone(), value.to_string());
        if let Err(reason) = parse_ports(value, &self.vars) {
            match old {
                Some(o) => self.vars.port.insert(name.clone(), o),
                None => self.vars.port.remove(&name),
            };
            return Err(BuildError {
                kind: ErrorKind::Var { name, reason },
            });
        }
        Ok(self)
    }

    /// Replaces the classification table.
    pub fn classifications(&mut self, c: Classifications) -> &mut Self {
        self.classes = c;
        self
    }

    /// Adds the entries of a classification.config text; bad lines go to the report.
    pub fn classification_str(&mut self, text: &str, origin: &str) -> &mut Self {
        for (line, e) in self.classes.parse(text) {
            self.report
                .config_errors
                .push(format!("{origin}:{line}: {e}"));
        }
        self
    }

    /// Reads a classification.config file.
    pub fn classification_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, BuildError> {
        let p = path.as_ref();
        let text = read(p)?;
        Ok(self.classification_str(&text, &p.display().to_string()))
    }

    /// Adds threshold.config lines (`suppress`, `threshold`, `event_filter`, `rate_filter`).
    pub fn threshold_str(&mut self, text: &str, origin: &str) -> &mut Self {
        for (line, e) in self.thresholds.parse(text, &self.vars) {
            self.report
                .config_errors
                .push(format!("{origin}:{line}: {e}"));
        }
        self
    }

    /// Reads a threshold.config file.
    pub fn threshold_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, BuildError> {
        let p = path.as_ref();
        let text = read(p)?;
        Ok(self.threshold_str(&text, &p.display().to_string()))
    }

    /// Declares the decoder events the sensor raises (names as in
    /// `decode-event`, e.g. `ipv4.trunc_pkt`): rules naming another are
    /// rejected with that reason. Without this call any name loads.
    pub fn decode_events<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) -> &mut Self {
        self.decode_events = names.into_iter().map(event_id).collect();
        self
    }

    /// Declares the app-layer and TCP stream events the sensor raises, as
    /// `proto.event` (`http.request_chunk_extension`,
    /// `stream.reassembly_seq_gap`, `applayer.mismatch_protocol_both_directions`):
    /// `app-layer-event` and `stream-event` rules naming another are rejected
    /// with that reason. Without this call any name loads.
    pub fn app_events<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) -> &mut Self {
        let mut k = KnownEvents::default();
        for n in names {
            let n = n.to_ascii_lowercase();
            k.ids.insert(event_id(&n));
            if let Some((p, _)) = n.split_once('.') {
                k.protos.insert(p.to_string());
            }
        }
        self.app_events = k;
        self
    }

    /// Declares the app-layer buffers the sensor fills. Rules needing others still
    /// load and are counted as waiting. Without this call every buffer counts as provided.
    pub fn provided_buffers(&mut self, buffers: &[BufferId]) -> &mut Self {
        self.provided = Some(buffers.to_vec());
        self
    }

    /// Turns the prefilter on (default) or off (every rule of the protocol group is evaluated).
    pub fn prefilter(&mut self, on: bool) -> &mut Self {
        self.prefilter = on;
        self
    }

    /// Parses rules from text; `origin` names it in the report. Never fails:
    /// bad rules are recorded in the report.
    pub fn add_str(&mut self, text: &str, origin: &str) -> &mut Self {
        let origin: Arc<str> = Arc::from(origin);
        let mut file = FileReport {
            origin: origin.clone(),
            loaded: 0,
            rejected: 0,
        };
        let mut ctx = CompileCtx {
            vars: &self.vars,
            classes: &self.classes,
            names: &mut self.names,
            origin: origin.clone(),
            decode_events: &self.decode_events,
            app_events: &self.app_events,
        };
        for l in logical_lines(text) {
            match compile_rule(&l.text, l.line, &mut ctx) {
                Ok(rule) => {
                    let key = (rule.meta.gid, rule.meta.sid);
                    if let Some((o, line)) = self.sids.get(&key).cloned() {
                        let old = self
                            .rules
                            .iter()
                            .position(|r| (r.meta.gid, r.meta.sid) == key);
                        // As the reference IDS: a higher rev replaces the
                        // loaded rule, any other is refused.
                        let newer = old
                            .and_then(|i| self.rules.get(i))
                            .is_some_and(|r| rule.meta.rev > r.meta.rev);
                        let Some(i) = old.filter(|_| newer) else {
                            file.rejected += 1;
                            self.report.rejected.push(RejectedRule {
                                origin: origin.clone(),
                                line: l.line,
                                sid: Some(rule.meta.sid),
                                reason: format!("duplicate sid (first loaded at {o}:{line})"),
                            });
                            continue;
                        };
                        self.report.rejected.push(RejectedRule {
                            origin: o.clone(),
                            line,
                            sid: Some(rule.meta.sid),
                            reason: format!(
                                "replaced by rev {} of the same sid at {origin}:{}",
                                rule.meta.rev, l.line
                            ),
                        });
                        let counts = if o == origin {
                            Some(&mut file)
                        } else {
                            self.report.files.iter_mut().rev().find(|f| f.origin == o)
                        };
                        if let Some(f) = counts {
                            f.loaded -= 1;
                            f.rejected += 1;
                        }
                        self.sids.insert(key, (origin.clone(), l.line));
                        file.loaded += 1;
                        self.rules[i] = rule;
                        continue;
                    }
                    self.sids.insert(key, (origin.clone(), l.line));
                    file.loaded += 1;
                    self.rules.push(rule);
                }
                Err(e) => {
                    file.rejected += 1;
                    self.report.rejected.push(RejectedRule {
                        origin: origin.clone(),
                        line: l.line,
                        sid: e.sid,
                        reason: e.reason,
                    });
                }
            }
        }
        self.report.files.push(file);
        self
    }

    /// Reads a rules file, or every `*.rules` file of a directory (sorted by name).
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, BuildError> {
        let p = path.as_ref();
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|err| BuildError {
                kind: ErrorKind::Io {
                    path: p.to_path_buf(),
                    err,
                },
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "rules"))
                .collect();
            files.sort();
            for f in files {
                self.add_file(&f)?;
            }
            return Ok(self);
        }
        let text = read(p)?;
        Ok(self.add_str(&text, &p.display().to_string()))
    }

    /// The report so far (waiting counts reflect the current `provided_buffers`).
    pub fn report(&self) -> LoadReport {
        let mut r = self.report.clone();
        r.waiting = self.waiting();
        r
    }

    fn waiting(&self) -> BTreeMap<BufferId, usize> {
        let mut w = BTreeMap::new();
        if let Some(p) = &self.provided {
            for r in &self.rules {
                for b in r.needed_buffers() {
                    if !p.contains(&b) {
                        *w.entry(b).or_insert(0) += 1;
                    }
                }
            }
        }
        w
    }

    /// Compiles the prefilter and returns the engine.
    pub fn build(self) -> Result<Engine, BuildError> {
        let mut report = self.report.clone();
        report.waiting = self.waiting();
        let EngineBuilder {
            thresholds,
            provided,
            prefilter,
            mut rules,
            ..
        } = self;
        if rules.len() > u32::MAX as usize / 4 {
            return Err(BuildError {
                kind: ErrorKind::TooManyRules(rules.len()),
            });
        }
        // Suricata's default action order: pass, drop, reject, alert; then load order.
        rules.sort_by_key(|r| action_rank(r.meta.action));
        let mut groups: Vec<GroupBuild> = (0..GROUPS).map(|_| GroupBuild::default()).collect();
        for (idx, r) in rules.iter().enumerate() {
            let needs = r.needed_buffers();
            if let Some(p) = &provided {
                if needs.iter().any(|b| !p.contains(b)) {
                    continue;
                }
            }
            let mask = group_mask(r);
            let fp = if prefilter { r.fast_pattern() } else { None };
            for (g, gb) in groups.iter_mut().enumerate() {
                if mask & (1 << g) == 0 {
                    continue;
                }
                match fp {
                    Some((li, pat)) => {
                        let l = &r.lists[li];
                        gb.add(l.src, &l.transforms, pat, idx as u32);
                    }
                    None => gb.add_always(r, idx as u32),
                }
            }
        }
        let mut built = Vec::with_capacity(GROUPS);
        for gb in groups {
            built.push(gb.build(&rules)?);
        }
        // Event rules are also inspected with each transaction part: events
        // raised on a transaction come with it, not with the packet.
        let app_rule = rules
            .iter()
            .map(|r| {
                !r.needed_buffers().is_empty()
                    || r.checks.iter().any(|c| matches!(c, PktCheck::Event(_)))
            })
            .collect();
        let mut used_buffers: Vec<BufferId> =
            rules.iter().flat_map(|r| r.needed_buffers()).collect();
        used_buffers.sort();
        used_buffers.dedup();
        Ok(Engine {
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            app_rule,
            used_buffers,
            rules,
            groups: built,
            thresholds,
            report,
        })
    }
}

fn read(p: &Path) -> Result<String, BuildError> {
    let bytes = std::fs::read(p).map_err(|err| BuildError {
        kind: ErrorKind::Io {
            path: p.to_path_buf(),
            err,
        },
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn action_rank(a: Action) -> u8 {
    match a {
        Action::Pass => 0,
        Action::Drop => 1,
        Action::Reject | Action::RejectSrc | Action::RejectDst | Action::RejectBoth => 2,
        Action::Alert => 3,
    }
}

/// Groups: 4 protocol classes, each split by flow direction (to server, to client).
const GROUPS: usize = 8;
const G_TCP: usize = 0;
const G_UDP: usize = 1;
const G_ICMP: usize = 2;
const G_OTHER: usize = 3;

fn group_of(proto: u8, to_client: bool) -> usize {
    let g = match proto {
        6 => G_TCP,
        17 => G_UDP,
        1 | 58 => G_ICMP,
        _ => G_OTHER,
    };
    g + 4 * usize::from(to_client)
}

/// Protocol groups a rule can match in.
fn group_mask(r: &Rule) -> u8 {
    let t = 1 << G_TCP;
    let u = 1 << G_UDP;
    let base = match r.transport {
        Transport::Any => 0b1111,
        Transport::Tcp => t,
        Transport::Udp => u,
        Transport::Icmp => 1 << G_ICMP,
        Transport::Sctp | Transport::Arp => 1 << G_OTHER,
    };
    let app = match r.app {
        None => 0b1111,
        Some((a, _)) => match a {
            AppProto::Dns
            | AppProto::Llmnr
            | AppProto::Dcerpc
            | AppProto::Krb5
            | AppProto::Nfs
            | AppProto::Enip
            | AppProto::Ldap
            | AppProto::Sip => t | u,
            AppProto::Dhcp
            | AppProto::Mdns
            | AppProto::Snmp
            | AppProto::Tftp
            | AppProto::Ntp
            | AppProto::Ike
            | AppProto::Quic
            | AppProto::Bittorrent => u,
            _ => t,
        },
    };
    let protos = base & app;
    // A rule tied to one direction goes only into that direction's groups.
    match r.flow.to_server {
        Some(true) => protos,
        Some(false) => protos << 4,
        None => protos | protos << 4,
    }
}

/// Automata with at most this many pattern bytes are built as DFAs.
const DFA_MAX_PATTERN_BYTES: usize = 32 * 1024;

#[derive(Default)]
struct GroupBuild {
    always: Vec<u32>,
    by_event: Vec<(u32, Vec<u32>)>,
    by_app: Vec<(AppProto, bool, Vec<u32>)>,
    by_src: Vec<u32>,
    by_dst: Vec<u32>,
    pfs: Vec<PfBuild>,
}

struct PfBuild {
    src: Src,
    transforms: Vec<Transform>,
    pats: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    rules: Vec<Vec<u32>>,
}

impl GroupBuild {
    /// Routes a rule without fast pattern: by app protocol, else by a narrow
    /// source or destination address set, else to the every-packet list.
    fn add_always(&mut self, r: &Rule, idx: u32) {
        if let Some(ev) = r.event() {
            match self.by_event.iter_mut().find(|(e, _)| *e == ev) {
                Some((_, v)) => v.push(idx),
                None => self.by_event.push((ev, vec![idx])),
            }
        } else if let Some((a, any)) = r.app {
            match self
                .by_app
                .iter_mut()
                .find(|(x, y, _)| *x == a && *y == any)
            {
                Some((_, _, v)) => v.push(idx),
                None => self.by_app.push((a, any, vec![idx])),
            }
        } else if !r.bidir && !r.txbidir && r.src.is_narrow() {
            self.by_src.push(idx);
        } else if !r.bidir && !r.txbidir && r.dst.is_narrow() {
            self.by_dst.push(idx);
        } else {
            self.always.push(idx);
        }
    }

    fn add(&mut self, src: Src, transforms: &[Transform], pat: &[u8], rule: u32) {
        let pf = match self
            .pfs
            .iter()
            .position(|p| p.src == src && p.transforms == transforms)
        {
            Some(i) => &mut self.pfs[i],
            None => {
                self.pfs.push(PfBuild {
                    src,
                    transforms: transforms.to_vec(),
                    pats: Vec::new(),
                    index: HashMap::new(),
                    rules: Vec::new(),
                });
                let n = self.pfs.len() - 1;
                &mut self.pfs[n]
            }
        };
        let key = pat.to_ascii_lowercase();
        let id = match pf.index.get(&key) {
            Some(&i) => i,
            None => {
                pf.pats.push(key.clone());
                pf.rules.push(Vec::new());
                pf.index.insert(key, pf.pats.len() - 1);
                pf.pats.len() - 1
            }
        };
        pf.rules[id].push(rule);
    }

    fn build(self, all: &[Rule]) -> Result<Group, BuildError> {
        let mut pfs = Vec::with_capacity(self.pfs.len());
        for p in self.pfs {
            // Small payload automata (scanned on every packet) become DFAs, several times
            // faster to scan. App buffers are short and big sets stay
            // contiguous NFAs: on ET Open's tcp payload set a DFA cost ~27 MB for ~15%.
            let bytes: usize = p.pats.iter().map(Vec::len).sum();
            let kind = (p.src == Src::Payload && bytes <= DFA_MAX_PATTERN_BYTES)
                .then_some(AhoCorasickKind::DFA);
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .kind(kind)
                .build(&p.pats)
                .map_err(|e| BuildError {
                    kind: ErrorKind::Prefilter(e.to_string()),
                })?;
            let rules = p.rules.into_iter().map(Vec::into_boxed_slice).collect();
            pfs.push(Prefilter {
                src: p.src,
                transforms: p.transforms,
                ac,
                rules,
            });
        }
        let mut always = self.always;
        always.sort_unstable();
        let src_index = AddrIndex::build(
            self.by_src
                .iter()
                .filter_map(|&i| all.get(i as usize).map(|r| (&*r.src, i))),
        );
        let dst_index = AddrIndex::build(
            self.by_dst
                .iter()
                .filter_map(|&i| all.get(i as usize).map(|r| (&*r.dst, i))),
        );
        Ok(Group {
            always,
            by_event: self.by_event,
            by_app: self.by_app,
            src_index,
            dst_index,
            pfs,
        })
    }
}

#[derive(Debug)]
struct Prefilter {
    src: Src,
    transforms: Vec<Transform>,
    ac: AhoCorasick,
    /// Pattern id -> rules whose fast pattern it is.
    rules: Vec<Box<[u32]>>,
}

#[derive(Debug)]
struct Group {
    /// Rules without a fast pattern and without a narrower key: evaluated for every packet.
    always: Vec<u32>,
    /// Rules without a fast pattern that require an event (decoder, app-layer
    /// or stream), by event id: candidates only when the event was raised.
    by_event: Vec<(u32, Vec<u32>)>,
    /// Rules without a fast pattern, by the app protocol in their header.
    by_app: Vec<(AppProto, bool, Vec<u32>)>,
    /// Rules without a fast pattern and with a narrow source (resp. destination) set.
    src_index: AddrIndex,
    dst_index: AddrIndex,
    pfs: Vec<Prefilter>,
}

/// Compiled, immutable rule set. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    id: u64,
    rules: Vec<Rule>,
    /// Per rule: it uses an app-layer buffer (inspected in app-only passes).
    app_rule: Vec<bool>,
    /// Buffers some loaded rule inspects, sorted.
    used_buffers: Vec<BufferId>,
    groups: Vec<Group>,
    thresholds: ThresholdConfig,
    report: LoadReport,
}

fn mark(scratch: &mut DetectScratch, r: u32) {
    let (w, b) = ((r / 64) as usize, r % 64);
    if let Some(word) = scratch.seen.get_mut(w) {
        if *word & (1 << b) == 0 {
            *word |= 1 << b;
            scratch.candidates.push(r);
        }
    }
}

impl Engine {
    /// Number of loaded rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The load report of this engine.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Metadata of every rule, in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<RuleMeta>> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// Per group (tcp, udp, icmp, other to server, then the same to client): rules
    /// without fast pattern,
    /// and (buffer name, patterns) of each prefilter automaton.
    pub fn prefilter_stats(&self) -> Vec<(usize, Vec<(String, usize)>)> {
        self.groups
            .iter()
            .map(|g| {
                (
                    g.always.len() + g.by_app.iter().map(|a| a.2.len()).sum::<usize>(),
                    g.pfs
                        .iter()
                        .map(|p| (super::rule::src_name(p.src).to_string(), p.rules.len()))
                        .collect(),
                )
            })
            .collect()
    }

    /// Whether some loaded rule inspects buffer `b`: costly buffers are
    /// built only then.
    pub fn uses_buffer(&self, b: BufferId) -> bool {
        self.used_buffers.binary_search(&b).is_ok()
    }

    /// Number of prefilter automata (all groups and buffers).
    pub fn prefilter_count(&self) -> usize {
        self.groups.iter().map(|g| g.pfs.len()).sum()
    }

    /// Inspects one packet: appends a [`Match`] per matching rule to `out`
    /// (in evaluation order) and updates the flow's flowbits/flowints and the
    /// worker's threshold counters.
    pub fn inspect(
        &self,
        input: &PacketInput<'_>,
        flow: &mut FlowVars,
        scratch: &mut DetectScratch,
        out: &mut Vec<Match>,
    ) {
        flow.bind(self.id);
        if scratch.engine_id != self.id {
            scratch.engine_id = self.id;
            scratch.seen.clear();
            scratch.seen.resize(self.rules.len().div_ceil(64), 0);
            scratch.tracks.clear();
            scratch.xbits.clear();
        }
        // Whether the stream bytes this packet delivered are its own payload
        // (the common in-order case): compared once, not per rule.
        scratch.new_is_payload = input
            .stream
            .is_some_and(|s| s.get(input.stream_context..).unwrap_or_default() == input.payload);
        // Untracked packets can only match rules without a direction, which sit in both halves.
        let to_client = input.flow.tracked && !input.flow.to_server;
        let Some(group) = self.groups.get(group_of(input.proto, to_client)) else {
            return;
        };
        scratch.candidates.clear();
        for &r in &group.always {
            mark(scratch, r);
        }
        if !group.by_event.is_empty() {
            for id in input.events.iter().chain(input.decode_events) {
                for (_, rs) in group.by_event.iter().filter(|(e, _)| e == id) {
                    for &r in rs {
                        mark(scratch, r);
                    }
                }
            }
        }
        for (a, any, rs) in &group.by_app {
            if input.flow.app_proto.satisfies(*a, *any) {
                for &r in rs {
                    mark(scratch, r);
                }
            }
        }
        if !group.src_index.is_empty() {
            for &r in group.src_index.lookup(input.src) {
                mark(scratch, r);
            }
        }
        if !group.dst_index.is_empty() {
            for &r in group.dst_index.lookup(input.dst) {
                mark(scratch, r);
            }
        }
        for pf in &group.pfs {
            match pf.src {
                Src::Payload => match input.stream {
                    None => self.scan(pf, input.payload, scratch),
                    Some(s) => {
                        // The stream (context and new bytes) covers the
                        // payload when the payload is what it delivered.
                        if !scratch.new_is_payload {
                            self.scan(pf, input.payload, scratch);
                        }
                        self.scan(pf, s, scratch);
                    }
                },
                Src::App(b) => {
                    for (id, data) in input.buffers {
                        if *id == b {
                            self.scan(pf, data, scratch);
                        }
                    }
                }
                Src::Hdr(h) => {
                    if let Some(d) = header_bytes(h, input) {
                        self.scan(pf, d, scratch);
                    }
                }
                Src::Base64 => {}
            }
        }
        let mut cands = std::mem::take(&mut scratch.candidates);
        for &r in &cands {
            if let Some(w) = scratch.seen.get_mut((r / 64) as usize) {
                *w = 0;
            }
        }
        cands.sort_unstable();
        for &r in &cands {
            let Some(rule) = self.rules.get(r as usize) else {
                continue;
            };
            if input.app_only && !self.app_rule.get(r as usize).copied().unwrap_or(false) {
                continue;
            }
            if self.eval(rule, input, flow, scratch)
                && self.fire(r, rule, input, flow, scratch, out)
            {
                break;
            }
        }
        cands.clear();
        scratch.candidates = cands;
    }

    fn scan(&self, pf: &Prefilter, data: &[u8], scratch: &mut DetectScratch) {
        if pf.transforms.is_empty() {
            for m in pf.ac.find_overlapping_iter(data) {
                if let Some(rs) = pf.rules.get(m.pattern().as_usize()) {
                    for &r in rs.iter() {
                        mark(scratch, r);
                    }
                }
            }
        } else {
            let mut buf = std::mem::take(&mut scratch.tmp);
            if apply_transforms(&pf.transforms, data, &mut buf, &mut scratch.tmp2) {
                for m in pf.ac.find_overlapping_iter(&buf) {
                    if let Some(rs) = pf.rules.get(m.pattern().as_usize()) {
                        for &r in rs.iter() {
                            mark(scratch, r);
                        }
                    }
                }
            }
            scratch.tmp = buf;
        }
    }

    /// Full evaluation of one rule; no side effects except scratch space.
    fn eval(
        &self,
        r: &Rule,
        p: &PacketInput<'_>,
        flow: &FlowVars,
        scratch: &mut DetectScratch,
    ) -> bool {
        // ARP frames match `arp` rules only, and `arp` rules nothing else.
        let t_ok = match r.transport {
            _ if p.arp => r.transport == Transport::Arp,
            Transport::Arp => false,
            Transport::Any => true,
            Transport::Tcp => p.proto == 6,
            Transport::Udp => p.proto == 17,
            Transport::Icmp => p.proto == 1 || p.proto == 58,
            Transport::Sctp => p.proto == 132,
        };
        if !t_ok {
            return false;
        }
        if (r.pd_only && !p.flow.app_detected) || (r.flow_start && !p.flow.first_in_direction) {
            return false;
        }
        if let Some((a, http_any)) = r.app {
            if !p.flow.app_proto.satisfies(a, http_any) {
                return false;
            }
            if r.transport == Transport::Any && !matches!(p.proto, 6 | 17 | 132) {
                return false;
            }
        }
        let f = &r.flow;
        if let Some(ts) = f.to_server {
            if !p.flow.tracked || p.flow.to_server != ts {
                return false;
            }
        }
        if let Some(est) = f.established {
            if !p.flow.tracked || p.flow.established != est {
                return false;
            }
        }
        if let Some(frag) = f.frag {
            if p.is_fragment != frag {
                return false;
            }
        }
        // A `=>` rule's header names client and server, whichever way the packet goes.
        let (src, dst, sport, dport) = if r.txbidir && p.flow.tracked && !p.flow.to_server {
            (p.dst, p.src, p.dport, p.sport)
        } else {
            (p.src, p.dst, p.sport, p.dport)
        };
        let fwd = r.sport.contains(sport)
            && r.dport.contains(dport)
            && r.src.contains(src)
            && r.dst.contains(dst);
        if !fwd {
            let rev = r.bidir
                && r.sport.contains(p.dport)
                && r.dport.contains(p.sport)
                && r.src.contains(p.dst)
                && r.dst.contains(p.src);
            if !rev {
                return false;
            }
        }
        if !r.checks.iter().all(|c| check(c, p)) {
            return false;
        }
        for c in &r.bit_conds {
            let ok = match c {
                BitCond::IsSet { ids, any: true } => ids.iter().any(|&i| flow.is_set(i)),
                BitCond::IsSet { ids, any: false } => ids.iter().all(|&i| flow.is_set(i)),
                BitCond::IsNotSet { ids, any: true } => ids.iter().any(|&i| !flow.is_set(i)),
                BitCond::IsNotSet { ids, any: false } => ids.iter().all(|&i| !flow.is_set(i)),
            };
            if !ok {
                return false;
            }
        }
        for c in &r.int_conds {
            let ok = match *c {
                IntCond::IsSet(id) => flow.int(id).is_some(),
                IntCond::NotSet(id) => flow.int(id).is_none(),
                IntCond::Cmp { id, op, ne, value } => match flow.int(id) {
                    None => false,
                    Some(v) => {
                        let r = match op {
                            ByteOp::Eq => v == value,
                            ByteOp::Lt => v < value,
                            ByteOp::Gt => v > value,
                            ByteOp::Le => v <= value,
                            ByteOp::Ge => v >= value,
                            ByteOp::And | ByteOp::Xor => false,
                        };
                        r != ne
                    }
                },
            };
            if !ok {
                return false;
            }
        }
        for x in &r.xbits {
            let set = || {
                scratch
                    .xbits
                    .get(&xbit_key(x, p))
                    .is_some_and(|&until| p.ts_micros < until)
            };
            let ok = match x.op {
                XOp::IsSet => set(),
                XOp::IsNotSet => !set(),
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        let mut b64 = std::mem::take(&mut scratch.b64);
        let mut latin1 = std::mem::take(&mut scratch.latin1);
        let mut tbuf = std::mem::take(&mut scratch.tmp);
        let ok = self.eval_lists(r, p, scratch, &mut b64, &mut latin1, &mut tbuf);
        scratch.b64 = b64;
        scratch.latin1 = latin1;
        scratch.tmp = tbuf;
        ok
    }

    fn eval_lists(
        &self,
        r: &Rule,
        p: &PacketInput<'_>,
        scratch: &mut DetectScratch,
        b64: &mut Vec<u8>,
        latin1: &mut String,
        tbuf: &mut Vec<u8>,
    ) -> bool {
        let mut decoded = Vec::new();
        let mut ctx = ListCtx::new(b64, latin1);
        for l in &r.lists {
            let ok = match l.src {
                Src::Payload => {
                    let stream_sel = r.flow.stream;
                    let mut ok = false;
                    if stream_sel != StreamSel::OnlyStream {
                        ok = run(l, p.payload, &mut ctx, tbuf, &mut scratch.tmp2);
                    }
                    if !ok && stream_sel != StreamSel::NoStream {
                        if let Some(s) = p.stream {
                            let cut = p.stream_context.min(s.len());
                            let (old, new) = s.split_at(cut);
                            // In-order data equal to the payload was just tried.
                            if stream_sel == StreamSel::OnlyStream || !scratch.new_is_payload {
                                ok = run(l, new, &mut ctx, tbuf, &mut scratch.tmp2);
                            }
                            // With the context: a match wholly inside it was
                            // reported (or refused) with an earlier packet.
                            // The last run leaves the list's variables set.
                            if !ok && cut > 0 && run(l, s, &mut ctx, tbuf, &mut scratch.tmp2) {
                                ok = !run(l, old, &mut ctx, tbuf, &mut scratch.tmp2)
                                    && run(l, s, &mut ctx, tbuf, &mut scratch.tmp2);
                            }
                        }
                    }
                    ok
                }
                Src::App(b)
                    if l.absent.is_some()
                        && !p.buffers.iter().enumerate().any(|(i, (id, _))| {
                            *id == b && l.side.is_none_or(|ts| buffer_to_server(p, i) == ts)
                        }) =>
                {
                    // Absence is judged on a transaction, not on a bare packet.
                    p.app_only
                }
                Src::App(_) if l.absent == Some(false) => false,
                Src::App(b) => {
                    let side = l.side;
                    let mut inst = p
                        .buffers
                        .iter()
                        .enumerate()
                        .filter(|(i, (id, _))| {
                            *id == b && side.is_none_or(|ts| buffer_to_server(p, *i) == ts)
                        })
                        .map(|(_, (_, d))| d);
                    let mut hit = |data: &[u8]| run(l, data, &mut ctx, tbuf, &mut scratch.tmp2);
                    match l.index {
                        MultiIndex::Any => inst.any(|d| hit(d)),
                        MultiIndex::All => {
                            let mut n = 0usize;
                            inst.all(|d| {
                                n += 1;
                                hit(d)
                            }) && n > 0
                        }
                        MultiIndex::At(i) if i >= 0 => inst.nth(i as usize).is_some_and(|d| hit(d)),
                        MultiIndex::At(i) => {
                            let back = i.unsigned_abs() as usize;
                            let all: Vec<&&[u8]> = inst.collect();
                            all.len()
                                .checked_sub(back)
                                .and_then(|k| all.get(k))
                                .is_some_and(|d| hit(d))
                        }
                    }
                }
                Src::Hdr(h) => {
                    header_bytes(h, p).is_some_and(|d| run(l, d, &mut ctx, tbuf, &mut scratch.tmp2))
                }
                Src::Base64 => {
                    decoded.clear();
                    decoded.extend_from_slice(ctx.b64);
                    run(l, &decoded, &mut ctx, tbuf, &mut scratch.tmp2)
                }
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Applies a matched rule's side effects and thresholds; pushes the match.
    /// Returns true when a pass rule matched (stop evaluating the packet).
    fn fire(
        &self,
        idx: u32,
        r: &Rule,
        p: &PacketInput<'_>,
        flow: &mut FlowVars,
        scratch: &mut DetectScratch,
        out: &mut Vec<Match>,
    ) -> bool {
        for a in &r.bit_acts {
            match *a {
                BitAct::Set(i) => flow.set(i, true),
                BitAct::Unset(i) => flow.set(i, false),
                BitAct::Toggle(i) => {
                    let v = flow.is_set(i);
                    flow.set(i, !v)
                }
            }
        }
        for x in &r.xbits {
            let key = xbit_key(x, p);
            let until = if x.expire == 0 {
                u64::MAX
            } else {
                p.ts_micros
                    .saturating_add(x.expire.saturating_mul(1_000_000))
            };
            match x.op {
                XOp::Set => {
                    if scratch.xbits.len() >= MAX_TRACKS {
                        let now = p.ts_micros;
                        scratch.xbits.retain(|_, u| now < *u);
                        if scratch.xbits.len() >= MAX_TRACKS {
                            scratch.evictions += scratch.xbits.len() as u64;
                            scratch.xbits.clear();
                        }
                    }
                    scratch.xbits.insert(key, until);
                }
                XOp::Unset => {
                    scratch.xbits.remove(&key);
                }
                XOp::Toggle => {
                    if scratch.xbits.get(&key).is_some_and(|&u| p.ts_micros < u) {
                        scratch.xbits.remove(&key);
                    } else {
                        scratch.xbits.insert(key, until);
                    }
                }
                XOp::IsSet | XOp::IsNotSet => {}
            }
        }
        for a in &r.int_acts {
            match *a {
                IntAct::Set(i, v) => flow.set_int(i, v),
                IntAct::Add(i, v) => flow.set_int(i, flow.int(i).unwrap_or(0).saturating_add(v)),
                IntAct::Sub(i, v) => flow.set_int(i, flow.int(i).unwrap_or(0).saturating_sub(v)),
            }
        }
        let m = &r.meta;
        // Address-tracked filters are counted here, or left to the caller.
        let mut deferred: [Option<(u32, Threshold)>; 2] = [None, None];
        if let Some(df) = &r.detection_filter {
            if scratch.defer && df.track != Track::Flow {
                deferred[0] = Some((idx * 4 + 1, *df));
            } else if !count_hit(scratch, flow, idx * 4 + 1, df, p) {
                return false;
            }
        }
        if self.thresholds.suppressed(m.gid, m.sid, p.src, p.dst) {
            return false;
        }
        let cfg = self
            .thresholds
            .thresholds
            .get(&(m.gid, m.sid))
            .or_else(|| self.thresholds.thresholds.get(&(m.gid, 0)));
        if let Some(t) = cfg.or(r.threshold.as_ref()) {
            if scratch.defer && t.track != Track::Flow {
                deferred[1] = Some((idx * 4, *t));
            } else if !count_hit(scratch, flow, idx * 4, t, p) {
                return false;
            }
        }
        let gate = deferred.iter().any(Option::is_some).then(|| {
            Box::new(Gate {
                engine: self.id,
                filters: deferred,
                ts_micros: p.ts_micros,
                src: p.src,
                dst: p.dst,
                sport: p.sport,
                dport: p.dport,
            })
        });
        let mut action = m.action;
        if let Some(rf) = self.thresholds.rate_filters.get(&(m.gid, m.sid)) {
            let key = TrackKey::new(idx * 4 + 2, rf.track, p.src, p.dst);
            let e = scratch.tracks.entry(key).or_insert(TrackEntry {
                start: p.ts_micros,
                count: 0,
                until: 0,
                window: rf.seconds.saturating_mul(1_000_000),
                distinct: Vec::new(),
            });
            if p.ts_micros.saturating_sub(e.start) >= rf.seconds.saturating_mul(1_000_000) {
                e.start = p.ts_micros;
                e.count = 0;
            }
            e.count += 1;
            if e.count > rf.count {
                e.until = p
                    .ts_micros
                    .saturating_add(rf.timeout.saturating_mul(1_000_000));
            }
            if p.ts_micros < e.until {
                action = rf.new_action;
            }
        }
        out.push(Match {
            rule: m.clone(),
            action,
            // Suricata logs no alert for a pass match: it only stops
            // inspection (of the packet, and for the sensor the flow).
            noalert: m.noalert || action == Action::Pass,
            gate,
        });
        action == Action::Pass
    }
}

fn run(
    l: &super::rule::List,
    data: &[u8],
    ctx: &mut ListCtx<'_>,
    tbuf: &mut Vec<u8>,
    tmp2: &mut Vec<u8>,
) -> bool {
    if l.transforms.is_empty() {
        match_list(&l.items, data, ctx)
    } else {
        apply_transforms(&l.transforms, data, tbuf, tmp2) && match_list(&l.items, tbuf, ctx)
    }
}

/// Whether buffer `i` of the packet came from the request side of its transaction.
fn buffer_to_server(p: &PacketInput<'_>, i: usize) -> bool {
    match p.to_client_buffers_from {
        Some(k) => i < k,
        None => p.flow.to_server,
    }
}

/// The raw header a `*.hdr` buffer inspects, when the packet has that header.
fn header_bytes<'a>(h: Hdr, p: &PacketInput<'a>) -> Option<&'a [u8]> {
    let ip_version = p.l3_header.first().map(|b| b >> 4);
    let ok = match h {
        Hdr::Ipv4 => ip_version == Some(4),
        Hdr::Ipv6 => ip_version == Some(6),
        Hdr::Tcp => p.proto == 6,
        Hdr::Udp => p.proto == 17,
        Hdr::Icmpv4 => p.proto == 1,
        Hdr::Icmpv6 => p.proto == 58,
    };
    let d = match h {
        Hdr::Ipv4 | Hdr::Ipv6 => p.l3_header,
        _ => p.l4_header,
    };
    (ok && !d.is_empty()).then_some(d)
}

fn xbit_key(x: &Xbit, p: &PacketInput<'_>) -> (u32, IpAddr, Option<IpAddr>) {
    match x.track {
        XTrack::Src => (x.id, p.src, None),
        XTrack::Dst => (x.id, p.dst, None),
        // A pair is the same in both directions.
        XTrack::Pair => (x.id, p.src.min(p.dst), Some(p.src.max(p.dst))),
    }
}

/// Counts a hit for a threshold; returns whether it may alert.
fn count_hit(
    scratch: &mut DetectScratch,
    flow: &mut FlowVars,
    slot: u32,
    t: &Threshold,
    p: &PacketInput<'_>,
) -> bool {
    let now = p.ts_micros;
    let e = if t.track == Track::Flow {
        // by_flow counters live with the flow, so they die with it.
        match flow.thresh.iter().position(|(s, _)| *s == slot) {
            Some(i) => &mut flow.thresh[i].1,
            None => {
                flow.thresh.push((slot, TrackEntry::fresh(t, now)));
                let n = flow.thresh.len() - 1;
                &mut flow.thresh[n].1
            }
        }
    } else {
        let key = TrackKey::new(slot, t.track, p.src, p.dst);
        tracked(&mut scratch.tracks, &mut scratch.evictions, key, t, now)
    };
    e.hit(t, now, p.sport, p.dport)
}

fn flags_ok(mode: FlagMode, have: u8, want: u8) -> bool {
    match mode {
        FlagMode::Exact => have == want,
        FlagMode::Plus => have & want == want,
        FlagMode::Any => have & want != 0 || want == 0,
        FlagMode::Not => have & want == 0,
    }
}

fn check(c: &PktCheck, p: &PacketInput<'_>) -> bool {
    match *c {
        PktCheck::Dsize(n) => n.test(p.payload.len() as u64),
        PktCheck::Ttl(n) => n.test(p.ip.ttl as u64),
        PktCheck::Tos(n) => n.test(p.ip.tos as u64),
        PktCheck::IpProto(n) => n.test(p.proto as u64),
        PktCheck::Ipopts(bit) => p.ip.ipopts & bit != 0,
        PktCheck::Fragbits { mode, bits } => {
            let have = (p.ip.mf as u8) | (p.ip.df as u8) << 1 | (p.ip.rb as u8) << 2;
            flags_ok(mode, have, bits)
        }
        PktCheck::Fragoffset(n) => n.test(p.ip.frag_offset as u64),
        PktCheck::Flags { mode, bits, mask } => match &p.tcp {
            Some(t) => flags_ok(mode, t.flags & mask, bits),
            None => false,
        },
        PktCheck::Seq(v) => p.tcp.is_some_and(|t| t.seq == v),
        PktCheck::Ack(v) => p.tcp.is_some_and(|t| t.ack == v),
        PktCheck::Window(n) => p.tcp.is_some_and(|t| n.test(t.window as u64)),
        PktCheck::TcpMss(n) => p.tcp.and_then(|t| t.mss).is_some_and(|m| n.test(m as u64)),
        PktCheck::Itype(n) => p.icmp.is_some_and(|i| n.test(i.itype as u64)),
        PktCheck::Icode(n) => p.icmp.is_some_and(|i| n.test(i.icode as u64)),
        PktCheck::IcmpId(v) => p.icmp.and_then(|i| i.id) == Some(v),
        PktCheck::IcmpSeq(v) => p.icmp.and_then(|i| i.seq) == Some(v),
        PktCheck::Id(v) => p.ip.id == v,
        PktCheck::SameIp => p.src == p.dst,
        PktCheck::UriLen { cmp, raw } => {
            let want = if raw {
                BufferId::HttpUriRaw
            } else {
                BufferId::HttpUri
            };
            p.buffers
                .iter()
                .any(|(id, d)| *id == want && cmp.test(d.len() as u64))
        }
        // Nothing matches before protocol detection is done, not even a negation.
        PktCheck::AppProto {
            proto,
            negated,
            side,
        } => {
            let test = |have: AppProto| {
                have != AppProto::Unknown && (have.satisfies(proto, true) != negated)
            };
            match side {
                AlpSide::Flow => test(p.flow.app_proto),
                AlpSide::ToServer => test(p.flow.app_proto_ts),
                AlpSide::ToClient => test(p.flow.app_proto_tc),
                AlpSide::Either => [p.flow.app_proto, p.flow.app_proto_ts, p.flow.app_proto_tc]
                    .into_iter()
                    .any(test),
            }
        }
        PktCheck::DecodeEvent(id) => p.decode_events.contains(&id),
        PktCheck::Event(id) => p.events.contains(&id),
        PktCheck::CertExpired(expired) => {
            let date = |b: BufferId| {
                p.buffers
                    .iter()
                    .find(|(id, d)| *id == b && d.len() == 8)
                    .map(|(_, d)| d.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x)))
            };
            let (Some(before), Some(after)) = (
                date(BufferId::TlsCertNotBefore),
                date(BufferId::TlsCertNotAfter),
            ) else {
                return false;
            };
            let now = p.ts_micros / 1_000_000;
            if expired {
                now > after
            } else {
                before <= now && now <= after
            }
        }
        PktCheck::FlowCount { pkts, side, cmp } => {
            if !p.flow.tracked {
                return false;
            }
            let (ts, tc) = if pkts {
                (p.flow.pkts_to_server, p.flow.pkts_to_client)
            } else {
                (p.flow.bytes_to_server, p.flow.bytes_to_client)
            };
            match side {
                FlowSide::ToServer => cmp.test(ts),
                FlowSide::ToClient => cmp.test(tc),
                FlowSide::Either => cmp.test(ts) || cmp.test(tc),
                FlowSide::Both => cmp.test(ts) && cmp.test(tc),
            }
        }
        PktCheck::VlanId { cmp, layer } => {
            let ids = p.vlan;
            let test = |v: &u16| cmp.test(u64::from(*v));
            match layer {
                VlanLayer::Any => ids.iter().any(test),
                VlanLayer::All => !ids.is_empty() && ids.iter().all(test),
                VlanLayer::Index(i) => {
                    let i = if i < 0 {
                        ids.len().checked_sub(i.unsigned_abs() as usize)
                    } else {
                        Some(i as usize)
                    };
                    i.and_then(|i| ids.get(i)).is_some_and(test)
                }
            }
        }
        PktCheck::StreamSize { which, cmp } => {
            let Some((c, s)) = p.flow.stream_size else {
                return false;
            };
            match which {
                StreamWhich::Server => cmp.test(s),
                StreamWhich::Client => cmp.test(c),
                StreamWhich::Both => cmp.test(s) && cmp.test(c),
                StreamWhich::Either => cmp.test(s) || cmp.test(c),
            }
        }
    }
}
