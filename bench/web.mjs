// bench/web.mjs - the browser half of bench/web (read that script's header
// first).  Drives Debian's Chromium through playwright-core (the browser
// tests' npm package, tests/web/) and prints one JSON object of figures.
//
//   node bench/web.mjs '{"url":…, "small":{"token":…}, "large":{"token":…},
//                        "runs":15, "listRuns":7}'
//
// Every run uses a fresh browser context: an empty cache, as on a first
// visit.  Times are from the navigation's start (performance.timeOrigin)
// to the performance.mark the pages set when their data is on screen
// ("trackly:dashboard-counts", "trackly:projects-rendered").  Long tasks
// come from a PerformanceObserver registered before the page's own
// scripts run (an init script, which the page's CSP does not apply to).

import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "tests", "web",
                                        "package.json"));
const {chromium} = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)];
}
const round = (x) => Math.round(x * 10) / 10;

const LONGTASKS = `
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      window.__longtasks.push({start: e.startTime, duration: e.duration});
  }).observe({type: "longtask", buffered: true});
`;

async function context(browser, token, width) {
  const ctx = await browser.newContext({
    viewport: {width: width || 1280, height: 800},
    baseURL: cfg.url,
  });
  const u = new URL(cfg.url);
  // The session cookie /user/login sets, and the client's own note that
  // this browser is signed in (web/src/session.js).
  await ctx.addCookies([{name: "trackly_session", value: token,
                         domain: u.hostname, path: "/", httpOnly: true,
                         sameSite: "Strict"},
                        {name: "trackly_signed_in", value: "1",
                         domain: u.hostname, path: "/", sameSite: "Strict"}]);
  await ctx.addInitScript(LONGTASKS);
  return ctx;
}

async function waitMark(page, name, timeout) {
  await page.waitForFunction(
    (n) => performance.getEntriesByName(n).length > 0, name,
    {timeout: timeout || 20000, polling: 10});
  return page.evaluate((n) => performance.getEntriesByName(n)[0].startTime,
                       name);
}

// What the first visit downloaded, by kind, compressed (encodedBodySize:
// the body as sent, gzip included, headers excluded) and decoded.
async function bytes(page) {
  return page.evaluate(() => {
    const out = {};
    const nav = performance.getEntriesByType("navigation")[0];
    const add = (kind, e) => {
      const o = out[kind] || (out[kind] = {encoded: 0, decoded: 0, n: 0});
      o.encoded += e.encodedBodySize;
      o.decoded += e.decodedBodySize;
      o.n++;
    };
    add("html", nav);
    for (const e of performance.getEntriesByType("resource")) {
      const u = new URL(e.name);
      const kind = /\.js$/.test(u.pathname) ? "js"
        : /\.css$/.test(u.pathname) ? "css"
        : /\.(svg|png|ico)$/.test(u.pathname) ? "image"
        : u.pathname.startsWith("/user/") ||
          u.pathname.startsWith("/project") ? "api" : "other";
      add(kind, e);
    }
    return out;
  });
}

async function dashboard(browser) {
  const times = [], fcps = [], steps = [];
  let sizes = null;
  for (let i = 0; i < cfg.runs; i++) {
    const ctx = await context(browser, cfg.small.token);
    const page = await ctx.newPage();
    await page.goto("/dashboard", {waitUntil: "commit"});
    const t = await waitMark(page, "trackly:dashboard-counts");
    const fcp = await page.evaluate(() => {
      const e = performance.getEntriesByName("first-contentful-paint")[0];
      return e ? e.startTime : null;
    });
    await page.waitForLoadState("load");
    if (i === 0) sizes = await bytes(page);
    steps.push(await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource");
      const find = (re) => res.find((e) => re.test(new URL(e.name).pathname));
      const js = find(/\.js$/), me = find(/^\/user\/me$/),
            dash = find(/^\/project\/dashboard$/);
      return {html: nav.responseEnd, js: js ? js.responseEnd : null,
              dom: nav.domContentLoadedEventEnd,
              me_start: me ? me.startTime : null,
              me_end: me ? me.responseEnd : null,
              data_start: dash ? dash.startTime : null,
              data_end: dash ? dash.responseEnd : null};
    }));
    times.push(t);
    if (fcp !== null) fcps.push(fcp);
    await ctx.close();
  }
  return {runs: times.length, counts_ms: {median: round(median(times)),
    p90: round(pct(times, 90)), min: round(Math.min(...times)),
    max: round(Math.max(...times))},
    fcp_ms: fcps.length ? {median: round(median(fcps))} : null, sizes,
    // Where the time goes: medians, from the navigation's start.
    steps_ms: Object.fromEntries(Object.keys(steps[0]).map((k) =>
      [k, round(median(steps.map((x) => x[k]).filter((v) => v !== null)))]))};
}

