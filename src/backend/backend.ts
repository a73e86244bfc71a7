import type { CellConfig, CellParams, Dims } from "./cell-types.js";
import type { DType, FloatArray } from "../tensor/dtype.js";

/**
 * The seam between model code and compute. Model code calls only these kernels; a backend
 * (plain TypeScript, WebAssembly, native) implements them. All buffers are dense row-major views
 * (use `subarray` for offsets); every kernel works for Float32Array and Float64Array alike.
 *
 * Fused kernels are optional: `unroll` hands a whole sequence to the backend's `recurrence` when
 * it supports the cell and dtype, and runs the cell's own step code (the specification) otherwise.
 */
export interface Backend {
  readonly name: string;

  /**
   * General matrix multiply: C (M×N) = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
   * op(A) is M×K: A is stored M×K, or K×M when `transA`. op(B) is K×N: B is stored K×N, or N×K
   * when `transB`.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: FloatArray,
    B: FloatArray,
    C: FloatArray,
    accumulate: boolean,
  ): void;

  /** Fused whole-sequence recurrence (cuDNN style), when the backend has one. */
  readonly recurrence?: FusedRecurrence;

  /**
   * Fused softmax cross-entropy, when the backend has one: the contract of
   * `softmaxCrossEntropy` (src/layers/softmax-cross-entropy.ts), which is the specification — mean
   * over rows whose target is not `ignoreIndex`, dL/dlogits written when `dlogits` is given, an
   * Error naming the row for a target out of range. Returns null (doing nothing) for inputs it
   * does not handle (e.g. float64), and the caller then runs the specification.
   */
  readonly crossEntropy?: (
    logits: FloatArray,
    targets: Int32Array,
    N: number,
    V: number,
    dlogits: FloatArray | null,
    ignoreIndex: number,
  ) => number | null;

  /**
   * Scatter-add of rows by index, when the backend has it: for n ascending, row ids[n] of `out` +=
   * row n of `src`, rows of `width` values (`unrollBackward`'s grouping of dXP by token,
   * src/sequence/unroll.ts, whose loop is the specification). It must give exactly that loop's
   * result, bit for bit: the same additions into each element in the same order. Returns false
   * (doing nothing) for inputs it does not handle (e.g. Float64Array), and the caller then runs the
   * loop.
   */
  readonly scatterAddRows?: (out: FloatArray, src: FloatArray, ids: Int32Array, width: number) => boolean;

  /**
   * Fills `x` with copies of `row` (x.length a multiple of row.length: bias rows before a GEMM
   * adds into them), or with zeros when `row` is null, when the backend has it (e.g. over its
   * threads). Exactly what `fillRows` (below) writes. Returns false, doing nothing, for inputs it
   * does not handle; the caller then runs `fillRows`.
   */
  readonly fill?: (x: FloatArray, row: FloatArray | null) => boolean;

  /**
   * C (M × N) = op(A)·op(B) + bias (N, added to every row), in one pass, when the backend has it:
   * the bits of `fill` with the bias and then `gemm` accumulating, without the pass that fills.
   * Returns false, doing nothing, for inputs it does not handle; `affine` (below) then does that.
   */
  readonly gemmBias?: (transA: boolean, transB: boolean, M: number, N: number, K: number, A: FloatArray, B: FloatArray, bias: FloatArray, C: FloatArray) => boolean;

  /** Optimizer updates and gradient-norm kernels, when the backend has them. */
  readonly optimizerKernels?: OptimizerKernels;

  /**
   * The int8 matrix × float32 vector product of compact-weight sampling, when the backend has it
   * (src/generate/quantized.ts `QuantizedKernels.gemv` for `Int8Matrix`): y = scale ⊙ (q x), or
   * y += it when `accumulate`, then y += bias when given, in the fixed point of the native
   * AVX512-VNNI kernel (x rounded to 15 bits, exact integer sums). The backend may keep its own
   * copy of `m` for later calls, so a matrix must not change once used. Returns false, doing
   * nothing, where it declines (x holding a NaN or ±Inf); the caller then runs the float32 loop.
   */
  readonly int8Gemv?: (m: Int8Rows, x: Float32Array, y: Float32Array, accumulate: boolean, bias?: Float32Array) => boolean;

  /**
   * The logistic-gate LSTM cell update of batch-1 sampling, when the backend has it
   * (`QuantizedKernels.lstmCell`): from the pre-activations `gates` (4H: i, f, g, o, biases added),
   * c ← σ(f)·c + σ(i)·tanh(g) and h ← σ(o)·tanh(c) in place, with the backend's own nonlinearities.
   */
  readonly lstmCell?: (H: number, gates: Float32Array, c: Float32Array, h: Float32Array) => void;
}

