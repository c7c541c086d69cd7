//! The bar query: a checked query, the plan of which store serves which days, both stores read
//! concurrently for every symbol at once (Redis in one pipeline, ClickHouse in one query, each only
//! for the days it serves), and each symbol's bars merged into one series; bars of a length the
//! stores do not hold are then built from the longest stored period that divides it.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use common::adjust::{Adjust, Factors};
use common::instrument::{Daily, Instrument};
use common::resample::{Built, Part, Resampler, Resolution};
use common::{Bar, Ohlcv, TradingCalendar};
use common::{Frame, Source, Symbol};
use futures_util::stream::{self, Stream, StreamExt};

use crate::app::App;
use crate::error::{AppError, Result};
use crate::merge::{merge, Series};
use crate::params::{BarsQuery, Span};
use crate::plan::{plan, whole_day};
use crate::served::{Served, Sources, Store};

/// The series of `q` in chunks of symbols small enough to hold (about `api.stream_chunk_bars` bars
/// each), in `q.symbols` order: what streamed answers read, so a long answer is never whole in
/// memory. Each chunk is one Redis pipeline and one ClickHouse query for its symbols.
pub fn chunks(app: Arc<App>, q: BarsQuery) -> impl Stream<Item = Result<Vec<Series>>> + Send + 'static {
    let per_chunk = (app.api.stream_chunk_bars / bars_per_symbol(&q).max(1)).max(1) as usize;
    let groups: Vec<Vec<Symbol>> = q.symbols.chunks(per_chunk).map(<[Symbol]>::to_vec).collect();
    stream::iter(groups).then(move |symbols| {
        let (app, q) = (app.clone(), BarsQuery { symbols, ..q.clone() });
        async move { series(&app, &q).await }
    })
}

/// At most how many stored bars one symbol of `q` reads.
fn bars_per_symbol(q: &BarsQuery) -> u64 {
    let per_day = 270 / u64::from(q.period.minutes()) + 1;
    match q.span {
        Span::Between { start, end } => ((end.epoch_seconds() - start.epoch_seconds()) / 86_400 + 1) as u64 * per_day,
        Span::Last { count, .. } => u64::from(count) * u64::from(q.resolution.span_of(q.period)),
    }
}

/// The most stored bars one symbol's `count` query of a built resolution reads.
const MAX_BASE_COUNT: u32 = 1_000_000;

/// One merged series per symbol of `q`, in its order.
pub async fn series(app: &App, q: &BarsQuery) -> Result<Vec<Series>> {
    if q.resolution.stored() == Some(q.period) {
        stored(app, q).await
    } else {
        built(app, q).await
    }
}

/// Bars of a resolution the stores do not hold: the stored bars of whole windows around the span,
/// folded, and then the span's own. Daily bars read some weeks before the span too, for the
/// previous close of its first day, and the instruments of the symbols, for their limits.
async fn built(app: &App, q: &BarsQuery) -> Result<Vec<Series>> {
    let daily = q.resolution == Resolution::Day;
    let span = match q.span {
        Span::Between { start, end } => {
            let (first, last) = q.resolution.days_covering(start.date(), end.date());
            let first = if daily { first - chrono::Days::new(PRE_CLOSE_LOOKBACK_DAYS) } else { first };
            Span::Between { start: whole_day(first).0, end: whole_day(last).1 }
        }
        Span::Last { count, end } => {
            let per_bar = q.resolution.span_of(q.period);
            Span::Last { count: (count.saturating_add(1)).saturating_mul(per_bar).min(MAX_BASE_COUNT), end }
        }
    };
    let widened = BarsQuery { span, ..q.clone() };
    let (parts, instruments) = tokio::join!(stored(app, &widened), async {
        if daily {
            app.history.instruments(Some(&q.symbols)).await
        } else {
            Ok(Vec::new())
        }
    });
    let (parts, instruments) = (parts?, instruments?);
    let (calendar, sessions) = app.market.now();
    let resampler = Resampler::new(&sessions, &calendar, q.period, q.resolution);
    let frontier = parts.iter().filter_map(|s| s.bars.last().map(|b| b.frame().date())).max();
    let data_through = match daily {
        true => {
            let last_day = match q.span {
                Span::Between { end, .. } | Span::Last { end, .. } => end.date(),
            };
            let held = app.same_day.days_held().await?.into_iter().filter(|d| *d <= last_day).max();
            // A day still trading is not yet known to have had no trade: the day before it is.
            let trading = |d: &NaiveDate| *d >= q.now.date() && q.now.time() < DAY_CLOSE;
            match frontier.max(held) {
                Some(day) if trading(&day) => calendar.prev(day).ok(),
                through => through,
            }
        }
        false => None,
    };
    (parts.into_iter().zip(&q.symbols))
        .map(|(s, symbol)| {
            let listed = instruments.iter().find(|i| i.symbol == *symbol);
            let context = daily.then_some(DailyContext { calendar: &calendar, listed, data_through });
            fold(&resampler, s, q, frontier, context)
        })
        .collect()
}

