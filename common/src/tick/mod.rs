//! Ticks: one trade, or a day-cumulative snapshot, of one symbol; parsed from the contract's two
//! stream payloads, the plain tick object (or an array of them) and the QMT whole-quote dict, read
//! by the borrowing scanner of `json`: the fields a tick needs, in one pass, the rest skipped.

mod quote;
mod reason;
mod table;

use crate::json::{JsonError, Scanner, Value};
use crate::money::{Amount, Price};
use crate::number::whole_from_text;
use crate::symbol::Symbol;
use crate::time::parse_datetime;
use crate::Error;
pub use quote::{Book, Quote};
pub use reason::DeadReason;
pub use table::{is_true, TickTable};

/// How a tick's volume and amount are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickKind {
    /// This trade's own volume and amount.
    Trade,
    /// Day-cumulative totals; the day high and low, when the feed has them, reveal trades between
    /// two snapshots; the day's trade count so far (QMT's `transactionNum`), when it has it, counts
    /// the trades between two snapshots.
    Cumulative { day_high: Option<Price>, day_low: Option<Price>, day_trades: Option<u32> },
}

/// A tick in the domain's units: shares and yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub symbol: Symbol,
    pub time_ms: i64,
    pub price: Price,
    pub volume: u64,
    pub amount: Amount,
    pub kind: TickKind,
}

/// Epoch milliseconds of 2000-01-01 and 2100-01-01: anything outside is no market time.
const PLAUSIBLE_MS: std::ops::Range<i64> = 946_684_800_000..4_102_444_800_000;

/// The highest price a tick may carry, in yuan: about forty times the highest A-share price ever
/// traded (600519.SH near 2,600 yuan), so a misplaced decimal point or a garbage number is refused.
pub const MAX_PRICE: Price = Price::yuan(100_000);
/// The most shares a tick (or a day-cumulative snapshot, or one bar) may carry: a hundred times the
/// busiest stock's busiest day (about 10^10 shares).
pub const MAX_VOLUME: u64 = 1_000_000_000_000;
/// The largest amount a tick (or a snapshot, or one bar) may carry, in yuan: 10^14, some sixty
/// times the whole market's daily turnover.
pub const MAX_AMOUNT: Amount = Amount::yuan(100_000_000_000_000);

impl Tick {
    /// Checks what any tick must satisfy whatever the calendar says: a plausible time, and prices,
    /// volume and amount inside the bounds above.
    pub fn validate(self) -> Result<Tick, Error> {
        if !PLAUSIBLE_MS.contains(&self.time_ms) {
            let detail = format!("time {} ms is outside any plausible day", self.time_ms);
            return Err(Error::InvalidTick { reason: DeadReason::ImplausibleTime, detail });
        }
        if self.volume > 0 && self.price <= Price::ZERO {
            let detail = format!("price {} with volume {}", self.price, self.volume);
            return Err(Error::InvalidTick { reason: DeadReason::BadPrice, detail });
        }
        check_price("price", self.price)?;
        if let TickKind::Cumulative { day_high, day_low, .. } = self.kind {
            day_high.map(|p| check_price("high", p)).transpose()?;
            day_low.map(|p| check_price("low", p)).transpose()?;
        }
        check_volume(self.volume)?;
        if self.amount.is_negative() {
            return Err(Error::InvalidTick { reason: DeadReason::NegativeAmount, detail: format!("{}", self.amount) });
        }
        if self.amount > MAX_AMOUNT {
            let detail = format!("amount {} is above {MAX_AMOUNT} yuan", self.amount);
            return Err(Error::InvalidTick { reason: DeadReason::OutOfBounds, detail });
        }
        Ok(self)
    }
}

fn check_price(what: &str, price: Price) -> Result<(), Error> {
    if price.is_negative() {
        return Err(Error::InvalidTick { reason: DeadReason::BadPrice, detail: format!("{what} {price} is negative") });
    }
    if price > MAX_PRICE {
        let detail = format!("{what} {price} is above {MAX_PRICE} yuan");
        return Err(Error::InvalidTick { reason: DeadReason::OutOfBounds, detail });
    }
    Ok(())
}

fn check_volume(volume: u64) -> Result<(), Error> {
    if volume > MAX_VOLUME {
        let detail = format!("volume {volume} is above {MAX_VOLUME} shares");
        return Err(Error::InvalidTick { reason: DeadReason::OutOfBounds, detail });
    }
    Ok(())
}

