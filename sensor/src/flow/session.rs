//! What a flow carries beyond counters: TCP reassembly, the application layer
//! and rule state. Created only for flows that need it (TCP, or UDP with data).

use vigie_rules::signature::{event_id, FlowVars};

use super::reassembly::{
    Direction as StreamDir, ReassemblyBudget, Segment, StreamEvent, TcpAnomaly, TcpSession,
    TcpState,
};
use crate::app::{AppLayer, Direction as AppDir};

/// Per-flow session state.
#[derive(Debug)]
pub struct FlowSession {
    /// TCP tracking and reassembly (TCP flows only).
    pub tcp: Option<TcpSession>,
    /// Application-layer parsers.
    pub app: AppLayer,
    /// flowbits / flowint.
    pub vars: FlowVars,
    /// Next HTTP/DNS transaction whose request side is still to inspect.
    pub req_next: u64,
    /// Next transaction whose response side is still to inspect.
    pub resp_next: u64,
    /// TLS client side (ClientHello) inspected.
    pub tls_client_done: bool,
    /// TLS server side (ServerHello, certificate) inspected.
    pub tls_server_done: bool,
    /// TLS EVE event written.
    pub tls_logged: bool,
    /// QUIC: the client's version inspected (before its ClientHello, if that
    /// takes several packets).
    pub quic_version_done: bool,
    /// (transaction id, sid) pairs that alerted: one alert per rule per transaction.
    pub tx_alerted: Vec<(u64, u32)>,
    /// Stream bytes were delivered to the app layer by the last packet.
    pub new_data: bool,
    /// Stream offsets `[start, end)` delivered in order by the last segment, per direction.
    pub delivered: [Option<(u64, u64)>; 2],
    /// A `pass` rule matched: the rest of the flow is not inspected (as Suricata).
    pub passed: bool,
    /// HTTP response inspected before it completed: (transaction id, body bytes then).
    pub resp_partial: (u64, usize),
    /// Stream and flow-level app-layer events raised by the last packet
    /// ([`vigie_rules::signature::event_id`]s), for `stream-event` and
    /// `app-layer-event` rules.
    pub pkt_events: Vec<u32>,
    /// (transaction id, events inspected to server, to client): events
    /// raised on a transaction since are inspected with it once more.
    pub tx_events_seen: Vec<(u64, [usize; 2])>,
    /// Parts of transactions that carried events when they were freed, for
    /// the next packet of the other direction (at most [`MAX_LATE_PARTS`]).
    pub late_parts: Vec<(AppDir, AppPart)>,
    /// The last packet each way of a flow whose app layer inspects with a
    /// later packet (DCERPC, SMB): at flow end, what is left is inspected
    /// with it.
    pub last_pkt: [Option<crate::pipeline::dispatch::WorkPacket>; 2],
}

