// pages/project_form.js - /projects/new and /projects/{id}/edit: every
// field the API accepts, checked here by the server's own rules
// (rules.js) before sending, and the server's answer shown next to its
// field when it still refuses.

import {api, get} from "../api.js";
import {go, setFlash} from "../app.js";
import {h, mount} from "../dom.js";
import {field, checkbox, form, input, showErrors, busy,
        apiErrors} from "../form.js";
import * as rules from "../rules.js";
import * as session from "../session.js";

function defaults(minInterval) {
  const interval = Math.max(300, minInterval);
  return {name: "", link: "https://", description: "",
          interval_seconds: interval,
          timeout_ms: Math.min(10000, interval * 500),
          expected_status: "200-399", keyword: "", failure_threshold: 2,
          recovery_threshold: 1, paused: false, alerts_muted: false};
}

function validate(f, minInterval) {
  const v = (n) => input(f, n).value;
  const errors = [];
  const add = (name, message) => { if (message) errors.push({name, message}); };
  add("name", rules.name(v("name")));
  add("link", rules.link(rules.asciiTrim(v("link"))));
  add("description", rules.description(v("description")));
  add("interval_seconds", rules.intIn("the interval", v("interval_seconds"),
                                      minInterval, 86400));
  add("timeout_ms", rules.timeout(v("timeout_ms"),
                                  Number(v("interval_seconds"))));
  add("expected_status", rules.expectedStatus(v("expected_status")));
  add("keyword", rules.keyword(v("keyword")));
  add("failure_threshold", rules.intIn("the number of failed checks",
                                       v("failure_threshold"), 1, 10));
  add("recovery_threshold", rules.intIn("the number of good checks",
                                        v("recovery_threshold"), 1, 10));
  return errors;
}

function body(f) {
  const v = (n) => input(f, n).value;
  return {
    name: v("name"),
    link: rules.asciiTrim(v("link")),
    description: v("description"),
    interval_seconds: Number(v("interval_seconds")),
    timeout_ms: Number(v("timeout_ms")),
    expected_status: rules.asciiTrim(v("expected_status")),
    keyword: v("keyword") === "" ? null : v("keyword"),
    failure_threshold: Number(v("failure_threshold")),
    recovery_threshold: Number(v("recovery_threshold")),
    paused: input(f, "paused").checked,
    alerts_muted: input(f, "alerts_muted").checked,
  };
}

export async function projectForm(ctx) {
  const id = ctx.params[0] || null;
  await session.ready();
  if (!ctx.alive) return;
  const {minInterval, maxProjects} = session.limits();
  let p = defaults(minInterval);
  if (id) {
    try {
      p = (await get("/project/" + id, {signal: ctx.signal})).data;
    } catch (e) {
      if (e.status !== 404) throw e;
      ctx.title("Project not found");
      mount(ctx.main, h("h1", null, "Project not found"),
        h("p", null, h("a", {href: "/projects"}, "See your projects")));
      return;
    }
    if (!ctx.alive) return;
  }
  const title = id ? "Edit " + p.name : "Add a project";
  ctx.title(title);

  const num = {type: "text", inputmode: "numeric", class: "short",
               autocomplete: "off"};
  const f = form({"aria-labelledby": "h-form"},
    field({name: "name", label: "Name", value: p.name, maxlength: 200,
           hint: "What you call the site, e.g. Blog or Shop API.",
           autocomplete: "off"}),
    field({name: "link", label: "Link", type: "url", value: p.link,
           hint: "The address Trackly requests: http:// or https://.",
           spellcheck: "false", autocapitalize: "none", autocomplete: "url"}),
    field({name: "description", label: "Description (optional)",
           type: "textarea", value: p.description, rows: 2}),
    h("fieldset", null, h("legend", null, "Checks"),
      field(Object.assign({name: "interval_seconds",
        label: "Check every (seconds)", value: p.interval_seconds,
        hint: "From " + minInterval + " to 86400 (one day)."}, num)),
      field(Object.assign({name: "timeout_ms", label: "Timeout (ms)",
        value: p.timeout_ms,
        hint: "From 100 to 120000, and shorter than the interval."}, num)),
      field({name: "expected_status", label: "Expected HTTP status",
             value: p.expected_status, class: "short", spellcheck: "false",
             hint: "Codes or ranges, e.g. 200-399 or 200,301-302."}),
      field({name: "keyword", label: "Keyword (optional)",
             value: p.keyword || "",
             hint: "Text the page must contain to count as up."})),
    h("fieldset", null, h("legend", null, "Alerts"),
      field(Object.assign({name: "failure_threshold",
        label: "Down after this many failed checks in a row",
        value: p.failure_threshold, hint: "1 to 10."}, num)),
      field(Object.assign({name: "recovery_threshold",
        label: "Up again after this many good checks in a row",
        value: p.recovery_threshold, hint: "1 to 10."}, num)),
      checkbox({name: "alerts_muted", label: "Mute alert mail",
                checked: p.alerts_muted,
                hint: "Trackly keeps checking; only the mail stops."}),
      checkbox({name: "paused", label: "Paused", checked: p.paused,
                hint: "A paused project is not checked at all."})),
    h("div", {class: "actions"},
      h("button", {type: "submit", class: "button"},
        id ? "Save changes" : "Add project"),
      h("a", {class: "button secondary", href: id ? "/projects/" + id
                                                  : "/projects"}, "Cancel")));

  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const errors = validate(f, minInterval);
    if (errors.length) return showErrors(f, errors);
    const data = body(f);
    await busy(f, id ? "Saving…" : "Adding…", async () => {
      let saved;
      try {
        saved = (await api(id ? "PUT" : "POST", id ? "/project/" + id
                                                   : "/project", data,
                           {signal: ctx.signal})).data;
      } catch (err) {
        if (!ctx.alive) return;
        showErrors(f, apiErrors(f, err, {
          403: {name: null, message: "You have reached your limit of " +
                maxProjects + " projects. Delete one to add another."},
          404: {name: null, message: "This project no longer exists."}}));
        return;
      }
      if (!id && !saved.paused) {
        // A new project's first check falls somewhere in its first
        // interval (API clients may import hundreds at once); someone
        // adding one by hand wants to see it now.
        try {
          await api("POST", "/project/" + saved.id + "/check", undefined,
                    {signal: ctx.signal});
        } catch (err) {
          // The check happens on schedule anyway.
        }
      }
      setFlash(id ? "Saved." : "Added \u201c" + saved.name +
               "\u201d. Trackly is checking it now.");
      go("/projects/" + saved.id, {replace: !!id});
    });
  });

  mount(ctx.main,
    h("nav", {class: "crumbs", "aria-label": "Breadcrumb"},
      h("a", {href: "/projects"}, "Projects"), " / ",
      id ? [h("a", {href: "/projects/" + id}, p.name), " / "] : null,
      h("span", {"aria-current": "page"}, id ? "Edit" : "Add")),
    h("h1", {id: "h-form"}, title),
    f);
}
