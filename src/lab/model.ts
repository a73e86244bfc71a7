/**
 * A small sequence model for the lab: a recurrent stack and a linear head on every step,
 *
 *   h = recurrent stack(x)                          (T, B, H)
 *   z_t = h_t linear.weightᵀ + linear.bias          (T, B, O)
 *
 * with the loss of its task:
 *   mse-last  (1/(B·O)) Σ_b,o (z_{T−1} − y)²                    many-to-one regression
 *   xent      mean over counted steps of softmax cross-entropy   many-to-many (−1: not counted)
 *   bce       mean over counted steps of Σ_o sigmoid BCE         multi-label per step
 *
 * Parameter names match a PyTorch module with submodules `rnn`|`lstm`|`gru` and `linear`.
 */
import type { Backend } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { createCell } from "../cells/index.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { meanSquaredError } from "../layers/mse.js";
import { sigmoidBinaryCrossEntropy } from "../layers/sigmoid-bce.js";
import { softmaxCrossEntropy } from "../layers/softmax-cross-entropy.js";
import {
  bindRecurrent,
  recurrentBackward,
  recurrentForward,
  recurrentSpecs,
  type Recurrent,
  type RecurrentConfig,
  type RecurrentPass,
} from "../sequence/recurrent.js";
import { createArena, mirrorArena, view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { orthogonalBlocks, pytorchRnnUniform } from "../train/init.js";
import type { Target } from "./tasks/task.js";

// Dimensions: T steps, B batch, I inputs, H hidden, O outputs, L layers.

/** What a sequence model is made of. */
export interface SequenceModelConfig {
  readonly cell: CellConfig;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  /** Stacked recurrent layers (default 1). */
  readonly numLayers?: number;
}

/** A sequence model: its config and one arena of named parameters. */
export interface SequenceModel {
  readonly kind: "sequence-model";
  readonly config: SequenceModelConfig;
  readonly params: Arena;
}

/** The recurrent stack's config. */
export function sequenceRecurrentConfig(c: SequenceModelConfig): RecurrentConfig {
  return { cell: c.cell, inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers ?? 1, bidirectional: false, dropout: 0 };
}

/** The parameter tensors of a sequence model. */
export function sequenceModelSpecs(c: SequenceModelConfig): TensorSpec[] {
  if (!Number.isInteger(c.outputSize) || c.outputSize < 1) throw new Error(`outputSize must be a positive integer, got ${c.outputSize}`);
  return [
    ...recurrentSpecs(sequenceRecurrentConfig(c), `${c.cell.kind}.`),
    { name: "linear.weight", shape: [c.outputSize, c.hiddenSize] },
    { name: "linear.bias", shape: [c.outputSize] },
  ];
}

/** A model with all parameters zero (initialise with `initSequenceModel`). */
export function createSequenceModel(config: SequenceModelConfig, dtype: DType = "float32"): SequenceModel {
  return { kind: "sequence-model", config, params: createArena(dtype, sequenceModelSpecs(config)) };
}

/** Views of a model's tensors in `arena` (its parameters, or a mirrored gradient arena). */
export interface SequenceModelViews {
  readonly rnn: Recurrent;
  /** (O, H) */ readonly W: FloatArray;
  /** (O) */ readonly b: FloatArray;
}

/** Views of the model's tensors in `arena`. */
export function bindSequenceModel(c: SequenceModelConfig, arena: Arena): SequenceModelViews {
  return { rnn: bindRecurrent(sequenceRecurrentConfig(c), arena, `${c.cell.kind}.`), W: view(arena, "linear.weight"), b: view(arena, "linear.bias") };
}

/** How to initialise a sequence model. */
export interface SequenceInitOptions {
  /** Each gate block of W_hh an orthogonal matrix (Saxe et al. 2014) times `recurrentGain`. */
  readonly orthogonal?: boolean;
  /** Gain of the orthogonal W_hh (default 1). */
  readonly recurrentGain?: number;
  /** Added to the LSTM forget-gate rows of b_ih (Gers et al. 2000; Jozefowicz et al. 2015: 1). */
  readonly forgetBias?: number;
  /**
   * Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?")
   * for dependencies up to about `chrono` steps: per unit, LSTM b_f = log u and b_i = −b_f with
   * u ~ U(1, chrono − 1) (coupled LSTM: b_f only), GRU b_z = log u; the b_hh rows of those gates
   * are zeroed, and `forgetBias` is not added. Other cells ignore it. Must be > 2.
   */
  readonly chrono?: number;
}

/**
 * PyTorch's defaults, U(±1/√H) for every parameter (for `nn.Linear(H, O)` that is its U(±1/√fan_in)),
 * drawn from `rng` in the arena's order; then the options.
 */
export function initSequenceModel(model: SequenceModel, rng: Rng, opts: SequenceInitOptions = {}): void {
  const c = model.config;
  pytorchRnnUniform(model.params.data, c.hiddenSize, rng);
  const v = bindSequenceModel(c, model.params);
  const G = createCell(c.cell).G;
  for (const d of v.rnn.dirs) {
    if (opts.orthogonal) orthogonalBlocks(d.Whh, G, c.hiddenSize, rng, opts.recurrentGain ?? 1);
    if (opts.chrono !== undefined) chronoBiases(c.cell, d.bih, d.bhh, c.hiddenSize, opts.chrono, rng);
    else if (opts.forgetBias && c.cell.kind === "lstm") {
      const F = c.cell.coupled ? 0 : 1; // row block of f
      for (let j = 0; j < c.hiddenSize; j++) d.bih[F * c.hiddenSize + j] += opts.forgetBias;
    }
  }
}

/** Chrono biases (see `SequenceInitOptions.chrono`) for one direction of one layer. */
function chronoBiases(cell: CellConfig, bih: FloatArray, bhh: FloatArray, H: number, tMax: number, rng: Rng): void {
  if (!(tMax > 2)) throw new Error(`chrono initialisation needs the longest dependency in steps, > 2; got ${tMax}`);
  // Row blocks: LSTM (i, f, g, o) or coupled (f, g, o); GRU (r, z, n).
  const gate = cell.kind === "lstm" ? (cell.coupled ? 0 : 1) : cell.kind === "gru" ? 1 : -1;
  if (gate < 0) return;
  const input = cell.kind === "lstm" && !cell.coupled ? 0 : -1;
  for (let j = 0; j < H; j++) {
    const b = Math.log(rng.range(1, tMax - 1));
    bih[gate * H + j] = b;
    bhh[gate * H + j] = 0;
    if (input >= 0) {
      bih[input * H + j] = -b;
      bhh[input * H + j] = 0;
    }
  }
}

/** The forward pass of a batch, kept for the backward pass. */
export interface SequencePass {
  readonly T: number;
  readonly B: number;
  readonly rnn: RecurrentPass;
  /** (T, B, O) outputs of the head: logits, or predictions for mse */
  readonly out: FloatArray;
}

/** Forward pass over time-major inputs x (T, B, I) from zero states. */
export function sequenceForward(backend: Backend, model: SequenceModel, x: FloatArray, T: number, B: number): SequencePass {
  const c = model.config;
  const v = bindSequenceModel(c, model.params);
  const rnn = recurrentForward(backend, v.rnn, model.params.dtype, x, T, B, null, null);
  const out = allocate(model.params.dtype, T * B * c.outputSize);
  linearForward(backend, v.W, v.b, rnn.y, T * B, c.hiddenSize, c.outputSize, out);
  return { T, B, rnn, out };
}

/** The loss of a pass against its targets; writes dL/d(out) (T, B, O) into `dout` when given. */
export function sequenceLoss(model: SequenceModel, pass: SequencePass, target: Target, dout: FloatArray | null): number {
  const O = model.config.outputSize;
  const { T, B, out } = pass;
  switch (target.kind) {
    case "mse-last": {
      // only the last step has a target
      const last = (T - 1) * B * O;
      if (dout) dout.fill(0, 0, last);
      return meanSquaredError(out.subarray(last), target.y, B * O, dout ? dout.subarray(last) : null);
    }
    case "xent":
      return softmaxCrossEntropy(out, target.y, T * B, O, dout, -1);
    case "bce":
      return sigmoidBinaryCrossEntropy(out, target.y, target.mask, T * B, O, dout);
  }
}

/** Backward pass from dL/d(out) (T, B, O); adds every parameter gradient into `grads`. */
export function sequenceBackward(backend: Backend, model: SequenceModel, grads: Arena, pass: SequencePass, dout: FloatArray): void {
  const c = model.config;
  const dtype = model.params.dtype;
  const v = bindSequenceModel(c, model.params);
  const g = bindSequenceModel(c, grads);
  const N = pass.T * pass.B;
  const dy = allocate(dtype, N * c.hiddenSize);
  linearBackward(backend, v.W, pass.rnn.y, dout, N, c.hiddenSize, c.outputSize, g.W, g.b, dy);
  recurrentBackward(backend, v.rnn, g.rnn, dtype, pass.rnn, dy, null, null, false);
}

/** A zeroed gradient arena for `model`. */
export function createSequenceGradients(model: SequenceModel): Arena {
  return mirrorArena(model.params);
}

/** A copy of `model` in another dtype (float64 for analysis, float32 for speed). */
export function convertSequenceModel(model: SequenceModel, dtype: DType): SequenceModel {
  const copy = createSequenceModel(model.config, dtype);
  copy.params.data.set(model.params.data);
  return copy;
}
