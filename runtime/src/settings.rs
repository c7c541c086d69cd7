//! The settings sections the services share, with the local stack's defaults. Each service adds
//! its own sections and loads all of them from its TOML file and `TICKBAR__SECTION__KEY` variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::keys::Keys;
use common::calendar::BeyondList;

/// `[redis]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[user][:password@]host:port/db`; `check-config` hides the password.
    #[serde(serialize_with = "redacted_url")]
    pub url: String,
    /// Prepended to every key and channel, so deployments and tests can share one Redis.
    pub key_prefix: String,
    /// `[redis.tls]`: the CA and client certificate of a `rediss://` URL.
    pub tls: TlsSettings,
    /// How many producer shards split the symbols (`producer.shard` picks one); every service and
    /// feed of a deployment must agree on it. 1 is the single-producer layout.
    pub shards: u16,
    /// `standalone`: the server at `url`; `sentinel`: the master that `sentinels` name
    /// `master_name`, followed through failovers (`url` still gives the scheme, user, password
    /// and database); `cluster`: the Redis Cluster that `url` and `nodes` belong to.
    pub mode: RedisMode,
    /// Cluster mode: further nodes to learn the cluster from when `url`'s does not answer,
    /// `redis://host:port` (`rediss://` with `[redis.tls]`).
    pub nodes: Vec<String>,
    /// Sentinel mode: the Sentinels, `redis://host:26379` (`rediss://` with `[redis.tls]`), asked
    /// in turn for the master's address.
    pub sentinels: Vec<String>,
    /// Sentinel mode: the name the Sentinels monitor the master under.
    pub master_name: String,
    /// Writers (the producer's commits, `replay`'s ticks) wait after each write until this many
    /// replicas hold it (`WAIT`, at most `wait_timeout_ms`), so a failover loses none of it; 0:
    /// no wait.
    pub wait_replicas: u16,
    pub wait_timeout_ms: u64,
}

/// How the services find their Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    #[default]
    Standalone,
    Sentinel,
    Cluster,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: "redis://127.0.0.1:6379/0".into(),
            key_prefix: String::new(),
            tls: TlsSettings::default(),
            shards: 1,
            mode: RedisMode::Standalone,
            nodes: Vec::new(),
            sentinels: Vec::new(),
            master_name: "tickbar".into(),
            wait_replicas: 0,
            wait_timeout_ms: 5_000,
        }
    }
}

impl RedisSettings {
    /// The deployment's key names (seen from shard 0; [`Keys::shard`] picks another), laid out
    /// for Redis Cluster in cluster mode.
    pub fn keys(&self) -> Keys {
        let keys = Keys::sharded(self.key_prefix.clone(), self.shards);
        if self.mode == RedisMode::Cluster {
            keys.for_cluster()
        } else {
            keys
        }
    }

    /// Whether the settings make sense together; the message names the settings at fault.
    pub fn check(&self) -> Result<(), String> {
        if self.shards == 0 {
            return Err("redis.shards must be 1 or more".into());
        }
        if self.mode == RedisMode::Sentinel && (self.sentinels.is_empty() || self.master_name.is_empty()) {
            return Err("redis.mode = \"sentinel\" needs redis.sentinels and redis.master_name".into());
        }
        if self.mode == RedisMode::Cluster && self.wait_replicas > 0 {
            return Err("redis.wait_replicas is for standalone and sentinel mode: a Redis Cluster's writes are \
                        acknowledged by each node's own replicas, which WAIT on one connection cannot see"
                .into());
        }
        Ok(())
    }
}

