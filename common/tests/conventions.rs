//! Every rule of `docs/conventions.md`, one test named after it, under the document's headings.

mod support;

use common::session::{phase_at, AuctionBar, LabelSide, Phase};
use common::time::{day_number, market_offset, split_ms};
use common::{BarEventKind, BarSettings, Layout, Period, Rejection, Sessions, TickOutcome, TradingCalendar};
use support::*;

const MOUTAI: &str = "600519.SH";
const DAY: &str = "2026-11-20";

fn day() -> common::time::DayNumber {
    day_number(DAY.parse().unwrap())
}

fn at(time: &str) -> String {
    format!("{DAY}T{time}")
}

fn frame_of(layout: Layout, symbol: &str, time: &str, period: Period) -> Result<String, Rejection> {
    let sessions = Sessions::new(layout, &TradingCalendar::bundled());
    let calendar = TradingCalendar::bundled();
    sessions.frame_of(&calendar, sym(symbol), ms(time), period).map(|f| f.to_string())
}

fn default_frame(time: &str) -> Result<String, Rejection> {
    frame_of(Layout::default(), MOUTAI, &at(time), Period::M1)
}

fn labels(layout: Layout, symbol: &str, period: Period) -> Vec<String> {
    let sessions = Sessions::new(layout, &TradingCalendar::bundled());
    sessions.grid(sym(symbol), day()).frames(day(), period).map(|f| f.time().format("%H:%M").to_string()).collect()
}

// ## Time

#[test]
fn market_time_is_asia_shanghai_and_an_iso_time_without_offset_means_it() {
    assert_eq!(ms("2026-11-20T09:31:00"), ms("2026-11-20T01:31:00Z"));
    assert_eq!(frame("2026-11-20 09:31:00").to_iso8601(), "2026-11-20T09:31:00+08:00");
}

#[test]
fn trading_days_are_weekdays_off_the_holiday_list() {
    let c = TradingCalendar::bundled();
    let trades = |d: &str| c.is_trading_day(d.parse().unwrap()).unwrap();
    assert!(trades("2026-11-20"));
    assert!(!trades("2026-11-21"), "Saturday");
    assert!(!trades("2026-10-01"), "National Day");
    assert!(!trades("2024-02-09"), "Spring Festival eve 2024");
}

#[test]
fn weekend_make_up_workdays_never_trade() {
    let c = TradingCalendar::bundled();
    for d in ["2023-01-28", "2023-01-29", "2024-02-04", "2024-02-18", "2025-09-28", "2025-10-11"] {
        assert!(!c.is_trading_day(d.parse().unwrap()).unwrap(), "{d}");
    }
}

#[test]
fn trading_day_counts_match_the_exchanges_yearly_totals() {
    let c = TradingCalendar::bundled();
    let count = |y: i32| {
        c.trading_days(format!("{y}-01-01").parse().unwrap(), format!("{y}-12-31").parse().unwrap()).unwrap().len()
    };
    assert_eq!((count(2019), count(2022), count(2023), count(2024)), (244, 242, 242, 242));
}

#[test]
fn next_prev_and_t_plus_n_skip_closures() {
    let c = TradingCalendar::bundled();
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    assert_eq!(c.next(d("2023-01-20")).unwrap(), d("2023-01-30"));
    assert_eq!(c.prev(d("2023-01-30")).unwrap(), d("2023-01-20"));
    assert_eq!(c.add_trading_days(d("2023-01-19"), 2).unwrap(), d("2023-01-30"));
    assert_eq!(c.add_trading_days(d("2023-01-30"), -2).unwrap(), d("2023-01-19"));
    assert_eq!(c.add_trading_days(d("2023-01-28"), 0).unwrap(), d("2023-01-30"));
    assert_eq!(c.add_trading_days(d("2023-01-20"), 0).unwrap(), d("2023-01-20"));
}

