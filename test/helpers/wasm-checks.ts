/**
 * The wasm backend's checks, shared by test/wasm.test.ts (the modules this engine picks, and the
 * plain SIMD128 module where that is not the one) and test/wasm-relaxed.test.ts (the modules built
 * with relaxed SIMD): its float32 GEMM against the reference loops for all transpose cases, ragged
 * edges and K past one cache block; its fused recurrence against the cells' own step code (states,
 * caches, dxp, every parameter gradient, dL/dh0, dL/dc0) for every cell variant, both directions,
 * odd sizes, within 1e-5 + 1e-4·|expected|; and 2 threads against 1, bit for bit.
 */
import { expect } from "vitest";
import type { Backend } from "../../src/backend/backend.js";
import { gemm } from "../../src/backend/js/gemm.js";
import { jsBackend } from "../../src/backend/js/index.js";
import { createWasmBackend } from "../../src/backend/wasm/backend.js";
import { Kernels, webAssemblyApi } from "../../src/backend/wasm/kernels.js";
import { createCell, parseCell, type CellParams } from "../../src/cells/index.js";
import { unrollBackward, unrollForward } from "../../src/sequence/unroll.js";
import { Rng } from "../../src/tensor/random.js";

function random(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.range(-1, 1));
}

/** Max over i of |got − want| / (1e-5 + 1e-4·|want|): ≤ 1 passes. */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / (1e-5 + 1e-4 * Math.abs(want[i])));
  return w;
}

/** A single-threaded wasm backend on its own instance of the module given (`moduleBytes(relaxed)`). */
export function wasmBackendOf(bytes: Uint8Array): Backend {
  let k: Kernels | null = null;
  return createWasmBackend(() => (k ??= new Kernels(new (webAssemblyApi()!.Module)(bytes))));
}

/** The float32 GEMM of `backend` against the reference loops. */
export function checkGemm(backend: Backend): void {
  const rng = Rng.seeded(5);
  for (const [M, N, K] of [[1, 1, 1], [5, 7, 3], [4, 8, 16], [13, 4, 9], [4, 83, 33], [37, 45, 300], [3, 1040, 13], [70, 9, 530], [1, 51, 33], [2, 37, 70], [2, 8, 4]]) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const acc of [false, true]) {
          const A = random(rng, M * K);
          const B = random(rng, K * N);
          const C0 = random(rng, M * N);
          const want = Float64Array.from(C0);
          gemm(tA, tB, M, N, K, Float64Array.from(A), Float64Array.from(B), want, acc);
          const got = C0.slice();
          backend.gemm(tA, tB, M, N, K, A, B, got, acc);
          // float32 sums of K terms of size ≤ 1
          let w = 0;
          for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]));
          expect(w, `${M}x${N}x${K} tA=${tA} tB=${tB} acc=${acc}`).toBeLessThan(2e-6 * K + 1e-6);
        }
      }
    }
  }
}

/** [T, B, I, H]: odd sizes, H mod 4 tails, a batch of one, one step. */
const SIZES = [[6, 3, 5, 13], [3, 1, 5, 17], [1, 2, 3, 9], [4, 5, 3, 29], [5, 8, 9, 40]] as const;

