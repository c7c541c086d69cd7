//! The Redis connection every service uses: lazy, reconnecting, with bounded waits.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

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
