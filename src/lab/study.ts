/**
 * The lab's two experiments as plain functions (no files, no console; the CLI writes and prints):
 *
 * - `gradientStudy`: gradient norm against the gap for several cells at initialisation, and
 *   optionally again after training each on a task;
 * - `labGrid`: train every cell at every T on each task, record the final test metric, and measure
 *   the trained models' gradients at the largest T.
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import { cellName, parseCell } from "../cells/cell.js";
import { Rng } from "../tensor/random.js";
import { gradientNorms, type GradientNorms } from "./gradients.js";
import { getTask, type Task, type TaskBatch, type TaskName } from "./tasks/index.js";
import { createTaskModel, trainOnTask, type CurvePoint, type TaskEvent, type TaskSummary } from "./train.js";

/** Options of `gradientStudy`. */
export interface GradientStudyOptions {
  readonly cells: readonly string[];
  readonly T: number;
  readonly hidden: number;
  /** Supplies the inputs and the loss L_T (fixed-length tasks: adding, copy, temporal-order). */
  readonly task: TaskName;
  /** Sequences averaged over. */
  readonly batch: number;
  readonly seed: number;
  readonly forgetBias: number;
  readonly orthogonal: boolean;
  /** Chrono initialisation of LSTM/GRU gate biases for gaps up to this many steps (replaces forgetBias). */
  readonly chrono?: number;
  /** Train each cell this many steps on the task, then measure again (0: initialisation only). */
  readonly trainSteps: number;
  readonly lr: number;
  /** Compute the Elman RNNs' Jacobian bound (slower). */
  readonly jacobianBound: boolean;
  readonly backend?: Backend | string;
  readonly onEvent?: (cell: string, e: TaskEvent) => void;
}

/** The result of `gradientStudy`. */
export interface GradientStudy {
  readonly task: TaskName;
  readonly T: number;
  readonly hidden: number;
  readonly batch: number;
  readonly seed: number;
  readonly forgetBias: number;
  readonly orthogonal: boolean;
  readonly chrono: number | null;
  readonly init: GradientNorms[];
  /** The tanh RNN with PyTorch's random W_hh and with an orthogonal one: its decay against what W_hh predicts. */
  readonly relation: RelationCase[];
  /** After `trainSteps` steps of training, with each run's summary; null without training. */
  readonly trained: { readonly steps: number; readonly runs: { readonly summary: TaskSummary; readonly gradients: GradientNorms }[] } | null;
}

/** One measurement of the tanh RNN's decay, labelled by its W_hh. */
export interface RelationCase {
  readonly label: string;
  readonly g: GradientNorms;
}

/**
 * The tanh RNN's gradient decay with PyTorch's random W_hh and with an orthogonal W_hh (equal
 * singular values, where σ_max · mean tanh′ is the rate), same inputs and seed.
 */
export function tanhRelation(backend: Backend, task: Task, probe: TaskBatch, hidden: number, seed: number, jacobianBound: boolean): RelationCase[] {
  const cell = parseCell("rnn");
  return [false, true].map((orthogonal) => ({
    label: orthogonal ? "orthogonal W_hh" : "random W_hh (PyTorch's init)",
    g: gradientNorms(backend, createTaskModel(task, cell, { hidden, seed, orthogonal }), probe, { jacobianBound }),
  }));
}

/** Checks that a task has a target on the last step of every sequence (what L_T needs). */
function fixedLengthTask(name: TaskName): Task {
  const task = getTask(name);
  if (task.loss === "bce") throw new Error(`gradient norms need a fixed-length task with a loss on the last step; ${name} has neither (use adding, copy or temporal-order)`);
  return task;
}

/** Gradient norms against the gap for each cell (same probe batch for all), before and after training. */
export function gradientStudy(o: GradientStudyOptions): GradientStudy {
  const task = fixedLengthTask(o.task);
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  const probe = task.sample(Rng.seeded(o.seed + 2), o.T, o.batch, "float64");
  const cells = o.cells.map((c) => parseCell(c));
  const init = cells.map((cell) => {
    const model = createTaskModel(task, cell, { hidden: o.hidden, seed: o.seed, forgetBias: o.forgetBias, orthogonal: o.orthogonal, chrono: o.chrono });
    return gradientNorms(backend, model, probe, { jacobianBound: o.jacobianBound });
  });
  let trained: GradientStudy["trained"] = null;
  if (o.trainSteps > 0) {
    const runs = cells.map((cell) => {
      const run = trainOnTask({
        task,
        cell,
        T: o.T,
        hidden: o.hidden,
        steps: o.trainSteps,
        lr: o.lr,
        seed: o.seed,
        forgetBias: o.forgetBias,
        orthogonal: o.orthogonal,
        chrono: o.chrono,
        evalEvery: Math.max(1, Math.ceil(o.trainSteps / 10)),
        testSize: 256,
        backend,
        onEvent: o.onEvent ? (e) => o.onEvent!(cellName(cell), e) : undefined,
      });
      return { summary: run.summary, gradients: gradientNorms(backend, run.model, probe, { jacobianBound: o.jacobianBound }) };
    });
    trained = { steps: o.trainSteps, runs };
  }
  const relation = tanhRelation(backend, task, probe, o.hidden, o.seed, o.jacobianBound);
  return { task: o.task, T: o.T, hidden: o.hidden, batch: o.batch, seed: o.seed, forgetBias: o.forgetBias, orthogonal: o.orthogonal, chrono: o.chrono ?? null, init, relation, trained };
}

