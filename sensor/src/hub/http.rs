//! The HTTP side of hub sync: one blocking agent (rustls), authentication,
//! capped bodies and errors that say which URL failed and why.

use std::fmt;
use std::io::Read;
use std::time::Duration;

/// Largest body accepted from a hub (a MISP event, a TAXII page).
pub const MAX_BODY: u64 = 256 << 20;

/// How requests to a source authenticate.
#[derive(Clone, Default)]
pub enum HubAuth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic authentication (TAXII servers such as medallion).
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// MISP API key, sent as `Authorization: <key>`.
    MispKey(String),
}

impl fmt::Debug for HubAuth {
    // Never prints secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubAuth::None => f.write_str("None"),
            HubAuth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            HubAuth::Bearer(_) => f.write_str("Bearer(***)"),
            HubAuth::MispKey(_) => f.write_str("MispKey(***)"),
        }
    }
}

impl HubAuth {
    fn header(&self) -> Option<String> {
        use base64::Engine as _;
        match self {
            HubAuth::None => None,
            HubAuth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            HubAuth::Bearer(t) => Some(format!("Bearer {t}")),
            HubAuth::MispKey(k) => Some(k.clone()),
        }
    }
}

/// Why a request to a hub failed.
#[derive(Debug)]
pub struct HubError {
    url: String,
    what: String,
    status: Option<u16>,
}

impl HubError {
    pub(crate) fn new(url: &str, what: impl Into<String>) -> HubError {
        HubError {
            url: url.to_string(),
            what: what.into(),
            status: None,
        }
    }

    /// The HTTP status the server answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.url, self.what)
    }
}

impl std::error::Error for HubError {}

/// A blocking HTTP client for hub sources.
#[derive(Clone)]
pub struct HubClient {
    agent: ureq::Agent,
}

impl Default for HubClient {
    fn default() -> Self {
        HubClient::new(Duration::from_secs(30))
    }
}

/// A response: body and the headers callers use.
#[derive(Debug)]
pub struct HubResponse {
    /// Body bytes.
    pub body: Vec<u8>,
    /// `X-TAXII-Date-Added-Last`, when sent.
    pub date_added_last: Option<String>,
}

impl HubClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> HubClient {
        HubClient {
            agent: ureq::AgentBuilder::new()
                .timeout(timeout)
                .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
                .build(),
        }
    }

    /// GET `url` with `accept` and `auth`.
    pub fn get(&self, url: &str, accept: &str, auth: &HubAuth) -> Result<HubResponse, HubError> {
        let mut req = self.agent.get(url).set("Accept", accept);
        if let Some(h) = auth.header() {
            req = req.set("Authorization", &h);
        }
        finish(url, req.call())
    }

    /// POST a JSON body to `url`.
    pub fn post_json(
        &self,
        url: &str,
        accept: &str,
        content_type: &str,
        auth: &HubAuth,
        body: &[u8],
    ) -> Result<HubResponse, HubError> {
        let mut req = self
            .agent
            .post(url)
            .set("Accept", accept)
            .set("Content-Type", content_type);
        if let Some(h) = auth.header() {
            req = req.set("Authorization", &h);
        }
        finish(url, req.send_bytes(body))
    }
}

fn finish(url: &str, r: Result<ureq::Response, ureq::Error>) -> Result<HubResponse, HubError> {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let hint = match code {
                401 | 403 => " (check the credentials)",
                404 => " (check the URL, collection id or feed path)",
                _ => "",
            };
            let mut text = String::new();
            let _ = r.into_reader().take(200).read_to_string(&mut text);
            let mut e = HubError::new(url, format!("HTTP {code}{hint}: {}", text.trim()));
            e.status = Some(code);
            return Err(e);
        }
        Err(e) => return Err(HubError::new(url, format!("request failed: {e}"))),
    };
    let date_added_last = resp.header("X-TAXII-Date-Added-Last").map(str::to_string);
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| HubError::new(url, format!("reading the body failed: {e}")))?;
    if body.len() as u64 > MAX_BODY {
        return Err(HubError::new(
            url,
            format!("body larger than {MAX_BODY} bytes"),
        ));
    }
    Ok(HubResponse {
        body,
        date_added_last,
    })
}
