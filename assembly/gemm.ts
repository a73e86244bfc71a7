/**
 * Single-precision GEMM in WebAssembly SIMD128: C (M×N) += op(A)·op(B), row-major.
 *
 * Both operands are first copied ("packed") into panels that the microkernel reads with unit
 * stride, which also absorbs the four transpose cases and the zero padding of ragged edges:
 *
 *   Ap: ⌈M/4⌉ blocks of K×4:  Ap[(blk·K + k)·4 + i] = op(A)[4·blk + i, k]   (0 past M)
 *   Bp: ⌈N/8⌉ panels of K×8:  Bp[(pnl·K + k)·8 + j] = op(B)[k, 8·pnl + j]   (0 past N)
 *
 * The microkernel keeps a 4×8 block of C in 8 f32x4 accumulators (V8 gives wasm 16 xmm
 * registers; 8 accumulators + 2 B vectors + 1 broadcast A leave room). K is cut into blocks of
 * KC so that one B panel (KC×8 floats, 8 KiB) stays in L1 while the A blocks stream past it.
 * Pointers are byte offsets into linear memory; sizes count floats.
 */

import { hasWorker, jobArg as arg, joinJob, MIN_WORK, OP_GEMM, OP_PACK, postJob, setArg } from "./threads";

// @ts-ignore: decorator
@inline const KC: i32 = 256;

/**
 * c + a·b per lane: one fused multiply-add where the module is built with relaxed SIMD (the
 * "relaxed" targets of asconfig.json; `f32x4.relaxed_madd` may round once or twice, as the engine
 * and CPU do it, the same way every time), else a multiply and an add.
 */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  return ASC_FEATURE_RELAXED_SIMD ? f32x4.relaxed_madd(a, b, c) : f32x4.add(c, f32x4.mul(a, b));
}

/** 4×8 scratch tile for the ragged edges of C; each thread has its own (see `setTile`). */
let TILE: usize = memory.data(128, 16);

/** Points this instance's edge tile (128 bytes, 16-byte aligned) elsewhere: a worker's own. */
export function setTile(p: usize): void {
  TILE = p;
}

/** Floats needed by `packA` for an M×K operand. */
export function packedASize(M: i32, K: i32): i32 {
  return ((M + 3) >> 2) * 4 * K;
}

/** Floats needed by `packB` for a K×N operand. */
export function packedBSize(K: i32, N: i32): i32 {
  return ((N + 7) >> 3) * 8 * K;
}

/** Packs op(A) (M×K; A stored M×K, or K×M when `trans`) into 4-row blocks. */
export function packA(trans: bool, M: i32, K: i32, a: usize, ap: usize): void {
  packARange(trans, M, K, a, ap, 0, (M + 3) >> 2);
}

/** `packA` of the 4-row blocks [blk0, blk1) only (one thread's share; a copy, so any split gives the same Ap). */
function packARange(trans: bool, M: i32, K: i32, a: usize, ap: usize, blk0: i32, blk1: i32): void {
  if (!trans) {
    for (let blk = blk0; blk < blk1; blk++) {
      const base = ap + ((<usize>blk * <usize>K * 4) << 2);
      for (let i = 0; i < 4; i++) {
        const m = blk * 4 + i;
        const dst = base + (<usize>i << 2);
        if (m < M) {
          const src = a + ((<usize>m * <usize>K) << 2);
          for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 4), load<f32>(src + (<usize>k << 2)));
        } else {
          for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 4), 0);
        }
      }
    }
  } else {
    // A stored K×M: walk each row of A contiguously.
    for (let k = 0; k < K; k++) {
      const src = a + ((<usize>k * <usize>M) << 2);
      for (let blk = blk0; blk < blk1; blk++) {
        const dst = ap + ((<usize>(blk * K + k) * 4) << 2);
        const m0 = blk * 4;
        if (m0 + 4 <= M) {
          v128.store(dst, v128.load(src + (<usize>m0 << 2)));
        } else {
          for (let i = 0; i < 4; i++) store<f32>(dst + (<usize>i << 2), m0 + i < M ? load<f32>(src + (<usize>(m0 + i) << 2)) : 0);
        }
      }
    }
  }
}

/** Packs op(B) (K×N; B stored K×N, or N×K when `trans`) into 8-column panels. */
export function packB(trans: bool, K: i32, N: i32, b: usize, bp: usize): void {
  packBRange(trans, K, N, b, bp, 0, (N + 7) >> 3);
}

