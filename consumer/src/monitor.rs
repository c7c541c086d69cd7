//! What the consumer shows: the figures behind the monitor page (`/`, `/api/status`), the
//! Prometheus `/metrics`, and readiness (Redis and ClickHouse answer).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use common::Period;
use runtime::alert::{Alerts, Reading, Rule};
use runtime::calendar::LiveCalendar;
use runtime::charts::{Charts, Figure};
use runtime::metrics::{Metrics, Rate};
use runtime::ops::Ops;
use runtime::redis::Connection;
use runtime::stores::{Role, Store, StoreState};
use serde::Serialize;
use tokio::sync::Mutex as AsyncMutex;

use crate::batch::Tally;
use crate::error::Error;
use crate::store::clickhouse::History;
use crate::store::redis::{last_report, Queues};
use crate::store::stream::Positions;

/// How far back the bars-per-second rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// How long the rows-per-period figure (a `FINAL` count) is reused.
const ROWS_TTL: Duration = Duration::from_secs(10);

/// One queue: items waiting and items in the batch being written.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QueueState {
    pub queued: u64,
    pub processing: u64,
}

/// The figures of the monitor page, as `/api/status` serves them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub instance: String,
    pub redis: StoreState,
    pub clickhouse: StoreState,
    /// This instance's part in draining: `active` while it holds the drain lock, `standby` while
    /// another instance does.
    pub drain: Role,
    /// The drain lock's holder (its token): this instance or the one it stands by for.
    pub drain_holder: Option<String>,
    /// The last store failure, until that store answers again.
    pub last_error: Option<String>,
    #[serde(skip)]
    last_error_store: Option<Store>,
    pub uptime_seconds: u64,
    pub queues: BTreeMap<u16, QueueState>,
    pub dead_queue: u64,
    pub bars_per_second: f64,
    /// Since this process started, all periods.
    pub since_start: Tally,
    pub by_period: BTreeMap<u16, Tally>,
    /// Deduplicated rows per period in ClickHouse.
    pub rows: BTreeMap<u16, u64>,
    pub last_cleanup: Option<serde_json::Value>,
    /// The tick archive's writer, when `archive.ticks` is on and this instance has run it.
    pub archive: ArchiveState,
}

/// What the tick archive's writer did since start, and where each shard's stream stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveState {
    /// Ticks written to `tickbar.ticks` since start.
    pub ticks: u64,
    pub batches: u64,
    /// Batches that first asked which of their ticks were stored (after a start or a failure).
    pub rechecked: u64,
    /// Per shard: the last entry archived, the producer's position and the entries between them.
    pub shards: BTreeMap<usize, Positions>,
}

impl Status {
    fn state(&mut self, store: Store) -> &mut StoreState {
        match store {
            Store::Redis => &mut self.redis,
            Store::ClickHouse => &mut self.clickhouse,
        }
    }
}

/// Shared between the drain and cleanup tasks, which report to it, and the HTTP handlers.
pub struct Monitor {
    started: Instant,
    status: Mutex<Status>,
    rate: Rate,
    /// When the rows were last counted, and the items this consumer had drained then.
    rows_read: Mutex<Option<(Instant, u64)>>,
    queues: Queues,
    history: History,
    con: AsyncMutex<Connection>,
    calendar: LiveCalendar,
    charts: Charts,
    alerts: Arc<Alerts>,
}

impl Monitor {
    /// `con` is the monitor's own connection, so probes never wait behind a batch; the clock is
    /// the alerts'.
    pub fn new(
        instance: String,
        queues: Queues,
        history: History,
        con: Connection,
        calendar: LiveCalendar,
        chart_interval_ms: u64,
        alerts: Arc<Alerts>,
    ) -> Monitor {
        let status = Status { instance, ..Status::default() };
        Monitor {
            started: Instant::now(),
            status: Mutex::new(status),
            rate: Rate::new(RATE_WINDOW),
            rows_read: Mutex::new(None),
            queues,
            history,
            con: AsyncMutex::new(con),
            calendar,
            charts: Charts::new(chart_interval_ms),
            alerts,
        }
    }

