//! The tick archive under faults: a real day of 600519.SH trades and 000333.SZ snapshots through the
//! producer while the consumer archives them, SIGKILLed again and again and ClickHouse restarted
//! mid-archive. The archive must hold exactly the ticks fed (count and values), and the producer
//! must trim nothing the archiver has not passed. Then the archive as the query API serves it:
//! `/api/v1/ticks` over a range across yesterday and today gives exactly the ticks fed.

use std::time::{Duration, Instant};

use common::{Amount, Bar, Period, Price, Source, Tick};
use harness::fixtures::{self, tick_json};
use harness::{ClickHouseServer, RedisServer, ServiceProcess};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use runtime::archive::TickRow;
use runtime::clickhouse::BarRow;
use runtime::keys::{ticks_table, Keys};
use runtime::settings::ArchiveSettings;

const DAY: &str = "2023-02-01";
/// The day after [`DAY`]: "today" of the ticks endpoint's test.
const NEXT_DAY: &str = "2023-02-02";
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

/// The real `day`, in time order, as stream payloads of [`PER_ENTRY`] ticks.
fn day(day: &str) -> (Vec<Tick>, Vec<String>) {
    let mut ticks = fixtures::trades(day);
    ticks.extend(fixtures::snapshots("000333.SZ", day));
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
    let (ticks, entries) = day(DAY);
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

/// [`DAY`] and [`NEXT_DAY`] fed through the producer and archived by the consumer (both still
/// running, for as long as the stores live): the stores, and the ticks fed.
async fn two_days_archived() -> (Stores, Vec<Tick>) {
    let (redis, clickhouse) = harness::start_stores(None).await.expect("redis-server and clickhouse-server");
    let con = redis.connect().await.unwrap();
    let mut stores = Stores { redis, clickhouse, con };
    let (mut ticks, mut entries) = day(DAY);
    let (today, today_entries) = day(NEXT_DAY);
    ticks.extend(today);
    entries.extend(today_entries);
    let (mut producer, mut consumer) = (stores.spawn("producer"), stores.spawn("consumer"));
    stores.send(&entries).await;
    let client = stores.clickhouse.client();
    let count = format!("SELECT count() FROM {}", ticks_table("tickbar"));
    until("both days archived", &mut [&mut producer, &mut consumer], || {
        let (client, count, want) = (client.clone(), count.clone(), ticks.len() as u64);
        async move { client.query(&count).fetch_one::<u64>().await.is_ok_and(|n| n == want) }
    })
    .await;
    let probe = stores.redis.connect().await.unwrap();
    let stream = Keys::default().tick_stream();
    until("the producer applies both days", &mut [&mut producer, &mut consumer], || {
        let (mut con, stream) = (probe.clone(), stream.clone());
        async move { harness::stack::producer_caught_up(&mut con, &stream).await }
    })
    .await;
    (stores, ticks)
}

/// `GET path` of the query API, as JSON.
async fn api_json(api: &ServiceProcess, path: &str) -> serde_json::Value {
    let (status, body) = api.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// A served tick object's identity and values: (symbol, time in ms, price, volume, amount, cumulative).
fn served(tick: &serde_json::Value) -> (String, i64, Price, u64, Amount, bool) {
    let text = |k: &str| tick[k].to_string();
    (
        tick["symbol"].as_str().unwrap().to_owned(),
        common::time::parse_datetime(tick["time"].as_str().unwrap()).unwrap(),
        text("price").parse().unwrap(),
        tick["volume"].as_u64().unwrap(),
        text("amount").parse().unwrap(),
        tick["cumulative"].as_bool().unwrap(),
    )
}

fn fed(t: &Tick) -> (String, i64, Price, u64, Amount, bool) {
    (
        t.symbol.to_string(),
        t.time_ms,
        t.price,
        t.volume,
        t.amount,
        matches!(t.kind, common::TickKind::Cumulative { .. }),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ticks_endpoint_serves_exactly_the_ticks_fed_across_yesterday_and_today() {
    let (stores, ticks) = two_days_archived().await;
    let mut api = stores.spawn("query-api");
    api.answering("/healthz").await;

    let (start, end) = (format!("{DAY}T14:50:00"), format!("{NEXT_DAY}T09:45:00"));
    let (from, to) = (common::time::parse_datetime(&start).unwrap(), common::time::parse_datetime(&end).unwrap() + 999);
    let asked = ["000333.SZ", "600519.SH"];
    let mut want: Vec<_> = ticks.iter().filter(|t| (from..=to).contains(&t.time_ms)).map(fed).collect();
    want.sort_by_key(|t| asked.iter().position(|s| *s == t.0));
    let days: std::collections::BTreeSet<_> = want.iter().map(|t| common::time::split_ms(t.1).0).collect();
    assert_eq!(days.len(), 2, "the range holds ticks of both days");
    let path = format!("/api/v1/ticks?symbols={}&start={start}&end={end}", asked.join(","));
    let answer = api_json(&api, &path).await;
    let got: Vec<_> = answer["ticks"].as_array().unwrap().iter().map(served).collect();
    assert_eq!(answer["count"].as_u64(), Some(want.len() as u64));
    assert!(got == want, "exactly the ticks fed in the range, symbol by symbol in the order asked");

    let (status, csv) = api.get(&format!("{path}&format=csv")).await;
    assert_eq!((status, csv.lines().count()), (200, want.len() + 1), "one CSV row a tick under a header");
    let last = api_json(&api, &format!("/api/v1/ticks?symbol=600519.SH&count=7&end={end}")).await;
    let got: Vec<_> = last["ticks"].as_array().unwrap().iter().map(served).collect();
    let mine: Vec<_> =
        ticks.iter().filter(|t| t.time_ms <= to && t.symbol.to_string() == "600519.SH").map(fed).collect();
    assert_eq!(got, mine[mine.len() - 7..], "the last seven at or before end, oldest first");
    let both = api_json(&api, &format!("/api/v1/ticks?symbol=600519.SH&start={DAY}&end={NEXT_DAY}")).await;
    let trades = ticks.iter().filter(|t| t.symbol.to_string() == "600519.SH").count();
    assert_eq!(both["count"].as_u64(), Some(trades as u64), "dates alone are whole days");
}

/// `producer build --archive --from DAY` with `args` and `env` beside the stores' own; its report.
fn rebuild(stores: &Stores, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut command = std::process::Command::new(harness::workspace_binary("producer"));
    command.args(["build", "--archive", "--from", DAY, "--quiet"]).args(args);
    command.envs(stores.env()).envs(env.iter().copied());
    let out = command.output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&report).unwrap()
}

/// The closed bars the live producer left in Redis for `symbol`, `period` on [`DAY`].
async fn live_bars(stores: &mut Stores, symbol: &str, period: Period) -> Vec<Bar> {
    let key = Keys::default().day_bars(DAY.parse().unwrap(), period, symbol.parse().unwrap());
    let json: Vec<String> = stores.con.zrange(key, 0, -1).await.unwrap();
    json.iter().map(|j| serde_json::from_str(j).unwrap()).collect()
}

/// 600519.SH's one-minute bars of [`DAY`] under the `separate` auction layout, straight from the
/// real trades by the rules of docs/conventions.md: the opening auction's trades (before 09:30)
/// are the 09:30 bar; a trade in minute `m` belongs to the bar labelled `m + 1`, except 11:30 and
/// 15:00 (their own bars); a minute without trades is flat at the close before.
fn separate_layout_oracle() -> Vec<Bar> {
    let minutes: Vec<u32> =
        std::iter::once(9 * 60 + 30).chain(9 * 60 + 31..=11 * 60 + 30).chain(13 * 60 + 1..=15 * 60).collect();
    let label = |t: &Tick| {
        let m = common::time::split_ms(t.time_ms).1 / 60;
        match m {
            m if m < 9 * 60 + 30 => 9 * 60 + 30,
            m if m == 11 * 60 + 30 || m == 15 * 60 => m,
            m => m + 1,
        }
    };
    let trades = fixtures::trades(DAY);
    let day = common::time::day_number(DAY.parse().unwrap());
    let mut close = None;
    minutes
        .iter()
        .map(|&m| {
            let mine: Vec<&Tick> = trades.iter().filter(|t| label(t) == m).collect();
            let frame = common::Frame::at(day, m * 60);
            let symbol = "600519.SH".parse().unwrap();
            let bar = match mine.first() {
                None => Bar::new(symbol, frame, &common::Ohlcv::flat(close.expect("the auction trades first"))),
                Some(first) => Bar {
                    symbol,
                    frame,
                    open: first.price,
                    high: mine.iter().map(|t| t.price).max().unwrap(),
                    low: mine.iter().map(|t| t.price).min().unwrap(),
                    close: mine.last().unwrap().price,
                    vol: mine.iter().map(|t| t.volume).sum(),
                    amount: mine.iter().map(|t| t.amount).sum(),
                    trades: Some(mine.len() as u32),
                },
            };
            close = Some(bar.close);
            bar
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_from_the_archive_equals_the_live_bars_and_under_a_separate_auction_the_oracle() {
    let (mut stores, ticks) = two_days_archived().await;
    let report = rebuild(&stores, &[], &[]);
    let day_ticks =
        ticks.iter().filter(|t| common::time::date_of(common::time::split_ms(t.time_ms).0) == DAY.parse().unwrap());
    assert_eq!(report["ticks"].as_u64(), Some(day_ticks.count() as u64), "{report}");
    let client = stores.clickhouse.client();
    for symbol in ["600519.SH", "000333.SZ"] {
        for period in Period::DEFAULTS {
            let live = live_bars(&mut stores, symbol, period).await;
            let sql = "SELECT ?fields FROM tickbar.bars FINAL WHERE symbol = ? AND period = ? ORDER BY frame";
            let rows: Vec<BarRow> = client.query(sql).bind(symbol).bind(period.minutes()).fetch_all().await.unwrap();
            assert!(rows.iter().all(|r| Source::of_version(r.version) == Source::Live), "written as live bars");
            let rebuilt: Vec<Bar> = rows.iter().map(|r| r.bar().unwrap()).collect();
            assert_eq!(rebuilt.len(), if period == Period::M1 { 240 } else { 240 / period.minutes() as usize });
            assert!(rebuilt == live, "{symbol} {period}m: the rebuild with the live settings is the live bars");
        }
    }
    let live_rows: u64 = client.query("SELECT count() FROM tickbar.live_bars FINAL").fetch_one().await.unwrap();
    assert_eq!(live_rows, 2 * (240 + 48 + 16 + 8 + 4), "and kept for the reconciliation");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let separate = [("TICKBAR__BARS__LAYOUT__AUCTION", "separate")];
    rebuild(&stores, &["--symbols", "600519.SH", "--out", &out, "--format", "csv"], &separate);
    let built = harness::writers::csv_bars(&dir.path().join("bars_1min.csv"));
    let oracle = separate_layout_oracle();
    assert_eq!((built.len(), oracle.len()), (241, 241));
    assert!(built == oracle, "the separate-auction rebuild is the rule oracle's, bar for bar");
}
