// session.js - who is signed in, as far as this tab knows.
//
// The token itself lives in an HttpOnly cookie this script cannot read;
// what the client keeps is the account it belongs to (GET /user/me) and a
// cookie of its own, trackly_signed_in=1, saying "this browser was signed
// in".  Without it a visitor goes straight to the sign-in page, with no
// request that must fail first; with it, a 401 means "your session ended"
// (expired, revoked, signed out on another device) and the page says so.

import {api} from "./api.js";

const MARK = "trackly_signed_in";
const YEAR = 365 * 86400;
let me = null;

function mark(on) {
  document.cookie = MARK + "=" + (on ? "1" : "") + "; Path=/; Max-Age=" +
    (on ? YEAR : 0) + "; SameSite=Strict" +
    (location.protocol === "https:" ? "; Secure" : "");
}

export function current() {
  return me;
}

export function wasSignedIn() {
  return document.cookie.split("; ").includes(MARK + "=1");
}

// Reads the account behind the cookie; throws the ApiError (401 when there
// is no session).
let loading = null;

export function load(signal, auth) {
  const p = api("GET", "/user/me", undefined, {signal, auth: !!auth})
    .then((r) => {
      me = r.data;
      mark(true);
      return me;
    });
  loading = p;
  p.catch(() => {}).then(() => { if (loading === p) loading = null; });
  return p;
}

// The account as the server has it now: the load in flight, or a new one
// (a 401 ends the session as any page's request would).
export function fresh(signal) {
  return loading || load(signal, true);
}

// The account, once the load in flight (if any) has answered; null when
// it failed.
export async function ready() {
  if (loading) {
    try { await loading; } catch (e) { return null; }
  }
  return me;
}

export function set(account) {
  me = account;
  mark(true);
}

export function forget() {
  me = null;
  mark(false);
}

// The limits the server enforces on this account, with the documented
// defaults until /user/me has said.
export function limits() {
  const l = (me && me.limits) || {};
  return {
    minInterval: Number(l.min_interval_seconds) || 60,
    maxProjects: Number(l.max_projects) || 100,
  };
}
