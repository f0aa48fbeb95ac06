// session.js - who is signed in, as far as this tab knows.
//
// The token itself lives in an HttpOnly cookie this script cannot read;
// what the client keeps is the account it belongs to (GET /user/me) and,
// in localStorage, one flag saying "this browser was signed in", so that a
// 401 can tell "your session ended" (expired, revoked, signed out on
// another device) from a first visit.

import {api} from "./api.js";

const MARK = "trackly.signed-in";
let me = null;

function mark(on) {
  try {
    if (on) localStorage.setItem(MARK, "1");
    else localStorage.removeItem(MARK);
  } catch (e) {
    // Storage may be off (private mode); the flag is only a nicety.
  }
}

export function current() {
  return me;
}

export function wasSignedIn() {
  try {
    return localStorage.getItem(MARK) === "1";
  } catch (e) {
    return false;
  }
}

// Reads the account behind the cookie; throws the ApiError (401 when there
// is no session).
export async function load(signal) {
  const r = await api("GET", "/user/me", undefined, {signal, auth: false});
  me = r.data;
  mark(true);
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
