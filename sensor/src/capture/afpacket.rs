//! Live capture on Linux with AF_PACKET and a TPACKET_V3 memory-mapped ring.
//! Pure Rust over `libc`: no libpcap.
//!
//! One socket feeds the pipeline's reader thread, which hands batches to the
//! dispatcher (the dispatcher's symmetric flow hash then spreads flows over the
//! workers). The socket can join a `PACKET_FANOUT` hash group with the defrag
//! flag, so several vigie processes (or several sources) on one interface
//! share its flows without splitting any flow.
//!
//! The kernel fills blocks of the ring and hands each block over by setting
//! `TP_STATUS_USER` in its header; we copy its frames into [`RawBatch`]es and
//! give the block back by writing `TP_STATUS_KERNEL`. A block is retired to us
//! when full or after `block_timeout_ms`, so an idle link still delivers
//! promptly. Drops are read with `PACKET_STATISTICS` (which resets on read, so
//! we accumulate).

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use super::{PacketSource, RawBatch};

// Kernel ABI constants (linux/if_packet.h, linux/if_ether.h): stable UAPI.
const ETH_P_ALL: u16 = 0x0003;
const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const TPACKET_V3: libc::c_int = 2;
const PACKET_FANOUT_HASH: u32 = 0;
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then
// `struct tpacket_hdr_v1`).
const BD_STATUS: usize = 8;
const BD_NUM_PKTS: usize = 12;
const BD_FIRST_PKT: usize = 16;
// Offsets in `struct tpacket3_hdr`.
const PH_NEXT: usize = 0;
const PH_SEC: usize = 4;
const PH_NSEC: usize = 8;
const PH_SNAPLEN: usize = 12;
const PH_LEN: usize = 16;
const PH_STATUS: usize = 20;
const PH_MAC: usize = 24;
const PH_VLAN_TCI: usize = 32;
const PH_VLAN_TPID: usize = 36;
const PH_SIZE: usize = 48;

#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

#[repr(C)]
struct PacketMreq {
    mr_ifindex: libc::c_int,
    mr_type: libc::c_ushort,
    mr_alen: libc::c_ushort,
    mr_address: [u8; 8],
}

/// One classic BPF instruction (`struct sock_filter`), as libpcap compiles
/// filter expressions (see `pcap_live::compile_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

/// `BPF_RET | BPF_K`: return the constant (bytes to keep; 0 drops).
const BPF_RET_K: u16 = 0x06;
/// The kernel refuses longer programs (BPF_MAXINSNS).
const BPF_MAX_INSNS: usize = 4096;

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const BpfInsn,
}

/// The socket filter for `cfg`: the compiled filter with every accepting
/// return capped at snaplen, or a lone `ret #snaplen` when there is no
/// filter and snaplen is below the maximum; None when nothing is to filter.
fn socket_program(cfg: &AfPacketConfig) -> Result<Option<Vec<BpfInsn>>, String> {
    match &cfg.bpf {
        Some(prog) => {
            if prog.is_empty() || prog.len() > BPF_MAX_INSNS {
                return Err(format!(
                    "BPF program of {} instructions (1 to {BPF_MAX_INSNS} allowed)",
                    prog.len()
                ));
            }
            Ok(Some(
                prog.iter()
                    .map(|i| match i.code {
                        BPF_RET_K if i.k > cfg.snaplen => BpfInsn {
                            k: cfg.snaplen,
                            ..*i
                        },
                        _ => *i,
                    })
                    .collect(),
            ))
        }
        None if cfg.snaplen < 65535 => Ok(Some(vec![BpfInsn {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: cfg.snaplen,
        }])),
        None => Ok(None),
    }
}

/// Settings of one AF_PACKET capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Interface name, e.g. `eth1`.
    pub interface: String,
    /// Bytes per ring block (a multiple of the page size; 1 MiB by default).
    pub block_size: u32,
    /// Blocks in the ring (ring size = `block_size * block_count`).
    pub block_count: u32,
    /// Milliseconds after which the kernel hands over a block that is not full.
    pub block_timeout_ms: u32,
    /// Bytes kept of each frame (a socket filter cuts the rest in the kernel).
    pub snaplen: u32,
    /// Put the interface in promiscuous mode while capturing.
    pub promisc: bool,
    /// Join this `PACKET_FANOUT` group (hash mode, defrag flag).
    pub fanout_group: Option<u16>,
    /// Skip frames the host itself sends (kernel 4.20 or later).
    pub ignore_outgoing: bool,
    /// Classic BPF program run in the kernel on every frame (a `capture.filter`
    /// expression compiled by libpcap for this interface's link type).
    pub bpf: Option<Vec<BpfInsn>>,
}

