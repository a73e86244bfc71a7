/**
 * A small line-chart renderer: a chart spec in, SVG text out. No dependencies, no DOM, no Node API,
 * so it runs in browsers too; turning the SVG into a PNG is the Node edge's job (src/node/png.ts).
 *
 *   axes:    linear (ticks at 1-2-5 steps) or log (ticks at decades, minor ticks at 2..9)
 *   series:  lines, optionally dashed, with optional markers; non-finite points (and, on a log
 *            axis, non-positive ones) are skipped and break the line
 *   legend:  a box in whichever plot corner covers the fewest data, or right of the plot
 *
 * Text is `font-family="sans-serif"` at explicit pixel sizes; layout estimates text widths, so the
 * chart looks right with any common sans-serif font.
 */

/** One data point: [x, y]. */
export type Point = readonly [x: number, y: number];

/** Axis scale. A log axis draws only points with a positive coordinate on it. */
export type AxisScale = "linear" | "log";

/** Where the legend goes; "auto" picks the plot corner that covers the fewest data points. */
export type LegendPlacement = "auto" | "top-right" | "top-left" | "bottom-right" | "bottom-left" | "right" | "none";

/** One line (or marker set) of a chart. */
export interface LineSeries {
  /** Legend text. */
  readonly name: string;
  readonly points: readonly Point[];
  /** Any SVG color; default: the next color of a ten-color palette. */
  readonly color?: string;
  readonly dashed?: boolean;
  /** Draw a dot at every point. */
  readonly markers?: boolean;
  /** false: markers only, no line (default true). */
  readonly line?: boolean;
  /** Stroke width in pixels (default 2). */
  readonly lineWidth?: number;
  /** Stroke opacity in [0, 1] (default 1): e.g. a faint raw series under a smoothed one. */
  readonly opacity?: number;
  /** Leave this series out of the legend. */
  readonly hideInLegend?: boolean;
}

/** An axis range; a missing bound comes from the data. */
export interface AxisRange {
  readonly min?: number;
  readonly max?: number;
}

/** Everything a line chart can be told. */
export interface LineChartSpec {
  readonly title?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly series: readonly LineSeries[];
  /** Default "linear". */
  readonly xScale?: AxisScale;
  /** Default "linear". */
  readonly yScale?: AxisScale;
  /** The x values are whole numbers (steps, counts): no ticks between them on a linear x axis. */
  readonly xIntegers?: boolean;
  readonly xRange?: AxisRange;
  readonly yRange?: AxisRange;
  /** Pixels (default 900). */
  readonly width?: number;
  /** Pixels (default 540). */
  readonly height?: number;
  /** Default "auto". */
  readonly legend?: LegendPlacement;
  /** Prefix of the SVG element ids (default "chart"): give each chart its own when inlining several into one page. */
  readonly id?: string;
}

/** Matplotlib's "tab10" palette. */
export const PALETTE: readonly string[] = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

const FONT = { title: 17, label: 14, tick: 12, legend: 13, empty: 16 } as const;
const TICK_LEN = 5;
const TEXT = "#222";
const MUTED = "#555";
const GRID = "#e3e3e3";
const MINOR_GRID = "#f1f1f1";
const FRAME = "#9a9a9a";

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] as string);
}