#[test]
fn a_day_past_the_end_of_the_list_is_an_error_or_a_provisional_day_never_a_silent_guess() {
    let refusing = TradingCalendar::bundled().beyond_list(common::calendar::BeyondList::Refuse);
    for d in ["2027-01-04", "2014-12-31"] {
        let date = d.parse().unwrap();
        assert!(matches!(refusing.is_trading_day(date), Err(common::Error::OutsideCalendar { .. })), "{d}");
    }
    assert!(refusing.next("2026-12-31".parse().unwrap()).is_err());
    let provisional = TradingCalendar::bundled();
    let day = "2027-01-04".parse().unwrap();
    assert_eq!(provisional.is_trading_day(day), Ok(true));
    assert!(provisional.is_provisional(day), "said to be provisional");
    assert!(provisional.warning(day).is_some(), "and warned about");
    assert!(provisional.is_trading_day("2014-12-31".parse().unwrap()).is_err(), "before the list: an error");
}

// ## Sessions

/// The phase at `time` of 2026-11-20 (a Friday) for `symbol`'s board, and the next with when it begins.
fn phase(symbol: Option<&str>, time: &str) -> (bool, Phase, Phase, String) {
    let p = phase_at(&TradingCalendar::bundled(), symbol.map(sym), ms(time)).unwrap();
    let next = chrono::DateTime::from_timestamp_millis(p.next_at_ms).unwrap().with_timezone(&market_offset());
    (p.trading_day, p.phase, p.next, next.format("%Y-%m-%d %H:%M").to_string())
}

#[test]
fn phases_follow_the_session_table_and_name_the_next_one() {
    let main = |time: &str| phase(None, &at(time));
    assert_eq!(main("08:00"), (true, Phase::PreOpen, Phase::OpeningAuction, format!("{DAY} 09:15")));
    assert_eq!(main("09:15"), (true, Phase::OpeningAuction, Phase::Pause, format!("{DAY} 09:25")));
    assert_eq!(main("09:27:30"), (true, Phase::Pause, Phase::Continuous, format!("{DAY} 09:30")));
    assert_eq!(main("10:00"), (true, Phase::Continuous, Phase::LunchBreak, format!("{DAY} 11:30")));
    assert_eq!(main("11:30"), (true, Phase::LunchBreak, Phase::Continuous, format!("{DAY} 13:00")));
    assert_eq!(main("14:56:59"), (true, Phase::Continuous, Phase::ClosingAuction, format!("{DAY} 14:57")));
    assert_eq!(main("14:59"), (true, Phase::ClosingAuction, Phase::Closed, format!("{DAY} 15:00")));
    assert_eq!(main("15:10"), (true, Phase::Closed, Phase::PreOpen, "2026-11-23 00:00".into()), "Friday to Monday");
}

#[test]
fn star_chinext_and_beijing_have_the_after_hours_phase_after_a_pause() {
    for symbol in ["688981.SH", "300750.SZ", "830799.BJ"] {
        let board = |time: &str| phase(Some(symbol), &at(time));
        assert_eq!(board("14:59"), (true, Phase::ClosingAuction, Phase::Pause, format!("{DAY} 15:00")));
        assert_eq!(board("15:02"), (true, Phase::Pause, Phase::AfterHours, format!("{DAY} 15:05")));
        assert_eq!(board("15:29:59"), (true, Phase::AfterHours, Phase::Closed, format!("{DAY} 15:30")));
        assert_eq!(board("15:30").1, Phase::Closed);
    }
    assert_eq!(phase(Some(MOUTAI), &at("15:02")).1, Phase::Closed, "the main board has none");
}

#[test]
fn a_weekend_or_holiday_is_closed_until_the_next_trading_day() {
    assert_eq!(phase(None, "2026-11-21T10:00"), (false, Phase::Closed, Phase::PreOpen, "2026-11-23 00:00".into()));
    let national_day = phase(None, "2026-10-01T10:00");
    assert_eq!((national_day.0, national_day.1), (false, Phase::Closed));
    assert_eq!(national_day.3, "2026-10-08 00:00", "the National Day closure ends on the 7th");
}

#[test]
fn the_0925_opening_auction_trade_goes_into_bar_0931() {
    assert_eq!(default_frame("09:25:00").unwrap(), "2026-11-20 09:31:00");
    assert_eq!(default_frame("09:27:30").unwrap(), "2026-11-20 09:31:00", "the quiet minutes before 09:30 too");
}

