/**
 * The native backend's fused whole-sequence recurrence (native/recurrence.c) against the cells'
 * own step code (the specification, run by the JS backend), STYLE.md principle 11:
 * - fused forward = plain forward: hs, cs and the cache buffers (LSTM gates, tanh(c); GRU gates, hn);
 * - fused backward = plain backward: dxp (through dx and dW_ih, db_ih), dW_hh, db_hh, peepholes,
 *   dh0, dc0; and a fused forward feeds a plain backward;
 * - 2 threads = 1 thread; a short training run repeats bit for bit.
 * Random T, B, H including odd sizes, both directions, every cell and variant, float32; sizes on
 * both sides of the small-batch path (B < 3 or T·B ≤ 8 reads W_hh unpacked).
 * Tolerance: |got − want| ≤ 1e-5·max(1, max|want|) + 1e-4·|want| per element.
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/js/index.js";
import { createCell, parseCell, type Cell, type CellParams } from "../src/cells/index.js";
import { unrollBackward, unrollForward, type UnrollCache } from "../src/sequence/unroll.js";
import { Rng } from "../src/tensor/random.js";
import type { FloatArray } from "../src/tensor/dtype.js";
import { nativeAddon, nativeBackend, nativeUnavailableReason } from "../src/node/native-backend.js";
import { createTraining } from "../src/train/train.js";
import { withThreads as withThreadsOf } from "./helpers/native.js";

const CELLS = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "lstm", "lstm-peephole", "lstm-coupled", "lstm-peephole-coupled", "gru", "gru-cho"] as const;

/** [T, B, I, H]: odd sizes, unit tails, the packed and the small-batch paths. */
const SIZES: readonly (readonly [number, number, number, number])[] = [
  [5, 3, 4, 13],
  [7, 8, 9, 40],
  [4, 5, 3, 29],
  [3, 1, 5, 17],
  [1, 2, 3, 9],
  [6, 4, 6, 64],
  // from 4 rows per thread (2 threads) the native recurrence splits the batch instead of the units
  [5, 37, 4, 27],
  // batch-1/2 steps read W_hh in place, four rows at a time when H is a multiple of 16
  [4, 2, 3, 48],
  [3, 1, 5, 32],
];

function rand(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.range(-1, 1));
}

function makeParams(cell: Cell, I: number, H: number, rng: Rng): { p: CellParams; zeroGrads: () => CellParams } {
  const GH = cell.G * H;
  const s = 1 / Math.sqrt(H);
  const extra = Object.fromEntries(cell.extras.map((e) => [e.key, rand(rng, e.size(H), 0.5)]));
  const p: CellParams = { Wih: rand(rng, GH * I, s), Whh: rand(rng, GH * H, 2 * s), bih: rand(rng, GH, 0.3), bhh: rand(rng, GH, 0.3), extra };
  const zeroGrads = (): CellParams => ({
    Wih: new Float32Array(GH * I),
    Whh: new Float32Array(GH * H),
    bih: new Float32Array(GH),
    bhh: new Float32Array(GH),
    extra: Object.fromEntries(cell.extras.map((e) => [e.key, new Float32Array(e.size(H))])),
  });
  return { p, zeroGrads };
}

function close(got: FloatArray, want: FloatArray, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let max = 1;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * max + 1e-4 * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= tol)) expect.fail(`${what}[${i}] = ${got[i]}, want ${want[i]} (tolerance ${tol.toExponential(2)})`);
  }
}

function cacheBuffers(c: UnrollCache): Record<string, FloatArray> {
  const out: Record<string, FloatArray> = { hs: c.hs, cs: c.cs };
  const cell = c.cell as Record<string, FloatArray> | null;
  if (cell?.gates) out.gates = cell.gates;
  if (cell?.tc) out.tc = cell.tc;
  if (cell?.hn) out.hn = cell.hn;
  return out;
}

interface Case {
  cell: Cell;
  p: CellParams;
  zeroGrads: () => CellParams;
  T: number;
  B: number;
  I: number;
  H: number;
  reverse: boolean;
  x: Float32Array;
  h0: Float32Array;
  c0: Float32Array | null;
  dy: Float32Array;
  dhT: Float32Array;
  dcT: Float32Array | null;
}

