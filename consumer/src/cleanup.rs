//! The nightly cleanup: at `consumer.cleanup_at` (Asia/Shanghai) one instance, under the cleanup
//! lock, writes the previous trading day's closed Redis bars into ClickHouse as live bars
//! (`archive.bars`; a vendor bar of the same frame keeps the upper hand), removes the day from
//! Redis once ClickHouse holds its history, from either source, for every symbol and period Redis
//! held (else it keeps the day, says so and tries again at the next run; `--force` removes anyway),
//! then checks the recent ClickHouse history, reconciles the live bars with the vendor's where a
//! day has both, and keeps a JSON report in Redis. The producer's stream and state are the producer's: the report
//! only says how far it got. A run missed while the service was down happens at start; running
//! twice removes nothing more.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use common::stream::EntryId;
use common::{Bar, BarSettings, Frame, Period, Sessions, Source, Symbol};
use runtime::alert::{Alerts, Reading, Rule};
use runtime::calendar::LiveCalendar;
use runtime::clickhouse::BarRow;
use runtime::clock::Clock;
use runtime::keys::Keys;
use runtime::progress::Progress;
use runtime::redis::Connection;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::integrity::{check_group, daily_flags, intraday_flags, Flag, Issue, VOLUME_DAYS};
use crate::monitor::Monitor;
use crate::store::clickhouse::{Compared, History};
use crate::store::redis::{self as store, DayRemoved, HeldGroup, Lock};
use crate::store::ticks::Archive;

/// Groups named in a report's list of what ClickHouse lacks; the count covers the rest.
const MISSING_LISTED: usize = 50;
/// Symbols named per period in a report's reconciliation; the count covers the rest.
const DIFFERENCES_LISTED: usize = 100;
/// Closed-bar keys (one symbol and period of a day each) read and written as live bars at a time.
const LIVE_KEYS_PER_INSERT: usize = 500;

/// How often the service looks whether a cleanup is due, and retries one that failed.
const CHECK_EVERY: Duration = Duration::from_secs(30);
const RETRY_FAILED_AFTER_MS: i64 = 5 * 60 * 1000;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The service, at the scheduled time or at start for a missed one.
    Schedule,
    /// `consumer cleanup`.
    Command,
}

/// What a run did and found; kept in Redis and shown on the monitor page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The Redis cleanup and the integrity check succeeded and found no issue.
    pub ok: bool,
    pub error: Option<String>,
    pub trigger: Trigger,
    pub instance: String,
    /// The scheduled time this run stands for (service runs only).
    pub scheduled_for: Option<Frame>,
    pub started_at: Frame,
    pub finished_at: Frame,
    /// The trading days this run was for.
    pub days: Vec<NaiveDate>,
    /// `--force`: days removed whether or not ClickHouse holds their history.
    pub forced: bool,
    pub redis: Vec<DayRemoved>,
    /// Days kept in Redis because ClickHouse lacks some of their history; tried again next run.
    pub kept: Vec<KeptDay>,
    /// How far the producers got, from their progress records: the latest tick's date of any
    /// shard, and each shard's committed stream position (one for a single producer).
    pub producer_latest_day: Option<NaiveDate>,
    #[serde(default)]
    pub producer_positions: Vec<Option<EntryId>>,
    /// The holiday list's end drawing near or passed.
    pub calendar_warning: Option<String>,
    pub integrity: Integrity,
    /// Data checks: flagged, kept.
    pub flags: Vec<Flag>,
    /// Days of ticks the archive's retention dropped.
    #[serde(default)]
    pub ticks_expired: Vec<NaiveDate>,
    /// The days whose closed Redis bars this run wrote into ClickHouse as live bars.
    #[serde(default)]
    pub live_written: Vec<LiveWritten>,
    /// The live bars against the vendor's, per checked day and period where both exist.
    #[serde(default)]
    pub reconciliation: Vec<Reconciled>,
}

/// One day's closed Redis bars written as live bars.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveWritten {
    pub day: NaiveDate,
    pub bars: u64,
    /// Bar objects in Redis that do not read as a bar of their key's period (left in Redis: the
    /// day is then kept, as ClickHouse holds fewer of its bars).
    pub unreadable: u64,
}

