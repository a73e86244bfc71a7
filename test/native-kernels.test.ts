/**
 * Two native training kernels against their specifications:
 *  - scatterAddRows (native/scatter.c) against the token-input loop of `unrollBackward`
 *    (src/sequence/unroll.ts), bit for bit, for every ISA the CPU runs and 1 and 2 threads, and a
 *    float32 token-input layer's gradients the same with and without it;
 *  - softmaxXent (native/recurrence.c) split over the pool by blocks of rows: the loss the same for
 *    1 and 2 threads and within 1e-12 of an exact sum of its per-row losses, dlogits identical to
 *    row-by-row runs (the single-row computation is unchanged by the split).
 */
import { describe, expect, it } from "vitest";
import { fillRows, type Backend } from "../src/backend/backend.js";
import { parseCell } from "../src/cells/index.js";
import { nativeAddon, nativeBackend } from "../src/node/native-backend.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, type RecurrentConfig } from "../src/sequence/recurrent.js";
import { createArena, mirrorArena } from "../src/tensor/arena.js";
import { Rng } from "../src/tensor/random.js";
import { nativeIsasRestoredAfterEach } from "./helpers/native.js";

const THREADS = [1, 2];

/** The specification: `unrollBackward`'s grouping of dXP by token. */
function scatterLoop(D: Float32Array, dxp: Float32Array, ids: Int32Array, GH: number): void {
  for (let r = 0; r < ids.length; r++) {
    const row = ids[r] * GH;
    for (let g = 0; g < GH; g++) D[row + g] += dxp[r * GH + g];
  }
}

