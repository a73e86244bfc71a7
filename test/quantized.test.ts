/**
 * int8 inference weights (src/generate/quantized.ts, native/qgemv.c): the quantization error
 * bound, the int8 matrix–vector kernels against a float64 reference, the quantized step against
 * the float32 step of the dequantized model, and sampling with int8 weights.
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import {
  createQuantizedState,
  dequantizeLanguageModel,
  dequantizeMatrix,
  portableQuantizedKernels,
  quantizedKernelsFor,
  quantizedStep,
  quantizeLanguageModel,
  quantizeMatrix,
  type QuantizedKernels,
} from "../src/generate/quantized.js";
import { sampleTokens, sampleTokensQuantized } from "../src/generate/sample.js";
import { bindLanguageModel, createLanguageModel, languageModelForward, type LanguageModel } from "../src/model/language-model.js";
import { nativeAddon, nativeQuantizedKernels, type NativeIsa } from "../src/node/native-backend.js";
import { Rng } from "../src/tensor/random.js";
import { initLanguageModel } from "../src/train/init-model.js";

const js = getBackend("js");

function randomArray(rng: Rng, n: number, amp = 1): Float32Array {
  return Float32Array.from({ length: n }, () => amp * (2 * rng.uniform() - 1));
}

function lm(cell: string, o: { V?: number; E?: number; H?: number; L?: number; seed?: number } = {}): LanguageModel {
  const model = createLanguageModel({ vocabSize: o.V ?? 11, embedSize: o.E ?? 13, cell: parseCell(cell), hiddenSize: o.H ?? 9, numLayers: o.L ?? 2, dropout: 0 }, "float32");
  initLanguageModel(model, Rng.seeded(o.seed ?? 3));
  // larger biases than init's, so the gates are far from their symmetric points
  const b = bindLanguageModel(model.config, model.params).b;
  for (let i = 0; i < b.length; i++) b[i] += 0.3 * Math.sin(i);
  return model;
}

describe("int8 quantization", () => {
  it("per row: scale = max|w|/127, |w − q·s| ≤ s/2, an all-zero row gets scale 1", () => {
    const rng = Rng.seeded(1);
    const rows = 7, cols = 37;
    const w = randomArray(rng, rows * cols, 3);
    w.fill(0, 2 * cols, 3 * cols); // row 2 all zero
    for (let k = 0; k < cols; k++) w[4 * cols + k] *= 1e-3; // a tiny row
    const m = quantizeMatrix(w, rows, cols);
    const d = dequantizeMatrix(m);
    for (let r = 0; r < rows; r++) {
      const row = w.subarray(r * cols, (r + 1) * cols);
      const max = Math.max(...Array.from(row, Math.abs));
      expect(m.scale[r]).toBe(max > 0 ? Math.fround(max / 127) : 1);
      for (let k = 0; k < cols; k++) {
        expect(Math.abs(m.q[r * cols + k])).toBeLessThanOrEqual(127);
        expect(Math.abs(row[k] - d[r * cols + k])).toBeLessThanOrEqual(m.scale[r] / 2 * (1 + 1e-6));
      }
    }
    expect(Array.from(m.q.subarray(2 * cols, 3 * cols)).every((v) => v === 0)).toBe(true);
  });
});

/** Σ q·x·s in float64, and Σ |q·x|·s (the scale of float32 accumulation error). */
function reference(q: Int8Array, s: Float32Array, rows: number, cols: number, x: Float32Array): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(rows), mag = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) {
      y[r] += q[r * cols + k] * x[k];
      mag[r] += Math.abs(q[r * cols + k] * x[k]);
    }
    y[r] *= s[r];
    mag[r] *= s[r];
  }
  return { y, mag };
}

