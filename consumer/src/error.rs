//! The consumer's one error type.

/// What can interrupt a drain or a cleanup. Bad queue items never do: they are dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("{0}")]
    Domain(#[from] common::Error),
    #[error("the {0} lock passed to another instance")]
    LockLost(&'static str),
    #[error("the {what} lock is held by {holder}")]
    LockHeld { what: &'static str, holder: String },
    #[error("{0} does not start with a batch version")]
    Corrupt(String),
    #[error("webhook: {0}")]
    Webhook(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
