//! The answers of `/api/v1/bars`: JSON for one symbol (the contract's shape), JSON keyed by symbol
//! for `symbols=`, and CSV (one long table with a `symbol` column) sent a chunk of rows at a time.
//! JSON is written by hand so that bars stored in Redis pass through untouched.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use common::resample::Resolution;
use common::{Bar, Frame, Symbol};
use futures_util::stream;
use serde::Serialize;
use utoipa::openapi::schema::Schema;
use utoipa::ToSchema;

use crate::merge::Series;
use crate::params::{BarsQuery, Format, Span};
use crate::served::{Served, Sources};

/// Rows per chunk of a CSV answer.
const CSV_CHUNK: usize = 1024;

/// The answer of `/api/v1/bars`: one symbol's, or several keyed by symbol.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum BarsAnswer {
    One(BarsResponse),
    Keyed(KeyedBarsResponse),
}

/// The answer for `symbol=`: [`BarsHead`] and the bars.
#[derive(Debug, ToSchema)]
pub struct BarsResponse {
    #[serde(flatten)]
    pub head: BarsHead,
    /// One bar per frame, oldest first.
    pub bars: Vec<Served>,
}

/// Everything of the answer for `symbol=` but its bars.
#[derive(Debug, Serialize, ToSchema)]
pub struct BarsHead {
    #[schema(value_type = String, example = "600519.SH")]
    pub symbol: Symbol,
    #[serde(flatten)]
    pub span: SpanHead,
}

/// What every bars answer says of its query and its bars in all.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct SpanHead {
    /// Minutes (a number), or `1d`, `1w`, `1M`.
    #[schema(schema_with = period_schema)]
    pub period: Resolution,
    /// The range's first frame as understood (ISO-8601, `+08:00`); with `count`, the earliest bar's.
    #[schema(value_type = String)]
    pub start: Frame,
    /// The range's last frame as understood.
    #[schema(value_type = String)]
    pub end: Frame,
    /// Bars in the answer (of all symbols).
    pub count: usize,
    pub sources: Sources,
}

/// The answer for `symbols=`: the query and, per symbol, its bars.
#[derive(Debug, ToSchema)]
pub struct KeyedBarsResponse {
    #[serde(flatten)]
    pub head: SpanHead,
    /// Every symbol asked for, with no bars when it has none.
    pub symbols: BTreeMap<String, SymbolBars>,
}

/// One symbol's part of a keyed answer.
#[derive(Debug, ToSchema)]
pub struct SymbolBars {
    pub count: usize,
    pub sources: Sources,
    /// One bar per frame, oldest first.
    pub bars: Vec<Served>,
}

/// The response to `q` with its series (one per symbol, in `q.symbols` order).
pub fn render(q: &BarsQuery, series: Vec<Series>) -> Response {
    if q.format == Format::Csv {
        return csv(q, series);
    }
    let (start, end) = bounds(q, &series);
    let answer = if q.keyed {
        let symbols = q
            .symbols
            .iter()
            .map(ToString::to_string)
            .zip(series)
            .map(|(symbol, s)| (symbol, SymbolBars { count: s.bars.len(), sources: s.sources, bars: s.bars }));
        let symbols: BTreeMap<String, SymbolBars> = symbols.collect();
        let sources = symbols.values().fold(Sources::default(), |all, s| all.plus(s.sources));
        let count = symbols.values().map(|s| s.count).sum();
        let head = SpanHead { period: q.resolution, start, end, count, sources };
        BarsAnswer::Keyed(KeyedBarsResponse { head, symbols })
    } else {
        let s = series.into_iter().next().unwrap_or_default();
        let span = SpanHead { period: q.resolution, start, end, count: s.bars.len(), sources: s.sources };
        let head = BarsHead { symbol: q.symbols[0], span };
        BarsAnswer::One(BarsResponse { head, bars: s.bars })
    };
    ([(header::CONTENT_TYPE, "application/json")], answer.to_json()).into_response()
}

/// The range the answer covers: the query's, or with `count` from the earliest bar served.
fn bounds(q: &BarsQuery, series: &[Series]) -> (Frame, Frame) {
    match q.span {
        Span::Between { start, end } => (start, end),
        Span::Last { end, .. } => {
            let first = series.iter().filter_map(|s| s.bars.first().map(Served::frame)).min();
            (first.unwrap_or(end), end)
        }
    }
}