/// What daily bars need beside their stored bars: the calendar, the symbol's instrument, and the
/// latest day the stores have data for (the answer's, or a day Redis holds).
struct DailyContext<'a> {
    calendar: &'a TradingCalendar,
    listed: Option<&'a Instrument>,
    data_through: Option<NaiveDate>,
}

/// When the continuous session ends: from then on a day without a trade was paused.
const DAY_CLOSE: chrono::NaiveTime = match chrono::NaiveTime::from_hms_opt(15, 0, 0) {
    Some(close) => close,
    None => panic!("15:00 is a time"),
};

/// Calendar days after a listing its trading days are counted over: more than the five trading
/// days a registration-system listing goes without a limit, whatever the holidays.
const LISTING_DAYS_COUNTED: u64 = 31;

/// Weeks of bars before a daily span read for the previous close of its first day.
const PRE_CLOSE_LOOKBACK_DAYS: u64 = 31;

/// Daily bars with a paused bar on each trading day without one (a suspension) after the
/// symbol's first: between two of its bars, and after its last up to `through` (the latest day
/// the stores have data for, and not past a delisting). Flat at the close before, no volume.
fn with_paused_days(built: Vec<Built>, calendar: &TradingCalendar, through: Option<NaiveDate>) -> Vec<Built> {
    let mut out: Vec<Built> = Vec::with_capacity(built.len());
    let paused_between = |out: &mut Vec<Built>, from: NaiveDate, to: NaiveDate, inclusive: bool| {
        let Some(before) = out.last().cloned() else { return };
        let days = calendar.trading_days(from, to).unwrap_or_default();
        for day in days.into_iter().filter(|d| *d > from && (*d < to || inclusive && *d == to)) {
            let frame = whole_day(day).0;
            let flat = Bar::new(before.bar.symbol, frame, &Ohlcv::flat(before.bar.close));
            out.push(Built { bar: flat, opens: frame, forming: false, last: frame, ..before.clone() });
        }
    };
    for b in built {
        if let Some(from) = out.last().map(|before| before.bar.frame.date()) {
            paused_between(&mut out, from, b.bar.frame.date(), false);
        }
        out.push(b);
    }
    if let (Some(from), Some(through)) = (out.last().map(|b| b.bar.frame.date()), through) {
        paused_between(&mut out, from, through, true);
    }
    out
}

/// Each daily bar's own fields, in order: the previous bar's close (the trading day before, or
/// the last before a suspension), `paused`, and with the symbol's `listed` instrument its limits.
fn dailies(bars: &[Built], calendar: &TradingCalendar, listed: Option<&Instrument>) -> Vec<Daily> {
    let mut pre_close = None;
    bars.iter()
        .map(|b| {
            let day = b.bar.frame.date();
            // Only the first days of a listing trade without a limit: counting stops a month in.
            let counted_to = |i: &Instrument| day.min(i.list_date + chrono::Days::new(LISTING_DAYS_COUNTED));
            let nth =
                |i: &Instrument| calendar.trading_days(i.list_date, counted_to(i)).map_or(usize::MAX, |d| d.len());
            let daily = Daily::of(day, b.bar.vol, pre_close, listed.map(|i| (i, nth(i))));
            pre_close = Some(b.bar.close);
            daily
        })
        .collect()
}

