//! The whole stack on one machine, as the end-to-end test and the demo run it: a private Redis and
//! ClickHouse, the three service binaries as child processes wired to them on free ports, and the
//! bundled sample (`deploy/sample`) loaded through the services' own doors: the history days
//! through `producer import-history` and the queues, the sample day through `producer replay` and
//! the tick stream.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Period;
use redis::aio::ConnectionLike;
use redis::AsyncCommands;
use runtime::keys::Keys;
use runtime::settings::{RedisMode, RedisSettings};

use crate::servers::DataDir;
use runtime::redis::Connection;

use crate::servers::{section_env, RedisCluster, RedisSentinel, ZooKeeper, MASTER_NAME};
use crate::{io, ClickHouseServer, HarnessError, RedisServer, Result, ServiceProcess};

/// How long loading may take before the stack is declared stuck.
const LOAD_LIMIT: Duration = Duration::from_secs(300);

/// Where the stack finds its binaries and keeps its files.
pub struct StackOptions<'a> {
    /// The directory holding the `producer`, `consumer` and `query-api` binaries.
    pub bin_dir: &'a Path,
    /// Where servers, logs and unpacked files go (kept); a temp dir when `None`.
    pub dir: Option<&'a Path>,
    /// `RUST_LOG` of the services.
    pub log_level: &'a str,
    /// Redis TLS only (mutual TLS, an ACL user) and ClickHouse over HTTPS (mutual TLS), as stores
    /// across hosts run.
    pub tls: bool,
    /// How the stack scales out; the default is one of each.
    pub scale: Scale,
    /// The HTTP ports the services would like (a port taken, or 0, gets a free one).
    pub ports: Ports,
    /// A release fixture (`harness::release`) put into the stores before the services start: a
    /// deployment of that release, upgraded.
    pub restore: Option<&'a Path>,
    /// `bars.periods` of every service.
    pub periods: &'a [Period],
}

/// The HTTP ports of the three services; 0: any free port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ports {
    pub api: u16,
    pub producer: u16,
    pub consumer: u16,
}

impl<'a> StackOptions<'a> {
    /// The binaries of `bin_dir` in a temp dir, logging warnings, stores in clear, one of each.
    pub fn plain(bin_dir: &'a Path) -> StackOptions<'a> {
        StackOptions {
            bin_dir,
            dir: None,
            log_level: "warn",
            tls: false,
            scale: Scale::default(),
            ports: Ports::default(),
            restore: None,
            periods: &Period::DEFAULTS,
        }
    }
}

/// The scaled-out parts of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// `redis.shards`: one active producer per shard.
    pub shards: u16,
    /// A standby producer beside each active one.
    pub standbys: bool,
    /// ClickHouse shards and replicas of each: with more than one server, a cluster
    /// (`sql/cluster/sharded.sql`, or with replicas `replicated.sql` and a ZooKeeper); the consumer
    /// writes through the first server, the query API reads through the last.
    pub clickhouse_shards: u16,
    pub clickhouse_replicas: u16,
    /// Redis as a master with two replicas and a Sentinel (`redis.mode = "sentinel"`), every write
    /// waiting for a replica (`redis.wait_replicas = 1`), so one stays to wait for after a failover.
    pub sentinel: bool,
    /// Redis as a cluster of this many masters (`redis.mode = "cluster"`); 0: a single server.
    pub redis_masters: u16,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            shards: 1,
            standbys: false,
            clickhouse_shards: 1,
            clickhouse_replicas: 1,
            sentinel: false,
            redis_masters: 0,
        }
    }
}

/// The replicas of a sentinel-mode stack's Redis master and the Sentinel that watches them.
pub struct Failover {
    pub replicas: [RedisServer; 2],
    pub sentinel: RedisSentinel,
}

/// `[redis]` of the stack's services: the server, in sentinel mode the master the Sentinel names
/// (each write waiting for the replica), in cluster mode the cluster.
fn redis_settings(redis: &RedisServer, failover: Option<&Failover>, cluster: Option<&RedisCluster>) -> RedisSettings {
    if let Some(cluster) = cluster {
        return cluster.settings(redis);
    }
    let Some(failover) = failover else { return redis.settings() };
    RedisSettings {
        mode: RedisMode::Sentinel,
        sentinels: vec![failover.sentinel.url()],
        master_name: MASTER_NAME.into(),
        wait_replicas: 1,
        ..redis.settings()
    }
}

