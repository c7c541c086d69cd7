//! The tick archive under faults: a real day of 600519.SH trades and 000333.SZ snapshots through the
//! producer while the consumer archives them, SIGKILLed again and again and ClickHouse restarted
//! mid-archive. The archive must hold exactly the ticks fed (count and values), and the producer
//! must trim nothing the archiver has not passed.

use std::time::{Duration, Instant};

use common::keys::{ticks_table, Keys};
use common::settings::ArchiveSettings;
use common::Tick;
use harness::fixtures::{self, tick_json};
use harness::{ClickHouseServer, RedisServer, ServiceProcess};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use runtime::archive::TickRow;

const DAY: &str = "2023-02-01";
/// Ticks per stream entry: a payload of several, so positions within an entry matter.
const PER_ENTRY: usize = 7;

struct Stores {
    redis: RedisServer,
    clickhouse: ClickHouseServer,
    con: MultiplexedConnection,
}

impl Stores {
    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("TICKBAR__REDIS__URL".into(), self.redis.url()),
            ("TICKBAR__CLICKHOUSE__URL".into(), self.clickhouse.url()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        env.extend([("TICKBAR__PRODUCER__CLOCK", "event"), ("TICKBAR__PRODUCER__BLOCK_MS", "50")].map(owned));
        env.extend(
            [("TICKBAR__PRODUCER__CHECKPOINT_INTERVAL_MS", "150"), ("TICKBAR__CONSUMER__IDLE_MS", "50")].map(owned),
        );
        env.push(owned(("TICKBAR__ARCHIVE__BATCH_ENTRIES", "40")));
        env
    }

    fn spawn(&self, service: &str) -> ServiceProcess {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ServiceProcess::spawn(&harness::workspace_binary(service).display().to_string(), &[], &env)
    }

    async fn send(&mut self, entries: &[String]) {
        let mut pipe = redis::pipe();
        for payload in entries {
            pipe.cmd("XADD").arg(Keys::default().tick_stream()).arg("*").arg("tick").arg(payload).ignore();
        }
        pipe.query_async::<()>(&mut self.con).await.unwrap();
    }

    async fn stream_length(&mut self) -> usize {
        self.con.xlen(Keys::default().tick_stream()).await.unwrap()
    }
}

/// The last entry each group has passed: (archiver, producer).
async fn positions(mut con: MultiplexedConnection) -> (String, String) {
    let groups: redis::streams::StreamInfoGroupsReply =
        con.xinfo_groups(Keys::default().tick_stream()).await.unwrap_or_default();
    let defaults = ArchiveSettings::default();
    let of = |name: &str| groups.groups.iter().find(|g| g.name == name).map(|g| g.last_delivered_id.clone());
    (of(&defaults.group).unwrap_or_default(), of(&defaults.producer_group).unwrap_or_default())
}

fn owned((k, v): (&str, &str)) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

/// The real day, in time order, as stream payloads of [`PER_ENTRY`] ticks.
fn day() -> (Vec<Tick>, Vec<String>) {
    let mut ticks = fixtures::trades(DAY);
    ticks.extend(fixtures::snapshots("000333.SZ", DAY));
    ticks.sort_by_key(|t| t.time_ms);
    let entries = ticks
        .chunks(PER_ENTRY)
        .map(|c| format!("[{}]", c.iter().map(tick_json).collect::<Vec<_>>().join(",")))
        .collect();
    (ticks, entries)
}

/// Waits until `check` holds, or fails naming `what` with the services' logs.
async fn until<F: std::future::Future<Output = bool>>(
    what: &str,
    services: &mut [&mut ServiceProcess],
    mut check: impl FnMut() -> F,
) {
    let start = Instant::now();
    while !check().await {
        for s in services.iter_mut() {
            s.assert_running();
        }
        let logs: Vec<String> = services.iter().map(|s| s.log()).collect();
        assert!(start.elapsed() < Duration::from_secs(180), "{what} in time:\n{}", logs.join("\n---\n"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_holds_exactly_the_ticks_fed_through_kills_and_a_clickhouse_restart() {
    let (redis, clickhouse) = harness::start_stores(None).await.expect("redis-server and clickhouse-server");
    let con = redis.connect().await.unwrap();
    let mut stores = Stores { redis, clickhouse, con };
    let (ticks, entries) = day();
    let (before, during) = entries.split_at(entries.len() / 4);

    let mut producer = stores.spawn("producer");
    stores.send(before).await;
    let stream = Keys::default().tick_stream();
    let mut probe = stores.redis.connect().await.unwrap();
    until("the producer applies the first quarter", &mut [&mut producer], || {
        let (mut con, stream) = (probe.clone(), stream.clone());
        async move { harness::stack::producer_caught_up(&mut con, &stream).await }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        stores.stream_length().await,
        before.len(),
        "no archiver yet: the producer's checkpoints trimmed nothing"
    );

    let mut consumer = stores.spawn("consumer");
    let (mut kills, mut restarted) = (0, false);
    for (i, chunk) in during.chunks(during.len() / 12 + 1).enumerate() {
        stores.send(chunk).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        if i % 2 == 1 {
            consumer.kill();
            kills += 1;
            consumer = stores.spawn("consumer");
        }
        if i == 6 {
            stores.clickhouse.stop();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            stores.clickhouse.launch().await.unwrap();
            restarted = true;
        }
    }
    assert!(kills >= 5 && restarted);
    let last: redis::streams::StreamRangeReply = probe.xrevrange_count(&stream, "+", "-", 1).await.unwrap();
    let last = last.ids[0].id.clone();
    until("everything archived", &mut [&mut producer, &mut consumer], || {
        let (want, con) = ((last.clone(), last.clone()), probe.clone());
        async move { positions(con).await == want }
    })
    .await;

    let sql = format!("SELECT ?fields FROM {} ORDER BY entry_ms, entry_seq, element", ticks_table("tickbar"));
    let rows: Vec<TickRow> = stores.clickhouse.client().query(&sql).fetch_all().await.unwrap();
    assert_eq!(rows.len(), ticks.len(), "every tick once");
    let archived: Vec<Tick> = rows.iter().map(|r| r.quote().unwrap().tick).collect();
    assert!(archived == ticks, "the archive holds the ticks fed, value for value, in stream order");
    assert!(rows.iter().all(|r| r.element < PER_ENTRY as u32));
    assert!(stores.stream_length().await < entries.len(), "the stream is still trimmed, behind the archiver");
    let (status, metrics) = consumer.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("tickbar_consumer_archive_lag_entries{shard=\"0\"} 0"), "{metrics}");
}
