/**
 * Optimizers over one flat parameter buffer p and its gradient g (an arena's `data` and its
 * mirror), each reproducing one step of PyTorch 1.13's `torch.optim` class (single-tensor path,
 * `maximize=False`, no AMSGrad, SGD dampening 0, Adagrad lr_decay 0 and initial accumulator 0):
 *
 *   SGD      d = g + λp;  b ← d at t = 1, else μb + d;  p ← p − lr·(d + μb if Nesterov, else b)
 *            (with μ = 0 there is no b and p ← p − lr·d)
 *   Adagrad  d = g + λp;  sum ← sum + d²;  p ← p − lr·d / (√sum + ε)
 *   RMSprop  d = g + λp;  v ← αv + (1−α)d²;  centered: gAve ← α·gAve + (1−α)d,  a = √(v − gAve²) + ε,
 *            else a = √v + ε;  μ > 0: b ← μb + d/a, p ← p − lr·b;  μ = 0: p ← p − lr·d/a
 *   Adam     d = g + λp;  m ← β₁m + (1−β₁)d;  v ← β₂v + (1−β₂)d²;
 *            p ← p − lr·m̂ / (√v̂ + ε)  with m̂ = m / (1−β₁ᵗ), v̂ = v / (1−β₂ᵗ)
 *   AdamW    p ← p·(1 − lr·λ), then Adam with λ = 0 (Loshchilov & Hutter, decoupled weight decay)
 *
 * t counts steps from 1; λ is `weightDecay` (an L2 term added to the gradient except in AdamW).
 * Moment buffers (b, sum, v, gAve, m) have the parameters' dtype; the gradient is never written.
 *
 * The loops below are the specification. `step` hands SGD and Adam/AdamW to a backend's
 * `OptimizerKernels` when given them (the native backend's, in float32), which reproduce the loops
 * bit for bit; Adagrad and RMSprop always run here.
 */
import type { OptimizerKernels } from "../backend/backend.js";
import { allocate, dtypeOf, type DType, type FloatArray } from "../tensor/dtype.js";
import { sumSquares } from "./clip.js";

/** Stochastic gradient descent, optionally with (Nesterov) momentum; `torch.optim.SGD`. */
export interface SgdConfig {
  readonly kind: "sgd";
  readonly lr: number;
  /** μ, default 0 (plain SGD). */
  readonly momentum?: number;
  /** Nesterov momentum (needs momentum > 0), default false. */
  readonly nesterov?: boolean;
  /** λ (L2 added to the gradient), default 0. */
  readonly weightDecay?: number;
}

/** Adagrad (Duchi et al. 2011); `torch.optim.Adagrad`. */
export interface AdagradConfig {
  readonly kind: "adagrad";
  readonly lr: number;
  /** ε, default 1e-10. */
  readonly eps?: number;
  /** λ (L2 added to the gradient), default 0. */
  readonly weightDecay?: number;
}

/** RMSprop (Hinton, Coursera lecture 6e), optionally centered (Graves 2013); `torch.optim.RMSprop`. */
export interface RmspropConfig {
  readonly kind: "rmsprop";
  readonly lr: number;
  /** α, the decay of the squared-gradient average, in [0, 1); default 0.99. */
  readonly alpha?: number;
  /** ε, default 1e-8. */
  readonly eps?: number;
  /** μ, default 0. */
  readonly momentum?: number;
  /** Divide by the estimated variance instead of the raw second moment; default false. */
  readonly centered?: boolean;
  /** λ (L2 added to the gradient), default 0. */
  readonly weightDecay?: number;
}

/** Adam (Kingma & Ba 2015) with L2 weight decay; `torch.optim.Adam`. */
export interface AdamConfig {
  readonly kind: "adam";
  readonly lr: number;
  /** β₁ in [0, 1), default 0.9. */
  readonly beta1?: number;
  /** β₂ in [0, 1), default 0.999. */
  readonly beta2?: number;
  /** ε, default 1e-8. */
  readonly eps?: number;
  /** λ (L2 added to the gradient), default 0. */
  readonly weightDecay?: number;
}

