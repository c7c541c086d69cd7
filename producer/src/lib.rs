//! `producer`: turns A-share ticks from the Redis stream `ticks` into bars kept in Redis; also
//! replays tick files into the stream and imports vendor history into the historical queues. The
//! binary (`main.rs`) picks the command; the test harness writes same-day bars with [`store`]'s own
//! code.
//!
//! # Layout
//! - [`ingest`]: stream entries into ticks or dead letters.
//! - [`engine`]: the aggregator behind the stream: steps, the journal record, the checkpoint.
//! - [`store`]: the producer's Redis: reading the stream, the lease, one transaction per step.
//! - [`service`]: the active/standby loop around them; [`monitor`]: what it shows.
//! - [`replay`] and [`import`]: the `replay` and `import-history` commands; [`input`]: the files
//!   they read and the report they print.
//! - [`build`]: the `build` command, bars from tick archives into ClickHouse or files.
//! - [`settings`] and [`error`].

pub mod build;
pub mod engine;
pub mod error;
pub mod factors;
pub mod import;
pub mod ingest;
pub mod input;
pub mod instruments;
pub mod monitor;
pub mod replay;
pub mod service;
pub mod settings;
pub mod store;
