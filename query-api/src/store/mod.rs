//! The two stores the API reads: Redis for the days it holds, ClickHouse for history, and the
//! cache of history answers.

pub mod cache;
pub mod clickhouse;
pub mod redis;
