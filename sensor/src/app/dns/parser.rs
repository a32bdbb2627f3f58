//! DNS message parser (RFC 1035 and later RR types), total over byte slices.

use std::fmt;

/// Longest name, in presentation bytes, that is kept (RFC 1035: 255 octets).
pub const MAX_NAME_LEN: usize = 255;
/// Compression pointers followed in one name before it is called a loop.
pub const MAX_POINTER_JUMPS: usize = 32;
/// Records of each section kept per message; the rest are counted, not kept.
pub const MAX_RECORDS: usize = 256;

/// Why a DNS message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends before a field it announces.
    Truncated,
    /// A compression pointer points forward onto itself or loops.
    PointerLoop,
    /// A label uses the reserved 0x40/0x80 label types.
    BadLabel,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated => f.write_str("dns message truncated"),
            DnsError::PointerLoop => f.write_str("dns name compression pointer loop"),
            DnsError::BadLabel => f.write_str("dns name uses a reserved label type"),
        }
    }
}

impl std::error::Error for DnsError {}

/// Fixed 12-byte DNS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DnsHeader {
    /// Transaction id.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// Question count as announced.
    pub qdcount: u16,
    /// Answer count as announced.
    pub ancount: u16,
    /// Authority count as announced.
    pub nscount: u16,
    /// Additional count as announced.
    pub arcount: u16,
}

impl DnsHeader {
    /// True for a response (QR bit).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Opcode (0 = query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
    /// Response code (low 4 bits of flags).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x0f) as u8
    }
    /// Authoritative answer.
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// Truncated.
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    /// Recursion desired.
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    /// Recursion available.
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }
    /// The reserved Z bit.
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }
    /// Authenticated data.
    pub fn ad(&self) -> bool {
        self.flags & 0x0020 != 0
    }
    /// Checking disabled.
    pub fn cd(&self) -> bool {
        self.flags & 0x0010 != 0
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// Query name, labels joined by `.`, no trailing dot (root is empty).
    pub name: Vec<u8>,
    /// Query type.
    pub rrtype: u16,
    /// Query class.
    pub rrclass: u16,
}

/// Decoded RDATA of a resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// IPv4 address.
    A([u8; 4]),
    /// IPv6 address.
    Aaaa([u8; 16]),
    /// A single domain name (CNAME, NS, PTR, DNAME, MB, MD, MF, MG, MR).
    Name(Vec<u8>),
    /// Mail exchanger.
    Mx {
        /// Preference.
        preference: u16,
        /// Exchange host.
        exchange: Vec<u8>,
    },
    /// Character strings of a TXT or SPF record.
    Txt(Vec<Vec<u8>>),
    /// Start of authority.
    Soa {
        /// Primary name server.
        mname: Vec<u8>,
        /// Responsible mailbox.
        rname: Vec<u8>,
        /// Serial.
        serial: u32,
        /// Refresh interval.
        refresh: u32,
        /// Retry interval.
        retry: u32,
        /// Expire limit.
        expire: u32,
        /// Minimum TTL.
        minimum: u32,
    },
    /// Service locator.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: Vec<u8>,
    },
    /// Any other type (HTTPS/SVCB, DS, RRSIG, DNSKEY, NULL, OPT, ...): raw bytes.
    Raw(Vec<u8>),
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// Owner name, no trailing dot.
    pub name: Vec<u8>,
    /// Record type.
    pub rrtype: u16,
    /// Record class (for OPT: the UDP payload size).
    pub rrclass: u16,
    /// Time to live (for OPT: extended rcode and flags).
    pub ttl: u32,
    /// Decoded data.
    pub data: RData,
}

/// A parsed DNS message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsMessage {
    /// Header.
    pub header: DnsHeader,
    /// Questions.
    pub queries: Vec<DnsQuery>,
    /// Answer section.
    pub answers: Vec<DnsAnswer>,
    /// Authority section.
    pub authorities: Vec<DnsAnswer>,
    /// Additional section.
    pub additionals: Vec<DnsAnswer>,
    /// Some name was longer than [`MAX_NAME_LEN`] and was cut.
    pub name_too_long: bool,
    /// More records than [`MAX_RECORDS`] in a section: the rest were not kept.
    pub records_dropped: bool,
    /// The message ended inside the answer/authority/additional sections:
    /// records up to that point are kept.
    pub truncated_records: bool,
}

impl DnsMessage {
    /// Response code including the EDNS extended bits from an OPT record
    /// (RFC 6891: OPT TTL high byte is the upper 8 bits of a 12-bit rcode).
    pub fn extended_rcode(&self) -> u16 {
        let base = u16::from(self.header.rcode());
        match self.additionals.iter().find(|r| r.rrtype == 41) {
            Some(opt) => (((opt.ttl >> 24) as u16) << 4) | base,
            None => base,
        }
    }
}

