//! The two stores every service names (Redis, ClickHouse), whether one answers, and the part an
//! instance plays beside others of its kind (the producer's lease, the consumer's drain lock):
//! each with the one string form the monitors, the metrics, the logs and the error codes share.

use serde::Serialize;

/// A store tickbar keeps bars in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    Redis,
    ClickHouse,
}

impl Store {
    pub const ALL: [Store; 2] = [Store::Redis, Store::ClickHouse];

    pub const fn as_str(self) -> &'static str {
        match self {
            Store::Redis => "redis",
            Store::ClickHouse => "clickhouse",
        }
    }
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a store answered when last asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreState {
    Up,
    #[default]
    Down,
}

impl StoreState {
    pub fn of<T, E>(answer: &Result<T, E>) -> StoreState {
        if answer.is_ok() {
            StoreState::Up
        } else {
            StoreState::Down
        }
    }

    /// 1 when up: the value of a Prometheus `_up` gauge.
    pub fn gauge(self) -> f64 {
        f64::from(u8::from(self == StoreState::Up))
    }
}

/// An instance's part among the instances of one service sharing a lease or lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not yet asked for the lease or lock.
    #[default]
    Starting,
    /// Holds it and does the work.
    Active,
    /// Another instance holds it; this one takes over when it lapses.
    Standby,
    /// Stopped and released it.
    Stopped,
}

impl Role {
    /// 1 when active: the value of a Prometheus gauge.
    pub fn gauge(self) -> f64 {
        f64::from(u8::from(self == Role::Active))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_is_its_serde_form() {
        for store in Store::ALL {
            assert_eq!(serde_json::to_value(store).unwrap(), store.as_str());
        }
        assert_eq!(serde_json::to_value(StoreState::Up).unwrap(), "up");
        assert_eq!(serde_json::to_value(StoreState::Down).unwrap(), "down");
        assert_eq!(StoreState::of(&Err::<(), ()>(())), StoreState::Down);
        assert_eq!(serde_json::to_value(Role::Standby).unwrap(), "standby");
    }
}
