//! The bundled files are what the seeded generator makes, and the market has what the demo
//! promises: an auction, lunch, a closing auction, illiquid, suspended and limit-up symbols.

use std::path::PathBuf;

use common::time::split_ms;
use common::Period;
use sample::market::{generate, hms, Activity, LIMIT_UP, SUSPENDED};
use sample::oracle::bars;

#[test]
fn the_bundled_files_are_the_generators_output() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample");
    for (name, content) in sample::files::bundle() {
        let bundled = sample::files::read_gz(&dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            bundled == content,
            "{name} differs from the generator's: run `cargo run -p tickbar-sample --bin sample-data`"
        );
    }
}

#[test]
fn the_market_has_every_kind_of_day_the_demo_promises() {
    let (stocks, days) = generate();
    let at = |ms: i64| split_ms(ms).1;
    for (symbol, day) in SUSPENDED {
        let snapshots = &days[day].symbols[symbol];
        assert!(!snapshots.is_empty() && snapshots.iter().all(|s| s.lots == 0), "{symbol} is suspended on day {day}");
        assert!(bars(snapshots, Period::M1).is_empty());
        assert_eq!(bars(&days[day].symbols[0], Period::M1).len(), 240, "the liquid symbol beside it has its day");
    }
    let liquid = &days[2].symbols[0];
    assert_eq!(stocks[0].activity, Activity::Liquid);
    let auction = liquid.iter().find(|s| s.lots > 0).unwrap();
    assert!((hms(9, 25, 0)..hms(9, 26, 0)).contains(&at(auction.time_ms)), "the first trade is the opening auction");
    assert!(liquid.iter().any(|s| (hms(11, 30, 1)..hms(11, 30, 4)).contains(&at(s.time_ms))), "an 11:30:0x snapshot");
    let morning = liquid.iter().filter(|s| at(s.time_ms) < hms(11, 31, 0)).map(|s| s.lots).max().unwrap();
    let lunch: Vec<_> = liquid.iter().filter(|s| (hms(11, 31, 0)..hms(13, 0, 0)).contains(&at(s.time_ms))).collect();
    assert!(!lunch.is_empty() && lunch.iter().all(|s| s.lots == morning), "lunch heartbeats without trades");
    let closing = liquid.iter().rev().find(|s| at(s.time_ms) < hms(15, 0, 30)).unwrap();
    assert!((hms(15, 0, 0)..hms(15, 0, 4)).contains(&at(closing.time_ms)), "the closing auction at 15:00:0x");
    let day_bars = bars(liquid, Period::M1);
    assert_eq!(day_bars.len(), 240);
    assert_eq!(day_bars.iter().map(|b| b.vol).sum::<u64>(), liquid.last().unwrap().lots * 100, "the day's volume");
    let rare = stocks.iter().position(|s| s.activity == Activity::Rare).unwrap();
    assert!(bars(&days[2].symbols[rare], Period::M1).len() < 240, "a rare symbol's bars start after its first trade");
    let limit = (days[2].symbols[LIMIT_UP][0].last_close * 110 + 50) / 100;
    assert!(days[2].symbols[LIMIT_UP].iter().filter(|s| s.last == limit).count() > 10, "trades at the upper limit");
}
