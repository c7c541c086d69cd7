//! The producer's service loop in-process, on a clock the test holds (tokio's paused time moved
//! only by the test, against a real Redis): an outage on the wall clock is caught up in event time
//! and loses nothing, symbols gone silent are named stale, and a standby takes over a dead
//! producer. Each disturbed run is compared with an undisturbed one; no real sleep sets the pace.

mod support;

use std::time::Duration;

use common::Bar;
use harness::clock::TestTime;
use harness::stack::producer_caught_up;
use producer::settings::{BarClock, ProducerSettings};
use redis::AsyncCommands;
use runtime::keys::Keys;
use support::*;

fn at(time: &str) -> i64 {
    common::time::parse_datetime(&format!("2026-11-18T{time}")).unwrap()
}

/// A tick every 0.5 s of 600519.SH and every 7 s of a quiet 000333.SZ, 10:00:00 to 10:05:59.5.
fn live_ticks() -> Vec<(i64, String)> {
    (0..720)
        .flat_map(|i: i64| {
            let time = at("10:00:00") + i * 500;
            let liquid = format!(
                r#"{{"symbol":"600519.SH","time":{time},"price":"{}.{:02}","volume":{}}}"#,
                1800 + i % 5,
                i % 100,
                100 * (1 + i % 7)
            );
            let quiet =
                (i % 14 == 3).then(|| format!(r#"{{"symbol":"000333.SZ","time":{time},"price":"60.5","volume":300}}"#));
            [Some((time, liquid)), quiet.map(|q| (time, q))].into_iter().flatten()
        })
        .collect()
}

fn volume_of(tick: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(tick).unwrap()["volume"].as_u64().unwrap()
}

/// The closed bars under `prefix` of frames up to `last` (market time), every key in order.
async fn closed_up_to(
    con: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    last: &str,
) -> Vec<(String, Vec<Bar>)> {
    let mut keys: Vec<String> = con.keys(format!("{prefix}tickbar:bars:*")).await.unwrap();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let members: Vec<String> = con.zrange(&key, 0, -1).await.unwrap();
        let bars: Vec<Bar> = members
            .iter()
            .map(|m| serde_json::from_str::<Bar>(m).unwrap())
            .filter(|b| b.frame.time().format("%H:%M:%S").to_string().as_str() <= last)
            .collect();
        out.push((key.trim_start_matches(prefix).to_owned(), bars));
    }
    out
}

/// Waits, time held, until the producer under `prefix` has committed its whole stream and closed
/// the 1-minute bars of both symbols up to `minutes` of them.
async fn settled(time: &TestTime, stack: &ProducerRedis, prefix: &str, minutes: usize) {
    let stream = Keys::new(prefix).tick_stream();
    time.until(&format!("{prefix} drained and closed"), || {
        let (mut con, stream) = (stack.con.clone(), stream.clone());
        async move {
            let bars = closed_up_to(&mut con, prefix, "23:59:59").await;
            let closed =
                |symbol: &str| bars.iter().find(|(k, _)| k.ends_with(&format!(":1:{symbol}"))).map(|(_, b)| b.len());
            let done = producer_caught_up(&mut con, &stream).await
                && closed("600519.SH") == Some(minutes)
                && closed("000333.SZ") == Some(minutes);
            done.then_some(())
        }
    })
    .await;
}

fn wall(settings: &mut ProducerSettings) {
    settings.producer.lease_ttl_ms = 1_000;
    settings.bars.correction_window_ms = 120_000;
}

#[tokio::test]
async fn a_200_second_outage_on_the_wall_clock_is_caught_up_and_loses_nothing() {
    let mut stack = ProducerRedis::start().await;
    let time = TestTime::hold("2026-11-18T09:59:50");
    let clean = in_process(&stack.redis, "clean:", time.clock(), wall);
    let mut outage = Some(in_process(&stack.redis, "outage:", time.clock(), wall));
    let ticks = live_ticks();
    let fed: u64 = ticks.iter().filter(|(_, t)| t.contains("600519")).map(|(_, t)| volume_of(t)).sum();
    for (time_ms, tick) in &ticks {
        time.pass_until(*time_ms).await;
        if *time_ms == at("10:01:00") {
            outage.take().unwrap().kill();
        }
        if *time_ms == at("10:04:20") {
            outage = Some(in_process(&stack.redis, "outage:", time.clock(), wall));
        }
        stack.send("clean:", &[("tick", tick.clone())]).await;
        stack.send("outage:", &[("tick", tick.clone())]).await;
    }
    time.pass_until(at("10:06:05")).await;
    settled(&time, &stack, "clean:", 6).await;
    settled(&time, &stack, "outage:", 6).await;

    let expected = closed_up_to(&mut stack.con, "clean:", "10:06:00").await;
    let minutes: Vec<&Bar> =
        expected.iter().filter(|(k, _)| k.ends_with(":1:600519.SH")).flat_map(|(_, b)| b).collect();
    assert_eq!(minutes.len(), 6, "the undisturbed run closed 10:01 .. 10:06 on the wall clock");
    assert_eq!(minutes.iter().map(|b| b.vol).sum::<u64>(), fed, "and holds every share fed");
    assert_eq!(closed_up_to(&mut stack.con, "outage:", "10:06:00").await, expected, "the outage lost or moved nothing");
    let restarted = outage.unwrap();
    assert_eq!(restarted.status().await["recoveries"], 1, "{}", restarted.status().await);
    restarted.stop().await;
    clean.stop().await;
}

#[tokio::test]
async fn a_symbol_silent_for_its_minutes_in_session_is_named_stale_on_the_wall_clock() {
    let mut stack = ProducerRedis::start().await;
    let time = TestTime::hold("2026-11-18T10:00:00");
    let producer = in_process(&stack.redis, "", time.clock(), |s| s.producer.stale_after_minutes = 2);
    let tick = |symbol: &str, at_ms: i64| {
        ("tick", format!(r#"{{"symbol":"{symbol}","time":{at_ms},"price":"60.5","volume":100}}"#))
    };
    stack.send("", &[tick("600519.SH", at("10:00:00")), tick("000333.SZ", at("10:00:01"))]).await;
    let mut stale_at = Vec::new();
    for second in (10..=240).step_by(10) {
        time.pass_until(at("10:00:00") + second * 1000).await;
        stack.send("", &[tick("600519.SH", time.now_ms())]).await;
        drained(&time, &stack, "").await;
        let status = producer.status().await;
        if status["stale"]["count"] != 0 {
            stale_at.push((second, status["stale"]["symbols"].clone()));
        }
    }
    let (first, symbols) = stale_at.first().expect("000333.SZ was never named stale");
    assert!((120..=130).contains(first), "named stale two minutes after its last tick, not at {first} s");
    assert_eq!(symbols[0]["symbol"], "000333.SZ", "{symbols}");
    assert_eq!(symbols[0]["last_tick"], "2026-11-18T10:00:01+08:00", "{symbols}");
    assert!(stale_at.iter().all(|(_, s)| s.as_array().unwrap().len() == 1), "600519.SH traded on: {stale_at:?}");
    producer.stop().await;
}

#[tokio::test]
async fn a_standby_takes_over_a_dead_producer_once_its_lease_expires_and_the_bars_equal_a_clean_run() {
    let mut stack = ProducerRedis::start().await;
    let mut ticks = harness::fixtures::trades("2023-02-01");
    ticks.sort_by_key(|t| t.time_ms);
    let entries: Vec<(&str, String)> = ticks.iter().map(|t| ("tick", tick_json(t))).collect();
    let time = TestTime::hold("2023-02-01T16:00:00");
    let event = |instance: &'static str| {
        move |s: &mut ProducerSettings| {
            (s.producer.clock, s.producer.lease_ttl_ms) = (BarClock::Event, 300);
            s.producer.instance = instance.into();
        }
    };
    let clean = in_process(&stack.redis, "clean:", time.clock(), event("clean"));
    stack.send("clean:", &entries).await;
    drained(&time, &stack, "clean:").await;
    let expected = stack.dump("clean:").await;
    let minutes = stack.bars("clean:", "2023-02-01", common::Period::M1, "600519.SH").await;
    assert_eq!(minutes.iter().map(|b| b.vol).sum::<u64>(), MOUTAI_TOTALS[0].0, "the undisturbed run holds the day");

    let first = in_process(&stack.redis, "pair:", time.clock(), event("first"));
    role(&time, &first, "active").await;
    let second = in_process(&stack.redis, "pair:", time.clock(), event("second"));
    let standby = role(&time, &second, "standby").await;
    assert!(standby["lease"].as_str().unwrap().contains(" first#"), "it names the active one: {standby}");
    let (before, after) = entries.split_at(entries.len() / 2);
    stack.send("pair:", before).await;
    drained(&time, &stack, "pair:").await;
    first.kill();
    let took = role(&time, &second, "active").await;
    assert!(took["lease"].as_str().unwrap().contains(" second#"), "{took}");
    stack.send("pair:", after).await;
    drained(&time, &stack, "pair:").await;
    second.stop().await;
    clean.stop().await;
    assert_eq!(stack.dump("pair:").await, expected, "the takeover lost or doubled nothing");
    let keys = Keys::new("pair:");
    let last: redis::streams::StreamRangeReply =
        stack.con.xrevrange_count(keys.tick_stream(), "+", "-", 1).await.unwrap();
    let progress: String = stack.con.get(keys.producer_progress()).await.unwrap();
    let want = format!(r#"{{"latest_day":"2023-02-01","position":"{}"}}"#, last.ids[0].id);
    assert_eq!(progress, want, "the progress record the other services read");
}

/// Waits, time held, until the producer under `prefix` has committed its whole stream.
async fn drained(time: &TestTime, stack: &ProducerRedis, prefix: &str) {
    let stream = Keys::new(prefix).tick_stream();
    time.until(&format!("{prefix} drained"), || {
        let (mut con, stream) = (stack.con.clone(), stream.clone());
        async move { producer_caught_up(&mut con, &stream).await.then_some(()) }
    })
    .await;
}

/// Moves time on (a lease expires on Redis's own clock) until `producer` has the role `role`; its status.
async fn role(time: &TestTime, producer: &InProcess, role: &str) -> serde_json::Value {
    time.pass_until_found(&format!("the role {role}"), Duration::from_millis(100), || async {
        let status = producer.status().await;
        (status["role"] == role).then_some(status)
    })
    .await
}

#[tokio::test]
async fn an_early_close_announced_while_running_is_followed_within_a_second_by_the_active_and_a_later_standby() {
    let mut stack = ProducerRedis::start().await;
    let time = TestTime::hold("2026-11-18T10:20:00");
    let active = in_process(&stack.redis, "", time.clock(), |s| s.producer.instance = "first".into());
    let mut settings = ProducerSettings::default();
    settings.redis.url = stack.redis.url();
    let announce = runtime::calendar::admin::CalendarCommand::Announce {
        date: "2026-11-18".parse().unwrap(),
        change: "early_close".into(),
        from: Some("10:30".parse().unwrap()),
        to: None,
        source: "an emergency notice".into(),
        force: false,
    };
    let baseline = runtime::calendar::LiveCalendar::bundled();
    runtime::calendar::admin::run(&announce, &settings.redis, &baseline, time.clock()).await.unwrap();
    applied_within_a_second(&time, &active).await;
    let standby = in_process(&stack.redis, "", time.clock(), |s| s.producer.instance = "second".into());
    applied_within_a_second(&time, &standby).await;
    let past = runtime::calendar::admin::CalendarCommand::Announce {
        date: "2026-11-17".parse().unwrap(),
        change: "closed".into(),
        from: None,
        to: None,
        source: "too late".into(),
        force: false,
    };
    let refused = runtime::calendar::admin::run(&past, &settings.redis, &baseline, time.clock()).await.unwrap_err();
    assert!(refused.to_string().contains("past day"), "{refused}");

    for second in 2..1200 {
        let at_ms = at("10:20:00") + second * 1000;
        time.pass_until(at_ms).await;
        let tick = format!(r#"{{"symbol":"600519.SH","time":{at_ms},"price":"1800","volume":100}}"#);
        stack.send("", &[("tick", tick)]).await;
    }
    time.pass_until(at("10:40:05")).await;
    drained(&time, &stack, "").await;
    let minutes = stack.bars("", "2026-11-18", common::Period::M1, "600519.SH").await;
    let labels: Vec<String> = minutes.iter().map(|b| b.frame.time().format("%H:%M").to_string()).collect();
    assert_eq!(labels.first().map(String::as_str), Some("10:21"));
    assert_eq!(labels.last().map(String::as_str), Some("10:30"), "nothing is built after the early close: {labels:?}");
    assert_eq!(labels.len(), 10);
    let hours = stack.bars("", "2026-11-18", common::Period::M60, "600519.SH").await;
    assert_eq!(hours.len(), 1, "the 10:30 hour bar closed at the close");
    standby.stop().await;
    active.stop().await;
}

/// Passes a second, then waits with time held until `producer` works on calendar version 1 (the
/// reads it made meanwhile answer in real time).
async fn applied_within_a_second(time: &TestTime, producer: &InProcess) {
    use runtime::ops::Ops;
    time.pass(Duration::from_secs(1)).await;
    time.until("calendar version 1 after a second", || async {
        (producer.monitor.calendar().current().version == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_circuit_breaker_day_through_the_live_path_has_bars_up_to_the_close_and_none_inside_the_halt() {
    let mut stack = ProducerRedis::start().await;
    let time = TestTime::hold("2016-01-04T16:00:00");
    let producer = in_process(&stack.redis, "", time.clock(), |s| s.producer.clock = BarClock::Event);
    let mut entries = Vec::new();
    for s in ((9 * 3600 + 30 * 60)..(11 * 3600 + 30 * 60)).chain((13 * 3600)..(15 * 3600)).step_by(20) {
        let at_ms =
            common::time::parse_datetime(&format!("2016-01-04T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60));
        let tick = format!(r#"{{"symbol":"600519.SH","time":{},"price":"1800","volume":100}}"#, at_ms.unwrap());
        entries.push(("tick", tick));
    }
    let closing = common::time::parse_datetime("2016-01-04T15:00:01").unwrap();
    entries.push(("tick", format!(r#"{{"symbol":"000001.SZ","time":{closing},"price":"10","volume":100}}"#)));
    stack.send("", &entries).await;
    drained(&time, &stack, "").await;
    let minutes = stack.bars("", "2016-01-04", common::Period::M1, "600519.SH").await;
    let labels: Vec<String> = minutes.iter().map(|b| b.frame.time().format("%H:%M").to_string()).collect();
    let want: Vec<String> = [(9 * 60 + 31, 11 * 60 + 30), (13 * 60 + 1, 13 * 60 + 13), (13 * 60 + 29, 13 * 60 + 34)]
        .iter()
        .flat_map(|&(a, b)| (a..=b).map(|m| format!("{:02}:{:02}", m / 60, m % 60)))
        .collect();
    assert_eq!(labels, want, "no bar inside the 13:13-13:28 halt or after the 13:34 close");
    let status = producer.status().await;
    let outcomes = &status["outcomes"];
    // 13:14-13:27 halted, 13:35-14:59 and 000001.SZ's 15:00:01 after the close (13:13:xx and
    // 13:34:xx went into the bar before).
    assert_eq!((&outcomes["halted"], &outcomes["after_close"]), (&(14 * 3).into(), &(85 * 3 + 1).into()), "{outcomes}");
    producer.stop().await;
}
