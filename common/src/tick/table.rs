//! Ticks from tables: a tick file's header names what each column holds, and each row is read by
//! the field rules of the stream payloads (plain tick objects, or QMT snapshot dicts when there is
//! a `lastPrice` column), each cell standing for the string a payload's field would hold. `producer
//! build` reads CSV and Parquet archives through it, so history built from files and the live path
//! read a tick the same way by construction.

use std::borrow::Cow;

use super::{of_symbol, Payload, QmtFields, Setter, Tick, TickFields};
use crate::json::Value;
use crate::symbol::Symbol;
use crate::Error;

/// What the columns of a tick table hold.
pub struct TickTable {
    columns: Columns,
}

enum Columns {
    Plain(Vec<Option<Column<TickFields>>>),
    Qmt { symbol: usize, columns: Vec<Option<Column<QmtFields>>> },
}

/// A column a tick reads: where its cells go, and whether they are a flag (`cumulative`).
struct Column<F> {
    set: Setter<F>,
    flag: bool,
}

/// The columns each kind of table must have.
const PLAIN_REQUIRED: [&str; 4] = ["symbol", "time", "price", "volume"];
const QMT_REQUIRED: [&str; 5] = ["symbol", "time", "lastPrice", "volume", "amount"];

impl TickTable {
    /// The table whose header is `names`: QMT snapshots (volume in lots) when a column is named
    /// `lastPrice`, else plain ticks. Columns no tick field has are ignored.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<TickTable, Error> {
        let names: Vec<&str> = names.into_iter().map(str::trim).collect();
        let qmt = Payload::of_columns(names.iter().copied()) == Payload::Qmt;
        let required: &[&str] = if qmt { &QMT_REQUIRED } else { &PLAIN_REQUIRED };
        if let Some(missing) = required.iter().find(|r| !names.contains(r)) {
            return Err(header_error(format!("no `{missing}` column")));
        }
        let columns = if qmt {
            let symbol = names.iter().position(|n| *n == "symbol").expect("checked above");
            let columns = names.iter().map(|n| (*n != "symbol").then(|| column(n, QmtFields::setter)).flatten());
            Columns::Qmt { symbol, columns: columns.collect() }
        } else {
            Columns::Plain(names.iter().map(|n| column(n, TickFields::setter)).collect())
        };
        let known = |n: &&str| TickFields::setter(n).is_some() || QmtFields::setter(n).is_some();
        let mut read: Vec<&str> = names.iter().copied().filter(known).collect();
        read.sort_unstable();
        if let Some(twice) = read.windows(2).find(|w| w[0] == w[1]) {
            return Err(header_error(format!("the column `{}` is named twice", twice[0])));
        }
        Ok(TickTable { columns })
    }

    /// Whether the rows are QMT snapshots.
    pub fn is_qmt(&self) -> bool {
        matches!(self.columns, Columns::Qmt { .. })
    }

    /// The tick of one row, its cells in the header's order: an empty cell is a field left out.
    pub fn tick<'c, I>(&self, cells: I) -> Result<Tick, Error>
    where
        I: IntoIterator<Item = &'c str>,
        I::IntoIter: Clone,
    {
        let cells = cells.into_iter();
        match &self.columns {
            Columns::Plain(columns) => {
                let mut fields = TickFields::default();
                fill(&mut fields, columns, cells)?;
                fields.tick()
            }
            Columns::Qmt { symbol, columns } => {
                let symbol: Symbol = cells.clone().nth(*symbol).unwrap_or_default().trim().parse()?;
                let mut fields = QmtFields::default();
                fill(&mut fields, columns, cells).and_then(|()| fields.tick(symbol)).map_err(|e| of_symbol(symbol, e))
            }
        }
    }
}

fn column<F>(name: &str, setter: fn(&str) -> Option<Setter<F>>) -> Option<Column<F>> {
    setter(name).map(|set| Column { set, flag: name == "cumulative" })
}