/// One day and period where both live and vendor bars exist: how many (symbol, period)s both
/// hold, and those whose live bars differ from the vendor's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reconciled {
    pub day: NaiveDate,
    pub period: u16,
    pub symbols: u64,
    /// Symbols that differ, all of them.
    pub differing_symbols: u64,
    /// The first [`DIFFERENCES_LISTED`] of them, by symbol.
    pub differences: Vec<Compared>,
}

/// A day left in Redis: the (symbol, period) groups ClickHouse holds fewer bars of than Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeptDay {
    pub day: NaiveDate,
    /// Groups short in ClickHouse, all of them.
    pub groups_missing: usize,
    /// The first [`MISSING_LISTED`] of them.
    pub missing: Vec<Missing>,
}

/// One (symbol, period) of a kept day: bars in Redis, bars in ClickHouse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Missing {
    pub symbol: Symbol,
    pub period: Period,
    pub redis: u64,
    pub clickhouse: u64,
}

/// The check of ClickHouse history over recent trading days.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Integrity {
    pub days: Vec<NaiveDate>,
    /// (symbol, period, day) groups checked, and their bars.
    pub groups: u64,
    pub bars: u64,
    pub issues: Vec<Issue>,
}

/// What a cleanup needs.
#[derive(Clone)]
pub struct Cleanup {
    pub keys: Keys,
    pub lock: Lock,
    pub history: History,
    pub calendar: LiveCalendar,
    /// What time it is: when a run is due and what its report says.
    pub clock: Clock,
    pub bars: BarSettings,
    pub at: NaiveTime,
    pub integrity_days: u32,
    /// Where a failed run, its issues and the calendar's end are told (`cleanup_failed`).
    pub alerts: Arc<Alerts>,
    /// The tick archive, and how many days of it to keep (`archive.retention_days`; 0: all).
    pub archive: Archive,
    pub retention_days: u32,
    /// Write each cleaned day's closed Redis bars into ClickHouse as live bars (`archive.bars`).
    pub live_bars: bool,
}

impl Cleanup {
    /// Runs the cleanup of `days` under the lock (`force`: remove them even when ClickHouse lacks
    /// their history), keeps its report and alerts on failure, on kept days and on the calendar's
    /// end. `Err` only when the lock is held elsewhere or Redis cannot take the report.
    pub async fn run(
        &self,
        con: &mut Connection,
        days: Vec<NaiveDate>,
        trigger: Trigger,
        scheduled_for: Option<NaiveDateTime>,
        force: bool,
    ) -> Result<Report> {
        self.lock.acquire(con).await?;
        let started_at = self.clock.now();
        let mut report = Report {
            ok: false,
            error: None,
            trigger,
            instance: self.lock.token().to_owned(),
            scheduled_for: scheduled_for.map(Frame::from_local),
            started_at,
            finished_at: started_at,
            days,
            forced: force,
            redis: Vec::new(),
            kept: Vec::new(),
            producer_latest_day: None,
            producer_positions: Vec::new(),
            calendar_warning: self.calendar.days().warning(self.clock.today()),
            integrity: Integrity::default(),
            flags: Vec::new(),
            ticks_expired: Vec::new(),
            live_written: Vec::new(),
            reconciliation: Vec::new(),
        };
        let mut work_con = con.clone();
        let outcome = self.lock.hold(con.clone(), self.work(&mut work_con, &mut report)).await;
        report.error = outcome.err().map(|e| e.to_string());
        report.ok = report.error.is_none()
            && report.integrity.issues.is_empty()
            && report.kept.is_empty()
            && report.reconciliation.iter().all(|r| r.differing_symbols == 0);
        report.finished_at = self.clock.now();
        let stored =
            store::store_report(con, &self.keys, &serde_json::to_string(&report).expect("reports serialize")).await;
        if let Err(e) = self.lock.release(con).await {
            tracing::warn!(error = %e, "could not release the cleanup lock; it expires by itself");
        }
        if !report.ok || report.calendar_warning.is_some() {
            self.alert(&report);
        }
        stored.map(|()| report)
    }

