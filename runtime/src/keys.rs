//! The one definition of every Redis key and channel tickbar uses (all behind `redis.key_prefix`),
//! the historical-bar queue names and the ClickHouse table, shared by the three services.

use chrono::NaiveDate;

use common::{Period, Symbol};

/// The ClickHouse table of bar history, inside `clickhouse.database`.
pub const BARS_TABLE: &str = "bars";

/// `database.bars`, the table name as queries write it.
pub fn bars_table(database: &str) -> String {
    format!("{database}.{BARS_TABLE}")
}

/// The ClickHouse table of cumulative adjustment factors, inside `clickhouse.database`.
pub const FACTORS_TABLE: &str = "adj_factors";

/// `database.adj_factors`.
pub fn factors_table(database: &str) -> String {
    format!("{database}.{FACTORS_TABLE}")
}

/// The ClickHouse table of archived ticks, inside `clickhouse.database`.
pub const TICKS_TABLE: &str = "ticks";

/// `database.ticks`.
pub fn ticks_table(database: &str) -> String {
    format!("{database}.{TICKS_TABLE}")
}

/// The ClickHouse table of the bars tickbar built live, kept beside `bars` for the reconciliation.
pub const LIVE_BARS_TABLE: &str = "live_bars";

/// `database.live_bars`.
pub fn live_bars_table(database: &str) -> String {
    format!("{database}.{LIVE_BARS_TABLE}")
}

/// The ClickHouse table of the instrument list.
pub const INSTRUMENTS_TABLE: &str = "instruments";

/// `database.instruments`.
pub fn instruments_table(database: &str) -> String {
    format!("{database}.{INSTRUMENTS_TABLE}")
}

/// Redis names under one key prefix, for one shard of the producers (`redis.shards`).
///
/// With one shard every name is the contract's. With more, each shard's keys carry the shard's
/// hash tag (`ticks:{1}`, `tickbar:{1}:bars:…`), so one producer's commit touches one Redis
/// Cluster hash slot; the history queues, the consumer's keys and the bar channels are shared by
/// all shards.
/// Laid out for Redis Cluster ([`Keys::for_cluster`]), shard keys carry their tag even with one
/// shard, and the consumer's processing lists and fences carry their queue's name as theirs, so
/// each of its scripts touches one hash slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    shards: u16,
    /// The `{i}` hash tag of this shard's keys, when there is more than one shard or a cluster.
    tag: String,
    /// Laid out for Redis Cluster.
    cluster: bool,
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new("")
    }
}

impl Keys {
    /// The names of a single-shard deployment.
    pub fn new(prefix: impl Into<String>) -> Keys {
        Keys::sharded(prefix, 1)
    }

    /// The names of a deployment of `shards` producer shards, as seen from shard 0; the shared
    /// names are the same from every shard.
    pub fn sharded(prefix: impl Into<String>, shards: u16) -> Keys {
        Keys { prefix: prefix.into(), shards: shards.max(1), tag: String::new(), cluster: false }.shard(0)
    }

    /// These names laid out for Redis Cluster (see [`Keys`]).
    pub fn for_cluster(self) -> Keys {
        Keys { cluster: true, ..self }.shard(0)
    }

    /// How many producer shards the deployment has.
    pub fn shards(&self) -> u16 {
        self.shards
    }

    /// The names of shard `index` (0-based).
    pub fn shard(&self, index: u16) -> Keys {
        let tag = if self.shards > 1 || self.cluster { format!(":{{{index}}}") } else { String::new() };
        Keys { tag, ..self.clone() }
    }

    /// The names of the shard `symbol` belongs to ([`common::shard::shard_of`]).
    pub fn of(&self, symbol: Symbol) -> Keys {
        self.shard(common::shard::shard_of(symbol, self.shards))
    }

