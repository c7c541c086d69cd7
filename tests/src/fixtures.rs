//! The real market data of `common/tests/data/real` (see its SOURCES.md), read into the domain's
//! types: Level-2 trades and 3-second snapshots of 600519.SH and 000333.SZ for 2023-02-01..03,
//! Tushare's daily bars of 600519.SH, a month of 1-minute candles of 000001.SZ.

use std::io::Read;
use std::path::PathBuf;

use std::fmt::Debug;
use std::str::FromStr;

use common::{Amount, Ohlcv, Price, Tick, TickKind};
use rust_decimal::Decimal;

/// A fixture file's path.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../common/tests/data/real").join(name)
}

/// The rows of a gzipped CSV fixture, header skipped, split on commas.
pub fn rows(name: &str) -> Vec<Vec<String>> {
    let path = path(name);
    let mut text = String::new();
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// A feed number rounded to the 0.01 it stands for (the feed writes `1854.980000000000018`,
/// `6.24467892461E9`), as a price or an amount.
pub fn cents<T: FromStr<Err: Debug>>(s: &str) -> T {
    let exact = if s.contains(['E', 'e']) { Decimal::from_scientific(s) } else { s.parse() };
    exact.unwrap_or_else(|e| panic!("{s}: {e}")).round_dp(2).to_string().parse().expect("a rounded number")
}

/// `2023-02-01` as the fixtures name it: `20230201`.
pub fn compact(day: &str) -> String {
    day.replace('-', "")
}

fn time_ms(day: &str, time: &str) -> i64 {
    common::time::parse_datetime(&format!("{day}T{time}")).unwrap_or_else(|e| panic!("{day}T{time}: {e}"))
}

/// The real trades of 600519.SH on `day` (`2023-02-01`) as plain ticks.
pub fn trades(day: &str) -> Vec<Tick> {
    rows(&format!("600519.SH-{}-trades.csv.gz", compact(day)))
        .iter()
        .map(|r| Tick {
            symbol: "600519.SH".parse().unwrap(),
            time_ms: time_ms(day, &r[0]),
            price: cents(&r[1]),
            volume: r[2].parse().unwrap(),
            amount: cents(&r[3]),
            kind: TickKind::Trade,
        })
        .collect()
}

/// The real 3-second snapshots of `symbol` on `day` as cumulative ticks with day high and low.
pub fn snapshots(symbol: &str, day: &str) -> Vec<Tick> {
    rows(&format!("{symbol}-{}-snapshots.csv.gz", compact(day)))
        .iter()
        .map(|r| Tick {
            symbol: symbol.parse().unwrap(),
            time_ms: time_ms(day, &r[0]),
            price: cents(&r[1]),
            volume: r[4].parse().unwrap(),
            amount: cents(&r[5]),
            kind: TickKind::Cumulative { day_high: Some(cents(&r[2])), day_low: Some(cents(&r[3])) },
        })
        .collect()
}

/// Tushare's daily bar of 600519.SH on `day` in shares and yuan (published in lots and thousand
/// yuan).
pub fn tushare_daily(day: &str) -> Ohlcv {
    let path = path("600519.SH-tushare-daily.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let row: Vec<&str> = text.lines().find(|l| l.contains(&compact(day))).unwrap().split(',').collect();
    let d = |i: usize| -> Decimal { row[i].parse().unwrap() };
    let p = |i: usize| Price::from_decimal(d(i)).unwrap();
    Ohlcv {
        open: p(2),
        high: p(3),
        low: p(4),
        close: p(5),
        vol: common::number::whole_from_decimal(d(9) * Decimal::from(100)).unwrap(),
        amount: Amount::from_decimal(d(10) * Decimal::from(1000)).unwrap(),
    }
}

/// A tick as the contract's tick object.
pub fn tick_json(t: &Tick) -> String {
    let (cumulative, high, low) = match t.kind {
        TickKind::Trade => (false, None, None),
        TickKind::Cumulative { day_high, day_low } => (true, day_high, day_low),
    };
    let mut object = serde_json::json!({
        "symbol": t.symbol.to_string(), "time": t.time_ms, "price": t.price.to_string(),
        "volume": t.volume, "amount": t.amount.to_string(), "cumulative": cumulative,
    });
    if let (Some(h), Some(l)) = (high, low) {
        object["high"] = h.to_string().into();
        object["low"] = l.to_string().into();
    }
    object.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_numbers_round_to_the_cent_they_stand_for() {
        assert_eq!(cents::<Price>("1854.980000000000018"), Price::from_units(18_549_800));
        assert_eq!(cents::<Amount>("6.24467892461E9"), Amount::from_units(62_446_789_246_100));
        assert_eq!(trades("2023-02-01").first().map(|t| t.symbol.to_string()), Some("600519.SH".into()));
    }
}
