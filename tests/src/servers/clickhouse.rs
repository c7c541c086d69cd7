//! A private `clickhouse-server`, alone or as a member of a sharded or replicated cluster.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use runtime::settings::{ClickHouseSettings, TlsSettings};

use crate::certs::TestCerts;
use crate::{free_port, io, locate, HarnessError, Result};

use super::{first_launch, port_taken, section_env, wait_until, DataDir, Guard, Launch, ZooKeeper, PORT_ATTEMPTS};

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
const SHARDED_SCHEMA: &str = include_str!("../../../sql/cluster/sharded.sql");
/// The DDL of a replicated history (`sql/cluster/replicated.sql`), run once `ON CLUSTER`.
const REPLICATED_SCHEMA: &str = include_str!("../../../sql/cluster/replicated.sql");

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
        for statement in runtime::schema::statements(text, database) {
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