/** Options of `labGrid`. */
export interface LabOptions {
  readonly tasks: readonly TaskName[];
  readonly cells: readonly string[];
  readonly Ts: readonly number[];
  readonly hidden: number;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
  readonly forgetBias: number;
  readonly evalEvery: number;
  readonly testSize: number;
  /** Stop each run once it meets the task's criterion (saves time; steps-to-solve is recorded). */
  readonly stopWhenSolved: boolean;
  /** Cells of the gradient-norm plot at initialisation (default: `cells`). */
  readonly gradientCells?: readonly string[];
  /** T of the gradient-norm plots (default: the largest of `Ts`). */
  readonly gradientT?: number;
  readonly backend?: Backend | string;
  /** Progress: each run's events, and a line when a run starts. */
  readonly onEvent?: (run: { task: TaskName; cell: string; T: number; index: number; total: number }, e: TaskEvent) => void;
}

/** One trained run of the grid. */
export interface LabRun {
  readonly summary: TaskSummary;
  readonly curve: readonly CurvePoint[];
}

/** The result of `labGrid`. */
export interface LabResult {
  readonly options: Omit<LabOptions, "backend" | "onEvent">;
  readonly backend: string;
  readonly runs: LabRun[];
  /** Gradient norms at initialisation on the first fixed-length task, at `gradientT`. */
  readonly gradientsInit: GradientNorms[];
  /** Gradient norms of the grid's trained models at `gradientT` (same task), when that T was trained. */
  readonly gradientsTrained: GradientNorms[];
  /** The tanh RNN's decay with random and orthogonal W_hh (empty without a fixed-length task). */
  readonly relation: RelationCase[];
  readonly gradientTask: TaskName | null;
  readonly gradientT: number;
  readonly wallSeconds: number;
}

/** Trains every cell at every T on every task (small models, so a class can watch it run). */
export function labGrid(o: LabOptions, now: () => number = Date.now): LabResult {
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  const t0 = now();
  const tasks = o.tasks.map((t) => getTask(t));
  const Ts = [...o.Ts].sort((a, b) => a - b);
  const gradientT = o.gradientT ?? Ts[Ts.length - 1];
  const gradTask = tasks.find((t) => t.loss !== "bce") ?? null;
  const total = tasks.length * o.cells.length * Ts.length;
  const runs: LabRun[] = [];
  const gradientsTrained: GradientNorms[] = [];
  const probe = gradTask ? gradTask.sample(Rng.seeded(o.seed + 2), gradientT, 32, "float64") : null;
  let index = 0;
  for (const task of tasks) {
    for (const cell of o.cells) {
      for (const T of Ts) {
        const where = { task: task.name, cell: cellName(parseCell(cell)), T, index: index++, total };
        const run = trainOnTask({
          task,
          cell,
          T: Math.max(T, task.minT),
          hidden: o.hidden,
          steps: o.steps,
          batch: o.batch,
          lr: o.lr,
          seed: o.seed,
          forgetBias: o.forgetBias,
          evalEvery: o.evalEvery,
          testSize: o.testSize,
          stopWhenSolved: o.stopWhenSolved,
          backend,
          onEvent: o.onEvent ? (e) => o.onEvent!(where, e) : undefined,
        });
        runs.push({ summary: run.summary, curve: run.curve });
        if (task === gradTask && T === gradientT && probe) gradientsTrained.push(gradientNorms(backend, run.model, probe));
      }
    }
  }
  const gradientsInit =
    gradTask && probe
      ? (o.gradientCells ?? o.cells).map((cell) =>
          gradientNorms(backend, createTaskModel(gradTask, parseCell(cell), { hidden: o.hidden, seed: o.seed, forgetBias: o.forgetBias }), probe, {
            jacobianBound: false,
          }),
        )
      : [];
  const relation = gradTask && probe ? tanhRelation(backend, gradTask, probe, o.hidden, o.seed, false) : [];
  const { backend: _b, onEvent: _e, ...options } = o;
  return {
    options,
    backend: backend.name,
    runs,
    gradientsInit,
    gradientsTrained,
    relation,
    gradientTask: gradTask?.name ?? null,
    gradientT,
    wallSeconds: (now() - t0) / 1000,
  };
}
