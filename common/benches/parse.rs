//! Parsing the two stream payloads on one core: xtquant whole-quote payloads of 300 symbols with
//! every field a real snapshot dict carries (five-level bid/ask prices and volumes, about 430 bytes
//! a snapshot), and arrays of 100 plain trade ticks; beside each, in the same run, the serde_json
//! parsers they replaced (`serde_reference`, the poison test's reference).

#[path = "../tests/serde_reference/mod.rs"]
mod serde_reference;
mod support;

use common::tick::{parse_qmt_payload, parse_tick_payload};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{symbol_name, Lcg};

const SYMBOLS: usize = 300;
const PAYLOADS: usize = 60;

/// A price of `cents` as xtquant prints it (a float's shortest form).
fn yuan(cents: u64) -> String {
    match cents % 100 {
        0 => format!("{}.0", cents / 100),
        c if c % 10 == 0 => format!("{}.{}", cents / 100, c / 10),
        c => format!("{}.{c:02}", cents / 100),
    }
}

fn levels(base: u64, step: i64, rng: &mut Lcg) -> (String, String) {
    let prices: Vec<String> = (0..5).map(|k| yuan((base as i64 + step * k) as u64)).collect();
    let vols: Vec<String> = (0..5).map(|_| rng.next(500).to_string()).collect();
    (prices.join(","), vols.join(","))
}

/// One whole-quote payload per 3 s, every symbol in each.
fn qmt_payloads() -> Vec<String> {
    let mut rng = Lcg(7);
    let mut state: Vec<(u64, u64, u64)> = (0..SYMBOLS).map(|i| (1_000 + i as u64 * 7 % 9_000, 0, 0)).collect();
    (0..PAYLOADS)
        .map(|p| {
            let time = 1_763_602_203_000u64 + p as u64 * 3_000;
            let quotes: Vec<String> = state
                .iter_mut()
                .enumerate()
                .map(|(i, (cents, lots, fen))| {
                    *cents = (*cents + rng.next(5)).saturating_sub(2).max(100);
                    let traded = rng.next(50);
                    *lots += traded;
                    *fen += traded * 100 * *cents;
                    let (ask, ask_vol) = levels(*cents + 1, 1, &mut rng);
                    let (bid, bid_vol) = levels(*cents, -1, &mut rng);
                    let amount = yuan(*fen);
                    format!(
                        r#""{}":{{"time":{time},"lastPrice":{},"open":{},"high":{},"low":{},"lastClose":{},"amount":{amount},"volume":{lots},"pvolume":{},"stockStatus":0,"openInt":13,"transactionNum":{},"lastSettlementPrice":0.0,"settlementPrice":0.0,"pe":0.0,"askPrice":[{ask}],"bidPrice":[{bid}],"askVol":[{ask_vol}],"bidVol":[{bid_vol}],"volRatio":0.0,"speed1Min":0.0,"speed5Min":0.0}}"#,
                        symbol_name(i),
                        yuan(*cents),
                        yuan(*cents),
                        yuan(*cents + 20),
                        yuan(cents.saturating_sub(20)),
                        yuan(*cents),
                        *lots * 100,
                        *lots / 3,
                    )
                })
                .collect();
            format!("{{{}}}", quotes.join(","))
        })
        .collect()
}

/// Arrays of 100 trade ticks, as a feed bridge writes them.
fn tick_payloads() -> Vec<String> {
    let mut rng = Lcg(11);
    (0..PAYLOADS * 3)
        .map(|p| {
            let ticks: Vec<String> = (0..100)
                .map(|k| {
                    let time = 1_763_602_203_000u64 + (p * 100 + k) as u64 * 30;
                    let (cents, volume) = (1_000 + rng.next(9_000), (1 + rng.next(50)) * 100);
                    format!(
                        r#"{{"symbol":"{}","time":{time},"price":{},"volume":{volume},"amount":{},"cumulative":false}}"#,
                        symbol_name(k * 3 % SYMBOLS),
                        yuan(cents),
                        yuan(cents * volume)
                    )
                })
                .collect();
            format!("[{}]", ticks.join(","))
        })
        .collect()
}

fn bench(c: &mut Criterion, name: &str, payloads: &[String], parse: fn(&str) -> usize) {
    let elements: usize = payloads.iter().map(|p| parse(p)).sum();
    let bytes: usize = payloads.iter().map(String::len).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(elements as u64));
    group.bench_function(format!("{name}/elements"), |b| b.iter(|| payloads.iter().map(|p| parse(p)).sum::<usize>()));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("{name}/bytes"), |b| b.iter(|| payloads.iter().map(|p| parse(p)).sum::<usize>()));
    group.finish();
}

/// How many ticks a payload gave.
fn ok(parsed: Result<common::tick::Parsed, common::Error>) -> usize {
    parsed.unwrap().iter().filter(|t| t.is_ok()).count()
}

fn parse_payloads(c: &mut Criterion) {
    let (qmt, ticks) = (qmt_payloads(), tick_payloads());
    bench(c, "qmt_whole_quote_300_symbols", &qmt, |p| ok(parse_qmt_payload(p)));
    bench(c, "qmt_whole_quote_300_symbols_serde", &qmt, |p| ok(serde_reference::parse_qmt_payload(p)));
    bench(c, "tick_arrays_of_100", &ticks, |p| ok(parse_tick_payload(p)));
    bench(c, "tick_arrays_of_100_serde", &ticks, |p| ok(serde_reference::parse_tick_payload(p)));
}

criterion_group!(benches, parse_payloads);
criterion_main!(benches);
