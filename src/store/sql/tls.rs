//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` ask for it in
//! `database_url` (rustls with ring; no OpenSSL).
//!
//! | `sslmode`          | encrypted                 | server certificate checked      |
//! |--------------------|---------------------------|---------------------------------|
//! | `disable`          | never                     | –                               |
//! | `allow`, `prefer`  | when the server offers it | no (as libpq)                   |
//! | `require`          | always                    | no; against `sslrootcert` if given or `~/.postgresql/root.crt` exists (as libpq) |
//! | `verify-ca`        | always                    | signed by a CA in `sslrootcert` |
//! | `verify-full`      | always                    | and issued for the host's name or address |
//!
//! `prefer` is the default, as in libpq. `allow` is taken as `prefer` (TLS first).
//! Client certificates (`sslcert`, `sslkey`) and `sslrootcert=system` are refused by
//! name rather than ignored.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// libpq's `sslmode`, all six.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::bad(
                    "database_url",
                    format!(
                        "sslmode={other} is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    ),
                ))
            }
        })
    }

    /// What the `postgres` crate is told: whether to ask for TLS and whether to insist.
    pub fn for_client(self) -> postgres::config::SslMode {
        use postgres::config::SslMode as Client;
        match self {
            SslMode::Disable => Client::Disable,
            SslMode::Allow | SslMode::Prefer => Client::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Client::Require,
        }
    }
}

/// The TLS part of a `database_url`, and the rest of the URL for the `postgres` crate
/// (which does not know `verify-ca`, `verify-full` or `sslrootcert`).
pub struct Tls {
    pub mode: SslMode,
    /// What connects: none with `sslmode=disable`.
    pub connector: Option<MakeRustlsConnect>,
}

/// Splits the TLS settings off `url`: the URL without them, and how to connect.
pub fn from_url(url: &str) -> Result<(String, Tls)> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut mode = SslMode::Prefer;
    let mut root: Option<PathBuf> = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = SslMode::parse(value)?,
            "sslrootcert" if value == "system" => {
                return Err(Error::bad(
                    "database_url",
                    "sslrootcert=system is not supported: give the CA certificate's file \
                     (sslrootcert=/path/to/ca.crt)",
                ))
            }
            "sslrootcert" => root = Some(PathBuf::from(super::percent_decoded(value))),
            "sslcert" | "sslkey" | "sslpassword" => {
                return Err(Error::bad(
                    "database_url",
                    format!(
                        "{key}: client certificates are not supported; sign in to \
                         PostgreSQL with a password (over sslmode=verify-full)"
                    ),
                ))
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let connector = connector(mode, root)?;
    Ok((rest, Tls { mode, connector }))
}

/// libpq's default place for the CA certificate.
fn default_root() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".postgresql/root.crt"))
}

fn connector(mode: SslMode, root: Option<PathBuf>) -> Result<Option<MakeRustlsConnect>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable => return Ok(None),
        SslMode::Allow | SslMode::Prefer => Arc::new(Unchecked(provider.clone())),
        SslMode::Require => {
            let root = root.or_else(|| default_root().filter(|p| p.is_file()));
            match root {
                Some(root) => Arc::new(CaOnly(webpki(&root, &provider)?)),
                None => Arc::new(Unchecked(provider.clone())),
            }
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let root = root
                .or_else(|| default_root().filter(|p| p.is_file()))
                .ok_or_else(|| {
                    Error::bad(
                        "database_url",
                        "sslmode=verify-ca and verify-full need the CA certificate: add \
                         sslrootcert=/path/to/ca.crt (or put it in ~/.postgresql/root.crt)",
                    )
                })?;
            let checked = webpki(&root, &provider)?;
            if mode == SslMode::VerifyFull {
                checked
            } else {
                Arc::new(CaOnly(checked))
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal_from("TLS", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

/// rustls's own check (chain to one of `root`'s certificates, validity, the name).
fn webpki(root: &PathBuf, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>> {
    let shown = root.display();
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::bad(
            "database_url",
            format!("sslrootcert {shown} cannot be read as PEM certificates: {e}"),
        )
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root).map_err(|e| unreadable(&e))? {
        let cert = cert.map_err(|e| unreadable(&e))?;
        roots.add(cert).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"no certificate in the file"));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| unreadable(&e))
}

/// `verify-ca`: the chain is checked, the name is not (libpq's meaning).
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name: a name error means the chain held.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA: encrypted against eavesdropping, not against a
/// server in the middle (libpq's meaning; docs/cluster.md says to use `verify-full`). The
/// handshake's own signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_settings_leave_the_url_and_the_rest_stays() {
        let (rest, tls) =
            from_url("postgres://u:p@h:5/db?sslmode=require&connect_timeout=5").unwrap();
        assert_eq!(rest, "postgres://u:p@h:5/db?connect_timeout=5");
        assert_eq!(tls.mode, SslMode::Require);
        let (rest, tls) = from_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        assert!(tls.connector.is_none());
        let (_, tls) = from_url("postgres://u@h/db").unwrap();
        assert_eq!(tls.mode, SslMode::Prefer);
        assert!(tls.connector.is_some());
    }

    #[test]
    fn unknown_modes_client_certificates_and_missing_cas_are_refused_by_name() {
        let refused = |url: &str| from_url(url).err().unwrap().to_string();
        assert!(refused("postgres://h/db?sslmode=on").contains("sslmode=on is not one of"));
        assert!(refused("postgres://h/db?sslcert=/c.pem").contains("client certificates"));
        assert!(refused("postgres://h/db?sslrootcert=system").contains("sslrootcert=system"));
        let missing = refused("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent.crt");
        assert!(missing.contains("/nonexistent.crt"), "{missing}");
        if !default_root().is_some_and(|p| p.is_file()) {
            let none = refused("postgres://h/db?sslmode=verify-ca");
            assert!(none.contains("need the CA certificate"), "{none}");
        }
    }
}
