//! DCERPC connection-oriented PDUs (DCE 1.1 RPC, chapter 12; MS-RPCE):
//! the common header and the bodies vigie reads (BIND, ALTER_CONTEXT and
//! their acknowledgements, REQUEST, RESPONSE). Pure and total: every length
//! the traffic gives is checked before it is used.

/// Length of the common header of every connection-oriented PDU.
pub const HEADER_LEN: usize = 16;
/// Length of the auth verifier's header (`sec_trailer`) that precedes
/// `auth_length` bytes of credentials at the end of a PDU.
const SEC_TRAILER_LEN: usize = 8;
/// Presentation contexts read from one BIND or ALTER_CONTEXT.
pub const MAX_BIND_CONTEXTS: usize = 64;

/// PFC_FIRST_FRAG: the first fragment of a call.
pub const PFC_FIRST_FRAG: u8 = 0x01;
/// PFC_LAST_FRAG: the last fragment of a call.
pub const PFC_LAST_FRAG: u8 = 0x02;
/// PFC_OBJECT_UUID: a REQUEST carries an object UUID before its stub.
const PFC_OBJECT_UUID: u8 = 0x80;

/// PDU types (DCE 1.1, 12.6.4), unknown ones kept as their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PduType {
    /// 0: a call's input.
    Request,
    /// 2: a call's output.
    Response,
    /// 3: a call failed.
    Fault,
    /// 11: presentation contexts proposed.
    Bind,
    /// 12: which of them the server accepted.
    BindAck,
    /// 13: the bind was refused.
    BindNak,
    /// 14: more contexts on a bound association.
    AlterContext,
    /// 15: the answer to ALTER_CONTEXT.
    AlterContextResp,
    /// 16: third leg of an authentication.
    Auth3,
    /// 17: the server closes.
    Shutdown,
    /// 18: the client cancels a call.
    CoCancel,
    /// 19: the client abandons a call.
    Orphaned,
    /// Any other number.
    Unknown(u8),
}

impl PduType {
    /// The type of the header byte `b`.
    pub fn from_u8(b: u8) -> PduType {
        match b {
            0 => PduType::Request,
            2 => PduType::Response,
            3 => PduType::Fault,
            11 => PduType::Bind,
            12 => PduType::BindAck,
            13 => PduType::BindNak,
            14 => PduType::AlterContext,
            15 => PduType::AlterContextResp,
            16 => PduType::Auth3,
            17 => PduType::Shutdown,
            18 => PduType::CoCancel,
            19 => PduType::Orphaned,
            n => PduType::Unknown(n),
        }
    }

    /// Name as the reference IDS writes it in EVE (`REQUEST`, `BINDACK`).
    pub fn eve_name(self) -> &'static str {
        match self {
            PduType::Request => "REQUEST",
            PduType::Response => "RESPONSE",
            PduType::Fault => "FAULT",
            PduType::Bind => "BIND",
            PduType::BindAck => "BINDACK",
            PduType::BindNak => "BINDNAK",
            PduType::AlterContext => "ALTER_CONTEXT",
            PduType::AlterContextResp => "ALTER_CONTEXT_RESP",
            PduType::Auth3 => "AUTH3",
            PduType::Shutdown => "SHUTDOWN",
            PduType::CoCancel => "CO_CANCEL",
            PduType::Orphaned => "ORPHANED",
            PduType::Unknown(_) => "UNKNOWN",
        }
    }
}

/// The common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Minor version (0 or 1; the major is always 5).
    pub minor: u8,
    /// PDU type.
    pub ptype: PduType,
    /// PFC_* flags.
    pub flags: u8,
    /// Integers are little-endian (data representation byte 0, bit 4).
    pub little_endian: bool,
    /// Whole PDU length, header included.
    pub frag_len: u16,
    /// Length of the credentials at the PDU's end.
    pub auth_len: u16,
    /// Call identifier: a request and its response share it.
    pub call_id: u32,
}

/// Why bytes are not a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Short,
    /// Not version 5, or a fragment length shorter than the header.
    Invalid,
}

fn u16_of(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let x = b.get(at..at.checked_add(2)?)?;
    let a = [x[0], x[1]];
    Some(if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    })
}

