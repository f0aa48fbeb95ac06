// app.js - the shell around every page: the route table, navigation
// (History API, so deep links and back/forward work), the header and the
// verification banner, and each page's lifetime.
//
// A page is an async function page(ctx) that renders into ctx.main.  ctx
// lives until the next navigation: ctx.signal aborts its requests,
// ctx.every() runs its refresh only while the tab is visible, and
// ctx.onLeave() cleans up.  Pages never navigate by assigning location;
// they call go(), or use plain <a href="/…"> links, which the shell
// intercepts.

import {api, ApiError, onUnauthorized} from "./api.js";
import {h, mount} from "./dom.js";
import * as session from "./session.js";

const routes = [];
let current = null;     // the PageContext on screen
let currentRoute = null;
let flash = null;       // one message for the next page: {text, kind}
let firstRender = true;
const cache = new Map();

// route(regexp, page, {public, nav}) adds a page; the regexp's groups are
// ctx.params.  Public pages need no session; nav names the header link it
// belongs to.
export function route(re, page, opts) {
  routes.push(Object.assign({re, page}, opts || {}));
}

// A message shown once, by the next page that renders.
export function setFlash(text, kind) {
  flash = {text, kind: kind || "info"};
}

export function takeFlash() {
  const f = flash;
  flash = null;
  if (!f) return null;
  return h("div", {class: "flash flash-" + f.kind, role: "status"}, f.text);
}

// The last data a page showed for key, so coming back to a page shows
// what was known at once while fresh data loads.
export function remember(key, data) {
  cache.set(key, data);
}

export function recall(key) {
  return cache.get(key);
}

export function go(path, opts) {
  const replace = opts && opts.replace;
  history[replace ? "replaceState" : "pushState"](null, "", path);
  render(!replace);
}

// A path from ?next= that is safe to go to: ours, not another site's.
export function safeNext(value) {
  if (!value || value[0] !== "/" || value[1] === "/" || value[1] === "\\")
    return "/dashboard";
  return value;
}

class PageContext {
  constructor(params, url) {
    this.params = params;
    this.url = url;
    this.query = url.searchParams;
    this.main = document.getElementById("main");
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.cleanups = [];
  }

  get alive() {
    return !this.signal.aborted;
  }

  title(text) {
    document.title = text ? text + " – Trackly" : "Trackly";
  }

  onLeave(fn) {
    this.cleanups.push(fn);
  }

  // Calls fn every `period` ms while the tab is visible, and at once when
  // the tab comes back after at least that long away.  fn may be async;
  // runs never overlap.
  every(period, fn) {
    const ms = typeof period === "function" ? period : () => period;
    let last = Date.now(), running = false, timer = null;
    const run = async () => {
      if (running || !this.alive || document.hidden) return;
      running = true;
      last = Date.now();
      try {
        await fn();
      } catch (e) {
        // The page's own fn reports its errors; a refresh must never
        // break the page.
      } finally {
        running = false;
      }
    };
    const onVisible = () => {
      if (!document.hidden && Date.now() - last >= ms()) run();
    };
    const schedule = () => {
      timer = setTimeout(async () => {
        await run();
        if (this.alive) schedule();
      }, ms());
    };
    schedule();
    document.addEventListener("visibilitychange", onVisible);
    this.onLeave(() => {
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    });
  }

  // A refresh that failed while the page still shows older data: say so
  // above that data (which stays), instead of replacing it.
  stale(err) {
    if (!this.alive || (err && err.name === "AbortError")) return;
    if (err instanceof ApiError && err.status === 401) return;
    if (!this.main.querySelector("h1")) return this.fail(err);
    let note = document.getElementById("stale-note");
    if (!note) {
      note = h("div", {id: "stale-note", class: "flash flash-warn",
                       role: "alert"});
      this.main.prepend(note);
    }
    note.textContent = (err && err.message ? err.message : String(err)) +
      " Showing what was known at " +
      new Date().toLocaleTimeString(undefined, {timeStyle: "short"}) + ".";
  }

  leave() {
    this.controller.abort();
    for (const fn of this.cleanups) {
      try { fn(); } catch (e) { /* leaving must not fail */ }
    }
    this.cleanups = [];
  }

  // Shows err in place of the page (or above it), unless the page has
  // been left or the error is a 401, which the shell already handles.
  fail(err, where) {
    if (!this.alive || (err && err.name === "AbortError")) return;
    if (err instanceof ApiError && err.status === 401) return;
    if (!(err instanceof ApiError)) console.error(err);
    const panel = errorPanel(err, () => render(false));
    if (where) mount(where, panel);
    else mount(this.main, panel);
  }
}

function errorPanel(err, retry) {
  const outage = err instanceof ApiError && err.outage;
  return h("div", {class: "panel panel-error", role: "alert"},
    h("h2", null, outage ? "Trackly is unavailable" : "Something went wrong"),
    h("p", null, err && err.message ? err.message : String(err)),
    retry ? h("button", {type: "button", class: "button secondary",
                         onclick: retry}, "Try again") : null);
}

// --- header and banner --------------------------------------------------

const NAV = [
  ["/dashboard", "Dashboard", "dashboard"],
  ["/projects", "Projects", "projects"],
  ["/status", "Status", "status"],
  ["/account", "Account", "account"],
];

