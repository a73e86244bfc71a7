/**
 * The native optimizer and gradient-norm kernels (native/optim.c) against src/train's loops, the
 * specification: SGD, Adam and AdamW updates and the clipping scale bit for bit, Σ x² within
 * float64 rounding and independent of the thread count, each for every ISA the CPU runs and for 1
 * and 2 threads (100003 elements crosses the size from which the pool is used).
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { parseCell } from "../src/cells/cell.js";
import { createLanguageModel, type RecurrentState } from "../src/model/language-model.js";
import { nativeAddon, nativeBackend, nativeOptimizerKernels } from "../src/node/native-backend.js";
import { Rng } from "../src/tensor/random.js";
import type { Chunk } from "../src/text/batches.js";
import { clipGradNorm, globalNorm } from "../src/train/clip.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { createOptimizer, type OptimizerConfig } from "../src/train/optimizers.js";
import { createStepContext, trainStep } from "../src/train/step.js";
import { CONFIGS, LENGTHS, THREADS, expectSameBits, expectStepsLikeLoop, randomValues } from "./helpers/optim.js";
import { nativeIsasRestoredAfterEach } from "./helpers/native.js";

describe.skipIf(!nativeAddon)("native optimizer kernels", () => {
  const addon = nativeAddon!;
  const kernels = nativeOptimizerKernels(addon);
  const isas = nativeIsasRestoredAfterEach(addon);

  /** Runs fn under every ISA and thread count, labelled. */
  function everyPath(fn: (label: string) => void): void {
    for (const isa of isas) {
      expect(addon.setIsa(isa)).toBe(true);
      for (const threads of THREADS) {
        addon.setThreads(threads);
        fn(`${isa}, ${threads} thread${threads > 1 ? "s" : ""}`);
      }
    }
  }

  for (const config of CONFIGS) {
    const name = `${config.kind} ${JSON.stringify(config).slice(1, -1).replace(/"/g, "")}`;
    it(`${name}: four steps equal the JavaScript loop bit for bit`, () => {
      everyPath((label) => {
        expectStepsLikeLoop(config, kernels, label);
      });
    });
  }

  it("scale equals grads[i] *= s bit for bit", () => {
    everyPath((label) => {
      for (const n of LENGTHS) {
        const rng = Rng.seeded(7 + n);
        const x = randomValues(rng, n);
        const s = rng.range(0, 1);
        const js = x.slice();
        for (let i = 0; i < n; i++) js[i] *= s;
        expect(kernels.scale(x, s)).toBe(true);
        expectSameBits(x, js, `${label}, n = ${n}`);
      }
    });
  });

  it("sumSquares is Σ x² in float64 within 1e-12, the same for every thread count and ISA", () => {
    for (const n of [0, ...LENGTHS, 8192, 8193, 1_000_003]) {
      const x = randomValues(Rng.seeded(3 + n), n);
      let reference = 0;
      for (let i = 0; i < n; i++) reference += x[i] * x[i];
      const sums: number[] = [];
      everyPath(() => sums.push(kernels.sumSquares(x)!));
      expect(Math.abs(sums[0] - reference), `n = ${n}`).toBeLessThanOrEqual(1e-12 * reference);
      expect(new Set(sums).size, `n = ${n}: ${sums.join(", ")}`).toBe(1);
    }
  });

  it("globalNorm and clipGradNorm with the kernels agree with the loops", () => {
    const x = randomValues(Rng.seeded(5), 100003);
    const y = x.slice();
    const norm = globalNorm(x);
    expect(Math.abs(globalNorm(x, kernels) - norm)).toBeLessThanOrEqual(1e-12 * norm);
    const maxNorm = norm / 3;
    const normNative = clipGradNorm(x, maxNorm, kernels);
    const normJs = clipGradNorm(y, maxNorm);
    expect(Math.abs(normNative - normJs)).toBeLessThanOrEqual(1e-12 * normJs);
    // The scale factors may differ in their last bits, so the clipped values by at most an ulp.
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.abs(y[i] || 1));
    expect(worst).toBeLessThanOrEqual(2 ** -23);
    expect(Math.abs(globalNorm(x) - maxNorm)).toBeLessThanOrEqual(1e-6 * maxNorm);
  });

  it("float64 buffers are left to the loops", () => {
    const p = new Float64Array(3);
    const s = { shrink: 1, l2: 0, beta1: 0.9, beta2: 0.999, stepSize: 1, sqrtCorrection2: 1, eps: 1e-8 };
    expect(kernels.adam(p, p.slice(), p.slice(), p.slice(), s)).toBe(false);
    expect(kernels.adam(new Float32Array(3), new Float64Array(3), new Float32Array(3), new Float32Array(3), s)).toBe(false);
    expect(kernels.sgd(p, p.slice(), null, { lr: 1, weightDecay: 0, momentum: 0, nesterov: false, firstStep: true })).toBe(false);
    expect(kernels.sumSquares(p)).toBeNull();
    expect(kernels.sgdGuarded!(new Float32Array(3), new Float32Array(3), null, { lr: 1, weightDecay: 0, momentum: 0, nesterov: false, firstStep: true }, p)).toBeNull();
    expect(kernels.adamGuarded!(new Float32Array(3), new Float32Array(3), new Float32Array(3), new Float32Array(3), s, p)).toBeNull();
    expect(kernels.scale(p, 0.5)).toBe(false);
  });

  it("bad arguments throw and write nothing", () => {
    const f = (n: number) => new Float32Array(n).fill(1);
    const p = f(8);
    const adam = (...args: unknown[]) => (addon.adam as unknown as (...a: unknown[]) => void)(...args);
    const sgd = (...args: unknown[]) => (addon.sgd as unknown as (...a: unknown[]) => void)(...args);
    const scalars = [1, 0, 0.9, 0.999, 1, 1, 1e-8];
    expect(() => adam(p, f(8), f(8), f(8), 8)).toThrow(TypeError); // too few arguments
    expect(() => adam(new Float64Array(8), f(8), f(8), f(8), 8, ...scalars)).toThrow(/adam: p must be a Float32Array/);
    expect(() => adam(p, [1, 2], f(8), f(8), 8, ...scalars)).toThrow(TypeError);
    expect(() => adam(p, f(8), f(7), f(8), 8, ...scalars)).toThrow(RangeError);
    expect(() => adam(p, f(8), f(8), f(8), 9, ...scalars)).toThrow(/adam: p holds 8 elements but n = 9/);
    expect(() => adam(p, f(8), f(8), f(8), -1, ...scalars)).toThrow(RangeError);
    expect(() => adam(p, f(8), f(8), f(8), 2.5, ...scalars)).toThrow(RangeError);
    expect(() => adam(p, f(8), f(8), f(8), 8, 1, 0, "0.9", 0.999, 1, 1, 1e-8)).toThrow(/adam: b1 must be a number/);
    const shared = f(16);
    expect(() => adam(shared.subarray(0, 8), f(8), shared.subarray(7, 15), f(8), 8, ...scalars)).toThrow(/p and m must not overlap/);
    expect(() => sgd(p, f(8), new Float64Array(8), 8, 0.1, 0, 0.9, false, true)).toThrow(/sgd: b must be a Float32Array or null/);
    expect(() => sgd(p, f(8), null, 8, 0.1, 0, 0, 1, true)).toThrow(/sgd: nesterov must be a boolean/);
    expect(() => sgd(p, p, null, 8, 0.1, 0, 0, false, true)).toThrow(/p and g must not overlap/);
    expect(() => sgd(p, f(8), null, 8, 0.1, 0, 0, false, true, f(7))).toThrow(/sgd: backup holds 7 elements but n = 8/);
    expect(() => sgd(p, f(8), null, 8, 0.1, 0, 0, false, true, new Float64Array(8))).toThrow(/sgd: backup must be a Float32Array or null/);
    expect(() => sgd(shared.subarray(0, 8), f(8), null, 8, 0.1, 0, 0, false, true, shared.subarray(4, 12))).toThrow(/backup and p must not overlap/);
    expect(() => adam(p, f(8), shared.subarray(0, 8), f(8), 8, ...scalars, shared.subarray(6, 14))).toThrow(/adam: backup and m must not overlap/);
    expect(() => addon.sumSquares(f(4), 5)).toThrow(RangeError);
    expect(() => addon.scale(f(4), 4, Number.NaN as unknown as number)).not.toThrow();
    expect(() => (addon.scale as unknown as (...a: unknown[]) => void)(f(4), 4)).toThrow(TypeError);
    expect(Array.from(p)).toEqual(Array.from(f(8)));
    expect(Array.from(shared)).toEqual(Array.from(f(16)));
  });

  /** `steps` training steps of a small LSTM language model from seed 1; returns the parameters. */
  function train(backend: Backend, config: OptimizerConfig, clipNorm: number | undefined, steps: number): Float32Array {
    const rng = Rng.seeded(1);
    const model = createLanguageModel({ vocabSize: 29, embedSize: 8, cell: parseCell("lstm"), hiddenSize: 24, numLayers: 2, dropout: 0.2 }, "float32");
    initLanguageModel(model, rng);
    const optimizer = createOptimizer(config, model.params.data.length, "float32");
    const ctx = createStepContext(backend, model, optimizer, rng, clipNorm !== undefined ? { clipNorm } : {});
    let state: RecurrentState | null = null;
    for (let k = 0; k < steps; k++) {
      const n = 10 * 4;
      const chunk: Chunk = { x: Int32Array.from({ length: n }, () => rng.int(29)), y: Int32Array.from({ length: n }, () => rng.int(29)), S: 10, B: 4 };
      state = trainStep(ctx, chunk, state).state;
    }
    return model.params.data as Float32Array;
  }

  it("training steps on the native backend with its kernels are deterministic, and equal the loops without clipping", () => {
    const backend = nativeBackend!;
    expect(backend.optimizerKernels ?? kernels).toBeDefined();
    const withKernels: Backend = { ...backend, optimizerKernels: kernels };
    const { optimizerKernels: _, ...withoutKernels } = backend;
    for (const config of [{ kind: "adam", lr: 3e-3 }, { kind: "sgd", lr: 0.5, momentum: 0.9 }] as const) {
      const a = train(withKernels, config, 0.5, 6);
      const b = train(withKernels, config, 0.5, 6);
      expectSameBits(a, b, `${config.kind}, two runs`);
      // Without clipping the norm is only reported, so kernels and loops must agree exactly.
      expectSameBits(train(withKernels, config, undefined, 6), train(withoutKernels, config, undefined, 6), `${config.kind}, kernels vs loops`);
    }
  });
});