fn u32_of(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let x = b.get(at..at.checked_add(4)?)?;
    let a = [x[0], x[1], x[2], x[3]];
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

/// Parses the common header at the start of `b`.
pub fn parse_header(b: &[u8]) -> Result<Header, HeaderError> {
    let h = b.get(..HEADER_LEN).ok_or(HeaderError::Short)?;
    if h[0] != 5 || h[1] > 1 {
        return Err(HeaderError::Invalid);
    }
    let le = h[4] & 0x10 != 0;
    let frag_len = u16_of(h, 8, le).ok_or(HeaderError::Short)?;
    if usize::from(frag_len) < HEADER_LEN {
        return Err(HeaderError::Invalid);
    }
    Ok(Header {
        minor: h[1],
        ptype: PduType::from_u8(h[2]),
        flags: h[3],
        little_endian: le,
        frag_len,
        auth_len: u16_of(h, 10, le).ok_or(HeaderError::Short)?,
        call_id: u32_of(h, 12, le).ok_or(HeaderError::Short)?,
    })
}

/// A UUID as it travels (first three fields in the sender's byte order),
/// turned into its 16 bytes in written order (`8-4-4-4-12`).
pub fn uuid_of(b: &[u8], le: bool) -> Option<[u8; 16]> {
    let s = b.get(..16)?;
    let mut u = [0u8; 16];
    u.copy_from_slice(s);
    if le {
        u[0..4].reverse();
        u[4..6].reverse();
        u[6..8].reverse();
    }
    Some(u)
}

/// A UUID's 16 bytes (written order) as text, lowercase.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One presentation context of a BIND or ALTER_CONTEXT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindContext {
    /// Context id requests will name.
    pub ctx_id: u16,
    /// Abstract syntax (the interface) UUID, written order.
    pub uuid: [u8; 16],
    /// Interface major version.
    pub ver_major: u16,
    /// Interface minor version.
    pub ver_minor: u16,
}

/// The PDU `pdu` without its header and credentials (`auth_len` bytes plus
/// their 8-byte trailer header at the end).
fn body<'a>(pdu: &'a [u8], h: &Header) -> Option<&'a [u8]> {
    let end = usize::from(h.frag_len).min(pdu.len());
    let auth = usize::from(h.auth_len);
    let end = if auth > 0 {
        end.checked_sub(auth + SEC_TRAILER_LEN)?
    } else {
        end
    };
    pdu.get(HEADER_LEN..end.max(HEADER_LEN))
}

/// The presentation contexts of a BIND or ALTER_CONTEXT (at most
/// [`MAX_BIND_CONTEXTS`]); `None` when its fixed part is cut short.
pub fn parse_bind(pdu: &[u8], h: &Header) -> Option<Vec<BindContext>> {
    let b = body(pdu, h)?;
    let le = h.little_endian;
    // max_xmit_frag, max_recv_frag, assoc_group_id, then the context list.
    let n = usize::from(*b.get(8)?);
    let mut at = 12;
    let mut out = Vec::with_capacity(n.min(MAX_BIND_CONTEXTS));
    for _ in 0..n.min(MAX_BIND_CONTEXTS) {
        let ctx_id = u16_of(b, at, le)?;
        let transfers = usize::from(*b.get(at + 2)?);
        let uuid = uuid_of(b.get(at + 4..)?, le)?;
        let ver_major = u16_of(b, at + 20, le)?;
        let ver_minor = u16_of(b, at + 22, le)?;
        out.push(BindContext {
            ctx_id,
            uuid,
            ver_major,
            ver_minor,
        });
        // Each transfer syntax is a UUID and a 4-byte version.
        at = at.checked_add(24 + 20 * transfers)?;
    }
    Some(out)
}

/// The result of each context of a BIND_ACK or ALTER_CONTEXT_RESP, in the
/// order the contexts were proposed (0 is acceptance).
pub fn parse_bind_ack(pdu: &[u8], h: &Header) -> Option<Vec<u16>> {
    let b = body(pdu, h)?;
    let le = h.little_endian;
    let sec_len = usize::from(u16_of(b, 8, le)?);
    // The secondary address, then padding to 4 bytes from the PDU's start.
    let after = HEADER_LEN + 10 + sec_len;
    let at = after.next_multiple_of(4) - HEADER_LEN;
    let n = usize::from(*b.get(at)?);
    let mut out = Vec::with_capacity(n.min(MAX_BIND_CONTEXTS));
    for i in 0..n.min(MAX_BIND_CONTEXTS) {
        out.push(u16_of(b, at + 4 + 24 * i, le)?);
    }
    Some(out)
}

/// A REQUEST's call fields and where its stub data lies in the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFields {
    /// Presentation context (so interface) of the call.
    pub ctx_id: u16,
    /// Operation number within the interface.
    pub opnum: u16,
    /// Stub data range in the PDU.
    pub stub: (usize, usize),
}

