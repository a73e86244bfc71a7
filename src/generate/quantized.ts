/**
 * Compact inference weights for batch-1 sampling (issue 16): every weight matrix of a language
 * model (the recurrent W_ih and W_hh of each layer, and the output linear) stored as
 *
 * - int8, one float32 scale per row, symmetric:
 *
 *     scale[r] = max_k |w[r,k]| / 127   (1 for an all-zero row),   q[r,k] = round(w[r,k] / scale[r])
 *
 *   so |w − q·scale| ≤ scale/2 element-wise; a quarter of the float32 bytes;
 *     y[r] = scale[r] · Σ_k q[r,k]·x[k]
 *   accumulated in float32, or, by the native kernel on CPUs with AVX512-VNNI, exactly in int32
 *   with x rounded to 15 bits (native/qgemv.c);
 * - bf16 (bfloat16: float32 rounded to nearest even to its upper 16 bits, 8 significant bits):
 *   half the float32 bytes, |w − bf16(w)| ≤ 2⁻⁸·|w|;
 *     y[r] = Σ_k w[r,k]·x[k]
 *   accumulated in float32 (with AVX512-BF16, x enters as the sum of two bf16, 16 bits).
 *
 * Biases and the embedding stay float32. The matrix–vector products are `QuantizedKernels.gemv`.
 *
 * `quantizedStep` runs one token through the model: embedding row → per layer
 * gates = W_ih·x + b_ih + W_hh·h + b_hh → the cell update in float32 → logits = W_out·h + b. The
 * first layer's W_ih·e + b_ih of every token is tabulated once (when the vocabulary is no larger
 * than the embedding, as for character models) with the same kernel, so the step reads one table
 * row instead of W_ih. `dequantizeLanguageModel` gives the float model with the same weight values
 * (q·scale), for evaluating the quantized model's loss through the ordinary batched path.
 *
 * Cells: LSTM (PyTorch's, without peepholes or coupling), GRU (PyTorch's reset-after form), RNN
 * (tanh, sigmoid, relu); logistic or hard-sigmoid gates. Others are refused with an error.
 *
 * Browser-safe: no Node APIs. The portable kernel is TypeScript; the native addon registers its
 * C kernel (native/qgemv.c) under the backend name "native" (`registerQuantizedKernels`), and the
 * wasm backend's `int8Gemv` (assembly/qgemv.ts) computes int8 products with the C kernel's
 * fixed-point arithmetic, bit for bit.
 */
import { gateFunctions, gateOf, sigmoid, type CellConfig } from "../cells/cell.js";
import { bindLanguageModel, createLanguageModel, inputWidth, type LanguageModel, type LanguageModelConfig } from "../model/language-model.js";
import { backendNames, getBackend } from "../backend/select.js";
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: V vocabulary, E input width (embedding, or V one-hot), H hidden, G gates, L layers.

/** Storage of a model's weight matrices for inference. */
export type WeightFormat = "float32" | "bf16" | "int8";

/** The compact formats (`quantizeLanguageModel`). */
export type QuantizedFormat = Exclude<WeightFormat, "float32">;

/** Checks a `--weights` / `weights` value. */
export function parseWeightFormat(s: string): WeightFormat {
  if (s === "float32" || s === "bf16" || s === "int8") return s;
  throw new Error(`weights must be "float32", "bf16" or "int8", got ${JSON.stringify(s)}`);
}

/** A rows × cols int8 matrix (row-major) with one float32 scale per row. */
export interface Int8Matrix {
  readonly format: "int8";
  readonly rows: number;
  readonly cols: number;
  readonly q: Int8Array;
  readonly scale: Float32Array;
}

/** A rows × cols bfloat16 matrix (row-major): the upper 16 bits of each float32. */
export interface Bf16Matrix {
  readonly format: "bf16";
  readonly rows: number;
  readonly cols: number;
  readonly w: Uint16Array;
}

export type QuantizedMatrix = Int8Matrix | Bf16Matrix;