    async fn work(&self, con: &mut Connection, report: &mut Report) -> Result<()> {
        let mut days = report.days.clone();
        days.sort();
        days.dedup();
        let Some(&newest) = days.last() else { return Ok(()) };
        for day in &days {
            if self.live_bars {
                report.live_written.push(self.write_live(con, *day).await?);
            }
            match self.missing(con, *day).await? {
                Some(kept) if !report.forced => {
                    tracing::warn!(day = %day, groups = kept.groups_missing, "clickhouse lacks history of the day; it stays in redis");
                    report.kept.push(kept);
                }
                _ => report.redis.push(store::remove_day(con, &self.keys, *day).await?),
            }
        }
        let progress = Progress::of_each_shard(con, &self.keys).await?;
        report.producer_latest_day = progress.iter().flatten().filter_map(|p| p.latest_day).max();
        report.producer_positions = progress.iter().map(|p| p.map(|p| p.position)).collect();
        let calendar = self.calendar.days();
        let first = calendar.add_trading_days(newest, 1 - self.integrity_days.max(1) as i32).unwrap_or(newest);
        let checked = calendar.trading_days(first, newest)?;
        self.integrity(&checked, report).await?;
        report.flags = self.data_checks(&checked).await?;
        for day in &checked {
            report.reconciliation.extend(self.reconcile(*day).await?);
        }
        if self.retention_days > 0 {
            let today = self.clock.today();
            report.ticks_expired = self.archive.expire(today - chrono::Days::new(self.retention_days.into())).await?;
        }
        tracing::info!(days = ?report.days, issues = report.integrity.issues.len(), flags = report.flags.len(), "cleanup done");
        Ok(())
    }

    /// Writes `day`'s closed Redis bars into ClickHouse as live bars, a chunk of keys per INSERT,
    /// then has the query API read history again.
    async fn write_live(&self, con: &mut Connection, day: NaiveDate) -> Result<LiveWritten> {
        let version = Source::live_version(self.clock.now_ms());
        let mut written = LiveWritten { day, bars: 0, unreadable: 0 };
        for shard in store::day_bar_keys(con, &self.keys, day).await? {
            for found in shard.chunks(LIVE_KEYS_PER_INSERT) {
                let (rows, unreadable) = live_rows(store::read_bars(con, &self.keys, found).await?, version);
                self.history.insert_live(&rows).await?;
                written.bars += rows.len() as u64;
                written.unreadable += unreadable;
            }
        }
        if written.bars > 0 {
            runtime::redis::bump_all_history(con, &self.keys).await?;
        }
        tracing::info!(%day, bars = written.bars, unreadable = written.unreadable, "the day's bars are in clickhouse as live bars");
        Ok(written)
    }

    /// The reconciliation of `day`'s live bars with the vendor's, per period both sides hold.
    async fn reconcile(&self, day: NaiveDate) -> Result<Vec<Reconciled>> {
        let compared = self.history.reconcile(day).await?;
        let mut out = Vec::new();
        for group in compared.chunk_by(|a, b| a.period == b.period) {
            let mut differences: Vec<Compared> = group.iter().filter(|c| !c.agrees()).cloned().collect();
            let differing_symbols = differences.len() as u64;
            differences.truncate(DIFFERENCES_LISTED);
            let period = group[0].period;
            out.push(Reconciled { day, period, symbols: group.len() as u64, differing_symbols, differences });
        }
        Ok(out)
    }

    /// What ClickHouse lacks of `day`'s history: the (symbol, period) groups of Redis whose bars
    /// ClickHouse holds fewer distinct frames of; `None` when it lacks nothing.
    async fn missing(&self, con: &mut Connection, day: NaiveDate) -> Result<Option<KeptDay>> {
        let held: Vec<HeldGroup> = store::held_groups(con, &self.keys, day).await?;
        if held.is_empty() {
            return Ok(None);
        }
        let stored: std::collections::HashMap<(String, u16), u64> =
            self.history.day_groups(day).await?.into_iter().map(|g| ((g.symbol, g.period), g.distinct)).collect();
        let mut missing: Vec<Missing> = held
            .into_iter()
            .filter_map(|g| {
                let clickhouse = stored.get(&(g.symbol.to_string(), g.period.minutes())).copied().unwrap_or(0);
                (clickhouse < g.bars).then_some(Missing {
                    symbol: g.symbol,
                    period: g.period,
                    redis: g.bars,
                    clickhouse,
                })
            })
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        missing.sort_by_key(|m| (m.symbol, m.period));
        let groups_missing = missing.len();
        missing.truncate(MISSING_LISTED);
        Ok(Some(KeptDay { day, groups_missing, missing }))
    }

