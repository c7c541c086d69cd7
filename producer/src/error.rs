//! The producer's one error type.

/// What can stop a producer command. Bad input never does: it is dead-lettered and counted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Domain(#[from] common::Error),
    #[error("{path}: {source}")]
    File { path: std::path::PathBuf, source: std::io::Error },
    #[error("{path} line {line}: {message}")]
    Input { path: std::path::PathBuf, line: u64, message: String },
    /// A store that did not take what a build wrote, after its retries.
    #[error("{0}")]
    Store(String),
    #[error("saved producer state: {0}")]
    State(String),
    /// The lease passed to another producer: this one's commit was refused, nothing was written.
    #[error("the producer lease is held by {0}")]
    Fenced(String),
}

impl Error {
    /// Whether trying again may succeed without anyone acting: a store that did not answer, a lease
    /// that may come back. A corrupt saved state or bad input stays as it is until someone fixes it.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Redis(_) | Error::Fenced(_) => true,
            Error::Domain(_) | Error::File { .. } | Error::Input { .. } | Error::State(_) | Error::Store(_) => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