/** One layer's quantized weights and float32 biases. */
export interface QuantizedLayer {
  /** (G·H, I) */ readonly Wih: QuantizedMatrix;
  /** (G·H, H) */ readonly Whh: QuantizedMatrix;
  /** (G·H) */ readonly bih: Float32Array;
  /** (G·H) */ readonly bhh: Float32Array;
  /** (G·H) b_ih + b_hh, which LSTM and RNN steps add once; null for GRU (its b_hn is gated) */ readonly bias: Float32Array | null;
}

/** A language model with int8 or bf16 weight matrices (`quantizeLanguageModel`). */
export interface QuantizedLanguageModel {
  readonly kind: "quantized-language-model";
  readonly format: QuantizedFormat;
  readonly config: LanguageModelConfig;
  /** Gates per cell: 4 LSTM, 3 GRU, 1 RNN. */
  readonly G: number;
  /** (V, E) float32, or null when the model reads one-hot vectors. */
  readonly embedding: Float32Array | null;
  readonly layers: readonly QuantizedLayer[];
  /** (V, H) */ readonly W: QuantizedMatrix;
  /** (V) */ readonly b: Float32Array;
  /**
   * The first layer's W_ih·e_v + b_ih for every token v (V, G·H), one per kernel set (filled on first
   * use: each kernel's own arithmetic), when V ≤ E; see `inputTable`.
   */
  readonly tables: Map<string, Float32Array>;
}

/** The compact-matrix × float32 product. */
export interface QuantizedKernels {
  readonly name: string;
  /** y (m.rows) = m x (int8: scale ⊙ (q x)), or y += it when `accumulate`; then y += bias when given. */
  gemv(m: QuantizedMatrix, x: Float32Array, y: Float32Array, accumulate: boolean, bias?: Float32Array): void;
  /**
   * Optional: the logistic-gate LSTM cell update from the pre-activations (4H, biases added),
   * c and h (H) in place; without it the step runs the update in TypeScript.
   */
  lstmCell?(H: number, gates: Float32Array, c: Float32Array, h: Float32Array): void;
  /**
   * Optional: a whole logistic-gate LSTM layer step, gates ← W_ih x + bias + W_hh h (or, with
   * `Wih` null, gates ← x + W_hh h, x the input side of the gates (G·H), or with x null too,
   * gates += W_hh h), then the cell update of c and h in place, with the same results as `gemv`
   * and `lstmCell` in turn. Returns false, having changed nothing, where it cannot run (then the
   * step calls those).
   */
  lstmLayer?(Wih: QuantizedMatrix | null, x: Float32Array | null, Whh: QuantizedMatrix, bias: Float32Array | null, gates: Float32Array, c: Float32Array, h: Float32Array): boolean;
  /**
   * Optional: `lstmLayer` for every layer of `qm` (logistic-gate LSTM) in one call, layer 0 from
   * `row` (its gates' input side) or, when null, from `state.gi`; returns how many layers it ran
   * (the step goes on from there, so a layer it declines runs apart).
   */
  lstmStack?(qm: QuantizedLanguageModel, row: Float32Array | null, state: QuantizedState): number;
  /**
   * Optional: a whole step of a logistic-gate LSTM model whose first layer is tabulated: `lstmStack`
   * from row `token` of `table` (the model's input table for these kernels, the same array on every
   * call), then `state.logits` ← W·h + b of the last layer, as `gemv` makes them. Returns
   * `qm.layers.length + 1` when it made the logits, else the layers it ran (the step goes on from there).
   */
  lstmStep?(qm: QuantizedLanguageModel, table: Float32Array, token: number, state: QuantizedState): number;
  /**
   * Optional: `lstmStep`, then the next token as `pickToken` chooses it from the logits for plain
   * multinomial sampling at `temperature` with the uniform draw `u` ∈ [0, 1) (u < 0: the most
   * likely token), the probabilities left in `state.logits` as pickToken leaves them. Returns the
   * token, or −1 − the layers it ran where one declined (then no logits are made).
   */
  lstmSample?(qm: QuantizedLanguageModel, table: Float32Array, token: number, state: QuantizedState, u: number, temperature: number): number;
}

/** bf16 matrices widened to float32 for the TypeScript kernel (exact), made once per matrix. */
const widened = new WeakMap<Bf16Matrix, Float32Array>();

