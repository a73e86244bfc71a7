/**
 * The training loop of every task model (classify, tag, conditional, seq2seq): minibatches of
 * examples grouped by length, an optimizer step per batch (gradient clipped to a global norm),
 * a seeded shuffle of the batch order each epoch, a validation pass every `evalEvery` steps and at
 * each epoch's end, the learning rate multiplied by `lrDecay` whenever validation does not improve
 * (ReduceLROnPlateau with patience 0; 1 keeps it constant).
 *
 * A run can be snapshotted at any step boundary and resumed bit for bit: the snapshot holds the
 * parameters, the optimizer's moments and step count, the random generator (dropout, scheduled
 * sampling and the next shuffles), this epoch's batch order and the position in it.
 */
import type { Backend } from "../backend/backend.js";
import { mirrorArena, type Arena } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import { Rng } from "../tensor/random.js";
import { clipGradNorm } from "../train/clip.js";
import { createOptimizer, type OptimizerConfig } from "../train/optimizers.js";
import { yieldToEventLoop } from "../util/yield.js";

/** What the loop needs of a task. */
export interface TaskLoop<Batch> {
  readonly backend: Backend;
  readonly params: Arena;
  /** The training batches (fixed; the loop shuffles their order). */
  readonly batches: readonly Batch[];
  /** Items scored in a batch (for throughput), e.g. its tokens. */
  size(batch: Batch): number;
  /** Forward, loss and (with grads) backward of one batch, adding into `grads`. */
  loss(batch: Batch, grads: Arena | null, rng: Rng): { loss: number; count: number };
  /** Validation: its loss (lower is better; it picks the best checkpoint) and any metrics. */
  validate(): { loss: number; metrics: Readonly<Record<string, number>> };
}

export interface TaskTrainOptions {
  readonly optimizer: OptimizerConfig;
  /** Global gradient-norm clip; 0 turns it off. */
  readonly clipNorm: number;
  readonly maxEpochs: number | null;
  /** Seconds. */
  readonly maxTime: number | null;
  readonly maxSteps: number | null;
  /** Validate every this many steps as well as at every epoch's end; 0: only at epoch ends. */
  readonly evalEvery: number;
  /** Learning-rate factor when validation does not improve (1: never changes). */
  readonly lrDecay: number;
  readonly seed: number;
  readonly now?: () => number;
  readonly signal?: { readonly aborted: boolean };
}

export type TaskStopReason = "max-epochs" | "max-time" | "max-steps" | "aborted";

export type TaskEvent =
  | { readonly event: "start"; readonly step: number; readonly params: number; readonly batchesPerEpoch: number; readonly backend: string; readonly resumed: boolean }
  | { readonly event: "step"; readonly step: number; readonly epoch: number; readonly progress: number; readonly loss: number; readonly lr: number; readonly gradNorm: number; readonly itemsPerSec: number; readonly elapsedMs: number; readonly etaMs: number | null }
  | { readonly event: "eval"; readonly step: number; readonly epoch: number; readonly valLoss: number; readonly bestValLoss: number; readonly improved: boolean; readonly lr: number; readonly metrics: Readonly<Record<string, number>> }
  | { readonly event: "done"; readonly reason: TaskStopReason; readonly step: number; readonly epoch: number; readonly valLoss: number | null; readonly bestValLoss: number | null; readonly elapsedMs: number };

/** The training state of a snapshot (JSON-safe) and its big buffers. */
export interface TaskTrainingState {
  readonly progress: { step: number; epoch: number; position: number; bestValLoss: number | null; elapsedMs: number; lr: number };
  readonly order: readonly number[];
  readonly rng: readonly number[];
  readonly optimizer: { readonly kind: string; readonly t: number };
}

export interface TaskTraining {
  run(): AsyncGenerator<TaskEvent, void, undefined>;
  /** The state to save ("optimizer.<name>" tensors beside it) at a step boundary. */
  snapshot(): { training: TaskTrainingState; tensors: Map<string, FloatArray> };
}

function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function copyAs(dtype: DType, values: ArrayLike<number>): FloatArray {
  const out = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i];
  return out;
}

/**
 * A run over `loop` (parameters already initialised, or loaded). With `resume` (a snapshot's
 * training state and tensors) it continues exactly where that snapshot stopped.
 */