/// Parses one DNS message (no TCP length prefix).
///
/// A message whose header or question section is cut is an error; one cut in a
/// later section keeps the records before the cut and sets
/// [`DnsMessage::truncated_records`].
pub fn parse_message(buf: &[u8]) -> Result<DnsMessage, DnsError> {
    if buf.len() < 12 {
        return Err(DnsError::Truncated);
    }
    let header = DnsHeader {
        id: be16(buf, 0)?,
        flags: be16(buf, 2)?,
        qdcount: be16(buf, 4)?,
        ancount: be16(buf, 6)?,
        nscount: be16(buf, 8)?,
        arcount: be16(buf, 10)?,
    };
    let mut msg = DnsMessage {
        header,
        ..DnsMessage::default()
    };
    let mut pos = 12;
    for _ in 0..header.qdcount {
        let (name, next) = read_name(buf, pos, &mut msg.name_too_long)?;
        let rrtype = be16(buf, next)?;
        let rrclass = be16(buf, next + 2)?;
        pos = next + 4;
        if msg.queries.len() < MAX_RECORDS {
            msg.queries.push(DnsQuery {
                name,
                rrtype,
                rrclass,
            });
        } else {
            msg.records_dropped = true;
        }
    }
    let sections = [header.ancount, header.nscount, header.arcount];
    for (i, count) in sections.iter().enumerate() {
        for _ in 0..*count {
            match read_record(buf, pos, &mut msg.name_too_long) {
                Ok((rr, next)) => {
                    pos = next;
                    let section = match i {
                        0 => &mut msg.answers,
                        1 => &mut msg.authorities,
                        _ => &mut msg.additionals,
                    };
                    if section.len() < MAX_RECORDS {
                        section.push(rr);
                    } else {
                        msg.records_dropped = true;
                    }
                }
                Err(DnsError::Truncated) => {
                    msg.truncated_records = true;
                    return Ok(msg);
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(msg)
}

fn be16(buf: &[u8], pos: usize) -> Result<u16, DnsError> {
    match buf.get(pos..pos + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(DnsError::Truncated),
    }
}

fn be32(buf: &[u8], pos: usize) -> Result<u32, DnsError> {
    match buf.get(pos..pos + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DnsError::Truncated),
    }
}

/// Reads a possibly compressed name at `pos`; returns it and the offset just
/// after the name's bytes at `pos`.
pub fn read_name(
    buf: &[u8],
    mut pos: usize,
    too_long: &mut bool,
) -> Result<(Vec<u8>, usize), DnsError> {
    let mut name = Vec::new();
    let mut end: Option<usize> = None;
    let mut jumps = 0usize;
    // Pointers must go strictly backwards from the lowest offset reached, so
    // loops are impossible; the jump cap bounds the work anyway.
    let mut lowest = pos;
    loop {
        let len = *buf.get(pos).ok_or(DnsError::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let after = end.unwrap_or(pos + 1);
                    return Ok((name, after));
                }
                let label = buf
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(DnsError::Truncated)?;
                if !*too_long {
                    if name.len() + label.len() + usize::from(!name.is_empty()) > MAX_NAME_LEN {
                        *too_long = true;
                    } else {
                        if !name.is_empty() {
                            name.push(b'.');
                        }
                        name.extend_from_slice(label);
                    }
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let b2 = *buf.get(pos + 1).ok_or(DnsError::Truncated)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(b2);
                if end.is_none() {
                    end = Some(pos + 2);
                }
                jumps += 1;
                if target >= lowest || jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::PointerLoop);
                }
                lowest = target;
                pos = target;
            }
            _ => return Err(DnsError::BadLabel),
        }
    }
}

fn read_record(
    buf: &[u8],
    pos: usize,
    too_long: &mut bool,
) -> Result<(DnsAnswer, usize), DnsError> {
    let (name, p) = read_name(buf, pos, too_long)?;
    let rrtype = be16(buf, p)?;
    let rrclass = be16(buf, p + 2)?;
    let ttl = be32(buf, p + 4)?;
    let rdlen = usize::from(be16(buf, p + 8)?);
    let start = p + 10;
    let end = start + rdlen;
    let rdata = buf.get(start..end).ok_or(DnsError::Truncated)?;
    // Names inside RDATA may point anywhere earlier in the message, so they are
    // read against the whole buffer; a bad one falls back to raw bytes.
    let data = decode_rdata(buf, start, rdata, rrtype, too_long)
        .unwrap_or_else(|_| RData::Raw(rdata.to_vec()));
    Ok((
        DnsAnswer {
            name,
            rrtype,
            rrclass,
            ttl,
            data,
        },
        end,
    ))
}

