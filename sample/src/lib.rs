//! The demo's sample market (see `deploy/sample/README.md`): [`market`] generates three trading
//! days of QMT snapshots for 50 symbols from a fixed seed, [`oracle`] computes their bars from the
//! rules of `docs/conventions.md` without the aggregator, and [`files`] writes them as the bundled files:
//! the first two days as vendor history for `producer import-history`, the third as the
//! whole-quote payloads the QMT bridge would have written, for `producer replay`.

pub mod files;
pub mod market;
pub mod oracle;
