//! The calendar as live data. The baseline is the holiday list and day overrides `[calendar]`
//! names (or the bundled ones); an operator's changes (a holiday list replacing the baseline's,
//! announced day overrides) are stored in Redis under one key with a version, and published.
//! [`LiveCalendar`] is the handle every part of a service reads the current calendar from;
//! [`follow`] applies a stored change within a second and reloads the baseline on SIGHUP;
//! [`admin`] is the operator's command that stores a change.

pub mod admin;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use common::calendar::{parse_overrides, DayOverride, BUNDLED_OVERRIDES_CSV};
use common::{Layout, Sessions, TradingCalendar};
use parking_lot::{Mutex, RwLock};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::keys::Keys;
use crate::redis::Connection;
use crate::settings::CalendarSettings;
use crate::Error;

/// How often a service looks for a stored change (the published version is for outside programs).
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// What an operator stored in Redis: the changes on top of the baseline, and their version (0
/// before the first change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stored {
    pub version: u64,
    /// A `date,name` holiday list replacing the baseline's.
    pub holidays: Option<String>,
    /// Where that list comes from (the file it was installed from).
    pub holidays_source: Option<String>,
    /// Day overrides announced, added to the baseline's.
    pub overrides: Vec<DayOverride>,
    /// Market time of the last change.
    pub changed_at: Option<String>,
}

/// The calendar a service works on now, with its version and where it comes from.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub days: Arc<TradingCalendar>,
    /// The stored change's version it includes (0: the baseline alone).
    pub version: u64,
    /// The holiday list's origin and the overrides' (`bundled`, a file, `redis`).
    pub source: String,
}

/// The baseline of `[calendar]`: its holiday list and overrides files, or the bundled ones.
#[derive(Debug, Clone)]
pub struct Baseline {
    holidays: String,
    holidays_source: String,
    overrides: Vec<DayOverride>,
    overrides_source: String,
    settings: CalendarSettings,
}

impl Baseline {
    /// Reads the files `settings` names (the bundled data where unset), checked: the baseline and
    /// its calendar alone.
    pub fn load(settings: &CalendarSettings) -> Result<(Baseline, Calendar), Error> {
        let (holidays, holidays_source) = match &settings.holidays_file {
            Some(path) => (read(path)?, path.display().to_string()),
            None => (common::calendar::BUNDLED_HOLIDAYS_CSV.to_string(), "bundled".to_string()),
        };
        let (overrides, overrides_source) = match &settings.overrides_file {
            Some(path) => {
                let list = parse_overrides(&read(path)?).map_err(|source| list_error(path, source))?;
                (list, path.display().to_string())
            }
            None => {
                (parse_overrides(BUNDLED_OVERRIDES_CSV).expect("the bundled overrides are valid"), "bundled".into())
            }
        };
        let baseline = Baseline { holidays, holidays_source, overrides, overrides_source, settings: settings.clone() };
        let alone = baseline.with(&Stored::default()).map_err(|e| match &settings.holidays_file {
            Some(path) => list_error(path, e),
            None => Error::Invalid(e.to_string()),
        })?;
        Ok((baseline, alone))
    }

    /// The calendar of this baseline with `stored` applied: its holiday list instead of the
    /// baseline's, its overrides added.
    pub fn with(&self, stored: &Stored) -> Result<Calendar, common::Error> {
        let holidays = stored.holidays.as_deref().unwrap_or(&self.holidays);
        let overrides = self.overrides.iter().chain(&stored.overrides).cloned().collect();
        let days =
            TradingCalendar::from_csv(holidays)?.beyond_list(self.settings.beyond_list).with_overrides(overrides)?;
        let list = match (&stored.holidays, &stored.holidays_source) {
            (Some(_), Some(from)) => format!("redis (from {from})"),
            (Some(_), None) => "redis".into(),
            (None, _) => self.holidays_source.clone(),
        };
        let mut source = format!("holidays: {list}; overrides: {}", self.overrides_source);
        if !stored.overrides.is_empty() {
            source += &format!(" + {} announced (redis)", stored.overrides.len());
        }
        Ok(Calendar { days: Arc::new(days), version: stored.version, source })
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::HolidayFile { path: path.to_path_buf(), source })
}

fn list_error(path: &Path, source: common::Error) -> Error {
    Error::HolidayList { path: path.to_path_buf(), source }
}