/** A rows × cols row-major int8 matrix with one float32 scale per row (src/generate/quantized.ts `Int8Matrix`). */
export interface Int8Rows {
  readonly rows: number;
  readonly cols: number;
  readonly q: Int8Array;
  readonly scale: Float32Array;
}

/**
 * The loops of the optimizers and of gradient clipping (src/train/optimizers.ts, src/train/clip.ts,
 * the specification) over one flat buffer, in place. `adam`, `sgd` and `scale` must write exactly
 * what those loops write, bit for bit; `sumSquares` is Σ x² in float64, deterministic but free to
 * add in another order than the loop. Each returns false (or null), doing nothing, for inputs it
 * does not handle (e.g. float64), and the caller then runs the loop.
 */
export interface OptimizerKernels {
  /** `adamStep`'s loop: p ← p·shrink; d = g + l2·p; m, v ← moments; p ← p − stepSize·m/(√v/sqrtCorrection2 + eps). */
  adam(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamScalars): boolean;
  /** `sgdStep`'s loop; `b` is the momentum buffer, or null without momentum. */
  sgd(p: FloatArray, g: FloatArray, b: FloatArray | null, s: SgdScalars): boolean;
  /**
   * Guarded updates, where a backend has them: `adam` / `sgd` that also copy p into `backup` (p's
   * length) before changing it, and return Σ p² after the update as `sumSquares` would, so that a
   * training step can check the parameters and restore them without two more passes over them.
   * null, doing nothing, for inputs they do not handle.
   */
  adamGuarded?(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamScalars, backup: FloatArray): number | null;
  sgdGuarded?(p: FloatArray, g: FloatArray, b: FloatArray | null, s: SgdScalars, backup: FloatArray): number | null;
  /** Σ x² accumulated in float64, or null. */
  sumSquares(x: FloatArray): number | null;
  /** x ← x·s elementwise (`clipGradNorm`'s scaling). */
  scale(x: FloatArray, s: number): boolean;
}

/** The scalars of one Adam/AdamW step, as `adamStep` computes them. */
export interface AdamScalars {
  /** 1 − lr·λ for AdamW, else 1 */
  readonly shrink: number;
  /** λ for Adam (L2 added to the gradient), else 0 */
  readonly l2: number;
  readonly beta1: number;
  readonly beta2: number;
  /** lr / (1 − β₁ᵗ) */
  readonly stepSize: number;
  /** √(1 − β₂ᵗ) */
  readonly sqrtCorrection2: number;
  readonly eps: number;
}

/** The scalars of one SGD step. */
export interface SgdScalars {
  readonly lr: number;
  /** λ */
  readonly weightDecay: number;
  /** μ */
  readonly momentum: number;
  readonly nesterov: boolean;
  /** t = 1: the momentum buffer starts at the gradient */
  readonly firstStep: boolean;
}

/**
 * One direction of one recurrent layer over all T steps, inside the backend: per step the
 * recurrent GEMM plus fused pointwise gate math (forward), or the fused gate gradients plus the
 * recurrent GEMM (backward). It must write exactly what the cell's own step code writes — the same
 * states, the same cache buffers, the same gradients, within float32 rounding — so that a fused
 * forward can feed a plain backward and vice versa (test/fused.test.ts checks this for every cell).
 *
 * Layouts are those of `unroll` and the cells: time-major, row-major, gate blocks in the cell's
 * order. `cache` is the cell's own cache object (`LstmCache` {gates, tc}, `GruCache` {gates, hn,
 * rec, drh}, null for RNN cells). Processing step k reads time t = k, or T−1−k when `reverse`.
 */
export interface FusedRecurrence {
  /** Whether `forward`/`backward` handle this cell in this dtype. */
  supports(cell: CellConfig, dtype: DType): boolean;
  /**
   * Whether `forward` and `backward` also take the layer's input (`FusedForward.input`,
   * `FusedBackward.input`) and do the input projection inside the call: a backend whose buffers
   * live apart from the caller's (wasm's linear memory) then keeps XP and dXP where they are made
   * instead of copying them out and back in. The results must be exactly those of `unroll`'s own
   * projection around a call without `input` (the same kernels on the same values, in the same order).
   */
  readonly projects?: boolean;
  forward(a: FusedForward): void;
  backward(a: FusedBackward): void;
}

/**
 * A layer's input handed to a fused call that `projects`: time-major rows (T·B, I), or token ids
 * whose projections are rows of the (V, G·H) table `P` (`tokenProjection`).
 */
