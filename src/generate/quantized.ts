/**
 * int8 inference weights for batch-1 sampling (issue 16): every weight matrix of a language
 * model (the recurrent W_ih and W_hh of each layer, and the output linear) stored as int8 with one
 * float32 scale per row, symmetric:
 *
 *   scale[r] = max_k |w[r,k]| / 127   (1 for an all-zero row),   q[r,k] = round(w[r,k] / scale[r])
 *
 * so |w − q·scale| ≤ scale/2 element-wise. Biases and the embedding stay float32. A step reads a
 * quarter of the float32 weight bytes; the products accumulate in float32:
 *
 *   y[r] = scale[r] · Σ_k q[r,k]·x[k]      (the `qgemv` primitive, `QuantizedKernels`)
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
 * C kernel (native/qgemv.c) under the backend name "native" (`registerQuantizedKernels`).
 */
import { gateFunctions, gateOf, sigmoid, type CellConfig } from "../cells/cell.js";
import { bindLanguageModel, createLanguageModel, inputWidth, type LanguageModel, type LanguageModelConfig } from "../model/language-model.js";
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: V vocabulary, E input width (embedding, or V one-hot), H hidden, G gates, L layers.

/** Storage of a model's weight matrices for inference. */
export type WeightFormat = "float32" | "int8";

/** Checks a `--weights` / `weights` value. */
export function parseWeightFormat(s: string): WeightFormat {
  if (s === "float32" || s === "int8") return s;
  throw new Error(`weights must be "float32" or "int8", got ${JSON.stringify(s)}`);
}

/** A rows × cols int8 matrix (row-major) with one float32 scale per row. */
export interface QuantizedMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly q: Int8Array;
  readonly scale: Float32Array;
}

/** One layer's quantized weights and float32 biases. */
export interface QuantizedLayer {
  /** (G·H, I) */ readonly Wih: QuantizedMatrix;
  /** (G·H, H) */ readonly Whh: QuantizedMatrix;
  /** (G·H) */ readonly bih: Float32Array;
  /** (G·H) */ readonly bhh: Float32Array;
}

/** A language model with int8 weight matrices (`quantizeLanguageModel`). */
export interface QuantizedLanguageModel {
  readonly kind: "quantized-language-model";
  readonly format: "int8";
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

/** The int8 × float32 product, y (rows) = scale ⊙ (q x), or y += it when `accumulate`. */
export interface QuantizedKernels {
  readonly name: string;
  qgemv(q: Int8Array, scale: Float32Array, rows: number, cols: number, x: Float32Array, y: Float32Array, accumulate: boolean): void;
  /**
   * Optional: the logistic-gate LSTM cell update from the pre-activations (4H, biases added),
   * c and h (H) in place; without it the step runs the update in TypeScript.
   */
  lstmCell?(H: number, gates: Float32Array, c: Float32Array, h: Float32Array): void;
}

/** The TypeScript kernel: per row, a float32 running sum of q·x (Math.fround after each step), times the scale. */
export const portableQuantizedKernels: QuantizedKernels = {
  name: "portable",
  qgemv(q, scale, rows, cols, x, y, accumulate) {
    const f = Math.fround;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let k = 0; k < cols; k++) s = f(s + f(q[o + k] * x[k]));
      const v = f(s * scale[r]);
      y[r] = accumulate ? y[r] + v : v;
    }
  },
};

const registered = new Map<string, QuantizedKernels>();

/** Makes `kernels` the int8 kernels of backend `backendName` (the native addon registers "native"). */
export function registerQuantizedKernels(backendName: string, kernels: QuantizedKernels): void {
  registered.set(backendName, kernels);
}

/** The int8 kernels of a backend: its registered ones, else the portable TypeScript kernel. */
export function quantizedKernelsFor(backendName: string): QuantizedKernels {
  return registered.get(backendName) ?? portableQuantizedKernels;
}

/** Symmetric per-row int8 quantization of a rows × cols row-major matrix. */
export function quantizeMatrix(w: ArrayLike<number>, rows: number, cols: number): QuantizedMatrix {
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
  return { rows, cols, q, scale };
}

