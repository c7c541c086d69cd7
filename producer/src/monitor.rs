//! What the producer shows: the figures behind the monitor page (`/`, `/api/status`, the charts'
//! `/api/charts`), the Prometheus `/metrics`, and readiness (Redis answers, the state is recovered
//! or another producer is active, and no fault stops it); its role (active or standby) and who
//! holds the lease; and the stale symbols, which traded today and have gone silent in a session.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use common::time::{split_ms, DayNumber};
use common::{BarAggregator, Frame, Period, Sessions, Symbol, TickOutcome, TradingCalendar};
use runtime::charts::{Charts, Figure};
use runtime::clock::Clock;
use runtime::metrics::{Metrics, Rate};
use runtime::ops::Ops;
use runtime::stores::{Role, StoreState};
use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use crate::engine::{Counters, Engine};
use crate::error::Error;
use crate::settings::{BarClock, ProducerSettings};
use crate::store::Store;

/// How far back the ticks-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// How often the symbols' last ticks are copied from the engine for the stale check.
const LAST_TICKS_EVERY: Duration = Duration::from_secs(5);
/// The most stale symbols listed (the longest silent first); all are counted.
const STALE_LISTED: usize = 50;

/// Symbols that traded today and sent no tick for `after_minutes` of their sessions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stale {
    pub after_minutes: u16,
    pub count: usize,
    /// The longest silent first, at most 50.
    pub symbols: Vec<StaleSymbol>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleSymbol {
    pub symbol: String,
    pub last_tick: String,
    pub silent_minutes: u16,
}

/// The symbols' last ticks as of a commit, and the latest tick time then.
#[derive(Debug, Default)]
struct LastTicks {
    taken: Option<Instant>,
    latest_ms: Option<i64>,
    ticks: Vec<(Symbol, i64)>,
}

/// The figures of the monitor page, as `/api/status` serves them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub clock: BarClock,
    pub redis: StoreState,
    /// This producer's name in the lease.
    pub instance: String,
    /// The symbol shard it serves (`producer.shard`) of how many (`redis.shards`).
    pub shard: u16,
    pub shards: u16,
    /// `active`: it holds the lease and builds bars; `standby`: another one does.
    pub role: Role,
    /// The lease's holder, `{fence} {instance}`: the active producer, this one or another.
    pub lease: Option<String>,
    /// Working off a backlog in event time (after a restart or a pause) rather than on the wall clock.
    pub catching_up: bool,
    /// What stops this producer until someone acts (an unusable saved state); `/readyz` says it too.
    pub fault: Option<String>,
    /// The last error that it retries by itself (Redis away, the lease lost).
    pub last_error: Option<String>,
    pub recovered: bool,
    pub ticks_per_second: f64,
    pub symbols_active: usize,
    pub last_tick_time: Option<String>,
    pub last_entry_id: String,
    pub stream_lag: Option<u64>,
    pub counters: Counters,
    pub bars_closed: BTreeMap<u16, u64>,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub recoveries: u64,
    pub stale: Stale,
}

/// Shared between the worker, which reports each commit, and the HTTP handlers.
pub struct Monitor {
    status: Mutex<Status>,
    rate: Rate,
    recoveries: AtomicU64,
    store: AsyncMutex<Store>,
    calendar: Arc<TradingCalendar>,
    sessions: Sessions,
    last_ticks: Mutex<LastTicks>,
    charts: Charts,
    clock: Clock,
}

impl Monitor {
    /// `store` is the monitor's own connection, so a blocked stream read never delays a probe.
    pub fn new(settings: &ProducerSettings, store: Store, calendar: Arc<TradingCalendar>, clock: Clock) -> Monitor {
        let (bar_clock, instance) = (settings.producer.clock, runtime::instance_name(&settings.producer.instance));
        let stale = Stale { after_minutes: settings.producer.stale_after_minutes, ..Stale::default() };
        let (shard, shards) = (settings.producer.shard, settings.redis.shards);
        Monitor {
            status: Mutex::new(Status { clock: bar_clock, instance, shard, shards, stale, ..Status::default() }),
            rate: Rate::new(RATE_WINDOW),
            recoveries: AtomicU64::new(0),
            store: AsyncMutex::new(store),
            calendar,
            sessions: Sessions::new(settings.bars.layout),
            last_ticks: Mutex::new(LastTicks::default()),
            charts: Charts::new(settings.http.chart_interval_ms),
            clock,
        }
    }

    /// The clock stale symbols are judged on: the wall clock, or the latest tick in event time.
    fn now_ms(&self, clock: BarClock, latest_ms: Option<i64>) -> Option<i64> {
        match clock {
            BarClock::Wall => Some(self.clock.now_ms()),
            BarClock::Event => latest_ms,
        }
    }

