//! Stream entries into ticks: the entry ids, the two payload kinds of the contract (`tick`, `qmt`),
//! and the dead letter of whatever cannot be used. Pure: the Redis side lives in `store`.

pub use common::stream::EntryId;
use common::tick::{BadElement, DeadReason, Parsed, Payload};
use common::{Tick, TickKind};

/// One stream entry: its id and its field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    pub fields: Vec<(String, Vec<u8>)>,
}

/// An entry (or one element of it) that could not be used, as it goes to `ticks:dead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: EntryId,
    /// Why, as counted in metrics.
    pub reason: DeadReason,
    /// The full explanation.
    pub detail: String,
    pub field: String,
    /// The unusable part: the payload, or only the bad element of a payload of several.
    pub entry: Vec<u8>,
}

impl DeadLetter {
    /// The dead letter of one parsed tick refused for `reason`: the tick as a contract tick object.
    pub fn of_tick(entry: &Entry, reason: DeadReason, detail: String, tick: &Tick) -> DeadLetter {
        let mut object = serde_json::json!({
            "symbol": tick.symbol.to_string(),
            "time": tick.time_ms,
            "price": tick.price.to_string(),
            "volume": tick.volume,
            "amount": tick.amount.to_string(),
        });
        if let TickKind::Cumulative { day_high, day_low, day_trades } = tick.kind {
            object["cumulative"] = true.into();
            object["high"] = day_high.map(|p| p.to_string()).into();
            object["low"] = day_low.map(|p| p.to_string()).into();
            if let Some(trades) = day_trades {
                object["trades"] = trades.into();
            }
        }
        let field = Payload::Tick.field().into();
        DeadLetter { id: entry.id, reason, detail, field, entry: object.to_string().into_bytes() }
    }
}

/// Reads an entry's ticks into `ticks` and what cannot be used into `dead`.
pub fn read_entry(entry: &Entry, ticks: &mut Vec<Tick>, dead: &mut Vec<DeadLetter>) {
    if entry.fields.is_empty() {
        dead.push(letter(entry, "", b"", DeadReason::EmptyEntry, "the entry has no field".into()));
    }
    for (field, value) in &entry.fields {
        let parsed = match std::str::from_utf8(value) {
            Err(e) => {
                Err(common::Error::InvalidTick { reason: DeadReason::BadJson, detail: format!("not UTF-8: {e}") })
            }
            Ok(text) => match Payload::of_field(field) {
                Some(payload) => payload.parse(text),
                None => {
                    let detail = format!("unknown field {field:?}: the contract's fields are `tick` and `qmt`");
                    dead.push(letter(entry, field, value, DeadReason::UnknownField, detail));
                    continue;
                }
            },
        };
        take(parsed, entry, field, value, ticks, dead);
    }
}

fn take(
    parsed: Result<Parsed, common::Error>,
    entry: &Entry,
    field: &str,
    value: &[u8],
    ticks: &mut Vec<Tick>,
    dead: &mut Vec<DeadLetter>,
) {
    match parsed {
        Err(e) => dead.push(letter(entry, field, value, e.reason(), e.to_string())),
        Ok(elements) => {
            let several = elements.len() > 1;
            for (i, element) in elements.into_iter().enumerate() {
                match element {
                    Ok(tick) => ticks.push(tick),
                    Err(BadElement { error, element }) if several => {
                        let detail = format!("element {i}: {error}");
                        dead.push(letter(entry, field, element.as_bytes(), error.reason(), detail))
                    }
                    Err(bad) => dead.push(letter(entry, field, value, bad.error.reason(), bad.error.to_string())),
                }
            }
        }
    }
}

fn letter(entry: &Entry, field: &str, value: &[u8], reason: DeadReason, detail: String) -> DeadLetter {
    DeadLetter { id: entry.id, reason, detail, field: field.to_owned(), entry: value.to_vec() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, &str)]) -> Entry {
        Entry {
            id: "1-0".parse().unwrap(),
            fields: fields.iter().map(|(f, v)| (f.to_string(), v.as_bytes().to_vec())).collect(),
        }
    }

    fn read(fields: &[(&str, &str)]) -> (Vec<Tick>, Vec<(&'static str, String)>) {
        let (mut ticks, mut dead) = (Vec::new(), Vec::new());
        read_entry(&entry(fields), &mut ticks, &mut dead);
        (ticks, dead.into_iter().map(|d| (d.reason.as_str(), d.detail)).collect())
    }

    #[test]
    fn both_payload_kinds_give_ticks() {
        let (ticks, dead) = read(&[
            ("tick", r#"[{"symbol":"600519.SH","time":1763602203000,"price":1650.5,"volume":300}]"#),
            ("qmt", r#"{"000001.SZ":{"time":1763602203000,"lastPrice":10.5,"volume":12,"amount":12600}}"#),
        ]);
        assert_eq!((ticks.len(), dead.len()), (2, 0));
        assert_eq!(ticks[1].volume, 1200);
    }

    #[test]
    fn each_unusable_part_is_a_dead_letter_with_its_reason() {
        let (ticks, dead) = read(&[
            ("tick", r#"[{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1},{"symbol":"x"}]"#),
            ("quote", "{}"),
            ("qmt", "{"),
        ]);
        assert_eq!(ticks.len(), 1);
        let reasons: Vec<&str> = dead.iter().map(|d| d.0).collect();
        assert_eq!(reasons, ["bad_symbol", "unknown_field", "bad_json"]);
        assert!(dead[0].1.starts_with("element 1:"), "{}", dead[0].1);
        assert_eq!(read(&[]).1[0].0, "empty_entry");
    }
}
