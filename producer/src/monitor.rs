//! What the producer shows: the figures behind the monitor page (`/`, `/api/status`), the
//! Prometheus `/metrics`, and readiness (Redis answers, the state is recovered or another producer
//! is active, and no fault stops it); its role (active or standby) and who holds the lease.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use common::time::split_ms;
use common::{Frame, Period, TickOutcome, TradingCalendar};
use runtime::ops::{Metrics, Ops, Rate};
use runtime::stores::{Role, StoreState};
use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;

use crate::engine::{Counters, Engine};
use crate::error::Error;
use crate::settings::Clock;
use crate::store::Store;

/// How far back the ticks-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// The figures of the monitor page, as `/api/status` serves them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub clock: Clock,
    pub redis: StoreState,
    /// This producer's name in the lease.
    pub instance: String,
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
}

/// Shared between the worker, which reports each commit, and the HTTP handlers.
pub struct Monitor {
    status: Mutex<Status>,
    rate: Rate,
    recoveries: AtomicU64,
    store: AsyncMutex<Store>,
    calendar: Arc<TradingCalendar>,
}

impl Monitor {
    /// `store` is the monitor's own connection, so a blocked stream read never delays a probe.
    pub fn new(clock: Clock, instance: String, store: Store, calendar: Arc<TradingCalendar>) -> Monitor {
        Monitor {
            status: Mutex::new(Status { clock, instance, ..Status::default() }),
            rate: Rate::new(RATE_WINDOW),
            recoveries: AtomicU64::new(0),
            store: AsyncMutex::new(store),
            calendar,
        }
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

    /// Reads the stream backlog, and so whether Redis answers, for the figures.
    async fn probe(&self) {
        let backlog = self.store.lock().await.backlog().await;
        self.update(|s| match backlog {
            Ok(lag) => (s.stream_lag, s.redis) = (lag, StoreState::Up),
            Err(_) => s.redis = StoreState::Down,
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
                &[("reason", reason)],
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
            "1 when this producer holds the lease, 0 on standby.",
            &[("instance", &s.instance)],
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
        m.finish()
    }
}
