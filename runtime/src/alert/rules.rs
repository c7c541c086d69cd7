//! The alert rules and their watch, without I/O: what each rule means and its default threshold;
//! the readings a service takes of itself; and [`Watch`], which turns readings into notifications
//! — a condition fires once when it has held past its threshold for its hold time, sends
//! `resolved` once when it ends, and no rule sends more than its hourly budget. A firing is sent
//! only with room in the budget for its `resolved` too, so a chat never keeps a firing whose end
//! it was not told; one held back is sent when the budget allows, if the condition still holds
//! (its end is silent if it never was).

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// An hour, the window of the notification budget.
const HOUR_MS: i64 = 3_600_000;

/// What a service watches. Conditions are read on every probe; events are sent as they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    FeedStale,
    StaleSymbols,
    ProducerFault,
    StandbyTakeover,
    StreamBacklog,
    DeadLetters,
    RedisDown,
    ClickhouseDown,
    ApiErrors,
    CleanupFailed,
}

/// How a rule is judged, and its defaults.
pub struct RuleSpec {
    pub rule: Rule,
    pub name: &'static str,
    /// The service that reads it: `producer`, `consumer`, `query-api`, or `all`.
    pub service: &'static str,
    /// An event is sent once when it happens, with no `resolved`.
    pub event: bool,
    pub threshold: f64,
    pub hold_seconds: u64,
    /// The unit of the reading and the threshold, as the notification says it.
    pub unit: &'static str,
    pub meaning: &'static str,
}

const fn spec(
    rule: Rule,
    name: &'static str,
    service: &'static str,
    (threshold, hold_seconds, unit): (f64, u64, &'static str),
    meaning: &'static str,
) -> RuleSpec {
    RuleSpec { rule, name, service, event: false, threshold, hold_seconds, unit, meaning }
}

const fn event(rule: Rule, name: &'static str, service: &'static str, meaning: &'static str) -> RuleSpec {
    RuleSpec { rule, name, service, event: true, threshold: 0.0, hold_seconds: 0, unit: "", meaning }
}

/// Every rule: the configuration reference lists them in this order.
pub const RULES: [RuleSpec; 10] = [
    spec(
        Rule::FeedStale,
        "feed_stale",
        "producer",
        (2.0, 0, "session minutes"),
        "no symbol has sent a tick for this long in a trading session: the feed has stopped",
    ),
    spec(
        Rule::StaleSymbols,
        "stale_symbols",
        "producer",
        (10.0, 0, "symbols"),
        "this many symbols that traded today are silent past producer.stale_after_minutes",
    ),
    spec(
        Rule::ProducerFault,
        "producer_fault",
        "producer",
        (1.0, 0, ""),
        "a fault stops the producer until it is repaired (its /readyz says which)",
    ),
    event(Rule::StandbyTakeover, "standby_takeover", "producer", "a standby producer took over the lease"),
    spec(
        Rule::StreamBacklog,
        "stream_backlog",
        "producer",
        (10_000.0, 30, "entries"),
        "the tick stream holds this many entries the producer has not applied",
    ),
    spec(
        Rule::DeadLetters,
        "dead_letters",
        "producer",
        (100.0, 0, "per minute"),
        "ticks are dead-lettered this fast (a feed sending what cannot be used)",
    ),
    spec(Rule::RedisDown, "redis_down", "all", (1.0, 30, ""), "Redis does not answer"),
    spec(Rule::ClickhouseDown, "clickhouse_down", "consumer, query-api", (1.0, 60, ""), "ClickHouse does not answer"),
    spec(
        Rule::ApiErrors,
        "api_errors",
        "query-api",
        (10.0, 0, "per minute"),
        "the query API answers this many 5xx a minute",
    ),
    event(
        Rule::CleanupFailed,
        "cleanup_failed",
        "consumer",
        "the nightly cleanup failed, its checks found issues, or the calendar is ending",
    ),
];

impl RuleSpec {
    /// The rule's own threshold and hold time, on.
    pub fn limits(&self) -> Limits {
        Limits { enabled: true, threshold: self.threshold, hold_ms: self.hold_seconds as i64 * 1000 }
    }
}

impl Rule {
    pub fn spec(self) -> &'static RuleSpec {
        RULES.iter().find(|s| s.rule == self).expect("every rule has a spec")
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The rule named `name`, if any.
    pub fn named(name: &str) -> Option<Rule> {
        RULES.iter().find(|s| s.name == name).map(|s| s.rule)
    }
}

/// A rule's threshold and hold time as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub enabled: bool,
    pub threshold: f64,
    pub hold_ms: i64,
}

