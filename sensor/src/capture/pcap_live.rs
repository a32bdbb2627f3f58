//! Live capture through libpcap (cargo feature `libpcap`): for systems without
//! AF_PACKET and for BPF filter expressions such as `not port 22`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{PacketSource, RawBatch};

/// Settings of a libpcap capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapLiveConfig {
    /// Interface name.
    pub interface: String,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Kernel buffer size in bytes.
    pub buffer_size: u32,
    /// BPF filter expression (tcpdump syntax), if any.
    pub filter: Option<String>,
}

/// A live libpcap capture; a [`PacketSource`].
pub struct PcapLiveSource {
    cap: pcap::Capture<pcap::Active>,
    dlt: u32,
    stop: Arc<AtomicBool>,
    packets: u64,
    bytes: u64,
    drops: u64,
    errors: Vec<String>,
}

impl PcapLiveSource {
    /// Opens the interface; `stop` ends the capture within about 100 ms.
    pub fn open(cfg: &PcapLiveConfig, stop: Arc<AtomicBool>) -> Result<Self, String> {
        let ctx = |e: pcap::Error| format!("libpcap capture on {}: {e}", cfg.interface);
        let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
            .map_err(ctx)?
            .promisc(cfg.promisc)
            .snaplen(cfg.snaplen.min(i32::MAX as u32) as i32)
            .buffer_size(cfg.buffer_size.min(i32::MAX as u32) as i32)
            .timeout(100)
            .open()
            .map_err(ctx)?;
        if let Some(f) = &cfg.filter {
            cap.filter(f, true)
                .map_err(|e| format!("BPF filter {f:?} on {}: {e}", cfg.interface))?;
        }
        let dlt = cap.get_datalink().0 as u32;
        Ok(PcapLiveSource {
            cap,
            dlt,
            stop,
            packets: 0,
            bytes: 0,
            drops: 0,
            errors: Vec::new(),
        })
    }
}

impl PacketSource for PcapLiveSource {
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        batch.clear();
        while batch.recs.len() < max_pkts && batch.data.len() < max_bytes {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = p.header.ts.tv_sec as u64 * 1_000_000_000
                        + p.header.ts.tv_usec as u64 * 1000;
                    batch.push(ts, self.dlt, p.header.len, p.data);
                    self.packets += 1;
                    self.bytes += p.data.len() as u64;
                }
                Err(pcap::Error::TimeoutExpired) => {
                    if !batch.recs.is_empty() {
                        break;
                    }
                    if self.stop.load(Ordering::Relaxed) {
                        return false;
                    }
                }
                Err(e) => {
                    self.errors.push(format!("libpcap: {e}"));
                    return !batch.recs.is_empty();
                }
            }
        }
        if let Ok(s) = self.cap.stats() {
            self.drops = s.dropped as u64 + s.if_dropped as u64;
        }
        true
    }

    fn packets(&self) -> u64 {
        self.packets
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn kernel_drops(&self) -> u64 {
        self.drops
    }

    fn errors(&self) -> Vec<String> {
        self.errors.clone()
    }
}

/// Compiles a BPF filter expression (tcpdump syntax) with libpcap for frames
/// of link type `dlt`, into the instructions an AF_PACKET socket runs
/// (`AfPacketConfig::bpf`). A syntax error is returned with libpcap's reason.
pub fn compile_filter(expr: &str, dlt: u32) -> Result<Vec<super::afpacket::BpfInsn>, String> {
    // pcap_open_dead takes a DLT; LINKTYPE_RAW (101, what capture files and
    // `afpacket::link_type` say for bare IP) is DLT_RAW, 12 on Linux.
    let dlt = if dlt == 101 { 12 } else { dlt };
    let dead =
        pcap::Capture::dead(pcap::Linktype(dlt as i32)).map_err(|e| format!("libpcap: {e}"))?;
    let prog = dead
        .compile(expr, true)
        .map_err(|e| format!("BPF filter {expr:?}: {e}"))?;
    // The pcap crate exposes an instruction only through Display
    // ("code jt jf k"); parse that rather than reach into its raw struct.
    prog.get_instructions()
        .iter()
        .map(|i| {
            let text = i.to_string();
            let f: Vec<&str> = text.split(' ').collect();
            let bad = || format!("BPF filter {expr:?}: unexpected instruction {text:?}");
            if f.len() != 4 {
                return Err(bad());
            }
            Ok(super::afpacket::BpfInsn {
                code: f[0].parse().map_err(|_| bad())?,
                jt: f[1].parse().map_err(|_| bad())?,
                jf: f[2].parse().map_err(|_| bad())?,
                k: f[3].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_filters_into_kernel_instructions() {
        let prog = compile_filter("not port 22", 1).unwrap();
        // Ethernet type check first, and at least one accepting and one
        // dropping return.
        assert_eq!(prog[0].code, 0x28, "ldh [12]");
        assert_eq!(prog[0].k, 12);
        assert!(prog.iter().any(|i| i.code == 0x06 && i.k > 0));
        assert!(prog.iter().any(|i| i.code == 0x06 && i.k == 0));
        // Raw IP (DLT 101) has no link header to load.
        let raw = compile_filter("udp", 101).unwrap();
        assert_ne!(raw, compile_filter("udp", 1).unwrap());
        let e = compile_filter("port 99999999", 1).unwrap_err();
        assert!(e.contains("port 99999999"), "{e}");
        assert!(compile_filter("not a filter (", 1).is_err());
    }
}