/// The calendar a service reads now; every clone sees a change [`follow`] applies. A part that
/// derives state from it (sessions, an aggregator) compares [`LiveCalendar::days`] by pointer
/// with what it derived from, and derives again when they differ.
#[derive(Debug, Clone)]
pub struct LiveCalendar {
    current: Arc<RwLock<Arc<Calendar>>>,
    baseline: Arc<RwLock<Baseline>>,
}

impl LiveCalendar {
    /// The baseline of `settings` alone, as a service starts before it reads Redis.
    pub fn load(settings: &CalendarSettings) -> Result<LiveCalendar, Error> {
        let (baseline, calendar) = Baseline::load(settings)?;
        let current = Arc::new(RwLock::new(Arc::new(calendar)));
        Ok(LiveCalendar { current, baseline: Arc::new(RwLock::new(baseline)) })
    }

    /// The bundled calendar, as the default `[calendar]` makes it.
    pub fn bundled() -> LiveCalendar {
        LiveCalendar::load(&CalendarSettings::default()).expect("the bundled calendar loads")
    }

    /// The calendar of the baseline with `stored` applied, as [`follow`] would make it: what an
    /// operator's change is checked with before it is stored.
    pub fn with(&self, stored: &Stored) -> Result<Calendar, common::Error> {
        self.baseline.read().with(stored)
    }

    /// The calendar now, with its version and source.
    pub fn current(&self) -> Arc<Calendar> {
        self.current.read().clone()
    }

    /// The trading days and overrides now.
    pub fn days(&self) -> Arc<TradingCalendar> {
        self.current.read().days.clone()
    }

    /// Reads the stored changes and applies them when their version is new (or `always`): what
    /// [`follow`] does each time, and a producer before it recovers its state, so that its
    /// journal is replayed on the calendar it was written on.
    pub async fn refresh(&self, con: &mut Connection, keys: &Keys, always: bool) -> redis::RedisResult<()> {
        let stored = read_stored(con, keys).await?;
        if always || stored.version != self.current().version {
            apply(&stored, self);
        }
        Ok(())
    }

    fn set(&self, calendar: Calendar) {
        *self.current.write() = Arc::new(calendar);
    }
}

/// Applies the stored changes once, when the Redis of `redis` answers within 2 s: for the
/// commands that run without [`follow`] (`check-config`, `producer build`). Whether it answered.
pub async fn apply_stored(live: &LiveCalendar, redis: &crate::settings::RedisSettings) -> bool {
    let read = async {
        let mut con = crate::redis::connect(redis).ok()?;
        live.refresh(&mut con, &redis.keys(), false).await.ok()
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), read).await, Ok(Some(())))
}

/// The calendar followed with the sessions of one bar layout on it, derived again when the
/// calendar changes: what checks times against the sessions of the day (stale symbols, history
/// items, queries) reads.
#[derive(Debug)]
pub struct Market {
    layout: Layout,
    calendar: LiveCalendar,
    held: Mutex<(Arc<TradingCalendar>, Arc<Sessions>)>,
}

impl Market {
    pub fn new(layout: Layout, calendar: LiveCalendar) -> Market {
        let days = calendar.days();
        let held = Mutex::new((days.clone(), Arc::new(Sessions::new(layout, &days))));
        Market { layout, calendar, held }
    }

    /// The calendar now and its sessions.
    pub fn now(&self) -> (Arc<TradingCalendar>, Arc<Sessions>) {
        let days = self.calendar.days();
        let mut held = self.held.lock();
        if !Arc::ptr_eq(&held.0, &days) {
            *held = (days.clone(), Arc::new(Sessions::new(self.layout, &days)));
        }
        held.clone()
    }

    pub fn calendar(&self) -> &LiveCalendar {
        &self.calendar
    }
}