/// `[redis.tls]`, `[clickhouse.tls]`: how a `rediss://` or `https://` connection trusts the server
/// and proves the client. Unset, the system's root certificates are trusted and no client
/// certificate is sent; a plain `redis://` or `http://` URL ignores them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file of the CA certificate(s) to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain), for servers that ask for one (mutual TLS).
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key; set together with `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// `[clickhouse]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseSettings {
    /// `http://host:8123`; user info in it is hidden by `check-config` like the password.
    #[serde(serialize_with = "redacted_url")]
    pub url: String,
    pub database: String,
    pub user: String,
    #[serde(serialize_with = "redacted")]
    pub password: String,
    /// `[clickhouse.tls]`: the CA and client certificate of an `https://` URL.
    pub tls: TlsSettings,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        ClickHouseSettings {
            url: "http://127.0.0.1:8123".into(),
            database: "tickbar".into(),
            user: "default".into(),
            password: String::new(),
            tls: TlsSettings::default(),
        }
    }
}

/// `[archive]`: the tick archive and the day's own bars in ClickHouse (docs/lifecycle.md). The
/// producer reads it to hold its stream's trimming back to the archiver's position; the consumer
/// runs the archiver and writes the live bars at the cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveSettings {
    /// Archive every tick the producer accepts into ClickHouse's `ticks` table; the producer then
    /// trims no stream entry the archiver has not passed.
    pub ticks: bool,
    /// At the nightly cleanup, write each cleaned day's closed Redis bars into ClickHouse as live
    /// bars (`live_bars`, and `bars` where no vendor bar is), so the day leaves Redis without a
    /// vendor resend; off, a day stays in Redis until the vendor's history of it arrives.
    pub bars: bool,
    /// Days of ticks kept in the archive (whole days, by the ticks' market date); 0 keeps them all.
    pub retention_days: u32,
    /// The consumer group on each tick stream whose position is the archiver's.
    pub group: String,
    /// The producer's group (`producer.group`): the archiver reads only entries it has committed.
    pub producer_group: String,
    /// Stream entries read per archive batch at most.
    pub batch_entries: usize,
    /// Ticks one archive INSERT holds, about: a batch of whole-market payloads is cut at this many.
    pub batch_ticks: usize,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        ArchiveSettings {
            ticks: true,
            bars: true,
            retention_days: 0,
            group: "tickbar-archive".into(),
            producer_group: "tickbar-producer".into(),
            batch_entries: 2_000,
            batch_ticks: 200_000,
        }
    }
}

/// `[http]`: where a service serves its monitor page, `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// How often the monitor page's charts are sampled; they keep the last hour.
    #[serde(default = "HttpSettings::default_chart_interval_ms")]
    pub chart_interval_ms: u64,
}

impl HttpSettings {
    pub const PRODUCER: &'static str = "127.0.0.1:9101";
    pub const CONSUMER: &'static str = "127.0.0.1:9102";
    pub const QUERY_API: &'static str = "127.0.0.1:8080";

    /// The settings with one of the default addresses above.
    pub fn on(listen: &str) -> HttpSettings {
        let listen = listen.parse().expect("default listen addresses are valid");
        HttpSettings { listen, chart_interval_ms: HttpSettings::default_chart_interval_ms() }
    }

    fn default_chart_interval_ms() -> u64 {
        10_000
    }
}

/// `[calendar]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSettings {
    /// A `date,name` CSV of weekday closures replacing the bundled list; unset means the bundled one.
    pub holidays_file: Option<PathBuf>,
    /// A `date,change,from,to,source` CSV of day overrides (halts, early closes, late opens,
    /// closed days) replacing the bundled ones; unset means the bundled ones.
    pub overrides_file: Option<PathBuf>,
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

/// A URL as `check-config` prints it: its user info (a password, which may itself hold `@` or
/// `/`, or a bare token) shown as `(set)`, the user name kept.
pub fn redacted_url<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hide_user_info(url))
}

/// An endpoint whose path and query may carry a secret (a webhook such as Slack's): only its
/// scheme and host are printed, the rest as `(set)`.
pub fn redacted_endpoint<S: serde::Serializer>(url: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    let Some(url) = url else { return serializer.serialize_none() };
    let hidden = hide_user_info(url);
    let shown = match hidden.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let more = if rest.len() > host.len() { "/(set)" } else { "" };
            format!("{scheme}://{host}{more}")
        }
        None => "(set)".to_owned(),
    };
    serializer.serialize_str(&shown)
}

