//! TCP tracking anomalies and counters, named in one place.

/// Something the TCP tracker saw that is worth counting or alerting on.
///
/// Each anomaly is counted under [`TcpAnomaly::counter_name`] and reported to
/// the caller as [`StreamEvent::Anomaly`](super::StreamEvent::Anomaly) so it can
/// be matched by `stream-event:` rules ([`TcpAnomaly::suricata_event`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpAnomaly {
    /// Two segments carried different bytes for the same sequence range.
    OverlapDifferentData,
    /// The direction reached the configured reassembly depth; later data is not reassembled.
    DepthReached,
    /// Data was missing and the stream moved on past it.
    Gap,
    /// An out-of-order segment was refused because the reassembly memcap was reached.
    SegmentMemcapDrop,
    /// The per-direction out-of-order segment limit was reached, forcing a gap.
    OutOfOrderLimit,
    /// The recent-data window of a direction was dropped because the memcap was reached.
    WindowMemcapDrop,
    /// A SYN/ACK acknowledged something other than the client's ISN + 1; it was ignored.
    SynAckWrongAck,
    /// A RST whose sequence number is far outside the expected window; it was ignored.
    RstInvalid,
    /// More different SYNs during one handshake than are remembered.
    SynFlood,
}

impl TcpAnomaly {
    /// Every anomaly, in counter order.
    pub const ALL: [TcpAnomaly; 9] = [
        TcpAnomaly::OverlapDifferentData,
        TcpAnomaly::DepthReached,
        TcpAnomaly::Gap,
        TcpAnomaly::SegmentMemcapDrop,
        TcpAnomaly::OutOfOrderLimit,
        TcpAnomaly::WindowMemcapDrop,
        TcpAnomaly::SynAckWrongAck,
        TcpAnomaly::RstInvalid,
        TcpAnomaly::SynFlood,
    ];