/// A week or month bar is labelled with its window's last trading day; when the data of the answer
/// ends before that day (`frontier`, the latest day any of its series has a bar), the bar is
/// labelled with the day of its own last bar instead, never with a day that has no data yet.
fn labelled(mut b: Built, resolution: Resolution, frontier: Option<NaiveDate>) -> Built {
    let calendar_window = matches!(resolution, Resolution::Week | Resolution::Month);
    if calendar_window && frontier.is_some_and(|f| b.bar.frame.date() > f) {
        b.bar.frame = whole_day(b.last.date()).0;
    }
    b
}

/// One symbol's built series: the bars in the span (a forming one only when asked, if its interval
/// reaches into the span), each from Redis if any of its parts was.
fn fold(
    resampler: &Resampler,
    series: Series,
    q: &BarsQuery,
    frontier: Option<NaiveDate>,
    daily: Option<DailyContext>,
) -> Result<Series> {
    let parts = series.bars.into_iter().map(|s| {
        let live = s.source == Source::Live;
        Ok(Part { bar: readable(&s)?, forming: s.forming(), same_day: s.store == Store::Redis, live })
    });
    let parts = parts.collect::<Result<Vec<Part>>>()?;
    let wanted = |b: &Built| match q.span {
        _ if b.forming && !q.include_forming => false,
        Span::Between { start, end } => b.bar.frame >= start && (b.bar.frame <= end || b.forming && b.opens <= end),
        Span::Last { end, .. } => b.bar.frame <= end || b.forming,
    };
    let mut built: Vec<Built> =
        resampler.resample(parts, q.now).into_iter().map(|b| labelled(b, q.resolution, frontier)).collect();
    let dailies = match daily {
        Some(DailyContext { calendar, listed, data_through }) => {
            let delisted = listed.and_then(|i| i.delist_date).and_then(|d| d.pred_opt());
            let through = data_through.map(|f| delisted.map_or(f, |d| d.min(f)));
            built = with_paused_days(built, calendar, through);
            dailies(&built, calendar, listed).into_iter().map(Some).collect()
        }
        None => vec![None; built.len()],
    };
    let bars: Vec<Served> = (built.into_iter().zip(dailies))
        .filter(|(b, _)| wanted(b))
        .map(|(b, daily)| {
            let store = if b.same_day { Store::Redis } else { Store::ClickHouse };
            let served = Served::built(b.bar, b.forming, store, if b.live { Source::Live } else { Source::Vendor });
            Served { daily, ..served }
        })
        .collect();
    let series = Series { sources: Sources::of(&bars), bars };
    Ok(match q.span {
        Span::Between { .. } => series,
        Span::Last { count, .. } => keep_last(series, count as usize),
    })
}

/// One merged series per symbol of `q` from the stored bars of `q.period`, prices adjusted as asked.
async fn stored(app: &App, q: &BarsQuery) -> Result<Vec<Series>> {
    let (series, factors) = tokio::join!(merged(app, q), async {
        match q.adjust {
            Adjust::None => Ok(Vec::new()),
            _ => app.history.factors(&q.symbols).await,
        }
    });
    let series = series?;
    if q.adjust == Adjust::None {
        return Ok(series);
    }
    series.into_iter().zip(factors?).map(|(s, f)| adjusted(s, &f, q.adjust)).collect()
}

/// `series` with each bar's prices adjusted by `factors`.
fn adjusted(series: Series, factors: &Factors, adjust: Adjust) -> Result<Series> {
    let bars = series.bars.into_iter().map(|s| {
        let bar = readable(&s)?;
        Ok(Served::built(factors.apply(&bar, adjust), s.forming(), s.store, s.source))
    });
    Ok(Series { bars: bars.collect::<Result<Vec<Served>>>()?, sources: series.sources })
}

