//! Names of the inspection buffers a rule can look at and of the application
//! protocols a flow can carry.

use std::fmt;

macro_rules! buffer_table {
    ($( $var:ident => $name:literal, legacy: $legacy:literal, modifier: $modifier:literal, doc: $doc:literal; )*) => {
        /// An app-layer inspection buffer ("sticky buffer") the sensor can hand to
        /// [`Engine::inspect`](super::Engine::inspect) through
        /// [`PacketInput::buffers`](super::PacketInput::buffers).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BufferId {
            $( #[doc = $doc] $var, )*
        }

        impl BufferId {
            /// Every buffer, in declaration order.
            pub const ALL: &'static [BufferId] = &[ $( BufferId::$var, )* ];

            /// Suricata's dotted name of the buffer (`http.uri`, `dns.query`, ...).
            pub fn name(self) -> &'static str {
                match self { $( BufferId::$var => $name, )* }
            }

            /// Looks a buffer up by its dotted name or its legacy underscore name.
            pub fn from_name(name: &str) -> Option<BufferId> {
                match name {
                    $( $name => Some(BufferId::$var), )*
                    _ => {
                        $( if !$legacy.is_empty() && name == $legacy { return Some(BufferId::$var); } )*
                        None
                    }
                }
            }

            /// Whether the legacy underscore name is a content modifier (applies to the
            /// previous content, like `http_uri`) rather than a sticky buffer.
            pub(crate) fn legacy_is_modifier(name: &str) -> Option<BufferId> {
                $( if $modifier && name == $legacy { return Some(BufferId::$var); } )*
                None
            }
        }
    };
}