/// The `TICKBAR__REDIS__…` variables of `settings` (the URL, the TLS files and in sentinel or
/// cluster mode what finds the master or the nodes).
fn redis_env(settings: RedisSettings) -> Vec<(String, String)> {
    let mut env = section_env("REDIS", settings.url, settings.tls);
    let mode = match settings.mode {
        RedisMode::Standalone => vec![],
        RedisMode::Sentinel => vec![
            ("MODE", "sentinel".to_owned()),
            ("SENTINELS", settings.sentinels.join(",")),
            ("MASTER_NAME", settings.master_name),
            ("WAIT_REPLICAS", settings.wait_replicas.to_string()),
        ],
        RedisMode::Cluster => vec![("MODE", "cluster".to_owned()), ("NODES", settings.nodes.join(","))],
    };
    env.extend(mode.into_iter().map(|(key, value)| (format!("TICKBAR__REDIS__{key}"), value)));
    env
}

/// The bundled sample, unpacked: one history file per period, the sample day's QMT payloads.
pub struct Sample {
    pub history: Vec<(Period, PathBuf)>,
    /// Bars in the history files, all periods.
    pub history_bars: u64,
    pub day: PathBuf,
}

/// The settings of `binary` that wire it to the stores and the shards; the producer runs on the
/// event clock, as replays want, and the query API reads through the last ClickHouse server.
fn wiring(
    binary: &str,
    redis: &[(String, String)],
    clickhouse: &[ClickHouseServer],
    scale: Scale,
    periods: &[Period],
) -> Vec<(String, String)> {
    let mut env = redis.to_vec();
    env.push(("TICKBAR__REDIS__SHARDS".to_owned(), scale.shards.to_string()));
    let periods: Vec<String> = periods.iter().map(|p| p.minutes().to_string()).collect();
    env.push(("TICKBAR__BARS__PERIODS".to_owned(), periods.join(",")));
    match binary {
        "producer" => env.push(("TICKBAR__PRODUCER__CLOCK".to_owned(), "event".to_owned())),
        "query-api" => env.extend(clickhouse[clickhouse.len() - 1].env()),
        _ => env.extend(clickhouse[0].env()),
    }
    env
}

/// Redis, ClickHouse and the three services. Fields drop in order: the services before the stores.
pub struct WholeStack {
    pub api: ServiceProcess,
    /// The producer of shard 0 started first.
    pub producer: ServiceProcess,
    /// The other producers: shard 0's standby, then each further shard's producer and standby.
    pub producers: Vec<ServiceProcess>,
    pub consumer: ServiceProcess,
    /// The Redis server; in sentinel mode, the master the stack started with.
    pub redis: RedisServer,
    /// In sentinel mode, the replica and the Sentinel.
    pub failover: Option<Failover>,
    /// In cluster mode, the masters beside [`Self::redis`].
    pub cluster: Option<RedisCluster>,
    /// The ClickHouse server, or the cluster's servers shard by shard.
    pub clickhouse: Vec<ClickHouseServer>,
    /// The ZooKeeper of ClickHouse replicas, kept while they run.
    pub zookeeper: Option<ZooKeeper>,
    bin_dir: PathBuf,
    work: DataDir,
    /// The test's own connection, following a failover as the services do.
    con: Connection,
    redis_env: Vec<(String, String)>,
    /// The names the services use.
    pub keys: Keys,
    scale: Scale,
    /// `bars.periods` of the services.
    pub periods: Vec<Period>,
}

