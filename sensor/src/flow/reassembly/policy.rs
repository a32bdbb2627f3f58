//! Overlap policies: which copy of overlapping TCP data a receiver keeps.
//!
//! Operating systems disagree on which bytes they keep when two segments
//! cover the same sequence range with different data (Ptacek & Newsham 1998;
//! Novak & Sturges, "Target-Based TCP Stream Reassembly", 2007). An IDS that
//! picks the wrong copy sees a different stream than the target host, so the
//! policy is configurable per sensor (and may be set per session for a known
//! host). The rules below are the ones Suricata applies in IDS mode, under
//! the names of its `host-os-policy` setting.

/// Which copy wins when two TCP segments carry different bytes for the same
/// sequence range (Suricata's `host-os-policy` names, see [`OverlapPolicy::from_name`]).
///
/// The decision is taken for each pair (new segment, segment already held),
/// from how their sequence ranges line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// The data seen first always wins (`first`, `vista`).
    First,
    /// The data seen last always wins (`last`).
    Last,
    /// New data wins only where it starts before the held segment
    /// (`bsd`, `hpux10`, `irix`, `macos`, `windows`, `windows2k3`; Suricata's default).
    #[default]
    Bsd,
    /// New data wins where it starts before the held segment, or starts at
    /// the same sequence number and ends beyond it (`linux`).
    Linux,
    /// New data wins where it starts before the held segment, or starts at
    /// the same sequence number and ends at or beyond its end (`old-linux`).
    OldLinux,
    /// New data wins where it ends at or beyond the held segment's end, except
    /// when it starts after it and ends exactly at its end (`solaris`, `hpux11`).
    Solaris,
}

impl OverlapPolicy {
    /// Every policy, for tables and config help.
    pub const ALL: [OverlapPolicy; 6] = [
        OverlapPolicy::First,
        OverlapPolicy::Last,
        OverlapPolicy::Bsd,
        OverlapPolicy::Linux,
        OverlapPolicy::OldLinux,
        OverlapPolicy::Solaris,
    ];

    /// Parses a Suricata `host-os-policy` name (`first`, `last`, `bsd`,
    /// `linux`, `old-linux`, `solaris`, `windows`, `windows2k3`, `vista`,
    /// `hpux10`, `hpux11`, `irix`, `macos`); `None` for anything else.
    pub fn from_name(name: &str) -> Option<OverlapPolicy> {
        let policy = match name.trim().to_ascii_lowercase().as_str() {
            "first" | "vista" => OverlapPolicy::First,
            "last" => OverlapPolicy::Last,
            "bsd" | "hpux10" | "irix" | "macos" | "windows" | "windows2k3" => OverlapPolicy::Bsd,
            "linux" => OverlapPolicy::Linux,
            "old-linux" => OverlapPolicy::OldLinux,
            "solaris" | "hpux11" => OverlapPolicy::Solaris,
            _ => return None,
        };
        Some(policy)
    }

    /// The canonical name of this policy, as [`OverlapPolicy::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            OverlapPolicy::First => "first",
            OverlapPolicy::Last => "last",
            OverlapPolicy::Bsd => "bsd",
            OverlapPolicy::Linux => "linux",
            OverlapPolicy::OldLinux => "old-linux",
            OverlapPolicy::Solaris => "solaris",
        }
    }

    /// Whether the bytes of a new segment covering `[new_start, new_end)`
    /// replace the bytes of a held segment covering `[held_start, held_end)`
    /// where the two overlap (offsets in stream order, ends exclusive).
    pub fn new_data_wins(
        self,
        new_start: u64,
        new_end: u64,
        held_start: u64,
        held_end: u64,
    ) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let start = new_start.cmp(&held_start);
        let end = new_end.cmp(&held_end);
        match self {
            OverlapPolicy::First => false,
            OverlapPolicy::Last => true,
            OverlapPolicy::Bsd => start == Less,
            OverlapPolicy::Linux => start == Less || (start == Equal && end == Greater),
            OverlapPolicy::OldLinux => start == Less || (start == Equal && end != Less),
            OverlapPolicy::Solaris => match start {
                Less | Equal => end != Less,
                Greater => end == Greater,
            },
        }
    }
}

impl std::fmt::Display for OverlapPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Overlap policies by host address (`host-os-policy`): the most specific
/// prefix holding an address decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPolicies {
    /// (network as IPv6 or IPv4-mapped IPv6, prefix length over 128 bits,
    /// policy), most specific first.
    nets: Vec<(u128, u8, OverlapPolicy)>,
}

