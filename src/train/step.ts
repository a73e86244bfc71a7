/**
 * One step of truncated BPTT on a language model (char-rnn's `feval`): forward the chunk from the
 * carried state, mean cross-entropy, backward, clip, optimizer update. The returned state is the
 * chunk's final state, to carry into the next chunk (values kept, gradient cut).
 */
import { fillRows, type Backend, type OptimizerKernels } from "../backend/backend.js";
import {
  createGradients,
  languageModelBackward,
  languageModelForward,
  languageModelLoss,
  type LanguageModel,
  type RecurrentState,
} from "../model/language-model.js";
import type { Chunk } from "../text/batches.js";
import type { Arena } from "../tensor/arena.js";
import { allocate, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { Workspace } from "../tensor/workspace.js";
import { clipGradNorm, clipGradValue, globalNorm, sumSquares } from "./clip.js";
import type { Optimizer } from "./optimizers.js";

/** What a training step needs besides the data. */
export interface StepContext {
  readonly backend: Backend;
  readonly model: LanguageModel;
  readonly optimizer: Optimizer;
  /** Gradient buffer (same layout as the parameters); zeroed by each step. */
  readonly grads: Arena;
  /** Clip the global gradient norm to this value (PyTorch `clip_grad_norm_`). */
  readonly clipNorm?: number;
  /** Clamp every gradient element to ±this value (char-rnn's `grad_clip`). */
  readonly clipValue?: number;
  /** Draws dropout masks. */
  readonly rng: Rng;
  /** The step's large buffers, reused from step to step. */
  readonly workspace: Workspace;
  /** The parameters before the last update, to restore them when the update overflows. */
  backup?: FloatArray;
}

/**
 * A training step that produced a non-finite loss, gradient or parameter: the run has diverged.
 * The parameters are those before the step (never NaN): the update is skipped, or undone.
 */
export class DivergedError extends Error {
  constructor(
    message: string,
    /** What became non-finite. */
    readonly quantity: "loss" | "gradient" | "parameters",
    readonly value: number,
  ) {
    super(message);
    this.name = "DivergedError";
  }
}

/** The context for training `model` with `optimizer`. */
export function createStepContext(
  backend: Backend,
  model: LanguageModel,
  optimizer: Optimizer,
  rng: Rng,
  clip: { clipNorm?: number; clipValue?: number } = {},
): StepContext {
  return { backend, model, optimizer, grads: createGradients(model), rng, workspace: new Workspace(), ...clip };
}

/** The outcome of one step. */
export interface StepResult {
  /** Mean cross-entropy of the chunk, nats per token, before the update. */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** The state to carry into the next chunk. */
  readonly state: RecurrentState;
}

/** The optimizer's guarded step, or, for one without it, a copy, the step and the sum of squares apart. */
function guardedStep(optimizer: Optimizer, params: FloatArray, grads: FloatArray, backup: FloatArray, lr: number | undefined, kernels: OptimizerKernels | undefined): number {
  if (optimizer.guardedStep) return optimizer.guardedStep(params, grads, backup, lr, kernels);
  backup.set(params);
  optimizer.step(params, grads, lr, kernels);
  return sumSquares(params, kernels);
}

/** Trains on one chunk from `state` (null: zeros); `lr` overrides the optimizer's rate. */
export function trainStep(ctx: StepContext, chunk: Chunk, state: RecurrentState | null, lr?: number): StepResult {
  const { backend, model, grads } = ctx;
  ctx.workspace.reset();
  const pass = languageModelForward(backend, model, chunk.x, chunk.S, chunk.B, state, { training: true, rng: ctx.rng, workspace: ctx.workspace });
  const dlogits = ctx.workspace.take(model.params.dtype, pass.logits.length, true); // the loss writes every row
  const loss = languageModelLoss(model, pass, chunk.y, dlogits);
  if (!Number.isFinite(loss)) {
    throw new DivergedError(`the training loss became ${loss}; lower the learning rate or clip gradients (--clip-norm)`, "loss", loss);
  }
  fillRows(backend, grads.data, null);
  languageModelBackward(backend, model, grads, pass, dlogits);
  const kernels = backend.optimizerKernels;
  const gradNorm = ctx.clipNorm !== undefined ? clipGradNorm(grads.data, ctx.clipNorm, kernels) : globalNorm(grads.data, kernels);
  if (!Number.isFinite(gradNorm)) {
    throw new DivergedError(`the gradient norm became ${gradNorm}; lower the learning rate or clip gradients (--clip-norm)`, "gradient", gradNorm);
  }
  if (ctx.clipValue !== undefined) clipGradValue(grads.data, ctx.clipValue);
  const params = model.params.data;
  const backup = (ctx.backup ??= allocate(model.params.dtype, params.length));
  const size = Math.sqrt(guardedStep(ctx.optimizer, params, grads.data, backup, lr, kernels));
  if (!Number.isFinite(size)) {
    params.set(backup);
    throw new DivergedError(`the parameters became ${size} after the update (they are restored to their values before it); lower the learning rate`, "parameters", size);
  }
  return { loss, gradNorm, state: pass.state };
}
