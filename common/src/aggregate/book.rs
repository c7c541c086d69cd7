//! One symbol's trading day of bars: the forming and recently closed one-minute bars, the longer
//! periods folded from them, flat fills, closing by time, and amendments by late trades.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::feed::{Feed, Trade};
use super::Rules;
use crate::bar::{Bar, BarEvent, BarEventKind, Ohlcv};
use crate::money::{Amount, Price};
use crate::period::Period;
use crate::session::{Grid, Slot};
use crate::symbol::Symbol;
use crate::tick::{MAX_AMOUNT, MAX_VOLUME};
use crate::time::{epoch_ms, DayNumber, Frame};

/// When a book next has bars to close: once `now` reaches `now_ms`, or the latest tick time seen
/// reaches `latest_ms` (the day's final bars close on a tick stamped at or after their end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Deadline {
    pub now_ms: i64,
    pub latest_ms: i64,
}

impl Deadline {
    pub const NEVER: Deadline = Deadline { now_ms: i64::MAX, latest_ms: i64::MAX };

    pub fn passed(&self, now_ms: i64, latest_ms: i64) -> bool {
        now_ms >= self.now_ms || latest_ms >= self.latest_ms
    }

    pub fn min(self, other: Deadline) -> Deadline {
        Deadline { now_ms: self.now_ms.min(other.now_ms), latest_ms: self.latest_ms.min(other.latest_ms) }
    }
}

/// Where a trade went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    Applied,
    Amended,
    LateDropped,
    /// It would take its bar past [`MAX_VOLUME`] shares or [`MAX_AMOUNT`] yuan.
    TooLarge,
}

/// What the book's operations need from the aggregator.
pub(crate) struct Turn<'a> {
    pub symbol: Symbol,
    pub grid: &'a Grid,
    pub rules: &'a Rules,
    pub now_ms: i64,
    /// The latest tick time seen for any symbol: a tick at or after the day's last bar end closes it.
    pub latest_ms: i64,
    pub events: &'a mut Vec<BarEvent>,
}

impl<'a> Turn<'a> {
    pub fn new(
        symbol: Symbol,
        grid: &'a Grid,
        rules: &'a Rules,
        now_ms: i64,
        latest_ms: i64,
        events: &'a mut Vec<BarEvent>,
    ) -> Turn<'a> {
        Turn { symbol, grid, rules, now_ms, latest_ms, events }
    }
}

/// A one-minute bar while it can still change.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Minute {
    slot: Slot,
    v: Ohlcv,
    first_ms: i64,
    last_ms: i64,
    traded: bool,
}

impl Minute {
    fn flat(slot: Slot, price: Price) -> Minute {
        Minute { slot, v: Ohlcv::flat(price), first_ms: i64::MAX, last_ms: i64::MIN, traded: false }
    }

    fn traded(slot: Slot, t: &Trade) -> Minute {
        let mut m = Minute::flat(slot, t.price);
        m.absorb(t);
        m
    }

    /// Adds a trade; open and close follow trade time, so a late trade lands where it happened.
    fn absorb(&mut self, t: &Trade) {
        if !self.traded {
            *self = Minute {
                slot: self.slot,
                v: Ohlcv::flat(t.price),
                first_ms: t.time_ms,
                last_ms: t.time_ms,
                traded: true,
            };
        }
        if t.time_ms < self.first_ms {
            self.v.open = t.price;
            self.first_ms = t.time_ms;
        }
        if t.time_ms >= self.last_ms {
            self.v.close = t.price;
            self.last_ms = t.time_ms;
        }
        let high = t.high.map_or(t.price, |h| h.max(t.price));
        if high > self.v.high {
            self.v.high = high;
        }
        let low = t.low.map_or(t.price, |l| l.min(t.price));
        if low < self.v.low {
            self.v.low = low;
        }
        self.v.add_trades(t.volume, t.trades);
        self.v.vol += t.volume;
        self.v.amount += t.amount;
    }
}

