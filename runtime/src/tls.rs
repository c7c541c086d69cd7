//! TLS to the stores: the files of `[redis.tls]` and `[clickhouse.tls]` (a CA to trust, a client
//! certificate and key to present) read and parsed at start, and the rustls client configuration
//! an `https://` ClickHouse is reached with. The ring provider is the one crypto provider.

use std::path::Path;
use std::sync::Arc;

use crate::settings::TlsSettings;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// The contents of a `[….tls]` section's files, PEM as read.
pub struct Pem {
    pub ca: Option<Vec<u8>>,
    /// The client certificate (chain) and its private key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl Pem {
    /// Reads the files `tls` names; `section` (`redis`, `clickhouse`) names them in errors. A
    /// certificate without its key, or a key without its certificate, is an error.
    pub fn read(section: &str, tls: &TlsSettings) -> Result<Pem, Error> {
        let read = |key: &str, path: &Path| {
            std::fs::read(path)
                .map_err(|e| Error::Tls { setting: format!("{section}.tls.{key}"), reason: e.to_string() })
        };
        let ca = tls.ca_file.as_deref().map(|path| read("ca_file", path)).transpose()?;
        let identity = match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => Some((read("cert_file", cert)?, read("key_file", key)?)),
            (None, None) => None,
            (cert, _) => {
                let missing = if cert.is_some() { "key_file" } else { "cert_file" };
                let reason = "cert_file and key_file go together".to_owned();
                return Err(Error::Tls { setting: format!("{section}.tls.{missing}"), reason });
            }
        };
        Ok(Pem { ca, identity })
    }

    /// Whether the section named no file: the system's roots, no client certificate.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.identity.is_none()
    }

    /// A rustls client configuration trusting the CA (else the system's roots) and presenting the
    /// client certificate when there is one.
    pub fn client_config(&self, section: &str) -> Result<rustls::ClientConfig, Error> {
        let bad = |key: &str, reason: String| Error::Tls { setting: format!("{section}.tls.{key}"), reason };
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(pem) => {
                for cert in certificates(pem).map_err(|e| bad("ca_file", e))? {
                    roots.add(cert).map_err(|e| bad("ca_file", e.to_string()))?;
                }
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("ca_file", e.to_string()))?
            .with_root_certificates(roots);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = certificates(cert).map_err(|e| bad("cert_file", e))?;
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("key_file", e.to_string()))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| bad("key_file", e.to_string()))
            }
        }
    }
}

/// The certificates of a PEM text; none is an error.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(certs)
}
