-- tickbar bar history on a ClickHouse cluster: one replicated table per shard plus a Distributed
-- table named `bars`, so readers and the consumer see the same name as on a single node.
-- Placeholders: `{database}` (clickhouse.database) and `{cluster}` (a cluster of remote_servers);
-- `{shard}` and `{replica}` are the servers' own macros and stay as they are.
-- Apply once by hand (clickhouse-client --multiquery); the services apply only sql/001_bars.sql and
-- sql/002_adj_factors.sql, whose CREATE ... IF NOT EXISTS then find these tables and leave them.
-- The plain sharded variant (no Keeper), sharded.sql, is the one the tests run.
CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster};

CREATE TABLE IF NOT EXISTS {database}.bars_local ON CLUSTER {cluster}
(
    symbol  String,
    period  UInt16,
    frame   DateTime('Asia/Shanghai'),
    open    Decimal(18, 4),
    high    Decimal(18, 4),
    low     Decimal(18, 4),
    close   Decimal(18, 4),
    vol     UInt64,
    amount  Decimal(22, 4),
    trades  Nullable(UInt64),
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/bars_local', '{replica}', version)
PARTITION BY toYYYYMM(frame)
ORDER BY (symbol, period, frame);

-- Sharded by symbol: every version of a (symbol, period, frame) lands on the same shard, which is
-- what lets ReplacingMergeTree and FINAL deduplicate it there. halfMD5(symbol) % N is the shard of
-- the symbol's producers too (common::shard).
CREATE TABLE IF NOT EXISTS {database}.bars ON CLUSTER {cluster} AS {database}.bars_local
ENGINE = Distributed({cluster}, {database}, bars_local, halfMD5(symbol));

CREATE TABLE IF NOT EXISTS {database}.adj_factors_local ON CLUSTER {cluster}
(
    symbol  String,
    ex_date Date,
    factor  Decimal(18, 8),
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/adj_factors_local', '{replica}', version)
ORDER BY (symbol, ex_date);

CREATE TABLE IF NOT EXISTS {database}.adj_factors ON CLUSTER {cluster} AS {database}.adj_factors_local
ENGINE = Distributed({cluster}, {database}, adj_factors_local, halfMD5(symbol));

-- The day's own bars, kept for the reconciliation (sql/004_live_bars.sql): the shape of `bars`,
-- replicated and sharded the same way.
CREATE TABLE IF NOT EXISTS {database}.live_bars_local ON CLUSTER {cluster} AS {database}.bars_local
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/live_bars_local', '{replica}', version)
PARTITION BY toYYYYMM(frame)
ORDER BY (symbol, period, frame);

CREATE TABLE IF NOT EXISTS {database}.live_bars ON CLUSTER {cluster} AS {database}.live_bars_local
ENGINE = Distributed({cluster}, {database}, live_bars_local, halfMD5(symbol));
