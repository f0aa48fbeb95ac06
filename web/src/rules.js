// rules.js - the server's input rules (api/input.c, common/validate.c),
// checked in the browser before a form is sent, so people see the problem
// next to the field at once.  The server stays the judge: it checks again
// and its answer is shown when it still refuses.  Each check returns an
// error message for the person, or "" when the value is fine.

const enc = new TextEncoder();

// The server trims ASCII white space only (common/validate.c); String's
// trim() would also take away no-break and other Unicode spaces.
export function asciiTrim(s) {
  return s.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");
}

export function bytes(s) {
  return enc.encode(s).length;
}

function chars(s) {
  let n = 0;
  for (const _ of s) n++;   // code points, as the server counts them
  return n;
}

export function email(v) {
  const s = asciiTrim(v);
  if (!s) return "Enter your email address";
  if (bytes(s) > 254) return "Email address must be at most 254 characters";
  // Printable ASCII without spaces or header-significant characters, one
  // @, a local part of 1 to 64 bytes and dot-separated domain labels.
  const domain = s.slice(s.indexOf("@") + 1);
  const labels = domain.split(".");
  if (/[^\x21-\x7e]|[<>()[\]\\,;:"]/.test(s) || !/^[^@]{1,64}@[^@]+$/.test(s) ||
      labels.some((label) => !label) || s.length < 3)
    return "Enter an email address like name@example.com";
  // The server's default (email_domain_public): a domain of two labels or
  // more whose last is not all digits, so no a@localhost, no a@127.0.0.1.
  // An operator's EMAIL_ALLOW_LOCAL_DOMAINS=1 lifts it on the server only;
  // this form keeps refusing them (docs/operations.md).
  if (labels.length < 2 || /^[0-9]+$/.test(labels[labels.length - 1]))
    return "Enter an address at a domain name, like name@example.com " +
           "(not a single name such as localhost, nor an IP address)";
  return "";
}

export function password(v) {
  const n = bytes(v);
  if (!n) return "Enter a password";
  if (n < 8) return "Password must be at least 8 characters";
  if (n > 1024) return "Password must be at most 1024 bytes";
  return "";
}

export function name(v) {
  if (!asciiTrim(v)) return "Enter a name";
  if (chars(v) > 200) return "Name must be at most 200 characters";
  return "";
}

export function description(v) {
  return chars(v) > 2000 ? "Description must be at most 2000 characters"
                         : "";
}

export function link(v) {
  const s = v;
  if (!s) return "Enter the link to check";
  if (bytes(s) > 2048) return "Link must be at most 2048 bytes";
  if (/[\x00-\x20\x7f]/.test(s)) return "Link must not contain spaces";
  const m = /^(https?):\/\/([^/?#]*)/i.exec(s);
  if (!m) return "Link must start with http:// or https://";
  const authority = m[2];
  if (authority.includes("@"))
    return "Link must not contain a user name or password";
  let host = authority, port = "";
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 2 || !/^[0-9a-fA-F:.]+$/.test(authority.slice(1, close)))
      return "Link has an invalid IPv6 address";
    const rest = authority.slice(close + 1);
    if (rest && !rest.startsWith(":")) return "Link has an invalid host";
    port = rest.slice(1);
    if (!rest) return "";
  } else {
    const colon = authority.indexOf(":");
    if (colon >= 0) {
      host = authority.slice(0, colon);
      port = authority.slice(colon + 1);
    } else {
      port = null;
    }
    if (!host) return "Link must have a host name";
    if (/[[\]<>\\"{}|^`%]/.test(host)) return "Link has an invalid host";
  }
  if (port !== null && port !== undefined &&
      (!/^\d{1,5}$/.test(port) || +port < 1 || +port > 65535))
    return "Link has an invalid port";
  return "";
}

export function intIn(label, v, min, max) {
  const s = String(v).trim();
  if (!s) return "Enter " + label;
  if (!/^\d+$/.test(s)) return label[0].toUpperCase() + label.slice(1) +
                               " must be a whole number";
  const n = Number(s);
  if (n < min || n > max)
    return label[0].toUpperCase() + label.slice(1) + " must be from " +
           min + " to " + max;
  return "";
}

export function timeout(v, intervalSeconds) {
  const e = intIn("the timeout", v, 100, 120000);
  if (e) return e;
  if (Number(intervalSeconds) > 0 && Number(v) >= intervalSeconds * 1000)
    return "Timeout must be shorter than the interval (" +
           intervalSeconds * 1000 + " ms)";
  return "";
}

// "200-399", "200,301-302": at most 16 codes or ranges from 100 to 599.
export function expectedStatus(v) {
  const items = v.split(",");
  const bad = "Expected status must be codes or ranges from 100 to 599, " +
              "like 200-399 or 200,301-302";
  if (items.length > 16) return "Expected status can have at most 16 parts";
  for (const raw of items) {
    const item = asciiTrim(raw);
    const m = /^(\d{3})[ \t\n\r\f\v]*(?:-[ \t\n\r\f\v]*(\d{3}))?$/
      .exec(item);
    if (!m) return bad;
    const lo = +m[1], hi = m[2] ? +m[2] : lo;
    if (lo < 100 || hi > 599 || lo > hi) return bad;
  }
  return "";
}

export function keyword(v) {
  return bytes(v) > 1024 ? "Keyword must be at most 1024 bytes" : "";
}
