//! Adjusted prices: cumulative adjustment factors per ex-date (Tushare's `adj_factor`, the product
//! of xtquant's per-event `dr`), and bars priced forward (前复权, qfq) or backward (后复权, hfq).
//!
//! A bar of day `d` takes the factor `f(d)` of the latest ex-date at or before `d` (the earliest
//! factor before the first ex-date known). Backward: `price × f(d)`. Forward: `price × f(d) / f(ref)`,
//! `ref` the reference date (default: the latest factor known). Prices are rounded to the cent
//! (0.01 yuan), half away from zero, as Tushare's `pro_bar` does; volume and amount stay as traded.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::money::Price;
use crate::number;
use crate::symbol::Symbol;
use crate::Error;

/// The largest factor accepted (`Decimal(18, 8)` holds up to 10^10).
const MAX_FACTOR: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Decimals a factor keeps.
pub const FACTOR_DECIMALS: u32 = 8;

/// One cumulative factor as queued and stored:
/// `{"symbol":"600000.SH","ex_date":"2017-05-25","factor":9.385732}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorItem {
    pub symbol: Symbol,
    pub ex_date: NaiveDate,
    #[serde(with = "number::decimal")]
    pub factor: Decimal,
}

impl FactorItem {
    /// A positive factor below 10^9 with at most eight decimals.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |why: &str| Err(Error::InvalidFactor(format!("{} {}: {why}", self.symbol, self.ex_date)));
        if self.factor <= Decimal::ZERO || self.factor > MAX_FACTOR {
            return bad("a factor must be positive and below 10^9");
        }
        if self.factor.normalize().scale() > FACTOR_DECIMALS {
            return bad("a factor has at most eight decimals");
        }
        Ok(())
    }
}

/// Decimals of an adjusted price.
pub const PRICE_DECIMALS: u32 = 2;

/// How prices are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adjust {
    /// As traded.
    #[default]
    None,
    /// 前复权: today's prices stay, earlier ones scaled down to them (or to `reference`'s).
    Forward { reference: Option<NaiveDate> },
    /// 后复权: the listing's prices stay, later ones scaled up by every event since.
    Backward,
}

impl FromStr for Adjust {
    type Err = Error;

    /// `none`, `forward` (`qfq`), `backward` (`hfq`).
    fn from_str(s: &str) -> Result<Adjust, Error> {
        match s {
            "none" => Ok(Adjust::None),
            "forward" | "qfq" => Ok(Adjust::Forward { reference: None }),
            "backward" | "hfq" => Ok(Adjust::Backward),
            _ => Err(Error::InvalidAdjust(s.to_owned())),
        }
    }
}

/// One symbol's cumulative factors, oldest ex-date first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Factors(Vec<(NaiveDate, Decimal)>);

