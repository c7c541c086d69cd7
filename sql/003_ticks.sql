-- tickbar tick archive (docs/lifecycle.md). Runs on ClickHouse 18.16 and current releases.
-- `{database}` is replaced with `clickhouse.database` when applied; every statement is idempotent.
-- Servers older than 20.1 know no column codecs (18.16's parser refuses CODEC): there the services
-- apply this table without its CODEC clauses, and the server's own compression (LZ4) applies.

-- Every tick the producer accepted, as it normalised it: prices and amounts in yuan, volumes in
-- shares (a QMT snapshot's lots times 100), `cumulative` 1 for day totals (snapshots), the day's
-- high/low and trade count where the feed gives them, a QMT snapshot's bid/ask levels best first.
-- `entry_ms`-`entry_seq` is the stream entry the tick came in and `element` its position among
-- the entry's accepted ticks: with the symbol and time, the row's identity, so a row written twice
-- (an archiver fenced out mid-INSERT) is merged away; the archiver itself writes each once.
-- One partition per market day (retention drops whole days); sorted by symbol and time, so each
-- column holds one symbol's day in time order, which the delta codecs turn into small numbers.
CREATE TABLE IF NOT EXISTS {database}.ticks
(
    symbol      String                   CODEC(ZSTD(1)),
    day         Date                     CODEC(Delta, ZSTD(1)),
    time_ms     Int64                    CODEC(DoubleDelta, ZSTD(1)),
    price       Decimal(18, 4)           CODEC(Delta, ZSTD(1)),
    volume      UInt64                   CODEC(Delta, ZSTD(1)),
    amount      Decimal(22, 4)           CODEC(ZSTD(1)),
    cumulative  UInt8                    CODEC(ZSTD(1)),
    high        Nullable(Decimal(18, 4)) CODEC(ZSTD(1)),
    low         Nullable(Decimal(18, 4)) CODEC(ZSTD(1)),
    trades      Nullable(UInt64)         CODEC(ZSTD(1)),
    bid_price   Array(Decimal(18, 4))    CODEC(ZSTD(1)),
    bid_volume  Array(UInt64)            CODEC(ZSTD(1)),
    ask_price   Array(Decimal(18, 4))    CODEC(ZSTD(1)),
    ask_volume  Array(UInt64)            CODEC(ZSTD(1)),
    entry_ms    UInt64                   CODEC(Delta, ZSTD(1)),
    entry_seq   UInt64                   CODEC(ZSTD(1)),
    element     UInt32                   CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (symbol, time_ms, entry_ms, entry_seq, element);
