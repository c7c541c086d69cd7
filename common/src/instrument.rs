//! Instruments: what an instrument list says of a listed security (its name, listing and delisting
//! dates, whether it is an ST name) and what a daily bar derives from it and the previous close:
//! the day's price limits as the exchanges set and round them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Price;
use crate::symbol::{Board, Symbol};

/// One security of the instrument list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instrument {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "600519.SH"))]
    pub symbol: Symbol,
    pub name: String,
    /// `main`, `star`, `chinext` or `beijing`, from the code.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "main"))]
    pub board: BoardName,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2001-08-27"))]
    pub list_date: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub delist_date: Option<NaiveDate>,
    /// A special-treatment name (`ST`, `*ST`): a 5% limit on the main boards.
    pub st: bool,
}

crate::wire_codes! {
    /// A board by its wire name.
    pub enum BoardName {
        Main => "main",
        Star => "star",
        ChiNext => "chinext",
        Beijing => "beijing",
    }
}

impl From<Board> for BoardName {
    fn from(board: Board) -> BoardName {
        match board {
            Board::Main => BoardName::Main,
            Board::Star => BoardName::Star,
            Board::ChiNext => BoardName::ChiNext,
            Board::Beijing => BoardName::Beijing,
        }
    }
}

/// The first day ChiNext's limit was 20% (and its new listings went five days without one).
const CHINEXT_REFORM: NaiveDate = date(2020, 8, 24);
/// The first day main-board listings went five days without a limit (the registration system).
const MAIN_BOARD_REGISTRATION: NaiveDate = date(2023, 4, 10);
/// Trading days a registration-system listing trades without a limit (the listing day included).
const UNLIMITED_DAYS: usize = 5;

const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(day) => day,
        None => panic!("a valid date"),
    }
}

impl Instrument {
    /// An instrument of `symbol`, its board from the code and ST from the name.
    pub fn new(symbol: Symbol, name: &str, list_date: NaiveDate, delist_date: Option<NaiveDate>) -> Instrument {
        let st = ["ST", "*ST", "S*ST", "SST"].iter().any(|mark| name.trim_start().starts_with(mark));
        Instrument { symbol, name: name.to_owned(), board: symbol.board().into(), list_date, delist_date, st }
    }

    /// The daily limit in percent on `day`, the `nth` trading day since the listing (1: the listing
    /// day); `None` on a day that trades without one: every listing day, and the first five days
    /// of a registration-system listing (STAR, ChiNext from 2020-08-24, the main boards from
    /// 2023-04-10).
    pub fn limit_percent(&self, day: NaiveDate, nth: usize) -> Option<u32> {
        let registered = match self.symbol.board() {
            Board::Star => true,
            Board::ChiNext => self.list_date >= CHINEXT_REFORM,
            Board::Main => self.list_date >= MAIN_BOARD_REGISTRATION,
            Board::Beijing => false,
        };
        if nth <= 1 || registered && nth <= UNLIMITED_DAYS {
            return None;
        }
        Some(match self.symbol.board() {
            Board::Main if self.st => 5,
            Board::Main => 10,
            Board::ChiNext if day < CHINEXT_REFORM => 10,
            Board::Star | Board::ChiNext => 20,
            Board::Beijing => 30,
        })
    }

    /// The day's upper and lower limit prices from the previous close (see [`limits`]).
    pub fn limits(&self, day: NaiveDate, nth: usize, pre_close: Price) -> Option<(Price, Price)> {
        self.limit_percent(day, nth).map(|percent| limits(pre_close, percent))
    }
}

/// What a daily bar carries beside its prices: the previous trading day's close, whether the day
/// saw no trade, and, with the instrument list, the day's limit prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Daily {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_close: Option<Price>,
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_limit: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_limit: Option<Price>,
}

impl Daily {
    /// The fields of the daily bar of `vol` shares on `day`, after a day that closed at
    /// `pre_close`, of `instrument` (when listed) on its `nth` trading day.
    pub fn of(day: NaiveDate, vol: u64, pre_close: Option<Price>, listed: Option<(&Instrument, usize)>) -> Daily {
        let limits = listed.zip(pre_close).and_then(|((i, nth), close)| i.limits(day, nth, close));
        let (high_limit, low_limit) = (limits.map(|l| l.0), limits.map(|l| l.1));
        Daily { pre_close, paused: vol == 0, high_limit, low_limit }
    }
}