function makeCase(name: string, [T, B, I, H]: readonly [number, number, number, number], reverse: boolean, seed: number): Case {
  const rng = Rng.seeded(seed);
  const cell = createCell(parseCell(name));
  const { p, zeroGrads } = makeParams(cell, I, H, rng);
  return {
    cell, p, zeroGrads, T, B, I, H, reverse,
    x: rand(rng, T * B * I),
    h0: rand(rng, B * H, 0.5),
    c0: cell.hasC ? rand(rng, B * H, 0.5) : null,
    dy: rand(rng, T * B * H),
    dhT: rand(rng, B * H),
    dcT: cell.hasC ? rand(rng, B * H) : null,
  };
}

function forward(backend: Backend, c: Case): UnrollCache {
  return unrollForward(backend, c.cell, c.p, "float32", { T: c.T, B: c.B, H: c.H }, c.I, c.x, c.h0, c.c0, c.reverse);
}

function backward(backend: Backend, c: Case, cache: UnrollCache) {
  const dp = c.zeroGrads();
  const dx = new Float32Array(c.T * c.B * c.I);
  const g = unrollBackward(backend, c.cell, c.p, dp, "float32", cache, c.dy, c.dhT, c.dcT, dx);
  return { dp, dx, dh0: g.dh0, dc0: g.dc0 };
}

function compareGrads(got: ReturnType<typeof backward>, want: ReturnType<typeof backward>, what: string): void {
  close(got.dx, want.dx, `${what} dx`);
  close(got.dh0, want.dh0, `${what} dh0`);
  close(got.dc0, want.dc0, `${what} dc0`);
  for (const k of ["Wih", "Whh", "bih", "bhh"] as const) close(got.dp[k], want.dp[k], `${what} d${k}`);
  for (const k of Object.keys(want.dp.extra)) close(got.dp.extra[k], want.dp.extra[k], `${what} d${k}`);
}

const withThreads = <T>(n: number, f: () => T): T => withThreadsOf(nativeAddon!, n, f);