/// What a service read of one condition: its value now, and a sentence saying what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub rule: Rule,
    /// What the condition is about (a shard, a store), empty for the service as a whole.
    pub subject: String,
    pub value: f64,
    pub detail: String,
}

impl Reading {
    pub fn new(rule: Rule, value: f64, detail: impl Into<String>) -> Reading {
        Reading { rule, subject: String::new(), value, detail: detail.into() }
    }

    /// Whether `store` answers, as the condition `rule` (`redis_down`, `clickhouse_down`): 1 while
    /// it does not, with its `error` when known.
    pub fn store_down(rule: Rule, store: &str, down: bool, error: Option<&str>) -> Reading {
        let detail = match error {
            Some(e) => format!("{store} does not answer: {e}"),
            None => format!("{store} does not answer"),
        };
        Reading::new(rule, f64::from(u8::from(down)), detail)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
    /// An event: sent once.
    Notice,
}

/// One message to the receivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub rule: Rule,
    pub status: Status,
    pub subject: String,
    pub value: f64,
    pub threshold: f64,
    pub detail: String,
    /// When the condition began (epoch ms); the event's time for a notice.
    pub since_ms: i64,
    pub at_ms: i64,
    /// Fields a generic receiver gets beside the common ones (the cleanup's report summary).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One condition's state.
#[derive(Debug, Clone)]
struct Held {
    since_ms: i64,
    /// Whether it has held past its hold time: it is firing, told or held back by the budget.
    firing: bool,
    /// Whether its firing was sent: only then is its end.
    told: bool,
    last: Reading,
}

/// The conditions under watch and the notifications sent in the last hour, by rule.
#[derive(Debug)]
pub struct Watch {
    limits: BTreeMap<Rule, Limits>,
    max_per_hour: usize,
    held: BTreeMap<(Rule, String), Held>,
    sent: BTreeMap<Rule, VecDeque<i64>>,
    /// Per rule, the firings told whose `resolved` is still to come: a slot each, kept.
    reserved: BTreeMap<Rule, usize>,
    suppressed: BTreeMap<Rule, u64>,
}

impl Watch {
    pub fn new(limits: BTreeMap<Rule, Limits>, max_per_hour: u32) -> Watch {
        Watch {
            limits,
            max_per_hour: max_per_hour as usize,
            held: BTreeMap::new(),
            sent: BTreeMap::new(),
            reserved: BTreeMap::new(),
            suppressed: BTreeMap::new(),
        }
    }

    fn limits(&self, rule: Rule) -> Limits {
        self.limits.get(&rule).copied().unwrap_or_else(|| rule.spec().limits())
    }

    /// Whether the budget of `rule` has `slots` free at `now_ms` (a firing needs two: its own and
    /// its `resolved`'s); takes one if so, else counts it suppressed.
    fn spend(&mut self, rule: Rule, now_ms: i64, slots: usize) -> bool {
        let sent = self.sent.entry(rule).or_default();
        while sent.front().is_some_and(|&at| at <= now_ms - HOUR_MS) {
            sent.pop_front();
        }
        if sent.len() + self.reserved.get(&rule).copied().unwrap_or(0) + slots <= self.max_per_hour {
            sent.push_back(now_ms);
            return true;
        }
        *self.suppressed.entry(rule).or_default() += 1;
        false
    }