    async fn integrity(&self, days: &[NaiveDate], report: &mut Report) -> Result<()> {
        let sessions = Sessions::new(self.bars.layout, &self.calendar.days());
        report.integrity.days = days.to_vec();
        for day in days {
            for group in self.history.day_groups(*day).await? {
                report.integrity.groups += 1;
                report.integrity.bars += group.rows;
                report.integrity.issues.extend(check_group(&sessions, *day, &group));
            }
        }
        Ok(())
    }

    async fn data_checks(&self, days: &[NaiveDate]) -> Result<Vec<Flag>> {
        let (Some(&first), Some(&last)) = (days.first(), days.last()) else { return Ok(Vec::new()) };
        let period = self.bars.periods.iter().min().copied().unwrap_or(Period::M1);
        let from = self.calendar.days().add_trading_days(first, -(VOLUME_DAYS as i32)).unwrap_or(first);
        let mut flags = daily_flags(&self.history.daily(period, from, last).await?, days);
        for day in days {
            flags.extend(intraday_flags(*day, &self.history.closes(period, *day).await?));
        }
        Ok(flags)
    }

    fn alert(&self, report: &Report) {
        let first = report
            .integrity
            .issues
            .first()
            .map(|i| format!("; first: {} {}m {} {} {}", i.symbol, i.period, i.day, i.kind, i.count));
        let kept = report.kept.iter().map(|k| format!("{} ({} groups short)", k.day, k.groups_missing));
        let kept: Vec<String> = kept.collect();
        let mut text = match &report.error {
            Some(e) => format!("tickbar cleanup of {:?} failed: {e}", report.days),
            None => format!(
                "tickbar cleanup of {:?}: {} integrity issues{}",
                report.days,
                report.integrity.issues.len(),
                first.unwrap_or_default()
            ),
        };
        if !kept.is_empty() {
            text.push_str(&format!("; kept in redis, clickhouse lacks their history: {}", kept.join(", ")));
        }
        let differing: Vec<String> = report
            .reconciliation
            .iter()
            .filter(|r| r.differing_symbols > 0)
            .map(|r| {
                let symbols: Vec<&str> = r.differences.iter().map(|d| d.symbol.as_str()).collect();
                format!("{} {}m: {} ({})", r.day, r.period, r.differing_symbols, symbols.join(" "))
            })
            .collect();
        if !differing.is_empty() {
            text.push_str(&format!("; live bars differ from the vendor's: {}", differing.join(", ")));
        }
        if let Some(warning) = &report.calendar_warning {
            text.push_str(&format!("; calendar: {warning}"));
        }
        let mut extra = serde_json::Map::new();
        extra.insert("ok".into(), report.ok.into());
        extra.insert("days".into(), serde_json::json!(report.days));
        self.alerts.event(Reading::new(Rule::CleanupFailed, 1.0, text), extra);
    }

    /// The latest scheduled time at or before `now` (market time).
    pub fn scheduled_before(&self, now: NaiveDateTime) -> NaiveDateTime {
        let today = now.date().and_time(self.at);
        if today <= now {
            today
        } else {
            today - chrono::Duration::days(1)
        }
    }

    /// Whether the run scheduled for `scheduled` is still to do, given the last report; and its days:
    /// the trading day before the scheduled's date, plus days held that runs missed since the last one
    /// or that the last one kept.
    pub fn due(&self, scheduled: NaiveDateTime, last: Option<&Report>, held: &[NaiveDate]) -> Option<Vec<NaiveDate>> {
        let last_scheduled = last.filter(|r| r.trigger == Trigger::Schedule && r.scheduled_for.is_some());
        if let Some(r) = last_scheduled {
            let done = r.scheduled_for >= Some(Frame::from_local(scheduled));
            let since_ms = self.clock.now_ms() - r.finished_at.epoch_seconds() * 1000;
            let retry = r.error.is_some() && since_ms > RETRY_FAILED_AFTER_MS;
            if done && !retry {
                return None;
            }
        }
        let previous = self
            .calendar
            .days()
            .prev(scheduled.date())
            .inspect_err(|e| tracing::warn!(error = %e, "no trading day before the scheduled run's date"))
            .ok()?;
        let cleaned_before = last_scheduled.and_then(|r| r.days.iter().max().copied());
        let kept = |d: &NaiveDate| last.is_some_and(|r| r.kept.iter().any(|k| k.day == *d));
        let mut days: Vec<NaiveDate> = held
            .iter()
            .copied()
            .filter(|d| *d < scheduled.date() && (cleaned_before.is_some_and(|c| *d > c) || kept(d)))
            .chain([previous])
            .collect();
        days.sort();
        days.dedup();
        Some(days)
    }