#[test]
fn bar_0931_covers_0930_to_0931_end_labelled() {
    assert_eq!(default_frame("09:30:00").unwrap(), "2026-11-20 09:31:00");
    assert_eq!(default_frame("09:30:59.999").unwrap(), "2026-11-20 09:31:00");
    assert_eq!(default_frame("09:31:00").unwrap(), "2026-11-20 09:32:00");
}

#[test]
fn a_tick_stamped_1130_xx_goes_to_bar_1130() {
    assert_eq!(default_frame("11:30:02").unwrap(), "2026-11-20 11:30:00");
    assert_eq!(default_frame("11:30:59").unwrap(), "2026-11-20 11:30:00");
}

#[test]
fn a_tick_stamped_1300_xx_goes_to_bar_1301() {
    assert_eq!(default_frame("13:00:00").unwrap(), "2026-11-20 13:01:00");
    assert_eq!(default_frame("13:00:59").unwrap(), "2026-11-20 13:01:00");
}

#[test]
fn a_tick_stamped_1500_xx_goes_to_bar_1500() {
    assert_eq!(default_frame("15:00:03").unwrap(), "2026-11-20 15:00:00");
}

#[test]
fn before_the_0925_auction_trade_is_pre_open() {
    assert_eq!(default_frame("09:24:59"), Err(Rejection::PreOpen));
    assert_eq!(default_frame("09:15:00"), Err(Rejection::PreOpen));
    assert_eq!(default_frame("03:00:00"), Err(Rejection::PreOpen));
}

#[test]
fn the_lunch_break_makes_no_bar() {
    assert_eq!(default_frame("11:31:00"), Err(Rejection::LunchBreak));
    assert_eq!(default_frame("12:59:59"), Err(Rejection::LunchBreak));
}

#[test]
fn after_1500_xx_is_after_close() {
    assert_eq!(default_frame("15:01:00"), Err(Rejection::AfterClose));
    assert_eq!(default_frame("15:10:00"), Err(Rejection::AfterClose), "no after-hours bars unless configured");
    assert_eq!(default_frame("23:59:59"), Err(Rejection::AfterClose));
}

#[test]
fn weekends_and_holidays_are_non_trading_days() {
    assert_eq!(frame_of(Layout::default(), MOUTAI, "2026-11-21T10:00:00", Period::M1), Err(Rejection::NonTradingDay));
    assert_eq!(frame_of(Layout::default(), MOUTAI, "2026-10-01T10:00:00", Period::M1), Err(Rejection::NonTradingDay));
}

#[test]
fn garbage_times_like_99_99_99_are_rejected() {
    let sessions = Sessions::new(Layout::default(), &TradingCalendar::bundled());
    assert_eq!(sessions.grid(sym(MOUTAI), day()).classify(99 * 3600 + 99 * 60 + 99), Err(Rejection::GarbageTime));
    assert!(common::tick::parse_tick_object(
        r#"{"symbol":"600519.SH","time":"2026-11-20 99:99:99","price":1,"volume":1}"#
    )
    .is_err());
}

#[test]
fn a_day_has_240_one_minute_bars_end_labelled() {
    let l = labels(Layout::default(), MOUTAI, Period::M1);
    assert_eq!(l.len(), 240);
    assert_eq!(
        (l[0].as_str(), l[119].as_str(), l[120].as_str(), l[239].as_str()),
        ("09:31", "11:30", "13:01", "15:00")
    );
}

#[test]
fn longer_bars_are_session_aligned_48_16_8_4() {
    let l5 = labels(Layout::default(), MOUTAI, Period::M5);
    assert_eq!(
        (l5.len(), l5[0].as_str(), l5[23].as_str(), l5[24].as_str(), l5[47].as_str()),
        (48, "09:35", "11:30", "13:05", "15:00")
    );
    assert_eq!(labels(Layout::default(), MOUTAI, Period::M15).len(), 16);
    assert_eq!(
        labels(Layout::default(), MOUTAI, Period::M30),
        ["10:00", "10:30", "11:00", "11:30", "13:30", "14:00", "14:30", "15:00"]
    );
}

