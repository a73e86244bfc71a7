/**
 * Looking inside a character language model (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and
 * Understanding Recurrent Networks"; Karpathy's "The Unreasonable Effectiveness of Recurrent Neural
 * Networks", §"Visualizing the predictions and the neuron firings"): run a text through the model
 * one token at a time from the zero state and record, per layer and step, the hidden state, the
 * cell state and the gate activations, and per step what the model predicted next.
 *
 * Where the numbers come from. The text is run through the library's own forward pass
 * (`languageModelForward`, time-major, batch 1, from the zero state, no dropout) — exactly what
 * `sampleTokens` runs over a prime text, so the states are those sampling would have after reading
 * the text (a step-at-a-time loop with the state carried agrees to rounding; test/inspect.test.ts
 * checks both). Nothing is recomputed: h and c are the pass's states (`UnrollCache.hs`, `.cs`), and
 * the gates are read from the cell's cache, whose layout the cells define and every fused backend
 * must write identically (src/backend/backend.ts, `FusedRecurrence`):
 *
 * - LSTM (`LstmCache.gates`, (T, B, G·H)): row blocks i, f, g, o (PyTorch's `nn.LSTM` order), each
 *   after its nonlinearity (σ, σ, tanh, σ); the coupled variant stores f, g, o and i = 1 − f.
 * - GRU (`GruCache.gates`, (T, B, 3H)): r, z, n after σ, σ, tanh (PyTorch's `nn.GRU` order).
 * - RNN: no cache; h only.
 *
 * The test suite checks these against an independent recomputation from the parameters in
 * PyTorch's layout (W_ih (G·H, I), W_hh (G·H, H), b_ih, b_hh) and the identities
 * c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t) (LSTM) and h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} (GRU).
 *
 * Layout: one flat buffer per (layer, quantity), (steps, H) row-major — value of unit j at step t
 * is `[t·H + j]` — in the model's dtype (Float32Array for a float32 model, every trained
 * checkpoint; Float64Array for a float64 one, so the identities hold to float64 precision). The
 * trace is plain data (typed arrays, strings, numbers): it can be posted to or from a worker.
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import type { CellConfig } from "../cells/types.js";
import type { LstmCache } from "../cells/lstm.js";
import type { GruCache } from "../cells/gru.js";
import { languageModelForward, type LanguageModelPass } from "../model/language-model.js";
import type { TrainedModel } from "../model/trained.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import { encodeText, tokenText, type Vocabulary } from "../text/vocab.js";

// Dimensions: T steps (known tokens of the text), H hidden, V vocabulary, L layers, k top-k.

/** A recorded quantity: the hidden state h, the LSTM cell state c and gates i, f, g, o, the GRU gates r, z, n. */
export type TraceQuantity = "h" | "c" | "i" | "f" | "g" | "o" | "r" | "z" | "n";

/** The quantities a trace of a model with this cell records, in this order. */
export function traceQuantities(cell: CellConfig): readonly TraceQuantity[] {
  switch (cell.kind) {
    case "lstm":
      return ["h", "c", "i", "f", "g", "o"];
    case "gru":
      return ["h", "r", "z", "n"];
    case "rnn":
      return ["h"];
  }
}

/** One of the most likely next tokens. */
export interface TokenPrediction {
  readonly id: number;
  /** the text the token would add after the current one */
  readonly token: string;
  readonly p: number;
}

/** What a trace recorded about one layer: (steps, H) per quantity of `TextTrace.quantities`. */
export type LayerTrace = Readonly<Partial<Record<TraceQuantity, FloatArray>>>;

/** Everything `traceText` recorded. Plain data. */
export interface TextTrace {
  readonly cell: CellConfig;
  readonly dtype: DType;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** the model's vocabulary (token ids index it) */
  readonly vocab: Vocabulary;
  /** number of steps T: the known tokens of the text */
  readonly steps: number;
  /** (T) the token id read at each step */
  readonly ids: Int32Array;
  /** (T) the text each step's token adds (a character, for a character model) */
  readonly tokens: readonly string[];
  /** symbols of the text not in the vocabulary: skipped (characters) or read as <unk> (words) */
  readonly unknown: number;
  /** the quantities recorded for every layer */
  readonly quantities: readonly TraceQuantity[];
  /** per layer, per quantity: (T, H), unit j at step t at index t·H + j */
  readonly layers: readonly LayerTrace[];
  /** k: predictions kept per step (min(topK, V)) */
  readonly topK: number;
  /** (T, k) the k most likely next tokens after each step, most likely first (ties: lower id) */
  readonly topIds: Int32Array;
  /** (T, k) their probabilities */
  readonly topProbs: Float64Array;
  /** (T) p(x_{t+1} | x_≤t), the probability the model gave the token that came next; null at the last step */
  readonly nextProb: readonly (number | null)[];
  /** (T) −log p(x_{t+1} | x_≤t) in nats (computed from the logits, never log 0); null at the last step */
  readonly nextLoss: readonly (number | null)[];
  /** mean of `nextLoss` in nats per predicted token, or null for a one-token text */
  readonly loss: number | null;
}