impl WholeStack {
    /// Starts the stores, then the consumer, the producer (event clock) and the query API, and
    /// waits until each answers `/readyz`.
    pub async fn start(options: StackOptions<'_>) -> Result<WholeStack> {
        let work = DataDir::new(options.dir)?;
        let logs = work.path().join("logs");
        std::fs::create_dir_all(&logs).map_err(io(logs.display().to_string()))?;
        let scale = options.scale;
        let mut redis_cluster = None;
        let (redis, (clickhouse, zookeeper)) = if options.tls {
            let (redis, clickhouse) = tokio::try_join!(RedisServer::start_tls(), ClickHouseServer::start_tls())?;
            (redis, (vec![clickhouse], None))
        } else if scale.clickhouse_shards * scale.clickhouse_replicas > 1 {
            let (shards, replicas) = (scale.clickhouse_shards.into(), scale.clickhouse_replicas.into());
            let cluster = ClickHouseServer::start_cluster(shards, replicas, "tickbar");
            tokio::try_join!(RedisServer::start_in(None), cluster)?
        } else if scale.redis_masters > 0 {
            let (first, cluster) = RedisCluster::start(scale.redis_masters).await?;
            redis_cluster = Some(cluster);
            (first, (vec![ClickHouseServer::start_in(options.dir).await?], None))
        } else {
            let (redis, clickhouse) = crate::start_stores(options.dir).await?;
            (redis, (vec![clickhouse], None))
        };
        let failover = match scale.sentinel {
            false => None,
            true => {
                let replicas =
                    tokio::try_join!(RedisServer::start_replica_of(&redis), RedisServer::start_replica_of(&redis))?;
                let replicas = [replicas.0, replicas.1];
                Some(Failover { sentinel: RedisSentinel::start(&redis).await?, replicas })
            }
        };
        if let Some(fixture) = options.restore {
            crate::release::restore_redis(&mut redis.connect().await?, fixture).await?;
            crate::release::restore_clickhouse(&clickhouse[0].client(), "tickbar", fixture).await?;
        }
        let settings = redis_settings(&redis, failover.as_ref(), redis_cluster.as_ref());
        let redis_env = redis_env(settings.clone());
        let spawn = |name: &str, log: String, env: Vec<(String, String)>, port: u16| {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let binary = options.bin_dir.join(name).display().to_string();
            let log_file = logs.join(format!("{log}.log"));
            ServiceProcess::spawn_logging_at(&binary, &[], &env, &log_file, options.log_level, port)
        };
        let ports = options.ports;
        let consumer_env = wiring("consumer", &redis_env, &clickhouse, scale, options.periods);
        let consumer = spawn("consumer", "consumer".into(), consumer_env, ports.consumer);
        let mut producers = Vec::new();
        for shard in 0..scale.shards {
            for role in if scale.standbys { &["", "-standby"][..] } else { &[""] } {
                let mut env = wiring("producer", &redis_env, &clickhouse, scale, options.periods);
                env.push(("TICKBAR__PRODUCER__SHARD".to_owned(), shard.to_string()));
                let name = if scale.shards > 1 { format!("producer-{shard}{role}") } else { format!("producer{role}") };
                env.push(("TICKBAR__PRODUCER__INSTANCE".to_owned(), name.clone()));
                let port = if producers.is_empty() { ports.producer } else { 0 };
                producers.push(spawn("producer", name, env, port));
            }
        }
        let producer = producers.remove(0);
        let mut api_env = wiring("query-api", &redis_env, &clickhouse, scale, options.periods);
        api_env.push(("TICKBAR__API__PRODUCER_MONITOR_URL".to_owned(), format!("http://127.0.0.1:{}/", producer.http)));
        api_env.push(("TICKBAR__API__CONSUMER_MONITOR_URL".to_owned(), format!("http://127.0.0.1:{}/", consumer.http)));
        let api = spawn("query-api", "query-api".into(), api_env, ports.api);
        let keys = RedisSettings { shards: scale.shards, ..settings.clone() }.keys();
        let settings = RedisSettings { wait_replicas: 0, ..settings };
        let con = runtime::redis::connect(&settings).map_err(|e| HarnessError::Store(e.to_string()))?;
        let bin_dir = options.bin_dir.to_owned();
        let mut stack = WholeStack {
            api,
            producer,
            producers,
            consumer,
            redis,
            failover,
            cluster: redis_cluster,
            clickhouse,
            zookeeper,
            bin_dir,
            work,
            con,
            redis_env,
            keys,
            scale,
            periods: options.periods.to_vec(),
        };
        for service in stack.services() {
            service.answering("/healthz").await;
        }
        for service in [&mut stack.consumer, &mut stack.producer, &mut stack.api] {
            service.answering("/readyz").await;
        }
        Ok(stack)
    }

    /// Every service process of the stack.
    fn services(&mut self) -> impl Iterator<Item = &mut ServiceProcess> {
        [&mut self.consumer, &mut self.producer, &mut self.api].into_iter().chain(self.producers.iter_mut())
    }

    /// The directory of the stack's logs and unpacked files.
    pub fn dir(&self) -> &Path {
        self.work.path()
    }

