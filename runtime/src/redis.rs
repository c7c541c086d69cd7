//! The Redis connection every service uses (lazy, reconnecting, with bounded waits; in sentinel
//! mode it follows the master through failovers; in cluster mode it routes each command to the
//! node of its hash slot), the replicas' acknowledgement of writes, and the reads and scans more than
//! one service makes.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use crate::keys::Keys;
use crate::settings::{RedisMode, RedisSettings};
use chrono::NaiveDate;
use redis::aio::{AsyncPushSender, ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    Client, ClientTlsConfig, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisError,
    RedisFuture, RedisResult, TlsCertificates, Value,
};

use crate::metrics::Metrics;
use crate::tls::Pem;

/// How long a failing command waits before the Sentinels are asked again.
const ASK_AGAIN: Duration = Duration::from_millis(250);
/// How often a sentinel-mode connection asks the Sentinels for the master unprompted.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Times this process's connections moved to another master (`tickbar_redis_master_moves_total`).
static MOVES: AtomicU64 = AtomicU64::new(0);
/// WAITs that found fewer replicas than `redis.wait_replicas` (`tickbar_redis_wait_short_total`).
static SHORT_WAITS: AtomicU64 = AtomicU64::new(0);
/// Sharded publications that failed after their commit (`tickbar_redis_publish_failed_total`).
static UNPUBLISHED: AtomicU64 = AtomicU64::new(0);
/// Channels published to at once by [`Connection::send`].
const PUBLISHING: usize = 64;

/// Writes this process's Redis figures, which every service's `/metrics` carries.
pub fn metrics(m: &mut Metrics) {
    let help = "Times a connection moved to the master the Sentinels named (the first one included).";
    m.counter("tickbar_redis_master_moves_total", help, &[], MOVES.load(Ordering::Relaxed));
    let help = "Writes whose WAIT found fewer replicas than redis.wait_replicas: a failover then could lose them.";
    m.counter("tickbar_redis_wait_short_total", help, &[], SHORT_WAITS.load(Ordering::Relaxed));
    let help = "Messages SPUBLISH failed to send after their bars were stored (cluster mode); subscribers missed them.";
    m.counter("tickbar_redis_publish_failed_total", help, &[], UNPUBLISHED.load(Ordering::Relaxed));
}

/// A client of `[redis]`'s URL: `redis://` in clear, `rediss://` over TLS trusting `[redis.tls]`'s
/// CA (else the system's roots) and presenting its client certificate; an ACL user and password
/// come from the URL. A TLS file that cannot be read, or TLS files with a `redis://` URL, are
/// errors. In sentinel mode this is the configured URL's server, not the master: see
/// [`master_client`].
pub fn client(settings: &RedisSettings) -> RedisResult<Client> {
    client_at(&settings.url, settings, None)
}

/// A client of `url` with `[redis.tls]`, at `(host, port)` instead of the URL's own when given.
fn client_at(url: &str, settings: &RedisSettings, at: Option<(String, u16)>) -> RedisResult<Client> {
    let mut info = url.into_connection_info()?;
    if let Some((host, port)) = at {
        let addr = match info.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => {
                ConnectionAddr::TcpTls { host, port, insecure: *insecure, tls_params: None }
            }
            _ => ConnectionAddr::Tcp(host, port),
        };
        info = info.set_addr(addr);
    }
    match certificates(settings)? {
        None => Client::open(info),
        Some(certificates) => Client::build_with_tls(info, certificates),
    }
}

/// `[redis.tls]`'s CA and client certificate, `None` when none is set.
fn certificates(settings: &RedisSettings) -> RedisResult<Option<TlsCertificates>> {
    let pem = Pem::read("redis", &settings.tls)
        .map_err(|e| RedisError::from((ErrorKind::InvalidClientConfig, "TLS settings", e.to_string())))?;
    if pem.is_empty() {
        return Ok(None);
    }
    let client_tls = pem.identity.map(|(client_cert, client_key)| ClientTlsConfig { client_cert, client_key });
    Ok(Some(TlsCertificates { client_tls, root_cert: pem.ca }))
}

