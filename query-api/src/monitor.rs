//! What the query API shows about itself: request counts and latency per route, bars served per
//! store, the stores' state and the live-bar subscriptions, behind its monitor page
//! (`/monitor/`), `/metrics` and `/readyz`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use runtime::alert::{Alerts, Reading, Rule};
use runtime::calendar::LiveCalendar;
use runtime::charts::{Charts, Figure};
use runtime::metrics::{Durations, Metrics, Rate};
use runtime::ops::Ops;
use runtime::stores::{Store, StoreState};
use serde::Serialize;

use crate::live::Hub;
use crate::served::Sources;
use crate::store::cache::{CacheStatus, HistoryCache};
use crate::store::clickhouse::History;
use crate::store::redis::SameDay;

/// How far back the 5xx rate of the `api_errors` alert looks.
const ERROR_WINDOW: Duration = Duration::from_secs(60);
/// Request durations kept for the latency percentiles of the monitor page.
const LATENCY_SAMPLES: usize = 4096;

/// What the last probe of the stores found.
#[derive(Debug, Clone, Default)]
struct Probed {
    redis: StoreState,
    clickhouse: StoreState,
    errors: BTreeMap<Store, String>,
    days_held: Vec<String>,
}

/// The figures of the monitor page, as `/monitor/api/status` serves them.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub uptime_seconds: u64,
    pub redis: StoreState,
    pub clickhouse: StoreState,
    /// Why a store that is down failed, by store.
    pub errors: BTreeMap<Store, String>,
    pub days_held: Vec<String>,
    pub requests: u64,
    pub requests_per_second: f64,
    /// Over the last 4096 answered queries (event streams excluded).
    pub latency_ms: Latency,
    pub by_route: Vec<RouteCount>,
    pub bars_served: BarsServed,
    pub live: LiveStatus,
    /// `None` when the cache is off.
    pub history_cache: Option<CacheStatus>,
    /// The cache of the days Redis holds; `None` when it is off.
    pub day_cache: Option<CacheStatus>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteCount {
    pub route: String,
    pub status: u16,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct BarsServed {
    pub redis: u64,
    pub clickhouse: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct LiveStatus {
    pub connected: bool,
    pub clients: usize,
    pub channels: usize,
    pub forwarded: u64,
}

/// Shared by the request tracking, the handlers and the ops endpoints.
pub struct Monitor {
    started: Instant,
    routes: Mutex<BTreeMap<(String, u16), u64>>,
    latencies: Mutex<VecDeque<Duration>>,
    durations: Durations,
    /// Answers with a 4xx and a 5xx status.
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    charts: Charts,
    probed: Mutex<Probed>,
    requests: AtomicU64,
    rate: Rate,
    served_redis: AtomicU64,
    served_clickhouse: AtomicU64,
    same_day: Arc<SameDay>,
    history: History,
    cache: Option<Arc<HistoryCache>>,
    hub: Arc<Hub>,
    calendar: LiveCalendar,
    alerts: Arc<Alerts>,
    /// The rate of 5xx answers the `api_errors` alert reads.
    server_error_rate: Rate,
}

impl Monitor {
    pub fn new(
        same_day: Arc<SameDay>,
        history: History,
        cache: Option<Arc<HistoryCache>>,
        hub: Arc<Hub>,
        calendar: LiveCalendar,
        chart_interval_ms: u64,
        alerts: Arc<Alerts>,
    ) -> Monitor {
        Monitor {
            started: Instant::now(),
            routes: Mutex::new(BTreeMap::new()),
            latencies: Mutex::new(VecDeque::with_capacity(LATENCY_SAMPLES)),
            durations: Durations::default(),
            client_errors: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            charts: Charts::new(chart_interval_ms),
            probed: Mutex::new(Probed::default()),
            requests: AtomicU64::new(0),
            rate: Rate::new(Duration::from_secs(5)),
            served_redis: AtomicU64::new(0),
            served_clickhouse: AtomicU64::new(0),
            same_day,
            history,
            cache,
            hub,
            calendar,
            alerts,
            server_error_rate: Rate::new(ERROR_WINDOW),
        }
    }

    /// Counts bars served from each store.
    pub fn served(&self, sources: Sources) {
        for store in Store::ALL {
            self.served_from(store).fetch_add(sources.get(store) as u64, Ordering::Relaxed);
        }
    }

    fn served_from(&self, store: Store) -> &AtomicU64 {
        match store {
            Store::Redis => &self.served_redis,
            Store::ClickHouse => &self.served_clickhouse,
        }
    }

    fn record(&self, route: String, status: u16, took: Option<Duration>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self.routes.lock().entry((route, status)).or_default() += 1;
        match status {
            400..=499 => self.client_errors.fetch_add(1, Ordering::Relaxed),
            500.. => self.server_errors.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        if let Some(took) = took {
            self.durations.record(took);
            let mut latencies = self.latencies.lock();
            if latencies.len() == LATENCY_SAMPLES {
                latencies.pop_front();
            }
            latencies.push_back(took);
        }
    }

    fn latency(&self) -> Latency {
        let mut ms: Vec<f64> = self.latencies.lock().iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        if ms.is_empty() {
            return Latency::default();
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Latency { p50: at(0.5), p99: at(0.99), max: at(1.0) }
    }
}

/// Counts every request by route and status; times the ones that are not event streams.
pub async fn track(State(monitor): State<Arc<Monitor>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let streaming = route.starts_with("/api/v1/stream/");
    monitor.record(route, response.status().as_u16(), (!streaming).then(|| started.elapsed()));
    response
}

impl Ops for Monitor {
    type Status = Status;

    fn calendar(&self) -> &LiveCalendar {
        &self.calendar
    }

    /// Pings both stores and reads the days Redis holds.
    async fn probe(&self) {
        let (redis, clickhouse) = tokio::join!(self.same_day.ping(), self.history.ping());
        let errors = [(Store::Redis, &redis), (Store::ClickHouse, &clickhouse)]
            .into_iter()
            .filter_map(|(store, answer)| Some((store, answer.as_ref().err()?.to_string())))
            .collect();
        let days_held = match &redis {
            Ok(()) => self.same_day.days_held().await.map(|d| d.iter().map(ToString::to_string).collect()),
            Err(_) => Ok(Vec::new()),
        };
        *self.probed.lock() = Probed {
            redis: StoreState::of(&redis),
            clickhouse: StoreState::of(&clickhouse),
            errors,
            days_held: days_held.unwrap_or_default(),
        };
    }

    /// The figures as of the last probe.
    fn status(&self) -> Status {
        let probed = self.probed.lock().clone();
        let requests = self.requests.load(Ordering::Relaxed);
        let (clients, channels) = self.hub.counts();
        Status {
            uptime_seconds: self.started.elapsed().as_secs(),
            redis: probed.redis,
            clickhouse: probed.clickhouse,
            errors: probed.errors,
            days_held: probed.days_held,
            requests,
            requests_per_second: self.rate.sample(requests),
            latency_ms: self.latency(),
            by_route: (self.routes.lock().iter())
                .map(|((route, status), count)| RouteCount { route: route.clone(), status: *status, count: *count })
                .collect(),
            bars_served: BarsServed {
                redis: self.served_redis.load(Ordering::Relaxed),
                clickhouse: self.served_clickhouse.load(Ordering::Relaxed),
            },
            live: LiveStatus {
                connected: self.hub.connected(),
                clients,
                channels,
                forwarded: self.hub.forwarded.load(Ordering::Relaxed),
            },
            history_cache: self.cache.as_ref().map(|c| c.status()),
            day_cache: self.same_day.day_cache_status(),
        }
    }

    async fn ready(&self) -> Result<(), String> {
        self.same_day.ping().await.map_err(|e| e.to_string())?;
        self.history.ping().await.map_err(|e| e.to_string())
    }

    fn metrics(&self) -> String {
        let s = self.status();
        let mut m = Metrics::new();
        for r in &s.by_route {
            let status = r.status.to_string();
            let labels = [("route", r.route.as_str()), ("status", status.as_str())];
            m.counter("tickbar_api_requests_total", "Requests answered, by route and status.", &labels, r.count);
        }
        let help = "Time to answer a query (event streams excluded), in seconds.";
        self.durations.write(&mut m, "tickbar_api_request_duration_seconds", help);
        for (store, n) in [("redis", s.bars_served.redis), ("clickhouse", s.bars_served.clickhouse)] {
            m.counter(
                "tickbar_api_bars_served_total",
                "Bars served, by the store they came from.",
                &[("store", store)],
                n,
            );
        }
        for (store, state) in [(Store::Redis, s.redis), (Store::ClickHouse, s.clickhouse)] {
            m.gauge("tickbar_api_store_up", "Whether a store answers.", &[("store", store.as_str())], state.gauge());
        }
        let help = "Trading dates Redis holds bars for (a count of dates, not a duration).";
        m.gauge("tickbar_api_dates_held", help, &[], s.days_held.len() as f64);
        m.gauge("tickbar_api_live_clients", "Open live-bar event streams.", &[], s.live.clients as f64);
        m.gauge("tickbar_api_live_channels", "Redis channels subscribed for live bars.", &[], s.live.channels as f64);
        m.counter("tickbar_api_live_bars_total", "Live bars received from Redis.", &[], s.live.forwarded);
        // Each family's samples in one group, as the text format wants them.
        let caches: Vec<(&str, CacheStatus)> = [("history", s.history_cache), ("day", s.day_cache)]
            .into_iter()
            .filter_map(|(cache, status)| status.map(|c| (cache, c)))
            .collect();
        let help = "Answers per symbol (and day): from a cache, read from its store, or past a silent Redis.";
        for (cache, c) in &caches {
            for (result, n) in [("hit", c.hits), ("miss", c.misses), ("bypass", c.bypassed)] {
                m.counter("tickbar_api_cache_total", help, &[("cache", cache), ("result", result)], n);
            }
        }
        for (cache, c) in &caches {
            m.gauge("tickbar_api_cache_bytes", "Memory a cache holds.", &[("cache", cache)], c.bytes as f64);
        }
        m.finish()
    }

    fn charts(&self) -> &Charts {
        &self.charts
    }

    fn alerts(&self) -> &Arc<Alerts> {
        &self.alerts
    }

    /// Whether Redis and ClickHouse answer, and the 5xx answers a minute.
    fn readings(&self) -> Vec<Reading> {
        let probed = self.probed.lock().clone();
        let down = |store: Store, state: StoreState, rule: Rule| {
            Reading::store_down(
                rule,
                store.as_str(),
                state == StoreState::Down,
                probed.errors.get(&store).map(String::as_str),
            )
        };
        let per_minute = (self.server_error_rate.sample(self.server_errors.load(Ordering::Relaxed)) * 60.0).round();
        let detail = format!("{per_minute} answers a minute are server errors (5xx; the log says why)");
        vec![
            down(Store::Redis, probed.redis, Rule::RedisDown),
            down(Store::ClickHouse, probed.clickhouse, Rule::ClickhouseDown),
            Reading::new(Rule::ApiErrors, per_minute, detail),
        ]
    }

    fn figures(&self) -> Vec<Figure> {
        let latency = self.latency();
        vec![
            Figure::Rate { name: "requests", total: self.requests.load(Ordering::Relaxed), per_seconds: 1.0 },
            Figure::Level { name: "p50_ms", value: latency.p50 },
            Figure::Level { name: "p99_ms", value: latency.p99 },
            Figure::Rate {
                name: "client_errors",
                total: self.client_errors.load(Ordering::Relaxed),
                per_seconds: 60.0,
            },
            Figure::Rate {
                name: "server_errors",
                total: self.server_errors.load(Ordering::Relaxed),
                per_seconds: 60.0,
            },
        ]
    }
}
