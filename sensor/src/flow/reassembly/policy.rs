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

#[cfg(test)]
mod test {
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
}
