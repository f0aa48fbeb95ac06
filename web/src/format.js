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
const relFmt = lazy(() => new Intl.RelativeTimeFormat(undefined,
                                                      {numeric: "auto"}));
const intFmt = lazy(() => new Intl.NumberFormat());

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

// "5 minutes ago", "yesterday".
export function relative(value, now) {
  const d = toDate(value);
  if (!d) return "never";
  const secs = Math.round((d.getTime() - (now || Date.now())) / 1000);
  const abs = Math.abs(secs);
  if (abs < 45) return secs <= 0 ? "just now" : "in a few seconds";
  if (abs < 45 * 60) return relFmt().format(Math.round(secs / 60), "minute");
  if (abs < 22 * 3600) return relFmt().format(Math.round(secs / 3600), "hour");
  return relFmt().format(Math.round(secs / 86400), "day");
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
