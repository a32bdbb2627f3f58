//! X-Forwarded-For: the client address a reverse proxy or load balancer put
//! in a request header, reported on alerts of HTTP transactions.
//!
//! Two ways to report it, as the reference IDS's `xff` alert option:
//! - `extra-data`: the alert gets an `xff` field with the address;
//! - `overwrite`: the address replaces `src_ip` of a to-server alert, or
//!   `dest_ip` of a to-client one (the proxied client is the real peer).
//!
//! The header may list several hops (`client, proxy1, proxy2`): a `forward`
//! deployment (the sensor sits before the proxies) takes the first, a
//! `reverse` one (the sensor sees the proxy's side) takes the last.

use std::net::IpAddr;

/// How the address is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XffMode {
    /// An extra `xff` field on the alert.
    ExtraData,
    /// Replaces the alert's client-side address.
    Overwrite,
}

/// Which entry of a multi-hop header is the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XffDeployment {
    /// The first address.
    Forward,
    /// The last address.
    Reverse,
}

/// Longest header name accepted (the default is `X-Forwarded-For`).
pub const MAX_HEADER_NAME: usize = 64;

/// X-Forwarded-For reporting settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XffConfig {
    /// How the address is reported.
    pub mode: XffMode,
    /// Which hop is the client.
    pub deployment: XffDeployment,
    header: [u8; MAX_HEADER_NAME],
    header_len: u8,
}

impl XffConfig {
    /// Settings reading `header` (e.g. `X-Forwarded-For`, `X-Real-IP`).
    pub fn new(mode: XffMode, deployment: XffDeployment, header: &str) -> Result<Self, String> {
        let h = header.trim();
        if h.is_empty()
            || h.len() > MAX_HEADER_NAME
            || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            return Err(format!(
                "xff header {header:?}: not a header name (1 to {MAX_HEADER_NAME} visible characters, no ':')"
            ));
        }
        let mut buf = [0u8; MAX_HEADER_NAME];
        buf[..h.len()].copy_from_slice(h.as_bytes());
        Ok(XffConfig {
            mode,
            deployment,
            header: buf,
            header_len: h.len() as u8,
        })
    }

    /// The header name read.
    pub fn header(&self) -> &str {
        std::str::from_utf8(&self.header[..self.header_len as usize]).unwrap_or("")
    }

    /// The client address in a header value, or `None` when the chosen hop
    /// is not an address (`unknown`, an obfuscated name, garbage).
    pub fn pick(&self, value: &[u8]) -> Option<IpAddr> {
        let text = std::str::from_utf8(value).ok()?;
        let mut hops = text.split(',').map(str::trim).filter(|s| !s.is_empty());
        let hop = match self.deployment {
            XffDeployment::Forward => hops.next()?,
            XffDeployment::Reverse => hops.next_back()?,
        };
        parse_hop(hop)
    }
}

/// An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(a) = hop.parse::<IpAddr>() {
        return Some(a);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end].parse().ok();
    }
    match hop.rsplit_once(':') {
        Some((a, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(d: XffDeployment) -> XffConfig {
        XffConfig::new(XffMode::Overwrite, d, "X-Forwarded-For").unwrap()
    }

    #[test]
    fn forward_takes_the_first_hop_and_reverse_the_last() {
        let v = b"10.2.2.2, 10.3.3.3";
        assert_eq!(
            cfg(XffDeployment::Forward).pick(v),
            Some("10.2.2.2".parse().unwrap())
        );
        assert_eq!(
            cfg(XffDeployment::Reverse).pick(v),
            Some("10.3.3.3".parse().unwrap())
        );
    }

    #[test]
    fn ports_brackets_and_v6_are_read() {
        let f = cfg(XffDeployment::Forward);
        assert_eq!(
            f.pick(b"192.0.2.7:4711"),
            Some("192.0.2.7".parse().unwrap())
        );
        assert_eq!(
            f.pick(b"[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            f.pick(b" 2001:db8::2 "),
            Some("2001:db8::2".parse().unwrap())
        );
    }

    #[test]
    fn hops_that_are_not_addresses_give_nothing() {
        let f = cfg(XffDeployment::Forward);
        for v in [
            &b"unknown, 10.0.0.1"[..],
            b"",
            b" , ",
            b"\xff\xfe",
            b"[::1",
            b"host:80",
        ] {
            assert_eq!(f.pick(v), None, "{v:?}");
        }
        assert_eq!(cfg(XffDeployment::Reverse).pick(b"10.0.0.1, _hidden"), None);
    }

    #[test]
    fn header_names_are_checked() {
        assert!(XffConfig::new(XffMode::ExtraData, XffDeployment::Forward, "X-Real-IP").is_ok());
        for bad in ["", "a b", "x:y", &"x".repeat(65)] {
            assert!(XffConfig::new(XffMode::ExtraData, XffDeployment::Forward, bad).is_err());
        }
    }
}
