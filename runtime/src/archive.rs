//! The tick archive's row: `TickRow`, the RowBinary shape of one row of `tickbar.ticks`
//! (`sql/003_ticks.sql`), made from an accepted tick with its stream entry and read back as one.

use common::money::{Amount, Price};
use common::stream::EntryId;
use common::tick::{Book, Quote};
use common::time::split_ms;
use common::{Tick, TickKind};
use serde::{Deserialize, Serialize};

/// The table's name for `client.with_database(database).insert(..)`.
pub const TABLE: &str = crate::keys::TICKS_TABLE;

/// One row of `tickbar.ticks`: prices and amounts as fixed-point units (10^-4 yuan), the market
/// date as days since 1970, and where the tick came from: its stream entry and its position
/// among the entry's accepted ticks, which with the symbol and time is the row's identity.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct TickRow {
    pub symbol: String,
    pub day: u16,
    pub time_ms: i64,
    pub price: i64,
    pub volume: u64,
    pub amount: i128,
    /// 1 when volume and amount are the day's totals so far (a snapshot), 0 for one trade.
    pub cumulative: u8,
    pub high: Option<i64>,
    pub low: Option<i64>,
    pub trades: Option<u64>,
    pub bid_price: Vec<i64>,
    pub bid_volume: Vec<u64>,
    pub ask_price: Vec<i64>,
    pub ask_volume: Vec<u64>,
    pub entry_ms: u64,
    pub entry_seq: u64,
    pub element: u32,
}

impl TickRow {
    /// The row of `quote`, the `element`th accepted tick of stream entry `entry`.
    pub fn new(quote: &Quote, entry: EntryId, element: u32) -> TickRow {
        let t = &quote.tick;
        let (high, low, trades, cumulative) = match t.kind {
            TickKind::Cumulative { day_high, day_low, day_trades } => (day_high, day_low, day_trades, 1),
            TickKind::Trade => (None, None, None, 0),
        };
        let units = |prices: &[Price]| prices.iter().map(|p| p.units()).collect();
        let (day, _) = split_ms(t.time_ms);
        TickRow {
            symbol: t.symbol.to_string(),
            day: u16::try_from(day).expect("tick times lie between 2000 and 2100"),
            time_ms: t.time_ms,
            price: t.price.units(),
            volume: t.volume,
            amount: t.amount.units(),
            cumulative,
            high: high.map(Price::units),
            low: low.map(Price::units),
            trades: trades.map(u64::from),
            bid_price: units(&quote.book.bid_price),
            bid_volume: quote.book.bid_volume.clone(),
            ask_price: units(&quote.book.ask_price),
            ask_volume: quote.book.ask_volume.clone(),
            entry_ms: entry.ms,
            entry_seq: entry.seq,
            element,
        }
    }

    /// The quote this row holds (its symbol was valid when written).
    pub fn quote(&self) -> Result<Quote, common::Error> {
        let prices = |units: &[i64]| units.iter().map(|u| Price::from_units(*u)).collect();
        let kind = match self.cumulative {
            0 => TickKind::Trade,
            _ => TickKind::Cumulative {
                day_high: self.high.map(Price::from_units),
                day_low: self.low.map(Price::from_units),
                day_trades: self.trades.and_then(|n| u32::try_from(n).ok()),
            },
        };
        let tick = Tick {
            symbol: self.symbol.parse()?,
            time_ms: self.time_ms,
            price: Price::from_units(self.price),
            volume: self.volume,
            amount: Amount::from_units(self.amount),
            kind,
        };
        let book = Book {
            bid_price: prices(&self.bid_price),
            bid_volume: self.bid_volume.clone(),
            ask_price: prices(&self.ask_price),
            ask_volume: self.ask_volume.clone(),
        };
        Ok(Quote { tick, book })
    }

    /// The stream entry the tick came in.
    pub fn entry(&self) -> EntryId {
        EntryId { ms: self.entry_ms, seq: self.entry_seq }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_holds_the_quote_exactly_and_names_its_entry() {
        let quotes = common::tick::Payload::Qmt.quotes(
            r#"{"600519.SH":{"time":"2026-11-18T09:30:03","lastPrice":1650.5,"high":1651,"low":1647.5,"volume":12,
                "amount":1980600.25,"transactionNum":57,"bidPrice":[1650.4,0],"bidVol":[3,0],"askPrice":[1650.5],"askVol":[2]}}"#,
        );
        let entry = EntryId { ms: 1_763_429_403_000, seq: 4 };
        let row = TickRow::new(&quotes[0], entry, 3);
        assert_eq!((row.price, row.amount, row.volume, row.cumulative), (16_505_000, 19_806_002_500, 1200, 1));
        let day = common::time::day_number(chrono::NaiveDate::from_ymd_opt(2026, 11, 18).unwrap());
        assert_eq!((i32::from(row.day), row.entry(), row.element), (day, entry, 3));
        assert_eq!(row.quote().unwrap(), quotes[0]);
        let trade = common::tick::Payload::Tick
            .quotes(r#"{"symbol":"000001.SZ","time":1763602203000,"price":10.01,"volume":300}"#);
        let row = TickRow::new(&trade[0], entry, 0);
        assert_eq!((row.cumulative, row.high, row.trades, row.bid_price.len()), (0, None, None, 0));
        assert_eq!(row.quote().unwrap(), trade[0]);
    }
}
