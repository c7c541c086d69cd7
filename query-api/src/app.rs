//! What the handlers share: the calendar, the two stores, the live-bar hub, the monitor and the
//! `[api]` settings, built once from the service's settings.

use std::sync::Arc;
use std::time::Duration;

use common::{Period, TradingCalendar};
use runtime::alert::Alerts;
use runtime::calendar::{LiveCalendar, Market};
use runtime::clock::Clock;
use runtime::keys::Keys;
use tokio::sync::watch;
use tower_http::cors::CorsLayer;

use crate::error::{AppError, Result};
use crate::guard::{self, StreamLimit};
use crate::live::Hub;
use crate::monitor::Monitor;
use crate::params::Limits;
use crate::settings::{ApiSection, QueryApiSettings};
use crate::store::cache::{HistoryCache, Kept};
use crate::store::clickhouse::History;
use crate::store::redis::SameDay;

/// The service's state, one `Arc` shared by every request.
pub struct App {
    /// The calendar followed (changes stored in Redis applied within a second) and the sessions of
    /// the producer's bar layout on it.
    pub market: Arc<Market>,
    /// What "now" is: the end of `count` queries and snapshots, which bars are forming.
    pub clock: Clock,
    pub same_day: Arc<SameDay>,
    pub history: History,
    /// History answers kept while their versions hold; `None` with `api.history_cache_mb = 0`.
    pub history_cache: Option<Arc<HistoryCache>>,
    pub hub: Arc<Hub>,
    pub keys: Keys,
    pub max_range_days: u32,
    pub max_symbols: usize,
    /// The periods the producer and the consumer store (`[bars] periods`).
    pub periods: Vec<Period>,
    pub monitor: Arc<Monitor>,
    pub api: ApiSection,
    /// `api.cors_origins` as checked at the start.
    pub cors: Option<CorsLayer>,
    /// `api.max_streams`: the event streams open and the room for more.
    pub streams: StreamLimit,
    /// Turns true at shutdown, ending open event streams.
    pub stop: watch::Receiver<bool>,
}

impl App {
    /// The trading calendar now.
    pub fn calendar(&self) -> Arc<TradingCalendar> {
        self.market.calendar().days()
    }

    /// What one request may ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            max_range_days: self.max_range_days,
            max_symbols: self.max_symbols,
            periods: self.periods.clone(),
            max_ticks: self.api.max_ticks.max(1),
        }
    }

    /// The state for `settings`. Connections are made on first use (and remade after a failure),
    /// so a store that is down at the start makes 503s, not a failed start; the live-bar hub's task
    /// is started and ends when `stop` turns true. A setting that cannot work is an error.
    pub fn connect(
        settings: &QueryApiSettings,
        calendar: LiveCalendar,
        clock: Clock,
        stop: watch::Receiver<bool>,
    ) -> Result<App> {
        let bad_url = |e: redis::RedisError| AppError::Settings(format!("redis: {e}"));
        let keys = settings.redis.keys();
        let connections = (0..settings.api.redis_connections.max(1))
            .map(|_| runtime::redis::connect(&settings.redis))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad_url)?;
        let ttl = Duration::from_millis(settings.api.cache_ttl_ms);
        let day_cache = (settings.api.day_cache_mb > 0).then(|| Kept::new(settings.api.day_cache_mb << 20, ttl));
        let subscribe_through = connections[0].clone();
        let same_day = Arc::new(SameDay::new(connections, keys.clone(), day_cache));
        let clickhouse =
            runtime::clickhouse::client(&settings.clickhouse).map_err(|e| AppError::Settings(e.to_string()))?;
        let history = History::new(clickhouse, &settings.clickhouse.database);
        tokio::spawn(runtime::calendar::follow(
            subscribe_through.clone(),
            keys.clone(),
            calendar.clone(),
            stop.clone(),
        ));
        let hub = Hub::start(subscribe_through, stop.clone());
        hub.follow_forming(same_day.clone(), clock, stop.clone());
        let history_cache = (settings.api.history_cache_mb > 0)
            .then(|| Arc::new(HistoryCache::new(settings.api.history_cache_mb << 20, ttl)));
        let cache = history_cache.clone();
        let charts = settings.http.chart_interval_ms;
        let monitor = Arc::new(Monitor::new(
            same_day.clone(),
            history.clone(),
            cache,
            hub.clone(),
            calendar.clone(),
            charts,
            Alerts::new(&settings.alerts, "query-api", runtime::instance_name(""), clock)
                .map_err(|e| AppError::Settings(e.to_string()))?,
        ));
        Ok(App {
            market: Arc::new(Market::new(settings.bars.layout, calendar)),
            clock,
            same_day,
            history,
            history_cache,
            hub,
            keys,
            max_range_days: settings.api.max_range_days.max(1),
            max_symbols: settings.api.max_symbols.max(1),
            periods: settings.bars.periods.clone(),
            monitor,
            api: settings.api.clone(),
            cors: guard::cors(&settings.api.cors_origins).map_err(AppError::Settings)?,
            streams: StreamLimit::new(settings.api.max_streams.max(1)),
            stop,
        })
    }
}
