//! The settings sections the services share, with the local stack's defaults. Each service adds
//! its own sections and loads all of them from its TOML file and `TICKBAR__SECTION__KEY` variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[redis]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// Prepended to every key and channel, so deployments and tests can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings { url: "redis://127.0.0.1:6379/0".into(), key_prefix: String::new() }
    }
}

/// `[clickhouse]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseSettings {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        ClickHouseSettings {
            url: "http://127.0.0.1:8123".into(),
            database: "tickbar".into(),
            user: "default".into(),
            password: String::new(),
        }
    }
}

/// `[http]`: where a service serves its monitor page, `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
}

impl HttpSettings {
    pub const PRODUCER: &'static str = "127.0.0.1:9101";
    pub const CONSUMER: &'static str = "127.0.0.1:9102";
    pub const QUERY_API: &'static str = "127.0.0.1:8080";

    /// The settings with one of the default addresses above.
    pub fn on(listen: &str) -> HttpSettings {
        HttpSettings { listen: listen.parse().expect("default listen addresses are valid") }
    }
}

/// `[calendar]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSettings {
    /// A `date,name` CSV of weekday closures replacing the bundled list; unset means the bundled one.
    pub holidays_file: Option<PathBuf>,
}
