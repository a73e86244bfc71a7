/**
 * Sequence tagger (many-to-many, aligned): one tag per input token, from the recurrent encoder's
 * output at that step,
 *
 *   e   = embedding.weight[x]  (or one-hot x when embedSize = 0)       (T, B, E)
 *   y   = recurrent stack(e), D directions of H units, [fwd, rev]      (T, B, D·H)
 *   ỹ   = y ⊙ m / (1 − q),  m_i ~ Bernoulli(1 − q), only when training  (inverted dropout, q = dropout)
 *   z   = ỹ linear.weightᵀ + linear.bias, every step                    (T, B, K)
 *   loss = (1 / T·B) Σ_{t,b} CE(z_{t,b}, tag_{t,b})
 *
 * A bidirectional encoder sees the whole sequence at every step (tags that depend on what comes
 * next); a unidirectional one only the prefix. Every sequence of a batch has the same length T,
 * so no masking. Parameter names as a PyTorch module with submodules `embedding`, `encoder`
 * (an `nn.LSTM`/`nn.GRU`/`nn.RNN`) and `linear`.
 */
import type { Backend } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { checkTokenIds, embeddingBackward, embeddingForward, oneHot } from "../layers/embedding.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { softmaxCrossEntropy } from "../layers/softmax-cross-entropy.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, type Recurrent, type RecurrentConfig } from "../sequence/recurrent.js";
import { createArena, view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { normal, pytorchRnnUniform, uniform } from "../train/init.js";

// Dimensions: T steps, B sequences, N = T·B tokens, V vocabulary, E embedding (V when one-hot),
// H hidden units per direction, D directions, F = D·H features, K tags.

export interface TaggerConfig {
  readonly vocabSize: number;
  /** Embedding size; 0 feeds one-hot vectors (size V) instead. */
  readonly embedSize: number;
  readonly cell: CellConfig;
  /** Units per direction. */
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Dropout between recurrent layers and on the encoder's outputs, while training. */
  readonly dropout: number;
  readonly numTags: number;
}

/** A sequence tagger: its config and one arena of named parameters. */
export interface TaggerModel {
  readonly kind: "tagger";
  readonly config: TaggerConfig;
  readonly params: Arena;
}

/** Checks a config; throws naming the field to fix. */
export function validateTaggerConfig(c: TaggerConfig): void {
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new Error(`vocabSize must be a positive integer, got ${c.vocabSize}`);
  if (!Number.isInteger(c.embedSize) || c.embedSize < 0) throw new Error(`embedSize must be 0 (one-hot) or a positive integer, got ${c.embedSize}`);
  if (!Number.isInteger(c.numTags) || c.numTags < 2) throw new Error(`numTags must be an integer ≥ 2, got ${c.numTags}`);
  if (typeof c.bidirectional !== "boolean") throw new Error(`bidirectional must be true or false, got ${String(c.bidirectional)}`);
  // hiddenSize, numLayers, dropout: checked with the recurrent stack's specs
}

function encoderConfig(c: TaggerConfig): RecurrentConfig {
  return {
    cell: c.cell,
    inputSize: c.embedSize > 0 ? c.embedSize : c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    dropout: c.dropout,
  };
}

/** Encoder output width D·H: the linear layer's fan-in. */
function featureSize(c: TaggerConfig): number {
  return (c.bidirectional ? 2 : 1) * c.hiddenSize;
}

/** The parameter tensors: `embedding.weight` (V, E) unless one-hot, `encoder.*`, `linear.weight` (K, D·H), `linear.bias` (K). */
export function taggerSpecs(c: TaggerConfig): TensorSpec[] {
  validateTaggerConfig(c);
  return [
    ...(c.embedSize > 0 ? [{ name: "embedding.weight", shape: [c.vocabSize, c.embedSize] }] : []),
    ...recurrentSpecs(encoderConfig(c), "encoder."),
    { name: "linear.weight", shape: [c.numTags, featureSize(c)] },
    { name: "linear.bias", shape: [c.numTags] },
  ];
}

/** A tagger with all parameters zero (initialise with `initTagger`, or load weights). */
export function createTagger(config: TaggerConfig, dtype: DType = "float32"): TaggerModel {
  return { kind: "tagger", config, params: createArena(dtype, taggerSpecs(config)) };
}

interface Views {
  /** (V, E), or null when one-hot */ readonly embedding: FloatArray | null;
  readonly encoder: Recurrent;
  /** (K, D·H) */ readonly W: FloatArray;
  /** (K) */ readonly b: FloatArray;
}

function bind(c: TaggerConfig, arena: Arena): Views {
  return {
    embedding: c.embedSize > 0 ? view(arena, "embedding.weight") : null,
    encoder: bindRecurrent(encoderConfig(c), arena, "encoder."),
    W: view(arena, "linear.weight"),
    b: view(arena, "linear.bias"),
  };
}

/**
 * PyTorch's defaults, in the arena's tensor order: embedding N(0, 1), recurrent tensors U(±1/√H),
 * linear U(±1/√(D·H)); `forgetBias` (default 1 for an LSTM) added to the forget-gate rows of every b_ih.
 */
export function initTagger(model: TaggerModel, rng: Rng, opts: { forgetBias?: number } = {}): void {
  const c = model.config;
  const k = 1 / Math.sqrt(featureSize(c));
  for (const spec of model.params.specs) {
    const w = view(model.params, spec.name);
    if (spec.name === "embedding.weight") normal(w, 0, 1, rng);
    else if (spec.name.startsWith("linear.")) uniform(w, -k, k, rng);
    else pytorchRnnUniform(w, c.hiddenSize, rng);
  }
  const forgetBias = opts.forgetBias ?? (c.cell.kind === "lstm" ? 1 : 0);
  if (forgetBias !== 0 && c.cell.kind === "lstm") {
    const F = c.cell.coupled ? 0 : 1; // row block of f
    const H = c.hiddenSize;
    for (const d of bind(c, model.params).encoder.dirs) for (let j = 0; j < H; j++) d.bih[F * H + j] += forgetBias;
  }
}

/** A training batch: B sequences of one length T, a tag per token. */
export interface TaggerBatch {
  /** (T·B) time-major token ids, index t·B + b */
  readonly tokens: Int32Array;
  readonly T: number;
  readonly B: number;
  /** (T·B) time-major tags, aligned with `tokens` (any value at padded positions) */
  readonly tags: Int32Array;
  /** (B) the length of each right-padded sequence (1…T); absent: every sequence is T tokens */
  readonly lengths?: Int32Array;
}

/** Options of `taggerLoss`. */
export interface TaggerLossOptions {
  /** Applies dropout (needs `rng`). */
  readonly training?: boolean;
  readonly rng?: Rng;
}

function checkInput(c: TaggerConfig, tokens: Int32Array, T: number, B: number): void {
  if (!Number.isInteger(T) || T < 1) throw new Error(`tagger: sequence length T must be a positive integer, got ${T}`);
  if (!Number.isInteger(B) || B < 1) throw new Error(`tagger: batch size B must be a positive integer, got ${B}`);
  if (tokens.length !== T * B) throw new Error(`tagger: tokens has ${tokens.length} ids, expected T·B = ${T}·${B} (time-major, index t·B + b)`);
  checkTokenIds(tokens, c.vocabSize);
}

/** The forward pass, kept for the backward pass. */
interface Pass {
  readonly enc: ReturnType<typeof recurrentForward>;
  /** (T, B, D·H) dropout multipliers (0 or 1/(1−q)), or null */
  readonly mask: FloatArray | null;
  /** (T, B, D·H) the linear layer's input */
  readonly feat: FloatArray;
  /** (T, B, K) */
  readonly logits: FloatArray;
}

function forward(backend: Backend, model: TaggerModel, v: Views, tokens: Int32Array, T: number, B: number, training: boolean, rng: Rng | undefined, lengths?: Int32Array): Pass {
  const c = model.config;
  const dtype = model.params.dtype;
  const E = v.encoder.config.inputSize;
  const F = featureSize(c);
  const K = c.numTags;
  const N = T * B;
  const x = allocate(dtype, N * E);
  if (v.embedding) embeddingForward(v.embedding, tokens, E, x);
  else oneHot(tokens, c.vocabSize, x);
  const enc = recurrentForward(backend, v.encoder, dtype, x, T, B, null, null, { training, rng, ...(lengths ? { lengths } : {}) });
  let mask: FloatArray | null = null;
  let feat = enc.y;
  if (training && c.dropout > 0) {
    if (!rng) throw new Error("dropout while training needs a random generator (opts.rng)");
    mask = allocate(dtype, N * F);
    feat = allocate(dtype, N * F);
    const keep = 1 / (1 - c.dropout);
    for (let i = 0; i < N * F; i++) {
      mask[i] = rng.uniform() < c.dropout ? 0 : keep;
      feat[i] = enc.y[i] * mask[i];
    }
  }
  const logits = allocate(dtype, N * K);
  linearForward(backend, v.W, v.b, feat, N, F, K, logits); // one row per (t, b)
  return { enc, mask, feat, logits };
}

/**
 * The mean cross-entropy over the batch's tokens (Σ len_b of them in a padded batch: padded
 * positions count for nothing); with `grads` (a mirrorArena of the parameters), the backward pass
 * adds every parameter's gradient into it.
 */
export function taggerLoss(backend: Backend, model: TaggerModel, batch: TaggerBatch, grads: Arena | null, opts: TaggerLossOptions = {}): { loss: number; count: number } {
  const c = model.config;
  const { tokens, T, B, lengths } = batch;
  checkInput(c, tokens, T, B);
  const N = T * B;
  const K = c.numTags;
  if (batch.tags.length !== N) throw new Error(`tagger: tags has ${batch.tags.length} ids, expected T·B = ${T}·${B}, aligned with tokens`);
  if (lengths && !(lengths instanceof Int32Array && lengths.length === B)) throw new Error(`tagger: lengths must be an Int32Array of B = ${B} sequence lengths`);
  const IGNORE = -100;
  const tags = lengths ? Int32Array.from(batch.tags, (tag, n) => (Math.floor(n / B) >= lengths[n % B] ? IGNORE : tag)) : batch.tags;
  for (let n = 0; n < N; n++) {
    if (tags[n] === IGNORE && lengths) continue;
    if (!(tags[n] >= 0 && tags[n] < K)) throw new Error(`tagger: tag ${tags[n]} at position ${n} is out of range: there are ${K} tags (0…${K - 1})`);
  }
  const dtype = model.params.dtype;
  const v = bind(c, model.params);
  const F = featureSize(c);
  const pass = forward(backend, model, v, tokens, T, B, opts.training ?? false, opts.rng, lengths);
  const dlogits = grads ? allocate(dtype, N * K) : null;
  const loss = softmaxCrossEntropy(pass.logits, tags, N, K, dlogits, IGNORE);
  const count = lengths ? lengths.reduce((a, n) => a + n, 0) : N;
  if (!grads || !dlogits) return { loss, count };

  const g = bind(c, grads);
  const dy = allocate(dtype, N * F);
  linearBackward(backend, v.W, pass.feat, dlogits, N, F, K, g.W, g.b, dy);
  if (pass.mask) for (let i = 0; i < dy.length; i++) dy[i] *= pass.mask[i]; // ỹ = y ⊙ mask
  const { dx } = recurrentBackward(backend, v.encoder, g.encoder, dtype, pass.enc, dy, null, null, g.embedding !== null);
  if (g.embedding) embeddingBackward(dx, tokens, v.encoder.config.inputSize, g.embedding);
  return { loss, count };
}

/**
 * Tag probabilities (T, B, K), time-major, the softmax of each token's logits (inference: no
 * dropout); `lengths` (B) for a right-padded batch (rows at padded positions are unspecified).
 */
export function taggerPredict(backend: Backend, model: TaggerModel, tokens: Int32Array, T: number, B: number, lengths?: Int32Array): Float64Array {
  const c = model.config;
  checkInput(c, tokens, T, B);
  const pass = forward(backend, model, bind(c, model.params), tokens, T, B, false, undefined, lengths);
  const N = T * B;
  const K = c.numTags;
  const p = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, pass.logits[n * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += p[n * K + k] = Math.exp(pass.logits[n * K + k] - max);
    for (let k = 0; k < K; k++) p[n * K + k] /= sum;
  }
  return p;
}
