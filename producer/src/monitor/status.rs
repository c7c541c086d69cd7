//! The producer's figures as `/api/status` serves them, and as `/metrics` writes them.

use std::collections::BTreeMap;

use common::Period;
use runtime::metrics::Metrics;
use runtime::stores::{Role, StoreState};
use serde::Serialize;

use super::stale::Stale;
use crate::engine::Counters;
use crate::settings::BarClock;

/// The figures of the monitor page, as `/api/status` serves them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub clock: BarClock,
    pub redis: StoreState,
    /// This producer's name in the lease.
    pub instance: String,
    /// The symbol shard it serves (`producer.shard`) of how many (`redis.shards`).
    pub shard: u16,
    pub shards: u16,
    /// `active`: it holds the lease and builds bars; `standby`: another one does.
    pub role: Role,
    /// The lease's holder, `{fence} {instance}`: the active producer, this one or another.
    pub lease: Option<String>,
    /// Working off a backlog in event time (after a restart or a pause) rather than on the wall clock.
    pub catching_up: bool,
    /// What stops this producer until someone acts (an unusable saved state); `/readyz` says it too.
    pub fault: Option<String>,
    /// The last error that it retries by itself (Redis away, the lease lost).
    pub last_error: Option<String>,
    pub recovered: bool,
    pub ticks_per_second: f64,
    pub symbols_active: usize,
    pub last_tick_time: Option<String>,
    pub last_entry_id: String,
    pub stream_lag: Option<u64>,
    pub counters: Counters,
    pub bars_closed: BTreeMap<u16, u64>,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub recoveries: u64,
    pub stale: Stale,
}

impl Status {
    /// The figures in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let s = self;
        let c = &s.counters;
        let mut m = Metrics::new();
        m.counter("tickbar_producer_entries_total", "Stream entries read.", &[], c.entries);
        m.counter("tickbar_producer_ticks_total", "Ticks parsed from the entries.", &[], c.ticks);
        for (outcome, n) in &s.outcomes {
            m.counter(
                "tickbar_producer_tick_outcomes_total",
                "Ticks by what became of them.",
                &[("outcome", outcome)],
                *n,
            );
        }
        for (reason, n) in &c.dead {
            m.counter(
                "tickbar_producer_dead_letters_total",
                "Entries copied to ticks:dead, by reason.",
                &[("reason", reason.as_str())],
                *n,
            );
        }
        for (&minutes, &closed) in &s.bars_closed {
            let period = minutes.to_string();
            let amended = Period::from_minutes(minutes).ok().and_then(|p| c.amended.get(&p)).copied().unwrap_or(0);
            m.counter(
                "tickbar_producer_bars_total",
                "Bars written, by period and kind.",
                &[("period", &period), ("kind", "closed")],
                closed,
            );
            m.counter(
                "tickbar_producer_bars_total",
                "Bars written, by period and kind.",
                &[("period", &period), ("kind", "amended")],
                amended,
            );
        }
        m.gauge(
            "tickbar_producer_symbols_active",
            "Symbols with bars on the latest trading day.",
            &[],
            s.symbols_active as f64,
        );
        m.gauge("tickbar_producer_redis_up", "Whether Redis answers.", &[], s.redis.gauge());
        m.counter("tickbar_producer_recoveries_total", "Times the state was recovered from Redis.", &[], s.recoveries);
        if let Some(lag) = s.stream_lag {
            m.gauge("tickbar_producer_stream_lag", "Stream entries after the committed position.", &[], lag as f64);
        }
        m.gauge(
            "tickbar_producer_active",
            "1 when this producer holds its shard's lease, 0 on standby.",
            &[("instance", &s.instance), ("shard", &s.shard.to_string())],
            s.role.gauge(),
        );
        if let Some(lease) = &s.lease {
            m.gauge(
                "tickbar_producer_lease_holder",
                "The producer holding the lease, by its lease value.",
                &[("holder", lease)],
                1.0,
            );
        }
        m.gauge(
            "tickbar_producer_catching_up",
            "1 while a backlog is applied in event time.",
            &[],
            f64::from(u8::from(s.catching_up)),
        );
        m.gauge(
            "tickbar_producer_fault",
            "1 when a fault (an unusable saved state) stops the producer.",
            &[],
            f64::from(u8::from(s.fault.is_some())),
        );
        let help = "Symbols that traded today and sent no tick for producer.stale_after_minutes of their sessions.";
        m.gauge("tickbar_producer_stale_symbols", help, &[], s.stale.count as f64);
        if let Some(minutes) = s.stale.feed_silent_minutes {
            let help = "Session time since the latest tick of any symbol (since the open when none came today); \
                        absent outside the sessions.";
            m.gauge("tickbar_producer_feed_silent_seconds", help, &[], f64::from(minutes) * 60.0);
        }
        m.finish()
    }
}
