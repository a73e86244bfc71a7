/**
 * Text generation from a language model, one token at a time with the recurrent state carried:
 * O(1) work per generated token, never re-feeding a window (char-rnn's `sample.lua`).
 */
import type { Backend } from "../backend/backend.js";
import { checkTokenIds } from "../layers/embedding.js";
import { softmaxRows } from "../layers/softmax-cross-entropy.js";
import { languageModelForward, languageModelInputProjections, type LanguageModel, type RecurrentState } from "../model/language-model.js";
import type { FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { Workspace } from "../tensor/workspace.js";
import { createQuantizedState, parseWeightFormat, quantizedKernelsFor, quantizedStep, quantizedStepPicking, quantizeLanguageModel, type QuantizedKernels, type QuantizedLanguageModel, type WeightFormat } from "./quantized.js";

// Dimensions: V vocabulary.

/** How to pick each next token. */
export interface SampleOptions {
  /** Number of tokens to generate. */
  readonly length: number;
  /** Softmax temperature (> 0); lower is more conservative. Default 1. */
  readonly temperature?: number;
  /** Sample only among the k most likely tokens. */
  readonly topK?: number;
  /** Nucleus sampling: the smallest set of most likely tokens with total probability ≥ p. */
  readonly topP?: number;
  /** Always take the most likely token (greedy decoding). */
  readonly argmax?: boolean;
  /** Token ids fed first to set the state; without them the first token is drawn uniformly. */
  readonly prime?: Int32Array;
  readonly rng: Rng;
  /**
   * "int8" or "bf16": step with compact weight matrices (quantized.ts: int8 with per-row scales,
   * or bfloat16), made when the generator starts; or the model's `quantizeLanguageModel` result
   * itself, so that several samples share one. Default "float32".
   */
  readonly weights?: WeightFormat | QuantizedLanguageModel;
}

/** Validates sampling options once. */
export function checkSampleOptions(o: SampleOptions, V: number): void {
  if (!Number.isInteger(o.length) || o.length < 0) throw new Error(`length must be a non-negative integer, got ${o.length}`);
  if (o.temperature !== undefined && !(o.temperature > 0)) throw new Error(`temperature must be > 0 (use argmax for greedy decoding), got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) throw new Error(`top-k must be a positive integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${o.topP}`);
  if (o.prime) checkTokenIds(o.prime, V, "prime token id");
  if (o.weights !== undefined && typeof o.weights !== "object") parseWeightFormat(o.weights);
}

/** The index of the largest entry (the first one on ties). */
export function argmaxOf(p: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < p.length; v++) if (p[v] > p[best]) best = v;
  return best;
}

/**
 * Picks a token from logits `z` (V), modified in place: temperature, then top-k and top-p
 * filtering, then one draw from `rng`.
 */
export function pickToken(z: FloatArray, o: Omit<SampleOptions, "length" | "prime">): number {
  return o.argmax ? argmaxOf(z) : drawToken(z, o, o.rng.uniform());
}

/** pickToken's draw (not argmax) with the uniform number `u` ∈ [0, 1) taken from `o.rng` already. */
function drawToken(z: FloatArray, o: Omit<SampleOptions, "length" | "prime">, u: number): number {
  const V = z.length;
  softmaxRows(z, 1, V, o.temperature ?? 1);
  if (o.topK !== undefined || o.topP !== undefined) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => z[b] - z[a] || a - b);
    let keep = Math.min(o.topK ?? V, V);
    if (o.topP !== undefined) {
      let mass = 0;
      for (let r = 0; r < keep; r++) {
        mass += z[order[r]];
        if (mass >= o.topP) {
          keep = r + 1;
          break;
        }
      }
    }
    for (let r = keep; r < V; r++) z[order[r]] = 0;
  }
  let total = 0;
  for (let v = 0; v < V; v++) total += z[v];
  let left = u * total;
  for (let v = 0; v < V; v++) {
    left -= z[v];
    if (left < 0) return v;
  }
  return argmaxOf(z); // rounding left something over: take the most likely kept token
}

/**
 * Generates `opts.length` token ids, yielding each as soon as it is chosen. The first layer's
 * projection of every token is computed once, when the first token after the prime is needed, so
 * the model's weights must not change while the generator runs.
 */
export function* sampleTokens(backend: Backend, model: LanguageModel, opts: SampleOptions): Generator<number, void, undefined> {
  const V = model.config.vocabSize;
  checkSampleOptions(opts, V);
  if (opts.weights === "int8" || opts.weights === "bf16" || typeof opts.weights === "object") {
    const qm = typeof opts.weights === "object" ? opts.weights : quantizeLanguageModel(model, opts.weights);
    yield* sampleTokensQuantized(qm, quantizedKernelsFor(backend.name), opts);
    return;
  }
  let state: RecurrentState | null = null;
  let z: FloatArray;
  if (opts.prime && opts.prime.length > 0) {
    const pass = languageModelForward(backend, model, opts.prime, opts.prime.length, 1, null);
    state = pass.state;
    z = pass.logits.subarray((opts.prime.length - 1) * V);
  } else {
    z = model.params.data.constructor === Float64Array ? new Float64Array(V) : new Float32Array(V); // uniform
  }
  const token = new Int32Array(1);
  let inputProjections: FloatArray[] | undefined;
  const workspace = new Workspace(); // z is read before the next step reuses its buffer
  for (let n = 0; n < opts.length; n++) {
    token[0] = pickToken(z, opts);
    yield token[0];
    if (n + 1 === opts.length) break;
    inputProjections ??= languageModelInputProjections(backend, model);
    workspace.reset();
    const pass = languageModelForward(backend, model, token, 1, 1, state, { inputProjections, workspace });
    state = pass.state;
    z = pass.logits;
  }
}

/**
 * `sampleTokens` with int8 or bf16 weights: every token (prime included) stepped by `quantizedStep` with
 * `kernels` (`quantizedKernelsFor(backend.name)`: the native C kernel, or the TypeScript one). The
 * same draws from `opts.rng` as the float32 path, so a seed gives the same tokens wherever the
 * two models' probabilities agree closely enough.
 */
export function* sampleTokensQuantized(qm: QuantizedLanguageModel, kernels: QuantizedKernels, opts: SampleOptions): Generator<number, void, undefined> {
  const V = qm.config.vocabSize;
  checkSampleOptions(opts, V);
  const state = createQuantizedState(qm);
  let z: Float32Array = new Float32Array(V); // uniform
  if (opts.prime) for (const t of opts.prime) z = quantizedStep(qm, t, state, kernels);
  // argmax or plain multinomial sampling: the kernels may choose each next token with the step (the same draws)
  const plain = opts.argmax === true || (opts.topK === undefined && opts.topP === undefined);
  let token = pickToken(z, opts);
  for (let n = 0; n < opts.length; n++) {
    yield token;
    if (n + 1 === opts.length) break;
    if (!plain) {
      token = pickToken(quantizedStep(qm, token, state, kernels), opts);
      continue;
    }
    const u = opts.argmax ? -1 : opts.rng.uniform();
    const next = quantizedStepPicking(qm, token, state, kernels, u, opts.temperature ?? 1);
    token = next >= 0 ? next : u < 0 ? argmaxOf(state.logits) : drawToken(state.logits, opts, u);
  }
}
