/** Node edge: `unroll plot`: a run folder's metrics.jsonl → loss.svg and loss.png beside it. */
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lossCurveSvg, readMetricsLines } from "../plot/loss-curve.js";
import { canRenderText, svgToPng } from "./png.js";

/** What `plotRun` wrote. */
export interface PlotRunResult {
  readonly svgPath: string;
  readonly pngPath: string;
  /** Set when the PNG was drawn without text (no fonts on this machine); the SVG is complete. */
  readonly warning?: string;
}

/** Options of `plotRun`. */
export interface PlotRunOptions {
  /** Chart title; default: "unroll — loss (nats/token)" with the run's cell and size. */
  readonly title?: string;
  /** PNG width in pixels (default 1800: twice the chart's 900, sharp on high-density screens). */
  readonly pngWidth?: number;
}

/** Writes a file whole or not at all: a temporary file beside it, then a rename. */
function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Draws a run's loss curves from RUN_DIR/metrics.jsonl into RUN_DIR/loss.svg and RUN_DIR/loss.png,
 * each written atomically (a plot of a run still training never leaves a half-written file).
 */
export function plotRun(runDir: string, opts: PlotRunOptions = {}): PlotRunResult {
  const metrics = join(runDir, "metrics.jsonl");
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new Error(`${runDir}: no such folder`);
  if (!existsSync(metrics)) throw new Error(`no metrics.jsonl in ${runDir}: is it an unroll run folder (the --out of unroll train)?`);
  let events;
  try {
    events = readMetricsLines(readFileSync(metrics, "utf8"));
  } catch (e) {
    throw new Error(`${metrics}: ${(e as Error).message}`);
  }
  const svg = lossCurveSvg(events, { title: opts.title });
  const svgPath = join(runDir, "loss.svg");
  const pngPath = join(runDir, "loss.png");
  writeAtomic(svgPath, svg);
  writeAtomic(pngPath, svgToPng(svg, opts.pngWidth ?? 1800));
  const warning = canRenderText()
    ? undefined
    : `no fonts found, so ${pngPath} has no text (${svgPath} is complete); install a font, e.g. apt-get install fonts-dejavu-core`;
  return warning ? { svgPath, pngPath, warning } : { svgPath, pngPath };
}
