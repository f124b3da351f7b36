//! `wsload cert`: a test CA and a server certificate for `wsload serve --tls-cert`.

/// `wsload cert --out DIR`: a test CA and a server certificate for `serve --tls-cert`.
pub fn main(a: &crate::config::cli::CertArgs) -> u8 {
    let hosts: Vec<String> = if a.hosts.is_empty() {
        crate::tls::cert::DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect()
    } else {
        a.hosts.clone()
    };
    match crate::tls::cert::write(&a.out, &hosts) {
        Ok(w) => {
            println!(
                "CA certificate      {}  (wsload run wss://... --ca {})",
                w.ca.display(),
                w.ca.display()
            );
            println!(
                "server certificate  {}  (wsload serve --tls-cert {} --tls-key {})",
                w.cert.display(),
                w.cert.display(),
                w.key.display()
            );
            println!("server key          {}", w.key.display());
            println!("valid for           {}", hosts.join(", "));
            0
        }
        Err(e) => super::setup_error(e),
    }
}
