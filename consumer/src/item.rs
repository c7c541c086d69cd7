//! One history queue item: the contract's bar object (numbers or strings, `frame` with a space or
//! ISO-8601), checked against the calendar and the session layout, or the dead letter saying why not.

use std::sync::Arc;

use common::normalise::{check_bar, DeadReason};
use common::{Bar, Period};
use runtime::calendar::Market;
use serde::Serialize;

/// Checks queue items of any period against one layout and the calendar followed.
#[derive(Debug, Clone)]
pub struct Validator {
    market: Arc<Market>,
}

/// Why an item cannot become a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: DeadReason,
    pub detail: String,
}

impl Validator {
    pub fn new(market: Market) -> Validator {
        Validator { market: Arc::new(market) }
    }

    /// The bar an item of `period`'s queue holds, or why it cannot be used.
    pub fn bar(&self, period: Period, item: &str) -> Result<Bar, Refused> {
        let bar: Bar = serde_json::from_str(item).map_err(|e| refused_json(item, e))?;
        let (calendar, sessions) = self.market.now();
        check_bar(&sessions, &calendar, period, &bar).map_err(|reason| Refused {
            reason,
            detail: format!("{} {} is no {period}-minute bar of the layout ({reason})", bar.symbol, bar.frame),
        })?;
        Ok(bar)
    }
}

/// Sorts a parse failure into unreadable JSON, a negative volume or another bad field.
fn refused_json(item: &str, e: serde_json::Error) -> Refused {
    let reason = match serde_json::from_str::<serde_json::Value>(item) {
        Ok(serde_json::Value::Object(map)) => match map.get("vol") {
            Some(v) if v.to_string().trim_matches('"').starts_with('-') => DeadReason::NegativeVolume,
            _ => DeadReason::BadField,
        },
        _ => DeadReason::BadJson,
    };
    Refused { reason, detail: e.to_string() }
}

/// What goes to `historical_bar_data_dead`: the item, the queue it came from and why.
#[derive(Debug, Serialize)]
pub struct DeadLetter<'a> {
    pub reason: DeadReason,
    pub detail: &'a str,
    pub queue: &'a str,
    pub item: &'a str,
    /// When it was refused, epoch ms.
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_item_is_a_bar_or_a_reason_never_a_panic(
            item in prop_oneof![
                ".{0,80}",
                (any::<u64>(), "[0-9eE.+-]{1,40}", "[0-9eE.+-]{1,40}").prop_map(|(vol, price, amount)| format!(
                    r#"{{"symbol":"600519.SH","frame":"2023-02-01 09:35:00","open":"{price}","high":"{price}","low":"{price}","close":"{price}","vol":{vol},"amount":"{amount}"}}"#
                )),
            ],
            period in prop::sample::select(Period::DEFAULTS.to_vec()),
        ) {
            match validator().bar(period, &item) {
                Ok(bar) => prop_assert!(bar.check().is_ok()),
                Err(refused) => prop_assert!(!refused.detail.is_empty(), "{:?} without a detail", refused.reason),
            }
        }
    }

    fn validator() -> Validator {
        Validator::new(Market::new(common::Layout::default(), runtime::calendar::LiveCalendar::bundled()))
    }

    #[test]
    fn the_seed_shape_with_strings_and_a_spaced_frame_is_accepted() {
        let item = r#"{"symbol":"600519.SH","frame":"2023-02-01 09:35:00","open":"1650.0","high":1652.3,"low":1649.9,"close":"1651.0","vol":"120300","amount":198612345.5}"#;
        let bar = validator().bar(Period::M5, item).unwrap();
        assert_eq!((bar.vol, bar.amount.to_string()), (120_300, "198612345.5".into()));
    }

    #[test]
    fn each_kind_of_bad_item_gets_its_reason() {
        let v = validator();
        let ok = r#""symbol":"600519.SH","open":10,"high":11,"low":9,"close":10,"amount":100"#;
        for (item, reason) in [
            ("not json".to_owned(), "bad_json"),
            ("[1,2]".to_owned(), "bad_json"),
            (format!(r#"{{{ok},"frame":"2023-02-01 09:31:00"}}"#), "bad_field"),
            (format!(r#"{{{ok},"frame":"2023-02-01 09:31:00","vol":-5}}"#), "negative_volume"),
            (format!(r#"{{{ok},"frame":"2023-02-01 09:31:00","vol":"-5"}}"#), "negative_volume"),
            (format!(r#"{{{ok},"frame":"2023-02-01 25:31:00","vol":5}}"#), "bad_field"),
            (format!(r#"{{{ok},"frame":"2023-02-01 12:01:00","vol":5}}"#), "outside_sessions"),
            (format!(r#"{{{ok},"frame":"2023-01-23 10:00:00","vol":5}}"#), "non_trading_day"),
            (r#"{"symbol":"600519.SH","open":10,"high":9,"low":9.5,"close":10,"amount":1,"frame":"2023-02-01 09:31:00","vol":1}"#.to_owned(), "bad_bar"),
        ] {
            assert_eq!(v.bar(Period::M1, &item).unwrap_err().reason.as_str(), reason, "{item}");
        }
    }
}
