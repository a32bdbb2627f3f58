//! One table of (rule, packet, expected) cases, run with the prefilter on and off.

use super::*;
use std::net::IpAddr;

#[derive(Clone)]
struct Pkt {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    payload: Vec<u8>,
    stream: Option<Vec<u8>>,
    stream_context: usize,
    bufs: Vec<(BufferId, Vec<u8>)>,
    ip: IpFields,
    tcp: Option<TcpFields>,
    icmp: Option<IcmpFields>,
    flow: FlowInfo,
    frag: bool,
    ts: u64,
    events: Vec<u32>,
    l3: Vec<u8>,
    l4: Vec<u8>,
    resp_from: Option<usize>,
    vlan: Vec<u16>,
    app_only: bool,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(payload: &[u8]) -> Pkt {
    Pkt {
        src: ip("192.168.1.10"),
        dst: ip("93.184.216.34"),
        proto: 6,
        sport: 40000,
        dport: 80,
        payload: payload.to_vec(),
        stream: None,
        stream_context: 0,
        bufs: Vec::new(),
        ip: IpFields {
            ttl: 64,
            id: 1234,
            ..IpFields::default()
        },
        tcp: Some(TcpFields {
            flags: tcp_flags::ACK | tcp_flags::PSH,
            seq: 1000,
            ack: 2000,
            window: 512,
            mss: None,
        }),
        icmp: None,
        flow: FlowInfo {
            tracked: true,
            to_server: true,
            established: true,
            app_proto: AppProto::Unknown,
            ..FlowInfo::default()
        },
        frag: false,
        ts: 1_700_000_000_000_000,
        events: Vec::new(),
        l3: Vec::new(),
        l4: Vec::new(),
        resp_from: None,
        vlan: Vec::new(),
        app_only: false,
    }
}

/// A `dcerpc.iface` instance: UUID hex (written order) and major version.
fn iface(uuid_hex: &str, ver: u16) -> Vec<u8> {
    let mut v: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&uuid_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    v.extend_from_slice(&ver.to_be_bytes());
    v
}

fn udp(payload: &[u8]) -> Pkt {
    let mut p = tcp(payload);
    p.proto = 17;
    p.tcp = None;
    p.dport = 53;
    p
}

fn icmp(itype: u8, icode: u8) -> Pkt {
    let mut p = tcp(b"abcdefgh");
    p.proto = 1;
    p.tcp = None;
    p.sport = 0;
    p.dport = 0;
    p.icmp = Some(IcmpFields {
        itype,
        icode,
        id: Some(7),
        seq: Some(9),
    });
    p
}

impl Pkt {
    fn buf(mut self, b: BufferId, d: &[u8]) -> Self {
        self.bufs.push((b, d.to_vec()));
        self
    }
    fn event(mut self, name: &str) -> Self {
        self.events.push(event_id(name));
        self
    }
    fn app(mut self, a: AppProto) -> Self {
        self.flow.app_proto = a;
        self
    }
    fn with(mut self, f: impl FnOnce(&mut Pkt)) -> Self {
        f(&mut self);
        self
    }
    fn run(&self, engine: &Engine, fv: &mut FlowVars, sc: &mut DetectScratch) -> Vec<Match> {
        let bufs: Vec<(BufferId, &[u8])> =
            self.bufs.iter().map(|(b, d)| (*b, d.as_slice())).collect();
        let mut p = PacketInput::new(self.src, self.dst, self.proto, &self.payload);
        p.sport = self.sport;
        p.dport = self.dport;
        p.ip = self.ip;
        p.tcp = self.tcp;
        p.icmp = self.icmp;
        p.flow = self.flow;
        p.is_fragment = self.frag;
        p.stream = self.stream.as_deref();
        p.stream_context = self.stream_context;
        p.buffers = &bufs;
        p.ts_micros = self.ts;
        p.events = &self.events;
        p.l3_header = &self.l3;
        p.l4_header = &self.l4;
        p.to_client_buffers_from = self.resp_from;
        p.vlan = &self.vlan;
        p.app_only = self.app_only;
        let mut out = Vec::new();
        engine.inspect(&p, fv, sc, &mut out);
        out
    }
}

fn engine(rules: &str, prefilter: bool) -> Engine {
    let mut b = EngineBuilder::new();
    b.prefilter(prefilter);
    b.add_str(rules, "table");
    let r = b.report();
    assert_eq!(r.rejected_count(), 0, "rule rejected: {}", check_report(&r));
    b.build().unwrap()
}

fn cases() -> Vec<(&'static str, Pkt, bool)> {
    use BufferId as B;
    vec![
        // frame: the frame's bytes are the buffer; the short name takes the
        // rule's protocol, a full name sets it on a tcp/udp rule
        (
            r#"alert http any any -> any any (frame:http1.request; content:"GET / HTTP/1.1|0d 0a|"; startswith; bsize:20; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::FrameHttp1Request, b"GET / HTTP/1.1\r\nH:1\r"),
            true,
        ),
        (
            r#"alert sip any any -> any any (frame:request.line; content:"SIP/2.0|0d 0a|"; endswith; sid:1;)"#,
            udp(b"")
                .app(AppProto::Sip)
                .buf(B::FrameSipRequestLine, b"INVITE sip:a SIP/2.0\r\n"),
            true,
        ),
        (
            r#"alert sip any any -> any any (frame:request.line; content:"INVITE"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Sip)
                .buf(B::FrameSipRequestHeaders, b"INVITE"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (frame:dns.pdu; content:"|01 20|"; offset:2; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Dns)
                .buf(B::FrameDnsPdu, b"\x12\x34\x01\x20"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (frame:dns.pdu; content:"|01 20|"; offset:2; sid:1;)"#,
            tcp(b"\x12\x34\x01\x20").app(AppProto::Tls),
            false,
        ),
        (
            r#"alert ssh any any -> any any (frame:ssh.record.hdr; content:"|15|"; endswith; bsize:6; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Ssh)
                .buf(B::FrameSshRecordHdr, b"\0\0\0\x0c\x0a\x15"),
            true,
        ),
        // app-layer-event / stream-event: the named event came with the input
        (
            r#"alert http any any -> any any (app-layer-event:http.request_chunk_extension; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .event("http.request_chunk_extension"),
            true,
        ),
        (
            r#"alert http any any -> any any (app-layer-event:http.request_chunk_extension; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .event("http.missing_host_header"),
            false,
        ),
        (
            r#"alert http any any -> any any (app-layer-event:http.request_chunk_extension; sid:1;)"#,
            tcp(b"").app(AppProto::Http1),
            false,
        ),
        (
            r#"alert ip any any -> any any (app-layer-event:applayer_mismatch_protocol_both_directions; sid:1;)"#,
            tcp(b"").event("applayer.mismatch_protocol_both_directions"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (stream-event:reassembly_seq_gap; sid:1;)"#,
            tcp(b"").event("stream.reassembly_seq_gap"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (stream-event:reassembly_seq_gap; sid:1;)"#,
            tcp(b"").event("http.reassembly_seq_gap"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (stream-event:reassembly_seq_gap; content:"x"; sid:1;)"#,
            tcp(b"x").event("stream.reassembly_seq_gap"),
            true,
        ),
        // content, nocase, hex, escapes
        (
            r#"alert tcp any any -> any any (content:"GET /"; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"get /"; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"get /"; nocase; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"|47 45|T|20|"; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"a\;b\"c"; sid:1;)"#,
            tcp(b"xa;b\"c"),
            true,
        ),
        // offset / depth
        (
            r#"alert tcp any any -> any any (content:"HTTP"; depth:4; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"HTTP"; offset:6; depth:4; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"HTTP"; offset:7; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            false,
        ),
        // distance / within, with backtracking over an earlier hit
        (
            r#"alert tcp any any -> any any (content:"AB"; content:"CD"; distance:0; within:2; sid:1;)"#,
            tcp(b"ABxxABCD"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"AB"; content:"CD"; distance:1; within:3; sid:1;)"#,
            tcp(b"ABCD"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"AB"; content:"CD"; distance:1; sid:1;)"#,
            tcp(b"ABxCD"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"CD"; content:"AB"; distance:-4; within:2; sid:1;)"#,
            tcp(b"ABCD"),
            true,
        ),
        // negation
        (
            r#"alert tcp any any -> any any (content:"GET"; content:!"POST"; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"GET"; content:!"HTTP"; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"GET"; content:!"HTTP"; distance:0; within:4; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        // startswith / endswith
        (
            r#"alert tcp any any -> any any (content:"GET"; startswith; sid:1;)"#,
            tcp(b"GET /"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"ET"; startswith; sid:1;)"#,
            tcp(b"GET /"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"1.1"; endswith; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"HTTP"; endswith; sid:1;)"#,
            tcp(b"GET / HTTP/1.1"),
            false,
        ),
        // isdataat
        (
            r#"alert tcp any any -> any any (content:"GET"; isdataat:5,relative; sid:1;)"#,
            tcp(b"GET 12345"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"GET"; isdataat:7,relative; sid:1;)"#,
            tcp(b"GET 12345"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"GET"; isdataat:!1,relative; sid:1;)"#,
            tcp(b"xGET"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (isdataat:8; sid:1;)"#,
            tcp(b"GET 12345"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (isdataat:9; sid:1;)"#,
            tcp(b"GET 12345"),
            false,
        ),
        // pcre
        (
            r#"alert tcp any any -> any any (pcre:"/^GET\s+\/[a-z]+\.php/"; sid:1;)"#,
            tcp(b"GET /index.php"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (pcre:"/^get/"; sid:1;)"#,
            tcp(b"GET /"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (pcre:"/^get/i"; sid:1;)"#,
            tcp(b"GET /"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"GET"; pcre:"/^\s\/x/R"; sid:1;)"#,
            tcp(b"GET /x"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"/x"; pcre:"/^\s\/x/R"; sid:1;)"#,
            tcp(b"GET /x"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (pcre:"/\xff\x00/"; sid:1;)"#,
            tcp(b"a\xff\x00b"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (pcre:"/foo(?!bar)/"; sid:1;)"#,
            tcp(b"foobar foobaz"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (pcre:"/foo(?!bar)/"; sid:1;)"#,
            tcp(b"foobar"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (pcre:"!/evil/"; content:"ok"; sid:1;)"#,
            tcp(b"ok"),
            true,
        ),
        (
            r#"alert http any any -> any any (pcre:"/\.php$/U"; sid:1;)"#,
            tcp(b"x").app(AppProto::Http1).buf(B::HttpUri, b"/a.php"),
            true,
        ),
        (
            r#"alert http any any -> any any (pcre:"/\.php$/U"; sid:1;)"#,
            tcp(b"/a.php").app(AppProto::Http1),
            false,
        ),
        // byte_test / byte_jump / byte_extract / byte_math
        (
            r#"alert tcp any any -> any any (byte_test:2,>,0x100,0; sid:1;)"#,
            tcp(b"\x01\x01rest"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_test:2,>,0x100,0,little; sid:1;)"#,
            tcp(b"\x01\x01rest"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_test:2,=,0x0102,0,little; sid:1;)"#,
            tcp(b"\x02\x01rest"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_test:2,!=,0x0102,0,little; sid:1;)"#,
            tcp(b"\x02\x01rest"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (byte_test:3,=,123,1,string,dec; sid:1;)"#,
            tcp(b"x123y"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_test:1,&,0x80,0; sid:1;)"#,
            tcp(b"\x81"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_test:4,>,1,100; sid:1;)"#,
            tcp(b"\x81"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (byte_jump:1,0; content:"Z"; within:1; sid:1;)"#,
            tcp(b"\x03abcZ"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_jump:1,0; content:"Z"; within:1; sid:1;)"#,
            tcp(b"\x02abcZ"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"L"; byte_jump:1,0,relative,post_offset 1; content:"Z"; within:1; sid:1;)"#,
            tcp(b"L\x02abxZ"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_extract:1,0,len; content:"END"; distance:len; within:3; sid:1;)"#,
            tcp(b"\x02abEND"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (byte_extract:1,0,len; content:"END"; distance:len; within:3; sid:1;)"#,
            tcp(b"\x01abEND"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (byte_math:bytes 1, offset 0, oper +, rvalue 4, result r; byte_test:1,=,r,1; sid:1;)"#,
            tcp(b"\x03\x07"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"|01 e8|"; byte_jump:0,0,relative,post_offset -3; pcre:"/^\x7c\x01\xe8/R"; sid:1;)"#,
            tcp(b"\x7c\x01\xe8x"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.content_len; byte_test:0,>,4000,0,string,dec; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpContentLen, b"4001"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.content_len; byte_test:0,>,4000,0,string,dec; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(B::HttpContentLen, b"40"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"|00 00 00|"; byte_extract:1,0,n,relative; byte_jump:n,0,relative; content:"Z"; within:1; sid:1;)"#,
            tcp(b"\x00\x00\x00\x02\x00\x00Z"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"|00 00 00|"; byte_extract:1,0,n,relative; byte_jump:n,0,relative; content:"Z"; within:1; sid:1;)"#,
            tcp(b"\x00\x00\x00\x09\x00\x01Z"),
            false,
        ),
        // A byte count of 0 from a variable reads nothing and leaves the
        // cursor where it was (suricata-verify detect-bytejump-02).
        (
            r#"alert tcp any any -> any any (content:"|00 00 00|"; byte_extract:1,4,n,relative; byte_jump:n,0,relative; isdataat:1,relative; sid:1;)"#,
            tcp(b"\x00\x00\x00\x05\x34\x23\x06\x00\x21\x0a"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"|00 00 00|"; byte_extract:1,4,n,relative; byte_jump:n,0,relative; isdataat:3,relative; sid:1;)"#,
            tcp(b"\x00\x00\x00\x05\x34\x23\x06\x00\x21\x0a"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"|00 00 00|"; byte_extract:1,0,n,relative; byte_jump:n,0,relative,string,dec; sid:1;)"#,
            tcp(b"\x00\x00\x00\x00123"),
            false,
        ),
        // Extracted values at the extremes must not overflow the window arithmetic.
        (
            r#"alert tcp any any -> any any (byte_extract:8,0,big; content:"x"; distance:big; within:big; sid:1;)"#,
            tcp(b"\x7f\xff\xff\xff\xff\xff\xff\xffx"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (byte_extract:8,0,big; isdataat:big,relative; sid:1;)"#,
            tcp(b"\x7f\xff\xff\xff\xff\xff\xff\xffx"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (byte_jump:8,0,align; content:"x"; sid:1;)"#,
            tcp(b"\x7f\xff\xff\xff\xff\xff\xff\xffx"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (byte_extract:8,0,big,multiplier 1000; content:"x"; offset:big; depth:big; sid:1;)"#,
            tcp(b"\xff\xff\xff\xff\xff\xff\xff\xffx"),
            false,
        ),
        // dsize, bsize, urilen
        (
            r#"alert tcp any any -> any any (dsize:>5; sid:1;)"#,
            tcp(b"123456"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (dsize:2<>6; sid:1;)"#,
            tcp(b"123456"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (dsize:6; sid:1;)"#,
            tcp(b"123456"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.host; bsize:11; content:"example.com"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpHost, b"example.com"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.host; content:"example.com"; bsize:<5; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpHost, b"example.com"),
            false,
        ),
        (
            r#"alert http any any -> any any (urilen:<10; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(B::HttpUri, b"/short"),
            true,
        ),
        (
            r#"alert http any any -> any any (urilen:>10; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(B::HttpUri, b"/short"),
            false,
        ),
        // flow
        (
            r#"alert tcp any any -> any any (flow:established,to_server; content:"x"; sid:1;)"#,
            tcp(b"x"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (flow:established,to_client; content:"x"; sid:1;)"#,
            tcp(b"x"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (flow:not_established; content:"x"; sid:1;)"#,
            tcp(b"x"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (flow:stateless; content:"x"; sid:1;)"#,
            tcp(b"x").with(|p| p.flow.tracked = false),
            true,
        ),
        (
            r#"alert tcp any any -> any any (flow:to_server; content:"x"; sid:1;)"#,
            tcp(b"x").with(|p| p.flow.tracked = false),
            false,
        ),
        (
            r#"alert tcp any any -> any any (flow:only_stream; content:"xyz"; sid:1;)"#,
            tcp(b"z").with(|p| p.stream = Some(b"xyz".to_vec())),
            true,
        ),
        (
            r#"alert tcp any any -> any any (flow:only_stream; content:"xyz"; sid:1;)"#,
            tcp(b"xyz"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (flow:no_stream; content:"xyz"; sid:1;)"#,
            tcp(b"z").with(|p| p.stream = Some(b"xyz".to_vec())),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"xyz"; sid:1;)"#,
            tcp(b"z").with(|p| p.stream = Some(b"xyz".to_vec())),
            true,
        ),
        // IP / TCP / ICMP header keywords
        (
            r#"alert ip any any -> any any (ttl:<10; sid:1;)"#,
            tcp(b"").with(|p| p.ip.ttl = 3),
            true,
        ),
        (
            r#"alert ip any any -> any any (ttl:<10; sid:1;)"#,
            tcp(b""),
            false,
        ),
        (
            r#"alert ip any any -> any any (ip_proto:6; sid:1;)"#,
            tcp(b""),
            true,
        ),
        (
            r#"alert ip any any -> any any (ip_proto:!tcp; sid:1;)"#,
            tcp(b""),
            false,
        ),
        (
            r#"alert ip any any -> any any (ipopts:rr; sid:1;)"#,
            tcp(b"").with(|p| p.ip.ipopts = IPOPT_RR | IPOPT_NOP),
            true,
        ),
        (
            r#"alert ip any any -> any any (ipopts:lsrr; sid:1;)"#,
            tcp(b"").with(|p| p.ip.ipopts = IPOPT_RR),
            false,
        ),
        (
            r#"alert ip any any -> any any (fragbits:M; sid:1;)"#,
            tcp(b"").with(|p| p.ip.mf = true),
            true,
        ),
        (
            r#"alert ip any any -> any any (fragbits:D; sid:1;)"#,
            tcp(b"").with(|p| p.ip.mf = true),
            false,
        ),
        (
            r#"alert ip any any -> any any (fragbits:!D; sid:1;)"#,
            tcp(b"").with(|p| p.ip.mf = true),
            true,
        ),
        (
            r#"alert ip any any -> any any (fragoffset:>0; sid:1;)"#,
            tcp(b"").with(|p| p.ip.frag_offset = 185),
            true,
        ),
        (
            r#"alert ip any any -> any any (id:1234; sid:1;)"#,
            tcp(b""),
            true,
        ),
        (
            r#"alert tcp any any -> any any (flags:S; sid:1;)"#,
            tcp(b"").with(|p| p.tcp.as_mut().unwrap().flags = tcp_flags::SYN),
            true,
        ),
        (
            r#"alert tcp any any -> any any (flags:S; sid:1;)"#,
            tcp(b"").with(|p| p.tcp.as_mut().unwrap().flags = tcp_flags::SYN | tcp_flags::ACK),
            false,
        ),
        (
            r#"alert tcp any any -> any any (flags:S+; sid:1;)"#,
            tcp(b"").with(|p| p.tcp.as_mut().unwrap().flags = tcp_flags::SYN | tcp_flags::ACK),
            true,
        ),
        (
            r#"alert tcp any any -> any any (flags:S,CE; sid:1;)"#,
            tcp(b"").with(|p| p.tcp.as_mut().unwrap().flags = tcp_flags::SYN | tcp_flags::CWR),
            true,
        ),
        (
            r#"alert tcp any any -> any any (tcp.flags:*FS; sid:1;)"#,
            tcp(b"").with(|p| p.tcp.as_mut().unwrap().flags = tcp_flags::FIN),
            true,
        ),
        (
            r#"alert tcp any any -> any any (seq:1000; ack:2000; window:512; sid:1;)"#,
            tcp(b""),
            true,
        ),
        (
            r#"alert tcp any any -> any any (window:!512; sid:1;)"#,
            tcp(b""),
            false,
        ),
        (
            r#"alert tcp any any -> any any (tcp.mss:<536; sid:1;)"#,
            tcp(b"").with(|p| p.tcp.as_mut().unwrap().mss = Some(100)),
            true,
        ),
        (
            r#"alert icmp any any -> any any (itype:8; icode:0; sid:1;)"#,
            icmp(8, 0),
            true,
        ),
        (
            r#"alert icmp any any -> any any (itype:>8; sid:1;)"#,
            icmp(8, 0),
            false,
        ),
        (
            r#"alert icmp any any -> any any (icmp_id:7; icmp_seq:9; sid:1;)"#,
            icmp(8, 0),
            true,
        ),
        (
            r#"alert ip any any -> any any (sameip; sid:1;)"#,
            tcp(b"").with(|p| p.dst = p.src),
            true,
        ),
        (
            r#"alert ip any any -> any any (sameip; sid:1;)"#,
            tcp(b""),
            false,
        ),
        // addresses, ports, direction, protocols
        (
            r#"alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (content:"x"; sid:1;)"#,
            tcp(b"x"),
            true,
        ),
        (
            r#"alert tcp $EXTERNAL_NET any -> $HOME_NET any (content:"x"; sid:1;)"#,
            tcp(b"x"),
            false,
        ),
        (
            r#"alert tcp $EXTERNAL_NET any <> $HOME_NET any (content:"x"; sid:1;)"#,
            tcp(b"x"),
            true,
        ),
        (
            r#"alert tcp any any -> any [!80,443] (content:"x"; sid:1;)"#,
            tcp(b"x"),
            false,
        ),
        (
            r#"alert tcp any 1024: -> any :1023 (content:"x"; sid:1;)"#,
            tcp(b"x"),
            true,
        ),
        (
            r#"alert udp any any -> any any (content:"x"; sid:1;)"#,
            tcp(b"x"),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.query; content:"evil"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::DnsQuery, b"www.evil.com"),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.query; content:"evil"; sid:1;)"#,
            udp(b"").buf(B::DnsQuery, b"www.evil.com"),
            false,
        ),
        (
            r#"alert http any any -> any any (content:"x"; sid:1;)"#,
            tcp(b"x").app(AppProto::Http2),
            true,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:tls; sid:1;)"#,
            tcp(b"x")
                .app(AppProto::Tls)
                .with(|p| p.flow.app_detected = true),
            true,
        ),
        // protocol-detection-only: on the detecting packet, not on later ones
        (
            r#"alert tcp any any -> any any (app-layer-protocol:tls; sid:1;)"#,
            tcp(b"x").app(AppProto::Tls),
            false,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:tls; content:"x"; sid:1;)"#,
            tcp(b"x").app(AppProto::Tls),
            true,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:!tls; sid:1;)"#,
            tcp(b"x").app(AppProto::Tls),
            false,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:!http,final; sid:1;)"#,
            tcp(b"x")
                .app(AppProto::Tls)
                .with(|p| p.flow.app_detected = true),
            true,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:!http,final; sid:1;)"#,
            tcp(b"x"),
            false,
        ),
        // a protocol mismatch: HTTP request, SSH banner back
        (
            r#"alert tcp any any -> any any (app-layer-protocol:http1,to_server; app-layer-protocol:ssh,to_client; sid:1;)"#,
            tcp(b"x").app(AppProto::Http1).with(|p| {
                p.flow.app_proto_ts = AppProto::Http1;
                p.flow.app_proto_tc = AppProto::Ssh;
                p.flow.app_detected = true;
            }),
            true,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:ssh,either; sid:1;)"#,
            tcp(b"x").app(AppProto::Http1).with(|p| {
                p.flow.app_proto_tc = AppProto::Ssh;
                p.flow.app_detected = true;
            }),
            true,
        ),
        (
            r#"alert tcp any any -> any any (app-layer-protocol:ssh,to_client; sid:1;)"#,
            tcp(b"x")
                .app(AppProto::Http1)
                .with(|p| p.flow.app_proto_ts = AppProto::Http1),
            false,
        ),
        // rule hooks: flow_start is the first packet each way
        (
            r#"alert tcp:flow_start any any -> any any (sid:1;)"#,
            tcp(b"").with(|p| p.flow.first_in_direction = true),
            true,
        ),
        (
            r#"alert ip:flow_start any any -> any any (sid:1;)"#,
            tcp(b""),
            false,
        ),
        (
            r#"alert tcp:all any any -> any any (sid:1;)"#,
            tcp(b""),
            true,
        ),
        // stream context: a pattern split over segments matches when its
        // last piece arrives; one wholly in the context is not new
        (
            r#"alert tcp any any -> any any (content:"Please Let Me In"; sid:1;)"#,
            tcp(b"Me In!").with(|p| {
                p.stream = Some(b"Please Let Me In!".to_vec());
                p.stream_context = 11;
            }),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"Please"; sid:1;)"#,
            tcp(b"Me In!").with(|p| {
                p.stream = Some(b"Please Let Me In!".to_vec());
                p.stream_context = 11;
            }),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"Let"; content:"In"; distance:0; sid:1;)"#,
            tcp(b"Me In!").with(|p| {
                p.stream = Some(b"Please Let Me In!".to_vec());
                p.stream_context = 11;
            }),
            true,
        ),
        (
            r#"alert tcp-pkt any any -> any any (content:"Please Let Me In"; sid:1;)"#,
            tcp(b"Me In!").with(|p| {
                p.stream = Some(b"Please Let Me In!".to_vec());
                p.stream_context = 11;
            }),
            false,
        ),
        // vlan.id, flow.pkts, flow.bytes
        (
            r#"alert ip any any -> any any (vlan.id:300,1; sid:1;)"#,
            tcp(b"").with(|p| p.vlan = vec![200, 300, 400]),
            true,
        ),
        (
            r#"alert ip any any -> any any (vlan.id:400,-1; sid:1;)"#,
            tcp(b"").with(|p| p.vlan = vec![200, 300]),
            false,
        ),
        (
            r#"alert ip any any -> any any (vlan.id:>100,all; sid:1;)"#,
            tcp(b"").with(|p| p.vlan = vec![200, 300, 400]),
            true,
        ),
        (
            r#"alert ip any any -> any any (vlan.id:!500,all; sid:1;)"#,
            tcp(b""),
            false,
        ),
        (
            r#"alert ip any any -> any any (flow.pkts:toclient,=10; flow.bytes:either,>3000; sid:1;)"#,
            tcp(b"").with(|p| {
                p.flow.pkts_to_client = 10;
                p.flow.bytes_to_server = 3001;
            }),
            true,
        ),
        (
            r#"alert tcp any any -> any any (stream_size:server,<,1111; stream_size:client,>,5; sid:1;)"#,
            tcp(b"").with(|p| p.flow.stream_size = Some((10, 1008))),
            true,
        ),
        (
            r#"alert tcp any any -> any any (stream_size:either,>,2000; sid:1;)"#,
            tcp(b"").with(|p| p.flow.stream_size = Some((10, 1008))),
            false,
        ),
        // Packet bytes are not stream bytes: no TCP stream, no match.
        (
            r#"alert tcp any any -> any any (stream_size:server,<,1111; sid:1;)"#,
            tcp(b"").with(|p| p.flow.bytes_to_client = 10),
            false,
        ),
        (
            r#"alert ip any any -> any any (flow.pkts:toserver,=10; sid:1;)"#,
            tcp(b"").with(|p| p.flow.pkts_to_client = 10),
            false,
        ),
        // multi-buffer headers, absent
        (
            r#"alert http any any -> any any (http.request_header; content:"X-A: 1"; startswith; endswith; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpRequestHeader, b"Host: a")
                .buf(B::HttpRequestHeader, b"X-A: 1"),
            true,
        ),
        (
            r#"alert http any any -> any any (file.data; absent; http.stat_code; content:"500"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| p.app_only = true)
                .buf(B::HttpStatCode, b"500"),
            true,
        ),
        (
            r#"alert http any any -> any any (file.data; absent; http.stat_code; content:"500"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| p.app_only = true)
                .buf(B::HttpStatCode, b"500")
                .buf(B::FileData, b"x"),
            false,
        ),
        (
            r#"alert http any any -> any any (file.data; absent; sid:1;)"#,
            tcp(b"").app(AppProto::Http1),
            false,
        ),
        (
            r#"alert http any any -> any any (file.data; absent: or_else; content:!"abc"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| p.app_only = true)
                .buf(B::FileData, b"xyz"),
            true,
        ),
        (
            r#"alert http any any -> any any (file.data; absent: or_else; content:!"abc"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| p.app_only = true)
                .buf(B::FileData, b"abc"),
            false,
        ),
        // raw header buffers
        (
            r#"alert ip any any -> any any (ipv4.hdr; content:"|00 00|"; offset:4; depth:2; sid:1;)"#,
            tcp(b"").with(|p| p.l3 = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]),
            true,
        ),
        (
            r#"alert ip any any -> any any (ipv6.hdr; content:"|00 00|"; offset:4; depth:2; sid:1;)"#,
            tcp(b"").with(|p| p.l3 = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]),
            false,
        ),
        (
            r#"alert tcp any any -> any any (tcp.hdr; content:"|02 04|"; offset:20; byte_test:2,<,536,0,relative; sid:1;)"#,
            tcp(b"x").with(|p| {
                p.l4 = vec![0; 20];
                p.l4.extend_from_slice(&[2, 4, 0x01, 0x00]);
            }),
            true,
        ),
        (
            r#"alert ip any any -> any any (udp.hdr; content:"|00 35|"; sid:1;)"#,
            tcp(b"x").with(|p| p.l4 = vec![0x9c, 0x40, 0, 0x35, 0, 8, 0, 0]),
            false,
        ),
        (
            r#"alert icmp any any -> any any (icmpv4.hdr; content:"|08 00|"; startswith; sid:1;)"#,
            icmp(8, 0).with(|p| p.l4 = vec![8, 0, 0xbe, 0x0a, 0, 1, 0, 1]),
            true,
        ),
        // `=>`: both sides of one transaction
        (
            r#"alert http any any => any any (http.uri; content:"/download"; http.stat_code; content:"200"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| p.flow.to_server = false)
                .buf(B::HttpUri, b"/download")
                .buf(B::HttpStatCode, b"200"),
            true,
        ),
        (
            r#"alert http any any => any any (http.uri; content:"/download"; http.stat_code; content:"404"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| p.flow.to_server = false)
                .buf(B::HttpUri, b"/download")
                .buf(B::HttpStatCode, b"200"),
            false,
        ),
        (
            r#"alert http 192.168.1.10 any => 93.184.216.34 80 (http.connection: to_client; content:"close"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| {
                    p.flow.to_server = false;
                    std::mem::swap(&mut p.src, &mut p.dst);
                    std::mem::swap(&mut p.sport, &mut p.dport);
                    p.resp_from = Some(1);
                })
                .buf(B::HttpConnection, b"keep-alive")
                .buf(B::HttpConnection, b"close"),
            true,
        ),
        (
            r#"alert http any any => any any (http.connection: to_server; content:"close"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .with(|p| {
                    p.flow.to_server = false;
                    p.resp_from = Some(1);
                })
                .buf(B::HttpConnection, b"keep-alive")
                .buf(B::HttpConnection, b"close"),
            false,
        ),
        // parameterised transforms
        (
            r#"alert http any any -> any any (http.uri; content:"/?a="; from_base64: offset 4, mode rfc2045; content:"foobar"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpUri, b"/?a=Zm 9v Ym Fy"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.uri; content:"/?a="; from_base64: offset 4, mode strict; content:"foobar"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpUri, b"/?a=Zm 9v Ym Fy"),
            false,
        ),
        (
            r#"alert http any any -> any any (http.request_body; xor:offset 1,extract 1 0; content:"pass"; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(
                B::HttpRequestBody,
                &[0x42, b'p' ^ 0x42, b'a' ^ 0x42, b's' ^ 0x42, b's' ^ 0x42],
            ),
            true,
        ),
        (
            r#"alert http any any -> any any (http.request_line; pcrexform:"[A-Z]+\s+(\S+)"; content:"/x.jpg"; startswith; endswith; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpRequestLine, b"GET /x.jpg HTTP/1.1"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.user_agent; subslice: 0, 4; content:"curl"; endswith; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpUserAgent, b"curl/7.64.1"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.user_agent; subslice: 5, 4; content:"curl"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpUserAgent, b"curl/7.64.1"),
            false,
        ),
        // sticky buffers, legacy modifiers, transforms
        (
            r#"alert http any any -> any any (http.uri; content:"/admin"; startswith; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(B::HttpUri, b"/admin/x"),
            true,
        ),
        (
            r#"alert http any any -> any any (content:"/admin"; http_uri; sid:1;)"#,
            tcp(b"/admin").app(AppProto::Http1).buf(B::HttpUri, b"/x"),
            false,
        ),
        (
            r#"alert http any any -> any any (content:"/admin"; http_uri; content:"Mozilla"; http_user_agent; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpUri, b"/admin")
                .buf(B::HttpUserAgent, b"Mozilla/5"),
            true,
        ),
        (
            r#"alert http any any -> any any (uricontent:"/admin"; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(B::HttpUri, b"/admin"),
            true,
        ),
        (
            r#"alert http any any -> any any (file_data; content:"PK"; depth:2; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::FileData, b"PK\x03\x04"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.header; content:"X-Evil|3a|"; http.method; content:"POST"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Http1)
                .buf(B::HttpHeader, b"Host: a\r\nX-Evil: 1\r\n")
                .buf(B::HttpMethod, b"POST"),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.query; dotprefix; content:".evil.com"; endswith; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsQuery, b"evil.com"),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.query; dotprefix; content:".evil.com"; endswith; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsQuery, b"notevil.com"),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.query; to_lowercase; content:"evil"; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsQuery, b"EVIL.com"),
            true,
        ),
        (
            r#"alert http any any -> any any (http.uri; url_decode; content:"/a b"; sid:1;)"#,
            tcp(b"").app(AppProto::Http1).buf(B::HttpUri, b"/a%20b"),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls.sni; content:"bad.example"; sid:1;)"#,
            tcp(b"").app(AppProto::Tls).buf(B::TlsSni, b"bad.example"),
            true,
        ),
        (
            r#"alert tls any any -> any any (ja3.hash; content:"e7d705a3286e19ea42f587b344ee6865"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::Ja3Hash, b"e7d705a3286e19ea42f587b344ee6865"),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls.certs; content:"Acme"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCerts, b"cert1")
                .buf(B::TlsCerts, b"xAcmex"),
            true,
        ),
        (
            r#"alert ssh any any -> any any (ssh.hassh.server.string; content:"none,zlib@openssh.com"; endswith; ssh.hassh.server; content:"6832f1ce"; startswith; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Ssh)
                .buf(
                    B::SshHasshServerString,
                    b"curve25519-sha256;aes128-ctr;hmac-sha1;none,zlib@openssh.com",
                )
                .buf(B::SshHasshServer, b"6832f1ce43d4397c2c0a3e2f8c94334e"),
            true,
        ),
        (
            r#"alert ssh any any -> any any (ssh.hassh; content:"6832f1ce43d4397c2c0a3e2f8c94334e"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Ssh)
                .buf(B::SshHasshServer, b"6832f1ce43d4397c2c0a3e2f8c94334e"),
            false,
        ),
        // DCERPC: one `dcerpc.iface` instance per interface a call may use
        // (16 UUID bytes as written, then the major version big-endian).
        (
            r#"alert tcp any any -> any any (dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003; dcerpc.opnum:15; sid:1;)"#,
            tcp(b"")
                .buf(
                    B::DcerpcIface,
                    &iface("367abb81984435f1ad3298f038001003", 2),
                )
                .buf(B::DcerpcOpnum, &15u16.to_be_bytes()),
            true,
        ),
        (
            r#"alert tcp any any -> any any (dce_iface:367abb81-9844-35f1-ad32-98f038001003,>1,any_frag; dce_opnum:1,10-16; sid:1;)"#,
            tcp(b"")
                .buf(
                    B::DcerpcIface,
                    &iface("4b324fc8167001d312785a47bf6ee188", 3),
                )
                .buf(
                    B::DcerpcIface,
                    &iface("367abb81984435f1ad3298f038001003", 2),
                )
                .buf(B::DcerpcOpnum, &16u16.to_be_bytes()),
            true,
        ),
        (
            r#"alert tcp any any -> any any (dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003,=1; sid:1;)"#,
            tcp(b"").buf(
                B::DcerpcIface,
                &iface("367abb81984435f1ad3298f038001003", 2),
            ),
            false,
        ),
        (
            r#"alert tcp any any -> any any (dce_opnum:1,10-16; sid:1;)"#,
            tcp(b"").buf(B::DcerpcOpnum, &17u16.to_be_bytes()),
            false,
        ),
        (
            r#"alert dcerpc any any -> any any (dce_stub_data; content:"|09 00|"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Smb)
                .buf(B::DcerpcStubData, b"\x01\x09\x00"),
            true,
        ),
        (
            r#"alert smb any any -> any any (smb.version:2; smb_named_pipe; content:"IPC$"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Smb)
                .buf(B::SmbVersion, &[2])
                .buf(B::SmbNamedPipe, b"\\\\host\\IPC$"),
            true,
        ),
        (
            r#"alert smb any any -> any any (smb.version:1; sid:1;)"#,
            tcp(b"").app(AppProto::Smb).buf(B::SmbVersion, &[2]),
            false,
        ),
        // SIP: header buffers are one instance per header line, tied to the app.
        (
            r#"alert sip any any -> any any (flow:to_server; sip.method; content:"INVITE"; sip.uri; content:"sip:bob@"; startswith; sid:1;)"#,
            udp(b"")
                .app(AppProto::Sip)
                .buf(B::SipMethod, b"INVITE")
                .buf(B::SipUri, b"sip:bob@example.org"),
            true,
        ),
        (
            r#"alert sip any any -> any any (sip.via; content:"SIP/2.0/TCP"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Sip)
                .buf(B::SipVia, b"SIP/2.0/UDP 10.0.0.1")
                .buf(B::SipVia, b"SIP/2.0/TCP 10.0.0.2"),
            true,
        ),
        (
            r#"alert sip any any -> any any (sip.via; content:"UDP"; content:"10.0.0.2"; distance:0; sid:1;)"#,
            udp(b"")
                .app(AppProto::Sip)
                .buf(B::SipVia, b"SIP/2.0/UDP 10.0.0.1")
                .buf(B::SipVia, b"SIP/2.0/TCP 10.0.0.2"),
            false,
        ),
        (
            r#"alert sip any any -> any any (sip.stat_code; content:"486"; sip.stat_msg; content:"Busy"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Sip)
                .buf(B::SipStatCode, b"486")
                .buf(B::SipStatMsg, b"Busy Here"),
            true,
        ),
        (
            r#"alert sip any any -> any any (sip.user_agent; content:"friendly-scanner"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::SipUserAgent, b"friendly-scanner"),
            false,
        ),
        (
            r#"alert tcp any any -> any any (content:"x"; pkt_data; content:"y"; sid:1;)"#,
            tcp(b"xy"),
            true,
        ),
        // DNS integer keywords: exclusive ranges, negation, enumerations
        (
            r#"alert dns any any -> any any (dns.opcode:4; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsOpcode, &[4]),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.opcode:!0; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsOpcode, &[0]),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.opcode:!0; sid:1;)"#,
            udp(b"").app(AppProto::Dns),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.opcode:7-15; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsOpcode, &[7]),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.opcode:!7-15; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsOpcode, &[7]),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.rcode:nxdomain; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsRcode, &[3]),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.rrtype:mx; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::DnsRrtype, &[0, 1])
                .buf(B::DnsRrtype, &[0, 15]),
            true,
        ),
        // MQTT: integer buffers hold one byte per packet of the transaction.
        (
            r#"alert mqtt any any -> any any (mqtt.type:CONNECT,0; mqtt.type:CONNACK,1; mqtt.reason_code:0; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttType, &[1])
                .buf(B::MqttType, &[2])
                .buf(B::MqttReasonCode, &[0]),
            true,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.type:CONNACK,0; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttType, &[1])
                .buf(B::MqttType, &[2]),
            false,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.flags:!retain,!dup; mqtt.qos:1; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttFlags, &[0x08])
                .buf(B::MqttFlags, &[0x00])
                .buf(B::MqttQos, &[1]),
            true,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.flags:retain; sid:1;)"#,
            tcp(b"").app(AppProto::Mqtt).buf(B::MqttFlags, &[0x08]),
            false,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.connect.flags:username,!password,clean_session; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttConnectFlags, &[0x82]),
            true,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.connect.flags:username,!password; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttConnectFlags, &[0xc2]),
            false,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.connack.session_present:true; mqtt.protocol_version:>=4; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttConnackSessionPresent, &[1])
                .buf(B::MqttProtocolVersion, &[5]),
            true,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.subscribe.topic; content:"topicY"; mqtt.connack.return_code:!0; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttSubscribeTopic, b"topicX")
                .buf(B::MqttSubscribeTopic, b"topicY")
                .buf(B::MqttReasonCode, &[0]),
            false,
        ),
        (
            r#"alert mqtt any any -> any any (mqtt.publish.message; content:"|FF D8 FF E0|"; startswith; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Mqtt)
                .buf(B::MqttPublishMessage, b"\xff\xd8\xff\xe0JFIF"),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.rrtype:1,all; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::DnsRrtype, &[0, 1])
                .buf(B::DnsRrtype, &[0, 15]),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.rrtype:1,all; sid:1;)"#,
            udp(b"").app(AppProto::Dns),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.rrtype:15,-1; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::DnsRrtype, &[0, 1])
                .buf(B::DnsRrtype, &[0, 15]),
            true,
        ),
        (
            r#"alert dns any any -> any any (dns.rrtype:15,0; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::DnsRrtype, &[0, 1])
                .buf(B::DnsRrtype, &[0, 15]),
            false,
        ),
        (
            r#"alert dns any any -> any any (dns.rrtype:1,2; sid:1;)"#,
            udp(b"").app(AppProto::Dns).buf(B::DnsRrtype, &[0, 1]),
            false,
        ),
        // DNS name multi-buffers; mDNS rules need an mDNS flow
        (
            r#"alert dns any any -> any any (dns.response.rrname; content:"aspmx"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::DnsResponseRrname, b"google.com")
                .buf(B::DnsResponseRrname, b"aspmx.l.google.com"),
            true,
        ),
        (
            r#"alert mdns any any -> any any (mdns.queries.rrname; content:"_apple"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Mdns)
                .buf(B::MdnsQueriesRrname, b"_apple-mobdev._tcp.local"),
            true,
        ),
        (
            r#"alert mdns any any -> any any (mdns.queries.rrname; content:"_apple"; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dns)
                .buf(B::MdnsQueriesRrname, b"_apple-mobdev._tcp.local"),
            false,
        ),
        (
            r#"alert llmnr any any -> any any (llmnr.answers.rrname; content:"c2"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Llmnr)
                .buf(B::LlmnrAnswersRrname, b"c2.local"),
            true,
        ),
        // TLS legacy value keywords and certificate dates
        (
            r#"alert tls any any -> any any (tls.subject:"CN=SELKS"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertSubject, b"C=FR, O=Stamus, CN=SELKS"),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls.issuerdn:!"CN=SELKS"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertIssuer, b"C=FR, O=Stamus, CN=SELKS"),
            false,
        ),
        (
            r#"alert tls any any -> any any (tls.issuerdn:!"CN=Other"; sid:1;)"#,
            tcp(b"").app(AppProto::Tls),
            false,
        ),
        (
            r#"alert tls any any -> any any (tls.fingerprint:"90:86:A4:3B"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertFingerprint, b"90:86:a4:3b:f5"),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls_cert_notafter:>2015; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                // 2025-02-09T18:07:27Z
                .buf(B::TlsCertNotAfter, &1_739_124_447u64.to_be_bytes()),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls_cert_notafter:<2025-02-09T18:07:27; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertNotAfter, &1_739_124_447u64.to_be_bytes()),
            false,
        ),
        (
            r#"alert tls any any -> any any (tls_cert_notbefore:2015-01-01<>2015-03-01; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                // 2015-02-12T18:07:27Z
                .buf(B::TlsCertNotBefore, &1_423_764_447u64.to_be_bytes()),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls.random_time; content:"|94 2d|"; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsRandomTime, &[0x94, 0x2d, 0x1f, 0xef]),
            true,
        ),
        // Certificate validity against the packet time (2023-11-14T22:13:20Z)
        (
            r#"alert tls any any -> any any (tls_cert_expired; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertNotBefore, &1_423_764_447u64.to_be_bytes())
                .buf(B::TlsCertNotAfter, &1_600_000_000u64.to_be_bytes()),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls_cert_valid; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertNotBefore, &1_423_764_447u64.to_be_bytes())
                .buf(B::TlsCertNotAfter, &1_600_000_000u64.to_be_bytes()),
            false,
        ),
        (
            r#"alert tls any any -> any any (tls_cert_valid; sid:1;)"#,
            tcp(b"")
                .app(AppProto::Tls)
                .buf(B::TlsCertNotBefore, &1_423_764_447u64.to_be_bytes())
                .buf(B::TlsCertNotAfter, &1_800_000_000u64.to_be_bytes()),
            true,
        ),
        (
            r#"alert tls any any -> any any (tls_cert_expired; sid:1;)"#,
            tcp(b"").app(AppProto::Tls),
            false,
        ),
        // DHCP times (integer keywords, 32-bit values)
        (
            r#"alert dhcp any any -> any any (dhcp.renewal_time:1000<>2000; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dhcp)
                .buf(B::DhcpRenewalTime, &1681u32.to_be_bytes()),
            true,
        ),
        (
            r#"alert dhcp any any -> any any (dhcp.leasetime:<7200; sid:1;)"#,
            udp(b"")
                .app(AppProto::Dhcp)
                .buf(B::DhcpLeaseTime, &86_400u32.to_be_bytes()),
            false,
        ),
        // base64
        (
            r#"alert tcp any any -> any any (content:"auth="; base64_decode:relative; base64_data; content:"admin"; sid:1;)"#,
            tcp(b"auth=YWRtaW46cGFzcw=="),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"auth="; base64_decode:relative; base64_data; content:"root"; sid:1;)"#,
            tcp(b"auth=YWRtaW46cGFzcw=="),
            false,
        ),
        // fast_pattern on a short content while a longer one exists
        (
            r#"alert tcp any any -> any any (content:"ab"; fast_pattern; content:"longer-pattern"; sid:1;)"#,
            tcp(b"ab longer-pattern"),
            true,
        ),
        (
            r#"alert tcp any any -> any any (content:"ab"; fast_pattern; content:"longer-pattern"; sid:1;)"#,
            tcp(b"ab longer"),
            false,
        ),
    ]
}

