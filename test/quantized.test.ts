/**
 * int8 and bf16 inference weights (src/generate/quantized.ts, native/qgemv.c): the quantization
 * error bounds, the matrix–vector kernels (TypeScript; native on every ISA, with and without the
 * VNNI / BF16 dot-product instructions) against a float64 reference, the quantized step against
 * the float32 step of the dequantized model, and sampling with compact weights.
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
  quantizedStepPicking,
  quantizeLanguageModel,
  quantizeMatrix,
  bf16Matrix,
  type QuantizedFormat,
  type QuantizedKernels,
  type QuantizedMatrix,
} from "../src/generate/quantized.js";
import { pickToken, sampleTokens, sampleTokensQuantized } from "../src/generate/sample.js";
import { bindLanguageModel, createLanguageModel, languageModelForward, type LanguageModel } from "../src/model/language-model.js";
import { nativeAddon, nativeQuantizedKernels, type NativeIsa } from "../src/node/native-backend.js";
import { Rng } from "../src/tensor/random.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { withThreads as withThreadsOf } from "./helpers/native.js";

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

describe("bf16 weights", () => {
  it("round to nearest, ties to even; |w − bf16(w)| ≤ 2⁻⁸|w|; widening is exact", () => {
    const ulp = 2 ** -7; // bf16 spacing in [1, 2)
    const cases: [number, number][] = [
      [1, 1],
      [1 + ulp / 2, 1], // tie → even (1)
      [1 + ulp + ulp / 2, 1 + 2 * ulp], // tie → even (1 + 2 ulp)
      [1 + ulp / 2 + 2 ** -20, 1 + ulp], // above the tie
      [-(1 + ulp / 2 + 2 ** -20), -(1 + ulp)],
      [0, 0],
    ];
    const d = dequantizeMatrix(bf16Matrix(cases.map((c) => c[0]), 1, cases.length));
    cases.forEach(([, want], i) => expect(d[i]).toBe(want));
    // random values, subnormal ones included: the nearer of the two bf16 neighbours (the even one on a tie)
    const rng = Rng.seeded(2);
    const w = Float32Array.from({ length: 5000 }, (_, i) => (2 * rng.uniform() - 1) * (i % 10 === 0 ? 1e-39 : 7));
    const e = dequantizeMatrix(bf16Matrix(w, 50, 100));
    const bits = new Uint32Array(w.buffer);
    const widen = (b: number) => new Float32Array(Uint32Array.of(b >>> 0).buffer)[0];
    for (let i = 0; i < w.length; i++) {
      const down = widen(bits[i] & 0xffff0000), up = widen((bits[i] & 0xffff0000) + 0x10000);
      const dd = Math.abs(w[i] - down), du = Math.abs(up - w[i]);
      const want = dd < du ? down : du < dd ? up : (bits[i] >>> 16) % 2 === 0 ? down : up;
      expect(e[i]).toBe(want);
      if (Math.abs(w[i]) > 1e-30) expect(Math.abs(w[i] - e[i])).toBeLessThanOrEqual(2 ** -8 * Math.abs(w[i]));
    }
    expect(() => bf16Matrix([1, Number.NaN], 1, 2)).toThrow(/non-finite/);
  });
});

/** The matrix as float64 values (q·s, or the widened bf16), for the reference products. */
function values(m: QuantizedMatrix): Float64Array {
  return Float64Array.from(dequantizeMatrix(m, new Float64Array(m.rows * m.cols)));
}

/** Σ w·x in float64; Σ |w·x| (the scale of float32 accumulation error); Σ |w| (of x's rounding). */
function reference(m: QuantizedMatrix, x: Float32Array): { y: Float64Array; mag: Float64Array; abs: Float64Array } {
  const w = m.format === "int8" ? dequantizeMatrix(m, new Float64Array(m.rows * m.cols)) : values(m);
  const { rows, cols } = m;
  const y = new Float64Array(rows), mag = new Float64Array(rows), abs = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) {
      const v = m.format === "int8" ? m.q[r * cols + k] * m.scale[r] : w[r * cols + k];
      y[r] += v * x[k];
      mag[r] += Math.abs(v * x[k]);
      abs[r] += Math.abs(v);
    }
  }
  return { y, mag, abs };
}

/**
 * The error a kernel may make: float32 accumulation, 1e-5 of Σ|w·x|; with VNNI, x rounded to
 * within max|x|/32512, so Σ|w| times that more; with AVX512-BF16, x to 16 bits (2⁻¹⁷ relative).
 */
function bound(kernel: string, mag: number, abs: number, xmax: number): number {
  if (kernel === "avx512-vnni") return 1e-5 * mag + (abs * xmax) / 32512 * (1 + 1e-3) + 1e-30;
  if (kernel === "avx512-bf16") return 2e-5 * mag + 1e-30;
  return 1e-5 * mag + 1e-30;
}

function make(format: QuantizedFormat, w: Float32Array, rows: number, cols: number): QuantizedMatrix {
  return format === "int8" ? quantizeMatrix(w, rows, cols) : bf16Matrix(w, rows, cols);
}

function checkKernel(k: QuantizedKernels, format: QuantizedFormat, kernel: string): void {
  const rng = Rng.seeded(7);
  const shapes: [number, number][] = [];
  for (const cols of [1, 3, 4, 5, 15, 16, 17, 31, 33, 47, 64, 65, 100, 513]) for (let rows = 1; rows <= 7; rows++) shapes.push([rows, cols]);
  for (const rows of [15, 16, 17, 31, 48, 63, 64, 65, 130]) for (const cols of [2, 7, 64, 66]) shapes.push([rows, cols]);
  shapes.push([2048 + 5, 515]); // a large product: the native kernel splits its rows over the pool
  for (const [rows, cols] of shapes) {
    const m = make(format, randomArray(rng, rows * cols), rows, cols);
    const x = randomArray(rng, cols);
    if (cols === 5) x.fill(0); // x = 0: no scale to divide by
    const xmax = Math.max(...Array.from(x, Math.abs));
    const { y: want, mag, abs } = reference(m, x);
    const y = new Float32Array(rows);
    k.gemv(m, x, y, false);
    for (let r = 0; r < rows; r++) expect(Math.abs(y[r] - want[r])).toBeLessThanOrEqual(bound(kernel, mag[r], abs[r], xmax));
    const y0 = randomArray(rng, rows);
    const acc = Float32Array.from(y0);
    k.gemv(m, x, acc, true);
    for (let r = 0; r < rows; r++) expect(Math.abs(acc[r] - (y0[r] + want[r]))).toBeLessThanOrEqual(bound(kernel, mag[r], abs[r], xmax) + 1e-6 * Math.abs(y0[r]));
  }
}