impl Factors {
    /// From (ex-date, cumulative factor) pairs in any order; a date given twice keeps its last.
    pub fn new(mut points: Vec<(NaiveDate, Decimal)>) -> Factors {
        points.reverse();
        points.sort_by_key(|(date, _)| *date);
        points.dedup_by_key(|(date, _)| *date);
        Factors(points)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The factor in force on `day`: the latest ex-date's at or before it, the earliest before them.
    pub fn on(&self, day: NaiveDate) -> Option<Decimal> {
        let i = self.0.partition_point(|(date, _)| *date <= day);
        self.0.get(i.saturating_sub(1)).map(|(_, f)| *f)
    }

    /// The multiplier of a bar of `day` under `adjust` (1 without factors).
    pub fn ratio(&self, day: NaiveDate, adjust: Adjust) -> Decimal {
        let Some(factor) = self.on(day) else { return Decimal::ONE };
        match adjust {
            Adjust::None => Decimal::ONE,
            Adjust::Backward => factor,
            Adjust::Forward { reference } => {
                let base = reference.and_then(|r| self.on(r)).or_else(|| self.0.last().map(|(_, f)| *f));
                base.filter(|b| !b.is_zero()).map_or(Decimal::ONE, |b| factor / b)
            }
        }
    }

    /// `bar` with its prices adjusted (cent-rounded); volume and amount unchanged.
    pub fn apply(&self, bar: &Bar, adjust: Adjust) -> Bar {
        let ratio = self.ratio(bar.frame.date(), adjust);
        if ratio == Decimal::ONE {
            return bar.clone();
        }
        let scale = |p: Price| {
            let scaled = p.to_decimal().checked_mul(ratio);
            let cents =
                scaled.map(|v| v.round_dp_with_strategy(PRICE_DECIMALS, RoundingStrategy::MidpointAwayFromZero));
            cents.and_then(Price::from_decimal).unwrap_or(p)
        };
        Bar {
            open: scale(bar.open),
            high: scale(bar.high),
            low: scale(bar.low),
            close: scale(bar.close),
            ..bar.clone()
        }
    }
}

/// Cumulative factors from per-event ones (xtquant's `dr`): the product of every event up to and
/// including each ex-date, starting from 1.
pub fn cumulative(events: &mut [(NaiveDate, Decimal)]) -> Vec<(NaiveDate, Decimal)> {
    events.sort_by_key(|(date, _)| *date);
    let mut product = Decimal::ONE;
    events
        .iter()
        .map(|(date, dr)| {
            product = product.checked_mul(*dr).unwrap_or(product);
            (*date, product)
        })
        .collect()
}

/// Only the dates where a daily factor series changes (Tushare publishes one row per trading day).
pub fn change_points(daily: &mut [(NaiveDate, Decimal)]) -> Vec<(NaiveDate, Decimal)> {
    daily.sort_by_key(|(date, _)| *date);
    let mut out: Vec<(NaiveDate, Decimal)> = Vec::new();
    for (date, factor) in daily.iter() {
        if out.last().is_none_or(|(_, last)| last != factor) {
            out.push((*date, *factor));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::price;
    use rust_decimal_macros::dec;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// 600000.SH's cumulative factors as Baostock publishes them (its `query_adjust_factor`
    /// example: `backAdjustFactor` on the ex-dates 2015-06-23, 2016-06-23 and 2017-05-25).
    fn spdb() -> Factors {
        Factors::new(vec![
            (day("2015-06-23"), dec!(6.295967)),
            (day("2016-06-23"), dec!(7.128788)),
            (day("2017-05-25"), dec!(9.385732)),
        ])
    }

    #[test]
    fn the_factor_in_force_is_the_latest_ex_dates() {
        let f = spdb();
        assert_eq!(f.on(day("2016-06-22")), Some(dec!(6.295967)));
        assert_eq!(f.on(day("2016-06-23")), Some(dec!(7.128788)), "from the ex-date on");
        assert_eq!(f.on(day("2015-01-05")), Some(dec!(6.295967)), "the earliest before them");
        assert_eq!(Factors::default().on(day("2016-06-23")), None);
    }

    #[test]
    fn forward_and_backward_ratios() {
        let f = spdb();
        assert_eq!(f.ratio(day("2017-05-24"), Adjust::Backward), dec!(7.128788));
        assert_eq!(f.ratio(day("2017-05-25"), Adjust::Forward { reference: None }), Decimal::ONE);
        let before = f.ratio(day("2017-05-24"), Adjust::Forward { reference: None });
        assert_eq!(before, dec!(7.128788) / dec!(9.385732));
        let to_2016 = f.ratio(day("2015-07-01"), Adjust::Forward { reference: Some(day("2016-12-30")) });
        assert_eq!(to_2016, dec!(6.295967) / dec!(7.128788));
        assert_eq!(Factors::default().ratio(day("2017-05-24"), Adjust::Backward), Decimal::ONE);
    }

    #[test]
    fn prices_round_to_the_cent_half_away_from_zero_and_volume_stays() {
        let f = Factors::new(vec![(day("2020-01-02"), dec!(0.5)), (day("2020-06-01"), dec!(1))]);
        let bar: Bar = serde_json::from_str(
            r#"{"symbol":"600000.SH","frame":"2020-03-02T10:00:00+08:00","open":3.01,"high":3.05,"low":2.99,"close":3.03,"vol":1000,"amount":3030}"#,
        )
        .unwrap();
        let q = f.apply(&bar, Adjust::Forward { reference: None });
        assert_eq!((q.open, q.high, q.low, q.close), (price!(1.51), price!(1.53), price!(1.50), price!(1.52)));
        assert_eq!((q.vol, q.amount), (1000, crate::amount!(3030)));
    }

    #[test]
    fn factor_items_read_the_queue_shape_and_refuse_nonsense() {
        let item: FactorItem =
            serde_json::from_str(r#"{"symbol":"600000.SH","ex_date":"2017-05-25","factor":9.385732}"#).unwrap();
        assert_eq!(item.factor, dec!(9.385732));
        assert!(item.check().is_ok());
        for factor in [dec!(0), dec!(-1), dec!(2000000000), dec!(1.123456789)] {
            assert!(FactorItem { factor, ..item.clone() }.check().is_err(), "{factor}");
        }
    }

    #[test]
    fn event_factors_multiply_and_daily_series_keep_their_changes() {
        let mut events = vec![(day("2016-06-23"), dec!(1.1)), (day("2015-06-23"), dec!(1.2))];
        assert_eq!(cumulative(&mut events), [(day("2015-06-23"), dec!(1.2)), (day("2016-06-23"), dec!(1.32))]);
        let mut daily =
            vec![(day("2017-05-24"), dec!(7.1)), (day("2017-05-25"), dec!(9.3)), (day("2017-05-26"), dec!(9.3))];
        assert_eq!(change_points(&mut daily), [(day("2017-05-24"), dec!(7.1)), (day("2017-05-25"), dec!(9.3))]);
        assert_eq!("qfq".parse::<Adjust>().unwrap(), Adjust::Forward { reference: None });
        assert!("front".parse::<Adjust>().is_err());
    }
}
