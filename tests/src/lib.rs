//! The real-server test harness: each test starts its own `redis-server` and `clickhouse-server`
//! on free loopback ports with data in a temp dir, waits until they answer, and tears them down on
//! drop. Nothing touches the shared default ports, so tests run in parallel. Binaries come from
//! `PATH`, or from `TICKBAR_REDIS_SERVER` / `TICKBAR_CLICKHOUSE_SERVER` / `TICKBAR_CHROMIUM`.
//!
//! # Layout
//! - [`servers`]: private `redis-server` and `clickhouse-server` processes; [`certs`]: the
//!   certificates of their TLS variants.
//! - [`service`]: a tickbar service binary as a child process.
//! - [`stores`]: a private Redis and ClickHouse with a connection, as most service tests start.
//! - [`stack`]: the whole stack with the bundled sample loaded (the end-to-end test, the demo).
//! - [`release`]: the state a release leaves in Redis and ClickHouse, taken and put back (the
//!   upgrade test's fixture).
//! - [`clock`]: the set clock live tests give the services and their feeders, and the held tokio
//!   time in-process tests run services on.
//! - [`seed`]: generated seed-era bars (history for the consumer, days for the query API).
//! - [`writers`]: bars written where the producer (Redis, with its own code) and the consumer
//!   (ClickHouse) write them.
//! - [`fixtures`]: the real market data of `common/tests/data/real`; [`market`]: a generated
//!   whole-market day of QMT snapshots.
//! - [`http`]: a minimal HTTP/1.1 client; [`page`]: pages as headless Chromium renders them;
//!   [`receiver`]: an HTTP(S) receiver of alerts, shaped like any chat robot's end; [`promtool`]:
//!   Prometheus's checks of `/metrics` and of the alerting rules.

use std::net::TcpListener;
use std::path::PathBuf;

pub mod certs;
pub mod clock;
pub use fixtures;
pub mod http;
pub mod market;
pub mod page;
pub mod promtool;
pub mod receiver;
pub mod release;
pub mod seed;
pub mod servers;
pub mod service;
pub mod stack;
pub mod stores;
pub mod writers;

pub use http::{http_get, http_request, HttpResponse};
pub use servers::{start_stores, ClickHouseServer, RedisServer};
pub use service::ServiceProcess;
pub use stores::{Stores, DATABASE};

/// Why a test server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{binary} not found: install it (Debian: apt-get install -y {package}) or set {env} to its path")]
    MissingBinary { binary: &'static str, package: &'static str, env: &'static str },
    #[error("could not start {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what} did not answer within {seconds} s; its log: {log}")]
    NotReady { what: &'static str, seconds: u64, log: String },
    #[error("{what} exited ({status}) before it answered; its log: {log}")]
    Exited { what: &'static str, status: String, log: String },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("writing bars: {0}")]
    Store(String),
}

pub type Result<T> = std::result::Result<T, HarnessError>;

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("a free port"))?;
    Ok(listener.local_addr().map_err(io("a free port"))?.port())
}

/// A workspace binary (`producer`, `consumer`, `query-api`) built beside the running test, which
/// `cargo test --workspace` does: a test binary runs from `target/<profile>/deps`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe.parent().and_then(|deps| deps.parent()).expect("a target directory").join(name);
    assert!(path.is_file(), "{} is missing: run `cargo build --workspace` first", path.display());
    path
}

/// Finds `binary` on `PATH` (or the path in `env`).
pub(crate) fn locate(binary: &'static str, package: &'static str, env: &'static str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
        .ok_or(HarnessError::MissingBinary { binary, package, env })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_named_with_how_to_install_it() {
        let err = locate("no-such-server-binary", "no-such-package", "TICKBAR_NO_SUCH_SERVER").unwrap_err().to_string();
        assert!(err.contains("no-such-server-binary") && err.contains("apt-get install -y no-such-package"), "{err}");
    }

    #[test]
    fn a_wanted_port_is_kept_when_free_and_replaced_when_taken() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = taken.local_addr().unwrap().port();
        let other = service::port_or_free(busy);
        assert!(other != busy && other != 0, "a taken port falls back to a free one");
        assert_ne!(service::port_or_free(0), 0);
        drop(taken);
        assert_eq!(service::port_or_free(busy), busy, "a free port is kept");
    }
}