#[test]
fn hour_bars_align_to_the_session_never_the_clock_hour_across_lunch() {
    assert_eq!(labels(Layout::default(), MOUTAI, Period::M60), ["10:30", "11:30", "14:00", "15:00"]);
    let sessions = Sessions::new(Layout::default(), &TradingCalendar::bundled());
    let grid = sessions.grid(sym(MOUTAI), day());
    for p in Period::DEFAULTS {
        for w in grid.windows(p) {
            assert!(w.last < 120 || w.first >= 120, "{p}m window {w:?} spans the lunch break");
        }
    }
}

#[test]
fn start_labelled_layout_labels_bars_by_their_start() {
    let layout = Layout { label: LabelSide::Start, ..Layout::default() };
    let l = labels(layout, MOUTAI, Period::M1);
    assert_eq!(
        (l[0].as_str(), l[119].as_str(), l[120].as_str(), l[239].as_str()),
        ("09:30", "11:29", "13:00", "14:59")
    );
    assert_eq!(labels(layout, MOUTAI, Period::M60), ["09:30", "10:30", "13:00", "14:00"]);
    assert_eq!(frame_of(layout, MOUTAI, &at("09:25:00"), Period::M1).unwrap(), "2026-11-20 09:30:00");
}

#[test]
fn separate_auction_bar_layout_has_241_bars_and_folds_the_auction_into_longer_ones() {
    let layout = Layout { auction: AuctionBar::Separate, ..Layout::default() };
    let l = labels(layout, MOUTAI, Period::M1);
    assert_eq!((l.len(), l[0].as_str(), l[1].as_str()), (241, "09:30", "09:31"));
    assert_eq!(frame_of(layout, MOUTAI, &at("09:25:00"), Period::M1).unwrap(), "2026-11-20 09:30:00");
    assert_eq!(frame_of(layout, MOUTAI, &at("09:30:10"), Period::M1).unwrap(), "2026-11-20 09:31:00");
    assert_eq!(frame_of(layout, MOUTAI, &at("09:25:00"), Period::M5).unwrap(), "2026-11-20 09:35:00");
    assert_eq!(labels(layout, MOUTAI, Period::M5).len(), 48);
}

#[test]
fn after_hours_bars_only_when_configured_and_only_for_boards_that_have_the_session() {
    let layout = Layout { after_hours: true, ..Layout::default() };
    assert_eq!(frame_of(layout, "688981.SH", &at("15:05:30"), Period::M1).unwrap(), "2026-11-20 15:06:00");
    assert_eq!(frame_of(layout, "688981.SH", &at("15:30:40"), Period::M1).unwrap(), "2026-11-20 15:30:00");
    assert_eq!(frame_of(layout, "688981.SH", &at("15:03:00"), Period::M1), Err(Rejection::AfterClose));
    assert_eq!(frame_of(layout, MOUTAI, &at("15:10:00"), Period::M1), Err(Rejection::AfterClose));
    assert_eq!(labels(layout, "300750.SZ", Period::M1).len(), 265);
    assert_eq!(labels(layout, "300750.SZ", Period::M15)[16..], ["15:20", "15:30"]);
}

// ## Ticks

#[test]
fn a_bar_volume_is_the_difference_of_cumulative_totals() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, &at("09:25:01"), "1650", 1_000, "1650000"));
    r.tick(snap(MOUTAI, &at("09:31:03"), "1651", 1_300, "2145300"));
    r.tick(snap(MOUTAI, &at("09:32:03"), "1652", 1_700, "2806100"));
    let bars = r.bars(MOUTAI, Period::M1);
    assert_eq!(bars.iter().map(|b| b.vol).collect::<Vec<_>>(), [1_000, 300]);
    assert_eq!(bars[1].amount, dec("495300"));
}

#[test]
fn qmt_volume_in_lots_is_stored_in_shares() {
    let ticks = common::tick::parse_qmt_payload(
        r#"{"600519.SH":{"time":1763602203000,"lastPrice":1650,"volume":12,"amount":1980000}}"#,
    )
    .unwrap();
    assert_eq!(ticks[0].as_ref().unwrap().volume, 1_200);
}

