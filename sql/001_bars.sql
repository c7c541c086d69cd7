-- tickbar bar history (contract: ClickHouse). Runs on ClickHouse 18.16 and current releases.
-- `{database}` is replaced with `clickhouse.database` when applied; every statement is idempotent.
CREATE DATABASE IF NOT EXISTS {database};

-- One row per (symbol, period, frame) after merges: ReplacingMergeTree keeps the highest `version`,
-- so a re-sent bar replaces the old one. Read with FINAL (or argMax by version) to see the
-- deduplicated series before merges. A vendor bar's version is when the consumer took it from its
-- queue, in microseconds; a bar tickbar built live (written by the nightly cleanup, or by
-- `producer build`) has the second it was written, below 10^12 and so below every vendor version:
-- the vendor's bar wins whichever came first. `version < 1000000000000` is the bar's source.
CREATE TABLE IF NOT EXISTS {database}.bars
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
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(frame)
ORDER BY (symbol, period, frame);