impl AfPacketConfig {
    /// Defaults for `interface`: 64 blocks of 1 MiB, 10 ms timeout, snaplen
    /// 65535, promiscuous, no fanout.
    pub fn new(interface: &str) -> Self {
        AfPacketConfig {
            interface: interface.to_string(),
            block_size: 1 << 20,
            block_count: 64,
            block_timeout_ms: 10,
            snaplen: 65535,
            promisc: true,
            fanout_group: None,
            ignore_outgoing: false,
            bpf: None,
        }
    }

    fn check(&self) -> Result<(), String> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
        if self.block_size < page || !self.block_size.is_multiple_of(page) {
            return Err(format!(
                "block_size {} must be a multiple of the page size ({page})",
                self.block_size
            ));
        }
        if self.block_count == 0 {
            return Err("block_count must be at least 1".into());
        }
        if (self.block_size as u64) * (self.block_count as u64) > (16u64 << 30) {
            return Err("ring size (block_size * block_count) above 16 GiB".into());
        }
        if self.snaplen < 64 {
            return Err(format!("snaplen {} below 64 bytes", self.snaplen));
        }
        Ok(())
    }
}

/// Why a capture could not start, naming the interface and the step.
#[derive(Debug)]
pub struct AfPacketError {
    interface: String,
    step: &'static str,
    detail: String,
}

impl fmt::Display for AfPacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AF_PACKET capture on {}: {} failed: {}",
            self.interface, self.step, self.detail
        )
    }
}

impl std::error::Error for AfPacketError {}

/// The mmapped ring; unmapped on drop.
struct Ring {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this struct alone and only accessed through
// `&mut AfPacketSource`; moving it to another thread is sound.
unsafe impl Send for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned, unmapped only here.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// Where the reader stopped inside a block it owns.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    remaining: u32,
    off: usize,
}

/// A live AF_PACKET TPACKET_V3 capture; a [`PacketSource`] for the pipeline.
pub struct AfPacketSource {
    cfg: AfPacketConfig,
    // Declared before `fd`: unmapped before the socket closes.
    ring: Ring,
    fd: OwnedFd,
    dlt: u32,
    block: usize,
    cursor: Option<Cursor>,
    stop: Arc<AtomicBool>,
    packets: u64,
    bytes: u64,
    kernel_packets: u64,
    kernel_drops: u64,
    bad_blocks: u64,
    errors: Vec<String>,
    polls_since_stats: u32,
}

