//! No input stops the aggregator: arbitrary payloads (random JSON, absurd numbers, odd strings,
//! ticks at the bounds) go through both parsers and the aggregator, and a saved state restores,
//! without a panic; whatever is refused is refused with a reason. The parsers give what the
//! serde_json parsers they replaced give (`serde_reference`), element by element.

mod serde_reference;

use std::sync::Arc;

use common::tick::{parse_qmt_payload, parse_tick_payload, MAX_AMOUNT, MAX_PRICE, MAX_VOLUME};
use common::{BarAggregator, BarSettings, Tick, TickOutcome, TradingCalendar};
use proptest::prelude::*;

/// Numbers as a hostile feed writes them: huge, tiny, negative, exponents, digits beyond any type.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("79228162514264337593543950335".to_owned()),
        Just("-79228162514264337593543950335".to_owned()),
        Just("1e400".to_owned()),
        Just("1e-400".to_owned()),
        Just("0.0000000000000000000000000001".to_owned()),
        Just("123456789012345678901234567890.5".to_owned()),
        Just(MAX_PRICE.to_string()),
        Just(MAX_VOLUME.to_string()),
        Just(MAX_AMOUNT.to_string()),
        Just(format!("{}", MAX_VOLUME + 1)),
        (1u64..2_000_000, 0u32..6).prop_map(|(m, s)| rust_decimal::Decimal::new(m as i64, s).to_string()),
    ]
}

/// A JSON value: a number (bare or quoted), a string, null, a boolean.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        number(),
        number().prop_map(|n| format!("\"{n}\"")),
        "[a-zA-Z0-9 .:+-]{0,24}".prop_map(|s| format!("\"{s}\"")),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("\"2026-11-18T10:00:00\"".to_owned()),
        Just("\"2026-11-18 99:99:99\"".to_owned()),
        Just("1763431200000".to_owned()),
    ]
}

fn symbol() -> impl Strategy<Value = String> {
    prop_oneof![Just("600519.SH".to_owned()), Just("000001.sz".to_owned()), "[0-9A-Z.]{0,10}"]
}

/// A tick object whose fields are each present or not, and each any scalar.
fn tick_object() -> impl Strategy<Value = String> {
    let field = |name: &'static str| prop::option::of(scalar()).prop_map(move |v| v.map(|v| format!("\"{name}\":{v}")));
    (
        symbol(),
        field("time"),
        field("price"),
        field("volume"),
        field("amount"),
        field("cumulative"),
        field("high"),
        field("low"),
    )
        .prop_map(|(symbol, time, price, volume, amount, cumulative, high, low)| {
            let mut fields = vec![format!("\"symbol\":\"{symbol}\"")];
            fields.extend([time, price, volume, amount, cumulative, high, low].into_iter().flatten());
            format!("{{{}}}", fields.join(","))
        })
}

/// A tick with a good symbol and a session time whose numbers are anything, bounds included.
fn numeric_tick() -> impl Strategy<Value = String> {
    (34_200i64..54_000, number(), number(), prop::option::of(number()), any::<bool>()).prop_map(
        |(sec, price, volume, amount, cumulative)| {
            let amount = amount.map_or(String::new(), |a| format!(",\"amount\":{a}"));
            format!(
                r#"{{"symbol":"600519.SH","time":{},"price":{price},"volume":{volume}{amount},"cumulative":{cumulative}}}"#,
                on_day(sec)
            )
        },
    )
}