const FORMATS: QuantizedFormat[] = ["int8", "bf16"];

describe("compact-weight matrix–vector kernels", () => {
  for (const format of FORMATS) {
    it(`${format}, TypeScript: within 1e-5 (relative to Σ|w·x|) of the float64 sum, ragged sizes`, () => checkKernel(portableQuantizedKernels, format, "portable"));

    it.skipIf(!nativeQuantizedKernels)(`${format}, native, every ISA this CPU runs, with and without the dot-product instructions: each within its bound`, () => {
      const before = nativeAddon!.isa();
      const ran: string[] = [];
      try {
        for (const dot of [true, false]) {
          nativeAddon!.setQuantizedDot!(dot);
          for (const isa of ["portable", "avx2", "avx512"] as NativeIsa[]) {
            if (!nativeAddon!.setIsa(isa)) continue;
            const kernel = nativeAddon!.quantizedKernels!()[format];
            if (ran.includes(kernel)) continue;
            ran.push(kernel);
            checkKernel(nativeQuantizedKernels!, format, kernel);
          }
        }
      } finally {
        nativeAddon!.setIsa(before);
        nativeAddon!.setQuantizedDot!(true);
      }
      expect(ran).toContain("portable");
    });

    it.skipIf(!nativeQuantizedKernels)(`${format}, native: results do not depend on the thread count`, () => {
      const rng = Rng.seeded(9);
      const rows = 3000, cols = 200;
      const m = make(format, randomArray(rng, rows * cols), rows, cols);
      const x = randomArray(rng, cols);
      const threads = nativeAddon!.threads();
      try {
        const ys = [1, 2, 3].map((n) => {
          nativeAddon!.setThreads(n);
          const y = new Float32Array(rows);
          nativeQuantizedKernels!.gemv(m, x, y, false);
          return y;
        });
        expect(ys[1]).toEqual(ys[0]);
        expect(ys[2]).toEqual(ys[0]);
      } finally {
        nativeAddon!.setThreads(threads);
      }
    });
  }

  it.skipIf(!nativeQuantizedKernels)("native: a non-finite x propagates (the dot kernels hand it to the float ones)", () => {
    for (const format of FORMATS) {
      const m = make(format, Float32Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i)), 64, 8);
      const x = Float32Array.of(1, 2, Number.NaN, 0, 0, 0, 0, 0);
      const y = new Float32Array(64);
      nativeQuantizedKernels!.gemv(m, x, y, false);
      expect(y.every((v) => Number.isNaN(v))).toBe(true);
    }
  });

  it.skipIf(!nativeQuantizedKernels)("native: bad arguments throw instead of reading out of bounds", () => {
    const q = new Int8Array(6), s = new Float32Array(2), x = new Float32Array(3), y = new Float32Array(2);
    const a = nativeAddon!;
    expect(() => a.qgemv!(q, s, 2, 4, x, y, false)).toThrow(RangeError);
    expect(() => a.qgemv!(new Uint8Array(6) as unknown as Int8Array, s, 2, 3, x, y, false)).toThrow(TypeError);
    expect(() => a.qgemv!(q, s, 2, 3, x, s, false)).toThrow(/overlap/);
    expect(() => a.qgemv!(q, s, 2, 3, x, y, false, new Uint8Array(10))).toThrow(/packed needs 256 elements/);
    expect(() => a.qgemv!(q, s, 2, 3, x, y, false, a.qpack!(q, 2, 3))).not.toThrow();
    const w = new Uint16Array(6);
    expect(() => a.bgemv!(w, 2, 4, x, y, false)).toThrow(RangeError);
    expect(() => a.bgemv!(q as unknown as Uint16Array, 2, 3, x, y, false)).toThrow(TypeError);
    expect(() => a.bgemv!(w, 2, 3, x, y, false, new Uint16Array(3))).toThrow(/packed needs 256 elements/);
    expect(() => a.bpack!(w, 3, 3)).toThrow(RangeError);
    expect(a.bpack!(w, 2, 3).length).toBe(256); // rows padded to a 64-row stripe, columns to pairs
  });
});