/// The forming bar of a longer period: the fold of its closed one-minute bars.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Rollup {
    period: Period,
    window: u16,
    v: Ohlcv,
}

/// A rollup as any release wrote it: before periods were configurable, an array of four, one per
/// longer default period, without the period.
#[derive(Deserialize)]
struct StoredRollup {
    #[serde(default)]
    period: Option<Period>,
    window: u16,
    v: Ohlcv,
}

/// The longer periods, in the order the first releases' four rollups came in.
const FIRST_RELEASES_ROLLUPS: [Period; 4] = [Period::M5, Period::M15, Period::M30, Period::M60];

fn rollups_of_any_release<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Rollup>, D::Error> {
    let stored: Vec<Option<StoredRollup>> = Deserialize::deserialize(d)?;
    let mut out = Vec::new();
    for (i, r) in stored.into_iter().enumerate() {
        let Some(r) = r else { continue };
        let period = r.period.or_else(|| FIRST_RELEASES_ROLLUPS.get(i).copied());
        let period = period.ok_or_else(|| serde::de::Error::custom(format!("rollup {i} names no period")))?;
        out.push(Rollup { period, window: r.window, v: r.v });
    }
    Ok(out)
}

/// A symbol's state for one trading day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Book {
    pub day: DayNumber,
    pub feed: Feed,
    forming: Option<Minute>,
    /// Closed one-minute bars that may still be amended or refolded, oldest first.
    closed: VecDeque<Minute>,
    /// The latest closed slot and its close, where flat bars continue from.
    last: Option<(Slot, Price)>,
    /// The forming bar of each longer period that has one.
    #[serde(deserialize_with = "rollups_of_any_release")]
    rollups: Vec<Rollup>,
    pub unattributed_volume: u64,
    pub unattributed_amount: Amount,
    /// The volume and amount of every trade placed in a bar today: no bar of any period holds
    /// more, so keeping these inside the bounds keeps every bar inside them.
    #[serde(default)]
    placed_volume: u64,
    #[serde(default)]
    placed_amount: Amount,
    pub touched: bool,
    /// When [`Self::close_due`] next has work; kept current by the aggregator.
    pub deadline: Deadline,
    /// The latest tick time of the day, traded or not: when the feed last spoke for the symbol.
    #[serde(default)]
    pub last_tick_ms: i64,
}

impl Book {
    pub fn new(day: DayNumber) -> Book {
        Book {
            day,
            feed: Feed::default(),
            forming: None,
            closed: VecDeque::new(),
            last: None,
            rollups: Vec::new(),
            unattributed_volume: 0,
            unattributed_amount: Amount::ZERO,
            placed_volume: 0,
            placed_amount: Amount::ZERO,
            touched: false,
            deadline: Deadline::NEVER,
            last_tick_ms: i64::MIN,
        }
    }

    /// Whether a trade of the day went into a bar.
    pub fn traded(&self) -> bool {
        self.placed_volume > 0
    }

    /// Checks a book read from a checkpoint against `grid`: every slot and window inside the day,
    /// closed bars in order, and every total inside the bounds, so nothing later can index out of
    /// range or overflow.
    pub fn check(&self, grid: &Grid) -> Result<(), String> {
        let slot_ok = |s: Slot| (s as usize) < grid.len();
        let minute_ok = |m: &Minute| slot_ok(m.slot) && m.v.vol <= MAX_VOLUME && bounded(m.v.amount, MAX_AMOUNT);
        if !self.forming.iter().chain(&self.closed).all(minute_ok) {
            return Err("a one-minute bar is outside the day or its bounds".into());
        }
        if !self.closed.iter().zip(self.closed.iter().skip(1)).all(|(a, b)| a.slot < b.slot) {
            return Err("closed bars are out of order".into());
        }
        if !self.last.is_none_or(|(s, _)| slot_ok(s)) {
            return Err("the last closed slot is outside the day".into());
        }
        if self.placed_volume > MAX_VOLUME || !bounded(self.placed_amount, MAX_AMOUNT) {
            return Err("the day's placed totals are outside the bounds".into());
        }
        for r in &self.rollups {
            let inside = (r.window as usize) < grid.windows(r.period).len();
            if !inside || r.v.vol > MAX_VOLUME || !bounded(r.v.amount, MAX_AMOUNT) {
                return Err(format!("the forming {}m bar is outside the day or its bounds", r.period));
            }
        }
        self.feed.check()
    }

