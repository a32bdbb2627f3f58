//! Per-flow application layer: detects the protocol from the first bytes,
//! then feeds the right parser. This is what a flow holds.

use super::dcerpc::DcerpcState;
use super::detect::{detect_direction, detect_protocol, AppProto, PortHints};
use super::dhcp::DhcpState;
use super::dns::{DnsState, DnsVariant};
use super::frames::{FrameNeeds, FrameState};
use super::http::{HttpConfig, HttpState};
use super::mqtt::MqttState;
use super::quic::QuicState;
use super::sip::SipState;
use super::smb::SmbState;
use super::ssh::SshState;
use super::tftp::TftpState;
use super::tls::TlsState;
use super::Direction;
use vigie_rules::signature::BufferId;

/// Raised when the two directions' first bytes showed different protocols.
pub const MISMATCH_BOTH_DIRECTIONS: &str = "applayer.mismatch_protocol_both_directions";

/// Bytes per direction kept while the protocol is still undecided.
pub const MAX_DETECT_BYTES: usize = 4096;

/// The parser state of a flow, by protocol.
#[derive(Debug, Default)]
pub enum AppState {
    /// Protocol not decided yet.
    #[default]
    Undecided,
    /// HTTP/1.x.
    Http(Box<HttpState>),
    /// TLS.
    Tls(Box<TlsState>),
    /// DNS.
    Dns(Box<DnsState>),
    /// QUIC Initial packets.
    Quic(Box<QuicState>),
    /// SMB 1/2/3 over NBSS.
    Smb(Box<SmbState>),
    /// TFTP requests.
    Tftp(Box<TftpState>),
    /// DHCP messages.
    Dhcp(Box<DhcpState>),
    /// SIP messages.
    Sip(Box<SipState>),
    /// DCERPC over TCP.
    Dcerpc(Box<DcerpcState>),
    /// SSH banners and key exchange offers.
    Ssh(Box<SshState>),
    /// MQTT packets.
    Mqtt(Box<MqttState>),
    /// Detection failed: the flow's data is not parsed.
    Failed,
}

/// Application layer of one flow.
#[derive(Debug)]
pub struct AppLayer {
    ip_proto: u8,
    sport: u16,
    dport: u16,
    /// Bytes seen per direction while undecided (to server, to client).
    pending: [Vec<u8>; 2],
    /// The protocol, once decided.
    pub proto: Option<AppProto>,
    /// The parser state.
    pub state: AppState,
    /// What the consumers of this flow need from the parsers.
    pub needs: AppNeeds,
    /// What each direction's own first bytes showed (to server, to client),
    /// for `app-layer-protocol:X,to_server|to_client`; TCP only.
    pub dir_proto: [Option<AppProto>; 2],
    dir_probed: [bool; 2],
    /// A protocol (the flow's or one direction's) was decided by the data of
    /// the packet being processed; the session clears it for each packet.
    pub detected_now: bool,
    /// Flow-level events (`applayer.*`) raised by the packet being processed;
    /// the session clears it for each packet.
    pub raised_now: Vec<&'static str>,
    /// App-layer frames, when a rule inspects this protocol's frames.
    pub frames: Option<Box<FrameState>>,
}

/// What detection, indicators and outputs need from the parsers; the worker
/// sets it per flow so that no work is done for nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppNeeds {
    /// Compute MD5, SHA-1 and SHA-256 of HTTP bodies (for file-hash indicators or
    /// `--body-hashes`). Hashing is the costliest part of body handling.
    pub body_hashes: bool,
    /// Keep (and content-decode) HTTP bodies, for rules on `file.data` and
    /// the body buffers. Without rules nobody reads them.
    pub bodies: bool,
    /// Rules inspect transactions: messages that are complete on arrival
    /// (SIP) are kept until inspected in their direction.
    pub inspection: bool,
    /// The protocols whose frames rules inspect (`frame:` keyword).
    pub frames: FrameNeeds,
}

