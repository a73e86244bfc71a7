/**
 * A training run's loss curves as an SVG chart: training loss per step (raw, faint, and smoothed)
 * and validation loss at each evaluation, in nats per token. Reads the run's events, e.g. the lines
 * of its metrics.jsonl (`readMetricsLines`). Browser-safe.
 */
import type { TrainEvent } from "../train/train.js";
import { lineChartSvg, type Point } from "./chart.js";

const EVENT_KINDS: ReadonlySet<string> = new Set(["start", "step", "eval", "sample", "done"]);

/**
 * Parses metrics.jsonl text: one JSON TrainEvent per line. Lines that do not parse (a run killed
 * mid-write leaves a truncated last line) or are not events are skipped; throws only when no line
 * holds an event.
 */
export function readMetricsLines(text: string): TrainEvent[] {
  const events: TrainEvent[] = [];
  let lines = 0;
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (l === "") continue;
    lines++;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      continue;
    }
    if (typeof v === "object" && v !== null && EVENT_KINDS.has((v as { event?: unknown }).event as string)) events.push(v as TrainEvent);
  }
  if (events.length === 0) {
    throw new Error(
      lines === 0
        ? "the metrics are empty: no training events yet (did the run start?)"
        : `none of the ${lines} metrics line(s) is a training event (one JSON object per line, as unroll train writes metrics.jsonl)`,
    );
  }
  return events;
}

/** A number from a parsed event field, NaN when absent or null (JSON writes NaN as null). */
function num(v: unknown): number {
  return typeof v === "number" ? v : NaN;
}

/** [step, value] pairs in step order; a step seen twice (a resumed run re-doing steps) keeps its last value. */
function byStep(pairs: readonly Point[]): Point[] {
  const m = new Map<number, number>();
  for (const [s, v] of pairs) if (Number.isFinite(s)) m.set(s, v);
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * Smooths a noisy curve without lag: each point becomes the value at its x of a least-squares line
 * through the 2·half + 1 points around it. Inside the curve that is the centered running mean;
 * near the ends the window shifts inward, and the line follows the trend there instead of
 * flattening toward it as a running mean or a moving average would. Non-finite values are passed
 * over.
 */
export function smoothRunningLine(points: readonly Point[], half: number): Point[] {
  const p = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const n = p.length;
  // Prefix sums of x, y, x², xy, shifted by x0 for precision.
  const x0 = n > 0 ? p[0][0] : 0;
  const S = { x: [0], y: [0], xx: [0], xy: [0] };
  for (const [x, y] of p) {
    const u = x - x0;
    S.x.push(S.x[S.x.length - 1] + u);
    S.y.push(S.y[S.y.length - 1] + y);
    S.xx.push(S.xx[S.xx.length - 1] + u * u);
    S.xy.push(S.xy[S.xy.length - 1] + u * y);
  }
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    // The window keeps its width at the ends, shifted inward (less noise than a shrunken one).
    const a = Math.max(0, Math.min(i - half, n - 2 * half - 1));
    const b = Math.min(n, a + 2 * half + 1);
    const m = b - a;
    const sx = S.x[b] - S.x[a];
    const sy = S.y[b] - S.y[a];
    const sxx = S.xx[b] - S.xx[a];
    const sxy = S.xy[b] - S.xy[a];
    const den = m * sxx - sx * sx;
    const slope = den > 1e-12 * m * sxx ? (m * sxy - sx * sy) / den : 0;
    const u = p[i][0] - x0;
    out.push([p[i][0], sy / m + slope * (u - sx / m)]);
  }
  return out;
}

/** Options of `lossCurveSvg`. */
export interface LossCurveOptions {
  /** Default: "unroll — loss (nats/token)" with the run's cell and size. */
  readonly title?: string;
  /** Pixels (default 900 × 540). */
  readonly width?: number;
  readonly height?: number;
}

/** A short description of the model from the run's start event: "lstm, 2 layers × 128". */
function describeRun(events: readonly TrainEvent[]): string | null {
  let start: Extract<TrainEvent, { event: "start" }> | null = null;
  for (const e of events) if (e.event === "start") start = e;
  const o = start?.options as { cell?: unknown; layers?: unknown; hidden?: unknown } | undefined;
  if (!o || typeof o.cell !== "string") return null;
  const size = typeof o.layers === "number" && typeof o.hidden === "number" ? `, ${o.layers} layer${o.layers === 1 ? "" : "s"} × ${o.hidden}` : "";
  return `${o.cell}${size}`;
}

/** The run's loss curves as an SVG document. */
export function lossCurveSvg(events: readonly TrainEvent[], opts: LossCurveOptions = {}): string {
  const train = byStep(events.filter((e) => e.event === "step").map((e) => [num(e.step), num(e.loss)] as Point));
  const val = byStep(events.filter((e) => e.event === "eval").map((e) => [num(e.step), num(e.valLoss)] as Point));
  // Smooth over about 1/25 of the logged steps (at least 5 points, at most 201).
  const half = Math.min(100, Math.max(2, Math.round(train.length / 50)));
  const smoothed = train.length >= 10 ? smoothRunningLine(train, half) : [];
  let best = Infinity;
  for (const [, v] of val) if (v < best) best = v;
  const run = describeRun(events);
  const title = opts.title ?? `unroll — loss (nats/token)${run ? ` — ${run}` : ""}`;
  return lineChartSvg({
    title,
    xLabel: "step",
    xIntegers: true,
    yLabel: "loss (nats/token)",
    width: opts.width,
    height: opts.height,
    series: [
      smoothed.length > 0
        ? { name: "train", points: train, color: "#1f77b4", lineWidth: 1, opacity: 0.3 }
        : { name: "train", points: train, color: "#1f77b4", lineWidth: 1.5 },
      { name: "train (smoothed)", points: smoothed, color: "#1f77b4", lineWidth: 2.25 },
      {
        name: Number.isFinite(best) ? `validation (best ${best.toFixed(3)})` : "validation",
        points: val,
        color: "#d62728",
        lineWidth: 2,
        markers: true,
      },
    ],
  });
}