    /// A service binary's one-shot command (`producer replay`, `consumer cleanup`, …) wired to
    /// this stack's stores.
    pub fn command(&self, binary: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(binary));
        cmd.args(args).env("RUST_LOG", "warn").envs(wiring(
            binary,
            &self.redis_env,
            &self.clickhouse,
            self.scale,
            &self.periods,
        ));
        cmd
    }

    /// Runs [`Self::command`] to its end; an error with its output unless it exits 0.
    pub fn run(&self, binary: &str, args: &[&str]) -> Result<Output> {
        let what = format!("{binary} {}", args.join(" "));
        let out = self.command(binary, args).output().map_err(io(what.clone()))?;
        if !out.status.success() {
            let detail = format!(
                "{}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Err(HarnessError::Command { what, detail });
        }
        Ok(out)
    }

    /// Unpacks the gzipped sample files of `sample_dir` into the stack's directory.
    pub fn unpack(&self, sample_dir: &Path) -> Result<Sample> {
        let unpack = |name: String| -> Result<(PathBuf, String)> {
            let content = sample::files::read_gz(&sample_dir.join(&name)).map_err(io(name.clone()))?;
            let path = self.dir().join(name.trim_end_matches(".gz"));
            std::fs::write(&path, &content).map_err(io(path.display().to_string()))?;
            Ok((path, content))
        };
        let mut history = Vec::new();
        let mut history_bars = 0;
        for period in Period::DEFAULTS {
            let (path, content) = unpack(sample::files::history_file(period))?;
            history_bars += content.lines().count() as u64 - 1;
            history.push((period, path));
        }
        let (day, _) = unpack(sample::files::qmt_file(sample::market::DAYS[2]))?;
        Ok(Sample { history, history_bars, day })
    }

    /// Pushes the history files onto the queues with `producer import-history`.
    pub fn import_history(&self, sample: &Sample) -> Result<()> {
        for (period, file) in &sample.history {
            let minutes = period.minutes().to_string();
            self.run("producer", &["import-history", "--file", &file.display().to_string(), "--period", &minutes])?;
        }
        Ok(())
    }

    /// Waits until the queues are empty and ClickHouse holds `rows` deduplicated bars.
    pub async fn history_stored(&mut self, rows: u64) -> Result<()> {
        self.bars_stored("", rows).await
    }

    /// Waits until the history queues are empty and ClickHouse holds `rows` deduplicated bars
    /// that meet `filter` (an SQL condition on `tickbar.bars`; empty: every bar).
    pub async fn bars_stored(&mut self, filter: &str, rows: u64) -> Result<()> {
        let filter = if filter.is_empty() { String::new() } else { format!(" WHERE {filter}") };
        let sql = format!("SELECT count() FROM {} FINAL{filter}", runtime::keys::bars_table("tickbar"));
        let client = self.clickhouse[0].client();
        let (keys, periods) = (self.keys.clone(), self.periods.clone());
        self.until("the history in ClickHouse", |mut con| {
            let (client, sql, keys, periods) = (client.clone(), sql.clone(), keys.clone(), periods.clone());
            async move {
                for period in periods {
                    if con.llen::<_, u64>(keys.history_queue(period)).await.unwrap_or(1) > 0 {
                        return false;
                    }
                }
                client.query(&sql).fetch_one::<u64>().await.is_ok_and(|n| n == rows)
            }
        })
        .await
    }

    /// Waits until the producers have committed every entry of their shards' tick streams.
    pub async fn day_applied(&mut self) -> Result<()> {
        let streams: Vec<String> = self.keys.each_shard().map(|k| k.tick_stream()).collect();
        self.until("the tick streams applied", |mut con| {
            let streams = streams.clone();
            async move {
                for stream in &streams {
                    if !producer_caught_up(&mut con, stream).await {
                        return false;
                    }
                }
                true
            }
        })
        .await
    }

    async fn until<F, Fut>(&mut self, what: &'static str, mut done: F) -> Result<()>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !done(self.con.clone()).await {
            self.services().for_each(ServiceProcess::assert_running);
            if start.elapsed() > LOAD_LIMIT {
                return Err(HarnessError::NotReady { what, seconds: LOAD_LIMIT.as_secs(), log: String::new() });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Stops the services with SIGTERM (API, producers, consumer), then the stores.
    pub fn stop(mut self) {
        for service in [&mut self.api, &mut self.producer].into_iter().chain(&mut self.producers) {
            service.terminate();
        }
        self.consumer.terminate();
    }
}

/// Whether the producer's group has been delivered the stream's last entry and acknowledged all.
pub async fn producer_caught_up(con: &mut (impl ConnectionLike + Send + Sync), stream: &str) -> bool {
    group_caught_up(con, stream, &runtime::settings::ArchiveSettings::default().producer_group).await
}

/// Whether the consumer group `group` has been delivered the stream's last entry and acknowledged all.
pub async fn group_caught_up(con: &mut (impl ConnectionLike + Send + Sync), stream: &str, group: &str) -> bool {
    let last: redis::streams::StreamRangeReply = match con.xrevrange_count(stream, "+", "-", 1).await {
        Ok(last) => last,
        Err(_) => return false,
    };
    let groups: redis::streams::StreamInfoGroupsReply = con.xinfo_groups(stream).await.unwrap_or_default();
    groups
        .groups
        .iter()
        .find(|g| g.name == group)
        .is_some_and(|g| g.pending == 0 && last.ids.first().is_none_or(|e| e.id == g.last_delivered_id))
}
