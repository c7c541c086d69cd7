-- tickbar migration 6: the instrument list (contract: ClickHouse), imported with
-- `producer import-instruments` from Tushare's stock_basic or xtquant's instrument details and
-- served at GET /api/v1/instruments; daily bars take their price limits from it. Runs on ClickHouse
-- 18.16 and current releases. `{database}` is replaced with `clickhouse.database`.

-- One row per symbol after merges: ReplacingMergeTree keeps the highest `version` (the import's
-- microsecond), so a list imported again replaces the old rows. Read with FINAL. `board` is
-- `main`, `star`, `chinext` or `beijing` (from the code), `st` 1 for an ST name.
CREATE TABLE IF NOT EXISTS {database}.instruments
(
    symbol      String,
    name        String,
    board       String,
    list_date   Date,
    delist_date Nullable(Date),
    st          UInt8,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY symbol;