fn os_err(cfg: &AfPacketConfig, step: &'static str) -> AfPacketError {
    AfPacketError {
        interface: cfg.interface.clone(),
        step,
        detail: io::Error::last_os_error().to_string(),
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live, initialised T of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Link type (pcap DLT) of an interface, from its ARPHRD type in sysfs.
pub fn link_type(iface: &str) -> Result<u32, String> {
    let path = format!("/sys/class/net/{iface}/type");
    let t = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    match t.trim().parse::<u32>() {
        // Ethernet, and loopback (which carries a zeroed Ethernet header).
        Ok(1) | Ok(772) => Ok(1),
        // ARPHRD_NONE (tun, wireguard): bare IP packets.
        Ok(65534) => Ok(101),
        Ok(other) => Err(format!(
            "interface type {other} (see /usr/include/linux/if_arp.h) is not supported"
        )),
        Err(_) => Err(format!("{path}: unreadable type {:?}", t.trim())),
    }
}

impl AfPacketSource {
    /// Opens the socket, maps the ring and binds to the interface. Needs
    /// CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode). `stop` ends the
    /// capture: `fill` then returns false within about 100 ms.
    pub fn open(cfg: &AfPacketConfig, stop: Arc<AtomicBool>) -> Result<Self, AfPacketError> {
        let err = |step, detail: String| AfPacketError {
            interface: cfg.interface.clone(),
            step,
            detail,
        };
        cfg.check().map_err(|d| err("configuration", d))?;
        let dlt = link_type(&cfg.interface).map_err(|d| err("reading the link type", d))?;
        let name = CString::new(cfg.interface.as_str())
            .map_err(|_| err("interface name", "contains a NUL byte".into()))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(os_err(cfg, "finding the interface"));
        }
        // Protocol 0: the socket receives nothing until bind, so the ring
        // never holds frames of other interfaces.
        // SAFETY: plain syscall; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os_err(cfg, "socket(AF_PACKET) (needs CAP_NET_RAW)"));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(&fd, SOL_PACKET, PACKET_VERSION, &TPACKET_V3)
            .map_err(|e| err("PACKET_VERSION=TPACKET_V3", e.to_string()))?;
        // The kernel runs the filter before copying into the ring: rejected
        // frames cost no ring space, and accepted ones are cut at snaplen.
        if let Some(prog) = socket_program(cfg).map_err(|d| err("BPF filter", d))? {
            let fprog = SockFprog {
                len: prog.len() as libc::c_ushort,
                filter: prog.as_ptr(),
            };
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
                .map_err(|e| err("SO_ATTACH_FILTER", e.to_string()))?;
        }
        if cfg.ignore_outgoing {
            setsockopt(&fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &1i32)
                .map_err(|e| err("PACKET_IGNORE_OUTGOING", e.to_string()))?;
        }
        let frame_size = 2048u32;
        let req = TpacketReq3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_count,
            tp_frame_size: frame_size,
            tp_frame_nr: (cfg.block_size / frame_size) * cfg.block_count,
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, SOL_PACKET, PACKET_RX_RING, &req)
            .map_err(|e| err("PACKET_RX_RING", e.to_string()))?;
        let len = cfg.block_size as usize * cfg.block_count as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket; the
        // result is checked before use and unmapped by `Ring::drop`.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(os_err(cfg, "mmap of the ring"));
        }
        let base = NonNull::new(base.cast::<u8>()).ok_or_else(|| err("mmap", "null".into()))?;
        let ring = Ring { base, len };
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and its size is passed.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(os_err(cfg, "bind to the interface"));
        }
        if cfg.promisc {
            let mreq = PacketMreq {
                mr_ifindex: ifindex as i32,
                mr_type: PACKET_MR_PROMISC,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(&fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| err("promiscuous mode (needs CAP_NET_ADMIN)", e.to_string()))?;
        }
        if let Some(group) = cfg.fanout_group {
            let arg: u32 = group as u32 | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
            setsockopt(&fd, SOL_PACKET, PACKET_FANOUT, &arg)
                .map_err(|e| err("PACKET_FANOUT", e.to_string()))?;
        }
        let mut src = AfPacketSource {
            cfg: cfg.clone(),
            ring,
            fd,
            dlt,
            block: 0,
            cursor: None,
            stop,
            packets: 0,
            bytes: 0,
            kernel_packets: 0,
            kernel_drops: 0,
            bad_blocks: 0,
            errors: Vec::new(),
            polls_since_stats: 0,
        };
        // Start the drop counters from zero at the moment capture begins.
        src.read_stats();
        src.kernel_packets = 0;
        src.kernel_drops = 0;
        Ok(src)
    }

    /// The capture's settings.
    pub fn config(&self) -> &AfPacketConfig {
        &self.cfg
    }

    /// Packets the kernel counted for this socket (delivered or dropped).
    pub fn kernel_packets(&self) -> u64 {
        self.kernel_packets
    }

    /// Blocks whose frame headers were inconsistent (skipped, counted).
    pub fn bad_blocks(&self) -> u64 {
        self.bad_blocks
    }

    /// Accumulates PACKET_STATISTICS (the kernel resets them on each read).
    fn read_stats(&mut self) {
        let mut st = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `st` is a writable TpacketStatsV3 and `len` holds its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&mut st as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if r == 0 {
            // tp_packets counts delivered and dropped frames alike.
            self.kernel_packets += st.tp_packets as u64;
            self.kernel_drops += st.tp_drops as u64;
        }
    }

    fn block_ptr(&self, i: usize) -> *mut u8 {
        // Stays inside the mapping: i < block_count.
        self.ring
            .base
            .as_ptr()
            .wrapping_add(i * self.cfg.block_size as usize)
    }

    fn block_status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the status word lies inside block i of the live mapping, is
        // 4-byte aligned (blocks are page aligned), and the kernel writes it
        // concurrently, so it is only ever accessed atomically.
        unsafe { &*(self.block_ptr(i).add(BD_STATUS) as *const AtomicU32) }
    }

    /// Waits up to `ms` for the current block to be ours.
    fn wait(&mut self, ms: i32) {
        wait_for_rings(std::slice::from_ref(self), ms);
    }

    /// Copies frames of the current (user-owned) block into `batch`; true when
    /// the block is used up.
    fn drain_block(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        let bs = self.cfg.block_size as usize;
        // SAFETY: the block's status is TP_STATUS_USER (acquire-loaded by the
        // caller), so the kernel does not write to it until we hand it back
        // with a release store, after this slice is gone.
        let blk: &[u8] = unsafe { std::slice::from_raw_parts(self.block_ptr(self.block), bs) };
        let cur = match self.cursor {
            Some(c) => c,
            None => Cursor {
                remaining: rd32(blk, BD_NUM_PKTS).unwrap_or(0),
                off: rd32(blk, BD_FIRST_PKT).unwrap_or(0) as usize,
            },
        };
        let mut cur = cur;
        let snap = self.cfg.snaplen as usize;
        while cur.remaining > 0 {
            if batch.recs.len() >= max_pkts || batch.data.len() >= max_bytes {
                self.cursor = Some(cur);
                return false;
            }
            let h = cur.off;
            let (Some(next), Some(sec), Some(nsec), Some(caplen), Some(len), Some(st), Some(mac)) = (
                rd32(blk, h + PH_NEXT),
                rd32(blk, h + PH_SEC),
                rd32(blk, h + PH_NSEC),
                rd32(blk, h + PH_SNAPLEN),
                rd32(blk, h + PH_LEN),
                rd32(blk, h + PH_STATUS),
                rd16(blk, h + PH_MAC),
            ) else {
                self.bad_block();
                break;
            };
            let start = h + mac as usize;
            let Some(frame) = blk.get(start..start.saturating_add(caplen as usize)) else {
                self.bad_block();
                break;
            };
            let frame = &frame[..frame.len().min(snap)];
            let ts = sec as u64 * 1_000_000_000 + nsec as u64;
            if st & TP_STATUS_VLAN_VALID != 0 && frame.len() >= 12 && self.dlt == 1 {
                // The NIC or driver stripped the 802.1Q tag: put it back so
                // the decoder and rules see the frame as it was on the wire.
                let tci = rd32(blk, h + PH_VLAN_TCI).unwrap_or(0) as u16;
                let tpid = if st & TP_STATUS_VLAN_TPID_VALID != 0 {
                    rd16(blk, h + PH_VLAN_TPID).unwrap_or(0x8100)
                } else {
                    0x8100
                };
                let off = batch.data.len() as u32;
                batch.data.extend_from_slice(&frame[..12]);
                batch.data.extend_from_slice(&tpid.to_be_bytes());
                batch.data.extend_from_slice(&tci.to_be_bytes());
                batch.data.extend_from_slice(&frame[12..]);
                batch.recs.push(super::RawRecord {
                    off,
                    caplen: frame.len() as u32 + 4,
                    origlen: len + 4,
                    ts_ns: ts,
                    dlt: self.dlt,
                });
            } else {
                batch.push(ts, self.dlt, len, frame);
            }
            self.packets += 1;
            self.bytes += frame.len() as u64;
            cur.remaining -= 1;
            if cur.remaining > 0 {
                if next < PH_SIZE as u32 {
                    self.bad_block();
                    break;
                }
                cur.off = h + next as usize;
            }
        }
        self.cursor = None;
        true
    }

    fn bad_block(&mut self) {
        self.bad_blocks += 1;
        if self.errors.len() < 16 {
            self.errors.push(format!(
                "{}: inconsistent frame header in ring block {}; rest of the block skipped",
                self.cfg.interface, self.block
            ));
        }
    }

    fn release_block(&mut self) {
        self.block_status(self.block)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.block = (self.block + 1) % self.cfg.block_count as usize;
    }
}