/**
 * The TypeScript kernel: per row, a float32 running sum of w·x (Math.fround after each step);
 * int8 rows are then multiplied by their scale.
 */
export const portableQuantizedKernels: QuantizedKernels = {
  name: "portable",
  gemv(m, x, y, accumulate, bias) {
    const f = Math.fround;
    const { rows, cols } = m;
    if (m.format === "int8") {
      const { q, scale } = m;
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let s = 0;
        for (let k = 0; k < cols; k++) s = f(s + f(q[o + k] * x[k]));
        const v = f(s * scale[r]);
        y[r] = accumulate ? y[r] + v : v;
      }
    } else {
      let w = widened.get(m);
      if (!w) widened.set(m, (w = dequantizeMatrix(m) as Float32Array));
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let s = 0;
        for (let k = 0; k < cols; k++) s = f(s + f(w[o + k] * x[k]));
        y[r] = accumulate ? y[r] + s : s;
      }
    }
    if (bias) for (let r = 0; r < rows; r++) y[r] += bias[r];
  },
};

const registered = new Map<string, QuantizedKernels>();

/** Makes `kernels` the compact-weight kernels of backend `backendName` (the native addon registers "native"). */
export function registerQuantizedKernels(backendName: string, kernels: QuantizedKernels): void {
  registered.set(backendName, kernels);
}

/** Kernels made over a backend's `int8Gemv`, one per backend. */
const overBackend = new Map<string, QuantizedKernels>();

/**
 * The compact-weight kernels of a backend: its registered ones; else, where the backend has an
 * `int8Gemv` (wasm), that for int8 matrices and the TypeScript kernel for the rest (and for an x it
 * declines), with the backend's `lstmCell` where it has one; else the portable TypeScript kernel.
 */
export function quantizedKernelsFor(backendName: string): QuantizedKernels {
  const r = registered.get(backendName);
  if (r) return r;
  const backend = backendNames().includes(backendName) ? getBackend(backendName) : null;
  const int8Gemv = backend?.int8Gemv;
  if (!int8Gemv) return portableQuantizedKernels;
  let k = overBackend.get(backendName);
  if (!k) {
    const lstmCell = backend.lstmCell;
    k = {
      name: backendName,
      gemv(m, x, y, accumulate, bias) {
        if (m.format !== "int8" || !int8Gemv(m, x, y, accumulate, bias)) portableQuantizedKernels.gemv(m, x, y, accumulate, bias);
      },
      ...(lstmCell ? { lstmCell } : {}),
    };
    overBackend.set(backendName, k);
  }
  return k;
}

/**
 * Whether backend `backendName` has int8 products of its own (the native C kernel, wasm's
 * `int8Gemv`): faster than float32 there, while the TypeScript kernel is slower than float32 products.
 */
export function fastInt8On(backendName: string): boolean {
  return quantizedKernelsFor(backendName) !== portableQuantizedKernels;
}

/**
 * The weights `auto` means (`unroll sample --weights auto`, the web lab): int8 where the backend
 * has its own int8 products and the model is float32 and can be quantized, else float32.
 */
export function autoWeightFormat(backendName: string, model: LanguageModel): WeightFormat {
  return fastInt8On(backendName) && model.params.dtype === "float32" && unquantizableReason(model) === null ? "int8" : "float32";
}

/** Symmetric per-row int8 quantization of a rows × cols row-major matrix. */
export function quantizeMatrix(w: ArrayLike<number>, rows: number, cols: number): Int8Matrix {
  if (w.length !== rows * cols) throw new Error(`quantizeMatrix: ${w.length} values for ${rows} × ${cols}`);
  const q = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = 0;
    for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(w[o + k]));
    if (!Number.isFinite(m)) throw new Error(`quantizeMatrix: row ${r} holds a non-finite weight`);
    const s = m > 0 ? Math.fround(m / 127) : 1;
    scale[r] = s;
    for (let k = 0; k < cols; k++) q[o + k] = Math.max(-127, Math.min(127, Math.round(w[o + k] / s)));
  }
  return { format: "int8", rows, cols, q, scale };
}

