//! The query API's settings: Redis for same-day bars, ClickHouse for history.

use common::settings::{CalendarSettings, ClickHouseSettings, HttpSettings, RedisSettings};
use common::BarSettings;
use runtime::ServiceSettings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryApiSettings {
    pub redis: RedisSettings,
    pub clickhouse: ClickHouseSettings,
    pub http: HttpSettings,
    pub calendar: CalendarSettings,
    pub bars: BarSettings,
}

impl Default for QueryApiSettings {
    fn default() -> Self {
        QueryApiSettings {
            redis: RedisSettings::default(),
            clickhouse: ClickHouseSettings::default(),
            http: HttpSettings::on(HttpSettings::QUERY_API),
            calendar: CalendarSettings::default(),
            bars: BarSettings::default(),
        }
    }
}

impl ServiceSettings for QueryApiSettings {
    fn calendar(&self) -> &CalendarSettings {
        &self.calendar
    }
}
