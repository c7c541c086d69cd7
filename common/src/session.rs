//! A-share sessions: which one-minute bar a time of day belongs to under a bar layout, the
//! session-aligned windows of the longer periods, the typed reason a time belongs to no bar, and
//! the market's phase at an instant ([`phase_at`]), all from one table of session times and the
//! calendar's day overrides (halts, early closes, late opens).
//!
//! Everything is precomputed into a [`Grid`] per layout and per overridden day, so classifying a
//! tick is one table lookup. An overridden day keeps the regular day's slots and labels; the
//! slots it does not trade in are dead: no tick goes into them, no flat bar fills them, and a
//! window ends with its last live slot.

use serde::{Deserialize, Serialize};

use crate::calendar::TradingCalendar;
use crate::period::{Period, TILING_PERIODS};
use crate::symbol::Symbol;
use crate::time::{date_of, day_number, epoch_ms, split_ms, DayNumber, Frame};

/// Minutes `[from, to)` of a day that do not trade, from a day override.
pub type Stop = (u32, u32);

/// A slot: the index of a one-minute bar in a day's session grid (the word means this alone in
/// tickbar; Redis Cluster's is a "hash slot").
pub type Slot = u16;

/// Which end of its interval a bar is labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSide {
    /// TDX style: bar `09:31` covers [09:30, 09:31).
    #[default]
    End,
    /// Bar `09:30` covers [09:30, 09:31).
    Start,
}

/// Where the 09:25 opening-auction trade goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuctionBar {
    /// Into the first continuous bar: 240 one-minute bars a day.
    #[default]
    Folded,
    /// Into a bar of its own before the first continuous one: the 241-bar layout of QMT, Tushare
    /// and Eastmoney. Longer periods still fold it into their first window.
    Separate,
}

/// The bar layout: every convention a user may choose differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Layout {
    pub label: LabelSide,
    pub auction: AuctionBar,
    /// Give a minute with no trade a flat bar, from the symbol's first trade of the day on.
    pub fill_empty: bool,
    /// Build bars from the 15:05–15:30 after-hours fixed-price trades of the boards that have them.
    pub after_hours: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { label: LabelSide::End, auction: AuctionBar::Folded, fill_empty: true, after_hours: false }
    }
}

/// Why a tick's time belongs to no bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// A weekend or an exchange holiday.
    NonTradingDay,
    /// A date the holiday list does not cover.
    OutsideCalendar,
    /// Before the 09:25 opening auction trade.
    PreOpen,
    /// 11:31 to 12:59:59.
    LunchBreak,
    /// After 15:00:59 (or after the after-hours session, where it counts), or after an early close.
    AfterClose,
    /// Not a time of day at all (`99:99:99`).
    GarbageTime,
    /// Inside a halt, or before a late open, that a day override announced.
    Halted,
}

impl Rejection {
    /// Whether `day` trades: `NonTradingDay` on a weekend or holiday, `OutsideCalendar` when the
    /// calendar does not cover it.
    pub fn check_day(calendar: &TradingCalendar, day: DayNumber) -> Result<(), Rejection> {
        match calendar.is_trading_day_number(day) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Rejection::NonTradingDay),
            Err(_) => Err(Rejection::OutsideCalendar),
        }
    }

    /// The snake-case name used in metrics and dead-letter reasons.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rejection::NonTradingDay => "non_trading_day",
            Rejection::OutsideCalendar => "outside_calendar",
            Rejection::PreOpen => "pre_open",
            Rejection::LunchBreak => "lunch_break",
            Rejection::AfterClose => "after_close",
            Rejection::GarbageTime => "garbage_time",
            Rejection::Halted => "halted",
        }
    }
}

/// A run of bars sharing one label: a minute, or the session-aligned window of a longer period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: Slot,
    pub last: Slot,
    /// Seconds of day of the interval's start and nominal end.
    pub start: u32,
    pub end: u32,
    /// Seconds of day its last live minute ends: `end`, or earlier on a day that stops trading
    /// inside the window. Nothing can enter the bar after it.
    pub closes: u32,
    /// Seconds of day of the label.
    pub label: u32,
}