fn to_u128(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(v4) => u32::from(v4) as u128 | 0xffff_0000_0000,
        std::net::IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

impl HostPolicies {
    /// Adds `net` (`10.0.0.0/8`, `192.0.2.1`, `2001:db8::/32`) with `policy`;
    /// an error says why the text is not a network.
    pub fn add(&mut self, net: &str, policy: OverlapPolicy) -> Result<(), String> {
        let net = net.trim();
        let (addr, len) = match net.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (net, None),
        };
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("{net:?}: not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{net:?}: prefix length must be 0 to {max}"))?,
        };
        let len = if addr.is_ipv4() { len + 96 } else { len };
        let net = to_u128(addr) & mask(len);
        self.nets.retain(|(n, l, _)| !(*n == net && *l == len));
        self.nets.push((net, len, policy));
        self.nets.sort_by_key(|n| std::cmp::Reverse(n.1));
        Ok(())
    }

    /// The policy of the most specific network holding `addr`.
    pub fn lookup(&self, addr: std::net::IpAddr) -> Option<OverlapPolicy> {
        let a = to_u128(addr);
        self.nets
            .iter()
            .find(|(n, l, _)| a & mask(*l) == *n)
            .map(|(_, _, p)| *p)
    }

    /// No host has a policy of its own.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

#[cfg(test)]
mod test {
    use super::HostPolicies;
    use super::OverlapPolicy::{self, *};

    #[test]
    fn names_round_trip_and_aliases() {
        for p in OverlapPolicy::ALL {
            assert_eq!(OverlapPolicy::from_name(p.name()), Some(p));
        }
        assert_eq!(OverlapPolicy::from_name("Windows"), Some(Bsd));
        assert_eq!(OverlapPolicy::from_name("vista"), Some(First));
        assert_eq!(OverlapPolicy::from_name("hpux11"), Some(Solaris));
        assert_eq!(OverlapPolicy::from_name("plan9"), None);
        assert_eq!(OverlapPolicy::default(), Bsd);
    }

    #[test]
    fn decision_table() {
        // held segment is [10, 20); cases: (new_start, new_end)
        let cases: [(u64, u64); 8] = [
            (5, 15),  // starts before, ends inside
            (5, 20),  // starts before, ends at end
            (5, 25),  // starts before, ends beyond
            (10, 15), // same start, ends inside
            (10, 20), // same range
            (10, 25), // same start, ends beyond
            (12, 20), // starts after, ends at end
            (12, 25), // starts after, ends beyond
        ];
        let expect: [(OverlapPolicy, [bool; 8]); 6] = [
            (First, [false; 8]),
            (Last, [true; 8]),
            (Bsd, [true, true, true, false, false, false, false, false]),
            (Linux, [true, true, true, false, false, true, false, false]),
            (
                OldLinux,
                [true, true, true, false, true, true, false, false],
            ),
            (Solaris, [false, true, true, false, true, true, false, true]),
        ];
        for (policy, wins) in expect {
            for (i, (s, e)) in cases.iter().enumerate() {
                assert_eq!(
                    policy.new_data_wins(*s, *e, 10, 20),
                    wins[i],
                    "{policy} new [{s},{e}) vs held [10,20)"
                );
            }
        }
    }

    #[test]
    fn host_policies_pick_the_most_specific_network() {
        let mut h = HostPolicies::default();
        assert!(h.is_empty());
        h.add("0.0.0.0/0", OverlapPolicy::Bsd).unwrap();
        h.add("2.2.2.2", OverlapPolicy::OldLinux).unwrap();
        h.add("10.0.0.0/8", OverlapPolicy::Linux).unwrap();
        h.add("2001:db8::/32", OverlapPolicy::Solaris).unwrap();
        let ip = |s: &str| s.parse().unwrap();
        assert_eq!(h.lookup(ip("2.2.2.2")), Some(OverlapPolicy::OldLinux));
        assert_eq!(h.lookup(ip("2.2.2.3")), Some(OverlapPolicy::Bsd));
        assert_eq!(h.lookup(ip("10.9.8.7")), Some(OverlapPolicy::Linux));
        assert_eq!(h.lookup(ip("2001:db8:1::5")), Some(OverlapPolicy::Solaris));
        assert_eq!(
            h.lookup(ip("2001:db9::5")),
            None,
            "0.0.0.0/0 holds no IPv6 address"
        );
        for bad in ["10.0.0.0/33", "::/129", "host", "1.2.3.4/x", ""] {
            assert!(h.add(bad, OverlapPolicy::Bsd).is_err(), "{bad}");
        }
    }
}
