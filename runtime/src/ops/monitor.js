// What every tickbar monitor page shares: number formatting, filling figures and tables, polling
// the service's api/status every second, and the last hour's charts (api/charts, drawn with the
// vendored uPlot).
const fmt = n => n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", {maximumFractionDigits: 0});
const set = (id, text) => { document.getElementById(id).textContent = text; };
function state(id, value) {
  const el = document.getElementById(id);
  el.textContent = value; el.className = "value " + value;
}
function rows(id, list, empty) {
  const body = document.querySelector("#" + id + " tbody");
  body.innerHTML = "";
  if (list.length === 0) { body.innerHTML = '<tr><td colspan="8">' + (empty || "none") + '</td></tr>'; return; }
  for (const cells of list) {
    const tr = document.createElement("tr");
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    body.appendChild(tr);
  }
}
// Renders api/status with `render` now and every second; `service` names it in errors.
function poll(service, render) {
  async function refresh() {
    try {
      const r = await fetch("api/status", {cache: "no-store"});
      if (!r.ok) throw new Error("status " + r.status);
      const status = await r.json();
      render(status);
      calendar(status.calendar);
      set("refreshed", clock(Date.now() / 1000));
      set("error", "");
    } catch (e) {
      set("error", "(cannot reach the " + service + ": " + e.message + ")");
    }
  }
  refresh();
  setInterval(refresh, 1000);
}
// The holiday list's end: a warning above the page from 30 days before it, and past it; the day
// overrides of today and later, with the calendar's version.
function calendar(c) {
  const list = (c && c.overrides) || [];
  const change = o => o.change === "halt" ? "halt " + o.from + "–" + o.to
    : o.change === "closed" ? "closed" : o.change.replace("_", " ") + " at " + o.at;
  notice("calendar-overrides", list.length === 0 ? ""
    : "Calendar v" + c.version + ": " + list.map(o => o.date + " " + change(o)).join("; "));
  notice("calendar-warning", c && c.warning
    ? "Calendar: " + c.warning + (c.provisional ? " (today is provisional)" : "") : "");
}
// A warning line above the page with id `id`, hidden while `text` is empty.
function notice(id, text) {
  let el = document.getElementById(id);
  if (!el) {
    el = document.createElement("p");
    el.id = id;
    el.className = "warning";
    document.body.insertBefore(el, document.body.firstChild);
  }
  el.hidden = text === "";
  el.textContent = text;
}
// A chart value: whole above 100, else to two decimals.
const fmtv = v => v === null || v === undefined ? "–"
  : Number(v).toLocaleString("en-US", {maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 2});
// Epoch seconds as Asia/Shanghai 24-hour HH:MM:SS, the market's clock.
const clock = t => new Date(t * 1000).toLocaleTimeString("en-GB", {timeZone: "Asia/Shanghai", hour12: false});
// A legend's value: the point under the cursor, or the latest point while the cursor is elsewhere.
function shown(u, value, series, idx) {
  if (idx !== null && idx !== undefined) return value;
  const list = u.data[series] || [];
  for (let i = list.length - 1; i >= 0; i--) if (list[i] !== null && list[i] !== undefined) return list[i];
  return null;
}
// Draws the last hour into #charts, one uPlot per spec {title, series: [[name, label, colour]]},
// refreshed every chart interval. Each chart's element says how many points its first series has
// (data-points), which the page tests read.
function charts(specs) {
  const box = document.getElementById("charts");
  const plots = specs.map(spec => {
    const el = document.createElement("div");
    el.className = "chart";
    el.dataset.chart = spec.series[0][0];
    box.appendChild(el);
    const series = spec.series.map(([, label, stroke]) => ({label, stroke, width: 1.5, value: (u, v, si, i) => fmtv(shown(u, v, si, i))}));
    const time = {label: "time", value: (u, t, si, i) => { const at = shown(u, t, si, i); return at === null ? "–" : clock(at); }};
    const opts = {title: spec.title, width: Math.max(320, el.clientWidth - 12), height: 170, series: [time, ...series],
                  axes: [{values: (u, ticks) => ticks.map(clock)}, {size: 56, values: (u, ticks) => ticks.map(fmtv)}]};
    return {spec, el, plot: new uPlot(opts, [[], ...spec.series.map(() => [])], el)};
  });
  async function refresh() {
    let wait = 5000;
    try {
      const r = await fetch("api/charts", {cache: "no-store"});
      if (!r.ok) throw new Error("status " + r.status);
      const data = await r.json();
      for (const {spec, el, plot} of plots) {
        const points = spec.series.map(([name]) => data.series[name] || []);
        plot.setData([points[0].map(p => p[0] / 1000), ...points.map(list => list.map(p => p[1]))]);
        el.dataset.points = points[0].filter(p => p[1] !== null).length;
      }
      wait = data.interval_ms;
    } catch (e) {
      set("error", "(cannot read the charts: " + e.message + ")");
    }
    setTimeout(refresh, wait);
  }
  refresh();
}
