//! `GET /api/v1/stream/bars`: live bars as Server-Sent Events from the producer's channels, one
//! Redis subscription per channel shared by its clients, restored after the connection drops.

mod support;

use std::time::{Duration, Instant};

use harness::http::Events;
use redis::AsyncCommands;
use support::ApiStores;

const BAR: &str = r#"{"symbol":"600519.SH","frame":"2026-11-20T09:31:00+08:00","open":1650,"high":1652.3,"low":1649.9,"close":1651,"vol":120300,"amount":198612345.5}"#;

async fn subscribers(con: &mut redis::aio::MultiplexedConnection, channels: &[&str]) -> Vec<u64> {
    let reply: Vec<redis::Value> = redis::cmd("PUBSUB").arg("NUMSUB").arg(channels).query_async(con).await.unwrap();
    reply.chunks(2).map(|pair| redis::from_redis_value_ref(&pair[1]).unwrap()).collect()
}

async fn until_subscribers(con: &mut redis::aio::MultiplexedConnection, channels: &[&str], want: &[u64]) {
    let started = Instant::now();
    while subscribers(con, channels).await != want {
        assert!(started.elapsed() < Duration::from_secs(10), "{channels:?} never had {want:?} subscribers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn clients_of_a_channel_share_one_subscription_and_each_gets_every_bar() {
    let mut stack = ApiStores::start().await;
    let api = stack.api(&[]).await;
    let one = "/api/v1/stream/bars?symbol=600519.SH&period=1";
    let (mut a, mut b) = (Events::open(api.http, one).await, Events::open(api.http, one).await);
    let mut five = Events::open(api.http, "/api/v1/stream/bars?symbol=600519.sh&period=5").await;
    let channels = ["bars:1:600519.SH", "bars:5:600519.SH"];
    until_subscribers(&mut stack.con, &channels, &[1, 1]).await;

    let _: () = stack.con.publish(channels[0], BAR).await.unwrap();
    let _: () = stack.con.publish(channels[1], "five").await.unwrap();
    assert_eq!(a.next().await, ("bar".into(), BAR.into()));
    assert_eq!(b.next().await, ("bar".into(), BAR.into()));
    assert_eq!(five.next().await, ("bar".into(), "five".into()), "the 5-minute client gets only its channel");

    let killed: u64 =
        redis::cmd("CLIENT").arg(&["KILL", "TYPE", "pubsub"][..]).query_async(&mut stack.con).await.unwrap();
    assert_eq!(killed, 1, "one pub/sub connection serves every channel");
    assert_eq!(a.next().await.0, "gap", "clients learn that bars may have been missed");
    until_subscribers(&mut stack.con, &channels, &[1, 1]).await;
    let _: () = stack.con.publish(channels[0], "after").await.unwrap();
    assert_eq!(b.next().await.0, "gap");
    assert_eq!(b.next().await, ("bar".into(), "after".into()));

    drop((a, b));
    until_subscribers(&mut stack.con, &channels, &[0, 1]).await;
    let (_, metrics) = api.get("/metrics").await;
    assert!(metrics.contains("tickbar_api_live_channels 1"), "{metrics}");
}

#[tokio::test]
async fn the_forming_bar_of_a_watched_channel_is_sent_when_it_changes_and_only_then() {
    let mut stack = ApiStores::start().await;
    let api = stack.api(&[("TICKBAR__CLOCK__START", "2026-11-20T09:31:30")]).await;
    let mut events = Events::open(api.http, "/api/v1/stream/bars?symbol=600519.SH&period=1").await;
    let hash = runtime::keys::Keys::new("").forming_bars("2026-11-20".parse().unwrap(), common::Period::M1);
    let _: () = stack.con.hset(&hash, "600519.SH", BAR).await.unwrap();
    assert_eq!(events.next().await, ("forming".to_owned(), BAR.to_owned()));
    let moved = BAR.replace("120300", "130300");
    let _: () = stack.con.hset(&hash, "600519.SH", &moved).await.unwrap();
    assert_eq!(events.next().await, ("forming".to_owned(), moved.clone()), "the forming bar moved");
    let _: () = stack.con.publish("bars:1:600519.SH", &moved).await.unwrap();
    assert_eq!(events.next().await, ("bar".to_owned(), moved), "it closed; an unchanged forming bar is not repeated");
}
