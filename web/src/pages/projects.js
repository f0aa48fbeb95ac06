// pages/projects.js - /projects: every project in one list you can scan in
// a look (status, name and link, last latency, 24 h uptime, the strip of
// recent checks), with search, a status filter and three sort orders that
// live in the URL (?q=&status=&sort=), so a filtered list can be linked to
// and back/forward restore it.
//
// Built for a thousand projects and more (bench/web measures it): one
// request (GET /project/status?recent=N) gives every row; searching,
// filtering and sorting work on that data, and only the first rows of the
// result are in the page (PAGE of them, PAGE more each time the end of the
// table comes near or "Show more" is pressed), so the cost of drawing the
// list does not grow with its length.  Rows are cloned from one template
// row and updated in place by a refresh.

import {get} from "../api.js";
import {recall, remember, takeFlash} from "../app.js";
import {h, mount} from "../dom.js";
import * as fmt from "../format.js";
import {decodeRecent, strip} from "../views.js";

const SLOTS = 30;
const PAGE = 50;              // rows added to the page at a time
const ORDER = {DOWN: 0, PENDING: 1, MAINTENANCE: 2, UP: 3, PAUSED: 4};
const STATUSES = [["", "All statuses"], ["down", "Down"], ["up", "Up"],
                  ["pending", "Pending"], ["paused", "Paused"]];
const SORTS = [["name", "Name"], ["status", "Status (down first)"],
               ["uptime", "Uptime (lowest first)"]];

// One row, cloned for every project (cloneNode is several times cheaper
// than building the same elements one call at a time).
const TEMPLATE = h("tr", null,
  h("td", {class: "cell-status", "data-label": "Status"},
    h("span", {class: "pill"})),
  h("td", {class: "cell-name", "data-label": "Name"},
    h("a", {class: "row-name"}), h("span", {class: "row-link"})),
  h("td", {class: "num", "data-label": "Latency"}),
  h("td", {class: "num", "data-label": "Uptime 24 h"}),
  h("td", {class: "cell-strip", "data-label": "Recent checks"}));

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

function sig(p) {
  const r = p.recent;
  return [p.status, p.last_checked, p.uptime_24h, p.latency_ms, p.name,
          p.link, p.alerts_muted, r && r.length ? r[r.length - 1][0] : ""]
    .join("\u0001");
}