/** A pixel coordinate as short text. */
export function px(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

/** A 1-pixel line's coordinate, on a half pixel so it renders crisp. */
export function crisp(v: number): number {
  return Math.round(v - 0.5) + 0.5;
}

/** Estimated width of text in a sans-serif font (DejaVu Sans is among the widest: ~0.6 em per digit). */
export function textWidth(s: string, size: number): number {
  let em = 0;
  for (const ch of s) {
    if (/[0-9]/.test(ch)) em += 0.64;
    else if (/[ .,:;'|!il()[\]⁰¹²³⁴⁵⁶⁷⁸⁹⁻]/.test(ch)) em += 0.34;
    else if (/[A-Z—×mwMW%]/.test(ch)) em += 0.78;
    else em += 0.6;
  }
  return em * size;
}

// ---------------------------------------------------------------------------------------------
// Ticks and number formatting

const SUPERSCRIPT: Record<string, string> = {
  "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻",
};

/** "−" (a real minus sign) instead of "-". */
function minus(s: string): string {
  return s.replace(/^-/, "−");
}

/** 10⁻³ style: a power of ten with a superscript exponent. */
function powerOfTen(k: number): string {
  return "10" + String(k).replace(/./g, (c) => SUPERSCRIPT[c] ?? c);
}

/** m×10ᵏ for values too large or small for plain decimals; plain decimals otherwise. */
function formatSignificant(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return minus(String(Number(v.toPrecision(6))));
  const k = Math.floor(Math.log10(a) + 1e-9);
  const m = Number((v / 10 ** k).toPrecision(3));
  return minus(m === 1 ? powerOfTen(k) : m === -1 ? "-" + powerOfTen(k) : `${m}×${powerOfTen(k)}`);
}

/** The 1-2-5 step nearest above `raw`. */
export function niceStep(raw: number): number {
  const k = Math.floor(Math.log10(raw));
  const base = 10 ** k;
  const f = raw / base;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return m * base;
}

interface Tick {
  readonly value: number;
  readonly label: string;
}

/** Linear ticks: multiples of a 1-2-5 step (at least `minStep`) inside [lo, hi], about `target` of them. */
export function linearTicks(lo: number, hi: number, target: number, minStep = 0): Tick[] {
  const step = Math.max(minStep, niceStep((hi - lo) / Math.max(1, target)));
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const maxAbs = Math.max(Math.abs(first * step), Math.abs(last * step));
  // Suffixes keep large step counts short (250k); tiny values go to m×10ᵏ.
  const [div, suffix] = maxAbs >= 1e9 ? [1e9, "G"] : maxAbs >= 1e6 ? [1e6, "M"] : maxAbs >= 1e5 ? [1e3, "k"] : [1, ""];
  // Tiny values share one power of ten: 1×10⁻⁵, 2×10⁻⁵, …
  const k = maxAbs > 0 && maxAbs < 1e-3 ? Math.floor(Math.log10(maxAbs) + 1e-9) : 0;
  const unitValue = k !== 0 ? 10 ** k : div;
  const decimals = Math.max(0, -Math.floor(Math.log10(step / unitValue) + 1e-9));
  const ticks: Tick[] = [];
  for (let i = first; i <= last; i++) {
    const v = i * step;
    const m = minus((v / unitValue).toFixed(decimals));
    const label = i === 0 ? "0" : k !== 0 ? `${m}×${powerOfTen(k)}` : m + suffix;
    ticks.push({ value: i === 0 ? 0 : v, label });
  }
  return ticks;
}

/** m·10ᵏ, exactly as the decimal literal "me k" parses (10 ** -5 is 0.000009999999999999999). */
function pow10(k: number, m = 1): number {
  return Number(`${m}e${k}`);
}

/**
 * Log ticks: labeled decades with minor ticks at 2..9; over less than two decades, labeled 1-2-5
 * (or every integer multiple, or linear ticks) so the axis still carries numbers.
 */
export function logTicks(lo: number, hi: number, target: number): { majors: Tick[]; minors: number[] } {
  const kLo = Math.floor(Math.log10(lo) + 1e-9);
  const kHi = Math.floor(Math.log10(hi) + 1e-9);
  const inside = (v: number): boolean => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  const decades: number[] = [];
  for (let k = kLo; k <= kHi; k++) if (inside(pow10(k))) decades.push(k);
  if (decades.length >= 2) {
    const every = Math.max(1, Math.ceil(decades.length / Math.max(2, target)));
    const shown = decades.filter((k) => k % every === 0);
    // Plain numbers (0.01, 100) while all are short; otherwise 10ᵏ for every label alike.
    const plain = shown.every((k) => k >= -3 && k <= 4);
    const majors = shown.map((k) => ({ value: pow10(k), label: plain ? formatSignificant(pow10(k)) : minus(powerOfTen(k)) }));
    const minors: number[] = [];
    for (let k = kLo; k <= kHi; k++) {
      if (every === 1) {
        for (let m = 2; m <= 9; m++) if (inside(pow10(k, m))) minors.push(pow10(k, m));
      } else if (k % every !== 0 && inside(pow10(k))) minors.push(pow10(k));
    }
    return { majors, minors };
  }
  // Less than two decades: label mantissas.
  for (const set of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const vals: number[] = [];
    for (let k = kLo; k <= kHi; k++) for (const m of set) if (inside(pow10(k, m))) vals.push(pow10(k, m));
    if (vals.length >= 3 || (set.length === 9 && vals.length >= 2)) {
      const majors = vals.map((v) => ({ value: v, label: formatSignificant(v) }));
      const minors: number[] = [];
      for (let k = kLo; k <= kHi; k++) {
        for (let m = 1; m <= 9; m++) {
          const v = pow10(k, m);
          if (inside(v) && !vals.includes(v)) minors.push(v);
        }
      }
      return { majors, minors };
    }
  }
  // A sliver of a decade: linear ticks read best.
  return { majors: linearTicks(lo, hi, target), minors: [] };
}

// ---------------------------------------------------------------------------------------------
// Axes

interface Axis {
  readonly scale: AxisScale;
  /** Domain in data units. */
  readonly lo: number;
  readonly hi: number;
}

/** Data → [0, 1] along an axis. */
function unit(a: Axis, v: number): number {
  return a.scale === "log" ? (Math.log10(v) - Math.log10(a.lo)) / (Math.log10(a.hi) - Math.log10(a.lo)) : (v - a.lo) / (a.hi - a.lo);
}

function usable(scale: AxisScale, v: number): boolean {
  return Number.isFinite(v) && (scale === "linear" || v > 0);
}

/** The axis domain: the data's extent (padded by `pad` of its span where not fixed), or the given range. */
function makeAxis(scale: AxisScale, values: readonly number[], range: AxisRange | undefined, pad: number): Axis {
  const fixedLo = range?.min !== undefined && usable(scale, range.min);
  const fixedHi = range?.max !== undefined && usable(scale, range.max);
  const f = scale === "log" ? Math.log10 : (v: number) => v;
  const g = scale === "log" ? (v: number) => 10 ** v : (v: number) => v;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!usable(scale, v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) [lo, hi] = scale === "log" ? [1, 10] : [0, 1];
  let a = fixedLo ? f(range!.min!) : f(lo);
  let b = fixedHi ? f(range!.max!) : f(hi);
  if (a > b) [a, b] = [b, a];
  if (a === b) {
    // One value: a span around it (a tenth of it, or a decade on a log axis).
    const half = scale === "log" ? 0.5 : Math.abs(a) * 0.1 || 1;
    if (!fixedLo || fixedHi) a -= half;
    if (!fixedHi || fixedLo) b += half;
  } else {
    const span = b - a;
    if (!fixedLo) a -= pad * span;
    if (!fixedHi) b += pad * span;
  }
  return { scale, lo: g(a), hi: g(b) };
}

function axisTicks(a: Axis, lengthPx: number, spacingPx: number, minStep = 0): { majors: Tick[]; minors: number[] } {
  const target = Math.max(2, Math.floor(lengthPx / spacingPx));
  return a.scale === "log" ? logTicks(a.lo, a.hi, target) : { majors: linearTicks(a.lo, a.hi, target, minStep), minors: [] };
}

// ---------------------------------------------------------------------------------------------
// Series geometry

interface Drawn {
  readonly series: LineSeries;
  readonly color: string;
  /** Runs of pixel points, split where a point is skipped. */
  readonly runs: readonly (readonly Point[])[];
  readonly count: number;
}

interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Pixel runs of a series; points that an axis cannot show break the line. */
function project(s: LineSeries, ax: Axis, ay: Axis, plot: Rect): { runs: Point[][]; count: number } {
  const runs: Point[][] = [];
  let run: Point[] = [];
  let count = 0;
  for (const p of s.points) {
    const [x, y] = p ?? [NaN, NaN];
    if (!usable(ax.scale, x) || !usable(ay.scale, y)) {
      if (run.length > 0) runs.push(run);
      run = [];
      continue;
    }
    run.push([plot.x + unit(ax, x) * plot.w, plot.y + (1 - unit(ay, y)) * plot.h]);
    count++;
  }
  if (run.length > 0) runs.push(run);
  return { runs, count };
}

/**
 * Thins a dense run to at most four points per pixel column (first, lowest, highest, last), which
 * draws the same picture as every point; runs whose x goes backward are left alone.
 */
function thin(run: readonly Point[]): readonly Point[] {
  if (run.length < 2000) return run;
  for (let i = 1; i < run.length; i++) if (run[i][0] < run[i - 1][0]) return run;
  const out: Point[] = [];
  let i = 0;
  while (i < run.length) {
    const col = Math.floor(run[i][0]);
    let j = i;
    let lo = i;
    let hi = i;
    while (j + 1 < run.length && Math.floor(run[j + 1][0]) === col) {
      j++;
      if (run[j][1] < run[lo][1]) lo = j;
      if (run[j][1] > run[hi][1]) hi = j;
    }
    for (const k of [...new Set([i, Math.min(lo, hi), Math.max(lo, hi), j])].sort((a, b) => a - b)) out.push(run[k]);
    i = j + 1;
  }
  return out;
}

function pathData(runs: readonly (readonly Point[])[]): string {
  const parts: string[] = [];
  for (const run of runs) {
    const r = thin(run);
    parts.push(r.map((p, i) => `${i === 0 ? "M" : "L"}${px(p[0])} ${px(p[1])}`).join(""));
  }
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Legend

const LEGEND = { pad: 9, row: 21, swatch: 28, gap: 8, inset: 10 } as const;

function legendSize(entries: readonly Drawn[]): { w: number; h: number } {
  const textW = Math.max(...entries.map((e) => textWidth(e.series.name, FONT.legend)));
  return { w: LEGEND.pad * 2 + LEGEND.swatch + LEGEND.gap + textW, h: LEGEND.pad * 2 + LEGEND.row * entries.length - 4 };
}

/** How many drawn samples (points, and every few pixels along lines) fall inside a box. */
function coverage(drawn: readonly Drawn[], box: Rect): number {
  const m = 4;
  const inBox = (x: number, y: number): boolean => x >= box.x - m && x <= box.x + box.w + m && y >= box.y - m && y <= box.y + box.h + m;
  let n = 0;
  for (const d of drawn) {
    for (const run of d.runs) {
      for (let i = 0; i < run.length; i++) {
        const [x, y] = run[i];
        if (inBox(x, y)) n++;
        if (i + 1 < run.length && d.series.line !== false) {
          const [x2, y2] = run[i + 1];
          const steps = Math.min(50, Math.floor(Math.hypot(x2 - x, y2 - y) / 3));
          for (let s = 1; s < steps; s++) if (inBox(x + ((x2 - x) * s) / steps, y + ((y2 - y) * s) / steps)) n++;
        }
      }
    }
  }
  return n;
}

function cornerBox(corner: Exclude<LegendPlacement, "auto" | "none" | "right">, plot: Rect, size: { w: number; h: number }): Rect {
  const left = corner.endsWith("left");
  const top = corner.startsWith("top");
  return {
    x: left ? plot.x + LEGEND.inset : plot.x + plot.w - LEGEND.inset - size.w,
    y: top ? plot.y + LEGEND.inset : plot.y + plot.h - LEGEND.inset - size.h,
    w: size.w,
    h: size.h,
  };
}

function legendSvg(entries: readonly Drawn[], box: Rect): string {
  const out: string[] = [];
  out.push(`<g class="legend">`);
  out.push(`<rect x="${px(crisp(box.x))}" y="${px(crisp(box.y))}" width="${px(Math.round(box.w))}" height="${px(Math.round(box.h))}" rx="3" fill="#ffffff" fill-opacity="0.92" stroke="#cccccc" stroke-width="1"/>`);
  entries.forEach((e, i) => {
    const cy = box.y + LEGEND.pad + 8 + i * LEGEND.row;
    const x1 = box.x + LEGEND.pad;
    const x2 = x1 + LEGEND.swatch;
    const s = e.series;
    if (s.line !== false) {
      const w = Math.max(s.lineWidth ?? 2, 2);
      const opacity = Math.max(s.opacity ?? 1, 0.45);
      out.push(`<line x1="${px(x1)}" y1="${px(cy)}" x2="${px(x2)}" y2="${px(cy)}" stroke="${escapeXml(e.color)}" stroke-width="${w}"${opacity < 1 ? ` stroke-opacity="${opacity}"` : ""}${s.dashed ? ` stroke-dasharray="6 4"` : ""}/>`);
    }
    if (s.markers || s.line === false || e.count === 1) out.push(marker((x1 + x2) / 2, cy, e.color));
    out.push(`<text x="${px(x2 + LEGEND.gap)}" y="${px(cy + FONT.legend * 0.36)}" font-size="${FONT.legend}" fill="${TEXT}">${escapeXml(s.name)}</text>`);
  });
  out.push(`</g>`);
  return out.join("\n");
}

function marker(x: number, y: number, color: string): string {
  return `<circle cx="${px(x)}" cy="${px(y)}" r="3.6" fill="${escapeXml(color)}" stroke="#ffffff" stroke-width="1.2"/>`;
}

// ---------------------------------------------------------------------------------------------
// The chart

/**
 * Renders a line chart as a standalone SVG document (with a white background, so it also reads
 * well as an image on dark pages). Never throws on data: empty series draw axes and "no data".
 */
export function lineChartSvg(spec: LineChartSpec): string {
  const W = Math.max(200, spec.width ?? 900);
  const H = Math.max(150, spec.height ?? 540);
  const id = (spec.id ?? "chart").replace(/[^A-Za-z0-9_-]/g, "_");
  const xScale = spec.xScale ?? "linear";
  const yScale = spec.yScale ?? "linear";
  const series = spec.series;

  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) {
    for (const p of s.points) {
      if (!p || !usable(xScale, p[0]) || !usable(yScale, p[1])) continue;
      xs.push(p[0]);
      ys.push(p[1]);
    }
  }
  const empty = xs.length === 0;
  const ax = makeAxis(xScale, xs, spec.xRange, xScale === "log" ? 0.02 : 0);
  const ay = makeAxis(yScale, ys, spec.yRange, 0.05);

  // Vertical layout first (y ticks need the plot height), then the left margin from the y tick labels.
  const title = spec.title ?? "";
  let titleSize: number = FONT.title;
  while (title && titleSize > 11 && textWidth(title, titleSize) > W - 24) titleSize--;
  const top = title ? 26 + titleSize : 16;
  const bottom = TICK_LEN + 6 + FONT.tick + (spec.xLabel ? 12 + FONT.label : 0) + 12;
  const plotH = H - top - bottom;
  const yt = axisTicks(ay, plotH, 48);
  const yTickW = Math.max(0, ...yt.majors.map((t) => textWidth(t.label, FONT.tick)));
  const left = 14 + (spec.yLabel ? FONT.label + 12 : 0) + yTickW + 6 + TICK_LEN;

  const colors = series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  const layout = (right: number): { plot: Rect; drawn: Drawn[] } => {
    const plot: Rect = { x: left, y: top, w: Math.max(20, W - left - right), h: Math.max(20, plotH) };
    const drawn = series.map((s, i) => ({ series: s, color: colors[i], ...project(s, ax, ay, plot) }));
    return { plot, drawn };
  };
  // The last x tick label may stick out to the right of the plot by half its width.
  const baseRight = 16 + textWidth("00000", FONT.tick) / 2;
  let { plot, drawn } = layout(baseRight);

  // Legend: the emptiest corner, or right of the plot when every corner covers data.
  const entries = drawn.filter((d) => !d.series.hideInLegend && d.count > 0 && d.series.name !== "");
  const placement = spec.legend ?? "auto";
  let legendBox: Rect | null = null;
  if (entries.length > 0 && placement !== "none") {
    const size = legendSize(entries);
    const outside = (): Rect => {
      ({ plot, drawn } = layout(baseRight + size.w + 12));
      return { x: plot.x + plot.w + 14, y: plot.y, w: size.w, h: size.h };
    };
    if (placement === "right") legendBox = outside();
    else if (placement !== "auto") legendBox = cornerBox(placement, plot, size);
    else {
      const corners = ["top-right", "top-left", "bottom-left", "bottom-right"] as const;
      const scored = corners.map((c) => ({ box: cornerBox(c, plot, size), n: coverage(drawn, cornerBox(c, plot, size)) }));
      const best = scored.reduce((a, b) => (b.n < a.n ? b : a));
      const fitsInside = size.w < plot.w * 0.6 && size.h < plot.h * 0.6;
      if (best.n === 0 && fitsInside) legendBox = best.box;
      else if (W - (baseRight + size.w + 12) - left > W * 0.45) legendBox = outside();
      else legendBox = best.box;
    }
  }
  const xt = axisTicks(ax, plot.w, 90, spec.xIntegers ? 1 : 0);

  const X = (v: number): number => plot.x + unit(ax, v) * plot.w;
  const Y = (v: number): number => plot.y + (1 - unit(ay, v)) * plot.h;
  const plotBottom = plot.y + plot.h;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="${FONT.tick}">`,
  );
  if (title) out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<defs><clipPath id="${id}-plot"><rect x="${px(plot.x)}" y="${px(plot.y)}" width="${px(plot.w)}" height="${px(plot.h)}"/></clipPath></defs>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);

  // Grid: minor lines, then major ones.
  out.push(`<g class="grid" stroke-width="1" fill="none">`);
  for (const v of xt.minors) out.push(`<line x1="${px(crisp(X(v)))}" y1="${px(plot.y)}" x2="${px(crisp(X(v)))}" y2="${px(plotBottom)}" stroke="${MINOR_GRID}"/>`);
  for (const v of yt.minors) out.push(`<line x1="${px(plot.x)}" y1="${px(crisp(Y(v)))}" x2="${px(plot.x + plot.w)}" y2="${px(crisp(Y(v)))}" stroke="${MINOR_GRID}"/>`);
  for (const t of xt.majors) out.push(`<line x1="${px(crisp(X(t.value)))}" y1="${px(plot.y)}" x2="${px(crisp(X(t.value)))}" y2="${px(plotBottom)}" stroke="${GRID}"/>`);
  for (const t of yt.majors) out.push(`<line x1="${px(plot.x)}" y1="${px(crisp(Y(t.value)))}" x2="${px(plot.x + plot.w)}" y2="${px(crisp(Y(t.value)))}" stroke="${GRID}"/>`);
  out.push(`</g>`);

  // Ticks and their labels.
  out.push(`<g class="ticks" stroke="${FRAME}" stroke-width="1">`);
  for (const t of xt.majors) out.push(`<line x1="${px(crisp(X(t.value)))}" y1="${px(plotBottom)}" x2="${px(crisp(X(t.value)))}" y2="${px(plotBottom + TICK_LEN)}"/>`);
  for (const t of yt.majors) out.push(`<line x1="${px(plot.x - TICK_LEN)}" y1="${px(crisp(Y(t.value)))}" x2="${px(plot.x)}" y2="${px(crisp(Y(t.value)))}"/>`);
  for (const v of yScale === "log" ? yt.minors : []) out.push(`<line x1="${px(plot.x - 3)}" y1="${px(crisp(Y(v)))}" x2="${px(plot.x)}" y2="${px(crisp(Y(v)))}"/>`);
  for (const v of xScale === "log" ? xt.minors : []) out.push(`<line x1="${px(crisp(X(v)))}" y1="${px(plotBottom)}" x2="${px(crisp(X(v)))}" y2="${px(plotBottom + 3)}"/>`);
  out.push(`</g>`);
  out.push(`<g class="tick-labels" font-size="${FONT.tick}" fill="${MUTED}">`);
  for (const t of xt.majors) out.push(`<text x="${px(X(t.value))}" y="${px(plotBottom + TICK_LEN + 4 + FONT.tick * 0.8)}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  for (const t of yt.majors) out.push(`<text x="${px(plot.x - TICK_LEN - 5)}" y="${px(Y(t.value) + FONT.tick * 0.36)}" text-anchor="end">${escapeXml(t.label)}</text>`);
  out.push(`</g>`);

  // Data, clipped to the plot.
  out.push(`<g class="series" clip-path="url(#${id}-plot)">`);
  for (const d of drawn) {
    const s = d.series;
    if (s.line !== false && d.count > 1) {
      const opacity = s.opacity ?? 1;
      out.push(
        `<path d="${pathData(d.runs)}" fill="none" stroke="${escapeXml(d.color)}" stroke-width="${s.lineWidth ?? 2}" stroke-linejoin="round" stroke-linecap="round"` +
          `${opacity < 1 ? ` stroke-opacity="${opacity}"` : ""}${s.dashed ? ` stroke-dasharray="6 4"` : ""}/>`,
      );
    }
  }
  out.push(`</g>`);
  // Markers are not clipped, so those on the plot's edge stay whole.
  out.push(`<g class="markers">`);
  for (const d of drawn) {
    if (!(d.series.markers || d.series.line === false || d.count === 1)) continue;
    for (const run of d.runs) {
      for (const [x, y] of run) {
        if (x >= plot.x - 0.5 && x <= plot.x + plot.w + 0.5 && y >= plot.y - 0.5 && y <= plotBottom + 0.5) out.push(marker(x, y, d.color));
      }
    }
  }
  out.push(`</g>`);
  out.push(`<rect x="${px(crisp(plot.x))}" y="${px(crisp(plot.y))}" width="${px(Math.round(plot.w))}" height="${px(Math.round(plot.h))}" fill="none" stroke="${FRAME}" stroke-width="1"/>`);

  if (empty) {
    out.push(`<text x="${px(plot.x + plot.w / 2)}" y="${px(plot.y + plot.h / 2)}" text-anchor="middle" font-size="${FONT.empty}" fill="#888888">no data</text>`);
  }
  if (legendBox) out.push(legendSvg(entries, legendBox));

  // Title and axis labels.
  if (title) out.push(`<text x="${px(W / 2)}" y="${px(14 + titleSize)}" text-anchor="middle" font-size="${titleSize}" font-weight="bold" fill="${TEXT}">${escapeXml(title)}</text>`);
  if (spec.xLabel) out.push(`<text x="${px(plot.x + plot.w / 2)}" y="${px(H - 12)}" text-anchor="middle" font-size="${FONT.label}" fill="${TEXT}">${escapeXml(spec.xLabel)}</text>`);
  if (spec.yLabel) {
    const x = 14 + FONT.label * 0.8;
    const y = plot.y + plot.h / 2;
    out.push(`<text x="${px(x)}" y="${px(y)}" transform="rotate(-90 ${px(x)} ${px(y)})" text-anchor="middle" font-size="${FONT.label}" fill="${TEXT}">${escapeXml(spec.yLabel)}</text>`);
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
