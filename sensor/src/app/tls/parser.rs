//! TLS handshake message bodies: ClientHello, ServerHello, Certificate.

use super::Reader;

/// Extension numbers the parser reads.
pub mod ext {
    /// server_name (SNI).
    pub const SERVER_NAME: u16 = 0;
    /// supported_groups (formerly elliptic_curves).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats.
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms.
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation.
    pub const ALPN: u16 = 16;
    /// supported_versions.
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

/// A parsed ClientHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version field.
    pub version: u16,
    /// The 32-byte client random.
    pub random: [u8; 32],
    /// Session id bytes.
    pub session_id: Vec<u8>,
    /// Offered cipher suites, wire order (GREASE kept).
    pub ciphers: Vec<u16>,
    /// Compression methods.
    pub compression: Vec<u8>,
    /// Extension types, wire order (GREASE kept).
    pub extensions: Vec<u16>,
    /// Server name from the SNI extension.
    pub sni: Option<Vec<u8>>,
    /// ALPN protocol names, wire order.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions list.
    pub supported_versions: Vec<u16>,
    /// supported_groups list.
    pub groups: Vec<u16>,
    /// ec_point_formats list.
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms list, wire order.
    pub signature_algorithms: Vec<u16>,
    /// Some extension body was malformed (the rest was still read).
    pub malformed_extension: bool,
}

/// A parsed ServerHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version field.
    pub version: u16,
    /// Version chosen via supported_versions, if present.
    pub selected_version: Option<u16>,
    /// The 32-byte server random.
    pub random: [u8; 32],
    /// Session id bytes.
    pub session_id: Vec<u8>,
    /// Selected cipher suite.
    pub cipher: u16,
    /// Selected compression method.
    pub compression: u8,
    /// Extension types, wire order.
    pub extensions: Vec<u16>,
    /// ALPN protocol chosen.
    pub alpn: Option<Vec<u8>>,
    /// Some extension body was malformed.
    pub malformed_extension: bool,
}

impl ServerHello {
    /// The negotiated protocol version (supported_versions wins).
    pub fn negotiated_version(&self) -> u16 {
        self.selected_version.unwrap_or(self.version)
    }
}

/// Why a handshake message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// The message ends before a field it announces.
    Truncated,
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, HandshakeError> {
    let t = HandshakeError::Truncated;
    let mut r = Reader::new(body);
    let mut ch = ClientHello {
        version: r.u16().ok_or(t)?,
        ..ClientHello::default()
    };
    ch.random.copy_from_slice(r.take(32).ok_or(t)?);
    ch.session_id = r.vec8().ok_or(t)?.to_vec();
    let mut cs = Reader::new(r.vec16().ok_or(t)?);
    while let Some(c) = cs.u16() {
        ch.ciphers.push(c);
    }
    ch.compression = r.vec8().ok_or(t)?.to_vec();
    if r.is_empty() {
        return Ok(ch);
    }
    let mut exts = Reader::new(r.vec16().ok_or(t)?);
    while !exts.is_empty() {
        let (Some(typ), Some(data)) = (exts.u16(), exts.vec16()) else {
            ch.malformed_extension = true;
            break;
        };
        ch.extensions.push(typ);
        if read_client_ext(&mut ch, typ, data).is_none() {
            ch.malformed_extension = true;
        }
    }
    Ok(ch)
}

fn read_client_ext(ch: &mut ClientHello, typ: u16, data: &[u8]) -> Option<()> {
    let mut r = Reader::new(data);
    match typ {
        ext::SERVER_NAME => {
            if data.is_empty() {
                return Some(());
            }
            let mut list = Reader::new(r.vec16()?);
            while !list.is_empty() {
                let kind = list.u8()?;
                let name = list.vec16()?;
                if kind == 0 && ch.sni.is_none() {
                    ch.sni = Some(name.to_vec());
                }
            }
        }
        ext::ALPN => {
            let mut list = Reader::new(r.vec16()?);
            while !list.is_empty() {
                ch.alpn.push(list.vec8()?.to_vec());
            }
        }
        ext::SUPPORTED_VERSIONS => {
            let mut list = Reader::new(r.vec8()?);
            while let Some(v) = list.u16() {
                ch.supported_versions.push(v);
            }
        }
        ext::SUPPORTED_GROUPS => {
            let mut list = Reader::new(r.vec16()?);
            while let Some(v) = list.u16() {
                ch.groups.push(v);
            }
        }
        ext::EC_POINT_FORMATS => {
            ch.ec_point_formats = r.vec8()?.to_vec();
        }
        ext::SIGNATURE_ALGORITHMS => {
            let mut list = Reader::new(r.vec16()?);
            while let Some(v) = list.u16() {
                ch.signature_algorithms.push(v);
            }
        }
        _ => {}
    }
    Some(())
}

