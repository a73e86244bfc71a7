/**
 * The long-term dependency lab on the command line: `unroll task NAME`, `unroll gradients`,
 * `unroll lab`. Thin: parse, call src/lab, print, write files (SVG, PNG, JSON, HTML).
 */
import { Command, Option } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CELL_NAMES, parseCell } from "../cells/cell.js";
import type { GradientNorms } from "../lab/gradients.js";
import { cellLabel, fmt, gradientNormsSvg, learningCurveSvg, rnnRelationSvg } from "../lab/plots.js";
import { labReportCharts, labReportHtml } from "../lab/report.js";
import { gradientStudy, labGrid } from "../lab/study.js";
import { getTask, TASK_NAMES, type Task, type TaskName } from "../lab/tasks/index.js";
import { TASK_DEFAULTS, trainOnTask, type TaskEvent, type TaskSummary } from "../lab/train.js";
import "../node/native-backend.js"; // registers the native backend when its addon loads; harmless otherwise
import { canRenderText, svgToPng } from "../node/png.js";
import { accepting, backendName, duration, formatDuration, int, num } from "./options.js";
import { applyThreadsOption } from "../node/native-backend.js";
import { runStamp } from "../node/run-lock.js";

/** Default T of each task for `unroll task`. */
const DEFAULT_T: Readonly<Record<string, number>> = { adding: 100, copy: 50, reber: 40, "temporal-order": 100 };

/**
 * Default training budget of each task for `unroll task` (the run stops earlier once solved):
 * enough for what docs/lab.md measured solvable at the default T. Adding: the LSTM solves T = 100
 * at 4,200 steps (90 s on 2 cores), the GRU at 1,600; copy: the LSTM with --chrono 75 at 18,000.
 */
const DEFAULT_STEPS: Readonly<Record<string, number>> = { adding: 10_000, copy: 20_000, reber: TASK_DEFAULTS.steps, "temporal-order": TASK_DEFAULTS.steps };