fn hide_user_info(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    // The host never holds `@`: everything before the last one is user info, whatever it holds.
    let Some((user_info, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match user_info.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:(set)@{host}"),
        None => format!("{scheme}://(set)@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_settings_show_whether_a_secret_is_set_never_its_value() {
        let redis = RedisSettings { url: "redis://tickbar:s3cret@10.0.0.5:6379/0".into(), ..RedisSettings::default() };
        let clickhouse = ClickHouseSettings { password: "s3cret".into(), ..ClickHouseSettings::default() };
        let printed = serde_json::to_string(&(redis, clickhouse, ClickHouseSettings::default())).unwrap();
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains(r#""redis://tickbar:(set)@10.0.0.5:6379/0""#), "{printed}");
        assert!(printed.contains(r#""password":"(set)""#) && printed.contains(r#""password":"""#), "{printed}");
        let plain = serde_json::to_string(&RedisSettings::default()).unwrap();
        assert!(plain.contains(r#""redis://127.0.0.1:6379/0""#), "{plain}");
        for (url, shown) in [
            ("redis://u:p@ss/w@rd@10.0.0.5:6379/0", "redis://u:(set)@10.0.0.5:6379/0"),
            ("https://reader:s3cret@ch.example:8443", "https://reader:(set)@ch.example:8443"),
            ("http://t0ken@host:8123", "http://(set)@host:8123"),
        ] {
            let redis = RedisSettings { url: url.into(), ..RedisSettings::default() };
            let printed = serde_json::to_value(&redis).unwrap();
            assert_eq!(printed["url"], shown);
            let clickhouse = ClickHouseSettings { url: url.into(), ..ClickHouseSettings::default() };
            assert_eq!(serde_json::to_value(&clickhouse).unwrap()["url"], shown);
        }
        #[derive(Serialize)]
        struct Hook(#[serde(serialize_with = "redacted_endpoint")] Option<String>);
        let hook = serde_json::to_string(&Hook(Some("https://hooks.example/services/T0/B0/XyZsecret".into()))).unwrap();
        assert_eq!(hook, r#""https://hooks.example/(set)""#);
    }

    #[test]
    fn sentinel_mode_needs_its_sentinels_and_the_master_name() {
        assert_eq!(RedisSettings::default().check(), Ok(()));
        let sentinel = RedisSettings { mode: RedisMode::Sentinel, ..RedisSettings::default() };
        assert!(sentinel.check().unwrap_err().contains("redis.sentinels"));
        let named = RedisSettings { sentinels: vec!["redis://10.0.0.7:26379".into()], ..sentinel.clone() };
        assert_eq!(named.check(), Ok(()));
        assert!(RedisSettings { master_name: String::new(), ..named }.check().is_err());
        assert!(RedisSettings { shards: 0, ..RedisSettings::default() }.check().is_err());
        let cluster = RedisSettings { mode: RedisMode::Cluster, ..RedisSettings::default() };
        assert_eq!(cluster.check(), Ok(()));
        assert_eq!(cluster.keys().tick_stream(), "ticks:{0}", "cluster keys carry their shard's tag");
        let waiting = RedisSettings { wait_replicas: 1, ..cluster };
        assert!(waiting.check().unwrap_err().contains("redis.wait_replicas"));
        let parsed: RedisSettings =
            serde_json::from_str(r#"{"mode":"cluster","nodes":["redis://n2:6379","redis://n3:6379"]}"#).unwrap();
        assert_eq!((parsed.mode, parsed.nodes.len()), (RedisMode::Cluster, 2));
        let parsed: RedisSettings =
            serde_json::from_str(r#"{"mode":"sentinel","sentinels":["redis://s:26379"]}"#).unwrap();
        assert_eq!((parsed.mode, parsed.master_name.as_str()), (RedisMode::Sentinel, "tickbar"));
    }
}
