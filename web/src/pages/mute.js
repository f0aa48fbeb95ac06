// pages/mute.js - /mute?token=… (and /mute.html?token=… from mail sent
// before the web client): the mute link of alert mail.  Opening it only
// asks the API what it would do (GET); the button mutes (POST), because
// mail scanners open links.

import {api, get} from "../api.js";
import {h, mount} from "../dom.js";

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export async function mute(ctx) {
  ctx.title("Mute alerts");
  const token = ctx.query.get("token") || "";
  const body = h("div", {class: "mute-body", role: "status",
                         "aria-live": "polite"});
  mount(ctx.main, h("h1", null, "Mute alerts"), body);

  const invalid = (text) => mount(body, h("div", {class: "panel panel-error"},
    h("p", null, text || "This mute link is not valid. A mute link stops " +
      "working when alerts for its project are turned back on, after 30 " +
      "days, or when the project is deleted; the next alert mail brings a " +
      "new one.")));
  if (!TOKEN.test(token)) return invalid();

  const path = "/project/mute?token=" + encodeURIComponent(token);
  let info;
  try {
    info = (await get(path, {auth: false, signal: ctx.signal})).data;
  } catch (err) {
    if (err.status === 400) return invalid();
    return ctx.fail(err, body);
  }
  if (!ctx.alive) return;
  const later = h("p", null, "You can turn alerts back on from the " +
    "project's page (", h("a", {href: "/projects"}, "your projects"), ").");
  if (info.alerts_muted) {
    mount(body, h("p", null, "Alerts for ", h("strong", null, info.project),
                  " are already muted."), later);
    return;
  }
  const button = h("button", {type: "button", class: "button warning"},
                   "Mute alerts for this project");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const r = await api("POST", path, undefined, {auth: false,
                                                     signal: ctx.signal});
      mount(body, h("div", {class: "panel panel-ok"},
        h("p", null, "Alerts for ", h("strong", null, r.data.project),
          " are muted. Trackly keeps checking it and keeps its history.")),
        later);
    } catch (err) {
      button.disabled = false;
      if (err.status === 400) invalid();
      else ctx.fail(err, body);
    }
  });
  mount(body,
    h("p", null, "Stop alert mail for ", h("strong", null, info.project),
      "? Trackly keeps checking it; only the mail stops."),
    button, later);
}