/// One element of a payload that could not be used: why, and the element itself (for a QMT payload
/// the one-entry object `{"SYMBOL": {...}}`), so its dead letter need not copy the whole payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadElement {
    pub error: Error,
    pub element: String,
}

/// Each element of a payload, parsed on its own so that one bad element spoils only itself.
pub type Parsed = Vec<Result<Tick, BadElement>>;

/// Parses a `tick` stream field: one tick object or a JSON array of them.
pub fn parse_tick_payload(json: &str) -> Result<Parsed, Error> {
    tick_elements(json, tick_object)
}

/// A reader of one element of a payload: the outer error is the payload's, the inner the element's.
type ElementReader<T> = fn(&mut Scanner<'_>) -> Result<Result<T, Error>, JsonError>;

/// Each element of a `tick` field (one object, or an array of them) read by `read`.
fn tick_elements<T>(json: &str, read: ElementReader<T>) -> Result<Vec<Result<T, BadElement>>, Error> {
    let mut s = Scanner::new(json);
    let mut parsed = Vec::new();
    let mut element = |s: &mut Scanner<'_>| {
        let start = s.pos();
        let tick = read(s)?;
        parsed.push(tick.map_err(|error| BadElement { error, element: s.slice(start, s.pos()).to_owned() }));
        Ok(())
    };
    let read = if s.peek() == Some(b'[') { s.elements(&mut element) } else { element(&mut s) };
    read.and_then(|()| s.finish()).map_err(payload_error)?;
    Ok(parsed)
}

/// The payload kinds of a tick stream entry, each named by its field (the contract's `tick` and
/// `qmt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payload {
    /// A plain tick object or an array of them.
    Tick,
    /// An xtquant whole-quote payload: symbol to snapshot dict.
    Qmt,
}

impl Payload {
    /// The stream field that carries this kind.
    pub fn field(self) -> &'static str {
        match self {
            Payload::Tick => "tick",
            Payload::Qmt => "qmt",
        }
    }

    /// The kind a stream field carries; `None` for a field the contract does not have.
    pub fn of_field(field: &str) -> Option<Payload> {
        [Payload::Tick, Payload::Qmt].into_iter().find(|p| p.field() == field)
    }

    /// The kind of a table (CSV, Parquet) whose header is `names`: QMT snapshots when a column is
    /// named `lastPrice`, else plain ticks.
    pub fn of_columns<'a>(names: impl IntoIterator<Item = &'a str>) -> Payload {
        if names.into_iter().any(|n| n.trim() == "lastPrice") {
            Payload::Qmt
        } else {
            Payload::Tick
        }
    }

    /// Parses a payload of this kind.
    pub fn parse(self, text: &str) -> Result<Parsed, Error> {
        match self {
            Payload::Tick => parse_tick_payload(text),
            Payload::Qmt => parse_qmt_payload(text),
        }
    }
}

/// Parses one plain tick object.
pub fn parse_tick_object(json: &str) -> Result<Tick, Error> {
    let mut s = Scanner::new(json);
    s.peek();
    let tick = tick_object(&mut s).and_then(|tick| s.finish().map(|()| tick));
    tick.map_err(payload_error)?
}

/// Parses a `qmt` stream field: an xtquant whole-quote payload mapping symbol to snapshot dict.
/// Each snapshot's fields are read where they stand; its bid/ask arrays and the rest are skipped.
pub fn parse_qmt_payload(json: &str) -> Result<Parsed, Error> {
    qmt_elements(json, qmt_snapshot)
}

