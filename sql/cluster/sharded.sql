-- tickbar history sharded over a ClickHouse cluster, without replication: run on EVERY server of
-- the cluster (with no Keeper there is no ON CLUSTER). Runs on ClickHouse 18.16 and current
-- releases; tested on two 18.16 servers (tests/tests/scale.rs).
-- Placeholders: `{database}` (clickhouse.database) and `{cluster}` (a cluster of remote_servers,
-- one replica per shard, each shard of weight 1). Every statement is idempotent.
--
-- Each server keeps its shard's rows in `bars_local` and `adj_factors_local`; the Distributed
-- `bars` and `adj_factors` over them are what the services read and write, on any server. A symbol's
-- rows are on shard `halfMD5(symbol) % N` (in remote_servers order), the shard its producers have
-- (`common::shard`), so every version of a (symbol, period, frame) meets on one server and FINAL
-- deduplicates it there.
CREATE DATABASE IF NOT EXISTS {database};

CREATE TABLE IF NOT EXISTS {database}.bars_local
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(frame)
ORDER BY (symbol, period, frame);

CREATE TABLE IF NOT EXISTS {database}.bars AS {database}.bars_local
ENGINE = Distributed({cluster}, {database}, bars_local, halfMD5(symbol));

CREATE TABLE IF NOT EXISTS {database}.adj_factors_local
(
    symbol  String,
    ex_date Date,
    factor  Decimal(18, 8),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (symbol, ex_date);

CREATE TABLE IF NOT EXISTS {database}.adj_factors AS {database}.adj_factors_local
ENGINE = Distributed({cluster}, {database}, adj_factors_local, halfMD5(symbol));

-- The day's own bars, kept for the reconciliation (sql/004_live_bars.sql): the shape of `bars`,
-- sharded the same way.
CREATE TABLE IF NOT EXISTS {database}.live_bars_local AS {database}.bars_local
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(frame)
ORDER BY (symbol, period, frame);

CREATE TABLE IF NOT EXISTS {database}.live_bars AS {database}.live_bars_local
ENGINE = Distributed({cluster}, {database}, live_bars_local, halfMD5(symbol));
