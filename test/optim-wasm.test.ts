/**
 * The wasm backend's optimizer and gradient-norm kernels (assembly/optim.ts) against src/train's
 * loops, the specification: SGD, Adam and AdamW updates and the clipping scale bit for bit, Σ x²
 * within float64 rounding; for the plain SIMD128 module and, where the engine has relaxed SIMD,
 * the relaxed one (the optimizer code is the same in both; the modules differ in the GEMM kernel).
 */
import { describe, expect, it } from "vitest";
import { wasmBackend } from "../src/backend/wasm/index.js";
import { moduleBytes } from "../src/backend/wasm/kernels.js";
import { Rng } from "../src/tensor/random.js";
import { clipGradNorm, globalNorm } from "../src/train/clip.js";
import { CONFIGS, LENGTHS, expectSameBits, expectStepsLikeLoop, randomValues } from "./helpers/optim.js";
import { wasmBackendOf } from "./helpers/wasm-checks.js";

const variants = [
  ["the modules this engine picks", wasmBackend.optimizerKernels!],
  ["the plain SIMD128 module", wasmBackendOf(moduleBytes(false)).optimizerKernels!],
] as const;

describe("wasm optimizer kernels", () => {
  for (const config of CONFIGS) {
    const name = `${config.kind} ${JSON.stringify(config).slice(1, -1).replace(/"/g, "")}`;
    it(`${name}: four steps equal the JavaScript loop bit for bit`, () => {
      for (const [label, kernels] of variants) {
        expectStepsLikeLoop(config, kernels, label);
      }
    });
  }

  it("work on views at any offset, and leave float64 buffers to the loops", () => {
    const [, kernels] = variants[0];
    const rng = Rng.seeded(4);
    const buf = randomValues(rng, 1005);
    const x = buf.subarray(3, 1002);
    const want = x.slice();
    for (let i = 0; i < want.length; i++) want[i] *= 0.5;
    const around = [buf[2], buf[1002]];
    expect(kernels.scale(x, 0.5)).toBe(true);
    expectSameBits(x, want, "scale on a view");
    expect([buf[2], buf[1002]]).toEqual(around);
    const d = new Float64Array(8);
    expect(kernels.scale(d, 0.5)).toBe(false);
    expect(kernels.sumSquares(d)).toBe(null);
    expect(kernels.sgd(d, d, null, { lr: 1, weightDecay: 0, momentum: 0, nesterov: false, firstStep: true })).toBe(false);
  });

  it("scale equals grads[i] *= s bit for bit; sumSquares is Σ x² within 1e-12; clipping agrees with the loops", () => {
    for (const [label, kernels] of variants) {
      for (const n of [0, ...LENGTHS]) {
        const rng = Rng.seeded(7 + n);
        const x = randomValues(rng, n);
        let reference = 0;
        for (let i = 0; i < n; i++) reference += x[i] * x[i];
        expect(Math.abs(kernels.sumSquares(x)! - reference), `${label}, n = ${n}`).toBeLessThanOrEqual(1e-12 * reference);
        const s = rng.range(0, 1);
        const js = x.slice();
        for (let i = 0; i < n; i++) js[i] *= s;
        expect(kernels.scale(x, s)).toBe(true);
        expectSameBits(x, js, `${label}, n = ${n}`);
      }
      const x = randomValues(Rng.seeded(5), 100003);
      const y = x.slice();
      const norm = globalNorm(y);
      expect(Math.abs(globalNorm(x, kernels) - norm)).toBeLessThanOrEqual(1e-12 * norm);
      expect(Math.abs(clipGradNorm(x, norm / 3, kernels) - clipGradNorm(y, norm / 3))).toBeLessThanOrEqual(1e-12 * norm);
      let worst = 0; // the scale factors may differ in their last bits, so the clipped values by at most an ulp
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.abs(y[i] || 1));
      expect(worst).toBeLessThanOrEqual(2 ** -23);
    }
  });
});
