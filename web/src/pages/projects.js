// pages/projects.js - /projects: every project in one list you can scan in
// a look (status, name and link, last latency, 24 h uptime, the strip of
// recent checks), with search, a status filter and three sort orders that
// live in the URL (?q=&status=&sort=), so a filtered list can be linked to
// and back/forward restore it.
//
// Built for a thousand projects: one request (GET /project/status?recent=N)
// gives every row; each row's elements are made once and then updated in
// place on refresh, filtering hides rows, sorting moves them, and a row's
// strip of checks is drawn only when it scrolls into view.

import {get} from "../api.js";
import {recall, remember, takeFlash} from "../app.js";
import {h, mount, pill} from "../dom.js";
import * as fmt from "../format.js";
import {decodeRecent, strip} from "../views.js";

const SLOTS = 30;
const EAGER_STRIPS = 200;
const ORDER = {DOWN: 0, PENDING: 1, MAINTENANCE: 2, UP: 3, PAUSED: 4};
const STATUSES = [["", "All statuses"], ["down", "Down"], ["up", "Up"],
                  ["pending", "Pending"], ["paused", "Paused"]];
const SORTS = [["name", "Name"], ["status", "Status (down first)"],
               ["uptime", "Uptime (lowest first)"]];

function select(id, options, value) {
  const el = h("select", {id, name: id},
    options.map(([v, label]) => h("option", {value: v}, label)));
  el.value = options.some(([v]) => v === value) ? value : options[0][0];
  return el;
}

// Refresh period: 10 s, longer for long lists so a thousand rows do not
// cost the browser (or the server) a full reload every few seconds.
function period(n) {
  return Math.max(10000, Math.min(60000, n * 30));
}