    /// Stats counter name (Suricata's where it has one).
    pub fn counter_name(self) -> &'static str {
        match self {
            TcpAnomaly::OverlapDifferentData => "tcp.overlap_diff_data",
            TcpAnomaly::DepthReached => "tcp.stream_depth_reached",
            TcpAnomaly::Gap => "tcp.reassembly_gap",
            TcpAnomaly::SegmentMemcapDrop => "tcp.segment_memcap_drop",
            TcpAnomaly::OutOfOrderLimit => "tcp.reassembly_ooo_limit",
            TcpAnomaly::WindowMemcapDrop => "tcp.stream_window_memcap_drop",
            TcpAnomaly::SynAckWrongAck => "tcp.synack_wrong_ack",
            TcpAnomaly::RstInvalid => "tcp.rst_invalid",
            TcpAnomaly::SynFlood => "tcp.3whs_syn_flood",
        }
    }

    /// The Suricata `stream-event:` keyword value for this anomaly, if Suricata has one.
    pub fn suricata_event(self) -> Option<&'static str> {
        match self {
            TcpAnomaly::OverlapDifferentData => Some("reassembly_overlap_different_data"),
            TcpAnomaly::DepthReached => Some("reassembly_depth_reached"),
            TcpAnomaly::Gap => Some("reassembly_seq_gap"),
            TcpAnomaly::SynAckWrongAck => Some("3whs_synack_with_wrong_ack"),
            TcpAnomaly::SynFlood => Some("3whs_syn_flood"),
            TcpAnomaly::SegmentMemcapDrop
            | TcpAnomaly::OutOfOrderLimit
            | TcpAnomaly::WindowMemcapDrop
            | TcpAnomaly::RstInvalid => None,
        }
    }

    /// `stream.<event>`: the id under which `stream-event` rules match it.
    pub fn rule_name(self) -> Option<&'static str> {
        match self {
            TcpAnomaly::OverlapDifferentData => Some("stream.reassembly_overlap_different_data"),
            TcpAnomaly::DepthReached => Some("stream.reassembly_depth_reached"),
            TcpAnomaly::Gap => Some("stream.reassembly_seq_gap"),
            TcpAnomaly::SynAckWrongAck => Some("stream.3whs_synack_with_wrong_ack"),
            TcpAnomaly::SynFlood => Some("stream.3whs_syn_flood"),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-worker TCP tracking counters; read them with [`TcpCounters::visit`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Sessions that saw at least one segment (`tcp.sessions`).
    pub sessions: u64,
    /// Segments fed to sessions (`tcp.segments`).
    pub segments: u64,
    /// SYN segments without ACK (`tcp.syn`).
    pub syn: u64,
    /// SYN/ACK segments (`tcp.synack`).
    pub synack: u64,
    /// RST segments, valid or not (`tcp.rst`).
    pub rst: u64,
    /// FIN segments (`tcp.fin`).
    pub fin: u64,
    /// Keep-alive probes, whose garbage byte is not stream data (`tcp.keepalive`).
    pub keepalive: u64,
    /// Sessions picked up without seeing their handshake (`tcp.midstream_pickups`).
    pub midstream_pickups: u64,
    /// Segments whose data overlapped data already seen, same bytes or not (`tcp.overlap`).
    pub overlap: u64,
    /// Bytes delivered in order to consumers (`tcp.reassembled_bytes`).
    pub reassembled_bytes: u64,
    /// Bytes skipped over by gaps (`tcp.gap_bytes`).
    pub gap_bytes: u64,
    anomalies: [u64; TcpAnomaly::ALL.len()],
}

impl TcpCounters {
    /// Counts one anomaly.
    pub fn record(&mut self, anomaly: TcpAnomaly) {
        if let Some(slot) = self.anomalies.get_mut(anomaly.index()) {
            *slot += 1;
        }
    }

    /// How many times an anomaly was counted.
    pub fn anomaly(&self, anomaly: TcpAnomaly) -> u64 {
        self.anomalies.get(anomaly.index()).copied().unwrap_or(0)
    }

    /// Calls `f` with every counter's name and value.
    pub fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("tcp.sessions", self.sessions);
        f("tcp.segments", self.segments);
        f("tcp.syn", self.syn);
        f("tcp.synack", self.synack);
        f("tcp.rst", self.rst);
        f("tcp.fin", self.fin);
        f("tcp.keepalive", self.keepalive);
        f("tcp.midstream_pickups", self.midstream_pickups);
        f("tcp.overlap", self.overlap);
        f("tcp.reassembled_bytes", self.reassembled_bytes);
        f("tcp.gap_bytes", self.gap_bytes);
        for a in TcpAnomaly::ALL {
            f(a.counter_name(), self.anomaly(a));
        }
    }

    /// Adds another worker's counters to these.
    pub fn merge(&mut self, other: &TcpCounters) {
        self.sessions += other.sessions;
        self.segments += other.segments;
        self.syn += other.syn;
        self.synack += other.synack;
        self.rst += other.rst;
        self.fin += other.fin;
        self.keepalive += other.keepalive;
        self.midstream_pickups += other.midstream_pickups;
        self.overlap += other.overlap;
        self.reassembled_bytes += other.reassembled_bytes;
        self.gap_bytes += other.gap_bytes;
        for (mine, theirs) in self.anomalies.iter_mut().zip(other.anomalies.iter()) {
            *mine += theirs;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_are_unique_and_visited() {
        let mut c = TcpCounters::default();
        c.record(TcpAnomaly::Gap);
        c.record(TcpAnomaly::Gap);
        c.syn = 3;
        let mut seen = Vec::new();
        c.visit(&mut |name, value| seen.push((name, value)));
        let mut names: Vec<_> = seen.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate counter name");
        assert!(seen.contains(&("tcp.reassembly_gap", 2)));
        assert!(seen.contains(&("tcp.syn", 3)));
        let mut total = TcpCounters::default();
        total.merge(&c);
        total.merge(&c);
        assert_eq!(total.anomaly(TcpAnomaly::Gap), 4);
        assert_eq!(total.syn, 6);
    }

    #[test]
    fn index_matches_all_order() {
        for (i, a) in TcpAnomaly::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
        }
    }
}