/// The bars of one kind of trading day under one layout.
#[derive(Debug, Clone)]
pub struct Grid {
    by_minute: Vec<Result<Slot, Rejection>>,
    /// The tiling of every period, at its [`Period::tiling_index`].
    windows: Vec<Tiling>,
    sessions: Vec<(u32, u32)>,
    slots: Vec<SlotSpec>,
    label: LabelSide,
    /// Per slot, whether the day trades in it.
    live: Vec<bool>,
    last_live: Slot,
}

/// The session-aligned windows of one bar length over a day's grid, and the window of each slot.
#[derive(Debug, Clone, Default)]
pub struct Tiling {
    pub windows: Vec<Window>,
    /// Per slot, the index of its window in `windows`.
    pub window_of: Vec<u16>,
}

const fn hm(h: u32, m: u32) -> u32 {
    h * 60 + m
}
pub(crate) const OPENING_AUCTION: u32 = hm(9, 15);
const AUCTION: u32 = hm(9, 25);
const MORNING: (u32, u32) = (hm(9, 30), 120);
const AFTERNOON: (u32, u32) = (hm(13, 0), 120);
/// The minutes continuous trading starts and the day's regular trading ends.
pub(crate) const CONTINUOUS_OPEN: u32 = MORNING.0;
pub(crate) const CONTINUOUS_CLOSE: u32 = AFTERNOON.0 + AFTERNOON.1;
const CLOSING_AUCTION: u32 = hm(14, 57);
const AFTER_HOURS: (u32, u32) = (hm(15, 5), 25);

/// The market's phase (`docs/conventions.md`, "Sessions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A trading day before 09:15: nothing is matched yet.
    PreOpen,
    /// 09:15–09:25: orders are collected; one match at 09:25 sets the open.
    OpeningAuction,
    /// 09:25–09:30, and 15:00–15:05 before an after-hours session: nothing is matched.
    Pause,
    /// 09:30–11:30 and 13:00–14:57.
    Continuous,
    /// 11:30–13:00.
    LunchBreak,
    /// 14:57–15:00: one match at 15:00 sets the close.
    ClosingAuction,
    /// 15:05–15:30 on STAR Market, ChiNext and Beijing: fixed-price trades at the close.
    AfterHours,
    /// Inside a halt or before a late open that a day override announced.
    Halted,
    /// After the day's last session (or its early close), and all of a day that does not trade.
    Closed,
}

/// The phases of a trading day, each with the minute of the day it starts at (until the next
/// one's), on a board with or without the after-hours session, under the day's `stops`: `Halted`
/// inside one, `Closed` from an early close on.
pub fn day_phases(after_hours: bool, stops: &[Stop]) -> Vec<(u32, Phase)> {
    let regular = regular_phases(after_hours);
    let at = |minute: u32| regular.iter().rev().find(|(start, _)| *start <= minute).expect("a phase from 0").1;
    let mut starts: Vec<u32> = regular.iter().map(|(start, _)| *start).collect();
    starts.extend(stops.iter().flat_map(|&(from, to)| [from, to]).filter(|&m| m < 24 * 60));
    starts.sort_unstable();
    starts.dedup();
    let mut phases: Vec<(u32, Phase)> = Vec::new();
    for start in starts {
        let phase = match stops.iter().find(|(from, to)| (*from..*to).contains(&start)) {
            Some((_, to)) if *to == 24 * 60 => Phase::Closed,
            Some(_) => Phase::Halted,
            None => at(start),
        };
        if phases.last().is_none_or(|(_, last)| *last != phase) {
            phases.push((start, phase));
        }
    }
    phases
}

fn regular_phases(after_hours: bool) -> Vec<(u32, Phase)> {
    let close = AFTERNOON.0 + AFTERNOON.1;
    let mut phases = vec![
        (0, Phase::PreOpen),
        (OPENING_AUCTION, Phase::OpeningAuction),
        (AUCTION, Phase::Pause),
        (MORNING.0, Phase::Continuous),
        (MORNING.0 + MORNING.1, Phase::LunchBreak),
        (AFTERNOON.0, Phase::Continuous),
        (CLOSING_AUCTION, Phase::ClosingAuction),
    ];
    if after_hours {
        let (start, minutes) = AFTER_HOURS;
        phases.extend([(close, Phase::Pause), (start, Phase::AfterHours), (start + minutes, Phase::Closed)]);
    } else {
        phases.push((close, Phase::Closed));
    }
    phases
}

