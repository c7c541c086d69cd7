//! The consumer's one error type.

use runtime::stores::Store;

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
}

impl Error {
    /// Whether trying again may succeed without anyone acting: a store that did not answer, a
    /// lock another instance holds or lost. A domain error (a date beyond the calendar under
    /// `calendar.beyond_list = "refuse"`) stays until the settings change.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Error::Domain(_))
    }

    /// The store that failed: ClickHouse for its errors, else Redis (which holds the queues and
    /// the locks).
    pub fn store(&self) -> Store {
        match self {
            Error::ClickHouse(_) => Store::ClickHouse,
            _ => Store::Redis,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
