/**
 * The lab's pictures, as SVG text (browser-safe; src/node/png.ts makes PNGs of them):
 * a learning curve against the task's baseline, gradient norms against the gap for several cells
 * (log scale), and the final metric against T for each cell.
 */
import { lineChartSvg, PALETTE, type LineSeries, type Point } from "../plot/chart.js";
import type { GradientNorms } from "./gradients.js";
import type { Task } from "./tasks/task.js";
import type { CurvePoint, TaskSummary } from "./train.js";

/** A stable color per cell: the three classic cells blue, red and green; their variants nearby hues. */
const CELL_COLORS: Readonly<Record<string, string>> = {
  rnn: "#1f77b4",
  "rnn-tanh": "#1f77b4",
  "rnn-sigmoid": "#ff7f0e",
  "rnn-relu": "#8c564b",
  lstm: "#d62728",
  "lstm-peephole": "#9467bd",
  "lstm-coupled": "#e377c2",
  "lstm-peephole-coupled": "#7f7f7f",
  gru: "#2ca02c",
  "gru-cho": "#17becf",
};

/** Baseline and success lines of the task charts. */
const BASELINE_COLOR = "#444444";
const SOLVED_COLOR = "#b8860b";

/** A stable color per cell name, so every chart of a report agrees. */
export function cellColor(cell: string): string {
  return CELL_COLORS[cell] ?? PALETTE[9];
}

/** Display name of a cell: "rnn" is the tanh RNN. */
export function cellLabel(cell: string): string {
  return cell === "rnn" || cell === "rnn-tanh" ? "rnn (tanh)" : cell;
}

/** Chart size and id. */
export interface ChartOptions {
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
  /** Prefix of SVG ids, unique per chart when several are inlined into one page. */
  readonly id?: string;
}

/**
 * A log y range starting at the power of ten below the smallest value, so that a labelled tick
 * (1, 2, 5 × 10ᵏ) lies under the data even when it spans less than a decade.
 */
function logRangeFor(values: readonly number[]): { min: number } | undefined {
  const lo = Math.min(...values.filter((v) => v > 0 && Number.isFinite(v)));
  return Number.isFinite(lo) ? { min: 10 ** Math.floor(Math.log10(lo) + 1e-9) } : undefined;
}

/** The y axis of a task metric: log scale for a loss (lower is better), [0, 1] for a fraction. */
function metricAxis(task: Task, series: readonly LineSeries[]): { yScale: "log" | "linear"; yRange: { min: number; max?: number } | undefined } {
  return task.metric.better === "lower"
    ? { yScale: "log", yRange: logRangeFor(series.flatMap((x) => x.points.map((p) => p[1]))) }
    : { yScale: "linear", yRange: { min: 0, max: 1 } };
}

/** One run's test metric (and training loss, when in the same unit) against steps, with the baseline. */
export function learningCurveSvg(task: Task, summary: TaskSummary, curve: readonly CurvePoint[], opts: ChartOptions = {}): string {
  const baseline = summary.baseline;
  const lastStep = Math.max(1, ...curve.map((p) => p.step));
  const series: LineSeries[] = [
    { name: `test ${task.metric.name}`, points: curve.map((p) => [p.step, p.value] as Point), color: cellColor(summary.cell), markers: curve.length <= 60 },
  ];
  // mse and xent train losses are the metric itself; accuracy-style metrics have another unit
  if (task.loss !== "bce" && task.metric.name !== "accuracy") {
    series.push({ name: "training loss", points: curve.filter((p) => p.trainLoss !== null).map((p) => [p.step, p.trainLoss!] as Point), color: "#7f7f7f", lineWidth: 1.5, opacity: 0.8 });
  }
  series.push({ name: `baseline ${fmt(baseline)}`, points: [[0, baseline], [lastStep, baseline]], color: BASELINE_COLOR, dashed: true, lineWidth: 1.5 });
  return lineChartSvg({
    title: opts.title ?? `${task.title}, ${cellLabel(summary.cell)}, T = ${summary.T}, H = ${summary.hidden}`,
    xLabel: "training step",
    yLabel: `${task.metric.name} (${task.metric.unit})`,
    series,
    xIntegers: true,
    ...metricAxis(task, series),
    width: opts.width,
    height: opts.height,
    id: opts.id,
  });
}