export function createTaskTraining<Batch>(
  loop: TaskLoop<Batch>,
  o: TaskTrainOptions,
  resume?: { training: TaskTrainingState; tensors: ReadonlyMap<string, FloatArray> },
): TaskTraining {
  const now = o.now ?? (() => Date.now());
  const n = loop.batches.length;
  if (n === 0) throw new Error("no training batches: the training split is empty; give more data");
  if (!(o.lrDecay > 0 && o.lrDecay <= 1)) throw new Error(`lrDecay must be in (0, 1], got ${o.lrDecay}`);
  const dtype = loop.params.dtype;
  const optimizer = createOptimizer(o.optimizer, loop.params.data.length, dtype);
  const grads = mirrorArena(loop.params);
  let rng: Rng;
  let order: number[];
  let progress: TaskTrainingState["progress"];
  if (resume) {
    const t = resume.training;
    if (t.order.length !== n) throw new Error(`the checkpoint's epoch has ${t.order.length} batches but the data makes ${n}: resume with the same data and batch size`);
    rng = Rng.fromState(t.rng);
    order = [...t.order];
    progress = { ...t.progress };
    const buffers: Record<string, number[]> = {};
    for (const [name, v] of resume.tensors) if (name.startsWith("optimizer.")) buffers[name.slice("optimizer.".length)] = Array.from(v);
    optimizer.importState({ kind: t.optimizer.kind as OptimizerConfig["kind"], t: t.optimizer.t, buffers });
  } else {
    rng = Rng.seeded(o.seed);
    order = permutation(n, rng);
    progress = { step: 0, epoch: 0, position: 0, bestValLoss: null, elapsedMs: 0, lr: o.optimizer.lr };
  }

  const snapshot = () => {
    const os = optimizer.exportState();
    const tensors = new Map<string, FloatArray>();
    for (const [name, values] of Object.entries(os.buffers)) tensors.set(`optimizer.${name}`, copyAs(dtype, values));
    return { training: { progress: { ...progress }, order: [...order], rng: rng.state(), optimizer: { kind: os.kind, t: os.t } }, tensors };
  };

  async function* run(): AsyncGenerator<TaskEvent, void, undefined> {
    yield { event: "start", step: progress.step, params: loop.params.data.length, batchesPerEpoch: n, backend: loop.backend.name, resumed: resume !== undefined };
    let valLoss: number | null = null;
    const evaluate = (): TaskEvent => {
      const v = loop.validate();
      valLoss = v.loss;
      const improved = progress.bestValLoss === null || v.loss < progress.bestValLoss;
      if (improved) progress.bestValLoss = v.loss;
      else progress.lr *= o.lrDecay;
      return { event: "eval", step: progress.step, epoch: progress.epoch, valLoss: v.loss, bestValLoss: progress.bestValLoss!, improved, lr: progress.lr, metrics: v.metrics };
    };
    const start = now() - progress.elapsedMs;
    const startStep = progress.step;
    let lastEval = resume ? progress.step : -1;
    let reason: TaskStopReason | null = null;
    for (;;) {
      progress.elapsedMs = now() - start;
      if (o.signal?.aborted) reason = "aborted";
      else if (o.maxEpochs !== null && progress.epoch >= o.maxEpochs) reason = "max-epochs";
      else if (o.maxSteps !== null && progress.step >= o.maxSteps) reason = "max-steps";
      else if (o.maxTime !== null && progress.elapsedMs >= o.maxTime * 1000) reason = "max-time";
      if (reason) break;
      const batch = loop.batches[order[progress.position]];
      const t0 = now();
      grads.data.fill(0);
      const { loss } = loop.loss(batch, grads, rng);
      if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${progress.step + 1}: the run diverged; lower --lr or set --clip-norm`);
      const gradNorm = o.clipNorm > 0 ? clipGradNorm(grads.data, o.clipNorm, loop.backend.optimizerKernels) : 0;
      optimizer.step(loop.params.data, grads.data, progress.lr, loop.backend.optimizerKernels);
      const dt = Math.max(now() - t0, 1e-3);
      progress.step++;
      progress.position++;
      let epochEnd = false;
      if (progress.position === n) {
        progress.position = 0;
        progress.epoch++;
        order = permutation(n, rng);
        epochEnd = true;
      }
      progress.elapsedMs = now() - start;
      const frac = progress.epoch + progress.position / n;
      const msPerStep = progress.elapsedMs / Math.max(1, progress.step - startStep);
      const etas: number[] = [];
      if (o.maxEpochs !== null) etas.push((o.maxEpochs - frac) * n * msPerStep);
      if (o.maxSteps !== null) etas.push((o.maxSteps - progress.step) * msPerStep);
      if (o.maxTime !== null) etas.push(o.maxTime * 1000 - progress.elapsedMs);
      yield {
        event: "step",
        step: progress.step,
        epoch: progress.epoch,
        progress: frac,
        loss,
        lr: progress.lr,
        gradNorm,
        itemsPerSec: (loop.size(batch) / dt) * 1000,
        elapsedMs: progress.elapsedMs,
        etaMs: etas.length > 0 ? Math.max(0, Math.min(...etas)) : null,
      };
      if (epochEnd || (o.evalEvery > 0 && progress.step % o.evalEvery === 0)) {
        yield evaluate();
        lastEval = progress.step;
      }
      await yieldToEventLoop(); // let signals, messages and I/O in
    }
    if (lastEval !== progress.step) {
      yield evaluate();
    }
    yield { event: "done", reason, step: progress.step, epoch: progress.epoch, valLoss, bestValLoss: progress.bestValLoss, elapsedMs: progress.elapsedMs };
  }

  return { run, snapshot };
}

/**
 * Groups example indices into batches of at most `batchSize` whose keys (lengths) are equal:
 * within each key the indices are shuffled by `rng`, then cut into batches; the batches of all
 * keys are returned in order of key (the loop shuffles the order).
 */
export function groupByLength(keys: readonly number[], batchSize: number, rng: Rng): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const groups = new Map<number, number[]>();
  keys.forEach((k, i) => {
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  const out: number[][] = [];
  for (const k of [...groups.keys()].sort((a, b) => a - b)) {
    const idx = groups.get(k)!;
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (let s = 0; s < idx.length; s += batchSize) out.push(idx.slice(s, s + batchSize));
  }
  return out;
}