describe("quantizedStep", () => {
  const kernels: [string, QuantizedKernels][] = [["portable", portableQuantizedKernels]];
  if (nativeQuantizedKernels) kernels.push(["native", nativeQuantizedKernels]);

  for (const cell of ["lstm", "gru", "rnn", "rnn-relu", "lstm-hard"]) {
    for (const embed of [13, 0, 5]) {
      for (const [kname, k] of kernels) for (const format of FORMATS) {
        it(`${cell}, ${embed === 0 ? "one-hot" : `embedding ${embed}`}, ${format}, ${kname}: equals the float32 step of the dequantized model to 1e-4`, () => {
          const model = lm(cell, { E: embed });
          const qm = quantizeLanguageModel(model, format);
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

  for (const [kname, k] of kernels) for (const format of FORMATS) {
    it(`lstm, H 37 (vector cell update and its tail), 3 layers, ${format}, ${kname}: equals the dequantized float32 step to 1e-4`, () => {
      const model = lm("lstm", { V: 30, E: 40, H: 37, L: 3 });
      const qm = quantizeLanguageModel(model, format);
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
    for (const cell of ["lstm-peephole", "lstm-coupled", "gru-cho"]) for (const format of FORMATS) expect(() => quantizeLanguageModel(lm(cell), format)).toThrow(/not supported/);
  });
});

/** The formats whose dot-product kernel this CPU has: where the native fused LSTM layer step runs. */
const DOT: Record<QuantizedFormat, string> = { int8: "avx512-vnni", bf16: "avx512-bf16" };
const fusedFormats = FORMATS.filter((f) => nativeAddon?.quantizedKernels?.()[f] === DOT[f] && typeof nativeAddon.qlstmLayer === "function");

describe("the native fused LSTM layer step (qlstmLayer)", () => {
  const withThreads = <T>(n: number, f: () => T): T => withThreadsOf(nativeAddon!, n, f);

  for (const format of FORMATS) {
    it.skipIf(!fusedFormats.includes(format))(`${format}: the same bits as gemv and lstmCell apart, table / embedding / one-hot inputs, 1–3 layers, 1 and 2 threads, layer by layer, all layers in one call, and the whole step in one call`, () => {
      const native = nativeQuantizedKernels!;
      const { lstmLayer: _, lstmStack: _s, lstmStep: _t, ...apart } = native;
      const { lstmStep: __, ...stack } = native;
      const { lstmStack: ___, ...layerByLayer } = stack;
      expect(native.lstmStack).toBeDefined();
      expect(native.lstmStep).toBeDefined();
      for (const o of [{ V: 30, E: 40, H: 64, L: 1 }, { V: 50, E: 20, H: 128, L: 2 }, { V: 20, E: 0, H: 64, L: 3 }, { V: 40, E: 48, H: 128, L: 2 }]) {
        const tabulated = o.E >= o.V; // the first layer's input is a table row: the whole step runs in one call
        for (const [fused, threads] of [[layerByLayer, 1], [layerByLayer, 2], [stack, 1], [stack, 2], [native, 1], [native, 2]] as [QuantizedKernels, number][]) {
          const qm = quantizeLanguageModel(lm("lstm", o), format); // a fresh model: a fresh plan
          withThreads(threads, () => {
            let ran = 0, whole = 0;
            const counted: QuantizedKernels = {
              ...fused,
              lstmLayer: (...a) => (fused.lstmLayer!(...a) ? (ran++, true) : false),
              ...(fused.lstmStack ? { lstmStack: (...a) => { const n = fused.lstmStack!(...a); ran += n; return n; } } : {}),
              ...(fused.lstmStep ? { lstmStep: (...a) => { const n = fused.lstmStep!(...a); ran += Math.min(n, o.L); whole += n > o.L ? 1 : 0; return n; } } : {}),
            };
            const a = createQuantizedState(qm), b = createQuantizedState(qm);
            const tokens = [1, 7, 7, 0, 12, 3, 19]; // an odd count: each layer runs both directions
            for (const t of tokens) {
              const za = quantizedStep(qm, t, a, counted).slice();
              expect(za).toEqual(quantizedStep(qm, t, b, apart));
            }
            expect(a.h).toEqual(b.h);
            expect(a.c).toEqual(b.c);
            expect(a.h.some((v) => v !== 0)).toBe(true);
            expect(ran).toBe(o.L * tokens.length);
            expect(whole).toBe(fused === native && tabulated ? tokens.length : 0);
          });
        }
      }
    });

    it.skipIf(!fusedFormats.includes(format))(`${format}, addon: an input width other than H, and a bias, give qgemv / bgemv and qlstmCell's bits`, () => {
      const a = nativeAddon!;
      const rng = Rng.seeded(21);
      const H = 128, I = 100;
      const Wih = make(format, randomArray(rng, 4 * H * I, 0.3), 4 * H, I), Whh = make(format, randomArray(rng, 4 * H * H, 0.3), 4 * H, H);
      const pack = (m: QuantizedMatrix, gateOrder = false) => (m.format === "int8" ? a.qpack!(m.q, m.rows, m.cols, gateOrder) : a.bpack!(m.w, m.rows, m.cols, gateOrder));
      const scale = (m: QuantizedMatrix) => (m.format === "int8" ? m.scale : null);
      const x = randomArray(rng, I), bias = randomArray(rng, 4 * H), h0 = randomArray(rng, H, 0.9), c0 = randomArray(rng, H, 2);
      const gemv = (m: QuantizedMatrix, v: Float32Array, y: Float32Array, acc: boolean, b: Float32Array | null) =>
        m.format === "int8" ? a.qgemv!(m.q, m.scale, m.rows, m.cols, v, y, acc, pack(m) as Uint8Array, b) : a.bgemv!(m.w, m.rows, m.cols, v, y, acc, pack(m) as Uint16Array, b);
      const want = { g: new Float32Array(4 * H), c: c0.slice(), h: h0.slice() };
      gemv(Wih, x, want.g, false, bias);
      gemv(Whh, want.h, want.g, true, null);
      a.qlstmCell!(H, want.g, want.c, want.h);
      for (const [threads, descending] of [[1, false], [2, false], [2, true]] as const) {
        const got = { g: new Float32Array(4 * H), c: c0.slice(), h: h0.slice() };
        const ran = withThreads(threads, () => a.qlstmLayer!(H, I, pack(Wih, true), scale(Wih), x, pack(Whh, true), scale(Whh), bias, got.g, got.c, got.h, descending));
        expect(ran).toBe(true);
        expect(got).toEqual(want);
      }
      // without W_ih: the input side given apart (a table row) or already in the gates, the same bits
      const inputSide = want.g.map((v, i) => v * 0.5 + Math.sin(i));
      const apart = { g: new Float32Array(4 * H), c: c0.slice(), h: h0.slice() };
      const held = { g: inputSide.slice(), c: c0.slice(), h: h0.slice() };
      expect(a.qlstmLayer!(H, 0, null, null, inputSide, pack(Whh, true), scale(Whh), null, apart.g, apart.c, apart.h, false)).toBe(true);
      expect(a.qlstmLayer!(H, 0, null, null, null, pack(Whh, true), scale(Whh), null, held.g, held.c, held.h, true)).toBe(true);
      expect(apart).toEqual(held);
      expect(() => a.qlstmLayer!(H, 0, null, null, inputSide.subarray(1), pack(Whh, true), scale(Whh), null, apart.g, apart.c, apart.h, false)).toThrow(RangeError);
    });
  }

  it.skipIf(fusedFormats.length === 0)("declines, changing nothing, where it cannot run: H not a multiple of 64, a non-finite x or h, the dot kernels off", () => {
    const a = nativeAddon!;
    const format = fusedFormats[0];
    const rng = Rng.seeded(5);
    const call = (H: number, x: Float32Array, h: Float32Array) => {
      const W = make(format, randomArray(rng, 4 * H * H), 4 * H, H);
      const gateOrder = H % 64 === 0;
      const p = W.format === "int8" ? a.qpack!(W.q, W.rows, W.cols, gateOrder) : a.bpack!(W.w, W.rows, W.cols, gateOrder);
      const s = W.format === "int8" ? W.scale : null;
      const g = randomArray(rng, 4 * H), c = randomArray(rng, H);
      const before = [g.slice(), c.slice(), h.slice()];
      const ran = a.qlstmLayer!(H, H, p, s, x, p, s, null, g, c, h, false);
      return { ran, unchanged: [g, c, h].every((v, i) => v.every((e, k) => Object.is(e, before[i][k]))) };
    };
    expect(call(64, randomArray(rng, 64), randomArray(rng, 64)).ran).toBe(true);
    expect(call(48, randomArray(rng, 48), randomArray(rng, 48))).toEqual({ ran: false, unchanged: true });
    const nanX = randomArray(rng, 64);
    nanX[3] = Number.NaN;
    expect(call(64, nanX, randomArray(rng, 64))).toEqual({ ran: false, unchanged: true });
    const infH = randomArray(rng, 64);
    infH[60] = Number.POSITIVE_INFINITY;
    expect(call(64, randomArray(rng, 64), infH)).toEqual({ ran: false, unchanged: true });
    a.setQuantizedDot!(false);
    try {
      expect(call(64, randomArray(rng, 64), randomArray(rng, 64))).toEqual({ ran: false, unchanged: true });
    } finally {
      a.setQuantizedDot!(true);
    }
  });

  it.skipIf(fusedFormats.length === 0)("a NaN in the state still propagates through the step (the unfused kernels take it)", () => {
    const qm = quantizeLanguageModel(lm("lstm", { V: 20, E: 30, H: 64, L: 2 }), fusedFormats[0]);
    const state = createQuantizedState(qm);
    state.h[70] = Number.NaN; // layer 1
    const z = quantizedStep(qm, 2, state, nativeQuantizedKernels!);
    expect(z.every((v) => Number.isNaN(v))).toBe(true);
  });

  it.skipIf(typeof nativeAddon?.qlstmCell !== "function")("the cell update gives the same bits on AVX-512 (16 units at a time) and AVX2 (8), and within an ulp or so without FMA", () => {
    const a = nativeAddon!;
    const before = a.isa();
    const rng = Rng.seeded(13);
    try {
      for (const H of [5, 37, 512]) {
        const g = randomArray(rng, 4 * H, 6), c0 = randomArray(rng, H, 3);
        const results: { isa: string; c: Float32Array; h: Float32Array }[] = [];
        for (const isa of ["avx512", "avx2", "portable"] as NativeIsa[]) {
          if (!a.setIsa(isa)) continue;
          const c = c0.slice(), h = new Float32Array(H);
          a.qlstmCell!(H, g, c, h);
          results.push({ isa: a.isa(), c, h });
        }
        expect(results.map((r) => r.isa)).toContain("portable");
        const [first, ...rest] = results;
        for (const r of rest) {
          if (r.isa !== "portable") expect({ c: r.c, h: r.h }, r.isa).toEqual({ c: first.c, h: first.h });
          // the scalar build has no fused multiply-add: its polynomial rounds differently, by an ulp or so
          else for (let j = 0; j < H; j++) {
            expect(Math.abs(r.c[j] - first.c[j])).toBeLessThanOrEqual(4e-7 * (1 + Math.abs(first.c[j])));
            expect(Math.abs(r.h[j] - first.h[j])).toBeLessThanOrEqual(4e-7);
          }
        }
      }
    } finally {
      a.setIsa(before);
    }
  });

  it.skipIf(fusedFormats.length === 0)("qlstmStack: the layers done where one declines (a NaN in layer 1's state), each as qlstmLayer computes it", () => {
    const a = nativeAddon!;
    const format = fusedFormats[0];
    const qm = quantizeLanguageModel(lm("lstm", { V: 20, E: 30, H: 64, L: 3 }), format);
    const pack = (m: QuantizedMatrix) => (m.format === "int8" ? a.qpack!(m.q, m.rows, m.cols, true) : a.bpack!(m.w, m.rows, m.cols, true));
    const scale = (m: QuantizedMatrix) => (m.format === "int8" ? m.scale : null);
    const layers = qm.layers.map((layer, l) => ({ wih: l === 0 ? null : pack(layer.Wih), scaleIh: l === 0 ? null : scale(layer.Wih), whh: pack(layer.Whh), scaleHh: scale(layer.Whh), bias: l === 0 ? null : layer.bias }));
    const plan = a.qlstmPlan!(64, layers);
    const rng = Rng.seeded(8);
    const row = randomArray(rng, 256), h0 = randomArray(rng, 3 * 64, 0.9), c0 = randomArray(rng, 3 * 64);
    h0[64 + 5] = Number.NaN;
    const got = { g: new Float32Array(256), h: h0.slice(), c: c0.slice() };
    expect(a.qlstmStack!(plan, row, got.g, got.h, got.c)).toBe(1);
    const want = { g: new Float32Array(256), h: h0.slice(), c: c0.slice() };
    expect(a.qlstmLayer!(64, 0, null, null, row, layers[0].whh, layers[0].scaleHh, null, want.g, want.c.subarray(0, 64), want.h.subarray(0, 64), false)).toBe(true);
    expect(got).toEqual(want);
    expect(() => a.qlstmStack!(plan, row, got.g, got.h.subarray(1), got.c)).toThrow(/L·H/);
    expect(() => a.qlstmStack!(plan, row.subarray(1), got.g, got.h, got.c)).toThrow(RangeError);
    expect(() => a.qlstmStack!(plan, got.g, got.g, got.h, got.c)).toThrow(/overlap/);
    expect(() => (a.qlstmStack as (...x: unknown[]) => number)({}, row, got.g, got.h, got.c)).toThrow(/from qlstmPlan/);
    expect(() => a.qlstmPlan!(64, [{ ...layers[0], scaleHh: format === "int8" ? null : layers[0].scaleHh }, layers[1]].slice(0, format === "int8" ? 2 : 0))).toThrow();
    expect(() => a.qlstmPlan!(64, [layers[0], { ...layers[1], wih: null }])).toThrow(TypeError);
    expect(() => a.qlstmPlan!(64, [layers[0], { ...layers[1], bias: new Float32Array(3) }])).toThrow(/bias needs 256/);
  });

  it.skipIf(fusedFormats.length === 0 || typeof nativeAddon?.qlstmStep !== "function")("qlstmStep: every layer from the table's row, then the logits as qgemv / bgemv make them; the layers done where one declines; its arguments checked", () => {
    const a = nativeAddon!;
    for (const format of fusedFormats) {
      const qm = quantizeLanguageModel(lm("lstm", { V: 20, E: 30, H: 64, L: 2 }), format);
      const pack = (m: QuantizedMatrix, gateOrder: boolean) => (m.format === "int8" ? a.qpack!(m.q, m.rows, m.cols, gateOrder) : a.bpack!(m.w, m.rows, m.cols, gateOrder));
      const scale = (m: QuantizedMatrix) => (m.format === "int8" ? m.scale : null);
      const layers = qm.layers.map((layer, l) => ({ wih: l === 0 ? null : pack(layer.Wih, true), scaleIh: l === 0 ? null : scale(layer.Wih), whh: pack(layer.Whh, true), scaleHh: scale(layer.Whh), bias: l === 0 ? null : layer.bias }));
      const rng = Rng.seeded(9);
      const table = randomArray(rng, 20 * 256);
      const W = qm.W;
      const head = { table, rows: 20, weights: W.format === "int8" ? W.q : W.w, packed: pack(W, false), scale: scale(W), bias: qm.b };
      const plan = a.qlstmPlan!(64, layers, head);
      const h0 = randomArray(rng, 128, 0.9), c0 = randomArray(rng, 128);
      const got = { g: new Float32Array(256), h: h0.slice(), c: c0.slice(), z: new Float32Array(20) };
      expect(a.qlstmStep!(plan, 13, got.g, got.h, got.c, got.z)).toBe(3);
      const want = { g: new Float32Array(256), h: h0.slice(), c: c0.slice(), z: new Float32Array(20) };
      expect(a.qlstmStack!(a.qlstmPlan!(64, layers), table.subarray(13 * 256, 14 * 256), want.g, want.h, want.c)).toBe(2);
      const top = want.h.subarray(64);
      if (W.format === "int8") a.qgemv!(W.q, W.scale, 20, 64, top, want.z, false, head.packed as Uint8Array, qm.b);
      else a.bgemv!(W.w, 20, 64, top, want.z, false, head.packed as Uint16Array, qm.b);
      expect(got).toEqual(want);
      expect(got.z.some((v) => v !== 0)).toBe(true);
      // a NaN in layer 1's h: layer 0 runs, layer 1 declines, the logits stay as they were
      got.h[64 + 3] = Number.NaN;
      const z = got.z.slice();
      expect(a.qlstmStep!(plan, 2, got.g, got.h, got.c, got.z)).toBe(1);
      expect(got.z).toEqual(z);
      expect(() => a.qlstmStep!(plan, 20, got.g, got.h, got.c, got.z)).toThrow(/outside the vocabulary \[0, 20\)/);
      expect(() => a.qlstmStep!(plan, -1, got.g, got.h, got.c, got.z)).toThrow(RangeError);
      expect(() => a.qlstmStep!(plan, 0, got.g, got.h, got.c, got.z.subarray(1))).toThrow(/logits needs/);
      expect(() => a.qlstmStep!(plan, 0, got.g, got.h, got.c, got.g.subarray(0, 20))).toThrow(/overlap/);
      expect(() => a.qlstmStep!(plan, 0, got.g, got.h, got.c, table.subarray(0, 20))).toThrow(/overlap/);
      expect(() => a.qlstmStep!(a.qlstmPlan!(64, layers), 0, got.g, got.h, got.c, got.z)).toThrow(/no head/);
      expect(() => a.qlstmPlan!(64, layers, { ...head, table: table.subarray(1) })).toThrow(/head.table needs rows × 4H = 5120/);
      expect(() => a.qlstmPlan!(64, layers, { ...head, bias: new Float32Array(3) })).toThrow(/bias needs 20/);
      expect(() => a.qlstmPlan!(64, layers, { ...head, rows: 0 })).toThrow(/at least 1/);
      expect(() => a.qlstmPlan!(64, layers, { ...head, weights: new Float32Array(20 * 64) as unknown as Int8Array })).toThrow(TypeError);
      expect(() => a.qlstmPlan!(64, layers, { ...head, packed: pack(W, false).subarray(1) })).toThrow(/head.packed packs 20 × 64/);
      expect(() => a.qlstmPlan!(64, layers, 7 as unknown as null)).toThrow(/head must be an object/);
    }
  });

  it.skipIf(fusedFormats.length === 0 || typeof nativeAddon?.qlstmSetCarry !== "function")("qlstmStep and qlstmStack with layer 0's products carried to the next step: the uncarried bits, however the state changes between steps (two states on one plan, h0 edited or reset, c edited, a declined layer), the input side in gates or as a row, 2 and 3 layers, 1 and 2 threads", () => {
    const a = nativeAddon!;
    const withCarry = <T>(on: boolean, f: () => T): T => {
      const was = a.qlstmSetCarry!(on);
      try {
        return f();
      } finally {
        a.qlstmSetCarry!(was);
      }
    };
    for (const format of fusedFormats)
      for (const o of [{ V: 20, E: 30, H: 64, L: 2 }, { V: 24, E: 40, H: 128, L: 3 }, { V: 24, E: 40, H: 192, L: 2 }])
        for (const threads of [1, 2]) {
          const qm = quantizeLanguageModel(lm("lstm", o), format);
          const pack = (m: QuantizedMatrix) => (m.format === "int8" ? a.qpack!(m.q, m.rows, m.cols, true) : a.bpack!(m.w, m.rows, m.cols, true));
          const scale = (m: QuantizedMatrix) => (m.format === "int8" ? m.scale : null);
          const layers = qm.layers.map((layer, l) => ({ wih: l === 0 ? null : pack(layer.Wih), scaleIh: l === 0 ? null : scale(layer.Wih), whh: pack(layer.Whh), scaleHh: scale(layer.Whh), bias: l === 0 ? null : layer.bias }));
          const rng = Rng.seeded(11);
          const G = 4 * o.H, LH = o.L * o.H;
          const table = randomArray(rng, o.V * G);
          const W = qm.W;
          const head = { table, rows: o.V, weights: W.format === "int8" ? W.q : W.w, packed: W.format === "int8" ? a.qpack!(W.q, W.rows, W.cols, false) : a.bpack!(W.w, W.rows, W.cols, false), scale: scale(W), bias: qm.b };
          const carried = a.qlstmPlan!(o.H, layers, head), plain = a.qlstmPlan!(o.H, layers, head);
          const fresh = () => ({ g: new Float32Array(G), h: randomArray(rng, LH, 0.9), c: randomArray(rng, LH) });
          const copy = (s: ReturnType<typeof fresh>) => ({ g: s.g.slice(), h: s.h.slice(), c: s.c.slice() });
          const A = fresh(), B = fresh();
          const want = { A: copy(A), B: copy(B) };
          const z = new Float32Array(o.V), zw = new Float32Array(o.V);
          let steps = 0;
          // without a head (qlstmStack): layer 0's input side comes in gates (an embedding's projection), or as a row
          const stackCarried = a.qlstmPlan!(o.H, layers), stackPlain = a.qlstmPlan!(o.H, layers);
          const step = (name: "A" | "B", token: number, expected = o.L + 1) => {
            const s = name === "A" ? A : B, w = want[name];
            const n = withThreadsOf(a, threads, () => withCarry(true, () => a.qlstmStep!(carried, token, s.g, s.h, s.c, z)));
            const m = withThreadsOf(a, threads, () => withCarry(false, () => a.qlstmStep!(plain, token, w.g, w.h, w.c, zw)));
            expect([n, m]).toEqual([expected, expected]);
            expect({ g: s.g, h: s.h, c: s.c }).toEqual(w);
            if (expected > o.L) expect(z).toEqual(zw);
            steps++;
          };
          const S = fresh(), wantS = copy(S);
          for (let n = 0; n < 9; n++) {
            const input = randomArray(rng, G);
            const row = n % 3 === 2 ? input : null;
            if (!row) {
              S.g.set(input);
              wantS.g.set(input);
            }
            if (n === 5) S.h[0] = wantS.h[0] = 0.5;
            const done = withThreadsOf(a, threads, () => withCarry(true, () => a.qlstmStack!(stackCarried, row, S.g, S.h, S.c)));
            expect(withThreadsOf(a, threads, () => withCarry(false, () => a.qlstmStack!(stackPlain, row, wantS.g, wantS.h, wantS.c)))).toBe(o.L);
            expect(done).toBe(o.L);
            expect(S).toEqual(wantS);
          }
          for (const t of [3, 7, 7, 1, 0]) step("A", t);
          step("B", 5); // another state: A's carried products do not fit it
          step("A", 2);
          step("A", 4);
          step("B", 6);
          step("B", 6);
          A.h[5] += 0.25; // h0 edited between steps
          want.A.h[5] += 0.25;
          step("A", 9);
          A.c[1] = want.A.c[1] = -0.5; // c is read where it lies
          step("A", 9);
          A.h.fill(0, 0, o.H); // a reset h0
          want.A.h.fill(0, 0, o.H);
          step("A", 1);
          step("A", 8);
          A.h[o.H + 2] = want.A.h[o.H + 2] = Number.NaN; // layer 1 declines: layer 0 has run
          step("A", 3, 1);
          A.h.fill(0.1, o.H);
          want.A.h.fill(0.1, o.H);
          step("A", 3);
          step("A", 0);
          expect(steps).toBe(17);
          expect(A.h.some((v) => v !== 0 && v !== 0.1)).toBe(true);
        }
    expect(() => a.qlstmSetCarry!(1 as unknown as boolean)).toThrow(TypeError);
  });

  it.skipIf(fusedFormats.length === 0 || typeof nativeAddon?.qlstmSetAhead !== "function")("carried steps on 2 threads with layer 1's W_hh·h1 made ahead by an idle worker between calls: used, and the bits of steps that multiply it themselves, also when h1 is edited or another state comes between", () => {
    const a = nativeAddon!;
    const pause = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    for (const format of fusedFormats)
      for (const H of [128, 256]) {
        const o = { V: 24, E: 40, H, L: 2 };
        const qm = quantizeLanguageModel(lm("lstm", o), format);
        const pack = (m: QuantizedMatrix) => (m.format === "int8" ? a.qpack!(m.q, m.rows, m.cols, true) : a.bpack!(m.w, m.rows, m.cols, true));
        const scale = (m: QuantizedMatrix) => (m.format === "int8" ? m.scale : null);
        const layers = qm.layers.map((layer, l) => ({ wih: l === 0 ? null : pack(layer.Wih), scaleIh: l === 0 ? null : scale(layer.Wih), whh: pack(layer.Whh), scaleHh: scale(layer.Whh), bias: l === 0 ? null : layer.bias }));
        const rng = Rng.seeded(5);
        const G = 4 * H, LH = 2 * H;
        const W = qm.W;
        const head = { table: randomArray(rng, o.V * G), rows: o.V, weights: W.format === "int8" ? W.q : W.w, packed: W.format === "int8" ? a.qpack!(W.q, W.rows, W.cols, false) : a.bpack!(W.w, W.rows, W.cols, false), scale: scale(W), bias: qm.b };
        const ahead = a.qlstmPlan!(H, layers, head), plain = a.qlstmPlan!(H, layers, head);
        const fresh = () => ({ g: new Float32Array(G), h: randomArray(rng, LH, 0.9), c: randomArray(rng, LH) });
        const S = fresh(), T = fresh();
        const want = { S: { g: S.g.slice(), h: S.h.slice(), c: S.c.slice() }, T: { g: T.g.slice(), h: T.h.slice(), c: T.c.slice() } };
        const z = new Float32Array(o.V), zw = new Float32Array(o.V);
        const step = (name: "S" | "T", token: number) => {
          const s = name === "S" ? S : T, w = want[name];
          const [n, m] = withThreadsOf(a, 2, () => {
            const wasAhead = a.qlstmSetAhead!(true);
            const n = a.qlstmStep!(ahead, token, s.g, s.h, s.c, z);
            const wasCarry = a.qlstmSetCarry!(false); // uncarried: nothing made ahead either
            const m = a.qlstmStep!(plain, token, w.g, w.h, w.c, zw);
            a.qlstmSetCarry!(wasCarry);
            a.qlstmSetAhead!(wasAhead);
            return [n, m];
          });
          expect([n, m]).toEqual([3, 3]);
          expect({ g: s.g, h: s.h, c: s.c }).toEqual(w);
          expect(z).toEqual(zw);
        };
        // the worker makes the blocks while this thread waits: some step finishes from them
        const before = a.qlstmAheadUsed!();
        for (let n = 0; n < 200 && a.qlstmAheadUsed!() === before; n++) {
          step("S", n % o.V);
          pause(0.5);
        }
        expect(a.qlstmAheadUsed!()).toBeGreaterThan(before);
        step("S", 3); // straight on: the blocks the worker had begun, or none
        S.h[H + 1] += 0.125; // h1 edited between steps: what was made is not used
        want.S.h[H + 1] += 0.125;
        pause(0.5);
        step("S", 4);
        pause(0.5);
        step("T", 5); // another state on the plan
        step("S", 6);
        pause(0.5);
        step("S", 7);
        step("S", 8);
      }
    expect(() => a.qlstmSetAhead!(1 as unknown as boolean)).toThrow(TypeError);
  });

  it.skipIf(typeof nativeAddon?.jsExp !== "function")("jsExp: Math.exp's bits, on sampling's arguments (≤ 0), around ±ln2/2 and ±1.5 ln2, small, large, tiny and special values, 8 at a time (AVX-512) and one by one", () => {
    const a = nativeAddon!;
    const rng = Rng.seeded(12);
    const n = 400_000;
    const x = new Float64Array(n);
    const spans = [-60, 3, 1.6, 1e-7, 1500, 1e-300];
    for (let i = 0; i < n; i++) x[i] = (rng.uniform() - (i % 6 === 0 ? 1 : 0.5)) * spans[i % 6];
    x.set([0, -0, 1, -1, Math.LN2 / 2, -Math.LN2 / 2, 1.5 * Math.LN2, -1.5 * Math.LN2, 709.78, 709.79, -745.13, -745.14, -708.4, -720, 2 ** -28, -(2 ** -29), Infinity, -Infinity, NaN, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE]);
    const out = new Float64Array(n);
    const isa = a.isa();
    const isas: NativeIsa[] = isa === "avx512" ? ["avx512", "avx2", "portable"] : [isa, "portable"];
    try {
      for (const which of isas) {
        a.setIsa(which);
        out.fill(0);
        a.jsExp!(x, out);
        let differ = 0;
        for (let i = 0; i < n; i++) if (!Object.is(out[i], Math.exp(x[i]))) differ++;
        expect([which, differ]).toEqual([which, 0]);
        // every lane position of the 8-wide path meets the special values, one at a time
        for (const special of [0, -0, 1, -1, 1e-9, Math.LN2, -720, -745.2, 709.5, NaN, -Infinity]) {
          const xs = new Float64Array(8).fill(-3.25), o = new Float64Array(8);
          for (let lane = 0; lane < 8; lane++) {
            xs.fill(-3.25);
            xs[lane] = special;
            a.jsExp!(xs, o);
            expect(Array.from(o, (v, i) => Object.is(v, Math.exp(xs[i])))).toEqual(Array(8).fill(true));
          }
        }
      }
    } finally {
      a.setIsa(isa);
    }
    expect(() => a.jsExp!(x, out.subarray(1))).toThrow(/one length/);
    expect(nativeQuantizedKernels!.lstmSample).toBeDefined(); // it matched at load, so sampling uses it
  });

  it.skipIf(fusedFormats.length === 0 || !nativeQuantizedKernels?.lstmSample)("the next token chosen with the step (lstmSample): pickToken's token and probabilities for a draw, argmax, temperatures; sampling's tokens unchanged; a declined layer goes on in TypeScript", () => {
    const native = nativeQuantizedKernels!;
    const { lstmSample: _, ...picksApart } = native;
    for (const format of fusedFormats) {
      for (const threads of [1, 2]) {
        withThreadsOf(nativeAddon!, threads, () => {
          const qm = quantizeLanguageModel(lm("lstm", { V: 40, E: 48, H: 128, L: 2, seed: 4 }), format);
          const a = createQuantizedState(qm), b = createQuantizedState(qm);
          const rng = Rng.seeded(31);
          let ta = 3, tb = 3, drawn = 0;
          for (let n = 0; n < 120; n++) {
            const u = n % 10 === 9 ? -1 : rng.uniform();
            const temperature = [1, 0.6, 1.7][n % 3];
            const next = quantizedStepPicking(qm, ta, a, native, u, temperature);
            const z = quantizedStep(qm, tb, b, picksApart);
            const want = pickToken(z, { rng: { uniform: () => u } as Rng, temperature, argmax: u < 0 });
            expect(next).toBe(want);
            expect(a.logits).toEqual(b.logits); // probabilities (or, for argmax, the logits) as pickToken leaves them
            expect(a.h).toEqual(b.h);
            ta = next;
            tb = want;
            if (u >= 0 && a.logits[want] < 0.5) drawn++;
          }
          expect(drawn).toBeGreaterThan(20); // draws that were not just the most likely token
          for (const o of [{ temperature: 0.8 }, { argmax: true }, { topK: 5 }, { topP: 0.9, temperature: 1.2 }, {}]) {
            const run = (k: QuantizedKernels) => [...sampleTokensQuantized(qm, k, { ...o, length: 300, rng: Rng.seeded(7), prime: Int32Array.of(1, 2) })];
            let picked = 0;
            const counted: QuantizedKernels = { ...native, lstmSample: (...x) => (picked++, native.lstmSample!(...x)) };
            expect(run(counted)).toEqual(run(picksApart));
            expect(picked).toBe("topK" in o || "topP" in o ? 0 : 299);
          }
          // lstmSample declining: at layer 0 (nothing done), and after layer 0 (as the addon returns −1 − 1)
          const declines: QuantizedKernels[] = [
            { ...native, lstmSample: () => -1 },
            {
              ...native,
              lstmSample: (m, table, token, state) => {
                const H = m.config.hiddenSize;
                native.lstmLayer!(null, table.subarray(token * 4 * H, (token + 1) * 4 * H), m.layers[0].Whh, null, state.gi, state.c!.subarray(0, H), state.h.subarray(0, H));
                return -2;
              },
            },
          ];
          for (const declining of declines) {
            const c = createQuantizedState(qm), d = createQuantizedState(qm);
            for (const t of [5, 9, 0, 39, 17]) {
              expect(quantizedStepPicking(qm, t, c, declining, 0.5, 1)).toBe(-1);
              expect(c.logits).toEqual(quantizedStep(qm, t, d, picksApart));
              expect(c.h).toEqual(d.h);
            }
          }
        });
      }
    }
  });

  it.skipIf(fusedFormats.length === 0 || !nativeQuantizedKernels?.lstmSample)("lstmSample: pickToken's token and probabilities for vocabularies around the 8-wide and 64-wide chunks of the C softmax", () => {
    const native = nativeQuantizedKernels!;
    const { lstmSample: _, ...picksApart } = native;
    for (const V of [1, 7, 9, 64, 65, 101, 203]) {
      const qm = quantizeLanguageModel(lm("lstm", { V, E: V + 3, H: 64, L: 2, seed: V }), fusedFormats[0]);
      const a = createQuantizedState(qm), b = createQuantizedState(qm);
      const rng = Rng.seeded(V);
      let ta = 0, tb = 0;
      for (let n = 0; n < 40; n++) {
        const u = rng.uniform(), temperature = [1, 0.3, 2.5][n % 3];
        const next = quantizedStepPicking(qm, ta, a, native, u, temperature);
        const want = pickToken(quantizedStep(qm, tb, b, picksApart), { rng: { uniform: () => u } as Rng, temperature });
        expect([V, n, next]).toEqual([V, n, want]);
        expect(a.logits).toEqual(b.logits);
        ta = next;
        tb = want;
      }
    }
  });

  it.skipIf(fusedFormats.length === 0 || typeof nativeAddon?.qlstmSample !== "function")("qlstmSample: its draw and temperature checked; −1 − the layers done where one declines", () => {
    const a = nativeAddon!;
    const format = fusedFormats[0];
    const qm = quantizeLanguageModel(lm("lstm", { V: 20, E: 30, H: 64, L: 2 }), format);
    const pack = (m: QuantizedMatrix, gateOrder: boolean) => (m.format === "int8" ? a.qpack!(m.q, m.rows, m.cols, gateOrder) : a.bpack!(m.w, m.rows, m.cols, gateOrder));
    const scale = (m: QuantizedMatrix) => (m.format === "int8" ? m.scale : null);
    const layers = qm.layers.map((layer, l) => ({ wih: l === 0 ? null : pack(layer.Wih, true), scaleIh: l === 0 ? null : scale(layer.Wih), whh: pack(layer.Whh, true), scaleHh: scale(layer.Whh), bias: l === 0 ? null : layer.bias }));
    const W = qm.W;
    const plan = a.qlstmPlan!(64, layers, { table: randomArray(Rng.seeded(2), 20 * 256), rows: 20, weights: W.format === "int8" ? W.q : W.w, packed: pack(W, false), scale: scale(W), bias: qm.b });
    const g = new Float32Array(256), h = randomArray(Rng.seeded(3), 128, 0.9), c = new Float32Array(128), z = new Float32Array(20);
    const next = a.qlstmSample!(plan, 4, g, h, c, z, 0.25, 1);
    expect(next).toBeGreaterThanOrEqual(0);
    expect(next).toBeLessThan(20);
    expect(z.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6); // the probabilities
    expect(() => a.qlstmSample!(plan, 4, g, h, c, z, 1, 1)).toThrow(/u < 1/);
    expect(() => a.qlstmSample!(plan, 4, g, h, c, z, 0.5, 0)).toThrow(/temperature > 0/);
    expect(() => a.qlstmSample!(plan, 4, g, h, c, z, Number.NaN, 1)).toThrow(RangeError);
    expect(() => (a.qlstmSample as (...x: unknown[]) => number)(plan, 4, g, h, c, z, "0.5", 1)).toThrow(/must be numbers/);
    expect(() => (a.qlstmSample as (...x: unknown[]) => number)(plan, 4, g, h, c, z)).toThrow(/8 arguments/);
    h[70] = Number.NaN;
    z.fill(7);
    expect(a.qlstmSample!(plan, 4, g, h, c, z, 0.25, 1)).toBe(-2); // layer 0 ran, layer 1 declined
    expect(z.every((v) => v === 7)).toBe(true);
  });

  it.skipIf(typeof nativeAddon?.qlstmLayer !== "function")("addon: bad arguments throw instead of reading out of bounds", () => {
    const a = nativeAddon!;
    const H = 64, q = new Int8Array(4 * H * H), p = a.qpack!(q, 4 * H, H, true), bp = a.bpack!(new Uint16Array(4 * H * H), 4 * H, H, true);
    expect(() => a.qpack!(q, 4 * H - 64, H, true)).toThrow(/multiple of 256/);
    const s = new Float32Array(4 * H), x = new Float32Array(H), g = new Float32Array(4 * H), c = new Float32Array(H), h = new Float32Array(H);
    const f = a.qlstmLayer!.bind(a) as (...args: unknown[]) => boolean;
    expect(() => f(H, H, p, s, x, p, s, null, g, c, h)).toThrow(/12 arguments/);
    expect(() => f(H, H, bp, null, x, p, s, null, g, c, h, false)).toThrow(/Uint8Array, as the other matrix/);
    expect(() => f(H, H, p, s, x, new Float32Array(8), s, null, g, c, h, false)).toThrow(TypeError);
    expect(() => f(H, H, p, s, x, p.subarray(0, 100), s, null, g, c, h, false)).toThrow(RangeError);
    expect(() => f(H, H, p, s, x, p, null, null, g, c, h, false)).toThrow(/row scales/);
    expect(() => f(H, H, p, s, null, p, s, null, g, c, h, false)).toThrow(/x is needed/);
    expect(() => f(H, H, p, s, x, p, s.subarray(1), null, g, c, h, false)).toThrow(RangeError);
    expect(() => f(H, H, p, s, x, p, s, null, g.subarray(1), c, h, false)).toThrow(/gates needs 4H/);
    expect(() => f(H, H, p, s, x, p, s, null, g, g.subarray(0, H), h, false)).toThrow(/overlap/);
    expect(() => f(H, H, p, s, h, p, s, null, g, c, h, false)).toThrow(/overlap/);
    expect(() => f(H, H, null, null, null, bp, null, null, g, c, h, false)).not.toThrow();
  });
});

describe("sampling with compact weights", () => {
  for (const format of FORMATS) {
    it(`${format}: deterministic for a seed, and weights: "${format}" matches sampleTokensQuantized`, () => {
      const model = lm("lstm", { V: 20, E: 24, H: 16 });
      const run = (seed: number) => [...sampleTokens(js, model, { length: 200, rng: Rng.seeded(seed), weights: format, prime: Int32Array.of(1, 2, 3) })];
      const a = run(5);
      expect(run(5)).toEqual(a);
      expect(run(6)).not.toEqual(a);
      const qm = quantizeLanguageModel(model, format);
      expect([...sampleTokensQuantized(qm, quantizedKernelsFor("js"), { length: 200, rng: Rng.seeded(5), prime: Int32Array.of(1, 2, 3) })]).toEqual(a);
    });

    it(`${format}: a model with exactly representable weights samples the float32 tokens`, () => {
      const model = lm("lstm", { V: 20, E: 24, H: 16 });
      // every weight matrix → its compact values: compacting it again is exact
      const exact = dequantizeLanguageModel(model, format);
      const qm = quantizeLanguageModel(exact, format);
      expect(dequantizeLanguageModel(exact, qm).params.data).toEqual(exact.params.data);
      for (const backend of [js, ...(nativeQuantizedKernels ? [getBackend("native")] : [])]) {
        for (const seed of [1, 2, 3]) {
          const o = { length: 300, temperature: 0.8, prime: Int32Array.of(4, 5), rng: Rng.seeded(seed) };
          const f = [...sampleTokens(backend, exact, o)];
          const q = [...sampleTokens(backend, exact, { ...o, rng: Rng.seeded(seed), weights: format })];
          expect(q).toEqual(f);
        }
      }
    });
  }

  it("rejects an unknown weights option", () => {
    const model = lm("lstm");
    expect(() => [...sampleTokens(js, model, { length: 3, rng: Rng.seeded(1), weights: "int4" as "int8" })]).toThrow(/weights must be/);
  });
});
