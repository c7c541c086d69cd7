//! The two stores the API reads: Redis for the days it holds, ClickHouse for history.

pub mod clickhouse;
pub mod redis;
