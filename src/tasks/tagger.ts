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
 * next); a unidirectional one only the prefix. A batch may be right-padded (`lengths`): the encoder
 * reads each sequence within its length and padded positions count for nothing in the loss,
 * which is then the mean over the Σ len_b real tokens. Parameter names as a PyTorch module with submodules `embedding`, `encoder`
 * (an `nn.LSTM`/`nn.GRU`/`nn.RNN`) and `linear`.
 */
import type { Backend } from "../backend/backend.js";
import { checkTokenIds, embeddingBackward } from "../layers/embedding.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { softmaxCrossEntropy } from "../layers/softmax-cross-entropy.js";
import { recurrentBackward, type RecurrentPass } from "../sequence/recurrent.js";
import { createArena, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import {
  bindEncoderHead,
  encodeSequence,
  encoderHeadSpecs,
  featureDropout,
  featureSize,
  initEncoderHead,
  softmaxRowsF64,
  validateEncoderHead,
  type EncoderHeadConfig,
  type EncoderHeadViews,
} from "./encoder-head.js";

// Dimensions: T steps, B sequences, N = T·B tokens, V vocabulary, E embedding (V when one-hot),
// H hidden units per direction, D directions, F = D·H features, K tags.

export interface TaggerConfig extends EncoderHeadConfig {
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
  validateEncoderHead(c, c.numTags, "numTags");
}

/** The parameter tensors: `embedding.weight` (V, E) unless one-hot, `encoder.*`, `linear.weight` (K, D·H), `linear.bias` (K). */
export function taggerSpecs(c: TaggerConfig): TensorSpec[] {
  validateTaggerConfig(c);
  return encoderHeadSpecs(c, c.numTags);
}

/** A tagger with all parameters zero (initialise with `initTagger`, or load weights). */
export function createTagger(config: TaggerConfig, dtype: DType = "float32"): TaggerModel {
  return { kind: "tagger", config, params: createArena(dtype, taggerSpecs(config)) };
}

const bind = bindEncoderHead;

/**
 * PyTorch's defaults, in the arena's tensor order: embedding N(0, 1), recurrent tensors U(±1/√H),
 * linear U(±1/√(D·H)); `forgetBias` (default 1 for an LSTM) added to the forget-gate rows of every b_ih.
 */
export function initTagger(model: TaggerModel, rng: Rng, opts: { forgetBias?: number } = {}): void {
  initEncoderHead(model.config, model.params, rng, opts);
}

/** A training batch: B sequences of T tokens (or right-padded to T, with `lengths`), a tag per token. */
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
  readonly enc: RecurrentPass;
  /** (T, B, D·H) dropout multipliers (0 or 1/(1−q)), or null */
  readonly mask: FloatArray | null;
  /** (T, B, D·H) the linear layer's input */
  readonly feat: FloatArray;
  /** (T, B, K) */
  readonly logits: FloatArray;
}

function forward(backend: Backend, model: TaggerModel, v: EncoderHeadViews, tokens: Int32Array, T: number, B: number, training: boolean, rng: Rng | undefined, lengths?: Int32Array): Pass {
  const c = model.config;
  const dtype = model.params.dtype;
  const N = T * B;
  const K = c.numTags;
  const enc = encodeSequence(backend, c, v, dtype, tokens, T, B, { training, rng, lengths });
  const { mask, out: feat } = featureDropout(enc.y, c.dropout, training, rng, dtype);
  const logits = allocate(dtype, N * K);
  linearForward(backend, v.W, v.b, feat, N, featureSize(c), K, logits); // one row per (t, b)
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
  return softmaxRowsF64(pass.logits, T * B, c.numTags);
}
