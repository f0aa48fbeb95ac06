// chart.js - the response-time chart of a project's page, drawn as SVG.
//
// Input is what GET /project/{id}/series returns (buckets of 5 minutes for
// 24 h, of an hour for 7 and 30 days: at most 720 points, never raw rows)
// and the project's incidents.  The line is the mean response time per
// bucket; a red tick under the axis marks a bucket with a failed check; a
// red band marks each period the project was down.  Every bucket has a
// tooltip, and the chart as a whole a text summary for screen readers.
// It is redrawn at the width it is given, so text stays legible on a
// phone.

import {s, h} from "./dom.js";
import * as fmt from "./format.js";

const HEIGHT = 220;
const PAD = {left: 56, right: 12, top: 14, bottom: 30};

// The y axis: four steps of 1, 2 or 5 times a power of ten (at least
// 1 ms), so every label is a whole, round number of milliseconds.
function niceStep(max) {
  const raw = Math.max(1, max / 4);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function xTicks(from, to, range, width) {
  const span = to - from, out = [];
  const dayMs = 86400000, hourMs = 3600000;
  let step, label;
  if (range === "24h") {
    step = (width < 500 ? 6 : 3) * hourMs;
    label = fmt.hour;
  } else {
    step = (range === "7d" ? 1 : (width < 500 ? 10 : 5)) * dayMs;
    label = fmt.day;
  }
  // Align to local midnight / hours so ticks land on round times.
  const start = new Date(from);
  if (range === "24h") start.setMinutes(0, 0, 0);
  else start.setHours(0, 0, 0, 0);
  for (let t = start.getTime(); t <= to; t += step) {
    if (t < from) continue;
    out.push({t, text: label(new Date(t).toISOString())});
    if (out.length > 12) break;
  }
  return span > 0 ? out : [];
}

function draw(svg, width, data, incidents) {
  const from = Date.parse(data.from), to = Date.parse(data.to);
  const bucket = (data.bucket_seconds || 300) * 1000;
  const plotW = Math.max(50, width - PAD.left - PAD.right);
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + (t - from) / (to - from) * plotW;
  const points = data.points.filter((p) => p.avg_latency_ms !== null &&
                                           p.avg_latency_ms !== undefined);
  const step = niceStep(Math.max(0, ...points.map((p) => p.avg_latency_ms)) *
                       1.1);
  const ymax = step * 4;
  const y = (v) => PAD.top + plotH - v / ymax * plotH;
  const parts = [];

  svg.setAttribute("viewBox", "0 0 " + width + " " + HEIGHT);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(HEIGHT));

  // Down periods, under everything else.
  for (const inc of incidents) {
    const a = Math.max(from, Date.parse(inc.started_at));
    const b = Math.min(to, inc.resolved_at ? Date.parse(inc.resolved_at)
                                           : to);
    if (!(b > a)) continue;
    parts.push(s("rect", {class: "down-band", x: x(a).toFixed(1),
      y: PAD.top, width: Math.max(2, x(b) - x(a)).toFixed(1), height: plotH},
      s("title", null, "Down " + fmt.dateTime(inc.started_at) + " – " +
        (inc.resolved_at ? fmt.dateTime(inc.resolved_at) : "now") +
        (inc.cause ? " (" + inc.cause + ")" : ""))));
  }

  // Grid and y labels.
  for (let i = 0; i <= 4; i++) {
    const v = step * i, yy = y(v).toFixed(1);
    parts.push(s("line", {class: "grid", x1: PAD.left, x2: PAD.left + plotW,
                          y1: yy, y2: yy}));
    parts.push(s("text", {class: "axis", x: PAD.left - 6, y: yy,
                          "text-anchor": "end", "dominant-baseline": "middle"},
                 fmt.ms(v)));
  }
  for (const tick of xTicks(from, to, data.range, width)) {
    parts.push(s("text", {class: "axis", x: x(tick.t).toFixed(1),
                          y: HEIGHT - 8, "text-anchor": "middle"}, tick.text));
  }

  // The mean line, broken where there are no checks.
  let d = "", prev = null;
  for (const p of points) {
    const t = Date.parse(p.t) + bucket / 2;
    const cmd = prev !== null && t - prev <= bucket * 1.5 ? "L" : "M";
    d += cmd + x(t).toFixed(1) + " " + y(p.avg_latency_ms).toFixed(1);
    prev = t;
  }
  if (d) parts.push(s("path", {class: "latency", d}));
  // Dots where there are few points, so a lone bucket shows at all.
  if (points.length <= 100)
    for (const p of points) {
      const t = Date.parse(p.t) + bucket / 2;
      parts.push(s("circle", {class: "latency-dot", r: 3,
                              cx: x(t).toFixed(1),
                              cy: y(p.avg_latency_ms).toFixed(1)}));
    }

  // Failed checks, and a tooltip for every bucket.
  const bw = Math.max(2, bucket / (to - from) * plotW);
  for (const p of data.points) {
    const t0 = Date.parse(p.t);
    const xx = x(t0);
    const failed = p.checks - p.up;
    if (failed > 0)
      parts.push(s("rect", {class: "fail-tick", x: xx.toFixed(1),
                            y: PAD.top + plotH + 2, width: bw.toFixed(1),
                            height: 6}));
    parts.push(s("rect", {class: "hover", x: xx.toFixed(1), y: PAD.top,
                          width: bw.toFixed(1), height: plotH + 8},
      s("title", null, fmt.dateTime(p.t) + ": " +
        (p.avg_latency_ms !== null ? "mean " + fmt.ms(p.avg_latency_ms) +
          ", slowest " + fmt.ms(p.max_latency_ms) + ", " : "") +
        p.checks + (p.checks === 1 ? " check" : " checks") +
        (failed ? ", " + failed + " failed" : ""))));
  }
  parts.push(s("line", {class: "axis-line", x1: PAD.left, x2: PAD.left + plotW,
                        y1: PAD.top + plotH, y2: PAD.top + plotH}));
  svg.replaceChildren(...parts);
}

