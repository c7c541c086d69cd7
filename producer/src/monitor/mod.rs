//! What the producer shows: the figures behind the monitor page (`/`, `/api/status`, the charts'
//! `/api/charts`), the Prometheus `/metrics`, and readiness (Redis answers, the state is recovered
//! or another producer is active, and no fault stops it); its role (active or standby) and who
//! holds the lease; and the stale symbols, which traded today and have gone silent in a session.
//! The figures are [`status`]'s, the stale-feed rule is [`stale`]'s; this file keeps them up to
//! date and serves them.

mod stale;
mod status;

use stale::StaleWatch;
pub use stale::{Stale, StaleSymbol};
pub use status::Status;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use axum::Router;
use common::time::split_ms;
use common::{Frame, Period, TickOutcome};
use runtime::alert::{Alerts, Reading, Rule};
use runtime::calendar::LiveCalendar;
use runtime::charts::{Charts, Figure};
use runtime::metrics::Rate;
use runtime::ops::Ops;
use runtime::stores::{Role, StoreState};
use tokio::sync::Mutex as AsyncMutex;

use crate::engine::Engine;
use crate::error::Error;
use crate::settings::{BarClock, ProducerSettings};
use crate::store::StreamStore;

/// How far back the ticks-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// How far back the dead-letter rate of the `dead_letters` alert looks.
const DEAD_WINDOW: Duration = Duration::from_secs(60);
/// The stale symbols a `stale_symbols` alert names.
const STALE_NAMED: usize = 5;

/// Shared between the worker, which reports each commit, and the HTTP handlers.
pub struct Monitor {
    status: Mutex<Status>,
    rate: Rate,
    recoveries: AtomicU64,
    store: AsyncMutex<StreamStore>,
    calendar: LiveCalendar,
    stale: StaleWatch,
    charts: Charts,
    /// The stored periods (`bars.periods`), shortest first.
    periods: Vec<Period>,
    alerts: Arc<Alerts>,
    dead: Rate,
    /// Since when this producer stands by, and how long a lease lives: a standby that watched the
    /// holder for longer than two leases and then took over saw it stop (`standby_takeover`); a
    /// restart only waits out its own predecessor's lease.
    standby_since: Mutex<Option<tokio::time::Instant>>,
    lease_ttl: Duration,
}

impl Monitor {
    /// `store` is the monitor's own connection, so a blocked stream read never delays a probe; the
    /// clock is the alerts'.
    pub fn new(
        settings: &ProducerSettings,
        store: StreamStore,
        calendar: LiveCalendar,
        alerts: Arc<Alerts>,
    ) -> Monitor {
        let (bar_clock, instance) = (settings.producer.clock, runtime::instance_name(&settings.producer.instance));
        let stale = Stale { after_minutes: settings.producer.stale_after_minutes, ..Stale::default() };
        let (shard, shards) = (settings.producer.shard, settings.redis.shards);
        Monitor {
            status: Mutex::new(Status { clock: bar_clock, instance, shard, shards, stale, ..Status::default() }),
            rate: Rate::new(RATE_WINDOW),
            recoveries: AtomicU64::new(0),
            store: AsyncMutex::new(store),
            stale: StaleWatch::new(runtime::calendar::Market::new(settings.bars.layout, calendar.clone())),
            calendar,
            charts: Charts::new(settings.http.chart_interval_ms),
            periods: settings.bars.sorted_periods(),
            alerts,
            dead: Rate::new(DEAD_WINDOW),
            standby_since: Mutex::new(None),
            lease_ttl: Duration::from_millis(settings.producer.lease_ttl_ms),
        }
    }

    /// The clock stale symbols are judged on: the wall clock, or the latest tick in event time.
    fn now_ms(&self, clock: BarClock, latest_ms: Option<i64>) -> Option<i64> {
        match clock {
            BarClock::Wall => Some(self.alerts.clock().now_ms()),
            BarClock::Event => latest_ms,
        }
    }