/** Adam with decoupled weight decay (Loshchilov & Hutter 2019); `torch.optim.AdamW`. */
export interface AdamWConfig {
  readonly kind: "adamw";
  readonly lr: number;
  /** β₁ in [0, 1), default 0.9. */
  readonly beta1?: number;
  /** β₂ in [0, 1), default 0.999. */
  readonly beta2?: number;
  /** ε, default 1e-8. */
  readonly eps?: number;
  /** λ (decoupled: p ← p·(1 − lr·λ) before the Adam step), default 0.01. */
  readonly weightDecay?: number;
}

/** Which optimizer, and its hyperparameters; omitted options take PyTorch's defaults. */
export type OptimizerConfig = SgdConfig | AdagradConfig | RmspropConfig | AdamConfig | AdamWConfig;

/** An optimizer config with every option filled in. */
export type ResolvedOptimizerConfig = Required<OptimizerConfig>;

/** An optimizer's state as plain JSON-safe data: step count and moment buffers by name. */
export interface OptimizerState {
  readonly kind: OptimizerConfig["kind"];
  /** Steps taken. */
  readonly t: number;
  /** Each moment buffer (see the module comment for names), `size` numbers. */
  readonly buffers: Readonly<Record<string, readonly number[]>>;
}

/** An optimizer bound to a parameter buffer size and dtype, holding its moments and step count. */
export interface Optimizer {
  readonly config: ResolvedOptimizerConfig;
  readonly size: number;
  readonly dtype: DType;
  /** Steps taken so far. */
  readonly t: number;
  /**
   * One update of `params` in place from `grads` (neither is kept). `lr` overrides the config's
   * learning rate for this step, for schedules. `kernels` (a backend's `optimizerKernels`) run the
   * update where they accept the buffers, with the same result as the loops here.
   */
  step(params: FloatArray, grads: FloatArray, lr?: number, kernels?: OptimizerKernels): void;
  /**
   * `step`, guarded: copies `params` into `backup` (the same length and dtype) before changing them,
   * and returns Σ params² after the update (float64, as clip.ts's `sumSquares`), so that the caller
   * can check the result and undo it with `params.set(backup)`. Kernels with guarded updates do
   * the copy, the update and the sum in one pass over the parameters. Optional, so that an
   * optimizer written against the older interface still trains (`trainStep` then does the three
   * passes itself).
   */
  guardedStep?(params: FloatArray, grads: FloatArray, backup: FloatArray, lr?: number, kernels?: OptimizerKernels): number;
  /** A copy of the state (step count and moments). */
  exportState(): OptimizerState;
  /** Replaces the state with a copy of `state`, after checking it fits this optimizer. */
  importState(state: OptimizerState): void;
}

type Resolved<K extends OptimizerConfig["kind"]> = Extract<ResolvedOptimizerConfig, { kind: K }>;
type Buffers = Readonly<Record<string, FloatArray>>;

/** PyTorch's defaults for every option but lr. */
const DEFAULTS = {
  sgd: { momentum: 0, nesterov: false, weightDecay: 0 },
  adagrad: { eps: 1e-10, weightDecay: 0 },
  rmsprop: { alpha: 0.99, eps: 1e-8, momentum: 0, centered: false, weightDecay: 0 },
  adam: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
} as const;

/** Options that must lie in [0, 1); every other numeric option must be ≥ 0. */
const UNIT_INTERVAL = new Set(["alpha", "beta1", "beta2"]);

/** Fills in defaults and checks every option, with errors that name the option and its range. */
function resolve(config: OptimizerConfig): ResolvedOptimizerConfig {
  if (!Object.hasOwn(DEFAULTS, config.kind)) {
    throw new Error(`unknown optimizer kind "${config.kind}"; use one of ${Object.keys(DEFAULTS).join(", ")}`);
  }
  const defaults: Readonly<Record<string, number | boolean>> = DEFAULTS[config.kind];
  const options = ["lr", ...Object.keys(defaults)];
  const given = config as unknown as Readonly<Record<string, unknown>>;
  const resolved: Record<string, unknown> = { kind: config.kind };
  for (const key of Object.keys(given)) {
    if (key !== "kind" && !options.includes(key)) {
      throw new Error(`${config.kind} has no option "${key}"; its options are ${options.join(", ")}`);
    }
  }
  for (const key of options) {
    const value = given[key] ?? defaults[key];
    if (typeof defaults[key] === "boolean") {
      if (typeof value !== "boolean") throw new Error(`${config.kind} option ${key} must be true or false, got ${value}`);
    } else {
      const unit = UNIT_INTERVAL.has(key);
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (unit && value >= 1)) {
        throw new Error(`${config.kind} option ${key} must be a number ${unit ? "in [0, 1)" : "≥ 0"}, got ${value}`);
      }
    }
    resolved[key] = value;
  }
  const c = resolved as ResolvedOptimizerConfig;
  if (c.kind === "sgd" && c.nesterov && c.momentum === 0) {
    throw new Error("sgd with nesterov needs momentum > 0; set momentum (e.g. 0.9) or drop nesterov");
  }
  return c;
}

