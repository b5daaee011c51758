//! The roots this workspace's TLS clients trust, in one place.
//!
//! - **AWS** (the SDK's clients: DynamoDB, Secrets Manager, SNS, API Gateway's management API):
//!   Amazon Trust Services' five roots, compiled in (`tls/aws-roots.pem`): every AWS endpoint's
//!   certificate chains to one of them.
//! - **Giosg** (the `reqwest` client): the Mozilla roots compiled into `webpki-roots`.
//! - **Both**, when `SSL_CERT_FILE` names a PEM file: its certificates as well (a private CA in
//!   front of an endpoint, an emulator's test CA). Added to the built-in roots, never in place
//!   of them.
//!
//! Why not the system's bundle: parsing its 140-odd PEM certificates was CPU in every cold
//! start, which a 128 MB function has 7% of a core for (docs/performance.md, "Cold starts as
//! Lambda sees them"), and neither client needs more than the roots above.

use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

/// Amazon Trust Services' roots (Amazon Root CA 1–4, Starfield Services Root CA G2), PEM.
const AWS_ROOTS: &[u8] = include_bytes!("tls/aws-roots.pem");

/// The variable that names extra roots, as OpenSSL and most TLS clients read it.
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// The certificates of `SSL_CERT_FILE`, PEM, when it is set: read and checked here so that a
/// client is never handed a file it cannot parse. The error names the file and what is wrong.
/// Read once per process: the AWS SDK and the Giosg client both ask.
pub fn extra_roots() -> Result<Option<Vec<u8>>, String> {
    static READ: std::sync::OnceLock<Result<Option<Vec<u8>>, String>> = std::sync::OnceLock::new();
    READ.get_or_init(read_extra_roots).clone()
}

fn read_extra_roots() -> Result<Option<Vec<u8>>, String> {
    let Some(path) = std::env::var_os(SSL_CERT_FILE) else {
        return Ok(None);
    };
    let pem = std::fs::read(&path)
        .map_err(|e| format!("cannot read {SSL_CERT_FILE} {}: {e}", path.display()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{SSL_CERT_FILE} {}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!(
            "{SSL_CERT_FILE} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(Some(pem))
}

/// The AWS SDK's TLS context: Amazon's roots, and `SSL_CERT_FILE`'s when it is set and can be
/// read (when it cannot, the reason is logged and only Amazon's roots are trusted).
pub fn aws_tls_context() -> TlsContext {
    let mut roots = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS);
    match extra_roots() {
        Ok(Some(pem)) => roots.add_pem_certificate(pem),
        Ok(None) => &mut roots,
        Err(error) => {
            tracing::warn!(%error, "the extra roots are not trusted");
            &mut roots
        }
    };
    TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .unwrap_or_default()
}

/// The roots of the Giosg client: `webpki-roots`' (reqwest's built-in ones), and
/// `SSL_CERT_FILE`'s when it is set.
pub fn with_giosg_roots(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = builder.tls_built_in_root_certs(true);
    if let Some(pem) = extra_roots()? {
        for certificate in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_amazon_roots_parse() {
        let roots = CertificateDer::pem_slice_iter(AWS_ROOTS)
            .collect::<Result<Vec<_>, _>>()
            .expect("aws-roots.pem is PEM");
        assert_eq!(roots.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(roots);
        assert_eq!((added, ignored), (5, 0));
    }
}
