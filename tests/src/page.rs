//! Web pages as headless Chromium renders them, and reading figures off the rendered DOM.

use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::{io, locate, Result};

/// The page at `url` as headless Chromium renders it after its scripts ran for `budget_ms` of
/// virtual time: the DOM, serialised.
pub fn chromium_dom(url: &str, budget_ms: u32) -> Result<String> {
    let binary = locate("chromium", "chromium", "TICKBAR_CHROMIUM")
        .or_else(|_| locate("chromium-browser", "chromium", "TICKBAR_CHROMIUM"))?;
    let profile = TempDir::new().map_err(io("a chromium profile dir"))?;
    let output = Command::new(binary)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(["--dump-dom", url])
        .stderr(Stdio::null())
        .output()
        .map_err(io("chromium"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The text of the element with `id="id"` in a serialised DOM (up to its first child tag).
pub fn element_text(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let text = &dom[start..];
    text[text.find('>').expect("a tag end") + 1..text.find('<').expect("a next tag")].to_owned()
}

/// The points of the first series of the monitor chart `name` (its `data-points`), or `None`
/// when the page has no such chart or never drew it.
pub fn chart_points(dom: &str, name: &str) -> Option<usize> {
    let chart = &dom[dom.find(&format!("data-chart=\"{name}\""))?..];
    let tag = &chart[..chart.find('>')?];
    tag.split("data-points=\"").nth(1)?.split('"').next()?.parse().ok()
}

/// `n` with thousands separators, as the monitor pages print counts (`1,234,567`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_print_with_thousands_separators_and_elements_by_id() {
        assert_eq!([thousands(7), thousands(1_000), thousands(1_234_567)], ["7", "1,000", "1,234,567"]);
        assert_eq!(element_text(r#"<div id="redis" class="up">up</div>"#, "redis"), "up");
        let dom = r#"<div class="chart" data-chart="ticks" data-points="12"><div class="chart" data-chart="lag">"#;
        assert_eq!(
            (chart_points(dom, "ticks"), chart_points(dom, "lag"), chart_points(dom, "x")),
            (Some(12), None, None)
        );
    }
}