/** A rows × cols row-major matrix in bfloat16, each value rounded to nearest even. */
export function bf16Matrix(w: ArrayLike<number>, rows: number, cols: number): Bf16Matrix {
  if (w.length !== rows * cols) throw new Error(`bf16Matrix: ${w.length} values for ${rows} × ${cols}`);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    f[0] = w[i];
    if (!Number.isFinite(f[0])) throw new Error(`bf16Matrix: row ${Math.floor(i / cols)} holds a non-finite weight`);
    const b = u[0];
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return { format: "bf16", rows, cols, w: out };
}

/** bf16 bit patterns as the float32 values they are (exact: the upper halves of float32 bits). */
function widenBf16(w: Uint16Array): Float32Array {
  const u = new Uint32Array(w.length);
  for (let i = 0; i < u.length; i++) u[i] = w[i] << 16;
  return new Float32Array(u.buffer);
}

/** The float32 values the kernels compute with: q·scale (int8), or the bf16 values widened exactly. */
export function dequantizeMatrix(m: QuantizedMatrix, out: FloatArray = new Float32Array(m.rows * m.cols)): FloatArray {
  if (m.format === "bf16") {
    out.set(widenBf16(m.w));
    return out;
  }
  for (let r = 0; r < m.rows; r++) {
    const o = r * m.cols;
    const s = m.scale[r];
    for (let k = 0; k < m.cols; k++) out[o + k] = Math.fround(m.q[o + k] * s);
  }
  return out;
}

/** Gates of a cell the quantized step runs; throws for the others. */
function checkCell(cell: CellConfig): number {
  switch (cell.kind) {
    case "lstm":
      if (cell.peephole || cell.coupled) throw new Error("int8 and bf16 weights: peephole and coupled LSTMs are not supported (plain lstm, gru, rnn are)");
      return 4;
    case "gru":
      if (!cell.resetAfter) throw new Error("int8 and bf16 weights: gru-cho (reset before the product) is not supported (plain lstm, gru, rnn are)");
      return 3;
    case "rnn":
      return 1;
  }
}

