// pages/auth.js - /login and /register.
//
// Signing in sets the session cookie (HttpOnly, SameSite=Strict) from
// POST /user/login; the page then reads the account and goes on to the
// page the person wanted (?next=, ours only) or the dashboard.

import {api} from "../api.js";
import {go, safeNext, takeFlash, refreshChrome} from "../app.js";
import {h, mount} from "../dom.js";
import {field, form, showErrors, busy, apiErrors} from "../form.js";
import * as rules from "../rules.js";
import * as session from "../session.js";

// Someone who is signed in and opens /login or /register goes straight on.
async function alreadySignedIn(ctx) {
  if (session.current()) return true;
  if (!session.wasSignedIn()) return false;
  try {
    await session.load(ctx.signal);
    return true;
  } catch (e) {
    return false;
  }
}

function retryText(err) {
  if (!err.retryAfter) return err.message;
  const mins = Math.ceil(err.retryAfter / 60);
  return "Too many attempts. Try again in " +
         (mins > 1 ? mins + " minutes" : "a minute") + ".";
}

async function signIn(email, password, signal) {
  await api("POST", "/user/login", {email, password}, {auth: false, signal});
  await session.load(signal);
}

export async function login(ctx) {
  ctx.title("Sign in");
  const next = safeNext(ctx.query.get("next"));
  const flash = takeFlash();
  if (!flash && await alreadySignedIn(ctx)) {
    go(next, {replace: true});
    return;
  }
  if (!ctx.alive) return;
  session.forget();
  refreshChrome();

  const f = form({class: "narrow", "aria-labelledby": "h-login"},
    field({name: "email", label: "Email address", type: "email",
           autocomplete: "username", spellcheck: "false",
           autocapitalize: "none"}),
    field({name: "password", label: "Password", type: "password",
           autocomplete: "current-password"}),
    h("button", {type: "submit", class: "button"}, "Sign in"));

  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const email = rules.asciiTrim(f.email.value), password = f.password.value;
    const errors = [];
    if (!email) errors.push({name: "email", message: "Enter your email address"});
    if (!password) errors.push({name: "password", message: "Enter your password"});
    if (errors.length) return showErrors(f, errors);
    await busy(f, "Signing in…", async () => {
      try {
        await signIn(email, password, ctx.signal);
        go(next, {replace: true});
      } catch (err) {
        if (!ctx.alive) return;
        if (err.status === 401)
          showErrors(f, [{name: "email", message:
            "The email address or password is not right"}]);
        else if (err.status === 429)
          showErrors(f, [{name: null, message: retryText(err)}]);
        else
          showErrors(f, apiErrors(f, err));
      }
    });
  });

  mount(ctx.main,
    flash,
    h("h1", {id: "h-login"}, "Sign in"),
    f,
    h("p", null, "No account yet? ", h("a", {href: "/register"},
      "Create an account"), "."));
}

export async function register(ctx) {
  ctx.title("Create an account");
  if (await alreadySignedIn(ctx)) {
    go("/dashboard", {replace: true});
    return;
  }
  if (!ctx.alive) return;
  refreshChrome();

  const f = form({class: "narrow", "aria-labelledby": "h-register"},
    field({name: "email", label: "Email address", type: "email",
           hint: "Trackly sends alerts here, once you have confirmed it.",
           autocomplete: "email", spellcheck: "false",
           autocapitalize: "none"}),
    field({name: "password", label: "Password", type: "password",
           hint: "At least 8 characters.",
           autocomplete: "new-password"}),
    h("button", {type: "submit", class: "button"}, "Create account"));

  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const email = rules.asciiTrim(f.email.value), password = f.password.value;
    const errors = [];
    const ee = rules.email(email), pe = rules.password(password);
    if (ee) errors.push({name: "email", message: ee});
    if (pe) errors.push({name: "password", message: pe});
    if (errors.length) return showErrors(f, errors);
    await busy(f, "Creating your account…", async () => {
      try {
        await api("POST", "/user/register", {email, password},
                  {auth: false, signal: ctx.signal});
      } catch (err) {
        if (!ctx.alive) return;
        if (err.status === 409)
          showErrors(f, [{name: "email", message:
            "An account with this email address already exists. " +
            "Sign in instead."}]);
        else if (err.status === 429)
          showErrors(f, [{name: null, message: retryText(err)}]);
        else
          showErrors(f, apiErrors(f, err));
        return;
      }
      try {
        await signIn(email, password, ctx.signal);
      } catch (err) {
        go("/login", {replace: true});
        return;
      }
      go("/dashboard?welcome=1", {replace: true});
    });
  });

  mount(ctx.main,
    h("h1", {id: "h-register"}, "Create an account"),
    h("p", {class: "lead"}, "Trackly checks your sites every minute or " +
      "so and mails you when one goes down, and when it comes back."),
    f,
    h("p", null, "Already have an account? ",
      h("a", {href: "/login"}, "Sign in"), "."));
}
