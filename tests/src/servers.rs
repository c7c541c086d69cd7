//! Private `redis-server` and `clickhouse-server` processes on free loopback ports, their files in
//! a temp dir (or a kept one), waited for until they answer and killed on drop; each can be
//! stopped and launched again on the same port and files, as fault tests need.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runtime::settings::{ClickHouseSettings, RedisMode, RedisSettings, TlsSettings};
use tempfile::TempDir;

use crate::certs::TestCerts;
use crate::{free_port, io, locate, HarnessError, Result};

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
        if ready().await {
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

/// A private Redis Cluster of masters without replicas, the slots shared out evenly; the first
/// master is the stack's [`RedisServer`], the others are kept here.
pub struct RedisCluster {
    pub others: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` cluster nodes, gives each an even range of the 16384 slots, introduces
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
        first_launch(RedisSentinel { port: 0, master: master.port, process: None, dir: DataDir::new(None)? }).await
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
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
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

/// A private ZooKeeper (Debian's `zookeeper`, run with the machine's `java`), standalone, for
/// ClickHouse replicas.
pub struct ZooKeeper {
    port: u16,
    process: Option<Guard>,
    dir: DataDir,
}

/// Where Debian's `zookeeper` package puts its classes (`TICKBAR_ZOOKEEPER_JAR` elsewhere).
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

impl ZooKeeper {
    /// Starts one on a free port, once it serves clients.
    pub async fn start() -> Result<ZooKeeper> {
        first_launch(ZooKeeper { port: 0, process: None, dir: DataDir::new(None)? }).await
    }
}

impl Launch for ZooKeeper {
    fn take_ports(&mut self) -> Result<()> {
        self.port = free_port()?;
        Ok(())
    }

    async fn launch(&mut self) -> Result<()> {
        let java = locate("java", "default-jre-headless", "TICKBAR_JAVA")?;
        let jar = std::env::var("TICKBAR_ZOOKEEPER_JAR").unwrap_or_else(|_| ZOOKEEPER_JAR.into());
        if !Path::new(&jar).is_file() {
            let missing = ("zookeeper.jar", "zookeeper", "TICKBAR_ZOOKEEPER_JAR");
            return Err(HarnessError::MissingBinary { binary: missing.0, package: missing.1, env: missing.2 });
        }
        let dir = self.dir.path();
        let config = format!(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={data}\nclientPort={port}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n",
            data = dir.join("data").display(),
            port = self.port,
        );
        std::fs::write(dir.join("zoo.cfg"), config).map_err(io("zoo.cfg"))?;
        let log = dir.join("zookeeper.log");
        let out = std::fs::File::create(&log).map_err(io("zookeeper.log"))?;
        let child = Command::new(java)
            .args(["-Xmx256m", "-cp", &format!("/etc/zookeeper/conf:{jar}")])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(dir.join("zoo.cfg"))
            .stdout(out.try_clone().map_err(io("zookeeper.log"))?)
            .stderr(out)
            .spawn()
            .map_err(io("zookeeper"))?;
        let port = self.port;
        let process = self.process.insert(Guard(child));
        wait_until("zookeeper", Duration::from_secs(60), &log, process, || async move { serving(port).await }).await
    }
}

/// Whether the ZooKeeper on `port` serves clients: `srvr` names its mode only once it does (`ruok`
/// answers `imok` earlier, while it still drops the sessions it is asked for).
async fn serving(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let mut answer = String::new();
    stream.write_all(b"srvr").await.is_ok()
        && stream.read_to_string(&mut answer).await.is_ok()
        && answer.contains("Mode: standalone")
}

/// A private `clickhouse-server` (Debian's 18.16 or a current one).
pub struct ClickHouseServer {
    http_port: u16,
    tcp_port: u16,
    /// An HTTPS port besides the HTTP one, on these certificates, asking for a client certificate.
    tls: Option<(u16, TestCerts)>,
    /// A member of a cluster: its TCP port, fixed because the others' `remote_servers` name it.
    member: Option<Member>,
    process: Option<Guard>,
    dir: DataDir,
}

/// What a cluster member's configuration holds beyond a lone server's.
#[derive(Clone)]
struct Member {
    tcp_port: u16,
    /// The `<remote_servers>` element naming every member and, for replicas, where their ZooKeeper
    /// is, their `{shard}` and `{replica}` macros, the distributed DDL queue and the interserver
    /// port their replicas fetch parts from.
    config: String,
}

/// The name of the cluster [`ClickHouseServer::start_cluster`] starts, as its `remote_servers` call it.
pub const CLUSTER: &str = "tickbar_cluster";

/// The DDL of a sharded history without replication (`sql/cluster/sharded.sql`), run on each member.
const SHARDED_SCHEMA: &str = include_str!("../../sql/cluster/sharded.sql");
/// The DDL of a replicated history (`sql/cluster/replicated.sql`), run once `ON CLUSTER`.
const REPLICATED_SCHEMA: &str = include_str!("../../sql/cluster/replicated.sql");

impl ClickHouseServer {
    pub async fn start() -> Result<ClickHouseServer> {
        ClickHouseServer::start_in(None).await
    }

    /// Starts a server with its files in `dir` (kept), or in a temp dir.
    pub async fn start_in(dir: Option<&Path>) -> Result<ClickHouseServer> {
        first_launch(ClickHouseServer::unstarted(DataDir::new(dir)?)).await
    }

    /// Starts a server that also serves HTTPS on certificates of its own and asks every HTTPS
    /// client for a certificate of its CA (mutual TLS); [`Self::settings`] reach it there.
    pub async fn start_tls() -> Result<ClickHouseServer> {
        let tls = Some((0, TestCerts::generate()?));
        first_launch(ClickHouseServer { tls, ..ClickHouseServer::unstarted(DataDir::new(None)?) }).await
    }

    /// Starts the servers of [`CLUSTER`], `shards` shards of `replicas` replicas each (shard by
    /// shard in the returned order), holding the history tables for `database`: each server its
    /// `bars_local` and `adj_factors_local`, and the Distributed `bars` and `adj_factors` over the
    /// cluster, sharded by `halfMD5(symbol)`. One replica a shard: `sql/cluster/sharded.sql` on each
    /// server. More: a private ZooKeeper (returned, to be kept while the servers run) and
    /// `sql/cluster/replicated.sql` once `ON CLUSTER`. A service may use any server; the first is
    /// where the tests' consumers write.
    pub async fn start_cluster(
        shards: usize,
        replicas: usize,
        database: &str,
    ) -> Result<(Vec<ClickHouseServer>, Option<ZooKeeper>)> {
        let zookeeper = if replicas > 1 { Some(ZooKeeper::start().await?) } else { None };
        let mut attempt = 1;
        loop {
            match ClickHouseServer::launch_cluster(shards, replicas, zookeeper.as_ref().map(|z| z.port)).await {
                Err(e) if attempt < PORT_ATTEMPTS && port_taken(&e) => attempt += 1,
                Err(e) => return Err(e),
                Ok(members) if zookeeper.is_some() => {
                    members[0].apply_cluster_schema(REPLICATED_SCHEMA, database).await?;
                    return Ok((members, zookeeper));
                }
                Ok(members) => {
                    for member in &members {
                        member.apply_cluster_schema(SHARDED_SCHEMA, database).await?;
                    }
                    return Ok((members, zookeeper));
                }
            }
        }
    }

    /// The members of a cluster on fresh TCP ports, started side by side.
    async fn launch_cluster(shards: usize, replicas: usize, zookeeper: Option<u16>) -> Result<Vec<ClickHouseServer>> {
        let tcp_ports = (0..shards * replicas).map(|_| free_port()).collect::<Result<Vec<u16>>>()?;
        let replica = |port: &u16| format!("<replica><host>127.0.0.1</host><port>{port}</port></replica>");
        let shard = |ports: &[u16]| {
            let replicas: String = ports.iter().map(replica).collect();
            format!("<shard><internal_replication>true</internal_replication>{replicas}</shard>")
        };
        let shards_xml: String = tcp_ports.chunks(replicas).map(shard).collect();
        let remote_servers = format!("<remote_servers><{CLUSTER}>{shards_xml}</{CLUSTER}></remote_servers>");
        let mut starts = Vec::new();
        for (i, &tcp_port) in tcp_ports.iter().enumerate() {
            let replication = match zookeeper {
                None => String::new(),
                Some(zookeeper) => format!(
                    "<zookeeper><node><host>127.0.0.1</host><port>{zookeeper}</port></node></zookeeper>\
                     <macros><shard>{shard}</shard><replica>{shard}-{i}</replica></macros>\
                     <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\
                     <interserver_http_host>127.0.0.1</interserver_http_host>\
                     <interserver_http_port>{port}</interserver_http_port>",
                    shard = i / replicas,
                    port = free_port()?,
                ),
            };
            let member = Some(Member { tcp_port, config: format!("{remote_servers}{replication}") });
            starts.push(async move {
                first_launch(ClickHouseServer { member, ..ClickHouseServer::unstarted(DataDir::new(None)?) }).await
            });
        }
        let mut members = Vec::new();
        for started in futures_util::future::join_all(starts).await {
            members.push(started?);
        }
        Ok(members)
    }

    /// Runs the cluster DDL `text` for `database` on this member.
    async fn apply_cluster_schema(&self, text: &str, database: &str) -> Result<()> {
        for statement in runtime::clickhouse::statements(text, database) {
            let statement = statement.replace("{cluster}", CLUSTER);
            self.client().query(&statement).execute().await.map_err(|e| HarnessError::Store(e.to_string()))?;
        }
        Ok(())
    }

    /// A server not yet launched, with its files in `dir`.
    fn unstarted(dir: DataDir) -> ClickHouseServer {
        ClickHouseServer { http_port: 0, tcp_port: 0, tls: None, member: None, process: None, dir }
    }

    /// Starts the server process (again, after [`Self::stop`]) on its ports, keeping its data.
    pub async fn launch(&mut self) -> Result<()> {
        let (program, args) = match locate("clickhouse-server", "clickhouse-server", "TICKBAR_CLICKHOUSE_SERVER") {
            Ok(path) => (path, vec![]),
            Err(missing) => (
                locate("clickhouse", "clickhouse-server", "TICKBAR_CLICKHOUSE_SERVER").map_err(|_| missing)?,
                vec!["server"],
            ),
        };
        let config = self.write_config()?;
        let owner = self.dir.path().display().to_string();
        std::fs::create_dir_all(self.dir.path().join("user_files")).map_err(io("user_files"))?;
        std::fs::write(self.dir.path().join("user_files/owner.tsv"), format!("{owner}\n")).map_err(io("owner.tsv"))?;
        let child = Command::new(program)
            .args(args)
            .arg(format!("--config-file={}", config.display()))
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("clickhouse-server"))?;
        let (client, log) = (self.client(), self.dir.path().join("server.err.log"));
        let process = self.process.insert(Guard(child));
        wait_until("clickhouse-server", Duration::from_secs(60), &log, process, || {
            let (client, owner) = (client.clone(), owner.clone());
            // Another test's server on this port answers too: only ours reads our directory's name.
            let mine = "SELECT s FROM file('owner.tsv', 'TSV', 's String')";
            async move { client.query(mine).fetch_one::<String>().await.is_ok_and(|o| o == owner) }
        })
        .await
    }

    /// Stops the server process, keeping its data for [`Self::launch`].
    pub fn stop(&mut self) {
        self.process = None;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `[clickhouse]` of a service using this server: its HTTP URL, or for a TLS server its
    /// HTTPS URL with the CA and a client certificate.
    pub fn settings(&self) -> ClickHouseSettings {
        let Some((port, certs)) = &self.tls else {
            return ClickHouseSettings { url: self.url(), ..Default::default() };
        };
        let (cert, key) = certs.client();
        let tls = TlsSettings { ca_file: Some(certs.ca()), cert_file: Some(cert), key_file: Some(key) };
        ClickHouseSettings { url: format!("https://127.0.0.1:{port}"), tls, ..Default::default() }
    }

    /// A client of this server; `with_validation(false)` because 18.16 does not send column types.
    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default().with_url(self.url()).with_validation(false)
    }

    /// The `TICKBAR__CLICKHOUSE__…` variables of [`Self::settings`].
    pub fn env(&self) -> Vec<(String, String)> {
        let settings = self.settings();
        section_env("CLICKHOUSE", settings.url, settings.tls)
    }

    /// The HTTPS port and its certificates, for a TLS server.
    fn https_config(&self) -> String {
        let Some((port, certs)) = &self.tls else { return String::new() };
        let ((cert, key), ca) = (certs.server(), certs.ca());
        format!(
            "    <https_port>{port}</https_port>
    <openSSL><server>
        <certificateFile>{cert}</certificateFile><privateKeyFile>{key}</privateKeyFile>
        <caConfig>{ca}</caConfig><verificationMode>strict</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
        <cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
        <preferServerCiphers>true</preferServerCiphers>
    </server></openSSL>
",
            cert = cert.display(),
            key = key.display(),
            ca = ca.display(),
        )
    }

    fn write_config(&self) -> Result<PathBuf> {
        let dir = self.dir.path();
        let path = |name: &str| dir.join(name).display().to_string();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{log}</log><errorlog>{err}</errorlog><console>0</console></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>{data}/</path>
    <tmp_path>{tmp}/</tmp_path>
    <user_files_path>{files}/</user_files_path>
    <format_schema_path>{schemas}/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>Asia/Shanghai</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
{https}{member}</yandex>
"#,
            https = self.https_config(),
            member = self.member.as_ref().map_or("", |m| &m.config),
            tcp_port = self.tcp_port,
            log = path("server.log"),
            err = path("server.err.log"),
            http = self.http_port,
            data = path("data"),
            tmp = path("tmp"),
            files = path("user_files"),
            schemas = path("format_schemas"),
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage><log_queries>1</log_queries></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;
        std::fs::write(dir.join("users.xml"), users).map_err(io("users.xml"))?;
        let file = dir.join("config.xml");
        std::fs::write(&file, config).map_err(io("config.xml"))?;
        Ok(file)
    }
}

impl Launch for ClickHouseServer {
    fn take_ports(&mut self) -> Result<()> {
        self.http_port = free_port()?;
        self.tcp_port = match &self.member {
            Some(member) => member.tcp_port,
            None => free_port()?,
        };
        if let Some((port, _)) = &mut self.tls {
            *port = free_port()?;
        }
        Ok(())
    }

    async fn launch(&mut self) -> Result<()> {
        ClickHouseServer::launch(self).await
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
