//! The failure alert: a short JSON document POSTed to `consumer.webhook_url` (plain `http://`; put
//! a relay in front of an `https://` receiver).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, Result};

/// How long the receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs `body` (JSON) to `url`; an error unless the receiver answers 2xx.
pub async fn post(url: &str, body: String) -> Result<()> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::post(url)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| Error::Webhook(format!("{url}: {e}")))?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| Error::Webhook(format!("{url}: no answer within {} s", TIMEOUT.as_secs())))?
        .map_err(|e| Error::Webhook(format!("{url}: {e}")))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Error::Webhook(format!("{url}: answered {}", response.status())))
    }
}
