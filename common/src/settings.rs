//! The settings sections the services share, with the local stack's defaults. Each service adds
//! its own sections and loads all of them from its TOML file and `TICKBAR__SECTION__KEY` variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::calendar::BeyondList;

/// `[redis]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[user][:password@]host:port/db`; `check-config` hides the password.
    #[serde(serialize_with = "redacted_url")]
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
    #[serde(serialize_with = "redacted")]
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
    /// What a date after the end of the list is: `weekdays` (provisional trading days) or `refuse`.
    pub beyond_list: BeyondList,
}

/// `[clock]`: the time the service believes it is. Unset, the system clock; set, a clock that
/// read `start` (market time) at the real instant `origin_ms` and runs `speed` times as fast. For
/// tests and demos that play a trading day at any hour; never for production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockSettings {
    /// ISO-8601 market time, e.g. `2026-11-18T09:25:00`.
    pub start: Option<String>,
    /// Real epoch milliseconds at which the clock reads `start`; unset, when the service starts.
    pub origin_ms: Option<i64>,
    pub speed: f64,
}

impl Default for ClockSettings {
    fn default() -> Self {
        ClockSettings { start: None, origin_ms: None, speed: 1.0 }
    }
}

/// A secret setting: whether it is set.
pub trait Secret {
    fn is_set(&self) -> bool;
}

impl Secret for String {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
}

impl Secret for Option<String> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
}

/// A secret as `check-config` prints it: `(set)` or empty, never its value.
pub fn redacted<T: Secret, S: serde::Serializer>(secret: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if secret.is_set() { "(set)" } else { "" })
}

/// A URL as `check-config` prints it: a password in it shown as `(set)`.
pub fn redacted_url<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let credentials = url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?)));
    match credentials {
        Some((scheme, (user_info, host))) if user_info.contains(':') => {
            let user = user_info.split_once(':').map_or("", |(user, _)| user);
            serializer.serialize_str(&format!("{scheme}://{user}:(set)@{host}"))
        }
        _ => serializer.serialize_str(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_settings_show_whether_a_secret_is_set_never_its_value() {
        let redis = RedisSettings { url: "redis://tickbar:s3cret@10.0.0.5:6379/0".into(), key_prefix: String::new() };
        let clickhouse = ClickHouseSettings { password: "s3cret".into(), ..ClickHouseSettings::default() };
        let printed = serde_json::to_string(&(redis, clickhouse, ClickHouseSettings::default())).unwrap();
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains(r#""redis://tickbar:(set)@10.0.0.5:6379/0""#), "{printed}");
        assert!(printed.contains(r#""password":"(set)""#) && printed.contains(r#""password":"""#), "{printed}");
        let plain = serde_json::to_string(&RedisSettings::default()).unwrap();
        assert!(plain.contains(r#""redis://127.0.0.1:6379/0""#), "{plain}");
    }
}
