/**
 * The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; in the form of Le, Jaitly &
 * Hinton 2015, "A Simple Way to Initialize Recurrent Networks of Rectified Linear Units", §4.1):
 *
 *   x_t = (u_t, m_t),  u_t ~ U(0, 1),  m_t ∈ {0, 1} with exactly two 1s: one at a position drawn
 *   uniformly from the first half [0, ⌊T/2⌋), one from the second half [⌊T/2⌋, T)
 *   target (read at the last step):  y = Σ_t m_t u_t
 *
 * Always predicting 1 (the mean of y) gives MSE = Var(u + u') = 2/12 ≈ 0.167: the baseline.
 */
import { allocate, type DType } from "../../tensor/dtype.js";
import type { Rng } from "../../tensor/random.js";
import { checkLength, type Task } from "./task.js";

// Dimensions: T steps, B batch; inputs I = 2 (value, marker), output O = 1.

/** The adding problem. */
export const addingTask: Task = {
  name: "adding",
  title: "Adding problem",
  citation: "Hochreiter & Schmidhuber (1997), experiment 4; as in Le, Jaitly & Hinton (2015)",
  description:
    "Each step shows a random number in [0, 1] and a marker bit. Exactly two steps are marked, one in each half of the " +
    "sequence; after the last step the network must output the sum of the two marked numbers.",
  lengthMeaning: "sequence length",
  inputSize: 2,
  outputSize: 1,
  loss: "mse-last",
  metric: { name: "mse", better: "lower", unit: "mean squared error" },
  minT: 2,
  baseline: () => 1 / 6,
  baselineMeaning: "always answering 1, the mean of the sum: MSE = Var(u₁ + u₂) = 1/6 ≈ 0.167",
  solved: (value) => value < 0.01,
  solvedMeaning: "test MSE below 0.01 (6% of the baseline)",

  sample(rng: Rng, T: number, B: number, dtype: DType) {
    checkLength(addingTask, T);
    const x = allocate(dtype, T * B * 2); // (T, B, 2)
    const y = new Float64Array(B); // (B, 1)
    const half = Math.floor(T / 2);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) x[(t * B + b) * 2] = rng.uniform();
      const t1 = rng.int(half);
      const t2 = half + rng.int(T - half);
      x[(t1 * B + b) * 2 + 1] = 1;
      x[(t2 * B + b) * 2 + 1] = 1;
      // the sum of the values as stored (float32 rounds them), so a perfect model can reach 0
      y[b] = x[(t1 * B + b) * 2] + x[(t2 * B + b) * 2];
    }
    return { T, B, x, target: { kind: "mse-last", y } };
  },

  score(batch, out) {
    const { T, B, target } = batch;
    if (target.kind !== "mse-last") throw new Error("adding: wrong target kind");
    let sum = 0;
    for (let b = 0; b < B; b++) {
      const e = out[(T - 1) * B + b] - target.y[b];
      sum += e * e;
    }
    return { sum, count: B };
  },
};
