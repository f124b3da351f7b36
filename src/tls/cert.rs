//! `wsload cert`: a throw-away certificate authority and a server certificate it signed, for
//! testing `wss://` against `wsload serve --tls-cert` without OpenSSL or a network.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// Names the server certificate is valid for by default: loopback only.
pub const DEFAULT_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// The files written, in PEM.
#[derive(Debug)]
pub struct Written {
    /// The CA certificate clients trust (`--ca`).
    pub ca: PathBuf,
    /// The server's certificate chain (`--tls-cert`): its certificate, then the CA's.
    pub cert: PathBuf,
    /// The server's private key (`--tls-key`), readable by its owner only.
    pub key: PathBuf,
}

/// A CA and a server certificate for `hosts` (names or IP addresses), as PEM texts:
/// (CA certificate, server chain, server key).
pub fn generate(hosts: &[String]) -> Result<(String, String, String), rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // A name of its own, so a certificate from another `wsload cert` is "unknown issuer".
    let tag: String = ca_key.public_key_raw()[1..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ca.distinguished_name
        .push(DnType::CommonName, format!("wsload test CA {tag}"));
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(hosts.to_vec())?;
    server
        .distinguished_name
        .push(DnType::CommonName, hosts.first().map_or("localhost", String::as_str));
    let cert = server.signed_by(&key, &issuer)?;
    Ok((
        ca_cert.pem(),
        format!("{}{}", cert.pem(), ca_cert.pem()),
        key.serialize_pem(),
    ))
}

/// Write `ca.pem`, `cert.pem` and `key.pem` into `dir` (created if missing).
pub fn write(dir: &Path, hosts: &[String]) -> Result<Written, String> {
    let (ca, chain, key) = generate(hosts).map_err(|e| format!("cannot make the certificates: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let out = Written {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let put = |p: &Path, text: &str, mode: u32| -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(p)
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    put(&out.ca, &ca, 0o644)?;
    put(&out.cert, &chain, 0o644)?;
    put(&out.key, &key, 0o600)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn the_server_certificate_verifies_against_its_ca() {
        let hosts: Vec<String> = super::DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect();
        let dir = std::env::temp_dir().join(format!("wsload-cert-{}", std::process::id()));
        let w = super::write(&dir, &hosts).unwrap();
        let ca = crate::tls::read_certs(&w.ca).unwrap();
        let chain = crate::tls::read_certs(&w.cert).unwrap();
        assert_eq!((ca.len(), chain.len()), (1, 2), "the chain carries the CA too");
        assert!(crate::tls::ServerTls::load(&w.cert, &w.key).is_ok());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca[0].clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let now = rustls_pki_types::UnixTime::now();
        for (name, ok) in [("127.0.0.1", true), ("localhost", true), ("example.com", false)] {
            let sn = rustls_pki_types::ServerName::try_from(name).unwrap();
            let r = verifier.verify_server_cert(&chain[0], &chain[1..], &sn, &[], now);
            assert_eq!(r.is_ok(), ok, "{name}: {r:?}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
