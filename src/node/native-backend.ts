/**
 * Node edge: the native backend, a Node-API addon in C (native/, binding.gyp) that the package's
 * install script builds with npm's own node-gyp (scripts/build-native.mjs). Its float32 GEMM picks
 * an AVX-512, AVX2+FMA or portable kernel at run time; float64 runs the specification's loops.
 * In float32 it also runs every cell's whole sequence fused (`recurrence`: the recurrent GEMMs and
 * the gate math in C, native/recurrence.c; hard-sigmoid gates excepted, which run the step code), on a persistent thread pool that also splits large
 * GEMMs; `setNativeThreads` / `--threads` sets its size, and results are the same for any size.
 * The optimizer updates (SGD, Adam, AdamW) and the gradient norm and clipping run in C too
 * (native/optim.c), bit-identical to src/train's loops; UNROLL_NO_NATIVE_OPTIM=1 leaves them to the
 * loops, to measure what they save. The token-input backward's scatter-add of dXP rows by token
 * runs in C as well (native/scatter.c), bit-identical to its loop in src/sequence/unroll.ts.
 *
 * Importing this module loads build/Release/unroll_native.node. When that works it registers the
 * backend "native", so `getBackend()` prefers it; when it does not (not built, or built for
 * another Node ABI), `nativeBackend` is null and `nativeUnavailableReason` says why in one line,
 * and the JavaScript backend stays the default.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { countTargets, type Backend, type FusedBackward, type FusedForward, type FusedRecurrence, type OptimizerKernels } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { registerBackend } from "../backend/select.js";
import { registerQuantizedKernels, type QuantizedKernels, type QuantizedLanguageModel, type QuantizedMatrix, type QuantizedState } from "../generate/quantized.js";
import type { DType, FloatArray } from "../tensor/dtype.js";

/** Instruction sets of the native float32 kernel. */
export type NativeIsa = "avx512" | "avx2" | "portable";

