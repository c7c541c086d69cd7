//! The producer's deterministic core: batches of stream entries in, bar events and dead letters out,
//! with the counters the monitor shows. The same batch at the same [`Tempo`] always gives the same
//! result, which is what makes a restart exact: the journal records each batch's last entry id and
//! tempo, and recovery replays them on top of the last checkpoint.
//!
//! On the wall clock a batch is applied at the wall clock while the producer is caught up, and in
//! event time (the watermark moving with the ticks, never past the wall clock) while it works off a
//! backlog: bars then close as they would have, had the producer never stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::shard::shard_of;
use common::tick::DeadReason;
use common::time::{date_of, split_ms};
use common::{BarAggregator, BarEvent, BarEventKind, BarSettings, Period, Symbol, Tick, TradingCalendar};
use runtime::progress::Progress;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::{read_entry, DeadLetter, Entry, EntryId};
use crate::settings::{BarClock, ProducerSettings};

/// Totals since the stream was first read; they survive restarts with the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub entries: u64,
    pub ticks: u64,
    /// Dead-lettered entries (or payload elements) by reason.
    pub dead: BTreeMap<DeadReason, u64>,
    /// Bars closed and amended, by period.
    #[serde(deserialize_with = "per_period_of_any_release")]
    pub closed: BTreeMap<Period, u64>,
    #[serde(deserialize_with = "per_period_of_any_release")]
    pub amended: BTreeMap<Period, u64>,
}

/// Counts by period as any release wrote them: a map by minutes, or (before periods were
/// configurable) an array in the order of the five default periods.
fn per_period_of_any_release<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<Period, u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        ByPeriod(BTreeMap<Period, u64>),
        InDefaultOrder(Vec<u64>),
    }
    match Stored::deserialize(d)? {
        Stored::ByPeriod(map) => Ok(map),
        Stored::InDefaultOrder(counts) if counts.len() <= Period::DEFAULTS.len() => {
            Ok(Period::DEFAULTS.into_iter().zip(counts).filter(|(_, n)| *n > 0).collect())
        }
        Stored::InDefaultOrder(counts) => Err(serde::de::Error::custom(format!("{} period counts", counts.len()))),
    }
}

/// When a step happens: the wall clock read right after its entries were (no tick of them can be
/// stamped later, short of a wrong clock upstream), and whether they are a backlog to apply in
/// event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tempo {
    pub wall_ms: i64,
    pub catch_up: bool,
}

/// The format of the journal records this release writes (`v2 <upto> <wall_ms>[ catch-up]`); a
/// record without the `v` word is format 1, written before records carried one.
pub const JOURNAL_FORMAT: u32 = 2;

/// The format of the checkpoints this release writes (the state hash's `format` field); one
/// without the field is format 1 (the forming bars of the longer periods an array of the four
/// defaults', the bar counts an array of the five defaults'). Format 3: bars may carry a trade
/// count, each forming longer bar names its period, the counts are by period.
pub const CHECKPOINT_FORMAT: u32 = 3;

/// The formats 1 to `known` are readable; a later one (a newer release wrote it) is a state error
/// that names both, so the producer stops on it (a fault on `/readyz`) instead of misreading it.
pub fn readable_format(what: &str, format: u32, known: u32) -> Result<()> {
    if (1..=known).contains(&format) {
        return Ok(());
    }
    Err(Error::State(format!(
        "{what} format {format}: this release reads formats 1 to {known}; run the release that wrote it, or a later one"
    )))
}

/// One journal record: entries up to `upto` were applied at `tempo`, then the clock advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub upto: EntryId,
    pub tempo: Tempo,
}

impl Record {
    pub fn encode(&self) -> String {
        let mode = if self.tempo.catch_up { " catch-up" } else { "" };
        format!("v{JOURNAL_FORMAT} {} {}{mode}", self.upto, self.tempo.wall_ms)
    }

