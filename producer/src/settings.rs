//! The producer's settings: the shared sections plus `[producer]`.

use common::BarSettings;
use runtime::alert::AlertSettings;
use runtime::keys::Keys;
use runtime::settings::{
    ArchiveSettings, CalendarSettings, ClickHouseSettings, ClockSettings, HttpSettings, RedisSettings,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerSettings {
    pub redis: RedisSettings,
    pub http: HttpSettings,
    pub calendar: CalendarSettings,
    pub clock: ClockSettings,
    /// Alerts to chat receivers (docs/operations.md, "Alerts").
    pub alerts: AlertSettings,
    pub producer: ProducerSection,
    pub bars: BarSettings,
    /// Whether the tick archive is on: the stream is then trimmed only behind the archiver too.
    pub archive: ArchiveSettings,
    /// Where `producer build` writes bars unless given `--out`; the service never uses it.
    pub clickhouse: ClickHouseSettings,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            redis: RedisSettings::default(),
            http: HttpSettings::on(HttpSettings::PRODUCER),
            calendar: CalendarSettings::default(),
            clock: ClockSettings::default(),
            alerts: AlertSettings::default(),
            producer: ProducerSection::default(),
            bars: BarSettings::default(),
            archive: ArchiveSettings::default(),
            clickhouse: ClickHouseSettings::default(),
        }
    }
}

/// `[producer]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerSection {
    pub clock: BarClock,
    /// The consumer group on the tick stream: its position is the producer's, for `XINFO` and lag.
    pub group: String,
    /// Stream entries read per batch at most (XREAD COUNT).
    pub batch_entries: usize,
    /// Ticks one batch holds, about: after a batch of bigger payloads the next read asks for fewer
    /// entries, so a backlog of whole-market payloads cannot make one commit (and the memory it
    /// takes) a hundred times bigger.
    pub batch_ticks: usize,
    /// How long a read waits for entries; also how often the wall clock closes bars when idle.
    pub block_ms: u64,
    /// How often the aggregation state is checkpointed; a restart replays at most this much.
    pub checkpoint_interval_ms: u64,
    /// Trim stream entries older than the latest checkpoint (they are applied and acknowledged) and,
    /// with `archive.ticks`, older than the archiver's position.
    pub trim_stream: bool,
    /// A tick stamped this far ahead of the clock is refused (`ahead_of_clock`): it cannot move the
    /// watermark, close bars or open a day.
    pub max_ahead_ms: u64,
    /// On the wall clock, the producer counts as caught up once its latest tick is at most this far
    /// behind the clock and the stream is drained; before that, a backlog is applied in event time.
    pub catch_up_lag_ms: u64,
    /// The active producer's lease: a standby takes over at most this long after the active one
    /// stops renewing it.
    pub lease_ttl_ms: u64,
    /// This producer's name in the lease and on the monitors; empty: `host-pid`.
    pub instance: String,
    /// A symbol that traded today and sent no tick for this many minutes of its sessions is listed
    /// as stale on the monitor page (`tickbar_producer_stale_symbols`); 0 turns this off.
    pub stale_after_minutes: u16,
    /// Which of the `redis.shards` symbol shards this producer (and its standbys) serves, from 0:
    /// its stream `ticks:{shard}`, state and lease.
    pub shard: u16,
}

impl Default for ProducerSection {
    fn default() -> Self {
        ProducerSection {
            clock: BarClock::Wall,
            group: "tickbar-producer".into(),
            batch_entries: 1000,
            batch_ticks: 50_000,
            block_ms: 200,
            checkpoint_interval_ms: 10_000,
            trim_stream: true,
            max_ahead_ms: 5_000,
            catch_up_lag_ms: 5_000,
            lease_ttl_ms: 5_000,
            instance: String::new(),
            stale_after_minutes: 5,
            shard: 0,
        }
    }
}

/// What closes bars: the wall clock (live feeds) or the latest tick time seen (replays, tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarClock {
    #[default]
    Wall,
    Event,
}

runtime::service_settings!(ProducerSettings, check = check_shard);

/// The shared check, and the shard among the shards.
fn check_shard(settings: &ProducerSettings) -> Result<(), String> {
    settings.redis.check()?;
    let shards = settings.redis.shards;
    if settings.producer.shard >= shards {
        return Err(format!("producer.shard {} is not one of redis.shards = {shards}", settings.producer.shard));
    }
    Ok(())
}

impl ProducerSettings {
    /// The key names of this producer's shard.
    pub fn keys(&self) -> Keys {
        self.redis.keys().shard(self.producer.shard)
    }
}
