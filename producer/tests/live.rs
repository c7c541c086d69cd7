//! The producer in live operation as processes, where the process is the point: one producer is
//! active while a second stands by, takes over when the first is stopped by a signal or killed, and
//! fences the stalled one out; poison, a corrupt checkpoint and the calendar's end. Each run is
//! compared with an undisturbed one. The service loop on a held clock is in `service.rs`.

mod support;

use std::time::{Duration, Instant};

use harness::fixtures;
use harness::seed::aggregate;
use redis::AsyncCommands;
use runtime::keys::Keys;
use support::*;

/// The producer's `/api/status`.
async fn status(producer: &Producer) -> serde_json::Value {
    let (code, body) = producer.get("/api/status").await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits (at most `within`) until the producer's role is `role`; how long it took.
async fn role(producer: &mut Producer, role: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        producer.assert_running();
        let (code, body) = producer.get("/api/status").await;
        if code == 200 && serde_json::from_str::<serde_json::Value>(&body).unwrap()["role"] == role {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "not {role} within {within:?}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_takes_over_a_dead_or_stalled_producer_which_is_fenced_out_and_the_bars_equal_a_clean_run() {
    let mut stack = ProducerRedis::start().await;
    let mut ticks = fixtures::trades("2023-02-01");
    ticks.extend(fixtures::snapshots("000333.SZ", "2023-02-01"));
    ticks.sort_by_key(|t| t.time_ms);
    let entries: Vec<(&str, String)> = ticks.iter().map(|t| ("tick", tick_json(t))).collect();
    let mut clean = stack.producer("clean:", &[]);
    stack.send("clean:", &entries).await;
    stack.drained("clean:", &mut clean).await;
    let expected = stack.dump("clean:").await;

    let lease = [("TICKBAR__PRODUCER__LEASE_TTL_MS", "3000")];
    let mut first = stack.producer("pair:", &[&lease[..], &[("TICKBAR__PRODUCER__INSTANCE", "first")]].concat());
    role(&mut first, "active", Duration::from_secs(20)).await;
    let mut second = stack.producer("pair:", &[&lease[..], &[("TICKBAR__PRODUCER__INSTANCE", "second")]].concat());
    role(&mut second, "standby", Duration::from_secs(20)).await;
    let standby = status(&second).await;
    assert!(standby["lease"].as_str().unwrap().contains(" first#"), "it names the active one: {standby}");
    let (_, metrics) = second.get("/metrics").await;
    assert!(metrics.contains("tickbar_producer_active{instance=\"second\",shard=\"0\"} 0"), "{metrics}");

    let thirds: Vec<&[(&str, String)]> = entries.chunks(entries.len() / 3 + 1).collect();
    stack.send("pair:", thirds[0]).await;
    stack.drained("pair:", &mut first).await;
    first.signal("STOP");
    let took = role(&mut second, "active", Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(6), "the standby took over within the lease time (3 s) and a poll: {took:?}");
    stack.send("pair:", thirds[1]).await;
    stack.drained("pair:", &mut second).await;
    first.signal("CONT");
    role(&mut first, "standby", Duration::from_secs(10)).await;
    let fenced = status(&first).await;
    assert!(fenced["lease"].as_str().unwrap().contains(" second#"), "{fenced}");

    second.kill();
    role(&mut first, "active", Duration::from_secs(10)).await;
    stack.send("pair:", thirds[2]).await;
    stack.drained("pair:", &mut first).await;
    let got = stack.dump("pair:").await;
    assert_eq!(got.len(), expected.len());
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!(a, b, "the stalled producer's writes never landed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_poison_is_refused_with_its_reason_and_valid_ticks_still_make_their_bars() {
    let mut stack = ProducerRedis::start().await;
    let valid = fixtures::trades("2023-02-01");
    let bad_element = r#"{"symbol":"600519.SH","time":1675215000000,"price":-1,"volume":1}"#;
    let mut crowd: Vec<&str> = vec![bad_element; 50_000];
    let good_in_crowd = tick_json(&valid[0]);
    crowd.insert(25_000, &good_in_crowd);
    let poison: Vec<(&str, String)> = vec![
        (
            "tick",
            r#"{"symbol":"600519.SH","time":"2023-02-01T10:00:00","price":"79228162514264337593543950335","volume":2}"#
                .into(),
        ),
        ("tick", r#"{"symbol":"600519.SH","time":"2023-02-01T10:00:00","price":"1800","volume":1000000000001}"#.into()),
        (
            "tick",
            r#"{"symbol":"600519.SH","time":"2023-02-01T10:00:00","price":"1800","volume":1,"amount":1e15}"#.into(),
        ),
        ("qmt", r#"{"600519.SH":{"time":1675216800000,"lastPrice":1e400,"volume":1,"amount":1}}"#.into()),
        ("tick", r#"{"symbol":"600519.SH","time":"2099-01-05T10:00:00","price":"1800","volume":100}"#.into()),
        ("tick", format!("[{}]", crowd.join(","))),
    ];
    let mut entries = poison.clone();
    entries.extend(valid[1..].iter().map(|t| ("tick", tick_json(t))));
    let mut producer = stack.producer("poison:", &[]);
    stack.send("poison:", &entries).await;
    stack.drained("poison:", &mut producer).await;

    for p in common::Period::DEFAULTS {
        assert_eq!(
            stack.bars("poison:", "2023-02-01", p, "600519.SH").await,
            aggregate(&valid, "600519.SH", p),
            "{p}m"
        );
    }
    let dead: u64 = stack.con.xlen(Keys::new("poison:").dead_ticks()).await.unwrap();
    assert_eq!(dead, 5 + 50_000);
    let counted = status(&producer).await["counters"]["dead"].clone();
    assert_eq!(
        counted,
        serde_json::json!({"out_of_bounds": 3, "bad_field": 1, "ahead_of_clock": 1, "bad_price": 50_000}),
        "each with its reason"
    );
    let letters: redis::streams::StreamRangeReply =
        stack.con.xrevrange_count(Keys::new("poison:").dead_ticks(), "+", "-", 10).await.unwrap();
    for letter in &letters.ids {
        let entry: String = letter.get("entry").unwrap();
        assert_eq!(entry, bad_element, "a bad element's letter holds the element, not the payload");
        let detail: String = letter.get("detail").unwrap();
        assert!(detail.starts_with("element "), "{detail}");
    }
    assert_eq!(producer.get("/readyz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_state_it_cannot_read_is_a_clear_fault_on_readyz_not_a_panic_until_it_is_repaired() {
    let mut stack = ProducerRedis::start().await;
    let corrupt = [("aggregator", "{\"layout\":{}}"), ("counters", "{}"), ("last_id", "0-0")];
    let later = [("format", "4"), ("aggregator", "{}"), ("counters", "{}"), ("last_id", "0-0")];
    type Fields<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Fields, Option<&str>, &str); 3] = [
        ("corrupt:", &corrupt, None, "unusable saved aggregator state"),
        ("later-checkpoint:", &later, None, "checkpoint format 4: this release reads formats 1 to 3"),
        ("later-journal:", &[], Some("v3 1-0 5"), "journal record format 3: this release reads formats 1 to 2"),
    ];
    for (prefix, state, journal, fault) in cases {
        let keys = Keys::new(prefix);
        if !state.is_empty() {
            let _: () = stack.con.hset_multiple(keys.producer_state(), state).await.unwrap();
        }
        if let Some(record) = journal {
            let _: () = stack.con.rpush(keys.producer_journal(), record).await.unwrap();
        }
        let mut producer = stack.producer(prefix, &[]);
        let start = Instant::now();
        let (code, why) = loop {
            producer.assert_running();
            let (code, why) = producer.get("/readyz").await;
            if why.contains(fault) || start.elapsed() > Duration::from_secs(20) {
                break (code, why);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(code, 503, "{prefix} {why}");
        assert!(why.contains(fault), "{prefix} {why}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        producer.assert_running();
        assert!(status(&producer).await["fault"].as_str().is_some_and(|f| f.contains(fault)), "{prefix}");
        let (_, metrics) = producer.get("/metrics").await;
        assert!(metrics.contains("tickbar_producer_fault 1"), "{prefix} {metrics}");

        let _: () = stack.con.del(&[keys.producer_state(), keys.producer_journal()]).await.unwrap();
        let start = Instant::now();
        while producer.get("/readyz").await.0 != 200 {
            producer.assert_running();
            assert!(start.elapsed() < Duration::from_secs(20), "not repaired: {}", producer.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stack.send(prefix, &[("tick", tick_json(&fixtures::trades("2023-02-01")[0]))]).await;
        stack.drained(prefix, &mut producer).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_holiday_list_weekdays_build_bars_provisionally_unless_refused() {
    let mut stack = ProducerRedis::start().await;
    let ticks: Vec<(&str, String)> = ["10:00:05", "10:03:30", "15:00:01"]
        .iter()
        .map(|t| ("tick", format!(r#"{{"symbol":"600519.SH","time":"2027-01-04T{t}","price":"1500","volume":100}}"#)))
        .collect();
    let clock = ("TICKBAR__CLOCK__START", "2027-01-04T15:10:00");
    let mut provisional = stack.producer("weekdays:", &[clock]);
    let mut refusing = stack.producer("refuse:", &[clock, ("TICKBAR__CALENDAR__BEYOND_LIST", "refuse")]);
    stack.send("weekdays:", &ticks).await;
    stack.send("refuse:", &ticks).await;
    stack.drained("weekdays:", &mut provisional).await;
    stack.drained("refuse:", &mut refusing).await;

    let minutes = stack.bars("weekdays:", "2027-01-04", common::Period::M1, "600519.SH").await;
    assert_eq!(minutes.len(), 240 - 30, "10:01 to 15:00, the quiet minutes filled");
    assert_eq!(minutes.iter().map(|b| b.vol).sum::<u64>(), 300);
    let calendar = status(&provisional).await["calendar"].clone();
    assert_eq!((&calendar["provisional"], &calendar["days_left"]), (&true.into(), &(-4).into()), "{calendar}");
    assert!(calendar["warning"].as_str().unwrap().contains("ended on 2026-12-31"), "{calendar}");
    let (_, metrics) = provisional.get("/metrics").await;
    assert!(
        metrics.contains("tickbar_calendar_remaining_seconds -345600")
            && metrics.contains("tickbar_calendar_provisional 1")
    );

    assert!(stack.bars("refuse:", "2027-01-04", common::Period::M1, "600519.SH").await.is_empty());
    let outcomes = status(&refusing).await["outcomes"].clone();
    assert_eq!(outcomes["outside_calendar"], 3, "refused and counted: {outcomes}");
}