    /// Reads a record of any format up to [`JOURNAL_FORMAT`].
    pub fn decode(text: &str) -> Result<Record> {
        let bad = || Error::State(format!("journal record {text:?}"));
        let (format, body) = match text.strip_prefix('v').and_then(|rest| rest.split_once(' ')) {
            Some((format, body)) => (format.parse().map_err(|_| bad())?, body),
            None => (1, text),
        };
        readable_format("journal record", format, JOURNAL_FORMAT)?;
        let mut parts = body.split(' ');
        let (Some(upto), Some(now)) = (parts.next(), parts.next()) else { return Err(bad()) };
        let catch_up = match parts.next() {
            None => false,
            Some("catch-up") => true,
            Some(_) => return Err(bad()),
        };
        let tempo = Tempo { wall_ms: now.parse().map_err(|_| bad())?, catch_up };
        Ok(Record { upto: upto.parse().map_err(|_| bad())?, tempo })
    }
}

/// What one step produced, committed to Redis as one transaction.
#[derive(Debug, Default)]
pub struct Commit {
    pub events: Vec<BarEvent>,
    pub dead: Vec<DeadLetter>,
    /// The entries with ticks the [`Rules`] refused, and the positions of those ticks among the
    /// entry's parsed ticks: what the tick archive leaves out (`Keys::refused_ticks`).
    pub refused: Vec<(EntryId, String)>,
    pub record: Option<Record>,
    /// How far the producer got, for the other services.
    pub progress: Option<Progress>,
    /// Entries read since the stream was first read, the group's `ENTRIESREAD`.
    pub entries_read: u64,
}

impl Commit {
    pub fn clear(&mut self) {
        self.events.clear();
        self.dead.clear();
        self.refused.clear();
        self.record = None;
        self.progress = None;
    }
}

/// A checkpoint: the whole state after the entry `last_id`, and the market date of its latest tick
/// (empty before the first), which the cleanup reports; written in `format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub format: u32,
    pub aggregator: Vec<u8>,
    pub counters: Vec<u8>,
    pub last_id: EntryId,
    pub latest_day: String,
}

/// How an LZ4 frame begins; a checkpoint written before they were framed begins with `{`.
const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];

/// The aggregator's checkpoint: its JSON, LZ4-framed as it is written. A whole market's books are
/// some 60 MB of JSON late in the day, several times less framed, and no unframed copy is held.
fn pack(agg: &BarAggregator) -> Vec<u8> {
    let mut frame = lz4_flex::frame::FrameEncoder::new(Vec::new());
    agg.save_to(&mut frame).expect("aggregator state serializes into memory");
    frame.finish().expect("an LZ4 frame in memory ends")
}

/// The JSON of a checkpoint [`pack`] wrote, or of one written before checkpoints were framed.
fn unpack(saved: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if !saved.starts_with(&LZ4_FRAME_MAGIC) {
        return Ok(saved.into());
    }
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut lz4_flex::frame::FrameDecoder::new(saved), &mut json)
        .map_err(|e| Error::State(format!("aggregator: {e}")))?;
    Ok(json.into())
}

/// The aggregator with its clock, counters and stream position.
pub struct Engine {
    agg: BarAggregator,
    rules: Rules,
    counters: Counters,
    last_id: EntryId,
    ticks: Vec<Tick>,
    /// The shard of each symbol seen, so the hash runs once per symbol.
    shards_of: FxHashMap<Symbol, u16>,
}

/// How the engine closes bars and which parsed ticks it refuses: ticks stamped more than
/// `max_ahead_ms` after the wall clock (`ahead_of_clock`) and ticks of symbols another shard owns
/// (`wrong_shard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub clock: BarClock,
    pub max_ahead_ms: u64,
    pub shard: u16,
    pub shards: u16,
}

impl Rules {
    pub fn of(settings: &ProducerSettings) -> Rules {
        let section = &settings.producer;
        Rules {
            clock: section.clock,
            max_ahead_ms: section.max_ahead_ms,
            shard: section.shard,
            shards: settings.redis.shards,
        }
    }
}

impl Engine {
    pub fn new(settings: &BarSettings, calendar: Arc<TradingCalendar>, rules: Rules) -> Engine {
        let agg = BarAggregator::new(settings, calendar);
        Engine::assemble(agg, rules, Counters::default(), EntryId::default())
    }

    fn assemble(agg: BarAggregator, rules: Rules, counters: Counters, last_id: EntryId) -> Engine {
        Engine { agg, rules, counters, last_id, ticks: Vec::new(), shards_of: FxHashMap::default() }
    }