buffer_table! {
    HttpMethod => "http.method", legacy: "http_method", modifier: true, doc: "HTTP request method.";
    HttpUri => "http.uri", legacy: "http_uri", modifier: true, doc: "Normalized HTTP request URI.";
    HttpUriRaw => "http.uri.raw", legacy: "http_raw_uri", modifier: true, doc: "Raw HTTP request URI.";
    HttpHeader => "http.header", legacy: "http_header", modifier: true, doc: "Normalized HTTP headers (without cookies).";
    HttpHeaderRaw => "http.header.raw", legacy: "http_raw_header", modifier: true, doc: "Raw HTTP header block.";
    HttpHost => "http.host", legacy: "http_host", modifier: true, doc: "Normalized (lowercase) HTTP Host.";
    HttpHostRaw => "http.host.raw", legacy: "http_raw_host", modifier: true, doc: "Raw HTTP Host.";
    HttpUserAgent => "http.user_agent", legacy: "http_user_agent", modifier: true, doc: "HTTP User-Agent value.";
    HttpCookie => "http.cookie", legacy: "http_cookie", modifier: true, doc: "HTTP Cookie / Set-Cookie value.";
    HttpRequestBody => "http.request_body", legacy: "http_client_body", modifier: true, doc: "HTTP request body.";
    HttpResponseBody => "http.response_body", legacy: "http_server_body", modifier: true, doc: "HTTP response body (before file.data decoding).";
    HttpStatCode => "http.stat_code", legacy: "http_stat_code", modifier: true, doc: "HTTP response status code.";
    HttpStatMsg => "http.stat_msg", legacy: "http_stat_msg", modifier: true, doc: "HTTP response status message.";
    HttpContentType => "http.content_type", legacy: "http_content_type", modifier: false, doc: "HTTP Content-Type value.";
    HttpContentLen => "http.content_len", legacy: "http_content_len", modifier: false, doc: "HTTP Content-Length value.";
    HttpServer => "http.server", legacy: "", modifier: false, doc: "HTTP Server header value.";
    HttpLocation => "http.location", legacy: "", modifier: false, doc: "HTTP Location header value.";
    HttpProtocol => "http.protocol", legacy: "http_protocol", modifier: false, doc: "HTTP protocol string (HTTP/1.1).";
    HttpStart => "http.start", legacy: "http_start", modifier: false, doc: "HTTP start line plus headers.";
    HttpRequestLine => "http.request_line", legacy: "http_request_line", modifier: false, doc: "HTTP request line.";
    HttpResponseLine => "http.response_line", legacy: "http_response_line", modifier: false, doc: "HTTP response line.";
    HttpRequestHeader => "http.request_header", legacy: "", modifier: false, doc: "One request header as \"Name: value\" (one instance per header).";
    HttpResponseHeader => "http.response_header", legacy: "", modifier: false, doc: "One response header as \"Name: value\" (one instance per header).";
    HttpHeaderNames => "http.header_names", legacy: "http_header_names", modifier: false, doc: "HTTP header names, CRLF separated.";
    HttpAccept => "http.accept", legacy: "http_accept", modifier: false, doc: "HTTP Accept value.";
    HttpAcceptEnc => "http.accept_enc", legacy: "http_accept_enc", modifier: false, doc: "HTTP Accept-Encoding value.";
    HttpAcceptLang => "http.accept_lang", legacy: "http_accept_lang", modifier: false, doc: "HTTP Accept-Language value.";
    HttpConnection => "http.connection", legacy: "http_connection", modifier: false, doc: "HTTP Connection value.";
    HttpReferer => "http.referer", legacy: "http_referer", modifier: false, doc: "HTTP Referer value.";
    FileData => "file.data", legacy: "file_data", modifier: false, doc: "File data (decoded HTTP/SMTP/... body; one instance per multipart file).";
    FileName => "file.name", legacy: "", modifier: false, doc: "File name (HTTP URI path, Content-Disposition or multipart filename, SMB name); one instance per file.";
    FileMagic => "file.magic", legacy: "", modifier: false, doc: "File type from its first bytes, libmagic-like (\"PDF document, version 1.4\"); one instance per file.";
    FileMd5 => "filemd5", legacy: "", modifier: false, doc: "MD5 of a complete file, 16 raw bytes (`filemd5` lists only).";
    FileSha1 => "filesha1", legacy: "", modifier: false, doc: "SHA-1 of a complete file, 20 raw bytes (`filesha1` lists only).";
    FileSha256 => "filesha256", legacy: "", modifier: false, doc: "SHA-256 of a complete file, 32 raw bytes (`filesha256` lists only).";
    FileSize => "filesize", legacy: "", modifier: false, doc: "File state (0 open, 1 closed, 2 truncated) then its size, 8 bytes big-endian (`filesize` only).";
    DnsQuery => "dns.query", legacy: "dns_query", modifier: false, doc: "DNS query name.";
    DnsQueriesRrname => "dns.queries.rrname", legacy: "", modifier: false, doc: "DNS question names of the message (one instance per question).";
    DnsAnswersRrname => "dns.answers.rrname", legacy: "", modifier: false, doc: "DNS answer record owner names (one instance per record).";
    DnsAuthoritiesRrname => "dns.authorities.rrname", legacy: "", modifier: false, doc: "DNS authority record owner names (one instance per record).";
    DnsAdditionalsRrname => "dns.additionals.rrname", legacy: "", modifier: false, doc: "DNS additional record owner names (one instance per record).";
    DnsResponseRrname => "dns.response.rrname", legacy: "", modifier: false, doc: "Every name of a DNS response: questions, record owners, and name-valued rdata (CNAME, PTR, MX, NS, SOA mname).";
    DnsOpcode => "dns.opcode", legacy: "", modifier: false, doc: "DNS header opcode, one byte (integer keyword).";
    DnsRcode => "dns.rcode", legacy: "", modifier: false, doc: "DNS header rcode, one byte (integer keyword).";
    DnsRrtype => "dns.rrtype", legacy: "", modifier: false, doc: "DNS rrtype, 2 bytes big-endian: of each question in a request, of each answer in a response (integer keyword, one instance per record).";
    MdnsQueriesRrname => "mdns.queries.rrname", legacy: "", modifier: false, doc: "mDNS question names.";
    MdnsAnswersRrname => "mdns.answers.rrname", legacy: "", modifier: false, doc: "mDNS answer record owner names.";
    MdnsAuthoritiesRrname => "mdns.authorities.rrname", legacy: "", modifier: false, doc: "mDNS authority record owner names.";
    MdnsAdditionalsRrname => "mdns.additionals.rrname", legacy: "", modifier: false, doc: "mDNS additional record owner names.";
    MdnsResponseRrname => "mdns.response.rrname", legacy: "", modifier: false, doc: "Every name of an mDNS response (as dns.response.rrname).";
    LlmnrQueriesRrname => "llmnr.queries.rrname", legacy: "", modifier: false, doc: "LLMNR question names.";
    LlmnrAnswersRrname => "llmnr.answers.rrname", legacy: "", modifier: false, doc: "LLMNR answer record owner names.";
    LlmnrAuthoritiesRrname => "llmnr.authorities.rrname", legacy: "", modifier: false, doc: "LLMNR authority record owner names.";
    LlmnrAdditionalsRrname => "llmnr.additionals.rrname", legacy: "", modifier: false, doc: "LLMNR additional record owner names.";
    LlmnrResponseRrname => "llmnr.response.rrname", legacy: "", modifier: false, doc: "Every name of an LLMNR response (as dns.response.rrname).";
    TlsSni => "tls.sni", legacy: "tls_sni", modifier: false, doc: "TLS Server Name Indication.";
    TlsCertSubject => "tls.cert_subject", legacy: "tls_cert_subject", modifier: false, doc: "TLS server certificate subject.";
    TlsCertIssuer => "tls.cert_issuer", legacy: "tls_cert_issuer", modifier: false, doc: "TLS server certificate issuer.";
    TlsCertSerial => "tls.cert_serial", legacy: "tls_cert_serial", modifier: false, doc: "TLS server certificate serial.";
    TlsCertFingerprint => "tls.cert_fingerprint", legacy: "tls_cert_fingerprint", modifier: false, doc: "TLS certificate SHA-1 fingerprint (colon hex).";
    TlsCerts => "tls.certs", legacy: "", modifier: false, doc: "Each DER certificate of the chain (one instance per certificate).";
    TlsSubjectAltName => "tls.subjectaltname", legacy: "", modifier: false, doc: "Each DNS name of the server certificate's subjectAltName (one instance per name).";
    TlsRandom => "tls.random", legacy: "", modifier: false, doc: "The 32-byte hello random of this direction (ClientHello to server, ServerHello to client).";
    TlsRandomTime => "tls.random_time", legacy: "", modifier: false, doc: "The first 4 bytes of the hello random.";
    TlsRandomBytes => "tls.random_bytes", legacy: "", modifier: false, doc: "The last 28 bytes of the hello random.";
    TlsCertNotBefore => "tls_cert_notbefore", legacy: "", modifier: false, doc: "Server certificate notBefore, seconds since the epoch as 8 bytes big-endian (date keyword).";
    TlsCertNotAfter => "tls_cert_notafter", legacy: "", modifier: false, doc: "Server certificate notAfter, seconds since the epoch as 8 bytes big-endian (date keyword).";
    Ja3Hash => "ja3.hash", legacy: "ja3_hash", modifier: false, doc: "JA3 client fingerprint (md5 hex).";
    Ja3String => "ja3.string", legacy: "ja3_string", modifier: false, doc: "JA3 client fingerprint string.";
    Ja3sHash => "ja3s.hash", legacy: "ja3s_hash", modifier: false, doc: "JA3S server fingerprint (md5 hex).";
    Ja3sString => "ja3s.string", legacy: "ja3s_string", modifier: false, doc: "JA3S server fingerprint string.";
    Ja4Hash => "ja4.hash", legacy: "", modifier: false, doc: "JA4 client fingerprint.";
    QuicVersion => "quic.version", legacy: "", modifier: false, doc: "QUIC version of the long header, 4 bytes as on the wire.";
    DhcpLeaseTime => "dhcp.leasetime", legacy: "", modifier: false, doc: "DHCP lease time option, seconds (integer keyword).";
    DhcpRebindingTime => "dhcp.rebinding_time", legacy: "", modifier: false, doc: "DHCP rebinding (T2) time option, seconds (integer keyword).";
    DhcpRenewalTime => "dhcp.renewal_time", legacy: "", modifier: false, doc: "DHCP renewal (T1) time option, seconds (integer keyword).";
    SshProto => "ssh.proto", legacy: "ssh_proto", modifier: false, doc: "SSH protocol version string.";
    SshSoftware => "ssh.software", legacy: "ssh_software", modifier: false, doc: "SSH software version string.";
    SshHassh => "ssh.hassh", legacy: "", modifier: false, doc: "HASSH client fingerprint (md5 hex of the client's KEXINIT lists).";
    SshHasshString => "ssh.hassh.string", legacy: "", modifier: false, doc: "HASSH client string (kex;enc;mac;compression).";
    SshHasshServer => "ssh.hassh.server", legacy: "", modifier: false, doc: "HASSH server fingerprint (md5 hex of the server's KEXINIT lists).";
    SshHasshServerString => "ssh.hassh.server.string", legacy: "", modifier: false, doc: "HASSH server string (kex;enc;mac;compression).";
    SmbNamedPipe => "smb.named_pipe", legacy: "smb_named_pipe", modifier: false, doc: "SMB named-pipe share of a tree connect (IPC$), once the server said it is one.";
    SmbShare => "smb.share", legacy: "smb_share", modifier: false, doc: "SMB share name of a tree connect that is not a named-pipe share.";
    SmbVersion => "smb.version", legacy: "", modifier: false, doc: "SMB version of a command, 1 or 2 (SMB3 is 2), one byte (integer keyword).";
    DcerpcStubData => "dcerpc.stub_data", legacy: "dce_stub_data", modifier: false, doc: "DCERPC stub data of a call: the request's to server, the response's to client (fragments joined).";
    DcerpcOpnum => "dcerpc.opnum", legacy: "", modifier: false, doc: "DCERPC request operation number, 2 bytes big-endian (integer keyword).";
    DcerpcIface => "dcerpc.iface", legacy: "", modifier: false, doc: "DCERPC interface a request may use: 16 UUID bytes (as written) and the major version, 2 bytes big-endian, one instance per accepted interface.";
    SipMethod => "sip.method", legacy: "", modifier: false, doc: "SIP request method.";
    SipUri => "sip.uri", legacy: "", modifier: false, doc: "SIP Request-URI.";
    SipRequestLine => "sip.request_line", legacy: "", modifier: false, doc: "SIP request line (without CRLF).";
    SipStatCode => "sip.stat_code", legacy: "", modifier: false, doc: "SIP response status code.";
    SipStatMsg => "sip.stat_msg", legacy: "", modifier: false, doc: "SIP response reason phrase.";
    SipResponseLine => "sip.response_line", legacy: "", modifier: false, doc: "SIP status line (without CRLF).";
    SipProtocol => "sip.protocol", legacy: "", modifier: false, doc: "SIP version of a request or response (SIP/2.0).";
    SipFrom => "sip.from", legacy: "", modifier: false, doc: "SIP From header value (also compact f), one instance per header.";
    SipTo => "sip.to", legacy: "", modifier: false, doc: "SIP To header value (also compact t), one instance per header.";
    SipVia => "sip.via", legacy: "", modifier: false, doc: "SIP Via header value (also compact v), one instance per header.";
    SipUserAgent => "sip.user_agent", legacy: "", modifier: false, doc: "SIP User-Agent header value, one instance per header.";
    SipContentType => "sip.content_type", legacy: "", modifier: false, doc: "SIP Content-Type header value (also compact c), one instance per header.";
    MqttType => "mqtt.type", legacy: "", modifier: false, doc: "MQTT packet type of each packet of the transaction, one byte (multi-integer keyword).";
    MqttFlags => "mqtt.flags", legacy: "", modifier: false, doc: "MQTT fixed-header flags of each packet (retain 0x1, dup 0x8), one byte (integer keyword).";
    MqttQos => "mqtt.qos", legacy: "", modifier: false, doc: "MQTT QoS of each packet, one byte (integer keyword).";
    MqttReasonCode => "mqtt.reason_code", legacy: "", modifier: false, doc: "MQTT reason or return code (CONNACK, acknowledgements, DISCONNECT, AUTH, each SUBACK/UNSUBACK code), one byte (integer keyword).";
    MqttProtocolVersion => "mqtt.protocol_version", legacy: "", modifier: false, doc: "MQTT protocol level of the session (3, 4 or 5), one byte (integer keyword).";
    MqttConnackSessionPresent => "mqtt.connack.session_present", legacy: "", modifier: false, doc: "MQTT CONNACK session-present flag, one byte 0 or 1.";
    MqttConnectFlags => "mqtt.connect.flags", legacy: "", modifier: false, doc: "MQTT CONNECT flags byte (integer keyword).";
    MqttConnectClientid => "mqtt.connect.clientid", legacy: "", modifier: false, doc: "MQTT CONNECT client identifier.";
    MqttConnectUsername => "mqtt.connect.username", legacy: "", modifier: false, doc: "MQTT CONNECT user name.";
    MqttConnectPassword => "mqtt.connect.password", legacy: "", modifier: false, doc: "MQTT CONNECT password.";
    MqttConnectWilltopic => "mqtt.connect.willtopic", legacy: "", modifier: false, doc: "MQTT CONNECT will topic.";
    MqttConnectWillmessage => "mqtt.connect.willmessage", legacy: "", modifier: false, doc: "MQTT CONNECT will message.";
    MqttConnectProtocolString => "mqtt.connect.protocol_string", legacy: "", modifier: false, doc: "MQTT CONNECT protocol name (MQTT, MQIsdp).";
    MqttPublishTopic => "mqtt.publish.topic", legacy: "", modifier: false, doc: "MQTT PUBLISH topic name.";
    MqttPublishMessage => "mqtt.publish.message", legacy: "", modifier: false, doc: "MQTT PUBLISH application message.";
    MqttSubscribeTopic => "mqtt.subscribe.topic", legacy: "", modifier: false, doc: "MQTT SUBSCRIBE topic filter, one instance per topic.";
    MqttUnsubscribeTopic => "mqtt.unsubscribe.topic", legacy: "", modifier: false, doc: "MQTT UNSUBSCRIBE topic filter, one instance per topic.";
    SipContentLength => "sip.content_length", legacy: "", modifier: false, doc: "SIP Content-Length header value (also compact l), one instance per header.";
    FrameHttp1Request => "frame:http1.request", legacy: "", modifier: false, doc: "HTTP/1 frame: one whole request (line, headers, body) as on the wire.";
    FrameHttp1Response => "frame:http1.response", legacy: "", modifier: false, doc: "HTTP/1 frame: one whole response (line, headers, body) as on the wire, cut at the first gap.";
    FrameHttp1Stream => "frame:http1.stream", legacy: "", modifier: false, doc: "HTTP/1 frame: the stream of one direction (the bytes this packet delivered, with some before).";
    FrameDnsPdu => "frame:dns.pdu", legacy: "", modifier: false, doc: "DNS frame: one message (over TCP without its 2-byte length).";
    FrameDnsStream => "frame:dns.stream", legacy: "", modifier: false, doc: "DNS over TCP frame: the stream of one direction.";
    FrameSipPdu => "frame:sip.pdu", legacy: "", modifier: false, doc: "SIP frame: one whole message.";
    FrameSipRequestLine => "frame:sip.request.line", legacy: "", modifier: false, doc: "SIP frame: a request line with its CRLF.";
    FrameSipRequestHeaders => "frame:sip.request.headers", legacy: "", modifier: false, doc: "SIP frame: a request's header lines (without the blank line).";
    FrameSipRequestBody => "frame:sip.request.body", legacy: "", modifier: false, doc: "SIP frame: a request's body.";
    FrameSipResponseLine => "frame:sip.response.line", legacy: "", modifier: false, doc: "SIP frame: a status line with its CRLF.";
    FrameSipResponseHeaders => "frame:sip.response.headers", legacy: "", modifier: false, doc: "SIP frame: a response's header lines (without the blank line).";
    FrameSipResponseBody => "frame:sip.response.body", legacy: "", modifier: false, doc: "SIP frame: a response's body.";
    FrameSipStream => "frame:sip.stream", legacy: "", modifier: false, doc: "SIP over TCP frame: the stream of one direction.";
    FrameSshRecordPdu => "frame:ssh.record.pdu", legacy: "", modifier: false, doc: "SSH frame: one binary packet before encryption (length field to padding).";
    FrameSshRecordHdr => "frame:ssh.record.hdr", legacy: "", modifier: false, doc: "SSH frame: a packet's first 6 bytes (length, padding length, message code).";
    FrameSshRecordData => "frame:ssh.record.data", legacy: "", modifier: false, doc: "SSH frame: a packet after its 6-byte header.";
    FrameSshStream => "frame:ssh.stream", legacy: "", modifier: false, doc: "SSH frame: the stream of one direction.";
    FrameTlsPdu => "frame:tls.pdu", legacy: "", modifier: false, doc: "TLS frame: one record with its 5-byte header.";
    FrameTlsHdr => "frame:tls.hdr", legacy: "", modifier: false, doc: "TLS frame: a record's 5-byte header.";
    FrameTlsData => "frame:tls.data", legacy: "", modifier: false, doc: "TLS frame: a record's payload.";
    FrameTlsAlert => "frame:tls.alert", legacy: "", modifier: false, doc: "TLS frame: the payload of an alert record.";
    FrameTlsHeartbeat => "frame:tls.heartbeat", legacy: "", modifier: false, doc: "TLS frame: the payload of a heartbeat record.";
    FrameTlsStream => "frame:tls.stream", legacy: "", modifier: false, doc: "TLS frame: the stream of one direction.";
}