/// The cluster `redis.url` and `redis.nodes` belong to, each command waiting at most 2 s for a
/// connection and 30 s for its answer; with `push`, over RESP3 with pushed messages (sharded
/// pub/sub) sent there.
pub fn cluster(settings: &RedisSettings, push: Option<impl AsyncPushSender>) -> RedisResult<ClusterConnection> {
    let nodes = std::iter::once(&settings.url).chain(&settings.nodes);
    let mut builder = ClusterClient::builder(nodes.map(String::as_str));
    if let Some(certificates) = certificates(settings)? {
        builder = builder.certs(certificates);
    }
    let mut config = ClusterConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(30));
    if let Some(push) = push {
        builder = builder.use_protocol(ProtocolVersion::RESP3);
        config = config.set_push_sender(push);
    }
    Ok(builder.build()?.get_pending_async_connection_with_config(config))
}

/// A client of the master: `[redis]`'s URL, or in sentinel mode that URL's scheme, user, password
/// and database at the address the first Sentinel to answer gives for `redis.master_name`. In
/// cluster mode, the node at `[redis]`'s URL: see [`cluster`] for the whole cluster.
pub async fn master_client(settings: &RedisSettings) -> RedisResult<Client> {
    match settings.mode {
        RedisMode::Standalone | RedisMode::Cluster => client(settings),
        RedisMode::Sentinel => client_at(&settings.url, settings, Some(master_address(settings, &mut None).await?)),
    }
}

/// The master's `(host, port)` as a Sentinel says: asked on `kept` while that connection still
/// answers, else on a new connection to each Sentinel in turn until one knows it, which `kept`
/// then holds.
async fn master_address(
    settings: &RedisSettings,
    kept: &mut Option<MultiplexedConnection>,
) -> RedisResult<(String, u16)> {
    if let Some(con) = kept {
        match ask_master(con, settings).await {
            Ok(address) => return Ok(address),
            Err(_) => *kept = None,
        }
    }
    let mut last = None;
    for sentinel in &settings.sentinels {
        let asked = async {
            let mut con = sentinel_connection(sentinel, settings).await?;
            ask_master(&mut con, settings).await.map(|address| (address, con))
        };
        match asked.await {
            Ok((address, con)) => {
                *kept = Some(con);
                return Ok(address);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| RedisError::from((ErrorKind::InvalidClientConfig, "redis.sentinels is empty"))))
}

/// A connection to the Sentinel at `url`: a `rediss://` one with `[redis.tls]`, a `redis://` one in
/// clear; each step waits at most a second.
async fn sentinel_connection(url: &str, settings: &RedisSettings) -> RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)));
    let client = if url.starts_with("rediss://") { client_at(url, settings, None)? } else { Client::open(url)? };
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// The master's `(host, port)` as the Sentinel on `con` names it for `redis.master_name`.
async fn ask_master(con: &mut MultiplexedConnection, settings: &RedisSettings) -> RedisResult<(String, u16)> {
    let address: Option<(String, u16)> =
        redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(&settings.master_name).query_async(con).await?;
    address.ok_or_else(|| {
        let detail = format!("the sentinel knows no {}", settings.master_name);
        RedisError::from((ErrorKind::Client, "no master", detail))
    })
}

/// A connection to `[redis]` that connects on first use and reconnects after a failure; a command
/// waits at most 2 s for a connection and 30 s for its answer. In sentinel mode it is a connection
/// to the master the Sentinels name: they are asked every second while it lives, and again when a
/// command fails as a moved or lost master would (the connection refused or dropped, a timeout,
/// `READONLY` from a demoted one); the next command goes to the master they name, and the failed
/// one too when it cannot have run. Clones share the connection, so one move moves all of them.
/// [`Connection::replicated`] waits for `redis.wait_replicas` replicas.
#[derive(Clone)]
pub struct Connection {
    link: Link,
    /// What it was made of: `redis.wait_replicas` and `redis.wait_timeout_ms`, and what a
    /// [`Subscriber`] connects to.
    settings: Arc<RedisSettings>,
}

/// The server a [`Connection`] talks to: the one at `redis.url`, the master the Sentinels name, or
/// the node of each command's hash slot in a cluster.
#[derive(Clone)]
enum Link {
    Direct(ConnectionManager),
    Sentinel(Arc<Followed>),
    Cluster(ClusterConnection),
}

/// The sentinel-mode connection: the master's address and a connection to it, once known.
struct Followed {
    settings: RedisSettings,
    db: i64,
    current: Mutex<Option<((String, u16), ConnectionManager)>>,
    /// Whether [`watch`] runs for it.
    watching: AtomicBool,
    /// When the Sentinels were last asked and the connection to the one that answered; held while
    /// asking, so callers failing together ask once.
    asked: tokio::sync::Mutex<(Option<Instant>, Option<MultiplexedConnection>)>,
}