/** Names of the moment buffers a config needs. */
function bufferNames(c: ResolvedOptimizerConfig): string[] {
  switch (c.kind) {
    case "sgd":
      return c.momentum > 0 ? ["b"] : [];
    case "adagrad":
      return ["sum"];
    case "rmsprop":
      return ["v", ...(c.centered ? ["gAve"] : []), ...(c.momentum > 0 ? ["b"] : [])];
    case "adam":
    case "adamw":
      return ["m", "v"];
  }
}

/*
 * Each step function updates p in place. Given a `backup` (guardedStep), it returns Σ p² after the
 * update where a guarded kernel did the whole job, else it copies p into backup before the update
 * and returns null (the caller then sums).
 */

function sgdStep(c: Resolved<"sgd">, s: Buffers, p: FloatArray, g: FloatArray, lr: number, t: number, kernels: OptimizerKernels | undefined, backup: FloatArray | null): number | null {
  const { momentum: mu, nesterov, weightDecay: wd } = c;
  const b = s.b;
  const scalars = { lr, weightDecay: wd, momentum: mu, nesterov, firstStep: t === 1 };
  if (backup) {
    const sum = kernels?.sgdGuarded?.(p, g, b ?? null, scalars, backup) ?? null;
    if (sum !== null) return sum;
    backup.set(p);
  }
  if (kernels?.sgd(p, g, b ?? null, scalars)) return null;
  for (let i = 0; i < p.length; i++) {
    let d = g[i] + wd * p[i];
    if (b) {
      b[i] = t === 1 ? d : mu * b[i] + d; // PyTorch starts the buffer at the first gradient
      d = nesterov ? d + mu * b[i] : b[i];
    }
    p[i] -= lr * d;
  }
  return null;
}

function adagradStep(c: Resolved<"adagrad">, s: Buffers, p: FloatArray, g: FloatArray, lr: number, backup: FloatArray | null): null {
  const { eps, weightDecay: wd } = c;
  const sum = s.sum;
  backup?.set(p);
  for (let i = 0; i < p.length; i++) {
    const d = g[i] + wd * p[i];
    sum[i] += d * d;
    p[i] -= lr * (d / (Math.sqrt(sum[i]) + eps));
  }
  return null;
}

function rmspropStep(c: Resolved<"rmsprop">, s: Buffers, p: FloatArray, g: FloatArray, lr: number, backup: FloatArray | null): null {
  const { alpha, eps, momentum: mu, weightDecay: wd } = c;
  const { v, gAve, b } = s;
  backup?.set(p);
  for (let i = 0; i < p.length; i++) {
    const d = g[i] + wd * p[i];
    v[i] = alpha * v[i] + (1 - alpha) * d * d;
    let a: number;
    if (gAve) {
      gAve[i] = alpha * gAve[i] + (1 - alpha) * d;
      a = Math.sqrt(v[i] - gAve[i] * gAve[i]) + eps;
    } else {
      a = Math.sqrt(v[i]) + eps;
    }
    if (b) {
      b[i] = mu * b[i] + d / a;
      p[i] -= lr * b[i];
    } else {
      p[i] -= lr * (d / a);
    }
  }
  return null;
}