/** `packB` of the panels [p0, p1) only. */
function packBRange(trans: bool, K: i32, N: i32, b: usize, bp: usize, p0: i32, p1: i32): void {
  if (!trans) {
    for (let pnl = p0; pnl < p1; pnl++) {
      const n0 = pnl * 8;
      const base = bp + ((<usize>pnl * <usize>K * 8) << 2);
      for (let k = 0; k < K; k++) {
        const src = b + ((<usize>k * <usize>N + <usize>n0) << 2);
        const dst = base + (<usize>k << 5);
        if (n0 + 8 <= N) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
        } else {
          for (let j = 0; j < 8; j++) store<f32>(dst + (<usize>j << 2), n0 + j < N ? load<f32>(src + (<usize>j << 2)) : 0);
        }
      }
    }
  } else {
    // B stored N×K: row n of B is column n of op(B).
    for (let pnl = p0; pnl < p1; pnl++) {
      const base = bp + ((<usize>pnl * <usize>K * 8) << 2);
      for (let j = 0; j < 8; j++) {
        const n = pnl * 8 + j;
        const dst = base + (<usize>j << 2);
        if (n < N) {
          const src = b + ((<usize>n * <usize>K) << 2);
          for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 5), load<f32>(src + (<usize>k << 2)));
        } else {
          for (let k = 0; k < K; k++) store<f32>(dst + (<usize>k << 5), 0);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function addRow(c: usize, x0: v128, x1: v128, nr: i32): void {
  if (nr == 8) {
    v128.store(c, f32x4.add(v128.load(c), x0));
    v128.store(c, f32x4.add(v128.load(c, 16), x1), 16);
  } else {
    v128.store(TILE, x0);
    v128.store(TILE, x1, 16);
    for (let j = 0; j < nr; j++) {
      const p = c + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(TILE + (<usize>j << 2)));
    }
  }
}

/** C[0:mr, 0:nr] += (4×kc block of Ap) · (kc×8 panel of Bp); C has row stride ldc floats. */
function kernel4x8(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, mr: i32, nr: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += 16;
    bp += 32;
  }
  const ld = <usize>ldc << 2;
  addRow(c, c00, c01, nr);
  if (mr > 1) addRow(c + ld, c10, c11, nr);
  if (mr > 2) addRow(c + 2 * ld, c20, c21, nr);
  if (mr > 3) addRow(c + 3 * ld, c30, c31, nr);
}

/**
 * C (M×N, row stride ldc) += op(A)·op(B) from packed operands (K is their common length),
 * restricted to the 8-column panels [p0, p1) and the 4-row blocks [b0, b1): the share of one
 * thread (threads.ts). Every element of C sums its K products in the same order
 * whatever the split, so threads change no result.
 */
export function gemmPart(M: i32, N: i32, K: i32, ap: usize, bp: usize, c: usize, ldc: i32, p0: i32, p1: i32, b0: i32, b1: i32): void {
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let pnl = p0; pnl < p1; pnl++) {
      const bpp = bp + ((<usize>(pnl * K + k0) * 8) << 2);
      const nr = min(8, N - pnl * 8);
      for (let blk = b0; blk < b1; blk++) {
        const app = ap + ((<usize>(blk * K + k0) * 4) << 2);
        const cp = c + ((<usize>(blk * 4) * <usize>ldc + <usize>(pnl * 8)) << 2);
        kernel4x8(kc, app, bpp, cp, ldc, min(4, M - blk * 4), nr);
      }
    }
  }
}

/** C (M×N, row stride ldc) += op(A)·op(B) from packed operands, on this thread alone. */
export function gemmPacked(M: i32, N: i32, K: i32, ap: usize, bp: usize, c: usize, ldc: i32): void {
  gemmPart(M, N, K, ap, bp, c, ldc, 0, (N + 7) >> 3, 0, (M + 3) >> 2);
}

