//! What stands in front of the routes: the optional token (before `/api`, and before `/metrics`
//! and the monitor pages when `api.token_guards_ops`), whether a request showed it, the CORS
//! allow-list, the concurrency limit with the request timeout, and the event-stream limit.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::AppError;

tokio::task_local! {
    /// Whether the request being answered showed the token.
    static AUTHENTICATED: bool;
}

/// Whether the request being answered showed the token (never, when no token is set): store
/// errors tell such callers their raw text, others only which store failed.
pub fn authenticated() -> bool {
    AUTHENTICATED.try_with(|shown| *shown).unwrap_or(false)
}

/// The token and what it guards.
pub struct Token {
    pub token: Option<Arc<str>>,
    /// `/metrics` and the monitor pages too, not only `/api`.
    pub guards_ops: bool,
}

/// How a request without the token is challenged: `/api` with `Bearer`, the ops routes with
/// `Basic` (so a browser asks for it; the password is the token, the user name anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    Bearer,
    Basic,
}

/// Which challenge guards `path`, if any.
fn guarded(token: &Token, path: &str) -> Option<Challenge> {
    token.token.as_ref()?;
    if path.starts_with("/api/") {
        Some(Challenge::Bearer)
    } else if token.guards_ops && (path == "/metrics" || path.starts_with("/monitor")) {
        Some(Challenge::Basic)
    } else {
        None
    }
}

/// Lets a guarded request through only with the token (`Authorization: Bearer <token>`, the scheme
/// in any case, or Basic with the token as password), and answers it knowing whether it showed it.
/// A CORS preflight (`OPTIONS`, which carries no credentials) passes to the CORS layer.
pub async fn authorize(State(token): State<Arc<Token>>, request: Request, next: Next) -> Response {
    let shown = token.token.as_ref().is_some_and(|t| shows(request.headers(), t));
    if let Some(challenge) = guarded(&token, request.uri().path()) {
        if !shown && request.method() != Method::OPTIONS {
            return AppError::Unauthorized(challenge).into_response();
        }
    }
    AUTHENTICATED.scope(shown, next.run(request)).await
}

/// Whether the `Authorization` header carries `token`.
fn shows(headers: &axum::http::HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        constant_time_eq(credentials.as_bytes(), token.as_bytes())
    } else if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(credentials).unwrap_or_default();
        let password = decoded.iter().position(|&b| b == b':').map_or(&[][..], |colon| &decoded[colon + 1..]);
        constant_time_eq(password, token.as_bytes())
    } else {
        false
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

/// The CORS layer of the allow-list (`["*"]`: any origin), or `None` when it is empty
/// (same-origin only).
pub fn cors(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        if origins.len() > 1 {
            return Err("api.cors_origins: \"*\" allows every origin and stands alone".into());
        }
        AllowOrigin::any()
    } else {
        let origins = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| format!("api.cors_origins: {o:?} is not a valid origin")))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(origins)
    };
    Ok(Some(CorsLayer::new().allow_origin(allow).allow_methods([Method::GET]).allow_headers([header::AUTHORIZATION])))
}

/// At most `limit` event streams at once: each holds a permit until its client goes away.
pub struct StreamLimit {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl StreamLimit {
    pub fn new(limit: usize) -> StreamLimit {
        StreamLimit { permits: Arc::new(Semaphore::new(limit)), limit }
    }

    /// A stream's permit, or a 503 `too_many_streams` when `limit` are open.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.permits.clone().try_acquire_owned().map_err(|_| AppError::TooManyStreams(self.limit))
    }
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
        assert!(cors(&["*".into()]).unwrap().is_some());
        assert!(cors(&["*".into(), "https://a.example".into()]).is_err());
    }

    #[test]
    fn the_token_is_shown_by_bearer_in_any_case_or_as_the_basic_password() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            shows(&headers, "s3cret")
        };
        for good in
            ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret ", "Basic dXNlcjpzM2NyZXQ=", "basic OnMzY3JldA=="]
        {
            assert!(with(good), "{good}");
        }
        for bad in ["Bearer s3cre", "Bearers3cret", "Token s3cret", "Basic czNjcmV0", "Basic !!", "s3cret"] {
            assert!(!with(bad), "{bad}");
        }
        let token = Token { token: Some("s3cret".into()), guards_ops: false };
        assert_eq!(guarded(&token, "/api/v1/bars"), Some(Challenge::Bearer));
        assert_eq!(guarded(&token, "/metrics"), None);
        let token = Token { guards_ops: true, ..token };
        assert_eq!(guarded(&token, "/metrics"), Some(Challenge::Basic));
        assert_eq!(guarded(&token, "/monitor/api/status"), Some(Challenge::Basic));
        assert_eq!(guarded(&token, "/healthz"), None);
        assert_eq!(guarded(&token, "/"), None);
        assert_eq!(guarded(&Token { token: None, guards_ops: true }, "/api/v1/bars"), None);
    }
}