/** The fused recurrence of `backend` for cell `name` against the cell's step code (the js backend). */
export function checkRecurrence(backend: Backend, name: string, reverse: boolean): void {
  const cell = createCell(parseCell(name));
  const rng = Rng.seeded(11);
  for (const [T, B, I, H] of SIZES) {
    const GH = cell.G * H;
    const extra = (scale: number) =>
      Object.fromEntries(cell.extras.map((e) => [e.key, random(rng, e.size(H), scale)] as const));
    const p: CellParams = { Wih: random(rng, GH * I, 0.5), Whh: random(rng, GH * H, 0.5), bih: random(rng, GH, 0.3), bhh: random(rng, GH, 0.3), extra: extra(0.5) };
    const dp0: CellParams = { Wih: random(rng, GH * I), Whh: random(rng, GH * H), bih: random(rng, GH), bhh: random(rng, GH), extra: extra(1) };
    const x = random(rng, T * B * I);
    const h0 = random(rng, B * H);
    const c0 = cell.hasC ? random(rng, B * H) : null;
    const dy = random(rng, T * B * H);
    const dhT = random(rng, B * H);
    const dcT = cell.hasC ? random(rng, B * H) : null;
    const dims = { T, B, H };

    /** Forward on `fwd`, backward on `bwd` (a fused forward must feed a plain backward). */
    const run = (fwd: Backend, bwd: Backend, withDy: boolean) => {
      const cache = unrollForward(fwd, cell, p, "float32", dims, I, x, h0, c0, reverse);
      const dp: CellParams = {
        Wih: dp0.Wih.slice(), Whh: dp0.Whh.slice(), bih: dp0.bih.slice(), bhh: dp0.bhh.slice(),
        extra: Object.fromEntries(Object.entries(dp0.extra).map(([k, v]) => [k, v.slice()])),
      };
      const dx = new Float32Array(T * B * I);
      const g = unrollBackward(bwd, cell, p, dp, "float32", cache, withDy ? dy : null, dhT, dcT, dx);
      return { cache, dp, dx, g };
    };
    for (const [label, fwd, bwd, withDy] of [
      ["fused", backend, backend, true],
      ["fused, final states only", backend, backend, false],
      ["fused forward, plain backward", backend, jsBackend, true],
      ["plain forward, fused backward", jsBackend, backend, true],
    ] as const) {
      const want = run(jsBackend, jsBackend, withDy); // no recurrence: the cells' step code
      const got = run(fwd, bwd, withDy);
      const checks: [string, ArrayLike<number>, ArrayLike<number>][] = [
        ["hs", got.cache.hs, want.cache.hs],
        ["cs", got.cache.cs, want.cache.cs],
        ...Object.entries((want.cache.cell as Record<string, Float32Array> | null) ?? {})
          .filter(([k]) => k === "gates" || k === "tc" || k === "hn")
          .map(([k, v]) => [`cache.${k}`, (got.cache.cell as Record<string, Float32Array>)[k], v] as [string, Float32Array, Float32Array]),
        ["dh0", got.g.dh0, want.g.dh0],
        ["dc0", got.g.dc0, want.g.dc0],
        ["dx", got.dx, want.dx],
        ["dWih", got.dp.Wih, want.dp.Wih],
        ["dWhh", got.dp.Whh, want.dp.Whh],
        ["dbih", got.dp.bih, want.dp.bih],
        ["dbhh", got.dp.bhh, want.dp.bhh],
        ...Object.keys(want.dp.extra).map((k) => [`d${k}`, got.dp.extra[k], want.dp.extra[k]] as [string, Float32Array, Float32Array]),
      ];
      expect(checks.length).toBeGreaterThanOrEqual(cell.hasC ? 11 : 9);
      for (const [what, g, w] of checks) expect(worst(g, w), `${label}, T=${T} B=${B} H=${H}: ${what}`).toBeLessThanOrEqual(1);
    }
  }
}

/**
 * Runs a GEMM, optimizer updates, a cross-entropy, an int8 product and fused forward and backward passes of several cells on `backend`, calls `enable`
 * (which switches it to 2 threads), runs them again and expects the same bits.
 */
