//! The ClickHouse side every service shares: a client built from `[clickhouse]`, one INSERT of rows, `BarRow`, the RowBinary shape of one row of `tickbar.bars`, and
//! `FactorRow`, one row of `tickbar.adj_factors`.

use std::time::Duration;

use crate::keys::{BARS_TABLE, LIVE_BARS_TABLE};
use crate::settings::ClickHouseSettings;
use common::adjust::{FactorItem, FACTOR_DECIMALS};
use common::instrument::Instrument;
use common::money::{Amount, Price};
use common::number::{from_scaled, to_scaled};
use common::{Bar, Frame, Ohlcv, Period};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The decimals of the price and amount columns (`Decimal(18, 4)`, `Decimal(22, 4)`).
pub const SCALE: u32 = common::money::SCALE;
/// The largest magnitude, in units of `10^-SCALE`, of a `Decimal(18, 4)` and a `Decimal(22, 4)`.
const PRICE_LIMIT: i128 = 10i128.pow(18);
const AMOUNT_LIMIT: i128 = 10i128.pow(22);

/// A client of `[clickhouse]`, without the schema validation ClickHouse 18.16 cannot serve:
/// `http://` in clear, `https://` trusting `[clickhouse.tls]`'s CA (else the system's roots) and
/// presenting its client certificate. A TLS file that cannot be read or parsed is an error.
pub fn client(settings: &ClickHouseSettings) -> Result<clickhouse::Client, crate::Error> {
    let pem = crate::tls::Pem::read("clickhouse", &settings.tls)?;
    let client =
        if pem.is_empty() { clickhouse::Client::default() } else { https_client(pem.client_config("clickhouse")?) };
    Ok(client
        .with_url(&settings.url)
        .with_user(&settings.user)
        .with_password(&settings.password)
        .with_validation(false))
}

/// A client over HTTP(S) with `tls`, pooled and kept alive as the crate's own default is.
fn https_client(tls: rustls::ClientConfig) -> clickhouse::Client {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_keepalive(Some(Duration::from_secs(60)));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(2))
        .build(https);
    clickhouse::Client::with_http_client(http)
}

/// Writes `rows` into `table` (of the client's database) in one INSERT that lands whole or fails,
/// each phase bounded by `timeout`. Into a Distributed table (`sql/cluster/`) the INSERT returns
/// only once every shard holds its rows (`insert_distributed_sync`), as it does on a single node.
pub async fn insert<T>(
    client: &clickhouse::Client,
    table: &str,
    rows: &[T],
    timeout: Duration,
) -> clickhouse::error::Result<()>
where
    T: clickhouse::RowWrite + for<'a> clickhouse::Row<Value<'a> = T>,
{
    let client = client.clone().with_setting("insert_distributed_sync", "1");
    let mut insert = client.insert::<T>(table).await?.with_timeouts(Some(timeout), Some(timeout));
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// The table's name for `client.with_database(database).insert(..)`.
pub const TABLE: &str = BARS_TABLE;

/// Writes bars tickbar built live (`rows` of the client's database, each of a
/// [`common::Source::live_version`]): into `live_bars`, kept for the reconciliation, then into
/// `bars`, where a vendor row of the same frame keeps the upper hand. Either INSERT may fail; the
/// call then writes nothing more, and a retry writes the same rows again (one row per frame after
/// `FINAL`).
pub async fn insert_live(
    client: &clickhouse::Client,
    rows: &[BarRow],
    timeout: Duration,
) -> clickhouse::error::Result<()> {
    debug_assert!(rows.iter().all(|r| common::Source::of_version(r.version) == common::Source::Live));
    insert(client, LIVE_BARS_TABLE, rows, timeout).await?;
    insert(client, TABLE, rows, timeout).await
}

/// One row of `tickbar.bars`: prices and amount as fixed-point units, the frame as epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct BarRow {
    pub symbol: String,
    pub period: u16,
    pub frame: u32,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub vol: u64,
    pub amount: i128,
    /// The trades in the bar, where known (NULL in rows written before migration 5).
    pub trades: Option<u64>,
    /// When the bar was taken from its queue (µs), or written as a live bar (s): the highest version
    /// of a (symbol, period, frame) is kept; it says the row's [`common::Source`].
    pub version: u64,
}

/// Why a bar does not fit the table's columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} does not fit the bars table")]
pub struct DoesNotFit(pub String);

impl BarRow {
    /// The row of `bar`, or why its numbers do not fit the columns.
    pub fn new(bar: &Bar, period: Period, version: u64) -> Result<BarRow, DoesNotFit> {
        let price = |what: &str, p: Price| -> Result<i64, DoesNotFit> {
            fits(p.units().into(), PRICE_LIMIT).then_some(p.units()).ok_or_else(|| DoesNotFit(format!("{what} {p}")))
        };
        let frame = u32::try_from(bar.frame.epoch_seconds()).map_err(|_| DoesNotFit(format!("frame {}", bar.frame)))?;
        Ok(BarRow {
            symbol: bar.symbol.to_string(),
            period: period.minutes(),
            frame,
            open: price("open", bar.open)?,
            high: price("high", bar.high)?,
            low: price("low", bar.low)?,
            close: price("close", bar.close)?,
            vol: bar.vol,
            amount: fits(bar.amount.units(), AMOUNT_LIMIT)
                .then_some(bar.amount.units())
                .ok_or_else(|| DoesNotFit(format!("amount {}", bar.amount)))?,
            trades: bar.trades.map(u64::from),
            version,
        })
    }