/** Options of `traceText`. */
export interface TraceOptions {
  /** A backend or its name; default "js" (plain TypeScript, deterministic everywhere). */
  readonly backend?: string | Backend;
  /** Next-token predictions kept per step; default 5. */
  readonly topK?: number;
}

/** The forward pass behind a trace, for `unrolledSteps`. */
export interface TracedPass {
  readonly trace: TextTrace;
  readonly pass: LanguageModelPass;
  readonly backend: Backend;
}

/** The backend an options object names (default "js"). */
export function inspectBackend(b: string | Backend | undefined): Backend {
  return typeof b === "object" ? b : getBackend(b ?? "js");
}

/** The token ids of `text` for `lm`, with clear errors for an empty text or one with no known symbol. */
export function encodeForTrace(lm: TrainedModel, text: string, what = "traceText"): { ids: Int32Array; unknown: number } {
  if (typeof text !== "string") throw new Error(`${what} needs a string, got ${typeof text}`);
  if (text.length === 0) throw new Error(`the text is empty; give ${what} at least one character to read`);
  const V = lm.model.config.vocabSize;
  if (lm.vocab.tokens.length !== V) throw new Error(`the vocabulary has ${lm.vocab.tokens.length} tokens but the model ${V}; they do not belong together`);
  const { ids, unknown } = encodeText(lm.vocab, text, true);
  if (ids.length === 0) {
    if (lm.vocab.kind === "word") throw new Error(`the text has no words for the model to read (it is ${text.length} characters of whitespace)`);
    const shown = lm.vocab.tokens.slice(0, 40).map((t) => JSON.stringify(t)).join(" ");
    throw new Error(
      `none of the characters of the text are in the model's vocabulary; all ${unknown} are unknown. ` +
        `The model knows ${V} symbols: ${shown}${V > 40 ? " …" : ""}`,
    );
  }
  return { ids, unknown };
}

/**
 * Runs `text` through the model from the zero state and records, per layer and step, h (and c and
 * the gates, see the module comment), and per step the top-k next-token predictions and the
 * probability of the token that actually came next. Symbols outside a character vocabulary are
 * skipped and counted in `unknown` (a word vocabulary reads them as <unk>, counted likewise).
 */
export function traceText(lm: TrainedModel, text: string, o: TraceOptions = {}): TextTrace {
  return tracePass(lm, text, o).trace;
}

/** `traceText`, keeping the forward pass (its caches feed `unrolledSteps`' backward pass). */
export function tracePass(lm: TrainedModel, text: string, o: TraceOptions = {}, what = "traceText"): TracedPass {
  const topK = o.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`topK must be a positive integer, got ${topK}`);
  const backend = inspectBackend(o.backend);
  const { ids, unknown } = encodeForTrace(lm, text, what);
  const model = lm.model;
  const c = model.config;
  const dtype = model.params.dtype;
  const T = ids.length;
  const H = c.hiddenSize;
  const V = c.vocabSize;
  const pass = languageModelForward(backend, model, ids, T, 1, null);

  const layers: LayerTrace[] = [];
  for (let l = 0; l < c.numLayers; l++) layers.push(layerTrace(c.cell, pass, l, T, H, dtype));

  const k = Math.min(topK, V);
  const topIds = new Int32Array(T * k);
  const topProbs = new Float64Array(T * k);
  const nextProb: (number | null)[] = new Array(T);
  const nextLoss: (number | null)[] = new Array(T);
  const p = new Float64Array(V); // one row's softmax, reused
  let total = 0;
  for (let t = 0; t < T; t++) {
    const z = pass.logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (z[v] > max) max = z[v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += p[v] = Math.exp(z[v] - max);
    for (let v = 0; v < V; v++) p[v] /= sum;
    topInto(p, k, topIds.subarray(t * k, (t + 1) * k), topProbs.subarray(t * k, (t + 1) * k));
    if (t + 1 < T) {
      const y = ids[t + 1];
      nextProb[t] = p[y];
      const nll = max + Math.log(sum) - z[y];
      nextLoss[t] = nll;
      total += nll;
    } else {
      nextProb[t] = null;
      nextLoss[t] = null;
    }
  }
  const tokens: string[] = new Array(T);
  for (let t = 0; t < T; t++) tokens[t] = tokenText(lm.vocab, ids[t], t === 0 ? null : ids[t - 1]);

  const trace: TextTrace = {
    cell: c.cell,
    dtype,
    numLayers: c.numLayers,
    hiddenSize: H,
    vocabSize: V,
    vocab: lm.vocab,
    steps: T,
    ids,
    tokens,
    unknown,
    quantities: traceQuantities(c.cell),
    layers,
    topK: k,
    topIds,
    topProbs,
    nextProb,
    nextLoss,
    loss: T > 1 ? total / (T - 1) : null,
  };
  return { trace, pass, backend };
}

