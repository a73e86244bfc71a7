/**
 * Conditional character language model (one-to-many): a language model whose recurrent state
 * starts from a learned vector of a label c (e.g. a name's gender or origin) instead of zeros,
 *
 *   P(w_1…w_m, ⏎ | c) = Π_{i=1…m+1} P(w_i | ⏎, w_<i, c),   w_{m+1} = ⏎ (the boundary token)
 *
 *   h0[l, b, :] = condition.h[c_b, l·H : (l+1)·H]     (and c0 from condition.c for an LSTM)
 *   e_t = embedding.weight[x_t]  (or one-hot x_t)                  (T, B, E)
 *   h   = unidirectional recurrent stack(e) from (h0, c0)           (T, B, H)
 *   z_t = h_t linear.weightᵀ + linear.bias                          (T, B, V)
 *   loss = mean_t,b cross-entropy(z_t, y_t)
 *
 * Everything after the initial state is exactly the language model of src/model/language-model.ts
 * (its forward pass runs here unchanged), and the parameter names are its names plus
 * `condition.h` (C, L·H) and, for cells with a cell state, `condition.c` (C, L·H), so a language
 * model checkpoint's tensors line up with this model's.
 *
 * A name "anna" is the input [⏎, a, n, n, a] with targets [a, n, n, a, ⏎]: the boundary token both
 * starts and ends every sequence. The gradient of an initial-state row is the sum of dL/dh0 over
 * the batch's sequences of that condition (dh0 from the recurrent stack's backward pass).
 *
 * Classifying a sequence by the condition that makes it likeliest is Bayes' rule with the
 * sequence log-probability under each condition: P(c | w) ∝ P(c) P(w, ⏎ | c).
 */
import type { Backend } from "../backend/backend.js";
import { createCell } from "../cells/index.js";
import { checkTokenIds, embeddingBackward } from "../layers/embedding.js";
import { linearBackward } from "../layers/linear.js";
import { checkSampleOptions, pickToken } from "../generate/sample.js";
import {
  bindLanguageModel,
  inputWidth,
  languageModelForward,
  languageModelInputProjections,
  languageModelLoss,
  languageModelSpecs,
  type LanguageModel,
  type LanguageModelConfig,
  type LanguageModelPass,
  type RecurrentState,
} from "../model/language-model.js";
import { recurrentBackward } from "../sequence/recurrent.js";
import { createArena, view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { Workspace } from "../tensor/workspace.js";
import { normal, pytorchRnnUniform } from "../train/init.js";

// Dimensions: T steps, B batch, V vocabulary, E embedding (V when one-hot), H hidden, L layers,
// C conditions.

/** A language model config plus its conditions and the boundary token. */
export interface ConditionalConfig extends LanguageModelConfig {
  /** Number of conditions (labels) C, each with its own initial state. */
  readonly numConditions: number;
  /** The token id that starts and ends every sequence (e.g. the id of "\n"). */
  readonly boundary: number;
}

/** A conditional language model: its config and one arena of named parameters. */
export interface ConditionalModel {
  readonly kind: "conditional";
  readonly config: ConditionalConfig;
  readonly params: Arena;
}

/** Whether the cell carries a cell state (then the model has `condition.c`). */
function hasCellState(c: ConditionalConfig): boolean {
  return createCell(c.cell).hasC;
}

/** Checks a config once, at creation. */
export function validateConditionalConfig(c: ConditionalConfig): void {
  if (!Number.isInteger(c.numConditions) || c.numConditions < 1) throw new Error(`numConditions must be a positive integer, got ${c.numConditions}`);
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 2) throw new Error(`vocabSize must count the boundary token and at least one other token, got ${c.vocabSize}`);
  if (!Number.isInteger(c.boundary) || c.boundary < 0 || c.boundary >= c.vocabSize) {
    throw new Error(`boundary must be a token id in 0…${c.vocabSize - 1} (e.g. the id of "\\n"), got ${c.boundary}`);
  }
}

