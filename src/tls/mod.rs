//! TLS for `wss://`: rustls (ring provider) over the engine's TCP stream.
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

/// What the cores need to make their client configs: how the server's certificate is checked.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The check: the system roots plus `--ca` (pinning its certificates), or none (`--insecure`).
    verifier: Arc<dyn ServerCertVerifier>,
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
        if insecure {
            return Ok(ClientTls {
                verifier: Arc::new(Verifier::any()),
                insecure,
                server_name,
            });
        }
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        let pinned = match ca {
            Some(ca) => read_certs(ca)?,
            None => Vec::new(),
        };
        for c in &pinned {
            roots.add(c.clone()).map_err(|e| {
                format!(
                    "{}: a certificate cannot be read as a trust anchor: {e}",
                    ca.map_or(String::new(), |p| p.display().to_string())
                )
            })?;
        }
        if roots.is_empty() {
            return Err(
                "no trusted root certificates: the system store is empty or unreadable; pass --ca FILE \
                 (or --insecure for a test server)"
                    .into(),
            );
        }
        Ok(ClientTls {
            verifier: Arc::new(Verifier::pinning(roots, pinned)?),
            insecure,
            server_name,
        })
    }

    /// A config of this core's own, with its own session cache (the verifier is shared: it
    /// holds no lock).
    pub fn config(&self) -> Arc<ClientConfig> {
        let mut cfg = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions")
            .dangerous()
            .with_custom_certificate_verifier(self.verifier.clone())
            .with_no_client_auth();
        cfg.resumption = rustls::client::Resumption::store(Arc::new(sessions::Sessions::default()));
        Arc::new(cfg)
    }
}

/// How the server's certificate is checked: one verifier for every policy.
///
/// `--ca FILE` trusts its certificates for what they are. A server whose own certificate is
/// one of them is accepted as it is (pinning: its CA flag, names and dates are not checked, as
/// the user named that very certificate); any other certificate goes through the usual checks
/// (chain, dates, name) with FILE's certificates added to the system roots. This is what curl,
/// Python and Node do with the self-signed certificate that `openssl req -x509` makes (it says
/// `CA:TRUE`, which webpki alone refuses as a server's own certificate).
///
/// `--insecure` (no `webpki`): every certificate is accepted. In every case the handshake's
/// signatures are checked against the certificate shown, so the session is encrypted with the
/// key of that certificate; only the identity check differs.
#[derive(Debug)]
struct Verifier {
    pinned: Vec<CertificateDer<'static>>,
    /// The usual checks; `None` accepts any certificate.
    webpki: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    fn any() -> Verifier {
        Verifier {
            pinned: Vec::new(),
            webpki: None,
            provider: provider(),
        }
    }

    fn pinning(roots: RootCertStore, pinned: Vec<CertificateDer<'static>>) -> Result<Verifier, String> {
        let provider = provider();
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("cannot check certificates: {e}"))?;
        Ok(Verifier {
            pinned,
            webpki: Some(webpki),
            provider,
        })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.webpki {
            Some(w) if !self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                w.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
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

/// A failed TLS handshake, classified: certificate problems are their own kind, said in plain
/// words with the fix.
pub fn failure(e: &io::Error) -> Option<(ErrorKind, String)> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let rustls::Error::InvalidCertificate(c) = tls else {
        return Some((ErrorKind::TlsHandshake, format!("TLS handshake failed: {tls}")));
    };
    Some((ErrorKind::TlsCertificate, refusal(c)))
}

/// Why a certificate was refused and what to do, for someone who has not read RFC 5280.
fn refusal(c: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    const TRUST: &str = "pass --ca FILE with the server's own certificate or the CA that signed it \
                         (or --insecure for a test server)";
    let date = |t: &UnixTime| {
        crate::config::units::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs()))
    };
    let (why, fix) = match c {
        C::UnknownIssuer => (
            "it is not signed by a trusted CA (nor one of the --ca certificates)".to_string(),
            TRUST.to_string(),
        ),
        C::BadSignature => (
            "a trusted CA has its issuer's name but did not sign it (two CAs with one name, or a broken chain)"
                .to_string(),
            TRUST.to_string(),
        ),
        C::Expired => ("it has expired".to_string(), renew()),
        C::ExpiredContext { time, not_after } => (
            format!("it has expired: valid until {}, now {}", date(not_after), date(time)),
            renew(),
        ),
        C::NotValidYet => (
            "it is not valid yet".to_string(),
            "check the clocks of both hosts".into(),
        ),
        C::NotValidYetContext { time, not_before } => (
            format!(
                "it is not valid yet: valid from {}, now {}",
                date(not_before),
                date(time)
            ),
            "check the clocks of both hosts".into(),
        ),
        C::NotValidForName => ("it is not valid for the URL's host".to_string(), rename()),
        C::NotValidForNameContext { expected, presented } => (
            format!(
                "it is not valid for the URL's host {}: it names {}",
                expected.to_str(),
                if presented.is_empty() {
                    "no host".to_string()
                } else {
                    presented.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", ")
                }
            ),
            rename(),
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => (
            "it is not made for a TLS server (its extended key usage lacks serverAuth)".to_string(),
            "make a server certificate (extendedKeyUsage = serverAuth), or pass --ca FILE with this very \
             certificate to trust it as it is"
                .to_string(),
        ),
        C::Revoked => (
            "it has been revoked by its CA".to_string(),
            "give the server a new certificate".into(),
        ),
        C::Other(o) => match o.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => (
                "it is a CA certificate (CA:TRUE, as `openssl req -x509` makes by default) used as the \
                 server's own, and it is not one of the --ca certificates"
                    .to_string(),
                "pass --ca FILE with this very certificate (it is then trusted as it is), or give the server \
                 a certificate signed by a CA (`wsload cert` makes both)"
                    .to_string(),
            ),
            Some(webpki::Error::EndEntityUsedAsCa) => (
                "its chain has a server certificate where a CA should be".to_string(),
                "send the CA's certificate in the chain, or pass --ca FILE with the server's own certificate"
                    .to_string(),
            ),
            _ => (o.to_string(), TRUST.to_string()),
        },
        other => (format!("{other}"), TRUST.to_string()),
    };
    format!("the server's certificate was refused: {why}; {fix}")
}

