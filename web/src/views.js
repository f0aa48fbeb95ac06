// views.js - pieces several pages show: the incidents table, the strip of
// recent checks, the "updated" line.

import {h} from "./dom.js";
import * as fmt from "./format.js";

// rows: incidents ({started_at, resolved_at, duration_seconds, cause, and
// project_id/project_name when withProject}).
export function incidentsTable(rows, withProject) {
  return h("div", {class: "table-wrap"}, h("table", {class: "table stack"},
    h("thead", null, h("tr", null,
      withProject ? h("th", {scope: "col"}, "Project") : null,
      h("th", {scope: "col"}, "Started"),
      h("th", {scope: "col"}, "Ended"),
      h("th", {scope: "col"}, "Duration"),
      h("th", {scope: "col"}, "Cause"))),
    h("tbody", null, rows.map((i) => h("tr", {class: i.resolved_at ? null
                                                     : "row-open"},
      withProject ? h("td", {"data-label": "Project"},
        h("a", {href: "/projects/" + i.project_id}, i.project_name)) : null,
      h("td", {"data-label": "Started"},
        h("time", {datetime: i.started_at}, fmt.dateTime(i.started_at))),
      h("td", {"data-label": "Ended"}, i.resolved_at
        ? h("time", {datetime: i.resolved_at}, fmt.dateTime(i.resolved_at))
        : h("strong", {class: "text-down"}, "ongoing")),
      h("td", {"data-label": "Duration"}, fmt.duration(i.duration_seconds)),
      h("td", {"data-label": "Cause"}, i.cause || "—"))))));
}

// One recent check as a sentence: the tooltip of a strip bar.
export function checkLine(c) {
  const parts = [fmt.dateTime(c.t, true), c.ok ? "up" : "down"];
  if (c.code !== null && c.code !== undefined) parts.push("HTTP " + c.code);
  if (c.ms !== null && c.ms !== undefined) parts.push(fmt.ms(c.ms));
  if (c.error) parts.push(c.error);
  return parts.join(" · ");
}

// recent: [[seconds before last_checked, ok, code, ms(, error)], …]
// oldest first (GET /project/status?recent=N) -> [{t, ok, code, ms,
// error}] with t in epoch seconds.
export function decodeRecent(recent, lastChecked) {
  const base = lastChecked ? Date.parse(lastChecked) / 1000
                           : Date.now() / 1000;
  return (recent || []).map((r) => ({t: base - r[0], ok: !!r[1],
                                     code: r[2], ms: r[3],
                                     error: r.length > 4 ? r[4] : null}));
}

// The strip of recent checks, oldest at the left.  Each bar carries its
// check as a tooltip, written when the pointer first comes over it (a
// list of a hundred strips would otherwise format 3,000 dates before it
// shows); the strip as a whole tells screen readers the tally.
export function strip(checks, slots) {
  // Markup of fixed words and numbers only (nothing from a user), so a
  // string is safe here, and a hundred strips of thirty bars are made in
  // a fraction of the time of 3,000 createElement calls.
  let html = "", down = 0;
  for (let i = checks.length; i < slots; i++)
    html += '<i class="bar none"></i>';
  checks.forEach((c, i) => {
    if (!c.ok) down++;
    html += '<i class="bar ' + (c.ok ? "up" : "down") + '" data-i="' + i +
            '"></i>';
  });
  const label = checks.length
    ? "Last " + checks.length + " checks: " + (checks.length - down) +
      " up, " + down + " down"
    : "No checks yet";
  const el = h("span", {class: "strip", role: "img", "aria-label": label});
  el.innerHTML = html;
  el.addEventListener("pointerover", (e) => {
    const bar = e.target;
    if (bar.dataset.i !== undefined && !bar.title)
      bar.title = checkLine(checks[bar.dataset.i]);
  });
  return el;
}

export function updatedLine(lastCheck) {
  return h("p", {class: "updated"},
    "Last check ", h("time", {datetime: lastCheck || ""},
                     lastCheck ? fmt.relative(lastCheck) : "never"),
    " · page updated ", fmt.time(new Date().toISOString(), true),
    " · refreshes by itself");
}