    /// Forgets the forming bars of periods no longer built (`bars.periods` changed since the
    /// checkpoint); a period added has none until its next window.
    pub fn keep_periods(&mut self, higher: &[Period]) {
        self.rollups.retain(|r| higher.contains(&r.period));
    }

    fn rollup(&self, p: Period) -> Option<Rollup> {
        self.rollups.iter().find(|r| r.period == p).copied()
    }

    fn rollup_mut(&mut self, p: Period) -> Option<&mut Rollup> {
        self.rollups.iter_mut().find(|r| r.period == p)
    }

    fn take_rollup(&mut self, p: Period) -> Option<Rollup> {
        let i = self.rollups.iter().position(|r| r.period == p)?;
        Some(self.rollups.swap_remove(i))
    }

    /// The slot of the forming one-minute bar, if any.
    pub fn forming_slot(&self) -> Option<Slot> {
        self.forming.map(|f| f.slot)
    }

    /// Volume and amount that went into no bar; saturating, since nothing bounds a day's count of
    /// refused ticks.
    pub fn unattribute(&mut self, volume: u64, amount: Amount) {
        self.unattributed_volume = self.unattributed_volume.saturating_add(volume);
        self.unattributed_amount = self.unattributed_amount.saturating_add(amount);
    }

    /// Puts a trade into the bar of `slot`: the forming bar, a new one, or (late) a closed one.
    pub fn place(&mut self, slot: Slot, t: &Trade, turn: &mut Turn) -> Placement {
        if !self.fits(t) {
            self.unattribute(t.volume, t.amount);
            return Placement::TooLarge;
        }
        let placement = match &mut self.forming {
            Some(f) if f.slot == slot => {
                f.absorb(t);
                Placement::Applied
            }
            Some(f) if f.slot < slot => {
                self.close_forming(turn);
                self.start(slot, t, turn);
                Placement::Applied
            }
            None if self.last.is_none_or(|(s, _)| s < slot) => {
                self.start(slot, t, turn);
                Placement::Applied
            }
            _ => self.amend(slot, t, turn),
        };
        if placement != Placement::LateDropped {
            self.placed_volume += t.volume;
            self.placed_amount += t.amount;
        }
        if placement == Placement::Applied {
            self.touched = true;
        }
        placement
    }

    /// Whether the day's bars can take `t` and stay inside the bounds: a bar of any period holds at
    /// most what was placed today, so no bar and no sum of bars can overflow.
    fn fits(&self, t: &Trade) -> bool {
        self.placed_volume + t.volume <= MAX_VOLUME && self.placed_amount + t.amount <= MAX_AMOUNT
    }

    fn start(&mut self, slot: Slot, t: &Trade, turn: &mut Turn) {
        if let (true, Some((last, close))) = (turn.rules.layout.fill_empty, self.last) {
            for empty in (last + 1..slot).filter(|s| turn.grid.is_live(*s)) {
                self.close_minute(Minute::flat(empty, close), turn);
            }
        }
        self.forming = Some(Minute::traded(slot, t));
    }

    /// Closes every bar whose time has come, with flat bars for the minutes nobody traded in.
    pub fn close_due(&mut self, turn: &mut Turn) {
        let (grid, rules) = (turn.grid, turn.rules);
        let final_slot = grid.last_slot();
        while let Some(next) = self.next_minute(grid, rules) {
            if !self.due(turn, grid.window(Period::M1, next).end, next == final_slot) {
                break;
            }
            match (self.forming.take(), self.last) {
                (Some(f), _) => self.close_minute(f, turn),
                (None, Some((_, close))) => self.close_minute(Minute::flat(next, close), turn),
                (None, None) => unreachable!("`next` exists only with a forming or a last bar"),
            }
        }
        for &p in &rules.higher {
            if let Some(r) = self.rollup(p) {
                let w = grid.windows(p)[r.window as usize];
                if self.due(turn, w.closes, w.last == final_slot) {
                    self.take_rollup(p);
                    self.emit(turn, BarEventKind::Closed, p, w.label, &r.v);
                }
            }
        }
    }

