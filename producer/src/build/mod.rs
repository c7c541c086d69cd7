//! `producer build`: history from tick archives. Each file is read block by block (see
//! [`source`]); the blocks of a window are parsed in parallel, then each shard of symbols feeds its
//! ticks, in file order, to its own [`BarAggregator`] in event time, the rules of the live path's
//! catch-up; at the end of the file every day is closed and filled. The final bars (an amendment
//! replacing the bar it amends) go to a [`sink::Sink`]: ClickHouse or files. Files are built in
//! parallel too, each on its own aggregators, so a symbol's day must lie in one file: a second
//! file holding it is refused whole. [`archive`] reads the ticks from ClickHouse's tick archive
//! instead of files.

pub mod archive;
pub mod sink;
mod source;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

use parking_lot::Mutex;
use std::time::Instant;

use common::tick::DeadReason;
use common::time::{split_ms, DayNumber};
use common::{
    Bar, BarAggregator, BarEvent, BarEventKind, BarSettings, Frame, Period, Symbol, Tick, TickOutcome, TradingCalendar,
};
use indicatif::ProgressBar;
use rayon::prelude::*;
use runtime::clickhouse::BarRow;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::error::{Error, Result};
use sink::Sink;
use source::{Block, Blocks, Parsed};

/// Refusals quoted in the report, at most; the rest are only counted.
const EXAMPLES: usize = 20;

/// Where a build reads its ticks.
pub enum Input {
    /// Tick files, or directories of them.
    Files(Vec<PathBuf>),
    /// ClickHouse's tick archive.
    Archive(archive::Selection),
}

/// How bars are built.
pub struct Options {
    pub bars: BarSettings,
    pub calendar: Arc<TradingCalendar>,
    /// Aggregator shards per file, and blocks parsed at once: the threads of the pool.
    pub threads: usize,
}

/// What a build did, printed as JSON.
#[derive(Debug, Default, Serialize)]
pub struct BuildReport {
    pub files: u64,
    /// Data rows read.
    pub rows: u64,
    /// Rows that became ticks.
    pub ticks: u64,
    /// Rows that are no tick, by reason; and bars the table cannot hold (`does_not_fit`: more than
    /// four decimals, as float noise in an archive's amounts gives).
    pub refused: BTreeMap<DeadReason, u64>,
    /// The first refusals, `file line N: reason: detail` (line 0 for a bar).
    pub examples: Vec<String>,
    /// What the aggregator made of the ticks, by outcome (as the live producer counts them).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Bars written, by period in minutes.
    pub bars: BTreeMap<u16, u64>,
    /// Files not built, with why: a file refused for a split day wrote nothing; one whose store
    /// failed keeps what it had inserted (building it again replaces that).
    pub failed: Vec<String>,
    pub seconds: f64,
    pub rows_per_second: f64,
}

/// One file's result.
#[derive(Default)]
struct FileReport {
    rows: u64,
    ticks: u64,
    /// Refusals by reason, and the first [`EXAMPLES`] of them.
    refused: BTreeMap<DeadReason, u64>,
    examples: Vec<source::Refusal>,
    outcomes: BTreeMap<&'static str, u64>,
    bars: BTreeMap<u16, u64>,
}

/// Builds the bars of the tick files under `paths` into `sink`, `progress` counting file bytes.
pub fn build(paths: &[PathBuf], options: &Options, sink: &Sink, progress: &ProgressBar) -> Result<BuildReport> {
    let started = Instant::now();
    let mut files = Vec::new();
    for path in paths {
        files.extend(source::expand(path)?);
    }
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    progress.set_length(total);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(options.threads).build().expect("a thread pool");
    let days = Mutex::new(HashMap::new());
    let results: Vec<(PathBuf, Result<FileReport>)> = pool.install(|| {
        files.par_iter().map(|file| (file.clone(), build_file(file, options, sink, &days, progress))).collect()
    });
    let mut report = BuildReport { files: files.len() as u64, ..BuildReport::default() };
    for (file, result) in results {
        match result {
            Ok(one) => report.add(&file, one),
            Err(e) => report.failed.push(e.to_string()),
        }
    }
    sink.finish()?;
    progress.finish_and_clear();
    report.timed(started);
    Ok(report)
}

