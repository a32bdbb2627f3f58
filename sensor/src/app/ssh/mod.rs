//! SSH (RFC 4253): each side's version banner and first key exchange
//! offer (KEXINIT), from which the HASSH fingerprints are taken. What
//! follows is encrypted and not looked at.

use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

use super::Direction;

/// Longest line read before the version banner (RFC 4253 4.2 allows a
/// server to send other lines first) and longest banner (bytes).
pub const MAX_LINE: usize = 8192;
/// Lines before the banner looked at; past that the side is given up.
pub const MAX_PRE_BANNER_LINES: usize = 32;
/// Largest binary packet accepted (RFC 4253 6.1 asks for 35000).
pub const MAX_PACKET: usize = 35000;
/// Packets before KEXINIT looked at (SSH_MSG_IGNORE and the like).
const MAX_PRE_KEX_PACKETS: usize = 4;

/// SSH_MSG_KEXINIT.
const MSG_KEXINIT: u8 = 20;

/// SSH anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SshEvent {
    /// A banner line that is not `SSH-proto-software`, or too many or too
    /// long lines before it.
    InvalidBanner,
    /// A packet length beyond [`MAX_PACKET`] or shorter than its padding.
    InvalidRecord,
    /// A KEXINIT whose name-lists run past its end.
    InvalidKexinit,
    /// Stream bytes lost before the key exchange offer was read.
    Gap,
}

impl SshEvent {
    /// Every event, in counter order.
    pub const ALL: [SshEvent; 4] = [
        SshEvent::InvalidBanner,
        SshEvent::InvalidRecord,
        SshEvent::InvalidKexinit,
        SshEvent::Gap,
    ];

    /// Name as in `app-layer-event:ssh.<name>` rules.
    pub fn name(self) -> &'static str {
        match self {
            SshEvent::InvalidBanner => "invalid_banner",
            SshEvent::InvalidRecord => "invalid_record",
            SshEvent::InvalidKexinit => "invalid_kexinit",
            SshEvent::Gap => "gap",
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading lines up to the version banner.
    #[default]
    Banner,
    /// Reading binary packets up to KEXINIT.
    Packets,
    /// Nothing more to read.
    Done,
}

/// What one side said.
#[derive(Debug, Default)]
pub struct SshSide {
    /// Protocol version of the banner (`2.0`).
    pub proto: Vec<u8>,
    /// Software version of the banner (`OpenSSH_9.6`), without comments.
    pub software: Vec<u8>,
    /// The banner was read.
    pub banner_seen: bool,
    /// HASSH string (`kex;enc;mac;compression` for this side's direction).
    pub hassh_string: Option<Vec<u8>>,
    /// MD5 of the HASSH string, lowercase hex.
    pub hassh: Option<Vec<u8>>,
    phase: Phase,
    buf: Vec<u8>,
    lines: usize,
    packets: usize,
    /// Detection has seen the banner / the fingerprint.
    pub inspected: (bool, bool),
}

/// Per-flow SSH state.
#[derive(Debug, Default)]
pub struct SshState {
    /// Client (to server) and server (to client) sides.
    pub sides: [SshSide; 2],
    counts: [u64; SshEvent::ALL.len()],
    /// The flow's `ssh` event was written.
    pub logged: bool,
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// `SSH-protoversion-softwareversion [SP comments]`.
fn parse_banner(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|b| *b == b'-')?;
    let (proto, rest) = (&rest[..dash], &rest[dash + 1..]);
    let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
    let software = &rest[..end];
    (!proto.is_empty() && !software.is_empty()).then_some((proto, software))
}

/// A checked reader of SSH wire types.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn name_list(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()?;
        self.take(n)
    }
}

/// The HASSH strings (client, server) of a KEXINIT payload (after its
/// message number): `kex;enc;mac;compression`, the client's with the
/// client-to-server lists and the server's with the others.
fn hassh_strings(payload: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut r = Reader(payload);
    r.take(16)?; // cookie
    let mut lists: [&[u8]; 8] = [&[]; 8];
    for l in lists.iter_mut() {
        *l = r.name_list()?;
    }
    let [kex, _hostkey, enc_cs, enc_sc, mac_cs, mac_sc, comp_cs, comp_sc] = lists;
    let join = |parts: [&[u8]; 4]| parts.join(&b';');
    Some((
        join([kex, enc_cs, mac_cs, comp_cs]),
        join([kex, enc_sc, mac_sc, comp_sc]),
    ))
}

