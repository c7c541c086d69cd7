-- tickbar adjustment factors (contract: ClickHouse). Runs on ClickHouse 18.16 and current releases.
-- `{database}` is replaced with `clickhouse.database` when applied; every statement is idempotent.

-- The cumulative factor of a symbol from each ex-date on (Tushare's adj_factor; the running product
-- of xtquant's per-event dr). ReplacingMergeTree keeps the highest `version` of a (symbol, ex_date),
-- so a re-imported factor replaces the old one. Read with FINAL.
CREATE TABLE IF NOT EXISTS {database}.adj_factors
(
    symbol  String,
    ex_date Date,
    factor  Decimal(18, 8),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (symbol, ex_date);
