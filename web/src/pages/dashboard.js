// pages/dashboard.js - /dashboard, the home page after sign-in: counts by
// status, what is down now and why, the latest incidents across every
// project.  One request (GET /project/dashboard), refreshed while the tab
// is visible.

import {get} from "../api.js";
import {recall, remember, takeFlash} from "../app.js";
import {h, mount} from "../dom.js";
import * as fmt from "../format.js";
import {incidentsTable, updatedLine} from "../views.js";

const REFRESH_MS = 10000;

const COUNTS = [
  ["down", "Down", "/projects?status=down"],
  ["up", "Up", "/projects?status=up"],
  ["pending", "Pending", "/projects?status=pending"],
  ["paused", "Paused", "/projects?status=paused"],
];

function counts(d) {
  return h("ul", {class: "counts", id: "counts"}, COUNTS.map(([key, label,
                                                               href]) =>
    h("li", {class: "count count-" + key + (d[key] ? "" : " zero")},
      h("a", {href},
        h("span", {class: "count-n", dataset: {count: key}}, fmt.count(d[key] || 0)),
        h("span", {class: "count-label"}, label)))));
}

function downNow(d) {
  const list = d.down_projects || [];
  if (!list.length)
    return h("p", {class: "all-up"}, d.total_projects
      ? "Every site you watch is up or waiting for its first check."
      : "");
  return h("ul", {class: "down-list"}, list.map((p) => h("li", null,
    h("a", {class: "down-name", href: "/projects/" + p.id}, p.name),
    h("span", {class: "down-link"}, p.link),
    h("span", {class: "down-since"}, "Down since ",
      h("time", {datetime: p.since}, fmt.sameDay(p.since)
        ? fmt.time(p.since) : fmt.dateTime(p.since)),
      " (" + fmt.duration((Date.now() - Date.parse(p.since)) / 1000) + ")"),
    h("span", {class: "down-reason"}, p.reason || "no reason recorded"))));
}

// The page in two steps: the heading and the counts first (no dates, so
// nothing waits for the locale's data), then, a frame later, the lists.
function top(d, welcome) {
  return [
    takeFlash(),
    welcome ? h("div", {class: "flash flash-info", role: "status"},
      "Welcome to Trackly. Add the first site you want watched.") : null,
    h("div", {class: "page-head"},
      h("h1", null, "Dashboard"),
      h("a", {class: "button", href: "/projects/new"}, "Add project")),
    d.total_projects ? counts(d) : null,
  ];
}

function rest(d) {
  if (!d.total_projects)
    return [
      h("div", {class: "panel empty"},
        h("h2", null, "You are not watching any site yet"),
        h("p", null, "Add a project with the link of a site you run. " +
          "Trackly checks it on a schedule and mails you when it goes " +
          "down and when it recovers."),
        h("a", {class: "button", href: "/projects/new"},
          "Add your first project")),
      updatedLine(d.last_checked_at),
    ];
  return [
    h("section", {"aria-labelledby": "h-down"},
      h("h2", {id: "h-down"}, "Down now"), downNow(d)),
    h("section", {"aria-labelledby": "h-incidents"},
      h("h2", {id: "h-incidents"}, "Latest incidents"),
      (d.recent_incidents || []).length
        ? incidentsTable(d.recent_incidents, true)
        : h("p", null, "No incidents yet. Long may it last.")),
    updatedLine(d.last_checked_at),
  ];
}

const nextFrame = () => new Promise((resolve) =>
  requestAnimationFrame(() => setTimeout(resolve, 0)));

export async function dashboard(ctx) {
  ctx.title("Dashboard");
  const welcome = ctx.query.get("welcome") === "1";
  const known = recall("dashboard");
  if (known) mount(ctx.main, top(known, welcome), rest(known));
  let first = !known;

  const load = async () => {
    const d = (await get("/project/dashboard", {signal: ctx.signal})).data;
    if (!ctx.alive) return;
    remember("dashboard", d);
    const active = document.activeElement;
    const focusId = active && ctx.main.contains(active) ? active.id : null;
    if (first) {
      first = false;
      mount(ctx.main, top(d, welcome));
      await nextFrame();
      performance.mark("trackly:dashboard-counts");
      if (!ctx.alive) return;
      ctx.main.append(...rest(d).filter(Boolean));
    } else {
      mount(ctx.main, top(d, welcome), rest(d));
    }
    if (focusId) {
      const el = document.getElementById(focusId);
      if (el) el.focus({preventScroll: true});
    }
  };
  try {
    await load();
  } catch (e) {
    if (!known) throw e;
  }
  ctx.every(REFRESH_MS, () => load().catch((e) => ctx.stale(e)));
}
