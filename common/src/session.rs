//! A-share sessions: which one-minute bar a time of day belongs to under a bar layout, the
//! session-aligned windows of the longer periods, the typed reason a time belongs to no bar, and
//! the market's phase at an instant ([`phase_at`]), all from one table of session times.
//!
//! Everything is precomputed into a [`Grid`] per layout, so classifying a tick is one table lookup.

use serde::{Deserialize, Serialize};

use crate::calendar::TradingCalendar;
use crate::period::Period;
use crate::symbol::Symbol;
use crate::time::{date_of, day_number, epoch_ms, split_ms, DayNumber, Frame};

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
    /// After 15:00:59 (or after the after-hours session, where it counts).
    AfterClose,
    /// Not a time of day at all (`99:99:99`).
    GarbageTime,
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
    /// Seconds of day of the label.
    pub label: u32,
}

/// The bars of one kind of trading day under one layout.
#[derive(Debug, Clone)]
pub struct Grid {
    by_minute: Vec<Result<Slot, Rejection>>,
    windows: [Tiling; 5],
    sessions: Vec<(u32, u32)>,
    slots: Vec<SlotSpec>,
    label: LabelSide,
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
const OPENING_AUCTION: u32 = hm(9, 15);
const AUCTION: u32 = hm(9, 25);
const MORNING: (u32, u32) = (hm(9, 30), 120);
const AFTERNOON: (u32, u32) = (hm(13, 0), 120);
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
    /// After the day's last session, and all of a day that does not trade.
    Closed,
}

/// The phases of a trading day, each with the minute of the day it starts at (until the next
/// one's), on a board with or without the after-hours session.
pub fn day_phases(after_hours: bool) -> Vec<(u32, Phase)> {
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
    let phases = day_phases(symbol.is_some_and(|s| s.has_after_hours()));
    let (day, sec_of_day) = split_ms(at_ms);
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
    fn new(layout: Layout, extended: bool) -> Grid {
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
        let by_minute = (0..24 * 60).map(|m| classify_minute(m, &sessions, separate)).collect();
        let mut grid = Grid { by_minute, windows: Default::default(), sessions, slots, label: layout.label };
        grid.windows = Period::ALL.map(|p| grid.tiling(p.minutes()));
        grid
    }

    /// The windows of bars `minutes` long: one per minute for 1, otherwise aligned to each session's
    /// start and cut at its end (a separate auction bar joins the first window). Any length works;
    /// the ones that divide 120 tile the morning and the afternoon exactly.
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
                tiling.windows.push(Window { first: slot as Slot, last: slot as Slot, start, end, label });
                previous = Some(key);
            }
            let last = tiling.windows.len() - 1;
            tiling.windows[last].last = slot as Slot;
            tiling.window_of.push(last as u16);
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

    /// The last slot of the day.
    pub fn last_slot(&self) -> Slot {
        (self.len() - 1) as Slot
    }

    /// The one-minute bar a time of day (seconds since midnight, market time) belongs to.
    pub fn classify(&self, sec_of_day: u32) -> Result<Slot, Rejection> {
        self.by_minute.get(sec_of_day as usize / 60).copied().unwrap_or(Err(Rejection::GarbageTime))
    }

    /// The window of `period` that holds `slot`.
    pub fn window(&self, period: Period, slot: Slot) -> &Window {
        let tiling = &self.windows[period.index()];
        &tiling.windows[tiling.window_of[slot as usize] as usize]
    }

    /// Index of that window among the day's windows of `period`.
    pub fn window_index(&self, period: Period, slot: Slot) -> u16 {
        self.windows[period.index()].window_of[slot as usize]
    }

    /// The day's windows of `period`, in order.
    pub fn windows(&self, period: Period) -> &[Window] {
        &self.windows[period.index()].windows
    }

    /// Every frame a full day has for `period`.
    pub fn frames(&self, day: DayNumber, period: Period) -> impl Iterator<Item = Frame> + '_ {
        self.windows(period).iter().map(move |w| Frame::at(day, w.label))
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

/// The session rules of one layout, for every kind of symbol.
#[derive(Debug, Clone)]
pub struct Sessions {
    layout: Layout,
    regular: Grid,
    extended: Grid,
}

impl Sessions {
    pub fn new(layout: Layout) -> Sessions {
        Sessions { layout, regular: Grid::new(layout, false), extended: Grid::new(layout, layout.after_hours) }
    }

    /// The grid of `symbol`: with the after-hours session when the layout builds it and the board has it.
    pub fn grid(&self, symbol: Symbol) -> &Grid {
        if self.layout.after_hours && symbol.has_after_hours() {
            &self.extended
        } else {
            &self.regular
        }
    }

    /// The minutes of `symbol`'s sessions from `from_ms` to `to_ms` (lunch not counted): `None`
    /// when `to_ms` lies outside its sessions or on another day than `from_ms`. A `from_ms` before
    /// the open counts from the open.
    pub fn session_minutes(&self, symbol: Symbol, from_ms: i64, to_ms: i64) -> Option<u16> {
        let ((from_day, from_sec), (to_day, to_sec)) = (split_ms(from_ms), split_ms(to_ms));
        let grid = self.grid(symbol);
        let now = grid.classify(to_sec).ok()?;
        (from_day == to_day).then(|| now.saturating_sub(grid.classify(from_sec).unwrap_or(0)))
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
        let grid = self.grid(symbol);
        let slot = grid.classify(sec)?;
        Ok(Frame::at(day, grid.window(period, slot).label))
    }
}
