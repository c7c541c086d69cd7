//! Vendor history into the project's bar layout (`docs/conventions.md`, History): volume in shares, a
//! vendor's separate 09:30 auction bar folded into the first bar (or kept, under a layout with a
//! separate auction bar), frames relabelled to the layout, and bars outside the sessions refused.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Timelike;

use crate::bar::Bar;
use crate::calendar::TradingCalendar;
use crate::period::Period;
use crate::session::{Layout, Rejection, Sessions};
use crate::symbol::Symbol;
use crate::time::{day_number, DayNumber, Frame};

/// How the vendor's bars are laid out: both label a bar by the end of its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceLayout {
    /// 240 one-minute bars a day, the auction inside 09:31 (TDX and most Chinese software).
    #[default]
    Tdx240,
    /// 241: a separate 09:30 bar holding the opening auction (QMT, Tushare, Eastmoney).
    Vendor241,
}

/// The unit of the vendor's volume column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeUnit {
    #[default]
    Shares,
    /// 手, 100 shares.
    Lots,
}

crate::wire_codes! {
    /// Why a history item (a vendor bar, a queue item, an adjustment factor) was refused: the
    /// dead letter's `reason` in `historical_bar_data_dead`, the metrics' label, the reports' key.
    pub enum DeadReason {
        /// Not a JSON object at all.
        BadJson => "bad_json",
        /// A line `import-history` cannot read as a bar.
        Unreadable => "unreadable",
        /// A JSON object, but a field is missing or holds what the contract does not accept.
        BadField => "bad_field",
        NegativeVolume => "negative_volume",
        /// Prices or volume that no bar can have (high below low, a negative price, overflow).
        BadBar => "bad_bar",
        NonTradingDay => "non_trading_day",
        OutsideCalendar => "outside_calendar",
        /// Its frame is no bar end of the period on a trading day.
        OutsideSessions => "outside_sessions",
        /// A value the ClickHouse row cannot hold.
        OutOfRange => "out_of_range",
        /// An adjustment-factor item that is not one.
        BadFactor => "bad_factor",
        /// An item ClickHouse refused on its own when its batch was retried item by item.
        ClickhouseRejected => "clickhouse_rejected",
    }
}

/// The 09:30 label of a vendor's auction bar, in seconds of day.
const AUCTION_END: u32 = (9 * 60 + 30) * 60;

/// Normalises one period's vendor bars, in any order of symbols and days.
#[derive(Debug)]
pub struct Normaliser {
    sessions: Sessions,
    calendar: Arc<TradingCalendar>,
    period: Period,
    source: SourceLayout,
    unit: VolumeUnit,
    /// Auction bars waiting for the first bar of their day, to fold into it.
    auctions: HashMap<(Symbol, DayNumber), Bar>,
}

impl Normaliser {
    pub fn new(
        layout: Layout,
        calendar: Arc<TradingCalendar>,
        period: Period,
        source: SourceLayout,
        unit: VolumeUnit,
    ) -> Normaliser {
        let sessions = Sessions::new(layout, &calendar);
        Normaliser { sessions, calendar, period, source, unit, auctions: HashMap::new() }
    }

    /// The bar in the project's layout; `Ok(None)` when it is an auction bar held for folding.
    pub fn push(&mut self, mut bar: Bar) -> Result<Option<Bar>, DeadReason> {
        if self.unit == VolumeUnit::Lots {
            bar.vol = bar.vol.checked_mul(100).ok_or(DeadReason::BadBar)?;
        }
        bar.check().map_err(|_| DeadReason::BadBar)?;
        let day = trading_day(&self.calendar, bar.frame)?;
        let end = bar.frame.time().num_seconds_from_midnight();
        let grid = self.sessions.grid(bar.symbol, day);
        let window = grid.windows(self.period).iter().position(|w| w.end == end);
        let Some(w) = window else {
            if self.source == SourceLayout::Vendor241 && end == AUCTION_END {
                self.auctions.insert((bar.symbol, day), bar);
                return Ok(None);
            }
            return Err(DeadReason::OutsideSessions);
        };
        let window = grid.windows(self.period)[w];
        if window.first == 0 {
            if let Some(auction) = self.auctions.remove(&(bar.symbol, day)) {
                bar = fold(auction, &bar);
            }
        }
        bar.frame = Frame::at(day, window.label);
        Ok(Some(bar))
    }

    /// Auction bars whose day had no first bar: each becomes that bar, being all it traded.
    pub fn finish(&mut self) -> Vec<Bar> {
        let mut left: Vec<Bar> = self.auctions.drain().map(|(_, b)| b).collect();
        left.sort_by_key(|b| (b.symbol, b.frame));
        left.into_iter()
            .map(|mut b| {
                let day = day_number(b.frame.date());
                let first = self.sessions.grid(b.symbol, day).windows(self.period)[0];
                b.frame = Frame::at(day, first.label);
                b
            })
            .collect()
    }
}

/// Checks a bar that is already in the project's layout (a history queue item): consistent prices
/// and a frame that labels a bar of `period` on a trading day of the calendar.
pub fn check_bar(sessions: &Sessions, calendar: &TradingCalendar, period: Period, bar: &Bar) -> Result<(), DeadReason> {
    bar.check().map_err(|_| DeadReason::BadBar)?;
    let day = trading_day(calendar, bar.frame)?;
    let label = bar.frame.time().num_seconds_from_midnight();
    if sessions.grid(bar.symbol, day).windows(period).iter().any(|w| w.label == label) {
        Ok(())
    } else {
        Err(DeadReason::OutsideSessions)
    }
}

