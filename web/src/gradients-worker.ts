/**
 * The "Vanishing gradients" panel's worker (gradients-panel.ts is its page side):
 *
 * - `norms`: ‖∂L_T/∂h_{T−k}‖ against the gap k for an RNN, an LSTM and a GRU at initialisation,
 *   all on the same probe batch of the adding task (`lab.gradientNorms`, float64 on the js
 *   backend), with W_hh multiplied by a gain after the initialisation. Requests that arrive while
 *   one is being computed replace each other: only the newest is answered (stale ones get
 *   `dropped`).
 * - `train`: the cells trained on the adding task side by side on the wasm backend (float32), a
 *   few steps of each in turn, yielding to the event loop between chunks so that `stop` and new
 *   `norms` requests are seen; test MSE streamed every `evalEvery` steps.
 */
import { allocate, clipGradNorm, createOptimizer, getBackend, initWasmBackend, lab, parseCell, Rng, type Backend } from "../../src/index.js";

// ---- messages ------------------------------------------------------------------------------

/** Which gradient curves to compute. */
export interface NormsRequest {
  readonly type: "norms";
  readonly id: number;
  readonly T: number;
  /** Gain multiplying every gate block of W_hh after the initialisation. */
  readonly scale: number;
  readonly hidden: number;
  readonly seed: number;
  /** Added to the LSTM forget-gate bias (as `unroll gradients --forget-bias`). */
  readonly forgetBias: number;
  /** W_hh before the gain: PyTorch's U(±1/√H), or orthogonal (every singular value 1). */
  readonly init: "pytorch" | "orthogonal";
  /** Probe sequences the curve is the geometric mean over. */
  readonly batch: number;
}

/** The side-by-side training run. */
export interface TrainRequest {
  readonly type: "train";
  readonly id: number;
  readonly cells: readonly string[];
  readonly T: number;
  readonly hidden: number;
  readonly steps: number;
  readonly lr: number;
  readonly batch: number;
  readonly seed: number;
  readonly evalEvery: number;
  readonly testSize: number;
}

export type ToGradientsWorker = NormsRequest | TrainRequest | { readonly type: "stop" };

/** One cell's curves (`GradientNorms`, trimmed to what the page shows). */
export interface CellNorms {
  readonly cell: string;
  readonly dh: number[];
  readonly dc: number[] | null;
  readonly rate: { readonly dh: number; readonly dc: number | null };
  /** Spectral radius and largest singular value of the first gate block of W_hh (after the gain). */
  readonly rho: number;
  readonly sigmaMax: number;
  /** RNN: mean tanh′ over all steps, sequences and units. */
  readonly meanDerivative: number | null;
}

export interface NormsResult {
  readonly T: number;
  readonly scale: number;
  readonly hidden: number;
  readonly seed: number;
  readonly init: NormsRequest["init"];
  readonly forgetBias: number;
  readonly batch: number;
  readonly cells: Record<string, CellNorms>;
}

export type FromGradientsWorker =
  | { readonly type: "ready"; readonly backend: string; readonly note: string | null }
  | { readonly type: "norms"; readonly id: number; readonly result: NormsResult; readonly ms: number }
  | { readonly type: "dropped"; readonly id: number }
  | { readonly type: "error"; readonly id: number | null; readonly message: string }
  | { readonly type: "train-start"; readonly id: number; readonly cells: string[]; readonly baseline: number; readonly solvedBelow: number; readonly backend: string }
  | {
      readonly type: "train-eval";
      readonly id: number;
      readonly cell: string;
      readonly step: number;
      readonly value: number;
      readonly trainLoss: number | null;
      readonly wallMs: number;
      readonly cellMs: number;
    }
  | {
      readonly type: "train-done";
      readonly id: number;
      readonly cell: string;
      readonly reason: "solved" | "steps" | "diverged" | "stopped";
      readonly step: number;
      readonly value: number;
      readonly wallMs: number;
      readonly cellMs: number;
    }
  | { readonly type: "train-end"; readonly id: number; readonly stopped: boolean; readonly wallMs: number };

// ---- plumbing ------------------------------------------------------------------------------

interface Scope {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (e: MessageEvent) => void): void;
}
const scope = globalThis as unknown as Scope;
const post = (m: FromGradientsWorker) => scope.postMessage(m);
const task = lab.getTask("adding");
const js = getBackend("js");
const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

