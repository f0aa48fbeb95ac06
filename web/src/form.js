// form.js - forms in the GOV.UK pattern: every input has a visible label
// (and a hint where one helps); errors appear next to their field and in a
// summary at the top that links to it and takes focus, so keyboard and
// screen-reader users land on the list of problems.

import {h, mount} from "./dom.js";

// field({name, label, hint, type, value, ...attrs}) -> the field's wrapper.
// type "textarea" makes a textarea; other attrs go onto the input.
export function field(opts) {
  const {name, label, hint, type, value, ...attrs} = opts;
  const id = "f-" + name;
  const hintEl = hint ? h("p", {class: "hint", id: id + "-hint"}, hint)
                      : null;
  const error = h("p", {class: "field-error", id: id + "-error",
                        hidden: true});
  const props = Object.assign({id, name,
    "aria-describedby": hint ? id + "-hint" : null}, attrs);
  let input;
  if (type === "textarea") {
    input = h("textarea", props);
    input.value = value || "";
  } else {
    input = h("input", Object.assign({type: type || "text"}, props));
    if (value !== undefined && value !== null) input.value = String(value);
  }
  return h("div", {class: "field", dataset: {field: name}},
           h("label", {for: id}, label), hintEl, error, input);
}

export function checkbox(opts) {
  const id = "f-" + opts.name;
  const input = h("input", {type: "checkbox", id, name: opts.name,
    "aria-describedby": opts.hint ? id + "-hint" : null});
  input.checked = !!opts.checked;
  return h("div", {class: "field checkbox", dataset: {field: opts.name}},
    input, h("label", {for: id}, opts.label),
    opts.hint ? h("p", {class: "hint", id: id + "-hint"}, opts.hint) : null);
}

export function form(props, ...children) {
  return h("form", Object.assign({novalidate: true}, props),
           h("div", {class: "summary-slot"}), ...children);
}

export function input(formEl, name) {
  return formEl.querySelector("#f-" + name);
}

export function clearErrors(formEl) {
  mount(formEl.querySelector(".summary-slot"));
  for (const el of formEl.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of formEl.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    const hint = el.id + "-hint";
    if (formEl.querySelector("#" + hint))
      el.setAttribute("aria-describedby", hint);
    else
      el.removeAttribute("aria-describedby");
  }
  for (const el of formEl.querySelectorAll(".field.has-error"))
    el.classList.remove("has-error");
}

// errors: [{name, message}]; name null (or a name with no field) puts the
// message in the summary only.  Focuses the summary.
export function showErrors(formEl, errors) {
  clearErrors(formEl);
  if (!errors.length) return;
  const items = errors.map(({name, message}) => {
    const inp = name ? input(formEl, name) : null;
    if (!inp) return h("li", null, message);
    const err = formEl.querySelector("#f-" + name + "-error");
    err.textContent = message;
    err.hidden = false;
    inp.closest(".field").classList.add("has-error");
    inp.setAttribute("aria-invalid", "true");
    const hint = inp.id + "-hint";
    inp.setAttribute("aria-describedby",
      (formEl.querySelector("#" + hint) ? hint + " " : "") + inp.id +
      "-error");
    const a = h("a", {href: "#" + inp.id}, message);
    a.addEventListener("click", (e) => {
      e.preventDefault();
      inp.focus();
    });
    return h("li", null, a);
  });
  const summary = h("div", {class: "error-summary", role: "alert",
                            tabindex: "-1"},
    h("h2", null, "There is a problem"), h("ul", null, items));
  mount(formEl.querySelector(".summary-slot"), summary);
  summary.focus();
}

// Runs fn with the form's submit button disabled and labelled `busyText`.
export async function busy(formEl, busyText, fn) {
  const button = formEl.querySelector("button[type=submit]");
  const label = button ? button.textContent : "";
  if (button) {
    button.disabled = true;
    button.textContent = busyText;
  }
  try {
    return await fn();
  } finally {
    if (button) {
      button.disabled = false;
      button.textContent = label;
    }
  }
}

// The API's refusal as form errors: on its field when it names one that
// the form has, in the summary otherwise.
export function apiErrors(formEl, err, messages) {
  const friendly = messages && messages[err.status];
  if (friendly) return [friendly];
  const name = err.field && input(formEl, err.field) ? err.field : null;
  if (!name) return [{name, message: capitalise(err.message)}];
  // "field 'link' must be …" reads "Link must be …" next to the field.
  const label = formEl.querySelector("label[for=f-" + name + "]");
  const rest = err.message.replace(/^field '[a-z_]+' /, "");
  return [{name, message: (label ? label.textContent : name) + " " + rest}];
}

function capitalise(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
