//! The bar aggregator: ticks in, bar events out, for any number of symbols. Pure: time comes in as
//! an explicit `now`, so every rule is testable without a clock.
//!
//! Layout: `feed` reads a tick against the symbol's cumulative baseline and yields the trade it
//! stands for; `book` places trades into one symbol's day of bars; this module routes ticks to
//! books, checks the calendar and sessions, keeps the counts, and batches forming-bar updates.
//!
//! Use: call [`BarAggregator::apply`] for each tick, then [`BarAggregator::advance`] once per batch
//! (and on a timer, so illiquid symbols close on time), then take [`BarAggregator::drain_events`].

mod book;
mod feed;

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::bar::BarEvent;
use crate::calendar::TradingCalendar;
use crate::money::Amount;
use crate::period::Period;
use crate::session::{Layout, Rejection, Sessions};
use crate::symbol::Symbol;
use crate::tick::Tick;
use crate::time::{split_ms, DayNumber};
use crate::Error;
use book::{Book, Deadline, Placement, Turn};
use feed::Reading;

/// How bars are built: the `[bars]` settings section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BarSettings {
    /// Periods to emit, in minutes. One-minute bars are always built, since the others fold them.
    pub periods: Vec<Period>,
    pub layout: Layout,
    /// How long after its end a bar waits for stragglers before it closes.
    pub grace_ms: u64,
    /// How long after closing a bar still accepts a late tick (amending it); later ones are dropped.
    pub correction_window_ms: u64,
}

impl Default for BarSettings {
    fn default() -> Self {
        BarSettings {
            periods: Period::DEFAULTS.to_vec(),
            layout: Layout::default(),
            grace_ms: 2_000,
            correction_window_ms: 60_000,
        }
    }
}

impl BarSettings {
    /// The stored periods, shortest first, each once.
    pub fn sorted_periods(&self) -> Vec<Period> {
        let mut periods = self.periods.clone();
        periods.sort();
        periods.dedup();
        periods
    }
}

/// The settings in the form the hot path reads them.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub layout: Layout,
    /// The longer periods that are emitted, shortest first.
    pub higher: Vec<Period>,
    emit_minute: bool,
    pub grace_ms: i64,
    pub correction_window_ms: i64,
}

impl Rules {
    fn new(s: &BarSettings) -> Rules {
        let higher: Vec<Period> = s.sorted_periods().into_iter().filter(|p| *p != Period::M1).collect();
        Rules {
            layout: s.layout,
            higher,
            emit_minute: s.periods.contains(&Period::M1),
            grace_ms: s.grace_ms as i64,
            correction_window_ms: s.correction_window_ms as i64,
        }
    }

    pub fn emits(&self, p: Period) -> bool {
        if p == Period::M1 {
            self.emit_minute
        } else {
            self.higher.contains(&p)
        }
    }
}

/// What became of one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickOutcome {
    /// It went into a forming bar.
    Applied,
    /// It was late and amended a closed bar.
    Amended,
    /// A snapshot whose volume did not rise: no trade.
    NoTrade,
    /// The same snapshot again.
    Duplicate,
    /// A snapshot whose time or totals went backwards, or a tick of a past trading day.
    Stale,
    /// Volume no bar can hold (a first snapshot after 09:31 sets the baseline only).
    Unattributed,
    /// Its time belongs to no bar.
    Rejected(Rejection),
    /// Later than the correction window.
    LateDropped,
    /// Its bar would hold more than a bar can (`tick::MAX_VOLUME` shares, `tick::MAX_AMOUNT` yuan).
    TooLarge,
}

const OUTCOMES: usize = 15;
const REJECTIONS: [Rejection; 7] = [
    Rejection::NonTradingDay,
    Rejection::OutsideCalendar,
    Rejection::PreOpen,
    Rejection::LunchBreak,
    Rejection::AfterClose,
    Rejection::GarbageTime,
    Rejection::Halted,
];

