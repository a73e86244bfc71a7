/**
 * What the optimizer-kernel tests share (test/optim-native.test.ts, test/optim-wasm.test.ts): the
 * configurations, sizes and values they run, and a bit-for-bit comparison.
 */
import { expect } from "vitest";
import { Rng } from "../../src/tensor/random.js";
import type { OptimizerKernels } from "../../src/backend/backend.js";
import { createOptimizer, type OptimizerConfig } from "../../src/train/optimizers.js";

export const LENGTHS = [1, 7, 100003];
export const THREADS = [1, 2];
export const CONFIGS: readonly OptimizerConfig[] = [
  { kind: "adam", lr: 1e-2 },
  { kind: "adam", lr: 1e-2, beta1: 0.8, weightDecay: 0.1 },
  { kind: "adamw", lr: 1e-2, weightDecay: 0.1 },
  { kind: "sgd", lr: 0.1 },
  { kind: "sgd", lr: 0.1, weightDecay: 0.01 },
  { kind: "sgd", lr: 0.1, momentum: 0.9 },
  { kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
];

/** Values over several orders of magnitude, both signs, some exact zeros: every rounding case gets exercised. */
export function randomValues(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.uniform() < 0.01 ? 0 : rng.range(-1, 1) * 10 ** rng.range(-6, 1)));
}

/** The first index where a and b differ in their bits, or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

export function expectSameBits(kernel: Float32Array, js: Float32Array, what: string): void {
  const i = firstDifference(kernel, js);
  expect(i, `${what}: first difference at ${i}: kernel ${kernel[i]}, JS ${js[i]}`).toBe(-1);
}

/**
 * Four steps of `config` (a decaying lr) with `kernels` and with the loops: parameters and moments
 * bit for bit, for every length. A third optimizer takes guarded steps (`guardedStep`, the
 * kernels' guarded updates where they have them): the same bits, the backup holds the parameters
 * as they were before each step, and the sum returned is the kernels' own Σ p² of the result.
 */
export function expectStepsLikeLoop(config: OptimizerConfig, kernels: OptimizerKernels, label: string): void {
  for (const n of LENGTHS) {
    const rng = Rng.seeded(n);
    const p0 = randomValues(rng, n);
    const js = createOptimizer(config, n, "float32");
    const withKernels = createOptimizer(config, n, "float32");
    const guarded = createOptimizer(config, n, "float32");
    const pJs = p0.slice();
    const pKernels = p0.slice();
    const pGuarded = p0.slice();
    const backup = new Float32Array(n).fill(Number.NaN);
    for (let k = 0; k < 4; k++) {
      const g = randomValues(rng, n);
      const lr = config.lr * (1 - 0.2 * k); // a schedule: the step's lr, not the config's
      const before = pGuarded.slice();
      js.step(pJs, g, lr);
      withKernels.step(pKernels, g, lr, kernels);
      const sum = guarded.guardedStep!(pGuarded, g, backup, lr, kernels);
      expectSameBits(pKernels, pJs, `${label}, n = ${n}, step ${k + 1}, parameters`);
      expectSameBits(pGuarded, pJs, `${label}, n = ${n}, step ${k + 1}, parameters of a guarded step`);
      expectSameBits(backup, before, `${label}, n = ${n}, step ${k + 1}, the guarded step's backup`);
      expect(sum, `${label}, n = ${n}, step ${k + 1}, Σ p² after a guarded step`).toBe(kernels.sumSquares(pJs));
    }
    const a = js.exportState();
    const b = withKernels.exportState();
    const c = guarded.exportState();
    for (const buffer of Object.keys(a.buffers)) {
      expectSameBits(Float32Array.from(b.buffers[buffer]), Float32Array.from(a.buffers[buffer]), `${label}, n = ${n}, ${buffer}`);
      expectSameBits(Float32Array.from(c.buffers[buffer]), Float32Array.from(a.buffers[buffer]), `${label}, n = ${n}, ${buffer} of guarded steps`);
    }
  }
}