impl BuildReport {
    /// Sets how long the build took since `started`, and its rows a second.
    fn timed(&mut self, started: Instant) {
        self.seconds = started.elapsed().as_secs_f64();
        self.rows_per_second = (self.rows as f64 / self.seconds.max(1e-9)).round();
    }

    fn add(&mut self, file: &Path, one: FileReport) {
        self.rows += one.rows;
        self.ticks += one.ticks;
        add_counts(&mut self.refused, one.refused);
        for refusal in one.examples.into_iter().take(EXAMPLES.saturating_sub(self.examples.len())) {
            let line = format!("{} line {}: {}: {}", file.display(), refusal.row, refusal.reason, refusal.detail);
            self.examples.push(line);
        }
        add_counts(&mut self.outcomes, one.outcomes);
        add_counts(&mut self.bars, one.bars);
    }
}

/// Adds the counts of `from` to those of `into`, key by key.
fn add_counts<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (key, n) in from {
        *into.entry(key).or_default() += n;
    }
}

/// Builds one file: blocks read on their own thread, parsed a window at a time in parallel, fed to
/// the shards in parallel; then its bars checked against the days other files hold, and written.
fn build_file(
    file: &Path,
    options: &Options,
    sink: &Sink,
    days: &Mutex<HashMap<(Symbol, DayNumber), PathBuf>>,
    progress: &ProgressBar,
) -> Result<FileReport> {
    let (table, mut blocks) = source::open(file)?;
    let mut shards: Vec<Shard> = (0..options.threads).map(|_| Shard::new(options)).collect();
    let mut report = FileReport::default();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Result<Block>>(options.threads * 2);
        let reader = scope.spawn(|| read_blocks(&mut blocks, tx, progress));
        while let Some(window) = next_window(&rx, options.threads * 2)? {
            let parsed: Vec<Parsed> = window.par_iter().map(|b| source::parse(b, &table, options.threads)).collect();
            shards.par_iter_mut().enumerate().for_each(|(i, shard)| {
                parsed.iter().for_each(|p| shard.apply(&p.ticks[i]));
            });
            for p in parsed {
                report.rows += p.rows;
                report.ticks += p.ticks.iter().map(|t| t.len() as u64).sum::<u64>();
                p.refused.into_iter().for_each(|r| report.refuse(r));
            }
        }
        reader.join().expect("the reader thread does not panic");
        Ok(())
    })?;
    let built: Vec<Built> = shards.into_par_iter().map(Shard::finish).collect();
    claim_days(file, built.iter().flat_map(|b| &b.bars), days)?;
    let written: Vec<Result<FileReport>> = built.into_par_iter().map(|b| write_shard(b, sink)).collect();
    for one in written {
        report.absorb(one?);
    }
    Ok(report)
}

/// Bars written per INSERT or file batch: bounded, so rows never pile up beside the bars.
const WRITE_CHUNK: usize = 100_000;

/// Writes a shard's bars as rows, chunk by chunk; what it wrote and refused, and its outcomes.
fn write_shard(built: Built, sink: &Sink) -> Result<FileReport> {
    let mut report = FileReport { outcomes: built.counts, ..FileReport::default() };
    for chunk in built.bars.chunks(WRITE_CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        for e in chunk {
            match BarRow::new(&e.bar, e.period, 0) {
                Ok(row) => {
                    *report.bars.entry(e.period.minutes()).or_default() += 1;
                    rows.push(row);
                }
                Err(fit) => {
                    let detail =
                        format!("the {}-minute bar {} {}: {fit}", e.period.minutes(), e.bar.symbol, e.bar.frame);
                    report.refuse(source::Refusal { reason: DeadReason::DoesNotFit, row: 0, detail });
                }
            }
        }
        sink.write(rows)?;
    }
    Ok(report)
}

impl FileReport {
    /// Counts `refusal`, keeping it while fewer than [`EXAMPLES`] are kept: a file of garbage
    /// costs a count, not a list.
    fn refuse(&mut self, refusal: source::Refusal) {
        *self.refused.entry(refusal.reason).or_default() += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(refusal);
        }
    }

    fn absorb(&mut self, other: FileReport) {
        self.rows += other.rows;
        self.ticks += other.ticks;
        add_counts(&mut self.refused, other.refused);
        let room = EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
        add_counts(&mut self.outcomes, other.outcomes);
        add_counts(&mut self.bars, other.bars);
    }
}

