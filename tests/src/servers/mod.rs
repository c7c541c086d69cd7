//! Private `redis-server` and `clickhouse-server` processes on free loopback ports, their files in
//! a temp dir (or a kept one), waited for until they answer and killed on drop; each can be
//! stopped and launched again on the same port and files, as fault tests need.
//!
//! One file per kind: [`redis`] (a server and a cluster of them), [`sentinel`], [`zookeeper`],
//! [`clickhouse`]; this file holds what they share (data dirs, the process guard, waiting until a
//! server answers, launching on free ports).

mod clickhouse;
mod redis;
mod sentinel;
mod zookeeper;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use runtime::settings::TlsSettings;
use tempfile::TempDir;

use crate::{io, HarnessError, Result};

pub use self::clickhouse::{ClickHouseServer, CLUSTER};
pub use self::redis::{RedisCluster, RedisServer, ACL_USER};
pub use self::sentinel::{RedisSentinel, MASTER_NAME};
pub use self::zookeeper::ZooKeeper;

/// Where a server keeps its data: a temp dir removed on drop, or a directory that stays.
pub(crate) enum DataDir {
    Temp(TempDir),
    Kept(PathBuf),
}

impl DataDir {
    pub(crate) fn new(kept: Option<&Path>) -> Result<DataDir> {
        match kept {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(io(dir.display().to_string()))?;
                Ok(DataDir::Kept(dir.to_owned()))
            }
            None => Ok(DataDir::Temp(tempfile::tempdir().map_err(io("a temp dir"))?)),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            DataDir::Temp(dir) => dir.path(),
            DataDir::Kept(dir) => dir,
        }
    }
}

/// A child process killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How often a server start is tried on fresh ports when another test's server took its port
/// between the port being found free and the server binding it.
const PORT_ATTEMPTS: usize = 4;

/// How long one readiness probe may take before it counts as "not yet".
const PROBE_PATIENCE: Duration = Duration::from_secs(5);

/// Polls `ready` until it answers or `limit` passes, or the process exits (its port was taken).
async fn wait_until<F, Fut>(
    what: &'static str,
    limit: Duration,
    log: &Path,
    process: &mut Guard,
    mut ready: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let read_log = || std::fs::read_to_string(log).unwrap_or_else(|e| format!("(unreadable: {e})"));
    while start.elapsed() < limit {
        if let Ok(Some(status)) = process.0.try_wait() {
            return Err(HarnessError::Exited { what, status: status.to_string(), log: read_log() });
        }
        // A probe that hangs (a server that accepts and never answers while it starts) is a no.
        if tokio::time::timeout(PROBE_PATIENCE, ready()).await.unwrap_or(false) {
            return Ok(());
        }
        crate::clock::real_pause(Duration::from_millis(100)).await;
    }
    Err(HarnessError::NotReady { what, seconds: limit.as_secs(), log: read_log() })
}

/// Whether a failed start is worth another try on fresh ports.
fn port_taken(e: &HarnessError) -> bool {
    matches!(e, HarnessError::Exited { log, .. } if log.contains("in use"))
}

/// A server process the harness starts on free loopback ports.
trait Launch {
    /// Takes fresh free ports for the next launch (a cluster member keeps the ones others name).
    fn take_ports(&mut self) -> Result<()>;
    /// Starts the process on its ports and waits until it answers.
    async fn launch(&mut self) -> Result<()>;
}

/// Launches `server` on free ports, on others if one is taken (by another test's server) between
/// being found free and being bound.
async fn first_launch<S: Launch>(mut server: S) -> Result<S> {
    let mut attempt = 1;
    loop {
        server.take_ports()?;
        match server.launch().await {
            Err(e) if attempt < PORT_ATTEMPTS && port_taken(&e) => attempt += 1,
            done => return done.map(|()| server),
        }
    }
}

/// The variables setting a store section's `url` and the `tls` files that are set.
pub(crate) fn section_env(section: &str, url: String, tls: TlsSettings) -> Vec<(String, String)> {
    let files = [("CA_FILE", tls.ca_file), ("CERT_FILE", tls.cert_file), ("KEY_FILE", tls.key_file)];
    let tls = files
        .into_iter()
        .filter_map(|(key, file)| Some((format!("TICKBAR__{section}__TLS__{key}"), file?.display().to_string())));
    std::iter::once((format!("TICKBAR__{section}__URL"), url)).chain(tls).collect()
}

/// A private Redis and ClickHouse, started side by side, with their files under `dir/redis` and
/// `dir/clickhouse` (kept), or in temp dirs.
pub async fn start_stores(dir: Option<&Path>) -> Result<(RedisServer, ClickHouseServer)> {
    let kept = |name: &str| dir.map(|d| d.join(name));
    let (redis_dir, clickhouse_dir) = (kept("redis"), kept("clickhouse"));
    let (redis, clickhouse) = tokio::join!(
        RedisServer::start_in(redis_dir.as_deref()),
        ClickHouseServer::start_in(clickhouse_dir.as_deref())
    );
    Ok((redis?, clickhouse?))
}