    /// The names of every shard, shard 0 first.
    pub fn each_shard(&self) -> impl Iterator<Item = Keys> + '_ {
        (0..self.shards).map(|i| self.shard(i))
    }

    fn key(&self, name: std::fmt::Arguments) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// A name of this shard: `{prefix}{head}` and the shard's tag, then `rest`.
    fn shard_key(&self, head: &str, rest: std::fmt::Arguments) -> String {
        format!("{}{head}{}{rest}", self.prefix, self.tag)
    }

    /// The stream feeds write ticks to (contract: `ticks`).
    pub fn tick_stream(&self) -> String {
        self.shard_key("ticks", format_args!(""))
    }

    /// The stream unusable tick entries are copied to, with their reason (contract: `ticks:dead`).
    pub fn dead_ticks(&self) -> String {
        self.shard_key("ticks", format_args!(":dead"))
    }

    /// The channel each closed or amended bar is published on (contract: `bars:{period}:{symbol}`).
    pub fn bar_channel(&self, period: Period, symbol: Symbol) -> String {
        self.key(format_args!("bars:{period}:{symbol}"))
    }

    /// The list vendor-history loaders push bars of `period` to (contract: `historical_bar_data_{N}min`).
    pub fn history_queue(&self, period: Period) -> String {
        self.key(format_args!("historical_bar_data_{period}min"))
    }

    /// Where consumer worker `worker` of `period` parks its batch until the INSERT has succeeded.
    pub fn history_processing(&self, period: Period, worker: usize) -> String {
        format!("{}:processing:{worker}", self.beside(self.history_queue(period)))
    }

    /// The worker of a [`Self::history_processing`] key of `period`; `None` for any other key.
    pub fn history_worker_of(&self, period: Period, key: &str) -> Option<usize> {
        key.strip_prefix(&self.beside(self.history_queue(period)))?.strip_prefix(":processing:")?.parse().ok()
    }

    /// A `SCAN MATCH` pattern for every worker's [`Self::history_processing`] list of `period`.
    pub fn history_processing_pattern(&self, period: Period) -> String {
        format!("{}:processing:*", glob_escape(&self.beside(self.history_queue(period))))
    }

    /// `queue` as the head of the consumer's keys beside it: in a cluster, as their hash tag
    /// (`{historical_bar_data_1min}`, the hash slot of the queue itself).
    fn beside(&self, queue: String) -> String {
        if self.cluster {
            format!("{{{queue}}}")
        } else {
            queue
        }
    }

    /// The key the consumer's scripts on `queue` check the drain lock's token in: the lock itself,
    /// or in a cluster a copy in the queue's hash slot that the lock's holder writes when it takes it.
    pub fn drain_fence(&self, queue: &str) -> String {
        if self.cluster {
            format!("{}:drain-fence", self.beside(queue.to_owned()))
        } else {
            self.drain_lock()
        }
    }

    /// The list `producer import-factors` pushes adjustment factors to, for the consumer.
    pub fn factor_queue(&self) -> String {
        self.key(format_args!("historical_adj_factors"))
    }

    /// Where the consumer parks a batch of factors until the INSERT has succeeded.
    pub fn factor_processing(&self) -> String {
        format!("{}:processing", self.beside(self.factor_queue()))
    }

    /// The list unusable history items go to (contract: `historical_bar_data_dead`).
    pub fn history_dead(&self) -> String {
        self.key(format_args!("historical_bar_data_dead"))
    }

    /// Completed bars of one trading day, symbol and period: a sorted set scored by frame epoch seconds.
    pub fn day_bars(&self, day: NaiveDate, period: Period, symbol: Symbol) -> String {
        format!("{}{symbol}", self.day_bars_prefix(day, period))
    }

    /// What every [`Self::day_bars`] key of one day and period starts with (the symbol follows).
    pub fn day_bars_prefix(&self, day: NaiveDate, period: Period) -> String {
        self.shard_key("tickbar", format_args!(":bars:{day}:{period}:"))
    }

    /// The (day, period, symbol) of a [`Self::day_bars`] key of any shard; `None` for any other key.
    pub fn day_bars_of(&self, key: &str) -> Option<(NaiveDate, Period, Symbol)> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix("tickbar")?;
        let rest = match rest.strip_prefix(":{") {
            Some(tagged) => tagged.split_once('}').filter(|(shard, _)| shard.parse::<u16>().is_ok())?.1,
            None => rest,
        };
        let mut parts = rest.strip_prefix(":bars:")?.splitn(3, ':');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    /// A `SCAN MATCH` pattern for every [`Self::day_bars`] key of one trading day.
    pub fn day_bars_pattern(&self, day: NaiveDate) -> String {
        format!("{}tickbar{}:bars:{day}:*", glob_escape(&self.prefix), self.tag)
    }

    /// Forming bars of one trading day and period: a hash from symbol to bar object.
    pub fn forming_bars(&self, day: NaiveDate, period: Period) -> String {
        self.shard_key("tickbar", format_args!(":forming:{day}:{period}"))
    }

    /// Every forming-bar hash of one trading day (any period) on this shard: a SCAN pattern.
    pub fn forming_bars_pattern(&self, day: NaiveDate) -> String {
        format!("{}tickbar{}:forming:{day}:*", glob_escape(&self.prefix), self.tag)
    }

    /// The versions of one trading day's closed bars: a hash from [`history_version_field`]
    /// (`{period}:{symbol}`) to the wall-clock microsecond of the producer's commit that last
    /// changed them; the query API's cache keeps a day's bars while it holds.
    pub fn day_versions(&self, day: NaiveDate) -> String {
        self.shard_key("tickbar", format_args!(":versions:{day}"))
    }

    /// The symbols with a bar (closed or forming) on one trading day: a set, the index a snapshot
    /// of the whole market reads in the same round trip as the bars.
    pub fn day_symbols(&self, day: NaiveDate) -> String {
        self.shard_key("tickbar", format_args!(":symbols:{day}"))
    }

    /// The producer's checkpoint: a hash of its aggregation state, counters and last applied entry id.
    pub fn producer_state(&self) -> String {
        self.shard_key("tickbar", format_args!(":producer:state"))
    }

    /// The producer's progress record for the other services (`runtime::progress::Progress`):
    /// the date of its latest tick and its committed position, JSON, written with every commit.
    pub fn producer_progress(&self) -> String {
        self.shard_key("tickbar", format_args!(":producer:progress"))
    }

    /// The producer's journal since its checkpoint: one record per committed batch.
    pub fn producer_journal(&self) -> String {
        self.shard_key("tickbar", format_args!(":producer:journal"))
    }

    /// The ticks the producer refused by its own rules (`ahead_of_clock`, `wrong_shard`), which the
    /// tick archive must leave out: a hash from stream entry id to the positions of the refused
    /// ticks among the entry's parsed ticks (`0,3`). Written with the commit that refused them,
    /// emptied by the archiver as it passes them.
    pub fn refused_ticks(&self) -> String {
        self.shard_key("tickbar", format_args!(":producer:refused"))
    }

    /// The active producer's lease: `{fence} {instance}`, expiring unless renewed. Every commit checks
    /// it, so a producer that lost it cannot write.
    pub fn producer_lease(&self) -> String {
        self.shard_key("tickbar", format_args!(":producer:lease"))
    }

    /// The counter the lease's fencing tokens are drawn from: each holder gets a larger one.
    pub fn producer_fence(&self) -> String {
        self.shard_key("tickbar", format_args!(":producer:fence"))
    }

    /// The lock one consumer instance holds while it drains the history queues.
    pub fn drain_lock(&self) -> String {
        self.key(format_args!("tickbar:consumer:drain-lock"))
    }

    /// The lock held while a cleanup runs, so that no two instances run it at once.
    pub fn cleanup_lock(&self) -> String {
        self.key(format_args!("tickbar:consumer:cleanup-lock"))
    }

    /// The latest cleanup report (JSON).
    pub fn cleanup_last(&self) -> String {
        self.key(format_args!("tickbar:consumer:cleanup:last"))
    }

    /// Recent cleanup reports, newest first.
    pub fn cleanup_reports(&self) -> String {
        self.key(format_args!("tickbar:consumer:cleanup:reports"))
    }

    /// The set of trading days (`YYYY-MM-DD`) this shard holds same-day bars for; the query API
    /// routes by the union of every shard's.
    pub fn days_held(&self) -> String {
        self.shard_key("tickbar", format_args!(":days"))
    }

    /// The calendar changes an operator stored (JSON, see `runtime::calendar::Stored`).
    pub fn calendar(&self) -> String {
        self.key(format_args!("tickbar:calendar"))
    }

    /// The channel a stored calendar change's version is published on.
    pub fn calendar_channel(&self) -> String {
        self.key(format_args!("tickbar:calendar:changed"))
    }

    /// The versions of the history in ClickHouse: a hash of counters, one per (period, symbol) the
    /// consumer wrote ([`history_version_field`]) and [`ALL_HISTORY`] for writes of any symbol
    /// (`producer build`); the query API's history cache keeps an answer while they are unchanged.
    pub fn history_versions(&self) -> String {
        self.key(format_args!("tickbar:history:versions"))
    }
}