    /// Copies the last tick of each symbol that traded today, at most every few seconds or each
    /// minute of event time (a fast replay).
    fn take_last_ticks(&self, agg: &BarAggregator, latest_ms: Option<i64>, clock: BarClock) {
        let mut last = self.last_ticks.lock().expect("last ticks lock");
        let moved = |before: Option<i64>| latest_ms.zip(before).is_none_or(|(now, then)| now - then >= 60_000);
        if last.taken.is_some_and(|t| t.elapsed() < LAST_TICKS_EVERY) && !moved(last.latest_ms) {
            return;
        }
        if let Some(now) = self.now_ms(clock, latest_ms) {
            let today: DayNumber = split_ms(now).0;
            *last = LastTicks { taken: Some(Instant::now()), latest_ms, ticks: agg.last_ticks(today).collect() };
        }
    }

    /// The stale symbols now, from the last ticks copied.
    fn stale(&self, clock: BarClock, after_minutes: u16) -> Stale {
        let last = self.last_ticks.lock().expect("last ticks lock");
        let (Some(now), true) = (self.now_ms(clock, last.latest_ms), after_minutes > 0) else {
            return Stale { after_minutes, ..Stale::default() };
        };
        let mut silent: Vec<(u16, Symbol, i64)> = (last.ticks.iter())
            .filter_map(|&(symbol, at)| Some((self.sessions.session_minutes(symbol, at, now)?, symbol, at)))
            .filter(|(minutes, ..)| *minutes >= after_minutes)
            .collect();
        silent.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let symbols = (silent.iter().take(STALE_LISTED))
            .map(|&(silent_minutes, symbol, at)| StaleSymbol {
                symbol: symbol.to_string(),
                last_tick: Frame::from_epoch_seconds(at.div_euclid(1000)).to_iso8601(),
                silent_minutes,
            })
            .collect();
        Stale { after_minutes, count: silent.len(), symbols }
    }

    fn update<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        f(&mut self.status.lock().expect("status lock"))
    }

    /// This producer took the lease (`lease` is its value).
    pub fn active(&self, lease: &str) {
        tracing::info!(lease, "producer active");
        self.update(|s| (s.role, s.lease, s.redis) = (Role::Active, Some(lease.to_owned()), StoreState::Up));
    }

    /// Another producer holds the lease; logged when the holder changes.
    pub fn standing_by(&self, holder: &str) {
        let news = self.update(|s| {
            let news = s.role != Role::Standby || s.lease.as_deref() != Some(holder);
            (s.role, s.lease, s.redis) = (Role::Standby, Some(holder.to_owned()), StoreState::Up);
            (s.recovered, s.fault) = (false, None);
            news
        });
        if news {
            tracing::info!(holder, "another producer is active; standing by");
        }
    }

    /// Something failed: a fault when retrying alone cannot help, else retried; logged when it
    /// changes, so a fault repeated every few seconds is not a flood.
    pub fn failed(&self, e: &Error) {
        let message = e.to_string();
        let news = self.update(|s| {
            let slot = if e.is_retryable() { &mut s.last_error } else { &mut s.fault };
            let news = slot.as_deref() != Some(message.as_str());
            *slot = Some(message.clone());
            if matches!(e, Error::Redis(_)) {
                s.redis = StoreState::Down;
            }
            if !matches!(e, Error::Fenced(_) | Error::Redis(_)) {
                s.recovered = false;
            }
            news
        });
        match (news, e.is_retryable()) {
            (false, _) => {}
            (true, true) => tracing::warn!(error = %e, "retrying after a backoff"),
            (true, false) => {
                tracing::error!(error = %e, "cannot build bars until this is repaired (see docs/operations.md)")
            }
        }
    }

    /// Whether a fault stops the producer.
    pub fn faulty(&self) -> bool {
        self.update(|s| s.fault.is_some())
    }

    pub fn recovered(&self, engine: &Engine, catching_up: bool) {
        self.recoveries.fetch_add(1, Ordering::Relaxed);
        self.update(|s| s.fault = None);
        self.committed(engine, catching_up);
    }

    /// Takes the figures of the engine after a commit.
    pub fn committed(&self, engine: &Engine, catching_up: bool) {
        let agg = engine.aggregator();
        let counters = engine.counters();
        let latest = agg.latest_tick_ms();
        let clock = self.update(|s| s.clock);
        self.take_last_ticks(agg, latest, clock);
        let mut s = self.status.lock().expect("status lock");
        s.recovered = true;
        s.catching_up = catching_up;
        s.redis = StoreState::Up;
        s.ticks_per_second = self.rate.sample(counters.ticks);
        s.symbols_active = latest.map_or(0, |ms| agg.symbols_on(split_ms(ms).0));
        s.last_tick_time = latest.map(|ms| Frame::from_epoch_seconds(ms.div_euclid(1000)).to_iso8601());
        s.last_entry_id = engine.last_id().to_string();
        s.counters = counters.clone();
        s.bars_closed = Period::ALL.iter().map(|p| (p.minutes(), counters.closed[p.index()])).collect();
        s.outcomes = TickOutcome::all().map(|o| (o.as_str(), agg.count(o))).collect();
    }

    /// The monitor page, its JSON, and the ops endpoints.
    pub fn routes(self: &Arc<Monitor>) -> Router {
        runtime::ops::monitor_routes(self.clone(), include_str!("monitor.html"))
    }
}