fn rd32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn rd16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

impl PacketSource for AfPacketSource {
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        batch.clear();
        self.count_fill();
        loop {
            self.take_ready(batch, max_pkts, max_bytes);
            if !batch.recs.is_empty() {
                return true;
            }
            if self.stop.load(Ordering::Relaxed) {
                self.read_stats();
                return false;
            }
            self.wait(100);
            self.polls_since_stats += 7;
        }
    }

    fn packets(&self) -> u64 {
        self.packets
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn kernel_drops(&self) -> u64 {
        self.kernel_drops
    }

    fn errors(&self) -> Vec<String> {
        self.errors.clone()
    }
}

impl AfPacketSource {
    /// Under load the ring is never idle: drop counters are refreshed every
    /// 64 fills (and about once a second while idle).
    fn count_fill(&mut self) {
        self.polls_since_stats += 1;
        if self.polls_since_stats >= 64 {
            self.polls_since_stats = 0;
            self.read_stats();
        }
    }

    /// Moves the frames of every block the kernel has handed over into
    /// `batch`, until it is full; never waits.
    fn take_ready(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) {
        loop {
            let status = self.block_status(self.block).load(Ordering::Acquire);
            if status & TP_STATUS_USER == 0 || !self.drain_block(batch, max_pkts, max_bytes) {
                return;
            }
            self.release_block();
        }
    }

