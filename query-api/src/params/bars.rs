//! `GET /api/v1/bars`'s parameters: one symbol or several, a range or the last `count` bars, and
//! the limits a query is held to.

use common::adjust::Adjust;
use common::resample::Resolution;
use common::{Frame, Period, Symbol};
use serde::Deserialize;
use utoipa::IntoParams;

use super::*;
use crate::error::{AppError, Result};

/// `GET /api/v1/bars`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BarsParams {
    /// One security, e.g. `600519.SH` (`.SH`, `.SZ` or `.BJ`; lower case accepted). Exactly one
    /// of `symbol` and `symbols` is required.
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)$", example = "600519.SH")]
    pub symbol: Option<String>,
    /// Several securities, comma-separated (up to `api.max_symbols`, 1,000 by default): the answer
    /// is keyed by symbol (JSON) or one long table (CSV).
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)(,\d{6}\.(SH|SZ|BJ|sh|sz|bj))*$", example = "600519.SH,000001.SZ")]
    pub symbols: Option<String>,
    /// Bar length: minutes that divide 120 (1, 2, 3, 5, 10, 15, 20, 30, 40, 60, 120, ...; `10m` and
    /// `10min` too), or `1d`, `1w`, `1M` (default 1). 1, 5, 15, 30 and 60 are stored; the others
    /// are built from the longest stored period that divides them.
    #[param(value_type = Option<String>, pattern = r"^(\d{1,3}(m|min)?|1[dDwWM])$", example = "5")]
    pub period: Option<String>,
    /// First frame, inclusive: `2026-11-19T09:30:00`, `2026-11-19 09:30`, an offset such as `+08:00`
    /// (none means Asia/Shanghai), or a date alone for the start of that day. 24-hour times only.
    /// Required unless `count` is given (the two exclude each other).
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-19T09:30:00"
    )]
    pub start: Option<String>,
    /// Last frame, inclusive; same forms as `start`; a date alone means the end of that day.
    /// Required with `start`; with `count` it defaults to now.
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-20"
    )]
    pub end: Option<String>,
    /// The last `count` bars of each symbol at or before `end` (1 to 100,000), walking back over
    /// trading days through Redis, then ClickHouse.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100000, example = 240)]
    pub count: Option<String>,
    /// `json` (default), `csv` (with a header line), `arrow` (an Arrow IPC stream) or `parquet`;
    /// the last three are one long table sent as it is read.
    #[param(pattern = "^(json|csv|arrow|parquet)$", example = "json")]
    pub format: Option<String>,
    /// `true` adds the bar still forming now, marked `"forming": true` (default `false`).
    #[param(value_type = Option<bool>, example = false)]
    pub include_forming: Option<String>,
    /// Prices `none` (default, as traded), `forward` (`qfq`, 前复权) or `backward` (`hfq`, 后复权),
    /// by the factors in ClickHouse's `adj_factors`; rounded to the cent, volume and amount as traded.
    #[param(pattern = "^(none|forward|backward|qfq|hfq)$", example = "forward")]
    pub adjust: Option<String>,
    /// With `adjust=forward`: the date whose prices stay as traded (`YYYY-MM-DD`; default: the
    /// latest factor's).
    #[param(value_type = Option<String>, format = Date, example = "2026-11-20")]
    pub adjust_ref: Option<String>,
}

/// The most bars `count` may ask for per symbol.
pub const MAX_COUNT: u32 = 100_000;

/// Which bars of each symbol a query wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Every bar with a frame in `start..=end`.
    Between { start: Frame, end: Frame },
    /// The last `count` bars with a frame at or before `end`.
    Last { count: u32, end: Frame },
}

impl Span {
    pub fn end(self) -> Frame {
        match self {
            Span::Between { end, .. } | Span::Last { end, .. } => end,
        }
    }
}