/// A connection to `[redis]` (see [`Connection`]); an error only when the settings cannot work.
pub fn connect(settings: &RedisSettings) -> RedisResult<Connection> {
    let client = client(settings)?;
    let link = match settings.mode {
        RedisMode::Standalone => Link::Direct(manager(client)?),
        RedisMode::Sentinel => {
            let db = client.get_connection_info().redis_settings().db();
            let (current, asked, watching) =
                (Mutex::new(None), tokio::sync::Mutex::new((None, None)), AtomicBool::new(false));
            Link::Sentinel(Arc::new(Followed { settings: settings.clone(), db, current, watching, asked }))
        }
        RedisMode::Cluster => Link::Cluster(cluster(settings, None::<tokio::sync::mpsc::UnboundedSender<_>>)?),
    };
    Ok(Connection { link, settings: Arc::new(settings.clone()) })
}

impl Connection {
    /// Waits until `redis.wait_replicas` replicas hold this connection's writes so far (`WAIT`, at
    /// most `redis.wait_timeout_ms`); how many do, or `None` when no wait is asked for. Fewer than
    /// asked is logged: the writes stand, but a failover now could lose them.
    pub async fn replicated(&mut self) -> RedisResult<Option<u16>> {
        let (wanted, timeout_ms) = (self.settings.wait_replicas, self.settings.wait_timeout_ms);
        if wanted == 0 {
            return Ok(None);
        }
        let held: u16 = redis::cmd("WAIT").arg(wanted).arg(timeout_ms).query_async(self).await?;
        if held < wanted {
            SHORT_WAITS.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(held, wanted, "redis: fewer replicas than redis.wait_replicas hold the writes");
        }
        Ok(Some(held))
    }

    /// Publishes `messages` (`(channel, message)`, in order) with the writes of `pipe` where one
    /// server takes them all (`PUBLISH` in the transaction); in a cluster, whose channels lie on
    /// other nodes, they are kept in the [`Unsent`] returned, for [`Connection::send`] once `pipe`
    /// ran.
    pub fn publish_in(&self, pipe: &mut redis::Pipeline, messages: Vec<(String, String)>) -> Unsent {
        if matches!(self.link, Link::Cluster(_)) {
            return Unsent(messages);
        }
        for (channel, message) in &messages {
            pipe.publish(channel, message).ignore();
        }
        Unsent(Vec::new())
    }

    /// Sends what [`Connection::publish_in`] kept, with `SPUBLISH` (sharded pub/sub, each channel
    /// on its hash slot's node): a channel's messages in order, up to [`PUBLISHING`] channels at once. A
    /// failure is logged and counted, not returned: the bars were stored before, and a subscriber
    /// that missed a message reads them.
    pub async fn send(&self, unsent: Unsent) {
        let mut by_channel: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for (channel, message) in unsent.0 {
            by_channel.entry(channel).or_default().push(message);
        }
        let sends = by_channel.into_iter().map(|(channel, messages)| {
            let mut con = self.clone();
            async move {
                for (sent, message) in messages.iter().enumerate() {
                    let published =
                        redis::cmd("SPUBLISH").arg(&channel).arg(message).query_async::<i64>(&mut con).await;
                    if let Err(e) = published {
                        UNPUBLISHED.fetch_add((messages.len() - sent) as u64, Ordering::Relaxed);
                        tracing::warn!(%channel, error = %e, "redis: bars stored but not published");
                        return;
                    }
                }
            }
        });
        futures_util::StreamExt::for_each_concurrent(futures_util::stream::iter(sends), PUBLISHING, |send| send).await;
    }
}

impl Connection {
    /// A subscription on the servers this connection talks to: ordinary pub/sub on the master, or
    /// in a cluster sharded pub/sub on each channel's node. Its own connection, opened now.
    pub async fn subscriber(&self) -> RedisResult<Subscriber> {
        if let Link::Cluster(_) = self.link {
            let (pushed, received) = tokio::sync::mpsc::unbounded_channel();
            return Ok(Subscriber(Feed::Sharded(cluster(&self.settings, Some(pushed))?, received)));
        }
        let (sink, stream) = master_client(&self.settings).await?.get_async_pubsub().await?.split();
        Ok(Subscriber(Feed::Master(sink, stream)))
    }
}