/** What the addon exports. */
export interface NativeAddon {
  /**
   * `Backend.gemm`; throws TypeError/RangeError on bad arguments instead of touching memory. With a
   * `bias` (float32, ≥ N, only without accumulate): C = bias + op(A)·op(B) per row (`gemmBias`).
   */
  readonly gemm: (transA: boolean, transB: boolean, M: number, N: number, K: number, A: FloatArray, B: FloatArray, C: FloatArray, accumulate: boolean, bias?: Float32Array) => void;
  /** The float32 kernel in use: the best this CPU supports unless `setIsa` chose another. */
  isa(): NativeIsa;
  /** Uses another float32 kernel (tests, benchmarks); false, changing nothing, where the CPU can't run it. */
  setIsa(isa: NativeIsa): boolean;
  /** Threads of the addon's pool (fused recurrences, large GEMMs), the caller included. */
  threads(): number;
  /** Resizes the pool to n ∈ [1, 64] threads; returns the count in effect. */
  setThreads(n: number): number;
  /** Measured float32 FMA peak of one core in GFLOP/s, current ISA, best over `seconds` (default 0.3). */
  peakGflops(seconds?: number): number;
  /** Measured read bandwidth of one core over a buffer of `bytes`, GB/s, best over `seconds`; -1 when it cannot allocate. */
  readBandwidth(bytes: number, seconds?: number, threads?: number): number;
  /** Σ over counted rows of the softmax cross-entropy; dL/dlogits·scale into dlogits (native/recurrence.h). */
  softmaxXent(logits: Float32Array, targets: Int32Array, N: number, V: number, dlogits: Float32Array | null, ignore: number, scale: number): number;
  /**
   * Adam/AdamW's update of n elements in place (native/optim.h), bit-identical to `adamStep`'s loop.
   * With `backup`, guarded: p is copied there first, and the result is Σ p² after the update.
   */
  adam(
    p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number,
    shrink: number, l2: number, b1: number, b2: number, stepSize: number, sqrtCorrection2: number, eps: number,
    backup?: Float32Array,
  ): number | undefined;
  /** SGD's update of n elements in place, bit-identical to `sgdStep`'s loop; b is the momentum buffer or null. `backup` as for adam. */
  sgd(
    p: Float32Array, g: Float32Array, b: Float32Array | null, n: number, lr: number, wd: number, mu: number, nesterov: boolean, firstStep: boolean,
    backup?: Float32Array,
  ): number | undefined;
  /** Σ x² over n elements in float64, by fixed blocks: the same for any thread count. */
  sumSquares(x: Float32Array, n: number): number;
  /** x ← x·s over n elements, rounded to float32 as JavaScript does. */
  scale(x: Float32Array, n: number, s: number): void;
  /**
   * For n ascending, row ids[n] of out += row n of src (rows of `width`), bit-identical to the loop
   * (native/scatter.h); throws RangeError for an id outside out's rows, a short src, or overlap.
   */
  scatterAddRows(out: Float32Array, src: Float32Array, ids: Int32Array, width: number): void;
  /**
   * y (rows) = scale ⊙ (q x), or y += it, q int8 rows × cols row-major (native/qgemv.h): AVX-512,
   * AVX2 or portable with the current ISA, rows split over the pool for large products. Absent
   * from addons built before it.
   */
  qgemv?(q: Int8Array, scale: Float32Array, rows: number, cols: number, x: Float32Array, y: Float32Array, accumulate: boolean, packed?: Uint8Array | null, bias?: Float32Array | null): void;
  /** y (rows) (+)= w x, w bfloat16 bit patterns rows × cols row-major (native/qgemv.h). */
  bgemv?(w: Uint16Array, rows: number, cols: number, x: Float32Array, y: Float32Array, accumulate: boolean, packed?: Uint16Array | null, bias?: Float32Array | null): void;
  /**
   * The matrix in the layout of the dot-product kernels (AVX512-VNNI / AVX512-BF16), for `packed`;
   * with `gateOrder` (rows a multiple of 256), in qlstmLayer's stripe order instead.
   */
  qpack?(q: Int8Array, rows: number, cols: number, gateOrder?: boolean): Uint8Array;
  bpack?(w: Uint16Array, rows: number, cols: number, gateOrder?: boolean): Uint16Array;
  /** The kernels qgemv and bgemv use now: "avx512-vnni", "avx512-bf16", or the ISA's name. */
  quantizedKernels?(): { int8: string; bf16: string };
  /** Allows or forbids the dot-product kernels (tests reach the float ones); returns the previous setting. */
  setQuantizedDot?(enabled: boolean): boolean;
  /** Batch-1 LSTM cell update from 4H pre-activations (logistic gates), c and h in place (native/qgemv.h). */
  qlstmCell?(H: number, gates: Float32Array, c: Float32Array, h: Float32Array): void;
  /**
   * A batch-1 LSTM layer step on weights packed in gate order (qpack / bpack; wih null: x is the gates' input
   * side (4H), or null when gates hold it), the same results as qgemv / bgemv then qlstmCell; false, changing nothing, where it
   * cannot run (H not a multiple of 64, no dot-product kernel, a non-finite x or h) (native/qgemv.h).
   */
  qlstmLayer?(
    H: number, inputs: number, wih: Uint8Array | Uint16Array | null, scaleIh: Float32Array | null, x: Float32Array | null,
    whh: Uint8Array | Uint16Array, scaleHh: Float32Array | null, bias: Float32Array | null,
    gates: Float32Array, c: Float32Array, h: Float32Array, descending: boolean,
  ): boolean;
  /** A stacked LSTM's weights (packed in gate order; layer 0's wih, scaleIh, bias null) for qlstmStack. */
  qlstmPlan?(H: number, layers: readonly QlstmPlanLayer[], head?: QlstmPlanHead | null): QlstmPlan;
  /** qlstmLayer for every layer of `plan` in one call (layer 0 from `row`, or from gates when null); returns the layers done. */
  qlstmStack?(plan: QlstmPlan, row: Float32Array | null, gates: Float32Array, h: Float32Array, c: Float32Array): number;
  /**
   * A whole step of a plan with a head: every layer from row `token` of the head's table, then logits ←
   * the output layer × the last layer's h + bias; returns L + 1, or the layers done where one declined.
   */
  qlstmStep?(plan: QlstmPlan, token: number, gates: Float32Array, h: Float32Array, c: Float32Array, logits: Float32Array): number;
  /**
   * qlstmStep, then the next token as pickToken chooses it with the uniform draw u (u < 0: argmax) at
   * `temperature` (native/pick.h), the probabilities left in logits; or −1 − the layers done where one declined.
   */
  qlstmSample?(plan: QlstmPlan, token: number, gates: Float32Array, h: Float32Array, c: Float32Array, logits: Float32Array, u: number, temperature: number): number;
  /**
   * Whether qlstmStack / qlstmStep / qlstmSample make layer 0's W_hh·h0 for the next step with layer 1 and start
   * from it when h0 is unchanged (native/qgemv.h, unroll_qlstm_stack_carry; the same results either
   * way); returns the previous setting. For A/B measurements and tests.
   */
  qlstmSetCarry?(enabled: boolean): boolean;
  /**
   * Whether carried steps on two or more threads leave layer 1's W_hh·h1 for the next step to an idle
   * worker of the pool, made between calls, and finish from it when h1 is unchanged (native/qgemv.h;
   * the same results either way); returns the previous setting. For A/B measurements and tests.
   */
  qlstmSetAhead?(enabled: boolean): boolean;
  /** The 64-unit blocks of layer 1 that steps have finished from products made ahead, since the addon loaded. */
  qlstmAheadUsed?(): number;
  /** out[i] ← e^x[i] as V8's Math.exp computes it (native/pick.h), to check that it does. */
  jsExp?(x: Float64Array, out: Float64Array): void;
  /** x ← copies of row (x.length a multiple of row.length), or zeros when row is null (native/optim.h). */
  fill(x: Float32Array, row: Float32Array | null): void;
  /** Fused float32 forward of one direction of one layer (native/recurrence.h); unused arrays null. */
  recForward(
    code: number, T: number, B: number, H: number, reverse: boolean,
    Whh: Float32Array, bhh: Float32Array, pi: Float32Array | null, pf: Float32Array | null, po: Float32Array | null,
    xp: Float32Array, hs: Float32Array, cs: Float32Array | null, gates: Float32Array | null, aux: Float32Array | null,
  ): void;
  /** Fused float32 backward; adds into dWhh, dbhh, dpi, dpf, dpo; dh, dc in: dL/d(final), out: dL/d(initial). */
  recBackward(
    code: number, T: number, B: number, H: number, reverse: boolean,
    Whh: Float32Array, pi: Float32Array | null, pf: Float32Array | null, po: Float32Array | null,
    hs: Float32Array, cs: Float32Array | null, gates: Float32Array | null, aux: Float32Array | null,
    dy: Float32Array | null, dh: Float32Array, dc: Float32Array | null, dxp: Float32Array,
    dWhh: Float32Array, dbhh: Float32Array, dpi: Float32Array | null, dpf: Float32Array | null, dpo: Float32Array | null,
  ): void;
}

