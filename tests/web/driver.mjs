// driver.mjs: drives Debian's Chromium through playwright-core for the
// Python browser tests (tests/integration/browser.py).
//
// A long-lived process that takes one command per line on stdin, as JSON,
//
//   {"id": 7, "op": "locator", "page": "p1", "selector": "h1", "action": "innerText"}
//
// and answers each with one JSON line on stdout carrying the same id:
//
//   {"id": 7, "result": "Trackly"}        or   {"id": 7, "error": "message"}
//
// Commands run concurrently and answer when they finish, so a slow wait
// does not hold up the others; nothing a command does crashes the driver.
// Contexts and pages live in maps by id ("c1", "p1"). Every page records
// what a test would want to know went wrong (console errors and warnings,
// uncaught exceptions, CSP violations, failed requests, responses >= 400)
// until the `events` op hands them over and forgets them.
//
// Values that JSON cannot carry travel as markers, in both directions:
//   {"$regex": "text", "flags": "i"}   a RegExp (text matchers, URL patterns)
//   {"$fn": "(a) => a + 1"}           a function, from its source (evaluate,
//                                     waitForFunction)
//   {"$page": "p2"}                   (answer) a page, e.g. a popup
//   {"$bytes": "<base64>"}            (answer) a Buffer
//
// The driver exits when stdin closes (its Python client is gone), closing
// the browser first. Nothing but answers goes to stdout; diagnostics go to
// stderr, which the client keeps and shows when something fails.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);

// Chromium's flags. Beside headless operation they stop its own traffic
// (updates, sync, field trials, safe browsing...), which would otherwise go
// on for the whole run on a machine with no network. The proxy catches
// whatever a page asks of a host that is not this machine: Chromium sends
// loopback requests direct (its implicit proxy bypass) and everything else
// to a port where nothing listens, so the request fails fast and shows up
// as a failed request instead of leaving the machine.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--metrics-recording-only",
  "--no-pings",
  "--proxy-server=http://127.0.0.1:9",
];

// Milliseconds an action or a navigation may take unless the command says
// otherwise; the Python client waits a little longer than that for the
// answer, so the driver's own timeout, with Playwright's explanation, is the
// one a test sees.
const DEFAULT_TIMEOUT = 10000;
const NAVIGATION_TIMEOUT = 15000;

let browser = null;
let nextId = 1;
const contexts = new Map();   // id -> BrowserContext
const pages = new Map();      // id -> {page, contextId, events: [], dialog}
const pageIds = new WeakMap();  // Page -> id

// --- answers ---------------------------------------------------------------

console.log = console.info = (...args) => console.error(...args);

function answer(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

// JSON-safe form of what a Playwright method returned.
function toJSON(value, depth = 0) {
  if (value === undefined || value === null) return null;
  if (depth > 20) return String(value);
  if (Buffer.isBuffer(value)) return { $bytes: value.toString("base64") };
  if (value instanceof RegExp) return { $regex: value.source, flags: value.flags };
  if (Array.isArray(value)) return value.map((v) => toJSON(v, depth + 1));
  if (typeof value === "object") {
    if (pageIds.has(value)) return { $page: pageIds.get(value) };
    // Playwright's objects, told apart by their methods (the bundle's class
    // names are not part of its API).
    if (typeof value.status === "function" && typeof value.request === "function") {
      return {
        url: value.url(), status: value.status(), statusText: value.statusText(),
        headers: value.headers(),
      };
    }
    if (typeof value.method === "function" && typeof value.postData === "function") {
      return { url: value.url(), method: value.method() };
    }
    if (typeof value.goto === "function" && typeof value.mainFrame === "function") {
      return { $page: registerPage(value) };
    }
    if (typeof value.toJSON === "function") return value.toJSON();
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return String(value);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJSON(v, depth + 1);
    return out;
  }
  return value;
}

// The markers of the header comment, turned into the values they stand for.
function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if (typeof value.$regex === "string") return new RegExp(value.$regex, value.flags || "");
    if (typeof value.$fn === "string") return new Function(`return (${value.$fn});`)();
    if (typeof value.$page === "string") return pageEntry(value.$page).page;
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
  }
  return value;
}

// --- contexts and pages ----------------------------------------------------

function contextById(id) {
  const context = contexts.get(id);
  if (!context) throw new Error(`no context ${JSON.stringify(id)} (closed, or never opened)`);
  return context;
}

function pageEntry(id) {
  const entry = pages.get(id);
  if (!entry) throw new Error(`no page ${JSON.stringify(id)} (closed, or never opened)`);
  return entry;
}

