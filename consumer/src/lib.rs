//! `consumer`: drains the historical-bar queues into ClickHouse and runs the nightly cleanup of the
//! previous trading day's Redis data with its integrity report. The binary (`main.rs`) picks the
//! command and serves the monitor; [`Consumer`] is the service it runs, and in-process tests run
//! it on a clock they hold.
//!
//! # Layout
//! - [`item`]: a queue item checked into a bar or a dead letter; [`batch`]: a batch deduplicated
//!   against ClickHouse and tallied.
//! - [`drain`]: the drain lock and the per-period workers around them, and [`archive`], the tick
//!   archive's writer that works under the same lock; [`high_water`]: the latest
//!   stored frames that spare time-ordered batches their existence read.
//! - [`cleanup`]: the 2 a.m. cleanup, its schedule and report; [`integrity`]: the checks of the
//!   cleaned days, without I/O; its failures are told through [`runtime::alert`].
//! - [`store`]: the queues, locks and same-day keys in Redis, the bars table in ClickHouse.
//! - [`monitor`]: the monitor page, `/metrics` and `/readyz`; [`settings`] and [`error`].
//! - This file: [`Consumer`], the parts both the service and `consumer cleanup` are built from.

pub mod archive;
pub mod batch;
pub mod cleanup;
pub mod drain;
pub mod error;
pub mod high_water;
pub mod integrity;
pub mod item;
pub mod monitor;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use runtime::alert::Alerts;
use runtime::backoff::Backoff;
use runtime::calendar::{follow, LiveCalendar, Market};
use runtime::clock::Clock;
use runtime::redis::Connection;
use runtime::stores::Store;
use settings::ConsumerSettings;
use tokio::sync::watch;

use crate::archive::Archiver;
use crate::cleanup::{Cleanup, Report, Trigger};
use crate::drain::Drain;
use crate::error::Result;
use crate::item::Validator;
use crate::monitor::Monitor;
use crate::store::clickhouse::History;
use crate::store::redis::{Lock, Queues};
use crate::store::ticks::Archive;

/// The consumer's parts, built from its settings: the service and `consumer cleanup` alike.
pub struct Consumer {
    settings: ConsumerSettings,
    instance: String,
    /// The client of `[clickhouse]`, not naming the database (which may not exist yet).
    clickhouse: clickhouse::Client,
    queues: Queues,
    history: History,
    cleanup: Cleanup,
    alerts: Arc<Alerts>,
}

impl Consumer {
    /// The parts `settings` describe, working on `calendar` and `clock`.
    pub fn new(settings: ConsumerSettings, calendar: LiveCalendar, clock: Clock) -> Result<Consumer, runtime::Error> {
        let section = &settings.consumer;
        let keys = settings.redis.keys();
        let instance = section.instance_name();
        let ttl = Duration::from_millis(section.lock_ttl_ms.max(1000));
        let clickhouse = runtime::clickhouse::client(&settings.clickhouse)?;
        let alerts = Alerts::new(&settings.alert_settings(), "consumer", instance.clone(), clock)?;
        let insert_timeout = Duration::from_millis(section.insert_timeout_ms);
        let history = History::new(clickhouse.clone(), &settings.clickhouse.database, insert_timeout);
        let drain_lock = Lock::new("drain", keys.drain_lock(), &instance, ttl);
        let periods = settings.bars.sorted_periods();
        let queues = Queues::new(keys.clone(), drain_lock, section.workers_per_queue, periods);
        let cleanup = Cleanup {
            keys: keys.clone(),
            lock: Lock::new("cleanup", keys.cleanup_lock(), &instance, ttl),
            history: history.clone(),
            calendar,
            clock,
            bars: settings.bars.clone(),
            at: section.cleanup_at,
            integrity_days: section.integrity_days,
            alerts: alerts.clone(),
            archive: Archive::new(clickhouse.clone(), &settings.clickhouse.database, insert_timeout),
            retention_days: settings.archive.retention_days,
            live_bars: settings.archive.bars,
        };
        Ok(Consumer { settings, instance, clickhouse, queues, history, cleanup, alerts })
    }

