//! The clocks of live tests: the set clock child processes take (`[clock]` of the services: a
//! start time at a real instant a little ahead, some times as fast, for the services and the
//! test's feeder alike), and the held tokio time of in-process tests ([`TestTime`]).

use std::time::Duration;

use runtime::clock::Clock;

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

/// Tokio's paused time, held still for an in-process test and moved only by it: tokio's
/// auto-advance is off while a blocking task runs, and this holds one. So a request in flight to a
/// real store is never timed out by a jump the test did not ask for, and every lease interval,
/// schedule and stale-feed rule a service runs on its [`Clock`] moves exactly as the test says.
/// Needs a current-thread runtime (`#[tokio::test]`); start the servers before holding it.
pub struct TestTime {
    clock: Clock,
    /// Dropped with the holder, which ends the blocking task that keeps auto-advance off.
    _release: std::sync::mpsc::Sender<()>,
}

/// How far [`TestTime::pass`] moves time in one step at least, and in how many steps at most.
const STEP: Duration = Duration::from_millis(200);
const STEPS: u32 = 500;
/// How long [`TestTime::until`] waits in real time before it gives up.
const REAL_PATIENCE: Duration = Duration::from_secs(30);

impl TestTime {
    /// Pauses tokio's time and holds it; the services' clock reads `start` (market time) now.
    pub fn hold(start: &str) -> TestTime {
        tokio::time::pause();
        let (release, held) = std::sync::mpsc::channel::<()>();
        tokio::task::spawn_blocking(move || held.recv());
        let start_ms = common::time::parse_datetime(start).expect("a market time");
        TestTime { clock: Clock::on_tokio(start_ms), _release: release }
    }

    /// The clock to hand the services.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// What the clock reads now, epoch ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Moves time on by `by`, a step at a time, letting the services run between steps.
    pub async fn pass(&self, by: Duration) {
        let end = tokio::time::Instant::now() + by;
        let step = (by / STEPS).max(STEP);
        while tokio::time::Instant::now() < end {
            tokio::time::advance(step.min(end - tokio::time::Instant::now())).await;
            real_pause(Duration::from_millis(1)).await;
        }
    }

    /// Moves time on until the clock reads `at_ms` (no further when it already does).
    pub async fn pass_until(&self, at_ms: i64) {
        let left = at_ms - self.now_ms();
        if left > 0 {
            self.pass(Duration::from_millis(left as u64)).await;
        }
    }

    /// Waits with time held still until `probe` finds what it looks for; panics naming `what`
    /// after [`REAL_PATIENCE`] of real time.
    pub async fn until<T, F: std::future::Future<Output = Option<T>>>(
        &self,
        what: &str,
        probe: impl FnMut() -> F,
    ) -> T {
        self.search(what, None, probe).await
    }

    /// Moves time on `step` at a time until `probe` finds what it looks for; panics naming `what`
    /// after [`REAL_PATIENCE`] of real time.
    pub async fn pass_until_found<T, F: std::future::Future<Output = Option<T>>>(
        &self,
        what: &str,
        step: Duration,
        probe: impl FnMut() -> F,
    ) -> T {
        self.search(what, Some(step), probe).await
    }

    /// Probes until found; between probes time moves `step` on, or (none) stays while a little
    /// real time passes.
    async fn search<T, F: std::future::Future<Output = Option<T>>>(
        &self,
        what: &str,
        step: Option<Duration>,
        mut probe: impl FnMut() -> F,
    ) -> T {
        let start = std::time::Instant::now();
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            assert!(start.elapsed() < REAL_PATIENCE, "{what}: not within {REAL_PATIENCE:?}");
            match step {
                Some(step) => self.pass(step).await,
                None => real_pause(Duration::from_millis(5)).await,
            }
        }
    }
}

/// Lets `by` of real time pass, also where a test holds tokio's time (which it does not move; the
/// runtime serves I/O meanwhile).
pub async fn real_pause(by: Duration) {
    tokio::task::spawn_blocking(move || std::thread::sleep(by)).await.expect("a real pause");
}