impl TickOutcome {
    /// Every outcome, for reports and metrics.
    pub fn all() -> impl Iterator<Item = TickOutcome> {
        [
            TickOutcome::Applied,
            TickOutcome::Amended,
            TickOutcome::NoTrade,
            TickOutcome::Duplicate,
            TickOutcome::Stale,
            TickOutcome::Unattributed,
            TickOutcome::LateDropped,
            TickOutcome::TooLarge,
        ]
        .into_iter()
        .chain(REJECTIONS.into_iter().map(TickOutcome::Rejected))
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            TickOutcome::Applied => "applied",
            TickOutcome::Amended => "amended",
            TickOutcome::NoTrade => "no_trade",
            TickOutcome::Duplicate => "duplicate",
            TickOutcome::Stale => "stale",
            TickOutcome::Unattributed => "unattributed",
            TickOutcome::LateDropped => "late_dropped",
            TickOutcome::TooLarge => "too_large",
            TickOutcome::Rejected(r) => r.as_str(),
        }
    }

    const fn index(self) -> usize {
        match self {
            TickOutcome::Applied => 0,
            TickOutcome::Amended => 1,
            TickOutcome::NoTrade => 2,
            TickOutcome::Duplicate => 3,
            TickOutcome::Stale => 4,
            TickOutcome::Unattributed => 5,
            TickOutcome::LateDropped => 6,
            // Added outcomes go last, so that the counts of checkpoints written before them keep
            // their places.
            TickOutcome::Rejected(Rejection::Halted) => 14,
            TickOutcome::Rejected(r) => 7 + r as usize,
            TickOutcome::TooLarge => 13,
        }
    }
}

/// Builds bars of every configured period for every symbol it is fed.
#[derive(Debug)]
pub struct BarAggregator {
    rules: Rules,
    sessions: Sessions,
    calendar: Arc<TradingCalendar>,
    books: FxHashMap<Symbol, Book>,
    touched: Vec<Symbol>,
    events: Vec<BarEvent>,
    counts: [u64; OUTCOMES],
    latest_ms: i64,
    /// No book has anything to close before this.
    deadline: Deadline,
    last_day: Option<(DayNumber, Result<(), Rejection>)>,
}

impl BarAggregator {
    pub fn new(settings: &BarSettings, calendar: Arc<TradingCalendar>) -> BarAggregator {
        BarAggregator {
            rules: Rules::new(settings),
            sessions: Sessions::new(settings.layout, &calendar),
            calendar,
            books: FxHashMap::default(),
            touched: Vec::new(),
            events: Vec::new(),
            counts: [0; OUTCOMES],
            latest_ms: i64::MIN,
            deadline: Deadline::NEVER,
            last_day: None,
        }
    }

    /// Feeds one tick. `now_ms` is the wall clock (live) or the event-time watermark (replay).
    pub fn apply(&mut self, tick: &Tick, now_ms: i64) -> TickOutcome {
        let outcome = self.route(tick, Some(now_ms));
        self.counts[outcome.index()] += 1;
        outcome
    }

    /// Feeds one tick in event time: `now` is the watermark, the latest tick time of a trading day
    /// seen so far (this tick's included), so a tick from a wrong day cannot move the clock.
    pub fn apply_at_watermark(&mut self, tick: &Tick) -> TickOutcome {
        let outcome = self.route(tick, None);
        self.counts[outcome.index()] += 1;
        outcome
    }

