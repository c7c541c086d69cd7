//! The JSON answers of `/api/v1/bars`: one symbol's (the contract's shape), or keyed by symbol for
//! `symbols=`; and the file name of its downloads ([`crate::download`] writes those). JSON is
//! written by hand so that bars stored in Redis pass through untouched.

use std::collections::BTreeMap;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use common::resample::Resolution;
use common::{Frame, Symbol};
use serde::Serialize;
use utoipa::openapi::schema::Schema;
use utoipa::ToSchema;

use crate::merge::Series;
use crate::params::{BarsQuery, Span};
use crate::served::{Served, Sources};

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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// Symbols asked for that no store has ever held a bar of: most likely no listing (a typo, a
    /// code that never traded here). Present only when there are some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// The header of a bars answer (JSON or a file) naming [`SpanHead::unknown`], comma-separated.
pub const UNKNOWN_HEADER: &str = "tickbar-unknown";

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

/// The JSON response to `q` with its series (one per symbol, in `q.symbols` order), naming the
/// `unknown` symbols in a field and a header.
pub fn render(q: &BarsQuery, series: Vec<Series>, unknown: Vec<String>) -> Response {
    let header = unknown.join(",");
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
        let head = SpanHead { period: q.resolution, start, end, count, sources, unknown };
        BarsAnswer::Keyed(KeyedBarsResponse { head, symbols })
    } else {
        let s = series.into_iter().next().unwrap_or_default();
        let span = SpanHead { period: q.resolution, start, end, count: s.bars.len(), sources: s.sources, unknown };
        let head = BarsHead { symbol: q.symbols[0], span };
        BarsAnswer::One(BarsResponse { head, bars: s.bars })
    };
    let mut response = ([(header::CONTENT_TYPE, "application/json")], answer.to_json()).into_response();
    name_unknown(&mut response, &header);
    response
}

/// Adds the [`UNKNOWN_HEADER`] of `unknown` (comma-separated symbols) to `response`, when any.
pub fn name_unknown(response: &mut Response, unknown: &str) {
    if !unknown.is_empty() {
        let value = header::HeaderValue::from_str(unknown).expect("symbols are header-safe");
        response.headers_mut().insert(UNKNOWN_HEADER, value);
    }
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

/// A bar length in answers: minutes as a number, or `1d`, `1w`, `1M`.
fn period_schema() -> Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let minutes = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
    let named = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["1d", "1w", "1M"]));
    Schema::OneOf(OneOfBuilder::new().item(minutes).item(named).build())
}

/// The download name of `q`'s answer, without extension: `600519.SH_5m_2026-11-18_2026-11-20`,
/// `bars_1d_last240_2026-11-20`.
pub fn file_name(q: &BarsQuery) -> String {
    let who = if q.keyed { "bars".to_owned() } else { q.symbols[0].to_string() };
    let length = match q.resolution {
        Resolution::Minutes(m) => format!("{m}m"),
        other => other.to_string(),
    };
    match q.span {
        Span::Between { start, end } => format!("{who}_{length}_{}_{}", start.date(), end.date()),
        Span::Last { count, end } => format!("{who}_{length}_last{count}_{}", end.date()),
    }
}
