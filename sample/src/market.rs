//! The seeded market: 50 symbols from the liquid to the suspended, and their trading days as the
//! clean sequence of QMT snapshots each symbol gets (pre-open heartbeats, the 09:25 auction, 3 s
//! snapshots in both sessions, the 11:30:0x snapshot, lunch and after-close heartbeats, the
//! 15:00:0x closing auction). Prices walk in ticks of 0.01 inside the day's price limits; every
//! snapshot may hold several trades, so the day high and low can move beyond the last price.

use chrono::NaiveDate;
use common::time::{day_number, epoch_ms};
use common::Symbol;
use common::{Amount, Price};

/// The seed every bundled file comes from.
pub const SEED: u64 = 20_261_118;
/// The two days of history, then the sample day replayed as QMT snapshots.
pub const DAYS: [&str; 3] = ["2026-11-16", "2026-11-17", "2026-11-18"];

/// How often a symbol trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A snapshot every 3 s, a trade in nearly every one.
    Liquid,
    /// A trade in some 3 s slots; snapshots only when it trades.
    Active,
    /// A dozen trades a day.
    Thin,
    /// A few trades a day, none in the auction: its bars start mid-morning.
    Rare,
}

/// One symbol of the sample market.
#[derive(Debug, Clone)]
pub struct Stock {
    pub symbol: Symbol,
    pub activity: Activity,
    /// The previous close, in cents.
    pub last_close: i64,
    /// The day's price limit in percent (10, or 20 on STAR and ChiNext).
    pub limit_pct: i64,
    /// The day (index into [`DAYS`]) on which it is suspended: one heartbeat, no trade.
    pub suspended_on: Option<usize>,
    /// Day on which it runs up to its upper limit and trades there.
    pub limit_up_on: Option<usize>,
}

/// One QMT snapshot dict of a symbol (prices in cents, volume in cumulative lots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub symbol: Symbol,
    pub time_ms: i64,
    pub last: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub last_close: i64,
    pub lots: u64,
    /// Cumulative amount, in cents.
    pub amount: i64,
    /// `openInt`: 13 trading, 18 closing auction, 15 closed (and suspended).
    pub status: u8,
}

impl Snapshot {
    pub fn price(cents: i64) -> Price {
        Price::from_units(cents * 100)
    }

    pub fn amount(cents: i64) -> Amount {
        Amount::from_units(i128::from(cents) * 100)
    }
}

/// One generated trading day: every symbol's clean snapshot sequence, in time order.
pub struct Day {
    pub date: NaiveDate,
    pub symbols: Vec<Vec<Snapshot>>,
}

/// The codes of the sample market; the index picks the activity and the special days.
const CODES: [&str; 50] = [
    "600519.SH",
    "000333.SZ",
    "601318.SH",
    "000858.SZ",
    "600036.SH",
    "300750.SZ",
    "002594.SZ",
    "601012.SH",
    "600900.SH",
    "000001.SZ",
    "600276.SH",
    "000651.SZ",
    "600030.SH",
    "002415.SZ",
    "601166.SH",
    "300059.SZ",
    "600887.SH",
    "000725.SZ",
    "601888.SH",
    "002475.SZ",
    "603259.SH",
    "300760.SZ",
    "600309.SH",
    "000568.SZ",
    "601899.SH",
    "002714.SZ",
    "600585.SH",
    "300124.SZ",
    "601398.SH",
    "000063.SZ",
    "600000.SH",
    "002352.SZ",
    "603288.SH",
    "300015.SZ",
    "600104.SH",
    "000100.SZ",
    "601088.SH",
    "002304.SZ",
    "600048.SH",
    "300274.SZ",
    "688981.SH",
    "000002.SZ",
    "688111.SH",
    "002142.SZ",
    "688599.SH",
    "301269.SZ",
    "605499.SH",
    "000538.SZ",
    "600028.SH",
    "002027.SZ",
];

/// The symbol that runs up to its limit on the sample day.
pub const LIMIT_UP: usize = 20;
/// The symbol suspended on the sample day, and the one suspended on the first history day.
pub const SUSPENDED: [(usize, usize); 2] = [(48, 2), (49, 0)];

/// SplitMix64: small, fast, and the same on every platform and crate version.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `per_10k` / 10,000.
    fn chance(&mut self, per_10k: u64) -> bool {
        self.below(10_000) < per_10k
    }
}

/// The 50 stocks with their activity, previous close and special days.
fn universe(rng: &mut Rng) -> Vec<Stock> {
    CODES
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let symbol: Symbol = code.parse().expect("the sample codes are valid");
            let activity = match i {
                0..=7 => Activity::Liquid,
                8..=39 => Activity::Active,
                40..=46 => Activity::Thin,
                _ => Activity::Rare,
            };
            let last_close = if i == 0 { 145_000 } else { 300 + rng.below(30_000) as i64 };
            let twenty = code.starts_with("688") || code.starts_with("30");
            Stock {
                symbol,
                activity,
                last_close,
                limit_pct: if twenty { 20 } else { 10 },
                suspended_on: SUSPENDED.iter().find(|(s, _)| *s == i).map(|(_, d)| *d),
                limit_up_on: (i == LIMIT_UP).then_some(2),
            }
        })
        .collect()
}