/** The parameter tensors: the language model's, then `condition.h` and `condition.c` (C, L·H). */
export function conditionalSpecs(c: ConditionalConfig): TensorSpec[] {
  validateConditionalConfig(c);
  const specs = languageModelSpecs(c); // validates the rest (sizes, layers, dropout)
  const state = [c.numConditions, c.numLayers * c.hiddenSize];
  specs.push({ name: "condition.h", shape: state });
  if (hasCellState(c)) specs.push({ name: "condition.c", shape: state });
  return specs;
}

/** A model with all parameters zero (initialise with `initConditional`, or load weights). */
export function createConditional(config: ConditionalConfig, dtype: DType = "float32"): ConditionalModel {
  return { kind: "conditional", config, params: createArena(dtype, conditionalSpecs(config)) };
}

/**
 * The model seen as a `LanguageModel` over the same arena (its extra tensors are ignored there).
 * The config object itself is passed on, so language-model.ts binds its views once per arena.
 */
function asLanguageModel(model: ConditionalModel): LanguageModel {
  return { kind: "language-model", config: model.config, params: model.params };
}

/**
 * PyTorch's defaults, in the arena's tensor order: `embedding.weight` ~ N(0, 1); every recurrent
 * weight and bias, the output layer (U(±1/√fan_in), fan_in = H) and the initial states
 * `condition.h`, `condition.c` ~ U(±1/√H). (Zero initial states would make every condition start
 * equal, and their gradients equal, until the sequences drive them apart; small uniform ones,
 * on the recurrent weights' scale, break the symmetry.) `forgetBias` (default 1 for an LSTM) is
 * added to the forget-gate rows of every b_ih.
 */
export function initConditional(model: ConditionalModel, rng: Rng, opts: { forgetBias?: number } = {}): void {
  const c = model.config;
  const H = c.hiddenSize;
  for (const spec of model.params.specs) {
    const w = view(model.params, spec.name);
    if (spec.name === "embedding.weight") normal(w, 0, 1, rng);
    else pytorchRnnUniform(w, H, rng);
  }
  const forgetBias = opts.forgetBias ?? (c.cell.kind === "lstm" ? 1 : 0);
  if (forgetBias !== 0 && c.cell.kind === "lstm") {
    const F = c.cell.coupled ? 0 : 1; // row block of f
    for (const d of bindLanguageModel(c, model.params).rnn.dirs) for (let j = 0; j < H; j++) d.bih[F * H + j] += forgetBias;
  }
}

/** A training batch: B sequences of one length T, time-major. */
export interface ConditionalBatch {
  /** (T·B) time-major inputs, index t·B + b: the boundary token, then the sequence without its last token */
  readonly tokens: Int32Array;
  /** (T·B) time-major targets: the sequence, then the boundary token */
  readonly targets: Int32Array;
  readonly T: number;
  readonly B: number;
  /** (B) the condition of each sequence */
  readonly conditions: Int32Array;
}

/**
 * The batch of `sequences` (token ids without the boundary, all of one length m ≥ 0) and their
 * `conditions`: T = m + 1 steps, inputs [⏎, w_1 … w_m], targets [w_1 … w_m, ⏎].
 */
export function conditionalBatch(config: ConditionalConfig, sequences: readonly ArrayLike<number>[], conditions: ArrayLike<number>): ConditionalBatch {
  const B = sequences.length;
  if (B === 0) throw new Error("conditionalBatch: no sequences; a batch needs at least one");
  if (conditions.length !== B) throw new Error(`conditionalBatch: ${conditions.length} conditions for ${B} sequences; give one per sequence`);
  const m = sequences[0].length;
  const T = m + 1;
  const tokens = new Int32Array(T * B);
  const targets = new Int32Array(T * B);
  for (let b = 0; b < B; b++) {
    const s = sequences[b];
    if (s.length !== m) throw new Error(`conditionalBatch: sequence ${b} has ${s.length} tokens but sequence 0 has ${m}; group sequences by length first`);
    checkSequence(config, s, `sequence ${b}`);
    tokens[b] = config.boundary;
    for (let t = 0; t < m; t++) {
      tokens[(t + 1) * B + b] = s[t];
      targets[t * B + b] = s[t];
    }
    targets[m * B + b] = config.boundary;
  }
  return { tokens, targets, T, B, conditions: Int32Array.from(conditions) };
}