#[test]
fn the_first_snapshot_before_0931_counts_whole_so_the_auction_is_not_lost() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, &at("09:25:03"), "1650", 32_800, "54120000"));
    r.clock(&at("09:31:03"));
    let first = &r.bars(MOUTAI, Period::M1)[0];
    assert_eq!((first.frame, first.open, first.vol), (frame(&at("09:31:00")), dec("1650"), 32_800));
}

#[test]
fn a_first_snapshot_after_0931_only_sets_the_baseline_and_counts_the_rest_unattributed() {
    let mut r = Replay::new();
    assert_eq!(r.tick(snap(MOUTAI, &at("10:15:00"), "1650", 500_000, "825000000")), TickOutcome::Unattributed);
    r.tick(snap(MOUTAI, &at("10:15:03"), "1651", 500_100, "825165100"));
    r.clock(&at("10:16:03"));
    assert_eq!(r.bars(MOUTAI, Period::M1)[0].vol, 100);
    assert_eq!(r.agg.unattributed(sym(MOUTAI)), (500_000, dec("825000000")));
}

#[test]
fn a_snapshot_going_backwards_is_dropped_never_subtracted() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, &at("09:30:03"), "1650", 1_000, "1650000"));
    assert_eq!(r.tick(snap(MOUTAI, &at("09:30:06"), "1650", 900, "1485000")), TickOutcome::Stale);
    assert_eq!(
        r.tick(snap(MOUTAI, &at("09:30:01"), "1649", 1_100, "1814900")),
        TickOutcome::Stale,
        "time went backwards"
    );
    r.tick(snap(MOUTAI, &at("09:30:09"), "1651", 1_200, "1980200"));
    r.clock(&at("09:31:03"));
    assert_eq!(r.bars(MOUTAI, Period::M1)[0].vol, 1_200);
    assert_eq!(r.agg.count(TickOutcome::Stale), 2);
}

#[test]
fn a_duplicate_snapshot_is_dropped_and_counted() {
    let mut r = Replay::new();
    let s = snap(MOUTAI, &at("09:30:03"), "1650", 1_000, "1650000");
    r.tick(s);
    assert_eq!(r.tick(s), TickOutcome::Duplicate);
    r.clock(&at("09:31:03"));
    assert_eq!(r.bars(MOUTAI, Period::M1)[0].vol, 1_000);
}

#[test]
fn a_snapshot_whose_volume_did_not_rise_moves_no_price() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, &at("09:30:03"), "1650", 1_000, "1650000"));
    assert_eq!(r.tick(snap(MOUTAI, &at("09:30:06"), "1700", 1_000, "1650000")), TickOutcome::NoTrade);
    r.clock(&at("09:31:03"));
    let b = &r.bars(MOUTAI, Period::M1)[0];
    assert_eq!((b.high, b.close), (dec("1650"), dec("1650")));
}

#[test]
fn a_rise_of_the_day_high_between_snapshots_is_absorbed_by_the_later_bar() {
    let mut r = Replay::new();
    r.tick(snap_hl(MOUTAI, &at("09:30:03"), "1650", 1_000, "1650000", "1650", "1650"));
    r.tick(snap_hl(MOUTAI, &at("09:31:02"), "1651", 1_300, "2145300", "1660", "1645"));
    r.clock(&at("09:33:00"));
    let bars = r.bars(MOUTAI, Period::M1);
    assert_eq!((bars[0].high, bars[0].low), (dec("1650"), dec("1650")));
    assert_eq!((bars[1].high, bars[1].low, bars[1].close), (dec("1660"), dec("1645"), dec("1651")));
}

#[test]
fn snapshots_before_the_auction_carry_no_trade_and_make_no_bar() {
    let mut r = Replay::new();
    assert_eq!(r.tick(snap(MOUTAI, &at("09:15:00"), "0", 0, "0")), TickOutcome::NoTrade);
    assert_eq!(r.tick(snap(MOUTAI, &at("09:20:00"), "0", 0, "0")), TickOutcome::NoTrade);
    r.clock(&at("09:40:00"));
    assert!(r.bars(MOUTAI, Period::M1).is_empty());
}

