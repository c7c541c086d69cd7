//! The consumer's adapters: Redis (history queues, locks, the cleanup of same-day data, reports)
//! and ClickHouse (the bars table: existing rows, inserts, integrity queries).

pub mod clickhouse;
pub mod redis;