impl BufferId {
    /// Whether the buffer holds one big-endian integer for an integer
    /// keyword (`dns.opcode:4`) rather than bytes for a sticky buffer.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            BufferId::DnsOpcode
                | BufferId::DnsRcode
                | BufferId::DnsRrtype
                | BufferId::TlsCertNotBefore
                | BufferId::TlsCertNotAfter
                | BufferId::DhcpLeaseTime
                | BufferId::DhcpRebindingTime
                | BufferId::DhcpRenewalTime
                | BufferId::SmbVersion
                | BufferId::DcerpcOpnum
                | BufferId::MqttType
                | BufferId::MqttFlags
                | BufferId::MqttQos
                | BufferId::MqttReasonCode
                | BufferId::MqttProtocolVersion
                | BufferId::MqttConnackSessionPresent
                | BufferId::MqttConnectFlags
        )
    }
}

impl BufferId {
    /// Whether the buffer is set only by a value keyword (`filemd5`,
    /// `filesize`) and cannot be named as a sticky buffer.
    pub fn is_keyword_value(self) -> bool {
        matches!(
            self,
            BufferId::FileMd5 | BufferId::FileSha1 | BufferId::FileSha256 | BufferId::FileSize
        )
    }

    /// Whether the buffer has one instance per file of a transaction: naming
    /// it again in a rule starts a new match on any instance (Suricata 7's
    /// multi-buffer matching), so `file.data; content:"a"; file.data;
    /// content:"b";` matches "a" and "b" in different files.
    pub fn is_per_file(self) -> bool {
        matches!(
            self,
            BufferId::FileData | BufferId::FileName | BufferId::FileMagic
        )
    }