    /// The notifications `readings` (every condition the service read now) call for at `now_ms`. A
    /// condition held before and missing from `readings` has ended.
    pub fn observe(&mut self, now_ms: i64, readings: Vec<Reading>) -> Vec<Notification> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for reading in readings {
            let limits = self.limits(reading.rule);
            if !limits.enabled || reading.rule.spec().event || reading.value < limits.threshold {
                continue;
            }
            let key = (reading.rule, reading.subject.clone());
            seen.push(key.clone());
            let fresh = Held { since_ms: now_ms, firing: false, told: false, last: reading.clone() };
            let held = self.held.entry(key.clone()).or_insert(fresh);
            held.last = reading;
            held.firing = now_ms - held.since_ms >= limits.hold_ms;
            if held.firing && !held.told && self.spend(key.0, now_ms, 2) {
                *self.reserved.entry(key.0).or_default() += 1;
                let held = self.held.get_mut(&key).expect("just held");
                held.told = true;
                out.push(notification(&held.last, Status::Firing, limits.threshold, held.since_ms, now_ms));
            }
        }
        let ended: Vec<(Rule, String)> = self.held.keys().filter(|k| !seen.contains(k)).cloned().collect();
        for key in ended {
            let held = self.held.remove(&key).expect("listed");
            if held.told {
                self.reserved.entry(key.0).and_modify(|n| *n -= 1);
                self.sent.entry(key.0).or_default().push_back(now_ms);
                let threshold = self.limits(key.0).threshold;
                out.push(notification(&held.last, Status::Resolved, threshold, held.since_ms, now_ms));
            }
        }
        out
    }

    /// The notice of an event at `now_ms`, unless the rule is off or its budget is spent.
    pub fn event(&mut self, now_ms: i64, reading: Reading) -> Option<Notification> {
        (self.limits(reading.rule).enabled && self.spend(reading.rule, now_ms, 1))
            .then(|| notification(&reading, Status::Notice, 0.0, now_ms, now_ms))
    }

    /// How many conditions of `rule` are firing (told or held back by the budget).
    pub fn firing(&self, rule: Rule) -> usize {
        self.held.iter().filter(|((r, _), h)| *r == rule && h.firing).count()
    }

    /// Notifications the budget held back, by rule.
    pub fn suppressed(&self, rule: Rule) -> u64 {
        self.suppressed.get(&rule).copied().unwrap_or(0)
    }
}