/** Why `quantizeLanguageModel` would refuse this model (one sentence), or null when it takes it. */
export function unquantizableReason(model: LanguageModel): string | null {
  try {
    checkCell(model.config.cell);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** A float32 copy of a float array. */
const f32 = (a: FloatArray): Float32Array => Float32Array.from(a);

/**
 * int8 or bf16 weights of a language model (its weight matrices; biases and embedding float32).
 * Throws for bidirectional stacks or cells other than plain LSTM, GRU and RNN.
 */
export function quantizeLanguageModel(model: LanguageModel, format: QuantizedFormat = "int8"): QuantizedLanguageModel {
  if (format !== "int8" && format !== "bf16") throw new Error(`quantizeLanguageModel: format must be "int8" or "bf16", got ${JSON.stringify(format)}`);
  const c = model.config;
  const G = checkCell(c.cell);
  const v = bindLanguageModel(c, model.params);
  if (v.rnn.dirs.length !== c.numLayers) throw new Error("int8 and bf16 weights: bidirectional stacks are not supported");
  const H = c.hiddenSize;
  const matrix = format === "int8" ? quantizeMatrix : bf16Matrix;
  const layers = v.rnn.dirs.map((p, l) => ({
    Wih: matrix(p.Wih, G * H, l === 0 ? inputWidth(c) : H),
    Whh: matrix(p.Whh, G * H, H),
    bih: f32(p.bih),
    bhh: f32(p.bhh),
    bias: G === 3 ? null : Float32Array.from(p.bih, (b, r) => b + p.bhh[r]),
  }));
  return {
    kind: "quantized-language-model",
    format,
    config: c,
    G,
    embedding: v.embedding ? f32(v.embedding) : null,
    layers,
    W: matrix(v.W, c.vocabSize, H),
    b: f32(v.b),
    tables: new Map(),
  };
}

/**
 * A copy of `model` whose weight matrices are replaced by their compact values (q·scale, or the
 * bf16 values), biases and embedding unchanged: the float model the quantized step computes.
 */
export function dequantizeLanguageModel(model: LanguageModel, qm: QuantizedLanguageModel | QuantizedFormat = "int8"): LanguageModel {
  if (typeof qm === "string") qm = quantizeLanguageModel(model, qm);
  const out = createLanguageModel(model.config, model.params.dtype);
  out.params.data.set(model.params.data);
  const v = bindLanguageModel(out.config, out.params);
  v.rnn.dirs.forEach((p, l) => {
    dequantizeMatrix(qm.layers[l].Wih, p.Wih);
    dequantizeMatrix(qm.layers[l].Whh, p.Whh);
  });
  dequantizeMatrix(qm.W, v.W);
  return out;
}

/** Bytes of weights one `quantizedStep` reads: the compact matrices (int8 with their scales), float32 biases, one embedding or table row. */
export function quantizedBytesPerToken(qm: QuantizedLanguageModel): number {
  const mat = (m: QuantizedMatrix) => (m.format === "int8" ? m.rows * m.cols + 4 * m.rows : 2 * m.rows * m.cols);
  const GH = qm.G * qm.config.hiddenSize;
  let n = 0;
  qm.layers.forEach((layer, l) => {
    if (l === 0 && usesTable(qm)) n += 4 * GH; // the table row (biases included)
    else n += (l === 0 ? (qm.embedding ? 4 * inputWidth(qm.config) : 0) : 0) + mat(layer.Wih) + 4 * GH;
    n += mat(layer.Whh) + (layer.bias ? 0 : 4 * GH); // GRU adds b_hh apart, even after a table row
  });
  return n + mat(qm.W) + 4 * qm.config.vocabSize;
}

/** Whether the first layer's input projection is tabulated per token. */
function usesTable(qm: QuantizedLanguageModel): boolean {
  return qm.embedding !== null && qm.config.vocabSize <= qm.config.embedSize;
}

/** The recurrent state and scratch of batch-1 quantized stepping. */
export interface QuantizedState {
  /** (L, H) */ readonly h: Float32Array;
  /** (L, H), LSTM only */ readonly c: Float32Array | null;
  /** (G·H) scratch: input side of the gates */ readonly gi: Float32Array;
  /** (G·H) scratch: recurrent side (GRU) */ readonly gh: Float32Array;
  /** (V) the logits of the last step (overwritten by the next) */ readonly logits: Float32Array;
}

/** A zero state for `qm`. */
export function createQuantizedState(qm: QuantizedLanguageModel): QuantizedState {
  const { hiddenSize: H, numLayers: L, vocabSize: V } = qm.config;
  return {
    h: new Float32Array(L * H),
    c: qm.config.cell.kind === "lstm" ? new Float32Array(L * H) : null,
    gi: new Float32Array(qm.G * H),
    gh: new Float32Array(qm.G * H),
    logits: new Float32Array(V),
  };
}

/** The first layer's W_ih·e_v + b_ih (+ b_hh but for GRU) table for `kernels` (V, G·H), made on first use. */
function inputTable(qm: QuantizedLanguageModel, kernels: QuantizedKernels): Float32Array {
  const hit = qm.tables.get(kernels.name);
  if (hit) return hit;
  const { vocabSize: V, embedSize: E } = qm.config;
  const { Wih } = qm.layers[0];
  const GH = Wih.rows;
  const table = new Float32Array(V * GH);
  for (let t = 0; t < V; t++) kernels.gemv(Wih, qm.embedding!.subarray(t * E, (t + 1) * E), table.subarray(t * GH, (t + 1) * GH), false, inputBias(qm.layers[0]));
  qm.tables.set(kernels.name, table);
  return table;
}

/** Row `token` of the first layer's input table (a view). */
function tableRow(qm: QuantizedLanguageModel, token: number, kernels: QuantizedKernels): Float32Array {
  const GH = qm.layers[0].Wih.rows;
  return inputTable(qm, kernels).subarray(token * GH, (token + 1) * GH);
}

/** The bias added with W_ih x: b_ih + b_hh, or for GRU b_ih alone. */
const inputBias = (layer: QuantizedLayer): Float32Array => layer.bias ?? layer.bih;

/** gi ← W_ih x + the input bias of layer 0 for `token`. */
function firstInput(qm: QuantizedLanguageModel, token: number, gi: Float32Array, kernels: QuantizedKernels): void {
  const { Wih } = qm.layers[0];
  const GH = Wih.rows;
  const bias = inputBias(qm.layers[0]);
  if (usesTable(qm)) {
    gi.set(tableRow(qm, token, kernels));
  } else if (qm.embedding) {
    const E = Wih.cols;
    kernels.gemv(Wih, qm.embedding.subarray(token * E, (token + 1) * E), gi, false, bias);
  } else {
    // one-hot: column `token` of W_ih (the kernel's sum of w·1 and zeros is w exactly)
    oneHotColumn(Wih, token, gi);
    for (let r = 0; r < GH; r++) gi[r] += bias[r];
  }
}

/** y ← column `k` of m as float32 (q·scale, or the bf16 value). */
function oneHotColumn(m: QuantizedMatrix, k: number, y: Float32Array): void {
  const { rows, cols } = m;
  if (m.format === "int8") for (let r = 0; r < rows; r++) y[r] = Math.fround(m.q[r * cols + k] * m.scale[r]);
  else y.set(widenBf16(Uint16Array.from({ length: rows }, (_, r) => m.w[r * cols + k])));
}

/**
 * One batch-1 step of token `token` from `state` (updated in place); returns the logits (V), a
 * view of `state.logits` that the next step overwrites.
 */
export function quantizedStep(qm: QuantizedLanguageModel, token: number, state: QuantizedState, kernels: QuantizedKernels = portableQuantizedKernels): Float32Array {
  checkToken(qm, token);
  return step(qm, token, state, kernels, fusedLayer(qm, kernels));
}

/** `quantizedStep` after its check of the token, with the kernels' fused layer step for `qm` (fusedLayer). */
function step(qm: QuantizedLanguageModel, token: number, state: QuantizedState, kernels: QuantizedKernels, fused: QuantizedKernels["lstmLayer"]): Float32Array {
  if (fused && kernels.lstmStep && usesTable(qm)) {
    // the whole step in one call; where a layer declines, the step goes on from it
    const done = kernels.lstmStep(qm, inputTable(qm, kernels), token, state);
    return done > qm.layers.length ? state.logits : stepFrom(qm, token, state, kernels, fused, done);
  }
  return stepFrom(qm, token, state, kernels, fused, -1);
}

/**
 * `quantizedStep`, then the next token where the kernels choose it (`lstmSample`: a logistic-gate
 * LSTM with a tabulated first layer): as `pickToken` chooses it for plain multinomial sampling at
 * `temperature` with the uniform draw `u`, or the most likely token for u < 0, with the
 * probabilities left in `state.logits` as pickToken leaves them. Returns −1 where the kernels do not
 * choose it: then `state.logits` holds the step's logits, to pick from.
 */
export function quantizedStepPicking(qm: QuantizedLanguageModel, token: number, state: QuantizedState, kernels: QuantizedKernels, u: number, temperature: number): number {
  checkToken(qm, token);
  const fused = fusedLayer(qm, kernels);
  if (!(fused && kernels.lstmSample && usesTable(qm))) {
    step(qm, token, state, kernels, fused);
    return -1;
  }
  const next = kernels.lstmSample(qm, inputTable(qm, kernels), token, state, u, temperature);
  if (next >= 0) return next;
  stepFrom(qm, token, state, kernels, fused, -1 - next);
  return -1;
}

function checkToken(qm: QuantizedLanguageModel, token: number): void {
  const V = qm.config.vocabSize;
  if (!Number.isInteger(token) || token < 0 || token >= V) throw new RangeError(`token id ${token} is outside the vocabulary [0, ${V})`);
}

/** The kernels' fused LSTM layer step where `qm` can use it (logistic-gate LSTM), else undefined. */
function fusedLayer(qm: QuantizedLanguageModel, kernels: QuantizedKernels): QuantizedKernels["lstmLayer"] {
  const cell = qm.config.cell;
  return cell.kind === "lstm" && gateFunctions(gateOf(cell)).f === sigmoid ? kernels.lstmLayer : undefined;
}

/**
 * The rest of a step from `state` after the fused kernels ran its first `done` layers (−1: none
 * yet, and `lstmStack` may run them): the remaining layers, then the logits.
 */
function stepFrom(qm: QuantizedLanguageModel, token: number, state: QuantizedState, kernels: QuantizedKernels, fused: QuantizedKernels["lstmLayer"], done: number): Float32Array {
  const c = qm.config;
  const H = c.hiddenSize;
  const { gi, gh } = state;
  const cell = c.cell;
  const gate = gateFunctions(gateOf(cell)).f;
  let l0 = Math.max(done, 0); // the layers done by the fused kernels before the loop
  if (fused && l0 === 0) {
    // layer 0's gates' input side: the token's table row where it lies, or computed into gi
    const row = usesTable(qm) ? tableRow(qm, token, kernels) : (firstInput(qm, token, gi, kernels), null);
    if (done < 0 && kernels.lstmStack) l0 = kernels.lstmStack(qm, row, state);
    if (l0 === 0 && fused(null, row, qm.layers[0].Whh, null, gi, state.c!.subarray(0, H), state.h.subarray(0, H))) l0 = 1;
    if (l0 === 0 && row) gi.set(row); // layer 0 runs apart, from gi
  }
  for (let l = l0; l < qm.layers.length; l++) {
    const layer = qm.layers[l];
    const x = l === 0 ? null : state.h.subarray((l - 1) * H, l * H);
    const h = state.h.subarray(l * H, (l + 1) * H);
    if (l === 0 && !fused) firstInput(qm, token, gi, kernels);
    if (fused && x !== null && fused(layer.Wih, x, layer.Whh, inputBias(layer), gi, state.c!.subarray(l * H, (l + 1) * H), h)) continue;
    if (x !== null) kernels.gemv(layer.Wih, x, gi, false, inputBias(layer));
    if (cell.kind === "gru") {
      // the recurrent side apart: n = tanh(gi_n + r ⊙ (W_hn h + b_hn))
      kernels.gemv(layer.Whh, h, gh, false, layer.bhh);
      for (let j = 0; j < H; j++) {
        const rg = gate(gi[j] + gh[j]);
        const z = gate(gi[H + j] + gh[H + j]);
        const n = Math.tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
        h[j] = (1 - z) * n + z * h[j];
      }
      continue;
    }
    kernels.gemv(layer.Whh, h, gi, true); // both biases are in gi already
    if (cell.kind === "lstm") {
      const cs = state.c!.subarray(l * H, (l + 1) * H);
      if (gate === sigmoid && kernels.lstmCell) {
        kernels.lstmCell(H, gi, cs, h);
        continue;
      }
      if (gate === sigmoid) {
        // the same formulas inlined (the step's hot loop): σ(a) = 1/(1+e^−a), and
        // tanh(a) = 1 − 2/(e^{2a}+1) (absolute error ~1e-16; V8's Math.tanh costs several exps)
        for (let j = 0; j < H; j++) {
          const i = 1 / (1 + Math.exp(-gi[j]));
          const f = 1 / (1 + Math.exp(-gi[H + j]));
          const g = 1 - 2 / (Math.exp(2 * gi[2 * H + j]) + 1);
          const o = 1 / (1 + Math.exp(-gi[3 * H + j]));
          const cj = Math.fround(f * cs[j] + i * g);
          cs[j] = cj;
          h[j] = o * (1 - 2 / (Math.exp(2 * cj) + 1));
        }
        continue;
      }
      for (let j = 0; j < H; j++) {
        const i = gate(gi[j]);
        const f = gate(gi[H + j]);
        const g = Math.tanh(gi[2 * H + j]);
        const o = gate(gi[3 * H + j]);
        const cj = Math.fround(f * cs[j] + i * g);
        cs[j] = cj;
        h[j] = o * Math.tanh(cj);
      }
    } else {
      const nl = cell.nonlinearity;
      for (let j = 0; j < H; j++) {
        const a = gi[j];
        h[j] = nl === "tanh" ? Math.tanh(a) : nl === "relu" ? (a > 0 ? a : 0) : 1 / (1 + Math.exp(-a));
      }
    }
  }
  const top = state.h.subarray((qm.layers.length - 1) * H);
  kernels.gemv(qm.W, top, state.logits, false, qm.b);
  return state.logits;
}
