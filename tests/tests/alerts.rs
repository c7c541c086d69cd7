//! Alerts to chat, end to end: every robot shape posted over HTTPS to a local receiver trusting a
//! test CA, the Feishu and DingTalk signatures checked against `openssl`'s HMAC; a receiver that is
//! down delays nobody else and gets its post once it is up; a flapping condition sends no more than
//! the hourly budget; and a producer on a set clock whose feed stops fires `feed_stale` once and
//! sends `resolved` once when the feed resumes, and says nothing when it is restarted mid-session;
//! a standby that takes over from a producer that died sends one `standby_takeover` notice.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::certs::TestCerts;
use harness::clock::SetClock;
use harness::receiver::{Post, Receiver};
use harness::servers::RedisServer;
use harness::service::ServiceProcess;
use runtime::alert::{AlertSettings, Alerts, Kind, Reading, ReceiverSettings, Rule};
use runtime::clock::Clock;
use runtime::keys::Keys;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn receiver(kind: Kind, url: String, secret: Option<&str>) -> ReceiverSettings {
    ReceiverSettings { kind, url: Some(url), secret: secret.map(str::to_owned), rules: Vec::new() }
}

fn feed_stale(minutes: f64) -> Vec<Reading> {
    vec![Reading::new(Rule::FeedStale, minutes, format!("no tick from any symbol for {minutes} session minutes"))]
}

/// `openssl` run with `args`, `input` on its stdin: its output.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

/// HMAC-SHA256 of `message` under `key`, base64, computed by `openssl`, not by tickbar's code.
fn hmac(key: &str, message: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    let mac = openssl(
        &["dgst", "-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{hex}"), "-binary"],
        message.as_bytes(),
    );
    String::from_utf8(openssl(&["base64", "-A"], &mac)).unwrap()
}

fn body(post: &Post) -> Value {
    serde_json::from_str(&post.body).unwrap_or_else(|e| panic!("{e}: {}", post.body))
}

/// The query parameter `name` of a request target, URL-decoded (enough for base64).
fn query(target: &str, name: &str) -> String {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let value = query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}="))).unwrap_or_default();
    value.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=")
}