/// A QMT whole-quote payload whose snapshot fields are any scalar.
fn qmt_payload() -> impl Strategy<Value = String> {
    let snapshot = (scalar(), scalar(), scalar(), scalar(), scalar(), scalar()).prop_map(|(t, p, h, l, v, a)| {
        format!(r#"{{"time":{t},"lastPrice":{p},"high":{h},"low":{l},"volume":{v},"amount":{a}}}"#)
    });
    prop::collection::vec((symbol(), snapshot), 0..6).prop_map(|pairs| {
        let body: Vec<String> = pairs.iter().map(|(s, snap)| format!("\"{s}\":{snap}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

/// A QMT snapshot dict as xtquant writes it and worse: the fields a tick needs and those it skips
/// (bid/ask arrays, a nested object), each present or not, some twice, in any order.
fn qmt_snapshot_any_order() -> impl Strategy<Value = String> {
    let field = |name: &'static str| prop::option::of(scalar()).prop_map(move |v| v.map(|v| format!("\"{name}\":{v}")));
    let needed = (field("time"), field("lastPrice"), field("high"), field("low"), field("volume"), field("amount"));
    let skipped = prop::collection::vec(
        prop_oneof![
            prop::collection::vec(number(), 0..5).prop_map(|n| format!("\"bidPrice\":[{}]", n.join(","))),
            scalar().prop_map(|v| format!("\"open\":{v}")),
            Just("\"depth\":{\"a\":[1,{\"b\":null}],\"c\":\"x\\\"y\"}".to_owned()),
            Just("\"last\\u0050rice\":1650.5".to_owned()),
        ],
        0..4,
    );
    (needed, skipped, prop::option::of(field("time"))).prop_flat_map(|((t, p, h, l, v, a), skipped, twice)| {
        let mut fields: Vec<String> = [t, p, h, l, v, a, twice.flatten()].into_iter().flatten().collect();
        fields.extend(skipped);
        Just(fields).prop_shuffle().prop_map(|fields| format!("{{{}}}", fields.join(" , ")))
    })
}

/// The payloads whose every verdict is compared with the reference: tick objects, arrays of
/// them, and QMT payloads, JSON in the contract's shapes with any values.
fn structured_payload() -> impl Strategy<Value = (bool, String)> {
    let qmt = prop::collection::vec((symbol(), qmt_snapshot_any_order()), 0..6).prop_map(|pairs| {
        let body: Vec<String> = pairs.iter().map(|(s, snap)| format!("\"{s}\":{snap}")).collect();
        format!("{{{}}}", body.join(","))
    });
    prop_oneof![
        tick_object().prop_map(|t| (true, t)),
        prop::collection::vec(numeric_tick(), 1..8).prop_map(|ts| (true, format!("[{}]", ts.join(",")))),
        prop::collection::vec(tick_object(), 0..5).prop_map(|ts| (true, format!(" [ {} ] ", ts.join(" , ")))),
        qmt_payload().prop_map(|q| (false, q)),
        qmt.prop_map(|q| (false, q)),
    ]
}

/// A parse as the comparison sees it: each tick exactly (scales too), each refusal by its reason
/// and its element, a refused payload by its reason.
type Verdicts = Result<Vec<Result<String, (String, String)>>, String>;

fn verdicts(parsed: Result<common::tick::Parsed, common::Error>) -> Verdicts {
    let element = |e: Result<Tick, common::tick::BadElement>| {
        e.map(|t| format!("{t:?}")).map_err(|bad| (bad.error.reason().as_str().to_owned(), bad.element))
    };
    parsed.map(|elements| elements.into_iter().map(element).collect()).map_err(|e| e.reason().as_str().to_owned())
}

/// What a stream field may hold: a tick object, an array of them, a QMT payload, or noise.
fn payload() -> impl Strategy<Value = (bool, String)> {
    prop_oneof![
        tick_object().prop_map(|t| (true, t)),
        prop::collection::vec(numeric_tick(), 1..8).prop_map(|ts| (true, format!("[{}]", ts.join(",")))),
        prop::collection::vec(tick_object(), 0..5).prop_map(|ts| (true, format!("[{}]", ts.join(",")))),
        qmt_payload().prop_map(|q| (false, q)),
        ".{0,40}".prop_map(|s| (true, s)),
        ".{0,40}".prop_map(|s| (false, s)),
    ]
}

/// Market-time milliseconds of 2026-11-18 (a Wednesday) at `sec` seconds after midnight.
fn on_day(sec: i64) -> i64 {
    1_763_395_200_000 + sec * 1000
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_payloads_neither_panic_the_parsers_nor_the_aggregator(
        payloads in prop::collection::vec(payload(), 1..12),
        clock in prop::collection::vec(0i64..86_400, 1..12),
    ) {
        let calendar = Arc::new(TradingCalendar::bundled());
        let settings = BarSettings::default();
        let mut agg = BarAggregator::new(&settings, calendar.clone());
        let mut ticks: Vec<Tick> = Vec::new();
        for (i, (tick_field, text)) in payloads.iter().enumerate() {
            let parsed = if *tick_field { parse_tick_payload(text) } else { parse_qmt_payload(text) };
            match parsed {
                Ok(elements) => {
                    for element in elements {
                        match element {
                            Ok(tick) => ticks.push(tick),
                            Err(bad) => prop_assert!(!bad.element.is_empty(), "{:?} names no element", bad.error.reason()),
                        }
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            let now = on_day(clock[i % clock.len()]);
            for tick in ticks.drain(..) {
                agg.apply(&tick, now);
                agg.apply_at_watermark(&tick);
            }
            agg.advance(now);
            agg.drain_events().for_each(|e| assert!(e.bar.vol <= MAX_VOLUME && e.bar.check().is_ok() || e.bar.vol == 0));
        }
        let restored = BarAggregator::restore(&settings, calendar, &agg.save());
        prop_assert!(restored.is_ok(), "a saved state restores: {:?}", restored.err());
    }

    #[test]
    fn the_scanner_parsers_give_the_serde_parsers_verdicts((tick_field, text) in structured_payload()) {
        let (ours, reference) = if tick_field {
            (parse_tick_payload(&text), serde_reference::parse_tick_payload(&text))
        } else {
            (parse_qmt_payload(&text), serde_reference::parse_qmt_payload(&text))
        };
        prop_assert_eq!(verdicts(ours), verdicts(reference), "{}", text);
    }

    #[test]
    fn noise_is_refused_by_both_or_by_neither((tick_field, text) in payload()) {
        let (ours, reference) = if tick_field {
            (parse_tick_payload(&text).is_ok(), serde_reference::parse_tick_payload(&text).is_ok())
        } else {
            (parse_qmt_payload(&text).is_ok(), serde_reference::parse_qmt_payload(&text).is_ok())
        };
        prop_assert_eq!(ours, reference, "{}", text);
    }

    #[test]
    fn corrupt_checkpoints_are_errors_not_panics(noise in ".{0,200}", index in any::<u16>(), value in any::<i64>()) {
        let calendar = Arc::new(TradingCalendar::bundled());
        let settings = BarSettings::default();
        let _ = BarAggregator::restore(&settings, calendar.clone(), noise.as_bytes());
        let book = format!(
            r#"{{"layout":{{"label":"end","auction":"folded","fill_empty":true,"after_hours":false}},"latest_ms":{value},"counts":[],"books":{{"600519.SH":{{"day":20410,"feed":{{"base":null}},"forming":{{"slot":{index},"v":{{"open":"1","high":"1","low":"1","close":"1","vol":{value},"amount":"1"}},"first_ms":0,"last_ms":0,"traded":true}},"closed":[],"last":null,"rollups":[{{"window":{index},"v":{{"open":"1","high":"1","low":"1","close":"1","vol":1,"amount":"-7.9e28"}}}},null,null,null],"unattributed_volume":0,"unattributed_amount":"0","touched":true,"deadline":{{"now_ms":0,"latest_ms":0}}}}}}}}"#
        );
        if let Ok(mut agg) = BarAggregator::restore(&settings, calendar, book.as_bytes()) {
            agg.advance(on_day(36_000));
            agg.drain_events().count();
        }
    }
}

#[test]
fn the_overflowing_price_of_the_report_is_refused_with_its_reason() {
    let payload =
        r#"{"symbol":"600519.SH","time":"2026-11-18T10:00:00","price":"79228162514264337593543950335","volume":2}"#;
    let parsed = parse_tick_payload(payload).unwrap();
    assert_eq!(parsed[0].as_ref().unwrap_err().error.reason(), "out_of_bounds");
}

#[test]
fn no_bar_of_any_period_holds_more_than_the_bounds_the_excess_is_counted_too_large() {
    let mut agg = BarAggregator::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()));
    let tick = |sec: i64, volume: u64| {
        let json = format!(r#"{{"symbol":"600519.SH","time":{},"price":1,"volume":{volume}}}"#, on_day(sec));
        parse_tick_payload(&json).unwrap().remove(0).unwrap()
    };
    let now = on_day(36_010);
    assert_eq!(agg.apply(&tick(36_000, MAX_VOLUME - 1), now), TickOutcome::Applied);
    assert_eq!(agg.apply(&tick(36_001, 2), now), TickOutcome::TooLarge);
    assert_eq!(agg.apply(&tick(36_061, 2), now + 60_000), TickOutcome::TooLarge, "the hour would hold too much");
    assert_eq!(agg.apply(&tick(36_062, 1), now + 60_000), TickOutcome::Applied, "up to the bound exactly");
    agg.advance(on_day(40_000));
    let closed: Vec<u64> = agg.drain_events().filter(|e| e.period == common::Period::M60).map(|e| e.bar.vol).collect();
    assert_eq!(closed, [MAX_VOLUME], "the hour holds the day's placed volume, at most the bound");
    assert_eq!(agg.count(TickOutcome::TooLarge), 2);
    let symbol = "600519.SH".parse().unwrap();
    assert_eq!(agg.unattributed(symbol).0, 4, "the refused shares are accounted for");
}
