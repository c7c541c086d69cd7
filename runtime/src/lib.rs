//! What every tickbar service binary shares: loading its settings from one TOML file plus
//! `TICKBAR__SECTION__KEY` environment overrides, loading the trading calendar they name, and
//! setting up logging (this file); and what the services and outside programs agree on.
//!
//! # Layout
//! - [`settings`]: the settings sections the services share; [`keys`]: every Redis key and
//!   channel name, the history queues and the ClickHouse tables (the layout outside programs
//!   rely on, see the contract).
//! - [`clock`]: the clock each service is handed, and version stamps.
//! - [`redis`]: the connection, publishing and subscribing; [`progress`]: the producer's progress
//!   record; [`clickhouse`]: the bars table as every service reads and writes it; [`schema`]: the
//!   ClickHouse schema as numbered migrations; [`archive`]:
//!   the tick archive's row; [`tls`]: how both stores are reached over TLS; [`stores`]: the
//!   stores' names and states.
//! - [`ops`]: what every service serves and how it stops; [`metrics`]: the Prometheus text format
//!   and the figures behind it; [`charts`]: the last hour its monitor page draws; [`backoff`]:
//!   retrying a dependency; [`table`]: the table of bars every file tickbar writes has;
//!   [`alert`]: the alerts every service sends to chat receivers.

pub mod alert;
pub mod archive;
pub mod backoff;
pub mod calendar;
pub mod charts;
pub mod clickhouse;
pub mod clock;
pub mod keys;
pub mod metrics;
pub mod ops;
pub mod progress;
pub mod redis;
pub mod schema;
pub mod settings;
pub mod stores;
pub mod table;
pub mod tls;

use std::path::{Path, PathBuf};

use crate::calendar::admin::CalendarCommand;
use crate::calendar::LiveCalendar;
use crate::settings::{CalendarSettings, ClickHouseSettings, ClockSettings, RedisSettings};
use clock::Clock;
use serde::de::DeserializeOwned;

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("settings: {0}")]
    Settings(#[from] config::ConfigError),
    #[error("holiday list {path}: {source}")]
    HolidayFile { path: PathBuf, source: std::io::Error },
    #[error("holiday list {path}: {source}")]
    HolidayList { path: PathBuf, source: common::Error },
    #[error("{0}")]
    Clock(#[from] clock::ClockError),
    #[error("{setting}: {reason}")]
    Tls { setting: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    #[error("http.listen {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
}

/// The `--config FILE` option every binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// TOML settings file; without it the defaults apply. `TICKBAR__SECTION__KEY` variables override both.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

/// The command line every service binary shares: `--config FILE` and the subcommands all have.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(subcommand)]
    pub command: Option<ServiceCommand>,
}

impl ConfigArg {
    /// The settings of this `--config` (and the environment), the holiday list they name and the
    /// clock `[clock]` describes.
    pub fn load<T: ServiceSettings>(&self) -> Result<(T, LiveCalendar, Clock), Error> {
        let settings: T = load_settings(self.config.as_deref())?;
        settings.check().map_err(Error::Invalid)?;
        settings.alerts().check().map_err(Error::Invalid)?;
        check_tls(&settings)?;
        let calendar = LiveCalendar::load(settings.calendar())?;
        let clock = Clock::from_settings(settings.clock())?;
        Ok((settings, calendar, clock))
    }
}

/// Subcommands every service binary has.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceCommand {
    /// Validates the settings (file, environment, holiday list) and prints them as JSON, with
    /// the calendar's version and source.
    CheckConfig,
    /// Shows or changes the calendar every running service follows (docs/operations.md).
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
}

impl ServiceCommand {
    /// Runs the command on settings already loaded; the service is not started.
    pub fn run<T: ServiceSettings>(&self, settings: &T, calendar: &LiveCalendar, clock: Clock) -> Result<(), Error> {
        match self {
            ServiceCommand::CheckConfig => {
                check_config(settings, calendar, clock);
                Ok(())
            }
            ServiceCommand::Calendar { command } => {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
                rt.block_on(calendar::admin::run(command, settings.redis(), calendar, clock))
            }
        }
    }
}

