// api.js - the one door to Trackly's API.
//
// Every request goes out with the session cookie (set HttpOnly by
// /user/login, so this script never sees the token) and the header
// X-Requested-With: trackly, without which the API refuses a cookie
// (docs/security.md, the CSRF defence).  Answers become data or an
// ApiError carrying the API's own {"error": …} text, the field it names
// ("field 'link' must …" -> "link") and a plain-language line for the
// cases people cannot act on themselves (server away, database away).
// A 401 on an authenticated call ends the session in one place (the
// handler app.js installs), whatever page made the call.  An answer that
// says "busy, retry in a second" (429 while every password-hashing slot
// is taken, 503 when a record is locked by another request; both with a
// short Retry-After, and neither did anything) is retried once after
// that wait, so two people signing in at the same moment both get in.

export class ApiError extends Error {
  constructor(status, message, extra) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = (extra && extra.field) || null;
    this.retryAfter = (extra && extra.retryAfter) || null;
    this.outage = status === 0 || status === 502 || status === 503 ||
                  status === 504;
  }
}

let unauthorizedHandler = null;

// fn(error) is called once per 401 from an authenticated call.
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

const FIELD = /^field '([a-z_]+)'/;

// The API's own "try again shortly" answers (docs/bounds.md): nothing was
// done, so asking once more is safe whatever the method.
const BUSY_RETRY_MAX_SECONDS = 2;

function retryableBusy(status, retryAfter) {
  return (status === 429 || status === 503) && retryAfter > 0 &&
         retryAfter <= BUSY_RETRY_MAX_SECONDS;
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new DOMException("aborted", "AbortError"));
    }, {once: true});
  });
}

function outageMessage(status, apiText) {
  if (status === 0)
    return "Trackly cannot be reached. Check your connection; " +
           "this page tries again by itself.";
  if (apiText === "database unavailable")
    return "Trackly's database is unavailable right now. Nothing is lost; " +
           "this page tries again by itself.";
  return "Trackly is not answering right now (HTTP " + status + "). " +
         "This page tries again by itself.";
}

// api(method, path, body?, opts?) -> {status, data, headers}
//   opts.auth (default true): a 401 ends the session.
//   opts.signal: an AbortSignal (the page's, so leaving it cancels).
//   opts.retried: set on the one repeat of a busy answer.
export async function api(method, path, body, opts) {
  const o = opts || {};
  const headers = {"Accept": "application/json",
                   "X-Requested-With": "trackly"};
  const init = {method, headers, credentials: "same-origin",
                cache: "no-store", signal: o.signal};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, outageMessage(0));
  }
  let data = null;
  const text = await r.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (r.ok) return {status: r.status, data, headers: r.headers};

  const apiText = data && typeof data.error === "string" ? data.error : "";
  const retryAfter = Number(r.headers.get("Retry-After")) || null;
  if (!o.retried && apiText && retryableBusy(r.status, retryAfter)) {
    await pause(retryAfter * 1000, o.signal);
    return api(method, path, body, Object.assign({}, o, {retried: true}));
  }
  const m = FIELD.exec(apiText);
  const err = new ApiError(r.status, apiText || "HTTP " + r.status, {
    field: m ? m[1] : null,
    retryAfter,
  });
  // A locked record is not an outage: say what the API said.
  if (err.outage && !(r.status === 503 && retryAfter && apiText))
    err.message = outageMessage(r.status, apiText);
  if (r.status === 401 && o.auth !== false && unauthorizedHandler)
    unauthorizedHandler(err);
  throw err;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