export async function checkTwoThreads(backend: Backend, enable: () => Promise<unknown>, threads: () => number): Promise<void> {
  const rng = Rng.seeded(21);
  const gemmCase = () => {
    const [M, N, K] = [37, 70, 300];
    const A = random(rng, M * K), B = random(rng, K * N), C = random(rng, M * N);
    return () => {
      const c = C.slice();
      backend.gemm(true, false, M, N, K, A, B, c, true);
      return [c];
    };
  };
  const seqCase = (name: string, one: boolean) => {
    const cell = createCell(parseCell(name));
    const [T, B, I, H] = one ? [4, 1, 3, 33] : [5, 8, 6, 40];
    const GH = cell.G * H;
    const p: CellParams = {
      Wih: random(rng, GH * I, 0.5), Whh: random(rng, GH * H, 0.5), bih: random(rng, GH), bhh: random(rng, GH),
      extra: Object.fromEntries(cell.extras.map((e) => [e.key, random(rng, H, 0.5)])),
    };
    const x = random(rng, T * B * I), h0 = random(rng, B * H), c0 = random(rng, B * H), dy = random(rng, T * B * H);
    return () => {
      const cache = unrollForward(backend, cell, p, "float32", { T, B, H }, I, x, h0, cell.hasC ? c0 : null, true);
      const dp: CellParams = {
        Wih: new Float32Array(GH * I), Whh: new Float32Array(GH * H), bih: new Float32Array(GH), bhh: new Float32Array(GH),
        extra: Object.fromEntries(cell.extras.map((e) => [e.key, new Float32Array(H)])),
      };
      const dx = new Float32Array(T * B * I);
      const g = unrollBackward(backend, cell, p, dp, "float32", cache, dy, null, null, dx);
      return [cache.hs, cache.cs, dx, g.dh0, g.dc0, dp.Wih, dp.Whh, dp.bhh, ...Object.values(dp.extra)];
    };
  };
  // optimizer updates over more elements than one thread takes alone (assembly/optim.ts SPLIT_MIN), an odd count
  const optimCase = () => {
    const n = 100_003;
    const p = random(rng, n), g = random(rng, n), m = random(rng, n, 0.1), v = random(rng, n, 0.1).map(Math.abs), b = random(rng, n);
    const k = backend.optimizerKernels!;
    return () => {
      const [p1, m1, v1, p2, b2, p3, p4] = [p.slice(), m.slice(), v.slice(), p.slice(), b.slice(), p.slice(), p.slice()];
      expect(k.adam(p1, g, m1, v1, { shrink: 0.999, l2: 0.01, beta1: 0.9, beta2: 0.999, stepSize: 1e-3, sqrtCorrection2: 0.3, eps: 1e-8 })).toBe(true);
      expect(k.sgd(p2, g, b2, { lr: 0.1, weightDecay: 1e-4, momentum: 0.9, nesterov: true, firstStep: false })).toBe(true);
      expect(k.sgd(p3, g, null, { lr: 0.1, weightDecay: 0, momentum: 0, nesterov: false, firstStep: false })).toBe(true);
      expect(k.scale(p4, 0.37)).toBe(true);
      return [p1, m1, v1, p2, b2, p3, p4];
    };
  };
  // a cross-entropy over more logits than one thread takes alone, with ignored rows
  const xentCase = () => {
    const [N, V] = [1000, 97];
    const logits = random(rng, N * V, 20);
    const targets = Int32Array.from({ length: N }, (_, n) => (n % 5 === 2 ? -100 : (n * 31) % V));
    return () => {
      const d = new Float32Array(N * V);
      const loss = backend.crossEntropy!(logits, targets, N, V, d, -100)!;
      return [Float64Array.of(loss), d];
    };
  };
  // an int8 product (two digits): its matrix was copied into the 1-thread instance, and is copied again into the threaded one
  const int8Case = () => {
    const [rows, cols] = [70, 1100];
    const w = random(rng, rows * cols);
    const q = Int8Array.from(w, (v) => Math.round(127 * v));
    const m = { rows, cols, q, scale: random(rng, rows).map(Math.abs) };
    const x = random(rng, cols);
    return () => {
      const y = new Float32Array(rows);
      expect(backend.int8Gemv!(m, x, y, false)).toBe(true);
      return [y];
    };
  };
  const cases = [gemmCase(), optimCase(), xentCase(), int8Case(), ...["lstm", "lstm-peephole", "gru", "gru-cho", "rnn-relu"].flatMap((n) => [seqCase(n, false), seqCase(n, true)])];
  const single = cases.map((run) => run());
  expect(threads()).toBe(1);
  await enable();
  expect(threads()).toBe(2);
  // twice, the second time after a pause long enough for the worker to fall asleep
  for (const pause of [0, 30]) {
    await new Promise((r) => setTimeout(r, pause));
    cases.forEach((run, i) => {
      const two = run();
      two.forEach((a, j) => expect(Array.from(a), `pause ${pause}, case ${i}, output ${j}`).toEqual(Array.from(single[i][j])));
    });
  }
}