    /// The one-minute slot that closes next: the forming bar's, or (filling) the quiet minute after
    /// the last closed bar.
    fn next_minute(&self, grid: &Grid, rules: &Rules) -> Option<Slot> {
        match (self.forming, self.last) {
            (Some(f), _) => Some(f.slot),
            (None, Some((s, _))) if rules.layout.fill_empty => grid.next_live(s),
            _ => None,
        }
    }

    /// When [`Self::close_due`] next has work: the earliest `now`, and the earliest latest tick time
    /// (for the day's final bars); `i64::MAX` for never.
    pub fn deadline(&self, grid: &Grid, rules: &Rules) -> Deadline {
        let final_slot = grid.last_slot();
        let minute = self.next_minute(grid, rules).map(|s| (grid.window(Period::M1, s).end, s == final_slot));
        let rollups = rules.higher.iter().filter_map(|&p| {
            self.rollup(p).map(|r| {
                let w = grid.windows(p)[r.window as usize];
                (w.closes, w.last == final_slot)
            })
        });
        let mut deadline = Deadline::NEVER;
        for (end, is_final) in minute.into_iter().chain(rollups) {
            let end = epoch_ms(self.day, end);
            deadline.now_ms = deadline.now_ms.min(end + rules.grace_ms);
            if is_final {
                deadline.latest_ms = deadline.latest_ms.min(end);
            }
        }
        deadline
    }

    /// Emits the forming bar of every period, once per batch of ticks.
    pub fn report_forming(&mut self, turn: &mut Turn) {
        let (grid, rules) = (turn.grid, turn.rules);
        self.touched = false;
        let Some(f) = self.forming else { return };
        self.emit(turn, BarEventKind::Updated, Period::M1, grid.window(Period::M1, f.slot).label, &f.v);
        for &p in &rules.higher {
            let w = grid.window_index(p, f.slot);
            let v = match self.rollup(p) {
                Some(r) if r.window == w => {
                    let mut v = r.v;
                    v.fold(&f.v);
                    v
                }
                _ => f.v,
            };
            self.emit(turn, BarEventKind::Updated, p, grid.windows(p)[w as usize].label, &v);
        }
    }

    fn due(&self, turn: &Turn, end_sec: u32, is_final: bool) -> bool {
        let end = epoch_ms(self.day, end_sec);
        turn.now_ms >= end + turn.rules.grace_ms || (is_final && turn.latest_ms >= end)
    }

    fn close_forming(&mut self, turn: &mut Turn) {
        if let Some(f) = self.forming.take() {
            self.close_minute(f, turn);
        }
    }

    fn close_minute(&mut self, m: Minute, turn: &mut Turn) {
        let (grid, rules) = (turn.grid, turn.rules);
        self.emit(turn, BarEventKind::Closed, Period::M1, grid.window(Period::M1, m.slot).label, &m.v);
        self.last = Some((m.slot, m.v.close));
        self.closed.push_back(m);
        // Here, not only when a deadline passes: a symbol whose every minute is closed by its next
        // tick would otherwise keep the whole day's minutes.
        self.prune(turn);
        for &p in &rules.higher {
            let w = grid.window_index(p, m.slot);
            match self.rollup_mut(p) {
                Some(r) if r.window == w => r.v.fold(&m.v),
                previous => {
                    if let Some(r) = previous.map(|r| *r) {
                        self.take_rollup(p);
                        self.emit(turn, BarEventKind::Closed, p, grid.windows(p)[r.window as usize].label, &r.v);
                    }
                    self.rollups.push(Rollup { period: p, window: w, v: m.v });
                }
            }
            let window = grid.windows(p)[w as usize];
            if window.last == m.slot {
                let r = self.take_rollup(p).expect("just folded");
                self.emit(turn, BarEventKind::Closed, p, window.label, &r.v);
            }
        }
    }

