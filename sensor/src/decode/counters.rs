//! Decoder statistics and anomaly events, named once here so stats output,
//! metrics and (later) `anomaly` EVE records stay in step.
//!
//! Names follow Suricata's `stats` event (without the leading `stats.`) and its
//! `decode-event:` keywords (`decoder.event.<name>`). Names marked *vigie* in
//! the docs below have no Suricata equivalent and were made up here.

macro_rules! named_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        $vis enum $name { $($(#[$vmeta])* $variant,)* }
        impl $name {
            /// Every value, in the fixed reporting order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// Number of values.
            pub const COUNT: usize = $name::ALL.len();
            /// The stats name of this value.
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }
    };
}

named_enum! {
    /// A per-layer or defragmentation counter (not an anomaly).
    pub enum Stat {
        /// Frames given to the decoder.
        Pkts => "decoder.pkts",
        /// Bytes of those frames.
        Bytes => "decoder.bytes",
        /// Frames that raised at least one anomaly.
        Invalid => "decoder.invalid",
        /// IPv4 headers decoded (outer and inner).
        Ipv4 => "decoder.ipv4",
        /// IPv6 headers decoded.
        Ipv6 => "decoder.ipv6",
        /// Ethernet headers decoded.
        Ethernet => "decoder.ethernet",
        /// ARP frames (no L3 for us).
        Arp => "decoder.arp",
        /// *vigie*: ARP frames cut before their addresses, or for other than
        /// Ethernet hardware and IPv4 addresses: not read for `arp` rules.
        ArpUnreadable => "decoder.arp_unreadable",
        /// Frames with an ethertype we do not decode.
        UnknownEthertype => "decoder.unknown_ethertype",
        /// Cisco HDLC frames.
        Chdlc => "decoder.chdlc",
        /// Raw-IP link type frames.
        Raw => "decoder.raw",
        /// BSD NULL / LOOP frames.
        Null => "decoder.null",
        /// Linux cooked (SLL) frames.
        Sll => "decoder.sll",
        /// Linux cooked v2 (SLL2) frames.
        Sll2 => "decoder.sll2",
        /// TCP headers.
        Tcp => "decoder.tcp",
        /// UDP headers.
        Udp => "decoder.udp",
        /// SCTP headers.
        Sctp => "decoder.sctp",
        /// ESP headers (decoding stops there).
        Esp => "decoder.esp",
        /// ICMPv4 headers.
        Icmpv4 => "decoder.icmpv4",
        /// ICMPv6 headers.
        Icmpv6 => "decoder.icmpv6",
        /// PPP headers.
        Ppp => "decoder.ppp",
        /// PPPoE headers (session and discovery).
        Pppoe => "decoder.pppoe",
        /// Geneve tunnels.
        Geneve => "decoder.geneve",
        /// GRE headers.
        Gre => "decoder.gre",
        /// 802.1Q/802.1ad tags.
        Vlan => "decoder.vlan",
        /// Frames with two VLAN tags.
        VlanQinq => "decoder.vlan_qinq",
        /// Frames with three VLAN tags.
        VlanQinqinq => "decoder.vlan_qinqinq",
        /// VXLAN (and VXLAN-GPE) tunnels.
        Vxlan => "decoder.vxlan",
        /// VN-Tag headers.
        Vntag => "decoder.vntag",
        /// Teredo tunnels.
        Teredo => "decoder.teredo",
        /// IPv4 inside IPv6.
        Ipv4InIpv6 => "decoder.ipv4_in_ipv6",
        /// IPv6 inside IPv6.
        Ipv6InIpv6 => "decoder.ipv6_in_ipv6",
        /// MPLS label stacks.
        Mpls => "decoder.mpls",
        /// ERSPAN headers (types I, II, III).
        Erspan => "decoder.erspan",
        /// 802.1ah (PBB) headers.
        Ieee8021ah => "decoder.ieee8021ah",
        /// Network Service Header (RFC 8300) headers.
        Nsh => "decoder.nsh",
        /// Frames whose encapsulation went deeper than allowed.
        TooManyLayers => "decoder.too_many_layers",
        /// *vigie*: IPv4 inside IPv4 (IP proto 4).
        Ipv4InIpv4 => "decoder.ipv4_in_ipv4",
        /// *vigie*: IPv6 inside IPv4 (6in4, IP proto 41).
        Ipv6InIpv4 => "decoder.ipv6_in_ipv4",
        /// *vigie*: GTP-U tunnels.
        GtpU => "decoder.gtpu",
        /// *vigie*: AYIYA tunnels.
        Ayiya => "decoder.ayiya",
        /// *vigie*: NFLOG frames carrying a packet.
        Nflog => "decoder.nflog",
        /// *vigie*: 802.11 data frames behind radiotap.
        Ieee80211 => "decoder.ieee80211",
        /// IPv4 fragments seen.
        DefragIpv4Fragments => "defrag.ipv4.fragments",
        /// IPv4 datagrams reassembled.
        DefragIpv4Reassembled => "defrag.ipv4.reassembled",
        /// IPv6 fragments seen.
        DefragIpv6Fragments => "defrag.ipv6.fragments",
        /// IPv6 datagrams reassembled.
        DefragIpv6Reassembled => "defrag.ipv6.reassembled",
        /// A new datagram found the tracker table full (oldest was evicted).
        DefragMaxTrackersReached => "defrag.max_trackers_reached",
        /// *vigie*: a new fragment found the memcap full (oldest datagrams evicted).
        DefragMemcapReached => "defrag.memcap_reached",
        /// *vigie*: datagrams evicted before completion to make room.
        DefragEvicted => "defrag.evicted",
        /// *vigie*: datagrams dropped by `expire` after the timeout.
        DefragTimeouts => "defrag.timeouts",
    }
}

named_enum! {
    /// A decoder anomaly. Reported as `decoder.event.<name>`.
    pub enum DecodeEvent {
        /// Frame shorter than an Ethernet header.
        EthernetPktTooSmall => "decoder.event.ethernet.pkt_too_small",
        /// Ethertype not decoded (counted as an event like Suricata does).
        EthernetUnknownEthertype => "decoder.event.ethernet.unknown_ethertype",
        /// Frame shorter than an SLL/SLL2 header.
        SllPktTooSmall => "decoder.event.sll.pkt_too_small",
        /// Frame shorter than the NULL/LOOP family word.
        LtnullPktTooSmall => "decoder.event.ltnull.pkt_too_small",
        /// NULL/LOOP family that is neither IPv4 nor IPv6.
        LtnullUnsupportedType => "decoder.event.ltnull.unsupported_type",
        /// Truncated PPP header.
        PppPktTooSmall => "decoder.event.ppp.pkt_too_small",
        /// PPP protocol we do not decode.
        PppUnsupProto => "decoder.event.ppp.unsup_proto",
        /// Bad HDLC address/control bytes.
        PppWrongType => "decoder.event.ppp.wrong_type",
        /// Truncated PPPoE header.
        PppoePktTooSmall => "decoder.event.pppoe.pkt_too_small",
        /// PPPoE session frame with a non-zero code or bad version/type.
        PppoeWrongCode => "decoder.event.pppoe.wrong_code",
        /// Truncated VLAN tag.
        VlanHeaderTooSmall => "decoder.event.vlan.header_too_small",
        /// More than three VLAN tags.
        VlanTooManyLayers => "decoder.event.vlan.too_many_layers",
        /// Truncated 802.1ah I-TAG or customer header.
        Ieee8021ahHeaderTooSmall => "decoder.event.ieee8021ah.header_too_small",
        /// Truncated VN-Tag.
        VntagHeaderTooSmall => "decoder.event.vntag.header_too_small",
        /// NSH shorter than its base and service path headers (or its Length).
        NshHeaderTooSmall => "decoder.event.nsh.header_too_small",
        /// NSH version other than 0.
        NshUnsupportedVersion => "decoder.event.nsh.unsupported_version",
        /// NSH Length field wrong for the MD type.
        NshBadHeaderLength => "decoder.event.nsh.bad_header_length",
        /// NSH MD type 0x0 or 0xF (reserved).
        NshReservedType => "decoder.event.nsh.reserved_type",
        /// NSH MD type not decoded (neither 1 nor 2).
        NshUnsupportedType => "decoder.event.nsh.unsupported_type",
        /// NSH next protocol not decoded.
        NshUnknownPayload => "decoder.event.nsh.unknown_payload",
        /// Truncated MPLS label.
        MplsHeaderTooSmall => "decoder.event.mpls.header_too_small",
        /// Nothing after the MPLS label stack.
        MplsPktTooSmall => "decoder.event.mpls.pkt_too_small",
        /// Payload after the label stack is neither IP nor a pseudo-wire.
        MplsUnknownPayloadType => "decoder.event.mpls.unknown_payload_type",
        /// Router-alert label at the bottom of the stack.
        MplsBadLabelRouterAlert => "decoder.event.mpls.bad_label_router_alert",
        /// Implicit-null label on the wire.
        MplsBadLabelImplicitNull => "decoder.event.mpls.bad_label_implicit_null",
        /// Reserved label (4..=15).
        MplsBadLabelReserved => "decoder.event.mpls.bad_label_reserved",
        /// Raw-IP frame whose version nibble is neither 4 nor 6.
        IprawInvalidIpVersion => "decoder.event.ipraw.invalid_ip_version",
        /// Fewer than 20 bytes for IPv4.
        Ipv4PktTooSmall => "decoder.event.ipv4.pkt_too_small",
        /// IHL below 5.
        Ipv4HlenTooSmall => "decoder.event.ipv4.hlen_too_small",
        /// Total length below the header length.
        Ipv4IplenSmallerThanHlen => "decoder.event.ipv4.iplen_smaller_than_hlen",
        /// Captured bytes fewer than the total length (decoding goes on with what is there).
        Ipv4TruncPkt => "decoder.event.ipv4.trunc_pkt",
        /// IPv4 option with a bad length.
        Ipv4OptInvalidLen => "decoder.event.ipv4.opt_invalid_len",
        /// IPv4 option running past the header.
        Ipv4OptMalformed => "decoder.event.ipv4.opt_malformed",
        /// Same IPv4 option twice.
        Ipv4OptDuplicate => "decoder.event.ipv4.opt_duplicate",
        /// IPv4 option type not known.
        Ipv4OptUnknown => "decoder.event.ipv4.opt_unknown",
        /// Version nibble is not 4 where IPv4 was expected.
        Ipv4WrongIpVersion => "decoder.event.ipv4.wrong_ip_version",
        /// Reassembled IPv4 datagram would exceed 65535 bytes.
        Ipv4FragPktTooLarge => "decoder.event.ipv4.frag_pkt_too_large",
        /// Overlapping IPv4 fragments (first data wins).
        Ipv4FragOverlap => "decoder.event.ipv4.frag_overlap",
        /// Fewer than 40 bytes for IPv6.
        Ipv6PktTooSmall => "decoder.event.ipv6.pkt_too_small",
        /// Captured bytes fewer than the payload length (decoding goes on).
        Ipv6TruncPkt => "decoder.event.ipv6.trunc_pkt",
        /// Extension header running past the packet.
        Ipv6TruncExthdr => "decoder.event.ipv6.trunc_exthdr",
        /// Two fragment headers.
        Ipv6ExthdrDuplFh => "decoder.event.ipv6.exthdr_dupl_fh",
        /// Two routing headers.
        Ipv6ExthdrDuplRh => "decoder.event.ipv6.exthdr_dupl_rh",
        /// Two hop-by-hop headers.
        Ipv6ExthdrDuplHh => "decoder.event.ipv6.exthdr_dupl_hh",
        /// Destination options more than twice.
        Ipv6ExthdrDuplDh => "decoder.event.ipv6.exthdr_dupl_dh",
        /// Option inside an extension header with a bad length.
        Ipv6ExthdrInvalidOptlen => "decoder.event.ipv6.exthdr_invalid_optlen",
        /// Fragment header with offset 0 and no more fragments.
        Ipv6ExthdrUselessFh => "decoder.event.ipv6.exthdr_useless_fh",
        /// Deprecated type 0 routing header.
        Ipv6RhType0 => "decoder.event.ipv6.rh_type_0",
        /// Authentication header more than once.
        Ipv6ExthdrDuplAh => "decoder.event.ipv6.exthdr_dupl_ah",
        /// Authentication header whose reserved field is not zero.
        Ipv6ExthdrAhResNotNull => "decoder.event.ipv6.exthdr_ah_res_not_null",
        /// Hop-by-hop option of a type other than Pad1, PadN, router alert, jumbo payload.
        Ipv6HopoptsUnknownOpt => "decoder.event.ipv6.hopopts_unknown_opt",
        /// Hop-by-hop header holding nothing but padding (a covert channel).
        Ipv6HopoptsOnlyPadding => "decoder.event.ipv6.hopopts_only_padding",
        /// Destination option of a type other than Pad1, PadN, router alert, jumbo payload, home address.
        Ipv6DstoptsUnknownOpt => "decoder.event.ipv6.dstopts_unknown_opt",
        /// Destination options header holding nothing but padding (a covert channel).
        Ipv6DstoptsOnlyPadding => "decoder.event.ipv6.dstopts_only_padding",
        /// PadN option of length zero.
        Ipv6ZeroLenPadn => "decoder.event.ipv6.zero_len_padn",
        /// Fragment header with non-zero reserved bits.
        Ipv6FhNonZeroReservedField => "decoder.event.ipv6.fh_non_zero_reserved_field",
        /// Bytes after a "no next header" (59) header.
        Ipv6DataAfterNoneHeader => "decoder.event.ipv6.data_after_none_header",
        /// A next header that is neither an extension header nor a protocol the decoder knows.
        Ipv6UnknownNextHeader => "decoder.event.ipv6.unknown_next_header",
        /// Version nibble is not 6 where IPv6 was expected.
        Ipv6WrongIpVersion => "decoder.event.ipv6.wrong_ip_version",
        /// Reassembled IPv6 datagram would exceed 65535 bytes.
        Ipv6FragPktTooLarge => "decoder.event.ipv6.frag_pkt_too_large",
        /// Overlapping IPv6 fragments (first data wins).
        Ipv6FragOverlap => "decoder.event.ipv6.frag_overlap",
        /// Non-final IPv6 fragment whose length is not a multiple of 8.
        Ipv6FragInvalidLength => "decoder.event.ipv6.frag_invalid_length",
        /// IPv4-in-IPv6 payload too short for IPv4.
        Ipv6Ipv4InIpv6TooSmall => "decoder.event.ipv6.ipv4_in_ipv6_too_small",
        /// IPv4-in-IPv6 payload is not version 4.
        Ipv6Ipv4InIpv6WrongVersion => "decoder.event.ipv6.ipv4_in_ipv6_wrong_version",
        /// IPv6-in-IPv6 payload too short for IPv6.
        Ipv6Ipv6InIpv6TooSmall => "decoder.event.ipv6.ipv6_in_ipv6_too_small",
        /// IPv6-in-IPv6 payload is not version 6.
        Ipv6Ipv6InIpv6WrongVersion => "decoder.event.ipv6.ipv6_in_ipv6_wrong_version",
        /// Fewer than 20 bytes for TCP.
        TcpPktTooSmall => "decoder.event.tcp.pkt_too_small",
        /// TCP data offset below 5 or past the packet.
        TcpHlenTooSmall => "decoder.event.tcp.hlen_too_small",
        /// TCP option length running past the header.
        TcpInvalidOptlen => "decoder.event.tcp.invalid_optlen",
        /// Known TCP option with the wrong length.
        TcpOptInvalidLen => "decoder.event.tcp.opt_invalid_len",
        /// Same TCP option twice.
        TcpOptDuplicate => "decoder.event.tcp.opt_duplicate",
        /// UDP length field larger than the bytes present (decoding goes on
        /// with what is there).
        UdpPktTooSmall => "decoder.event.udp.pkt_too_small",
        /// Fewer than 8 bytes for the UDP header.
        UdpHlenTooSmall => "decoder.event.udp.hlen_too_small",
        /// UDP length field below 8.
        UdpLenInvalid => "decoder.event.udp.len_invalid",
        /// Fewer than 8 bytes for ICMPv4.
        Icmpv4PktTooSmall => "decoder.event.icmpv4.pkt_too_small",
        /// Fewer than 8 bytes for ICMPv6.
        Icmpv6PktTooSmall => "decoder.event.icmpv6.pkt_too_small",
        /// IPv4 carrying ICMPv6.
        Ipv4Icmpv6 => "decoder.event.ipv4.icmpv6",
        /// IPv6 carrying ICMPv4.
        Ipv6Icmpv4 => "decoder.event.ipv6.icmpv4",
        /// Fewer than 12 bytes for SCTP.
        SctpPktTooSmall => "decoder.event.sctp.pkt_too_small",
        /// GRE header truncated.
        GrePktTooSmall => "decoder.event.gre.pkt_too_small",
        /// GRE version other than 0 and 1.
        GreWrongVersion => "decoder.event.gre.wrong_version",
        /// GRE v0 optional fields or SREs running past the packet.
        GreVersion0HdrTooBig => "decoder.event.gre.version0_hdr_too_big",
        /// GRE v1 with the checksum bit set.
        GreVersion1Chksum => "decoder.event.gre.version1_chksum",
        /// GRE v1 with the routing bit set.
        GreVersion1Route => "decoder.event.gre.version1_route",
        /// GRE v1 without the key bit.
        GreVersion1NoKey => "decoder.event.gre.version1_no_key",
        /// GRE v1 carrying something other than PPP.
        GreVersion1WrongProtocol => "decoder.event.gre.version1_wrong_protocol",
        /// GRE v1 optional fields running past the packet.
        GreVersion1HdrTooBig => "decoder.event.gre.version1_hdr_too_big",
        /// ERSPAN header truncated.
        ErspanHeaderTooSmall => "decoder.event.erspan.header_too_small",
        /// ERSPAN version not matching its GRE protocol type.
        ErspanUnsupportedVersion => "decoder.event.erspan.unsupported_version",
        /// Encapsulation deeper than `max_tunnel_depth` (or the layer bound).
        TooManyLayers => "decoder.event.too_many_layers",
    }
}

/// Counters of one decoder (or the merge of several): per-layer stats, anomaly
/// events and the link types that could not be decoded.
#[derive(Clone, Debug)]
pub struct DecodeCounters {
    stats: [u64; Stat::COUNT],
    events: [u64; DecodeEvent::COUNT],
    max_pkt_size: u64,
    unsupported: Vec<(u32, u64)>,
}

impl Default for DecodeCounters {
    fn default() -> Self {
        DecodeCounters {
            stats: [0; Stat::COUNT],
            events: [0; DecodeEvent::COUNT],
            max_pkt_size: 0,
            unsupported: Vec::new(),
        }
    }
}

impl DecodeCounters {
    /// Every counter with its stats name, in a fixed order: stats, then
    /// `decoder.avg_pkt_size` and `decoder.max_pkt_size`, then every event.
    pub fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        for s in Stat::ALL {
            f(s.name(), self.stats[*s as usize]);
        }
        let pkts = self.stats[Stat::Pkts as usize];
        let avg = self.stats[Stat::Bytes as usize]
            .checked_div(pkts)
            .unwrap_or(0);
        f("decoder.avg_pkt_size", avg);
        f("decoder.max_pkt_size", self.max_pkt_size);
        for e in DecodeEvent::ALL {
            f(e.name(), self.events[*e as usize]);
        }
    }

    /// Adds `other` into `self` (max for `max_pkt_size`).
    pub fn merge(&mut self, other: &DecodeCounters) {
        for (a, b) in self.stats.iter_mut().zip(other.stats.iter()) {
            *a += b;
        }
        for (a, b) in self.events.iter_mut().zip(other.events.iter()) {
            *a += b;
        }
        self.max_pkt_size = self.max_pkt_size.max(other.max_pkt_size);
        for &(dlt, n) in &other.unsupported {
            self.add_unsupported(dlt, n);
        }
    }

    /// Sum of all anomaly (`decoder.event.*`) counters.
    pub fn anomalies(&self) -> u64 {
        self.events.iter().sum()
    }

    /// Link types seen that are not supported, with their frame counts.
    pub fn unsupported_linktypes(&self) -> &[(u32, u64)] {
        &self.unsupported
    }

    /// The value of one stat.
    pub fn stat(&self, s: Stat) -> u64 {
        self.stats[s as usize]
    }

    /// How often one event was raised.
    pub fn event(&self, e: DecodeEvent) -> u64 {
        self.events[e as usize]
    }

    /// The value of a counter by its stats name (None if unknown).
    pub fn get(&self, name: &str) -> Option<u64> {
        let mut found = None;
        self.visit(&mut |n, v| {
            if n == name {
                found = Some(v);
            }
        });
        found
    }

    #[inline]
    pub(crate) fn bump(&mut self, s: Stat) {
        self.stats[s as usize] += 1;
    }

    #[inline]
    pub(crate) fn add(&mut self, s: Stat, n: u64) {
        self.stats[s as usize] += n;
    }

    #[inline]
    pub(crate) fn raise(&mut self, e: DecodeEvent) {
        self.events[e as usize] += 1;
    }

    #[inline]
    pub(crate) fn saw_size(&mut self, len: u64) {
        if len > self.max_pkt_size {
            self.max_pkt_size = len;
        }
    }

    pub(crate) fn add_unsupported(&mut self, dlt: u32, n: u64) {
        // A handful of distinct link types at most: a linear scan is cheapest.
        match self.unsupported.iter_mut().find(|(d, _)| *d == dlt) {
            Some((_, c)) => *c += n,
            None => self.unsupported.push((dlt, n)),
        }
    }
}