#[tokio::test]
async fn every_chat_robot_gets_its_shape_over_https_and_a_receiver_that_is_down_delays_nobody() {
    let certs = TestCerts::generate().unwrap();
    let robots = Receiver::start(Some(certs.server())).await;
    let late = Receiver::start_later(harness::free_port().unwrap(), Duration::from_millis(1500));
    let mut settings = AlertSettings::default();
    settings.tls.ca_file = Some(certs.ca());
    settings.receivers = BTreeMap::from([
        ("feishu".into(), receiver(Kind::Feishu, format!("{}/feishu", robots.url), Some("s3cret"))),
        ("dingtalk".into(), receiver(Kind::Dingtalk, format!("{}/dingtalk?access_token=t", robots.url), Some("SEC1"))),
        ("wecom".into(), receiver(Kind::Wecom, format!("{}/wecom?key=k", robots.url), None)),
        ("slack".into(), receiver(Kind::Slack, format!("{}/slack", robots.url), None)),
        ("generic".into(), receiver(Kind::Generic, format!("{}/generic", robots.url), None)),
        ("late".into(), receiver(Kind::Generic, format!("{}/late", late.url), None)),
    ]);
    let alerts = Alerts::new(&settings, "producer", "test-host".into(), Clock::System).unwrap();
    let sent_at = harness::clock::real_ms();
    alerts.observe(feed_stale(3.0));

    let posts = robots.wait_for(5, WAIT).await;
    assert!(late.posts().is_empty(), "the five robots were told while the late one was still down");
    let text = "[FIRING] tickbar producer (test-host) feed_stale: no tick from any symbol for 3 session minutes \
                (threshold 2 session minutes)";
    let of =
        |path: &str| posts.iter().find(|p| p.target.starts_with(path)).unwrap_or_else(|| panic!("{path}: {posts:?}"));

    let feishu = body(of("/feishu"));
    assert_eq!((&feishu["msg_type"], &feishu["content"]["text"]), (&Value::from("text"), &Value::from(text)));
    let timestamp: i64 = feishu["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((timestamp * 1000 - sent_at).abs() < 60_000, "the signature's time is now: {timestamp}");
    assert_eq!(feishu["sign"], hmac(&format!("{timestamp}\ns3cret"), ""), "Feishu: key timestamp\\nsecret, no message");

    let ding = of("/dingtalk");
    assert_eq!(body(ding), serde_json::json!({ "msgtype": "text", "text": { "content": text } }));
    let timestamp = query(&ding.target, "timestamp");
    assert_eq!(query(&ding.target, "access_token"), "t");
    assert_eq!(query(&ding.target, "sign"), hmac("SEC1", &format!("{timestamp}\nSEC1")), "DingTalk: {}", ding.target);

    assert_eq!(body(of("/wecom")), serde_json::json!({ "msgtype": "text", "text": { "content": text } }));
    assert_eq!(body(of("/slack")), serde_json::json!({ "text": text }));
    let generic = body(of("/generic"));
    assert_eq!(
        (&generic["rule"], &generic["status"], &generic["value"], &generic["threshold"], &generic["instance"]),
        (&Value::from("feed_stale"), &Value::from("firing"), &Value::from(3.0), &Value::from(2.0), &"test-host".into())
    );
    assert!(posts.iter().all(|p| p.head.to_ascii_lowercase().contains("content-type: application/json")));

    let told = late.wait_for(1, WAIT).await;
    assert_eq!(body(&told[0])["status"], "firing", "the late receiver got it once it was up");
    let mut metrics = runtime::metrics::Metrics::new();
    alerts.metrics(&mut metrics);
    let metrics = metrics.finish();
    for line in [
        "tickbar_alert_posts_total{receiver=\"late\",outcome=\"sent\"} 1",
        "tickbar_alert_posts_total{receiver=\"feishu\",outcome=\"sent\"} 1",
        "tickbar_alerts_firing{rule=\"feed_stale\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    assert!(!metrics.contains("tickbar_alert_retries_total{receiver=\"late\"} 0"), "retried while down:\n{metrics}");
    assert!(metrics.contains("tickbar_alert_retries_total{receiver=\"slack\"} 0"), "{metrics}");

    alerts.observe(Vec::new());
    assert!(alerts.flush(WAIT).await);
    let resolved: Vec<Post> = robots.posts().into_iter().skip(5).collect();
    assert_eq!(resolved.len(), 5, "a resolved to each: {resolved:?}");
    assert!(body(of("/slack"))["text"].as_str().unwrap().starts_with("[FIRING]"));
    let slack = resolved.iter().find(|p| p.target == "/slack").unwrap();
    assert!(body(slack)["text"].as_str().unwrap().starts_with("[RESOLVED] tickbar producer (test-host) feed_stale"));
}

#[tokio::test]
async fn a_flapping_condition_sends_no_more_than_the_hourly_budget() {
    let chat = Receiver::start(None).await;
    let settings = AlertSettings {
        max_per_hour: 4,
        receivers: BTreeMap::from([("chat".into(), receiver(Kind::Slack, chat.url.clone(), None))]),
        ..AlertSettings::default()
    };
    let alerts = Alerts::new(&settings, "producer", "test-host".into(), Clock::System).unwrap();
    for flap in 0..20 {
        alerts.observe(if flap % 2 == 0 { feed_stale(3.0) } else { Vec::new() });
    }
    assert!(alerts.flush(WAIT).await);
    let said: Vec<String> = chat.posts().iter().map(|p| body(p)["text"].as_str().unwrap()[..10].to_owned()).collect();
    assert_eq!(said, ["[FIRING] t", "[RESOLVED]", "[FIRING] t", "[RESOLVED]"], "four, in pairs");
    let mut metrics = runtime::metrics::Metrics::new();
    alerts.metrics(&mut metrics);
    let metrics = metrics.finish();
    assert!(metrics.contains("tickbar_alerts_suppressed_total{rule=\"feed_stale\"} 8"), "{metrics}");
}

/// Ticks of 600519.SH stamped on `clock` every 100 ms (3 s of market time) for `real` seconds.
async fn feed(con: &mut redis::aio::MultiplexedConnection, clock: &SetClock, real: Duration) {
    let until = std::time::Instant::now() + real;
    while std::time::Instant::now() < until {
        let tick = format!(r#"{{"symbol":"600519.SH","time":{},"price":1850.5,"volume":100}}"#, clock.now());
        let _: String = redis::cmd("XADD")
            .arg(Keys::default().tick_stream())
            .arg("*")
            .arg("tick")
            .arg(tick)
            .query_async(con)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_producer_whose_feed_stops_fires_feed_stale_once_and_resolves_once_when_it_resumes() {
    let redis = RedisServer::start().await.unwrap();
    let mut con = redis.connect().await.unwrap();
    let chat = Receiver::start(None).await;
    let clock = SetClock::new("2023-02-01T09:29:00", 30, 1_000);
    let mut env: Vec<(&str, String)> = clock.env();
    env.extend([
        ("TICKBAR__REDIS__URL", redis.url()),
        ("TICKBAR__ALERTS__RECEIVERS__OPS__URL", format!("{}/ops", chat.url)),
        ("TICKBAR__ALERTS__RECEIVERS__OPS__KIND", "generic".into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let binary = harness::workspace_binary("producer").display().to_string();
    let mut producer = ServiceProcess::spawn(&binary, &[], &env);
    producer.answering("/readyz").await;

    clock.until(common::time::parse_datetime("2023-02-01T09:30:00").unwrap()).await;
    feed(&mut con, &clock, Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(chat.posts().is_empty(), "a feed ticking every 3 s is not stale: {:?}", chat.posts());
    tokio::time::sleep(Duration::from_secs(8)).await;
    let fired = chat.wait_for(1, WAIT).await;
    let (_, told) = tokio::join!(feed(&mut con, &clock, Duration::from_secs(12)), chat.wait_for(2, WAIT));
    producer.assert_running();

    let said: Vec<(Value, Value)> =
        chat.posts().iter().map(body).map(|b| (b["rule"].clone(), b["status"].clone())).collect();
    let once = [("feed_stale".into(), "firing".into()), ("feed_stale".into(), "resolved".into())];
    assert_eq!(said, once, "and nothing more while the feed went on: {told:?}");
    let firing = body(&fired[0]);
    assert!(firing["value"].as_f64().unwrap() >= 2.0, "{firing}");
    assert_eq!(firing["since"], body(&told[1])["since"], "the resolved names when it began");
    let (_, metrics) = producer.get("/metrics").await;
    assert!(metrics.contains("tickbar_alert_posts_total{receiver=\"ops\",outcome=\"sent\"} 2"), "{metrics}");
    assert!(metrics.contains("tickbar_producer_feed_silent_seconds "), "in a session: {metrics}");
    assert_eq!(harness::promtool::check_metrics(&metrics).unwrap(), "", "with a receiver too:\n{metrics}");

    assert!(producer.terminate().success());
    let mut again = ServiceProcess::spawn(&binary, &[], &env);
    tokio::join!(feed(&mut con, &clock, Duration::from_secs(6)), again.answering("/readyz"));
    assert_eq!(chat.posts().len(), 2, "a restart in the session, the feed going, is no feed_stale: {:?}", chat.posts());
}

#[tokio::test]
async fn a_standby_that_takes_over_from_a_producer_that_died_sends_one_notice() {
    let redis = RedisServer::start().await.unwrap();
    let chat = Receiver::start(None).await;
    let binary = harness::workspace_binary("producer").display().to_string();
    let url = redis.url();
    let shared = [("TICKBAR__REDIS__URL", url.as_str()), ("TICKBAR__PRODUCER__LEASE_TTL_MS", "1000")];
    let mut active = ServiceProcess::spawn(&binary, &[], &shared);
    active.answering("/readyz").await;
    let ops = format!("{}/ops", chat.url);
    let mut env = shared.to_vec();
    env.extend([
        ("TICKBAR__ALERTS__RECEIVERS__OPS__URL", ops.as_str()),
        ("TICKBAR__ALERTS__RECEIVERS__OPS__KIND", "slack"),
    ]);
    let mut standby = ServiceProcess::spawn(&binary, &[], &env);
    standby.answering("/readyz").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(chat.posts().is_empty(), "standing by is no news: {:?}", chat.posts());

    active.kill();
    let told = chat.wait_for(1, WAIT).await;
    let text = body(&told[0])["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("[NOTICE] tickbar producer") && text.contains("standby_takeover: took over the lease from"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    standby.assert_running();
    assert_eq!(chat.posts().len(), 1, "one notice: {:?}", chat.posts());
}