impl SshState {
    /// In-order stream bytes in `dir`.
    pub fn parse(&mut self, mut data: &[u8], dir: Direction) {
        let i = slot(dir);
        while !data.is_empty() {
            let side = &mut self.sides[i];
            match side.phase {
                Phase::Done => return,
                Phase::Banner => {
                    let nl = data.iter().position(|b| *b == b'\n');
                    let take = nl.map_or(data.len(), |p| p + 1);
                    side.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if nl.is_none() {
                        if side.buf.len() > MAX_LINE {
                            self.give_up(i, SshEvent::InvalidBanner);
                        }
                        continue;
                    }
                    let mut line = std::mem::take(&mut side.buf);
                    while matches!(line.last(), Some(b'\n' | b'\r')) {
                        line.pop();
                    }
                    side.lines += 1;
                    if let Some((proto, software)) = parse_banner(&line) {
                        side.proto = proto.to_vec();
                        side.software = software.to_vec();
                        side.banner_seen = true;
                        side.phase = Phase::Packets;
                    } else if line.starts_with(b"SSH-")
                        || side.lines >= MAX_PRE_BANNER_LINES
                        || line.len() > MAX_LINE
                    {
                        self.give_up(i, SshEvent::InvalidBanner);
                    }
                }
                Phase::Packets => {
                    let need = |b: &[u8]| -> Option<usize> {
                        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
                        Some(len)
                    };
                    let room = (MAX_PACKET + 4).saturating_sub(side.buf.len());
                    // Read the length first, then exactly the packet.
                    let want = match need(&side.buf) {
                        Some(len) => (4 + len).saturating_sub(side.buf.len()),
                        None => 4 - side.buf.len(),
                    };
                    let take = data.len().min(want).min(room);
                    side.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    let Some(len) = need(&side.buf) else { continue };
                    if !(5..=MAX_PACKET).contains(&len) {
                        self.give_up(i, SshEvent::InvalidRecord);
                        return;
                    }
                    if side.buf.len() < 4 + len {
                        continue;
                    }
                    let packet = std::mem::take(&mut side.buf);
                    let pad = usize::from(packet[4]);
                    let Some(payload) = packet.get(5..4 + len - pad.min(len)) else {
                        self.give_up(i, SshEvent::InvalidRecord);
                        return;
                    };
                    if pad + 1 > len {
                        self.give_up(i, SshEvent::InvalidRecord);
                        return;
                    }
                    side.packets += 1;
                    match payload.split_first() {
                        Some((&MSG_KEXINIT, rest)) => {
                            match hassh_strings(rest) {
                                Some((c, s)) => {
                                    let mine = if i == 0 { c } else { s };
                                    let hash = crate::app::hex_lower(&Md5::digest(&mine));
                                    side.hassh = Some(hash.into_bytes());
                                    side.hassh_string = Some(mine);
                                    side.phase = Phase::Done;
                                }
                                None => self.give_up(i, SshEvent::InvalidKexinit),
                            }
                            return;
                        }
                        _ if side.packets >= MAX_PRE_KEX_PACKETS => {
                            side.phase = Phase::Done;
                            return;
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Stream bytes lost in `dir`: what was not read yet is not read.
    pub fn gap(&mut self, dir: Direction) {
        let i = slot(dir);
        if self.sides[i].phase != Phase::Done {
            self.give_up(i, SshEvent::Gap);
        }
    }

    fn give_up(&mut self, i: usize, ev: SshEvent) {
        let side = &mut self.sides[i];
        side.phase = Phase::Done;
        side.buf = Vec::new();
        if let Some(k) = SshEvent::ALL.iter().position(|e| *e == ev) {
            self.counts[k] += 1;
        }
    }

    /// How many times `ev` happened on this flow.
    pub fn count(&self, ev: SshEvent) -> u64 {
        SshEvent::ALL
            .iter()
            .position(|e| *e == ev)
            .map_or(0, |k| self.counts[k])
    }

    /// Both sides are read as far as they will be.
    pub fn done(&self) -> bool {
        self.sides.iter().all(|s| s.phase == Phase::Done)
    }
}

/// Buffer names SSH provides.
pub const BUFFER_NAMES: &[&str] = &[
    "ssh.proto",
    "ssh.software",
    "ssh.hassh",
    "ssh.hassh.string",
    "ssh.hassh.server",
    "ssh.hassh.server.string",
];

impl SshSide {
    /// Calls `f(name, bytes)` for each buffer this side (`dir`) has.
    pub fn for_each_buffer<'a>(
        &'a self,
        dir: Direction,
        mut f: impl FnMut(&'static str, &'a [u8]),
    ) {
        if self.banner_seen {
            f("ssh.proto", &self.proto);
            f("ssh.software", &self.software);
        }
        let (hash, string) = match dir {
            Direction::ToServer => ("ssh.hassh", "ssh.hassh.string"),
            Direction::ToClient => ("ssh.hassh.server", "ssh.hassh.server.string"),
        };
        if let (Some(h), Some(s)) = (&self.hassh, &self.hassh_string) {
            f(hash, h);
            f(string, s);
        }
    }
}

fn side_json(s: &SshSide) -> Value {
    let mut m = Map::new();
    if s.banner_seen {
        m.insert(
            "proto_version".into(),
            String::from_utf8_lossy(&s.proto).into(),
        );
        m.insert(
            "software_version".into(),
            String::from_utf8_lossy(&s.software).into(),
        );
    }
    if let (Some(h), Some(st)) = (&s.hassh, &s.hassh_string) {
        m.insert(
            "hassh".into(),
            json!({"hash": String::from_utf8_lossy(h), "string": String::from_utf8_lossy(st)}),
        );
    }
    Value::Object(m)
}

/// The EVE `ssh` object of a flow: each side's banner and HASSH.
pub fn eve_ssh(s: &SshState) -> Value {
    json!({"client": side_json(&s.sides[0]), "server": side_json(&s.sides[1])})
}

#[cfg(test)]
mod test {
    use super::*;

    fn name_list(v: &mut Vec<u8>, s: &str) {
        v.extend_from_slice(&(s.len() as u32).to_be_bytes());
        v.extend_from_slice(s.as_bytes());
    }

    fn kexinit(lists: [&str; 10]) -> Vec<u8> {
        let mut payload = vec![MSG_KEXINIT];
        payload.extend_from_slice(&[7; 16]);
        for l in lists {
            name_list(&mut payload, l);
        }
        payload.extend_from_slice(&[0, 0, 0, 0, 0]);
        let pad = 8 - (payload.len() + 5) % 8 + 4;
        let mut p = ((payload.len() + 1 + pad) as u32).to_be_bytes().to_vec();
        p.push(pad as u8);
        p.extend_from_slice(&payload);
        p.extend(std::iter::repeat_n(0, pad));
        p
    }

    const LISTS: [&str; 10] = [
        "curve25519-sha256,diffie-hellman-group14-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "aes256-ctr",
        "hmac-sha2-256",
        "hmac-sha1",
        "none,zlib@openssh.com",
        "none",
        "",
        "",
    ];

    #[test]
    fn banners_and_hassh_from_split_segments() {
        let mut s = SshState::default();
        let mut client = b"SSH-2.0-OpenSSH_for_Windows_7.7 comment\r\n".to_vec();
        client.extend(kexinit(LISTS));
        for c in client.chunks(5) {
            s.parse(c, Direction::ToServer);
        }
        let mut server = b"a greeting line\r\nSSH-1.99-Cisco-1.25\n".to_vec();
        server.extend(kexinit(LISTS));
        s.parse(&server, Direction::ToClient);
        assert!(s.done());
        let c = &s.sides[0];
        assert_eq!(c.proto, b"2.0");
        assert_eq!(c.software, b"OpenSSH_for_Windows_7.7");
        let want = "curve25519-sha256,diffie-hellman-group14-sha256;aes128-ctr;hmac-sha2-256;none,zlib@openssh.com";
        assert_eq!(c.hassh_string.as_deref(), Some(want.as_bytes()));
        assert_eq!(
            c.hassh.as_deref(),
            Some(crate::app::hex_lower(&Md5::digest(want.as_bytes())).as_bytes())
        );
        let srv = &s.sides[1];
        assert_eq!(srv.proto, b"1.99");
        assert_eq!(
            srv.hassh_string.as_deref(),
            Some(&b"curve25519-sha256,diffie-hellman-group14-sha256;aes256-ctr;hmac-sha1;none"[..])
        );
        let mut names = Vec::new();
        srv.for_each_buffer(Direction::ToClient, |n, _| names.push(n));
        assert_eq!(
            names,
            [
                "ssh.proto",
                "ssh.software",
                "ssh.hassh.server",
                "ssh.hassh.server.string"
            ]
        );
        let v = eve_ssh(&s);
        assert_eq!(v["client"]["software_version"], "OpenSSH_for_Windows_7.7");
        assert_eq!(
            v["server"]["hassh"]["string"],
            "curve25519-sha256,diffie-hellman-group14-sha256;aes256-ctr;hmac-sha1;none"
        );
    }

    #[test]
    fn hostile_input_is_counted_and_bounded() {
        let mut s = SshState::default();
        s.parse(b"SSH-2.0-x\r\n\xff\xff\xff\xff", Direction::ToServer);
        assert_eq!(s.count(SshEvent::InvalidRecord), 1);
        s.parse(&vec![b'a'; MAX_LINE + 10], Direction::ToClient);
        assert_eq!(s.count(SshEvent::InvalidBanner), 1);
        assert!(s.done());
        assert!(s.sides[1].buf.is_empty());
        // truncated name-lists
        let mut t = SshState::default();
        let mut k = kexinit(LISTS);
        k[22] = 0xff; // first name-list length
        t.parse(b"SSH-2.0-x\r\n", Direction::ToServer);
        t.parse(&k, Direction::ToServer);
        assert_eq!(t.count(SshEvent::InvalidKexinit), 1);
        // a gap before the offer
        let mut g = SshState::default();
        g.parse(b"SSH-2.0-x\r\n\x00\x00", Direction::ToServer);
        g.gap(Direction::ToServer);
        assert_eq!(g.count(SshEvent::Gap), 1);
    }
}
