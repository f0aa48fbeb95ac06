// pages/project.js - /projects/{id}: one project's status and since when,
// its last error, uptime over 24 h / 7 d / 30 d, the response-time chart
// (range in the URL: ?range=7d), its incidents and its checks (both
// paged), its settings, and what can be done to it: check now, pause or
// resume, mute or unmute alerts, edit, delete.

import {api, get} from "../api.js";
import {go, setFlash, takeFlash} from "../app.js";
import {chart} from "../chart.js";
import {h, mount, pill} from "../dom.js";
import * as fmt from "../format.js";
import {incidentsTable} from "../views.js";

const REFRESH_MS = 10000;
const CHECKS_PAGE = 25;
const INCIDENTS_PAGE = 10;
const INCIDENTS_KEPT = 100;   // the latest, for the chart and first pages
const RANGES = [["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]];
const CHECK_WAIT_MS = 30000;

function sinceLine(p) {
  if (p.status === "PAUSED")
    return "Paused: Trackly does not check it until you resume it.";
  if (p.status === "PENDING" && !p.last_checked_at)
    return "Waiting for its first check.";
  const since = p.status_since || p.updated_at;
  const word = {UP: "Up", DOWN: "Down", PENDING: "Pending"}[p.status] ||
               p.status;
  return word + " since " + fmt.dateTime(since) + " (" +
         fmt.relative(since) + ")";
}

function settings(p) {
  const row = (k, v) => [h("dt", null, k), h("dd", null, v)];
  return h("dl", {class: "settings"},
    row("Checked every", fmt.duration(p.interval_seconds)),
    row("Timeout", fmt.ms(p.timeout_ms)),
    row("Expected status", p.expected_status),
    row("Keyword", p.keyword ? h("code", null, p.keyword) : "none"),
    row("Down after", p.failure_threshold + (p.failure_threshold === 1
      ? " failed check" : " failed checks in a row")),
    row("Up again after", p.recovery_threshold + (p.recovery_threshold === 1
      ? " good check" : " good checks in a row")),
    row("Alert mail", p.alerts_muted ? "muted" : "on"),
    row("Added", fmt.dateTime(p.created_at)));
}

function uptimeCards(u) {
  const w = (u && u.windows) || {};
  return h("ul", {class: "stats"}, RANGES.map(([key, label]) => {
    const x = w[key] || {};
    return h("li", {class: "stat"},
      h("span", {class: "stat-label"}, label),
      h("span", {class: "stat-value"}, fmt.percent(x.uptime_percent)),
      h("span", {class: "stat-sub"}, x.checks
        ? "mean " + fmt.ms(x.avg_latency_ms) + " · " + fmt.count(x.checks) +
          (x.checks === 1 ? " check" : " checks")
        : "no checks yet"));
  }));
}

function checksTable(list) {
  if (!list.length) return h("p", null, "No checks yet.");
  return h("div", {class: "table-wrap"}, h("table", {class: "table stack"},
    h("thead", null, h("tr", null,
      h("th", {scope: "col"}, "Checked"),
      h("th", {scope: "col"}, "Result"),
      h("th", {scope: "col", class: "num"}, "HTTP status"),
      h("th", {scope: "col", class: "num"}, "Response time"),
      h("th", {scope: "col"}, "Error"))),
    h("tbody", null, list.map((c) => h("tr", null,
      h("td", {"data-label": "Checked"}, h("time", {datetime: c.checked_at},
        fmt.dateTime(c.checked_at, true))),
      h("td", {"data-label": "Result"}, pill(c.ok ? "UP" : "DOWN")),
      h("td", {class: "num", "data-label": "HTTP status"},
        c.status_code === null ? "—" : String(c.status_code)),
      h("td", {class: "num", "data-label": "Response time"},
        fmt.ms(c.latency_ms)),
      h("td", {"data-label": "Error"}, c.error || "—"))))));
}

// A pager: "1–25 of 1,234" with Newer/Older buttons.
function pager(offset, size, total, onPage, what) {
  if (total <= size) return null;
  const first = offset + 1, last = Math.min(offset + size, total);
  return h("div", {class: "pager"},
    h("button", {type: "button", class: "button secondary small",
                 disabled: offset === 0, onclick: () => onPage(
                   Math.max(0, offset - size))}, "Newer"),
    h("span", null, what + " " + fmt.count(first) + "–" + fmt.count(last) +
      " of " + fmt.count(total)),
    h("button", {type: "button", class: "button secondary small",
                 disabled: last >= total, onclick: () => onPage(
                   offset + size)}, "Older"));
}

function notFound(ctx) {
  ctx.title("Project not found");
  mount(ctx.main, h("h1", null, "Project not found"),
    h("p", null, "There is no such project, or it is not yours. It may " +
      "have been deleted."),
    h("p", null, h("a", {href: "/projects"}, "See your projects")));
}

export async function project(ctx) {
  const id = ctx.params[0];
  const base = "/project/" + id;
  const opts = {signal: ctx.signal};
  let range = RANGES.some(([k]) => k === ctx.query.get("range"))
    ? ctx.query.get("range") : "24h";
  let checksOffset = 0, incidentsOffset = 0;
  let p;

  try {
    p = (await get(base, opts)).data;
  } catch (e) {
    if (e.status === 404) return notFound(ctx);
    throw e;
  }
  if (!ctx.alive) return;
  ctx.title(p.name);

  // --- the parts of the page, each with its own container ----------------
  const head = h("div", {class: "project-head"});
  const say = h("p", {class: "action-status", role: "status",
                      "aria-live": "polite"});
  const lastError = h("div");
  const uptimeBox = h("div", null, h("p", {class: "loading"}, "Loading…"));
  const chartBox = h("div", null, h("p", {class: "loading"}, "Loading…"));
  const incidentsBox = h("div", null, h("p", {class: "loading"}, "Loading…"));
  const checksBox = h("div", null, h("p", {class: "loading"}, "Loading…"));
  const settingsBox = h("div");
  // The latest incidents, read once per refresh: the chart's down bands
  // and the incidents table's pages within them both come from here.
  let incidents = [], incidentsTotal = 0;

  const checkBtn = h("button", {type: "button", class: "button"},
                     "Check now");
  const pauseBtn = h("button", {type: "button", class: "button secondary"});
  const muteBtn = h("button", {type: "button", class: "button secondary"});
  const editLink = h("a", {class: "button secondary",
                           href: "/projects/" + id + "/edit"}, "Edit");
  const deleteBtn = h("button", {type: "button", class: "button danger"},
                      "Delete");

  const rangeSwitch = h("div", {class: "segmented", role: "radiogroup",
                                "aria-label": "Chart period"},
    RANGES.map(([key, label]) => {
      const inputEl = h("input", {type: "radio", name: "range", value: key,
                                  id: "range-" + key});
      inputEl.checked = key === range;
      inputEl.addEventListener("change", () => {
        range = key;
        const url = new URL(location.href);
        if (key === "24h") url.searchParams.delete("range");
        else url.searchParams.set("range", key);
        history.replaceState(null, "", url.pathname + url.search);
        loadChart().catch((e) => ctx.fail(e, chartBox));
      });
      return [inputEl, h("label", {for: "range-" + key}, label)];
    }));

  function renderProject() {
    ctx.title(p.name);
    mount(head,
      h("h1", null, p.name, " ", pill(p.status)),
      h("p", {class: "since"}, sinceLine(p)),
      h("p", {class: "project-link"}, h("a", {href: p.link,
        rel: "noopener noreferrer", target: "_blank"}, p.link),
        h("span", {class: "sr-only"}, " (opens in a new tab)")),
      p.description ? h("p", {class: "description"}, p.description) : null);
    pauseBtn.textContent = p.paused ? "Resume" : "Pause";
    muteBtn.textContent = p.alerts_muted ? "Unmute alerts" : "Mute alerts";
    checkBtn.disabled = p.paused;
    checkBtn.title = p.paused ? "Resume the project to check it" : "";
    const failing = p.last_error && (p.status === "DOWN" ||
                                     p.status === "PENDING");
    mount(lastError, failing ? h("div", {class: "callout callout-down"},
      h("h2", null, "Last error"),
      h("p", null, h("strong", null, p.last_error),
        p.last_checked_at ? " — " + fmt.dateTime(p.last_checked_at, true)
                          : "")) : null);
    mount(settingsBox, settings(p));
  }

  async function loadUptime() {
    const u = (await get(base + "/uptime", opts)).data;
    if (ctx.alive) mount(uptimeBox, uptimeCards(u));
  }

  async function loadIncidents() {
    const r = await get(base + "/incidents?limit=" + INCIDENTS_KEPT, opts);
    if (!ctx.alive) return;
    incidents = r.data;
    incidentsTotal = Number(r.headers.get("X-Total-Count")) || r.data.length;
  }

  let fig = null;
  async function loadChart() {
    const want = range;
    const series = await get(base + "/series?range=" + want, opts);
    if (!ctx.alive || want !== range) return;
    if (fig && fig.disconnect) fig.disconnect();
    fig = chart(series.data, incidents);
    mount(chartBox, fig);
  }
  ctx.onLeave(() => { if (fig && fig.disconnect) fig.disconnect(); });

  // The table's page: from the latest incidents when they cover it, asked
  // for only beyond them.
  async function showIncidents() {
    const end = incidentsOffset + INCIDENTS_PAGE;
    let page = incidents.slice(incidentsOffset, end);
    if (end > incidents.length && incidents.length < incidentsTotal)
      page = (await get(base + "/incidents?limit=" + INCIDENTS_PAGE +
                        "&offset=" + incidentsOffset, opts)).data;
    if (!ctx.alive) return;
    mount(incidentsBox, page.length ? incidentsTable(page)
                                    : h("p", null, "No incidents."),
      pager(incidentsOffset, INCIDENTS_PAGE, incidentsTotal, (o) => {
        incidentsOffset = o;
        showIncidents().catch((e) => ctx.fail(e, incidentsBox));
      }, "Incidents"));
  }

  // Incidents first, then what is drawn from them.
  async function loadHistory() {
    await loadIncidents();
    await Promise.all([loadChart(), showIncidents()]);
  }

  async function loadChecks() {
    const r = await get(base + "/checks?limit=" + CHECKS_PAGE + "&offset=" +
                        checksOffset, opts);
    if (!ctx.alive) return;
    const total = Number(r.headers.get("X-Total-Count")) || r.data.length;
    mount(checksBox, checksTable(r.data),
      pager(checksOffset, CHECKS_PAGE, total, (o) => {
        checksOffset = o;
        loadChecks().catch((e) => ctx.fail(e, checksBox));
      }, "Checks"));
  }

  async function refresh() {
    p = (await get(base, opts)).data;
    if (!ctx.alive) return;
    const note = document.getElementById("stale-note");
    if (note) note.remove();
    renderProject();
    await Promise.all([loadUptime(), loadHistory(),
                       checksOffset === 0 ? loadChecks() : null]);
  }

  // --- actions -------------------------------------------------------------
  async function update(fields, doneText) {
    try {
      p = (await api("PUT", base, fields, opts)).data;
      renderProject();
      say.textContent = doneText;
    } catch (e) {
      if (e.status === 404) return notFound(ctx);
      say.textContent = e.message;
    }
  }
  pauseBtn.addEventListener("click", () => update({paused: !p.paused},
    p.paused ? "Resumed. Trackly checks it again from now on."
             : "Paused. Trackly stops checking it until you resume it."));
  muteBtn.addEventListener("click", () => update(
    {alerts_muted: !p.alerts_muted},
    p.alerts_muted ? "Alert mail is on again for this project."
                   : "Alert mail is muted for this project."));

  // The newest stored check's id: a result has arrived when it grows
  // (timestamps have whole seconds, and two checks can share one).
  const newestCheck = async () => {
    const r = await get(base + "/checks?limit=1", opts);
    return r.data.length ? r.data[0].id : 0;
  };

  checkBtn.addEventListener("click", async () => {
    checkBtn.disabled = true;
    checkBtn.textContent = "Checking…";
    try {
      const before = await newestCheck();
      await api("POST", base + "/check", undefined, opts);
      say.textContent = "Check requested; waiting for the result…";
      const deadline = Date.now() + CHECK_WAIT_MS;
      while (ctx.alive && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        if (await newestCheck() === before) continue;
        p = (await get(base, opts)).data;
        say.textContent = "Checked " + fmt.time(p.last_checked_at, true) +
          ": " + (p.last_error ? "failed, " + p.last_error
                               : "HTTP " + p.last_status_code + " in " +
                                 fmt.ms(p.last_latency_ms)) +
          ". Status: " + p.status + ".";
        await refresh();
        return;
      }
      if (ctx.alive)
        say.textContent = "No result yet: the monitor may be busy. The " +
                          "page shows it when it arrives.";
    } catch (e) {
      if (ctx.alive) say.textContent = e.message;
    } finally {
      if (ctx.alive) {
        checkBtn.textContent = "Check now";
        checkBtn.disabled = p.paused;
      }
    }
  });

  const dialog = h("dialog", {class: "confirm", "aria-labelledby": "del-h"},
    h("form", {method: "dialog"},
      h("h2", {id: "del-h"}, "Delete this project?"),
      h("p", null, "Trackly stops checking ", h("strong", null, p.name),
        " and deletes its checks and incidents. This cannot be undone."),
      h("div", {class: "actions"},
        h("button", {type: "submit", value: "delete", class: "button danger"},
          "Delete project"),
        h("button", {type: "submit", value: "cancel", autofocus: true,
                     class: "button secondary"}, "Cancel"))));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api("DELETE", base, undefined, opts);
      setFlash("Deleted \u201c" + p.name + "\u201d.");
      go("/projects", {replace: true});
    } catch (e) {
      say.textContent = e.message;
    }
  });
  deleteBtn.addEventListener("click", () => dialog.showModal());

  renderProject();
  mount(ctx.main,
    h("nav", {class: "crumbs", "aria-label": "Breadcrumb"},
      h("a", {href: "/projects"}, "Projects"), " / ",
      h("span", {"aria-current": "page"}, p.name)),
    takeFlash(),
    head,
    h("div", {class: "actions", role: "group", "aria-label": "Actions"},
      checkBtn, pauseBtn, muteBtn, editLink, deleteBtn),
    say, lastError,
    h("section", {"aria-labelledby": "h-uptime"},
      h("h2", {id: "h-uptime"}, "Uptime"), uptimeBox),
    h("section", {"aria-labelledby": "h-chart"},
      h("div", {class: "section-head"},
        h("h2", {id: "h-chart"}, "Response time"), rangeSwitch),
      chartBox),
    h("section", {"aria-labelledby": "h-incidents"},
      h("h2", {id: "h-incidents"}, "Incidents"), incidentsBox),
    h("section", {"aria-labelledby": "h-checks"},
      h("h2", {id: "h-checks"}, "Recent checks"), checksBox),
    h("section", {"aria-labelledby": "h-settings"},
      h("div", {class: "section-head"},
        h("h2", {id: "h-settings"}, "Settings"),
        h("a", {href: "/projects/" + id + "/edit"}, "Change settings")),
      settingsBox),
    dialog);

  await Promise.all([
    loadUptime().catch((e) => ctx.fail(e, uptimeBox)),
    loadHistory().catch((e) => {
      ctx.fail(e, chartBox);
      ctx.fail(e, incidentsBox);
    }),
    loadChecks().catch((e) => ctx.fail(e, checksBox))]);
  // Until its first check, look every 2 s: someone who just added a
  // project is waiting for it.
  ctx.every(() => p.last_checked_at || p.paused ? REFRESH_MS : 2000,
            () => refresh().catch((e) => {
    if (e.status === 404) notFound(ctx);
    else ctx.stale(e);
  }));
}