/// A checked bars query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsQuery {
    /// In the order asked, each once.
    pub symbols: Vec<Symbol>,
    /// Asked with `symbols=`: the answer is keyed by symbol.
    pub keyed: bool,
    /// The bar length of the answer.
    pub resolution: Resolution,
    /// The stored period read: `resolution` itself, or the longest stored period dividing it.
    pub period: Period,
    pub span: Span,
    pub format: Format,
    pub include_forming: bool,
    /// The instant the query is answered at: which bars are still forming.
    pub now: Frame,
    pub adjust: Adjust,
}

impl BarsParams {
    /// The query these parameters ask for: at most `limits.max_symbols` symbols; a range may span
    /// at most `limits.max_range_days` days per minute of the period; `now` is the default end of a
    /// `count` query.
    pub fn check(self, limits: &Limits, now: Frame) -> Result<BarsQuery> {
        let (symbols, keyed) = one_or_many(self.symbol, self.symbols, limits.max_symbols)?;
        let resolution = resolution(self.period)?;
        let period = match resolution.stored().filter(|p| limits.periods.contains(p)) {
            Some(stored) => stored,
            None => resolution.base(&limits.periods).map_err(|e| AppError::bad("bad_period", e.to_string()))?,
        };
        let span = span(self.count, self.start, self.end, now)?;
        if let Span::Between { start, end } = span {
            check_range(start, end, period, limits.max_range_days)?;
        }
        let format = format(self.format)?;
        let include_forming = flag("include_forming", self.include_forming)?;
        let adjust = adjust(self.adjust, self.adjust_ref)?;
        Ok(BarsQuery { symbols, keyed, resolution, period, span, format, include_forming, now, adjust })
    }
}

