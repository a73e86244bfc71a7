/**
 * Language model P(w_1…w_m) = Π P(w_i | w_<i) (char-rnn; PyTorch's word_language_model):
 *
 *   e_t = embedding.weight[x_t]  (or one-hot x_t, as char-rnn)     (T, B, E)
 *   h   = recurrent stack(e)                                       (T, B, H)
 *   z_t = h_t linear.weightᵀ + linear.bias                          (T, B, V)
 *   loss = mean_t,b cross-entropy(z_t, y_t)
 *
 * Parameter names match a PyTorch module with submodules `embedding`, `lstm`|`gru`|`rnn`, `linear`.
 */
import type { Backend } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { embeddingBackward, embeddingForward, oneHot } from "../layers/embedding.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { softmaxCrossEntropy } from "../layers/softmax-cross-entropy.js";
import {
  bindRecurrent,
  recurrentBackward,
  recurrentForward,
  recurrentSpecs,
  type ForwardOptions,
  type Recurrent,
  type RecurrentPass,
} from "../sequence/recurrent.js";
import { tokenProjection, type TokenInput } from "../sequence/unroll.js";
import { createArena, mirrorArena, view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";

// Dimensions: T steps, B batch, V vocabulary, E embedding (V when one-hot), H hidden, L layers.

export interface LanguageModelConfig {
  readonly vocabSize: number;
  /** Embedding size; 0 feeds one-hot vectors (size V) instead, as char-rnn does. */
  readonly embedSize: number;
  readonly cell: CellConfig;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly dropout: number;
}

/** A language model: its config and one arena of named parameters. */
export interface LanguageModel {
  readonly kind: "language-model";
  readonly config: LanguageModelConfig;
  readonly params: Arena;
}

/** The PyTorch module name of the recurrent stack. */
export function recurrentPrefix(cell: CellConfig): string {
  return `${cell.kind}.`;
}

/** Input width of the recurrent stack. */
export function inputWidth(c: LanguageModelConfig): number {
  return c.embedSize > 0 ? c.embedSize : c.vocabSize;
}

/** The parameter tensors of a language model. */
export function languageModelSpecs(c: LanguageModelConfig): TensorSpec[] {
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new Error(`vocabSize must be a positive integer, got ${c.vocabSize}`);
  if (!Number.isInteger(c.embedSize) || c.embedSize < 0) throw new Error(`embedSize must be 0 (one-hot) or a positive integer, got ${c.embedSize}`);
  return [
    ...(c.embedSize > 0 ? [{ name: "embedding.weight", shape: [c.vocabSize, c.embedSize] }] : []),
    ...recurrentSpecs(rnnConfig(c), recurrentPrefix(c.cell)),
    { name: "linear.weight", shape: [c.vocabSize, c.hiddenSize] },
    { name: "linear.bias", shape: [c.vocabSize] },
  ];
}

function rnnConfig(c: LanguageModelConfig) {
  return {
    cell: c.cell,
    inputSize: inputWidth(c),
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    bidirectional: false,
    dropout: c.dropout,
  };
}

/** A model with all parameters zero (initialise with `train/init`, or load weights). */
export function createLanguageModel(config: LanguageModelConfig, dtype: DType = "float32"): LanguageModel {
  return { kind: "language-model", config, params: createArena(dtype, languageModelSpecs(config)) };
}

/** Views of a model's tensors in `arena` (its parameters, or a mirrored gradient arena). */
export interface LanguageModelViews {
  /** (V, E), or null when one-hot */ readonly embedding: FloatArray | null;
  readonly rnn: Recurrent;
  /** (V, H) */ readonly W: FloatArray;
  /** (V) */ readonly b: FloatArray;
}

export function bindLanguageModel(c: LanguageModelConfig, arena: Arena): LanguageModelViews {
  const hit = bound.get(arena);
  if (hit?.config === c) return hit.views;
  const views: LanguageModelViews = {
    embedding: c.embedSize > 0 ? view(arena, "embedding.weight") : null,
    rnn: bindRecurrent(rnnConfig(c), arena, recurrentPrefix(c.cell)),
    W: view(arena, "linear.weight"),
    b: view(arena, "linear.bias"),
  };
  bound.set(arena, { config: c, views });
  return views;
}

/**
 * The views of each arena, made once: an arena's buffer never changes, and sampling binds the
 * model once per generated token.
 */
const bound = new WeakMap<Arena, { readonly config: LanguageModelConfig; readonly views: LanguageModelViews }>();

/** A zeroed gradient arena for `model`. */
export function createGradients(model: LanguageModel): Arena {
  return mirrorArena(model.params);
}

/** The recurrent state carried between chunks: (L, B, H) h, and c for an LSTM. */
export interface RecurrentState {
  readonly h: FloatArray;
  readonly c: FloatArray | null;
}

/** The forward pass of a chunk, kept for the backward pass. */
export interface LanguageModelPass {
  /** the backend that ran the pass (the loss and backward use it too) */
  readonly backend: Backend;
  readonly T: number;
  readonly B: number;
  /** (T·B) time-major token ids */ readonly tokens: Int32Array;
  /**
   * (T, B, E) the embedded (or one-hot) input, or null when the first layer read the token ids
   * directly (`usesTokenInput`)
   */
  readonly e: FloatArray | null;
  readonly rnn: RecurrentPass;
  /** (T, B, V) */ readonly logits: FloatArray;
  /** the state after the chunk, to carry into the next (truncated BPTT) */
  readonly state: RecurrentState;
}

/**
 * Whether the first layer reads token ids through a projection table (unroll.ts, "Token input")
 * rather than a (T·B, E) input: always for one-hot inputs, and for an embedding when the chunk
 * has at least twice as many tokens as the vocabulary, so that the table's V rows cost less than
 * the chunk's T·B rows in the input projection and its two gradient GEMMs.
 */
export function usesTokenInput(c: LanguageModelConfig, T: number, B: number): boolean {
  return c.embedSize === 0 || 2 * c.vocabSize <= T * B;
}

/** Options of `languageModelForward`. */
export interface LanguageModelForwardOptions extends ForwardOptions {
  /**
   * The first layer's projection tables from `languageModelInputProjections`, for a caller that runs
   * many short passes with unchanged weights (sampling); then every chunk reads token ids.
   */
  readonly inputProjections?: readonly FloatArray[];
}

/**
 * The first layer's input projection of every token, P (V, G·H) = embedding W_ihᵀ + b_ih (one-hot:
 * W_ih's columns), one per direction; valid until the weights change.
 */
export function languageModelInputProjections(backend: Backend, model: LanguageModel): FloatArray[] {
  const c = model.config;
  const v = bindLanguageModel(c, model.params);
  const GH = v.rnn.cell.G * c.hiddenSize;
  const input: TokenInput = { ids: new Int32Array(0), table: v.embedding, V: c.vocabSize };
  return v.rnn.dirs.slice(0, v.rnn.dirs.length / c.numLayers).map((p) => tokenProjection(backend, p, model.params.dtype, GH, inputWidth(c), input));
}

/**
 * Forward pass over time-major token ids (T·B, index t·B + b), from `state` (null: zeros).
 * Token ids must already be validated (`checkTokenIds`).
 */
export function languageModelForward(
  backend: Backend,
  model: LanguageModel,
  tokens: Int32Array,
  T: number,
  B: number,
  state: RecurrentState | null,
  opts: LanguageModelForwardOptions = {},
): LanguageModelPass {
  const c = model.config;
  const dtype = model.params.dtype;
  const v = bindLanguageModel(c, model.params);
  const E = inputWidth(c);
  const alloc = opts.workspace?.take ?? allocate;
  let e: FloatArray | null = null;
  if (!opts.inputProjections && !usesTokenInput(c, T, B)) {
    e = alloc(dtype, T * B * E, true); // every row: an embedding row, or a one-hot row (oneHot zeroes first)
    if (v.embedding) embeddingForward(v.embedding, tokens, E, e);
    else oneHot(tokens, c.vocabSize, e);
  }
  const input = e ?? { ids: tokens, table: v.embedding, V: c.vocabSize };
  const rnn = recurrentForward(backend, v.rnn, dtype, input, T, B, state?.h ?? null, state?.c ?? null, opts);
  const logits = alloc(dtype, T * B * c.vocabSize, true); // bias rows, then the GEMM adds
  linearForward(backend, v.W, v.b, rnn.y, T * B, c.hiddenSize, c.vocabSize, logits);
  return { backend, T, B, tokens, e, rnn, logits, state: { h: rnn.hN, c: v.rnn.cell.hasC ? rnn.cN : null } };
}

/** Mean cross-entropy of a pass against time-major targets; writes dL/dlogits when given. */
export function languageModelLoss(model: LanguageModel, pass: LanguageModelPass, targets: Int32Array, dlogits: FloatArray | null, ignoreIndex = -100): number {
  const N = pass.T * pass.B;
  const V = model.config.vocabSize;
  return pass.backend.crossEntropy?.(pass.logits, targets, N, V, dlogits, ignoreIndex) ?? softmaxCrossEntropy(pass.logits, targets, N, V, dlogits, ignoreIndex);
}

/** Backward pass from dL/dlogits (T, B, V); adds every parameter gradient into `grads`. */
export function languageModelBackward(backend: Backend, model: LanguageModel, grads: Arena, pass: LanguageModelPass, dlogits: FloatArray): void {
  const c = model.config;
  const dtype = model.params.dtype;
  const v = bindLanguageModel(c, model.params);
  const g = bindLanguageModel(c, grads);
  const N = pass.T * pass.B;
  const dy = pass.rnn.alloc(dtype, N * c.hiddenSize);
  linearBackward(backend, v.W, pass.rnn.y, dlogits, N, c.hiddenSize, c.vocabSize, g.W, g.b, dy);
  const { dx } = recurrentBackward(backend, v.rnn, g.rnn, dtype, pass.rnn, dy, null, null, g.embedding !== null);
  if (!g.embedding) return;
  if (pass.e) embeddingBackward(dx, pass.tokens, inputWidth(c), g.embedding);
  else for (let i = 0; i < dx.length; i++) g.embedding[i] += dx[i]; // dx is dL/d(embedding table) already
}