interface TaskFlags {
  cell: string;
  T?: number;
  hidden: number;
  steps?: number;
  batch: number;
  optimizer: "adam" | "adamw" | "sgd" | "rmsprop" | "adagrad";
  lr: number;
  clipNorm: number;
  forgetBias: number;
  orthogonal?: boolean;
  chrono?: number;
  seed: number;
  evalEvery: number;
  testSize: number;
  stopWhenSolved: boolean;
  maxTime?: number;
  backend: string;
  threads?: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Writes NAME.svg and NAME.png (PNG twice the SVG's width) into `dir`; returns the PNG's path. */
export function writeChart(dir: string, name: string, svg: string): string {
  writeFileSync(join(dir, `${name}.svg`), svg);
  const png = join(dir, `${name}.png`);
  const width = Number(/width="(\d+)"/.exec(svg)?.[1] ?? 900);
  writeFileSync(png, svgToPng(svg, 2 * width));
  return png;
}

/** A warning when PNGs come out without text (no fonts installed), else null. */
function fontWarning(): string | null {
  return canRenderText() ? null : "no fonts found, so the PNGs have no text (the SVGs are complete); install one, e.g. apt-get install fonts-dejavu-core";
}

/** "test mse 0.0123 (7% of the baseline 0.167)". */
function describeValue(task: Task, value: number, baseline: number): string {
  const rel = task.metric.better === "lower" ? ` (${fmt((100 * value) / baseline, 2)}% of the baseline ${fmt(baseline)})` : ` (baseline ${fmt(baseline)})`;
  return `test ${task.metric.name} ${fmt(value, 4)}${rel}`;
}

/** `unroll task NAME` */
export function taskCommand(): Command {
  return new Command("task")
    .summary("train a cell on a synthetic long-range task and report its learning curve against the baseline")
    .description(
      "Trains a one-layer recurrent model with a linear head on fresh sequences from the task's generator and\n" +
        "evaluates it on a fixed test set every --eval-every steps, against the task's trivial baseline:\n" +
        "  adding          sum of the two marked numbers, MSE; baseline 1/6 (always answering 1)\n" +
        "  copy            remember 10 symbols over a gap of T blanks; cross-entropy per step; baseline 10·log 8/(T+20)\n" +
        "  reber           next-symbol sets of the embedded Reber grammar; fraction of strings right at every step;\n" +
        "                  baseline 0.5 (guessing the long-range symbol); T is the maximum string length\n" +
        "  temporal-order  order of two symbols hidden in noise (XX, XY, YX, YY); accuracy; baseline 0.25\n" +
        "With --json the last line is one object: task, cell, T, metric, value, baseline (and the run's settings).",
    )
    .argument("<name>", `task: ${TASK_NAMES.join(", ")}`)
    .addOption(new Option("--cell <cell>", "recurrent cell").choices([...CELL_NAMES]).default("lstm"))
    .option("--T <n>", "the task's length (adding, temporal-order: sequence length; copy: the gap; reber: maximum length)", int(1))
    .option("--hidden <n>", "hidden units", int(1), TASK_DEFAULTS.hidden)
    .option("--steps <n>", `training steps (one fresh batch each), at most (default: per task: ${Object.entries(DEFAULT_STEPS).map(([k, v]) => `${k} ${v}`).join(", ")})`, int(0))
    .option("--batch <n>", "sequences per batch", int(1), TASK_DEFAULTS.batch)
    .addOption(new Option("--optimizer <name>", "optimizer").choices(["adam", "adamw", "sgd", "rmsprop", "adagrad"]).default(TASK_DEFAULTS.optimizer))
    .option("--lr <rate>", "learning rate", num(0), TASK_DEFAULTS.lr)
    .option("--clip-norm <n>", "clip the global gradient norm to this; 0 = off", num(0, Infinity, true), TASK_DEFAULTS.clipNorm)
    .option("--forget-bias <b>", "added to the LSTM forget-gate bias at initialisation", num(), TASK_DEFAULTS.forgetBias)
    .option("--orthogonal", "orthogonal recurrent weights at initialisation")
    .option("--chrono <steps>", "chrono initialisation (Tallec & Ollivier 2018) of the LSTM/GRU gate biases for gaps up to this many steps; replaces --forget-bias", num(2))
    .option("--seed <n>", "random seed (initialisation; the training data uses seed + 1)", int(0), TASK_DEFAULTS.seed)
    .option("--eval-every <n>", "evaluate on the test set every n steps", int(1), TASK_DEFAULTS.evalEvery)
    .option("--test-size <n>", "sequences in the fixed test set", int(1), TASK_DEFAULTS.testSize)
    .option("--no-stop-when-solved", "train for all --steps, even after an evaluation meets the task's success criterion (by default the run stops there)")
    .option("--max-time <duration>", "stop after this long, e.g. 600, 10m, 1h", duration)
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS)", int(1))
    .option("--out <dir>", "write curve.svg, curve.png, metrics.jsonl and summary.json here")
    .option("--quiet", "print only the final line")
    .option("--json", "print events as JSON lines; the last is the summary object")
    .action((name: string, f: TaskFlags) => {
      applyThreadsOption(f.threads);
      const task = getTask(name);
      parseCell(f.cell);
      const T = f.T ?? DEFAULT_T[task.name];
      if (f.out) mkdirSync(f.out, { recursive: true });
      const events: TaskEvent[] = [];
      const run = trainOnTask({
        task,
        cell: f.cell,
        T,
        hidden: f.hidden,
        steps: f.steps ?? DEFAULT_STEPS[task.name] ?? TASK_DEFAULTS.steps,
        batch: f.batch,
        optimizer: f.optimizer,
        lr: f.lr,
        clipNorm: f.clipNorm,
        forgetBias: f.forgetBias,
        orthogonal: f.orthogonal ?? false,
        chrono: f.chrono,
        seed: f.seed,
        evalEvery: f.evalEvery,
        testSize: f.testSize,
        stopWhenSolved: f.stopWhenSolved,
        maxTimeMs: f.maxTime !== undefined ? f.maxTime * 1000 : undefined,
        backend: f.backend,
        onEvent: (e) => {
          events.push(e);
          if (e.event === "done") return; // printed below, after the files are written
          if (f.json) console.log(JSON.stringify(e));
          else if (!f.quiet) printEvent(task, e);
        },
      });
      const s = run.summary;
      if (f.out) {
        writeFileSync(join(f.out, "metrics.jsonl"), events.map((e) => JSON.stringify(e)).join("\n") + "\n");
        writeFileSync(join(f.out, "summary.json"), JSON.stringify({ ...s, curve: run.curve }, null, 2) + "\n");
        writeChart(f.out, "curve", learningCurveSvg(task, s, run.curve));
        const w = fontWarning();
        if (w) console.error(`warning: ${w}`);
      }
      if (f.json) console.log(JSON.stringify(s));
      else console.log(summaryLine(task, s) + (f.out ? `\nlearning curve: ${join(f.out, "curve.png")}` : ""));
    });
}

/** One progress line. */
function printEvent(task: Task, e: TaskEvent): void {
  if (e.event === "start") {
    console.log(
      `unroll task ${e.task}: ${e.cell}, T = ${e.T}, ${e.params.toLocaleString("en")} parameters, backend ${e.backend}; ` +
        `metric ${e.metric} (${task.metric.unit}), baseline ${fmt(e.baseline)}: ${task.baselineMeaning}`,
    );
  } else if (e.event === "eval") {
    const loss = e.trainLoss === null ? "" : `  train loss ${fmt(e.trainLoss, 4)}`;
    console.log(`step ${String(e.step).padStart(6)}${loss}  ${describeValue(task, e.value, e.baseline)}  ${formatDuration(e.elapsedMs)}`);
  }
}

/** The closing line of a run. */
export function summaryLine(task: Task, s: TaskSummary): string {
  const verdict = s.reason === "diverged" ? "diverged (lower --lr)" : s.solved ? `solved (${task.solvedMeaning})` : `not solved (needs ${task.solvedMeaning})`;
  return (
    `${s.task}, ${s.cell}, T = ${s.T}: ${describeValue(task, s.value, s.baseline)} after ${s.steps} steps ` +
    `(${formatDuration(s.wallSeconds * 1000)}, stopped: ${s.reason}): ${verdict}`
  );
}

/** All cells, the default of `unroll gradients`. */
const GRADIENT_CELLS = "rnn,rnn-sigmoid,rnn-relu,lstm,lstm-peephole,lstm-coupled,gru,gru-cho";

/** A comma-separated list of cell names, each checked. */
const cellList = accepting({ kind: "list", of: "cells" }, (v: string): string[] => {
  const cells = v.split(",").map((s) => s.trim()).filter(Boolean);
  if (cells.length === 0) throw new Error(`give at least one cell, e.g. lstm,gru (got "${v}")`);
  for (const c of cells) parseCell(c);
  return cells;
});

/** A comma-separated list of task names, each checked. */
const taskList = accepting({ kind: "list", of: "tasks" }, (v: string): TaskName[] => {
  const names = v.split(",").map((s) => s.trim());
  if (names.includes("")) throw new Error(`expected task names separated by commas (${TASK_NAMES.join(", ")}), got "${v}"`);
  return names.map((s) => getTask(s).name);
});

/** A comma-separated list of positive integers. */
const intList = accepting({ kind: "list", of: "ints" }, (v: string): number[] => {
  const xs = v.split(",").map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : NaN));
  if (xs.some((x) => !Number.isSafeInteger(x) || x < 1)) throw new Error(`expected positive integers separated by commas, got "${v}"`);
  return xs;
});