/// Stores each cell whose column a tick reads; the first bad one is the row's error.
fn fill<'c, F>(
    fields: &mut F,
    columns: &[Option<Column<F>>],
    cells: impl IntoIterator<Item = &'c str>,
) -> Result<(), Error> {
    let mut first_error = None;
    for (column, cell) in columns.iter().zip(cells) {
        let Some(column) = column else { continue };
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let value = if column.flag { Value::Bool(is_true(cell)) } else { Value::Str(Cow::Borrowed(cell)) };
        if let Err(e) = (column.set)(fields, value) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// How a table cell says `cumulative`: `true`, `True`, `TRUE` or `1`; anything else is false.
pub fn is_true(cell: &str) -> bool {
    matches!(cell, "true" | "True" | "TRUE" | "1")
}

fn header_error(detail: String) -> Error {
    Error::InvalidTick { reason: super::DeadReason::BadHeader, detail }
}

#[cfg(test)]
mod tests {
    use crate::{amount, price};

    use super::*;
    use crate::tick::{parse_qmt_payload, parse_tick_object, TickKind};

    #[test]
    fn a_plain_row_reads_as_its_tick_object_would() {
        let table =
            TickTable::new(["time", "symbol", "price", "volume", "amount", "cumulative", "high", "note"]).unwrap();
        assert!(!table.is_qmt());
        let row =
            table.tick(["2023-02-01 09:30:03", "600519.SH", "1854.98", "300", "556494", "1", "1855", "x"]).unwrap();
        let object = parse_tick_object(
            r#"{"symbol":"600519.SH","time":"2023-02-01 09:30:03","price":"1854.98","volume":"300","amount":"556494","cumulative":true,"high":"1855"}"#,
        )
        .unwrap();
        assert_eq!(row, object);
        assert_eq!(row.kind, TickKind::Cumulative { day_high: Some(price!(1855)), day_low: None, day_trades: None });
    }

    #[test]
    fn an_empty_cell_is_a_null_and_a_trade_without_amount_is_priced() {
        let table = TickTable::new(["symbol", "time", "price", "volume", "amount", "cumulative"]).unwrap();
        let t = table.tick(["000001.SZ", "1763602203000", "10.01", "300", "", ""]).unwrap();
        assert_eq!((t.amount, t.kind), (amount!(3003), TickKind::Trade));
        let err = table.tick(["000001.SZ", "1763602203000", "", "300", "", ""]).unwrap_err();
        assert_eq!(err.reason(), "missing_field");
    }

    #[test]
    fn a_qmt_row_reads_as_its_snapshot_dict_would() {
        let table =
            TickTable::new(["symbol", "time", "lastPrice", "high", "low", "volume", "amount", "bidVol1"]).unwrap();
        assert!(table.is_qmt());
        let row =
            table.tick(["600519.SH", "1763602203000", "1650.5", "1651", "1647.5", "1203", "198612345.5", "3"]).unwrap();
        let dict = r#"{"600519.SH":{"time":1763602203000,"lastPrice":1650.5,"high":1651,"low":1647.5,"volume":1203,"amount":198612345.5}}"#;
        assert_eq!(Ok(row), parse_qmt_payload(dict).unwrap().remove(0).map_err(|e| e.error));
        let bad = table.tick(["600519.SH", "1763602203000", "0", "", "", "5", "10", ""]).unwrap_err();
        assert_eq!(bad.reason(), "bad_price");
        assert!(bad.to_string().contains("600519.SH"), "{bad}");
        assert_eq!(
            table.tick(["6005.SH", "1763602203000", "1", "", "", "5", "10", ""]).unwrap_err().reason(),
            "bad_symbol"
        );
    }

    #[test]
    fn a_header_without_a_needed_column_or_with_one_twice_is_refused() {
        for header in [
            &["symbol", "time", "price"][..],
            &["symbol", "time", "lastPrice", "volume"],
            &["symbol", "time", "price", "volume", "price"],
        ] {
            let err = TickTable::new(header.iter().copied()).err().expect("refused");
            assert_eq!(err.reason(), "bad_header", "{header:?}");
        }
    }
}