    fn route(&mut self, tick: &Tick, now_ms: Option<i64>) -> TickOutcome {
        let (day, sec) = split_ms(tick.time_ms);
        if let Err(r) = self.check_day(day) {
            return TickOutcome::Rejected(r);
        }
        self.latest_ms = self.latest_ms.max(tick.time_ms);
        let now_ms = now_ms.unwrap_or(self.latest_ms);
        let book = self.books.entry(tick.symbol).or_insert_with(|| Book::new(day));
        if book.day > day {
            return TickOutcome::Stale;
        }
        if book.day < day {
            // The previous day is over whatever the clock says: close and fill all of it.
            let grid = self.sessions.grid(tick.symbol, book.day);
            book.close_due(&mut Turn::new(tick.symbol, grid, &self.rules, i64::MAX, self.latest_ms, &mut self.events));
            *book = Book::new(day);
        }
        let grid = self.sessions.grid(tick.symbol, day);
        book.last_tick_ms = book.last_tick_ms.max(tick.time_ms);
        let mut turn = Turn::new(tick.symbol, grid, &self.rules, now_ms, self.latest_ms, &mut self.events);
        let trade = match book.feed.take(tick, sec) {
            Reading::Trade(t) => t,
            Reading::NoTrade => return TickOutcome::NoTrade,
            Reading::Duplicate => return TickOutcome::Duplicate,
            Reading::Stale => return TickOutcome::Stale,
            Reading::Unattributed { volume, amount } => {
                book.unattribute(volume, amount);
                return TickOutcome::Unattributed;
            }
        };
        let slot = match grid.classify(sec) {
            Ok(slot) => slot,
            Err(r) => {
                book.unattribute(trade.volume, trade.amount);
                return TickOutcome::Rejected(r);
            }
        };
        let (was_touched, was_forming) = (book.touched, book.forming_slot());
        let placement = book.place(slot, &trade, &mut turn);
        if book.forming_slot() != was_forming {
            book.deadline = book.deadline(grid, &self.rules);
        }
        if book.deadline.passed(now_ms, self.latest_ms) {
            book.close_due(&mut turn);
            book.deadline = book.deadline(grid, &self.rules);
        }
        self.deadline = self.deadline.min(book.deadline);
        if book.touched && !was_touched {
            self.touched.push(tick.symbol);
        }
        match placement {
            Placement::Applied => TickOutcome::Applied,
            Placement::Amended => TickOutcome::Amended,
            Placement::LateDropped => TickOutcome::LateDropped,
            Placement::TooLarge => TickOutcome::TooLarge,
        }
    }

    fn check_day(&mut self, day: DayNumber) -> Result<(), Rejection> {
        match self.last_day {
            Some((d, verdict)) if d == day => verdict,
            _ => {
                let verdict = Rejection::check_day(&self.calendar, day);
                self.last_day = Some((day, verdict));
                verdict
            }
        }
    }

    /// Closes every bar whose time has come by `now_ms` (flat-filling quiet minutes), and reports
    /// the forming bars of the symbols ticked since the last call.
    pub fn advance(&mut self, now_ms: i64) {
        self.close_due(now_ms);
        let (sessions, rules) = (&self.sessions, &self.rules);
        for symbol in self.touched.drain(..) {
            let book = self.books.get_mut(&symbol).expect("touched books exist");
            let grid = sessions.grid(symbol, book.day);
            book.report_forming(&mut Turn::new(symbol, grid, rules, now_ms, self.latest_ms, &mut self.events));
        }
    }

    /// Closes every bar whose time has come by `now_ms`, as [`Self::advance`] does, without
    /// reporting forming bars: for a build from files, which wants the final bars only. At
    /// `i64::MAX` every day held is closed and filled to its end.
    pub fn close_due(&mut self, now_ms: i64) {
        let (sessions, rules) = (&self.sessions, &self.rules);
        if self.deadline.passed(now_ms, self.latest_ms) {
            let mut next = Deadline::NEVER;
            for (&symbol, book) in self.books.iter_mut() {
                if book.deadline.passed(now_ms, self.latest_ms) {
                    let grid = sessions.grid(symbol, book.day);
                    book.close_due(&mut Turn::new(symbol, grid, rules, now_ms, self.latest_ms, &mut self.events));
                    book.deadline = book.deadline(grid, rules);
                }
                next = next.min(book.deadline);
            }
            self.deadline = next;
        }
    }

    /// Follows a changed calendar (a new holiday list, an announced halt or close) from now on:
    /// the days it overrides get their grids, and every book's next closing time is set again by
    /// its day's grid, so an early close announced for today closes its bars on time.
    pub fn set_calendar(&mut self, calendar: Arc<TradingCalendar>) {
        self.sessions = Sessions::new(self.rules.layout, &calendar);
        self.calendar = calendar;
        self.last_day = None;
        let mut next = Deadline::NEVER;
        for (&symbol, book) in self.books.iter_mut() {
            book.deadline = book.deadline(self.sessions.grid(symbol, book.day), &self.rules);
            next = next.min(book.deadline);
        }
        self.deadline = next;
    }