function record(entry, event) {
  event.time = Date.now() / 1000;
  event.page_url = entry.page.url();
  entry.events.push(event);
}

// registerPage: gives a page an id and starts recording its events. Pages
// the page opens itself (popups, target=_blank) are registered as they
// appear, through the context's "page" event.
function registerPage(page, contextId) {
  if (pageIds.has(page)) return pageIds.get(page);
  const id = `p${nextId++}`;
  const entry = { page, contextId, events: [], dialog: { action: "dismiss" } };
  pages.set(id, entry);
  pageIds.set(page, id);

  page.on("console", (msg) => {
    const type = msg.type();
    if (type !== "error" && type !== "warning") return;
    const text = msg.text();
    const location = msg.location() || {};
    // Chromium reports a CSP refusal on the console ("Executing inline
    // script violates the following Content Security Policy directive..."),
    // and a failed subresource or fetch as "Failed to load resource: the
    // server responded with a status of 404 ()" or "...: net::ERR_...",
    // with the URL as its location. Both are told apart so that the client
    // can match the latter with the response or failed request it repeats.
    let kind = "console";
    if (/Content Security Policy/.test(text)) kind = "csp";
    else if (/^Failed to load resource: /.test(text)) kind = "resource";
    record(entry, { kind, type, text, url: location.url || "" });
  });
  page.on("pageerror", (error) => {
    record(entry, { kind: "pageerror", text: String(error && error.message || error),
                    stack: String(error && error.stack || "") });
  });
  page.on("requestfailed", (request) => {
    const failure = request.failure();
    record(entry, { kind: "requestfailed", url: request.url(), method: request.method(),
                    text: failure ? failure.errorText : "failed" });
  });
  page.on("response", (response) => {
    if (response.status() < 400) return;
    const request = response.request();
    record(entry, { kind: "response", url: response.url(), method: request.method(),
                    status: response.status(), resource: request.resourceType() });
  });
  page.on("dialog", (dialog) => {
    record(entry, { kind: "dialog", type: dialog.type(), text: dialog.message() });
    const how = entry.dialog;
    const answered = how.action === "accept" ? dialog.accept(how.promptText ?? undefined) : dialog.dismiss();
    // A dialog left open would block the page, and every command after.
    answered.catch((err) => {
      console.error(`driver: answering a ${dialog.type()} dialog: ${err.message}`);
      return dialog.dismiss();
    }).catch(() => {});
  });
  page.on("crash", () => record(entry, { kind: "crash", text: "the page crashed" }));
  page.on("close", () => { entry.closed = true; });
  return id;
}

async function newContext(options = {}) {
  const { timeout, navigationTimeout, ...contextOptions } = revive(options);
  const context = await browser.newContext(contextOptions);
  context.setDefaultTimeout(timeout ?? DEFAULT_TIMEOUT);
  context.setDefaultNavigationTimeout(navigationTimeout ?? NAVIGATION_TIMEOUT);
  const id = `c${nextId++}`;
  contexts.set(id, context);
  context.on("page", (page) => registerPage(page, id));
  return id;
}

// target of route/unroute/cookie commands: a page when one is named, else
// the context.
function routeTarget(cmd) {
  return cmd.page ? pageEntry(cmd.page).page : contextById(cmd.context);
}

// resolve OBJ "keyboard.press": the bound method, so a command may reach
// the objects hanging off a page (keyboard, mouse, touchscreen).
function resolveMethod(obj, path) {
  const parts = String(path).split(".");
  let target = obj;
  for (const name of parts.slice(0, -1)) {
    target = target[name];
    if (!target || typeof target !== "object") throw new Error(`no ${name} in ${path}`);
  }
  const name = parts[parts.length - 1];
  if (name.startsWith("_") || typeof target[name] !== "function") {
    throw new Error(`${path} is not a method of ${obj.constructor.name}`);
  }
  return target[name].bind(target);
}

// The methods a locator chain may use: each returns a Locator.
const CHAIN = new Set([
  "locator", "getByRole", "getByLabel", "getByText", "getByPlaceholder", "getByTestId",
  "getByTitle", "getByAltText", "nth", "first", "last", "filter", "and", "or",
]);

function buildLocator(page, selector, chain = []) {
  let loc = selector == null ? page : page.locator(selector);
  for (const [method, ...args] of chain) {
    if (!CHAIN.has(method)) throw new Error(`${method} cannot be chained (one of ${[...CHAIN].join(", ")})`);
    const member = loc[method];
    loc = typeof member === "function" ? member.apply(loc, revive(args)) : member;
  }
  if (loc === page) throw new Error("a locator needs a selector or a chain");
  return loc;
}

