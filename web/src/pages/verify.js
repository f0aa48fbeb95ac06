// pages/verify.js - /verify?token=…, where the link in the verification
// mail lands.  Opening the page changes nothing: mail scanners open links,
// and some run their scripts too, so the address is confirmed only by the
// person pressing the button (POST /user/verify).

import {api} from "../api.js";
import {refreshChrome} from "../app.js";
import {h, mount} from "../dom.js";
import * as session from "../session.js";

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export async function verify(ctx) {
  ctx.title("Confirm your email address");
  const token = ctx.query.get("token") || "";
  // If this browser is signed in, say whose address this is and clear the
  // banner afterwards; if not, the page works just the same.
  if (!session.current() && session.wasSignedIn()) {
    try { await session.load(ctx.signal); } catch (e) { /* not signed in */ }
    if (!ctx.alive) return;
    refreshChrome();
  }

  const result = h("div", {class: "verify-result", role: "status",
                           "aria-live": "polite"});
  const invalid = () => mount(result, h("div", {class: "panel panel-error"},
    h("h2", null, "This link does not work"),
    h("p", null, "It has been used already, has expired (links last " +
      "7 days), or a newer mail replaced it."),
    session.current() && !session.current().email_verified
      ? h("p", null, "Use the button at the top of the page to get a new " +
          "link.")
      : session.current()
        ? h("p", null, "Your address is confirmed already.")
        : h("p", null, h("a", {href: "/login"}, "Sign in"),
            " to ask for a new link.")));

  if (!TOKEN.test(token)) {
    mount(ctx.main, h("h1", null, "Confirm your email address"), result);
    invalid();
    return;
  }

  const button = h("button", {type: "button", class: "button"},
                   "Confirm my email address");
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Confirming…";
    try {
      await api("POST", "/user/verify", {token}, {auth: false,
                                                  signal: ctx.signal});
    } catch (err) {
      if (!ctx.alive) return;
      button.remove();
      if (err.status === 400) invalid();
      else ctx.fail(err, result);
      return;
    }
    button.remove();
    const me = session.current();
    if (me) {
      session.set(Object.assign({}, me, {email_verified: true}));
      refreshChrome();
    }
    mount(result, h("div", {class: "panel panel-ok"},
      h("h2", null, "Your email address is confirmed"),
      h("p", null, "Trackly will mail you when one of your sites goes " +
        "down, and when it comes back."),
      h("p", null, h("a", {href: me ? "/dashboard" : "/login"},
        me ? "Go to your dashboard" : "Sign in"))));
  });

  mount(ctx.main,
    h("h1", null, "Confirm your email address"),
    session.current()
      ? h("p", null, "Confirm ", h("strong", {class: "address"}, session.current().email),
          " as the address for Trackly's alerts.")
      : h("p", null, "Confirm this address as the one Trackly sends " +
          "alerts to."),
    button, result);
}
