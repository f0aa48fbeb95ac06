// dom.js - the one rendering helper: build elements from plain calls.
//
// h("p", {class: "hint"}, "text", child) makes <p class="hint">text…</p>.
// Text is always set as text, never parsed as HTML, so nothing a user typed
// can become markup.  Props: class, text, on<event> (a listener), dataset,
// boolean attributes (true sets, false/null/undefined omit), and any other
// attribute as a string.  The page's CSP forbids style attributes, so
// nothing here writes one; use classes, or el.style from script.

const SVG_NS = "http://www.w3.org/2000/svg";

function setProps(el, props) {
  if (!props) return;
  for (const key of Object.keys(props)) {
    const v = props[key];
    if (v === null || v === undefined || v === false) continue;
    if (key === "class") el.setAttribute("class", v);
    else if (key === "text") el.textContent = v;
    else if (key === "dataset") Object.assign(el.dataset, v);
    else if (key.startsWith("on") && typeof v === "function")
      el.addEventListener(key.slice(2), v);
    else el.setAttribute(key, v === true ? "" : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) appendAll(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

// The same for SVG elements (the chart).
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

// Replaces everything inside el with children.
export function mount(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

// A status pill: UP, DOWN, PENDING, PAUSED (and MAINTENANCE later).
export function pill(status) {
  const st = String(status || "PENDING").toUpperCase();
  return h("span", {class: "pill pill-" + st.toLowerCase()}, st);
}