/** C (M×N, row stride ldc) += op(A)·op(B) from packed operands, shared with the worker if any. */
export function gemmShared(M: i32, N: i32, K: i32, ap: usize, bp: usize, c: usize, ldc: i32): void {
  const NP = (N + 7) >> 3;
  const MB = (M + 3) >> 2;
  if (!hasWorker() || <i64>M * <i64>N * <i64>K < MIN_WORK || (NP < 2 && MB < 2)) {
    gemmPart(M, N, K, ap, bp, c, ldc, 0, NP, 0, MB);
    return;
  }
  // the worker takes the second half of the panels (of the row blocks, when there is one panel)
  const byPanels = NP >= 2;
  const p1 = byPanels ? NP >> 1 : NP;
  const b1 = byPanels ? MB : MB >> 1;
  setArg(0, M); setArg(1, N); setArg(2, K); setArg(3, ap); setArg(4, bp); setArg(5, c); setArg(6, ldc);
  setArg(7, byPanels ? p1 : 0); setArg(8, NP); setArg(9, byPanels ? 0 : b1); setArg(10, MB);
  const seq = postJob(OP_GEMM, 0, 0);
  gemmPart(M, N, K, ap, bp, c, ldc, 0, p1, 0, b1);
  joinJob(seq);
}

/**
 * Packs both operands of a GEMM, shared with the worker when it is large: the worker packs the
 * second half of A's row blocks and of B's panels. Packing is a copy, so Ap and Bp are the same
 * whoever wrote which part; a transposed operand is read with a stride, which made packing a
 * seventh of a two-thread training step while the worker waited.
 */
function packShared(transA: bool, transB: bool, M: i32, N: i32, K: i32, a: usize, b: usize, ap: usize, bp: usize): void {
  const MB = (M + 3) >> 2;
  const NP = (N + 7) >> 3;
  if (!hasWorker() || <i64>M * <i64>N * <i64>K < MIN_WORK || (MB < 2 && NP < 2)) {
    packARange(transA, M, K, a, ap, 0, MB);
    packBRange(transB, K, N, b, bp, 0, NP);
    return;
  }
  const mb = MB >> 1, np = NP >> 1;
  setArg(0, transA ? 1 : 0); setArg(1, transB ? 1 : 0); setArg(2, M); setArg(3, N); setArg(4, K);
  setArg(5, a); setArg(6, b); setArg(7, ap); setArg(8, bp); setArg(9, mb); setArg(10, np);
  const seq = postJob(OP_PACK, 0, 0);
  packARange(transA, M, K, a, ap, 0, mb);
  packBRange(transB, K, N, b, bp, 0, np);
  joinJob(seq);
}

/** The worker's share of a `gemmShared` job (worker.ts). */
export function gemmJob(a: usize): void {
  gemmPart(arg(a, 0), arg(a, 1), arg(a, 2), <usize>arg(a, 3), <usize>arg(a, 4), <usize>arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9), arg(a, 10));
}

/** The worker's share of a `packShared` job (worker.ts). */
export function packJob(a: usize): void {
  const M = arg(a, 2), N = arg(a, 3), K = arg(a, 4);
  packARange(arg(a, 0) != 0, M, K, <usize>arg(a, 5), <usize>arg(a, 7), arg(a, 9), (M + 3) >> 2);
  packBRange(arg(a, 1) != 0, K, N, <usize>arg(a, 6), <usize>arg(a, 8), arg(a, 10), (N + 7) >> 3);
}

/**
 * C (M×N, row stride ldc) += A·Bᵀ for M ≤ 2, reading A (M×K) and B (stored N×K) as they are:
 * dot products along contiguous rows, no packing. With one or two rows of A the packed kernel
 * would waste half or more of its 4-row block, and packing B would cost as much as the product
 * (batch-1 sampling, one step at a time). Memory-bound, as a matrix-vector product is.
 */
