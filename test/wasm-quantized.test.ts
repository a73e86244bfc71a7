/**
 * The wasm backend's int8 matrix–vector product (assembly/qgemv.ts, `Backend.int8Gemv`), which
 * compact-weight sampling on wasm runs (`quantizedKernelsFor("wasm")`):
 * - bit for bit the fixed point it states (x rounded to 15 bits against max |x|, exact integer
 *   sums, one digit up to 1024 columns and two beyond), written out below in plain JavaScript, for
 *   ragged shapes, accumulate and bias, in both modules;
 * - bit for bit the native AVX512-VNNI kernel, where this CPU has it, and so the same tokens and
 *   logits when sampling;
 * - it declines an x holding NaN or ±Inf, changing nothing, and the kernels then run the float32
 *   loop; bf16 matrices run the TypeScript kernel;
 * - a matrix's copy in linear memory survives other calls and a switch to 2 threads (a new
 *   instance, so a new copy), and a block given back is handed out again.
 */
import { describe, expect, it } from "vitest";
import type { Int8Rows } from "../src/backend/backend.js";
import { wasmBackend } from "../src/backend/wasm/index.js";
import { Kernels, moduleBytes, webAssemblyApi } from "../src/backend/wasm/kernels.js";
import {
  bf16Matrix,
  autoWeightFormat,
  createQuantizedState,
  fastInt8On,
  portableQuantizedKernels,
  quantizedKernelsFor,
  quantizedStep,
  quantizeLanguageModel,
  quantizeMatrix,
  type QuantizedKernels,
} from "../src/generate/quantized.js";
import { sampleTokensQuantized } from "../src/generate/sample.js";
import { createLanguageModel } from "../src/model/language-model.js";
import { nativeAddon, nativeQuantizedKernels } from "../src/node/native-backend.js";
import { Rng } from "../src/tensor/random.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { parseCell } from "../src/cells/cell.js";
import { wasmBackendOf } from "./helpers/wasm-checks.js";

const f = Math.fround;

function randomArray(rng: Rng, n: number, amp = 1): Float32Array {
  return Float32Array.from({ length: n }, () => amp * rng.range(-1, 1));
}

/** Round half to even. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The fixed point of assembly/qgemv.ts, in plain JavaScript (every float32 step rounded by fround). */
function fixedPoint(m: Int8Rows, x: Float32Array, y: Float32Array, accumulate: boolean, bias?: Float32Array): void {
  const { rows, cols, q, scale } = m;
  let mx = 0;
  for (let k = 0; k < cols; k++) mx = Math.max(mx, Math.abs(x[k]));
  const inv = mx > 0 ? f(16256 / mx) : 0;
  const sx = f(mx / 16256);
  const v = Array.from({ length: cols }, (_, k) => Math.max(-16256, Math.min(16256, roundEven(f(x[k] * inv)))));
  for (let r = 0; r < rows; r++) {
    let s: number;
    if (cols <= 1024) {
      let S = 0;
      for (let k = 0; k < cols; k++) S += q[r * cols + k] * v[k];
      s = f(S);
    } else {
      let H = 0, L = 0;
      for (let k = 0; k < cols; k++) {
        const hi = Math.floor((v[k] + 64) / 128);
        H += q[r * cols + k] * hi;
        L += q[r * cols + k] * (v[k] - 128 * hi);
      }
      s = f(f(H) * 128 + f(L));
    }
    let out = f(f(s * sx) * scale[r]);
    if (accumulate) out = f(out + y[r]);
    if (bias) out = f(out + bias[r]);
    y[r] = out;
  }
}

const SHAPES: [number, number][] = [];
for (const cols of [1, 3, 7, 8, 9, 16, 31, 64, 100, 1024, 1025, 1500]) for (const rows of [1, 3, 4, 5, 9, 64]) SHAPES.push([rows, cols]);

/** x of `cols` values: random, with exact ties of the rounding, zeros, or all zero. */
function inputs(rng: Rng, cols: number): Float32Array[] {
  const tie = Float32Array.from({ length: cols }, (_, k) => (k === 0 ? 16256 : (k % 7) - 3 + 0.5)); // max 16256: v = x, .5 ties
  return [randomArray(rng, cols), randomArray(rng, cols, 1e-3), tie, new Float32Array(cols)];
}

const variants = [
  ["the modules this engine picks", wasmBackend],
  ["the plain SIMD128 module", wasmBackendOf(moduleBytes(false))],
] as const;

const vnni = nativeAddon?.quantizedKernels?.().int8 === "avx512-vnni" && nativeQuantizedKernels !== null;

