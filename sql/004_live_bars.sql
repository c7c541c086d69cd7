-- tickbar's own bars of each trading day, built live from the feed (contract: ClickHouse). Runs on
-- ClickHouse 18.16 and current releases. `{database}` is replaced with `clickhouse.database`.

-- The nightly cleanup writes each day's closed Redis bars here and into `bars` (with a live
-- version, in seconds, below every vendor version: see `bars`). In `bars` a vendor bar replaces
-- them; here they stay, so the cleanup can reconcile the feed against the vendor's bars of the
-- same day. The columns are `bars`' own (taken from it, so the two cannot drift apart); `version`
-- is the second of the write.
CREATE TABLE IF NOT EXISTS {database}.live_bars AS {database}.bars
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(frame)
ORDER BY (symbol, period, frame);
