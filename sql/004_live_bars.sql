-- tickbar's own bars of each trading day, built live from the feed (contract: ClickHouse). Runs on
-- ClickHouse 18.16 and current releases. `{database}` is replaced with `clickhouse.database`.

-- The nightly cleanup writes each day's closed Redis bars here and into `bars` (with a live
-- version, in seconds, below every vendor version: see `bars`). In `bars` a vendor bar replaces
-- them; here they stay, so the cleanup can reconcile the feed against the vendor's bars of the
-- same day. The same shape as `bars`; `version` is the second of the write.
CREATE TABLE IF NOT EXISTS {database}.live_bars
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