describe("wasm int8 matrix–vector product", () => {
  it("is the stated fixed point, bit for bit: ragged shapes, one and two digits, accumulate and bias, both modules", () => {
    for (const [label, backend] of variants) {
      const gemv = backend.int8Gemv!;
      const rng = Rng.seeded(3);
      for (const [rows, cols] of SHAPES) {
        const m = quantizeMatrix(randomArray(rng, rows * cols), rows, cols);
        const bias = randomArray(rng, rows);
        for (const x of inputs(rng, cols)) {
          for (const accumulate of [false, true]) {
            for (const b of [undefined, bias]) {
              const y0 = randomArray(rng, rows);
              const [got, want] = [y0.slice(), y0.slice()];
              expect(gemv(m, x, got, accumulate, b)).toBe(true);
              fixedPoint(m, x, want, accumulate, b);
              expect(got, `${label}: ${rows} × ${cols}, accumulate ${accumulate}, bias ${b !== undefined}`).toEqual(want);
            }
          }
        }
      }
    }
  });

  it.skipIf(!vnni)("gives the native AVX512-VNNI kernel's bits, and sampling the same tokens and logits", () => {
    const rng = Rng.seeded(4);
    for (const [rows, cols] of [...SHAPES, [2048 + 5, 515] as [number, number]]) {
      const m = quantizeMatrix(randomArray(rng, rows * cols), rows, cols);
      const x = randomArray(rng, cols);
      const [a, b] = [new Float32Array(rows), new Float32Array(rows)];
      wasmBackend.int8Gemv!(m, x, a, false);
      nativeQuantizedKernels!.gemv(m, x, b, false);
      expect(a, `${rows} × ${cols}`).toEqual(b);
    }
    const model = createLanguageModel({ vocabSize: 30, embedSize: 24, hiddenSize: 64, numLayers: 2, cell: parseCell("lstm"), dropout: 0 });
    initLanguageModel(model, Rng.seeded(2));
    const qm = quantizeLanguageModel(model, "int8");
    const o = () => ({ length: 120, temperature: 0.9, prime: Int32Array.of(1, 2), rng: Rng.seeded(8) });
    expect([...sampleTokensQuantized(qm, quantizedKernelsFor("wasm"), o())]).toEqual([...sampleTokensQuantized(qm, nativeQuantizedKernels!, o())]);
    // the logits bit for bit against the native products with the same (wasm) cell update; the
    // native kernels' own cell update is C's, within float32 rounding of it
    const nativeProducts: QuantizedKernels = { name: "native products", gemv: (...a) => nativeQuantizedKernels!.gemv(...a), lstmCell: wasmBackend.lstmCell };
    const [s1, s2] = [createQuantizedState(qm), createQuantizedState(qm)];
    for (const t of [3, 1, 4, 1, 5]) expect(quantizedStep(qm, t, s1, quantizedKernelsFor("wasm"))).toEqual(quantizedStep(qm, t, s2, nativeProducts));
  });

  it("lstmCell: the cell update in f32x4 (assembly/cells.ts), within a few float32 ulps of the TypeScript one, ragged H; the wasm kernels use it", () => {
    const rng = Rng.seeded(6);
    const cell = wasmBackend.lstmCell!;
    for (const H of [1, 3, 64, 130]) {
      const gates = randomArray(rng, 4 * H, 6), c0 = randomArray(rng, H, 3);
      const c = c0.slice(), h = new Float32Array(H);
      cell(H, gates, c, h);
      const sig = (a: number) => 1 / (1 + Math.exp(-a));
      for (let j = 0; j < H; j++) {
        const cj = sig(gates[H + j]) * c0[j] + sig(gates[j]) * Math.tanh(gates[2 * H + j]);
        expect(Math.abs(c[j] - cj), `c[${j}] of H = ${H}`).toBeLessThanOrEqual(4e-7 * (1 + Math.abs(cj)));
        expect(Math.abs(h[j] - sig(gates[3 * H + j]) * Math.tanh(cj)), `h[${j}] of H = ${H}`).toBeLessThanOrEqual(4e-7 * (1 + Math.abs(cj)));
      }
    }
    expect(() => cell(8, new Float32Array(31), new Float32Array(8), new Float32Array(8))).toThrow(/gates of 32/);
    expect(quantizedKernelsFor("wasm").lstmCell).toBe(cell);
    // sampling with it: deterministic, and within float32 rounding of the TypeScript cell's logits
    const model = createLanguageModel({ vocabSize: 20, embedSize: 16, hiddenSize: 18, numLayers: 2, cell: parseCell("lstm"), dropout: 0 });
    initLanguageModel(model, Rng.seeded(3));
    const qm = quantizeLanguageModel(model, "int8");
    const o = () => ({ length: 200, prime: Int32Array.of(4), rng: Rng.seeded(2) });
    const wasmKernels = quantizedKernelsFor("wasm");
    expect([...sampleTokensQuantized(qm, wasmKernels, o())]).toEqual([...sampleTokensQuantized(qm, wasmKernels, o())]);
    const { lstmCell: _, ...tsCell } = wasmKernels;
    const [s1, s2] = [createQuantizedState(qm), createQuantizedState(qm)];
    for (const t of [3, 1, 4, 1, 5, 9, 2, 6]) {
      const [a, b] = [quantizedStep(qm, t, s1, wasmKernels), quantizedStep(qm, t, s2, tsCell)];
      for (let v = 0; v < 20; v++) expect(Math.abs(a[v] - b[v])).toBeLessThan(1e-5);
    }
  });

  it("makes int8 the backend's fast format (--weights auto): wasm and native have their own products, js does not; auto is float32 for a model int8 cannot hold", () => {
    expect(fastInt8On("wasm")).toBe(true);
    expect(fastInt8On("js")).toBe(false);
    expect(fastInt8On("native")).toBe(nativeQuantizedKernels !== null);
    expect(quantizedKernelsFor("js")).toBe(portableQuantizedKernels);
    const lstm = createLanguageModel({ vocabSize: 10, embedSize: 8, hiddenSize: 8, numLayers: 1, cell: parseCell("lstm"), dropout: 0 });
    const peephole = createLanguageModel({ vocabSize: 10, embedSize: 8, hiddenSize: 8, numLayers: 1, cell: parseCell("lstm-peephole"), dropout: 0 });
    expect(autoWeightFormat("wasm", lstm)).toBe("int8");
    expect(autoWeightFormat("js", lstm)).toBe("float32");
    expect(autoWeightFormat("wasm", peephole)).toBe("float32"); // not quantizable
  });

  it("declines an x holding NaN or ±Inf, changing nothing; the kernels then run the float32 loop, as for bf16", () => {
    const rng = Rng.seeded(5);
    const m = quantizeMatrix(randomArray(rng, 6 * 10), 6, 10);
    const k = quantizedKernelsFor("wasm");
    expect(k.name).toBe("wasm");
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 9]) {
        const x = randomArray(rng, 10);
        x[at] = bad;
        const y = randomArray(rng, 6);
        const before = y.slice();
        expect(wasmBackend.int8Gemv!(m, x, y, true)).toBe(false);
        expect(y).toEqual(before);
        const [a, b] = [before.slice(), before.slice()];
        k.gemv(m, x, a, true);
        portableQuantizedKernels.gemv(m, x, b, true);
        expect(Array.from(a)).toEqual(Array.from(b));
      }
    }
    const bm = bf16Matrix(randomArray(rng, 6 * 10), 6, 10);
    const x = randomArray(rng, 10);
    const [a, b] = [new Float32Array(6), new Float32Array(6)];
    k.gemv(bm, x, a, false);
    portableQuantizedKernels.gemv(bm, x, b, false);
    expect(a).toEqual(b);
    expect(() => wasmBackend.int8Gemv!(m, x.subarray(0, 9), new Float32Array(6), false)).toThrow(/x of 10 values/);
  });

  it("a matrix's copy survives other calls between its uses; a released block is handed out again", () => {
    const rng = Rng.seeded(6);
    const m = quantizeMatrix(randomArray(rng, 40 * 33), 40, 33);
    const x = randomArray(rng, 33);
    const first = new Float32Array(40);
    wasmBackend.int8Gemv!(m, x, first, false);
    // calls that lay out far more than the matrix, over where its copy would be if it were not kept
    const big = randomArray(rng, 300 * 300);
    wasmBackend.gemm(false, false, 300, 300, 300, big, big, new Float32Array(300 * 300), false);
    wasmBackend.int8Gemv!(quantizeMatrix(randomArray(rng, 70 * 20), 70, 20), randomArray(rng, 20), new Float32Array(70), false);
    const again = new Float32Array(40);
    wasmBackend.int8Gemv!(m, x, again, false);
    expect(again).toEqual(first);

    const w = new Kernels(new (webAssemblyApi()!.Module)(moduleBytes(false)));
    const a = w.keep(1000);
    const b = w.keep(100);
    expect(b).toBeGreaterThanOrEqual(a + 1000);
    w.release(a, 1000);
    expect(w.keep(500)).toBe(a); // the spare block, split
    expect(w.keep(400)).toBe(a + 512);
    expect(w.keep(200)).toBeGreaterThan(b); // nothing spare fits: above every block
  });
});