function summary(data, incidents) {
  const pts = data.points.filter((p) => p.avg_latency_ms !== null);
  if (!data.points.length) return "No checks in this period yet.";
  const checks = data.points.reduce((n, p) => n + p.checks, 0);
  const failed = data.points.reduce((n, p) => n + p.checks - p.up, 0);
  const mean = pts.length
    ? pts.reduce((n, p) => n + p.avg_latency_ms * p.checks, 0) /
      pts.reduce((n, p) => n + p.checks, 0) : null;
  const slowest = pts.length ? Math.max(...pts.map((p) => p.max_latency_ms))
                             : null;
  return fmt.count(checks) + " checks, " + fmt.count(failed) + " failed; " +
    "mean response time " + fmt.ms(mean) + ", slowest " + fmt.ms(slowest) +
    "; " + incidents.length + (incidents.length === 1 ? " down period."
                                                      : " down periods.");
}

// chart(data, incidents) -> a <figure> that draws itself at its width.
export function chart(data, incidents) {
  const overlapping = incidents.filter((i) =>
    !i.resolved_at || Date.parse(i.resolved_at) >= Date.parse(data.from));
  const text = summary(data, overlapping);
  const svg = s("svg", {class: "chart-svg", role: "img", "aria-label":
                        "Response time: " + text});
  const box = h("div", {class: "chart-box"}, data.points.length ? svg
    : h("p", {class: "chart-empty"}, "No checks in this period yet."));
  const fig = h("figure", {class: "chart"}, box,
    h("figcaption", null,
      h("span", {class: "key key-line"}, "mean response time"),
      h("span", {class: "key key-fail"}, "failed checks"),
      h("span", {class: "key key-down"}, "down"),
      h("span", {class: "chart-summary"}, text)));
  if (!data.points.length) return fig;
  let width = 0;
  const ro = new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w > 0 && w !== width) {
      width = w;
      draw(svg, w, data, overlapping);
    }
  });
  ro.observe(box);
  fig.disconnect = () => ro.disconnect();
  return fig;
}
