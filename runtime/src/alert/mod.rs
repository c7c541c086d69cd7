//! Alerts to chat from every service: `[alerts]` (its receivers, its rules' thresholds, the
//! hourly budget, the CA to trust), and [`Alerts`], which takes the readings a service makes of
//! itself on every probe and the events it meets, lets [`rules::Watch`] decide what to say, and
//! posts each notification to every receiver in its own shape ([`receiver`]) over HTTPS or HTTP, in
//! the background: retried with backoff, never blocking the service, every send counted.

pub mod receiver;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::settings::{redacted, redacted_endpoint, TlsSettings};
use crate::Error;
pub use receiver::Kind;
use receiver::Sender;
pub use rules::{Limits, Reading, Rule, Status, RULES};
use rules::{Notification, Watch};

/// How long a stopping service waits for its last alerts to be delivered.
pub const FLUSH_AT_STOP: Duration = Duration::from_secs(5);

/// `[alerts]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Notifications one rule may send in any hour (firing, resolved and notices together).
    pub max_per_hour: u32,
    /// Tries of each post before it is given up (and counted as failed), backing off 0.1 s to 5 s.
    pub attempts: u32,
    /// How long one post may take.
    pub timeout_ms: u64,
    /// The CA an `https://` receiver is trusted by (else the system's roots), a client certificate.
    pub tls: TlsSettings,
    /// The receivers, by a name of your choosing (`[alerts.receivers.ops]`).
    pub receivers: BTreeMap<String, ReceiverSettings>,
    /// Each rule's settings, by the rule's name (`[alerts.rules.feed_stale]`); unset, its defaults.
    pub rules: BTreeMap<String, RuleSettings>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            max_per_hour: 6,
            attempts: 8,
            timeout_ms: 10_000,
            tls: TlsSettings::default(),
            receivers: BTreeMap::new(),
            rules: BTreeMap::new(),
        }
    }
}

/// `[alerts.receivers.NAME]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverSettings {
    pub kind: Kind,
    /// The `https://` (or `http://`) URL posted to; `check-config` prints only its host.
    #[serde(serialize_with = "redacted_endpoint")]
    pub url: Option<String>,
    /// The signing secret of a Feishu/Lark or DingTalk robot; `check-config` prints `(set)`.
    #[serde(serialize_with = "redacted")]
    pub secret: Option<String>,
    /// The names of the rules it is told about; empty, all of them.
    pub rules: Vec<String>,
}

/// `[alerts.rules.NAME]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSettings {
    pub enabled: bool,
    /// The value at or above which the condition holds; unset, the rule's default.
    pub threshold: Option<f64>,
    /// How long it must hold before it fires; unset, the rule's default.
    pub hold_seconds: Option<u64>,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings { enabled: true, threshold: None, hold_seconds: None }
    }
}

impl AlertSettings {
    /// Refuses rule names no rule has, receivers without a usable URL, a secret a kind cannot use,
    /// and a budget or attempts of zero.
    pub fn check(&self) -> Result<(), String> {
        let known = || RULES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
        let rule = |name: &str, key: String| match Rule::named(name) {
            Some(_) => Ok(()),
            None => Err(format!("{key}: no rule is named {name:?}; the rules: {}", known())),
        };
        for name in self.rules.keys() {
            rule(name, format!("alerts.rules.{name}"))?;
        }
        for (name, r) in &self.receivers {
            let key = format!("alerts.receivers.{name}");
            match r.url.as_deref() {
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => {}
                Some(_) => return Err(format!("{key}.url must be an https:// or http:// URL")),
                None => return Err(format!("{key}.url is required")),
            }
            if r.secret.is_some() && !matches!(r.kind, Kind::Feishu | Kind::Dingtalk) {
                return Err(format!("{key}.secret signs only feishu and dingtalk robots, not {:?}", r.kind));
            }
            for listed in &r.rules {
                rule(listed, format!("{key}.rules"))?;
            }
        }
        if self.max_per_hour == 0 || self.attempts == 0 {
            return Err("alerts.max_per_hour and alerts.attempts must be at least 1".into());
        }
        Ok(())
    }

    fn limits(&self) -> BTreeMap<Rule, Limits> {
        let of = |spec: &rules::RuleSpec| {
            let (set, own) = (self.rules.get(spec.name).cloned().unwrap_or_default(), spec.limits());
            Limits {
                enabled: set.enabled,
                threshold: set.threshold.unwrap_or(own.threshold),
                hold_ms: set.hold_seconds.map_or(own.hold_ms, |seconds| seconds as i64 * 1000),
            }
        };
        RULES.iter().map(|spec| (spec.rule, of(spec))).collect()
    }
}

type HttpClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A receiver ready to post to.
struct Receiver {
    name: String,
    kind: Kind,
    url: String,
    secret: Option<String>,
    rules: Vec<Rule>,
}

/// Posts not yet delivered or given up, for [`Alerts::flush`].
#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    done: Notify,
}

/// A service's alerting: its watch, its receivers and what was sent.
pub struct Alerts {
    from: Sender,
    clock: Clock,
    watch: Mutex<Watch>,
    receivers: Vec<Receiver>,
    client: HttpClient,
    attempts: u32,
    timeout: Duration,
    /// Posts by receiver and outcome (`sent`, `failed`), and retries by receiver.
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
    pending: Pending,
}