// --- the axe accessibility engine ------------------------------------------

let axeSource = null;

// axe-core is injected by page.evaluate of its source. That goes through
// the DevTools protocol (Runtime.callFunctionOn), which the page's CSP
// (script-src 'self', no inline script, no eval) does not govern, so it
// works on the real pages as served, without bypassCSP, which would have
// to be set on the whole context and would hide the very violations the
// tests look for.
async function runAxe(page, options = {}) {
  if (axeSource === null) axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  const loaded = await page.evaluate("typeof window.axe === 'object'");
  if (!loaded) await page.evaluate(axeSource);
  const runOptions = { resultTypes: ["violations"], ...(options.options || {}) };
  return page.evaluate(async ([context, runOptions]) => {
    const results = await window.axe.run(context || document, runOptions);
    return results.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, description: v.description,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, summary: n.failureSummary })),
    }));
  }, [options.context || null, runOptions]);
}

// --- waits -----------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// wait_text: until an element that selector (and chain) matches has visible
// text containing TEXT (a string) or matching it (a $regex). On timeout the
// error says what the elements held instead.
async function waitText(page, cmd) {
  const loc = buildLocator(page, cmd.selector, cmd.chain);
  const want = revive(cmd.text);
  const timeout = cmd.timeout ?? DEFAULT_TIMEOUT;
  const deadline = Date.now() + timeout;
  const matches = (t) => (want instanceof RegExp ? want.test(t) : t.includes(want));
  let seen = [];
  for (;;) {
    try {
      seen = await loc.allInnerTexts();
    } catch (err) {
      seen = [`(${err.message.split("\n")[0]})`];
    }
    const hit = seen.find(matches);
    if (hit !== undefined) return hit;
    if (Date.now() >= deadline) break;
    await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
  }
  const what = want instanceof RegExp ? String(want) : JSON.stringify(want);
  const saw = seen.length ? seen.map((t) => JSON.stringify(t)).join(", ") : "no element matched";
  throw new Error(`wait_text: ${cmd.selector ?? ""}${(cmd.chain || []).map((c) => `.${c[0]}(${c.slice(1).map((a) => JSON.stringify(a)).join(", ")})`).join("")} `
                  + `had no text with ${what} within ${timeout} ms; saw: ${saw}`);
}

// --- commands --------------------------------------------------------------

