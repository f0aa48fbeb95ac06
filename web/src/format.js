// format.js - dates, durations and numbers in the reader's locale and time
// zone.  The API speaks RFC 3339 UTC; people read local time.

// Each formatter is made on first use: the first Intl object a fresh page
// makes costs some 40 ms (loading the locale's data), which must not delay
// the first screen of a page that shows no date.
function lazy(make) {
  let made = null;
  return () => made || (made = make());
}
const dateTimeFmt = lazy(() => new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium", timeStyle: "short"}));
const dateTimeSecFmt = lazy(() => new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium", timeStyle: "medium"}));
const timeFmt = lazy(() => new Intl.DateTimeFormat(undefined,
                                                   {timeStyle: "short"}));
const timeSecFmt = lazy(() => new Intl.DateTimeFormat(undefined,
                                                      {timeStyle: "medium"}));
const dayFmt = lazy(() => new Intl.DateTimeFormat(undefined,
  {month: "short", day: "numeric"}));
const hourFmt = lazy(() => new Intl.DateTimeFormat(undefined,
                                                   {hour: "numeric"}));
const intFmt = lazy(() => new Intl.NumberFormat());

// The collator lists sort names with ("project 9" before "project 10").
let collatorMade = null;
export function collator() {
  return collatorMade || (collatorMade = new Intl.Collator(undefined,
    {numeric: true, sensitivity: "base"}));
}

// Makes what a list needs (the first Intl object of a page costs tens of
// milliseconds: the locale's data loads), for a page to call while its
// request is in flight rather than after the answer.
export function warmForLists() {
  intFmt();
  collator();
}

export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const d = typeof value === "number" ? new Date(value * 1000)
                                      : new Date(value);
  return isNaN(d.getTime()) ? null : d;
}

export function dateTime(value, seconds) {
  const d = toDate(value);
  if (!d) return "—";
  return (seconds ? dateTimeSecFmt : dateTimeFmt)().format(d);
}

export function time(value, seconds) {
  const d = toDate(value);
  if (!d) return "—";
  return (seconds ? timeSecFmt : timeFmt)().format(d);
}

// True when value falls on today's date, here.
export function sameDay(value) {
  const d = toDate(value);
  return !!d && d.toDateString() === new Date().toDateString();
}

export function day(value) {
  const d = toDate(value);
  return d ? dayFmt().format(d) : "";
}

export function hour(value) {
  const d = toDate(value);
  return d ? hourFmt().format(d) : "";
}

// "5 min ago", "3 h ago", "2 days ago".  In the page's own language
// (English) rather than the reader's locale, like every other sentence on
// it; and Intl.RelativeTimeFormat costs over 100 ms to make in a fresh
// page on a slow machine, for three words.
export function relative(value, now) {
  const d = toDate(value);
  if (!d) return "never";
  const secs = Math.round((d.getTime() - (now || Date.now())) / 1000);
  const abs = Math.abs(secs);
  if (abs < 45) return "just now";
  let text;
  if (abs < 45 * 60) text = Math.round(abs / 60) + " min";
  else if (abs < 22 * 3600) text = Math.round(abs / 3600) + " h";
  else {
    const days = Math.round(abs / 86400);
    text = days + (days === 1 ? " day" : " days");
  }
  return secs < 0 ? text + " ago" : "in " + text;
}

// 3725 -> "1 h 2 min"; 42 -> "42 s".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s";
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hr = Math.floor(s / 3600); s -= hr * 3600;
  const m = Math.floor(s / 60);
  const parts = [];
  if (d) parts.push(d + " d");
  if (hr) parts.push(hr + " h");
  if (m && !d) parts.push(m + " min");
  return parts.join(" ");
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  return count(Math.round(value)) + " ms";
}

export function percent(value) {
  if (value === null || value === undefined) return "—";
  const v = Number(value);
  // 99.999 must not round up to 100: the difference is what people watch.
  const shown = v >= 100 ? "100" : (Math.floor(v * 100) / 100).toFixed(2);
  return shown + " %";
}

export function count(n) {
  return n < 1000 && n > -1000 ? String(n) : intFmt().format(n);
}