/// The fields of a REQUEST; `None` when its fixed part is cut short.
pub fn parse_request(pdu: &[u8], h: &Header) -> Option<RequestFields> {
    let b = body(pdu, h)?;
    let le = h.little_endian;
    let ctx_id = u16_of(b, 4, le)?;
    let opnum = u16_of(b, 6, le)?;
    let skip = if h.flags & PFC_OBJECT_UUID != 0 {
        24
    } else {
        8
    };
    if b.len() < skip {
        return None;
    }
    Some(RequestFields {
        ctx_id,
        opnum,
        stub: (HEADER_LEN + skip, HEADER_LEN + b.len()),
    })
}

/// A RESPONSE's context id and stub data range in the PDU.
pub fn parse_response(pdu: &[u8], h: &Header) -> Option<(u16, (usize, usize))> {
    let b = body(pdu, h)?;
    let ctx_id = u16_of(b, 4, h.little_endian)?;
    if b.len() < 8 {
        return None;
    }
    Some((ctx_id, (HEADER_LEN + 8, HEADER_LEN + b.len())))
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;

    // PDUs of the suricata-verify dcerpc-dce-iface-02 capture: a BIND of
    // the MGMT interface (afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0) in two
    // contexts, its BIND_ACK (provider rejection, acceptance), a REQUEST
    // with an object UUID and its RESPONSE.
    pub const BIND: &str = "05000b0310000000740000001b000000d016d016ab6a0200020000000000010080bda8af8a7dc911bef408002b10298901000000045d888aeb1cc9119fe808002b104860020000000100010080bda8af8a7dc911bef408002b1029890100000033057171babe37498319b5dbef9ccc3601000000";
    pub const BIND_ACK: &str = "05000c0310000000540000001b000000d016d016ab6a02000600343933303200020000000200020000000000000000000000000000000000000000000000000033057171babe37498319b5dbef9ccc3601000000";
    pub const REQUEST: &str = "0500008310000000300000001b000000080000000100040074c0d8cce5d0404a92b4d074faa6ba280900000000010000";
    pub const RESPONSE: &str = "0500020310000000540000001b0000003c00000001000000000100000000000000000000000000001f000000000000006e6f646533244057324b3132444f4d2e4245522e5245444841542e434f4d000000000000";

    pub fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect()
    }

    #[test]
    fn ack_request_and_response_fields() {
        let ack = hex(BIND_ACK);
        let h = parse_header(&ack).expect("header");
        assert_eq!(parse_bind_ack(&ack, &h), Some(vec![2, 0]));
        let req = hex(REQUEST);
        let h = parse_header(&req).expect("header");
        assert_eq!(h.flags & (PFC_FIRST_FRAG | PFC_LAST_FRAG), 3);
        let r = parse_request(&req, &h).expect("request");
        assert_eq!((r.ctx_id, r.opnum), (1, 4));
        // The object UUID is not stub data.
        assert_eq!(&req[r.stub.0..r.stub.1], b"\x09\0\0\0\0\x01\0\0");
        let resp = hex(RESPONSE);
        let h = parse_header(&resp).expect("header");
        let (ctx, (a, b)) = parse_response(&resp, &h).expect("response");
        assert_eq!((ctx, b - a), (1, 60));
    }

    #[test]
    fn bind_contexts_and_uuid_text() {
        let pdu = hex(BIND);
        let h = parse_header(&pdu).expect("header");
        assert_eq!(h.ptype, PduType::Bind);
        assert_eq!((h.frag_len, h.call_id, h.little_endian), (116, 27, true));
        let ctx = parse_bind(&pdu, &h).expect("contexts");
        assert_eq!(ctx.len(), 2);
        assert_eq!(
            uuid_text(&ctx[1].uuid),
            "afa8bd80-7d8a-11c9-bef4-08002b102989"
        );
        assert_eq!((ctx[0].ctx_id, ctx[1].ctx_id, ctx[1].ver_major), (0, 1, 1));
    }

    #[test]
    fn bad_headers_and_every_cut_are_totally_handled() {
        assert_eq!(parse_header(b"\x05\x00\x0b"), Err(HeaderError::Short));
        let mut pdu = hex(BIND);
        pdu[0] = 4;
        assert_eq!(parse_header(&pdu), Err(HeaderError::Invalid));
        pdu[0] = 5;
        pdu[8] = 3;
        pdu[9] = 0;
        assert_eq!(parse_header(&pdu), Err(HeaderError::Invalid));
        let pdu = hex(BIND);
        let h = parse_header(&pdu).expect("header");
        for n in 0..pdu.len() {
            let _ = parse_bind(&pdu[..n], &h);
            let _ = parse_bind_ack(&pdu[..n], &h);
            let _ = parse_request(&pdu[..n], &h);
            let _ = parse_response(&pdu[..n], &h);
        }
        // Credentials longer than the PDU.
        let h = Header {
            auth_len: 0xffff,
            ..h
        };
        assert!(parse_request(&pdu, &h).is_none());
    }
}