const native = nativeBackend;
describe.skipIf(!native)(`fused recurrence (native backend)${native ? "" : ` — skipped: ${nativeUnavailableReason}`}`, () => {
  it("supports every cell in float32 and none in float64", () => {
    for (const name of CELLS) {
      expect(native!.recurrence!.supports(parseCell(name), "float32")).toBe(true);
      expect(native!.recurrence!.supports(parseCell(name), "float64")).toBe(false);
    }
  });

  for (const name of CELLS) {
    it(`${name}: fused forward and backward equal the step code, both directions`, () => {
      let seed = 100;
      for (const size of SIZES) {
        for (const reverse of [false, true]) {
          const c = makeCase(name, size, reverse, seed++);
          const what = `${name} T,B,I,H=${size.join(",")} reverse=${reverse}`;
          const plain = forward(jsBackend, c);
          const fused = forward(native!, c);
          const pb = cacheBuffers(plain);
          const fb = cacheBuffers(fused);
          for (const k of Object.keys(pb)) close(fb[k], pb[k], `${what} ${k}`);
          const want = backward(jsBackend, c, plain);
          compareGrads(backward(native!, c, fused), want, `${what} fused`);
          // A fused forward feeds the plain backward, and a plain forward the fused backward.
          compareGrads(backward(jsBackend, c, fused), want, `${what} fused→plain`);
          compareGrads(backward(native!, c, plain), want, `${what} plain→fused`);
        }
      }
    });
  }

  it("the portable (non-AVX2) kernels agree too", () => {
    const best = nativeAddon!.isa();
    expect(nativeAddon!.setIsa("portable")).toBe(true);
    try {
      for (const name of CELLS) {
        const c = makeCase(name, [5, 4, 3, 19], name.length % 2 === 1, 55);
        const plain = forward(jsBackend, c);
        const fused = forward(native!, c);
        const pb = cacheBuffers(plain);
        const fb = cacheBuffers(fused);
        for (const k of Object.keys(pb)) close(fb[k], pb[k], `${name} portable ${k}`);
        compareGrads(backward(native!, c, fused), backward(jsBackend, c, plain), `${name} portable`);
      }
    } finally {
      nativeAddon!.setIsa(best);
    }
  });

  it("without dy (only final states carry loss) and with T = 0", () => {
    for (const name of ["lstm-peephole", "gru", "gru-cho", "rnn-relu"]) {
      const c = { ...makeCase(name, [6, 4, 5, 21], true, 7) };
      const noDy = (b: Backend, cache: UnrollCache) => {
        const dp = c.zeroGrads();
        const g = unrollBackward(b, c.cell, c.p, dp, "float32", cache, null, c.dhT, c.dcT, null);
        return { dp, dx: new Float32Array(0), dh0: g.dh0, dc0: g.dc0 };
      };
      compareGrads(noDy(native!, forward(native!, c)), noDy(jsBackend, forward(jsBackend, c)), `${name} no dy`);
      const empty = makeCase(name, [0, 3, 2, 5], false, 8);
      const f = forward(native!, empty);
      expect(Array.from(f.hs)).toEqual(Array.from(empty.h0));
      const g = backward(native!, empty, f);
      expect(Array.from(g.dh0)).toEqual(Array.from(empty.dhT));
    }
  });

  it("2 threads equal 1 thread", () => {
    for (const name of CELLS) {
      for (const size of [[9, 6, 7, 45], [4, 2, 3, 33]] as const) {
        const c = makeCase(name, size, name.length % 2 === 0, 21);
        const run = () => {
          const f = forward(native!, c);
          return { f: cacheBuffers(f), g: backward(native!, c, f) };
        };
        const one = withThreads(1, run);
        const two = withThreads(2, run);
        for (const k of Object.keys(one.f)) close(two.f[k], one.f[k], `${name} 2 threads ${k}`);
        compareGrads(two.g, one.g, `${name} 2 threads`);
      }
    }
  });

  it("2 threads equal 1 thread bit for bit, whether the threads split the units or the batch", () => {
    const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
    for (const name of CELLS) {
      // B 34, 20: batch mode (≥ 4 rows per thread; 20 is W1's, 12 + 8 rows, the 4-row tails on the
      // narrow kernel whichever thread has them); B 5: unit mode
      for (const size of [[6, 34, 5, 40], [4, 20, 3, 30], [5, 5, 3, 50]] as const) {
        const c = makeCase(name, size, name.length % 2 === 1, 23);
        const run = () => {
          const f = forward(native!, c);
          return { f: cacheBuffers(f), g: backward(native!, c, f) };
        };
        const one = withThreads(1, run);
        const two = withThreads(2, run);
        const what = `${name} B ${size[1]}`;
        for (const k of Object.keys(one.f)) expect(bits(two.f[k]), `${what} ${k}`).toEqual(bits(one.f[k]));
        for (const k of ["dx", "dh0", "dc0"] as const) expect(bits(two.g[k]), `${what} ${k}`).toEqual(bits(one.g[k]));
        for (const k of ["Wih", "Whh", "bih", "bhh"] as const) expect(bits(two.g.dp[k]), `${what} d${k}`).toEqual(bits(one.g.dp[k]));
      }
    }
  });

  it("a short training run repeats bit for bit (same seed, backend, thread count)", async () => {
    const text = "the quick brown fox jumps over the lazy dog. ".repeat(40);
    const run = async () => {
      const t = createTraining({ text, cell: "lstm", layers: 2, hidden: 24, seqLen: 12, batch: 4, maxSteps: 4, evalEvery: 100, sampleEvery: 0, seed: 3, backend: native!, dtype: "float32" });
      for await (const e of t.run()) void e;
      return Float32Array.from(t.model.params.data);
    };
    for (const n of [1, 2]) {
      const a = await withThreads(n, run);
      const b = await withThreads(n, run);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `${n} threads`).toBe(true);
    }
  });
});
