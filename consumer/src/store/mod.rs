//! The consumer's adapters: Redis (history queues, locks, the cleanup of same-day data, reports)
//! and ClickHouse (the bars table: existing rows, inserts, integrity queries); the tick streams as
//! the archiver reads them, and the tick archive's table.

pub mod clickhouse;
pub mod redis;
pub mod stream;
pub mod ticks;