async function signOut() {
  try {
    await api("POST", "/user/signout", undefined, {auth: false});
  } catch (e) {
    // Signed out or not, this tab forgets the account.
  }
  session.forget();
  cache.clear();
  setFlash("You have signed out.");
  go("/login", {replace: true});
}

function renderNav(r) {
  const nav = document.getElementById("nav");
  const signedIn = session.current() ||
                   (r && !r.public && session.wasSignedIn());
  if (!signedIn) {
    mount(nav, h("ul", null,
      h("li", null, h("a", {href: "/login",
        "aria-current": r && r.nav === "login" ? "page" : null}, "Sign in")),
      h("li", null, h("a", {href: "/register",
        "aria-current": r && r.nav === "register" ? "page" : null},
        "Create account"))));
    return;
  }
  mount(nav, h("ul", null,
    NAV.map(([href, label, key]) => h("li", null, h("a", {
      href, "aria-current": r && r.nav === key ? "page" : null}, label))),
    h("li", null, h("button", {type: "button", class: "link-button",
                               onclick: signOut}, "Sign out"))));
}

function renderBanner() {
  const el = document.getElementById("banner");
  const me = session.current();
  if (!me || me.email_verified) {
    mount(el);
    return;
  }
  const note = h("span", {class: "banner-note", role: "status"});
  const button = h("button", {type: "button", class: "button small"},
                   "Send the link again");
  button.addEventListener("click", async () => {
    button.disabled = true;
    note.textContent = "Sending…";
    try {
      await api("POST", "/user/verify/resend");
      note.textContent = "Sent. Check your inbox; links in earlier mails " +
                         "no longer work.";
    } catch (e) {
      if (e.status === 409) {
        session.set(Object.assign({}, me, {email_verified: true}));
        renderBanner();
        return;
      }
      note.textContent = e.message[0].toUpperCase() + e.message.slice(1) +
                         (e.status === 429 ? "." : "");
    } finally {
      button.disabled = false;
    }
  });
  mount(el, h("div", {class: "banner", role: "region",
                      "aria-label": "Email address not confirmed"},
    h("p", null, h("strong", null, "Alerts are not sent until you confirm " +
                   "your address. "),
      "The confirmation link goes to ",
      h("span", {class: "address"}, me.email), ". "),
    button, note));
}

export function refreshChrome() {
  renderNav(currentRoute);
  renderBanner();
}

// --- rendering a route -----------------------------------------------------

function notFound(ctx) {
  ctx.title("Not found");
  mount(ctx.main,
    h("h1", null, "Page not found"),
    h("p", null, "There is nothing at ", h("code", null, ctx.url.pathname),
      "."),
    h("p", null, h("a", {href: "/"}, "Go to the start page")));
}

async function render(push) {
  const url = new URL(location.href);
  let r = null, m = null;
  for (const candidate of routes) {
    m = candidate.re.exec(url.pathname);
    if (m) { r = candidate; break; }
  }
  if (current) current.leave();
  const ctx = new PageContext(m ? m.slice(1) : [], url);
  current = ctx;
  currentRoute = r;
  const main = ctx.main;
  main.setAttribute("aria-busy", "true");

  if (r && !r.public && !session.current()) {
    if (!session.wasSignedIn()) {
      go("/login?next=" + encodeURIComponent(url.pathname + url.search),
         {replace: true});
      return;
    }
    // Who is signed in is asked for alongside the page's own data, not
    // before it: one round trip less before anything useful shows.  The
    // header and banner follow when the answer comes.
    session.load(ctx.signal).then(() => {
      if (ctx.alive) refreshChrome();
    }, (e) => {
      if (!ctx.alive || !(e instanceof ApiError) || e.status !== 401) return;
      setFlash("Your session has ended. Sign in again to go on where you " +
               "were.", "warn");
      session.forget();
      cache.clear();
      go("/login?next=" + encodeURIComponent(url.pathname + url.search),
         {replace: true});
    });
  }
  refreshChrome();
  if (push) window.scrollTo(0, 0);
  try {
    if (r) await r.page(ctx);
    else notFound(ctx);
  } catch (e) {
    ctx.fail(e);
  }
  if (!ctx.alive) return;
  main.removeAttribute("aria-busy");
  // After a navigation, put keyboard and screen-reader focus on the new
  // page's heading, as a full page load would.
  if (!firstRender) {
    const h1 = main.querySelector("h1");
    if (h1) {
      h1.setAttribute("tabindex", "-1");
      h1.focus({preventScroll: true});
    }
  }
  firstRender = false;
}

// Same-origin links navigate inside the app unless the reader asked for a
// new tab or window, or the link leaves the app (download, other origin).
function onClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey ||
      e.shiftKey || e.altKey) return;
  const a = e.target.closest("a");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  const samePage = url.pathname + url.search ===
                   location.pathname + location.search;
  if (samePage && url.hash) return;       // an anchor on this page
  e.preventDefault();
  if (!samePage) go(url.pathname + url.search + url.hash);
}

export function start() {
  onUnauthorized(() => {
    if (!currentRoute || currentRoute.public) {
      session.forget();
      return;
    }
    const here = location.pathname + location.search;
    session.forget();
    cache.clear();
    setFlash("Your session has ended. Sign in again to go on where you " +
             "were.", "warn");
    go("/login?next=" + encodeURIComponent(here), {replace: true});
  });
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", () => render(false));
  render(false);
}