/** Where node-gyp puts the addon; this file sits two folders below the package root in src/ and dist/. */
const addonFile = fileURLToPath(new URL("../../build/Release/unroll_native.node", import.meta.url));

function load(): { addon: NativeAddon; reason: null } | { addon: null; reason: string } {
  if (!existsSync(addonFile)) {
    return {
      addon: null,
      reason: "the addon is not built: it needs a C compiler at install time (then `npm rebuild unroll`, or `npm run build:native` in unroll's repository)",
    };
  }
  try {
    const addon = createRequire(import.meta.url)(addonFile) as NativeAddon;
    if (typeof addon.gemm !== "function" || typeof addon.isa !== "function" || typeof addon.recForward !== "function") {
      return { addon: null, reason: `${addonFile} is not unroll's addon` };
    }
    return { addon, reason: null };
  } catch (e) {
    const first = String((e as Error).message ?? e).split("\n")[0];
    return { addon: null, reason: `the addon does not load (${first}); \`npm rebuild unroll\` rebuilds it` };
  }
}

const loaded = load();

/** The loaded addon, or null. */
export const nativeAddon: NativeAddon | null = loaded.addon;

/** Why the native backend is unavailable (one line), or null when it is available. */
export const nativeUnavailableReason: string | null = loaded.reason;

/** The addon's cell code: 0/1/2 RNN tanh/sigmoid/relu, 3 + peephole + 2·coupled LSTM, 7 GRU, 8 Cho's GRU. */
function cellCode(c: CellConfig): number {
  if (c.kind !== "rnn" && (c.gate ?? "sigmoid") !== "sigmoid") throw new Error(`native recurrence: the addon's gates are the logistic sigmoid, not ${c.gate} (supports() declines this cell)`);
  switch (c.kind) {
    case "rnn":
      return { tanh: 0, sigmoid: 1, relu: 2 }[c.nonlinearity];
    case "lstm":
      return 3 + (c.peephole ? 1 : 0) + (c.coupled ? 2 : 0);
    case "gru":
      return c.resetAfter ? 7 : 8;
  }
}