/** The k largest entries of `p`, most likely first, ties to the lower index. */
function topInto(p: Float64Array, k: number, ids: Int32Array, probs: Float64Array): void {
  let n = 0;
  for (let v = 0; v < p.length; v++) {
    const pv = p[v];
    if (n === k && !(pv > probs[k - 1])) continue;
    let at = n < k ? n : k - 1; // slot freed for it (the last one drops out when full)
    while (at > 0 && pv > probs[at - 1]) {
      probs[at] = probs[at - 1];
      ids[at] = ids[at - 1];
      at--;
    }
    probs[at] = pv;
    ids[at] = v;
    if (n < k) n++;
  }
}

/** One layer's states and gates, copied out of the pass into (T, H) buffers. */
function layerTrace(cell: CellConfig, pass: LanguageModelPass, l: number, T: number, H: number, dtype: DType): LayerTrace {
  const run = pass.rnn.runs[l]; // one direction: runs[l]; B = 1, so row t of every (T, B, ·) buffer is step t
  const out: Partial<Record<TraceQuantity, FloatArray>> = { h: run.hs.slice(H, (T + 1) * H) };
  if (cell.kind === "rnn") return out;
  if (cell.kind === "lstm") out.c = run.cs.slice(H, (T + 1) * H);
  const blocks: readonly TraceQuantity[] = cell.kind === "gru" ? ["r", "z", "n"] : cell.coupled ? ["f", "g", "o"] : ["i", "f", "g", "o"];
  const gates = (run.cell as LstmCache | GruCache).gates;
  const G = blocks.length;
  blocks.forEach((q, b) => {
    const a = allocate(dtype, T * H);
    for (let t = 0; t < T; t++) a.set(gates.subarray((t * G + b) * H, (t * G + b + 1) * H), t * H);
    out[q] = a;
  });
  if (cell.kind === "lstm" && cell.coupled) {
    const f = out.f!;
    const i = allocate(dtype, T * H);
    for (let n = 0; n < i.length; n++) i[n] = 1 - f[n]; // the coupled gate, as the cell computes it
    out.i = i;
  }
  return out;
}

function checkLayer(trace: TextTrace, layer: number): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= trace.numLayers) {
    throw new Error(`layer ${layer} is not one of the model's layers 0…${trace.numLayers - 1}`);
  }
}

/** (T, H) the values of `quantity` in `layer`: unit j at step t at index t·H + j (a view, not a copy). */
export function traceValues(trace: TextTrace, layer: number, quantity: TraceQuantity): FloatArray {
  checkLayer(trace, layer);
  const a = trace.layers[layer][quantity];
  if (!a) throw new Error(`a ${trace.cell.kind} trace has no quantity "${quantity}"; it records ${trace.quantities.join(", ")}`);
  return a;
}

/** (T) the values of unit `unit` of `quantity` in `layer` over the steps (written into `out` when given). */
export function traceUnit(trace: TextTrace, layer: number, quantity: TraceQuantity, unit: number, out?: Float64Array): Float64Array {
  const a = traceValues(trace, layer, quantity);
  const H = trace.hiddenSize;
  if (!Number.isInteger(unit) || unit < 0 || unit >= H) throw new Error(`unit ${unit} is not one of the ${H} units 0…${H - 1}`);
  const T = trace.steps;
  const o = out ?? new Float64Array(T);
  if (o.length !== T) throw new Error(`out has ${o.length} values, not one per step (${T})`);
  for (let t = 0; t < T; t++) o[t] = a[t * H + unit];
  return o;
}

/** The top-k next-token predictions after step t, most likely first. */
export function tracePredictions(trace: TextTrace, t: number): TokenPrediction[] {
  if (!Number.isInteger(t) || t < 0 || t >= trace.steps) throw new Error(`step ${t} is not one of the trace's steps 0…${trace.steps - 1}`);
  const k = trace.topK;
  const out: TokenPrediction[] = [];
  for (let r = 0; r < k; r++) {
    const id = trace.topIds[t * k + r];
    out.push({ id, token: tokenText(trace.vocab, id, trace.ids[t]), p: trace.topProbs[t * k + r] });
  }
  return out;
}