fn decode_rdata(
    buf: &[u8],
    start: usize,
    rdata: &[u8],
    rrtype: u16,
    too_long: &mut bool,
) -> Result<RData, DnsError> {
    // Limit name reads to this record: a view that ends at the RDATA end.
    let view = buf.get(..start + rdata.len()).ok_or(DnsError::Truncated)?;
    Ok(match rrtype {
        1 => match <[u8; 4]>::try_from(rdata) {
            Ok(a) => RData::A(a),
            Err(_) => RData::Raw(rdata.to_vec()),
        },
        28 => match <[u8; 16]>::try_from(rdata) {
            Ok(a) => RData::Aaaa(a),
            Err(_) => RData::Raw(rdata.to_vec()),
        },
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => RData::Name(read_name(view, start, too_long)?.0),
        15 => RData::Mx {
            preference: be16(view, start)?,
            exchange: read_name(view, start + 2, too_long)?.0,
        },
        // TXT, SPF
        16 | 99 => {
            let mut strings = Vec::new();
            let mut i = 0;
            while i < rdata.len() {
                let l = usize::from(rdata[i]);
                let s = rdata.get(i + 1..i + 1 + l).ok_or(DnsError::Truncated)?;
                strings.push(s.to_vec());
                i += 1 + l;
            }
            RData::Txt(strings)
        }
        6 => {
            let (mname, p) = read_name(view, start, too_long)?;
            let (rname, p) = read_name(view, p, too_long)?;
            RData::Soa {
                mname,
                rname,
                serial: be32(view, p)?,
                refresh: be32(view, p + 4)?,
                retry: be32(view, p + 8)?,
                expire: be32(view, p + 12)?,
                minimum: be32(view, p + 16)?,
            }
        }
        33 => RData::Srv {
            priority: be16(view, start)?,
            weight: be16(view, start + 2)?,
            port: be16(view, start + 4)?,
            target: read_name(view, start + 6, too_long)?.0,
        },
        _ => RData::Raw(rdata.to_vec()),
    })
}

/// Mnemonic of a record type, as Suricata and dig print it; `None` if unknown.
pub fn rrtype_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        37 => "CERT",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        44 => "SSHFP",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        59 => "CDS",
        60 => "CDNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return None,
    })
}

/// Type name, or `TYPE<n>` for unknown types (RFC 3597 style).
pub fn rrtype_string(t: u16) -> String {
    match rrtype_name(t) {
        Some(n) => n.to_string(),
        None => format!("TYPE{t}"),
    }
}

/// Rcode mnemonic as Suricata writes it.
pub fn rcode_string(rcode: u16) -> String {
    let s = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => return format!("{rcode}"),
    };
    s.to_string()
}

#[cfg(test)]
mod test {
    use super::*;

    /// Response for www.google.com A with a CNAME-less answer, captured bytes.
    const RESPONSE: &[u8] = &[
        0x9d, 0x2b, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // header
        0x03, b'w', b'w', b'w', 0x06, b'g', b'o', b'o', b'g', b'l', b'e', 0x03, b'c', b'o', b'm',
        0x00, 0x00, 0x01, 0x00, 0x01, // question
        0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x02, 0xc0,
        0x10, // CNAME -> google.com
        0xc0, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 142, 250, 74, 68,
    ];

    #[test]
    fn parses_response_with_compression() {
        let m = parse_message(RESPONSE).unwrap();
        assert_eq!(m.header.id, 0x9d2b);
        assert!(m.header.is_response() && m.header.rd() && m.header.ra());
        assert_eq!(m.queries[0].name, b"www.google.com");
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[0].data, RData::Name(b"google.com".to_vec()));
        assert_eq!(m.answers[0].ttl, 300);
        assert_eq!(m.answers[1].data, RData::A([142, 250, 74, 68]));
        assert_eq!(m.answers[1].name, b"google.com");
    }

    #[test]
    fn pointer_loop_is_an_error() {
        let mut b = RESPONSE[..12].to_vec();
        b[5] = 1;
        // Name is a pointer to itself at offset 12.
        b.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
        assert_eq!(parse_message(&b), Err(DnsError::PointerLoop));
        // Two pointers pointing at each other.
        let mut b = RESPONSE[..12].to_vec();
        b[5] = 1;
        b.extend_from_slice(&[0x01, b'a', 0xc0, 0x0e, 0xc0, 0x0c]);
        assert!(parse_message(&b).is_err());
    }

    #[test]
    fn truncated_and_long_names() {
        assert_eq!(parse_message(&RESPONSE[..20]), Err(DnsError::Truncated));
        // Cut inside the answers keeps the question and sets the flag.
        let m = parse_message(&RESPONSE[..RESPONSE.len() - 2]).unwrap();
        assert!(m.truncated_records);
        assert_eq!(m.answers.len(), 1);
        // A name of 5 x 63-byte labels exceeds 255 bytes.
        let mut b = RESPONSE[..12].to_vec();
        b[5] = 1;
        b[7] = 0;
        for _ in 0..5 {
            b.push(63);
            b.extend_from_slice(&[b'a'; 63]);
        }
        b.extend_from_slice(&[0, 0, 1, 0, 1]);
        let m = parse_message(&b).unwrap();
        assert!(m.name_too_long);
        assert!(m.queries[0].name.len() <= MAX_NAME_LEN);
    }

    #[test]
    fn type_names() {
        assert_eq!(rrtype_string(65), "HTTPS");
        assert_eq!(rrtype_string(4242), "TYPE4242");
        assert_eq!(rcode_string(3), "NXDOMAIN");
    }
}