impl Ops for Monitor {
    type Status = Status;

    fn calendar(&self) -> &TradingCalendar {
        &self.calendar
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    /// Reads the stream backlog, and so whether Redis answers, and judges the stale symbols.
    async fn probe(&self) {
        let backlog = self.store.lock().await.backlog().await;
        let (clock, after) = self.update(|s| (s.clock, s.stale.after_minutes));
        let stale = self.stale(clock, after);
        self.update(|s| {
            s.stale = stale;
            match backlog {
                Ok(lag) => (s.stream_lag, s.redis) = (lag, StoreState::Up),
                Err(_) => s.redis = StoreState::Down,
            }
        });
    }

    /// The figures as of the last commit and probe.
    fn status(&self) -> Status {
        let mut s = self.status.lock().expect("status lock").clone();
        s.recoveries = self.recoveries.load(Ordering::Relaxed);
        if s.ticks_per_second > 0.0 {
            s.ticks_per_second = self.rate.sample(s.counters.ticks);
        }
        s
    }

    async fn ready(&self) -> Result<(), String> {
        self.store.lock().await.ping().await.map_err(|e| format!("redis: {e}"))?;
        self.update(|s| match (&s.fault, s.role, s.recovered) {
            (Some(fault), _, _) => Err(fault.clone()),
            (None, Role::Standby, _) | (None, _, true) => Ok(()),
            (None, _, false) => Err("state not recovered yet".into()),
        })
    }

    fn metrics(&self) -> String {
        let s = self.status();
        let c = &s.counters;
        let mut m = Metrics::new();
        m.counter("tickbar_producer_entries_total", "Stream entries read.", &[], c.entries);
        m.counter("tickbar_producer_ticks_total", "Ticks parsed from the entries.", &[], c.ticks);
        for (outcome, n) in &s.outcomes {
            m.counter(
                "tickbar_producer_tick_outcomes_total",
                "Ticks by what became of them.",
                &[("outcome", outcome)],
                *n,
            );
        }
        for (reason, n) in &c.dead {
            m.counter(
                "tickbar_producer_dead_letters_total",
                "Entries copied to ticks:dead, by reason.",
                &[("reason", reason.as_str())],
                *n,
            );
        }
        for p in Period::ALL {
            let period = p.minutes().to_string();
            let (closed, amended) = (c.closed[p.index()], c.amended[p.index()]);
            m.counter(
                "tickbar_producer_bars_total",
                "Bars written, by period and kind.",
                &[("period", &period), ("kind", "closed")],
                closed,
            );
            m.counter(
                "tickbar_producer_bars_total",
                "Bars written, by period and kind.",
                &[("period", &period), ("kind", "amended")],
                amended,
            );
        }
        m.gauge(
            "tickbar_producer_symbols_active",
            "Symbols with bars on the latest trading day.",
            &[],
            s.symbols_active as f64,
        );
        m.gauge("tickbar_producer_redis_up", "Whether Redis answers.", &[], s.redis.gauge());
        m.counter("tickbar_producer_recoveries_total", "Times the state was recovered from Redis.", &[], s.recoveries);
        if let Some(lag) = s.stream_lag {
            m.gauge("tickbar_producer_stream_lag", "Stream entries after the committed position.", &[], lag as f64);
        }
        m.gauge(
            "tickbar_producer_active",
            "1 when this producer holds its shard's lease, 0 on standby.",
            &[("instance", &s.instance), ("shard", &s.shard.to_string())],
            s.role.gauge(),
        );
        if let Some(lease) = &s.lease {
            m.gauge(
                "tickbar_producer_lease_holder",
                "The producer holding the lease, by its lease value.",
                &[("holder", lease)],
                1.0,
            );
        }
        m.gauge(
            "tickbar_producer_catching_up",
            "1 while a backlog is applied in event time.",
            &[],
            f64::from(u8::from(s.catching_up)),
        );
        m.gauge(
            "tickbar_producer_fault",
            "1 when a fault (an unusable saved state) stops the producer.",
            &[],
            f64::from(u8::from(s.fault.is_some())),
        );
        let help = "Symbols that traded today and sent no tick for producer.stale_after_minutes of their sessions.";
        m.gauge("tickbar_producer_stale_symbols", help, &[], s.stale.count as f64);
        m.finish()
    }

    fn charts(&self) -> &Charts {
        &self.charts
    }

    fn figures(&self) -> Vec<Figure> {
        let s = self.status.lock().expect("status lock");
        let c = &s.counters;
        vec![
            Figure::Rate { name: "ticks", total: c.ticks, per_seconds: 1.0 },
            Figure::Level { name: "stream_lag", value: s.stream_lag.unwrap_or(0) as f64 },
            Figure::Rate { name: "bars_closed", total: c.closed[Period::M1.index()], per_seconds: 60.0 },
            Figure::Rate { name: "dead_letters", total: c.dead.values().sum(), per_seconds: 60.0 },
            Figure::Level { name: "stale_symbols", value: s.stale.count as f64 },
        ]
    }
}
