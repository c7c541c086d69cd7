//! The Redis connection every service uses (lazy, reconnecting, with bounded waits) and the reads
//! more than one service makes.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use common::keys::Keys;
use common::settings::RedisSettings;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{ClientTlsConfig, ErrorKind, RedisError, TlsCertificates};

use crate::tls::Pem;

/// A client of `[redis]`: `redis://` in clear, `rediss://` over TLS trusting `[redis.tls]`'s CA
/// (else the system's roots) and presenting its client certificate; an ACL user and password come
/// from the URL. A TLS file that cannot be read, or TLS files with a `redis://` URL, are errors.
pub fn client(settings: &RedisSettings) -> redis::RedisResult<redis::Client> {
    let pem = Pem::read("redis", &settings.tls)
        .map_err(|e| RedisError::from((ErrorKind::InvalidClientConfig, "TLS settings", e.to_string())))?;
    if pem.is_empty() {
        return redis::Client::open(settings.url.as_str());
    }
    let client_tls = pem.identity.map(|(client_cert, client_key)| ClientTlsConfig { client_cert, client_key });
    redis::Client::build_with_tls(settings.url.as_str(), TlsCertificates { client_tls, root_cert: pem.ca })
}

/// A connection to `[redis]` that connects on first use and reconnects after a failure; a command
/// waits at most 2 s for a connection and 30 s for its answer.
pub fn connect(settings: &RedisSettings) -> redis::RedisResult<ConnectionManager> {
    let client = client(settings)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(30)))
        .set_number_of_retries(1);
    ConnectionManager::new_lazy_with_config(client, config)
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
