//! tickbar scaled out: symbol-sharded producers with their standbys, each shard's stream, state and
//! lease apart, the history on a two-shard ClickHouse cluster (`sql/cluster/sharded.sql`) or on two
//! replicas (`replicated.sql`), Redis under Sentinel with its master killed mid-day, and Redis as
//! a 3-master cluster (`redis.mode = "cluster"`, sharded pub/sub to the live stream). The
//! bundled sample through two shards of each is served exactly as the rules give (what a single
//! producer on a single ClickHouse serves, `end_to_end.rs`), the feeds and the Python bridge put
//! every symbol on the shard the producers expect, the history of a symbol lies on the ClickHouse
//! shard of the same index, and the cleanup empties every shard.

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Bar, Period};
use harness::stack::{Sample, Scale, StackOptions, WholeStack};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use runtime::keys::Keys;
use sample::market::{generate, DAYS};

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample")
}

/// The bars `GET /api/v1/bars` serves of `symbol` and `period` over the sample's three days.
async fn served(stack: &WholeStack, symbol: &str, period: Period) -> Vec<Bar> {
    let [first, _, day] = DAYS;
    let path = format!("/api/v1/bars?symbol={symbol}&period={}&start={first}&end={day}", period.minutes());
    let (status, body) = stack.api.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    serde_json::from_value(answer["bars"].clone()).unwrap()
}

/// A stack laid out as `scale`, the sample unpacked into it.
async fn started(scale: Scale) -> (WholeStack, Sample) {
    let producer = harness::workspace_binary("producer");
    let options = StackOptions { scale, ..StackOptions::plain(producer.parent().unwrap()) };
    let stack = WholeStack::start(options).await.unwrap();
    let sample = stack.unpack(&sample_dir()).unwrap();
    (stack, sample)
}

/// A [`started`] stack with the whole sample fed and stored: the history in ClickHouse, the day
/// applied by the producers.
async fn loaded(scale: Scale) -> (WholeStack, Sample) {
    let (mut stack, sample) = started(scale).await;
    stack.import_history(&sample).unwrap();
    stack.run("producer", &["replay", "--file", &sample.day.display().to_string(), "--speed", "0"]).unwrap();
    stack.history_stored(sample.history_bars).await.unwrap();
    stack.day_applied().await.unwrap();
    (stack, sample)
}