/// A service's settings: they name a holiday list, a clock and the stores' TLS files, so loading
/// can check them.
pub trait ServiceSettings: DeserializeOwned + serde::Serialize + Default {
    fn calendar(&self) -> &CalendarSettings;
    fn clock(&self) -> &ClockSettings;
    fn redis(&self) -> &RedisSettings;
    fn clickhouse(&self) -> &ClickHouseSettings;
    fn alerts(&self) -> &alert::AlertSettings;
    /// Checks the settings make sense together; the message names the settings at fault.
    fn check(&self) -> Result<(), String> {
        self.redis().check()
    }
}

/// Implements [`ServiceSettings`] for a settings struct whose shared sections are its fields
/// `calendar`, `clock`, `redis`, `clickhouse` and `alerts`; `check = f` replaces the default check with
/// `f(&settings)`.
#[macro_export]
macro_rules! service_settings {
    ($type:ty $(, check = $check:path)?) => {
        impl $crate::ServiceSettings for $type {
            fn calendar(&self) -> &$crate::settings::CalendarSettings {
                &self.calendar
            }

            fn clock(&self) -> &$crate::settings::ClockSettings {
                &self.clock
            }

            fn redis(&self) -> &$crate::settings::RedisSettings {
                &self.redis
            }

            fn clickhouse(&self) -> &$crate::settings::ClickHouseSettings {
                &self.clickhouse
            }

            fn alerts(&self) -> &$crate::alert::AlertSettings {
                &self.alerts
            }

            $(
                fn check(&self) -> Result<(), String> {
                    $check(self)
                }
            )?
        }
    };
}

/// Reads and parses the TLS files of `[redis.tls]`, `[clickhouse.tls]` and `[alerts.tls]`, so a
/// file that cannot work stops every command (`check-config` too) with the setting named.
fn check_tls<T: ServiceSettings>(settings: &T) -> Result<(), Error> {
    let sections = [
        ("redis", &settings.redis().tls),
        ("clickhouse", &settings.clickhouse().tls),
        ("alerts", &settings.alerts().tls),
    ];
    for (section, tls) in sections {
        let pem = tls::Pem::read(section, tls)?;
        if !pem.is_empty() {
            pem.client_config(section)?;
        }
    }
    Ok(())
}

impl ServiceArgs {
    /// Loads and checks the settings and the holiday list they name; with `check-config`, prints
    /// them and returns `None`, else returns them for the service to run.
    pub fn settings<T: ServiceSettings>(&self) -> Result<Option<(T, LiveCalendar, Clock)>, Error> {
        let (settings, calendar, clock) = self.config.load::<T>()?;
        match &self.command {
            Some(command) => {
                command.run(&settings, &calendar, clock)?;
                Ok(None)
            }
            None => Ok(Some((settings, calendar, clock))),
        }
    }
}

/// `check-config`: prints the settings (secrets as `(set)`), then on stderr the calendar's
/// version and source (with the changes stored in Redis when it answers within 2 s) and a
/// warning when the holiday list ends within 30 days or has ended.
pub fn check_config<T: ServiceSettings>(settings: &T, calendar: &LiveCalendar, clock: Clock) {
    println!("{}", serde_json::to_string_pretty(settings).expect("settings serialize"));
    let reached = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .is_ok_and(|rt| rt.block_on(calendar::apply_stored(calendar, settings.redis())));
    let now = calendar.current();
    let redis = if reached { "" } else { " (redis not reached: the baseline alone)" };
    eprintln!("calendar: version {}, {}{redis}", now.version, now.source);
    if let Some(warning) = now.days.warning(clock.today()) {
        eprintln!("warning: {warning}");
    }
}

/// The environment variable prefix: `TICKBAR__REDIS__URL` sets `redis.url`.
pub const ENV_PREFIX: &str = "TICKBAR";

/// Every settings section of every tickbar service. A service ignores the sections of this list it
/// does not have, so one environment (or one file) can serve all three; any other section, and any
/// unknown key inside its own sections, is still an error.
pub const SECTIONS: [&str; 10] =
    ["redis", "clickhouse", "http", "calendar", "clock", "bars", "producer", "consumer", "archive", "api"];