export type ProjectionInput =
  | { readonly kind: "dense"; readonly x: FloatArray; readonly I: number }
  | { readonly kind: "rows"; readonly ids: Int32Array; readonly P: FloatArray };

/**
 * What the backward pass of a projecting call does with dXP (T, B, G·H), instead of writing `dxp`:
 * - dense: dW_ih += dXPᵀ X, then db_ih += Σ dXP (into `dp`), then dx += dXP W_ih when `dx` is given,
 *   as `unroll` does (its three GEMMs on the backend);
 * - rows: D[ids[n]] += dXP[n] for n ascending (`Backend.scatterAddRows`), leaving dW_ih and db_ih,
 *   small products with D, to the caller.
 */
export type ProjectionGrad =
  | { readonly kind: "dense"; readonly x: FloatArray; readonly I: number; readonly dx: FloatArray | null }
  | { readonly kind: "rows"; readonly ids: Int32Array; readonly D: FloatArray };

export interface FusedForward {
  readonly cell: CellConfig;
  readonly dims: Dims;
  readonly reverse: boolean;
  readonly p: CellParams;
  /** (T, B, G·H) input projections W_ih x_t + b_ih, indexed by time t (read only); not read when `input` is given */
  readonly xp: FloatArray;
  /** the layer's input, only where the recurrence `projects`: the backend computes XP from it (then `xp` is empty) */
  readonly input?: ProjectionInput;
  /** (T+1, B, H) hs[0] = h0 on entry; hs[k+1] = state after processing step k is written */
  readonly hs: FloatArray;
  /** (T+1, B, H) likewise for the cell state (LSTM); empty otherwise */
  readonly cs: FloatArray;
  readonly cache: unknown;
}

export interface FusedBackward {
  readonly cell: CellConfig;
  readonly dims: Dims;
  readonly reverse: boolean;
  readonly p: CellParams;
  /** dW_hh, db_hh and the extras are added into; dW_ih and db_ih are left to the caller */
  readonly dp: CellParams;
  /** states and cache exactly as the forward left them (read only) */
  readonly hs: FloatArray;
  readonly cs: FloatArray;
  readonly cache: unknown;
  /** (T, B, H) dL/d(output at time t), or null */
  readonly dy: FloatArray | null;
  /** (B, H) in: dL/dh_T from outside the sequence (zeros if none); out: dL/dh0 */
  readonly dh: FloatArray;
  /** (B, H) in: dL/dc_T; out: dL/dc0 (LSTM); empty otherwise */
  readonly dc: FloatArray;
  /** (T, B, G·H) written: dL/d(input projection), indexed by time t; not written when `input` is given */
  readonly dxp: FloatArray;
  /** only where the recurrence `projects`: what to do with dL/d(input projection) instead (then `dxp` is empty) */
  readonly input?: ProjectionGrad;
}

/**
 * The number of rows whose target is not `ignoreIndex`; an Error naming the row for a target out of
 * range (`softmaxCrossEntropy`'s check, which every `crossEntropy` kernel runs first).
 */
export function countTargets(targets: Int32Array, N: number, V: number, ignoreIndex: number): number {
  let count = 0;
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < V)) throw new Error(`target ${t} at row ${n} is out of range: there are ${V} classes (0…${V - 1}); use ${ignoreIndex} to ignore a row`);
    count++;
  }
  return count;
}

/** Throws unless each of the first n ids is a row of a table of V rows: 0 ≤ id < V. */
export function checkTokenIds(ids: Int32Array, n: number, V: number): void {
  for (let r = 0; r < n; r++) {
    if (!(ids[r] >= 0 && ids[r] < V)) throw new Error(`token input: id ${ids[r]} at row ${r} is not in 0…${V - 1} (V = ${V})`);
  }
}

/** C (M × N) = op(A)·op(B) + bias per row: the backend's `gemmBias`, or its `fill` then `gemm`. */
export function affine(backend: Backend, transA: boolean, transB: boolean, M: number, N: number, K: number, A: FloatArray, B: FloatArray, bias: FloatArray, C: FloatArray): void {
  if (backend.gemmBias?.(transA, transB, M, N, K, A, B, bias, C)) return;
  fillRows(backend, C.subarray(0, M * N), bias);
  backend.gemm(transA, transB, M, N, K, A, B, C, true);
}

/** x ← copies of `row` (x.length a multiple of row.length), or zeros when `row` is null; through `backend.fill` when it has one. */
export function fillRows(backend: Backend, x: FloatArray, row: FloatArray | null): void {
  if (backend.fill?.(x, row)) return;
  if (!row) {
    x.fill(0);
    return;
  }
  for (let o = 0; row.length > 0 && o < x.length; o += row.length) x.set(row, o);
}