/** Throws unless `ids` are token ids other than the boundary. */
function checkSequence(c: ConditionalConfig, ids: ArrayLike<number>, what: string): void {
  checkTokenIds(ids, c.vocabSize, `${what}: token id`);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === c.boundary) throw new Error(`${what} holds the boundary token ${c.boundary} at position ${i}; a sequence must not contain it (it is added at both ends)`);
  }
}

function checkConditions(c: ConditionalConfig, conditions: ArrayLike<number>): void {
  for (let b = 0; b < conditions.length; b++) {
    const k = conditions[b];
    if (!Number.isInteger(k) || k < 0 || k >= c.numConditions) {
      throw new Error(`condition ${k} of sequence ${b} is out of range: the model has ${c.numConditions} conditions (0…${c.numConditions - 1})`);
    }
  }
}

function checkBatch(c: ConditionalConfig, batch: ConditionalBatch): void {
  const { T, B } = batch;
  if (!Number.isInteger(T) || T < 1) throw new Error(`conditional batch: T must be a positive integer, got ${T}`);
  if (!Number.isInteger(B) || B < 1) throw new Error(`conditional batch: B must be a positive integer, got ${B}`);
  if (batch.tokens.length !== T * B) throw new Error(`conditional batch: tokens has ${batch.tokens.length} ids, expected T·B = ${T}·${B}`);
  if (batch.targets.length !== T * B) throw new Error(`conditional batch: targets has ${batch.targets.length} ids, expected T·B = ${T}·${B}`);
  if (batch.conditions.length !== B) throw new Error(`conditional batch: ${batch.conditions.length} conditions for B = ${B} sequences`);
  checkTokenIds(batch.tokens, c.vocabSize, "input token id");
  checkTokenIds(batch.targets, c.vocabSize, "target token id");
  checkConditions(c, batch.conditions);
}

/**
 * The initial states of sequences with `conditions` (B): h (L, B, H) with
 * h[l, b, :] = condition.h[c_b, l·H : (l+1)·H], and c likewise from condition.c (null for cells
 * without a cell state). Fresh buffers of the model's dtype.
 */
export function conditionalStates(model: ConditionalModel, conditions: Int32Array): RecurrentState {
  const c = model.config;
  checkConditions(c, conditions);
  const gather = (table: FloatArray) => {
    const { numLayers: L, hiddenSize: H } = c;
    const B = conditions.length;
    const s = allocate(model.params.dtype, L * B * H); // (L, B, H)
    for (let b = 0; b < B; b++) {
      const row = conditions[b] * L * H;
      for (let l = 0; l < L; l++) s.set(table.subarray(row + l * H, row + (l + 1) * H), (l * B + b) * H);
    }
    return s;
  };
  return {
    h: gather(view(model.params, "condition.h")),
    c: hasCellState(c) ? gather(view(model.params, "condition.c")) : null,
  };
}

/** condition table (C, L·H) rows += the (L, B, H) state gradient `ds` of sequences with `conditions`. */
function scatterStateGrad(c: ConditionalConfig, ds: FloatArray, conditions: Int32Array, dtable: FloatArray): void {
  const { numLayers: L, hiddenSize: H } = c;
  const B = conditions.length;
  for (let b = 0; b < B; b++) {
    const row = conditions[b] * L * H;
    for (let l = 0; l < L; l++) {
      const from = (l * B + b) * H;
      for (let j = 0; j < H; j++) dtable[row + l * H + j] += ds[from + j];
    }
  }
}

/** Options of `conditionalLoss`. */
export interface ConditionalLossOptions {
  /** Applies dropout between recurrent layers (needs `rng`). */
  readonly training?: boolean;
  readonly rng?: Rng;
}

