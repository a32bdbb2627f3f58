//! What a flow carries beyond counters: TCP reassembly, the application layer
//! and rule state. Created only for flows that need it (TCP, or UDP with data).

use vigie_rules::signature::FlowVars;

use super::reassembly::{
    Direction as StreamDir, ReassemblyBudget, Segment, StreamEvent, TcpSession,
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
    /// (transaction id, sid) pairs that alerted: one alert per rule per transaction.
    pub tx_alerted: Vec<(u64, u32)>,
    /// Stream bytes were delivered to the app layer by the last packet.
    pub new_data: bool,
}

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
            app: AppLayer::new(proto, sport, dport),
            vars: FlowVars::default(),
            req_next: 0,
            resp_next: 0,
            tls_client_done: false,
            tls_server_done: false,
            tls_logged: false,
            tx_alerted: Vec::new(),
            new_data: false,
        }
    }

    /// Feeds one TCP segment: reassembled data goes to the app layer in order.
    pub fn on_tcp(&mut self, dir: StreamDir, seg: &Segment<'_>, budget: &mut ReassemblyBudget) {
        let FlowSession { tcp, app, new_data, .. } = self;
        let Some(tcp) = tcp.as_mut() else { return };
        *new_data = false;
        tcp.on_segment(dir, seg, budget, &mut |ev| {
            feed_app(app, new_data, ev);
        });
    }

    /// One UDP datagram.
    pub fn on_udp(&mut self, dir: AppDir, payload: &[u8]) {
        self.new_data = !payload.is_empty();
        self.app.on_data(dir, payload);
    }

    /// Flow ended: flush what reassembly still holds to the app layer and give
    /// the memory back.
    pub fn finish(&mut self, budget: &mut ReassemblyBudget) {
        let FlowSession { tcp, app, new_data, .. } = self;
        if let Some(tcp) = tcp.as_mut() {
            tcp.finish(budget, &mut |ev| feed_app(app, new_data, ev));
            tcp.release(budget);
        }
    }
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
