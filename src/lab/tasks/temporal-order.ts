/**
 * The temporal order problem (Hochreiter & Schmidhuber 1997, experiment 6a, "two relevant, widely
 * separated symbols"), with the positions scaled to the length T:
 *
 *   input:   E, then random distractors from {a, b, c, d}, except x_{t1}, x_{t2} ∈ {X, Y}, then B
 *            t1 uniform in [⌊0.1T⌉, ⌊0.2T⌉], t2 uniform in [⌊0.5T⌉, ⌊0.6T⌉]   (T = 100: 10–20, 50–60)
 *   target (read at the last step, the trigger B):  the order, XX → 0, XY → 1, YX → 2, YY → 3
 *
 * A model that cannot keep both symbols until the end guesses: accuracy 1/4, the baseline.
 */
import { allocate, type DType } from "../../tensor/dtype.js";
import type { Rng } from "../../tensor/random.js";
import { argmax, checkLength, type Task } from "./task.js";

// Dimensions: T steps, B batch; inputs I = 8 (one-hot a b c d X Y E B), outputs O = 4 classes.

const I = 8;
const O = 4;
const X = 4;
const E = 6;
const TRIGGER = 7;

/** The temporal order problem. */
export const temporalOrderTask: Task = {
  name: "temporal-order",
  title: "Temporal order",
  citation: "Hochreiter & Schmidhuber (1997), experiment 6a",
  description:
    "A stream of random distractor symbols hides two relevant ones, each X or Y: one early (10–20% into the sequence), " +
    "one in the middle (50–60%). At the end the network must say in which order they came: XX, XY, YX or YY.",
  lengthMeaning: "sequence length",
  inputSize: I,
  outputSize: O,
  loss: "xent",
  metric: { name: "accuracy", better: "higher", unit: "fraction of sequences classified correctly" },
  minT: 10,
  baseline: () => 0.25,
  baselineMeaning: "guessing one of the four orders: accuracy 1/4",
  solved: (value) => value >= 0.95,
  solvedMeaning: "test accuracy at least 95%",

  sample(rng: Rng, T: number, B: number, dtype: DType) {
    checkLength(temporalOrderTask, T);
    const x = allocate(dtype, T * B * I); // (T, B, I)
    const y = new Int32Array(T * B).fill(-1); // only the last step is scored
    const [lo1, hi1] = [Math.round(0.1 * T), Math.round(0.2 * T)];
    const [lo2, hi2] = [Math.round(0.5 * T), Math.round(0.6 * T)];
    for (let b = 0; b < B; b++) {
      const t1 = lo1 + rng.int(hi1 - lo1 + 1);
      const t2 = lo2 + rng.int(hi2 - lo2 + 1);
      const s1 = rng.int(2);
      const s2 = rng.int(2);
      for (let t = 0; t < T; t++) {
        const v = t === 0 ? E : t === T - 1 ? TRIGGER : t === t1 ? X + s1 : t === t2 ? X + s2 : rng.int(4);
        x[(t * B + b) * I + v] = 1;
      }
      y[(T - 1) * B + b] = 2 * s1 + s2;
    }
    return { T, B, x, target: { kind: "xent", y } };
  },

  score(batch, out) {
    const { T, B, target } = batch;
    if (target.kind !== "xent") throw new Error("temporal-order: wrong target kind");
    let sum = 0;
    for (let b = 0; b < B; b++) if (argmax(out, ((T - 1) * B + b) * O, O) === target.y[(T - 1) * B + b]) sum++;
    return { sum, count: B };
  },
};
