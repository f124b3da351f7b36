//! TLS for `wss://`: rustls (ring provider) over the glommio stream.
//!
//! The client builds one [`ClientConfig`] per core from the roots loaded once at start (system
//! roots plus `--ca`), so each core has its own session cache: no lock is shared between cores,
//! and a ramp of thousands of connections resumes sessions where the server allows it. The
//! server (`wsload serve --tls-cert/--tls-key`) issues stateless session tickets from one key
//! shared by its cores, so a ticket resumes whichever core accepts the next connection.

pub mod cert;
pub mod sessions;
pub mod stream;

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::metrics::ErrorKind;

pub use stream::Stream;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in a PEM file (one or more). The error names the file and says what is wrong.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the certificate file {shown}: {e}"))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{shown} is not a valid PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate: expected PEM blocks starting with -----BEGIN CERTIFICATE-----"
        ));
    }
    Ok(certs)
}

/// What the cores need to make their client configs: the trusted roots (unless insecure).
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub roots: RootCertStore,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
    /// The name the certificate is checked against (SNI for names; none for IP addresses).
    pub server_name: ServerName<'static>,
}

impl ClientTls {
    /// Load the system roots and the `--ca` file. A system store that cannot be read is not an
    /// error when `--ca` or `--insecure` is given (the roots are then the CA alone).
    pub fn load(host: &str, ca: Option<&Path>, insecure: bool) -> Result<ClientTls, String> {
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("`{host}` is not a host name or IP address that TLS can check"))?;
        let mut roots = RootCertStore::empty();
        if !insecure {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if let Some(ca) = ca {
                for c in read_certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| format!("{}: a certificate cannot be used as a CA: {e}", ca.display()))?;
                }
            }
            if roots.is_empty() {
                return Err(
                    "no trusted root certificates: the system store is empty or unreadable; pass --ca FILE \
                     (or --insecure for a test server)"
                        .into(),
                );
            }
        }
        Ok(ClientTls {
            roots,
            insecure,
            server_name,
        })
    }

    /// A config of this core's own, with its own session cache.
    pub fn config(&self) -> Arc<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions");
        let mut cfg = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(self.roots.clone()).with_no_client_auth()
        };
        cfg.resumption = rustls::client::Resumption::store(Arc::new(sessions::Sessions::default()));
        Arc::new(cfg)
    }
}

/// `--insecure`: every certificate is accepted; the handshake's signatures are still checked
/// (so the session is encrypted with the key of the certificate shown), the identity is not.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The server's certificate chain and key, read once; each core makes its config from it.
#[derive(Debug, Clone)]
pub struct ServerTls {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    /// One ticket key for every core, so a ticket resumes on whichever core accepts.
    ticketer: Arc<dyn rustls::server::ProducesTickets>,
}

impl ServerTls {
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, String> {
        let chain = read_certs(cert)?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            format!(
                "{}: no usable private key (PEM PKCS#8, PKCS#1 or SEC1 expected): {e}",
                key.display()
            )
        })?;
        let ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| format!("cannot make a ticket key: {e}"))?;
        let tls = ServerTls {
            chain,
            key: Arc::new(key_der),
            ticketer,
        };
        // Check now that the key matches the certificate, before any core starts.
        tls.try_config().map_err(|e| {
            format!(
                "{} and {} do not make a usable certificate and key: {e}",
                cert.display(),
                key.display()
            )
        })?;
        Ok(tls)
    }

    fn try_config(&self) -> Result<Arc<ServerConfig>, rustls::Error> {
        let mut cfg = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.ticketer = self.ticketer.clone();
        Ok(Arc::new(cfg))
    }

    /// A config of this core's own (its own session cache for TLS 1.2 session IDs).
    pub fn config(&self) -> Arc<ServerConfig> {
        self.try_config().expect("checked when loaded")
    }
}

/// A failed TLS handshake, classified: certificate problems are their own kind, with the fix.
pub fn failure(e: &io::Error) -> Option<(ErrorKind, String)> {
    use rustls::CertificateError as C;
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let rustls::Error::InvalidCertificate(c) = tls else {
        return Some((ErrorKind::TlsHandshake, format!("TLS handshake failed: {tls}")));
    };
    let why = match c {
        C::UnknownIssuer | C::BadSignature => "it is not signed by a trusted CA".to_string(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet (check the clocks)".to_string(),
        C::NotValidForName | C::NotValidForNameContext { .. } => format!("it is not valid for the URL's host: {c}"),
        other => other.to_string(),
    };
    Some((
        ErrorKind::TlsCertificate,
        format!(
            "the server's certificate was refused, {why}: pass --ca FILE with the CA that signed it, or --insecure for a test server"
        ),
    ))
}