/** Several runs' test metric against steps (one line per run), with the baseline. */
export function learningCurvesSvg(task: Task, runs: readonly { readonly summary: TaskSummary; readonly curve: readonly CurvePoint[] }[], opts: ChartOptions = {}): string {
  const lower = task.metric.better === "lower";
  const lastStep = Math.max(1, ...runs.flatMap((r) => r.curve.map((p) => p.step)));
  const Ts = new Set(runs.map((r) => r.summary.T));
  const series: LineSeries[] = runs.map((r) => ({
    name: Ts.size > 1 ? `${cellLabel(r.summary.cell)}, T = ${r.summary.T}` : cellLabel(r.summary.cell),
    points: r.curve.map((p) => [p.step, p.value] as Point),
    color: cellColor(r.summary.cell),
  }));
  if (Ts.size === 1) {
    const b = task.baseline([...Ts][0]);
    series.push({ name: `baseline ${fmt(b)}`, points: [[0, b], [lastStep, b]], color: BASELINE_COLOR, dashed: true, lineWidth: 1.5 });
  }
  return lineChartSvg({
    title: opts.title ?? `${task.title}: learning curves${Ts.size === 1 ? ` at T = ${[...Ts][0]}` : ""}`,
    xLabel: "training step",
    yLabel: `test ${task.metric.name}${lower ? " (log scale)" : ""}`,
    series,
    xIntegers: true,
    ...metricAxis(task, series),
    width: opts.width,
    height: opts.height,
    id: opts.id,
  });
}

/** Canonical cells draw thick and their variants thin on top, so curves that coincide stay visible. */
function cellWidth(cell: string): number {
  return ["rnn", "rnn-tanh", "lstm", "gru"].includes(cell) ? 3.5 : 1.8;
}

/** Smallest value shown on a gradient chart: a curve that falls below leaves through the bottom. */
export const GRADIENT_FLOOR = 1e-30;

/** Gradient norms of several cells against the gap, log scale: solid ∂L/∂h, dashed ∂L/∂c (LSTMs). */
export function gradientNormsSvg(results: readonly GradientNorms[], opts: ChartOptions = {}): string {
  const series: LineSeries[] = [];
  let lowest = Infinity;
  for (const r of results) {
    const color = cellColor(r.cell);
    const width = cellWidth(r.cell);
    series.push({ name: `${cellLabel(r.cell)}: ∂L/∂h (×${fmt(r.rate.dh, 2)}/step)`, points: r.gaps.map((k) => [k, r.dh[k]] as Point), color, lineWidth: width });
    if (r.dc) series.push({ name: `${cellLabel(r.cell)}: ∂L/∂c`, points: r.gaps.map((k) => [k, r.dc![k]] as Point), color, dashed: true, lineWidth: width * 0.7 });
    for (const v of [...r.dh, ...(r.dc ?? [])]) if (v > 0 && v < lowest) lowest = v;
  }
  const T = Math.max(1, ...results.map((r) => r.T));
  return lineChartSvg({
    title: opts.title ?? `How far back the gradient reaches (T = ${T})`,
    xLabel: "gap T − t (steps back from the loss)",
    yLabel: "‖∂L_T/∂h_t‖ / ‖∂L_T/∂h_T‖ (log scale)",
    series,
    xIntegers: true,
    yScale: "log",
    yRange: lowest < GRADIENT_FLOOR ? { min: GRADIENT_FLOOR } : undefined,
    legend: "right",
    width: opts.width ?? 1000,
    height: opts.height ?? 560,
    id: opts.id,
  });
}

/**
 * Elman RNNs' measured gradient norms against the straight lines their weights predict: per case
 * (a label and its measurement), the measured curve (solid), (σ_max(W_hh) · mean f′)^k (dashed) and
 * ρ(mean Jacobian)^k (dashed, faint); the Jacobian bound (thin) when it was computed.
 */
