//! tickbar's A-share domain, with no I/O: what a symbol, a period, a tick and a bar are, which days
//! trade, which bar a moment belongs to, and how ticks become bars.
//!
//! # Layout
//! - [`symbol`]: `Symbol` (`600519.SH`) and its exchange.
//! - [`period`]: `Period`, the whole-minute bar lengths that tile the sessions.
//! - [`time`]: market time (UTC+8), day numbers and `Frame`, a bar's label instant.
//! - [`json`]: a borrowing JSON scanner for the stream payloads.
//! - [`number`]: exact JSON numbers for prices, amounts and volumes.
//! - [`tick`]: `Tick` and the parsers of the two stream payloads (tick objects, QMT dicts), and
//!   the `DeadReason` of a refused one.
//! - [`bar`]: `Bar`, `Ohlcv` and the aggregator's `BarEvent`s.
//! - [`calendar`]: `TradingCalendar`, trading days from a holiday list.
//! - [`instrument`]: `Instrument`, one security of the instrument list, and its daily price limits.
//! - [`resample`]: `Resolution` and `Resampler`, any-minute, daily, weekly and monthly bars built
//!   from stored ones.
//! - [`session`]: `Sessions`, the bar grid of a layout and the reasons a time has no bar.
//! - [`adjust`]: adjustment factors and forward/backward adjusted prices.
//! - [`aggregate`]: `BarAggregator`, ticks to bars of every period.
//! - [`normalise`]: vendor history normalised into the project's bar layout.
//! - [`shard`]: the stable hash that puts a symbol on a producer shard (and a ClickHouse shard).
//! - [`stream`]: `EntryId`, a Redis stream entry id.
//! - [`wire`]: codes with a stable wire name (dead-letter reasons and the like).
//! - `openapi` (feature `openapi`): the OpenAPI schemas of the symbol and the frame.

pub mod adjust;
pub mod aggregate;
pub mod bar;
pub mod calendar;
mod error;
pub mod instrument;
pub mod json;
pub mod money;
pub mod normalise;
pub mod number;
#[cfg(feature = "openapi")]
mod openapi;
pub mod period;
pub mod resample;
pub mod session;
pub mod shard;
pub mod stream;
pub mod symbol;
pub mod tick;
pub mod time;
pub mod wire;

pub use aggregate::{BarAggregator, BarSettings, TickOutcome};
pub use bar::{Bar, BarEvent, BarEventKind, Ohlcv, Source};
pub use calendar::TradingCalendar;
pub use error::Error;
pub use money::{Amount, Price};
pub use period::Period;
pub use session::{Layout, Rejection, Sessions};
pub use symbol::Symbol;
pub use tick::{Tick, TickKind};
pub use time::Frame;
