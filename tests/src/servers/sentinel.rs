//! A private Redis Sentinel watching one master.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{free_port, io, locate, Result};

use super::{first_launch, wait_until, DataDir, Guard, Launch, RedisServer};

/// The name a [`RedisSentinel`] watches its master under.
pub const MASTER_NAME: &str = "tickbar";

/// A private Redis Sentinel (`redis-server --sentinel`) watching one master as [`MASTER_NAME`]:
/// alone it is the quorum, so it calls the master down after 1 s of silence and promotes a
/// replica.
pub struct RedisSentinel {
    port: u16,
    /// The port of the master it watches.
    master: u16,
    process: Option<Guard>,
    dir: DataDir,
}

impl RedisSentinel {
    /// Starts a Sentinel of `master`, once it names the master and knows its replicas.
    pub async fn start(master: &RedisServer) -> Result<RedisSentinel> {
        first_launch(RedisSentinel { port: 0, master: master.port(), process: None, dir: DataDir::new(None)? }).await
    }

    /// `redis://…` of the Sentinel, as `redis.sentinels` lists it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port of the master the Sentinel names now.
    pub async fn master_port(&self) -> Option<u16> {
        master_port(&self.url()).await
    }
}

impl Launch for RedisSentinel {
    fn take_ports(&mut self) -> Result<()> {
        self.port = free_port()?;
        Ok(())
    }

    async fn launch(&mut self) -> Result<()> {
        let master = self.master;
        let binary = locate("redis-server", "redis-server", "TICKBAR_REDIS_SERVER")?;
        let (dir, log) = (self.dir.path(), self.dir.path().join("sentinel.log"));
        let config = dir.join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {log}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 1\n\
             sentinel down-after-milliseconds {MASTER_NAME} 3000\n\
             sentinel failover-timeout {MASTER_NAME} 10000\n",
            port = self.port,
            dir = dir.display(),
            log = log.display(),
        );
        std::fs::write(&config, text).map_err(io("sentinel.conf"))?;
        let child = Command::new(binary)
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("redis-server --sentinel"))?;
        let url = self.url();
        let process = self.process.insert(Guard(child));
        wait_until("redis sentinel", Duration::from_secs(20), &log, process, || {
            let url = url.clone();
            async move { master_port(&url).await == Some(master) && replicas(&url).await > 0 }
        })
        .await
    }
}

/// The port of the master the Sentinel at `url` names, if it answers.
async fn master_port(url: &str) -> Option<u16> {
    let address: Option<(String, u16)> = ask_sentinel(url, "get-master-addr-by-name").await?;
    address.map(|(_, port)| port)
}

/// How many replicas of the master the Sentinel at `url` knows (0 when it does not answer).
async fn replicas(url: &str) -> usize {
    ask_sentinel::<Vec<redis::Value>>(url, "replicas").await.map_or(0, |r| r.len())
}

async fn ask_sentinel<T: redis::FromRedisValue>(url: &str, question: &str) -> Option<T> {
    let mut con = redis::Client::open(url).ok()?.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("SENTINEL").arg(question).arg(MASTER_NAME).query_async(&mut con).await.ok()
}
