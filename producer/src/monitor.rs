//! What the producer shows: the figures behind the monitor page (`/`, `/api/status`), the
//! Prometheus `/metrics`, and readiness (Redis answers and the state is recovered).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use common::time::split_ms;
use common::{Frame, Period, TickOutcome, TradingCalendar};
use runtime::ops::{Metrics, Ops, Rate};
use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;

use crate::engine::{Counters, Engine};
use crate::settings::Clock;
use crate::store::Store;

/// How far back the ticks-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// The figures of the monitor page, as `/api/status` serves them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub clock: &'static str,
    pub redis: &'static str,
    pub recovered: bool,
    pub ticks_per_second: f64,
    pub symbols_active: usize,
    pub last_tick_time: Option<String>,
    pub last_entry_id: String,
    pub stream_lag: Option<u64>,
    pub stream_pending: u64,
    pub counters: Counters,
    pub bars_closed: BTreeMap<u16, u64>,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub recoveries: u64,
}

/// Shared between the worker, which reports each commit, and the HTTP handlers.
pub struct Monitor {
    status: Mutex<Status>,
    rate: Rate,
    redis_up: AtomicBool,
    recoveries: AtomicU64,
    store: AsyncMutex<Store>,
    calendar: Arc<TradingCalendar>,
}

impl Monitor {
    /// `store` is the monitor's own connection, so a blocked stream read never delays a probe.
    pub fn new(clock: Clock, store: Store, calendar: Arc<TradingCalendar>) -> Monitor {
        let clock = match clock {
            Clock::Wall => "wall",
            Clock::Event => "event",
        };
        Monitor {
            status: Mutex::new(Status { clock, redis: "down", ..Status::default() }),
            rate: Rate::new(RATE_WINDOW),
            redis_up: AtomicBool::new(false),
            recoveries: AtomicU64::new(0),
            store: AsyncMutex::new(store),
            calendar,
        }
    }

    pub fn set_redis(&self, up: bool) {
        self.redis_up.store(up, Ordering::Relaxed);
    }

    pub fn recovered(&self, engine: &Engine) {
        self.recoveries.fetch_add(1, Ordering::Relaxed);
        self.committed(engine);
    }

    /// Takes the figures of the engine after a commit.
    pub fn committed(&self, engine: &Engine) {
        let agg = engine.aggregator();
        let counters = engine.counters();
        let latest = agg.latest_tick_ms();
        let mut s = self.status.lock().expect("status lock");
        s.recovered = true;
        s.ticks_per_second = self.rate.sample(counters.ticks);
        s.symbols_active = latest.map_or(0, |ms| agg.symbols_on(split_ms(ms).0));
        s.last_tick_time = latest.map(|ms| Frame::from_epoch_seconds(ms.div_euclid(1000)).to_iso8601());
        s.last_entry_id = engine.last_id().to_string();
        s.counters = counters.clone();
        s.bars_closed = Period::ALL.iter().map(|p| (p.minutes(), counters.closed[p.index()])).collect();
        s.outcomes = TickOutcome::all().map(|o| (o.as_str(), agg.count(o))).collect();
    }

    /// The current figures, with the stream backlog read now.
    pub async fn status(&self) -> Status {
        let backlog = self.store.lock().await.backlog().await;
        let mut s = self.status.lock().expect("status lock").clone();
        if let Ok((lag, pending)) = backlog {
            (s.stream_lag, s.stream_pending) = (lag, pending);
        }
        s.redis = if self.redis_up.load(Ordering::Relaxed) && backlog.is_ok() { "up" } else { "down" };
        s.recoveries = self.recoveries.load(Ordering::Relaxed);
        if s.ticks_per_second > 0.0 {
            s.ticks_per_second = self.rate.sample(s.counters.ticks);
        }
        s
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

    async fn status(&self) -> Status {
        Monitor::status(self).await
    }

    async fn ready(&self) -> Result<(), String> {
        self.store.lock().await.ping().await.map_err(|e| format!("redis: {e}"))?;
        if self.status.lock().expect("status lock").recovered {
            Ok(())
        } else {
            Err("state not recovered yet".into())
        }
    }

    async fn metrics(&self) -> String {
        let s = self.status().await;
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
        let up = f64::from(u8::from(s.redis == "up"));
        m.gauge("tickbar_producer_redis_up", "Whether Redis answers.", &[], up);
        m.counter("tickbar_producer_recoveries_total", "Times the state was recovered from Redis.", &[], s.recoveries);
        if let Some(lag) = s.stream_lag {
            m.gauge("tickbar_producer_stream_lag", "Stream entries not yet read by the group.", &[], lag as f64);
        }
        m.gauge("tickbar_producer_stream_pending", "Entries read but not yet committed.", &[], s.stream_pending as f64);
        m.gauge("tickbar_producer_ticks_per_second", "Ticks per second over the last 5 s.", &[], s.ticks_per_second);
        m.finish()
    }
}