/// Parses a ServerHello body (after the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HandshakeError> {
    let t = HandshakeError::Truncated;
    let mut r = Reader::new(body);
    let mut sh = ServerHello {
        version: r.u16().ok_or(t)?,
        ..ServerHello::default()
    };
    sh.random.copy_from_slice(r.take(32).ok_or(t)?);
    // TLS 1.3 drafts before 22 dropped session_id and compression.
    let early_draft = sh.version & 0xff00 == 0x7f00 && sh.version & 0xff < 22;
    if !early_draft {
        sh.session_id = r.vec8().ok_or(t)?.to_vec();
    }
    sh.cipher = r.u16().ok_or(t)?;
    if !early_draft {
        sh.compression = r.u8().ok_or(t)?;
    }
    if r.is_empty() {
        return Ok(sh);
    }
    let mut exts = Reader::new(r.vec16().ok_or(t)?);
    while !exts.is_empty() {
        let (Some(typ), Some(data)) = (exts.u16(), exts.vec16()) else {
            sh.malformed_extension = true;
            break;
        };
        sh.extensions.push(typ);
        let mut d = Reader::new(data);
        match typ {
            ext::SUPPORTED_VERSIONS => match d.u16() {
                Some(v) => sh.selected_version = Some(v),
                None => sh.malformed_extension = true,
            },
            ext::ALPN => {
                let name = d.vec16().and_then(|l| Reader::new(l).vec8());
                match name {
                    Some(n) => sh.alpn = Some(n.to_vec()),
                    None => sh.malformed_extension = true,
                }
            }
            _ => {}
        }
    }
    Ok(sh)
}

/// Splits a (TLS 1.2 style) Certificate message body into DER certificates,
/// at most `max` of them; returns them and whether more were present.
pub fn split_certificates(body: &[u8], max: usize) -> Result<(Vec<&[u8]>, bool), HandshakeError> {
    let t = HandshakeError::Truncated;
    let mut r = Reader::new(body);
    let mut list = Reader::new(r.vec24().ok_or(t)?);
    let mut out = Vec::new();
    while !list.is_empty() {
        let der = list.vec24().ok_or(t)?;
        if out.len() == max {
            return Ok((out, true));
        }
        out.push(der);
    }
    Ok((out, false))
}

/// Version as Suricata writes it in EVE `tls.version`.
pub fn version_string(v: u16) -> String {
    match v {
        0x0002 => "SSLv2".into(),
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft-{}", v & 0xff),
        _ => "UNDETERMINED".into(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// A ClientHello body built field by field (GREASE cipher included).
    fn sample_client_hello() -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[0x11; 32]);
        b.push(0);
        b.extend_from_slice(&[0x00, 0x06, 0x13, 0x02, 0x0a, 0x0a, 0x13, 0x01]);
        b.extend_from_slice(&[0x01, 0x00]);
        let mut exts = Vec::new();
        // SNI
        let name = b"example.org";
        exts.extend_from_slice(&[0x00, 0x00]);
        exts.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
        exts.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        exts.push(0);
        exts.extend_from_slice(&(name.len() as u16).to_be_bytes());
        exts.extend_from_slice(name);
        // ALPN h2, http/1.1
        exts.extend_from_slice(&[0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 2, b'h', b'2']);
        exts.extend_from_slice(&[8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1']);
        // supported_versions 1.3, 1.2
        exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
        // groups x25519, secp256r1
        exts.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
        // ec point formats uncompressed
        exts.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
        // sig algs
        exts.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04]);
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        b
    }

    #[test]
    fn client_hello_fields() {
        let ch = parse_client_hello(&sample_client_hello()).unwrap();
        assert_eq!(ch.version, 0x0303);
        assert_eq!(ch.ciphers, vec![0x1302, 0x0a0a, 0x1301]);
        assert_eq!(ch.sni.as_deref(), Some(&b"example.org"[..]));
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.supported_versions, vec![0x0304, 0x0303]);
        assert_eq!(ch.groups, vec![0x1d, 0x17]);
        assert_eq!(ch.ec_point_formats, vec![0]);
        assert_eq!(ch.signature_algorithms, vec![0x0403, 0x0804]);
        assert_eq!(ch.extensions, vec![0, 16, 43, 10, 11, 13]);
        assert!(!ch.malformed_extension);
    }

    #[test]
    fn truncated_client_hello_never_panics() {
        let b = sample_client_hello();
        for i in 0..b.len() {
            let _ = parse_client_hello(&b[..i]);
        }
        assert_eq!(parse_client_hello(&b[..10]), Err(HandshakeError::Truncated));
    }

    #[test]
    fn server_hello_with_supported_versions() {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[0x22; 32]);
        b.push(0);
        b.extend_from_slice(&[0x13, 0x02, 0x00]);
        b.extend_from_slice(&[
            0x00, 0x0a, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x00,
        ]);
        let sh = parse_server_hello(&b).unwrap();
        assert_eq!(sh.cipher, 0x1302);
        assert_eq!(sh.negotiated_version(), 0x0304);
        assert_eq!(sh.extensions, vec![43, 51]);
        assert_eq!(version_string(sh.negotiated_version()), "TLS 1.3");
        assert_eq!(version_string(0x0301), "TLSv1");
    }

    #[test]
    fn certificate_list_cap() {
        let body = [0, 0, 9, 0, 0, 1, 0xaa, 0, 0, 1, 0xbb, 0xcc];
        assert!(split_certificates(&body, 4).is_err());
        let body = [0, 0, 8, 0, 0, 1, 0xaa, 0, 0, 1, 0xbb];
        let (certs, more) = split_certificates(&body, 1).unwrap();
        assert_eq!(certs, vec![&[0xaa][..]]);
        assert!(more);
    }
}
