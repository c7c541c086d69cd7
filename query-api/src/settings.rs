//! The query API's settings: Redis for same-day bars, ClickHouse for history, and `[api]`.

use common::BarSettings;
use runtime::alert::AlertSettings;
use runtime::settings::{CalendarSettings, ClickHouseSettings, ClockSettings, HttpSettings, RedisSettings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryApiSettings {
    pub redis: RedisSettings,
    pub clickhouse: ClickHouseSettings,
    pub http: HttpSettings,
    pub calendar: CalendarSettings,
    pub clock: ClockSettings,
    /// Alerts to chat receivers (docs/operations.md, "Alerts").
    pub alerts: AlertSettings,
    pub api: ApiSection,
    /// The producer's `[bars]`: its `periods` are what the stores hold and its `layout` the sessions
    /// longer bars are built on (the other keys are the producer's own and ignored here).
    pub bars: BarSettings,
}

impl Default for QueryApiSettings {
    fn default() -> Self {
        QueryApiSettings {
            redis: RedisSettings::default(),
            clickhouse: ClickHouseSettings::default(),
            http: HttpSettings::on(HttpSettings::QUERY_API),
            calendar: CalendarSettings::default(),
            clock: ClockSettings::default(),
            alerts: AlertSettings::default(),
            api: ApiSection::default(),
            bars: BarSettings::default(),
        }
    }
}

runtime::service_settings!(QueryApiSettings);

/// `[api]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// When set, every `/api` route needs `Authorization: Bearer <token>`.
    #[serde(serialize_with = "runtime::settings::redacted")]
    pub token: Option<String>,
    /// With a token, `/metrics` and the monitor pages need it too (Bearer, or Basic with the token
    /// as password, which a browser asks for); `/healthz` and `/readyz` stay open.
    pub token_guards_ops: bool,
    /// Event streams (`/api/v1/stream/bars`) served at once; one more is answered 503.
    pub max_streams: usize,
    /// Origins (`https://host:port`, or `"*"` for any) browsers may call the API from; empty allows
    /// none but our own.
    pub cors_origins: Vec<String>,
    /// Requests answered at once; further ones wait for a turn within `timeout_ms`.
    pub max_concurrency: usize,
    /// How long a request may wait and run before it is answered with a 503 `timeout`.
    pub timeout_ms: u64,
    /// Redis connections the bar reads take turns on (each decodes its replies on one core).
    pub redis_connections: usize,
    /// The longest range of one request, in days of 1-minute bars: a period of N minutes may span
    /// N times as many days (the same number of bars).
    pub max_range_days: u32,
    /// The most symbols one `symbols=` request may list.
    pub max_symbols: usize,
    /// The most ticks one `/api/v1/ticks` answer may hold; a range holding more is a 400 that says
    /// to split it.
    pub max_ticks: usize,
    /// About how many bars a CSV, Arrow or Parquet answer reads and sends at a time: its symbols
    /// are read in groups of about this many bars (one Redis pipeline and one ClickHouse query each).
    pub stream_chunk_bars: u64,
    /// The producer's monitor page, linked from the query page.
    pub producer_monitor_url: String,
    /// The consumer's monitor page, linked from the query page.
    pub consumer_monitor_url: String,
    /// Memory for history answers kept between requests (`store::cache`), in MiB; 0 turns the
    /// cache off.
    pub history_cache_mb: u64,
    /// Memory for the closed bars of the days Redis holds, kept while the producer's version of
    /// each (period, symbol) holds, in MiB; 0 turns this cache off.
    pub day_cache_mb: u64,
    /// The longest an answer is kept by either cache, for writers that bump no version.
    pub cache_ttl_ms: u64,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            token: None,
            token_guards_ops: false,
            max_streams: 512,
            cors_origins: Vec::new(),
            max_concurrency: 64,
            timeout_ms: 10_000,
            redis_connections: 4,
            max_range_days: 366,
            max_symbols: 1_000,
            max_ticks: 1_000_000,
            stream_chunk_bars: 250_000,
            producer_monitor_url: format!("http://{}/", HttpSettings::PRODUCER),
            consumer_monitor_url: format!("http://{}/", HttpSettings::CONSUMER),
            history_cache_mb: 256,
            day_cache_mb: 256,
            cache_ttl_ms: 600_000,
        }
    }
}