fn notification(r: &Reading, status: Status, threshold: f64, since_ms: i64, at_ms: i64) -> Notification {
    Notification {
        rule: r.rule,
        status,
        subject: r.subject.clone(),
        value: r.value,
        threshold,
        detail: r.detail.clone(),
        since_ms,
        at_ms,
        extra: serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(max_per_hour: u32) -> Watch {
        Watch::new(BTreeMap::new(), max_per_hour)
    }

    fn stale(minutes: f64) -> Vec<Reading> {
        vec![Reading::new(Rule::FeedStale, minutes, format!("no tick for {minutes} session minutes"))]
    }

    fn statuses(n: &[Notification]) -> Vec<(Rule, Status)> {
        n.iter().map(|n| (n.rule, n.status)).collect()
    }

    #[test]
    fn a_condition_fires_once_while_it_holds_and_resolves_once_when_it_ends() {
        let mut w = watch(6);
        assert!(w.observe(0, stale(1.0)).is_empty(), "below the threshold of 2 minutes");
        let fired = w.observe(2_000, stale(2.0));
        assert_eq!(statuses(&fired), [(Rule::FeedStale, Status::Firing)]);
        assert_eq!((fired[0].threshold, fired[0].since_ms), (2.0, 2_000));
        for t in 1..100 {
            assert!(w.observe(2_000 + t * 2_000, stale(2.0 + t as f64)).is_empty(), "told once");
        }
        assert_eq!(w.firing(Rule::FeedStale), 1);
        let resolved = w.observe(300_000, stale(0.0));
        assert_eq!(statuses(&resolved), [(Rule::FeedStale, Status::Resolved)]);
        assert_eq!((resolved[0].since_ms, resolved[0].value), (2_000, 101.0), "the last value it had");
        assert!(w.observe(302_000, Vec::new()).is_empty());
        assert_eq!(w.firing(Rule::FeedStale), 0);
    }

    #[test]
    fn a_condition_with_a_hold_time_fires_only_after_holding_that_long() {
        let down = || vec![Reading::new(Rule::RedisDown, 1.0, "redis does not answer")];
        let mut w = watch(6);
        assert!(w.observe(0, down()).is_empty());
        assert!(w.observe(29_999, down()).is_empty(), "redis_down holds 30 s by default");
        assert!(w.observe(30_500, Vec::new()).is_empty(), "it ended untold: nothing to resolve");
        assert!(w.observe(40_000, down()).is_empty(), "held anew");
        assert_eq!(statuses(&w.observe(70_000, down())), [(Rule::RedisDown, Status::Firing)]);
    }

    #[test]
    fn a_flapping_condition_sends_at_most_the_hourly_budget_and_a_held_back_firing_later() {
        let mut w = watch(4);
        let mut sent = Vec::new();
        for minute in 0..60 {
            let readings = if minute % 2 == 0 { stale(5.0) } else { Vec::new() };
            sent.extend(w.observe(minute * 60_000, readings));
        }
        assert_eq!(
            statuses(&sent),
            [Status::Firing, Status::Resolved, Status::Firing, Status::Resolved].map(|s| (Rule::FeedStale, s)),
            "four in the hour, alternating, never a resolved without its firing"
        );
        assert_eq!(w.suppressed(Rule::FeedStale), 28, "the other firings, counted; their ends silent");
        assert!(w.observe(60 * 60_000, stale(5.0)).is_empty(), "three sent in the hour before: no room for two");
        let later = w.observe(62 * 60_000, stale(5.0));
        assert_eq!(statuses(&later), [(Rule::FeedStale, Status::Firing)], "the budget frees as the hour moves");
        assert_eq!(statuses(&w.observe(63 * 60_000, Vec::new())), [(Rule::FeedStale, Status::Resolved)]);
    }

    #[test]
    fn events_are_notices_within_the_budget_and_rules_can_be_turned_off_or_retuned() {
        let off = Limits { enabled: false, threshold: 0.0, hold_ms: 0 };
        let strict = Limits { enabled: true, threshold: 1.0, hold_ms: 0 };
        let mut w = Watch::new([(Rule::ProducerFault, off), (Rule::FeedStale, strict)].into(), 2);
        let took = |w: &mut Watch, t| w.event(t, Reading::new(Rule::StandbyTakeover, 1.0, "took over"));
        assert_eq!(took(&mut w, 0).map(|n| n.status), Some(Status::Notice));
        assert!(took(&mut w, 1).is_some());
        assert!(took(&mut w, 2).is_none(), "the budget of 2");
        let fault = Reading::new(Rule::ProducerFault, 1.0, "checkpoint format 4");
        assert!(w.observe(0, vec![fault]).is_empty(), "turned off");
        assert_eq!(statuses(&w.observe(0, stale(1.0))), [(Rule::FeedStale, Status::Firing)], "threshold 1 minute");
        let mut readings = stale(1.0);
        readings.push(Reading::new(Rule::StandbyTakeover, 1.0, "x"));
        assert!(w.observe(1, readings).is_empty(), "events are not read as conditions");
    }

    #[test]
    fn every_rule_has_one_spec_and_a_unique_name() {
        for spec in &RULES {
            assert_eq!(Rule::named(spec.name), Some(spec.rule));
            assert_eq!(spec.rule.spec().name, spec.name);
        }
        assert_eq!(Rule::named("feed_stael"), None);
    }
}