/** The cell's cache buffers as the addon names them: gates, and tanh(c) (LSTM) or hn (GRU). */
function cacheArrays(cache: unknown): { gates: Float32Array | null; aux: Float32Array | null } {
  if (cache === null || typeof cache !== "object") return { gates: null, aux: null };
  const c = cache as { gates?: Float32Array; tc?: Float32Array; hn?: Float32Array };
  return { gates: c.gates ?? null, aux: c.tc ?? c.hn ?? null };
}

const f32 = (a: FloatArray | undefined): Float32Array | null => (a === undefined || a.length === 0 ? null : (a as Float32Array));

/**
 * The fused whole-sequence recurrence in C (native/recurrence.c), float32 only: every cell and
 * variant with logistic-sigmoid gates; float64 (gradient checks, conformance) and hard-sigmoid
 * gates (`gate: "hard-sigmoid"`, the `-hard` cells) run the cells' own step code.
 */
function nativeRecurrence(addon: NativeAddon): FusedRecurrence {
  return {
    supports: (cell: CellConfig, dtype: DType) => dtype === "float32" && (cell.kind === "rnn" || (cell.gate ?? "sigmoid") === "sigmoid"),
    forward(a: FusedForward): void {
      const { T, B, H } = a.dims;
      const { gates, aux } = cacheArrays(a.cache);
      const e = a.p.extra;
      addon.recForward(
        cellCode(a.cell), T, B, H, a.reverse,
        a.p.Whh as Float32Array, a.p.bhh as Float32Array, f32(e.pi), f32(e.pf), f32(e.po),
        a.xp as Float32Array, a.hs as Float32Array, f32(a.cs), gates, aux,
      );
    },
    backward(a: FusedBackward): void {
      const { T, B, H } = a.dims;
      const { gates, aux } = cacheArrays(a.cache);
      const e = a.p.extra;
      const de = a.dp.extra;
      addon.recBackward(
        cellCode(a.cell), T, B, H, a.reverse,
        a.p.Whh as Float32Array, f32(e.pi), f32(e.pf), f32(e.po),
        a.hs as Float32Array, f32(a.cs), gates, aux,
        (a.dy as Float32Array | null) ?? null, a.dh as Float32Array, f32(a.dc), a.dxp as Float32Array,
        a.dp.Whh as Float32Array, a.dp.bhh as Float32Array, f32(de.pi), f32(de.pf), f32(de.po),
      );
    },
  };
}

/** The default thread count: UNROLL_THREADS when set, else the logical cores, at most 8. */
function defaultThreads(): number {
  const env = Number(process.env.UNROLL_THREADS);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 64);
  return Math.max(1, Math.min(8, availableParallelism()));
}

if (nativeAddon) nativeAddon.setThreads(defaultThreads());

/** The backend "native", or null when the addon is unavailable. */
export const nativeBackend: Backend | null = nativeAddon && {
  name: "native",
  gemm: nativeAddon.gemm,
  recurrence: nativeRecurrence(nativeAddon),
  crossEntropy: nativeCrossEntropy(nativeAddon),
  scatterAddRows: nativeScatterAddRows(nativeAddon),
  fill: (x, row) => {
    if (!(x instanceof Float32Array) || (row !== null && !(row instanceof Float32Array))) return false;
    nativeAddon.fill(x, row);
    return true;
  },
  gemmBias: (transA, transB, M, N, K, A, B, bias, C) => {
    if (!(C instanceof Float32Array && bias instanceof Float32Array)) return false;
    nativeAddon.gemm(transA, transB, M, N, K, A, B, C, false, bias);
    return true;
  },
  ...(process.env.UNROLL_NO_NATIVE_OPTIM === "1" ? {} : { optimizerKernels: nativeOptimizerKernels(nativeAddon) }),
};

if (nativeBackend) registerBackend(nativeBackend);