/// What one request may ask for, and the periods the stores hold.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_range_days: u32,
    pub max_symbols: usize,
    pub periods: Vec<Period>,
    /// The most ticks one `/api/v1/ticks` answer may hold.
    pub max_ticks: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> BarsParams {
        serde_urlencoded::from_str(query).unwrap()
    }

    fn now() -> Frame {
        "2026-11-20 10:00:00".parse().unwrap()
    }

    fn check(query: &str) -> Result<BarsQuery> {
        params(query).check(
            &Limits { max_range_days: 366, max_symbols: 3, periods: Period::DEFAULTS.to_vec(), max_ticks: 10 },
            now(),
        )
    }

    fn range(q: &BarsQuery) -> (String, String) {
        match q.span {
            Span::Between { start, end } => (start.to_string(), end.to_string()),
            other => panic!("{other:?}"),
        }
    }

    fn code(query: &str) -> (&'static str, String) {
        match check(query).unwrap_err() {
            AppError::BadRequest { code, message } => (code, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_alone_cover_whole_days_and_times_take_every_contract_form() {
        let q =
            check("symbol=600519.sh&period=5&start=2026-11-19&end=2026-11-20&format=csv&include_forming=true").unwrap();
        assert_eq!((q.symbols[0].to_string(), q.keyed), ("600519.SH".into(), false));
        assert_eq!((q.period, q.format, q.include_forming), (Period::M5, Format::Csv, true));
        assert_eq!(range(&q), ("2026-11-19 00:00:00".into(), "2026-11-20 23:59:59".into()));
        for (start, expected) in [
            ("2026-11-19T09:30:00", "2026-11-19 09:30:00"),
            ("2026-11-19 09:30", "2026-11-19 09:30:00"),
            ("2026-11-19T01:30:00Z", "2026-11-19 09:30:00"),
            ("2026-11-19T09:30:00%2B08:00", "2026-11-19 09:30:00"),
            ("2026-11-19T10:30:00+09:00", "2026-11-19 09:30:00"),
            ("2026-11-19T09:30:00.5", "2026-11-19 09:30:01"),
        ] {
            let q = check(&format!("symbol=600519.SH&start={start}&end=2026-11-20")).unwrap();
            assert_eq!((range(&q).0, q.period, q.format), (expected.to_owned(), Period::M1, Format::Json));
        }
    }

    #[test]
    fn each_malformed_parameter_names_what_is_accepted() {
        let cases = [
            ("period=1&start=2026-11-19&end=2026-11-19", "missing_parameter", "`symbol` or `symbols` is required"),
            (
                "symbol=600519.SH&symbols=000001.SZ&count=5",
                "bad_parameter",
                "`symbol` and `symbols` exclude each other",
            ),
            ("symbols=600519.SH,000001.SZ,000002.SZ,000004.SZ&count=5", "too_many_symbols", "may ask for 3"),
            ("symbols=600519.SH,AAPL&count=5", "bad_symbol", "AAPL"),
            ("symbol=600519.SH&count=5&start=2026-11-19", "bad_parameter", "`count` and `start` exclude each other"),
            ("symbol=600519.SH&count=0", "bad_parameter", "from 1 to 100000"),
            ("symbol=600519.SH&count=ten", "bad_parameter", "from 1 to 100000"),
            ("symbol=600519.SH&end=2026-11-19", "missing_parameter", "`start` is required"),
            ("symbol=600519&start=2026-11-19&end=2026-11-19", "bad_symbol", ".SH, .SZ or .BJ"),
            ("symbol=600519.SH&period=7&start=2026-11-19&end=2026-11-19", "bad_period", "divides 120"),
            ("symbol=600519.SH&period=1y&start=2026-11-19&end=2026-11-19", "bad_period", "1d, 1w and 1M"),
            ("symbol=600519.SH&start=2026-11-19%209:30%20PM&end=2026-11-19", "bad_time", "AM/PM is not accepted"),
            ("symbol=600519.SH&start=2026-11-31&end=2026-12-01", "bad_time", "24-hour ISO-8601"),
            ("symbol=600519.SH&start=2026-11-20&end=2026-11-19", "bad_range", "is after end"),
            ("symbol=600519.SH&start=2024-01-01&end=2025-12-31", "range_too_long", "366 days of 1-minute bars"),
            (
                "symbol=600519.SH&start=2026-11-19&end=2026-11-19&format=xml",
                "bad_parameter",
                "json, csv, arrow and parquet",
            ),
            ("symbol=600519.SH&start=2026-11-19&end=2026-11-19&include_forming=yes", "bad_parameter", "true and false"),
            ("symbol=600519.SH&start=1969-12-31&end=2026-11-19", "bad_time", "between 1970 and 2105"),
        ];
        for (query, expected_code, says) in cases {
            let (code, message) = code(query);
            assert_eq!(code, expected_code, "{query}: {message}");
            assert!(message.contains(says), "{query}: {message}");
        }
        let (code, message) = code("symbol=600519.SH&start=1794965400000&end=2026-11-20");
        assert_eq!(code, "bad_time");
        assert!(!message.contains("epoch"), "no form is offered that is then refused: {message}");
    }

    #[test]
    fn symbols_are_listed_once_in_order_and_count_ends_now_unless_told() {
        let q = check("symbols=600519.SH,000001.sz,600519.SH&count=240").unwrap();
        let symbols: Vec<String> = q.symbols.iter().map(ToString::to_string).collect();
        assert_eq!((symbols, q.keyed), (vec!["600519.SH".to_owned(), "000001.SZ".to_owned()], true));
        assert_eq!(q.span, Span::Last { count: 240, end: now() });
        let q = check("symbol=600519.SH&count=5&end=2026-11-19").unwrap();
        assert_eq!(q.span, Span::Last { count: 5, end: "2026-11-19 23:59:59".parse().unwrap() });
    }

    #[test]
    fn longer_periods_may_span_proportionally_more_days() {
        assert!(check("symbol=600519.SH&period=5&start=2024-01-01&end=2025-12-31").is_ok());
        assert_eq!(code("symbol=600519.SH&period=5&start=2015-01-01&end=2025-12-31").0, "range_too_long");
    }
}