/// The limit prices `percent` above and below `pre_close`, each rounded half up to the fen
/// (0.01 yuan), as the exchanges compute them; the lower one no lower than a fen.
pub fn limits(pre_close: Price, percent: u32) -> (Price, Price) {
    let at = |factor: i64| {
        // Units of 1/10,000 yuan times a hundredth: a fen is 100 units, so 10^4 of these.
        let scaled = i128::from(pre_close.units()) * i128::from(factor);
        let fen = (scaled + 5_000) / 10_000;
        Price::from_units(i64::try_from(fen * 100).unwrap_or(i64::MAX))
    };
    let percent = i64::from(percent);
    (at(100 + percent), at(100 - percent).max(Price::from_units(100)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::price;

    fn instrument(symbol: &str, name: &str, listed: &str) -> Instrument {
        Instrument::new(symbol.parse().unwrap(), name, listed.parse().unwrap(), None)
    }

    #[test]
    fn limits_follow_the_board_the_st_mark_and_round_half_up_to_the_fen() {
        let day: NaiveDate = "2023-02-01".parse().unwrap();
        for (symbol, name, pre_close, high, low) in [
            ("600519.SH", "贵州茅台", price!(1800), price!(1980), price!(1620)),
            ("600000.SH", "浦发银行", price!(10.05), price!(11.06), price!(9.05)),
            ("000001.SZ", "平安银行", price!(12.34), price!(13.57), price!(11.11)),
            ("600234.SH", "*ST科新", price!(3.33), price!(3.5), price!(3.16)),
            ("000004.SZ", "ST国华", price!(10.1), price!(10.61), price!(9.6)),
            ("688981.SH", "中芯国际", price!(45.67), price!(54.8), price!(36.54)),
            ("300750.SZ", "宁德时代", price!(200.05), price!(240.06), price!(160.04)),
            ("300001.SZ", "特锐德", price!(0.05), price!(0.06), price!(0.04)),
            ("830799.BJ", "艾融软件", price!(10.01), price!(13.01), price!(7.01)),
            ("688001.SH", "华兴源创", price!(0.01), price!(0.01), price!(0.01)),
        ] {
            let i = instrument(symbol, name, "2010-01-04");
            assert_eq!(i.limits(day, 100, pre_close), Some((high, low)), "{symbol} {name} from {pre_close}");
        }
    }

    #[test]
    fn a_half_fen_rounds_up_on_both_limits() {
        assert_eq!(limits(price!(10.05), 10), (price!(11.06), price!(9.05)), "11.055 and 9.045");
        assert_eq!(limits(price!(2.25), 10), (price!(2.48), price!(2.03)), "2.475 and 2.025");
        assert_eq!(limits(price!(2.24), 10), (price!(2.46), price!(2.02)), "2.464 and 2.016");
    }

    #[test]
    fn chinext_was_ten_percent_before_its_reform() {
        let i = instrument("300750.SZ", "宁德时代", "2018-06-11");
        assert_eq!(i.limit_percent("2020-08-21".parse().unwrap(), 500), Some(10));
        assert_eq!(i.limit_percent("2020-08-24".parse().unwrap(), 501), Some(20));
    }

    #[test]
    fn listing_days_without_a_limit_have_none() {
        let day: NaiveDate = "2023-06-09".parse().unwrap();
        let star = instrument("688001.SH", "华兴源创", "2019-07-22");
        assert_eq!(
            (1..=7).map(|n| star.limit_percent(day, n)).collect::<Vec<_>>(),
            [None, None, None, None, None, Some(20), Some(20)]
        );
        let old_main = instrument("601318.SH", "中国平安", "2007-03-01");
        assert_eq!([1, 2].map(|n| old_main.limit_percent(day, n)), [None, Some(10)], "only the listing day");
        let registered_main = instrument("603281.SH", "江瀚新材", "2023-05-31");
        assert_eq!([5, 6].map(|n| registered_main.limit_percent(day, n)), [None, Some(10)]);
        let beijing = instrument("830799.BJ", "艾融软件", "2021-11-15");
        assert_eq!([1, 2].map(|n| beijing.limit_percent(day, n)), [None, Some(30)]);
        let chinext_before = instrument("300059.SZ", "东方财富", "2010-03-19");
        assert_eq!(chinext_before.limit_percent(day, 2), Some(20), "listed before the reform, 20% after it");
    }

    #[test]
    fn a_daily_bar_has_limits_only_with_a_listing_and_a_previous_close() {
        let day: NaiveDate = "2023-02-01".parse().unwrap();
        let i = instrument("600519.SH", "贵州茅台", "2001-08-27");
        let full = Daily::of(day, 100, Some(price!(1800)), Some((&i, 5000)));
        assert_eq!(
            full,
            Daily {
                pre_close: Some(price!(1800)),
                paused: false,
                high_limit: Some(price!(1980)),
                low_limit: Some(price!(1620))
            }
        );
        assert_eq!(
            Daily::of(day, 0, Some(price!(1800)), None),
            Daily { pre_close: Some(price!(1800)), paused: true, ..Daily::default() }
        );
        assert_eq!(Daily::of(day, 100, None, Some((&i, 5000))), Daily::default(), "no previous close, no limits");
    }

    #[test]
    fn the_board_comes_from_the_code_and_st_from_the_name() {
        let i = instrument("688981.SH", "中芯国际", "2020-07-16");
        assert_eq!((i.board, i.st), (BoardName::Star, false));
        assert!(instrument("600234.SH", "*ST科新", "2000-01-01").st);
        assert!(!instrument("600000.SH", "FIRST", "2000-01-01").st, "an ST mark leads the name");
        assert_eq!(serde_json::to_value(&i).unwrap()["board"], "star");
    }
}
