//! What stands in front of the `/api` routes: the optional bearer token, the CORS allow-list, and
//! the concurrency limit with the request timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::AppError;

/// Lets a request through only with `Authorization: Bearer <token>` when a token is set.
pub async fn authorize(State(token): State<Option<Arc<str>>>, request: Request, next: Next) -> Response {
    let Some(token) = token else {
        return next.run(request).await;
    };
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match given.and_then(|v| v.strip_prefix("Bearer ")) {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => AppError::Unauthorized.into_response(),
    }
}

/// Compares in time that depends on the lengths only, so the token cannot be guessed byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// At most `permits` requests run at once, each until its body is sent (so slow readers of long
/// answers cannot pile up); a request waiting and running longer than `timeout` before its
/// answer starts is answered with a 503 `timeout`.
pub struct Limits {
    pub permits: Arc<Semaphore>,
    pub timeout: Duration,
}

pub async fn limit(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let run = async {
        let permit = limits.permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        (permit, next.run(request).await)
    };
    match tokio::time::timeout(limits.timeout, run).await {
        Ok((permit, response)) => response.map(|body| {
            // The permit goes with the body: released when it is sent or the client goes away.
            Body::from_stream(body.into_data_stream().map(move |chunk| {
                let _held = &permit;
                chunk
            }))
        }),
        Err(_) => AppError::Timeout(limits.timeout.as_millis() as u64).into_response(),
    }
}

/// The CORS layer of the allow-list, or `None` when it is empty (same-origin only).
pub fn cors(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| format!("api.cors_origins: {o:?} is not a valid origin")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET])
            .allow_headers([header::AUTHORIZATION]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(cors(&["not a\norigin".into()]).is_err());
        assert!(cors(&[]).unwrap().is_none());
    }
}