/// Every bar of every symbol and period over the sample's three days, as `GET /api/v1/bars` serves
/// it, is the rule oracle's (what the single-producer, single-node end-to-end test is held to).
async fn serves_the_oracle(stack: &WholeStack) {
    let (stocks, days) = generate();
    for (i, stock) in stocks.iter().enumerate() {
        let symbol = stock.symbol.to_string();
        for period in Period::DEFAULTS {
            let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[i], period)).collect();
            assert_eq!(served(stack, &symbol, period).await, want, "{symbol} {period}m");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_producer_shards_with_standbys_and_two_clickhouse_shards_serve_the_sample_as_one_of_each_does() {
    let (stack, sample) = loaded(Scale { shards: 2, standbys: true, clickhouse_shards: 2, ..Scale::default() }).await;

    let (stocks, _) = generate();
    let keys = Keys::sharded("", 2);
    let mut con = stack.redis.connect().await.unwrap();
    for shard in keys.each_shard() {
        let held: Vec<String> = con.smembers(shard.days_held()).await.unwrap();
        assert_eq!(held, [DAYS[2]], "each shard holds the day of its own symbols");
    }
    for stock in &stocks {
        let other = keys.shard(1 - common::shard::shard_of(stock.symbol, 2));
        let strays: u64 = con.zcard(other.day_bars(DAYS[2].parse().unwrap(), Period::M1, stock.symbol)).await.unwrap();
        assert_eq!(strays, 0, "{} has no bars on the other shard", stock.symbol);
    }
    serves_the_oracle(&stack).await;
    history_lies_on_its_symbols_shard(&stack, sample.history_bars).await;
    snapshot_reads_every_shard(&stack).await;
    one_active_producer_per_shard(&stack).await;
    let report = cleanup_empties_every_shard(&stack, &mut [con]).await;
    let written = report["live_written"][0]["bars"].as_u64().unwrap();
    assert_eq!(shards_hold("live_bars_local", &stack).await, written, "the day's live bars, once, on their shards");
    stack.stop();
}

/// `GET /api/v1/snapshot` of the sample day lists every symbol that traded, from both shards, in
/// symbol order.
async fn snapshot_reads_every_shard(stack: &WholeStack) {
    let (stocks, days) = generate();
    let (status, body) = stack.api.get(&format!("/api/v1/snapshot?period=1&at={}T15:00", DAYS[2])).await;
    assert_eq!(status, 200, "{body}");
    let snapshot: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<&str> =
        snapshot["bars"].as_array().unwrap().iter().map(|b| b["symbol"].as_str().unwrap()).collect();
    let traded = days[2].symbols.iter().zip(&stocks).filter(|(s, _)| !sample::oracle::bars(s, Period::M1).is_empty());
    let mut want: Vec<String> = traded.map(|(_, stock)| stock.symbol.to_string()).collect();
    want.sort();
    assert_eq!(listed, want, "the snapshot reads both shards, in symbol order");
}

/// Of the two producers of each of the two shards, one is active and one stands by.
async fn one_active_producer_per_shard(stack: &WholeStack) {
    let mut active = Vec::new();
    for producer in std::iter::once(&stack.producer).chain(&stack.producers) {
        let metrics = producer.get("/metrics").await.1;
        let line = metrics.lines().find(|l| l.starts_with("tickbar_producer_active{")).unwrap().to_owned();
        active.push(line);
    }
    let holding = |shard: &str| active.iter().filter(|l| l.contains(&format!("shard=\"{shard}\"}} 1"))).count();
    assert_eq!(
        (holding("0"), holding("1"), active.len()),
        (1, 1, 4),
        "one active and one standby per shard: {active:?}"
    );
}

/// `consumer cleanup` of the sample day reports both shards' producers and leaves none of the
/// day's keys on any of `nodes`; its report.
async fn cleanup_empties_every_shard(stack: &WholeStack, nodes: &mut [MultiplexedConnection]) -> serde_json::Value {
    let out = stack.command("consumer", &["cleanup", "--day", DAYS[2], "--force"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the cleanup prints its report");
    assert_eq!(report["redis"][0]["was_held"], true, "{report}");
    assert_eq!(report["producer_positions"].as_array().map(Vec::len), Some(2), "{report}");
    for node in nodes {
        let left: Vec<String> = node.keys(format!("tickbar:*{}*", DAYS[2])).await.unwrap();
        assert!(left.is_empty(), "left in Redis after the cleanup: {left:?}");
    }
    report
}

/// Redis as a 3-master cluster (`redis.mode = "cluster"`) under two producer shards with their
/// standbys: each shard commits to its own hash slot, which lies on its own master; the consumer drains
/// the history queues spread over the masters, fenced in each queue's hash slot; the query API reads
/// the shards through the cluster client. Every bar of the sample's three days is the rule
/// oracle's (what a single node serves), a live client opened before the day is fed receives its
/// symbol's closed bars (`SPUBLISH` to `SSUBSCRIBE`) as the oracle has them, the snapshot and the
/// leases work per shard as on one node, and the cleanup empties every master.
#[tokio::test(flavor = "multi_thread")]
async fn a_three_master_redis_cluster_under_two_producer_shards_serves_the_sample_as_one_node_does() {
    let scale = Scale { shards: 2, standbys: true, redis_masters: 3, ..Scale::default() };
    let (mut stack, sample) = started(scale).await;
    let mut nodes = Vec::new();
    for node in std::iter::once(&stack.redis).chain(&stack.cluster.as_ref().unwrap().others) {
        nodes.push(node.connect().await.unwrap());
    }
    let (stocks, days) = generate();
    let symbol = stocks[0].symbol;
    let channel = stack.keys.bar_channel(Period::M1, symbol);
    let path = format!("/api/v1/stream/bars?symbol={symbol}&period=1");
    let mut events = harness::http::Events::open(stack.api.http, &path).await;
    let started = std::time::Instant::now();
    while shard_subscribers(&mut nodes, &channel).await == 0 {
        assert!(started.elapsed().as_secs() < 10, "the query API subscribed {channel}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    stack.import_history(&sample).unwrap();
    stack.run("producer", &["replay", "--file", &sample.day.display().to_string(), "--speed", "0"]).unwrap();
    stack.history_stored(sample.history_bars).await.unwrap();
    stack.day_applied().await.unwrap();

    let want = sample::oracle::bars(&days[2].symbols[0], Period::M1);
    let mut live: BTreeMap<String, Bar> = BTreeMap::new();
    while live.values().cloned().collect::<Vec<_>>() != want {
        let (event, data) = events.next().await;
        if event == "bar" {
            let bar: Bar = serde_json::from_str(&data).unwrap();
            live.insert(bar.frame.to_string(), bar);
        }
    }
    let mut homes = Vec::new();
    for shard in stack.keys.each_shard() {
        let mut holding = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            // A master without the key's hash slot answers MOVED.
            if node.exists::<_, bool>(shard.days_held()).await.unwrap_or(false) {
                holding.push(i);
            }
        }
        assert_eq!(holding.len(), 1, "{} lies on one master: {holding:?}", shard.days_held());
        homes.push(holding[0]);
    }
    assert_ne!(homes[0], homes[1], "the two shards lie on different masters");
    serves_the_oracle(&stack).await;
    snapshot_reads_every_shard(&stack).await;
    one_active_producer_per_shard(&stack).await;
    cleanup_empties_every_shard(&stack, &mut nodes).await;
    calendar_followed_through_the_cluster(&stack).await;
    stack.stop();
}

/// A halt announced with `producer calendar` through the cluster (the stored key's script on its
/// master, `SPUBLISH` of its version) reaches the query API reading the cluster.
async fn calendar_followed_through_the_cluster(stack: &WholeStack) {
    let announce = ["calendar", "announce", "--date", "2026-12-30", "--change", "halt", "--from", "13:00"];
    stack.run("producer", &[&announce[..], &["--to", "13:15", "--source", "a notice", "--force"]].concat()).unwrap();
    let started = std::time::Instant::now();
    loop {
        let (_, status) = stack.api.get("/monitor/api/status").await;
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        if status["calendar"]["version"] == 1 {
            assert_eq!(status["calendar"]["overrides"][0]["change"], "halt", "{status}");
            return;
        }
        assert!(started.elapsed().as_secs() < 10, "the query API never followed the stored halt: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The services' cluster connection while the whole cluster is down: a command fails (the caller
/// backs off and retries, as after any Redis failure), and once the masters are back on their
/// ports and hash slots, the same connection answers again, with no restart of its process.
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_connection_answers_again_once_the_cluster_is_back() {
    let (mut first, mut cluster) = harness::servers::RedisCluster::start(3).await.unwrap();
    let settings = cluster.settings(&first);
    let mut con = runtime::redis::connect(&settings).unwrap();
    let key = settings.keys().tick_stream();
    let _: () = con.set(&key, "before").await.unwrap();
    first.stop();
    cluster.others.iter_mut().for_each(harness::RedisServer::stop);
    assert!(con.get::<_, Option<String>>(&key).await.is_err(), "no cluster, no answer");
    first.launch().await.unwrap();
    for node in &mut cluster.others {
        node.launch().await.unwrap();
    }
    let started = std::time::Instant::now();
    loop {
        match con.set::<_, _, ()>(&key, "after").await {
            Ok(()) => break,
            Err(e) => assert!(started.elapsed().as_secs() < 30, "the connection answers within 30 s: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(con.get::<_, String>(&key).await.unwrap(), "after");
}

/// Subscribers of the sharded channel `channel` on the master that holds its hash slot (the others
/// answer MOVED).
async fn shard_subscribers(nodes: &mut [MultiplexedConnection], channel: &str) -> u64 {
    let mut count = 0;
    for node in nodes {
        let numsub: redis::RedisResult<(String, u64)> =
            redis::cmd("PUBSUB").arg("SHARDNUMSUB").arg(channel).query_async(node).await;
        count += numsub.map_or(0, |(_, n)| n);
    }
    count
}

/// Each ClickHouse shard's own table holds the history of exactly the symbols of its index (the
/// producers' shard of them), both hold some, and together all of it, once.
async fn history_lies_on_its_symbols_shard(stack: &WholeStack, bars: u64) {
    assert_eq!(shards_hold("bars_local", stack).await, bars, "the shards hold every history bar once");
}

/// The rows of `table` (a shard's own) on every ClickHouse server, checking each server holds
/// several symbols and only those of its index.
async fn shards_hold(table: &str, stack: &WholeStack) -> u64 {
    let mut total = 0;
    for (index, server) in stack.clickhouse.iter().enumerate() {
        let sql = format!("SELECT symbol, count() FROM tickbar.{table} FINAL GROUP BY symbol ORDER BY symbol");
        let held: Vec<(String, u64)> = server.client().query(&sql).fetch_all().await.unwrap();
        assert!(held.len() > 5, "shard {index} holds the {table} of several symbols: {held:?}");
        for (symbol, rows) in held {
            assert_eq!(common::shard::shard_of(symbol.parse().unwrap(), 2), index as u16, "{symbol} on shard {index}");
            total += rows;
        }
    }
    total
}

/// `qmt_bridge.shard_of` (Python) puts every symbol where `common::shard::shard_of` does, for
/// several shard counts: the whole sample and a few thousand codes of each board.
#[test]
fn the_python_bridge_shards_symbols_as_the_producers_do() {
    let boards = [("600", "SH"), ("688", "SH"), ("000", "SZ"), ("300", "SZ"), ("830", "BJ")];
    let symbols: Vec<common::Symbol> = boards
        .iter()
        .flat_map(|(head, exchange)| (0..1000).map(move |n| format!("{head}{n:03}.{exchange}").parse().unwrap()))
        .chain(generate().0.iter().map(|s| s.symbol))
        .collect();
    let text: Vec<String> = symbols.iter().map(ToString::to_string).collect();
    let bridge = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/qmt");
    let python = std::env::var("TICKBAR_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, qmt_bridge\nfor line in sys.stdin:\n    print(*(qmt_bridge.shard_of(line.strip(), n) for n in (1, 2, 3, 8)))";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .env("PYTHONPATH", &bridge)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), (text.join("\n") + "\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let python: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    let rust: Vec<String> =
        symbols.iter().map(|s| [1, 2, 3, 8].map(|n| common::shard::shard_of(*s, n).to_string()).join(" ")).collect();
    assert_eq!(python.len(), symbols.len());
    assert_eq!(python, rust);
    let on_one: usize = rust.iter().filter(|r| r.split(' ').nth(1) == Some("1")).count();
    assert!((2000..3100).contains(&on_one), "about half of {} on shard 1 of 2: {on_one}", symbols.len());
}

/// A Sentinel-managed Redis master killed (SIGKILL) in the middle of the sample day, while the
/// producer applies the morning and the consumer drains the history: the services follow the
/// Sentinel to the promoted replica, the afternoon is fed there (its writes waiting for the other
/// replica, which the Sentinel points at the new master), and every bar of the three days is still
/// the rule oracle's: no tick, no bar and no history row lost or doubled.
#[tokio::test(flavor = "multi_thread")]
async fn a_redis_master_killed_mid_day_under_sentinel_loses_nothing() {
    let (mut stack, sample) = started(Scale { sentinel: true, ..Scale::default() }).await;
    let day = std::fs::read_to_string(&sample.day).unwrap();
    let lines: Vec<&str> = day.lines().collect();
    let (morning, afternoon) = lines.split_at(lines.len() / 2);
    let [morning, afternoon] = [("morning", morning), ("afternoon", afternoon)].map(|(name, lines)| {
        let path = stack.dir().join(format!("{name}.jsonl"));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path.display().to_string()
    });
    stack.import_history(&sample).unwrap();
    stack.run("producer", &["replay", "--file", &morning, "--speed", "0"]).unwrap();

    let replicas = stack.failover.as_ref().unwrap().replicas.each_ref().map(|r| r.port());
    stack.redis.stop();
    let started = std::time::Instant::now();
    while !stack.failover.as_ref().unwrap().sentinel.master_port().await.is_some_and(|p| replicas.contains(&p)) {
        assert!(started.elapsed().as_secs() < 60, "the Sentinel promoted a replica within a minute");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stack.run("producer", &["replay", "--file", &afternoon, "--speed", "0"]).unwrap();
    stack.history_stored(sample.history_bars).await.unwrap();
    stack.day_applied().await.unwrap();
    serves_the_oracle(&stack).await;
    for service in [&stack.producer, &stack.consumer, &stack.api] {
        let metrics = service.get("/metrics").await.1;
        let moves = metrics.lines().find_map(|l| l.strip_prefix("tickbar_redis_master_moves_total "));
        let moves: u64 = moves.expect("every service counts its moves").parse().unwrap();
        assert!(moves >= 2, "each service found the master, then the promoted replica: {moves}");
    }
    stack.stop();
}

/// The history on one ClickHouse shard of two replicas (`sql/cluster/replicated.sql` applied `ON
/// CLUSTER`, a private ZooKeeper): the consumer writes through one replica, the query API reads
/// through the other and serves every bar as the rules give, each replica holds every history bar,
/// and with the written-to replica stopped the other still answers.
#[tokio::test(flavor = "multi_thread")]
async fn two_clickhouse_replicas_each_hold_the_history_written_through_one() {
    let (mut stack, sample) = loaded(Scale { clickhouse_replicas: 2, ..Scale::default() }).await;
    for (i, replica) in stack.clickhouse.iter().enumerate() {
        let client = replica.client();
        let mut held = 0;
        for _ in 0..100 {
            held = client.query("SELECT count() FROM tickbar.bars_local FINAL").fetch_one::<u64>().await.unwrap();
            if held == sample.history_bars {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(held, sample.history_bars, "replica {i} holds every history bar");
    }
    serves_the_oracle(&stack).await;

    stack.clickhouse[0].stop();
    let (stocks, days) = generate();
    let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[0], Period::M5)).collect();
    let symbol = stocks[0].symbol.to_string();
    assert_eq!(served(&stack, &symbol, Period::M5).await, want, "served by the replica left");
    stack.stop();
}