impl Alerts {
    /// The alerting of `service` (its `instance` named in every message) on `clock`.
    pub fn new(settings: &AlertSettings, service: &str, instance: String, clock: Clock) -> Result<Arc<Alerts>, Error> {
        settings.check().map_err(Error::Invalid)?;
        let tls = crate::tls::Pem::read("alerts", &settings.tls)?.client_config("alerts")?;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build(),
        );
        let receivers = (settings.receivers.iter())
            .map(|(name, r)| Receiver {
                name: name.clone(),
                kind: r.kind,
                url: r.url.clone().unwrap_or_default(),
                secret: r.secret.clone(),
                rules: r.rules.iter().filter_map(|n| Rule::named(n)).collect(),
            })
            .collect();
        Ok(Arc::new(Alerts {
            from: Sender { service: service.to_owned(), instance },
            clock,
            watch: Mutex::new(Watch::new(settings.limits(), settings.max_per_hour)),
            receivers,
            client,
            attempts: settings.attempts,
            timeout: Duration::from_millis(settings.timeout_ms),
            counts: Mutex::new(BTreeMap::new()),
            pending: Pending::default(),
        }))
    }

    /// The clock the service runs on.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Judges `readings`, every condition the service read now, and sends what they call for.
    pub fn observe(self: &Arc<Self>, readings: Vec<Reading>) {
        let notifications = self.watch.lock().observe(self.clock.now_ms(), readings);
        notifications.into_iter().for_each(|n| self.dispatch(n));
    }

    /// Sends an event's notice (with `extra` fields for generic receivers), budget allowing.
    pub fn event(self: &Arc<Self>, reading: Reading, extra: serde_json::Map<String, serde_json::Value>) {
        let notice = self.watch.lock().event(self.clock.now_ms(), reading);
        if let Some(mut n) = notice {
            n.extra = extra;
            self.dispatch(n);
        }
    }

    /// Waits until every post so far is delivered or given up, at most `within`; whether it was.
    pub async fn flush(&self, within: Duration) -> bool {
        let all_done = async {
            loop {
                let done = self.pending.done.notified();
                if self.pending.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                done.await;
            }
        };
        tokio::time::timeout(within, all_done).await.is_ok()
    }

    fn dispatch(self: &Arc<Self>, n: Notification) {
        tracing::info!(rule = n.rule.name(), status = ?n.status, detail = %n.detail, "alert");
        for (index, r) in self.receivers.iter().enumerate() {
            if !r.rules.is_empty() && !r.rules.contains(&n.rule) {
                continue;
            }
            let post = receiver::post(r.kind, &r.url, r.secret.as_deref(), &self.from, &n, self.clock.now_ms());
            self.pending.count.fetch_add(1, Ordering::SeqCst);
            let alerts = self.clone();
            tokio::spawn(async move {
                alerts.deliver(index, post).await;
                alerts.pending.count.fetch_sub(1, Ordering::SeqCst);
                alerts.pending.done.notify_waiters();
            });
        }
    }

    async fn deliver(&self, index: usize, post: receiver::Post) {
        let name = &self.receivers[index].name;
        let mut backoff = Backoff::new();
        for attempt in 1..=self.attempts {
            match self.send(&post).await {
                Ok(()) => return self.count(name, "sent"),
                Err(e) if attempt == self.attempts => {
                    tracing::warn!(receiver = %name, error = %e, attempts = attempt, "alert not delivered; given up");
                    return self.count(name, "failed");
                }
                Err(e) => {
                    tracing::debug!(receiver = %name, error = %e, "alert post failed; retrying");
                    self.count(name, "retry");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    async fn send(&self, post: &receiver::Post) -> Result<(), String> {
        let request = hyper::Request::post(&post.url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(post.body.clone())))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
            .map_err(|e| e.to_string())?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("answered {s}")),
        }
    }

    fn count(&self, receiver: &str, outcome: &'static str) {
        *self.counts.lock().entry((receiver.to_owned(), outcome)).or_default() += 1;
    }

    /// `tickbar_alerts_firing{rule}`, `tickbar_alerts_suppressed_total{rule}`,
    /// `tickbar_alert_posts_total{receiver,outcome}` and `tickbar_alert_retries_total{receiver}`.
    pub fn metrics(&self, m: &mut Metrics) {
        let watch = self.watch.lock();
        for spec in RULES.iter().filter(|s| !s.event) {
            let help = "Conditions of the rule firing now (past threshold and hold time).";
            m.gauge("tickbar_alerts_firing", help, &[("rule", spec.name)], watch.firing(spec.rule) as f64);
        }
        for spec in &RULES {
            let help = "Notifications the rule's hourly budget (alerts.max_per_hour) held back.";
            m.counter("tickbar_alerts_suppressed_total", help, &[("rule", spec.name)], watch.suppressed(spec.rule));
        }
        let counts = self.counts.lock();
        let count = |name: &str, outcome| counts.get(&(name.to_owned(), outcome)).copied().unwrap_or(0);
        for r in &self.receivers {
            for outcome in ["sent", "failed"] {
                let help = "Alert posts by receiver: delivered (sent) or given up after every attempt (failed).";
                let labels = [("receiver", r.name.as_str()), ("outcome", outcome)];
                m.counter("tickbar_alert_posts_total", help, &labels, count(&r.name, outcome));
            }
        }
        for r in &self.receivers {
            let help = "Alert posts tried again after a failure.";
            m.counter("tickbar_alert_retries_total", help, &[("receiver", r.name.as_str())], count(&r.name, "retry"));
        }
    }
}
