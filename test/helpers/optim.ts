/**
 * What the optimizer-kernel tests share (test/optim-native.test.ts, test/optim-wasm.test.ts): the
 * configurations, sizes and values they run, and a bit-for-bit comparison.
 */
import { expect } from "vitest";
import { Rng } from "../../src/tensor/random.js";
import type { OptimizerConfig } from "../../src/train/optimizers.js";

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