/// A transaction part to inspect: (transaction id, buffers, EVE object,
/// X-Forwarded-For client, event ids, index of the first response-side
/// buffer when the buffers hold both sides of the transaction).
pub type AppPart = (
    u64,
    Vec<(vigie_rules::signature::BufferId, Vec<u8>)>,
    (&'static str, serde_json::Value),
    Option<std::net::IpAddr>,
    Vec<u32>,
    Option<usize>,
);

/// Transaction parts kept per flow for the other direction.
pub const MAX_LATE_PARTS: usize = 4;

/// App-layer direction of a stream direction.
pub fn app_dir(d: StreamDir) -> AppDir {
    match d {
        StreamDir::ToServer => AppDir::ToServer,
        StreamDir::ToClient => AppDir::ToClient,
    }
}

impl FlowSession {
    /// A session for a flow of IP protocol `proto` from client port `sport` to `dport`.
    pub fn new(proto: u8, sport: u16, dport: u16, budget: &ReassemblyBudget) -> FlowSession {
        FlowSession {
            tcp: (proto == 6).then(|| TcpSession::new(budget.config())),
            ..FlowSession::rules_only(proto, sport, dport)
        }
    }

    /// A session for a flow without stream or app layer (ICMP, other IP
    /// protocols, UDP without data yet): it holds the flow's rule state.
    pub fn rules_only(proto: u8, sport: u16, dport: u16) -> FlowSession {
        FlowSession {
            tcp: None,
            app: AppLayer::new(proto, sport, dport),
            vars: FlowVars::default(),
            req_next: 0,
            resp_next: 0,
            tls_client_done: false,
            tls_server_done: false,
            tls_logged: false,
            quic_version_done: false,
            tx_alerted: Vec::new(),
            new_data: false,
            delivered: [None, None],
            passed: false,
            resp_partial: (u64::MAX, 0),
            pkt_events: Vec::new(),
            tx_events_seen: Vec::new(),
            late_parts: Vec::new(),
            last_pkt: [None, None],
        }
    }

    /// TCP sequence space used by (client, server) so far, for
    /// `stream_size`; None without TCP stream tracking.
    pub fn stream_size(&self) -> Option<(u64, u64)> {
        self.tcp.as_ref().map(|t| {
            (
                t.stream(StreamDir::ToServer).seq_size(),
                t.stream(StreamDir::ToClient).seq_size(),
            )
        })
    }

    /// `flow:established` as Suricata sees it: for TCP, the three-way handshake
    /// was seen (a session picked up midstream never is) and the session has
    /// not closed or been reset; without TCP, `flow_established` (seen both ways).
    pub fn established(&self, flow_established: bool) -> bool {
        match &self.tcp {
            Some(t) => {
                !t.is_midstream()
                    && matches!(
                        t.state(),
                        TcpState::Established
                            | TcpState::FinWait1
                            | TcpState::FinWait2
                            | TcpState::Closing
                    )
            }
            None => flow_established,
        }
    }

    /// The in-order stream bytes the last segment delivered in `dir`, preceded
    /// by up to [`STREAM_CONTEXT`] bytes delivered before them (as far as the
    /// stream window still holds them), with the length of that context; and
    /// the flow's rule state.
    pub fn stream_and_vars(&mut self, dir: StreamDir) -> (Option<(&[u8], usize)>, &mut FlowVars) {
        let stream = delivered_in(self.tcp.as_ref(), self.delivered[dir.index()], dir);
        (stream, &mut self.vars)
    }

    /// Feeds one TCP segment: reassembled data goes to the app layer in order.
    pub fn on_tcp(&mut self, dir: StreamDir, seg: &Segment<'_>, budget: &mut ReassemblyBudget) {
        let FlowSession {
            tcp,
            app,
            new_data,
            delivered,
            pkt_events,
            ..
        } = self;
        let Some(tcp) = tcp.as_mut() else { return };
        *new_data = false;
        app.detected_now = false;
        app.raised_now.clear();
        pkt_events.clear();
        *delivered = [None, None];
        let was_closed = tcp.is_closed();
        tcp.on_segment(dir, seg, budget, &mut |ev| {
            if let StreamEvent::Anomaly { anomaly, .. } = ev {
                if let Some(n) = anomaly.rule_name() {
                    pkt_events.push(event_id(n));
                }
            }
            if let StreamEvent::Data { dir, offset, data } = ev {
                let end = offset.saturating_add(data.len() as u64);
                let d = &mut delivered[dir.index()];
                *d = Some(match *d {
                    Some((s, e)) => (s.min(offset), e.max(end)),
                    None => (offset, end),
                });
            }
            feed_app(app, new_data, ev);
        });
        if !was_closed && tcp.is_closed() && !pkt_events.is_empty() {
            // Holes found while flushing a session that this segment closed
            // (RST, last FIN) are not raised: as in the reference IDS,
            // `reassembly_seq_gap` is a gap the live stream moved past.
            if let Some(gap) = TcpAnomaly::Gap.rule_name() {
                let gap = event_id(gap);
                pkt_events.retain(|e| *e != gap);
            }
        }
        pkt_events.extend(app.raised_now.iter().map(|n| event_id(n)));
    }

    /// Whether transaction `tx_id`, now carrying `n` events, has events not
    /// yet inspected in direction `dir` (and marks them inspected).
    pub fn new_tx_events(
        seen: &mut Vec<(u64, [usize; 2])>,
        tx_id: u64,
        n: usize,
        dir: AppDir,
    ) -> bool {
        let d = usize::from(dir == AppDir::ToClient);
        if n == 0 {
            return false;
        }
        match seen.iter_mut().find(|(id, _)| *id == tx_id) {
            Some((_, s)) if s[d] >= n => false,
            Some((_, s)) => {
                s[d] = n;
                true
            }
            None => {
                let mut s = [0; 2];
                s[d] = n;
                seen.push((tx_id, s));
                true
            }
        }
    }

    /// One UDP datagram.
    pub fn on_udp(&mut self, dir: AppDir, payload: &[u8]) {
        self.new_data = !payload.is_empty();
        self.app.detected_now = false;
        self.app.raised_now.clear();
        self.pkt_events.clear();
        self.app.on_data(dir, payload);
        let raised = self.app.raised_now.iter().map(|n| event_id(n));
        self.pkt_events.extend(raised);
    }

    /// Flow ended: flush what reassembly still holds to the app layer and give
    /// the memory back.
    pub fn finish(&mut self, budget: &mut ReassemblyBudget) {
        let FlowSession {
            tcp, app, new_data, ..
        } = self;
        if let Some(tcp) = tcp.as_mut() {
            tcp.finish(budget, &mut |ev| feed_app(app, new_data, ev));
            tcp.release(budget);
        }
    }
}

/// Bytes of already-inspected stream data put before newly delivered bytes,
/// so that stream rules see a pattern split over several segments (the
/// classic evasion) once its last piece arrives.
pub const STREAM_CONTEXT: u64 = 512;

fn delivered_in(
    tcp: Option<&TcpSession>,
    range: Option<(u64, u64)>,
    dir: StreamDir,
) -> Option<(&[u8], usize)> {
    let (start, end) = range?;
    let s = tcp?.stream(dir);
    let (w, woff) = (s.window(), s.window_offset());
    let new_from = start.max(woff);
    let ctx_from = new_from.saturating_sub(STREAM_CONTEXT).max(woff);
    let from = usize::try_from(ctx_from - woff).ok()?;
    let to = usize::try_from(end.checked_sub(woff)?).ok()?;
    let context = usize::try_from(new_from - ctx_from).ok()?;
    w.get(from..to)
        .filter(|b| b.len() > context)
        .map(|b| (b, context))
}

fn feed_app(app: &mut AppLayer, new_data: &mut bool, ev: StreamEvent<'_>) {
    match ev {
        StreamEvent::Data { dir, data, .. } => {
            *new_data = true;
            app.on_data(app_dir(dir), data);
        }
        StreamEvent::Gap { dir, len, .. } => app.on_gap(app_dir(dir), len),
        StreamEvent::StreamEnd { dir } => app.on_close(app_dir(dir)),
        _ => {}
    }
}
