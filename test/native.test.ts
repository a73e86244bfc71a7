import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { gemm } from "../src/backend/js/gemm.js";
import { getBackend } from "../src/backend/select.js";
import { runReference } from "../src/conformance/reference.js";
import {
  nativeAddon,
  nativeBackend,
  nativeIsa,
  nativeUnavailableReason,
  type NativeIsa,
} from "../src/node/native-backend.js";
import { Rng } from "../src/tensor/random.js";
import type { FloatArray } from "../src/tensor/dtype.js";
import { checkCrossEntropy } from "./helpers/cross-entropy.js";
import { loadReference, referenceFiles } from "./helpers/fixtures.js";

// Edge sizes around the kernels' blocks: tiles 8×32 (AVX-512), 6×16 (AVX2), 4×8 (portable);
// cache blocks MC = 120/128 rows, KC = 256, NC = 1024 columns.
const SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1], [1, 1, 0], [0, 3, 2], [2, 0, 3], [1, 7, 5], [5, 7, 3], [8, 12, 16], [13, 4, 9], [4, 83, 33],
  [9, 33, 17], [7, 17, 300], [32, 64, 129], [130, 40, 5], [3, 1030, 4],
];
const GUARD = 5;
const GUARD_VALUE = 12345;

/** Runs `gemm` of `backend` on views at a nonzero offset and returns C; the guard after C must hold. */
function gemmOnViews(
  make: (n: number) => FloatArray,
  tA: boolean, tB: boolean, M: number, N: number, K: number,
  A: Float64Array, B: Float64Array, C0: Float64Array, acc: boolean,
): FloatArray {
  const view = (src: Float64Array, offset: number, guard: number): FloatArray => {
    const buf = make(offset + src.length + guard);
    buf.fill(GUARD_VALUE);
    const v = buf.subarray(offset, offset + src.length + guard);
    v.set(src);
    return v;
  };
  const a = view(A, 1, 0);
  const b = view(B, 3, 0);
  const c = view(C0, 2, GUARD);
  nativeBackend!.gemm(tA, tB, M, N, K, a, b, c, acc);
  for (let g = 0; g < GUARD; g++) expect(c[C0.length + g], "wrote past the end of C").toBe(GUARD_VALUE);
  return c;
}

function checkGemm(dtype: "float32" | "float64"): void {
  const rng = Rng.seeded(11);
  const round = dtype === "float32" ? Math.fround : (x: number) => x;
  const make = (n: number): FloatArray => (dtype === "float32" ? new Float32Array(n) : new Float64Array(n));
  for (const [M, N, K] of SHAPES) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const A = Float64Array.from({ length: M * K }, () => round(rng.range(-1, 1)));
        const B = Float64Array.from({ length: K * N }, () => round(rng.range(-1, 1)));
        const C0 = Float64Array.from({ length: M * N }, () => round(rng.range(-1, 1)));
        for (const acc of [false, true]) {
          // The specification in float64 on the same (rounded) inputs, and Σ|a·b| (+ |c|) for the bound.
          const want = C0.slice();
          gemm(tA, tB, M, N, K, A, B, want, acc);
          const mag = C0.map(Math.abs);
          gemm(tA, tB, M, N, K, A.map(Math.abs), B.map(Math.abs), mag, acc);
          const got = gemmOnViews(make, tA, tB, M, N, K, A, B, C0, acc);
          for (let i = 0; i < want.length; i++) {
            const tol = dtype === "float32" ? 2.4e-7 * (K + 2) * mag[i] : 1e-15 * (K + 2) * mag[i] + 1e-300;
            const err = Math.abs(got[i] - want[i]);
            if (!(err <= tol)) {
              expect.fail(`${dtype} tA=${tA} tB=${tB} M=${M} N=${N} K=${K} acc=${acc}: C[${i}] = ${got[i]}, want ${want[i]}`);
            }
          }
        }
      }
    }
  }
}