/// The stored changes, or the empty ones before the first.
pub async fn read_stored(con: &mut Connection, keys: &Keys) -> redis::RedisResult<Stored> {
    let text: Option<String> = con.get(keys.calendar()).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// Stores `next` as the version after `previous` when the stored version is still `previous`
/// (another operator did not change it meanwhile), and publishes the new version on
/// [`Keys::calendar_channel`]. False when the version moved.
pub async fn write_stored(con: &mut Connection, keys: &Keys, previous: u64, next: &Stored) -> redis::RedisResult<bool> {
    let script = redis::Script::new(
        r"local held = redis.call('GET', KEYS[1])
          local version = 0
          if held then version = cjson.decode(held)['version'] or 0 end
          if version ~= tonumber(ARGV[1]) then return 0 end
          redis.call('SET', KEYS[1], ARGV[2])
          return 1",
    );
    let text = serde_json::to_string(next).expect("stored calendar serializes");
    let stored: i64 = script.key(keys.calendar()).arg(previous).arg(text).invoke_async(con).await?;
    if stored == 1 {
        let mut pipe = redis::pipe();
        let unsent = con.publish_in(&mut pipe, vec![(keys.calendar_channel(), next.version.to_string())]);
        if !pipe.is_empty() {
            pipe.query_async::<()>(con).await?;
        }
        con.send(unsent).await;
    }
    Ok(stored == 1)
}

/// Keeps `live` on the stored calendar until `stop`: reads the stored version every
/// [`FOLLOW_EVERY`] and applies a new one (logged), reloads the baseline files on SIGHUP (Unix).
/// A store that does not answer is retried; a stored change that does not apply is logged and
/// the calendar kept.
pub async fn follow(mut con: Connection, keys: Keys, live: LiveCalendar, mut stop: watch::Receiver<bool>) {
    let mut hangup = hangups();
    let mut failing = false;
    loop {
        let reload = tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(FOLLOW_EVERY) => false,
            // Where there is no SIGHUP the channel is closed: `None` disables this branch.
            Some(()) = hangup.recv() => true,
        };
        if reload {
            let settings = live.baseline.read().settings.clone();
            match Baseline::load(&settings) {
                Ok((loaded, _)) => *live.baseline.write() = loaded,
                Err(e) => tracing::warn!(error = %e, "SIGHUP: the calendar files do not load; the calendar is kept"),
            }
        }
        match live.refresh(&mut con, &keys, reload).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "calendar: the stored changes cannot be read; retrying");
            }
            Err(_) => {}
        }
    }
}

fn apply(stored: &Stored, live: &LiveCalendar) {
    match live.with(stored) {
        Ok(calendar) => {
            let overrides: Vec<String> = stored.overrides.iter().map(ToString::to_string).collect();
            tracing::info!(version = calendar.version, source = %calendar.source, ?overrides, "calendar applied");
            live.set(calendar);
        }
        Err(e) => {
            tracing::error!(version = stored.version, error = %e, "calendar: the stored change does not apply; kept")
        }
    }
}

/// SIGHUP as a stream of wake-ups (a closed channel on other systems, which never wakes).
fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (send, receive) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while signal.recv().await.is_some() {
            if send.send(()).await.is_err() {
                return;
            }
        }
    });
    #[cfg(not(unix))]
    drop(send);
    receive
}

/// What a change is refused for when not forced: it touches a day before `today`, or a minute of
/// `today` already past at `now`.
pub fn past_change(o: &DayOverride, now: NaiveDateTime) -> Option<String> {
    let today = now.date();
    if o.date < today {
        return Some(format!("{o} is a past day: it would change history (bars already built and stored)"));
    }
    let first = o.change.stop().map(|(from, _)| from);
    let minute = now.time().num_seconds_from_midnight() / 60;
    match first {
        Some(from) if o.date == today && from <= minute => {
            Some(format!("{o} starts at a minute already past: bars of it were built"))
        }
        None if o.date == today => Some(format!("{o}: today has begun")),
        _ => None,
    }
}

/// The trading days before `today` whose status differs between `old` and `new`.
pub fn past_days_changed(old: &TradingCalendar, new: &TradingCalendar, today: NaiveDate) -> Vec<NaiveDate> {
    let first = old.first_date().max(new.first_date());
    first
        .iter_days()
        .take_while(|d| *d < today)
        .filter(|d| old.is_trading_day(*d).ok() != new.is_trading_day(*d).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_change_reads_back() {
        let o = DayOverride {
            date: "2026-11-18".parse().unwrap(),
            change: common::calendar::DayChange::EarlyClose { at: "10:30".parse().unwrap() },
            source: "x".into(),
        };
        let stored = Stored { version: 3, overrides: vec![o], ..Stored::default() };
        let text = serde_json::to_string(&stored).unwrap();
        assert_eq!(serde_json::from_str::<Stored>(&text).unwrap(), stored, "{text}");
    }
}