/// Loads settings: defaults, then `file` when given, then the environment, last one winning.
/// Sections of the other services ([`SECTIONS`]) are left out before the service reads its own.
pub fn load_settings<T: DeserializeOwned + serde::Serialize + Default>(file: Option<&Path>) -> Result<T, Error> {
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml).required(true));
    }
    let env = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("bars.periods")
        .with_list_parse_key("redis.sentinels")
        .with_list_parse_key("redis.nodes")
        .with_list_parse_key("api.cors_origins");
    let mut table: config::Map<String, config::Value> = builder.add_source(env).build()?.try_deserialize()?;
    let own = serde_json::to_value(T::default()).expect("settings serialize");
    table.retain(|section, _| own.get(section).is_some() || !SECTIONS.contains(&section.as_str()));
    Ok(config::Value::from(table).try_deserialize()?)
}

/// `configured`, or `host-pid` when empty: the name an instance gives itself in locks and reports.
pub fn instance_name(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "tickbar".into());
    format!("{}-{}", host.trim(), std::process::id())
}

/// A token no other process holds: `name` with this process's id and start instant, so that two
/// instances configured with the same name never take each other's lock for their own.
pub fn process_token(name: &str) -> String {
    static START: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let nanos = START
        .get_or_init(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("{name}#{}.{nanos:x}", std::process::id())
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::RedisSettings;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, serde::Serialize)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        redis: RedisSettings,
        bars: common::BarSettings,
    }

    #[test]
    fn file_then_environment_override_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sample.toml");
        std::fs::write(&file, "[redis]\nkey_prefix = \"from-file:\"\n[bars]\ngrace_ms = 500\n").unwrap();
        // One test touches these variables, so no other test can see them change.
        std::env::set_var("TICKBAR__REDIS__URL", "redis://127.0.0.1:7777/1");
        std::env::set_var("TICKBAR__BARS__PERIODS", "1,5");
        let s: Sample = load_settings(Some(&file)).unwrap();
        std::env::remove_var("TICKBAR__REDIS__URL");
        std::env::remove_var("TICKBAR__BARS__PERIODS");
        assert_eq!((s.redis.url.as_str(), s.redis.key_prefix.as_str()), ("redis://127.0.0.1:7777/1", "from-file:"));
        assert_eq!(s.bars.grace_ms, 500);
        assert_eq!(s.bars.periods, [common::Period::M1, common::Period::M5]);
        assert_eq!(s.bars.correction_window_ms, common::BarSettings::default().correction_window_ms);
    }

    #[test]
    fn an_unknown_setting_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[redis]\nurll = \"x\"\n").unwrap();
        let err = load_settings::<Sample>(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("urll"), "{err}");
    }

    #[derive(Debug, Default, Deserialize, serde::Serialize)]
    #[serde(default, deny_unknown_fields)]
    struct Other {
        redis: RedisSettings,
    }

    #[test]
    fn one_file_serves_every_service_but_typos_are_still_caught() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared.toml");
        let text = "[redis]\nkey_prefix = \"x:\"\n[clickhouse]\npassword = \"s\"\n[api]\ntoken = \"t\"\n[archive]\nbars = false\n";
        std::fs::write(&shared, text).unwrap();
        let s: Other = load_settings(Some(&shared)).unwrap();
        assert_eq!(s.redis.key_prefix, "x:", "the other services' sections are left to them");
        for (typo, named) in [("[redis]\nurll = \"x\"\n", "urll"), ("[redsi]\nurl = \"x\"\n", "redsi")] {
            std::fs::write(&shared, typo).unwrap();
            let err = load_settings::<Other>(Some(&shared)).unwrap_err().to_string();
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn a_missing_holiday_file_is_a_clear_error() {
        let settings =
            CalendarSettings { holidays_file: Some("/nonexistent/holidays.csv".into()), ..CalendarSettings::default() };
        let err = LiveCalendar::load(&settings).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/holidays.csv"), "{err}");
    }
}
