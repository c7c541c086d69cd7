//! The stores over TLS as the services reach them (`runtime::redis::client`,
//! `runtime::clickhouse::client`): a private TLS-only `redis-server` that asks for a client
//! certificate and admits one ACL user, and a private `clickhouse-server` on HTTPS, both on
//! certificates the test makes. What the settings trust, present and log in with decides what
//! connects; the whole sample day over TLS is `end_to_end.rs`.

use harness::servers::ACL_USER;
use harness::{ClickHouseServer, RedisServer};
use runtime::settings::{ClickHouseSettings, RedisSettings, TlsSettings};

/// A PING through `settings`: the reply, or the error's text.
async fn ping(settings: &RedisSettings) -> Result<String, String> {
    let client = runtime::redis::client(settings).map_err(|e| e.to_string())?;
    let mut con = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
    redis::cmd("PING").query_async(&mut con).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_tls_only_redis_admits_the_ca_s_client_certificate_with_the_acl_user_and_nothing_less() {
    let server = RedisServer::start_tls().await.unwrap();
    let good = server.settings();
    assert_eq!(ping(&good).await.as_deref(), Ok("PONG"));

    let plain = RedisSettings {
        url: good.url.replacen("rediss://", "redis://", 1),
        tls: TlsSettings::default(),
        ..good.clone()
    };
    assert!(ping(&plain).await.is_err(), "a clear-text client is refused");

    let no_cert =
        RedisSettings { tls: TlsSettings { cert_file: None, key_file: None, ..good.tls.clone() }, ..good.clone() };
    assert!(ping(&no_cert).await.is_err(), "a client without a certificate is refused");

    let system_roots = RedisSettings { tls: TlsSettings { ca_file: None, ..good.tls.clone() }, ..good.clone() };
    let refused = ping(&system_roots).await.expect_err("the private CA is not among the system's roots");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    let (user, password) = ACL_USER;
    let wrong = good.url.replacen(&format!("{user}:{password}@"), &format!("{user}:wrong@"), 1);
    let refused = ping(&RedisSettings { url: wrong, ..good.clone() }).await.expect_err("a wrong password is refused");
    assert!(refused.to_lowercase().contains("authentication"), "{refused}");
    let anonymous = good.url.replacen(&format!("{user}:{password}@"), "", 1);
    assert!(ping(&RedisSettings { url: anonymous, ..good.clone() }).await.is_err(), "the default user is off");
}

#[tokio::test]
async fn tls_settings_that_cannot_work_are_refused_at_start_naming_the_setting() {
    let server = RedisServer::start_tls().await.unwrap();
    let good = server.settings();
    let half = RedisSettings { tls: TlsSettings { key_file: None, ..good.tls.clone() }, ..good.clone() };
    let refused = ping(&half).await.unwrap_err();
    assert!(refused.contains("redis.tls.key_file"), "{refused}");

    let missing = RedisSettings {
        tls: TlsSettings { ca_file: Some("/nonexistent/ca.pem".into()), ..good.tls.clone() },
        ..good.clone()
    };
    let refused = ping(&missing).await.unwrap_err();
    assert!(refused.contains("redis.tls.ca_file"), "{refused}");

    let clear = RedisSettings { url: good.url.replacen("rediss://", "redis://", 1), ..good.clone() };
    let refused = ping(&clear).await.unwrap_err();
    assert!(refused.contains("rediss://"), "TLS files with a redis:// URL: {refused}");
}

/// `SELECT 1` through `settings`: the answer, or the error's text with its causes.
async fn select_one(settings: &ClickHouseSettings) -> Result<u8, String> {
    let client = runtime::clickhouse::client(settings).map_err(|e| e.to_string())?;
    client.query("SELECT toUInt8(1)").fetch_one::<u8>().await.map_err(|e| {
        let causes = std::iter::successors(std::error::Error::source(&e), |c| c.source());
        causes.fold(e.to_string(), |text, cause| format!("{text}: {cause}"))
    })
}

#[tokio::test]
async fn an_https_clickhouse_answers_the_ca_s_client_certificate_and_refuses_what_it_cannot_verify() {
    let server = ClickHouseServer::start_tls().await.unwrap();
    let good = server.settings();
    assert!(good.url.starts_with("https://"), "{}", good.url);
    assert_eq!(select_one(&good).await, Ok(1));

    let client = runtime::clickhouse::client(&good).unwrap();
    runtime::schema::apply_schema(&client, "tickbar").await.expect("the DDL over HTTPS");
    let tables: Vec<String> = client
        .query("SELECT name FROM system.tables WHERE database = 'tickbar' ORDER BY name")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(tables, ["adj_factors", "bars", "instruments", "live_bars", "schema_migrations", "ticks"]);

    let system_roots = ClickHouseSettings { tls: TlsSettings { ca_file: None, ..good.tls.clone() }, ..good.clone() };
    let refused = select_one(&system_roots).await.expect_err("the private CA is not among the system's roots");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let no_cert =
        ClickHouseSettings { tls: TlsSettings { cert_file: None, key_file: None, ..good.tls.clone() }, ..good.clone() };
    assert!(select_one(&no_cert).await.is_err(), "a client without a certificate is refused");
    let half = ClickHouseSettings { tls: TlsSettings { cert_file: None, ..good.tls.clone() }, ..good.clone() };
    let refused = select_one(&half).await.unwrap_err();
    assert!(refused.contains("clickhouse.tls.cert_file"), "{refused}");
}

#[test]
fn check_config_of_every_service_refuses_tls_files_that_cannot_work_naming_the_setting() {
    let cases = [
        ("TICKBAR__REDIS__TLS__CERT_FILE", "/etc/hostname", "redis.tls.key_file"),
        ("TICKBAR__CLICKHOUSE__TLS__CA_FILE", "/nonexistent/ca.crt", "clickhouse.tls.ca_file"),
        ("TICKBAR__CLICKHOUSE__TLS__CA_FILE", "/etc/hostname", "clickhouse.tls.ca_file"),
    ];
    for service in ["producer", "consumer", "query-api"] {
        for (variable, value, named) in cases {
            let out = std::process::Command::new(harness::workspace_binary(service))
                .arg("check-config")
                .env(variable, value)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && stderr.contains(named), "{service} {variable}={value}: {stderr}");
        }
    }
}
