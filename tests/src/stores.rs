//! What most service tests start with: a private Redis and ClickHouse, a connection to the Redis,
//! and the key layout and database the services use by default.

use redis::aio::MultiplexedConnection;
use runtime::keys::Keys;

use crate::{start_stores, ClickHouseServer, RedisServer};

/// The database the services use by default (`clickhouse.database`).
pub const DATABASE: &str = "tickbar";

/// A private Redis and ClickHouse and a connection to the Redis.
pub struct Stores {
    pub redis: RedisServer,
    pub clickhouse: ClickHouseServer,
    pub con: MultiplexedConnection,
    pub keys: Keys,
}

impl Stores {
    /// Both servers started side by side; panics naming what could not start.
    pub async fn start() -> Stores {
        let (redis, clickhouse) = start_stores(None).await.expect("redis-server and clickhouse-server");
        let con = redis.connect().await.expect("a connection to the private redis-server");
        Stores { redis, clickhouse, con, keys: Keys::default() }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_database_is_the_services_default() {
        assert_eq!(super::DATABASE, runtime::settings::ClickHouseSettings::default().database);
    }
}