    /// The engine as a checkpoint left it.
    pub fn restore(
        settings: &BarSettings,
        calendar: Arc<TradingCalendar>,
        rules: Rules,
        saved: &Saved,
    ) -> Result<Engine> {
        readable_format("checkpoint", saved.format, CHECKPOINT_FORMAT)?;
        let agg = BarAggregator::restore(settings, calendar, &unpack(&saved.aggregator)?)?;
        let counters = serde_json::from_slice(&saved.counters).map_err(|e| Error::State(format!("counters: {e}")))?;
        Ok(Engine::assemble(agg, rules, counters, saved.last_id))
    }

    /// Follows a changed calendar from now on (see [`BarAggregator::set_calendar`]).
    pub fn set_calendar(&mut self, calendar: Arc<TradingCalendar>) {
        self.agg.set_calendar(calendar);
    }

    pub fn save(&self) -> Saved {
        let latest_day = self.latest_day().map(|day| day.to_string());
        Saved {
            format: CHECKPOINT_FORMAT,
            aggregator: pack(&self.agg),
            counters: serde_json::to_vec(&self.counters).expect("counters serialize"),
            last_id: self.last_id,
            latest_day: latest_day.unwrap_or_default(),
        }
    }

    /// The market date of the latest tick applied.
    fn latest_day(&self) -> Option<chrono::NaiveDate> {
        self.agg.latest_tick_ms().map(|ms| date_of(split_ms(ms).0))
    }

    /// Applies `entries` (in stream order, all after [`Self::last_id`]) at `tempo`, then advances
    /// the clock; what happened goes into `step`.
    pub fn step(&mut self, entries: &[Entry], tempo: Tempo, commit: &mut Commit) {
        self.ticks.clear();
        let first_dead = commit.dead.len();
        for entry in entries {
            let first_tick = self.ticks.len();
            read_entry(entry, &mut self.ticks, &mut commit.dead);
            self.refuse(entry, first_tick, tempo.wall_ms, commit);
        }
        self.counters.entries += entries.len() as u64;
        self.counters.ticks += self.ticks.len() as u64;
        for d in &commit.dead[first_dead..] {
            *self.counters.dead.entry(d.reason).or_default() += 1;
        }
        let now_ms = match (self.rules.clock, tempo.catch_up) {
            (BarClock::Wall, false) => {
                self.ticks.iter().for_each(|t| {
                    self.agg.apply(t, tempo.wall_ms);
                });
                tempo.wall_ms
            }
            (BarClock::Wall, true) | (BarClock::Event, _) => {
                self.ticks.iter().for_each(|t| {
                    self.agg.apply_at_watermark(t);
                });
                let watermark = self.agg.latest_tick_ms().unwrap_or(i64::MIN);
                if self.rules.clock == BarClock::Wall {
                    watermark.min(tempo.wall_ms)
                } else {
                    watermark
                }
            }
        };
        self.agg.advance(now_ms);
        for e in self.agg.drain_events() {
            match e.kind {
                BarEventKind::Closed => *self.counters.closed.entry(e.period).or_default() += 1,
                BarEventKind::Amended => *self.counters.amended.entry(e.period).or_default() += 1,
                BarEventKind::Updated => {}
            }
            commit.events.push(e);
        }
        if let Some(last) = entries.last() {
            self.last_id = last.id;
        }
        commit.record = Some(Record { upto: self.last_id, tempo });
        commit.progress = Some(Progress { latest_day: self.latest_day(), position: self.last_id });
        commit.entries_read = self.counters.entries;
    }

    /// Moves the ticks of `entry` (from `first`) that the [`Rules`] refuse to dead letters: a
    /// clock gone wrong upstream must not close bars or open a day, and a symbol's bars are kept
    /// by its own shard only.
    fn refuse(&mut self, entry: &Entry, first: usize, wall_ms: i64, commit: &mut Commit) {
        let limit = wall_ms.saturating_add(self.rules.max_ahead_ms as i64);
        let Rules { shard, shards, .. } = self.rules;
        let (mut kept, mut refused) = (first, Vec::new());
        for i in first..self.ticks.len() {
            let t = self.ticks[i];
            let of = if shards > 1 {
                *self.shards_of.entry(t.symbol).or_insert_with(|| shard_of(t.symbol, shards))
            } else {
                0
            };
            if t.time_ms > limit {
                let detail =
                    format!("tick time {} is {} ms ahead of the clock {}", t.time_ms, t.time_ms - wall_ms, wall_ms);
                commit.dead.push(DeadLetter::of_tick(entry, DeadReason::AheadOfClock, detail, &t));
            } else if of != shard {
                let detail = format!("{} belongs to shard {of} of {shards}, not to this shard {shard}", t.symbol);
                commit.dead.push(DeadLetter::of_tick(entry, DeadReason::WrongShard, detail, &t));
            } else {
                self.ticks[kept] = t;
                kept += 1;
                continue;
            }
            refused.push((i - first).to_string());
        }
        self.ticks.truncate(kept);
        if !refused.is_empty() {
            commit.refused.push((entry.id, refused.join(",")));
        }
    }