    /// A trade for a closed bar: amend it (and the flat bars after it, and the longer bars holding
    /// them) inside the correction window; drop it after.
    fn amend(&mut self, slot: Slot, t: &Trade, turn: &mut Turn) -> Placement {
        let (grid, rules) = (turn.grid, turn.rules);
        let end = epoch_ms(self.day, grid.window(Period::M1, slot).end);
        if turn.now_ms > end + rules.grace_ms + rules.correction_window_ms {
            self.unattribute(t.volume, t.amount);
            return Placement::LateDropped;
        }
        let i = match self.closed.binary_search_by_key(&slot, |m| m.slot) {
            Ok(i) => {
                self.closed[i].absorb(t);
                i
            }
            Err(i) => {
                self.closed.insert(i, Minute::traded(slot, t));
                i
            }
        };
        let mut changed = i;
        let mut close = self.closed[i].v.close;
        for j in i + 1..self.closed.len() {
            let m = &mut self.closed[j];
            if m.traded || m.v.close == close {
                break;
            }
            m.v = Ohlcv::flat(close);
            changed = j;
        }
        for j in i..=changed {
            let m = self.closed[j];
            close = m.v.close;
            self.emit(turn, BarEventKind::Amended, Period::M1, grid.window(Period::M1, m.slot).label, &m.v);
        }
        let newest = self.closed.back().expect("holds the amended bar").slot;
        if changed == self.closed.len() - 1 && self.last.is_none_or(|(s, _)| s <= newest) {
            self.last = Some((newest, close));
        }
        let (from, to) = (self.closed[i].slot, self.closed[changed].slot);
        for &p in &rules.higher {
            for w in grid.window_index(p, from)..=grid.window_index(p, to) {
                self.refold(p, w, turn);
            }
        }
        Placement::Amended
    }

    /// Rebuilds the `p` bar of window `w` from its one-minute bars after an amendment.
    fn refold(&mut self, p: Period, w: u16, turn: &mut Turn) {
        let window = turn.grid.windows(p)[w as usize];
        let from = self.closed.partition_point(|m| m.slot < window.first);
        let folded =
            self.closed.range(from..).take_while(|m| m.slot <= window.last).fold(None, |acc: Option<Ohlcv>, m| {
                Some(acc.map_or(m.v, |mut v| {
                    v.fold(&m.v);
                    v
                }))
            });
        let Some(v) = folded else { return };
        match self.rollup_mut(p) {
            Some(r) if r.window == w => r.v = v,
            _ => self.emit(turn, BarEventKind::Amended, p, window.label, &v),
        }
    }

    /// Forgets closed bars that neither they nor their longest window can still be amended.
    fn prune(&mut self, turn: &Turn) {
        let longest = turn.rules.higher.last().copied().unwrap_or(Period::M1);
        let keep = turn.rules.grace_ms + turn.rules.correction_window_ms;
        while let Some(m) = self.closed.front() {
            let end = epoch_ms(self.day, turn.grid.window(longest, m.slot).end);
            if turn.now_ms <= end + keep {
                break;
            }
            self.closed.pop_front();
        }
    }

    fn emit(&self, turn: &mut Turn, kind: BarEventKind, period: Period, label: u32, v: &Ohlcv) {
        if turn.rules.emits(period) {
            let bar = Bar::new(turn.symbol, Frame::at(self.day, label), v);
            turn.events.push(BarEvent { kind, period, bar });
        }
    }
}

/// Whether `v` lies in `[0, max]`.
pub(crate) fn bounded<T: PartialOrd + Default>(v: T, max: T) -> bool {
    v >= T::default() && v <= max
}
