/**
 * Sequence classifier (many-to-one): a recurrent encoder read by pooling, then one affine layer,
 *
 *   e   = embedding.weight[x]  (or one-hot x when embedSize = 0)       (T, B, E)
 *   y   = recurrent stack(e), D directions of H units, [fwd, rev]      (T, B, D·H)
 *   p   = pool_t(y)  (last: both ends; mean; max — src/layers/pooling.ts) (B, D·H)
 *   p̃   = p ⊙ m / (1 − q),  m_i ~ Bernoulli(1 − q), only when training  (inverted dropout, q = dropout)
 *   z   = p̃ linear.weightᵀ + linear.bias                                (B, K)
 *   loss = Σ_b w[y_b] CE(z_b, y_b) / Σ_b w[y_b]                        (w = 1 without class weights)
 *
 * A batch may be right-padded (`lengths`): the encoder reads each sequence within its length and
 * pooling looks only at its valid steps (src/sequence/recurrent.ts). Backward runs the chain in reverse: dp̃ = dz W, dp = dp̃ ⊙ mask, dy = pool backward, then the
 * recurrent stack and the embedding scatter. Parameter names as a PyTorch module with submodules
 * `embedding`, `encoder` (an `nn.LSTM`/`nn.GRU`/`nn.RNN`) and `linear`.
 */
import type { Backend } from "../backend/backend.js";
import { checkTokenIds, embeddingBackward } from "../layers/embedding.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { poolBackward, poolForward, type Pooling } from "../layers/pooling.js";
import { weightedSoftmaxCrossEntropy } from "../layers/weighted-cross-entropy.js";
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

// Dimensions: T steps, B sequences, V vocabulary, E embedding (V when one-hot), H hidden units per
// direction, D directions, F = D·H pooled features, K classes.

export interface ClassifierConfig extends EncoderHeadConfig {
  readonly pooling: Pooling;
  readonly numClasses: number;
}

/** A sequence classifier: its config and one arena of named parameters. */
export interface ClassifierModel {
  readonly kind: "classifier";
  readonly config: ClassifierConfig;
  readonly params: Arena;
}

/** Checks a config; throws naming the field to fix. */
export function validateClassifierConfig(c: ClassifierConfig): void {
  validateEncoderHead(c, c.numClasses, "numClasses");
  if (c.pooling !== "last" && c.pooling !== "mean" && c.pooling !== "max") throw new Error(`unknown pooling "${c.pooling}"; choose last, mean or max`);
}

/** The parameter tensors: `embedding.weight` (V, E) unless one-hot, `encoder.*`, `linear.weight` (K, D·H), `linear.bias` (K). */
export function classifierSpecs(c: ClassifierConfig): TensorSpec[] {
  validateClassifierConfig(c);
  return encoderHeadSpecs(c, c.numClasses);
}

/** A classifier with all parameters zero (initialise with `initClassifier`, or load weights). */
export function createClassifier(config: ClassifierConfig, dtype: DType = "float32"): ClassifierModel {
  return { kind: "classifier", config, params: createArena(dtype, classifierSpecs(config)) };
}

const bind = bindEncoderHead;

/**
 * PyTorch's defaults, in the arena's tensor order: embedding N(0, 1), recurrent tensors U(±1/√H),
 * linear U(±1/√(D·H)); `forgetBias` (default 1 for an LSTM) added to the forget-gate rows of every b_ih.
 */
export function initClassifier(model: ClassifierModel, rng: Rng, opts: { forgetBias?: number } = {}): void {
  initEncoderHead(model.config, model.params, rng, opts);
}

/** A training batch: B sequences of T tokens (or right-padded to T, with `lengths`), and their classes. */
export interface ClassifierBatch {
  /** (T·B) time-major token ids, index t·B + b */
  readonly tokens: Int32Array;
  readonly T: number;
  readonly B: number;
  /** (B) the class of each sequence */
  readonly labels: Int32Array;
  /** (B) the length of each right-padded sequence (1…T); absent: every sequence is T tokens */
  readonly lengths?: Int32Array;
}

/** Options of `classifierLoss`. */
export interface ClassifierLossOptions {
  /** Applies dropout (needs `rng`). */
  readonly training?: boolean;
  readonly rng?: Rng;
  /** (K) per-class weights of the loss (e.g. `balancedClassWeights`); null or absent: unweighted. */
  readonly classWeights?: Float64Array | null;
}