/** Values over several orders of magnitude, both signs: sums that round differently in another order. */
function randomValues(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(-1, 1) * 10 ** rng.range(-4, 2));
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const x = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const y = new Uint32Array(want.buffer, want.byteOffset, want.length);
  expect(x.length).toBe(y.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) expect.fail(`${what}: first difference at ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

/** Σ xs in float64 with Neumaier's compensation: exact to about one rounding of the result. */
function exactSum(xs: readonly number[]): number {
  let s = 0;
  let c = 0;
  for (const x of xs) {
    const t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    s = t;
  }
  return s + c;
}

describe.skipIf(!nativeAddon)("native training kernels", () => {
  const addon = nativeAddon!;
  const isas = nativeIsasRestoredAfterEach(addon);

  // [rows of ids, V, width]: the last two are large enough for the pool (N·width ≥ 2^20), with
  // column ranges that end mid-vector.
  const SHAPES = [[50, 3, 1], [300, 13, 7], [40, 5, 1000], [2048, 96, 1000], [1100, 11, 1037]] as const;

  for (const isa of isas) {
    for (const threads of THREADS) {
      it(`scatterAddRows equals the loop bit for bit (${isa}, ${threads} thread${threads > 1 ? "s" : ""})`, () => {
        expect(addon.setIsa(isa)).toBe(true);
        addon.setThreads(threads);
        const rng = Rng.seeded(17);
        for (const [N, V, width] of SHAPES) {
          // Few distinct ids, many repeats: each row of out receives a long sum.
          const ids = Int32Array.from({ length: N }, () => rng.int(V));
          const src = randomValues(rng, N * width);
          const out0 = randomValues(rng, V * width);
          const want = out0.slice();
          scatterLoop(want, src, ids, width);
          const got = out0.slice();
          expect(nativeBackend!.scatterAddRows!(got, src, ids, width)).toBe(true);
          expectSameBits(got, want, `N=${N} V=${V} width=${width}`);
        }
      });
    }
  }

  it("scatterAddRows: an offset view writes only its rows; float64 is left to the loop", () => {
    const rng = Rng.seeded(3);
    const [N, V, width] = [100, 4, 9];
    const ids = Int32Array.from({ length: N }, () => rng.int(V));
    const src = randomValues(rng, N * width + 5).subarray(5);
    const buf = new Float32Array(V * width + 8).fill(12345);
    const out = buf.subarray(3, 3 + V * width).fill(0);
    addon.scatterAddRows(out, src, ids, width);
    const want = new Float32Array(V * width);
    scatterLoop(want, src, ids, width);
    expectSameBits(out, want, "offset view");
    for (const i of [0, 1, 2, V * width + 3, V * width + 7]) expect(buf[i]).toBe(12345);
    const d = new Float64Array(V * width);
    expect(nativeBackend!.scatterAddRows!(d, Float64Array.from(src), ids, width)).toBe(false);
    expect(d.every((x) => x === 0)).toBe(true);
  });

  it("scatterAddRows: bad ids, short arrays, wrong types and overlap throw and write nothing", () => {
    const f = addon.scatterAddRows as (...args: unknown[]) => void;
    const [V, width] = [4, 3];
    const out = new Float32Array(V * width + 2); // 4 whole rows; the 2 extra values are no row
    const src = new Float32Array(5 * width).fill(1);
    const ok = Int32Array.of(0, 1, 2, 3, 3);
    expect(() => f(out, src, Int32Array.of(0, 1, 2, 4, 0), width)).toThrow(/ids\[3\] = 4 is out of range \[0, 4\)/);
    expect(() => f(out, src, Int32Array.of(0, -1, 2, 3, 0), width)).toThrow(RangeError);
    expect(() => f(out, src.subarray(1), ok, width)).toThrow(/src holds 14 values but ids.length·width = 15/);
    expect(() => f(out, src, ok, -1)).toThrow(RangeError);
    expect(() => f(out, src, ok, 1.5)).toThrow(RangeError);
    expect(() => f(new Float64Array(14), src, ok, width)).toThrow(/out must be a Float32Array/);
    expect(() => f(out, Float64Array.from(src), ok, width)).toThrow(TypeError);
    expect(() => f(out, src, Float32Array.of(0, 1, 2, 3, 3), width)).toThrow(/ids must be an Int32Array/);
    expect(() => f(out, src, [0, 1, 2, 3, 3], width)).toThrow(TypeError);
    expect(() => f(out, src, ok)).toThrow(/4 arguments/);
    const shared = new Float32Array(40);
    expect(() => f(shared.subarray(0, 12), shared.subarray(10, 25), ok, width)).toThrow(/overlap/);
    const ab = new ArrayBuffer(64);
    expect(() => f(new Float32Array(ab, 0, 12), src, new Int32Array(ab, 40, 5), width)).toThrow(/overlap/);
    expect(out.every((x) => x === 0)).toBe(true);
    expect(shared.every((x) => x === 0)).toBe(true);
    expect(() => f(out, src, ok, 0)).not.toThrow(); // width 0: nothing to add
    expect(() => f(out, new Float32Array(0), new Int32Array(0), width)).not.toThrow();
    expect(out.every((x) => x === 0)).toBe(true);
  });

  it("a float32 token-input layer (table and one-hot) has the same gradients with and without scatterAddRows", () => {
    const [T, B, H, I, V] = [24, 8, 16, 5, 11];
    const loopOnly: Backend = { ...nativeBackend!, scatterAddRows: undefined };
    let calls = 0;
    const counted: Backend = {
      ...nativeBackend!,
      scatterAddRows(...a) {
        calls++;
        return nativeBackend!.scatterAddRows!(...a);
      },
    };
    for (const oneHot of [false, true]) {
      const rng = Rng.seeded(oneHot ? 41 : 42);
      const config: RecurrentConfig = { cell: parseCell("lstm"), inputSize: oneHot ? V : I, hiddenSize: H, numLayers: 1, bidirectional: true, dropout: 0 };
      const params = createArena("float32", recurrentSpecs(config));
      for (let i = 0; i < params.data.length; i++) params.data[i] = rng.range(-0.3, 0.3);
      const r = bindRecurrent(config, params);
      const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
      const table = oneHot ? null : randomValues(rng, V * I);
      const dy = randomValues(rng, T * B * 2 * H);
      const grads = (backend: Backend) => {
        const g = mirrorArena(params);
        const pass = recurrentForward(backend, r, "float32", { ids, table, V }, T, B, null, null);
        const dx = recurrentBackward(backend, r, bindRecurrent(config, g), "float32", pass, dy, null, null).dx;
        return { g: g.data as Float32Array, dx: dx as Float32Array };
      };
      calls = 0;
      const a = grads(counted);
      expect(calls).toBe(2); // once per direction
      const b = grads(loopOnly);
      expectSameBits(a.g, b.g, `${oneHot ? "one-hot" : "table"}: parameter gradients`);
      expectSameBits(a.dx, b.dx, `${oneHot ? "one-hot" : "table"}: d table`);
    }
  });

  // [N, V]: one block (the calling thread), blocks of 64 rows with a partial last one, W1's shape.
  const XENT = [[40, 1000], [129, 601], [400, 10000]] as const;

  for (const isa of isas) {
    it(`softmaxXent over blocks of rows: loss the same for 1 and 2 threads, exact block sums, dlogits unchanged (${isa})`, () => {
      expect(addon.setIsa(isa)).toBe(true);
      const rng = Rng.seeded(23);
      for (const [N, V] of XENT) {
        const logits = Float32Array.from({ length: N * V }, () => rng.range(-20, 20));
        const targets = Int32Array.from({ length: N }, (_, n) => (n % 7 === 5 ? -100 : rng.int(V)));
        const scale = 1 / N;
        // Row by row: each call is one row, computed as before the split.
        addon.setThreads(1);
        const rowLoss: number[] = [];
        const rowD = new Float32Array(N * V);
        for (let n = 0; n < N; n++) {
          rowLoss.push(addon.softmaxXent(logits.subarray(n * V, (n + 1) * V), targets.subarray(n, n + 1), 1, V, rowD.subarray(n * V, (n + 1) * V), -100, scale));
        }
        const losses: number[] = [];
        for (const threads of THREADS) {
          addon.setThreads(threads);
          const d = new Float32Array(N * V).fill(7);
          losses.push(addon.softmaxXent(logits, targets, N, V, d, -100, scale));
          expectSameBits(d, rowD, `dlogits N=${N} V=${V} threads=${threads}`);
          expect(addon.softmaxXent(logits, targets, N, V, null, -100, scale)).toBe(losses[losses.length - 1]);
        }
        expect(losses[1], `N=${N} V=${V}: 2 threads`).toBe(losses[0]);
        const ref = exactSum(rowLoss);
        expect(Math.abs(losses[0] - ref)).toBeLessThanOrEqual(1e-12 * Math.abs(ref));
      }
    });
  }

  for (const threads of THREADS) {
    it(`fill writes what fillRows writes: bias rows and zeros, small and pooled sizes (${threads} thread${threads > 1 ? "s" : ""})`, () => {
      addon.setThreads(threads);
      const rng = Rng.seeded(23);
      const plain: Backend = { name: "plain", gemm: () => {} }; // no fill: fillRows runs its loop
      for (const [rows, width] of [[3, 7], [400, 10000], [2048, 1024], [70000, 1]] as const) {
        const row = randomValues(rng, width);
        const x = randomValues(rng, rows * width + 5).subarray(2, 2 + rows * width); // a view: nothing outside it changes
        const around = Float32Array.from(new Float32Array(x.buffer, 0, 2));
        const want = Float32Array.from(x);
        fillRows(plain, want, row);
        expect(nativeBackend!.fill!(x, row)).toBe(true);
        expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(want.buffer))).toBe(true);
        expect(new Float32Array(x.buffer, 0, 2)).toEqual(around);
        expect(nativeBackend!.fill!(x, null)).toBe(true);
        expect(x.every((v) => v === 0)).toBe(true);
      }
      expect(nativeBackend!.fill!(new Float64Array(4), null)).toBe(false);
      expect(() => addon.fill(new Float32Array(10), new Float32Array(3))).toThrow(RangeError);
      expect(() => addon.fill(new Float64Array(10) as unknown as Float32Array, null)).toThrow(TypeError);
      const shared = new Float32Array(12);
      expect(() => addon.fill(shared, shared.subarray(0, 4))).toThrow(/overlap/);
    });
  }
});