let fast: Backend = js;
let fastNote: string | null = null;
const ready = initWasmBackend().then(
  (b) => (fast = b),
  (e: Error) => {
    fastNote = `wasm unavailable (${e.message}); training on the js backend`;
    return js;
  },
);

// ---- gradient norms ------------------------------------------------------------------------

let pendingNorms: NormsRequest | null = null;
let normsScheduled = false;

function computeNorms(r: NormsRequest): NormsResult {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(what);
  };
  check(Number.isInteger(r.T) && r.T >= 2 && r.T <= 2000, `T must be a whole number from 2 to 2000, got ${r.T}`);
  check(Number.isInteger(r.hidden) && r.hidden >= 1 && r.hidden <= 512, `hidden size must be a whole number from 1 to 512, got ${r.hidden}`);
  check(Number.isFinite(r.scale) && r.scale >= 0, `weight scale must be a number ≥ 0, got ${r.scale}`);
  check(Number.isFinite(r.forgetBias), `forget bias must be a number, got ${r.forgetBias}`);
  check(Number.isInteger(r.seed) && r.seed >= 0, `seed must be a whole number ≥ 0, got ${r.seed}`);
  // the same probe batch for every cell (as gradientStudy: seed + 2)
  const probe = task.sample(Rng.seeded(r.seed + 2), r.T, r.batch, "float64");
  const cells: Record<string, CellNorms> = {};
  for (const name of ["rnn", "lstm", "gru"]) {
    const cell = parseCell(name);
    const model = lab.createTaskModel(task, cell, { hidden: r.hidden, seed: r.seed, forgetBias: r.forgetBias, orthogonal: r.init === "orthogonal" });
    const Whh = lab.bindSequenceModel(model.config, model.params).rnn.dirs[0].Whh;
    for (let i = 0; i < Whh.length; i++) Whh[i] *= r.scale;
    const g = lab.gradientNorms(js, model, probe);
    cells[name] = {
      cell: g.cell,
      dh: g.dh,
      dc: g.dc,
      rate: g.rate,
      rho: g.weights[0].spectralRadius,
      sigmaMax: g.weights[0].sigmaMax,
      meanDerivative: g.rnn ? g.rnn.meanDerivative : null,
    };
  }
  return { T: r.T, scale: r.scale, hidden: r.hidden, seed: r.seed, init: r.init, forgetBias: r.forgetBias, batch: r.batch, cells };
}

function scheduleNorms(): void {
  if (normsScheduled) return;
  normsScheduled = true;
  setTimeout(() => {
    normsScheduled = false;
    const r = pendingNorms;
    pendingNorms = null;
    if (!r) return;
    const t0 = performance.now();
    try {
      const result = computeNorms(r);
      post({ type: "norms", id: r.id, result, ms: performance.now() - t0 });
    } catch (e) {
      post({ type: "error", id: r.id, message: (e as Error).message });
    }
    if (pendingNorms) scheduleNorms();
  }, 0);
}

// ---- side-by-side training ------------------------------------------------------------------

interface CellRun {
  readonly name: string;
  readonly model: ReturnType<typeof lab.createTaskModel>;
  readonly grads: ReturnType<typeof lab.createSequenceGradients>;
  readonly optimizer: ReturnType<typeof createOptimizer>;
  readonly data: Rng;
  step: number;
  lossSum: number;
  lossCount: number;
  ms: number;
  last: number;
  done: boolean;
}

/** The run in progress: `stop` (or a new run) sets `stopped`. */
let training: { id: number; stopped: boolean } | null = null;

const STEPS_PER_CHUNK = 10;
const CLIP_NORM = 1;
const FORGET_BIAS = 1;

