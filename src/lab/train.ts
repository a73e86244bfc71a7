/**
 * Training a sequence model on a lab task: fresh batches from the task's generator every step,
 * loss, backward, global-norm clipping, an optimizer step; every `evalEvery` steps the task's
 * metric on a fixed test set (the same for every seed and cell, so runs compare), read against the
 * task's trivial baseline.
 *
 * Three generators, all seeded: `seed` initialises the model, `seed + 1` draws the training
 * batches, and a constant seed (per task and T) the test set.
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import { cellName, parseCell, type CellConfig } from "../cells/cell.js";
import type { DType } from "../tensor/dtype.js";
import { allocate } from "../tensor/dtype.js";
import { Rng } from "../tensor/random.js";
import { clipGradNorm } from "../train/clip.js";
import { createOptimizer, type OptimizerConfig } from "../train/optimizers.js";
import {
  createSequenceGradients,
  createSequenceModel,
  initSequenceModel,
  sequenceBackward,
  sequenceForward,
  sequenceLoss,
  type SequenceModel,
} from "./model.js";
import { getTask, type Task, type TaskBatch, type TaskName } from "./tasks/index.js";

/** Options of `trainOnTask`; omitted ones take `TASK_DEFAULTS`. */
export interface TaskTrainOptions {
  readonly task: TaskName | Task;
  /** A cell name ("lstm", "gru", "rnn", …) or config. */
  readonly cell: string | CellConfig;
  /** The task's length parameter (`task.lengthMeaning`). */
  readonly T: number;
  readonly hidden?: number;
  readonly layers?: number;
  readonly steps?: number;
  readonly batch?: number;
  readonly optimizer?: OptimizerConfig["kind"];
  readonly lr?: number;
  /** Clip the global gradient norm to this; 0 = no clipping. */
  readonly clipNorm?: number;
  readonly seed?: number;
  /** Added to the LSTM forget-gate bias at initialisation. */
  readonly forgetBias?: number;
  /** Orthogonal W_hh at initialisation. */
  readonly orthogonal?: boolean;
  /** Chrono initialisation of the gate biases for dependencies up to this many steps (`SequenceInitOptions.chrono`). */
  readonly chrono?: number;
  readonly evalEvery?: number;
  /** Sequences in the test set. */
  readonly testSize?: number;
  /** Stop at the first evaluation that counts as solved (`task.solved`). */
  readonly stopWhenSolved?: boolean;
  /** Stop after this many milliseconds of training (checked after each step). */
  readonly maxTimeMs?: number;
  readonly dtype?: DType;
  /** A backend or its name (default: the fastest registered). */
  readonly backend?: Backend | string;
  /** Milliseconds since some origin (default `Date.now`); only for reporting and `maxTimeMs`. */
  readonly now?: () => number;
  /** Receives progress events. */
  readonly onEvent?: (e: TaskEvent) => void;
}

/** Defaults of `trainOnTask` (hidden 128, Adam 1e-3, clip 1, forget bias 1, seed 1). */
export const TASK_DEFAULTS = {
  hidden: 128,
  layers: 1,
  steps: 2000,
  batch: 32,
  optimizer: "adam",
  lr: 1e-3,
  clipNorm: 1,
  seed: 1,
  forgetBias: 1,
  orthogonal: false,
  evalEvery: 100,
  testSize: 512,
  stopWhenSolved: false,
  dtype: "float32",
} as const;

/** One point of a learning curve. */
export interface CurvePoint {
  readonly step: number;
  /** Mean training loss over the steps since the previous point (null at step 0). */
  readonly trainLoss: number | null;
  /** The task's metric on the test set. */
  readonly value: number;
}

/** Why training stopped. */
export type StopReason = "steps" | "time" | "solved" | "diverged";

/** The summary of a run: one line of `unroll task --json`. */
export interface TaskSummary {
  readonly task: TaskName;
  readonly cell: string;
  readonly T: number;
  readonly metric: string;
  readonly value: number;
  readonly baseline: number;
  readonly better: "lower" | "higher";
  readonly solved: boolean;
  readonly steps: number;
  readonly hidden: number;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
  /** How the model was initialised beyond PyTorch's defaults. */
  readonly init: { readonly forgetBias: number; readonly orthogonal: boolean; readonly chrono: number | null };
  readonly optimizer: string;
  readonly clipNorm: number;
  readonly wallSeconds: number;
  readonly reason: StopReason;
  readonly backend: string;
}

/** Progress of `trainOnTask`. */
export type TaskEvent =
  | {
      readonly event: "start";
      readonly task: TaskName;
      readonly cell: string;
      readonly T: number;
      readonly params: number;
      readonly metric: string;
      readonly baseline: number;
      readonly backend: string;
    }
  | ({ readonly event: "eval"; readonly elapsedMs: number; readonly baseline: number } & CurvePoint)
  | ({ readonly event: "done" } & TaskSummary);

/** What `trainOnTask` returns. */
export interface TaskRun {
  readonly summary: TaskSummary;
  readonly curve: readonly CurvePoint[];
  readonly model: SequenceModel;
  readonly task: Task;
}

/** Sequences per test batch. */
const TEST_BATCH = 128;

/** The fixed test set of a task at T: `size` sequences from a seed that depends only on T. */
export function testSet(task: Task, T: number, size: number, dtype: DType): TaskBatch[] {
  const rng = Rng.seeded(0x7e57 + T);
  const batches: TaskBatch[] = [];
  for (let n = 0; n < size; n += TEST_BATCH) batches.push(task.sample(rng, T, Math.min(TEST_BATCH, size - n), dtype));
  return batches;
}