    /// The frame buffer `frame:proto.name` names, with `proto` given by
    /// Suricata's protocol name (`http` and `http1` are HTTP/1, `ssl` is TLS).
    pub fn frame(proto: &str, name: &str) -> Option<BufferId> {
        let proto = match proto {
            "http" | "http1" => "http1",
            "ssl" => "tls",
            p => p,
        };
        BufferId::from_name(&format!("frame:{proto}.{name}"))
    }

    /// Whether the buffer is an app-layer frame (`frame:` keyword).
    pub fn is_frame(self) -> bool {
        self.name().starts_with("frame:")
    }

    /// The protocols vigie marks frames for, by Suricata's name.
    pub const FRAMED_PROTOCOLS: &'static [&'static str] = &["http1", "dns", "sip", "ssh", "tls"];
}

impl fmt::Display for BufferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! app_table {
    ($( $var:ident => $name:literal; )*) => {
        /// Application protocol the sensor detected on a flow.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum AppProto {
            /// Not (yet) known.
            #[default]
            Unknown,
            /// Detection ran and gave up.
            Failed,
            $( #[doc = $name] $var, )*
        }

        impl AppProto {
            /// Suricata's name of the protocol.
            pub fn name(self) -> &'static str {
                match self {
                    AppProto::Unknown => "unknown",
                    AppProto::Failed => "failed",
                    $( AppProto::$var => $name, )*
                }
            }

            /// Looks a protocol up by Suricata's name (`http` means HTTP/1).
            pub fn from_name(name: &str) -> Option<AppProto> {
                match name {
                    "unknown" => Some(AppProto::Unknown),
                    "failed" => Some(AppProto::Failed),
                    "http" => Some(AppProto::Http1),
                    "ssl" => Some(AppProto::Tls),
                    $( $name => Some(AppProto::$var), )*
                    _ => None,
                }
            }
        }
    };
}

