//! The Redis connection every service uses (lazy, reconnecting, with bounded waits; in sentinel
//! mode it follows the master through failovers), the replicas' acknowledgement of writes, and the
//! reads more than one service makes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::keys::Keys;
use common::settings::{RedisMode, RedisSettings};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{
    Client, ClientTlsConfig, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, TlsCertificates, Value,
};

use crate::tls::Pem;

/// How long a failing command waits before the Sentinels are asked again.
const ASK_AGAIN: Duration = Duration::from_millis(250);

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
    let pem = Pem::read("redis", &settings.tls)
        .map_err(|e| RedisError::from((ErrorKind::InvalidClientConfig, "TLS settings", e.to_string())))?;
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
    if pem.is_empty() {
        return Client::open(info);
    }
    let client_tls = pem.identity.map(|(client_cert, client_key)| ClientTlsConfig { client_cert, client_key });
    Client::build_with_tls(info, TlsCertificates { client_tls, root_cert: pem.ca })
}

/// A client of the master: `[redis]`'s URL, or in sentinel mode that URL's scheme, user, password
/// and database at the address the first Sentinel to answer gives for `redis.master_name`.
pub async fn master_client(settings: &RedisSettings) -> RedisResult<Client> {
    match settings.mode {
        RedisMode::Standalone => client(settings),
        RedisMode::Sentinel => client_at(&settings.url, settings, Some(master_address(settings).await?)),
    }
}

/// The master's `(host, port)` as the first Sentinel that knows it says.
async fn master_address(settings: &RedisSettings) -> RedisResult<(String, u16)> {
    let mut last = None;
    for sentinel in &settings.sentinels {
        let asked = async {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(1)));
            let mut con =
                client_at(sentinel, settings, None)?.get_multiplexed_async_connection_with_config(&config).await?;
            let address: Option<(String, u16)> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&settings.master_name)
                .query_async(&mut con)
                .await?;
            address.ok_or_else(|| {
                RedisError::from((
                    ErrorKind::Client,
                    "no master",
                    format!("{sentinel} knows no {}", settings.master_name),
                ))
            })
        };
        match asked.await {
            Ok(address) => return Ok(address),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| RedisError::from((ErrorKind::InvalidClientConfig, "redis.sentinels is empty"))))
}

/// A connection to `[redis]` that connects on first use and reconnects after a failure; a command
/// waits at most 2 s for a connection and 30 s for its answer. In sentinel mode it is a connection
/// to the master the Sentinels name: a command that fails as a moved or lost master would (the
/// connection refused or dropped, a timeout, `READONLY` from a demoted one) has the Sentinels asked
/// again, and the next command goes to the master they name. Clones share the connection, so one
/// move moves all of them.
#[derive(Clone)]
pub enum Connection {
    Direct(ConnectionManager),
    Sentinel(Arc<Followed>),
}

/// The sentinel-mode connection: the master's address and a connection to it, once known.
pub struct Followed {
    settings: RedisSettings,
    db: i64,
    current: Mutex<Option<((String, u16), ConnectionManager)>>,
    /// When the Sentinels were last asked; held while asking, so callers failing together ask once.
    asked: tokio::sync::Mutex<Option<Instant>>,
}

/// A connection to `[redis]` (see [`Connection`]); an error only when the settings cannot work.
pub fn connect(settings: &RedisSettings) -> RedisResult<Connection> {
    let client = client(settings)?;
    match settings.mode {
        RedisMode::Standalone => Ok(Connection::Direct(manager(client)?)),
        RedisMode::Sentinel => {
            let db = client.get_connection_info().redis_settings().db();
            let (current, asked) = (Mutex::new(None), tokio::sync::Mutex::new(None));
            Ok(Connection::Sentinel(Arc::new(Followed { settings: settings.clone(), db, current, asked })))
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
    /// The connection to the master, found through the Sentinels the first time.
    async fn connection(&self) -> RedisResult<ConnectionManager> {
        if let Some((_, con)) = &*self.current.lock().expect("redis lock") {
            return Ok(con.clone());
        }
        self.ask().await?;
        let current = self.current.lock().expect("redis lock");
        let (_, con) = current.as_ref().ok_or_else(|| RedisError::from((ErrorKind::Client, "no master known yet")))?;
        Ok(con.clone())
    }

    /// After a command's failure that a moved master explains, asks the Sentinels again.
    async fn after<T>(&self, answer: &RedisResult<T>) {
        if answer.as_ref().is_err_and(master_may_have_moved) {
            if let Err(e) = self.ask().await {
                tracing::warn!(error = %e, "redis: the sentinels name no master");
            }
        }
    }

    /// Asks the Sentinels for the master (at most once per [`ASK_AGAIN`]) and moves there when it
    /// is not where the connection points.
    async fn ask(&self) -> RedisResult<()> {
        let mut asked = self.asked.lock().await;
        let known = self.current.lock().expect("redis lock").is_some();
        if known && asked.is_some_and(|at| at.elapsed() < ASK_AGAIN) {
            return Ok(());
        }
        *asked = Some(Instant::now());
        let address = master_address(&self.settings).await?;
        let mut current = self.current.lock().expect("redis lock");
        if current.as_ref().is_none_or(|(at, _)| *at != address) {
            let con = manager(client_at(&self.settings.url, &self.settings, Some(address.clone()))?)?;
            tracing::info!(host = %address.0, port = address.1, "redis: following the master the sentinels name");
            *current = Some((address, con));
        }
        Ok(())
    }
}

/// Whether `e` is what a master that failed, or was demoted, answers.
fn master_may_have_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.to_string().contains("READONLY")
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Direct(con) => con.req_packed_command(cmd),
            Connection::Sentinel(followed) => Box::pin(async move {
                let answer = followed.connection().await?.req_packed_command(cmd).await;
                followed.after(&answer).await;
                answer
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipe: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Direct(con) => con.req_packed_commands(pipe, offset, count),
            Connection::Sentinel(followed) => Box::pin(async move {
                let answer = followed.connection().await?.req_packed_commands(pipe, offset, count).await;
                followed.after(&answer).await;
                answer
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Direct(con) => con.get_db(),
            Connection::Sentinel(followed) => followed.db,
        }
    }
}

/// Waits until `[redis] wait_replicas` replicas hold this connection's writes so far (`WAIT`, at
/// most `wait_timeout_ms`); how many do, or `None` when no wait is asked for. Fewer than asked is
/// logged: the writes stand, but a failover now could lose them.
pub async fn replicated(con: &mut impl ConnectionLike, settings: &RedisSettings) -> RedisResult<Option<u16>> {
    if settings.wait_replicas == 0 {
        return Ok(None);
    }
    let held: u16 =
        redis::cmd("WAIT").arg(settings.wait_replicas).arg(settings.wait_timeout_ms).query_async(con).await?;
    if held < settings.wait_replicas {
        tracing::warn!(
            held,
            wanted = settings.wait_replicas,
            "redis: fewer replicas than redis.wait_replicas hold the writes"
        );
    }
    Ok(Some(held))
}

/// The trading days Redis holds same-day bars for, as the producers of every shard record them.
pub async fn days_held(con: &mut impl ConnectionLike, keys: &Keys) -> redis::RedisResult<BTreeSet<NaiveDate>> {
    let mut pipe = redis::pipe();
    keys.each_shard().for_each(|shard| {
        pipe.smembers(shard.days_held());
    });
    let days: Vec<Vec<String>> = pipe.query_async(con).await?;
    Ok(days.iter().flatten().filter_map(|d| d.parse().ok()).collect())
}