// The floor on this machine: the sign-in page (no request to the API, no
// session) in a fresh context, navigation to first paint.  What the
// browser itself costs before any of Trackly's work can show.
async function floor(browser) {
  const fcps = [];
  for (let i = 0; i < cfg.runs; i++) {
    const ctx = await browser.newContext({viewport: {width: 1280,
                                                     height: 800},
                                          baseURL: cfg.url});
    const page = await ctx.newPage();
    await page.goto("/login", {waitUntil: "load"});
    await page.locator("h1").waitFor();
    const fcp = await page.evaluate(() => {
      const e = performance.getEntriesByName("first-contentful-paint")[0];
      return e ? e.startTime : null;
    });
    if (fcp !== null) fcps.push(fcp);
    await ctx.close();
  }
  return {runs: fcps.length, fcp_ms: {median: round(median(fcps)),
                                      min: round(Math.min(...fcps))}};
}

async function list(browser) {
  const times = [], longest = [], blocking = [], sortMs = [], filterMs = [];
  const steps = [];
  let heap = null, rows = 0;
  for (let i = 0; i < cfg.listRuns; i++) {
    const ctx = await context(browser, cfg.large.token);
    const page = await ctx.newPage();
    await page.goto("/projects", {waitUntil: "commit"});
    const t = await waitMark(page, "trackly:projects-rendered", 30000);
    // Let strips of rows in view draw and any trailing work finish.
    await page.waitForTimeout(1000);
    const lt = await page.evaluate(() => window.__longtasks);
    steps.push(await page.evaluate(() => {
      const res = performance.getEntriesByType("resource");
      const list = res.find((e) => new URL(e.name).pathname ===
                                   "/project/status");
      const js = res.find((e) => /\.js$/.test(new URL(e.name).pathname));
      return {js: js ? js.responseEnd : null,
              data_start: list ? list.startTime : null,
              data_end: list ? list.responseEnd : null,
              data_kb: list ? list.encodedBodySize / 1024 : null};
    }));
    rows = await page.locator("tbody tr").count();
    // Interactions: a sort and a status filter are applied synchronously
    // in their change handlers; timed from dispatch to the next frame.
    const interact = (sel, value) => page.evaluate(([s, v]) =>
      new Promise((resolve) => {
        const el = document.querySelector(s);
        const t0 = performance.now();
        el.value = v;
        el.dispatchEvent(new Event("change", {bubbles: true}));
        requestAnimationFrame(() => setTimeout(() =>
          resolve(performance.now() - t0), 0));
      }), [sel, value]);
    sortMs.push(await interact("#sort", "status"));
    filterMs.push(await interact("#status", "down"));
    if (i === 0)
      heap = await page.evaluate(() => performance.memory
        ? Math.round(performance.memory.usedJSHeapSize / 1048576 * 10) / 10
        : null);
    times.push(t);
    longest.push(lt.length ? Math.max(...lt.map((e) => e.duration)) : 0);
    blocking.push(lt.reduce((n, e) => n + Math.max(0, e.duration - 50), 0));
    await ctx.close();
  }
  return {runs: times.length, rows,
    rendered_ms: {median: round(median(times)), p90: round(pct(times, 90)),
                  max: round(Math.max(...times))},
    longest_task_ms: {median: round(median(longest)),
                      max: round(Math.max(...longest))},
    total_blocking_ms: {median: round(median(blocking))},
    sort_ms: {median: round(median(sortMs))},
    filter_ms: {median: round(median(filterMs))},
    js_heap_mib: heap,
    steps_ms: Object.fromEntries(Object.keys(steps[0]).map((k) =>
      [k, round(median(steps.map((x) => x[k]).filter((v) => v !== null)))]))};
}

const browser = await chromium.launch({executablePath: cfg.chromium ||
                                       "/usr/bin/chromium", args: ARGS});
try {
  const result = {chromium: browser.version(),
                  floor: await floor(browser),
                  dashboard: await dashboard(browser),
                  projects: await list(browser)};
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
