//! Small PKI for a vigie deployment (rcgen): one CA, a collector certificate,
//! one certificate per sensor whose common name is the sensor id.

use std::fs;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Errors of the PKI helper, with the file involved.
#[derive(Debug)]
pub struct PkiError(String);

impl std::fmt::Display for PkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PkiError {}

fn err(what: &str, e: impl std::fmt::Display) -> PkiError {
    PkiError(format!("{what}: {e}"))
}

fn write_private(path: &Path, data: &str) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err(&path.display().to_string(), e))?;
    f.write_all(data.as_bytes())
        .map_err(|e| err(&path.display().to_string(), e))
}

/// Creates `dir/ca.pem` and `dir/ca.key` (refuses to overwrite an existing CA).
pub fn init(dir: &Path, name: &str) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|e| err(&dir.display().to_string(), e))?;
    if dir.join("ca.key").exists() {
        return Err(PkiError(format!(
            "{}: a CA already exists; remove it first to make a new one",
            dir.join("ca.key").display()
        )));
    }
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA params", e))?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().map_err(|e| err("CA key", e))?;
    let cert = p.self_signed(&key).map_err(|e| err("CA certificate", e))?;
    write_private(&dir.join("ca.key"), &key.serialize_pem())?;
    fs::write(dir.join("ca.pem"), cert.pem()).map_err(|e| err("ca.pem", e))
}

/// Issues `dir/<name>.pem` and `dir/<name>.key`, signed by the CA in `dir`.
/// A server certificate carries `sans` (DNS names or IPs); a client (sensor)
/// certificate has `name` as its common name, which is the sensor id.
pub fn issue(dir: &Path, name: &str, server: bool, sans: &[String]) -> Result<(), PkiError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(PkiError(format!(
            "name {name:?}: use letters, digits, '-', '_' or '.' (it becomes a file name and a NATS subject token)"
        )));
    }
    let ca_pem = fs::read_to_string(dir.join("ca.pem"))
        .map_err(|e| err(&dir.join("ca.pem").display().to_string(), e))?;
    let ca_key_pem = fs::read_to_string(dir.join("ca.key"))
        .map_err(|e| err(&dir.join("ca.key").display().to_string(), e))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(|e| err("ca.key", e))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| err("ca.pem", e))?;
    let mut names = sans.to_vec();
    if names.is_empty() {
        names.push(name.to_string());
    }
    let mut p = CertificateParams::new(names).map_err(|e| err("certificate params", e))?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate().map_err(|e| err("key", e))?;
    let cert = p
        .signed_by(&key, &issuer)
        .map_err(|e| err("certificate", e))?;
    write_private(&dir.join(format!("{name}.key")), &key.serialize_pem())?;
    fs::write(dir.join(format!("{name}.pem")), cert.pem())
        .map_err(|e| err(&format!("{name}.pem"), e))
}
