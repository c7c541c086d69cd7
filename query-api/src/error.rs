//! The query API's one error type and how each error becomes the contract's JSON error answer:
//! `{"error":{"code":"...","message":"..."}}` with status 400, 401, 404 or 503, never a 500 for bad input.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::guard::Challenge;
use crate::served::Store;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A parameter is missing, malformed or out of range; `code` names the kind.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("no such endpoint: {0}")]
    NotFound(String),
    /// A well-formed date the trading calendar does not cover.
    #[error("{0}")]
    OutsideCalendar(String),
    #[error("this needs the token: `Authorization: Bearer <token>`")]
    Unauthorized(Challenge),
    /// A store the answer needs does not answer; `detail`, its raw error, is logged and shown only
    /// to callers that showed the token.
    #[error("{store} is unavailable")]
    Unavailable { store: Store, detail: String },
    /// `api.max_streams` event streams are open.
    #[error("{0} event streams are open, the most this service serves (api.max_streams); try again later")]
    TooManyStreams(usize),
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    /// A setting the service cannot start with (never an answer to a request).
    #[error("{0}")]
    Settings(String),
    /// An Arrow or Parquet answer could not be written (a fault of this service, never of the input).
    #[error("the answer could not be encoded: {0}")]
    Encoding(String),
}

impl AppError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest { code, message: message.into() }
    }

    pub fn redis(e: redis::RedisError) -> AppError {
        AppError::Unavailable { store: Store::Redis, detail: e.to_string() }
    }

    pub fn clickhouse(e: clickhouse::error::Error) -> AppError {
        AppError::Unavailable { store: Store::ClickHouse, detail: e.to_string() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) | AppError::OutsideCalendar(_) => StatusCode::NOT_FOUND,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Unavailable { .. } | AppError::Timeout(_) | AppError::TooManyStreams(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Settings(_) | AppError::Encoding(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `code` of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } => code,
            AppError::NotFound(_) => "not_found",
            AppError::OutsideCalendar(_) => "outside_calendar",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Unavailable { store: Store::Redis, .. } => "redis_unavailable",
            AppError::Unavailable { store: Store::ClickHouse, .. } => "clickhouse_unavailable",
            AppError::Timeout(_) => "timeout",
            AppError::TooManyStreams(_) => "too_many_streams",
            AppError::Settings(_) => "settings",
            AppError::Encoding(_) => "encoding_failed",
        }
    }
}

/// The contract's error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What kind of failure: `bad_symbol`, `bad_period`, `bad_time`, `bad_range`, `range_too_long`,
    /// `unknown_parameter`, `bad_parameter`, `missing_parameter` (400), `outside_calendar`, `not_found` (404),
    /// `unauthorized` (401), `redis_unavailable`, `clickhouse_unavailable`, `timeout`,
    /// `too_many_streams` (503).
    pub code: String,
    /// What was wrong and what is accepted.
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Unavailable { store, detail } = &self {
            tracing::warn!(%store, %detail, "store unavailable");
        }
        let message = match &self {
            AppError::Unavailable { detail, .. } if crate::guard::authenticated() => format!("{self}: {detail}"),
            _ => self.to_string(),
        };
        let body = ErrorBody { error: ErrorDetail { code: self.code().to_owned(), message } };
        let mut response = (self.status(), axum::Json(body)).into_response();
        let challenge = match self {
            AppError::Unauthorized(Challenge::Bearer) => "Bearer",
            AppError::Unauthorized(Challenge::Basic) => "Basic realm=\"tickbar\", charset=\"UTF-8\"",
            _ => return response,
        };
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static(challenge));
        response
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