    fn update<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        f(&mut self.status.lock())
    }

    /// This producer took the lease (`lease` is its value).
    /// Taking it from a producer this one watched hold it for longer than two leases is a
    /// `standby_takeover`.
    pub fn active(&self, lease: &str) {
        tracing::info!(lease, "producer active");
        let before = self.update(|s| {
            let before = (s.role == Role::Standby).then(|| s.lease.clone()).flatten();
            (s.role, s.lease, s.redis) = (Role::Active, Some(lease.to_owned()), StoreState::Up);
            before
        });
        // A restart waits out at most its predecessor's lease and one poll (a tenth of a lease).
        let watched = self.standby_since.lock().take().is_some_and(|since| since.elapsed() > self.lease_ttl * 2);
        if let Some(holder) = before.filter(|_| watched) {
            let detail = format!("took over the lease from {holder}, which stopped renewing it");
            self.alerts.event(Reading::new(Rule::StandbyTakeover, 1.0, detail), serde_json::Map::new());
        }
    }

    /// Another producer holds the lease; logged when the holder changes.
    pub fn standing_by(&self, holder: &str) {
        self.standby_since.lock().get_or_insert_with(tokio::time::Instant::now);
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
            let kept = if e.is_retryable() { &mut s.last_error } else { &mut s.fault };
            let news = kept.as_deref() != Some(message.as_str());
            *kept = Some(message.clone());
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
        self.stale.take(agg, latest, self.now_ms(clock, latest));
        let mut s = self.status.lock();
        s.recovered = true;
        s.catching_up = catching_up;
        s.redis = StoreState::Up;
        s.ticks_per_second = self.rate.sample(counters.ticks);
        s.symbols_active = latest.map_or(0, |ms| agg.symbols_on(split_ms(ms).0));
        s.last_tick_time = latest.map(|ms| Frame::from_epoch_seconds(ms.div_euclid(1000)).to_iso8601());
        s.last_entry_id = engine.last_id().to_string();
        s.counters = counters.clone();
        let count = |p: &Period| counters.closed.get(p).copied().unwrap_or(0);
        s.bars_closed = self.periods.iter().map(|p| (p.minutes(), count(p))).collect();
        s.outcomes = TickOutcome::all().map(|o| (o.as_str(), agg.count(o))).collect();
    }

    /// The monitor page, its JSON, and the ops endpoints.
    pub fn routes(self: &Arc<Monitor>) -> Router {
        runtime::ops::monitor_routes(self.clone(), include_str!("monitor.html"))
    }
}

impl Ops for Monitor {
    type Status = Status;

    fn calendar(&self) -> &LiveCalendar {
        &self.calendar
    }

    /// Reads the stream backlog, and so whether Redis answers, and judges the stale symbols.
    async fn probe(&self) {
        let backlog = self.store.lock().await.backlog().await;
        let (clock, after) = self.update(|s| (s.clock, s.stale.after_minutes));
        let stale = self.stale.judge(self.now_ms(clock, self.stale.latest_ms()), after);
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
        let mut s = self.status.lock().clone();
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
        self.status().metrics()
    }

    fn charts(&self) -> &Charts {
        &self.charts
    }

    fn alerts(&self) -> &Arc<Alerts> {
        &self.alerts
    }

    /// Redis for every producer; the feed (once its state is recovered and caught up), the faults,
    /// the backlog and the dead letters for the active one (a standby reads no feed).
    fn readings(&self) -> Vec<Reading> {
        let s = self.status.lock();
        let down = s.redis == StoreState::Down;
        let mut readings = vec![Reading::store_down(Rule::RedisDown, "redis", down, s.last_error.as_deref())];
        if s.role != Role::Active {
            return readings;
        }
        if let Some(fault) = &s.fault {
            readings.push(Reading::new(Rule::ProducerFault, 1.0, fault.clone()));
        }
        // Until the saved state is recovered the last ticks are not known yet, and while a backlog is
        // caught up they are old by design (`stream_backlog` speaks for that): no judgement then.
        let judged = s.recovered && !s.catching_up;
        if let Some(minutes) = s.stale.feed_silent_minutes.filter(|_| judged) {
            let last = s.last_tick_time.as_deref().unwrap_or("none today");
            let detail = format!("no tick from any symbol for {minutes} session minutes (the last: {last})");
            readings.push(Reading::new(Rule::FeedStale, f64::from(minutes), detail));
        }
        let named: Vec<&str> = s.stale.symbols.iter().take(STALE_NAMED).map(|x| x.symbol.as_str()).collect();
        let detail = format!(
            "{} symbols that traded today are silent for {} session minutes or more (the longest: {})",
            s.stale.count,
            s.stale.after_minutes,
            named.join(" ")
        );
        readings.push(Reading::new(Rule::StaleSymbols, s.stale.count as f64, detail));
        if let Some(lag) = s.stream_lag {
            let detail = format!("{lag} entries of the tick stream are not applied yet");
            readings.push(Reading::new(Rule::StreamBacklog, lag as f64, detail));
        }
        let per_minute = (self.dead.sample(s.counters.dead.values().sum()) * 60.0).round();
        let detail = format!("{per_minute} ticks a minute go to the dead-letter stream (see /api/status for why)");
        readings.push(Reading::new(Rule::DeadLetters, per_minute, detail));
        readings
    }

    fn figures(&self) -> Vec<Figure> {
        let s = self.status.lock();
        let c = &s.counters;
        vec![
            Figure::Rate { name: "ticks", total: c.ticks, per_seconds: 1.0 },
            Figure::Level { name: "stream_lag", value: s.stream_lag.unwrap_or(0) as f64 },
            Figure::Rate {
                name: "bars_closed",
                total: c.closed.get(&Period::M1).copied().unwrap_or(0),
                per_seconds: 60.0,
            },
            Figure::Rate { name: "dead_letters", total: c.dead.values().sum(), per_seconds: 60.0 },
            Figure::Level { name: "stale_symbols", value: s.stale.count as f64 },
        ]
    }
}