const OPS = {
  async launch(cmd) {
    if (browser) return { version: browser.version() };
    browser = await chromium.launch({
      executablePath: cmd.executablePath || "/usr/bin/chromium",
      headless: true,
      args: [...CHROMIUM_ARGS, ...(cmd.args || [])],
      timeout: cmd.timeout ?? 30000,
      // The client owns the process's lifetime: stdin closing ends it.
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    });
    browser.on("disconnected", () => {
      if (!shuttingDown) console.error("driver: the browser disconnected (crashed or killed)");
      browser = null;
    });
    return { version: browser.version() };
  },

  async ping() { return { browser: browser ? browser.version() : null, contexts: contexts.size, pages: pages.size }; },

  async new_context(cmd) {
    if (!browser) throw new Error("launch first");
    return { context: await newContext(cmd.options) };
  },

  async new_page(cmd) {
    const page = await contextById(cmd.context).newPage();
    return { page: registerPage(page, cmd.context) };
  },

  // close: a page, or a context with all its pages.
  async close(cmd) {
    if (cmd.page) {
      const entry = pages.get(cmd.page);
      if (entry) {
        pages.delete(cmd.page);
        if (!entry.closed) await entry.page.close();
      }
      return null;
    }
    const context = contexts.get(cmd.context);
    if (!context) return null;
    contexts.delete(cmd.context);
    for (const [id, entry] of pages) if (entry.contextId === cmd.context) pages.delete(id);
    await context.close();
    return null;
  },

  // pages: the ids of a context's open pages (popups included).
  async pages(cmd) {
    return [...pages.entries()]
      .filter(([, e]) => e.contextId === cmd.context && !e.closed)
      .map(([id]) => id);
  },

  // page: any Page method by name ("goto", "keyboard.press"), args as given.
  // A screenshot written to a path answers with the path, not the image.
  async page(cmd) {
    const { page } = pageEntry(cmd.page);
    const fn = resolveMethod(page, cmd.method);
    const args = revive(cmd.args || []);
    const result = await fn(...args);
    if (Buffer.isBuffer(result) && args[0] && args[0].path) return { path: args[0].path, bytes: result.length };
    return toJSON(result);
  },

  // locator: selector (or null) + chain of [method, ...args], then action
  // with args: {"selector": "form", "chain": [["getByLabel", "Email"]],
  // "action": "fill", "args": ["me@example.com"]}.
  async locator(cmd) {
    const { page } = pageEntry(cmd.page);
    const loc = buildLocator(page, cmd.selector, cmd.chain);
    const fn = resolveMethod(loc, cmd.action);
    const args = revive(cmd.args || []);
    const result = await fn(...args);
    if (Buffer.isBuffer(result) && args[0] && args[0].path) return { path: args[0].path, bytes: result.length };
    return toJSON(result);
  },

  async wait_text(cmd) {
    return waitText(pageEntry(cmd.page).page, cmd);
  },

  // events: what the page recorded since the last call; forgets them.
  // A round trip to the page first (at most a second) lets what Chromium
  // has already reported, say the console line of a CSP refusal the last
  // command caused, arrive before the list is taken.
  async events(cmd) {
    const entry = pageEntry(cmd.page);
    if (!entry.closed) {
      await Promise.race([entry.page.evaluate("0").catch(() => {}), sleep(1000)]);
    }
    const out = entry.events;
    entry.events = [];
    return out;
  },

  // dialog: how the page answers alert/confirm/prompt from now on
  // ("dismiss", the default, or "accept" with an optional promptText).
  async dialog(cmd) {
    if (!["accept", "dismiss"].includes(cmd.action)) throw new Error(`dialog action ${JSON.stringify(cmd.action)}: accept or dismiss`);
    pageEntry(cmd.page).dialog = { action: cmd.action, promptText: cmd.promptText ?? undefined };
    return null;
  },

  async axe(cmd) {
    return runAxe(pageEntry(cmd.page).page, cmd);
  },

  async cookies(cmd) { return contextById(cmd.context).cookies(cmd.urls || []); },
  async add_cookies(cmd) { await contextById(cmd.context).addCookies(cmd.cookies); return null; },
  async clear_cookies(cmd) { await contextById(cmd.context).clearCookies(); return null; },

  // route: requests whose URL matches url (a glob such as "**/healthcheck",
  // or a $regex) get a made-up answer instead of reaching the server:
  // {"status": 503, "json": {...}} / "body", "headers", "contentType", or
  // {"abort": "connectionrefused"} for a network failure. times limits it
  // to the first n requests. On the context, or on one page.
  async route(cmd) {
    const target = routeTarget(cmd);
    const handler = async (route) => {
      if (cmd.abort) return route.abort(cmd.abort === true ? "failed" : cmd.abort);
      const reply = { status: cmd.status ?? 200, headers: cmd.headers || {} };
      if (cmd.json !== undefined) reply.json = cmd.json;
      else if (cmd.body !== undefined) reply.body = cmd.body;
      if (cmd.contentType) reply.contentType = cmd.contentType;
      return route.fulfill(reply);
    };
    await target.route(revive(cmd.url), handler, cmd.times ? { times: cmd.times } : undefined);
    return null;
  },

  // unroute: drops every route of the target for that URL pattern.
  async unroute(cmd) {
    await routeTarget(cmd).unroute(revive(cmd.url));
    return null;
  },

  async quit() {
    setImmediate(shutdown);
    return null;
  },
};

async function handle(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    answer({ id: null, error: `not JSON: ${err.message}` });
    return;
  }
  const op = OPS[cmd.op];
  try {
    if (!op || !Object.prototype.hasOwnProperty.call(OPS, cmd.op)) throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
    const result = await op(cmd);
    answer({ id: cmd.id, result: result === undefined ? null : result });
  } catch (err) {
    answer({ id: cmd.id, error: String(err && err.message || err), name: err && err.name || "Error" });
  }
}

let shuttingDown = false;

async function shutdown() {
  if (shuttingDown) return;
  shuttingDown = true;
  const timer = setTimeout(() => process.exit(1), 5000);
  try {
    if (browser) await browser.close();
  } catch (err) {
    console.error(`driver: closing the browser: ${err.message}`);
  }
  clearTimeout(timer);
  process.exit(0);
}

process.on("unhandledRejection", (err) => console.error("driver: unhandled rejection:", err));
process.on("uncaughtException", (err) => console.error("driver: uncaught exception:", err));
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => { if (line.trim()) handle(line); });
lines.on("close", shutdown);
