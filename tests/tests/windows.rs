//! The Windows build run: the cross-built `producer.exe`, `consumer.exe` and `query-api.exe` under
//! Wine against the test's real Redis and ClickHouse. The producer replays the bundled sample day
//! into exactly the bars the Linux producer builds from it, and the stop the Windows service manager
//! sends (Ctrl-C, which Wine raises for SIGINT) checkpoints it; the consumer and the query API start
//! and answer `/readyz`. Ignored in `cargo test`: `deploy/check-windows.sh` runs these with
//! `TICKBAR_WINDOWS_DIR` (the .exe files beside Wine's missing `bcryptprimitives.dll`), `TICKBAR_WINE`
//! (`wine64`) and `WINEPREFIX` set.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::servers::RedisServer;
use harness::service::ServiceProcess;
use harness::Stores;
use redis::AsyncCommands;
use runtime::keys::Keys;

/// `exe` (`producer`) of the Windows build run under Wine with `env`, logging at `info`.
fn under_wine(exe: &str, env: &[(&str, String)], log: &std::path::Path) -> ServiceProcess {
    let dir =
        PathBuf::from(std::env::var("TICKBAR_WINDOWS_DIR").expect("TICKBAR_WINDOWS_DIR: run deploy/check-windows.sh"));
    let wine = std::env::var("TICKBAR_WINE").expect("TICKBAR_WINE");
    let exe = dir.join(format!("{exe}.exe")).display().to_string();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ServiceProcess::spawn_logging(&wine, &[&exe], &env, log, "info")
}

/// The sample day replayed into the stream of `redis` by the Linux `producer replay`.
fn replay_sample_day(redis: &RedisServer, dir: &std::path::Path) {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample");
    let day = sample::files::read_gz(&sample.join(sample::files::qmt_file(sample::market::DAYS[2]))).unwrap();
    let file = dir.join("day.jsonl");
    std::fs::write(&file, day).unwrap();
    let out = Command::new(harness::workspace_binary("producer"))
        .args(["replay", "--speed", "0", "--file"])
        .arg(&file)
        .env("TICKBAR__REDIS__URL", redis.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "replay: {}", String::from_utf8_lossy(&out.stderr));
}

async fn caught_up(redis: &RedisServer) {
    let mut con = redis.connect().await.unwrap();
    let started = Instant::now();
    while !harness::stack::producer_caught_up(&mut con, &Keys::default().tick_stream()).await {
        assert!(started.elapsed() < Duration::from_secs(120), "the producer never applied the whole stream");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every bar the producer keeps: each closed-bar set with its scores, each forming-bar hash.
async fn bars(redis: &RedisServer) -> BTreeMap<String, Vec<(String, String)>> {
    let mut con = redis.connect().await.unwrap();
    let keys: Vec<String> = con.keys("tickbar:bars:*").await.unwrap();
    let mut all = BTreeMap::new();
    for key in keys {
        let bars: Vec<(String, String)> = con.zrange_withscores(&key, 0, -1).await.unwrap();
        all.insert(key, bars);
    }
    let forming: Vec<String> = con.keys("tickbar:forming:*").await.unwrap();
    for key in forming {
        let mut fields: Vec<(String, String)> = con.hgetall(&key).await.unwrap();
        fields.sort();
        all.insert(key, fields);
    }
    all
}

/// The stream's last entry and the checkpoint's (`last_id`, `format`).
async fn checkpoint(redis: &RedisServer) -> (String, Option<String>, Option<String>) {
    let mut con = redis.connect().await.unwrap();
    let last: redis::streams::StreamRangeReply =
        con.xrevrange_count(Keys::default().tick_stream(), "+", "-", 1).await.unwrap();
    let field = |name: &str| redis::cmd("HGET").arg("tickbar:producer:state").arg(name).clone();
    let last_id: Option<String> = field("last_id").query_async(&mut con).await.unwrap();
    let format: Option<String> = field("format").query_async(&mut con).await.unwrap();
    (last.ids[0].id.clone(), last_id, format)
}

#[tokio::test]
#[ignore = "needs Wine and the Windows build: run by deploy/check-windows.sh"]
async fn the_windows_producer_builds_the_linux_producers_bars_and_checkpoints_when_the_service_manager_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let (linux_redis, wine_redis) = (RedisServer::start().await.unwrap(), RedisServer::start().await.unwrap());
    replay_sample_day(&linux_redis, dir.path());
    replay_sample_day(&wine_redis, dir.path());
    let settings = |redis: &RedisServer| {
        vec![
            ("TICKBAR__REDIS__URL", redis.url()),
            ("TICKBAR__PRODUCER__CLOCK", "event".to_owned()),
            ("TICKBAR__PRODUCER__CHECKPOINT_INTERVAL_MS", "3600000".to_owned()),
        ]
    };
    let log = dir.path().join("linux.log");
    let env = settings(&linux_redis);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut linux = ServiceProcess::spawn_logging(
        &harness::workspace_binary("producer").display().to_string(),
        &[],
        &env,
        &log,
        "info",
    );
    caught_up(&linux_redis).await;
    assert!(linux.terminate().success());

    let wine_log = dir.path().join("wine.log");
    let mut windows = under_wine("producer", &settings(&wine_redis), &wine_log);
    windows.answering("/readyz").await;
    caught_up(&wine_redis).await;
    let (last, before, _) = checkpoint(&wine_redis).await;
    assert_ne!(
        before.as_deref(),
        Some(last.as_str()),
        "no periodic checkpoint within the hour: only the stop writes it"
    );
    windows.signal("INT");
    let stopped = windows.child.wait().unwrap();
    let log = windows.log();
    assert!(
        stopped.success() && log.contains("shutdown requested") && log.contains("producer stopped"),
        "{stopped}: {log}"
    );
    let (last, after, format) = checkpoint(&wine_redis).await;
    assert_eq!((after.as_deref(), format.as_deref()), (Some(last.as_str()), Some("3")), "the stop checkpointed");

    let (built, expected) = (bars(&wine_redis).await, bars(&linux_redis).await);
    let count = expected.values().map(Vec::len).sum::<usize>();
    assert!(
        count > 10_000,
        "the sample day's bars, every period of its 50 symbols: {count} in {} keys",
        expected.len()
    );
    assert_eq!(built.len(), expected.len(), "the same bar keys");
    assert!(built == expected, "producer.exe under Wine built other bars than the Linux producer");
    let reloads = log.matches("calendar applied").count();
    assert!(reloads <= 3, "the calendar was applied {reloads} times: a busy loop where there is no SIGHUP");
}

#[tokio::test]
#[ignore = "needs Wine and the Windows build: run by deploy/check-windows.sh"]
async fn the_windows_consumer_and_query_api_start_against_real_stores_and_answer_readyz() {
    let stores = Stores::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![("TICKBAR__REDIS__URL", stores.redis.url())];
    env.extend([("TICKBAR__CLICKHOUSE__URL", stores.clickhouse.url())]);
    for exe in ["consumer", "query-api"] {
        let log = dir.path().join(format!("{exe}.log"));
        let mut service = under_wine(exe, &env, &log);
        service.answering("/readyz").await;
        let (status, metrics) = service.get("/metrics").await;
        assert_eq!(status, 200);
        assert_eq!(harness::promtool::check_metrics(&metrics).unwrap(), "", "{exe}.exe /metrics");
        service.signal("INT");
        let stopped = service.child.wait().unwrap();
        assert!(stopped.success() && service.log().contains("stopped"), "{exe}.exe: {stopped}: {}", service.log());
    }
}
