/**
 * A synthetic long-range task: a seeded data generator plus how its outputs are scored. A task
 * knows its input and output widths, its loss shape, its metric and the trivial baseline that a
 * model with no long-range memory achieves, so a learning curve can be read against it.
 */
import type { DType, FloatArray } from "../../tensor/dtype.js";
import type { Rng } from "../../tensor/random.js";

// Dimensions: T steps of a batch, B batch, I input features, O outputs.

/** The tasks of the lab. */
export type TaskName = "adding" | "copy" | "reber" | "temporal-order";

/**
 * Where the loss sits:
 * - `mse-last`: many-to-one regression, squared error of the output at the last step;
 * - `xent`: softmax cross-entropy per step, steps with target −1 not counted (many-to-many, or
 *   many-to-one when only the last step has a target);
 * - `bce`: sigmoid binary cross-entropy per label per step (multi-label), masked steps not counted.
 */
export type LossKind = "mse-last" | "xent" | "bce";

/** The targets of a batch, by loss kind. */
export type Target =
  | { readonly kind: "mse-last"; /** (B, O) */ readonly y: Float64Array }
  | { readonly kind: "xent"; /** (T·B) time-major class per step, −1 = not counted */ readonly y: Int32Array }
  | {
      readonly kind: "bce";
      /** (T, B, O) 0/1 labels */ readonly y: Float64Array;
      /** (T·B) 1 = counted step, 0 = padding or no target */ readonly mask: Uint8Array;
    };

/** A batch of B sequences of T steps, time-major. */
export interface TaskBatch {
  readonly T: number;
  readonly B: number;
  /** (T, B, I) */ readonly x: FloatArray;
  readonly target: Target;
}

/** The number a task is judged by. */
export interface TaskMetric {
  /** Short name, as in the JSON report ("mse", "xent", "strings-correct", "accuracy"). */
  readonly name: string;
  readonly better: "lower" | "higher";
  /** Unit or explanation, for reports ("nats per step", "fraction of strings"). */
  readonly unit: string;
}

/** Σ over sequences (or steps) of a metric, and the count to divide by. */
export interface Score {
  readonly sum: number;
  readonly count: number;
}

/** A task: data and scoring. */
export interface Task {
  readonly name: TaskName;
  /** Display name ("Adding problem"). */
  readonly title: string;
  /** Where the task comes from, as cited in reports. */
  readonly citation: string;
  /** What the model sees and must output, in a sentence or two (for a class). */
  readonly description: string;
  /** What `T` means for this task. */
  readonly lengthMeaning: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly loss: LossKind;
  readonly metric: TaskMetric;
  /** Smallest T the generator accepts. */
  readonly minT: number;
  /** The metric of the trivial solution at T (no long-range memory). */
  baseline(T: number): number;
  /** How the baseline is obtained, in words. */
  readonly baselineMeaning: string;
  /** Whether a metric value counts as solving the task. */
  solved(value: number, T: number): boolean;
  /** The success criterion, in words. */
  readonly solvedMeaning: string;
  /** B fresh sequences, drawn from `rng`. */
  sample(rng: Rng, T: number, B: number, dtype: DType): TaskBatch;
  /** The metric of a batch from the model's outputs (T, B, O) (logits, or predictions for mse). */
  score(batch: TaskBatch, out: FloatArray): Score;
}

/** Throws unless T is an integer ≥ the task's minimum. */
export function checkLength(task: Pick<Task, "name" | "minT">, T: number): void {
  if (!Number.isInteger(T) || T < task.minT) throw new Error(`${task.name}: T must be an integer ≥ ${task.minT}, got ${T}`);
}

/** Index of the largest of O values starting at `off`. */
export function argmax(z: ArrayLike<number>, off: number, O: number): number {
  let best = 0;
  for (let o = 1; o < O; o++) if (z[off + o] > z[off + best]) best = o;
  return best;
}