function compare(sort) {
  const names = fmt.collator();
  const byName = (a, b) => names.compare(a.p.name, b.p.name) ||
                           a.p.id - b.p.id;
  if (sort === "status")
    return (a, b) => (ORDER[a.p.status] ?? 9) - (ORDER[b.p.status] ?? 9) ||
                     byName(a, b);
  if (sort === "uptime")
    return (a, b) => (a.p.uptime_24h ?? Infinity) -
                     (b.p.uptime_24h ?? Infinity) || byName(a, b);
  return byName;
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
    h("colgroup", null, h("col", {class: "col-status"}),
      h("col", {class: "col-name"}), h("col", {class: "col-num"}),
      h("col", {class: "col-num"}), h("col", {class: "col-strip"})),
    h("thead", null, h("tr", null,
      h("th", {scope: "col"}, "Status"),
      h("th", {scope: "col"}, "Name"),
      h("th", {scope: "col", class: "num"}, "Latency"),
      h("th", {scope: "col", class: "num"}, "Uptime 24 h"),
      h("th", {scope: "col"}, "Recent checks"))),
    tbody);
  const more = h("button", {type: "button", class: "button secondary"});
  const moreBox = h("div", {class: "more"}, more);
  const listArea = h("div", {class: "list-area"});
  const rows = new Map();   // id -> {p, key, sig, tr and its cells}
  let order = [];           // the rows that match, in the chosen order
  let shown = 0;            // how many of them are in the page

  function fill(row) {
    const p = row.p;
    row.pill.className = "pill pill-" + String(p.status).toLowerCase();
    row.pill.textContent = p.status;
    row.name.href = "/projects/" + p.id;
    row.name.textContent = p.name;
    row.link.textContent = p.link;
    if (p.alerts_muted && !row.tag) {
      row.tag = h("span", {class: "tag"}, "alerts muted");
      row.name.after(row.tag);
    } else if (!p.alerts_muted && row.tag) {
      row.tag.remove();
      row.tag = null;
    }
    row.latency.textContent = fmt.ms(p.latency_ms);
    row.uptime.textContent = fmt.percent(p.uptime_24h);
    row.tr.dataset.status = String(p.status).toLowerCase();
    mount(row.stripCell,
          strip(decodeRecent(p.recent, p.last_checked), SLOTS));
  }

  // The row's elements, made the first time the row is shown.
  function dom(row) {
    if (row.tr) return row.tr;
    const tr = row.tr = TEMPLATE.cloneNode(true);
    const td = tr.children;
    tr.dataset.id = row.p.id;
    row.pill = td[0].firstChild;
    row.name = td[1].firstChild;
    row.link = td[1].lastChild;
    row.latency = td[2];
    row.uptime = td[3];
    row.stripCell = td[4];
    fill(row);
    return tr;
  }

  function merge(list) {
    const seen = new Set();
    for (const p of list) {
      seen.add(p.id);
      const row = rows.get(p.id);
      const key = (p.name + "\u0000" + p.link).toLowerCase();
      if (!row) {
        rows.set(p.id, {p, key, sig: sig(p), tr: null});
        continue;
      }
      const s = sig(p);
      row.p = p;
      row.key = key;
      if (s === row.sig) continue;
      row.sig = s;
      if (row.tr) fill(row);
    }
    for (const id of rows.keys())
      if (!seen.has(id)) rows.delete(id);
  }

  function showCount() {
    const total = rows.size, matching = order.length;
    countLine.textContent = matching === total
      ? fmt.count(total) + (total === 1 ? " project" : " projects")
      : "Showing " + fmt.count(matching) + " of " + fmt.count(total) +
        " projects";
    if (!total)
      mount(listArea, h("div", {class: "panel empty"},
        h("h2", null, "No projects yet"),
        h("p", null, "Add the link of a site you run and Trackly starts " +
          "checking it."),
        h("a", {class: "button", href: "/projects/new"}, "Add project")));
    else if (!matching)
      mount(listArea, h("p", {class: "no-match"},
        "No project matches these filters."));
    else if (listArea.firstChild !== table)
      mount(listArea, table, moreBox);
    const left = matching - shown;
    moreBox.hidden = left <= 0;
    more.textContent = "Show " + fmt.count(Math.min(PAGE, left)) +
      " more (" + fmt.count(left) + " not shown)";
  }

  // Puts the first `count` rows of order into the page, reusing rows that
  // are there already.
  function render(count) {
    shown = Math.min(order.length, count);
    const frag = document.createDocumentFragment();
    for (let i = 0; i < shown; i++) frag.append(dom(order[i]));
    tbody.replaceChildren(frag);
    showCount();
  }

  function showMore() {
    const from = shown;
    shown = Math.min(order.length, shown + PAGE);
    const frag = document.createDocumentFragment();
    for (let i = from; i < shown; i++) frag.append(dom(order[i]));
    tbody.append(frag);
    showCount();
  }
  more.addEventListener("click", () => {
    const first = shown;
    showMore();
    // Keyboard users carry on from the first new row.
    const row = order[first];
    if (row && row.name) row.name.focus();
  });
  // Scrolling near the end of the table adds rows by itself.  After each
  // addition the button is watched afresh: an observer only reports a
  // change, and the end may still be near.
  const sentinel = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting) || shown >= order.length)
      return;
    showMore();
    sentinel.unobserve(moreBox);
    sentinel.observe(moreBox);
  }, {rootMargin: "800px 0px"});
  sentinel.observe(moreBox);
  ctx.onLeave(() => sentinel.disconnect());

  // Search, filter and sort the data, then show as many rows as before
  // (at least a page).
  function apply() {
    const term = q.value.trim().toLowerCase();
    const st = statusSel.value.toUpperCase();
    order = [...rows.values()]
      .filter((row) => (!st || row.p.status === st) &&
                       (!term || row.key.includes(term)))
      .sort(compare(sortSel.value));
    render(Math.max(PAGE, shown));
  }

  function saveUrl() {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    if (statusSel.value) params.set("status", statusSel.value);
    if (sortSel.value !== "name") params.set("sort", sortSel.value);
    const search = params.toString();
    history.replaceState(null, "", "/projects" + (search ? "?" + search
                                                          : ""));
  }

  let debounce = null;
  const changed = () => {
    shown = 0;              // a new question starts at the top
    apply();
    saveUrl();
  };
  q.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(changed, 120);
  });
  statusSel.addEventListener("change", changed);
  sortSel.addEventListener("change", changed);
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

  let mounted = false;
  const show = (list) => {
    merge(list);
    if (!mounted) {
      mounted = true;
      mount(ctx.main, takeFlash(),
        h("div", {class: "page-head"}, h("h1", null, "Projects"),
          h("a", {class: "button", href: "/projects/new"}, "Add project")),
        controls, countLine, listArea);
    }
    apply();
  };

  const known = recall("projects");
  if (known) show(known);
  else setTimeout(fmt.warmForLists, 0);   // while the request is out
  const load = async () => {
    const list = (await get("/project/status?recent=" + SLOTS,
                            {signal: ctx.signal})).data;
    if (!ctx.alive) return;
    remember("projects", list);
    const note = document.getElementById("stale-note");
    if (note) note.remove();
    // Reading a thousand projects' JSON is one task, showing them the
    // next: neither keeps the page from answering for long.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (!ctx.alive) return;
    show(list);
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
