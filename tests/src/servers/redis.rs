//! A private `redis-server` (in clear, or over TLS with an ACL user) and a Redis Cluster of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use runtime::settings::{RedisMode, RedisSettings, TlsSettings};

use crate::certs::TestCerts;
use crate::{free_port, io, locate, HarnessError, Result};

use super::{first_launch, section_env, wait_until, DataDir, Guard, Launch};

/// A private `redis-server`.
pub struct RedisServer {
    port: u16,
    /// Every write fsynced to an append-only file, so a restart (even after SIGKILL) keeps it all.
    aof: bool,
    /// TLS only, with these certificates: clients must present one, and log in as [`ACL_USER`].
    tls: Option<TestCerts>,
    /// A replica of the server on this port.
    replica_of: Option<u16>,
    /// A Redis Cluster node, with its cluster bus on this port.
    bus: Option<u16>,
    process: Option<Guard>,
    dir: DataDir,
}

/// The ACL user (and password) a TLS server admits; its `default` user is off.
pub const ACL_USER: (&str, &str) = ("tickbar", "tls-s3cret");

impl RedisServer {
    pub async fn start() -> Result<RedisServer> {
        RedisServer::start_in(None).await
    }

    /// Starts a server with its files in `dir` (kept), or in a temp dir; nothing kept on disk.
    pub async fn start_in(dir: Option<&Path>) -> Result<RedisServer> {
        first_launch(RedisServer::unstarted(DataDir::new(dir)?)).await
    }

    /// Starts a replica of `master`, once it has taken the master's data (its link is up).
    pub async fn start_replica_of(master: &RedisServer) -> Result<RedisServer> {
        let replica = RedisServer { replica_of: Some(master.port), ..RedisServer::unstarted(DataDir::new(None)?) };
        let mut replica = first_launch(replica).await?;
        let info = redis::cmd("INFO").arg("replication").clone();
        replica.until_reported("the redis replica's link", info, &["master_link_status:up".into()]).await?;
        Ok(replica)
    }

    /// Waits (30 s at most) until the server's answer to `report` (an `INFO`-style text) has every
    /// one of `lines`.
    async fn until_reported(&mut self, what: &'static str, report: redis::Cmd, lines: &[String]) -> Result<()> {
        let con = self.connect().await?;
        let log = self.dir.path().join("redis.log");
        let process = self.process.as_mut().expect("a launched server has its process");
        wait_until(what, Duration::from_secs(30), &log, process, || {
            let (mut con, report) = (con.clone(), report.clone());
            async move {
                let text: String = report.query_async(&mut con).await.unwrap_or_default();
                lines.iter().all(|line| text.lines().any(|l| l.trim() == line))
            }
        })
        .await
    }

    /// A server not yet launched, with its files in `dir`, in clear, keeping nothing on disk.
    fn unstarted(dir: DataDir) -> RedisServer {
        RedisServer { port: 0, aof: false, tls: None, replica_of: None, bus: None, process: None, dir }
    }

    /// Starts a server that speaks only TLS, on certificates of its own: mutual TLS (clients
    /// present a certificate of its CA) and an ACL user with a password, the `default` user off.
    pub async fn start_tls() -> Result<RedisServer> {
        let tls = Some(TestCerts::generate()?);
        first_launch(RedisServer { tls, ..RedisServer::unstarted(DataDir::new(None)?) }).await
    }

    /// Starts a server whose every write is in its append-only file (`appendfsync always`), as a
    /// production Redis under tickbar runs, for tests that restart it.
    pub async fn start_durable() -> Result<RedisServer> {
        first_launch(RedisServer { aof: true, ..RedisServer::unstarted(DataDir::new(None)?) }).await
    }

