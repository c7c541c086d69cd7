// What every tickbar monitor page shares: number formatting, filling figures and tables, and
// polling the service's api/status every second.
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
      set("refreshed", new Date().toLocaleTimeString("en-GB"));
      set("error", "");
    } catch (e) {
      set("error", "(cannot reach the " + service + ": " + e.message + ")");
    }
  }
  refresh();
  setInterval(refresh, 1000);
}
// The holiday list's end: a warning above the page from 30 days before it, and past it.
function calendar(c) {
  let el = document.getElementById("calendar-warning");
  if (!el) {
    el = document.createElement("p");
    el.id = "calendar-warning";
    el.className = "warning";
    document.body.insertBefore(el, document.body.firstChild);
  }
  el.hidden = !(c && c.warning);
  el.textContent = c && c.warning ? "Calendar: " + c.warning + (c.provisional ? " (today is provisional)" : "") : "";
}
