//! A minimal HTTP/1.1 client for the tests: one request per connection, the answer read whole,
//! or an endless event stream read event by event; and a webhook receiver that keeps one POST.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An HTTP answer: status, the header block and the body (as text, and as the bytes it was).
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// `GET path` with extra request `headers` on a loopback port; status 0 and the error as the body
/// when nothing answers.
pub async fn http_request(port: u16, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = match exchange.await {
        Ok(r) => r,
        Err(e) => return HttpResponse { body: e.to_string(), ..HttpResponse::default() },
    };
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let bytes = response.get(split + 4..).unwrap_or_default().to_vec();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    HttpResponse { status, head, body: String::from_utf8_lossy(&bytes).into_owned(), bytes }
}

/// `GET path` on a loopback port: the status code and body, or `(0, why)` when nothing answers.
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    let r = http_request(port, path, &[]).await;
    (r.status, r.body)
}

/// An open event stream, past its response headers.
pub struct Events(BufReader<TcpStream>);

impl Events {
    /// Opens `path` on the server at `port`; the answer must be 200.
    pub async fn open(port: u16, path: &str) -> Events {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await.unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).await.unwrap();
        assert!(status.contains(" 200 "), "{status}");
        let mut line = String::new();
        while line != "\r\n" {
            line.clear();
            reader.read_line(&mut line).await.unwrap();
        }
        Events(reader)
    }

    /// The next event's name and data, skipping keep-alive comments and chunk framing.
    pub async fn next(&mut self) -> (String, String) {
        let (mut event, mut data) = (String::new(), String::new());
        let read = async {
            loop {
                let mut line = String::new();
                assert!(self.0.read_line(&mut line).await.unwrap() > 0, "the stream ended");
                let line = line.trim_end();
                if let Some(name) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                    event = name.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                    data = d.to_owned();
                } else if line.is_empty() && !event.is_empty() {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.expect("an event within 10 s");
        (event, data)
    }
}

/// A webhook receiver on a free port: the body of the first POST it gets.
pub async fn webhook() -> (String, tokio::task::JoinHandle<String>) {
    let receiver = crate::receiver::Receiver::start(None).await;
    let url = format!("{}/alert", receiver.url);
    let first = async move { receiver.wait_for(1, Duration::from_secs(60)).await.swap_remove(0).body };
    (url, tokio::spawn(first))
}