/** The task's metric of `model` over `batches`. */
export function evaluateTask(backend: Backend, model: SequenceModel, task: Task, batches: readonly TaskBatch[]): number {
  let sum = 0;
  let count = 0;
  for (const b of batches) {
    const pass = sequenceForward(backend, model, b.x, b.T, b.B);
    const s = task.score(b, pass.out);
    sum += s.sum;
    count += s.count;
  }
  return sum / count;
}

/** A model for `task` with the given cell, initialised from `seed`. */
export function createTaskModel(
  task: Task,
  cell: CellConfig,
  opts: { hidden: number; layers?: number; seed: number; forgetBias?: number; orthogonal?: boolean; chrono?: number; dtype?: DType },
): SequenceModel {
  const model = createSequenceModel(
    { cell, inputSize: task.inputSize, hiddenSize: opts.hidden, outputSize: task.outputSize, numLayers: opts.layers ?? 1 },
    opts.dtype ?? "float32",
  );
  initSequenceModel(model, Rng.seeded(opts.seed), { forgetBias: opts.forgetBias, orthogonal: opts.orthogonal, chrono: opts.chrono });
  return model;
}

/** Trains a fresh model on a task and reports the learning curve against the baseline. */
export function trainOnTask(options: TaskTrainOptions): TaskRun {
  const o = { ...TASK_DEFAULTS, ...options };
  const task = typeof o.task === "string" ? getTask(o.task) : o.task;
  const cell = typeof o.cell === "string" ? parseCell(o.cell) : o.cell;
  const positive = (v: number, what: string, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be an integer ≥ ${min}, got ${v}`);
  };
  if (!Number.isInteger(o.T) || o.T < task.minT) throw new Error(`${task.name}: T must be an integer ≥ ${task.minT}, got ${o.T}`);
  positive(o.hidden, "hidden");
  positive(o.steps, "steps", 0);
  positive(o.batch, "batch");
  positive(o.evalEvery, "evalEvery");
  positive(o.testSize, "testSize");
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  const now = o.now ?? Date.now;
  const name = cellName(cell);

  const model = createTaskModel(task, cell, { hidden: o.hidden, layers: o.layers, seed: o.seed, forgetBias: o.forgetBias, orthogonal: o.orthogonal, chrono: o.chrono, dtype: o.dtype });
  const grads = createSequenceGradients(model);
  const optimizer = createOptimizer({ kind: o.optimizer, lr: o.lr }, model.params.data.length, o.dtype);
  const data = Rng.seeded(o.seed + 1);
  const test = testSet(task, o.T, o.testSize, o.dtype);
  const baseline = task.baseline(o.T);
  const emit = o.onEvent ?? (() => {});
  emit({ event: "start", task: task.name, cell: name, T: o.T, params: model.params.data.length, metric: task.metric.name, baseline, backend: backend.name });

  const t0 = now();
  const curve: CurvePoint[] = [];
  const evaluate = (step: number, trainLoss: number | null): CurvePoint => {
    const p = { step, trainLoss, value: evaluateTask(backend, model, task, test) };
    curve.push(p);
    emit({ event: "eval", ...p, baseline, elapsedMs: now() - t0 });
    return p;
  };
  let last = evaluate(0, null);
  let reason: StopReason = "steps";
  let step = 0;
  let lossSum = 0;
  let lossCount = 0;
  while (step < o.steps) {
    const batch = task.sample(data, o.T, o.batch, o.dtype);
    const pass = sequenceForward(backend, model, batch.x, batch.T, batch.B);
    const dout = allocate(o.dtype, pass.out.length);
    const loss = sequenceLoss(model, pass, batch.target, dout);
    grads.data.fill(0);
    sequenceBackward(backend, model, grads, pass, dout);
    const norm = o.clipNorm > 0 ? clipGradNorm(grads.data, o.clipNorm, backend.optimizerKernels) : 0;
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      reason = "diverged";
      break;
    }
    optimizer.step(model.params.data, grads.data, undefined, backend.optimizerKernels);
    step++;
    lossSum += loss;
    lossCount++;
    const timeUp = o.maxTimeMs !== undefined && now() - t0 >= o.maxTimeMs;
    if (step % o.evalEvery === 0 || step === o.steps || timeUp) {
      last = evaluate(step, lossSum / lossCount);
      lossSum = 0;
      lossCount = 0;
      if (o.stopWhenSolved && task.solved(last.value, o.T)) {
        reason = "solved";
        break;
      }
    }
    if (timeUp && step < o.steps) {
      reason = "time";
      break;
    }
  }
  const value = reason === "diverged" ? NaN : last.value;
  const summary: TaskSummary = {
    task: task.name,
    cell: name,
    T: o.T,
    metric: task.metric.name,
    value,
    baseline,
    better: task.metric.better,
    solved: task.solved(value, o.T),
    steps: step,
    hidden: o.hidden,
    batch: o.batch,
    lr: o.lr,
    seed: o.seed,
    init: { forgetBias: o.chrono === undefined ? o.forgetBias : 0, orthogonal: o.orthogonal, chrono: o.chrono ?? null },
    optimizer: o.optimizer,
    clipNorm: o.clipNorm,
    wallSeconds: (now() - t0) / 1000,
    reason,
    backend: backend.name,
  };
  emit({ event: "done", ...summary });
  return { summary, curve, model, task };
}