#[test]
fn trade_by_trade_ticks_are_summed() {
    let mut r = Replay::new();
    r.ticks([
        trade(MOUTAI, &at("09:30:01"), "10.01", 100),
        trade(MOUTAI, &at("09:30:02"), "10.03", 200),
        trade(MOUTAI, &at("09:30:50"), "10.00", 300),
    ]);
    r.clock(&at("09:31:02"));
    let b = &r.bars(MOUTAI, Period::M1)[0];
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.vol, b.amount),
        (dec("10.01"), dec("10.03"), dec("10.00"), dec("10.00"), 600, dec("6007.00"))
    );
}

#[test]
fn a_bar_closes_when_its_interval_plus_grace_has_passed_without_waiting_for_a_tick() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:40:10"), "10", 100));
    r.clock(&at("09:41:01.999"));
    assert_eq!(r.count(BarEventKind::Closed, Period::M1), 0);
    r.clock(&at("09:41:02"));
    assert_eq!(r.bars(MOUTAI, Period::M1).len(), 1, "illiquid symbols get their bars on time");
}

#[test]
fn the_sessions_last_bars_close_at_1130_and_1500_plus_grace() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("11:29:50"), "10", 100));
    r.clock(&at("11:30:02"));
    assert_eq!(r.bars(MOUTAI, Period::M60).len(), 1, "the 11:30 hour bar closed");
    r.tick(trade(MOUTAI, &at("14:59:50"), "10", 100));
    r.clock(&at("15:00:02"));
    let last = r.bars(MOUTAI, Period::M60);
    assert_eq!(last.last().unwrap().frame, frame(&at("15:00:00")));
}

#[test]
fn a_tick_stamped_1500_or_later_closes_the_days_last_bars() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("14:59:50"), "10", 100));
    r.tick(trade("000001.SZ", &at("15:00:00.500"), "11", 100));
    for p in Period::DEFAULTS {
        assert_eq!(r.bars(MOUTAI, p).last().unwrap().frame, frame(&at("15:00:00")), "{p}m");
        assert_eq!(r.bars("000001.SZ", p).len(), 1, "{p}m");
    }
}

#[test]
fn empty_minutes_get_flat_bars_from_the_first_trade_on_so_an_auction_trader_has_240() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:25:00"), "10", 100));
    r.tick(trade(MOUTAI, &at("10:00:30"), "10.5", 100));
    r.tick(trade(MOUTAI, &at("15:00:00"), "11", 100));
    let bars = r.bars(MOUTAI, Period::M1);
    assert_eq!(bars.len(), 240);
    let flat = &bars[1];
    assert_eq!((flat.open, flat.high, flat.low, flat.close, flat.vol), (dec("10"), dec("10"), dec("10"), dec("10"), 0));
    let (b1458, b1459) = (&bars[237], &bars[238]);
    assert_eq!((b1458.vol, b1459.vol, b1459.close), (0, 0, dec("10.5")));
    assert_eq!([48, 16, 8, 4], [Period::M5, Period::M15, Period::M30, Period::M60].map(|p| r.bars(MOUTAI, p).len()));
}

#[test]
fn a_suspended_symbol_has_no_bars() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:25:00"), "11", 100));
    r.tick(snap("000002.SZ", &at("09:25:03"), "0", 0, "0"));
    r.tick(trade(MOUTAI, &at("15:00:00"), "11", 100));
    r.clock(&at("15:00:05"));
    assert_eq!(r.bars(MOUTAI, Period::M1).len(), 240, "the trading symbol beside it has its day");
    assert!(r.events.iter().all(|e| e.bar.symbol != sym("000002.SZ")));
}

#[test]
fn the_no_filling_layout_leaves_quiet_minutes_without_bars() {
    let mut r = Replay::with_settings(BarSettings {
        layout: Layout { fill_empty: false, ..Layout::default() },
        ..BarSettings::default()
    });
    r.tick(trade(MOUTAI, &at("09:30:10"), "10", 100));
    r.tick(trade(MOUTAI, &at("09:34:10"), "11", 100));
    r.clock(&at("09:40:00"));
    let frames: Vec<_> = r.bars(MOUTAI, Period::M1).iter().map(|b| b.frame.time().to_string()).collect();
    assert_eq!(frames, ["09:31:00", "09:35:00"]);
    let five = r.bars(MOUTAI, Period::M5);
    assert_eq!((five.len(), five[0].vol, five[0].close), (1, 200, dec("11")));
}