impl DecodeEvent {
    /// The name `decode-event` rules use: the stats name without its
    /// `decoder.event.` prefix (`ipv4.trunc_pkt`).
    pub fn rule_name(self) -> &'static str {
        let n = self.name();
        n.strip_prefix("decoder.event.").unwrap_or(n)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names = std::collections::HashSet::new();
        let c = DecodeCounters::default();
        let mut n = 0;
        c.visit(&mut |name, _| {
            assert!(
                name.starts_with("decoder.") || name.starts_with("defrag."),
                "{name}"
            );
            assert!(names.insert(name), "duplicate {name}");
            n += 1;
        });
        assert_eq!(n, Stat::COUNT + DecodeEvent::COUNT + 2);
        for e in DecodeEvent::ALL {
            assert!(e.name().starts_with("decoder.event."));
        }
    }

    #[test]
    fn merge_adds_and_tracks_max() {
        let mut a = DecodeCounters::default();
        a.bump(Stat::Pkts);
        a.add(Stat::Bytes, 100);
        a.saw_size(100);
        a.raise(DecodeEvent::Ipv4TruncPkt);
        a.add_unsupported(147, 2);
        let mut b = DecodeCounters::default();
        b.bump(Stat::Pkts);
        b.add(Stat::Bytes, 60);
        b.saw_size(60);
        b.add_unsupported(147, 1);
        b.add_unsupported(148, 1);
        b.merge(&a);
        assert_eq!(b.get("decoder.pkts"), Some(2));
        assert_eq!(b.get("decoder.avg_pkt_size"), Some(80));
        assert_eq!(b.get("decoder.max_pkt_size"), Some(100));
        assert_eq!(b.anomalies(), 1);
        assert_eq!(b.unsupported_linktypes(), &[(147, 3), (148, 1)]);
        assert_eq!(b.get("no.such"), None);
    }
}