    /// Refreshes the kernel drop counters now (`fill` does it about once a
    /// second while the link is idle, and when the capture stops).
    pub fn refresh_stats(&mut self) {
        self.read_stats();
    }
}

/// Several AF_PACKET sockets on one interface joined in one `PACKET_FANOUT`
/// hash group (defrag flag): the kernel spreads flows over their rings, each
/// flow always on the same socket, so the capture has one ring and one drop
/// counter per worker. One reader collects the rings in turn; the dispatcher
/// then hashes flows onto the workers itself, through tunnels too.
pub struct FanoutSource {
    socks: Vec<AfPacketSource>,
    next: usize,
    stop: Arc<AtomicBool>,
}

impl FanoutSource {
    /// Opens `sockets` sockets with `cfg`; without `cfg.fanout_group`, a group
    /// id is derived from the process id (groups are per network namespace).
    pub fn open(
        cfg: &AfPacketConfig,
        sockets: usize,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, AfPacketError> {
        let mut c = cfg.clone();
        if c.fanout_group.is_none() {
            c.fanout_group = Some((std::process::id() & 0xffff) as u16);
        }
        let socks = (0..sockets.max(1))
            .map(|_| AfPacketSource::open(&c, stop.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FanoutSource {
            socks,
            next: 0,
            stop,
        })
    }
}

/// Waits up to `ms` milliseconds for a block to be handed over on any of
/// `socks`' rings.
fn wait_for_rings(socks: &[AfPacketSource], ms: i32) {
    let mut pfds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` holds `pfds.len()` valid pollfd entries.
    unsafe {
        libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms);
    }
}

impl PacketSource for FanoutSource {
    fn fill(&mut self, batch: &mut RawBatch, max_pkts: usize, max_bytes: usize) -> bool {
        batch.clear();
        for s in &mut self.socks {
            s.count_fill();
        }
        let n = self.socks.len();
        loop {
            // Start with a different ring each time, so none waits behind
            // the others when batches fill up.
            for k in 0..n {
                let i = (self.next + k) % n;
                self.socks[i].take_ready(batch, max_pkts, max_bytes);
                if batch.recs.len() >= max_pkts || batch.data.len() >= max_bytes {
                    break;
                }
            }
            self.next = (self.next + 1) % n;
            if !batch.recs.is_empty() {
                return true;
            }
            if self.stop.load(Ordering::Relaxed) {
                for s in &mut self.socks {
                    s.read_stats();
                }
                return false;
            }
            wait_for_rings(&self.socks, 100);
            for s in &mut self.socks {
                s.polls_since_stats += 7;
            }
        }
    }

    fn packets(&self) -> u64 {
        self.socks.iter().map(|s| s.packets).sum()
    }

    fn bytes(&self) -> u64 {
        self.socks.iter().map(|s| s.bytes).sum()
    }

    fn kernel_drops(&self) -> u64 {
        self.socks.iter().map(|s| s.kernel_drops).sum()
    }

    fn socket_drops(&self) -> Vec<u64> {
        self.socks.iter().map(|s| s.kernel_drops).collect()
    }

    fn errors(&self) -> Vec<String> {
        self.socks.iter().flat_map(|s| s.errors.clone()).collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn bad_config_is_rejected_with_reason() {
        let mut c = AfPacketConfig::new("lo");
        c.block_size = 1000;
        let e = AfPacketSource::open(&c, Arc::new(AtomicBool::new(true)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("page size"), "{e}");
        let mut c = AfPacketConfig::new("lo");
        c.snaplen = 10;
        assert!(AfPacketSource::open(&c, Arc::new(AtomicBool::new(true))).is_err());
    }

    #[test]
    fn unknown_interface_is_named() {
        let c = AfPacketConfig::new("vigie-nonexistent0");
        let e = AfPacketSource::open(&c, Arc::new(AtomicBool::new(true)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("vigie-nonexistent0"), "{e}");
    }

    #[test]
    fn readers_are_bounds_checked() {
        let b = [1u8, 0, 0, 0, 2, 0];
        assert_eq!(rd32(&b, 0), Some(1));
        assert_eq!(rd32(&b, 3), None);
        assert_eq!(rd16(&b, 4), Some(2));
        assert_eq!(rd16(&b, usize::MAX), None);
    }

    /// True as root; otherwise prints why the test is skipped, or fails it
    /// under VIGIE_EXTERNAL_TESTS=1.
    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return true;
        }
        assert!(
            std::env::var("VIGIE_EXTERNAL_TESTS").map_or(true, |v| v != "1"),
            "VIGIE_EXTERNAL_TESTS=1 but not root: cannot open AF_PACKET"
        );
        eprintln!("skip: AF_PACKET capture needs root");
        false
    }

    #[test]
    fn socket_program_caps_accepting_returns_at_snaplen() {
        let mut c = AfPacketConfig::new("lo");
        assert_eq!(socket_program(&c).unwrap(), None);
        c.snaplen = 1500;
        let lone = socket_program(&c).unwrap().unwrap();
        assert_eq!(lone.len(), 1);
        assert_eq!((lone[0].code, lone[0].k), (BPF_RET_K, 1500));
        let ins = |code, k| BpfInsn {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        // ldh [12]; ret #262144; ret #0
        c.bpf = Some(vec![
            ins(0x28, 12),
            ins(BPF_RET_K, 262144),
            ins(BPF_RET_K, 0),
        ]);
        let p = socket_program(&c).unwrap().unwrap();
        assert_eq!(p[0], ins(0x28, 12), "loads are untouched");
        assert_eq!(p[1].k, 1500, "accepting return capped");
        assert_eq!(p[2].k, 0, "dropping return stays a drop");
        c.bpf = Some(Vec::new());
        assert!(socket_program(&c).unwrap_err().contains("0 instructions"));
        c.bpf = Some(vec![ins(BPF_RET_K, 0); BPF_MAX_INSNS + 1]);
        assert!(socket_program(&c).is_err());
    }

    /// A filter compiled by libpcap, attached to a real AF_PACKET socket on
    /// the loopback: only the frames it accepts reach the ring. Needs root
    /// (CAP_NET_RAW); skips with a reason otherwise unless
    /// VIGIE_EXTERNAL_TESTS=1.
    #[cfg(feature = "libpcap")]
    #[test]
    fn kernel_runs_compiled_filter_on_loopback() {
        if !root() {
            return;
        }
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let keep = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let skip = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let keep_port = keep.local_addr().unwrap().port();
        let skip_port = skip.local_addr().unwrap().port();
        let mut c = AfPacketConfig::new("lo");
        c.block_timeout_ms = 5;
        c.block_count = 4;
        c.promisc = false;
        c.snaplen = 96;
        // The loopback shows each frame twice (sent and received).
        c.ignore_outgoing = true;
        let dlt = link_type("lo").unwrap();
        c.bpf = Some(
            crate::capture::pcap_live::compile_filter(&format!("udp dst port {keep_port}"), dlt)
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let mut src = AfPacketSource::open(&c, stop).unwrap();
        for i in 0..20u8 {
            sock.send_to(&[i; 200], ("127.0.0.1", keep_port)).unwrap();
            sock.send_to(&[i; 200], ("127.0.0.1", skip_port)).unwrap();
        }
        let mut ports = Vec::new();
        let mut batch = RawBatch::default();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while ports.len() < 20 && std::time::Instant::now() < deadline {
            src.fill(&mut batch, 64, 1 << 20);
            for r in &batch.recs {
                let f = batch.frame(r);
                // Loopback frames: 14-byte zeroed Ethernet header, IPv4, UDP.
                let ihl = (f[14] & 0x0f) as usize * 4;
                let dport = u16::from_be_bytes([f[14 + ihl + 2], f[14 + ihl + 3]]);
                ports.push(dport);
                assert_eq!(r.caplen, 96, "accepted frames are cut at snaplen");
                assert!(r.origlen > 200);
            }
        }
        assert_eq!(ports.len(), 20, "frames sent to the kept port");
        assert!(ports.iter().all(|&p| p == keep_port), "{ports:?}");
    }

    /// Two sockets in one fanout hash group on the loopback: every frame
    /// reaches exactly one of them, each flow always the same one, and both
    /// get flows. Needs root; skips with a reason otherwise unless
    /// VIGIE_EXTERNAL_TESTS=1.
    #[test]
    fn fanout_sockets_split_flows_and_keep_each_on_one_ring() {
        if !root() {
            return;
        }
        let mut c = AfPacketConfig::new("lo");
        c.block_timeout_ms = 5;
        c.block_count = 4;
        c.promisc = false;
        c.ignore_outgoing = true;
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rx.local_addr().unwrap().port();
        // Only our datagrams: other tests use the loopback too.
        #[cfg(feature = "libpcap")]
        {
            c.bpf = Some(
                crate::capture::pcap_live::compile_filter(&format!("udp dst port {port}"), 1)
                    .unwrap(),
            );
        }
        let mut src = FanoutSource::open(&c, 2, Arc::new(AtomicBool::new(false))).unwrap();
        assert_eq!(src.socks.len(), 2);
        // 32 flows (distinct source ports), 4 datagrams each.
        let senders: Vec<std::net::UdpSocket> = (0..32)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut want = std::collections::BTreeSet::new();
        for round in 0..4u8 {
            for s in &senders {
                s.send_to(&[round; 64], ("127.0.0.1", port)).unwrap();
                want.insert(s.local_addr().unwrap().port());
            }
        }
        let mut seen: Vec<std::collections::BTreeMap<u16, usize>> = vec![Default::default(); 2];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut total = 0;
        // The loopback shows each datagram twice (sent and received): a
        // fanout group takes no notice of PACKET_IGNORE_OUTGOING.
        while total < 256 && std::time::Instant::now() < deadline {
            for (i, sock) in src.socks.iter_mut().enumerate() {
                let mut b = RawBatch::default();
                sock.take_ready(&mut b, 1024, 1 << 20);
                for r in &b.recs {
                    let f = b.frame(r);
                    // Loopback frame: zeroed Ethernet header, IPv4, UDP.
                    if f.len() < 42 || f[12..14] != [8, 0] || f[23] != 17 {
                        continue;
                    }
                    let ihl = (f[14] & 0x0f) as usize * 4;
                    let sport = u16::from_be_bytes([f[14 + ihl], f[15 + ihl]]);
                    let dport = u16::from_be_bytes([f[16 + ihl], f[17 + ihl]]);
                    if dport == port && want.contains(&sport) {
                        *seen[i].entry(sport).or_default() += 1;
                        total += 1;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(total, 256, "every datagram captured twice: {seen:?}");
        assert!(!seen[0].is_empty() && !seen[1].is_empty(), "{seen:?}");
        assert_eq!(seen[0].len() + seen[1].len(), 32, "{seen:?}");
        for (sport, n) in seen[0].iter().chain(seen[1].iter()) {
            assert_eq!(*n, 8, "flow {sport} split over the two rings: {seen:?}");
        }
        assert_eq!(src.socket_drops(), vec![0, 0]);
    }
}
