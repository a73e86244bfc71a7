/**
 * Stacked and bidirectional recurrent layers (PyTorch `nn.RNN` / `nn.LSTM` / `nn.GRU` semantics):
 * layer l ≥ 1 reads the output sequence of layer l−1, with dropout between layers when training;
 * a bidirectional layer runs a second, reversed direction with its own parameters and concatenates
 * the outputs [forward, reverse] along the feature axis. States are laid out (L·D, B, H) with
 * index l·D + d.
 *
 * Parameter names follow PyTorch: `weight_ih_l{l}`, `weight_hh_l{l}`, `bias_ih_l{l}`,
 * `bias_hh_l{l}`, with `_reverse` for the reverse direction; cell extras (peepholes) are
 * `{stem}_l{l}` likewise.
 *
 * Padded batches (`ForwardOptions.lengths`): sequence b holds len_b ≤ T steps, right-padded. The
 * forward direction needs nothing (a step never reads a later one); the reverse direction runs
 * over each sequence reversed within its length (PyTorch's packed sequences), so it starts at
 * len_b − 1 and never reads padding; the final states are those after step len_b. Outputs at
 * padded steps are unspecified, and their upstream gradient must be zero.
 */
import type { Backend } from "../backend/backend.js";
import { createCell, type Cell, type CellConfig, type CellParams } from "../cells/index.js";
import { view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import type { Allocator, Workspace } from "../tensor/workspace.js";
import { finalC, finalH, isTokenInput, outputAt, unrollBackward, unrollForward, type UnrollCache, type UnrollInput } from "./unroll.js";

// Dimensions: T steps, B batch, I input features, H hidden, L layers, D directions.

/** A stack of recurrent layers. */
export interface RecurrentConfig {
  readonly cell: CellConfig;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Dropout probability on the inputs of layers 1 … L−1 while training (PyTorch's `dropout`). */
  readonly dropout: number;
}

/** A recurrent stack bound to parameter views: `dirs[l·D + d]`. */
export interface Recurrent {
  readonly config: RecurrentConfig;
  readonly cell: Cell;
  readonly dirs: readonly CellParams[];
}

/** Number of directions. */
export function directions(c: RecurrentConfig): number {
  return c.bidirectional ? 2 : 1;
}

/** PyTorch's name suffix of layer l, direction d. */
function suffix(l: number, d: number): string {
  return `_l${l}${d === 1 ? "_reverse" : ""}`;
}

/** Checks a config once, at the API boundary. */
export function validateRecurrentConfig(c: RecurrentConfig): void {
  const positive = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
  };
  positive(c.inputSize, "inputSize");
  positive(c.hiddenSize, "hiddenSize");
  positive(c.numLayers, "numLayers");
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${c.dropout}`);
}

/** The parameter tensors of a stack, named as PyTorch names them, after `prefix`. */
export function recurrentSpecs(c: RecurrentConfig, prefix = ""): TensorSpec[] {
  validateRecurrentConfig(c);
  const cell = createCell(c.cell);
  const H = c.hiddenSize;
  const D = directions(c);
  const GH = cell.G * H;
  const specs: TensorSpec[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const I = l === 0 ? c.inputSize : D * H;
    for (let d = 0; d < D; d++) {
      const s = suffix(l, d);
      specs.push(
        { name: `${prefix}weight_ih${s}`, shape: [GH, I] },
        { name: `${prefix}weight_hh${s}`, shape: [GH, H] },
        { name: `${prefix}bias_ih${s}`, shape: [GH] },
        { name: `${prefix}bias_hh${s}`, shape: [GH] },
      );
      for (const e of cell.extras) specs.push({ name: `${prefix}${e.stem}${s}`, shape: [e.size(H)] });
    }
  }
  return specs;
}

/** Views of the stack's tensors in `arena` (parameters, or a mirrored gradient arena). */
export function bindRecurrent(c: RecurrentConfig, arena: Arena, prefix = ""): Recurrent {
  const cell = createCell(c.cell);
  const dirs: CellParams[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    for (let d = 0; d < directions(c); d++) {
      const s = suffix(l, d);
      const extra: Record<string, FloatArray> = {};
      for (const e of cell.extras) extra[e.key] = view(arena, `${prefix}${e.stem}${s}`);
      dirs.push({
        Wih: view(arena, `${prefix}weight_ih${s}`),
        Whh: view(arena, `${prefix}weight_hh${s}`),
        bih: view(arena, `${prefix}bias_ih${s}`),
        bhh: view(arena, `${prefix}bias_hh${s}`),
        extra,
      });
    }
  }
  return { config: c, cell, dirs };
}

/** Everything a forward pass of the stack produced and its backward pass needs. */
export interface RecurrentPass {
  readonly T: number;
  readonly B: number;
  /** (T, B, D·H) output sequence of the last layer */
  readonly y: FloatArray;
  /** (L·D, B, H) final hidden states */
  readonly hN: FloatArray;
  /** (L·D, B, H) final cell states (LSTM), else empty */
  readonly cN: FloatArray;
  /** per layer and direction, index l·D + d */
  readonly runs: readonly UnrollCache[];
  /** per layer l ≥ 1: (T, B, D·H) dropout multipliers (0 or 1/(1−p)), or null without dropout */
  readonly masks: readonly (FloatArray | null)[];
  /** where the pass's buffers came from (`ForwardOptions.workspace`); the backward pass uses it too */
  readonly alloc: Allocator;
  /** (B) the length of each sequence of a padded batch, or null (every sequence T steps) */
  readonly lengths: Int32Array | null;
}

/** Options of a forward pass. */
export interface ForwardOptions {
  /** Applies dropout between layers (needs `rng`). */
  readonly training?: boolean;
  readonly rng?: Rng;
  /**
   * For a token input: per direction of layer 0, the projection table `tokenProjection` made from
   * the current weights, kept by a caller that runs many short passes (sampling).
   */
  readonly inputProjections?: readonly FloatArray[];
  /**
   * Takes the pass's large buffers (and its backward pass's) from this workspace instead of
   * allocating them: a loop of same-shaped passes calls `reset()` before each. The outputs are then
   * valid until the next reset, except the final states, which are always fresh.
   */
  readonly workspace?: Workspace;
  /**
   * (B) the length of each right-padded sequence, 1 ≤ len_b ≤ T (see the module comment); absent:
   * every sequence is T steps. A bidirectional stack with lengths needs a dense input.
   */
  readonly lengths?: Int32Array;
}

function checkLengths(lengths: Int32Array, T: number, B: number): void {
  if (!(lengths instanceof Int32Array) || lengths.length !== B) throw new Error(`lengths must be an Int32Array of B = ${B} sequence lengths`);
  for (let b = 0; b < B; b++) {
    if (!(lengths[b] >= 1 && lengths[b] <= T)) throw new Error(`lengths[${b}] = ${lengths[b]} is not in 1…T = ${T}`);
  }
}

/**
 * (T, B, F) with each sequence's first len_b steps reversed: out[t, b] = x[len_b − 1 − t, b] for
 * t < len_b, x[t, b] after. Its own inverse.
 */
export function reverseWithinLengths(x: FloatArray, T: number, B: number, F: number, lengths: Int32Array, out: FloatArray): FloatArray {
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    for (let t = 0; t < T; t++) {
      const src = t < n ? n - 1 - t : t;
      out.set(x.subarray((src * B + b) * F, (src * B + b + 1) * F), (t * B + b) * F);
    }
  }
  return out;
}

/** (B, H) the states after step len_b of each sequence, from a run's (T+1, B, H) states. */
function statesAt(states: FloatArray, lengths: Int32Array, B: number, H: number, out: FloatArray): void {
  for (let b = 0; b < B; b++) out.set(states.subarray((lengths[b] * B + b) * H, (lengths[b] * B + b + 1) * H), b * H);
}

/**
 * Forward pass of the stack over the time-major input `x` (T, B, I), or token ids into a table
 * (`TokenInput`, see unroll.ts). `h0`, `c0` are (L·D, B, H), or null for zeros.
 */
export function recurrentForward(
  backend: Backend,
  r: Recurrent,
  dtype: DType,
  x: UnrollInput,
  T: number,
  B: number,
  h0: FloatArray | null,
  c0: FloatArray | null,
  opts: ForwardOptions = {},
): RecurrentPass {
  const { config: c, cell } = r;
  const H = c.hiddenSize;
  const D = directions(c);
  const BH = B * H;
  const zeros = h0 && (c0 || !cell.hasC) ? null : allocate(dtype, BH); // the initial state where none is given
  const hN = allocate(dtype, c.numLayers * D * BH);
  const cN = allocate(dtype, cell.hasC ? c.numLayers * D * BH : 0);
  const runs: UnrollCache[] = [];
  const masks: (FloatArray | null)[] = [];
  const alloc = opts.workspace?.take ?? allocate;
  const lengths = opts.lengths ?? null;
  if (lengths) {
    checkLengths(lengths, T, B);
    if (D === 2 && isTokenInput(x)) throw new Error("a bidirectional stack over padded sequences (lengths) needs a dense input; embed the tokens first");
  }
  let input: UnrollInput = x;
  let I = c.inputSize;
  let y: FloatArray = hN.subarray(0, 0); // the first layer's output replaces it
  for (let l = 0; l < c.numLayers; l++) {
    if (l > 0 && opts.training && c.dropout > 0) {
      if (!opts.rng) throw new Error("dropout while training needs a random generator (opts.rng)");
      const mask = alloc(dtype, y.length);
      const keep = 1 / (1 - c.dropout);
      const dropped = alloc(dtype, y.length);
      for (let i = 0; i < y.length; i++) {
        mask[i] = opts.rng.uniform() < c.dropout ? 0 : keep;
        dropped[i] = y[i] * mask[i];
      }
      masks.push(mask);
      input = dropped;
    } else if (l > 0) masks.push(null);
    // With a workspace and one direction, the output is a view of the states after each step,
    // hs[1 … T], already (T, B, H) (without one, callers get a copy they may change freely).
    const view = D === 1 && opts.workspace !== undefined;
    if (!view) y = alloc(dtype, T * B * D * H, true); // every direction's outputs are copied in
    for (let d = 0; d < D; d++) {
      const i = l * D + d;
      const s0 = h0 ? h0.subarray(i * BH, (i + 1) * BH) : zeros!;
      const sc0 = cell.hasC ? (c0 ? c0.subarray(i * BH, (i + 1) * BH) : zeros!) : null;
      const within = lengths !== null && d === 1; // the reverse direction of a padded batch
      let layerInput = l === 0 && isTokenInput(input) && opts.inputProjections ? { ...input, projection: opts.inputProjections[d] } : input;
      if (within) layerInput = reverseWithinLengths(input as FloatArray, T, B, I, lengths, alloc(dtype, T * B * I, true));
      const run = unrollForward(backend, cell, r.dirs[i], dtype, { T, B, H }, I, layerInput, s0, sc0, d === 1 && !within, alloc);
      runs.push(run);
      if (lengths) {
        statesAt(run.hs, lengths, B, H, hN.subarray(i * BH, (i + 1) * BH));
        if (cell.hasC) statesAt(run.cs, lengths, B, H, cN.subarray(i * BH, (i + 1) * BH));
      } else {
        hN.set(finalH(run), i * BH);
        if (cell.hasC) cN.set(finalC(run), i * BH);
      }
      if (view) {
        y = run.hs.subarray(BH, (T + 1) * BH);
        continue;
      }
      for (let t = 0; t < T; t++) {
        const out = outputAt(run, t);
        for (let b = 0; b < B; b++) {
          const tt = within && t < lengths[b] ? lengths[b] - 1 - t : t;
          y.set(out.subarray(b * H, (b + 1) * H), (tt * B + b) * D * H + d * H);
        }
      }
    }
    input = y;
    I = D * H;
  }
  return { T, B, y, hN, cN, runs, masks, alloc, lengths };
}

/** Gradients with respect to the inputs of the stack. */
export interface RecurrentInputGrads {
  /** (T, B, I) dL/dx */ readonly dx: FloatArray;
  /** (L·D, B, H) dL/dh0 */ readonly dh0: FloatArray;
  /** (L·D, B, H) dL/dc0 (LSTM), else empty */ readonly dc0: FloatArray;
}

/**
 * Backward pass of the stack. `dy` (T, B, D·H), `dhN`, `dcN` (L·D, B, H) are the upstream
 * gradients (null for none). Parameter gradients are added into `grads` (same layout as `r`).
 * With `needInputGrad` false the first layer's dL/dx (a large GEMM) is skipped and `dx` is empty.
 * For a token input, `dx` is dL/d(table) (V, I) instead, and empty for one-hot.
 */
export function recurrentBackward(
  backend: Backend,
  r: Recurrent,
  grads: Recurrent,
  dtype: DType,
  pass: RecurrentPass,
  dy: FloatArray | null,
  dhN: FloatArray | null,
  dcN: FloatArray | null,
  needInputGrad = true,
): RecurrentInputGrads {
  const { config: c, cell } = r;
  const { T, B } = pass;
  const H = c.hiddenSize;
  const D = directions(c);
  const BH = B * H;
  const dh0 = allocate(dtype, c.numLayers * D * BH);
  const dc0 = allocate(dtype, cell.hasC ? c.numLayers * D * BH : 0);
  const lengths = pass.lengths;
  if (lengths && (dhN || dcN)) throw new Error("gradients of the final states of a padded batch (lengths) are not supported; pass them through the outputs");
  let dOut = dy; // (T, B, D·H) gradient of the current layer's output
  let dx = allocate(dtype, 0);
  for (let l = c.numLayers - 1; l >= 0; l--) {
    const I = l === 0 ? c.inputSize : D * H;
    const x0 = pass.runs[0].x;
    const rows = l > 0 ? T * B : !needInputGrad ? 0 : isTokenInput(x0) ? (x0.table ? x0.V : 0) : T * B;
    dx = pass.alloc(dtype, rows * I);
    for (let d = 0; d < D; d++) {
      const i = l * D + d;
      let dyd: FloatArray | null = D === 1 ? dOut : null; // one direction: dOut is already (T, B, H)
      if (dOut && D > 1) {
        dyd = pass.alloc(dtype, T * BH);
        for (let tb = 0; tb < T * B; tb++) dyd.set(dOut.subarray(tb * D * H + d * H, tb * D * H + (d + 1) * H), tb * H);
      }
      const within = lengths !== null && d === 1; // this run read the input reversed within each length
      if (within && dyd) dyd = reverseWithinLengths(dyd, T, B, H, lengths, pass.alloc(dtype, T * BH, true));
      const dxd = within && dx.length > 0 ? pass.alloc(dtype, dx.length) : dx;
      const g = unrollBackward(
        backend,
        cell,
        r.dirs[i],
        grads.dirs[i],
        dtype,
        pass.runs[i],
        dyd,
        dhN ? dhN.subarray(i * BH, (i + 1) * BH) : null,
        dcN && cell.hasC ? dcN.subarray(i * BH, (i + 1) * BH) : null,
        dxd.length > 0 ? dxd : null,
      );
      if (within && dx.length > 0) {
        const back = reverseWithinLengths(dxd, T, B, I, lengths, pass.alloc(dtype, dx.length, true));
        for (let j = 0; j < dx.length; j++) dx[j] += back[j];
      }
      dh0.set(g.dh0, i * BH);
      if (cell.hasC) dc0.set(g.dc0, i * BH);
    }
    if (l > 0) {
      const mask = pass.masks[l - 1];
      if (mask) for (let j = 0; j < dx.length; j++) dx[j] *= mask[j];
      dOut = dx;
    }
  }
  return { dx, dh0, dc0 };
}

/** (B, T, F) batch-first → (T, B, F) time-major, or back with `transposeTB(x, T, B, F)`. */
export function transposeTB(x: FloatArray, A: number, Bd: number, F: number): FloatArray {
  const out = x instanceof Float64Array ? new Float64Array(x.length) : new Float32Array(x.length);
  for (let a = 0; a < A; a++) for (let b = 0; b < Bd; b++) out.set(x.subarray((a * Bd + b) * F, (a * Bd + b + 1) * F), (b * A + a) * F);
  return out;
}