function checkInput(c: ClassifierConfig, tokens: Int32Array, T: number, B: number): void {
  if (!Number.isInteger(T) || T < 1) throw new Error(`classifier: sequence length T must be a positive integer, got ${T}`);
  if (!Number.isInteger(B) || B < 1) throw new Error(`classifier: batch size B must be a positive integer, got ${B}`);
  if (tokens.length !== T * B) throw new Error(`classifier: tokens has ${tokens.length} ids, expected T·B = ${T}·${B} (time-major, index t·B + b)`);
  checkTokenIds(tokens, c.vocabSize);
}

/** The forward pass, kept for the backward pass. */
interface Pass {
  readonly enc: RecurrentPass;
  readonly pool: ReturnType<typeof poolForward>;
  readonly lengths: Int32Array;
  /** (B, D·H) dropout multipliers (0 or 1/(1−q)), or null */
  readonly mask: FloatArray | null;
  /** (B, D·H) the linear layer's input */
  readonly feat: FloatArray;
  /** (B, K) */
  readonly logits: FloatArray;
}

function forward(backend: Backend, model: ClassifierModel, v: EncoderHeadViews, tokens: Int32Array, T: number, B: number, training: boolean, rng: Rng | undefined, given?: Int32Array): Pass {
  const c = model.config;
  const dtype = model.params.dtype;
  const D = c.bidirectional ? 2 : 1;
  const K = c.numClasses;
  const lengths = given ?? new Int32Array(B).fill(T);
  const enc = encodeSequence(backend, c, v, dtype, tokens, T, B, { training, rng, lengths: given });
  const pool = poolForward(enc.y, T, B, D, c.hiddenSize, lengths, c.pooling);
  const { mask, out: feat } = featureDropout(pool.out, c.dropout, training, rng, dtype);
  const logits = allocate(dtype, B * K);
  linearForward(backend, v.W, v.b, feat, B, featureSize(c), K, logits);
  return { enc, pool, lengths, mask, feat, logits };
}

/**
 * The (class-weighted) mean cross-entropy of the batch's B sequences; with `grads` (a mirrorArena
 * of the parameters), the backward pass adds every parameter's gradient into it.
 */
export function classifierLoss(
  backend: Backend,
  model: ClassifierModel,
  batch: ClassifierBatch,
  grads: Arena | null,
  opts: ClassifierLossOptions = {},
): { loss: number; count: number } {
  const c = model.config;
  const { tokens, T, B, labels, lengths } = batch;
  checkInput(c, tokens, T, B);
  if (labels.length !== B) throw new Error(`classifier: ${labels.length} labels for B = ${B} sequences`);
  const dtype = model.params.dtype;
  const v = bind(c, model.params);
  const K = c.numClasses;
  const D = c.bidirectional ? 2 : 1;
  const H = c.hiddenSize;
  const F = D * H;
  const pass = forward(backend, model, v, tokens, T, B, opts.training ?? false, opts.rng, lengths);
  const dlogits = grads ? allocate(dtype, B * K) : null;
  const loss = weightedSoftmaxCrossEntropy(pass.logits, labels, B, K, opts.classWeights ?? null, dlogits);
  if (!grads || !dlogits) return { loss, count: B };

  const g = bind(c, grads);
  const dfeat = allocate(dtype, B * F);
  linearBackward(backend, v.W, pass.feat, dlogits, B, F, K, g.W, g.b, dfeat);
  if (pass.mask) for (let i = 0; i < dfeat.length; i++) dfeat[i] *= pass.mask[i]; // p̃ = p ⊙ mask
  const dy = poolBackward(pass.pool, dfeat, T, B, D, H, pass.lengths, c.pooling);
  const { dx } = recurrentBackward(backend, v.encoder, g.encoder, dtype, pass.enc, dy, null, null, g.embedding !== null);
  if (g.embedding) embeddingBackward(dx, tokens, v.encoder.config.inputSize, g.embedding);
  return { loss, count: B };
}

/**
 * Class probabilities (B, K), row b the softmax of sequence b's logits (inference: no dropout);
 * `lengths` (B) for a right-padded batch.
 */
export function classifierPredict(backend: Backend, model: ClassifierModel, tokens: Int32Array, T: number, B: number, lengths?: Int32Array): Float64Array {
  const c = model.config;
  checkInput(c, tokens, T, B);
  const pass = forward(backend, model, bind(c, model.params), tokens, T, B, false, undefined, lengths);
  return softmaxRowsF64(pass.logits, B, c.numClasses);
}