function checkKernel(k: QuantizedKernels): void {
  const rng = Rng.seeded(7);
  for (const cols of [1, 3, 15, 16, 17, 31, 33, 47, 64, 100, 513]) {
    for (let rows = 1; rows <= 7; rows++) {
      const m = quantizeMatrix(randomArray(rng, rows * cols), rows, cols);
      const x = randomArray(rng, cols);
      const { y: want, mag } = reference(m.q, m.scale, rows, cols, x);
      const y = new Float32Array(rows);
      k.qgemv(m.q, m.scale, rows, cols, x, y, false);
      for (let r = 0; r < rows; r++) expect(Math.abs(y[r] - want[r])).toBeLessThanOrEqual(1e-5 * mag[r] + 1e-30);
      const y0 = randomArray(rng, rows);
      const acc = Float32Array.from(y0);
      k.qgemv(m.q, m.scale, rows, cols, x, acc, true);
      for (let r = 0; r < rows; r++) expect(Math.abs(acc[r] - (y0[r] + want[r]))).toBeLessThanOrEqual(1e-5 * (mag[r] + Math.abs(y0[r])) + 1e-30);
    }
  }
  // a large product: the native kernel splits its rows over the pool
  const rows = 2048 + 5, cols = 515;
  const m = quantizeMatrix(randomArray(rng, rows * cols), rows, cols);
  const x = randomArray(rng, cols);
  const { y: want, mag } = reference(m.q, m.scale, rows, cols, x);
  const y = new Float32Array(rows);
  k.qgemv(m.q, m.scale, rows, cols, x, y, false);
  for (let r = 0; r < rows; r++) expect(Math.abs(y[r] - want[r])).toBeLessThanOrEqual(1e-5 * mag[r] + 1e-30);
}

describe("int8 matrix–vector kernels", () => {
  it("TypeScript: within 1e-5 (relative to Σ|q·x|·s) of the float64 sum, ragged sizes", () => checkKernel(portableQuantizedKernels));

  it.skipIf(!nativeQuantizedKernels)("native, every ISA this CPU runs: the same bound", () => {
    const before = nativeAddon!.isa();
    try {
      for (const isa of ["portable", "avx2", "avx512"] as NativeIsa[]) {
        if (!nativeAddon!.setIsa(isa)) continue;
        checkKernel(nativeQuantizedKernels!);
      }
    } finally {
      nativeAddon!.setIsa(before);
    }
  });

  it.skipIf(!nativeQuantizedKernels)("native: results do not depend on the thread count", () => {
    const rng = Rng.seeded(9);
    const rows = 3000, cols = 200;
    const m = quantizeMatrix(randomArray(rng, rows * cols), rows, cols);
    const x = randomArray(rng, cols);
    const threads = nativeAddon!.threads();
    try {
      const ys = [1, 2, 3].map((n) => {
        nativeAddon!.setThreads(n);
        const y = new Float32Array(rows);
        nativeQuantizedKernels!.qgemv(m.q, m.scale, rows, cols, x, y, false);
        return y;
      });
      expect(ys[1]).toEqual(ys[0]);
      expect(ys[2]).toEqual(ys[0]);
    } finally {
      nativeAddon!.setThreads(threads);
    }
  });

  it.skipIf(!nativeQuantizedKernels)("native: bad arguments throw instead of reading out of bounds", () => {
    const q = new Int8Array(6), s = new Float32Array(2), x = new Float32Array(3), y = new Float32Array(2);
    expect(() => nativeAddon!.qgemv!(q, s, 2, 4, x, y, false)).toThrow(RangeError);
    expect(() => nativeAddon!.qgemv!(new Uint8Array(6) as unknown as Int8Array, s, 2, 3, x, y, false)).toThrow(TypeError);
    expect(() => nativeAddon!.qgemv!(q, s, 2, 3, x, s, false)).toThrow(/overlap/);
  });
});

