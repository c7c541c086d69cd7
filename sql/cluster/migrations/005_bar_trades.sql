-- tickbar migration 5 on a cluster (sql/005_bar_trades.sql on one node): bars carry `trades`.
-- A cluster made by `sharded.sql` or `replicated.sql` of an earlier release runs this before the
-- services of this release start; a service refuses to alter a Distributed table itself (its
-- shards' tables would not follow) and says so until the column is there. Placeholders:
-- `{database}` and `{cluster}`.
--   replicated (a Keeper): run once, anywhere.
--   sharded (no Keeper, no ON CLUSTER): drop " ON CLUSTER {cluster}" and run on EVERY server.
-- 18.16 knows no `ADD COLUMN IF NOT EXISTS`: a statement run twice fails with "column with this
-- name already exists", which is then harmless.
ALTER TABLE {database}.bars_local ON CLUSTER {cluster} ADD COLUMN trades Nullable(UInt64) AFTER amount;
ALTER TABLE {database}.bars ON CLUSTER {cluster} ADD COLUMN trades Nullable(UInt64) AFTER amount;
ALTER TABLE {database}.live_bars_local ON CLUSTER {cluster} ADD COLUMN trades Nullable(UInt64) AFTER amount;
ALTER TABLE {database}.live_bars ON CLUSTER {cluster} ADD COLUMN trades Nullable(UInt64) AFTER amount;