/// The market's phase at an instant and the one after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseAt {
    pub trading_day: bool,
    pub phase: Phase,
    pub next: Phase,
    /// When `next` begins (epoch ms): a later minute of the day, or midnight of the next trading
    /// day (its [`Phase::PreOpen`]).
    pub next_at_ms: i64,
}

/// The phase at `at_ms` on the schedule of `symbol`'s board (the main boards' without one, which
/// have no after-hours session), from the calendar and the session times. An error for an instant
/// the calendar does not cover.
pub fn phase_at(calendar: &TradingCalendar, symbol: Option<Symbol>, at_ms: i64) -> Result<PhaseAt, crate::Error> {
    let (day, sec_of_day) = split_ms(at_ms);
    let phases = day_phases(symbol.is_some_and(|s| s.has_after_hours()), &calendar.stops_on(date_of(day)));
    let trading_day = calendar.is_trading_day_number(day)?;
    if trading_day {
        let now =
            phases.iter().rposition(|(start, _)| *start * 60 <= sec_of_day).expect("the day's first phase is at 0");
        if let Some(&(start, next)) = phases.get(now + 1) {
            return Ok(PhaseAt { trading_day, phase: phases[now].1, next, next_at_ms: epoch_ms(day, start * 60) });
        }
    }
    let next_day = day_number(calendar.add_trading_days(date_of(day), 1)?);
    Ok(PhaseAt { trading_day, phase: Phase::Closed, next: Phase::PreOpen, next_at_ms: epoch_ms(next_day, 0) })
}

/// One one-minute slot while a grid is built: its session, minute offset in it and interval.
#[derive(Debug, Clone)]
struct SlotSpec {
    session: usize,
    offset: u32,
    start: u32,
    end: u32,
}

impl Grid {
    fn new(layout: Layout, extended: bool, stops: &[Stop]) -> Grid {
        let mut sessions = vec![MORNING, AFTERNOON];
        if extended {
            sessions.push(AFTER_HOURS);
        }
        let separate = layout.auction == AuctionBar::Separate;
        let mut slots = Vec::new();
        if separate {
            slots.push(SlotSpec { session: 0, offset: 0, start: AUCTION * 60, end: MORNING.0 * 60 });
        }
        for (session, &(start, len)) in sessions.iter().enumerate() {
            slots.extend((0..len).map(|offset| SlotSpec {
                session,
                offset,
                start: (start + offset) * 60,
                end: (start + offset + 1) * 60,
            }));
        }
        let live: Vec<bool> = slots.iter().map(|spec| stop_at(stops, spec.start / 60).is_none()).collect();
        let last_live = live.iter().rposition(|l| *l).expect("a day override leaves a minute to trade") as Slot;
        let regular: Vec<_> = (0..24 * 60).map(|m| classify_minute(m, &sessions, separate)).collect();
        let by_minute = (0..24 * 60).map(|m| classify_stopped(m, &regular, &live, stops)).collect();
        let label = layout.label;
        let mut grid = Grid { by_minute, windows: Default::default(), sessions, slots, label, live, last_live };
        grid.windows = TILING_PERIODS.iter().map(|m| grid.tiling(*m)).collect();
        grid
    }