/// Of `symbols`, those no store holds a bar of, ever: most likely no listing (a typo, a code that
/// never traded here). Nothing is asked when `symbols` is empty.
pub async fn unknown(app: &App, symbols: &[Symbol]) -> Result<Vec<String>> {
    if symbols.is_empty() {
        return Ok(Vec::new());
    }
    let (stored, held) = tokio::try_join!(app.history.stored_symbols(symbols), app.same_day.held_symbols(symbols))?;
    let unknown = symbols.iter().zip(held).filter(|(s, held)| !held && !stored.contains(&s.to_string()));
    Ok(unknown.map(|(s, _)| s.to_string()).collect())
}

/// A served bar's fields, or the store it came from answering with an unreadable bar.
fn readable(s: &Served) -> Result<common::Bar> {
    s.bar().map_err(|e| AppError::Unavailable { store: s.store, detail: format!("an unreadable bar: {e}") })
}

/// One merged series per symbol of `q` from the stored bars of `q.period`, as stored.
async fn merged(app: &App, q: &BarsQuery) -> Result<Vec<Series>> {
    let held = app.same_day.days_held().await?;
    let (redis, history) = match q.span {
        Span::Between { start, end } => between(app, q, &held, (start, end)).await?,
        Span::Last { count, end } => last(app, q, &held, (count, end)).await?,
    };
    let merged = redis.into_iter().zip(history).map(|(r, h)| merge(r, h));
    Ok(match q.span {
        Span::Between { .. } => merged.collect(),
        Span::Last { count, .. } => merged.map(|s| keep_last(s, count as usize)).collect(),
    })
}

type PerSymbol = Vec<Vec<Served>>;

/// Every bar in `start..=end`: the days Redis holds from Redis, the rest from ClickHouse.
async fn between(
    app: &App,
    q: &BarsQuery,
    held: &BTreeSet<NaiveDate>,
    range: (Frame, Frame),
) -> Result<(PerSymbol, PerSymbol)> {
    let plan = plan(range.0, range.1, held, &app.calendar());
    let none = || vec![Vec::new(); q.symbols.len()];
    let redis = async {
        if plan.redis_days.is_empty() {
            return Ok(none());
        }
        app.same_day.bars(&plan.redis_days, &q.symbols, q.period, range, q.include_forming).await
    };
    let history = async {
        match plan.clickhouse {
            Some(range) => match &app.history_cache {
                Some(cache) => cache.bars(&app.history, &app.same_day, &q.symbols, q.period, range).await,
                None => app.history.bars(&q.symbols, q.period, range).await,
            },
            None => Ok(none()),
        }
    };
    let (redis, history) = tokio::join!(redis, history);
    Ok((redis?, history?))
}

/// The last `count` bars at or before `end`: every day Redis holds up to `end`, then, for the
/// symbols those days leave short of `count`, ClickHouse's last `count` outside those days; so the
/// newest `count` of both are exact, and a query Redis can answer never waits on ClickHouse.
async fn last(
    app: &App,
    q: &BarsQuery,
    held: &BTreeSet<NaiveDate>,
    (count, end): (u32, Frame),
) -> Result<(PerSymbol, PerSymbol)> {
    let days: Vec<NaiveDate> = held.range(..=end.date()).copied().collect();
    let redis = if days.is_empty() {
        vec![Vec::new(); q.symbols.len()]
    } else {
        app.same_day.bars(&days, &q.symbols, q.period, (Frame::from_epoch_seconds(0), end), q.include_forming).await?
    };
    let short: Vec<usize> = (0..q.symbols.len()).filter(|i| redis[*i].len() < count as usize).collect();
    let mut history = vec![Vec::new(); q.symbols.len()];
    if !short.is_empty() {
        let symbols: Vec<Symbol> = short.iter().map(|i| q.symbols[*i]).collect();
        let whole_days: Vec<(Frame, Frame)> = days.iter().map(|d| whole_day(*d)).collect();
        let found = app.history.last(&symbols, q.period, (count, end), &whole_days).await?;
        for (i, bars) in short.into_iter().zip(found) {
            history[i] = bars;
        }
    }
    Ok((redis, history))
}

/// The newest `count` bars of a series, with the stores recounted.
fn keep_last(mut series: Series, count: usize) -> Series {
    let extra = series.bars.len().saturating_sub(count);
    series.bars.drain(..extra);
    series.sources = Sources::of(&series.bars);
    series
}