/// Reads every block of `blocks` into `tx` (a read error as its last item), adding the file bytes
/// they took to `progress`; stops early when the receiver is gone.
fn read_blocks(blocks: &mut Blocks, tx: mpsc::SyncSender<Result<Block>>, progress: &ProgressBar) {
    let mut reported = 0;
    loop {
        let block = blocks.next_block();
        let read = blocks.progress();
        progress.inc(read - reported);
        reported = read;
        let Some(item) = block.transpose() else { return };
        let failed = item.is_err();
        if tx.send(item).is_err() || failed {
            return;
        }
    }
}

/// Up to `n` blocks, waiting for each; fewer at the end of the file, `None` after it.
fn next_window(rx: &mpsc::Receiver<Result<Block>>, n: usize) -> Result<Option<Vec<Block>>> {
    let mut window = Vec::with_capacity(n);
    while window.len() < n {
        match rx.recv() {
            Ok(block) => window.push(block?),
            Err(_) => break,
        }
    }
    Ok((!window.is_empty()).then_some(window))
}

/// Records the (symbol, day)s of `events` as `file`'s, or refuses the file when another holds one.
fn claim_days<'a>(
    file: &Path,
    events: impl Iterator<Item = &'a BarEvent>,
    days: &Mutex<HashMap<(Symbol, DayNumber), PathBuf>>,
) -> Result<()> {
    let ours: BTreeSet<(Symbol, DayNumber)> =
        events.map(|e| (e.bar.symbol, split_ms(e.bar.frame.epoch_seconds() * 1000).0)).collect();
    let mut days = days.lock();
    if let Some((key, other)) = ours.iter().find_map(|k| days.get(k).map(|other| (k, other))) {
        let day = common::time::date_of(key.1);
        let message = format!(
            "{} {day} is also in {}: a symbol's day must lie in one file, so this file was not built",
            key.0,
            other.display()
        );
        return Err(input(file, message));
    }
    days.extend(ours.into_iter().map(|k| (k, file.to_owned())));
    Ok(())
}

fn input(file: &Path, message: String) -> Error {
    Error::Input { path: file.to_owned(), line: 0, message }
}

/// One shard of a file's symbols: its aggregator, the bars it closed, and the latest amendment of
/// each bar amended since.
struct Shard {
    agg: BarAggregator,
    closed: Vec<BarEvent>,
    amended: FxHashMap<(Symbol, Period, Frame), Bar>,
}

/// A shard's final bars, in the order they closed, with its outcome counts.
struct Built {
    bars: Vec<BarEvent>,
    counts: BTreeMap<&'static str, u64>,
}

impl Shard {
    fn new(options: &Options) -> Shard {
        let agg = BarAggregator::new(&options.bars, options.calendar.clone());
        Shard { agg, closed: Vec::new(), amended: FxHashMap::default() }
    }

    /// Applies `ticks` at the watermark, then closes what the watermark has passed.
    fn apply(&mut self, ticks: &[Tick]) {
        for tick in ticks {
            self.agg.apply_at_watermark(tick);
        }
        if let Some(now) = self.agg.latest_tick_ms() {
            self.agg.close_due(now);
        }
        self.take_events();
    }

    fn take_events(&mut self) {
        for e in self.agg.drain_events() {
            match e.kind {
                BarEventKind::Closed => self.closed.push(e),
                BarEventKind::Amended => {
                    self.amended.insert((e.bar.symbol, e.period, e.bar.frame), e.bar);
                }
                BarEventKind::Updated => {}
            }
        }
    }

    /// Closes every day; each closed bar as its last amendment left it.
    fn finish(mut self) -> Built {
        self.agg.close_due(i64::MAX);
        self.take_events();
        let mut bars = self.closed;
        if !self.amended.is_empty() {
            for e in &mut bars {
                if let Some(bar) = self.amended.remove(&(e.bar.symbol, e.period, e.bar.frame)) {
                    e.bar = bar;
                }
            }
        }
        let counts = TickOutcome::all().map(|o| (o.as_str(), self.agg.count(o))).filter(|(_, n)| *n > 0).collect();
        Built { bars, counts }
    }
}
