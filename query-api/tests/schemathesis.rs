//! Schemathesis (from PyPI) generates requests from `/openapi.json` and checks that the API never
//! answers with a server error and answers as documented. Left out: the endless event stream (its
//! tests are in `live.rs`) and the check that every schema-valid request is accepted, which no
//! string schema can promise for dates (2026-02-30, start after end, a range over the maximum) nor
//! for parameters that exclude each other. `tests/run.sh` installs schemathesis; set `TICKBAR_SCHEMATHESIS`
//! to use another executable.

mod support;

use std::process::Command;

use support::ApiStores;

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_nothing_undocumented() {
    let mut stack = ApiStores::start().await;
    stack.three_days("600519.SH").await;
    let api = stack.api(&[]).await;
    let program = std::env::var("TICKBAR_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let schema = format!("http://127.0.0.1:{}/openapi.json", api.http);
    let run = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .args(["run", &schema, "--checks", "all", "--exclude-checks", "positive_data_acceptance"])
            .args(["--exclude-path", "/api/v1/stream/bars"])
            .args(["--max-examples", "150", "--workers", "2", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap_or_else(|e| {
                panic!("{program}: {e} (install it with `pip install schemathesis`; tests/run.sh does)")
            })
    });
    let out = run.await.unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis failed:\n{report}\nquery-api log:\n{}", api.log());
    // `symbol`/`symbols` and `count`/`start` exclude each other, which a parameter schema cannot
    // say: schemathesis warns that many generated requests are refused (400). Failures still fail.
    let cases = report.lines().find(|l| l.contains("generated,")).unwrap_or_default();
    let selected = report.lines().find_map(|l| l.trim().strip_prefix("Selected: ")).unwrap_or_default();
    let (tested, total) = selected.split_once('/').unwrap_or_default();
    let every_operation_but_the_stream = tested.parse::<u32>().ok().zip(total.parse::<u32>().ok());
    assert!(every_operation_but_the_stream.is_some_and(|(t, all)| t + 1 == all && t >= 5), "{report}");
    assert!(cases.contains("passed") && !cases.contains("failed"), "{report}");
    assert!(!report.contains("FAILURES"), "{report}");
}