    /// Takes the events produced since the last call, in the order they happened per symbol.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, BarEvent> {
        self.events.drain(..)
    }

    /// How many ticks ended in `outcome`.
    pub fn count(&self, outcome: TickOutcome) -> u64 {
        self.counts[outcome.index()]
    }

    /// Volume and amount of `symbol`'s current day that went into no bar.
    pub fn unattributed(&self, symbol: Symbol) -> (u64, Amount) {
        self.books.get(&symbol).map_or((0, Amount::ZERO), |b| (b.unattributed_volume, b.unattributed_amount))
    }

    /// The latest tick time applied, the event-time watermark.
    pub fn latest_tick_ms(&self) -> Option<i64> {
        (self.latest_ms != i64::MIN).then_some(self.latest_ms)
    }

    /// Whether [`Self::advance`] at `now_ms` would close a bar: the clock has work to do.
    pub fn due(&self, now_ms: i64) -> bool {
        self.deadline.passed(now_ms, self.latest_ms)
    }

    /// How many symbols have a book for `day` (a `DayNumber`): the symbols active that day.
    pub fn symbols_on(&self, day: DayNumber) -> usize {
        self.books.values().filter(|b| b.day == day).count()
    }

    /// The symbols that traded on `day` (a `DayNumber`) with their latest tick time: what a stale
    /// feed is judged by.
    pub fn last_ticks(&self, day: DayNumber) -> impl Iterator<Item = (Symbol, i64)> + '_ {
        self.books.iter().filter(move |(_, b)| b.day == day && b.traded()).map(|(s, b)| (*s, b.last_tick_ms))
    }

    /// The whole aggregation state as JSON, for a checkpoint. Call it right after
    /// [`Self::advance`] and [`Self::drain_events`], when no event or report is pending.
    pub fn save(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.save_to(&mut out).expect("aggregator state serializes into memory");
        out
    }

    /// [`Self::save`] written into `out` as it is produced, so that a caller compressing it never
    /// holds the whole JSON (tens of MB for a whole market).
    pub fn save_to(&self, out: impl std::io::Write) -> serde_json::Result<()> {
        let state =
            StateRef { layout: self.rules.layout, latest_ms: self.latest_ms, counts: &self.counts, books: &self.books };
        serde_json::to_writer(out, &state)
    }

    /// An aggregator continuing from a checkpoint written by [`Self::save`] under the same layout.
    pub fn restore(
        settings: &BarSettings,
        calendar: Arc<TradingCalendar>,
        saved: &[u8],
    ) -> Result<BarAggregator, Error> {
        let state: State = serde_json::from_slice(saved).map_err(|e| Error::InvalidState(e.to_string()))?;
        if state.layout != settings.layout {
            return Err(Error::InvalidState(format!(
                "the saved state was built with bar layout {:?}, the settings say {:?}",
                state.layout, settings.layout
            )));
        }
        let mut agg = BarAggregator::new(settings, calendar);
        for (symbol, book) in &state.books {
            book.check(agg.sessions.grid(*symbol, book.day))
                .map_err(|e| Error::InvalidState(format!("{symbol}: {e}")))?;
        }
        agg.latest_ms = state.latest_ms;
        if state.counts.len() > OUTCOMES {
            return Err(Error::InvalidState(format!(
                "{} outcome counts, at most {OUTCOMES} exist",
                state.counts.len()
            )));
        }
        agg.counts[..state.counts.len()].copy_from_slice(&state.counts);
        let mut books = state.books;
        books.values_mut().for_each(|b| b.keep_periods(&agg.rules.higher));
        agg.deadline = books.values().fold(Deadline::NEVER, |d, b| d.min(b.deadline));
        agg.books = books;
        Ok(agg)
    }
}

/// The saved form of an aggregator, borrowed for writing.
#[derive(Serialize)]
struct StateRef<'a> {
    layout: Layout,
    latest_ms: i64,
    counts: &'a [u64; OUTCOMES],
    books: &'a FxHashMap<Symbol, Book>,
}

/// The saved form of an aggregator, owned for reading.
#[derive(Deserialize)]
struct State {
    layout: Layout,
    latest_ms: i64,
    /// Checkpoints written before an outcome was added have fewer.
    counts: Vec<u64>,
    books: FxHashMap<Symbol, Book>,
}
