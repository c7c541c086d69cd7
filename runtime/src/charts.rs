//! The last hour of a service's figures for its monitor page's charts: every `http.chart_interval_ms`
//! the service's [`Figure`]s are sampled into fixed-size ring buffers (counters become rates,
//! sums over counts become means, levels are kept as read), served as JSON at `api/charts`.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

/// How much is kept: one hour.
pub const CHART_SPAN: Duration = Duration::from_secs(3600);

/// One figure as the service reads it now; `name` is its series on the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    /// A counter, charted as its increase per `per_seconds` (1: per second, 60: per minute).
    Rate { name: &'static str, total: u64, per_seconds: f64 },
    /// A running sum and count (of durations, say), charted as the mean of what the interval added.
    Mean { name: &'static str, sum: f64, count: u64 },
    /// A level (a queue's length, a percentile), charted as read.
    Level { name: &'static str, value: f64 },
}

impl Figure {
    fn name(&self) -> &'static str {
        match self {
            Figure::Rate { name, .. } | Figure::Mean { name, .. } | Figure::Level { name, .. } => name,
        }
    }
}

/// The charts' series, as `api/charts` serves them: `[epoch ms, value]` points, oldest first; a
/// rate or mean without a previous reading (the first sample, a counter that went back) is `null`.
#[derive(Debug, Clone, Serialize)]
pub struct ChartData {
    pub interval_ms: u64,
    pub series: BTreeMap<&'static str, Vec<(i64, Option<f64>)>>,
}

#[derive(Default)]
struct State {
    previous: Option<(i64, Vec<Figure>)>,
    series: BTreeMap<&'static str, VecDeque<(i64, Option<f64>)>>,
}

/// The ring buffers of one service.
pub struct Charts {
    interval: Duration,
    capacity: usize,
    state: Mutex<State>,
}

impl Charts {
    /// Buffers of an hour of points sampled every `interval_ms` (at least 10 ms).
    pub fn new(interval_ms: u64) -> Charts {
        let interval = Duration::from_millis(interval_ms.max(10));
        let capacity = (CHART_SPAN.as_millis() / interval.as_millis()).max(1) as usize;
        Charts { interval, capacity, state: Mutex::new(State::default()) }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Takes the figures read at `now_ms`.
    pub fn record(&self, now_ms: i64, figures: Vec<Figure>) {
        let mut state = self.state.lock();
        let points: Vec<(&'static str, Option<f64>)> = figures
            .iter()
            .map(|figure| {
                let before = state
                    .previous
                    .as_ref()
                    .and_then(|(at, old)| Some((now_ms - at, old.iter().find(|f| f.name() == figure.name())?)));
                (figure.name(), value(figure, before))
            })
            .collect();
        for (name, point) in points {
            let series = state.series.entry(name).or_default();
            if series.len() == self.capacity {
                series.pop_front();
            }
            series.push_back((now_ms, point));
        }
        state.previous = Some((now_ms, figures));
    }

    pub fn data(&self) -> ChartData {
        let state = self.state.lock();
        let series = state.series.iter().map(|(name, points)| (*name, points.iter().copied().collect())).collect();
        ChartData { interval_ms: self.interval.as_millis() as u64, series }
    }
}

/// The point of `figure`, given the same figure `elapsed_ms` before.
fn value(figure: &Figure, before: Option<(i64, &Figure)>) -> Option<f64> {
    match (figure, before) {
        (Figure::Level { value, .. }, _) => Some(*value),
        (Figure::Rate { total, per_seconds, .. }, Some((elapsed_ms, Figure::Rate { total: old, .. })))
            if elapsed_ms > 0 && total >= old =>
        {
            Some((total - old) as f64 * per_seconds * 1000.0 / elapsed_ms as f64)
        }
        (Figure::Mean { sum, count, .. }, Some((_, Figure::Mean { sum: old_sum, count: old_count, .. })))
            if count > old_count =>
        {
            Some((sum - old_sum) / (count - old_count) as f64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(ticks: u64, queue: f64, sum: f64, count: u64) -> Vec<Figure> {
        vec![
            Figure::Rate { name: "ticks", total: ticks, per_seconds: 1.0 },
            Figure::Rate { name: "ticks_per_min", total: ticks, per_seconds: 60.0 },
            Figure::Level { name: "queue", value: queue },
            Figure::Mean { name: "insert_ms", sum, count },
        ]
    }

    #[test]
    fn counters_become_rates_sums_become_means_and_levels_stay() {
        let charts = Charts { capacity: 3, ..Charts::new(10_000) };
        charts.record(0, figures(100, 5.0, 10.0, 2));
        charts.record(10_000, figures(600, 7.0, 40.0, 5));
        charts.record(20_000, figures(600, 0.0, 40.0, 5));
        let data = charts.data();
        assert_eq!(data.series["ticks"], [(0, None), (10_000, Some(50.0)), (20_000, Some(0.0))]);
        assert_eq!(data.series["ticks_per_min"][1], (10_000, Some(3000.0)));
        assert_eq!(data.series["queue"], [(0, Some(5.0)), (10_000, Some(7.0)), (20_000, Some(0.0))]);
        assert_eq!(data.series["insert_ms"], [(0, None), (10_000, Some(10.0)), (20_000, None)]);
    }

    #[test]
    fn the_buffers_keep_the_last_capacity_points_and_a_reset_counter_is_a_gap() {
        let charts = Charts { capacity: 2, ..Charts::new(10_000) };
        for (at, ticks) in [(0, 10), (10_000, 20), (20_000, 5), (30_000, 15)] {
            charts.record(at, figures(ticks, 0.0, 0.0, 0));
        }
        assert_eq!(charts.data().series["ticks"], [(20_000, None), (30_000, Some(1.0))]);
        assert_eq!(Charts::new(10_000).capacity, 360, "an hour of 10 s points");
    }
}