/// The three days of [`DAYS`] from [`SEED`]; each day's close is the next day's previous close.
pub fn generate() -> (Vec<Stock>, Vec<Day>) {
    let mut rng = Rng::new(SEED);
    let mut stocks = universe(&mut rng);
    let days = DAYS
        .iter()
        .enumerate()
        .map(|(d, date)| {
            let date: NaiveDate = date.parse().expect("the sample days are dates");
            let symbols = stocks
                .iter_mut()
                .enumerate()
                .map(|(i, stock)| {
                    let snaps = SymbolDay::new(stock, i, d, date, &mut rng).run();
                    if let Some(last) = snaps.last().filter(|s| s.lots > 0) {
                        stock.last_close = last.last;
                    }
                    snaps
                })
                .collect();
            Day { date, symbols }
        })
        .collect();
    (stocks, days)
}

/// Seconds of the day of `HH:MM:SS`.
pub const fn hms(h: u32, m: u32, s: u32) -> u32 {
    h * 3600 + m * 60 + s
}

/// One symbol's day being generated: the running day totals and the snapshots so far.
struct SymbolDay<'a> {
    stock: &'a Stock,
    index: usize,
    day: i32,
    limit_up: bool,
    suspended: bool,
    rng: &'a mut Rng,
    now: Snapshot,
    out: Vec<Snapshot>,
}

impl<'a> SymbolDay<'a> {
    fn new(stock: &'a Stock, index: usize, d: usize, date: NaiveDate, rng: &'a mut Rng) -> SymbolDay<'a> {
        let now = Snapshot {
            symbol: stock.symbol,
            time_ms: 0,
            last: 0,
            open: 0,
            high: 0,
            low: 0,
            last_close: stock.last_close,
            lots: 0,
            amount: 0,
            status: 13,
        };
        let (limit_up, suspended) = (stock.limit_up_on == Some(d), stock.suspended_on == Some(d));
        SymbolDay { stock, index, day: day_number(date), limit_up, suspended, rng, now, out: vec![] }
    }

    fn run(mut self) -> Vec<Snapshot> {
        let offset = self.index as u32 % 3;
        if self.suspended {
            self.now.last = self.stock.last_close;
            self.now.status = 15;
            self.push(hms(9, 15, offset));
            return self.out;
        }
        for minute in 0..10 {
            self.push(hms(9, 15 + minute, offset));
        }
        if self.stock.activity != Activity::Rare {
            self.trade(hms(9, 25, self.index as u32 % 5), 10);
        }
        self.session(hms(9, 30, 3 + offset), hms(11, 30, 0));
        if self.stock.activity == Activity::Liquid {
            self.trade(hms(11, 30, 1 + offset), 1);
            self.push(hms(12, 0, offset));
        }
        self.session(hms(13, 0, 3 + offset), hms(14, 57, 0));
        if matches!(self.stock.activity, Activity::Liquid | Activity::Active) {
            self.now.status = 18;
            self.push(hms(14, 58, offset));
            self.trade(hms(15, 0, self.index as u32 % 4), 8);
        }
        if self.stock.activity == Activity::Liquid {
            self.now.status = 15;
            self.push(hms(15, 0, 30));
        }
        self.out
    }

    /// The continuous session from `from` until before `to`: one 3 s slot at a time.
    fn session(&mut self, from: u32, to: u32) {
        let (trade_chance, quote_chance) = match self.stock.activity {
            Activity::Liquid => (9_000, 10_000),
            Activity::Active => (300 + 70 * (self.index as u64 % 12), 0),
            Activity::Thin => (40, 0),
            Activity::Rare => (8, 0),
        };
        for sec in (from..to).step_by(3) {
            if self.rng.chance(trade_chance) {
                self.trade(sec, 1);
            } else if self.rng.chance(quote_chance) {
                self.push(sec);
            }
        }
    }

    /// A snapshot at `sec` holding one to three new trades; `size` scales their lots.
    fn trade(&mut self, sec: u32, size: u64) {
        let max_lots = match self.stock.activity {
            Activity::Liquid => 60,
            Activity::Active => 30,
            Activity::Thin => 10,
            Activity::Rare => 5,
        };
        for _ in 0..=self.rng.below(3) {
            let price = self.next_price();
            let lots = size * (1 + self.rng.below(max_lots));
            let s = &mut self.now;
            s.last = price;
            if s.open == 0 {
                (s.open, s.high, s.low) = (price, price, price);
            }
            s.high = s.high.max(price);
            s.low = s.low.min(price);
            s.lots += lots;
            s.amount += price * lots as i64 * 100;
        }
        self.push(sec);
    }

    /// The next trade's price: a walk in ticks (larger for dearer stocks) inside the price limits.
    fn next_price(&mut self) -> i64 {
        let close = self.stock.last_close;
        let up = (close * (100 + self.stock.limit_pct) + 50) / 100;
        let down = (close * (100 - self.stock.limit_pct) + 50) / 100;
        let from = if self.now.lots == 0 { close } else { self.now.last };
        let reach = 1 + close / 5_000;
        let step = self.rng.below(2 * reach as u64 + 1) as i64 - reach;
        let drift = if self.limit_up && self.rng.chance(6_000) { 1 + close / 1_000 } else { 0 };
        (from + step + drift).clamp(down, up)
    }

    fn push(&mut self, sec: u32) {
        self.now.time_ms = epoch_ms(self.day, sec);
        self.out.push(self.now.clone());
    }
}
