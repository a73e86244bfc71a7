/**
 * Learning-rate schedules. Closed-form schedules are a plain config and the pure function
 * `scheduledLr(config, n)`, where n counts from 0 whatever the caller steps the schedule by
 * (optimizer steps or epochs; char-rnn's decay counts completed epochs). With base rate lr:
 *
 *   constant        lr
 *   char-rnn-decay  lr · decay^max(0, ⌊n⌋ − max(decayAfter, 1) + 1)       (char-rnn `train.lua`)
 *   step            lr · γ^⌊n / stepSize⌋                                  (PyTorch `StepLR`)
 *   exponential     lr · γⁿ                                                (PyTorch `ExponentialLR`)
 *   cosine          n < W:  lr · (n + 1) / W                               (linear warmup, W = warmup)
 *                   n ≥ W:  ηmin + (lr − ηmin)·(1 + cos(π (n − W) / tMax)) / 2
 *                   (PyTorch `CosineAnnealingLR` closed form, shifted by the warmup)
 *
 * The metric-driven schedule, PyTorch's `ReduceLROnPlateau`, holds state: `createPlateau`.
 */

/** A fixed learning rate. */
export interface ConstantSchedule {
  readonly kind: "constant";
  readonly lr: number;
}

/**
 * char-rnn's decay (`learning_rate_decay`, `learning_rate_decay_after`): at the end of every epoch
 * e = 1, 2, … with e ≥ decayAfter, the rate is multiplied by `decay`. Stepped by completed epochs.
 */
export interface CharRnnDecaySchedule {
  readonly kind: "char-rnn-decay";
  readonly lr: number;
  /** Factor per epoch in (0, 1]; default 0.97. */
  readonly decay?: number;
  /** First epoch whose end decays the rate; default 10. */
  readonly decayAfter?: number;
}

/** Multiply by γ every `stepSize` steps (PyTorch `StepLR`). */
export interface StepSchedule {
  readonly kind: "step";
  readonly lr: number;
  readonly stepSize: number;
  /** γ > 0, default 0.1. */
  readonly gamma?: number;
}

/** Multiply by γ every step (PyTorch `ExponentialLR`). */
export interface ExponentialSchedule {
  readonly kind: "exponential";
  readonly lr: number;
  /** γ > 0. */
  readonly gamma: number;
}

/**
 * Cosine annealing from lr to ηmin over tMax steps after an optional linear warmup. As in
 * PyTorch's closed form, past tMax the rate follows the cosine back up (period 2·tMax).
 */
export interface CosineSchedule {
  readonly kind: "cosine";
  readonly lr: number;
  readonly tMax: number;
  /** ηmin, default 0. */
  readonly etaMin?: number;
  /** Warmup steps W, rising linearly to lr; default 0. */
  readonly warmup?: number;
}

/** A closed-form learning-rate schedule. */
export type LrScheduleConfig = ConstantSchedule | CharRnnDecaySchedule | StepSchedule | ExponentialSchedule | CosineSchedule;

/** Throws unless `value` is a finite number ≥ `min` (> `min` when `strict`), and an integer when `integer`. */
function checkNumber(what: string, value: unknown, min: number, strict = false, integer = false): asserts value is number {
  const ok = typeof value === "number" && Number.isFinite(value) && (strict ? value > min : value >= min) && (!integer || Number.isInteger(value));
  if (!ok) throw new Error(`${what} must be ${integer ? "an integer" : "a number"} ${strict ? ">" : "≥"} ${min}, got ${value}`);
}

/** Throws when `config` has a key outside `options`. */
function checkKeys(config: object, kind: string, options: readonly string[]): void {
  for (const key of Object.keys(config)) {
    if (key !== "kind" && !options.includes(key)) throw new Error(`${kind} schedule has no option "${key}"; its options are ${options.join(", ")}`);
  }
}

/** The learning rate of `config` at count `n` ≥ 0 (see the module comment); throws on an invalid config. */
export function scheduledLr(config: LrScheduleConfig, n: number): number {
  checkNumber("schedule position", n, 0);
  checkNumber(`${config.kind} schedule lr`, config.lr, 0);
  switch (config.kind) {
    case "constant":
      checkKeys(config, config.kind, ["lr"]);
      return config.lr;
    case "char-rnn-decay": {
      checkKeys(config, config.kind, ["lr", "decay", "decayAfter"]);
      const { decay = 0.97, decayAfter = 10 } = config;
      checkNumber("char-rnn-decay decay", decay, 0, true);
      checkNumber("char-rnn-decay decayAfter", decayAfter, 0, false, true);
      // The end of epoch e ≥ 1 decays when e ≥ decayAfter; ⌊n⌋ epochs have ended.
      return config.lr * decay ** Math.max(0, Math.floor(n) - Math.max(decayAfter, 1) + 1);
    }
    case "step": {
      checkKeys(config, config.kind, ["lr", "stepSize", "gamma"]);
      const { stepSize, gamma = 0.1 } = config;
      checkNumber("step schedule stepSize", stepSize, 0, true, true);
      checkNumber("step schedule gamma", gamma, 0, true);
      return config.lr * gamma ** Math.floor(n / stepSize);
    }
    case "exponential":
      checkKeys(config, config.kind, ["lr", "gamma"]);
      checkNumber("exponential schedule gamma", config.gamma, 0, true);
      return config.lr * config.gamma ** n;
    case "cosine": {
      checkKeys(config, config.kind, ["lr", "tMax", "etaMin", "warmup"]);
      const { lr, tMax, etaMin = 0, warmup = 0 } = config;
      checkNumber("cosine schedule tMax", tMax, 0, true, true);
      checkNumber("cosine schedule etaMin", etaMin, 0);
      checkNumber("cosine schedule warmup", warmup, 0, false, true);
      if (n < warmup) return (lr * (n + 1)) / warmup;
      return etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * (n - warmup)) / tMax))) / 2;
    }
    default:
      throw new Error(`unknown schedule kind "${(config as { kind: unknown }).kind}"; use constant, char-rnn-decay, step, exponential or cosine`);
  }
}