function nativeSuite(addon: NonNullable<typeof nativeAddon>): void {
  const best = addon.isa();
  const isas = (["avx512", "avx2", "portable"] as NativeIsa[]).filter((isa) => {
    const ok = addon.setIsa(isa);
    addon.setIsa(best);
    return ok;
  });

  it("registers as the preferred backend and names its kernel", () => {
    expect(getBackend().name).toBe("native");
    expect(nativeIsa()).toBe(best);
    expect(isas).toContain("portable");
    expect(isas).toContain(best);
  });

  it("measures a float32 FMA peak for unroll bench, and rejects a bad duration", () => {
    // A value, not a speed: only that the measurement runs and returns a finite positive rate.
    const g = addon.peakGflops(0.01);
    expect(Number.isFinite(g) && g > 0).toBe(true);
    expect(() => addon.peakGflops(-1)).toThrow(RangeError);
    expect(() => addon.peakGflops(Number.NaN)).toThrow(/seconds must be a number in \(0, 10\]/);
  });

  for (const isa of isas) {
    it(`${isa}: float32 GEMM equals the reference loops (transposes, accumulate, edge sizes, offset views)`, () => {
      expect(addon.setIsa(isa)).toBe(true);
      try {
        checkGemm("float32");
      } finally {
        addon.setIsa(best);
      }
    });
  }

  it("float64 GEMM equals the reference loops (transposes, accumulate, edge sizes, offset views)", () => {
    checkGemm("float64");
  });

  it("fused softmax cross-entropy equals the specification (loss and dL/dlogits), ignored rows, odd V", () => {
    checkCrossEntropy(getBackend("native").crossEntropy!, "native");
    expect(() => addon.softmaxXent(new Float32Array(4), Int32Array.of(0, 5), 2, 2, null, -100, 0.5)).toThrow(RangeError);
    expect(() => addon.softmaxXent(new Float32Array(3), Int32Array.of(0, 1), 2, 2, null, -100, 0.5)).toThrow(/fewer than N·V/);
  });

  it("rejects bad arguments with TypeError / RangeError instead of touching memory", () => {
    const g = addon.gemm as (...args: unknown[]) => void;
    const f = new Float32Array(6);
    const d = new Float64Array(6);
    expect(() => g(false, false, 2, 3, 1, f, f.slice(), new Float32Array(6), 1)).toThrow(TypeError);
    expect(() => g(false, false, 2, 3, 1, [1, 2], f, new Float32Array(6), false)).toThrow(TypeError);
    expect(() => g(false, false, 2, 3, 1, new Int32Array(2), f, new Float32Array(6), false)).toThrow(TypeError);
    expect(() => g(false, false, 2, 3, 1, d, f, new Float32Array(6), false)).toThrow(/share one element type/);
    expect(() => g(false, false, 2, 3)).toThrow(/takes 9 or 10 arguments/);
    expect(() => g(false, false, -1, 3, 1, f, f.slice(), new Float32Array(6), false)).toThrow(RangeError);
    expect(() => g(false, false, 1.5, 3, 1, f, f.slice(), new Float32Array(6), false)).toThrow(RangeError);
    expect(() => g(false, false, 2, 3, 4, f, f.slice(), new Float32Array(6), false)).toThrow(/A holds 6 elements/);
    expect(() => g(false, false, 2, 3, 1, f, f.slice(), new Float32Array(5), false)).toThrow(/C holds 5/);
    const buf = new Float32Array(12);
    expect(() => g(false, false, 2, 3, 1, buf.subarray(4, 6), f, buf.subarray(0, 6), false)).toThrow(/overlap/);
    expect(() => addon.setIsa("sse9" as NativeIsa)).toThrow(RangeError);
  });

  it("fused recurrence: rejects bad arguments with TypeError / RangeError", () => {
    const fwd = addon.recForward as (...args: unknown[]) => void;
    const bwd = addon.recBackward as (...args: unknown[]) => void;
    const [T, B, H] = [2, 3, 4];
    const z = (n: number) => new Float32Array(n);
    // LSTM (code 3): Whh (4H, H), bhh 4H, xp (T, B, 4H), hs/cs (T+1, B, H), gates (T, B, 4H), aux (T, B, H)
    const args = (): unknown[] => [3, T, B, H, false, z(16 * H), z(4 * H), null, null, null, z(T * B * 4 * H), z((T + 1) * B * H), z((T + 1) * B * H), z(T * B * 4 * H), z(T * B * H)];
    expect(() => fwd(...args())).not.toThrow();
    const bad = (i: number, v: unknown) => {
      const a = args();
      a[i] = v;
      return () => fwd(...a);
    };
    expect(bad(0, 9)).toThrow(RangeError);
    expect(bad(1, -1)).toThrow(RangeError);
    expect(bad(3, 2.5)).toThrow(RangeError);
    expect(bad(4, 1)).toThrow(TypeError);
    expect(bad(5, new Float64Array(16 * H))).toThrow(TypeError);
    expect(bad(5, [0, 1])).toThrow(TypeError);
    expect(bad(5, z(16 * H - 1))).toThrow(/Whh holds 63 elements but needs 64/);
    expect(bad(10, z(5))).toThrow(RangeError);
    expect(bad(11, null)).toThrow(TypeError);
    expect(bad(12, null)).toThrow(TypeError); // an LSTM needs cs
    expect(bad(8, null)).not.toThrow(); // pi..po unused without peepholes
    const a = args();
    a[0] = 4; // lstm-peephole needs pi, pf, po
    expect(() => fwd(...a)).toThrow(TypeError);
    const shared = z(200);
    const o = args();
    o[11] = shared.subarray(0, (T + 1) * B * H);
    o[12] = shared.subarray(10, 10 + (T + 1) * B * H);
    expect(() => fwd(...o)).toThrow(/overlap/);
    expect(() => fwd(3, T, B)).toThrow(/15 arguments/);
    const bargs = (): unknown[] => [0, T, B, H, true, z(H * H), null, null, null, z((T + 1) * B * H), null, null, null, null, z(B * H), null, z(T * B * H), z(H * H), z(H), null, null, null];
    expect(() => bwd(...bargs())).not.toThrow();
    const bb = bargs();
    bb[16] = z(T * B * H - 1);
    expect(() => bwd(...bb)).toThrow(/dxp holds/);
    expect(() => bwd(0, T, B, H)).toThrow(/22 arguments/);
    expect(() => addon.setThreads(0)).toThrow(RangeError);
    expect(() => addon.setThreads(65)).toThrow(RangeError);
    expect(() => (addon.setThreads as (n: unknown) => number)("2")).toThrow(TypeError);
  });

  it("a GEMM with a bias equals filling C with the bias and accumulating, bit for bit, for every ISA and thread count", () => {
    const before = addon.threads();
    const rng = Rng.seeded(17);
    const cases = [
      ...SHAPES.filter(([M, N]) => M > 0 && N > 0).map(([M, N, K]) => [false, true, M, N, K] as const),
      [false, true, 400, 2100, 40], // W1's logits' shape, smaller: column blocks past NC, split by columns
      [false, true, 300, 90, 520], // K blocks past KC, split by rows
      [true, false, 37, 45, 300],
      [false, false, 1, 77, 60], // a row vector: the vector path
      [true, true, 70, 1, 33], // a column
    ] as const;
    try {
      for (const isa of isas) {
        expect(addon.setIsa(isa)).toBe(true);
        for (const [tA, tB, M, N, K] of cases) {
          const A = Float32Array.from({ length: M * K }, () => rng.range(-1, 1));
          const B = Float32Array.from({ length: K * N }, () => rng.range(-1, 1));
          const bias = Float32Array.from({ length: N }, () => rng.range(-2, 2));
          const want = new Float32Array(M * N + 3).fill(7);
          for (let i = 0; i < M; i++) want.set(bias, i * N);
          addon.setThreads(1);
          addon.gemm(tA, tB, M, N, K, A, B, want, true);
          for (const n of [1, 2, 3]) {
            addon.setThreads(n);
            const got = new Float32Array(M * N + 3).fill(Number.NaN);
            got.fill(7, M * N);
            addon.gemm(tA, tB, M, N, K, A, B, got, false, bias);
            expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `${isa}, ${n} threads, ${JSON.stringify([tA, tB, M, N, K])}`).toBe(true);
          }
        }
      }
    } finally {
      addon.setIsa(best);
      addon.setThreads(before);
    }
    const f = (n: number) => new Float32Array(n);
    expect(() => addon.gemm(false, false, 2, 3, 4, f(8), f(12), f(6), true, f(3))).toThrow(/a bias is added only when not accumulating/);
    expect(() => addon.gemm(false, false, 2, 3, 4, f(8), f(12), f(6), false, f(2))).toThrow(RangeError);
    expect(() => addon.gemm(false, false, 2, 3, 4, new Float64Array(8), new Float64Array(12), new Float64Array(6), false, f(3))).toThrow(/a bias needs float32/);
    const shared = f(9);
    expect(() => addon.gemm(false, false, 2, 3, 4, f(8), f(12), shared.subarray(0, 6), false, shared.subarray(5, 8))).toThrow(/C must not overlap the bias/);
    expect(() => (addon.gemm as (...a: unknown[]) => void)(false, false, 2, 3, 4, f(8), f(12), f(6), false, [1, 2, 3])).toThrow(TypeError);
  });

  it("an edge tile of at most half the tile's width (the narrow kernel) has the bits of the full tile, for every ISA", () => {
    // B padded with zero columns to a multiple of 32 makes every tile whole on every ISA (32, 16, 8
    // wide); the first N columns of C must come out the same, bit for bit, as without the padding.
    const before = addon.threads();
    const rng = Rng.seeded(23);
    const cases = [
      [false, false, 40, 200, 300], // W1's dh and dW: 6 tiles of 32 and one of 8 columns
      [true, false, 17, 200, 40],
      [false, true, 24, 40, 270], // 32 + 8 (avx512), 16 + 16 + 8 (avx2)
      [true, true, 9, 24, 33], // 16 + 8 (avx2), one tile of 24 (avx512: wider than half)
      [false, false, 130, 8, 520],
    ] as const;
    try {
      for (const isa of isas) {
        expect(addon.setIsa(isa)).toBe(true);
        for (const [tA, tB, M, N, K] of cases) {
          const P = Math.ceil(N / 32) * 32;
          const A = Float32Array.from({ length: M * K }, () => rng.range(-1, 1));
          const B = Float32Array.from({ length: K * N }, () => rng.range(-1, 1));
          const Bp = new Float32Array(K * P); // B with P − N zero columns
          for (let k = 0; k < K; k++)
            for (let j = 0; j < N; j++) Bp[tB ? j * K + k : k * P + j] = B[tB ? j * K + k : k * N + j];
          const C0 = Float32Array.from({ length: M * N }, () => rng.range(-1, 1));
          for (const acc of [false, true]) {
            for (const n of [1, 2]) {
              addon.setThreads(n);
              const got = C0.slice();
              addon.gemm(tA, tB, M, N, K, A, B, got, acc);
              const padded = new Float32Array(M * P);
              for (let i = 0; i < M; i++) padded.set(C0.subarray(i * N, i * N + N), i * P);
              addon.gemm(tA, tB, M, P, K, A, Bp, padded, acc);
              const want = new Float32Array(M * N);
              for (let i = 0; i < M; i++) want.set(padded.subarray(i * P, i * P + N), i * N);
              expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `${isa}, ${n} threads, acc ${acc}, ${JSON.stringify([tA, tB, M, N, K])}`).toBe(true);
            }
          }
        }
      }
    } finally {
      addon.setIsa(best);
      addon.setThreads(before);
    }
  });

  it("threads: the pool resizes, and a large GEMM on 2 threads equals 1 thread bit for bit", () => {
    const before = addon.threads();
    try {
      expect(addon.setThreads(1)).toBe(1);
      expect(addon.threads()).toBe(1);
      const rng = Rng.seeded(5);
      for (const [tA, tB, M, N, K] of [[false, true, 300, 200, 70], [true, false, 40, 500, 130], [false, false, 1, 3000, 900], [false, true, 1, 2048, 512], [false, true, 2, 1000, 300]] as const) {
        const A = Float32Array.from({ length: M * K }, () => rng.range(-1, 1));
        const Bm = Float32Array.from({ length: K * N }, () => rng.range(-1, 1));
        const C0 = Float32Array.from({ length: M * N }, () => rng.range(-1, 1));
        const run = (n: number) => {
          addon.setThreads(n);
          const C = C0.slice();
          addon.gemm(tA, tB, M, N, K, A, Bm, C, true);
          return C;
        };
        const one = run(1);
        expect(run(2)).toEqual(one);
        expect(run(3)).toEqual(one);
      }
    } finally {
      addon.setThreads(before);
    }
  });

  it("threads: JS worker threads may call the addon at the same time as the main thread", async () => {
    const before = addon.threads();
    addon.setThreads(2);
    try {
      const [M, N, K] = [300, 200, 64];
      const rng = Rng.seeded(9);
      const A = Float32Array.from({ length: M * K }, () => rng.range(-1, 1));
      const Bm = Float32Array.from({ length: N * K }, () => rng.range(-1, 1));
      const want = new Float32Array(M * N);
      addon.gemm(false, true, M, N, K, A, Bm, want, false);
      const file = fileURLToPath(new URL("../build/Release/unroll_native.node", import.meta.url));
      const code = `const { parentPort, workerData: w } = require("node:worker_threads");
        const addon = require(w.file);
        let C;
        for (let i = 0; i < 10; i++) { C = new Float32Array(w.M * w.N); addon.gemm(false, true, w.M, w.N, w.K, w.A, w.B, C, false); }
        parentPort.postMessage(C);`;
      const run = () =>
        new Promise<Float32Array>((resolve, reject) => {
          const worker = new Worker(code, { eval: true, workerData: { file, M, N, K, A, B: Bm } });
          worker.once("message", (c: Float32Array) => {
            resolve(c);
            void worker.terminate();
          });
          worker.once("error", reject);
        });
      const pending = [run(), run()];
      for (let i = 0; i < 10; i++) {
        const C = new Float32Array(M * N);
        addon.gemm(false, true, M, N, K, A, Bm, C, false);
        expect(C).toEqual(want);
      }
      for (const c of await Promise.all(pending)) expect(c).toEqual(want);
    } finally {
      addon.setThreads(before);
    }
  });

  for (const dtype of ["float64", "float32"] as const) {
    it(`${best}: passes every reference vector file in ${dtype}`, () => {
      for (const file of referenceFiles()) {
        const report = runReference(loadReference(file), dtype, nativeBackend!);
        expect(report.pass, `${file}: ${report.worst.name}`).toBe(true);
      }
    });
  }
  for (const isa of isas.filter((i) => i !== best)) {
    it(`${isa}: passes every reference vector file in float32`, () => {
      expect(addon.setIsa(isa)).toBe(true);
      try {
        for (const file of referenceFiles()) {
          const report = runReference(loadReference(file), "float32", nativeBackend!);
          expect(report.pass, `${file}: ${report.worst.name}`).toBe(true);
        }
      } finally {
        addon.setIsa(best);
      }
    });
  }
}

describe("native backend", () => {
  if (nativeAddon) nativeSuite(nativeAddon);
  else it.skip(`skipped: ${nativeUnavailableReason}`, () => {});
});