#[test]
fn a_late_tick_inside_the_correction_window_amends_and_republishes_the_bar() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:30:10"), "10", 100));
    r.tick(trade("000001.SZ", &at("09:31:30"), "5", 100));
    assert_eq!(r.bars(MOUTAI, Period::M1)[0].vol, 100, "09:31 closed by the watermark");
    assert_eq!(r.tick(trade(MOUTAI, &at("09:30:50"), "10.2", 50)), TickOutcome::Amended);
    let amended: Vec<_> =
        r.events.iter().filter(|e| e.kind == BarEventKind::Amended && e.period == Period::M1).collect();
    assert_eq!(amended.len(), 1);
    assert_eq!((amended[0].bar.vol, amended[0].bar.high, amended[0].bar.close), (150, dec("10.2"), dec("10.2")));
    r.clock(&at("09:36:00"));
    assert_eq!(r.bars(MOUTAI, Period::M5)[0].vol, 150, "the 5m bar holds the amendment");
}

#[test]
fn a_late_tick_after_the_correction_window_is_dropped_and_counted() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:30:10"), "10", 100));
    r.clock(&at("09:33:00"));
    assert_eq!(r.tick(trade(MOUTAI, &at("09:30:50"), "10.2", 50)), TickOutcome::LateDropped);
    assert_eq!(r.agg.count(TickOutcome::LateDropped), 1);
    assert_eq!(r.bars(MOUTAI, Period::M1)[0].vol, 100);
    assert_eq!(r.agg.unattributed(sym(MOUTAI)).0, 50);
}

#[test]
fn a_late_trade_in_a_flat_minute_amends_the_flat_bars_after_it_and_the_longer_bar() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:30:10"), "10", 100));
    r.clock(&at("09:33:02"));
    assert_eq!(r.bars(MOUTAI, Period::M1).len(), 3, "09:32 and 09:33 are flat at 10");
    r.tick(trade(MOUTAI, &at("09:31:30"), "12", 100));
    let bars = r.bars(MOUTAI, Period::M1);
    assert_eq!(
        (bars[1].open, bars[1].low, bars[1].vol),
        (dec("12"), dec("12"), 100),
        "the flat 09:32 now holds the trade"
    );
    assert_eq!((bars[2].open, bars[2].close, bars[2].vol), (dec("12"), dec("12"), 0), "09:33 follows the new close");
    r.clock(&at("09:36:00"));
    let five = &r.bars(MOUTAI, Period::M5)[0];
    assert_eq!((five.high, five.low, five.close, five.vol), (dec("12"), dec("10"), dec("12"), 200));
}

#[test]
fn multi_minute_bars_are_built_from_the_one_minute_bars() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, &at("09:25:00"), "10", 100));
    r.tick(trade(MOUTAI, &at("09:32:30"), "10.4", 300));
    r.tick(trade(MOUTAI, &at("09:33:30"), "9.9", 200));
    r.tick(trade(MOUTAI, &at("09:34:59"), "10.1", 100));
    r.clock(&at("09:36:00"));
    let ones = r.bars(MOUTAI, Period::M1);
    let five = &r.bars(MOUTAI, Period::M5)[0];
    assert_eq!(five.ohlcv(), fold(&ones[..5]));
    assert_eq!(
        (five.open, five.high, five.low, five.close, five.vol),
        (dec("10"), dec("10.4"), dec("9.9"), dec("10.1"), 700)
    );
}