    /// The latest tick time applied: the event-time watermark.
    pub fn watermark(&self) -> Option<i64> {
        self.agg.latest_tick_ms()
    }

    /// Whether the clock alone has bars to close at `now_ms` (never in event time: only ticks move it).
    pub fn due(&self, now_ms: i64) -> bool {
        self.rules.clock == BarClock::Wall && self.agg.due(now_ms)
    }

    pub fn last_id(&self) -> EntryId {
        self.last_id
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn aggregator(&self) -> &BarAggregator {
        &self.agg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::Period;

    /// 2026-11-18 (a Wednesday) at `hms`, market time, epoch ms.
    fn at(hms: &str) -> i64 {
        common::time::parse_datetime(&format!("2026-11-18T{hms}")).unwrap()
    }

    /// One entry per tick of 600519.SH: 100 shares at `time`.
    fn entries(times: &[i64]) -> Vec<Entry> {
        let tick = |t: i64| format!(r#"{{"symbol":"600519.SH","time":{t},"price":"1800","volume":100}}"#);
        times
            .iter()
            .enumerate()
            .map(|(i, t)| Entry {
                id: EntryId { ms: 1, seq: i as u64 },
                fields: vec![("tick".into(), tick(*t).into_bytes())],
            })
            .collect()
    }

    const WALL: Rules = Rules { clock: BarClock::Wall, max_ahead_ms: 5_000, shard: 0, shards: 1 };

    fn engine() -> Engine {
        Engine::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()), WALL)
    }

    /// The closed one-minute bars' volumes after `backlog` is applied at `tempo`.
    fn minute_volumes(backlog: &[i64], tempo: Tempo) -> Vec<u64> {
        let mut engine = engine();
        let mut commit = Commit::default();
        engine.step(&entries(backlog), tempo, &mut commit);
        let closed = commit.events.iter().filter(|e| e.kind != BarEventKind::Updated && e.period == Period::M1);
        let mut by_frame = BTreeMap::new();
        for e in closed {
            by_frame.insert(e.bar.frame, e.bar.vol);
        }
        by_frame.into_values().collect()
    }

    #[test]
    fn a_backlog_in_event_time_keeps_what_the_wall_clock_drops_as_late() {
        let backlog: Vec<i64> = (0..6).map(|i| at("10:00:10") + i * 30_000).collect();
        let wall = at("10:05:00");
        let caught_up = minute_volumes(&backlog, Tempo { wall_ms: wall, catch_up: true });
        assert_eq!(caught_up, [200, 200], "10:01 and 10:02 closed with their trades, 10:03 forming up to 10:02:40");
        let late = minute_volumes(&backlog, Tempo { wall_ms: wall, catch_up: false });
        assert_eq!(late, [100, 0, 0, 0], "at the wall clock the first trade closes 10:01 to 10:04, the rest are late");
    }

    #[test]
    fn a_tick_ahead_of_the_clock_is_a_dead_letter_and_moves_nothing() {
        let mut engine = engine();
        let mut commit = Commit::default();
        let wall = at("10:00:00");
        engine.step(&entries(&[wall + 1_000, wall + 60_000]), Tempo { wall_ms: wall, catch_up: true }, &mut commit);
        assert_eq!(commit.dead.iter().map(|d| d.reason).collect::<Vec<_>>(), [DeadReason::AheadOfClock]);
        assert!(String::from_utf8_lossy(&commit.dead[0].entry).contains(&(wall + 60_000).to_string()));
        assert_eq!(engine.watermark(), Some(wall + 1_000), "the watermark kept to the tick in time");
        let progress = commit.progress.unwrap();
        assert_eq!(progress.latest_day, Some(common::time::date_of(split_ms(wall).0)), "{progress:?}");
        let second = commit.dead[0].id;
        assert_eq!(commit.refused, [(second, "0".to_owned())], "the archive is told which tick to leave out");
    }

    #[test]
    fn a_tick_of_another_shards_symbol_is_a_dead_letter_and_moves_nothing() {
        let moutai = "600519.SH".parse().unwrap();
        let other = 1 - shard_of(moutai, 2);
        let rules = |shard| Rules { shard, shards: 2, ..WALL };
        let wall = at("10:00:00");
        let tempo = Tempo { wall_ms: wall, catch_up: true };
        let mut wrong = Engine::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()), rules(other));
        let mut commit = Commit::default();
        wrong.step(&entries(&[wall - 1_000, wall + 60_000]), tempo, &mut commit);
        let dead: Vec<_> = commit.dead.iter().map(|d| (d.reason, d.detail.as_str())).collect();
        let owned = format!("600519.SH belongs to shard {} of 2, not to this shard {other}", 1 - other);
        assert_eq!(dead, [(DeadReason::WrongShard, owned.as_str()), (DeadReason::AheadOfClock, dead[1].1)]);
        assert_eq!((wrong.watermark(), wrong.counters().dead[&DeadReason::WrongShard]), (None, 1));