/**
 * The addon's compact-weight matrix–vector kernels for `quantizedStep`, or null without them.
 * Where the CPU has the dot-product instructions, each matrix is also packed into their layout
 * on first use (kept beside it, as many bytes again); the float kernels read the matrix itself.
 */
export const nativeQuantizedKernels: QuantizedKernels | null =
  nativeAddon && typeof nativeAddon.qgemv === "function" && typeof nativeAddon.bgemv === "function" ? nativeKernels(nativeAddon) : null;

/** One layer of a qlstmPlan. */
interface QlstmPlanLayer {
  readonly wih: Uint8Array | Uint16Array | null;
  readonly scaleIh: Float32Array | null;
  readonly whh: Uint8Array | Uint16Array;
  readonly scaleHh: Float32Array | null;
  readonly bias: Float32Array | null;
}

/** A qlstmPlan's first-layer input table (rows × 4H) and output layer (rows × H), for qlstmStep. */
interface QlstmPlanHead {
  readonly table: Float32Array;
  readonly rows: number;
  /** row-major, Int8Array or Uint16Array as the layers' matrices */ readonly weights: Int8Array | Uint16Array;
  /** packed plainly (not in gate order) */ readonly packed: Uint8Array | Uint16Array;
  readonly scale: Float32Array | null;
  readonly bias: Float32Array;
}

/** The addon's handle of a stacked LSTM's weights. */
declare const qlstmPlanBrand: unique symbol;
type QlstmPlan = { readonly [qlstmPlanBrand]: true };