describe("quantizedStep", () => {
  const kernels: [string, QuantizedKernels][] = [["portable", portableQuantizedKernels]];
  if (nativeQuantizedKernels) kernels.push(["native", nativeQuantizedKernels]);

  for (const cell of ["lstm", "gru", "rnn", "rnn-relu", "lstm-hard"]) {
    for (const embed of [13, 0, 5]) {
      for (const [kname, k] of kernels) {
        it(`${cell}, ${embed === 0 ? "one-hot" : `embedding ${embed}`}, ${kname}: equals the float32 step of the dequantized model to 1e-4`, () => {
          const model = lm(cell, { E: embed });
          const qm = quantizeLanguageModel(model);
          const deq = dequantizeLanguageModel(model, qm);
          const state = createQuantizedState(qm);
          const tokens = [3, 0, 10, 7, 7, 1];
          let fstate = null;
          for (const t of tokens) {
            const z = quantizedStep(qm, t, state, k);
            const pass = languageModelForward(js, deq, Int32Array.of(t), 1, 1, fstate);
            fstate = pass.state;
            for (let v = 0; v < z.length; v++) expect(Math.abs(z[v] - pass.logits[v])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(pass.logits[v])));
            for (let i = 0; i < state.h.length; i++) expect(Math.abs(state.h[i] - fstate.h[i])).toBeLessThanOrEqual(1e-4);
          }
        });
      }
    }
  }

  for (const [kname, k] of kernels) {
    it(`lstm, H 37 (vector cell update and its tail), 3 layers, ${kname}: equals the dequantized float32 step to 1e-4`, () => {
      const model = lm("lstm", { V: 30, E: 40, H: 37, L: 3 });
      const qm = quantizeLanguageModel(model);
      const deq = dequantizeLanguageModel(model, qm);
      const state = createQuantizedState(qm);
      let fstate = null;
      for (const t of [1, 29, 4, 4, 17, 0, 8, 12]) {
        const z = quantizedStep(qm, t, state, k);
        const pass = languageModelForward(js, deq, Int32Array.of(t), 1, 1, fstate);
        fstate = pass.state;
        for (let v = 0; v < z.length; v++) expect(Math.abs(z[v] - pass.logits[v])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(pass.logits[v])));
        for (let i = 0; i < state.c!.length; i++) expect(Math.abs(state.c![i] - fstate.c![i])).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it("refuses the cells it does not run", () => {
    for (const cell of ["lstm-peephole", "lstm-coupled", "gru-cho"]) expect(() => quantizeLanguageModel(lm(cell))).toThrow(/not supported/);
  });
});

describe("sampling with int8 weights", () => {
  it("is deterministic for a seed, and weights: \"int8\" matches sampleTokensQuantized", () => {
    const model = lm("lstm", { V: 20, E: 24, H: 16 });
    const run = (seed: number) => [...sampleTokens(js, model, { length: 200, rng: Rng.seeded(seed), weights: "int8", prime: Int32Array.of(1, 2, 3) })];
    const a = run(5);
    expect(run(5)).toEqual(a);
    expect(run(6)).not.toEqual(a);
    const qm = quantizeLanguageModel(model);
    expect([...sampleTokensQuantized(qm, quantizedKernelsFor("js"), { length: 200, rng: Rng.seeded(5), prime: Int32Array.of(1, 2, 3) })]).toEqual(a);
  });

  it("a model with exactly representable weights: int8 sampling gives the float32 tokens", () => {
    const model = lm("lstm", { V: 20, E: 24, H: 16 });
    // every weight matrix → multiples of its rows' scales: quantizing it is exact
    const exact = dequantizeLanguageModel(model);
    const qm = quantizeLanguageModel(exact);
    expect(dequantizeLanguageModel(exact, qm).params.data).toEqual(exact.params.data);
    for (const backend of [js, ...(nativeQuantizedKernels ? [getBackend("native")] : [])]) {
      for (const seed of [1, 2, 3]) {
        const o = { length: 300, temperature: 0.8, prime: Int32Array.of(4, 5), rng: Rng.seeded(seed) };
        const f = [...sampleTokens(backend, exact, o)];
        const q = [...sampleTokens(backend, exact, { ...o, rng: Rng.seeded(seed), weights: "int8" })];
        expect(q).toEqual(f);
      }
    }
  });

  it("rejects an unknown weights option", () => {
    const model = lm("lstm");
    expect(() => [...sampleTokens(js, model, { length: 3, rng: Rng.seeded(1), weights: "int4" as "int8" })]).toThrow(/weights must be/);
  });
});
