//! A chat robot's end for the alert tests: a local HTTP receiver, or an HTTPS one on a test CA's
//! server certificate, that keeps every POST it gets (its target, head and body) and answers 200;
//! one may start listening only later, as a receiver that is down at first.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// One POST as it arrived.
#[derive(Debug, Clone, Default)]
pub struct Post {
    /// The request target: path and query (`/robot/send?access_token=t&timestamp=…`).
    pub target: String,
    pub head: String,
    pub body: String,
}

/// The receiver's address and what it got so far.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`, without a path.
    pub url: String,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    /// Listening now on a free port; over TLS with the server `(certificate, key)` when given.
    pub async fn start(tls: Option<(PathBuf, PathBuf)>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let scheme = if tls.is_some() { "https://localhost" } else { "http://127.0.0.1" };
        let receiver = Receiver { url: format!("{scheme}:{port}"), posts: Arc::default() };
        tokio::spawn(receiver.clone().serve(listener, tls.map(|(cert, key)| acceptor(&cert, &key))));
        receiver
    }

    /// Plain HTTP on `port`, listening only `after` from now: down until then.
    pub fn start_later(port: u16, after: Duration) -> Receiver {
        let receiver = Receiver { url: format!("http://127.0.0.1:{port}"), posts: Arc::default() };
        let serving = receiver.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("the port is still free");
            serving.serve(listener, None).await;
        });
        receiver
    }

    /// Every POST so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().expect("not poisoned").clone()
    }

    /// The POSTs once there are at least `n`; panics after `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Post> {
        let started = Instant::now();
        loop {
            let posts = self.posts();
            if posts.len() >= n {
                return posts;
            }
            assert!(started.elapsed() < within, "{} of {n} posts within {within:?}: {posts:?}", posts.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn serve(self, listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) {
        while let Ok((socket, _)) = listener.accept().await {
            let receiver = self.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(socket).await {
                            receiver.answer(stream).await;
                        }
                    }
                    None => receiver.answer(socket).await,
                }
            });
        }
    }

    /// Reads one request, keeps it, answers 200 and closes.
    async fn answer(&self, mut stream: impl AsyncRead + AsyncWrite + Unpin) {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        let post = loop {
            let Ok(n) = stream.read(&mut buf).await else { return };
            request.extend_from_slice(&buf[..n]);
            let Some(split) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                if n == 0 {
                    return;
                }
                continue;
            };
            let head = String::from_utf8_lossy(&request[..split]).into_owned();
            let length = (head.lines())
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().ok()))
                .flatten()
                .unwrap_or(0usize);
            if request.len() >= split + 4 + length || n == 0 {
                let body = String::from_utf8_lossy(&request[split + 4..]).into_owned();
                let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
                break Post { target, head, body };
            }
        };
        self.posts.lock().expect("not poisoned").push(post);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
        let _ = stream.shutdown().await;
    }
}

/// A TLS acceptor presenting the certificate and key of these PEM files.
fn acceptor(cert: &PathBuf, key: &PathBuf) -> tokio_rustls::TlsAcceptor {
    let chain = CertificateDer::pem_file_iter(cert).expect("a certificate").collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(key).expect("a key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}