#[test]
fn a_new_day_starts_from_a_fresh_baseline_never_a_negative_volume() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, "2026-11-19T09:25:03", "1650", 900_000, "1485000000"));
    r.tick(snap(MOUTAI, "2026-11-19T14:59:00", "1650", 3_000_000, "4950000000"));
    r.tick(snap(MOUTAI, &at("09:25:03"), "1660", 30_000, "49800000"));
    r.tick(snap(MOUTAI, &at("09:30:30"), "1661", 31_000, "51461000"));
    r.clock(&at("09:31:02"));
    let today = r.bars(MOUTAI, Period::M1).into_iter().find(|b| b.frame == frame(&at("09:31:00"))).unwrap();
    assert_eq!(today.vol, 31_000);
    let yesterday = r.bars(MOUTAI, Period::M1).into_iter().filter(|b| b.frame.date() < today.frame.date()).count();
    assert_eq!(yesterday, 240, "the previous day was completed when the new one began");
}

#[test]
fn a_1130_02_or_1500_03_snapshot_creates_no_lone_bar() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, &at("09:25:03"), "10", 1_000, "10000"));
    r.tick(snap(MOUTAI, &at("11:30:02"), "10.1", 1_100, "11010"));
    r.tick(snap(MOUTAI, &at("15:00:03"), "10.2", 1_300, "13050"));
    r.clock("2026-11-20T16:00:00");
    let bars = r.bars(MOUTAI, Period::M1);
    assert_eq!(bars.len(), 240);
    assert_eq!(bars[119].vol, 100, "11:30:02 went into 11:30");
    assert_eq!(bars[239].vol, 200, "15:00:03 went into 15:00");
}

#[test]
fn lunch_break_ticks_create_no_bars_and_their_volume_is_unattributed() {
    let mut r = Replay::new();
    r.tick(snap(MOUTAI, &at("09:25:03"), "10", 1_000, "10000"));
    assert_eq!(r.tick(snap(MOUTAI, &at("12:00:00"), "10", 1_000, "10000")), TickOutcome::NoTrade, "heartbeat");
    assert_eq!(
        r.tick(snap(MOUTAI, &at("12:10:00"), "10", 1_100, "11000")),
        TickOutcome::Rejected(Rejection::LunchBreak)
    );
    r.clock(&at("13:00:00"));
    assert_eq!(r.bars(MOUTAI, Period::M1).len(), 120);
    assert_eq!(r.agg.unattributed(sym(MOUTAI)).0, 100);
}

#[test]
fn forming_bars_are_reported_once_per_batch_for_every_period() {
    let settings = BarSettings::default();
    let mut agg = common::BarAggregator::new(&settings, std::sync::Arc::new(TradingCalendar::bundled()));
    for s in 1..=5 {
        let t = trade(MOUTAI, &at(&format!("09:30:0{s}")), "10", 100);
        agg.apply(&t, t.time_ms);
    }
    agg.advance(ms(&at("09:30:05")));
    let events: Vec<_> = agg.drain_events().collect();
    assert_eq!(events.len(), 5, "one update per period");
    assert!(events.iter().all(|e| e.kind == BarEventKind::Updated && e.bar.vol == 500));
    assert_eq!(split_ms(events[4].bar.frame.epoch_seconds() * 1000).1, (10 * 60 + 30) * 60, "60m forming bar is 10:30");
}

#[test]
fn this_document_names_every_convention_test() {
    let doc = include_str!("../../docs/conventions.md");
    let headings: Vec<&str> = doc.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    let tests = include_str!("conventions.rs");
    for section in tests.lines().filter_map(|l| l.strip_prefix("// ## ")) {
        assert!(headings.contains(&section), "docs/conventions.md has no heading `## {section}`");
    }
    let history = include_str!("../src/normalise.rs");
    let named = |source: &'static str| {
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        let after_test = lines.windows(2).filter(|w| w[0] == "#[test]").map(|w| w[1]);
        after_test.filter_map(|l| l.strip_prefix("fn ")?.split('(').next()).collect::<Vec<_>>()
    };
    let all: Vec<&str> = named(tests).into_iter().chain(named(history)).collect();
    assert!(all.len() > 50, "the test names were read: {all:?}");
    for test in all.into_iter().filter(|t| *t != "this_document_names_every_convention_test") {
        assert!(doc.contains(&format!("`{test}`")), "docs/conventions.md does not name the test `{test}`");
    }
}
