/**
 * What the classifier and the tagger share: token embedding (or one-hot input), a recurrent
 * encoder of D directions with H units each, inverted dropout on the features it hands on, and one
 * affine layer of `outputs` rows (classes or tags) on D·H features. Parameter names as a PyTorch
 * module with submodules `embedding`, `encoder` (an `nn.LSTM`/`nn.GRU`/`nn.RNN`) and `linear`.
 * Browser-safe.
 */
import type { Backend } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { embeddingForward, oneHot } from "../layers/embedding.js";
import { bindRecurrent, recurrentForward, recurrentSpecs, type Recurrent, type RecurrentConfig, type RecurrentPass } from "../sequence/recurrent.js";
import { view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { normal, pytorchRnnUniform, uniform } from "../train/init.js";

/** The encoder's part of a classifier or tagger config. */
export interface EncoderHeadConfig {
  readonly vocabSize: number;
  /** Embedding size; 0 feeds one-hot vectors (size V) instead. */
  readonly embedSize: number;
  readonly cell: CellConfig;
  /** Units per direction. */
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Dropout between recurrent layers and on the features handed to the linear layer, while training. */
  readonly dropout: number;
}

/** Checks the shared fields and the output count (`name`: numClasses, numTags); throws naming the field to fix. */
export function validateEncoderHead(c: EncoderHeadConfig, outputs: number, name: string): void {
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new Error(`vocabSize must be a positive integer, got ${c.vocabSize}`);
  if (!Number.isInteger(c.embedSize) || c.embedSize < 0) throw new Error(`embedSize must be 0 (one-hot) or a positive integer, got ${c.embedSize}`);
  if (!Number.isInteger(outputs) || outputs < 2) throw new Error(`${name} must be an integer ≥ 2, got ${outputs}`);
  if (typeof c.bidirectional !== "boolean") throw new Error(`bidirectional must be true or false, got ${String(c.bidirectional)}`);
  // hiddenSize, numLayers, dropout: checked with the recurrent stack's specs
}

export function encoderConfig(c: EncoderHeadConfig): RecurrentConfig {
  return {
    cell: c.cell,
    inputSize: c.embedSize > 0 ? c.embedSize : c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    dropout: c.dropout,
  };
}

/** Feature width D·H: the linear layer's fan-in. */
export function featureSize(c: EncoderHeadConfig): number {
  return (c.bidirectional ? 2 : 1) * c.hiddenSize;
}

/** `embedding.weight` (V, E) unless one-hot, `encoder.*`, `linear.weight` (outputs, D·H), `linear.bias` (outputs). */
export function encoderHeadSpecs(c: EncoderHeadConfig, outputs: number): TensorSpec[] {
  return [
    ...(c.embedSize > 0 ? [{ name: "embedding.weight", shape: [c.vocabSize, c.embedSize] }] : []),
    ...recurrentSpecs(encoderConfig(c), "encoder."),
    { name: "linear.weight", shape: [outputs, featureSize(c)] },
    { name: "linear.bias", shape: [outputs] },
  ];
}

export interface EncoderHeadViews {
  /** (V, E), or null when one-hot */ readonly embedding: FloatArray | null;
  readonly encoder: Recurrent;
  /** (outputs, D·H) */ readonly W: FloatArray;
  /** (outputs) */ readonly b: FloatArray;
}

/** Views of the tensors in `arena` (parameters, or a mirrored gradient arena). */
export function bindEncoderHead(c: EncoderHeadConfig, arena: Arena): EncoderHeadViews {
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
export function initEncoderHead(c: EncoderHeadConfig, params: Arena, rng: Rng, opts: { forgetBias?: number } = {}): void {
  const k = 1 / Math.sqrt(featureSize(c));
  for (const spec of params.specs) {
    const w = view(params, spec.name);
    if (spec.name === "embedding.weight") normal(w, 0, 1, rng);
    else if (spec.name.startsWith("linear.")) uniform(w, -k, k, rng);
    else pytorchRnnUniform(w, c.hiddenSize, rng);
  }
  const forgetBias = opts.forgetBias ?? (c.cell.kind === "lstm" ? 1 : 0);
  if (forgetBias !== 0 && c.cell.kind === "lstm") {
    const F = c.cell.coupled ? 0 : 1; // row block of f
    const H = c.hiddenSize;
    for (const d of bindEncoderHead(c, params).encoder.dirs) for (let j = 0; j < H; j++) d.bih[F * H + j] += forgetBias;
  }
}

/** Embeds the (T·B) time-major ids and runs the encoder; `lengths` (B) for a right-padded batch. */
export function encodeSequence(
  backend: Backend,
  c: EncoderHeadConfig,
  v: EncoderHeadViews,
  dtype: DType,
  tokens: Int32Array,
  T: number,
  B: number,
  o: { training: boolean; rng: Rng | undefined; lengths?: Int32Array },
): RecurrentPass {
  const E = v.encoder.config.inputSize;
  const x = allocate(dtype, T * B * E);
  if (v.embedding) embeddingForward(v.embedding, tokens, E, x);
  else oneHot(tokens, c.vocabSize, x);
  return recurrentForward(backend, v.encoder, dtype, x, T, B, null, null, { training: o.training, rng: o.rng, ...(o.lengths ? { lengths: o.lengths } : {}) });
}

/**
 * Inverted dropout with probability q on `x`: the multipliers (0 or 1/(1−q)) and x ⊙ them; when
 * not training (or q = 0) no mask and `x` itself.
 */
export function featureDropout(x: FloatArray, q: number, training: boolean, rng: Rng | undefined, dtype: DType): { mask: FloatArray | null; out: FloatArray } {
  if (!training || q <= 0) return { mask: null, out: x };
  if (!rng) throw new Error("dropout while training needs a random generator (opts.rng)");
  const mask = allocate(dtype, x.length);
  const out = allocate(dtype, x.length);
  const keep = 1 / (1 - q);
  for (let i = 0; i < x.length; i++) {
    mask[i] = rng.uniform() < q ? 0 : keep;
    out[i] = x[i] * mask[i];
  }
  return { mask, out };
}

/** Row softmax of (N, K) logits, computed and returned in float64. */
export function softmaxRowsF64(z: FloatArray, N: number, K: number): Float64Array {
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
