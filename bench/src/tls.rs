//! TLS in front of the emulators, as a deployed function meets AWS and Giosg: a test CA made for
//! this run, a server certificate for `localhost` signed by it, and [`TlsFront`]s that end TLS
//! on a loopback port and pass the plain bytes on to a [`CountingProxy`](crate::proxy). The
//! function processes trust the CA the usual way, through `SSL_CERT_FILE` (see
//! [`TestCa::write_bundle`]): nothing about it is compiled into them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Where the system's roots are on Debian and Ubuntu (and where the `ca-certificates` package
/// puts them on most distributions): what `rustls-native-certs` would load on Amazon Linux from
/// `/etc/pki/tls/certs/ca-bundle.crt`, about the same 140-odd certificates.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The run's certificate authority and the server configuration of every [`TlsFront`].
pub struct TestCa {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// A new CA and a server certificate for `localhost` and `127.0.0.1` that it signed, both
    /// RSA 2048 with SHA-256 as the certificates of AWS endpoints (Amazon RSA 2048 M0x): the
    /// client's share of a handshake then costs what it costs against AWS (an ECDSA P-256
    /// chain would cost it about five times as much CPU). The keys come from `openssl genpkey`
    /// (ring, which signs here, makes no RSA keys).
    pub fn generate() -> anyhow::Result<Self> {
        let ca_key = rsa_key()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name
            .push(DnType::CommonName, "giosg-bridge bench test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let server_key = rsa_key()?;
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let chain = vec![
            CertificateDer::from(server_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the test server certificate")?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            server: Arc::new(config),
        })
    }

    /// The CA's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the file `SSL_CERT_FILE` names for the function processes: with `with_system`,
    /// the system's roots followed by the test CA (so a client that loads the file in place of
    /// the system store parses as many roots as it would on Lambda), else the test CA alone.
    pub fn write_bundle(&self, path: &Path, with_system: bool) -> anyhow::Result<()> {
        let mut bundle = String::new();
        if with_system {
            bundle = std::fs::read_to_string(SYSTEM_BUNDLE)
                .with_context(|| format!("reading the system's roots from {SYSTEM_BUNDLE}"))?;
            if !bundle.ends_with('\n') {
                bundle.push('\n');
            }
        }
        bundle.push_str(self.ca_pem());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bundle).with_context(|| format!("writing {}", path.display()))
    }
}

/// A new RSA 2048 key from `openssl genpkey`.
fn rsa_key() -> anyhow::Result<KeyPair> {
    let output = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .context("running openssl genpkey (the test CA's RSA keys): is openssl installed?")?;
    anyhow::ensure!(
        output.status.success(),
        "openssl genpkey failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pem = String::from_utf8(output.stdout)?;
    Ok(KeyPair::from_pem_and_sign_algo(
        &pem,
        &rcgen::PKCS_RSA_SHA256,
    )?)
}

/// TLS ended on a loopback port, the plain stream passed on to `upstream`.
pub struct TlsFront {
    address: SocketAddr,
    handshakes: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    pub async fn start(ca: &TestCa, upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a TLS front")?;
        let address = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::clone(&ca.server));
        let handshakes = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&handshakes);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::Relaxed);
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = plain.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(Self {
            address,
            handshakes,
            server,
        })
    }

    /// `https://localhost:<port>`: a name to resolve and to check the certificate against, as a
    /// deployed function has.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.address.port())
    }

    /// The TLS handshakes completed since the last call.
    pub fn take_handshakes(&self) -> u64 {
        self.handshakes.swap(0, Ordering::Relaxed)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A plain HTTP server that answers every request `ok`.
    async fn upstream() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer).await;
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                });
            }
        });
        address
    }

    fn client(trusting: Option<&str>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false);
        if let Some(pem) = trusting {
            builder = builder
                .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }

    #[tokio::test]
    async fn a_client_that_trusts_the_test_ca_reaches_the_upstream_through_tls() {
        let ca = TestCa::generate().unwrap();
        let front = TlsFront::start(&ca, upstream().await).await.unwrap();
        let answer = client(Some(ca.ca_pem()))
            .get(format!("{}/", front.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.text().await.unwrap(), "ok");
        assert_eq!(front.take_handshakes(), 1);
        assert_eq!(
            front.take_handshakes(),
            0,
            "taking the count starts it over"
        );

        let refused = client(None).get(format!("{}/", front.url())).send().await;
        assert!(
            refused.is_err(),
            "a client without the test CA must refuse the certificate"
        );
        assert_eq!(front.take_handshakes(), 0);
    }
}