export function gemmSmallNT(M: i32, N: i32, K: i32, a: usize, b: usize, c: usize, ldc: i32): void {
  const a0 = a;
  const a1 = M > 1 ? a + (<usize>K << 2) : a;
  const c1 = c + (<usize>ldc << 2);
  const K4 = K & ~3;
  let n = 0;
  for (; n + 2 <= N; n += 2) {
    const r0 = b + ((<usize>n * <usize>K) << 2);
    const r1 = r0 + (<usize>K << 2);
    let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k << 2;
      const x0 = v128.load(a0 + o), x1 = v128.load(a1 + o);
      const y0 = v128.load(r0 + o), y1 = v128.load(r1 + o);
      s00 = madd(x0, y0, s00);
      s01 = madd(x0, y1, s01);
      s10 = madd(x1, y0, s10);
      s11 = madd(x1, y1, s11);
    }
    let t00 = hsum(s00), t01 = hsum(s01), t10 = hsum(s10), t11 = hsum(s11);
    for (let k = K4; k < K; k++) {
      const o = <usize>k << 2;
      const x0 = load<f32>(a0 + o), x1 = load<f32>(a1 + o), y0 = load<f32>(r0 + o), y1 = load<f32>(r1 + o);
      t00 += x0 * y0;
      t01 += x0 * y1;
      t10 += x1 * y0;
      t11 += x1 * y1;
    }
    const p = c + (<usize>n << 2);
    store<f32>(p, load<f32>(p) + t00);
    store<f32>(p, load<f32>(p, 4) + t01, 4);
    if (M > 1) {
      const q = c1 + (<usize>n << 2);
      store<f32>(q, load<f32>(q) + t10);
      store<f32>(q, load<f32>(q, 4) + t11, 4);
    }
  }
  for (; n < N; n++) {
    const r0 = b + ((<usize>n * <usize>K) << 2);
    let t0: f32 = 0, t1: f32 = 0;
    for (let k = 0; k < K; k++) {
      const o = <usize>k << 2;
      const y = load<f32>(r0 + o);
      t0 += load<f32>(a0 + o) * y;
      t1 += load<f32>(a1 + o) * y;
    }
    const p = c + (<usize>n << 2);
    store<f32>(p, load<f32>(p) + t0);
    if (M > 1) {
      const q = c1 + (<usize>n << 2);
      store<f32>(q, load<f32>(q) + t1);
    }
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Up to this many rows of A, `stepGemm` and `sgemm` (A·Bᵀ) read B unpacked (`gemmSmallNT`). */
export const SMALL_M: i32 = 2;

/**
 * The recurrent product of one step, C (M×N, ldc) += A·Bᵀ, A (M×K) row-major and B stored N×K:
 * from B as it is (`braw`) when M ≤ SMALL_M, else from B packed once for the whole sequence
 * (`bp`, op(B) = Bᵀ) with A packed into the scratch `ap`, shared with the worker when `shared`.
 */
export function stepGemm(M: i32, N: i32, K: i32, a: usize, braw: usize, bp: usize, c: usize, ldc: i32, ap: usize, shared: bool): void {
  if (M <= SMALL_M) gemmSmallNT(M, N, K, a, braw, c, ldc);
  else rowsGemm(M, N, K, a, bp, c, ap, shared, ldc);
}

/** C (M×N, ldc) += A·op(B): A (M×K) row-major, packed into `ap` here; B packed (`bp`). */
export function rowsGemm(M: i32, N: i32, K: i32, a: usize, bp: usize, c: usize, ap: usize, shared: bool, ldc: i32 = N): void {
  packA(false, M, K, a, ap);
  if (shared) gemmShared(M, N, K, ap, bp, c, ldc);
  else gemmPacked(M, N, K, ap, bp, c, ldc);
}

/**
 * `Backend.gemm` for float32 operands already in linear memory; `ap` and `bp` are scratch of
 * `packedASize(M, K)` and `packedBSize(K, N)` floats.
 */
export function sgemm(
  transA: bool, transB: bool, M: i32, N: i32, K: i32,
  a: usize, b: usize, c: usize, accumulate: bool, ap: usize, bp: usize,
): void {
  if (!accumulate) memory.fill(c, 0, <usize>M * <usize>N * 4);
  if (M <= 0 || N <= 0 || K <= 0) return;
  if (!transA && transB && M <= SMALL_M) {
    gemmSmallNT(M, N, K, a, b, c, N);
    return;
  }
  packShared(transA, transB, M, N, K, a, b, ap, bp);
  gemmShared(M, N, K, ap, bp, c, N);
}

/** out (N) += Σ over the R rows of m (R×N): the gradient of a bias broadcast over rows. */
export function addColumnSums(out: usize, m: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const row = m + ((<usize>r * <usize>N) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const p = out + (<usize>j << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(row + (<usize>j << 2))));
    }
    for (; j < N; j++) {
      const p = out + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(row + (<usize>j << 2)));
    }
  }
}

/**
 * For n = 0 … R−1 in order, row ids[n] of out += row n of src, rows of N floats: `unroll`'s
 * grouping of dXP by token (`Backend.scatterAddRows`), the same additions into each element in
 * the same order as its loop. `ids` holds R i32 row numbers, each already checked to be in range.
 */
export function scatterAddRows(out: usize, src: usize, ids: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const dst = out + ((<usize>load<i32>(ids + (<usize>r << 2)) * <usize>N) << 2);
    const row = src + ((<usize>r * <usize>N) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const p = dst + (<usize>j << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(row + (<usize>j << 2))));
    }
    for (; j < N; j++) {
      const p = dst + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(row + (<usize>j << 2)));
    }
  }
}
