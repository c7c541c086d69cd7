//! A synthetic trading day of QMT snapshots with everything a feed does (opening auction, lunch
//! heartbeats, 11:30:02 and 15:00:03 snapshots, duplicates, a stale snapshot, an illiquid symbol,
//! a suspended one, an after-hours trade on a STAR symbol), replayed in event time. The expected
//! bars are computed here from the rules of `docs/conventions.md`, without the aggregator; each
//! snapshot carries the day's trade count (`transactionNum`), so every bar counts its trades.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::time::parse_datetime;
use common::{Amount, Price};
use common::{Bar, Frame, Ohlcv, Period};
use runtime::keys::Keys;
use support::*;

const DAY: &str = "2023-02-01";

/// Trades as (time, price, lots).
type Trades = Vec<(String, Price, u64)>;

/// One symbol's snapshot: time, last price and day-cumulative lots, amount and trade count.
#[derive(Clone)]
struct Snap {
    time: String,
    price: Price,
    lots: u64,
    amount: Amount,
    trades: u64,
}

/// A symbol's snapshots built from its trades (time, price, lots), plus quiet snapshots at `quiet`.
fn snaps(trades: &[(&str, Price, u64)], quiet: &[String]) -> Vec<Snap> {
    let mut events: Vec<(String, Option<(Price, u64)>)> =
        trades.iter().map(|(t, p, l)| (t.to_string(), Some((*p, *l)))).collect();
    events.extend(quiet.iter().map(|t| (t.clone(), None)));
    events.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut price, mut lots, mut amount, mut count) = (Price::ZERO, 0, Amount::ZERO, 0);
    events
        .into_iter()
        .map(|(time, trade)| {
            if let Some((p, l)) = trade {
                (price, lots, amount, count) = (p, lots + l, amount + p * (l * 100), count + 1);
            }
            Snap { time, price, lots, amount, trades: count }
        })
        .collect()
}

fn payload(symbol: &str, s: &Snap, high: Price, low: Price) -> String {
    let time = parse_datetime(&format!("{DAY}T{}", s.time)).unwrap();
    serde_json::json!({ symbol: {
        "time": time, "lastPrice": s.price.to_string(), "open": "0", "high": high.to_string(), "low": low.to_string(),
        "lastClose": "10", "volume": s.lots, "amount": s.amount.to_string(), "transactionNum": s.trades, "openInt": 13,
        "bidPrice": [0, 0, 0, 0, 0], "askPrice": [0, 0, 0, 0, 0],
    }})
    .to_string()
}

/// Every `step` seconds from `from` to `to` (inclusive), as `HH:MM:SS`.
fn every(from: &str, to: &str, step: u32) -> Vec<String> {
    let sec = |t: &str| t.split(':').map(|x| x.parse::<u32>().unwrap()).fold(0, |a, x| a * 60 + x);
    (sec(from)..=sec(to))
        .step_by(step as usize)
        .map(|s| format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60))
        .collect()
}

fn price(cents: i64) -> Price {
    Price::from_units(cents * 100)
}

/// The liquid symbol: the auction, a trade every 3 s in both sessions, 11:30:02 and the closing auction.
fn liquid() -> Trades {
    let mut trades = vec![("09:25:00".to_owned(), price(180_000), 100)];
    let session = every("09:30:03", "11:29:57", 3).into_iter().chain(every("13:00:03", "14:56:57", 3));
    trades.extend(session.enumerate().map(|(i, t)| (t, price(180_000 + (i as i64 * 37 % 23) - 11), 1 + i as u64 % 4)));
    trades.push(("11:30:02".to_owned(), price(180_050), 2));
    trades.sort();
    trades.push(("15:00:00".to_owned(), price(180_020), 50));
    trades
}

/// The bars the rules give for a symbol's trades: 240 one-minute bars from its first trade on.
fn expected(trades: &[(String, Price, u64)]) -> Vec<Ohlcv> {
    let label = |t: &str| -> Option<u32> {
        let m = t[0..2].parse::<u32>().unwrap() * 60 + t[3..5].parse::<u32>().unwrap();
        match m {
            m if (9 * 60 + 25..9 * 60 + 30).contains(&m) => Some(9 * 60 + 31),
            m if m == 11 * 60 + 30 || m == 15 * 60 => Some(m),
            m if (9 * 60 + 30..11 * 60 + 30).contains(&m) || (13 * 60..15 * 60).contains(&m) => Some(m + 1),
            _ => None,
        }
    };
    let labels: Vec<u32> = (9 * 60 + 31..=11 * 60 + 30).chain(13 * 60 + 1..=15 * 60).collect();
    let mut bars: Vec<Option<Ohlcv>> = vec![None; 240];
    for (t, p, lots) in trades {
        let Some(l) = label(t) else { continue };
        let i = labels.iter().position(|x| *x == l).unwrap();
        let (vol, amount) = (lots * 100, *p * (lots * 100));
        let trade = Ohlcv { open: *p, high: *p, low: *p, close: *p, vol, amount, trades: Some(1) };
        match &mut bars[i] {
            Some(b) => b.fold(&trade),
            empty => *empty = Some(trade),
        }
    }
    let first = bars.iter().position(Option::is_some).unwrap();
    let mut out = Vec::new();
    for bar in &bars[first..] {
        let b = bar.unwrap_or_else(|| Ohlcv::flat(out.last().map(|b: &Ohlcv| b.close).unwrap()));
        out.push(b);
    }
    out
}