impl Default for AppNeeds {
    fn default() -> AppNeeds {
        AppNeeds {
            body_hashes: true,
            bodies: true,
            inspection: false,
            frames: FrameNeeds::default(),
        }
    }
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl AppLayer {
    /// A flow of IP protocol `ip_proto` (6 or 17) from client port `sport`
    /// to server port `dport`.
    pub fn new(ip_proto: u8, sport: u16, dport: u16) -> AppLayer {
        AppLayer {
            ip_proto,
            sport,
            dport,
            pending: [Vec::new(), Vec::new()],
            proto: None,
            state: AppState::Undecided,
            needs: AppNeeds::default(),
            dir_proto: [None, None],
            dir_probed: [false, false],
            detected_now: false,
            raised_now: Vec::new(),
            frames: None,
        }
    }

    /// In-order TCP stream bytes, or one whole UDP datagram, in `dir`.
    pub fn on_data(&mut self, dir: Direction, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let i = slot(dir);
        if !self.dir_probed[i] && self.ip_proto == 6 {
            self.dir_probed[i] = true;
            let ports = PortHints::new(self.sport, self.dport);
            self.dir_proto[i] = detect_direction(dir == Direction::ToServer, data, ports);
            self.detected_now |= self.dir_proto[i].is_some();
            if let [Some(a), Some(b)] = self.dir_proto {
                if a != b && a != AppProto::Unknown && b != AppProto::Unknown {
                    self.raised_now.push(MISMATCH_BOTH_DIRECTIONS);
                }
            }
        }
        if !matches!(self.state, AppState::Undecided) {
            self.feed(dir, data);
            return;
        }
        let udp = self.ip_proto == 17;
        let buf = &mut self.pending[slot(dir)];
        let before = buf.len();
        // UDP detection looks at the first datagram of each direction.
        if !udp || buf.is_empty() {
            let room = MAX_DETECT_BYTES.saturating_sub(before);
            buf.extend_from_slice(&data[..data.len().min(room)]);
        }
        let full = self.pending.iter().any(|b| b.len() >= MAX_DETECT_BYTES);
        let (ts, tc) = (&self.pending[0], &self.pending[1]);
        let decided = match detect_protocol(self.ip_proto, self.sport, self.dport, ts, tc) {
            Some(p) => p,
            None if full => AppProto::Unknown,
            None => return,
        };
        self.start(decided);
        let mut pending = std::mem::take(&mut self.pending);
        if udp {
            // Datagrams are not replayed from the buffer: feed this one.
            self.feed(dir, data);
            return;
        }
        // Replay what came before, then this call's bytes in full (the
        // buffer may hold only a prefix of them).
        // Client bytes go first, as a server answers what the client sent.
        pending[slot(dir)].truncate(before);
        let [ts, tc] = pending;
        match dir {
            Direction::ToServer => {
                self.feed(Direction::ToServer, &ts);
                self.feed(Direction::ToServer, data);
                self.feed(Direction::ToClient, &tc);
            }
            Direction::ToClient => {
                self.feed(Direction::ToServer, &ts);
                self.feed(Direction::ToClient, &tc);
                self.feed(Direction::ToClient, data);
            }
        }
    }

    fn fail(&mut self) {
        self.proto = Some(AppProto::Unknown);
        self.state = AppState::Failed;
        self.pending = [Vec::new(), Vec::new()];
    }

    fn start(&mut self, p: AppProto) {
        self.proto = Some(p);
        self.detected_now = true;
        let mut http = HttpConfig {
            body_hashes: self.needs.body_hashes,
            ..HttpConfig::default()
        };
        if !self.needs.bodies {
            http.request_body_limit = 0;
            http.response_body_limit = 0;
        }
        self.state = match p {
            AppProto::Http => AppState::Http(Box::new(HttpState::with_config(http))),
            // HTTP/2 streams become the same transactions as HTTP/1's.
            AppProto::Http2 => AppState::Http(Box::new(HttpState::http2(http))),
            AppProto::Tls => AppState::Tls(Box::default()),
            AppProto::Dns => AppState::Dns(Box::default()),
            AppProto::Mdns => AppState::Dns(Box::new(DnsState::with_variant(DnsVariant::Mdns))),
            AppProto::Llmnr => AppState::Dns(Box::new(DnsState::with_variant(DnsVariant::Llmnr))),
            AppProto::Quic => AppState::Quic(Box::default()),
            AppProto::Smb if !self.needs.bodies => {
                AppState::Smb(Box::new(SmbState::without_data()))
            }
            AppProto::Smb => AppState::Smb(Box::default()),
            AppProto::Tftp => AppState::Tftp(Box::default()),
            AppProto::Dhcp => AppState::Dhcp(Box::default()),
            AppProto::Sip => AppState::Sip(Box::default()),
            AppProto::Dcerpc => AppState::Dcerpc(Box::default()),
            AppProto::Ssh => AppState::Ssh(Box::default()),
            AppProto::Mqtt => AppState::Mqtt(Box::default()),
            // Detected for rules (`alert ssh`, `app-layer-protocol:ssh`), not parsed.
            AppProto::Smtp | AppProto::Unknown => AppState::Failed,
        };
        if self.needs.frames.any_pdu() {
            self.frames =
                FrameState::new(p.eve_name(), self.ip_proto == 6, self.needs.frames).map(Box::new);
            if let (Some(f), AppState::Http(h)) = (&self.frames, &mut self.state) {
                if f.parser_marks() {
                    h.enable_frames();
                }
            }
        }
    }

    fn feed(&mut self, dir: Direction, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let udp = self.ip_proto == 17;
        if let Some(f) = self.frames.as_mut().filter(|_| !udp) {
            f.on_data(dir, data);
        }
        match &mut self.state {
            AppState::Http(s) => s.parse(data, dir),
            AppState::Tls(s) => s.parse(data, dir),
            AppState::Dns(s) if udp => s.parse_udp(data, dir),
            AppState::Dns(s) => s.parse_tcp(data, dir),
            AppState::Quic(s) => s.parse(data, dir),
            AppState::Smb(s) => s.parse(data, dir),
            AppState::Tftp(s) => s.parse(data, dir),
            AppState::Dhcp(s) => s.parse(data),
            AppState::Sip(s) if udp => s.parse_datagram(data, dir),
            AppState::Sip(s) => s.parse_stream(data, dir),
            AppState::Dcerpc(s) => s.parse(data, dir),
            AppState::Ssh(s) => s.parse(data, dir),
            AppState::Mqtt(s) => s.parse(data, dir),
            AppState::Undecided | AppState::Failed => {}
        }
        if self.frames.is_some() {
            self.frame(dir, udp.then_some(data));
        }
    }

    /// Frames after the parser saw new bytes in `dir` (or the datagram `datagram`).
    fn frame(&mut self, dir: Direction, datagram: Option<&[u8]>) {
        let Some(f) = self.frames.as_mut() else {
            return;
        };
        match (&mut self.state, datagram) {
            (AppState::Http(h), _) => {
                for (d, start, len) in h.take_frame_marks() {
                    let kind = match d {
                        Direction::ToServer => BufferId::FrameHttp1Request,
                        Direction::ToClient => BufferId::FrameHttp1Response,
                    };
                    f.mark(d, kind, start, len);
                }
            }
            // A datagram the parser reads as a message is a frame.
            (AppState::Dns(_), Some(d)) if d.len() >= 12 => f.on_datagram(dir, d),
            (AppState::Sip(_), Some(d)) if super::sip::parser::is_message(d) => {
                f.on_datagram(dir, d)
            }
            (_, Some(_)) => {}
            (_, None) => f.frame_stream(dir),
        }
    }

    /// `len` TCP stream bytes in `dir` were lost.
    pub fn on_gap(&mut self, dir: Direction, len: u64) {
        if let Some(f) = self.frames.as_mut() {
            f.on_gap(dir, len);
        }
        match &mut self.state {
            // Undecided with a hole in the stream: nothing can be replayed.
            AppState::Undecided => self.fail(),
            AppState::Http(s) => s.gap(dir, len),
            AppState::Tls(s) => s.gap(dir, len),
            AppState::Dns(s) => s.gap(dir, len),
            AppState::Smb(s) => s.gap(dir, len),
            AppState::Sip(s) => s.gap(dir),
            AppState::Dcerpc(s) => s.gap(dir),
            AppState::Ssh(s) => s.gap(dir),
            AppState::Mqtt(s) => s.gap(dir),
            AppState::Quic(_) | AppState::Tftp(_) | AppState::Dhcp(_) | AppState::Failed => {}
        }
        if self.frames.is_some() {
            self.frame(dir, None);
        }
    }

    /// The stream in `dir` ended (FIN/RST or flow timeout).
    pub fn on_close(&mut self, dir: Direction) {
        if let AppState::Http(s) = &mut self.state {
            s.close(dir);
        }
        if self.frames.is_some() {
            self.frame(dir, None);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn flow_state_can_move_between_threads() {
        fn is_send<T: Send>() {}
        is_send::<AppLayer>();
        is_send::<crate::app::http::HttpTransaction>();
        is_send::<crate::app::dns::DnsTransaction>();
    }

    #[test]
    fn http_detected_then_parsed_from_split_bytes() {
        let mut a = AppLayer::new(6, 40000, 8080);
        a.on_data(Direction::ToServer, b"GE");
        assert!(a.proto.is_none());
        a.on_data(Direction::ToServer, b"T /x HTTP/1.1\r\nHost: h\r\n\r\n");
        a.on_data(
            Direction::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
        assert_eq!(a.proto, Some(AppProto::Http));
        let AppState::Http(s) = &mut a.state else {
            panic!("not http")
        };
        let txs = s.take_complete();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].uri_raw, b"/x");
        assert_eq!(txs[0].response_body, b"ok");
    }

    fn frames_of(a: &mut AppLayer, dir: Direction) -> Vec<(BufferId, Vec<u8>, u64, bool)> {
        let f = a.frames.as_mut().expect("frames on");
        f.take_ready(dir)
            .into_iter()
            .map(|f| (f.kind, f.data, f.offset, f.complete))
            .collect()
    }

    #[test]
    fn http_frames_are_the_pipelined_messages_cut_at_a_gap() {
        let mut a = AppLayer::new(6, 40000, 80);
        a.needs.frames = FrameNeeds::with(FrameNeeds::HTTP1);
        let r1 = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
        let r2 = b"POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        let both = [&r1[..], b"\r\n", &r2[..]].concat();
        // Split anywhere: the frames stay the messages.
        a.on_data(Direction::ToServer, &both[..5]);
        a.on_data(Direction::ToServer, &both[5..40]);
        a.on_data(Direction::ToServer, &both[40..]);
        let f = frames_of(&mut a, Direction::ToServer);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].0, f[0].1.as_slice(), f[0].2),
            (BufferId::FrameHttp1Request, &r1[..], 0)
        );
        assert_eq!((f[1].1.as_slice(), f[1].2), (&r2[..], r1.len() as u64 + 2));
        // A response with a gap in its body: cut at the gap, not complete.
        a.on_data(
            Direction::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nAB",
        );
        a.on_gap(Direction::ToClient, 2);
        a.on_data(Direction::ToClient, b"EF");
        let f = frames_of(&mut a, Direction::ToClient);
        assert_eq!(f.len(), 1);
        assert!(f[0].1.ends_with(b"\r\n\r\nAB") && !f[0].3);
        // No rule on frames: nothing is kept.
        let mut b = AppLayer::new(6, 40000, 80);
        b.on_data(Direction::ToServer, r1);
        assert!(b.frames.is_none());
    }

    #[test]
    fn udp_dns_and_sip_datagrams_are_frames() {
        let q = [
            0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, b'a',
            0x00, 0x00, 0x01, 0x00, 0x01,
        ];
        let mut a = AppLayer::new(17, 5000, 53);
        a.needs.frames = FrameNeeds::with(FrameNeeds::DNS);
        a.on_data(Direction::ToServer, &q);
        let f = frames_of(&mut a, Direction::ToServer);
        assert_eq!(f, [(BufferId::FrameDnsPdu, q.to_vec(), 0, true)]);
        let mut s = AppLayer::new(17, 5060, 5060);
        s.needs.frames = FrameNeeds::with(FrameNeeds::SIP);
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\n\r\n";
        s.on_data(Direction::ToServer, m);
        let kinds: Vec<BufferId> = frames_of(&mut s, Direction::ToServer)
            .iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(
            kinds,
            [
                BufferId::FrameSipPdu,
                BufferId::FrameSipRequestLine,
                BufferId::FrameSipRequestHeaders
            ]
        );
    }

    #[test]
    fn big_first_chunk_is_parsed_whole() {
        let mut req = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10000\r\n\r\n".to_vec();
        req.extend_from_slice(&[b'z'; 10_000]);
        let mut a = AppLayer::new(6, 40000, 80);
        a.on_data(Direction::ToServer, &req);
        assert_eq!(a.proto, Some(AppProto::Http));
        let AppState::Http(s) = &a.state else {
            panic!("not http")
        };
        assert!(s.transactions()[0].request_complete);
        assert_eq!(s.transactions()[0].request_body_len, 10_000);
    }

    #[test]
    fn udp_dns_and_failed_flows() {
        let q = [
            0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, b'a',
            0x00, 0x00, 0x01, 0x00, 0x01,
        ];
        let mut a = AppLayer::new(17, 5000, 53);
        a.on_data(Direction::ToServer, &q);
        assert_eq!(a.proto, Some(AppProto::Dns));
        let AppState::Dns(s) = &a.state else {
            panic!("not dns")
        };
        assert_eq!(s.transactions().len(), 1);
        // TCP bytes that match nothing wait for the other direction, then fail.
        let mut b = AppLayer::new(6, 40000, 5555);
        b.on_data(Direction::ToServer, &[0u8; 100]);
        assert_eq!(b.proto, None);
        b.on_data(Direction::ToClient, &[0u8; 10]);
        assert_eq!(b.proto, Some(AppProto::Unknown));
        assert!(matches!(b.state, AppState::Failed));
        // ... or fail once one direction has sent the detection limit alone.
        let mut b = AppLayer::new(6, 40000, 5555);
        b.on_data(Direction::ToServer, &vec![0u8; MAX_DETECT_BYTES]);
        assert_eq!(b.proto, Some(AppProto::Unknown));
        // A gap before detection fails the flow.
        let mut c = AppLayer::new(6, 40000, 80);
        c.on_data(Direction::ToServer, b"GE");
        c.on_gap(Direction::ToServer, 10);
        assert_eq!(c.proto, Some(AppProto::Unknown));
    }
}
