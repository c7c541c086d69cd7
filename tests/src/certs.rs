//! Certificates a TLS test makes for itself with the `openssl` command: a private CA, a server
//! certificate for `127.0.0.1` and `localhost`, and a client certificate for mutual TLS, PEM files
//! in a temp dir that lives as long as the value.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::{io, locate, HarnessError, Result};

/// The PEM files of one private CA and the two certificates it signed.
pub struct TestCerts {
    dir: TempDir,
}

impl TestCerts {
    /// A fresh CA (P-256) and a server and a client certificate it signed, valid for two days.
    pub fn generate() -> Result<TestCerts> {
        let certs = TestCerts { dir: tempfile::tempdir().map_err(io("a temp dir"))? };
        let ca = ["-x509", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=tickbar test CA"];
        run(certs.dir.path(), &[&NEW_KEY[..], &ca].concat())?;
        certs.sign("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")?;
        certs.sign("client", "extendedKeyUsage=clientAuth\n")?;
        Ok(certs)
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca.crt")
    }

    /// The server's certificate and key.
    pub fn server(&self) -> (PathBuf, PathBuf) {
        (self.path("server.crt"), self.path("server.key"))
    }

    /// The client's certificate and key.
    pub fn client(&self) -> (PathBuf, PathBuf) {
        (self.path("client.crt"), self.path("client.key"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A key and a certificate for `name`, signed by the CA, with the `extensions` config lines.
    fn sign(&self, name: &str, extensions: &str) -> Result<()> {
        let dir = self.dir.path();
        let (key, csr, crt, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
        std::fs::write(dir.join(&ext), extensions).map_err(io(ext.clone()))?;
        run(dir, &[&NEW_KEY[..], &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={name}")]].concat())?;
        let signed = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", &ext];
        run(dir, &[&["x509", "-req", "-in", &csr, "-out", &crt][..], &signed].concat())
    }
}

/// `openssl req` making a new P-256 key, unencrypted.
const NEW_KEY: [&str; 6] = ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/// Runs `openssl args` in `dir`; its output on failure.
fn run(dir: &Path, args: &[&str]) -> Result<()> {
    let openssl = locate("openssl", "openssl", "TICKBAR_OPENSSL")?;
    let out = Command::new(openssl).args(args).current_dir(dir).output().map_err(io("openssl"))?;
    if !out.status.success() {
        let detail = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(HarnessError::Command { what: format!("openssl {}", args.join(" ")), detail });
    }
    Ok(())
}
