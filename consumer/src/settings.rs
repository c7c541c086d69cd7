//! The consumer's settings: Redis for the queues, ClickHouse for history.

use common::settings::{CalendarSettings, ClickHouseSettings, HttpSettings, RedisSettings};
use common::BarSettings;
use runtime::ServiceSettings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumerSettings {
    pub redis: RedisSettings,
    pub clickhouse: ClickHouseSettings,
    pub http: HttpSettings,
    pub calendar: CalendarSettings,
    pub bars: BarSettings,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            redis: RedisSettings::default(),
            clickhouse: ClickHouseSettings::default(),
            http: HttpSettings::on(HttpSettings::CONSUMER),
            calendar: CalendarSettings::default(),
            bars: BarSettings::default(),
        }
    }
}

impl ServiceSettings for ConsumerSettings {
    fn calendar(&self) -> &CalendarSettings {
        &self.calendar
    }
}
