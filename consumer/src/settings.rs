//! The consumer's settings: the shared sections plus `[consumer]`.

use chrono::NaiveTime;
use common::BarSettings;
use runtime::alert::{AlertSettings, ReceiverSettings};
use runtime::settings::{
    ArchiveSettings, CalendarSettings, ClickHouseSettings, ClockSettings, HttpSettings, RedisSettings,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumerSettings {
    pub redis: RedisSettings,
    pub clickhouse: ClickHouseSettings,
    pub http: HttpSettings,
    pub calendar: CalendarSettings,
    pub clock: ClockSettings,
    /// Alerts to chat receivers (docs/operations.md, "Alerts").
    pub alerts: AlertSettings,
    pub bars: BarSettings,
    pub consumer: ConsumerSection,
    /// The tick archive the consumer writes (`archive.ticks`) and expires (`archive.retention_days`).
    pub archive: ArchiveSettings,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            redis: RedisSettings::default(),
            clickhouse: ClickHouseSettings::default(),
            http: HttpSettings::on(HttpSettings::CONSUMER),
            calendar: CalendarSettings::default(),
            clock: ClockSettings::default(),
            alerts: AlertSettings::default(),
            bars: BarSettings::default(),
            consumer: ConsumerSection::default(),
            archive: ArchiveSettings::default(),
        }
    }
}

/// `[consumer]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumerSection {
    /// Queue items taken per batch: one existence query and one INSERT each.
    pub batch_rows: usize,
    /// Workers per queue, each with its own batch in flight.
    pub workers_per_queue: usize,
    /// How long to wait before looking again when every queue is empty.
    pub idle_ms: u64,
    /// How long the high-water marks (the latest stored frame per symbol and period, which spare a
    /// batch later than all of them its existence read) are trusted before they are read again;
    /// 0 turns them off, every batch checked.
    pub high_water_ttl_ms: u64,
    /// How long one INSERT may take before it counts as failed and is retried.
    pub insert_timeout_ms: u64,
    /// When the nightly cleanup runs, Asia/Shanghai, `HH:MM`.
    #[serde(with = "hh_mm")]
    pub cleanup_at: NaiveTime,
    /// Trading days, ending with the cleaned day, whose ClickHouse history the integrity check covers.
    pub integrity_days: u32,
    /// Expiry of the drain and cleanup locks; a holder renews them well within it.
    pub lock_ttl_ms: u64,
    /// This instance's name in locks and reports; empty means host name and process id.
    pub instance: String,
    /// Deprecated: the cleanup's webhook of the first releases, now the generic receiver `webhook`
    /// of `cleanup_failed` in `[alerts]` (https:// too), with a warning at start; `check-config`
    /// prints only its host, since the path of a webhook is often its secret.
    #[serde(serialize_with = "runtime::settings::redacted_endpoint")]
    pub webhook_url: Option<String>,
}

impl Default for ConsumerSection {
    fn default() -> Self {
        ConsumerSection {
            batch_rows: 20_000,
            workers_per_queue: 4,
            idle_ms: 200,
            high_water_ttl_ms: 300_000,
            insert_timeout_ms: 30_000,
            cleanup_at: NaiveTime::from_hms_opt(2, 0, 0).expect("02:00 is a time"),
            integrity_days: 5,
            lock_ttl_ms: 30_000,
            instance: String::new(),
            webhook_url: None,
        }
    }
}

impl ConsumerSettings {
    /// `[alerts]`, with a `consumer.webhook_url` of the first releases as the generic receiver
    /// `webhook` of `cleanup_failed` (its JSON keeps the `text`, `ok`, `days` and `instance` it had).
    pub fn alert_settings(&self) -> AlertSettings {
        let mut alerts = self.alerts.clone();
        if let Some(url) = self.consumer.webhook_url.clone().filter(|u| !u.is_empty()) {
            tracing::warn!(
                "consumer.webhook_url is deprecated: it is sent to as [alerts.receivers.webhook] (kind \"generic\", \
                 rules [\"cleanup_failed\"]); move it there (docs/operations.md, \"Alerts\")"
            );
            let webhook =
                ReceiverSettings { url: Some(url), rules: vec!["cleanup_failed".into()], ..Default::default() };
            alerts.receivers.entry("webhook".into()).or_insert(webhook);
        }
        alerts
    }
}

impl ConsumerSection {
    /// [`Self::instance`], or `host-pid` when unset.
    pub fn instance_name(&self) -> String {
        runtime::instance_name(&self.instance)
    }
}

/// `HH:MM` (24-hour) for a time of day.
mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a 24-hour HH:MM time")))
    }
}

runtime::service_settings!(ConsumerSettings);