/**
 * Mean cross-entropy over the batch's T·B target tokens (`count` = T·B); with `grads` (a
 * mirrorArena of the parameters), the backward pass adds every parameter's gradient into it,
 * `condition.h` and `condition.c` included.
 */
export function conditionalLoss(
  backend: Backend,
  model: ConditionalModel,
  batch: ConditionalBatch,
  grads: Arena | null,
  opts: ConditionalLossOptions = {},
): { loss: number; count: number } {
  const c = model.config;
  checkBatch(c, batch);
  if (grads && grads.data.length !== model.params.data.length) {
    throw new Error(`gradient arena has ${grads.data.length} values but the model ${model.params.data.length}; make it with mirrorArena(model.params)`);
  }
  const { T, B } = batch;
  const N = T * B;
  const dtype = model.params.dtype;
  const lm = asLanguageModel(model);
  const state = conditionalStates(model, batch.conditions);
  const pass = languageModelForward(backend, lm, batch.tokens, T, B, state, { training: opts.training, rng: opts.rng });
  const dlogits = grads ? allocate(dtype, N * c.vocabSize) : null;
  const loss = languageModelLoss(lm, pass, batch.targets, dlogits);
  if (grads && dlogits) backward(backend, model, grads, pass, dlogits, batch.conditions);
  return { loss, count: N };
}

/**
 * languageModelBackward, keeping dL/dh0 and dL/dc0 (which it drops) to scatter them into the
 * condition rows.
 */
function backward(backend: Backend, model: ConditionalModel, grads: Arena, pass: LanguageModelPass, dlogits: FloatArray, conditions: Int32Array): void {
  const c = model.config;
  const dtype = model.params.dtype;
  const v = bindLanguageModel(c, model.params);
  const g = bindLanguageModel(c, grads);
  const N = pass.T * pass.B;
  const dy = pass.rnn.alloc(dtype, N * c.hiddenSize); // (T, B, H)
  linearBackward(backend, v.W, pass.rnn.y, dlogits, N, c.hiddenSize, c.vocabSize, g.W, g.b, dy);
  const { dx, dh0, dc0 } = recurrentBackward(backend, v.rnn, g.rnn, dtype, pass.rnn, dy, null, null, g.embedding !== null);
  if (g.embedding) {
    if (pass.e) embeddingBackward(dx, pass.tokens, inputWidth(c), g.embedding);
    else for (let i = 0; i < dx.length; i++) g.embedding[i] += dx[i]; // token input: dx is dL/d(embedding table) already
  }
  scatterStateGrad(c, dh0, conditions, view(grads, "condition.h"));
  if (hasCellState(c)) scatterStateGrad(c, dc0, conditions, view(grads, "condition.c"));
}

/** Options of `conditionalSample`. */
export interface ConditionalSampleOptions {
  /** Most tokens drawn after the prime (the boundary that ends a sequence is not counted). */
  readonly maxLength: number;
  /** Softmax temperature (> 0); default 1. */
  readonly temperature?: number;
  /** Draw only among the k most likely tokens. */
  readonly topK?: number;
  /** Nucleus sampling: the smallest set of most likely tokens with total probability ≥ p. */
  readonly topP?: number;
  /** Always take the most likely token. */
  readonly argmax?: boolean;
  /** Tokens fed after the boundary before drawing (the beginning of the sequence); no boundary inside. */
  readonly prime?: Int32Array;
}

/**
 * Draws one sequence for `condition`: from the condition's state, feeds the boundary token (and
 * `prime`), then draws a token at a time (src/generate/sample.ts's `pickToken`: temperature, top-k,
 * top-p, one `rng.uniform()`) until the boundary token is drawn or `maxLength` tokens were drawn.
 * Returns the prime followed by the drawn tokens, without the boundary.
 */