    /// The windows of bars `minutes` long: one per minute for 1, otherwise aligned to each session's
    /// start and cut at its end (a separate auction bar joins the first window). Any length works;
    /// the ones that divide 120 tile the morning and the afternoon exactly. On an overridden day a
    /// window keeps its interval and label, and closes with its last live slot.
    pub fn tiling(&self, minutes: u16) -> Tiling {
        let size = u32::from(minutes.max(1));
        let mut tiling = Tiling::default();
        let mut previous = None;
        for (slot, spec) in self.slots.iter().enumerate() {
            let key = if size == 1 { (spec.session, slot as u32) } else { (spec.session, spec.offset / size) };
            if previous != Some(key) {
                let (session_start, len) = self.sessions[spec.session];
                let (start, end) = if size == 1 {
                    (spec.start, spec.end)
                } else {
                    let first = session_start + key.1 * size;
                    (first * 60, (first + size).min(session_start + len) * 60)
                };
                let label = if self.label == LabelSide::End { end } else { start };
                let (first, last, closes) = (slot as Slot, slot as Slot, end);
                tiling.windows.push(Window { first, last, start, end, closes, label });
                previous = Some(key);
            }
            let last = tiling.windows.len() - 1;
            if self.live[slot] || !self.live[tiling.windows[last].last as usize] {
                tiling.windows[last].last = slot as Slot;
            }
            tiling.window_of.push(last as u16);
        }
        for w in &mut tiling.windows {
            if self.live[w.last as usize] {
                w.closes = w.end.min(self.slots[w.last as usize].end);
            }
        }
        tiling
    }

    /// Number of one-minute bars in a full day.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Never true: every grid has its sessions.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The last slot the day trades in.
    pub fn last_slot(&self) -> Slot {
        self.last_live
    }

    /// Whether the day trades in `slot` (not inside a halt, before a late open or after an early
    /// close).
    pub fn is_live(&self, slot: Slot) -> bool {
        self.live.get(slot as usize).copied().unwrap_or(false)
    }

    /// The first slot after `slot` the day trades in.
    pub fn next_live(&self, slot: Slot) -> Option<Slot> {
        (slot + 1..=self.last_live).find(|&s| self.live[s as usize])
    }

    /// The one-minute bar a time of day (seconds since midnight, market time) belongs to.
    pub fn classify(&self, sec_of_day: u32) -> Result<Slot, Rejection> {
        self.by_minute.get(sec_of_day as usize / 60).copied().unwrap_or(Err(Rejection::GarbageTime))
    }

    /// The window of `period` that holds `slot`.
    pub fn window(&self, period: Period, slot: Slot) -> &Window {
        let tiling = &self.windows[period.tiling_index()];
        &tiling.windows[tiling.window_of[slot as usize] as usize]
    }

    /// Index of that window among the day's windows of `period`.
    pub fn window_index(&self, period: Period, slot: Slot) -> u16 {
        self.windows[period.tiling_index()].window_of[slot as usize]
    }

    /// The day's windows of `period`, in order.
    pub fn windows(&self, period: Period) -> &[Window] {
        &self.windows[period.tiling_index()].windows
    }

    /// Every frame a full day has for `period`: the windows with a minute the day trades in.
    pub fn frames(&self, day: DayNumber, period: Period) -> impl Iterator<Item = Frame> + '_ {
        self.windows(period).iter().filter(|w| self.live[w.last as usize]).map(move |w| Frame::at(day, w.label))
    }
}

/// The stop holding minute `m` of the day.
fn stop_at(stops: &[Stop], m: u32) -> Option<Stop> {
    stops.iter().copied().find(|(from, to)| (*from..*to).contains(&m))
}

/// Why a time in a stopped minute has no bar: after the day's close, or in a halt.
fn stopped(stop: Stop) -> Rejection {
    if stop.1 == 24 * 60 {
        Rejection::AfterClose
    } else {
        Rejection::Halted
    }
}

/// Minute `m` on a day with `stops`: its regular slot where that trades. A tick stamped in the
/// minute trading stops goes into the bar before, as at the end of a session.
fn classify_stopped(
    m: u32,
    regular: &[Result<Slot, Rejection>],
    live: &[bool],
    stops: &[Stop],
) -> Result<Slot, Rejection> {
    let slot = regular[m as usize]?;
    let minute_stop = stop_at(stops, m);
    if minute_stop.is_none() && live[slot as usize] {
        return Ok(slot);
    }
    let before = m.checked_sub(1).and_then(|b| regular[b as usize].ok()).filter(|s| live[*s as usize]);
    match (minute_stop, before) {
        (Some((from, _)), Some(before)) if from == m => Ok(before),
        (Some(stop), _) => Err(stopped(stop)),
        (None, _) => Err(stop_at(stops, m.saturating_sub(1)).map_or(Rejection::Halted, stopped)),
    }
}