async function train(r: TrainRequest): Promise<void> {
  if (training) training.stopped = true;
  const me = { id: r.id, stopped: false };
  training = me;
  try {
    if (!Number.isInteger(r.T) || r.T < task.minT) throw new Error(`T must be a whole number ≥ ${task.minT}, got ${r.T}`);
    if (!Number.isInteger(r.hidden) || r.hidden < 1) throw new Error(`hidden size must be a whole number ≥ 1, got ${r.hidden}`);
    if (!Number.isInteger(r.steps) || r.steps < 1) throw new Error(`steps must be a whole number ≥ 1, got ${r.steps}`);
    if (!(r.lr > 0)) throw new Error(`learning rate must be > 0, got ${r.lr}`);
    const backend = await ready;
    const dtype = "float32";
    const test = lab.testSet(task, r.T, r.testSize, dtype);
    const runs: CellRun[] = r.cells.map((name) => {
      const model = lab.createTaskModel(task, parseCell(name), { hidden: r.hidden, seed: r.seed, forgetBias: FORGET_BIAS, dtype });
      return {
        name,
        model,
        grads: lab.createSequenceGradients(model),
        optimizer: createOptimizer({ kind: "adam", lr: r.lr }, model.params.data.length, dtype),
        data: Rng.seeded(r.seed + 1),
        step: 0,
        lossSum: 0,
        lossCount: 0,
        ms: 0,
        last: NaN,
        done: false,
      };
    });
    post({ type: "train-start", id: r.id, cells: runs.map((c) => c.name), baseline: task.baseline(r.T), solvedBelow: 0.01, backend: backend.name });
    const t0 = performance.now();
    const evaluate = (c: CellRun) => {
      const s = performance.now();
      c.last = lab.evaluateTask(backend, c.model, task, test);
      c.ms += performance.now() - s;
      post({
        type: "train-eval",
        id: r.id,
        cell: c.name,
        step: c.step,
        value: c.last,
        trainLoss: c.lossCount ? c.lossSum / c.lossCount : null,
        wallMs: performance.now() - t0,
        cellMs: c.ms,
      });
      c.lossSum = c.lossCount = 0;
    };
    const finish = (c: CellRun, reason: "solved" | "steps" | "diverged" | "stopped") => {
      c.done = true;
      post({ type: "train-done", id: r.id, cell: c.name, reason, step: c.step, value: c.last, wallMs: performance.now() - t0, cellMs: c.ms });
    };
    for (const c of runs) evaluate(c);
    await yieldToEvents();
    while (!me.stopped && runs.some((c) => !c.done)) {
      for (const c of runs) {
        if (c.done || me.stopped) continue;
        for (let k = 0; k < STEPS_PER_CHUNK && !c.done; k++) {
          const s = performance.now();
          const batch = task.sample(c.data, r.T, r.batch, dtype);
          const pass = lab.sequenceForward(backend, c.model, batch.x, batch.T, batch.B);
          const dout = allocate(dtype, pass.out.length);
          const loss = lab.sequenceLoss(c.model, pass, batch.target, dout);
          c.grads.data.fill(0);
          lab.sequenceBackward(backend, c.model, c.grads, pass, dout);
          const norm = clipGradNorm(c.grads.data, CLIP_NORM, backend.optimizerKernels);
          if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
            c.ms += performance.now() - s;
            finish(c, "diverged");
            break;
          }
          c.optimizer.step(c.model.params.data, c.grads.data, undefined, backend.optimizerKernels);
          c.step++;
          c.lossSum += loss;
          c.lossCount++;
          c.ms += performance.now() - s;
          if (c.step % r.evalEvery === 0 || c.step >= r.steps) {
            evaluate(c);
            if (task.solved(c.last, r.T)) finish(c, "solved");
            else if (c.step >= r.steps) finish(c, "steps");
            break; // an evaluation ends the chunk: the next cell's turn
          }
        }
        await yieldToEvents();
      }
    }
    for (const c of runs) if (!c.done) finish(c, "stopped");
    post({ type: "train-end", id: r.id, stopped: me.stopped, wallMs: performance.now() - t0 });
  } catch (e) {
    post({ type: "error", id: r.id, message: (e as Error).message });
    post({ type: "train-end", id: r.id, stopped: true, wallMs: 0 });
  } finally {
    if (training === me) training = null;
  }
}

// ---- messages in ---------------------------------------------------------------------------

scope.addEventListener("message", (e: MessageEvent) => {
  const m = e.data as ToGradientsWorker;
  switch (m.type) {
    case "norms":
      if (pendingNorms) post({ type: "dropped", id: pendingNorms.id });
      pendingNorms = m;
      scheduleNorms();
      break;
    case "train":
      void train(m);
      break;
    case "stop":
      if (training) training.stopped = true;
      break;
    default:
      post({ type: "error", id: null, message: `gradients worker: unknown message ${JSON.stringify((m as { type?: unknown }).type)}` });
  }
});

void ready.then((b) => post({ type: "ready", backend: b.name, note: fastNote }));