export function rnnRelationSvg(cases: readonly { readonly label: string; readonly g: GradientNorms }[], opts: ChartOptions = {}): string {
  const series: LineSeries[] = [];
  const colors = ["#1f77b4", "#d62728", "#9467bd", "#2ca02c"];
  cases.forEach(({ label, g }, i) => {
    const rel = g.rnn;
    if (!rel) throw new Error(`${g.cell} is not an Elman RNN`);
    const color = colors[i % colors.length];
    const line = (f: number): Point[] => g.gaps.map((k) => [k, f ** k] as Point);
    const fprime = g.cell === "rnn-sigmoid" ? "σ′" : g.cell === "rnn-relu" ? "relu′" : "tanh′";
    series.push(
      { name: `${label}: measured, ×${fmt(rel.measured, 3)}/step`, points: g.gaps.map((k) => [k, g.dh[k]] as Point), color, lineWidth: 3 },
      { name: `σ_max·mean ${fprime} = ${fmt(rel.sigmaMax, 3)}·${fmt(rel.meanDerivative, 3)} = ${fmt(rel.sigmaEstimate, 3)}`, points: line(rel.sigmaEstimate), color, dashed: true, lineWidth: 1.8 },
      { name: `ρ(mean Jacobian) = ${fmt(rel.meanJacobianEstimate, 3)}`, points: line(rel.meanJacobianEstimate), color, dashed: true, lineWidth: 1.2, opacity: 0.5 },
    );
    if (rel.boundCurve) series.push({ name: `bound Π‖W_hhᵀ diag(${fprime})‖₂`, points: rel.boundCurve.map((v, k) => [k, v] as Point), color, lineWidth: 1, opacity: 0.6 });
  });
  const g0 = cases[0]?.g;
  return lineChartSvg({
    title: opts.title ?? `${g0 ? cellLabel(g0.cell) : "RNN"}: measured decay against what W_hh predicts${g0 ? ` (H = ${g0.H}, T = ${g0.T})` : ""}`,
    xLabel: "gap T − t",
    yLabel: "‖∂L_T/∂h_t‖ / ‖∂L_T/∂h_T‖ (log scale)",
    series,
    xIntegers: true,
    yScale: "log",
    width: opts.width ?? 1000,
    height: opts.height ?? 600,
    id: opts.id,
  });
}

/** The final test metric against T, one line per cell, with the baseline and the success line. */
export function successVsTSvg(task: Task, results: readonly TaskSummary[], opts: ChartOptions = {}): string {
  const cells = [...new Set(results.map((r) => r.cell))];
  const Ts = [...new Set(results.map((r) => r.T))].sort((a, b) => a - b);
  const lower = task.metric.better === "lower";
  const series: LineSeries[] = cells.map((cell) => ({
    name: cellLabel(cell),
    points: results.filter((r) => r.cell === cell).sort((a, b) => a.T - b.T).map((r) => [r.T, r.value] as Point),
    color: cellColor(cell),
    markers: true,
  }));
  series.push({ name: "trivial baseline", points: Ts.map((T) => [T, task.baseline(T)] as Point), color: BASELINE_COLOR, dashed: true, lineWidth: 1.5 });
  const threshold = solvedThreshold(task, Ts);
  if (threshold) series.push({ name: `solved (${lower ? "below" : "above"} this line)`, points: threshold, color: SOLVED_COLOR, dashed: true, lineWidth: 1.5 });
  return lineChartSvg({
    title: opts.title ?? `${task.title}: test ${task.metric.name} after training, against T`,
    xLabel: `T (${task.lengthMeaning})`,
    yLabel: `test ${task.metric.name}${lower ? " (log scale)" : ""}`,
    series,
    // a log axis labels only decades: worth it from two decades on
    xScale: Ts.length > 1 && Ts[Ts.length - 1] / Ts[0] >= 100 ? "log" : "linear",
    xIntegers: true,
    ...metricAxis(task, series),
    width: opts.width,
    height: opts.height,
    id: opts.id,
  });
}

/** The success threshold per T as points, found by bisection on `task.solved` (it is monotone). */
function solvedThreshold(task: Task, Ts: readonly number[]): Point[] | null {
  const pts: Point[] = [];
  for (const T of Ts) {
    const base = task.baseline(T);
    let good = task.metric.better === "lower" ? 0 : 1;
    let bad = base;
    if (!task.solved(good, T) || task.solved(bad, T)) return null;
    for (let i = 0; i < 60; i++) {
      const mid = (good + bad) / 2;
      if (task.solved(mid, T)) good = mid;
      else bad = mid;
    }
    pts.push([T, good]);
  }
  return pts;
}

/** A number in 3 significant digits (or `digits`). */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(digits - 1) : String(Number(v.toPrecision(digits)));
}
