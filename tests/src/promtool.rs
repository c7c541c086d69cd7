//! Prometheus's own checks, by Debian's `promtool` (`TICKBAR_PROMTOOL`): a service's `/metrics`
//! text through `promtool check metrics` (format and naming lints), a rules file through
//! `promtool check rules`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{io, locate, Result};

/// What `promtool check metrics` says of `text`: empty when it has no complaint.
pub fn check_metrics(text: &str) -> Result<String> {
    let promtool = locate("promtool", "prometheus", "TICKBAR_PROMTOOL")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("promtool"))?;
    child.stdin.take().expect("piped").write_all(text.as_bytes()).map_err(io("promtool's stdin"))?;
    let out = child.wait_with_output().map_err(io("promtool"))?;
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(if out.status.success() { said.trim().to_owned() } else { format!("exit {}: {said}", out.status) })
}

/// `promtool check rules FILE`: `Ok` with its report when every rule parses.
pub fn check_rules(file: &Path) -> Result<std::result::Result<String, String>> {
    let promtool = locate("promtool", "prometheus", "TICKBAR_PROMTOOL")?;
    let out = Command::new(promtool).args(["check", "rules"]).arg(file).output().map_err(io("promtool"))?;
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(if out.status.success() { Ok(said) } else { Err(said) })
}