    /// Starts the server process (again, after [`Self::stop`]) on its port, with what its files hold.
    pub async fn launch(&mut self) -> Result<()> {
        let binary = locate("redis-server", "redis-server", "TICKBAR_REDIS_SERVER")?;
        let log = self.dir.path().join("redis.log");
        let aof: &[&str] =
            if self.aof { &["--appendonly", "yes", "--appendfsync", "always"] } else { &["--appendonly", "no"] };
        let replica = self.replica_of.map(|port| vec!["--replicaof".to_owned(), "127.0.0.1".into(), port.to_string()]);
        let cluster = self.bus.map(|bus| {
            let config = self.dir.path().join("nodes.conf").display().to_string();
            ["--cluster-enabled", "yes", "--cluster-port", &bus.to_string(), "--cluster-config-file", &config]
                .into_iter()
                .chain(["--cluster-node-timeout", "2000"])
                .map(String::from)
                .collect::<Vec<_>>()
        });
        let child = Command::new(binary)
            .args(self.listen())
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(aof)
            .args(replica.unwrap_or_default())
            .args(cluster.unwrap_or_default())
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("redis-server"))?;
        let pid = child.id();
        let client = runtime::redis::client(&self.settings()).map_err(|e| HarnessError::Store(e.to_string()))?;
        let process = self.process.insert(Guard(child));
        wait_until("redis-server", Duration::from_secs(20), &log, process, || {
            let client = client.clone();
            async move {
                let Ok(mut c) = client.get_multiplexed_async_connection().await else { return false };
                // Another test's server on this port answers too: only ours has our process id.
                let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await.unwrap_or_default();
                info.lines().any(|l| l.trim() == format!("process_id:{pid}"))
            }
        })
        .await
    }

    /// Kills the server process (SIGKILL); [`Self::launch`] starts it again on the same port.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// The port arguments: a plain port, or TLS only with the certificates and the ACL user.
    fn listen(&self) -> Vec<String> {
        let port = self.port.to_string();
        let Some(certs) = &self.tls else { return vec!["--port".into(), port] };
        let ((cert, key), ca) = (certs.server(), certs.ca());
        let path = |p: PathBuf| p.display().to_string();
        let (user, password) = ACL_USER;
        let tls = ["--port", "0", "--tls-port", &port, "--tls-auth-clients", "yes"].map(String::from);
        let files = [("--tls-cert-file", cert), ("--tls-key-file", key), ("--tls-ca-cert-file", ca)];
        let acl = ["--user", "default", "off", "--user", user, "on", &format!(">{password}"), "~*", "&*", "+@all"];
        tls.into_iter()
            .chain(files.into_iter().flat_map(|(flag, file)| [flag.to_owned(), path(file)]))
            .chain(acl.map(String::from))
            .collect()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://…`, or `rediss://user:password@…` for a TLS server.
    pub fn url(&self) -> String {
        match &self.tls {
            None => format!("redis://127.0.0.1:{}/0", self.port),
            Some(_) => format!("rediss://{}:{}@127.0.0.1:{}/0", ACL_USER.0, ACL_USER.1, self.port),
        }
    }

    /// `[redis]` of a service using this server: its URL and, for a TLS server, the CA and a
    /// client certificate.
    pub fn settings(&self) -> RedisSettings {
        let tls = self.tls.as_ref().map_or_else(TlsSettings::default, |certs| {
            let (cert, key) = certs.client();
            TlsSettings { ca_file: Some(certs.ca()), cert_file: Some(cert), key_file: Some(key) }
        });
        RedisSettings { url: self.url(), tls, ..RedisSettings::default() }
    }

    /// The `TICKBAR__REDIS__…` variables of [`Self::settings`].
    pub fn env(&self) -> Vec<(String, String)> {
        let settings = self.settings();
        section_env("REDIS", settings.url, settings.tls)
    }

    /// A connection for a test's own reads and writes. Its replies may take up to 30 s: redis's
    /// default of 500 ms is too short while a busy service and ClickHouse share the machine.
    pub async fn connect(&self) -> Result<redis::aio::MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
        let client = runtime::redis::client(&self.settings()).map_err(|e| HarnessError::Store(e.to_string()))?;
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| HarnessError::Store(e.to_string()))
    }
}

impl Launch for RedisServer {
    fn take_ports(&mut self) -> Result<()> {
        self.port = free_port()?;
        if self.bus.is_some() {
            self.bus = Some(free_port()?);
        }
        Ok(())
    }

    async fn launch(&mut self) -> Result<()> {
        RedisServer::launch(self).await
    }
}

/// A private Redis Cluster of masters without replicas, the hash slots shared out evenly; the first
/// master is the stack's [`RedisServer`], the others are kept here.
pub struct RedisCluster {
    pub others: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` cluster nodes, gives each an even range of the 16384 hash slots, introduces
    /// them (`CLUSTER MEET`) and waits until every node reports the cluster `ok`.
    pub async fn start(masters: u16) -> Result<(RedisServer, RedisCluster)> {
        let mut nodes = Vec::new();
        for _ in 0..masters.max(1) {
            let node = RedisServer { bus: Some(0), ..RedisServer::unstarted(DataDir::new(None)?) };
            nodes.push(first_launch(node).await?);
        }
        let failed = |e: redis::RedisError| HarnessError::Store(e.to_string());
        let slots = 16384 / u32::from(masters.max(1));
        let count = nodes.len() as u32;
        for (i, node) in (0..).zip(&nodes) {
            let (first, last) = (i * slots, if i + 1 == count { 16383 } else { (i + 1) * slots - 1 });
            let mut con = node.connect().await?;
            redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(first)
                .arg(last)
                .query_async::<()>(&mut con)
                .await
                .map_err(failed)?;
        }
        let mut con = nodes[0].connect().await?;
        for node in &nodes[1..] {
            let meet = redis::cmd("CLUSTER").arg("MEET").arg("127.0.0.1").arg(node.port).arg(node.bus).clone();
            meet.query_async::<()>(&mut con).await.map_err(failed)?;
        }
        let formed = ["cluster_state:ok".to_owned(), format!("cluster_known_nodes:{count}")];
        for node in &mut nodes {
            node.until_reported("the redis cluster", redis::cmd("CLUSTER").arg("INFO").clone(), &formed).await?;
        }
        let first = nodes.remove(0);
        Ok((first, RedisCluster { others: nodes }))
    }

    /// `[redis]` of a service of the cluster whose first master is `first`.
    pub fn settings(&self, first: &RedisServer) -> RedisSettings {
        let nodes = self.others.iter().map(RedisServer::url).collect();
        RedisSettings { mode: RedisMode::Cluster, nodes, ..first.settings() }
    }
}