function nativeKernels(addon: NativeAddon): QuantizedKernels {
  const dot = addon.quantizedKernels?.() ?? { int8: "", bf16: "" };
  const packInt8 = dot.int8 === "avx512-vnni" && addon.qpack;
  const packBf16 = dot.bf16 === "avx512-bf16" && addon.bpack;
  const packed = new WeakMap<QuantizedMatrix, Uint8Array | Uint16Array>();
  const gatePacked = new WeakMap<QuantizedMatrix, Uint8Array | Uint16Array>();
  /**
   * m in the dot kernels' layout (made on first use), or null where they are absent; in gate order
   * for lstmLayer (an LSTM layer's matrices are packed once, in that order, unless a step falls back).
   */
  const packedOf = (m: QuantizedMatrix, gateOrder = false): Uint8Array | Uint16Array | null => {
    const cache = gateOrder ? gatePacked : packed;
    let p = cache.get(m);
    if (!p) {
      if (m.format === "int8" && packInt8) p = packInt8.call(addon, m.q, m.rows, m.cols, gateOrder);
      else if (m.format === "bf16" && packBf16) p = packBf16.call(addon, m.w, m.rows, m.cols, gateOrder);
      else return null;
      cache.set(m, p);
    }
    return p;
  };
  const scaleOf = (m: QuantizedMatrix): Float32Array | null => (m.format === "int8" ? m.scale : null);
  /** Each layer's direction for its next step: a thread starts where it left its cache last time. */
  const descending = new WeakMap<QuantizedMatrix, boolean>();
  const qlstmLayer = addon.qlstmLayer;
  const { qlstmPlan, qlstmStack, qlstmStep, qlstmSample } = addon;
  const picks = typeof qlstmSample === "function" && expMatchesMathExp(addon);
  /**
   * Each model's plan, made on first use: for qlstmStack, and apart with a head (the input table
   * given) for qlstmStep; null where it cannot run (then the step runs layer by layer).
   */
  const plans = new WeakMap<QuantizedLanguageModel, QlstmPlan | null>();
  const stepPlans = new WeakMap<QuantizedLanguageModel, QlstmPlan | null>();
  const makePlan = (qm: QuantizedLanguageModel, table: Float32Array | null): QlstmPlan | null => {
    const H = qm.config.hiddenSize;
    if (H % 64 !== 0 || qm.layers.length > 32) return null;
    const layers = qm.layers.map((layer, l) => ({
      wih: l === 0 ? null : packedOf(layer.Wih, true),
      scaleIh: l === 0 ? null : scaleOf(layer.Wih),
      whh: packedOf(layer.Whh, true),
      scaleHh: scaleOf(layer.Whh),
      bias: l === 0 ? null : layer.bias,
    }));
    if (!layers.every((x, l) => x.whh && (l === 0 || x.wih))) return null;
    if (table === null) return qlstmPlan!.call(addon, H, layers as QlstmPlanLayer[]);
    const W = qm.W;
    const packedW = packedOf(W);
    if (!packedW || W.format !== qm.layers[0].Whh.format) return null;
    const head: QlstmPlanHead = { table, rows: W.rows, weights: W.format === "int8" ? W.q : W.w, packed: packedW, scale: scaleOf(W), bias: qm.b };
    return qlstmPlan!.call(addon, H, layers as QlstmPlanLayer[], head);
  };
  const planOf = (qm: QuantizedLanguageModel, table: Float32Array | null = null): QlstmPlan | null => {
    const cache = table ? stepPlans : plans;
    let plan = cache.get(qm);
    if (plan === undefined) cache.set(qm, (plan = makePlan(qm, table)));
    return plan;
  };
  return {
    name: "native",
    gemv(m, x, y, accumulate, bias) {
      const p = packedOf(m);
      if (m.format === "int8") addon.qgemv!(m.q, m.scale, m.rows, m.cols, x, y, accumulate, p as Uint8Array | null, bias ?? null);
      else addon.bgemv!(m.w, m.rows, m.cols, x, y, accumulate, p as Uint16Array | null, bias ?? null);
    },
    ...(typeof addon.qlstmCell === "function" ? { lstmCell: addon.qlstmCell.bind(addon) } : {}),
    ...(typeof qlstmLayer === "function"
      ? {
          lstmLayer(Wih, x, Whh, bias, gates, c, h) {
            if (Whh.cols % 64 !== 0 || Whh.rows !== 4 * Whh.cols) return false;
            const whh = packedOf(Whh, true);
            const wih = Wih ? packedOf(Wih, true) : null;
            if (!whh || (Wih && (!wih || Wih.format !== Whh.format))) return false;
            const down = descending.get(Whh) ?? false;
            const ran = qlstmLayer.call(addon, Whh.cols, Wih ? Wih.cols : 0, wih, Wih ? scaleOf(Wih) : null, x, whh, scaleOf(Whh), bias, gates, c, h, down);
            if (ran) descending.set(Whh, !down);
            return ran;
          },
        }
      : {}),
    ...(typeof qlstmPlan === "function" && typeof qlstmStack === "function"
      ? {
          lstmStack(qm, row, state) {
            const plan = planOf(qm);
            return plan ? qlstmStack.call(addon, plan, row, state.gi, state.h, state.c!) : 0;
          },
          ...(typeof qlstmStep === "function"
            ? {
                lstmStep(qm: QuantizedLanguageModel, table: Float32Array, token: number, state: QuantizedState) {
                  const plan = planOf(qm, table);
                  return plan ? qlstmStep.call(addon, plan, token, state.gi, state.h, state.c!, state.logits) : 0;
                },
                ...(picks
                  ? {
                      lstmSample(qm: QuantizedLanguageModel, table: Float32Array, token: number, state: QuantizedState, u: number, temperature: number) {
                        const plan = planOf(qm, table);
                        return plan ? qlstmSample!.call(addon, plan, token, state.gi, state.h, state.c!, state.logits, u, temperature) : -1;
                      },
                    }
                  : {}),
              }
            : {}),
        }
      : {}),
  };
}

/**
 * Whether the addon's exponential gives Math.exp's bits (on values like those sampling feeds it,
 * and the edges), so that its token choice is pickToken's; where not, sampling picks in TypeScript.
 */
function expMatchesMathExp(addon: NativeAddon): boolean {
  if (typeof addon.jsExp !== "function") return false;
  const edges = [0, -0, 1, -1, 0.25, 1e-9, -1e-30, 2, 10, 700, -700, -708.5, -730, -746, 710, Infinity, -Infinity, NaN, 0.5 * Math.LN2, -0.5 * Math.LN2, 1.5 * Math.LN2, -1.5 * Math.LN2, 3.7e-9, -88, -103.5, 88.7, 5e-324, -5e-324];
  const spread = 1000; // (z − max) / T of sampling: [−40, 0], some with a little noise
  const x = new Float64Array(spread + edges.length);
  for (let i = 0; i < spread; i++) x[i] = -40 * ((i * 0.6180339887498949) % 1) + (i % 3 === 0 ? 0.4 * Math.sin(i) : 0);
  x.set(edges, spread);
  const out = new Float64Array(x.length);
  addon.jsExp(x, out);
  return x.every((v, i) => Object.is(out[i], Math.exp(v)));
}

