//! `calendar` (a subcommand of every service binary): shows the calendar the services follow,
//! announces or withdraws a day override, installs a holiday list. A change is checked as the
//! services will apply it, refused for a past day or minute unless forced, stored in Redis with
//! the next version and published; every running service applies it within a second.

use std::path::PathBuf;

use chrono::NaiveDate;
use common::calendar::{DayChange, DayOverride, Hm};

use super::{past_change, past_days_changed, read_stored, write_stored, Calendar, LiveCalendar, Stored};
use crate::clock::Clock;
use crate::keys::Keys;
use crate::redis::Connection;
use crate::settings::RedisSettings;
use crate::Error;

/// What the `calendar` subcommand does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CalendarCommand {
    /// Prints the stored changes and the calendar they make (version, source, every override).
    Show,
    /// Announces a day override: `closed`, `early_close --from HH:MM`, `halt --from HH:MM --to
    /// HH:MM` or `late_open --from HH:MM`.
    Announce {
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        change: String,
        #[arg(long)]
        from: Option<Hm>,
        #[arg(long)]
        to: Option<Hm>,
        /// The notice the change is taken from.
        #[arg(long)]
        source: String,
        /// Also for a past day or a minute already past (bars built then are not rebuilt).
        #[arg(long)]
        force: bool,
    },
    /// Withdraws the overrides announced for a date.
    Withdraw {
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        force: bool,
    },
    /// Installs a `date,name` holiday list that replaces the baseline's on every service.
    InstallHolidays {
        #[arg(long)]
        file: PathBuf,
        /// Also when it changes whether a past day traded.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `command` against the Redis of `redis`, checking changes with `live` (the baseline of
/// this host's `[calendar]`) at `clock`'s time. Prints what it did.
pub async fn run(
    command: &CalendarCommand,
    redis: &RedisSettings,
    live: &LiveCalendar,
    clock: Clock,
) -> Result<(), Error> {
    let keys = redis.keys();
    let mut con = crate::redis::connect(redis).map_err(redis_error)?;
    let now = clock.now().local();
    let stored = read_stored(&mut con, &keys).await.map_err(redis_error)?;
    let mut next = match command {
        CalendarCommand::Show => return show(live, &stored),
        CalendarCommand::Announce { date, change, from, to, source, force } => {
            let change = DayChange::parse(change, *from, *to).map_err(Error::Invalid)?;
            let o = DayOverride { date: *date, change, source: source.clone() };
            refuse_past(past_change(&o, now), *force)?;
            Stored { overrides: [stored.overrides.clone(), vec![o]].concat(), ..stored.clone() }
        }
        CalendarCommand::Withdraw { date, force } => {
            let past = (*date < now.date()).then(|| format!("{date} is a past day: it would change history"));
            refuse_past(past, *force)?;
            let overrides: Vec<DayOverride> = stored.overrides.iter().filter(|o| o.date != *date).cloned().collect();
            if overrides.len() == stored.overrides.len() {
                return Err(Error::Invalid(format!("no override was announced for {date}")));
            }
            Stored { overrides, ..stored.clone() }
        }
        CalendarCommand::InstallHolidays { file, force } => {
            let text =
                std::fs::read_to_string(file).map_err(|source| Error::HolidayFile { path: file.clone(), source })?;
            let next =
                Stored { holidays: Some(text), holidays_source: Some(file.display().to_string()), ..stored.clone() };
            let (old, new) = (live.with(&stored), live.with(&next));
            if let (Ok(old), Ok(new)) = (&old, &new) {
                let changed = past_days_changed(&old.days, &new.days, now.date());
                let why = (!changed.is_empty()).then(|| format!("it changes whether past days traded: {changed:?}"));
                refuse_past(why, *force)?;
            }
            next
        }
    };
    next.changed_at = Some(now.format("%Y-%m-%dT%H:%M:%S").to_string());
    store(&mut con, &keys, live, stored, next).await
}

async fn store(
    con: &mut Connection,
    keys: &Keys,
    live: &LiveCalendar,
    stored: Stored,
    mut next: Stored,
) -> Result<(), Error> {
    next.version = stored.version + 1;
    let calendar = live.with(&next).map_err(|e| Error::Invalid(format!("refused: {e}")))?;
    if !write_stored(con, keys, stored.version, &next).await.map_err(redis_error)? {
        return Err(Error::Invalid("the calendar changed meanwhile (another operator?): run the command again".into()));
    }
    println!("calendar version {} stored and published: {}", next.version, calendar.source);
    print_overrides(&calendar);
    Ok(())
}

fn show(live: &LiveCalendar, stored: &Stored) -> Result<(), Error> {
    let calendar = live.with(stored).map_err(|e| Error::Invalid(format!("the stored change does not apply: {e}")))?;
    println!("version {}: {}", calendar.version, calendar.source);
    println!("holiday list {} to {}", calendar.days.first_date(), calendar.days.last_date());
    print_overrides(&calendar);
    Ok(())
}

/// Every override of `calendar`, one a line with its source.
fn print_overrides(calendar: &Calendar) {
    for o in calendar.days.overrides() {
        println!("  {o} ({})", o.source);
    }
}

fn refuse_past(why: Option<String>, force: bool) -> Result<(), Error> {
    match why {
        Some(why) if !force => Err(Error::Invalid(format!(
            "refused: {why}; pass --force to store it anyway, then rebuild the day's bars (docs/operations.md)"
        ))),
        _ => Ok(()),
    }
}

fn redis_error(e: redis::RedisError) -> Error {
    Error::Invalid(format!("redis: {e}"))
}