/** PyTorch's `ReduceLROnPlateau`: cut the rate by `factor` when a metric stops improving. */
export interface PlateauConfig {
  readonly kind: "plateau";
  /** Starting rate. */
  readonly lr: number;
  /** "min": lower metric is better (a loss); "max": higher is better. Default "min". */
  readonly mode?: "min" | "max";
  /** New rate = max(rate · factor, minLr); factor in (0, 1), default 0.1. */
  readonly factor?: number;
  /** Observations without improvement tolerated before a cut; default 10. */
  readonly patience?: number;
  /** Improvement needed to count as better; default 1e-4. */
  readonly threshold?: number;
  /** "rel": better than best·(1 ∓ threshold); "abs": better than best ∓ threshold. Default "rel". */
  readonly thresholdMode?: "rel" | "abs";
  /** Observations after a cut during which bad ones are not counted; default 0. */
  readonly cooldown?: number;
  /** Floor of the rate; default 0. */
  readonly minLr?: number;
}

/** A plateau schedule's state as plain JSON-safe data. */
export interface PlateauState {
  readonly kind: "plateau";
  readonly lr: number;
  /** Best metric so far; null before the first finite observation. */
  readonly best: number | null;
  /** Observations since the last improvement (reset by a cut and during cooldown). */
  readonly badCount: number;
  /** Observations left in the cooldown. */
  readonly cooldownLeft: number;
}

/** A running `ReduceLROnPlateau`. */
export interface Plateau {
  readonly config: Required<PlateauConfig>;
  /** The current learning rate. */
  readonly lr: number;
  /** Records one metric (e.g. a validation loss); returns true when this cut the rate. */
  observe(metric: number): boolean;
  /** A copy of the state. */
  exportState(): PlateauState;
  /** Replaces the state with `state`, after checking it. */
  importState(state: PlateauState): void;
}

/** Differences below this are not applied as a cut (PyTorch's `eps`). */
const PLATEAU_EPS = 1e-8;

/**
 * A plateau schedule at its starting rate. `observe` follows PyTorch's `ReduceLROnPlateau.step`:
 * an improvement resets the bad count, otherwise it grows; in cooldown it is held at 0; once it
 * exceeds `patience`, the rate is cut and the cooldown starts. One deviation, so the state stays
 * JSON-safe: a non-finite metric (NaN, ±∞) never counts as an improvement.
 */
export function createPlateau(config: PlateauConfig): Plateau {
  checkKeys(config, "plateau", ["lr", "mode", "factor", "patience", "threshold", "thresholdMode", "cooldown", "minLr"]);
  const c: Required<PlateauConfig> = {
    mode: "min",
    factor: 0.1,
    patience: 10,
    threshold: 1e-4,
    thresholdMode: "rel",
    cooldown: 0,
    minLr: 0,
    ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
  } as Required<PlateauConfig>;
  checkNumber("plateau lr", c.lr, 0);
  if (c.mode !== "min" && c.mode !== "max") throw new Error(`plateau mode must be "min" or "max", got ${c.mode}`);
  if (c.thresholdMode !== "rel" && c.thresholdMode !== "abs") throw new Error(`plateau thresholdMode must be "rel" or "abs", got ${c.thresholdMode}`);
  checkNumber("plateau factor", c.factor, 0, true);
  if (c.factor >= 1) throw new Error(`plateau factor must be < 1, got ${c.factor}`);
  checkNumber("plateau patience", c.patience, 0, false, true);
  checkNumber("plateau threshold", c.threshold, 0);
  checkNumber("plateau cooldown", c.cooldown, 0, false, true);
  checkNumber("plateau minLr", c.minLr, 0);

  const sign = c.mode === "min" ? -1 : 1;
  const isBetter = (a: number, best: number | null): boolean => {
    if (!Number.isFinite(a)) return false;
    if (best === null) return true;
    const bar = c.thresholdMode === "rel" ? best * (1 + sign * c.threshold) : best + sign * c.threshold;
    return c.mode === "min" ? a < bar : a > bar;
  };

  let lr = c.lr;
  let best: number | null = null;
  let badCount = 0;
  let cooldownLeft = 0;
  return {
    config: c,
    get lr() {
      return lr;
    },
    observe(metric) {
      if (isBetter(metric, best)) {
        best = metric;
        badCount = 0;
      } else {
        badCount++;
      }
      if (cooldownLeft > 0) {
        cooldownLeft--;
        badCount = 0;
      }
      if (badCount <= c.patience) return false;
      cooldownLeft = c.cooldown;
      badCount = 0;
      const cut = Math.max(lr * c.factor, c.minLr);
      if (lr - cut <= PLATEAU_EPS) return false;
      lr = cut;
      return true;
    },
    exportState() {
      return { kind: "plateau", lr, best, badCount, cooldownLeft };
    },
    importState(state) {
      if (state.kind !== "plateau") throw new Error(`schedule state is for ${state.kind}, not plateau`);
      checkNumber("plateau state lr", state.lr, 0);
      if (state.best !== null && !Number.isFinite(state.best)) throw new Error(`plateau state best must be a finite number or null, got ${state.best}`);
      checkNumber("plateau state badCount", state.badCount, 0, false, true);
      checkNumber("plateau state cooldownLeft", state.cooldownLeft, 0, false, true);
      ({ lr, best, badCount, cooldownLeft } = state);
    },
  };
}