    pub fn settings(&self) -> &ConsumerSettings {
        &self.settings
    }

    pub fn calendar(&self) -> &LiveCalendar {
        &self.cleanup.calendar
    }

    /// The instance name its locks and reports carry.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The monitor of the service, probing through `con`.
    pub fn monitor(&self, con: Connection) -> Arc<Monitor> {
        Arc::new(Monitor::new(
            self.instance.clone(),
            self.queues.clone(),
            self.history.clone(),
            con,
            self.cleanup.calendar.clone(),
            self.settings.http.chart_interval_ms,
            self.alerts.clone(),
        ))
    }

    /// Waits (at most a few seconds) for the alerts sent so far to be delivered or given up.
    pub async fn flush_alerts(&self) {
        self.alerts.flush(runtime::alert::FLUSH_AT_STOP).await;
    }

    /// The service's work until `stop` turns true: the calendar followed from the start; the
    /// schema (retried while ClickHouse is away), then the drain and the cleanup's schedule side
    /// by side.
    pub async fn run(&self, con: Connection, monitor: Arc<Monitor>, stop: watch::Receiver<bool>) {
        let calendar = follow(con.clone(), self.settings.redis.keys(), self.cleanup.calendar.clone(), stop.clone());
        tokio::join!(calendar, self.work(con, monitor, stop));
    }

    async fn work(&self, con: Connection, monitor: Arc<Monitor>, stop: watch::Receiver<bool>) {
        if !self.schema_applied(&monitor, stop.clone()).await {
            return;
        }
        let section = &self.settings.consumer;
        let drain = Drain {
            queues: self.queues.clone(),
            history: self.history.clone(),
            validator: Validator::new(Market::new(self.settings.bars.layout, self.cleanup.calendar.clone())),
            batch_rows: section.batch_rows.max(1),
            idle: Duration::from_millis(section.idle_ms.max(1)),
            monitor: monitor.clone(),
            marks: Arc::new(high_water::HighWater::new(Duration::from_millis(section.high_water_ttl_ms))),
            archiver: self.settings.archive.ticks.then(|| {
                let keys = self.settings.redis.keys();
                let archive = self.cleanup.archive.clone();
                Arc::new(Archiver::new(&keys, &self.settings.archive, archive, monitor.clone()))
            }),
            clock: self.cleanup.clock,
        };
        let cleanup = self.cleanup.schedule(con.clone(), monitor, stop.clone());
        tokio::join!(drain.run(con, stop), cleanup);
    }

    /// `consumer cleanup`: one run for `day` (default: the trading day before today).
    pub async fn cleanup_once(&self, day: Option<NaiveDate>, force: bool) -> Result<Report> {
        let day = match day {
            Some(day) => day,
            None => self.cleanup.calendar.days().prev(self.cleanup.clock.today())?,
        };
        self.apply_schema().await?;
        let mut con = runtime::redis::connect(&self.settings.redis)?;
        let report = self.cleanup.run(&mut con, vec![day], Trigger::Command, None, force).await;
        self.flush_alerts().await;
        report
    }

    /// Applies the DDL, retrying with backoff while ClickHouse is away; `false` when stopped first.
    async fn schema_applied(&self, monitor: &Monitor, mut stop: watch::Receiver<bool>) -> bool {
        let mut backoff = Backoff::new();
        loop {
            match self.apply_schema().await {
                Ok(()) => {
                    monitor.set_up(Store::ClickHouse);
                    return true;
                }
                Err(e) => monitor.failed(&e.into()),
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next_delay()) => {},
                _ = stop.changed() => return false,
            }
        }
    }

    /// Brings the database up to the last migration (`runtime::schema`).
    async fn apply_schema(&self) -> clickhouse::error::Result<()> {
        runtime::schema::apply_schema(&self.clickhouse, &self.settings.clickhouse.database).await.map(drop)
    }
}
