//! The one clock every service reads: the system clock, or the clock `[clock]` sets for tests and
//! demos (a start time, the real instant it was read, a speed). Set once at start, read anywhere.

use std::sync::OnceLock;

use common::settings::ClockSettings;

/// A clock that read `start_ms` at the real instant `origin_ms` and runs `speed` times as fast.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SetClock {
    origin_ms: i64,
    start_ms: i64,
    speed: f64,
}

static CLOCK: OnceLock<Option<SetClock>> = OnceLock::new();

/// Why `[clock]` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("clock.start: {0}")]
    Start(common::Error),
    #[error("clock.speed {0} must be a positive finite number")]
    Speed(f64),
}

/// Installs the clock `settings` describe, for the rest of the process (the first call wins).
pub fn init(settings: &ClockSettings) -> Result<(), ClockError> {
    if !(settings.speed.is_finite() && settings.speed > 0.0) {
        return Err(ClockError::Speed(settings.speed));
    }
    let set = match &settings.start {
        None => None,
        Some(start) => Some(SetClock {
            origin_ms: settings.origin_ms.unwrap_or_else(system_ms),
            start_ms: common::time::parse_datetime(start).map_err(ClockError::Start)?,
            speed: settings.speed,
        }),
    };
    let _ = CLOCK.set(set);
    Ok(())
}

/// Whether the clock is a set one rather than the system's.
pub fn is_set() -> bool {
    CLOCK.get().is_some_and(Option::is_some)
}

/// The time now, epoch milliseconds.
pub fn now_ms() -> i64 {
    match CLOCK.get() {
        Some(Some(c)) => c.start_ms + ((system_ms() - c.origin_ms) as f64 * c.speed) as i64,
        _ => system_ms(),
    }
}

fn system_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