fn fold(minutes: &[Ohlcv]) -> Ohlcv {
    minutes[1..].iter().fold(minutes[0], |mut v, m| {
        v.fold(m);
        v
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_synthetic_qmt_day_gives_exactly_the_bars_of_the_rules_and_publishes_each_closed_bar() {
    let mut stack = ProducerRedis::start().await;
    let heartbeats: Vec<String> = every("09:15:00", "09:24:57", 3)
        .into_iter()
        .chain(["11:45:00", "12:30:00", "15:00:03"].map(String::from))
        .collect();
    let liquid_trades = liquid();
    let illiquid_trades = vec![
        ("09:25:00".to_owned(), price(1_250), 10),
        ("10:00:30".to_owned(), price(1_262), 3),
        ("14:00:30".to_owned(), price(1_248), 7),
    ];
    let star_trades = vec![
        ("09:25:00".to_owned(), price(4_000), 20),
        ("10:00:10".to_owned(), price(4_010), 5),
        ("15:10:00".to_owned(), price(4_000), 9),
    ];
    let as_refs = |t: &[(String, Price, u64)]| -> Trades { t.to_vec() };
    let symbols: [(&str, Trades, Vec<String>); 4] = [
        ("600519.SH", as_refs(&liquid_trades), heartbeats.clone()),
        ("000001.SZ", as_refs(&illiquid_trades), vec![]),
        ("000002.SZ", vec![], every("09:15:00", "15:00:00", 60)),
        ("688981.SH", as_refs(&star_trades), vec![]),
    ];
    let mut entries: Vec<(String, String)> = Vec::new();
    for (symbol, trades, quiet) in &symbols {
        let refs: Vec<(&str, Price, u64)> = trades.iter().map(|(t, p, l)| (t.as_str(), *p, *l)).collect();
        let list = snaps(&refs, quiet);
        let (mut high, mut low) = (Price::ZERO, Price::ZERO);
        for s in &list {
            if s.lots > 0 {
                high = high.max(s.price);
                low = if low.is_zero() { s.price } else { low.min(s.price) };
            }
            entries.push((s.time.clone(), payload(symbol, s, high, low)));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    // A duplicate of the 10:30:00 snapshot, and the 09:59:00 one again after 10:00:00 (stale).
    let at = |entries: &[(String, String)], t: &str| {
        entries.iter().position(|e| e.0 == t && e.1.contains("600519.SH")).unwrap()
    };
    let i = at(&entries, "10:30:00");
    entries.insert(i + 1, entries[i].clone());
    let stale = entries[at(&entries, "09:59:00")].clone();
    entries.insert(at(&entries, "10:00:00") + 1, stale);
    let entries: Vec<(&str, String)> = entries.into_iter().map(|(_, p)| ("qmt", p)).collect();

    let received = Arc::new(Mutex::new(Vec::<Bar>::new()));
    let client = redis::Client::open(stack.redis.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(Keys::new("syn:").bar_channel(Period::M1, "600519.SH".parse().unwrap())).await.unwrap();
    let sink = received.clone();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut messages = pubsub.on_message();
        while let Some(m) = messages.next().await {
            sink.lock().unwrap().push(serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap());
        }
    });

    let mut producer = stack.producer("syn:", &[]);
    stack.send("syn:", &entries).await;
    stack.drained("syn:", &mut producer).await;

    for (symbol, trades, _) in &symbols {
        let minutes = if trades.is_empty() { vec![] } else { expected(trades) };
        let first_label = 240 - minutes.len();
        for p in Period::DEFAULTS {
            let ours = stack.bars("syn:", DAY, p, symbol).await;
            let size = usize::from(p.minutes());
            let day = common::time::day_number(DAY.parse().unwrap());
            let labels = common::Sessions::new(common::Layout::default(), &common::TradingCalendar::bundled())
                .grid(symbol.parse().unwrap(), day)
                .frames(day, p)
                .collect::<Vec<Frame>>();
            let want: Vec<Bar> = (0..240 / size)
                .filter(|w| (w + 1) * size > first_label && !minutes.is_empty())
                .map(|w| {
                    let from = (w * size).max(first_label) - first_label;
                    let to = (w + 1) * size - first_label;
                    Bar::new(symbol.parse().unwrap(), labels[w], &fold(&minutes[from..to]))
                })
                .collect();
            assert_eq!(ours, want, "{symbol} {p}m");
        }
    }
    assert_eq!(stack.bars("syn:", DAY, Period::M1, "600519.SH").await.len(), 240);
    assert_eq!(stack.bars("syn:", DAY, Period::M1, "000001.SZ").await.len(), 240, "illiquid bars close on time");
    assert!(stack.bars("syn:", DAY, Period::M1, "000002.SZ").await.is_empty(), "a suspended symbol has no bars");

    let status: serde_json::Value = serde_json::from_str(&producer.get("/api/status").await.1).unwrap();
    assert_eq!(status["outcomes"]["duplicate"], 1, "the repeated 10:30:00 snapshot");
    assert_eq!(status["outcomes"]["stale"], 1, "the 09:59:00 snapshot after 10:00:00");

    let stored = stack.bars("syn:", DAY, Period::M1, "600519.SH").await;
    let last_published = || {
        let mut by_frame = BTreeMap::new();
        for bar in received.lock().unwrap().iter() {
            by_frame.insert(bar.frame, bar.clone());
        }
        by_frame.into_values().collect::<Vec<_>>()
    };
    // Publications travel apart from the stored bars: wait until the subscriber has seen them all.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while last_published() != stored && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last_published(), stored, "each closed bar is published, last version last");
}
