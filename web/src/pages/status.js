// pages/status.js - /status: the table of every project with its last
// result, like the original client's page of that name (GET
// /project/status; "Last updated" is the time of the last probe).

import {get} from "../api.js";
import {recall, remember} from "../app.js";
import {h, mount, pill} from "../dom.js";
import * as fmt from "../format.js";

const REFRESH_MS = 15000;

function table(list) {
  if (!list.length)
    return h("div", {class: "panel empty"},
      h("p", null, "No projects yet. ",
        h("a", {href: "/projects/new"}, "Add one"), "."));
  return h("div", {class: "table-wrap"}, h("table", {class: "table stack"},
    h("caption", {class: "sr-only"}, "Status of every project"),
    h("thead", null, h("tr", null,
      h("th", {scope: "col"}, "Name"),
      h("th", {scope: "col"}, "Link"),
      h("th", {scope: "col"}, "Status"),
      h("th", {scope: "col", class: "num"}, "Code"),
      h("th", {scope: "col", class: "num"}, "Latency"),
      h("th", {scope: "col"}, "Last updated"))),
    h("tbody", null, list.map((p) => h("tr", null,
      h("td", {"data-label": "Name"},
        h("a", {href: "/projects/" + p.id}, p.name)),
      h("td", {"data-label": "Link", class: "cell-link"}, p.link),
      h("td", {"data-label": "Status"}, pill(p.status)),
      h("td", {class: "num", "data-label": "Code"},
        p.code === null || p.code === undefined ? "—" : String(p.code)),
      h("td", {class: "num", "data-label": "Latency"}, fmt.ms(p.latency_ms)),
      h("td", {"data-label": "Last updated"}, h("time", {
        datetime: p.last_updated}, fmt.dateTime(p.last_updated, true))))))));
}

export async function status(ctx) {
  ctx.title("Status");
  const box = h("div");
  mount(ctx.main, h("h1", null, "Status"), box);
  const known = recall("status");
  if (known) mount(box, table(known));
  const load = async () => {
    const list = (await get("/project/status", {signal: ctx.signal})).data;
    if (!ctx.alive) return;
    remember("status", list);
    const note = document.getElementById("stale-note");
    if (note) note.remove();
    list.sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
    mount(box, table(list));
  };
  try {
    await load();
  } catch (e) {
    if (!known) throw e;
    ctx.stale(e);
  }
  ctx.every(REFRESH_MS, () => load().catch((e) => ctx.stale(e)));
}