    /// The bar this row holds (its symbol was valid when written).
    pub fn bar(&self) -> Result<Bar, common::Error> {
        let price = Price::from_units;
        let v = Ohlcv {
            open: price(self.open),
            high: price(self.high),
            low: price(self.low),
            close: price(self.close),
            vol: self.vol,
            amount: Amount::from_units(self.amount),
            trades: self.trades.and_then(|n| u32::try_from(n).ok()),
        };
        Ok(Bar::new(self.symbol.parse()?, Frame::from_epoch_seconds(self.frame.into()), &v))
    }

    /// Whether `other` holds the same bar, whatever the versions.
    pub fn same_bar(&self, other: &BarRow) -> bool {
        BarRow { version: other.version, ..self.clone() } == *other
    }
}

/// One row of `tickbar.instruments`: dates as days since 1970.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct InstrumentRow {
    pub symbol: String,
    pub name: String,
    pub board: String,
    pub list_date: u16,
    pub delist_date: Option<u16>,
    pub st: u8,
    pub version: u64,
}

/// Days since 1970-01-01, as a ClickHouse `Date` holds them.
fn date_days(day: chrono::NaiveDate) -> Result<u16, DoesNotFit> {
    let days = day.signed_duration_since(chrono::NaiveDate::default()).num_days();
    u16::try_from(days).map_err(|_| DoesNotFit(format!("date {day}")))
}

fn date_of_days(days: u16) -> chrono::NaiveDate {
    chrono::NaiveDate::default() + chrono::Days::new(days.into())
}

impl InstrumentRow {
    pub fn new(i: &Instrument, version: u64) -> Result<InstrumentRow, DoesNotFit> {
        Ok(InstrumentRow {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            board: i.board.as_str().to_owned(),
            list_date: date_days(i.list_date)?,
            delist_date: i.delist_date.map(date_days).transpose()?,
            st: u8::from(i.st),
            version,
        })
    }

    /// The instrument this row holds (its symbol was valid when written).
    pub fn instrument(&self) -> Result<Instrument, common::Error> {
        let (listed, delisted) = (date_of_days(self.list_date), self.delist_date.map(date_of_days));
        Ok(Instrument { st: self.st != 0, ..Instrument::new(self.symbol.parse()?, &self.name, listed, delisted) })
    }
}

/// One row of `tickbar.adj_factors`: the factor in units of 10^-8, the ex-date as days since 1970.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct FactorRow {
    pub symbol: String,
    pub ex_date: u16,
    pub factor: i64,
    pub version: u64,
}

impl FactorRow {
    /// The row of a checked `item`.
    pub fn new(item: &FactorItem, version: u64) -> Result<FactorRow, DoesNotFit> {
        let ex_date = date_days(item.ex_date).map_err(|_| DoesNotFit(format!("ex_date {}", item.ex_date)))?;
        let factor = to_scaled(item.factor, FACTOR_DECIMALS)
            .ok()
            .and_then(|u| i64::try_from(u).ok())
            .ok_or_else(|| DoesNotFit(format!("factor {}", item.factor)))?;
        Ok(FactorRow { symbol: item.symbol.to_string(), ex_date, factor, version })
    }

    /// The ex-date and factor this row holds.
    pub fn point(&self) -> (chrono::NaiveDate, Decimal) {
        (date_of_days(self.ex_date), from_scaled(self.factor.into(), FACTOR_DECIMALS))
    }
}

/// Whether `units` of `10^-SCALE` stay below `limit` in magnitude.
fn fits(units: i128, limit: i128) -> bool {
    units.abs() < limit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(amount: &str) -> Bar {
        serde_json::from_str(&format!(
            r#"{{"symbol":"600519.SH","frame":"2026-11-19 09:31:00","open":1650.5,"high":1652.3,"low":1649.9,"close":1651,"vol":120300,"amount":{amount}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_row_holds_the_bar_exactly() {
        let b = bar("198612345.5");
        let row = BarRow::new(&b, Period::M1, 7).unwrap();
        assert_eq!((row.open, row.amount, row.version), (16_505_000, 1_986_123_455_000, 7));
        assert_eq!(row.bar().unwrap(), b);
        assert!(row.same_bar(&BarRow { version: 9, ..row.clone() }));
        assert!(!row.same_bar(&BarRow { vol: 1, ..row.clone() }));
    }

    #[test]
    fn a_factor_row_holds_the_factor_and_the_ex_date_exactly() {
        let item: FactorItem =
            serde_json::from_str(r#"{"symbol":"600000.SH","ex_date":"2017-05-25","factor":9.385732}"#).unwrap();
        let row = FactorRow::new(&item, 3).unwrap();
        assert_eq!((row.ex_date, row.factor), (17_311, 938_573_200));
        assert_eq!(row.point(), (item.ex_date, item.factor));
    }

    #[test]
    fn numbers_the_columns_cannot_hold_are_refused_by_name() {
        assert_eq!(
            BarRow::new(&bar("-1000000000000000000"), Period::M1, 1).unwrap_err().0,
            "amount -1000000000000000000"
        );
        assert!(BarRow::new(&bar("1000000000000000000"), Period::M1, 1).is_err());
        let mut huge = bar("1");
        huge.high = "100000000000000".parse().unwrap();
        assert_eq!(BarRow::new(&huge, Period::M1, 1).unwrap_err().0, "high 100000000000000");
    }
}