/// A reader of the snapshot dict of one symbol, with the errors of [`ElementReader`].
type SnapshotReader<T> = fn(&mut Scanner<'_>, &str) -> Result<Result<T, Error>, JsonError>;

/// Each snapshot of a `qmt` field read by `read`.
fn qmt_elements<T>(json: &str, read: SnapshotReader<T>) -> Result<Vec<Result<T, BadElement>>, Error> {
    let mut s = Scanner::new(json);
    let mut parsed = Vec::new();
    let read = s.members("an object mapping symbols to QMT snapshot dicts", |s, symbol| {
        let start = s.pos();
        let tick = read(s, &symbol)?;
        parsed.push(tick.map_err(|error| {
            let key = serde_json::to_string(&symbol).expect("strings serialize");
            BadElement { error, element: format!("{{{key}:{}}}", s.slice(start, s.pos())) }
        }));
        Ok(())
    });
    read.and_then(|()| s.finish()).map_err(payload_error)?;
    Ok(parsed)
}

/// The tick of the tick object at `s`; the outer error is the payload's (not JSON), the inner one
/// the element's.
fn tick_object(s: &mut Scanner<'_>) -> Result<Result<Tick, Error>, JsonError> {
    let mut f = TickFields::default();
    let read = read_fields(s, "a tick object", &mut f, TickFields::setter)?;
    Ok(read.and_then(|()| f.tick()))
}

/// The tick of the QMT snapshot dict of `symbol` at `s`; errors as `tick_object`'s.
fn qmt_snapshot(s: &mut Scanner<'_>, symbol: &str) -> Result<Result<Tick, Error>, JsonError> {
    let mut f = QmtFields::default();
    let read = read_fields(s, "a QMT snapshot dict", &mut f, QmtFields::setter)?;
    Ok(snapshot_tick(read, f, symbol))
}

/// The tick of the snapshot dict of `symbol` read into `fields` (`read` its verdict so far).
fn snapshot_tick(read: Result<(), Error>, fields: QmtFields, symbol: &str) -> Result<Tick, Error> {
    let symbol = symbol.parse::<Symbol>();
    symbol.and_then(|symbol| read.and_then(|()| fields.tick(symbol)).map_err(|e| of_symbol(symbol, e)))
}

/// Stores one field of `F` from its value.
type Setter<F> = fn(&mut F, Value<'_>) -> Result<(), Error>;

/// Reads the object at `s` into `fields`: the members `setter` knows are read, the rest skipped.
/// A syntax error spoils the whole payload; a value of the wrong kind, or the first bad field in
/// the text's order, only the element.
fn read_fields<F>(
    s: &mut Scanner<'_>,
    expected: &'static str,
    fields: &mut F,
    setter: fn(&str) -> Option<Setter<F>>,
) -> Result<Result<(), Error>, JsonError> {
    read_members(s, expected, fields, |fields, key, s| scalar(fields, setter(key), s))
}

/// The value at `s` into `fields` by `set`, or skipped when there is no setter for it.
fn scalar<F>(fields: &mut F, set: Option<Setter<F>>, s: &mut Scanner<'_>) -> Result<Result<(), Error>, JsonError> {
    match set {
        Some(set) => Ok(set(fields, s.value()?)),
        None => s.skip().map(Ok),
    }
}

/// Reads the object at `s`, each member by `member` (which reads or skips its value), with the
/// errors of [`read_fields`].
fn read_members<F>(
    s: &mut Scanner<'_>,
    expected: &'static str,
    fields: &mut F,
    mut member: impl FnMut(&mut F, &str, &mut Scanner<'_>) -> Result<Result<(), Error>, JsonError>,
) -> Result<Result<(), Error>, JsonError> {
    let mut first_error = None;
    let read = s.members(expected, |s, key| {
        if let Err(e) = member(fields, &key, s)? {
            first_error.get_or_insert(e);
        }
        Ok(())
    });
    match read {
        Err(e @ JsonError::Syntax { .. }) => Err(e),
        Err(e) => Ok(Err(bad_field(e.to_string()))),
        Ok(()) => Ok(first_error.map_or(Ok(()), Err)),
    }
}

/// Stores a field's value; a field named twice is an error, as it is for serde.
fn put<T>(slot: &mut Option<T>, name: &str, value: Result<T, Error>) -> Result<(), Error> {
    if slot.is_some() {
        return Err(bad_field(format!("duplicate field `{name}`")));
    }
    *slot = Some(value?);
    Ok(())
}

fn required<T>(slot: Option<T>, name: &str) -> Result<T, Error> {
    slot.ok_or_else(|| Error::InvalidTick {
        reason: DeadReason::MissingField,
        detail: format!("missing field `{name}`"),
    })
}

/// The fields of a plain tick object, as read so far.
#[derive(Default)]
struct TickFields {
    symbol: Option<Symbol>,
    time: Option<i64>,
    price: Option<Price>,
    volume: Option<u64>,
    amount: Option<Option<Amount>>,
    cumulative: Option<bool>,
    high: Option<Option<Price>>,
    low: Option<Option<Price>>,
    trades: Option<Option<u32>>,
}

impl TickFields {
    fn setter(key: &str) -> Option<Setter<TickFields>> {
        let set: Setter<TickFields> = match key {
            "symbol" => |f, v| put(&mut f.symbol, "symbol", symbol_of(v)),
            "time" => |f, v| put(&mut f.time, "time", epoch_ms(v)),
            "price" => |f, v| put(&mut f.price, "price", price(v)),
            "volume" => |f, v| put(&mut f.volume, "volume", whole(v)),
            "amount" => |f, v| put(&mut f.amount, "amount", optional(v, amount)),
            "cumulative" => |f, v| put(&mut f.cumulative, "cumulative", flag(v)),
            "high" => |f, v| put(&mut f.high, "high", optional(v, price)),
            "low" => |f, v| put(&mut f.low, "low", optional(v, price)),
            "trades" => |f, v| put(&mut f.trades, "trades", optional(v, count)),
            _ => return None,
        };
        Some(set)
    }

    fn tick(self) -> Result<Tick, Error> {
        let (symbol, time_ms) = (required(self.symbol, "symbol")?, required(self.time, "time")?);
        let (price, volume) = (required(self.price, "price")?, required(self.volume, "volume")?);
        check_price("price", price)?;
        check_volume(volume)?;
        let cumulative = self.cumulative.unwrap_or(false);
        let amount = match (self.amount.flatten(), cumulative) {
            (Some(amount), _) => amount,
            // Both factors are bounded above, so the product fits.
            (None, false) => price * volume,
            (None, true) => {
                let detail = "a cumulative tick needs its amount".into();
                return Err(Error::InvalidTick { reason: DeadReason::MissingField, detail });
            }
        };
        let (day_high, day_low, day_trades) = (self.high.flatten(), self.low.flatten(), self.trades.flatten());
        let kind = if cumulative { TickKind::Cumulative { day_high, day_low, day_trades } } else { TickKind::Trade };
        Tick { symbol, time_ms, price, volume, amount, kind }.validate()
    }
}

/// The fields of a QMT snapshot dict, as read so far.
#[derive(Default)]
struct QmtFields {
    time: Option<i64>,
    last_price: Option<Price>,
    high: Option<Option<Price>>,
    low: Option<Option<Price>>,
    volume: Option<u64>,
    amount: Option<Amount>,
    /// `transactionNum`: kept only when readable, never refusing the snapshot.
    trades: Option<u32>,
}

impl QmtFields {
    fn setter(key: &str) -> Option<Setter<QmtFields>> {
        let set: Setter<QmtFields> = match key {
            "time" => |f, v| put(&mut f.time, "time", epoch_ms(v)),
            "lastPrice" => |f, v| put(&mut f.last_price, "lastPrice", price(v)),
            "high" => |f, v| put(&mut f.high, "high", optional(v, price)),
            "low" => |f, v| put(&mut f.low, "low", optional(v, price)),
            "volume" => |f, v| put(&mut f.volume, "volume", whole(v)),
            "amount" => |f, v| put(&mut f.amount, "amount", amount(v)),
            "transactionNum" => |f, v| {
                f.trades = count(v).ok();
                Ok(())
            },
            _ => return None,
        };
        Some(set)
    }

    /// The snapshot as a cumulative tick: lots become shares.
    fn tick(self, symbol: Symbol) -> Result<Tick, Error> {
        let (time_ms, price) = (required(self.time, "time")?, required(self.last_price, "lastPrice")?);
        let (lots, amount) = (required(self.volume, "volume")?, required(self.amount, "amount")?);
        let volume = lots.checked_mul(100).ok_or_else(|| Error::InvalidTick {
            reason: DeadReason::BadNumber,
            detail: format!("volume {lots} lots overflows"),
        })?;
        let (day_high, day_low) = (self.high.flatten(), self.low.flatten());
        let kind = TickKind::Cumulative { day_high, day_low, day_trades: self.trades };
        Tick { symbol, time_ms, price, volume, amount, kind }.validate()
    }
}

/// Names the symbol in an error about one element of a QMT payload.
fn of_symbol(symbol: Symbol, e: Error) -> Error {
    match e {
        Error::InvalidTick { reason, detail } => Error::InvalidTick { reason, detail: format!("{symbol}: {detail}") },
        other => Error::InvalidTick { reason: other.reason(), detail: format!("{symbol}: {other}") },
    }
}

/// The error of a payload that is not JSON (`bad_json`), or not the JSON the contract describes.
fn payload_error(e: JsonError) -> Error {
    match e {
        JsonError::Syntax { .. } => Error::InvalidTick { reason: DeadReason::BadJson, detail: e.to_string() },
        JsonError::Type { .. } => bad_field(e.to_string()),
    }
}

fn bad_field(detail: String) -> Error {
    Error::InvalidTick { reason: DeadReason::BadField, detail }
}

/// A price or amount: a number, or a string of one; one beyond the type's range is the end of it
/// on its side, which the bounds then refuse (in the order the checks have).
fn money<T>(value: Value<'_>, read: fn(&str) -> Option<T>) -> Result<T, Error> {
    let text = numeric_text(&value, "a decimal")?;
    read(text).ok_or_else(|| bad_field(format!("{text:?} is not a decimal")))
}

fn price(value: Value<'_>) -> Result<Price, Error> {
    money(value, Price::saturating_from_text)
}

fn amount(value: Value<'_>) -> Result<Amount, Error> {
    money(value, Amount::saturating_from_text)
}

/// The text of a number, or of a string that should hold one.
fn numeric_text<'v>(value: &'v Value<'_>, expected: &'static str) -> Result<&'v str, Error> {
    match value {
        Value::Number(text) => Ok(text),
        Value::Str(text) => Ok(text),
        other => Err(bad_field(other.unexpected(expected).to_string())),
    }
}

fn optional<T>(value: Value<'_>, read: fn(Value<'_>) -> Result<T, Error>) -> Result<Option<T>, Error> {
    match value {
        Value::Null => Ok(None),
        other => read(other).map(Some),
    }
}