/** runs/NAME-YYYYMMDD-HHMMSS */
function defaultOut(name: string): string {
  return join("runs", `${name}-${runStamp()}`);
}

/** JSON with NaN and ±Infinity as null, numbers rounded to 6 significant digits. */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "number" ? (Number.isFinite(x) ? Number(x.toPrecision(6)) : null) : x), 2) + "\n";
}

interface GradientFlags {
  cells: string[];
  T: number;
  hidden: number;
  task: TaskName;
  batch: number;
  seed: number;
  forgetBias: number;
  orthogonal?: boolean;
  chrono?: number;
  trainSteps: number;
  lr: number;
  bound?: boolean;
  backend: string;
  threads?: number;
  out?: string;
  json?: boolean;
}

/** `unroll gradients` */
export function gradientsCommand(): Command {
  return new Command("gradients")
    .summary("plot how far back the gradient reaches (‖∂L_T/∂h_t‖ against T − t) for several cells")
    .description(
      "For a loss on the last step only, measures ‖∂L_T/∂h_t‖ (and ‖∂L_T/∂c_t‖ for LSTMs) relative to ‖∂L_T/∂h_T‖\n" +
        "against the gap T − t, for each cell at initialisation (and, with --train-steps, again after training\n" +
        "each on the task), with the spectral radius and largest singular value of every W_hh gate block and\n" +
        "gate saturation statistics. Writes gradients.svg/.png (and gradients-trained.svg/.png), rnn-decay.svg/.png\n" +
        "(the tanh RNN against what W_hh predicts) and gradients.json.",
    )
    .option("--cells <list>", "comma-separated cells", cellList, cellList(GRADIENT_CELLS))
    .option("--T <n>", "sequence length", int(2), 100)
    .option("--hidden <n>", "hidden units", int(1), 128)
    .addOption(new Option("--task <name>", "inputs and loss L_T (a fixed-length task)").choices(["adding", "copy", "temporal-order"]).default("adding"))
    .option("--batch <n>", "sequences to average over", int(1), 32)
    .option("--seed <n>", "random seed", int(0), 1)
    .option("--forget-bias <b>", "added to the LSTM forget-gate bias at initialisation", num(), 1)
    .option("--orthogonal", "orthogonal W_hh at initialisation (σ_max = ρ = 1)")
    .option("--chrono <steps>", "chrono initialisation (Tallec & Ollivier 2018) of the LSTM/GRU gate biases for gaps up to this many steps; replaces --forget-bias", num(2))
    .option("--train-steps <n>", "also train each cell this many steps on the task and measure again", int(0), 0)
    .option("--lr <rate>", "learning rate of that training (Adam)", num(0), 1e-3)
    .option("--bound", "also compute the Elman RNNs' Jacobian bound Π‖W_hhᵀ diag(f′)‖₂ (slower)")
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS)", int(1))
    .option("--out <dir>", "output folder (default runs/gradients-<time>)")
    .option("--json", "print gradients.json to stdout as well")
    .action((f: GradientFlags) => {
      applyThreadsOption(f.threads);
      if (f.task === "copy" && f.T < 1) throw new Error("copy needs T ≥ 1");
      const out = f.out ?? defaultOut("gradients");
      mkdirSync(out, { recursive: true });
      const study = gradientStudy({
        cells: f.cells,
        T: f.T,
        hidden: f.hidden,
        task: f.task,
        batch: f.batch,
        seed: f.seed,
        forgetBias: f.forgetBias,
        orthogonal: f.orthogonal ?? false,
        chrono: f.chrono,
        trainSteps: f.trainSteps,
        lr: f.lr,
        jacobianBound: f.bound ?? false,
        backend: f.backend,
        onEvent: (cell, e) => {
          if (!f.json && e.event === "done") console.log(`trained ${cell}: ${summaryLine(getTask(f.task), e)}`);
        },
      });
      const steps = study.init[0]?.T ?? f.T;
      const what = `${f.task}, T = ${steps}, H = ${f.hidden}${f.orthogonal ? ", orthogonal W_hh" : ""}, ${f.chrono !== undefined ? `chrono T_max ${f.chrono}` : `forget bias +${f.forgetBias}`}`;
      const pngs = [writeChart(out, "gradients", gradientNormsSvg(study.init, { title: `How far back the gradient reaches, at initialisation (${what})` }))];
      if (study.trained) {
        const title = `How far back the gradient reaches, after ${study.trained.steps} training steps (${what})`;
        pngs.push(writeChart(out, "gradients-trained", gradientNormsSvg(study.trained.runs.map((r) => r.gradients), { title })));
      }
      const relTitle = `tanh RNN: measured decay against what W_hh predicts (${f.task}, H = ${f.hidden}, T = ${steps})`;
      pngs.push(writeChart(out, "rnn-decay", rnnRelationSvg(study.relation, { title: relTitle })));
      const json = toJson(study);
      writeFileSync(join(out, "gradients.json"), json);
      if (f.json) {
        process.stdout.write(json);
        return;
      }
      console.log(gradientTable(study.init, steps, "at initialisation"));
      console.log(relationLines(study.relation));
      if (study.trained) console.log(gradientTable(study.trained.runs.map((r) => r.gradients), steps, `after ${study.trained.steps} training steps`));
      for (const p of [...pngs, join(out, "gradients.json")]) console.log(p);
      const w = fontWarning();
      if (w) console.error(`warning: ${w}`);
    });
}

