//! The receivers' shapes, without I/O: the JSON body each kind of chat robot takes, the URL it is
//! posted to, and the signatures of Feishu/Lark and DingTalk robots that have a signing secret.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::rules::{Notification, Status};

/// What a receiver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The notification as one JSON object (Alertmanager-style relays, your own handler).
    #[default]
    Generic,
    /// A Feishu/Lark custom bot; signed when it has a secret.
    Feishu,
    /// A DingTalk custom robot; signed when it has a secret.
    Dingtalk,
    /// A WeCom (企业微信) group robot.
    Wecom,
    /// A Slack incoming webhook.
    Slack,
}

/// Who sends: the service and its instance.
#[derive(Debug, Clone)]
pub struct Sender {
    pub service: String,
    pub instance: String,
}

/// One request to a receiver: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub url: String,
    pub body: String,
}

/// The one-line text of a notification, as every chat shows it:
/// `[FIRING] tickbar producer (host-1) feed_stale: no tick for 3 session minutes (threshold 2 session minutes)`.
pub fn text(from: &Sender, n: &Notification) -> String {
    let status = match n.status {
        Status::Firing => "FIRING",
        Status::Resolved => "RESOLVED",
        Status::Notice => "NOTICE",
    };
    let subject = if n.subject.is_empty() { String::new() } else { format!(" [{}]", n.subject) };
    let spec = n.rule.spec();
    let threshold = match (n.status, spec.unit) {
        (Status::Notice, _) => String::new(),
        (_, "") => String::new(),
        (_, unit) => format!(" (threshold {} {unit})", n.threshold),
    };
    format!("[{status}] tickbar {} ({}) {}{subject}: {}{threshold}", from.service, from.instance, spec.name, n.detail)
}

/// The request `kind` takes for `n`, posted to `url`; `secret` signs it where the kind signs,
/// `now_ms` is the signature's time.
pub fn post(kind: Kind, url: &str, secret: Option<&str>, from: &Sender, n: &Notification, now_ms: i64) -> Post {
    let text = text(from, n);
    let (url, body) = match kind {
        Kind::Generic => (url.to_owned(), generic(from, n, &text)),
        Kind::Slack => (url.to_owned(), json!({ "text": text })),
        Kind::Wecom => (url.to_owned(), json!({ "msgtype": "text", "text": { "content": text } })),
        Kind::Dingtalk => {
            let body = json!({ "msgtype": "text", "text": { "content": text } });
            match secret {
                Some(secret) => (dingtalk_url(url, secret, now_ms), body),
                None => (url.to_owned(), body),
            }
        }
        Kind::Feishu => {
            let mut body = json!({ "msg_type": "text", "content": { "text": text } });
            if let Some(secret) = secret {
                let timestamp = now_ms.div_euclid(1000);
                body["timestamp"] = Value::String(timestamp.to_string());
                body["sign"] = Value::String(feishu_sign(secret, timestamp));
            }
            (url.to_owned(), body)
        }
    };
    Post { url, body: body.to_string() }
}

fn generic(from: &Sender, n: &Notification, text: &str) -> Value {
    let time = |ms: i64| common::Frame::from_epoch_seconds(ms.div_euclid(1000)).to_iso8601();
    let mut body = json!({
        "service": from.service,
        "instance": from.instance,
        "rule": n.rule,
        "status": n.status,
        "subject": n.subject,
        "value": n.value,
        "threshold": n.threshold,
        "text": text,
        "since": time(n.since_ms),
        "at": time(n.at_ms),
    });
    for (key, value) in &n.extra {
        body[key] = value.clone();
    }
    body
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, message).as_ref())
}

/// Feishu/Lark: HMAC-SHA256 keyed by `"{timestamp}\n{secret}"` over nothing, base64; `timestamp`
/// in seconds.
pub fn feishu_sign(secret: &str, timestamp: i64) -> String {
    hmac_sha256(format!("{timestamp}\n{secret}").as_bytes(), b"")
}