/// The day of `frame` when it trades.
fn trading_day(calendar: &TradingCalendar, frame: Frame) -> Result<DayNumber, DeadReason> {
    let day = day_number(frame.date());
    match Rejection::check_day(calendar, day) {
        Ok(()) => Ok(day),
        Err(Rejection::OutsideCalendar) => Err(DeadReason::OutsideCalendar),
        Err(_) => Err(DeadReason::NonTradingDay),
    }
}

fn fold(auction: Bar, bar: &Bar) -> Bar {
    let mut v = auction.ohlcv();
    v.fold(&bar.ohlcv());
    Bar::new(bar.symbol, bar.frame, &v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Price;
    use crate::session::AuctionBar;
    use crate::{amount, price};

    fn bar(frame: &str, open: &str, close: &str, vol: u64) -> Bar {
        let (open, close): (Price, Price) = (open.parse().unwrap(), close.parse().unwrap());
        Bar {
            symbol: "000001.SZ".parse().unwrap(),
            frame: frame.parse().unwrap(),
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            vol,
            amount: close * vol,
            trades: None,
        }
    }

    fn normaliser(layout: Layout, source: SourceLayout, unit: VolumeUnit) -> Normaliser {
        Normaliser::new(layout, Arc::new(TradingCalendar::bundled()), Period::M1, source, unit)
    }

    #[test]
    fn a_vendor_auction_bar_folds_into_0931_with_volume_in_shares() {
        let mut n = normaliser(Layout::default(), SourceLayout::Vendor241, VolumeUnit::Lots);
        assert_eq!(n.push(bar("2023-02-01 09:30:00", "10.00", "10.00", 50)), Ok(None));
        let first = n.push(bar("2023-02-01 09:31:00", "10.01", "10.05", 20)).unwrap().unwrap();
        assert_eq!(
            (first.open, first.close, first.high, first.low),
            (price!(10.00), price!(10.05), price!(10.05), price!(10.00))
        );
        assert_eq!((first.vol, first.amount), (7_000, amount!(701.0)));
        assert!(n.finish().is_empty());
    }

    #[test]
    fn a_separate_auction_layout_keeps_the_auction_bar() {
        let layout = Layout { auction: AuctionBar::Separate, ..Layout::default() };
        let mut n = normaliser(layout, SourceLayout::Vendor241, VolumeUnit::Shares);
        let auction = n.push(bar("2023-02-01 09:30:00", "10.00", "10.00", 50)).unwrap().unwrap();
        assert_eq!(auction.frame, "2023-02-01 09:30:00".parse().unwrap());
    }

    #[test]
    fn start_labels_relabel_and_bars_outside_the_sessions_are_refused() {
        let layout = Layout { label: crate::session::LabelSide::Start, ..Layout::default() };
        let mut n = normaliser(layout, SourceLayout::Tdx240, VolumeUnit::Shares);
        let b = n.push(bar("2023-02-01 13:01:00", "10", "10", 1)).unwrap().unwrap();
        assert_eq!(b.frame, "2023-02-01 13:00:00".parse().unwrap());
        for (frame, refusal) in [
            ("2023-02-01 09:30:00", DeadReason::OutsideSessions),
            ("2023-02-01 12:00:00", DeadReason::OutsideSessions),
            ("2023-02-01 15:01:00", DeadReason::OutsideSessions),
            ("2023-02-04 10:00:00", DeadReason::NonTradingDay),
            ("2014-02-04 10:00:00", DeadReason::OutsideCalendar),
        ] {
            assert_eq!(n.push(bar(frame, "10", "10", 1)), Err(refusal), "{frame}");
        }
        let mut broken = bar("2023-02-01 10:00:00", "10", "11", 1);
        broken.low = price!(12);
        assert_eq!(n.push(broken), Err(DeadReason::BadBar));
    }

    #[test]
    fn queue_bars_must_carry_a_label_of_the_layout() {
        let (sessions, calendar) =
            (Sessions::new(Layout::default(), &TradingCalendar::bundled()), TradingCalendar::bundled());
        let check = |period, frame| check_bar(&sessions, &calendar, period, &bar(frame, "10", "10", 1));
        assert_eq!(check(Period::M1, "2023-02-01 09:31:00"), Ok(()));
        assert_eq!(check(Period::M60, "2023-02-01 10:30:00"), Ok(()));
        assert_eq!(check(Period::M60, "2023-02-01 10:00:00"), Err(DeadReason::OutsideSessions));
        assert_eq!(check(Period::M1, "2023-02-01 12:00:00"), Err(DeadReason::OutsideSessions));
        assert_eq!(check(Period::M1, "2023-02-04 10:00:00"), Err(DeadReason::NonTradingDay));
    }

    #[test]
    fn an_auction_bar_without_its_day_becomes_the_first_bar() {
        let mut n = normaliser(Layout::default(), SourceLayout::Vendor241, VolumeUnit::Shares);
        assert_eq!(n.push(bar("2023-02-01 09:30:00", "10", "10", 5)), Ok(None));
        let left = n.finish();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].frame, "2023-02-01 09:31:00".parse().unwrap());
    }
}
