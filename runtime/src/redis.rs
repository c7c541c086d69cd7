//! The Redis connection every service uses (lazy, reconnecting, with bounded waits) and the reads
//! more than one service makes.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use common::keys::Keys;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};

/// A connection to `url` that connects on first use and reconnects after a failure; a command
/// waits at most 2 s for a connection and 30 s for its answer.
pub fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(30)))
        .set_number_of_retries(1);
    ConnectionManager::new_lazy_with_config(client, config)
}

/// The trading days Redis holds same-day bars for, as the producer records them.
pub async fn days_held(con: &mut impl ConnectionLike, keys: &Keys) -> redis::RedisResult<BTreeSet<NaiveDate>> {
    let days: Vec<String> = redis::cmd("SMEMBERS").arg(keys.days_held()).query_async(con).await?;
    Ok(days.iter().filter_map(|d| d.parse().ok()).collect())
}
