//! Ticks as the archive keeps them: the tick of each payload element with what the feed sends
//! beside it, the bid/ask levels of a QMT snapshot. Read by the producer's own
//! field rules, element for element, so the archive takes exactly the ticks the producer takes:
//! what is only kept here (the levels) is left out when unreadable, never refusing
//! a tick the producer accepts.

use super::{
    price, qmt_elements, read_members, scalar, snapshot_tick, tick_elements, tick_object, whole, Payload, QmtFields,
    Tick,
};
use crate::json::{JsonError, Scanner, Value};
use crate::money::Price;
use crate::Error;

/// The bid/ask levels of a snapshot, best first, as sent (a level without an order is zero):
/// prices in yuan, volumes in shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    pub bid_price: Vec<Price>,
    pub bid_volume: Vec<u64>,
    pub ask_price: Vec<Price>,
    pub ask_volume: Vec<u64>,
}

/// A tick and what the archive keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub tick: Tick,
    pub book: Book,
}

impl From<Tick> for Quote {
    fn from(tick: Tick) -> Quote {
        Quote { tick, book: Book::default() }
    }
}

impl Payload {
    /// The quotes of a payload of this kind, in the order the producer takes their ticks; elements
    /// the producer refuses, and a payload it cannot read, give none.
    pub fn quotes(self, payload: &str) -> Vec<Quote> {
        let parsed = match self {
            Payload::Tick => tick_elements(payload, plain_quote),
            Payload::Qmt => qmt_elements(payload, qmt_quote),
        };
        parsed.map(|elements| elements.into_iter().filter_map(Result::ok).collect()).unwrap_or_default()
    }

    /// The quotes of the stream field `field` (one the contract does not have holds none).
    pub fn quotes_of_field(field: &str, payload: &str) -> Vec<Quote> {
        Payload::of_field(field).map_or_else(Vec::new, |kind| kind.quotes(payload))
    }
}

fn plain_quote(s: &mut Scanner<'_>) -> Result<Result<Quote, Error>, JsonError> {
    Ok(tick_object(s)?.map(Quote::from))
}

fn qmt_quote(s: &mut Scanner<'_>, symbol: &str) -> Result<Result<Quote, Error>, JsonError> {
    let (mut fields, mut book) = (QmtFields::default(), Book::default());
    let read = read_members(s, "a QMT snapshot dict", &mut fields, |fields, key, s| {
        match key {
            "bidPrice" => book.bid_price = levels(s, |v| price(v).ok().filter(|p| !p.is_negative()))?,
            "askPrice" => book.ask_price = levels(s, |v| price(v).ok().filter(|p| !p.is_negative()))?,
            "bidVol" => book.bid_volume = levels(s, shares)?,
            "askVol" => book.ask_volume = levels(s, shares)?,
            _ => return scalar(fields, QmtFields::setter(key), s),
        }
        Ok(Ok(()))
    })?;
    Ok(snapshot_tick(read, fields, symbol).map(|tick| Quote { tick, book }))
}

/// A volume in lots as shares.
fn shares(value: Value<'_>) -> Option<u64> {
    whole(value).ok()?.checked_mul(100)
}

/// The levels of an array of numbers; empty when it is no such array (a syntax error is still the
/// payload's, as the producer's skipping finds it too).
fn levels<T>(s: &mut Scanner<'_>, read: fn(Value<'_>) -> Option<T>) -> Result<Vec<T>, JsonError> {
    if s.peek() != Some(b'[') {
        return s.skip().map(|()| Vec::new());
    }
    let mut out = Some(Vec::new());
    s.elements(|s| {
        let level = read(s.value()?);
        out = out.take().zip(level).map(|(mut levels, level)| {
            levels.push(level);
            levels
        });
        Ok(())
    })?;
    Ok(out.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tick::{parse_qmt_payload, parse_tick_payload, TickKind};
    use crate::{amount, price};

    #[test]
    fn a_snapshot_keeps_its_levels_in_shares_and_its_trade_count() {
        let quotes = Payload::Qmt.quotes(
            r#"{"600519.SH":{"time":1763602203000,"lastPrice":1650.5,"volume":12,"amount":1980600,"transactionNum":57,
                "bidPrice":[1650.4,1650.3,0,0,0],"bidVol":[3,1,0,0,0],"askPrice":[1650.5,1650.6,0,0,0],"askVol":[2,7,0,0,0]}}"#,
        );
        let q = &quotes[0];
        assert_eq!((q.tick.volume, q.tick.amount), (1200, amount!(1980600)));
        let TickKind::Cumulative { day_trades, .. } = q.tick.kind else { panic!("a snapshot is cumulative") };
        assert_eq!(day_trades, Some(57));
        assert_eq!(q.book.bid_price[..2], [price!(1650.4), price!(1650.3)]);
        assert_eq!((q.book.bid_volume[0], q.book.ask_volume[1], q.book.ask_price.len()), (300, 700, 5));
    }

    #[test]
    fn unreadable_extras_are_left_out_and_the_tick_kept_as_the_producer_keeps_it() {
        let payload = r#"{"600519.SH":{"time":1763602203000,"lastPrice":1,"volume":1,"amount":100,"transactionNum":"x",
            "bidPrice":[1,"y"],"askVol":{"a":1},"bidVol":[-1]},"bad":{},"000001.SZ":{"time":1763602203000,"lastPrice":0,"volume":1,"amount":1}}"#;
        let quotes = Payload::Qmt.quotes(payload);
        let ticks: Vec<Tick> = parse_qmt_payload(payload).unwrap().into_iter().filter_map(Result::ok).collect();
        assert_eq!(quotes.iter().map(|q| q.tick).collect::<Vec<_>>(), ticks);
        assert_eq!((quotes.len(), &quotes[0].book), (1, &Book::default()));
        let TickKind::Cumulative { day_trades, .. } = quotes[0].tick.kind else { panic!("a snapshot is cumulative") };
        assert_eq!(day_trades, None, "an unreadable count is left out, the snapshot kept");
    }

    #[test]
    fn plain_ticks_are_the_producers_ticks_and_other_fields_have_none() {
        let payload = r#"[{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1},{"symbol":"x"},
            {"symbol":"000001.SZ","time":1763602203000,"price":2,"volume":5}]"#;
        let ticks: Vec<Tick> = parse_tick_payload(payload).unwrap().into_iter().filter_map(Result::ok).collect();
        let quotes = Payload::Tick.quotes(payload);
        assert_eq!(quotes.into_iter().map(|q| q.tick).collect::<Vec<_>>(), ticks);
        assert!(Payload::quotes_of_field("quote", payload).is_empty() && Payload::Tick.quotes("{").is_empty());
    }
}