/// webpki names the certificate's names as `DnsName("localhost")` and `IpAddress(127.0.0.1)`.
fn plain_name(n: &str) -> &str {
    for (open, close) in [("DnsName(\"", "\")"), ("IpAddress(", ")"), ("UriName(\"", "\")")] {
        if let Some(inner) = n.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner;
        }
    }
    n
}

fn renew() -> String {
    "give the server a new certificate (e.g. `wsload cert`), or check this host's clock".into()
}

fn rename() -> String {
    "connect with a name the certificate holds, or make one for this host (openssl: \
     -addext \"subjectAltName=IP:127.0.0.1,DNS:localhost\"; wsload cert --host NAME)"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    fn names() -> Vec<String> {
        vec!["127.0.0.1".into(), "localhost".into()]
    }

    /// A CA and a certificate it signed for `names`, valid until `until` (year): (CA, leaf).
    fn ca_and_leaf(names: Vec<String>, until: i32) -> (CertificateDer<'static>, CertificateDer<'static>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: CAs that share a name are the "bad signature" case, not this one.
        let tag = format!("test CA {:?}", &ca_key.public_key_raw()[1..9]);
        ca.distinguished_name.push(rcgen::DnType::CommonName, tag);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf = CertificateParams::new(names).unwrap();
        leaf.not_before = rcgen::date_time_ymd(2000, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(until, 1, 1);
        let leaf = leaf.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap();
        (ca_cert.der().clone(), leaf.der().clone())
    }

    /// A self-signed certificate saying CA:TRUE, as `openssl req -x509` makes.
    fn self_signed_ca() -> CertificateDer<'static> {
        let mut p = CertificateParams::new(names()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.self_signed(&KeyPair::generate().unwrap()).unwrap().der().clone()
    }

    /// Check `leaf` for `host` trusting `ca_file` (what `--ca` holds): the refusal in words.
    fn check(ca_file: &[CertificateDer<'static>], leaf: &CertificateDer<'_>, host: &str) -> Result<(), String> {
        let mut roots = RootCertStore::empty();
        for c in ca_file {
            roots.add(c.clone()).unwrap();
        }
        let v = Verifier::pinning(roots, ca_file.to_vec()).unwrap();
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(c) => refusal(&c),
                other => panic!("not a certificate error: {other}"),
            })
    }

    #[test]
    fn a_pinned_certificate_is_accepted_whatever_its_ca_flag_and_names() {
        let pinned = self_signed_ca();
        for host in ["127.0.0.1", "localhost", "example.com"] {
            assert_eq!(check(std::slice::from_ref(&pinned), &pinned, host), Ok(()), "{host}");
        }
        // A CA in the same file still signs for others, checked the usual way.
        let (ca, leaf) = ca_and_leaf(names(), 2100);
        assert_eq!(check(&[pinned.clone(), ca.clone()], &leaf, "localhost"), Ok(()));
        let wrong = check(&[pinned, ca], &leaf, "example.com").unwrap_err();
        assert!(
            wrong.contains("not valid for the URL's host example.com: it names 127.0.0.1, localhost")
                && wrong.contains("connect with a name the certificate holds"),
            "{wrong}"
        );
    }

    #[test]
    fn refusals_say_what_is_wrong_and_the_fix() {
        let (_, leaf) = ca_and_leaf(names(), 2100);
        let (ca, expired) = ca_and_leaf(names(), 2020);
        let cases: [(&[CertificateDer<'static>], CertificateDer<'static>, &[&str]); 3] = [
            // An unrelated self-signed certificate like openssl's: a CA used as the server's own.
            (
                &[self_signed_ca()],
                self_signed_ca(),
                &[
                    "it is a CA certificate (CA:TRUE",
                    "not one of the --ca certificates",
                    "pass --ca FILE with this very certificate",
                ],
            ),
            // Signed by a CA that is not in the file.
            (
                &[self_signed_ca()],
                leaf,
                &["not signed by a trusted CA", "pass --ca FILE"],
            ),
            // Expired, though signed by the CA in the file: the dates are said.
            (
                &[ca],
                expired,
                &[
                    "it has expired: valid until 2020-01-01T00:00:00Z, now 20",
                    "give the server a new certificate",
                ],
            ),
        ];
        for (file, cert, needles) in cases {
            let why = check(file, &cert, "localhost").unwrap_err();
            for n in needles {
                assert!(why.contains(n), "{n:?} not in: {why}");
            }
        }
    }
}