        let mut right = Engine::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()), rules(1 - other));
        let mut commit = Commit::default();
        right.step(&entries(&[wall - 1_000]), tempo, &mut commit);
        assert!(commit.dead.is_empty() && right.watermark() == Some(wall - 1_000), "its own shard takes it");
    }

    /// Entries numbered from `first`: trades of two symbols every 7 s from 09:29:50 and, every
    /// fifth, an entry that is not a tick.
    fn mixed(first: u64, n: u64) -> Vec<Entry> {
        (first..first + n)
            .map(|i| {
                let symbol = if i % 2 == 0 { "600519.SH" } else { "000333.SZ" };
                let time = at("09:29:50") + i as i64 * 7_000;
                let body = match i % 5 {
                    4 => "{broken".to_owned(),
                    _ => format!(
                        r#"{{"symbol":"{symbol}","time":{time},"price":"{}.5","volume":{}}}"#,
                        50 + i % 3,
                        100 * (i % 4 + 1)
                    ),
                };
                Entry { id: EntryId { ms: 10 + i, seq: 0 }, fields: vec![("tick".into(), body.into_bytes())] }
            })
            .collect()
    }

    /// What `engine` commits for each batch at its tempo, then its saved state.
    fn run(engine: &mut Engine, batches: &[(Vec<Entry>, Tempo)]) -> (Vec<String>, Saved) {
        let commits = batches
            .iter()
            .map(|(entries, tempo)| {
                let mut commit = Commit::default();
                engine.step(entries, *tempo, &mut commit);
                format!("{commit:?}")
            })
            .collect();
        (commits, engine.save())
    }

    #[test]
    fn the_same_batches_at_the_same_clock_give_the_same_commits_and_a_restored_engine_goes_on_alike() {
        let wall = |hms: &str| Tempo { wall_ms: at(hms), catch_up: false };
        let batches = [
            (mixed(0, 40), Tempo { wall_ms: at("09:35:00"), catch_up: true }),
            (mixed(40, 25), wall("09:37:30")),
            (Vec::new(), wall("09:38:10")),
            (mixed(65, 30), wall("09:41:00")),
        ];
        let (first, saved) = run(&mut engine(), &batches);
        let (second, saved_again) = run(&mut engine(), &batches);
        assert_eq!(first, second, "same batches, same clock: same commits");
        assert_eq!(saved, saved_again);
        assert!(
            first[0].contains("Closed") && first[0].contains("bad_json"),
            "the batches close bars and refuse entries"
        );

        let mut before = engine();
        let (_, checkpoint) = run(&mut before, &batches[..2]);
        let settings = BarSettings::default();
        let calendar = Arc::new(TradingCalendar::bundled());
        let mut restored = Engine::restore(&settings, calendar, WALL, &checkpoint).unwrap();
        let (after_restore, saved_restored) = run(&mut restored, &batches[2..]);
        assert_eq!(after_restore, first[2..], "a restored engine commits what the running one did");
        assert_eq!(saved_restored, saved);

        let framed = checkpoint.aggregator.clone();
        let plain = Saved { aggregator: unpack(&framed).unwrap().into_owned(), ..checkpoint };
        assert!(framed.starts_with(&LZ4_FRAME_MAGIC) && plain.aggregator.starts_with(b"{"));
        assert!(framed.len() < plain.aggregator.len(), "{} framed, {} plain", framed.len(), plain.aggregator.len());
        let settings = BarSettings::default();
        let from_plain = Engine::restore(&settings, Arc::new(TradingCalendar::bundled()), WALL, &plain);
        let (after_plain, _) = run(&mut from_plain.unwrap(), &batches[2..]);
        assert_eq!(after_plain, first[2..], "a checkpoint written before framing restores the same");
        let mut torn = framed;
        torn.truncate(torn.len() / 2);
        assert!(unpack(&torn).is_err(), "a torn frame is a state error, not a panic");
    }

    #[test]
    fn journal_records_round_trip_and_read_the_format_before_catch_up() {
        for tempo in [Tempo { wall_ms: 5, catch_up: false }, Tempo { wall_ms: 7, catch_up: true }] {
            let record = Record { upto: EntryId { ms: 3, seq: 1 }, tempo };
            assert_eq!(Record::decode(&record.encode()).unwrap(), record);
        }
        assert_eq!(Record::decode("3-1 5").unwrap().tempo, Tempo { wall_ms: 5, catch_up: false });
        let first_format = Record::decode("3-1 7 catch-up").unwrap();
        assert_eq!(
            first_format,
            Record { upto: EntryId { ms: 3, seq: 1 }, tempo: Tempo { wall_ms: 7, catch_up: true } }
        );
        assert_eq!(first_format.encode(), "v2 3-1 7 catch-up", "written in this release's format");
        assert!(Record::decode("3-1 5 sideways").is_err() && Record::decode("3-1").is_err());
        let later = Record::decode("v3 3-1 5").unwrap_err().to_string();
        assert!(later.contains("journal record format 3: this release reads formats 1 to 2"), "{later}");
        assert!(Record::decode("v 3-1 5").is_err() && Record::decode("v0 3-1 5").is_err());
    }

    #[test]
    fn a_checkpoint_of_a_later_format_is_refused_by_name() {
        let engine = Engine::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()), WALL);
        let saved = engine.save();
        assert_eq!(saved.format, CHECKPOINT_FORMAT);
        let first = Saved { format: 1, ..saved.clone() };
        assert!(Engine::restore(&BarSettings::default(), Arc::new(TradingCalendar::bundled()), WALL, &first).is_ok());
        let later = Saved { format: CHECKPOINT_FORMAT + 1, ..saved };
        let refused = Engine::restore(&BarSettings::default(), Arc::new(TradingCalendar::bundled()), WALL, &later);
        let message = refused.err().unwrap().to_string();
        assert!(message.contains("checkpoint format 4: this release reads formats 1 to 3"), "{message}");
    }

    #[test]
    fn counters_read_back_as_the_previous_release_wrote_them_with_reasons_as_text() {
        let written = r#"{"entries":9,"ticks":7,"dead":{"ahead_of_clock":1,"bad_json":2,"wrong_shard":3},"closed":[1,0,4,0,0],"amended":[0,0,0,0,0]}"#;
        let counters: Counters = serde_json::from_str(written).unwrap();
        assert_eq!(counters.dead[&DeadReason::BadJson], 2);
        assert_eq!(counters.closed, BTreeMap::from([(Period::M1, 1), (Period::M15, 4)]), "the array's periods");
        let now = r#"{"entries":9,"ticks":7,"dead":{"ahead_of_clock":1,"bad_json":2,"wrong_shard":3},"closed":{"1":1,"15":4},"amended":{}}"#;
        assert_eq!(serde_json::to_string(&counters).unwrap(), now, "written back by period");
        assert_eq!(serde_json::from_str::<Counters>(now).unwrap(), counters);
        let unknown = written.replace("bad_json", "bad_mood");
        assert!(serde_json::from_str::<Counters>(&unknown).unwrap_err().to_string().contains("bad_mood"));
        let any = r#"{"entries":0,"ticks":0,"dead":{},"closed":{"3":2,"120":1},"amended":{}}"#;
        assert_eq!(serde_json::from_str::<Counters>(any).unwrap().closed[&Period::from_minutes(120).unwrap()], 1);
    }
}