/// The field of [`Keys::history_versions`] a write of any symbol's bars bumps.
pub const ALL_HISTORY: &str = "*";

/// The field of [`Keys::history_versions`] for `symbol`'s bars of `period`: `1:600519.SH`.
pub fn history_version_field(period: Period, symbol: impl std::fmt::Display) -> String {
    format!("{period}:{symbol}")
}

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bar_and_worker_keys_read_back_as_what_they_name() {
        let day: NaiveDate = "2026-11-20".parse().unwrap();
        let layouts = [Keys::default(), Keys::new("t:"), Keys::sharded("t:", 4), Keys::new("").for_cluster()];
        for keys in &layouts {
            for symbol in ["600519.SH", "000001.SZ", "830799.BJ"].map(|s| s.parse::<Symbol>().unwrap()) {
                for period in Period::DEFAULTS {
                    let key = keys.of(symbol).day_bars(day, period, symbol);
                    assert_eq!(keys.day_bars_of(&key), Some((day, period, symbol)), "{key}");
                    let worker = keys.history_processing(period, 7);
                    assert_eq!(keys.history_worker_of(period, &worker), Some(7), "{worker}");
                }
            }
            let other = keys.history_processing(Period::M5, 1);
            assert_eq!(keys.history_worker_of(Period::M1, &other), None, "another period's list");
            for junk in
                [keys.day_symbols(day), keys.tick_stream(), format!("{}x", keys.day_bars_prefix(day, Period::M1))]
            {
                assert_eq!(keys.day_bars_of(&junk), None, "{junk}");
            }
        }
        assert_eq!(Keys::new("a:").day_bars_of("b:tickbar:bars:2026-11-20:1:600519.SH"), None, "another prefix");
    }

    #[test]
    fn contract_names_are_exact_and_prefixed() {
        let sym: Symbol = "600519.SH".parse().unwrap();
        let plain = Keys::default();
        assert_eq!(plain.tick_stream(), "ticks");
        assert_eq!(plain.dead_ticks(), "ticks:dead");
        assert_eq!(plain.bar_channel(Period::M5, sym), "bars:5:600519.SH");
        assert_eq!(plain.history_queue(Period::M60), "historical_bar_data_60min");
        assert_eq!(plain.history_dead(), "historical_bar_data_dead");
        let test = Keys::new("t1:");
        assert_eq!(test.history_queue(Period::M1), "t1:historical_bar_data_1min");
        assert_eq!(
            test.day_bars("2026-11-20".parse().unwrap(), Period::M1, sym),
            "t1:tickbar:bars:2026-11-20:1:600519.SH"
        );
        assert_eq!(bars_table("tickbar"), "tickbar.bars");
        let day = "2026-11-20".parse().unwrap();
        assert_eq!(Keys::new("t[1]*:").day_bars_pattern(day), "t\\[1\\]\\*:tickbar:bars:2026-11-20:*");
    }

    #[test]
    fn each_shard_tags_its_own_keys_and_shares_the_rest() {
        let sym: Symbol = "600519.SH".parse().unwrap();
        let day = "2026-11-20".parse().unwrap();
        assert_eq!(Keys::sharded("", 1).of(sym), Keys::new(""), "one shard is the single layout");
        let keys = Keys::sharded("p:", 2);
        let one = keys.shard(1);
        assert_eq!(one.tick_stream(), "p:ticks:{1}");
        assert_eq!(one.dead_ticks(), "p:ticks:{1}:dead");
        assert_eq!(one.day_bars(day, Period::M5, sym), "p:tickbar:{1}:bars:2026-11-20:5:600519.SH");
        assert_eq!(one.day_bars_pattern(day), "p:tickbar:{1}:bars:2026-11-20:*");
        assert_eq!(one.forming_bars(day, Period::M1), "p:tickbar:{1}:forming:2026-11-20:1");
        assert_eq!(one.producer_lease(), "p:tickbar:{1}:producer:lease");
        assert_eq!(one.days_held(), "p:tickbar:{1}:days");
        assert_eq!(one.bar_channel(Period::M5, sym), keys.bar_channel(Period::M5, sym));
        assert_eq!(one.history_queue(Period::M1), "p:historical_bar_data_1min");
        assert_eq!(keys.each_shard().map(|k| k.tick_stream()).collect::<Vec<_>>(), ["p:ticks:{0}", "p:ticks:{1}"]);
        let mine = keys.of(sym).tick_stream();
        assert_eq!(mine, format!("p:ticks:{{{}}}", common::shard::shard_of(sym, 2)));
    }

    #[test]
    fn in_a_cluster_every_key_one_script_touches_shares_its_hash_tag() {
        let day = "2026-11-20".parse().unwrap();
        let single = Keys::new("p:").for_cluster();
        assert_eq!(single.tick_stream(), "p:ticks:{0}", "tagged even with one shard");
        assert_eq!(single.forming_bars(day, Period::M1), "p:tickbar:{0}:forming:2026-11-20:1");
        assert_eq!(single.history_queue(Period::M5), "p:historical_bar_data_5min", "the contract's name");
        assert_eq!(single.history_processing(Period::M5, 2), "{p:historical_bar_data_5min}:processing:2");
        assert_eq!(single.history_processing_pattern(Period::M5), "{p:historical_bar_data_5min}:processing:*");
        assert_eq!(single.factor_processing(), "{p:historical_adj_factors}:processing");
        let queue = single.history_queue(Period::M5);
        assert_eq!(single.drain_fence(&queue), "{p:historical_bar_data_5min}:drain-fence");
        assert_eq!(Keys::new("p:").drain_fence(&queue), "p:tickbar:consumer:drain-lock", "else the lock itself");
        assert_eq!(Keys::new("p:").history_processing(Period::M5, 2), "p:historical_bar_data_5min:processing:2");
        assert_eq!(Keys::sharded("p:", 2).for_cluster().shard(1).days_held(), "p:tickbar:{1}:days");
    }
}