/// DingTalk: HMAC-SHA256 keyed by the secret over `"{timestamp}\n{secret}"`, base64;
/// `timestamp` in milliseconds.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_sha256(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes())
}

/// The robot's URL with `&timestamp=…&sign=…` (the signature URL-encoded) added.
fn dingtalk_url(url: &str, secret: &str, now_ms: i64) -> String {
    let sign: String = form_urlencoded::byte_serialize(dingtalk_sign(secret, now_ms).as_bytes()).collect();
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}timestamp={now_ms}&sign={sign}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::rules::Rule;

    fn notification(status: Status) -> Notification {
        Notification {
            rule: Rule::FeedStale,
            status,
            subject: String::new(),
            value: 3.0,
            threshold: 2.0,
            detail: "no tick for 3 session minutes".into(),
            since_ms: 1_675_215_000_000,
            at_ms: 1_675_215_180_000,
            extra: serde_json::Map::new(),
        }
    }

    fn from() -> Sender {
        Sender { service: "producer".into(), instance: "host-1".into() }
    }

    #[test]
    fn the_signatures_are_the_published_algorithms() {
        // Computed independently: python3 -c 'import hmac,hashlib,base64; ...' with the same inputs.
        assert_eq!(feishu_sign("s3cret", 1_675_215_180), "lsic+aVG31XjvwiO51mGiaP1TWEax03XB+6UGzjfF/s=");
        assert_eq!(dingtalk_sign("SEC0123", 1_675_215_180_000), "1MgjYg26MMiwjzBxzIw3oIWSpLKWliczBiG221TkBvE=");
    }

    #[test]
    fn each_kind_gets_its_own_shape() {
        let n = notification(Status::Firing);
        let text = "[FIRING] tickbar producer (host-1) feed_stale: no tick for 3 session minutes \
                    (threshold 2 session minutes)";
        let body = |kind, secret| -> (String, Value) {
            let p = post(kind, "https://robot.example/hook?access_token=t", secret, &from(), &n, 1_675_215_180_000);
            (p.url, serde_json::from_str(&p.body).unwrap())
        };
        assert_eq!(body(Kind::Slack, None).1, json!({ "text": text }));
        assert_eq!(body(Kind::Wecom, None).1, json!({ "msgtype": "text", "text": { "content": text } }));
        let (url, ding) = body(Kind::Dingtalk, Some("SEC0123"));
        assert_eq!(ding, json!({ "msgtype": "text", "text": { "content": text } }));
        assert_eq!(
            url,
            "https://robot.example/hook?access_token=t&timestamp=1675215180000\
             &sign=1MgjYg26MMiwjzBxzIw3oIWSpLKWliczBiG221TkBvE%3D"
        );
        let (_, feishu) = body(Kind::Feishu, Some("s3cret"));
        assert_eq!(
            feishu,
            json!({ "msg_type": "text", "content": { "text": text }, "timestamp": "1675215180",
                    "sign": "lsic+aVG31XjvwiO51mGiaP1TWEax03XB+6UGzjfF/s=" })
        );
        assert_eq!(body(Kind::Feishu, None).1.get("sign"), None, "unsigned without a secret");
        let (_, generic) = body(Kind::Generic, None);
        assert_eq!(
            (&generic["rule"], &generic["status"], &generic["since"], &generic["text"]),
            (&json!("feed_stale"), &json!("firing"), &json!("2023-02-01T09:30:00+08:00"), &json!(text))
        );
    }

    #[test]
    fn resolved_and_notices_say_so() {
        let resolved = text(&from(), &notification(Status::Resolved));
        assert!(resolved.starts_with("[RESOLVED] tickbar producer (host-1) feed_stale: "), "{resolved}");
        let mut notice = notification(Status::Notice);
        notice.rule = Rule::StandbyTakeover;
        notice.detail = "took the lease from host-2".into();
        assert_eq!(
            text(&from(), &notice),
            "[NOTICE] tickbar producer (host-1) standby_takeover: took the lease from host-2"
        );
    }
}