export async function projects(ctx) {
  ctx.title("Projects");
  const q = h("input", {type: "search", id: "q", name: "q",
                        autocomplete: "off", spellcheck: "false"});
  q.value = ctx.query.get("q") || "";
  const statusSel = select("status", STATUSES, ctx.query.get("status") || "");
  const sortSel = select("sort", SORTS, ctx.query.get("sort") || "name");
  const countLine = h("p", {class: "list-count", role: "status",
                            "aria-live": "polite"});
  const tbody = h("tbody");
  const table = h("table", {class: "table projects stack"},
    h("caption", {class: "sr-only"}, "Your projects"),
    h("thead", null, h("tr", null,
      h("th", {scope: "col"}, "Status"),
      h("th", {scope: "col"}, "Name"),
      h("th", {scope: "col", class: "num"}, "Latency"),
      h("th", {scope: "col", class: "num"}, "Uptime 24 h"),
      h("th", {scope: "col"}, "Recent checks"))),
    tbody);
  const listArea = h("div", {class: "list-area"});
  const rows = new Map();   // id -> {tr, p, sig, stripCell, drawn}

  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const row = rows.get(Number(e.target.dataset.id));
      if (row && !row.drawn) drawStrip(row);
    }
  }, {rootMargin: "300px 0px"});
  ctx.onLeave(() => observer.disconnect());

  function drawStrip(row) {
    mount(row.stripCell, strip(decodeRecent(row.p.recent), SLOTS));
    row.drawn = true;
  }

  function sig(p) {
    return [p.status, p.last_checked, p.uptime_24h, p.latency_ms, p.name,
            p.link, p.alerts_muted,
            p.recent && p.recent.length ? p.recent[p.recent.length - 1][0]
                                        : ""].join("\u0001");
  }

  function cells(row) {
    const p = row.p;
    mount(row.statusCell, pill(p.status));
    mount(row.nameCell,
      h("a", {class: "row-name", href: "/projects/" + p.id}, p.name),
      p.alerts_muted ? h("span", {class: "tag"}, "alerts muted") : null,
      h("span", {class: "row-link"}, p.link));
    row.latencyCell.textContent = fmt.ms(p.latency_ms);
    row.uptimeCell.textContent = fmt.percent(p.uptime_24h);
    row.tr.dataset.status = String(p.status).toLowerCase();
  }

  function makeRow(p) {
    const row = {p, sig: sig(p), drawn: false,
                 statusCell: h("td", {class: "cell-status",
                                      "data-label": "Status"}),
                 nameCell: h("td", {class: "cell-name", "data-label": "Name"}),
                 latencyCell: h("td", {class: "num", "data-label": "Latency"}),
                 uptimeCell: h("td", {class: "num",
                                      "data-label": "Uptime 24 h"}),
                 stripCell: h("td", {class: "cell-strip",
                                     "data-label": "Recent checks",
                                     dataset: {id: p.id}})};
    row.tr = h("tr", {dataset: {id: p.id}}, row.statusCell, row.nameCell,
               row.latencyCell, row.uptimeCell, row.stripCell);
    row.key = (p.name + "\u0000" + p.link).toLowerCase();
    cells(row);
    // A short list draws every strip at once; a long one draws a row's
    // strip when it scrolls into view.
    if (rows.size < EAGER_STRIPS) drawStrip(row);
    else observer.observe(row.stripCell);
    return row;
  }

  function merge(list) {
    const seen = new Set();
    for (const p of list) {
      seen.add(p.id);
      const row = rows.get(p.id);
      if (!row) {
        rows.set(p.id, makeRow(p));
        continue;
      }
      const s = sig(p);
      row.p = p;
      row.key = (p.name + "\u0000" + p.link).toLowerCase();
      if (s === row.sig) continue;
      row.sig = s;
      cells(row);
      if (row.drawn) drawStrip(row);
    }
    for (const [id, row] of rows) {
      if (seen.has(id)) continue;
      if (!row.drawn) observer.unobserve(row.stripCell);
      row.tr.remove();
      rows.delete(id);
    }
  }

  function compare(sort) {
    const byName = (a, b) => a.p.name.localeCompare(b.p.name) ||
                             a.p.id - b.p.id;
    if (sort === "status")
      return (a, b) => (ORDER[a.p.status] ?? 9) - (ORDER[b.p.status] ?? 9) ||
                       byName(a, b);
    if (sort === "uptime")
      return (a, b) => {
        const ua = a.p.uptime_24h ?? Infinity, ub = b.p.uptime_24h ?? Infinity;
        return ua - ub || byName(a, b);
      };
    return byName;
  }

  let lastOrder = "";
  function apply(pushUrl) {
    const term = q.value.trim().toLowerCase();
    const st = statusSel.value.toUpperCase();
    const all = [...rows.values()];
    all.sort(compare(sortSel.value));
    let shown = 0;
    for (const row of all) {
      const visible = (!st || row.p.status === st) &&
                      (!term || row.key.includes(term));
      row.tr.hidden = !visible;
      if (visible) shown++;
    }
    // Move rows only when the order changed: a refresh usually keeps it.
    const order = all.map((r) => r.p.id).join(",");
    if (order !== lastOrder) {
      const frag = document.createDocumentFragment();
      for (const row of all) frag.append(row.tr);
      tbody.append(frag);
      lastOrder = order;
    }
    const total = rows.size;
    countLine.textContent = shown === total
      ? fmt.count(total) + (total === 1 ? " project" : " projects")
      : "Showing " + fmt.count(shown) + " of " + fmt.count(total) +
        " projects";
    if (!total)
      mount(listArea, h("div", {class: "panel empty"},
        h("h2", null, "No projects yet"),
        h("p", null, "Add the link of a site you run and Trackly starts " +
          "checking it."),
        h("a", {class: "button", href: "/projects/new"}, "Add project")));
    else if (!shown)
      mount(listArea, table, h("p", {class: "no-match"},
        "No project matches these filters."));
    else if (listArea.firstChild !== table || listArea.childNodes.length > 1)
      mount(listArea, table);
    if (pushUrl) {
      const params = new URLSearchParams();
      if (q.value.trim()) params.set("q", q.value.trim());
      if (statusSel.value) params.set("status", statusSel.value);
      if (sortSel.value !== "name") params.set("sort", sortSel.value);
      const search = params.toString();
      history.replaceState(null, "", "/projects" + (search ? "?" + search
                                                            : ""));
    }
  }

  let debounce = null;
  q.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => apply(true), 120);
  });
  statusSel.addEventListener("change", () => apply(true));
  sortSel.addEventListener("change", () => apply(true));
  ctx.onLeave(() => clearTimeout(debounce));

  const controls = h("form", {class: "filters", role: "search",
                              "aria-label": "Filter projects"},
    h("div", {class: "field"}, h("label", {for: "q"},
      "Search by name or link"), q),
    h("div", {class: "field"}, h("label", {for: "status"}, "Status"),
      statusSel),
    h("div", {class: "field"}, h("label", {for: "sort"}, "Sort by"),
      sortSel));
  controls.addEventListener("submit", (e) => e.preventDefault());

  const render = () => mount(ctx.main,
    takeFlash(),
    h("div", {class: "page-head"}, h("h1", null, "Projects"),
      h("a", {class: "button", href: "/projects/new"}, "Add project")),
    controls, countLine, listArea);

  const known = recall("projects");
  if (known) {
    merge(known);
    render();
    apply(false);
  }
  const load = async () => {
    const list = (await get("/project/status?recent=" + SLOTS,
                            {signal: ctx.signal})).data;
    if (!ctx.alive) return;
    remember("projects", list);
    const note = document.getElementById("stale-note");
    if (note) note.remove();
    merge(list);
    if (!known && !ctx.main.contains(countLine)) render();
    apply(false);
    performance.mark("trackly:projects-rendered");
  };
  try {
    await load();
  } catch (e) {
    if (!known) throw e;
    ctx.stale(e);
  }
  ctx.every(() => period(rows.size), () => load().catch((e) => ctx.stale(e)));
}