/// A volume: a whole non-negative number, or a string of one.
fn whole(value: Value<'_>) -> Result<u64, Error> {
    whole_from_text(numeric_text(&value, "a whole number")?).map_err(|e| bad_field(e.to_string()))
}

/// A trade count: a whole number up to `u32::MAX` (billions of trades, no day of one symbol's).
fn count(value: Value<'_>) -> Result<u32, Error> {
    let n = whole(value)?;
    u32::try_from(n).map_err(|_| bad_field(format!("a trade count of {n} is beyond 4294967295")))
}

fn flag(value: Value<'_>) -> Result<bool, Error> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(bad_field(other.unexpected("a boolean").to_string())),
    }
}

fn symbol_of(value: Value<'_>) -> Result<Symbol, Error> {
    match value {
        Value::Str(text) => text.parse(),
        other => Err(bad_field(other.unexpected("a symbol string").to_string())),
    }
}

/// A tick time: epoch milliseconds (a number or a string of digits) or an ISO-8601 string.
fn epoch_ms(value: Value<'_>) -> Result<i64, Error> {
    match value {
        Value::Number(text) => text.parse().map_err(|_| bad_field(format!("time {text} is not whole milliseconds"))),
        Value::Str(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().map_err(|_| bad_field(format!("time {text:?} is too large")))
        }
        Value::Str(text) => parse_datetime(&text),
        other => Err(bad_field(other.unexpected("epoch milliseconds or an ISO-8601 time").to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{amount, price};

    #[test]
    fn payload_kinds_are_named_by_their_field_and_told_apart_by_their_columns() {
        for kind in [Payload::Tick, Payload::Qmt] {
            assert_eq!(Payload::of_field(kind.field()), Some(kind));
        }
        assert_eq!(Payload::of_field("ticks"), None);
        assert_eq!(Payload::of_columns(["symbol", "time", " lastPrice ", "volume"]), Payload::Qmt);
        assert_eq!(Payload::of_columns(["symbol", "time", "price", "volume"]), Payload::Tick);
        let qmt = r#"{"600519.SH":{"time":1763602203000,"lastPrice":1650.5,"volume":3}}"#;
        assert_eq!(Payload::Qmt.parse(qmt).unwrap().len(), 1);
        assert!(Payload::Tick.parse(qmt).unwrap()[0].is_err(), "a QMT dict is no tick object");
    }

    #[test]
    fn the_contract_tick_object_parses() {
        let t = parse_tick_object(
            r#"{"symbol":"600519.SH","time":1763602203000,"price":1650.5,"volume":300,"amount":495150.0,"cumulative":false}"#,
        )
        .unwrap();
        assert_eq!((t.time_ms, t.price, t.volume, t.amount), (1_763_602_203_000, price!(1650.5), 300, amount!(495150)));
        assert_eq!(t.kind, TickKind::Trade);
    }

    #[test]
    fn times_as_strings_digits_or_iso_agree() {
        let a =
            parse_tick_object(r#"{"symbol":"600519.sh","time":"2025-11-20T09:30:03","price":"1650.5","volume":"300"}"#);
        let b = parse_tick_object(r#"{"symbol":"600519.SH","time":"1763602203000","price":1650.5,"volume":300}"#);
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[test]
    fn the_bounds_are_the_documented_numbers() {
        assert_eq!((MAX_PRICE.to_string(), MAX_AMOUNT.to_string()), ("100000".into(), "100000000000000".into()));
    }

    #[test]
    fn a_trade_without_amount_is_priced_exactly() {
        let t = parse_tick_object(r#"{"symbol":"000001.SZ","time":1763602203000,"price":10.01,"volume":300}"#).unwrap();
        assert_eq!(t.amount, amount!(3003));
    }

    #[test]
    fn bad_ticks_are_errors_with_a_reason_not_panics() {
        for (bad, reason) in [
            (r#"{"symbol":"600519","time":1763602203000,"price":1,"volume":1}"#, "bad_symbol"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":0,"volume":100}"#, "bad_price"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":-1,"volume":100}"#, "bad_price"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":-100}"#, "bad_field"),
            (r#"{"symbol":"600519.SH","time":0,"price":1,"volume":1}"#, "implausible_time"),
            (r#"{"symbol":"600519.SH","time":"2025-11-20 99:99:99","price":1,"volume":1}"#, "bad_time"),
            (r#"{"symbol":"600519.SH","price":1,"volume":1}"#, "missing_field"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1,"cumulative":true}"#, "missing_field"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1,"amount":-5}"#, "negative_amount"),
            (
                r#"{"symbol":"600519.SH","time":"2026-11-18T10:00:00","price":"79228162514264337593543950335","volume":2}"#,
                "out_of_bounds",
            ),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1000000000001}"#, "out_of_bounds"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1,"amount":1e15}"#, "out_of_bounds"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1e400,"volume":1}"#, "bad_field"),
            (r#"not json"#, "bad_json"),
            (r#"{"symbol":"600519.SH","#, "bad_json"),
        ] {
            assert_eq!(parse_tick_object(bad).unwrap_err().reason(), reason, "{bad}");
        }
        let qmt = parse_qmt_payload(r#"{"60051.SH":{},"600519.SH":{"time":1763602203000,"lastPrice":1}}"#).unwrap();
        assert_eq!(
            qmt.iter().map(|r| r.as_ref().unwrap_err().error.reason()).collect::<Vec<_>>(),
            ["bad_symbol", "missing_field"]
        );
        assert_eq!(qmt[0].as_ref().unwrap_err().element, r#"{"60051.SH":{}}"#, "the element, not the payload");
    }

    #[test]
    fn an_array_payload_keeps_good_elements_beside_bad_ones() {
        let parsed = parse_tick_payload(
            r#"[{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1},{"symbol":"bad","time":1,"price":1,"volume":1}]"#,
        )
        .unwrap();
        assert!(parsed[0].is_ok() && parsed[1].is_err());
    }

    #[test]
    fn a_qmt_payload_becomes_cumulative_ticks_in_shares() {
        let parsed = parse_qmt_payload(
            r#"{"600519.SH":{"time":1763602203000,"lastPrice":1650.5,"open":1648,"high":1651,"low":1647.5,"lastClose":1640,"volume":1203,"amount":198612345.5,"openInt":13,"bidPrice":[1650.4,0,0,0,0]},
                "000001.SZ":{"time":1763602203000,"lastPrice":0,"volume":10,"amount":100}}"#,
        )
        .unwrap();
        let t = parsed[0].as_ref().unwrap();
        assert_eq!((t.volume, t.amount), (120_300, amount!(198612345.5)));
        assert_eq!(
            t.kind,
            TickKind::Cumulative { day_high: Some(price!(1651)), day_low: Some(price!(1647.5)), day_trades: None }
        );
        assert!(parsed[1].is_err(), "a zero price with volume is refused");
    }
}