export function conditionalSample(backend: Backend, model: ConditionalModel, condition: number, rng: Rng, opts: ConditionalSampleOptions): Int32Array {
  const c = model.config;
  const V = c.vocabSize;
  const prime = opts.prime ?? new Int32Array(0);
  checkSampleOptions({ ...opts, length: opts.maxLength, rng }, V);
  checkSequence(c, prime, "prime");
  const lm = asLanguageModel(model);
  const input = new Int32Array(prime.length + 1);
  input[0] = c.boundary;
  input.set(prime, 1);
  const first = languageModelForward(backend, lm, input, input.length, 1, conditionalStates(model, Int32Array.of(condition)));
  let state = first.state;
  let z: FloatArray = first.logits.subarray(prime.length * V);
  const out: number[] = Array.from(prime);
  const token = new Int32Array(1);
  let inputProjections: FloatArray[] | undefined;
  const workspace = new Workspace(); // z is read before the next step reuses its buffer
  for (let n = 0; n < opts.maxLength; n++) {
    token[0] = pickToken(z, { ...opts, rng });
    if (token[0] === c.boundary) break;
    out.push(token[0]);
    if (n + 1 === opts.maxLength) break;
    inputProjections ??= languageModelInputProjections(backend, lm);
    workspace.reset();
    const pass = languageModelForward(backend, lm, token, 1, 1, state, { inputProjections, workspace });
    state = pass.state;
    z = pass.logits;
  }
  return Int32Array.from(out);
}

/**
 * log P(ids, ⏎ | c_b) for each condition c_b of `conditions` (B): the one sequence `ids` (without
 * the boundary) scored as B copies in one batch.
 */
function sequenceLogProbs(backend: Backend, model: ConditionalModel, conditions: Int32Array, ids: ArrayLike<number>): Float64Array {
  const c = model.config;
  checkSequence(c, ids, "sequence");
  const B = conditions.length;
  const V = c.vocabSize;
  const batch = conditionalBatch(c, Array.from({ length: B }, () => ids), conditions);
  const pass = languageModelForward(backend, asLanguageModel(model), batch.tokens, batch.T, B, conditionalStates(model, conditions));
  const logp = new Float64Array(B);
  for (let t = 0; t < batch.T; t++) {
    for (let b = 0; b < B; b++) {
      const row = (t * B + b) * V;
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, pass.logits[row + j]);
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(pass.logits[row + j] - max);
      logp[b] += pass.logits[row + batch.targets[t * B + b]] - max - Math.log(sum); // log-softmax at the target
    }
  }
  return logp;
}

/**
 * log P(ids, ⏎ | condition) = Σ_t log P(y_t | ⏎, y_<t, condition): the sum of the log-probabilities
 * of every token of `ids` (without the boundary) and of the final boundary token.
 */
export function conditionalLogProb(backend: Backend, model: ConditionalModel, condition: number, ids: ArrayLike<number>): number {
  return sequenceLogProbs(backend, model, Int32Array.of(condition), ids)[0];
}

/**
 * P(c | ids) for every condition c (C), by Bayes' rule from the sequence log-probabilities under
 * each condition and `prior` (C; default uniform): classifies a sequence by the condition that
 * makes it likeliest.
 */
export function conditionalPredict(backend: Backend, model: ConditionalModel, ids: ArrayLike<number>, prior?: ArrayLike<number>): Float64Array {
  const C = model.config.numConditions;
  if (prior !== undefined && prior.length !== C) throw new Error(`prior has ${prior.length} entries; give one per condition (${C})`);
  const all = Int32Array.from({ length: C }, (_, k) => k);
  const score = sequenceLogProbs(backend, model, all, ids);
  if (prior) {
    for (let k = 0; k < C; k++) {
      if (!(prior[k] >= 0)) throw new Error(`prior[${k}] must be a probability ≥ 0, got ${prior[k]}`);
      score[k] += Math.log(prior[k]);
    }
  }
  let max = -Infinity;
  for (let k = 0; k < C; k++) max = Math.max(max, score[k]);
  if (max === -Infinity) throw new Error("the prior gives probability 0 to every condition that can produce this sequence; give some a positive prior");
  let sum = 0;
  for (let k = 0; k < C; k++) sum += score[k] = Math.exp(score[k] - max);
  for (let k = 0; k < C; k++) score[k] /= sum;
  return score;
}
