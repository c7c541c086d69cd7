//! The producer's settings: the shared sections plus `[producer]`.

use common::settings::{CalendarSettings, HttpSettings, RedisSettings};
use common::BarSettings;
use runtime::ServiceSettings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerSettings {
    pub redis: RedisSettings,
    pub http: HttpSettings,
    pub calendar: CalendarSettings,
    pub producer: ProducerSection,
    pub bars: BarSettings,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            redis: RedisSettings::default(),
            http: HttpSettings::on(HttpSettings::PRODUCER),
            calendar: CalendarSettings::default(),
            producer: ProducerSection::default(),
            bars: BarSettings::default(),
        }
    }
}

/// `[producer]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerSection {
    pub clock: Clock,
}

/// What closes bars: the wall clock (live feeds) or the latest tick time seen (replays, tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    #[default]
    Wall,
    Event,
}

impl ServiceSettings for ProducerSettings {
    fn calendar(&self) -> &CalendarSettings {
        &self.calendar
    }
}