#[test]
fn keyword_table_prefilter_on_and_off() {
    let mut failures = Vec::new();
    for (i, (rule, pkt, want)) in cases().into_iter().enumerate() {
        for pf in [true, false] {
            let e = engine(rule, pf);
            let got = !pkt
                .run(&e, &mut FlowVars::default(), &mut DetectScratch::new())
                .is_empty();
            if got != want {
                failures.push(format!(
                    "case {i} prefilter={pf}: {rule} expected {want} got {got}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn flowbits_across_packets() {
    for pf in [true, false] {
        let e = engine(
            r#"alert tcp any any -> any any (content:"login"; flowbits:set,auth; flowbits:noalert; sid:1;)
alert tcp any any -> any any (content:"secret"; flowbits:isset,auth; sid:2;)
alert tcp any any -> any any (content:"secret"; flowbits:isnotset,auth; sid:3;)
alert tcp any any -> any any (content:"logout"; flowbits:unset,auth; sid:4;)
alert tcp any any -> any any (content:"either"; flowbits:isset,auth|other; sid:5;)"#,
            pf,
        );
        let (mut fv, mut sc) = (FlowVars::default(), DetectScratch::new());
        let sids = |m: Vec<Match>| {
            m.iter()
                .map(|m| (m.rule.sid, m.noalert))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sids(tcp(b"secret").run(&e, &mut fv, &mut sc)),
            vec![(3, false)]
        );
        assert_eq!(
            sids(tcp(b"login").run(&e, &mut fv, &mut sc)),
            vec![(1, true)]
        );
        assert_eq!(
            sids(tcp(b"secret either").run(&e, &mut fv, &mut sc)),
            vec![(2, false), (5, false)]
        );
        assert_eq!(
            sids(tcp(b"logout").run(&e, &mut fv, &mut sc)),
            vec![(4, false)]
        );
        assert_eq!(
            sids(tcp(b"secret").run(&e, &mut fv, &mut sc)),
            vec![(3, false)]
        );
        // Another flow's vars are independent.
        let mut other = FlowVars::default();
        assert_eq!(
            sids(tcp(b"secret").run(&e, &mut other, &mut sc)),
            vec![(3, false)]
        );
    }
}

#[test]
fn xbits_follow_hosts_across_flows() {
    let e = engine(
        r#"alert tcp any any -> any any (content:"stage1"; xbits:set,seen,track ip_src,expire 60; noalert; sid:1;)
alert tcp any any -> any any (content:"stage2"; xbits:isset,seen,track ip_src; sid:2;)
alert tcp any any -> any any (content:"pair"; xbits:isset,seen2,track ip_pair; sid:3;)
alert tcp any any -> any any (content:"mark"; xbits:set,seen2,track ip_pair; noalert; sid:4;)"#,
        true,
    );
    let mut sc = DetectScratch::new();
    let sids = |m: Vec<Match>| {
        m.iter()
            .filter(|m| !m.noalert)
            .map(|m| m.rule.sid)
            .collect::<Vec<_>>()
    };
    // Not set yet.
    assert!(sids(tcp(b"stage2").run(&e, &mut FlowVars::default(), &mut sc)).is_empty());
    tcp(b"stage1").run(&e, &mut FlowVars::default(), &mut sc);
    // Another flow from the same source sees it...
    assert_eq!(
        sids(tcp(b"stage2").run(&e, &mut FlowVars::default(), &mut sc)),
        vec![2]
    );
    // ...another source does not, and it expires after 60 s.
    let other = tcp(b"stage2").with(|p| p.src = ip("192.168.1.99"));
    assert!(sids(other.run(&e, &mut FlowVars::default(), &mut sc)).is_empty());
    let late = tcp(b"stage2").with(|p| p.ts += 61_000_000);
    assert!(sids(late.run(&e, &mut FlowVars::default(), &mut sc)).is_empty());
    // ip_pair is direction-agnostic.
    tcp(b"mark").run(&e, &mut FlowVars::default(), &mut sc);
    let back = tcp(b"pair").with(|p| std::mem::swap(&mut p.src, &mut p.dst));
    assert_eq!(
        sids(back.run(&e, &mut FlowVars::default(), &mut sc)),
        vec![3]
    );
}

#[test]
fn hostbits_set_on_one_host_seen_from_another_flow() {
    let e = engine(
        r#"alert tcp any any -> any any (content:"login"; hostbits:set,bad,dst,expire 30; noalert; sid:1;)
alert tcp any any -> any any (content:"later"; hostbits:isset,bad,dst; sid:2;)
alert tcp any any -> any any (content:"later"; hostbits:isset,bad; sid:3;)
alert tcp any any -> any any (content:"flip"; hostbits:toggle,bad,dst; noalert; sid:4;)"#,
        true,
    );
    let mut sc = DetectScratch::new();
    let sids = |m: Vec<Match>| {
        m.iter()
            .filter(|m| !m.noalert)
            .map(|m| m.rule.sid)
            .collect::<Vec<_>>()
    };
    assert!(sids(tcp(b"later").run(&e, &mut FlowVars::default(), &mut sc)).is_empty());
    tcp(b"login").run(&e, &mut FlowVars::default(), &mut sc);
    // Another client of that server: the bit is on the server (dst), not the client (src).
    let other = tcp(b"later").with(|p| p.src = ip("192.168.1.99"));
    assert_eq!(
        sids(other.run(&e, &mut FlowVars::default(), &mut sc)),
        vec![2]
    );
    let late = tcp(b"later").with(|p| p.ts += 31_000_000);
    assert!(sids(late.run(&e, &mut FlowVars::default(), &mut sc)).is_empty());
    let at = |pl: &[u8]| tcp(pl).with(|p| p.ts += 40_000_000);
    at(b"flip").run(&e, &mut FlowVars::default(), &mut sc);
    assert_eq!(
        sids(at(b"later").run(&e, &mut FlowVars::default(), &mut sc)),
        vec![2]
    );
    at(b"flip").run(&e, &mut FlowVars::default(), &mut sc);
    assert!(sids(at(b"later").run(&e, &mut FlowVars::default(), &mut sc)).is_empty());
}

#[test]
fn flowint_counts() {
    let e = engine(
        r#"alert tcp any any -> any any (content:"try"; flowint:tries,+,1; noalert; sid:1;)
alert tcp any any -> any any (content:"try"; flowint:tries,>=,3; sid:2;)"#,
        true,
    );
    let (mut fv, mut sc) = (FlowVars::default(), DetectScratch::new());
    let mut alerts = Vec::new();
    for _ in 0..4 {
        let m = tcp(b"try").run(&e, &mut fv, &mut sc);
        alerts.push(m.iter().filter(|m| !m.noalert).count());
    }
    assert_eq!(alerts, vec![0, 0, 1, 1]);
}

#[test]
fn thresholds_use_packet_time() {
    let e = engine(
        r#"alert tcp any any -> any any (content:"a"; threshold:type limit, track by_src, count 2, seconds 60; sid:1;)
alert tcp any any -> any any (content:"b"; threshold:type threshold, track by_src, count 3, seconds 60; sid:2;)
alert tcp any any -> any any (content:"c"; threshold:type both, track by_dst, count 2, seconds 60; sid:3;)
alert tcp any any -> any any (content:"d"; detection_filter:track by_src, count 2, seconds 60; sid:4;)"#,
        true,
    );
    let mut sc = DetectScratch::new();
    let mut count = |payload: &[u8], n: usize, step: u64| -> Vec<usize> {
        let mut fv = FlowVars::default();
        (0..n)
            .map(|i| {
                tcp(payload)
                    .with(|p| p.ts += i as u64 * step)
                    .run(&e, &mut fv, &mut sc)
                    .len()
            })
            .collect()
    };
    assert_eq!(count(b"a", 4, 1_000_000), vec![1, 1, 0, 0]);
    assert_eq!(count(b"b", 6, 1_000_000), vec![0, 0, 1, 0, 0, 1]);
    assert_eq!(count(b"c", 4, 1_000_000), vec![0, 1, 0, 0]);
    assert_eq!(count(b"d", 4, 1_000_000), vec![0, 0, 1, 1]);
    // backoff: hits 1, 2, 4, 8 of 10 alert (count 1, multiplier 2).
    let eb = engine(
        r#"alert tcp any any -> any any (content:"k"; threshold:type backoff, track by_flow, count 1, multiplier 2; sid:1;)"#,
        true,
    );
    let mut fb = FlowVars::default();
    let hits: Vec<usize> = (0..10)
        .map(|_| tcp(b"k").run(&eb, &mut fb, &mut sc).len())
        .collect();
    assert_eq!(hits, vec![1, 1, 0, 1, 0, 0, 0, 1, 0, 0]);
    // by_flow counts per flow.
    let e2 = engine(
        r#"alert tcp any any -> any any (content:"f"; threshold:type limit, track by_flow, count 1, seconds 60; sid:1;)"#,
        true,
    );
    let (mut f1, mut f2) = (FlowVars::default(), FlowVars::default());
    let hits: Vec<usize> = [&mut f1, &mut f2]
        .into_iter()
        .flat_map(|fv| {
            let a = tcp(b"f").run(&e2, fv, &mut sc).len();
            let b = tcp(b"f").run(&e2, fv, &mut sc).len();
            [a, b]
        })
        .collect();
    assert_eq!(hits, vec![1, 0, 1, 0]);
    // A new window after 60 s of packet time.
    let mut fv = FlowVars::default();
    let late = tcp(b"a")
        .with(|p| p.ts += 120_000_000)
        .run(&e, &mut fv, &mut sc);
    assert_eq!(late.len(), 1);
}

#[test]
fn detection_filter_unique_on_counts_distinct_ports() {
    // suricata-verify detection_filter-distinct-srcport: count 1 means more
    // than one distinct source port from the host within the window.
    let e = engine(
        r#"alert tcp any any -> any any (content:"u"; detection_filter:track by_src, count 1, seconds 60, unique_on src_port; sid:1;)
alert tcp any any -> any any (content:"v"; detection_filter:track by_src, count 2, seconds 60, unique_on dst_port; sid:2;)"#,
        true,
    );
    let mut sc = DetectScratch::new();
    let mut run = |payload: &[u8], ports: &[(u16, u16)], t0: u64| -> Vec<usize> {
        let mut fv = FlowVars::default();
        ports
            .iter()
            .map(|&(sp, dp)| {
                tcp(payload)
                    .with(|p| {
                        p.sport = sp;
                        p.dport = dp;
                        p.ts += t0;
                    })
                    .run(&e, &mut fv, &mut sc)
                    .len()
            })
            .collect()
    };
    // The same source port twice does not count twice.
    assert_eq!(
        run(b"u", &[(2000, 80), (2000, 80), (2001, 80), (2000, 80)], 0),
        vec![0, 0, 1, 1]
    );
    // A new window (packet time) starts from scratch.
    assert_eq!(
        run(b"u", &[(3000, 80), (3001, 80)], 120_000_000),
        vec![0, 1]
    );
    assert_eq!(
        run(b"v", &[(1, 80), (2, 80), (3, 81), (4, 82)], 0),
        vec![0, 0, 0, 1]
    );
    let mut b = EngineBuilder::new();
    b.add_str(
        r#"alert tcp any any -> any any (detection_filter:track by_src, count 1, seconds 60, unique_on ttl; sid:1;)"#,
        "t",
    );
    assert_eq!(b.report().rejected_count(), 1);
}

#[test]
fn threshold_config_suppress_and_rate_filter() {
    let mut b = EngineBuilder::new();
    b.threshold_str(
        "suppress gen_id 1, sig_id 1, track by_src, ip 192.168.1.10\nrate_filter gen_id 1, sig_id 2, track by_rule, count 1, seconds 60, new_action drop, timeout 30\n",
        "threshold.config",
    );
    b.add_str(
        "alert tcp any any -> any any (content:\"x\"; sid:1;)\nalert tcp any any -> any any (content:\"y\"; sid:2;)\n",
        "t",
    );
    let e = b.build().unwrap();
    let mut sc = DetectScratch::new();
    let mut fv = FlowVars::default();
    assert!(tcp(b"x").run(&e, &mut fv, &mut sc).is_empty());
    assert_eq!(
        tcp(b"x")
            .with(|p| p.src = ip("10.9.9.9"))
            .run(&e, &mut fv, &mut sc)
            .len(),
        1
    );
    let a1 = tcp(b"y").run(&e, &mut fv, &mut sc);
    let a2 = tcp(b"y").run(&e, &mut fv, &mut sc);
    assert_eq!((a1[0].action, a2[0].action), (Action::Alert, Action::Drop));
}

#[test]
fn match_carries_alert_fields_and_pass_stops() {
    let e = engine(
        r#"alert tcp any any -> any any (msg:"ET TEST \"quoted\""; content:"x"; classtype:trojan-activity; metadata:created_at 2024_01_01, tag a, tag b; reference:url,example.com; gid:1; rev:7; sid:10;)
alert tcp any any -> any any (msg:"prio"; content:"y"; classtype:bad-unknown; priority:1; sid:11;)"#,
        true,
    );
    let m = tcp(b"x").run(&e, &mut FlowVars::default(), &mut DetectScratch::new());
    let r = &m[0].rule;
    assert_eq!(
        (r.gid, r.sid, r.rev, r.msg.as_str()),
        (1, 10, 7, "ET TEST \"quoted\"")
    );
    assert_eq!(r.category.as_deref(), Some("A Network Trojan was detected"));
    assert_eq!(r.severity, 1);
    let md: Vec<(&str, &str)> = r.metadata.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(
        md,
        vec![("created_at", "2024_01_01"), ("tag", "a"), ("tag", "b")]
    );
    assert_eq!(
        r.metadata_grouped(),
        vec![("created_at", vec!["2024_01_01"]), ("tag", vec!["a", "b"])]
    );
    assert_eq!(r.metadata_values("tag").collect::<Vec<_>>(), vec!["a", "b"]);
    let m = tcp(b"y").run(&e, &mut FlowVars::default(), &mut DetectScratch::new());
    assert_eq!(m[0].rule.severity, 1);

    let e = engine(
        "alert tcp any any -> any any (content:\"x\"; sid:1;)\npass tcp any any -> any any (content:\"x\"; sid:2;)\n",
        true,
    );
    let m = tcp(b"x").run(&e, &mut FlowVars::default(), &mut DetectScratch::new());
    assert_eq!(
        m.iter()
            .map(|m| (m.rule.sid, m.action, m.noalert))
            .collect::<Vec<_>>(),
        vec![(2, Action::Pass, true)]
    );
}

#[test]
fn rejects_with_reasons() {
    let mut b = EngineBuilder::new();
    b.add_str(
        r#"alert tcp any any -> any any (content:"x"; foo; sid:1;)
alert tcp any any -> any any (pcre:"/(unclosed/"; sid:2;)
alert xyz any any -> any any (sid:3;)
alert tcp any any <- any any (sid:4;)
alert tcp any any -> any any (content:"x"; xbits:set,a,track ip_flow; sid:5;)
alert tcp any any -> any any (content:"x"; classtype:nope; sid:6;)
alert tcp any any -> any any (content:"x";)
alert tcp any any -> any any (content:"x"; sid:7;)
alert tcp any any -> any any (content:"y"; sid:7;)
alert tcp $NOPE any -> any any (sid:8;)
alert tcp any any -> any any (content:"abc"; depth:2; sid:9;)
alert tcp any any -> any any (content:"x"; byte_test:2,=,1,0,dce; sid:10;)
alert tcp any any -> any any (app-layer-protocol:http1,original; sid:11;)
alert tcp any any -> any any (app-layer-protocol:!http,final; sid:12;)
alert dns any any -> any any (dns.rrtype:1,nb>2; sid:13;)
alert dns any any -> any any (dns.opcode; content:"x"; sid:14;)
alert dns any any -> any any (dns.opcode:256; sid:15;)
alert tls any any -> any any (tls_cert_notafter:>2015-13; sid:16;)
alert dns any any -> any any (dns.opcode:4,1; sid:17;)
alert dns any any -> any any (dns.query; domain; content:"bbc.co.uk"; sid:18;)
alert http any any -> any any (http.connection: to_client; content:"x"; sid:19;)
alert tcp any any -> any any (dcerpc.iface:367abb81-9844-35f1-ad32; sid:20;)
alert tcp any any -> any any (dcerpc.opnum:5-2; sid:21;)
alert smb any any -> any any (smb.version:3; sid:22;)
"#,
        "bad.rules",
    );
    let r = b.report();
    let text = check_report(&r);
    assert!(text.ends_with("2 rules loaded, 22 rejected"), "{text}");
    for want in [
        "bad.rules:1 sid 1: unknown keyword \"foo\"",
        "bad.rules:2 sid 2: bad pcre",
        "bad.rules:3 sid 3: unsupported protocol \"xyz\"",
        "bad.rules:4 sid 4: direction \"<-\"",
        "bad.rules:5 sid 5: xbits: unsupported track \"ip_flow\"",
        "bad.rules:6 sid 6: unknown classtype \"nope\"",
        "bad.rules:7 sid ?: rule has no sid",
        "bad.rules:9 sid 7: duplicate sid (first loaded at bad.rules:8)",
        "bad.rules:10 sid 8: source address: unknown address variable \"$NOPE\"",
        "bad.rules:11 sid 9: depth 2 is smaller than the content length 3",
        "bad.rules:12 sid 10: byte_test: \"dce\" is not supported",
        "bad.rules:13 sid 11: app-layer-protocol: \"original\" is not supported",
        "bad.rules:15 sid 13: multi-integer index \"nb>2\" is not supported",
        "bad.rules:16 sid 14: keyword \"dns.opcode\" needs a value",
        "bad.rules:17 sid 15: dns.opcode: value 256 out of range (max 255)",
        "bad.rules:18 sid 16: bad date \"2015-13\"",
        "bad.rules:19 sid 17: dns.opcode: takes no index",
        "bad.rules:20 sid 18: transform \"domain\" needs the Public Suffix List",
        "bad.rules:21 sid 19: \"http.connection: to_client\" needs a transactional (=>) rule",
        "bad.rules:22 sid 20: dcerpc.iface: bad UUID \"367abb81-9844-35f1-ad32\"",
        "bad.rules:23 sid 21: dcerpc.opnum: bad value \"5-2\"",
        "bad.rules:24 sid 22: smb.version: \"3\" is not 1 or 2",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn bad_mqtt_keyword_values_say_why() {
    let mut b = EngineBuilder::new();
    b.add_str(
        r#"alert mqtt any any -> any any (mqtt.qos:3; sid:1;)
alert mqtt any any -> any any (mqtt.flags:retain,sticky; sid:2;)
alert mqtt any any -> any any (mqtt.flags:retain,!retain; sid:3;)
alert mqtt any any -> any any (mqtt.connack.session_present:maybe; sid:4;)
alert mqtt any any -> any any (mqtt.type:BOGUS; sid:5;)
alert mqtt any any -> any any (mqtt.reason_code:1,0; sid:6;)
alert mqtt any any -> any any (mqtt.type:PUBLISH,1; mqtt.connect.flags:will; sid:7;)
"#,
        "mqtt.rules",
    );
    let text = check_report(&b.report());
    assert!(text.ends_with("1 rules loaded, 6 rejected"), "{text}");
    for want in [
        "mqtt.rules:1 sid 1: mqtt.qos: expected 0, 1 or 2, got \"3\"",
        "mqtt.rules:2 sid 2: mqtt.flags: unknown flag \"sticky\" (known: dup, retain)",
        "mqtt.rules:3 sid 3: mqtt.flags: flag \"retain\" given twice",
        "mqtt.rules:4 sid 4: mqtt.connack.session_present: expected true or false",
        "mqtt.rules:5 sid 5: mqtt.type:",
        "mqtt.rules:6 sid 6: mqtt.reason_code: takes no index",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn event_rules_naming_unraised_events_are_rejected() {
    let mut b = EngineBuilder::new();
    b.app_events(["http.request_chunk_extension", "stream.reassembly_seq_gap"]);
    b.add_str(
        r#"alert http any any -> any any (app-layer-event:http.request_chunk_extension; sid:1;)
alert http any any -> any any (app-layer-event:http.nope; sid:2;)
alert smtp any any -> any any (app-layer-event:smtp.invalid_reply; sid:3;)
alert tcp any any -> any any (stream-event:reassembly_seq_gap; sid:4;)
alert tcp any any -> any any (stream-event:stream.reassembly_seq_gap; sid:5;)
alert tcp any any -> any any (stream-event:3whs_syn_flood; sid:6;)
alert tcp any any -> any any (app-layer-event:nodot; sid:7;)
alert ip any any -> any any (app-layer-event:applayer_proto_detection_skipped; sid:8;)
"#,
        "ev.rules",
    );
    let text = check_report(&b.report());
    assert!(text.ends_with("3 rules loaded, 5 rejected"), "{text}");
    for want in [
        "ev.rules:2 sid 2: app-layer-event: vigie's HTTP parser does not raise \"http.nope\"",
        "ev.rules:3 sid 3: app-layer-event: vigie has no SMTP parser raising events",
        "ev.rules:6 sid 6: stream-event: vigie's TCP stream tracking does not raise \"stream.3whs_syn_flood\"",
        "ev.rules:7 sid 7: app-layer-event: \"nodot\" must be <protocol>.<event>",
        "ev.rules:8 sid 8: app-layer-event: vigie has no app-layer protocol detection raising events",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn frame_rules_name_a_known_frame_of_a_framed_protocol() {
    let mut b = EngineBuilder::new();
    b.add_str(
        r#"alert tcp any any -> any any (frame:pdu; content:"x"; sid:1;)
alert http any any -> any any (frame:http1.bogus; content:"x"; sid:2;)
alert dcerpc any any -> any any (frame:pdu; content:"x"; sid:3;)
alert tls any any -> any any (frame:dns.pdu; content:"x"; sid:4;)
alert mqtt any any -> any any (frame:mqtt.pdu; content:"x"; sid:5;)
alert ssl any any -> any any (frame:alert; content:"x"; sid:6;)"#,
        "f",
    );
    let r = b.report();
    assert_eq!(r.loaded(), 1, "{}", check_report(&r));
    let reasons: Vec<&str> = r.rejected.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons[0].contains("names no protocol"), "{reasons:?}");
    assert!(reasons[1]
        .contains("unknown frame type \"bogus\" for http1 (known: request, response, stream)"));
    assert!(reasons[2].contains("vigie marks no frames for protocol \"dcerpc\""));
    assert!(reasons[3].contains("is a dns frame but the rule is for tls"));
    assert!(reasons[4].contains("\"mqtt\""));
}

#[test]
fn oversized_and_deeply_nested_rules_are_rejected() {
    let mut b = EngineBuilder::new();
    let long = format!(
        "alert tcp any any -> any any (content:\"{}\"; sid:1;)",
        "a".repeat(70_000)
    );
    b.add_str(&long, "long");
    let deep = format!(
        "alert tcp any any -> any any (pcre:\"/{}a{}/\"; sid:2;)",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    b.add_str(&deep, "deep");
    let nested = format!(
        "alert tcp {}1.2.3.4{} any -> any any (sid:3;)",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    b.add_str(&nested, "nested");
    let r = b.report();
    assert_eq!(r.rejected_count(), 3, "{}", check_report(&r));
    assert!(r.rejected[0].reason.starts_with("rule is 70"));
    assert!(r.rejected[1].reason.starts_with("bad pcre"));
    assert!(r.rejected[2].reason.contains("nest too deep"));
}

#[test]
fn waiting_for_buffers_are_counted() {
    let mut b = EngineBuilder::new();
    b.provided_buffers(&[BufferId::HttpUri]);
    b.add_str(
        r#"alert http any any -> any any (http.uri; content:"/a"; sid:1;)
alert http any any -> any any (http.user_agent; content:"curl"; sid:2;)
alert tls any any -> any any (tls.sni; content:"x"; sid:3;)
alert tls any any -> any any (tls.sni; content:"y"; sid:4;)"#,
        "w",
    );
    let r = b.report();
    assert_eq!(r.loaded(), 4);
    assert_eq!(r.waiting.get(&BufferId::TlsSni), Some(&2));
    assert_eq!(r.waiting.get(&BufferId::HttpUserAgent), Some(&1));
    assert!(check_report(&r).contains("2 rules waiting for buffer tls.sni"));
}

#[test]
fn variables_are_settable() {
    let mut b = EngineBuilder::new();
    b.address_var("HOME_NET", "[93.184.216.0/24]").unwrap();
    b.port_var("HTTP_PORTS", "[80,8080]").unwrap();
    assert!(b.address_var("X", "[1.2.3.4").is_err());
    assert!(b
        .port_var("Y", "99999")
        .to_string_err()
        .contains("bad value for variable Y"));
    b.add_str(
        r#"alert tcp any any -> $HOME_NET $HTTP_PORTS (content:"x"; sid:1;)"#,
        "v",
    );
    let e = b.build().unwrap();
    assert_eq!(
        tcp(b"x")
            .with(|p| p.dport = 8080)
            .run(&e, &mut FlowVars::default(), &mut DetectScratch::new())
            .len(),
        1
    );
    assert_eq!(
        tcp(b"x")
            .with(|p| p.dst = ip("10.0.0.1"))
            .run(&e, &mut FlowVars::default(), &mut DetectScratch::new())
            .len(),
        0
    );
}

trait ErrString {
    fn to_string_err(self) -> String;
}

impl<T> ErrString for Result<T, BuildError> {
    fn to_string_err(self) -> String {
        match self {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }
}

#[test]
fn engine_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<Match>();
    fn assert_send<T: Send>() {}
    assert_send::<DetectScratch>();
    assert_send::<FlowVars>();
}

#[test]
fn deterministic_order_and_dedup() {
    let e = engine(
        r#"alert tcp any any -> any any (content:"abc"; content:"abc"; sid:30;)
alert tcp any any -> any any (content:"abc"; sid:10;)
alert tcp any any -> any any (dsize:>0; sid:20;)"#,
        true,
    );
    let m = tcp(b"abc abc abc").run(&e, &mut FlowVars::default(), &mut DetectScratch::new());
    assert_eq!(
        m.iter().map(|m| m.rule.sid).collect::<Vec<_>>(),
        vec![30, 10, 20]
    );
}

#[test]
fn address_tracked_thresholds_are_deferred_to_one_gate_state() {
    let e = engine(
        r#"alert tcp any any -> any any (content:"x"; threshold: type limit, track by_src, count 1, seconds 60; sid:1;)
alert tcp any any -> any any (content:"x"; threshold: type limit, track by_flow, count 1, seconds 60; sid:2;)"#,
        true,
    );
    // Two workers, each with its own scratch and flow: the by_src limit is
    // carried as a gate; the by_flow one is applied in the worker.
    let mut state = GateState::default();
    let mut alerted = Vec::new();
    for _worker in 0..2 {
        let mut sc = DetectScratch::new();
        sc.defer_address_tracking(true);
        let mut fv = FlowVars::default();
        for _ in 0..2 {
            for m in tcp(b"x").run(&e, &mut fv, &mut sc) {
                let pass = m.gate.as_ref().is_none_or(|g| g.pass(&mut state));
                assert_eq!(m.gate.is_some(), m.rule.sid == 1);
                if pass {
                    alerted.push(m.rule.sid);
                }
            }
        }
    }
    assert_eq!(alerted, [1, 2, 2], "sid 1 once in all; sid 2 once per flow");
}

#[test]
fn a_higher_rev_replaces_a_duplicate_sid_and_others_are_refused() {
    let mut b = EngineBuilder::new();
    b.add_str(
        r#"alert tcp any any -> any any (content:"old"; sid:7; rev:1;)
alert tcp any any -> any any (content:"same"; sid:7; rev:1;)
alert tcp any any -> any any (content:"new"; sid:7; rev:2;)
alert tcp any any -> any any (content:"older"; sid:7;)"#,
        "dup.rules",
    );
    let r = b.report();
    assert_eq!((r.files[0].loaded, r.files[0].rejected), (1, 3));
    let reasons: Vec<String> = r.rejected.iter().map(|x| x.to_string()).collect();
    assert!(reasons
        .iter()
        .any(|x| x.contains("dup.rules:1") && x.contains("replaced by rev 2")));
    assert!(
        reasons
            .iter()
            .filter(|x| x.contains("duplicate sid"))
            .count()
            == 2
    );
    let e = b.build().unwrap();
    assert!(!tcp(b"new")
        .run(&e, &mut FlowVars::default(), &mut DetectScratch::new())
        .is_empty());
    assert!(tcp(b"old")
        .run(&e, &mut FlowVars::default(), &mut DetectScratch::new())
        .is_empty());
}

#[test]
fn arp_rules_match_arp_frames_only() {
    let e = engine(
        "alert arp any any -> 10.0.0.2 any (sid:1;)\nalert ip any any -> any any (sid:2;)",
        true,
    );
    let run = |arp: bool, dst: &str| {
        let mut p = PacketInput::new(ip("10.0.0.1"), ip(dst), 0, &[]);
        p.arp = arp;
        let mut out = Vec::new();
        e.inspect(
            &p,
            &mut FlowVars::default(),
            &mut DetectScratch::new(),
            &mut out,
        );
        out.iter().map(|m| m.rule.sid).collect::<Vec<_>>()
    };
    assert_eq!(run(true, "10.0.0.2"), [1]);
    assert_eq!(run(true, "10.0.0.3"), Vec::<u32>::new());
    assert_eq!(run(false, "10.0.0.2"), [2]);
}