/** The tanh RNN's measured rate against the predictions, one line per W_hh. */
function relationLines(cases: readonly { label: string; g: GradientNorms }[]): string {
  return cases
    .map(({ label, g }) => {
      const r = g.rnn!;
      return `tanh RNN, ${label}: measured ${fmt(r.measured)}/step; σ_max·mean tanh′ = ${fmt(r.sigmaMax)}·${fmt(r.meanDerivative)} = ${fmt(r.sigmaEstimate)}; ρ(mean Jacobian) = ${fmt(r.meanJacobianEstimate)}`;
    })
    .join("\n") + "\n";
}

/** A text table of gradient results. */
function gradientTable(gs: readonly GradientNorms[], T: number, when: string): string {
  const gaps = [10, Math.round(T / 2), T].filter((k, i, a) => k <= T && a.indexOf(k) === i);
  const head = ["cell", "factor/step", ...gaps.map((k) => `gap ${k}`), "σ_max/ρ (W_hh blocks)", "gates: mean (sat. low/high)"];
  const rows = gs.map((g) => [
    cellLabel(g.cell) + (g.dc ? ` (c: ${fmt(g.rate.dc!)})` : ""),
    fmt(g.rate.dh),
    ...gaps.map((k) => fmt(g.dh[k], 2)),
    g.weights.map((w) => `${w.gate} ${fmt(w.sigmaMax, 2)}/${fmt(w.spectralRadius, 2)}`).join(" "),
    g.gates.map((s) => `${s.gate} ${fmt(s.mean, 2)} (${Math.round(100 * s.low)}%${s.high === null ? "" : `/${Math.round(100 * s.high)}%`})`).join(" "),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  const rnn = gs.filter((g) => g.rnn).map((g) => {
    const r = g.rnn!;
    return (
      `${cellLabel(g.cell)}: measured ${fmt(r.measured)}/step; σ_max(W_hh)·mean f′ = ${fmt(r.sigmaMax)}·${fmt(r.meanDerivative)} = ${fmt(r.sigmaEstimate)}; ` +
      `ρ(mean Jacobian) = ${fmt(r.meanJacobianEstimate)}` + (r.jacobianBound !== null ? `; bound ${fmt(r.jacobianBound)}` : "")
    );
  });
  return [`‖∂L_T/∂h_t‖ / ‖∂L_T/∂h_T‖ ${when}:`, line(head), ...rows.map(line), ...rnn, ""].join("\n");
}

interface LabFlags {
  tasks: TaskName[];
  cells: string[];
  Ts: number[];
  hidden: number;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  forgetBias: number;
  evalEvery: number;
  testSize: number;
  stopWhenSolved: boolean;
  gradientCells: string[];
  backend: string;
  threads?: number;
  out?: string;
  title?: string;
  quiet?: boolean;
}

/** `unroll lab` */
export function labCommand(): Command {
  return new Command("lab")
    .summary("run a small grid (cells × T) on long-range tasks and write a self-contained HTML report")
    .description(
      "Trains every cell at every T on each task (small networks, a short budget), measures how far back\n" +
        "the gradient reaches at initialisation and after training, and writes OUT/report.html: one page with\n" +
        "the charts inlined, for showing a class. Also writes every chart as SVG and PNG, and report.json.\n" +
        "The defaults take about 75 s on two CPU cores with the native backend (several times longer on wasm or js);\n" +
        "scale --Ts, --hidden and --steps for a shorter or longer lab.",
    )
    .option("--tasks <list>", `comma-separated tasks (${TASK_NAMES.join(", ")})`, taskList, ["adding"] as TaskName[])
    .option("--cells <list>", "comma-separated cells", cellList, ["rnn", "lstm", "gru"])
    .option("--Ts <list>", "comma-separated values of T", intList, [10, 20, 50, 100])
    .option("--hidden <n>", "hidden units", int(1), 64)
    .option("--steps <n>", "training steps per run (at most)", int(1), 2000)
    .option("--batch <n>", "sequences per batch", int(1), 32)
    .option("--lr <rate>", "learning rate (Adam)", num(0), 2e-3)
    .option("--seed <n>", "random seed", int(0), 1)
    .option("--forget-bias <b>", "added to the LSTM forget-gate bias at initialisation", num(), 1)
    .option("--eval-every <n>", "evaluate every n steps", int(1), 100)
    .option("--test-size <n>", "sequences in each test set", int(1), 256)
    .option("--no-stop-when-solved", "train every run for all --steps, even once solved")
    .option("--gradient-cells <list>", "cells of the gradient plot at initialisation", cellList, cellList(GRADIENT_CELLS))
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS)", int(1))
    .option("--out <dir>", "output folder (default runs/lab-<time>)")
    .option("--title <text>", "report title")
    .option("--quiet", "print only the paths written")
    .action((f: LabFlags) => {
      applyThreadsOption(f.threads);
      const out = f.out ?? defaultOut("lab");
      mkdirSync(out, { recursive: true });
      const result = labGrid({
        tasks: f.tasks,
        cells: f.cells,
        Ts: f.Ts,
        hidden: f.hidden,
        steps: f.steps,
        batch: f.batch,
        lr: f.lr,
        seed: f.seed,
        forgetBias: f.forgetBias,
        evalEvery: f.evalEvery,
        testSize: f.testSize,
        stopWhenSolved: f.stopWhenSolved,
        gradientCells: f.gradientCells,
        backend: f.backend,
        onEvent: (where, e) => {
          if (f.quiet) return;
          if (e.event === "done") console.log(`[${where.index + 1}/${where.total}] ${summaryLine(getTask(where.task), e)}`);
        },
      });
      const args = process.argv.slice(process.argv.indexOf("lab") + 1);
      const command = ["unroll", "lab", ...args.map((a) => (/^[\w.,=/:-]+$/.test(a) ? a : JSON.stringify(a)))].join(" ");
      const html = labReportHtml(result, { command, generated: new Date().toISOString().slice(0, 16).replace("T", " ") });
      writeFileSync(join(out, "report.html"), html);
      writeFileSync(join(out, "report.json"), toJson(result));
      for (const c of labReportCharts(result)) writeChart(out, c.name, c.svg);
      console.log(join(out, "report.html"));
      const w = fontWarning();
      if (w) console.error(`warning: ${w}`);
    });
}
