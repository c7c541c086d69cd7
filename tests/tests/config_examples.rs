//! The example configuration files (`deploy/config/*.toml`) are a complete reference: each
//! service reads its file (strictly: an unknown key is an error) to exactly its defaults, every
//! setting the service has is in it (commented out where the default is "unset"), and the
//! environment variable named beside each setting is the one that overrides it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn check_config(service: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(harness::workspace_binary(service)).args(args).arg("check-config").output().unwrap();
    assert!(out.status.success(), "{service} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The dotted paths of the leaves of the printed settings.
fn leaves(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value.as_object() {
        Some(map) => map.iter().for_each(|(k, v)| leaves(v, &format!("{prefix}{k}."), out)),
        None => {
            out.insert(prefix.trim_end_matches('.').to_owned());
        }
    }
}

/// The settings of an example file, set or commented out, each with the variable named beside it.
fn documented(toml: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in toml.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let setting = line.trim_start_matches('#').trim_start();
        let Some((key, rest)) = setting.split_once(" = ") else { continue };
        if key.contains(' ') || section.is_empty() {
            continue;
        }
        let variable = rest.split_whitespace().find(|w| w.starts_with("TICKBAR__")).unwrap_or("(none)");
        out.push((format!("{section}.{key}"), variable.trim_end_matches(';').to_owned()));
    }
    out
}

#[test]
fn each_example_configuration_holds_every_setting_with_its_default_and_variable() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/config");
    for service in ["producer", "consumer", "query-api"] {
        let file = dir.join(format!("{service}.toml"));
        let defaults = check_config(service, &[]);
        assert_eq!(
            check_config(service, &["--config", file.to_str().unwrap()]),
            defaults,
            "{service}: not the defaults"
        );

        let mut settings = BTreeSet::new();
        leaves(&defaults, "", &mut settings);
        let example = documented(&std::fs::read_to_string(&file).unwrap());
        let keys: BTreeSet<String> = example.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, settings, "{service}: the example's settings are not the service's");
        for (key, variable) in example {
            assert_eq!(variable, format!("TICKBAR__{}", key.to_uppercase().replace('.', "__")), "{service}: {key}");
        }
    }
}

/// `SERVICE check-config` under `env` (and nothing else of this process's `TICKBAR__` variables):
/// whether it succeeded, what it printed, what it logged.
fn check_config_with(service: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(harness::workspace_binary(service));
    cmd.arg("check-config");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TICKBAR__")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn one_environment_serves_all_three_services_and_typos_are_still_refused() {
    let shared = [
        ("TICKBAR__REDIS__URL", "redis://tickbar:r3dis@redis.internal:6379/0"),
        ("TICKBAR__CLICKHOUSE__URL", "https://reader:ch@rd/pw@clickhouse.internal:8443"),
        ("TICKBAR__CLICKHOUSE__PASSWORD", "p@ssw0rd"),
        ("TICKBAR__PRODUCER__CLOCK", "wall"),
        ("TICKBAR__CONSUMER__WEBHOOK_URL", "https://hooks.example/services/T0/B0/w3bh00k"),
        ("TICKBAR__API__TOKEN", "t0ken"),
        ("TICKBAR__BARS__GRACE_MS", "1500"),
        ("TICKBAR__ALERTS__RECEIVERS__OPS__KIND", "dingtalk"),
        ("TICKBAR__ALERTS__RECEIVERS__OPS__URL", "https://oapi.dingtalk.com/robot/send?access_token=r0b0t"),
        ("TICKBAR__ALERTS__RECEIVERS__OPS__SECRET", "SECs1gn"),
        ("TICKBAR__ALERTS__RULES__FEED_STALE__THRESHOLD", "3"),
    ];
    for service in ["producer", "consumer", "query-api"] {
        let (ok, printed, log) = check_config_with(service, &shared);
        assert!(ok, "{service} refused the shared environment: {log}");
        for secret in ["r3dis", "ch@rd", "pw@", "p@ssw0rd", "w3bh00k", "t0ken", "r0b0t", "SECs1gn"] {
            assert!(!printed.contains(secret), "{service} printed the secret {secret}: {printed}");
        }
        let bars = printed.contains("\"grace_ms\": 1500");
        assert!(bars, "{service} reads [bars] (the query API for its periods and layout): {printed}");
        assert!(printed.contains("\"url\": \"https://oapi.dingtalk.com/(set)\""), "{service}: {printed}");
        for (typo, value, named) in [
            ("TICKBAR__REDIS__URLL", "x", "urll"),
            ("TICKBAR__REDSI__URL", "x", "redsi"),
            ("TICKBAR__ALERTS__RULES__FEED_STAEL__THRESHOLD", "3", "no rule is named \"feed_stael\""),
            ("TICKBAR__ALERTS__RECEIVERS__OPS__URL", "hooks.example", "alerts.receivers.ops.url must be an https://"),
        ] {
            let (ok, _, log) = check_config_with(service, &[(typo, value)]);
            assert!(!ok && log.contains(named), "{service} must refuse {typo}: {log}");
        }
    }
}

#[test]
fn check_config_warns_when_the_holiday_list_runs_out() {
    let (ok, _, log) = check_config_with("consumer", &[("TICKBAR__CLOCK__START", "2026-12-15T10:00:00")]);
    assert!(ok && log.contains("warning: the holiday list ends on 2026-12-31 (16 days left)"), "{log}");
    assert!(
        log.contains("calendar: version 0, holidays: bundled; overrides: bundled"),
        "its version and source: {log}"
    );
    let (ok, _, log) = check_config_with("producer", &[("TICKBAR__CLOCK__START", "2026-11-01T10:00:00")]);
    assert!(ok && !log.contains("warning"), "no warning two months ahead: {log}");
}

#[test]
fn a_period_that_does_not_tile_the_sessions_is_refused_with_the_reason_and_any_that_does_is_taken() {
    for service in ["producer", "consumer", "query-api"] {
        let (ok, _, log) = check_config_with(service, &[("TICKBAR__BARS__PERIODS", "1,5,7")]);
        assert!(!ok, "{service} took a 7-minute period");
        assert!(log.contains("invalid period 7: a period must divide the 120-minute sessions"), "{service}: {log}");
        let (ok, printed, log) = check_config_with(service, &[("TICKBAR__BARS__PERIODS", "1,3,5,15,30,60,120")]);
        assert!(ok, "{service}: {log}");
        let settings: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(settings["bars"]["periods"], serde_json::json!([1, 3, 5, 15, 30, 60, 120]), "{service}");
    }
}
