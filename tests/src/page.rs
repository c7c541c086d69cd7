//! Web pages as headless Chromium renders them, and reading figures off the rendered DOM.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::{io, locate, HarnessError, Result};

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

/// The elements matching the CSS `selector` whose content is wider than their box (and
/// `document` when the page scrolls sideways) in a window `width` pixels wide, two seconds after
/// the page loaded, as `tests/page_layout.py` measures them over Chromium's DevTools protocol with
/// the test venv's python (`TICKBAR_PYTHON`).
pub fn overflowing(url: &str, selector: &str, width: u32) -> Result<Vec<String>> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python =
        std::env::var_os("TICKBAR_PYTHON").map_or_else(|| here.join("../target/py-venv/bin/python"), PathBuf::from);
    let output = Command::new(python)
        .arg(here.join("page_layout.py"))
        .args([url, selector, &width.to_string()])
        .output()
        .map_err(io("tests/page_layout.py"))?;
    let failed = |detail: String| HarnessError::Command { what: "tests/page_layout.py".into(), detail };
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let found: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout)
        .map_err(|e| failed(format!("{e}: {}", String::from_utf8_lossy(&output.stdout))))?;
    Ok(found.iter().map(|o| format!("{} ({} px of content in {} px)", o["element"], o["content"], o["box"])).collect())
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

/// What an operator would see wrong on a monitor page rendered as `dom` from `url`: the legend
/// of a chart with points without a value, a "refreshed" time not on the market's clock (Asia/Shanghai, within a
/// minute of now), a card whose text spills out of it at 800 or 1280 pixels wide.
pub fn monitor_faults(url: &str, dom: &str) -> Result<Vec<String>> {
    let mut faults = Vec::new();
    for chart in dom.split("class=\"chart\"").skip(1) {
        let drawn = chart_points(chart, chart.split('"').nth(1).unwrap_or_default()).is_some_and(|n| n > 0);
        let blank = legend_values(chart).into_iter().filter(|v| v.is_empty() || v == "–");
        faults.extend(blank.filter(|_| drawn).map(|v| format!("a legend of a chart with points shows {v:?}")));
    }
    let refreshed = element_text(dom, "refreshed");
    if seconds_from_market_clock(&refreshed).is_none_or(|off| off.abs() > 60) {
        faults.push(format!("refreshed {refreshed:?} is not the market's time now"));
    }
    for width in [800, 1280] {
        faults.extend(overflowing(url, ".card", width)?.into_iter().map(|o| format!("at {width} px: {o}")));
    }
    Ok(faults)
}

/// The values uPlot's legends show (`td.u-value`), in page order.
pub fn legend_values(dom: &str) -> Vec<String> {
    dom.split("class=\"u-value\"")
        .skip(1)
        .map(|cell| cell[cell.find('>').map_or(0, |i| i + 1)..].split('<').next().unwrap_or("").to_owned())
        .collect()
}

/// How many seconds a `HH:MM:SS` time is from now on the market's clock (UTC+8), wrapped to
/// within half a day; `None` when it is not such a time.
pub fn seconds_from_market_clock(hms: &str) -> Option<i64> {
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let market = (now + 8 * 3600).rem_euclid(86_400);
    Some((h * 3600 + m * 60 + s - market + 43_200).rem_euclid(86_400) - 43_200)
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
        let legend = r#"<td class="u-value">12:00:01</td><th>x</th><td class="u-value">–</td>"#;
        assert_eq!(legend_values(legend), ["12:00:01", "–"]);
    }

    #[test]
    fn times_are_read_against_the_market_clock() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let hms = |t: i64| {
            let s = (t + 8 * 3600).rem_euclid(86_400);
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        };
        let off = |t| seconds_from_market_clock(&hms(t)).unwrap();
        assert!(off(now).abs() <= 2 && (off(now - 100) + 100).abs() <= 2, "{} {}", off(now), off(now - 100));
        assert!((off(now - 8 * 3600) + 8 * 3600).abs() <= 2, "UTC shown as the market's time is 8 hours off");
        assert_eq!(seconds_from_market_clock("never"), None);
    }
}