/// Messages a cluster connection publishes after the writes they announce (see
/// [`Connection::publish_in`]).
#[must_use = "messages kept for a cluster are sent by Connection::send"]
#[derive(Debug, Default)]
pub struct Unsent(Vec<(String, String)>);

/// A subscription to bar channels ([`Connection::subscriber`]): ordinary pub/sub on the master (the
/// one at `redis.url`, or the Sentinels' master), or in cluster mode sharded pub/sub (`SSUBSCRIBE`,
/// each channel on its hash slot's node) over the cluster's RESP3 connections.
pub struct Subscriber(Feed);

enum Feed {
    Master(redis::aio::PubSubSink, redis::aio::PubSubStream),
    Sharded(ClusterConnection, tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>),
}

impl Subscriber {
    /// Subscribes `channels` (sharded: one at a time, as each may lie on another node).
    pub async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match &mut self.0 {
            Feed::Master(_, _) if channels.is_empty() => Ok(()),
            Feed::Master(sink, _) => sink.subscribe(channels).await,
            Feed::Sharded(con, _) => {
                for channel in channels {
                    con.ssubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    pub async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match &mut self.0 {
            Feed::Master(sink, _) => sink.unsubscribe(channel).await,
            Feed::Sharded(con, _) => con.sunsubscribe(channel).await,
        }
    }

    /// The next message as `(channel, payload)`; an error when the connection closed (a sharded
    /// one: any of its nodes').
    pub async fn next(&mut self) -> RedisResult<(String, String)> {
        let closed = || redis::RedisError::from(std::io::Error::other("the connection closed"));
        loop {
            match &mut self.0 {
                Feed::Master(_, stream) => {
                    let message = futures_util::StreamExt::next(stream).await.ok_or_else(closed)?;
                    if let Ok(payload) = message.get_payload::<String>() {
                        return Ok((message.get_channel_name().to_owned(), payload));
                    }
                }
                Feed::Sharded(_, pushed) => {
                    let push = pushed.recv().await.ok_or_else(closed)?;
                    match (push.kind, <[redis::Value; 2]>::try_from(push.data)) {
                        (redis::PushKind::Disconnection, _) => return Err(closed()),
                        (redis::PushKind::SMessage, Ok([channel, payload])) => {
                            if let Ok(message) =
                                redis::from_redis_value::<(String, String)>(redis::Value::Array(vec![channel, payload]))
                            {
                                return Ok(message);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// A lazy, reconnecting connection to `client`'s server.
fn manager(client: Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(30)))
        .set_number_of_retries(1);
    ConnectionManager::new_lazy_with_config(client, config)
}

impl Followed {
    /// The master's address and the connection to it, found through the Sentinels the first time
    /// (which also starts [`watch`]).
    async fn connection(self: &Arc<Self>) -> RedisResult<((String, u16), ConnectionManager)> {
        if let Some(current) = &*self.current.lock() {
            return Ok(current.clone());
        }
        self.ask().await?;
        if !self.watching.swap(true, Ordering::Relaxed) {
            tokio::spawn(watch(Arc::downgrade(self)));
        }
        let current = self.current.lock();
        current.clone().ok_or_else(|| RedisError::from((ErrorKind::Client, "no master known yet")))
    }

    /// Sends with `send` to the master. After a failure that a moved master explains, asks the
    /// Sentinels; when they name another master and the command cannot have run (the old one
    /// refused the connection, or answered `READONLY`), sends it there once more.
    async fn send<T, F, Fut>(self: &Arc<Self>, send: F) -> RedisResult<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (at, con) = self.connection().await?;
        let answer = send(con).await;
        let Err(e) = &answer else { return answer };
        if !master_may_have_moved(e) {
            return answer;
        }
        if let Err(asked) = self.ask().await {
            tracing::warn!(error = %asked, "redis: the sentinels name no master");
            return answer;
        }
        let (now, con) = self.connection().await?;
        if now != at && (e.is_connection_refusal() || is_read_only(e)) {
            return send(con).await;
        }
        answer
    }

    /// Asks the Sentinels for the master (at most once per [`ASK_AGAIN`]) and moves there when it
    /// is not where the connection points.
    async fn ask(&self) -> RedisResult<()> {
        let mut asked = self.asked.lock().await;
        let (last, sentinel) = &mut *asked;
        let known = self.current.lock().is_some();
        if known && last.is_some_and(|at| at.elapsed() < ASK_AGAIN) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let address = master_address(&self.settings, sentinel).await?;
        let mut current = self.current.lock();
        if current.as_ref().is_none_or(|(at, _)| *at != address) {
            let con = manager(client_at(&self.settings.url, &self.settings, Some(address.clone()))?)?;
            tracing::info!(host = %address.0, port = address.1, "redis: following the master the sentinels name");
            MOVES.fetch_add(1, Ordering::Relaxed);
            *current = Some((address, con));
        }
        Ok(())
    }
}

/// Asks the Sentinels every [`WATCH_EVERY`] while any clone of the connection lives, so an idle
/// connection has moved to a new master before its next command.
async fn watch(followed: Weak<Followed>) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(followed) = followed.upgrade() else { return };
        if let Err(e) = followed.ask().await {
            tracing::debug!(error = %e, "redis: the sentinels did not answer");
        }
    }
}

/// Whether the server refused `e`'s command as a replica does writes: it did not run.
fn is_read_only(e: &RedisError) -> bool {
    e.to_string().contains("READONLY")
}

/// Whether `e` is what a master that failed, or was demoted, answers.
fn master_may_have_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || is_read_only(e)
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.link {
            Link::Direct(con) => con.req_packed_command(cmd),
            Link::Cluster(con) => con.req_packed_command(cmd),
            Link::Sentinel(followed) => {
                Box::pin(async move { followed.send(|mut con| async move { con.req_packed_command(cmd).await }).await })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipe: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.link {
            Link::Direct(con) => con.req_packed_commands(pipe, offset, count),
            Link::Cluster(con) => con.req_packed_commands(pipe, offset, count),
            Link::Sentinel(followed) => Box::pin(async move {
                followed.send(|mut con| async move { con.req_packed_commands(pipe, offset, count).await }).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Direct(con) => con.get_db(),
            Link::Cluster(con) => con.get_db(),
            Link::Sentinel(followed) => followed.db,
        }
    }
}

impl Connection {
    /// Every key matching `pattern` that lies in the hash slot of `near` (in a cluster, where the keys
    /// a pattern names share `near`'s hash tag, only that hash slot's node is scanned); every key
    /// matching it elsewhere.
    pub async fn scan(&mut self, near: &str, pattern: &str) -> RedisResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000);
            let (next, found): (u64, Vec<String>) = match &mut self.link {
                Link::Cluster(con) => {
                    let node = SingleNodeRoutingInfo::SpecificNode(Route::with_key(near, SlotAddr::Master));
                    redis::from_redis_value(con.route_command(scan, RoutingInfo::SingleNode(node)).await?)?
                }
                _ => scan.query_async(self).await?,
            };
            keys.extend(found);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

/// Bumps the history version of every symbol ([`crate::keys::ALL_HISTORY`]): the query API's
/// cached history answers are read again after a write of any symbol's bars.
pub async fn bump_all_history(con: &mut impl ConnectionLike, keys: &Keys) -> redis::RedisResult<()> {
    redis::cmd("HINCRBY").arg(keys.history_versions()).arg(crate::keys::ALL_HISTORY).arg(1).query_async(con).await
}

/// The trading days Redis holds same-day bars for, as the producers of every shard record them (a
/// member that is not a date is logged and left out).
pub async fn days_held(con: &mut impl ConnectionLike, keys: &Keys) -> redis::RedisResult<BTreeSet<NaiveDate>> {
    let mut days = BTreeSet::new();
    for shard in keys.each_shard() {
        let held: Vec<String> = redis::cmd("SMEMBERS").arg(shard.days_held()).query_async(con).await?;
        for member in held {
            match member.parse::<NaiveDate>() {
                Ok(day) => _ = days.insert(day),
                Err(_) => {
                    tracing::warn!(set = %shard.days_held(), member, "not a date in the set of days held: ignored")
                }
            }
        }
    }
    Ok(days)
}

/// A stream entry's fields as bytes, sorted: the order the producer reads them in, which the
/// archive's positions of refused ticks rely on.
pub fn entry_fields(map: std::collections::HashMap<String, redis::Value>) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<(String, Vec<u8>)> = map
        .into_iter()
        .map(|(k, v)| match v {
            redis::Value::BulkString(bytes) => (k, bytes),
            redis::Value::SimpleString(text) => (k, text.into_bytes()),
            other => (k, format!("{other:?}").into_bytes()),
        })
        .collect();
    fields.sort();
    fields
}
