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
 * Every sequence of a batch has the same length T (the trainer groups by length), so no masking.
 * Backward runs the chain in reverse: dp̃ = dz W, dp = dp̃ ⊙ mask, dy = pool backward, then the
 * recurrent stack and the embedding scatter. Parameter names as a PyTorch module with submodules
 * `embedding`, `encoder` (an `nn.LSTM`/`nn.GRU`/`nn.RNN`) and `linear`.
 */
import type { Backend } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { checkTokenIds, embeddingBackward, embeddingForward, oneHot } from "../layers/embedding.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { poolBackward, poolForward, type Pooling } from "../layers/pooling.js";
import { weightedSoftmaxCrossEntropy } from "../layers/weighted-cross-entropy.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, type Recurrent, type RecurrentConfig } from "../sequence/recurrent.js";
import { createArena, view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { normal, pytorchRnnUniform, uniform } from "../train/init.js";

// Dimensions: T steps, B sequences, V vocabulary, E embedding (V when one-hot), H hidden units per
// direction, D directions, F = D·H pooled features, K classes.

export interface ClassifierConfig {
  readonly vocabSize: number;
  /** Embedding size; 0 feeds one-hot vectors (size V) instead. */
  readonly embedSize: number;
  readonly cell: CellConfig;
  /** Units per direction. */
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Dropout between recurrent layers and on the pooled features, while training. */
  readonly dropout: number;
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
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new Error(`vocabSize must be a positive integer, got ${c.vocabSize}`);
  if (!Number.isInteger(c.embedSize) || c.embedSize < 0) throw new Error(`embedSize must be 0 (one-hot) or a positive integer, got ${c.embedSize}`);
  if (!Number.isInteger(c.numClasses) || c.numClasses < 2) throw new Error(`numClasses must be an integer ≥ 2, got ${c.numClasses}`);
  if (c.pooling !== "last" && c.pooling !== "mean" && c.pooling !== "max") throw new Error(`unknown pooling "${c.pooling}"; choose last, mean or max`);
  if (typeof c.bidirectional !== "boolean") throw new Error(`bidirectional must be true or false, got ${String(c.bidirectional)}`);
  // hiddenSize, numLayers, dropout: checked with the recurrent stack's specs
}

function encoderConfig(c: ClassifierConfig): RecurrentConfig {
  return {
    cell: c.cell,
    inputSize: c.embedSize > 0 ? c.embedSize : c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    dropout: c.dropout,
  };
}

/** Pooled feature width D·H: the linear layer's fan-in. */
function featureSize(c: ClassifierConfig): number {
  return (c.bidirectional ? 2 : 1) * c.hiddenSize;
}

/** The parameter tensors: `embedding.weight` (V, E) unless one-hot, `encoder.*`, `linear.weight` (K, D·H), `linear.bias` (K). */
export function classifierSpecs(c: ClassifierConfig): TensorSpec[] {
  validateClassifierConfig(c);
  return [
    ...(c.embedSize > 0 ? [{ name: "embedding.weight", shape: [c.vocabSize, c.embedSize] }] : []),
    ...recurrentSpecs(encoderConfig(c), "encoder."),
    { name: "linear.weight", shape: [c.numClasses, featureSize(c)] },
    { name: "linear.bias", shape: [c.numClasses] },
  ];
}

/** A classifier with all parameters zero (initialise with `initClassifier`, or load weights). */
export function createClassifier(config: ClassifierConfig, dtype: DType = "float32"): ClassifierModel {
  return { kind: "classifier", config, params: createArena(dtype, classifierSpecs(config)) };
}

interface Views {
  /** (V, E), or null when one-hot */ readonly embedding: FloatArray | null;
  readonly encoder: Recurrent;
  /** (K, D·H) */ readonly W: FloatArray;
  /** (K) */ readonly b: FloatArray;
}

function bind(c: ClassifierConfig, arena: Arena): Views {
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
export function initClassifier(model: ClassifierModel, rng: Rng, opts: { forgetBias?: number } = {}): void {
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

/** A training batch: B sequences of one length T, and their classes. */
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
  readonly x: FloatArray;
  readonly enc: ReturnType<typeof recurrentForward>;
  readonly pool: ReturnType<typeof poolForward>;
  readonly lengths: Int32Array;
  /** (B, D·H) dropout multipliers (0 or 1/(1−q)), or null */
  readonly mask: FloatArray | null;
  /** (B, D·H) the linear layer's input */
  readonly feat: FloatArray;
  /** (B, K) */
  readonly logits: FloatArray;
}

function forward(backend: Backend, model: ClassifierModel, v: Views, tokens: Int32Array, T: number, B: number, training: boolean, rng: Rng | undefined, given?: Int32Array): Pass {
  const c = model.config;
  const dtype = model.params.dtype;
  const E = v.encoder.config.inputSize;
  const D = c.bidirectional ? 2 : 1;
  const H = c.hiddenSize;
  const F = D * H;
  const K = c.numClasses;
  const x = allocate(dtype, T * B * E);
  if (v.embedding) embeddingForward(v.embedding, tokens, E, x);
  else oneHot(tokens, c.vocabSize, x);
  const lengths = given ?? new Int32Array(B).fill(T);
  const enc = recurrentForward(backend, v.encoder, dtype, x, T, B, null, null, { training, rng, ...(given ? { lengths: given } : {}) });
  const pool = poolForward(enc.y, T, B, D, H, lengths, c.pooling);
  let mask: FloatArray | null = null;
  let feat = pool.out;
  if (training && c.dropout > 0) {
    if (!rng) throw new Error("dropout while training needs a random generator (opts.rng)");
    mask = allocate(dtype, B * F);
    feat = allocate(dtype, B * F);
    const keep = 1 / (1 - c.dropout);
    for (let i = 0; i < B * F; i++) {
      mask[i] = rng.uniform() < c.dropout ? 0 : keep;
      feat[i] = pool.out[i] * mask[i];
    }
  }
  const logits = allocate(dtype, B * K);
  linearForward(backend, v.W, v.b, feat, B, F, K, logits);
  return { x, enc, pool, lengths, mask, feat, logits };
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

/** Row softmax of (N, K) logits, computed and returned in float64. */
function softmaxRowsF64(z: FloatArray, N: number, K: number): Float64Array {
  const p = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, z[n * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += p[n * K + k] = Math.exp(z[n * K + k] - max);
    for (let k = 0; k < K; k++) p[n * K + k] /= sum;
  }
  return p;
}
