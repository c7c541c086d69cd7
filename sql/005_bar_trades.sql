-- tickbar migration 5: bars carry `trades`, the number of trades in them (contract: ClickHouse),
-- NULL where the feed or the vendor did not give it (every row written before this migration).
-- Runs on ClickHouse 18.16 and current releases. 18.16 knows no `ADD COLUMN IF NOT EXISTS`: the
-- services skip a column that is already there (`runtime::schema`), so this applies once however
-- many services start at once. A cluster (`sql/cluster/`) adds it with the `ON CLUSTER` statements
-- of `sql/cluster/migrations/005_bar_trades.sql` before the services of this release start.
ALTER TABLE {database}.bars ADD COLUMN trades Nullable(UInt64) AFTER amount;
ALTER TABLE {database}.live_bars ADD COLUMN trades Nullable(UInt64) AFTER amount;