fn classify_minute(m: u32, sessions: &[(u32, u32)], separate: bool) -> Result<Slot, Rejection> {
    let auction_slots = Slot::from(separate);
    let mut first_slot = auction_slots;
    if (AUCTION..MORNING.0).contains(&m) {
        return Ok(0);
    }
    for &(start, len) in sessions {
        // A tick stamped in the minute a session ends (11:30:xx, 15:00:xx, 15:30:xx) goes into its last bar.
        if (start..=start + len).contains(&m) {
            return Ok(first_slot + (m - start).min(len - 1) as Slot);
        }
        first_slot += len as Slot;
    }
    Err(if m < AUCTION {
        Rejection::PreOpen
    } else if m < AFTERNOON.0 {
        Rejection::LunchBreak
    } else {
        Rejection::AfterClose
    })
}

/// The session rules of one layout, for every kind of symbol, on regular and overridden days.
#[derive(Debug, Clone)]
pub struct Sessions {
    layout: Layout,
    regular: DayGrids,
    /// The grids of the days the calendar overrides, by day number.
    overridden: Vec<(DayNumber, DayGrids)>,
}

/// The grids of one day: without and with the after-hours session.
#[derive(Debug, Clone)]
struct DayGrids {
    regular: Grid,
    extended: Grid,
}

impl DayGrids {
    fn new(layout: Layout, stops: &[Stop]) -> DayGrids {
        DayGrids { regular: Grid::new(layout, false, stops), extended: Grid::new(layout, layout.after_hours, stops) }
    }
}

impl Sessions {
    /// The sessions of `layout` on the days of `calendar`, its day overrides included.
    pub fn new(layout: Layout, calendar: &TradingCalendar) -> Sessions {
        let mut days: Vec<_> = calendar.overrides().map(|o| o.date).collect();
        days.dedup();
        let overridden = days
            .into_iter()
            .map(|date| (day_number(date), calendar.stops_on(date)))
            .filter(|(_, stops)| !stops.is_empty())
            .map(|(day, stops)| (day, DayGrids::new(layout, &stops)))
            .collect();
        Sessions { layout, regular: DayGrids::new(layout, &[]), overridden }
    }

    /// The grid of `symbol` on `day`: with the after-hours session when the layout builds it and
    /// the board has it, and the day's overrides.
    pub fn grid(&self, symbol: Symbol, day: DayNumber) -> &Grid {
        let grids = match self.overridden.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(i) => &self.overridden[i].1,
            Err(_) => &self.regular,
        };
        if self.layout.after_hours && symbol.has_after_hours() {
            &grids.extended
        } else {
            &grids.regular
        }
    }

    /// The minutes of `symbol`'s sessions from `from_ms` to `to_ms` (lunch and halts not counted):
    /// `None` when `to_ms` lies outside its sessions or on another day than `from_ms`. A `from_ms` before
    /// the open counts from the open.
    pub fn session_minutes(&self, symbol: Symbol, from_ms: i64, to_ms: i64) -> Option<u16> {
        let ((from_day, from_sec), (to_day, to_sec)) = (split_ms(from_ms), split_ms(to_ms));
        let grid = self.grid(symbol, to_day);
        let now = grid.classify(to_sec).ok()?;
        let from = grid.classify(from_sec).unwrap_or(0);
        (from_day == to_day).then(|| (from..now).filter(|s| grid.is_live(*s)).count() as u16)
    }

    /// The frame of the `period` bar a trade of `symbol` at `epoch_ms` belongs to.
    pub fn frame_of(
        &self,
        calendar: &TradingCalendar,
        symbol: Symbol,
        epoch_ms: i64,
        period: Period,
    ) -> Result<Frame, Rejection> {
        let (day, sec) = split_ms(epoch_ms);
        Rejection::check_day(calendar, day)?;
        let grid = self.grid(symbol, day);
        let slot = grid.classify(sec)?;
        Ok(Frame::at(day, grid.window(period, slot).label))
    }
}