    fn update<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        f(&mut self.status.lock())
    }

    /// This instance's drain role, and who holds the drain lock.
    pub fn set_drain(&self, role: Role, holder: Option<String>) {
        self.update(|s| (s.drain, s.drain_holder) = (role, holder));
    }

    pub fn set_up(&self, store: Store) {
        let back = self.update(|s| {
            let state = std::mem::replace(s.state(store), StoreState::Up);
            if s.last_error_store == Some(store) {
                (s.last_error, s.last_error_store) = (None, None);
            }
            state == StoreState::Down
        });
        if back {
            tracing::info!(%store, "store answers again");
        }
    }

    /// A store failed (the one `e` names: ClickHouse for its errors, else Redis): shown until it
    /// answers again, logged when the state or the error changes.
    pub fn failed(&self, e: &Error) {
        let store = e.store();
        let message = match e {
            Error::Redis(_) | Error::ClickHouse(_) => e.to_string(),
            _ => format!("{store}: {e}"),
        };
        let news = self.update(|s| {
            let was = std::mem::replace(s.state(store), StoreState::Down);
            let news = was == StoreState::Up || s.last_error.as_deref() != Some(message.as_str());
            (s.last_error, s.last_error_store) = (Some(message), Some(store));
            news
        });
        match (news, e.is_retryable()) {
            (false, _) => {}
            (true, true) => tracing::warn!(%store, error = %e, "store failed; retrying with backoff"),
            (true, false) => {
                tracing::error!(%store, error = %e, "failed; retrying cannot help until the settings change")
            }
        }
    }

    /// Where shard `shard`'s archiver and producer stand.
    pub fn archive_position(&self, shard: usize, at: Positions) {
        self.update(|s| s.archive.shards.insert(shard, at));
    }

    /// One archive batch written: `ticks` ticks, after asking what was stored when `rechecked`.
    pub fn ticks_archived(&self, ticks: u64, rechecked: bool) {
        self.update(|s| {
            s.archive.ticks += ticks;
            s.archive.batches += 1;
            s.archive.rechecked += u64::from(rechecked);
        });
    }

    pub fn batch_done(&self, period: Period, tally: &Tally) {
        self.update(|s| {
            s.since_start.add(tally);
            s.by_period.entry(period.minutes()).or_default().add(tally);
        });
    }

    /// The row counts, when this consumer drained anything since they were last counted or they
    /// are older than [`ROWS_TTL`] (another instance may have written).
    async fn rows_if_stale(&self) -> Option<BTreeMap<u16, u64>> {
        let drained = self.update(|s| s.since_start.items);
        let read = *self.rows_read.lock();
        if read.is_some_and(|(at, then)| at.elapsed() < ROWS_TTL && then == drained) {
            return None;
        }
        match self.history.rows_per_period().await {
            Ok(rows) => {
                *self.rows_read.lock() = Some((Instant::now(), drained));
                self.set_up(Store::ClickHouse);
                Some(rows)
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
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

    /// Reads the queue lengths, the last cleanup report and (when stale) the row counts
    /// for the figures.
    async fn probe(&self) {
        let mut con = self.con.lock().await;
        let lengths = self.queues.lengths(&mut con).await;
        let report = last_report(&mut con, self.queues.keys()).await;
        drop(con);
        let rows = self.rows_if_stale().await;
        self.update(|s| {
            if let Some(rows) = rows {
                s.rows = rows;
            }
            match (lengths, report) {
                (Ok((per_period, dead)), Ok(report)) => {
                    s.queues = per_period
                        .into_iter()
                        .map(|(p, (queued, processing))| (p, QueueState { queued, processing }))
                        .collect();
                    s.dead_queue = dead;
                    s.last_cleanup = report.and_then(|r| serde_json::from_str(&r).ok());
                    s.redis = StoreState::Up;
                }
                _ => s.redis = StoreState::Down,
            }
        });
    }

    /// The figures as of the last probe.
    fn status(&self) -> Status {
        let mut s = self.update(|s| s.clone());
        s.uptime_seconds = self.started.elapsed().as_secs();
        s.bars_per_second = self.rate.sample(s.since_start.items);
        s
    }

    async fn ready(&self) -> Result<(), String> {
        crate::store::redis::ping(&mut *self.con.lock().await).await.map_err(|e| e.to_string())?;
        self.history.ping().await.map_err(|e| e.to_string())
    }

    fn metrics(&self) -> String {
        let s = self.status();
        let mut m = Metrics::new();
        for (period, q) in &s.queues {
            let p = period.to_string();
            m.gauge(
                "tickbar_consumer_queue_length",
                "Items waiting in a history queue.",
                &[("period", &p)],
                q.queued as f64,
            );
        }
        for (period, q) in &s.queues {
            let p = period.to_string();
            let help = "Items of the batch being written.";
            m.gauge("tickbar_consumer_processing_length", help, &[("period", &p)], q.processing as f64);
        }
        m.gauge("tickbar_consumer_dead_queue_length", "Items in historical_bar_data_dead.", &[], s.dead_queue as f64);
        for (kind, pick) in [
            ("inserted", (|t: &Tally| t.inserted) as fn(&Tally) -> u64),
            ("replaced", |t| t.replaced),
            ("duplicate", |t| t.duplicates),
            ("dead", Tally::dead_total),
        ] {
            for (period, t) in &s.by_period {
                let p = period.to_string();
                m.counter(
                    "tickbar_consumer_items_total",
                    "Queue items by outcome.",
                    &[("period", &p), ("outcome", kind)],
                    pick(t),
                );
            }
        }
        for (period, t) in &s.by_period {
            let help = "Batches written without an existence read (every row later than the high-water marks).";
            m.counter(
                "tickbar_consumer_unchecked_batches_total",
                help,
                &[("period", &period.to_string())],
                t.unchecked,
            );
        }
        for (reason, n) in &s.since_start.dead {
            m.counter(
                "tickbar_consumer_dead_letters_total",
                "Items dead-lettered, by reason.",
                &[("reason", reason.as_str())],
                *n,
            );
        }
        for (period, rows) in &s.rows {
            let p = period.to_string();
            m.gauge(
                "tickbar_consumer_clickhouse_rows",
                "Deduplicated rows in ClickHouse.",
                &[("period", &p)],
                *rows as f64,
            );
        }
        m.counter("tickbar_consumer_archived_ticks_total", "Ticks written to the tick archive.", &[], s.archive.ticks);
        let help = "Archive batches that asked which of their ticks were stored (after a start or a failure).";
        m.counter("tickbar_consumer_archive_rechecked_batches_total", help, &[], s.archive.rechecked);
        for (shard, at) in &s.archive.shards {
            let help = "Tick stream entries the producer has committed and the archive not yet written.";
            let lag = at.lag.unwrap_or_default() as f64;
            m.gauge("tickbar_consumer_archive_lag_entries", help, &[("shard", &shard.to_string())], lag);
        }
        m.gauge("tickbar_consumer_redis_up", "Whether Redis answers.", &[], s.redis.gauge());
        m.gauge("tickbar_consumer_clickhouse_up", "Whether ClickHouse answers.", &[], s.clickhouse.gauge());
        m.gauge("tickbar_consumer_draining", "Whether this instance holds the drain lock.", &[], s.drain.gauge());
        if let Some(ok) = s.last_cleanup.as_ref().and_then(|r| r.get("ok")).and_then(serde_json::Value::as_bool) {
            m.gauge(
                "tickbar_consumer_last_cleanup_ok",
                "Whether the last cleanup and its checks passed.",
                &[],
                f64::from(u8::from(ok)),
            );
        }
        for (period, symbols) in differing_symbols(s.last_cleanup.as_ref()) {
            let help = "Symbols whose live bars differ from the vendor's in the last cleanup's reconciliation (its checked days).";
            m.gauge(
                "tickbar_consumer_reconciliation_differing_symbols",
                help,
                &[("period", &period.to_string())],
                symbols as f64,
            );
        }
        let help = "Time one INSERT into ClickHouse took (landed or not), in seconds.";
        self.history.inserts().write(&mut m, "tickbar_consumer_insert_duration_seconds", help);
        m.finish()
    }

    fn charts(&self) -> &Charts {
        &self.charts
    }

    fn alerts(&self) -> &Arc<Alerts> {
        &self.alerts
    }

    /// Whether Redis and ClickHouse answer; the cleanup's failures are events it sends itself.
    fn readings(&self) -> Vec<Reading> {
        let s = self.status.lock();
        let error = |store| (s.last_error_store == Some(store)).then_some(s.last_error.as_deref()).flatten();
        vec![
            Reading::store_down(Rule::RedisDown, "redis", s.redis == StoreState::Down, error(Store::Redis)),
            Reading::store_down(
                Rule::ClickhouseDown,
                "clickhouse",
                s.clickhouse == StoreState::Down,
                error(Store::ClickHouse),
            ),
        ]
    }

    fn figures(&self) -> Vec<Figure> {
        let (items, queued) = self.update(|s| (s.since_start.items, s.queues.values().map(|q| q.queued).sum::<u64>()));
        let inserts = self.history.inserts();
        vec![
            Figure::Rate { name: "bars", total: items, per_seconds: 1.0 },
            Figure::Level { name: "queued", value: queued as f64 },
            Figure::Mean { name: "insert_ms", sum: inserts.sum_ms(), count: inserts.count() },
        ]
    }
}

/// Per period, the symbols (over the report's checked days) whose live bars differ from the
/// vendor's in the cleanup `report`; the periods it reconciled, none when it reconciled nothing.
fn differing_symbols(report: Option<&serde_json::Value>) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    let days = report.and_then(|r| r.get("reconciliation")).and_then(serde_json::Value::as_array);
    for day in days.into_iter().flatten() {
        let field = |name: &str| day.get(name).and_then(serde_json::Value::as_u64);
        if let (Some(period), Some(symbols)) = (field("period"), field("differing_symbols")) {
            *out.entry(period).or_default() += symbols;
        }
    }
    out
}