/** q·scale as float32: the weight values the int8 kernels compute with. */
export function dequantizeMatrix(m: QuantizedMatrix, out: FloatArray = new Float32Array(m.rows * m.cols)): FloatArray {
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
      if (cell.peephole || cell.coupled) throw new Error("int8 weights: peephole and coupled LSTMs are not supported (plain lstm, gru, rnn are)");
      return 4;
    case "gru":
      if (!cell.resetAfter) throw new Error("int8 weights: gru-cho (reset before the product) is not supported (plain lstm, gru, rnn are)");
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
 * int8 weights of a language model (its weight matrices; biases and embedding float32). Throws for
 * bidirectional stacks or cells other than plain LSTM, GRU and RNN.
 */
export function quantizeLanguageModel(model: LanguageModel, format: "int8" = "int8"): QuantizedLanguageModel {
  if (format !== "int8") throw new Error(`quantizeLanguageModel: format must be "int8", got ${JSON.stringify(format)}`);
  const c = model.config;
  const G = checkCell(c.cell);
  const v = bindLanguageModel(c, model.params);
  if (v.rnn.dirs.length !== c.numLayers) throw new Error("int8 weights: bidirectional stacks are not supported");
  const H = c.hiddenSize;
  const layers = v.rnn.dirs.map((p, l) => ({
    Wih: quantizeMatrix(p.Wih, G * H, l === 0 ? inputWidth(c) : H),
    Whh: quantizeMatrix(p.Whh, G * H, H),
    bih: f32(p.bih),
    bhh: f32(p.bhh),
  }));
  return {
    kind: "quantized-language-model",
    format,
    config: c,
    G,
    embedding: v.embedding ? f32(v.embedding) : null,
    layers,
    W: quantizeMatrix(v.W, c.vocabSize, H),
    b: f32(v.b),
    tables: new Map(),
  };
}

/**
 * A copy of `model` whose weight matrices are replaced by their int8 values q·scale (rounded to
 * the model's dtype), biases and embedding unchanged: the float model the int8 step computes.
 */
export function dequantizeLanguageModel(model: LanguageModel, qm: QuantizedLanguageModel = quantizeLanguageModel(model)): LanguageModel {
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

/** Bytes of weights one `quantizedStep` reads: int8 matrices, their scales, float32 biases, one embedding or table row. */
export function quantizedBytesPerToken(qm: QuantizedLanguageModel): number {
  const mat = (m: QuantizedMatrix) => m.rows * m.cols + 4 * m.rows;
  const GH = qm.G * qm.config.hiddenSize;
  let n = 0;
  qm.layers.forEach((layer, l) => {
    if (l === 0 && usesTable(qm)) n += 4 * GH; // the table row (b_ih included)
    else n += (l === 0 ? (qm.embedding ? 4 * inputWidth(qm.config) : 0) : 0) + mat(layer.Wih) + 4 * GH;
    n += mat(layer.Whh) + 4 * GH;
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

/** The first layer's W_ih·e_v + b_ih table for `kernels` (V, G·H), made on first use. */
function inputTable(qm: QuantizedLanguageModel, kernels: QuantizedKernels): Float32Array {
  const hit = qm.tables.get(kernels.name);
  if (hit) return hit;
  const { vocabSize: V, embedSize: E } = qm.config;
  const { Wih, bih } = qm.layers[0];
  const GH = Wih.rows;
  const table = new Float32Array(V * GH);
  for (let t = 0; t < V; t++) {
    const row = table.subarray(t * GH, (t + 1) * GH);
    kernels.qgemv(Wih.q, Wih.scale, GH, E, qm.embedding!.subarray(t * E, (t + 1) * E), row, false);
    for (let r = 0; r < GH; r++) row[r] += bih[r];
  }
  qm.tables.set(kernels.name, table);
  return table;
}

/** gi ← W_ih x + b_ih of layer 0 for `token`. */
function firstInput(qm: QuantizedLanguageModel, token: number, gi: Float32Array, kernels: QuantizedKernels): void {
  const { Wih, bih } = qm.layers[0];
  const GH = Wih.rows;
  if (usesTable(qm)) {
    gi.set(inputTable(qm, kernels).subarray(token * GH, (token + 1) * GH));
    return;
  }
  if (qm.embedding) {
    const E = Wih.cols;
    kernels.qgemv(Wih.q, Wih.scale, GH, E, qm.embedding.subarray(token * E, (token + 1) * E), gi, false);
  } else {
    // one-hot: column `token` of W_ih (the kernel's sum of q·1 and zeros is q exactly)
    const V = Wih.cols;
    for (let r = 0; r < GH; r++) gi[r] = Math.fround(Wih.q[r * V + token] * Wih.scale[r]);
  }
  for (let r = 0; r < GH; r++) gi[r] += bih[r];
}

/**
 * One batch-1 step of token `token` from `state` (updated in place); returns the logits (V), a
 * view of `state.logits` that the next step overwrites.
 */
export function quantizedStep(qm: QuantizedLanguageModel, token: number, state: QuantizedState, kernels: QuantizedKernels = portableQuantizedKernels): Float32Array {
  const c = qm.config;
  const V = c.vocabSize;
  if (!Number.isInteger(token) || token < 0 || token >= V) throw new RangeError(`token id ${token} is outside the vocabulary [0, ${V})`);
  const H = c.hiddenSize;
  const GH = qm.G * H;
  const { gi, gh } = state;
  const cell = c.cell;
  const gate = gateFunctions(gateOf(cell)).f;
  for (let l = 0; l < qm.layers.length; l++) {
    const layer = qm.layers[l];
    if (l === 0) firstInput(qm, token, gi, kernels);
    else {
      kernels.qgemv(layer.Wih.q, layer.Wih.scale, GH, H, state.h.subarray((l - 1) * H, l * H), gi, false);
      for (let r = 0; r < GH; r++) gi[r] += layer.bih[r];
    }
    const h = state.h.subarray(l * H, (l + 1) * H);
    if (cell.kind === "gru") {
      // the recurrent side apart: n = tanh(gi_n + r ⊙ (W_hn h + b_hn))
      kernels.qgemv(layer.Whh.q, layer.Whh.scale, GH, H, h, gh, false);
      for (let r = 0; r < GH; r++) gh[r] += layer.bhh[r];
      for (let j = 0; j < H; j++) {
        const rg = gate(gi[j] + gh[j]);
        const z = gate(gi[H + j] + gh[H + j]);
        const n = Math.tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
        h[j] = (1 - z) * n + z * h[j];
      }
      continue;
    }
    kernels.qgemv(layer.Whh.q, layer.Whh.scale, GH, H, h, gi, true);
    for (let r = 0; r < GH; r++) gi[r] += layer.bhh[r];
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
  kernels.qgemv(qm.W.q, qm.W.scale, V, H, top, state.logits, false);
  for (let v = 0; v < V; v++) state.logits[v] += qm.b[v];
  return state.logits;
}