app_table! {
    Http1 => "http1";
    Http2 => "http2";
    Dns => "dns";
    Mdns => "mdns";
    Llmnr => "llmnr";
    Tls => "tls";
    Ssh => "ssh";
    Ftp => "ftp";
    FtpData => "ftp-data";
    Smtp => "smtp";
    Imap => "imap";
    Pop3 => "pop3";
    Smb => "smb";
    Dcerpc => "dcerpc";
    Nfs => "nfs";
    Tftp => "tftp";
    Krb5 => "krb5";
    Dhcp => "dhcp";
    Snmp => "snmp";
    Sip => "sip";
    Rdp => "rdp";
    Rfb => "rfb";
    Mqtt => "mqtt";
    Modbus => "modbus";
    Dnp3 => "dnp3";
    Enip => "enip";
    Ntp => "ntp";
    Ike => "ike";
    Quic => "quic";
    Telnet => "telnet";
    Irc => "irc";
    Ldap => "ldap";
    Pgsql => "pgsql";
    Bittorrent => "bittorrent-dht";
    Websocket => "websocket";
}

impl AppProto {
    /// Whether a rule asking for `want` matches a flow of protocol `self`
    /// (`http` in a rule covers HTTP/1 and HTTP/2).
    pub(crate) fn satisfies(self, want: AppProto, http_any: bool) -> bool {
        if http_any && want == AppProto::Http1 {
            return matches!(self, AppProto::Http1 | AppProto::Http2);
        }
        // DCERPC over SMB named pipes: `alert dcerpc` rules see SMB flows.
        if want == AppProto::Dcerpc && self == AppProto::Smb {
            return true;
        }
        self == want
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in BufferId::ALL {
            assert_eq!(BufferId::from_name(b.name()), Some(*b));
        }
        assert_eq!(
            BufferId::from_name("http_client_body"),
            Some(BufferId::HttpRequestBody)
        );
        assert_eq!(
            BufferId::legacy_is_modifier("http_uri"),
            Some(BufferId::HttpUri)
        );
        assert_eq!(BufferId::legacy_is_modifier("file_data"), None);
        assert_eq!(AppProto::from_name("http"), Some(AppProto::Http1));
        assert!(AppProto::Http2.satisfies(AppProto::Http1, true));
        assert!(!AppProto::Dns.satisfies(AppProto::Http1, true));
    }
}
