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
    #[error("saved producer state: {0}")]
    State(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