impl BarsAnswer {
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.json_len());
        match self {
            BarsAnswer::One(one) => {
                open_object(&mut out, &one.head);
                write_bars(&mut out, &one.bars);
                out.push(b'}');
            }
            BarsAnswer::Keyed(keyed) => {
                open_object(&mut out, &keyed.head);
                out.extend_from_slice(br#","symbols":{"#);
                for (i, (symbol, part)) in keyed.symbols.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut out, symbol).expect("a symbol serializes");
                    out.push(b':');
                    let head = serde_json::json!({"count": part.count, "sources": part.sources});
                    open_object(&mut out, &head);
                    write_bars(&mut out, &part.bars);
                    out.push(b'}');
                }
                out.extend_from_slice(b"}}");
            }
        }
        out
    }
}

impl BarsAnswer {
    /// About the length of the answer: its bars and a head per symbol.
    fn json_len(&self) -> usize {
        let bars = |bars: &[Served]| bars.iter().map(|b| b.json_len() + 1).sum::<usize>();
        match self {
            BarsAnswer::One(one) => 256 + bars(&one.bars),
            BarsAnswer::Keyed(keyed) => 256 + keyed.symbols.values().map(|s| 128 + bars(&s.bars)).sum::<usize>(),
        }
    }
}

/// Writes `head` as an object left open for more members.
pub fn open_object(out: &mut Vec<u8>, head: &impl Serialize) {
    serde_json::to_writer(&mut *out, head).expect("the head serializes");
    out.pop();
}

/// Writes `,"bars":[...]`.
fn write_bars(out: &mut Vec<u8>, bars: &[Served]) {
    write_list(out, "bars", bars);
}

/// Writes `,"name":[...]` of bar objects.
pub fn write_list(out: &mut Vec<u8>, name: &str, bars: &[Served]) {
    out.extend_from_slice(format!(r#","{name}":["#).as_bytes());
    for (i, bar) in bars.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        bar.write_json(out);
    }
    out.push(b']');
}

/// The series as CSV with a header line, written and sent a chunk of rows at a time.
fn csv(q: &BarsQuery, series: Vec<Series>) -> Response {
    let (start, end) = bounds(q, &series);
    let who = if q.keyed { "bars".to_owned() } else { q.symbols[0].to_string() };
    let length = match q.resolution {
        Resolution::Minutes(m) => format!("{m}m"),
        other => other.to_string(),
    };
    let name = format!("{who}_{length}_{}_{}.csv", start.date(), end.date());
    csv_rows(series.into_iter().flat_map(|s| s.bars), q.include_forming, &name)
}

/// `rows` as a CSV download named `name`: a header line (with a `forming` column when `forming`),
/// then the rows, written and sent a chunk at a time.
pub fn csv_rows(rows: impl Iterator<Item = Served> + Send + 'static, forming: bool, name: &str) -> Response {
    let mut header = String::from("symbol,frame,open,high,low,close,vol,amount");
    header.push_str(if forming { ",forming\n" } else { "\n" });
    let mut rest = rows.peekable();
    let chunks = std::iter::from_fn(move || {
        rest.peek()?;
        let mut chunk = String::with_capacity(CSV_CHUNK * 96);
        for served in rest.by_ref().take(CSV_CHUNK) {
            let Ok(Bar { symbol, frame, open, high, low, close, vol, amount }) = served.bar() else {
                tracing::warn!(frame = %served.frame(), "an unreadable stored bar left out of a CSV answer");
                continue;
            };
            let [open, high, low, close, amount] = [open, high, low, close, amount].map(|d| d.normalize());
            let _ = write!(chunk, "{symbol},{},{open},{high},{low},{close},{vol},{amount}", frame.to_iso8601());
            chunk.push_str(match (forming, served.forming()) {
                (false, _) => "\n",
                (true, false) => ",false\n",
                (true, true) => ",true\n",
            });
        }
        Some(chunk)
    });
    let body = stream::iter(std::iter::once(header).chain(chunks).map(Ok::<_, Infallible>));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A bar length in answers: minutes as a number, or `1d`, `1w`, `1M`.
fn period_schema() -> Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let minutes = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
    let named = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["1d", "1w", "1M"]));
    Schema::OneOf(OneOfBuilder::new().item(minutes).item(named).build())
}
