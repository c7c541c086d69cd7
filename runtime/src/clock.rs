//! The clock a service reads, handed to it when it starts (never a process global): the system
//! clock; the clock `[clock]` sets for demos and process-level tests (a start time, the real
//! instant it was read, a speed); or a test clock on tokio's time, which a test with paused time
//! moves by advancing tokio's, so leases, schedules and stale feeds are tested without a sleep.

use crate::settings::ClockSettings;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use chrono::NaiveDate;
use common::Frame;

/// What time it is for one service: cheap to copy into every part that asks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    /// The system clock.
    System,
    /// `start_ms` at the real instant `origin_ms`, running `speed` times as fast.
    Set { origin_ms: i64, start_ms: i64, speed: f64 },
    /// `start_ms` at tokio's instant `origin`, moving as tokio's time moves.
    Tokio { origin: tokio::time::Instant, start_ms: i64 },
}

/// Why `[clock]` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("clock.start: {0}")]
    Start(common::Error),
    #[error("clock.speed {0} must be a positive finite number")]
    Speed(f64),
}

impl Clock {
    /// The clock `settings` describe: the system's unless `start` is set.
    pub fn from_settings(settings: &ClockSettings) -> Result<Clock, ClockError> {
        if !(settings.speed.is_finite() && settings.speed > 0.0) {
            return Err(ClockError::Speed(settings.speed));
        }
        let Some(start) = &settings.start else { return Ok(Clock::System) };
        Ok(Clock::Set {
            origin_ms: settings.origin_ms.unwrap_or_else(system_ms),
            start_ms: common::time::parse_datetime(start).map_err(ClockError::Start)?,
            speed: settings.speed,
        })
    }

    /// A clock reading `start_ms` now and moving with tokio's time (paused in tests).
    pub fn on_tokio(start_ms: i64) -> Clock {
        Clock::Tokio { origin: tokio::time::Instant::now(), start_ms }
    }

    /// The time now, epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match *self {
            Clock::System => system_ms(),
            Clock::Set { origin_ms, start_ms, speed } => start_ms + ((system_ms() - origin_ms) as f64 * speed) as i64,
            Clock::Tokio { origin, start_ms } => start_ms + origin.elapsed().as_millis() as i64,
        }
    }

    /// The second now, as a frame.
    pub fn now(&self) -> Frame {
        Frame::from_epoch_seconds(self.now_ms().div_euclid(1000))
    }

    /// The market date (Asia/Shanghai) now.
    pub fn today(&self) -> NaiveDate {
        self.now().date()
    }
}

/// A version stamp: the system clock's microsecond (not `[clock]`'s, which can repeat from run to
/// run), larger than any this process gave before.
pub fn version_us() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let previous = LAST.fetch_max(now, Relaxed);
    if previous >= now {
        LAST.fetch_add(1, Relaxed) + 1
    } else {
        now
    }
}

fn system_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(start: Option<&str>, speed: f64) -> ClockSettings {
        ClockSettings { start: start.map(str::to_owned), speed, origin_ms: Some(system_ms()) }
    }

    #[test]
    fn the_settings_choose_the_system_clock_or_a_set_one() {
        assert_eq!(Clock::from_settings(&settings(None, 1.0)).unwrap(), Clock::System);
        let set = Clock::from_settings(&settings(Some("2026-11-20T09:30:00"), 1.0)).unwrap();
        assert!(matches!(set, Clock::Set { speed: 1.0, .. }), "{set:?}");
        let at = common::time::parse_datetime("2026-11-20T09:30:00").unwrap();
        assert!((set.now_ms() - at).abs() < 60_000, "{}", set.now_ms() - at);
        assert_eq!(set.today(), "2026-11-20".parse::<NaiveDate>().unwrap());
        assert!(matches!(Clock::from_settings(&settings(None, 0.0)), Err(ClockError::Speed(_))));
        assert!(matches!(Clock::from_settings(&settings(Some("noon"), 1.0)), Err(ClockError::Start(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_test_clock_moves_with_tokio_time() {
        let at = common::time::parse_datetime("2026-11-20T23:59:59").unwrap();
        let clock = Clock::on_tokio(at);
        assert_eq!(clock.now_ms(), at);
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert_eq!(clock.now_ms(), at + 2_000);
        assert_eq!(clock.today(), "2026-11-21".parse::<NaiveDate>().unwrap(), "past midnight in Shanghai");
        assert_eq!(clock.now().to_string(), "2026-11-21 00:00:01");
    }
}
