//! The set clock of a live test (`[clock]` of the services): it reads a start time at a real
//! instant a little ahead and runs some times as fast, for the services and the test's feeder alike.

use std::time::Duration;

/// A clock reading `start_ms` at the real instant `origin_ms`, running `speed` times as fast.
#[derive(Debug, Clone, Copy)]
pub struct SetClock {
    start: &'static str,
    start_ms: i64,
    pub origin_ms: i64,
    speed: i64,
}

impl SetClock {
    /// A clock that reads `start` (market time) `lead_ms` from now and runs `speed` times as fast.
    pub fn new(start: &'static str, speed: i64, lead_ms: i64) -> SetClock {
        let start_ms = common::time::parse_datetime(start).expect("a market time");
        SetClock { start, start_ms, origin_ms: real_ms() + lead_ms, speed }
    }

    /// The services' settings of this clock.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TICKBAR__CLOCK__START", self.start.into()),
            ("TICKBAR__CLOCK__ORIGIN_MS", self.origin_ms.to_string()),
            ("TICKBAR__CLOCK__SPEED", self.speed.to_string()),
        ]
    }

    /// What the clock reads now, epoch ms.
    pub fn now(&self) -> i64 {
        self.start_ms + (real_ms() - self.origin_ms) * self.speed
    }

    /// Sleeps until the clock reads `at_ms`.
    pub async fn until(&self, at_ms: i64) {
        let wait = self.origin_ms + (at_ms - self.start_ms) / self.speed - real_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }
}

/// The system clock, epoch ms.
pub fn real_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as i64
}