/** Adam and AdamW; the bias corrections are folded into the step size as PyTorch does. */
function adamStep(
  c: Resolved<"adam" | "adamw">,
  s: Buffers,
  p: FloatArray,
  g: FloatArray,
  lr: number,
  t: number,
  kernels: OptimizerKernels | undefined,
  backup: FloatArray | null,
): number | null {
  const { beta1: b1, beta2: b2, eps } = c;
  const l2 = c.kind === "adam" ? c.weightDecay : 0;
  const shrink = c.kind === "adamw" ? 1 - lr * c.weightDecay : 1;
  const { m, v } = s;
  const stepSize = lr / (1 - b1 ** t);
  const sqrtCorrection2 = Math.sqrt(1 - b2 ** t);
  const scalars = { shrink, l2, beta1: b1, beta2: b2, stepSize, sqrtCorrection2, eps };
  if (backup) {
    const sum = kernels?.adamGuarded?.(p, g, m, v, scalars, backup) ?? null;
    if (sum !== null) return sum;
    backup.set(p);
  }
  if (kernels?.adam(p, g, m, v, scalars)) return null;
  for (let i = 0; i < p.length; i++) {
    p[i] *= shrink;
    const d = g[i] + l2 * p[i];
    m[i] = b1 * m[i] + (1 - b1) * d;
    v[i] = b2 * v[i] + (1 - b2) * d * d;
    // lr·m̂/(√v̂ + ε) = (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
    p[i] -= stepSize * (m[i] / (Math.sqrt(v[i]) / sqrtCorrection2 + eps));
  }
  return null;
}

/**
 * An optimizer for a parameter buffer of `size` elements of `dtype`, its moments zeroed and t = 0.
 * Throws on an invalid config (unknown kind or option, out-of-range value, Nesterov without
 * momentum).
 */
export function createOptimizer(config: OptimizerConfig, size: number, dtype: DType): Optimizer {
  const c = resolve(config);
  if (!Number.isInteger(size) || size < 0) throw new Error(`optimizer size must be an integer ≥ 0, got ${size}`);
  const names = bufferNames(c);
  const buffers: Buffers = Object.fromEntries(names.map((name) => [name, allocate(dtype, size)]));
  let t = 0;
  const update = (params: FloatArray, grads: FloatArray, lr: number, kernels: OptimizerKernels | undefined, backup: FloatArray | null): number | null => {
    if (params.length !== size || grads.length !== size) {
      throw new Error(`optimizer was made for ${size} parameters; got ${params.length} parameters and ${grads.length} gradients`);
    }
    if (dtypeOf(params) !== dtype) {
      throw new Error(`optimizer state is ${dtype} but the parameters are ${dtypeOf(params)}; create the optimizer with the parameters' dtype`);
    }
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`learning rate must be a number ≥ 0, got ${lr}`);
    t++;
    switch (c.kind) {
      case "sgd":
        return sgdStep(c, buffers, params, grads, lr, t, kernels, backup);
      case "adagrad":
        return adagradStep(c, buffers, params, grads, lr, backup);
      case "rmsprop":
        return rmspropStep(c, buffers, params, grads, lr, backup);
      case "adam":
      case "adamw":
        return adamStep(c, buffers, params, grads, lr, t, kernels, backup);
    }
  };
  return {
    config: c,
    size,
    dtype,
    get t() {
      return t;
    },
    step(params, grads, lr = c.lr, kernels) {
      update(params, grads, lr, kernels, null);
    },
    guardedStep(params, grads, backup, lr = c.lr, kernels) {
      if (backup.length !== size || dtypeOf(backup) !== dtype) {
        throw new Error(`the backup must be a ${dtype} buffer of ${size} elements, got ${dtypeOf(backup)} × ${backup.length}`);
      }
      return update(params, grads, lr, kernels, backup) ?? sumSquares(params, kernels);
    },
    exportState() {
      return { kind: c.kind, t, buffers: Object.fromEntries(names.map((name) => [name, Array.from(buffers[name])])) };
    },
    importState(state) {
      if (state.kind !== c.kind) throw new Error(`optimizer state is for ${state.kind}, but this optimizer is ${c.kind}`);
      if (!Number.isInteger(state.t) || state.t < 0) throw new Error(`optimizer state step count t must be an integer ≥ 0, got ${state.t}`);
      const given = Object.keys(state.buffers ?? {}).sort();
      if (given.join() !== [...names].sort().join()) {
        throw new Error(
          `${c.kind} state buffers are [${given.join(", ")}] but this configuration needs [${names.join(", ")}]` +
            " (momentum and centered change which buffers exist)",
        );
      }
      for (const name of names) {
        const values = state.buffers[name];
        if (!Array.isArray(values) || values.length !== size || !values.every((x) => typeof x === "number")) {
          throw new Error(`${c.kind} state buffer "${name}" must be an array of ${size} numbers, got ${Array.isArray(values) ? `${values.length} entries` : typeof values}`);
        }
      }
      for (const name of names) buffers[name].set(state.buffers[name]);
      t = state.t;
    },
  };
}