    /// Checks every [`CHECK_EVERY`] (and at once) whether a run is due, and runs it.
    pub async fn schedule(&self, mut con: Connection, monitor: Arc<Monitor>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            if let Err(e) = self.run_if_due(&mut con).await {
                match e {
                    Error::LockHeld { holder, .. } => tracing::info!(holder, "the cleanup runs elsewhere"),
                    e => monitor.failed(&e),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(CHECK_EVERY) => {},
                _ = stop.changed() => {},
            }
        }
    }

    async fn run_if_due(&self, con: &mut Connection) -> Result<()> {
        let scheduled = self.scheduled_before(self.clock.now().local());
        let last = store::last_report(con, &self.keys).await?.and_then(|r| {
            serde_json::from_str::<Report>(&r)
                .inspect_err(|e| tracing::warn!(error = %e, "the last cleanup report does not read; taken as none"))
                .ok()
        });
        let held = store::days_held(con, &self.keys).await?;
        if let Some(days) = self.due(scheduled, last.as_ref(), &held) {
            tracing::info!(?days, %scheduled, "cleanup due");
            self.run(con, days, Trigger::Schedule, Some(scheduled), false).await?;
        }
        Ok(())
    }
}

/// The rows of bar objects read from Redis (each key's period and bars), of live `version`, and
/// how many did not read as a bar of their period.
fn live_rows(groups: Vec<(Option<Period>, Vec<String>)>, version: u64) -> (Vec<BarRow>, u64) {
    let mut rows = Vec::new();
    let mut unreadable = 0;
    for (period, bars) in groups {
        for json in bars {
            let row = period
                .zip(serde_json::from_str::<Bar>(&json).ok())
                .and_then(|(period, bar)| BarRow::new(&bar, period, version).ok());
            match row {
                Some(row) => rows.push(row),
                None => unreadable += 1,
            }
        }
    }
    (rows, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleanup() -> Cleanup {
        let keys = Keys::default();
        Cleanup {
            lock: Lock::new("cleanup", keys.cleanup_lock(), "me", Duration::from_secs(1)),
            keys,
            history: History::new(clickhouse::Client::default(), "tickbar", Duration::from_secs(1)),
            calendar: LiveCalendar::bundled(),
            clock: Clock::System,
            bars: BarSettings::default(),
            at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
            integrity_days: 5,
            alerts: Alerts::new(&Default::default(), "consumer", "me".into(), Clock::System).unwrap(),
            archive: Archive::new(clickhouse::Client::default(), "tickbar", Duration::from_secs(1)),
            retention_days: 0,
            live_bars: true,
        }
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ran(scheduled: &str, days: &[&str]) -> Report {
        Report {
            ok: true,
            error: None,
            trigger: Trigger::Schedule,
            instance: "me".into(),
            scheduled_for: Some(Frame::from_local(at(scheduled))),
            started_at: cleanup().clock.now(),
            finished_at: cleanup().clock.now(),
            days: days.iter().map(|s| d(s)).collect(),
            forced: false,
            redis: vec![],
            kept: vec![],
            producer_latest_day: None,
            producer_positions: Vec::new(),
            calendar_warning: None,
            integrity: Integrity::default(),
            flags: vec![],
            ticks_expired: vec![],
            live_written: vec![],
            reconciliation: vec![],
        }
    }

    #[test]
    fn a_report_the_previous_releases_wrote_still_reads() {
        let mut written = serde_json::to_value(ran("2026-11-19 02:00", &["2026-11-18"])).unwrap();
        for added in ["ticks_expired", "live_written", "reconciliation"] {
            written.as_object_mut().unwrap().remove(added);
        }
        // A kept day as the release with text symbols and numeric periods wrote it.
        written["kept"] = serde_json::json!([{"day": "2026-11-18", "groups_missing": 1,
            "missing": [{"symbol": "600519.SH", "period": 5, "redis": 240, "clickhouse": 0}]}]);
        // The single producer's position beside the list, and times as that release wrote them.
        written["producer_position"] = "1763602203000-0".into();
        written["finished_at"] = "2026-11-19T02:00:07+08:00".into();
        written["scheduled_for"] = "2026-11-19T02:00:00+08:00".into();
        let read: Report = serde_json::from_value(written).expect("the last report still says what ran");
        assert_eq!((read.days, read.ticks_expired, read.live_written), (vec![d("2026-11-18")], vec![], vec![]));
        let seven_past = Frame::from_epoch_seconds(Frame::from_local(at("2026-11-19 02:00")).epoch_seconds() + 7);
        assert_eq!(read.finished_at, seven_past);
        assert_eq!(read.scheduled_for, Some(Frame::from_local(at("2026-11-19 02:00"))));
        assert!(read.reconciliation.is_empty());
        let missing = &read.kept[0].missing[0];
        assert_eq!((missing.symbol.to_string(), missing.period, missing.redis), ("600519.SH".into(), Period::M5, 240));
        let again = serde_json::to_value(&read.kept[0].missing[0]).unwrap();
        assert_eq!(again, serde_json::json!({"symbol": "600519.SH", "period": 5, "redis": 240, "clickhouse": 0}));
    }

    #[test]
    fn redis_bars_become_rows_of_a_live_version_and_a_bad_one_is_counted() {
        let bar = r#"{"symbol":"600519.SH","frame":"2023-02-01 09:31:00","open":1,"high":2,"low":1,"close":2,"vol":5,"amount":9}"#;
        let groups =
            vec![(Some(Period::M1), vec![bar.to_owned(), "not a bar".to_owned()]), (None, vec![bar.to_owned()])];
        let (rows, unreadable) = live_rows(groups, 1_700_000_000);
        assert_eq!((rows.len(), unreadable), (1, 2), "a bad object, and a key of no period");
        assert_eq!((rows[0].period, rows[0].vol, Source::of_version(rows[0].version)), (1, 5, Source::Live));
    }

    #[test]
    fn the_slot_is_the_latest_scheduled_time_not_after_now() {
        let c = cleanup();
        assert_eq!(c.scheduled_before(at("2026-11-20 01:59")), at("2026-11-19 02:00"));
        assert_eq!(c.scheduled_before(at("2026-11-20 02:00")), at("2026-11-20 02:00"));
    }

    #[test]
    fn a_monday_run_cleans_friday_and_a_done_slot_is_not_run_again() {
        let c = cleanup();
        let monday = at("2026-11-23 02:00");
        assert_eq!(c.due(monday, None, &[]), Some(vec![d("2026-11-20")]));
        let done = ran("2026-11-23 02:00", &["2026-11-20"]);
        assert_eq!(c.due(monday, Some(&done), &[d("2026-11-20")]), None);
        let failed = Report { error: Some("clickhouse down".into()), ..done.clone() };
        assert_eq!(c.due(monday, Some(&failed), &[]), None, "a failed run is retried after a pause, not at once");
    }

    #[test]
    fn days_missed_since_the_last_run_are_cleaned_but_an_old_replayed_day_is_left() {
        let c = cleanup();
        let last = ran("2026-11-17 02:00", &["2026-11-16"]);
        let held = [d("2023-02-01"), d("2026-11-17"), d("2026-11-18"), d("2026-11-20")];
        assert_eq!(
            c.due(at("2026-11-21 02:00"), Some(&last), &held),
            Some(vec![d("2026-11-17"), d("2026-11-18"), d("2026-11-20")])
        );
    }

    #[test]
    fn a_day_the_last_run_kept_is_tried_again() {
        let c = cleanup();
        let mut last = ran("2026-11-19 02:00", &["2026-11-18"]);
        last.kept.push(KeptDay { day: d("2026-11-18"), groups_missing: 1, missing: vec![] });
        let held = [d("2026-11-18"), d("2026-11-19")];
        assert_eq!(c.due(at("2026-11-20 02:00"), Some(&last), &held), Some(vec![d("2026-11-18"), d("2026-11-19")]));
    }
}
