//! HTTP/1.x: request/response state machine, bodies, URI normalisation.

use super::detect::{probe_prefix, Probe};

/// Request methods recognised when detecting HTTP by content.
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"M-SEARCH",
];

/// Looks at the first to-server bytes for the HTTP/2 connection preface.
pub fn probe_h2_preface(data: &[u8]) -> Probe {
    probe_prefix(data, state::H2_PREFACE)
}

/// Looks at the first to-server bytes: an HTTP method followed by a space.
pub fn probe_request(data: &[u8]) -> Probe {
    if data.is_empty() {
        return Probe::NoMatch;
    }
    let mut need_more = false;
    for m in METHODS {
        if data.len() > m.len() {
            if data.starts_with(m) && data[m.len()] == b' ' {
                return Probe::Match;
            }
        } else if m.starts_with(data) {
            need_more = true;
        }
    }
    if need_more {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// Looks at the first to-client bytes: an `HTTP/` status line.
pub fn probe_response(data: &[u8]) -> Probe {
    probe_prefix(data, b"HTTP/1.")
}

pub mod body;
pub mod detect;
pub mod eve;
pub mod state;
pub mod uri;
pub mod xff;

pub use state::{HttpConfig, HttpEvent, HttpHeader, HttpState, HttpTransaction, H2_PREFACE};