if (nativeQuantizedKernels) registerQuantizedKernels("native", nativeQuantizedKernels);

/** `Backend.crossEntropy` in C for float32 (vectorised exp); the targets are checked here, as the specification does. */
function nativeCrossEntropy(addon: NativeAddon): NonNullable<Backend["crossEntropy"]> {
  return (logits, targets, N, V, dlogits, ignoreIndex) => {
    if (!(logits instanceof Float32Array) || (dlogits !== null && !(dlogits instanceof Float32Array))) return null;
    const count = countTargets(targets, N, V, ignoreIndex);
    const scale = count > 0 ? 1 / count : 0;
    return addon.softmaxXent(logits, targets, N, V, dlogits, ignoreIndex, scale) * scale;
  };
}

/** `Backend.scatterAddRows` in C (native/scatter.c) for Float32Array buffers; float64 stays with the loop. */
function nativeScatterAddRows(addon: NativeAddon): NonNullable<Backend["scatterAddRows"]> {
  return (out, src, ids, width) => {
    if (!(out instanceof Float32Array) || !(src instanceof Float32Array)) return false;
    addon.scatterAddRows(out, src, ids, width);
    return true;
  };
}

/** `Backend.optimizerKernels` in C (native/optim.c) for Float32Array buffers; float64 stays with the loops. */
export function nativeOptimizerKernels(addon: NativeAddon): OptimizerKernels {
  const all32 = (...xs: (FloatArray | null)[]): boolean => xs.every((x) => x === null || x instanceof Float32Array);
  return {
    adam(p, g, m, v, s) {
      if (!all32(p, g, m, v)) return false;
      addon.adam(
        p as Float32Array, g as Float32Array, m as Float32Array, v as Float32Array, p.length,
        s.shrink, s.l2, s.beta1, s.beta2, s.stepSize, s.sqrtCorrection2, s.eps,
      );
      return true;
    },
    sgd(p, g, b, s) {
      if (!all32(p, g, b)) return false;
      addon.sgd(p as Float32Array, g as Float32Array, b as Float32Array | null, p.length, s.lr, s.weightDecay, s.momentum, s.nesterov, s.firstStep);
      return true;
    },
    adamGuarded(p, g, m, v, s, backup) {
      if (!all32(p, g, m, v, backup)) return null;
      return addon.adam(
        p as Float32Array, g as Float32Array, m as Float32Array, v as Float32Array, p.length,
        s.shrink, s.l2, s.beta1, s.beta2, s.stepSize, s.sqrtCorrection2, s.eps, backup as Float32Array,
      ) as number;
    },
    sgdGuarded(p, g, b, s, backup) {
      if (!all32(p, g, b, backup)) return null;
      return addon.sgd(
        p as Float32Array, g as Float32Array, b as Float32Array | null, p.length, s.lr, s.weightDecay, s.momentum, s.nesterov, s.firstStep,
        backup as Float32Array,
      ) as number;
    },
    sumSquares: (x) => (x instanceof Float32Array ? addon.sumSquares(x, x.length) : null),
    scale(x, s) {
      if (!(x instanceof Float32Array)) return false;
      addon.scale(x, x.length, s);
      return true;
    },
  };
}

/** The float32 kernel the native backend uses, or null without the addon (for `unroll info`). */
export function nativeIsa(): NativeIsa | null {
  return nativeAddon ? nativeAddon.isa() : null;
}

/** Threads the native backend computes with, or null without the addon. */
export function nativeThreads(): number | null {
  return nativeAddon ? nativeAddon.threads() : null;
}

/**
 * Sets the native backend's thread count (1 … 64) and returns the count in effect; results are
 * deterministic for a given count. Throws when the addon is unavailable.
 */
export function setNativeThreads(n: number): number {
  if (!nativeAddon) throw new Error(`the native backend is unavailable: ${nativeUnavailableReason}`);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`threads must be an integer in [1, 64], got ${n}`);
  return nativeAddon.setThreads(n);
}

/**
 * The CLI's `--threads N`: sets the native backend's thread count when given (other backends are
 * single-threaded, so without the addon it changes nothing).
 */
export function applyThreadsOption(n: number | undefined): void {
  if (n !== undefined && nativeAddon) setNativeThreads(n);
}
