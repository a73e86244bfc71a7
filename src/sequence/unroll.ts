/**
 * `unroll`: the one place that knows about time. It runs any cell over T steps of one direction,
 * the way cuDNN organises an RNN (Appleyard et al. 2016):
 *
 *   forward:  XP = X W_ihᵀ + b_ih for all T·B rows at once (one large GEMM)
 *             for k = 0 … T−1:  (h_{k+1}, c_{k+1}) = cell(XP[t_k], h_k, c_k)
 *   backward: for k = T−1 … 0: cell backward gives dXP[t_k] and the carry dh_k, dc_k
 *             dW_ih += dXPᵀ X,  db_ih += Σ dXP,  dX += dXP W_ih   (large GEMMs over all steps)
 *
 * with t_k = k forward and t_k = T−1−k for a reverse direction. It must equal the plain loop
 *   h = h0; for t in order: h = cell(W_ih x_t + b_ih, h); y_t = h
 * (test/equivalence.test.ts checks step-by-step against `unroll`).
 *
 * Truncated BPTT is the caller passing the final states of one chunk as the initial states of the
 * next (values carried, gradient cut): `unrollBackward` never reaches beyond `h0`.
 */
import type { Backend } from "../backend/backend.js";
import { addColumnSumsGemm, type Cell, type CellParams, type Dims } from "../cells/cell.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";

// Dimensions: T steps, B batch, I input features, H hidden, G gate blocks.

/** What `unrollForward` keeps for `unrollBackward`. */
export interface UnrollCache {
  readonly dims: Dims;
  readonly I: number;
  readonly reverse: boolean;
  /** (T, B, I) the input, time-major (referenced, not copied) */
  readonly x: FloatArray;
  /** (T+1, B, H) states in processing order: hs[0] = h0, hs[k+1] after step k */
  readonly hs: FloatArray;
  /** (T+1, B, H) cell states (LSTM), else empty */
  readonly cs: FloatArray;
  /** (T, B, G·H) input projections, indexed by time t */
  readonly xp: FloatArray;
  readonly cell: unknown;
}

/** Time index of processing step k. */
export function timeOf(k: number, T: number, reverse: boolean): number {
  return reverse ? T - 1 - k : k;
}

/**
 * Runs `cell` over the time-major input `x` (T, B, I) from `h0` (and `c0`), both (B, H).
 * Returns the cache; the output at time t is `outputAt(cache, t)` and the final states are the
 * last blocks of `hs` / `cs`.
 */
export function unrollForward(
  backend: Backend,
  cell: Cell,
  p: CellParams,
  dtype: DType,
  dims: Dims,
  I: number,
  x: FloatArray,
  h0: FloatArray,
  c0: FloatArray | null,
  reverse: boolean,
): UnrollCache {
  const { T, B, H } = dims;
  const GH = cell.G * H;
  const BH = B * H;
  const xp = allocate(dtype, T * B * GH);
  for (let r = 0; r < T * B; r++) xp.set(p.bih, r * GH);
  backend.gemm(false, true, T * B, GH, I, x, p.Wih, xp, true);
  const hs = allocate(dtype, (T + 1) * BH);
  const cs = allocate(dtype, cell.hasC ? (T + 1) * BH : 0);
  hs.set(h0);
  if (cell.hasC && c0) cs.set(c0);
  const cache = cell.createCache(dtype, dims);
  if (backend.recurrence?.supports(cell.config, dtype)) {
    backend.recurrence.forward({ cell: cell.config, dims, reverse, p, xp, hs, cs, cache });
    return { dims, I, reverse, x, hs, cs, xp, cell: cache };
  }
  const empty = cs.subarray(0, 0);
  for (let k = 0; k < T; k++) {
    const t = timeOf(k, T, reverse);
    cell.forward({
      backend,
      p,
      dims,
      k,
      xp: xp.subarray(t * B * GH, (t + 1) * B * GH),
      hPrev: hs.subarray(k * BH, (k + 1) * BH),
      h: hs.subarray((k + 1) * BH, (k + 2) * BH),
      cPrev: cell.hasC ? cs.subarray(k * BH, (k + 1) * BH) : empty,
      c: cell.hasC ? cs.subarray((k + 1) * BH, (k + 2) * BH) : empty,
      cache,
    });
  }
  return { dims, I, reverse, x, hs, cs, xp, cell: cache };
}

/** (B, H) view of the output at time t (the state after reading x_t in this direction). */
export function outputAt(c: UnrollCache, t: number): FloatArray {
  const { T, B, H } = c.dims;
  const k = c.reverse ? T - 1 - t : t;
  return c.hs.subarray((k + 1) * B * H, (k + 2) * B * H);
}

/** (B, H) view of the final hidden state. */
export function finalH(c: UnrollCache): FloatArray {
  const { T, B, H } = c.dims;
  return c.hs.subarray(T * B * H, (T + 1) * B * H);
}

/** (B, H) view of the final cell state (LSTM). */
export function finalC(c: UnrollCache): FloatArray {
  const { T, B, H } = c.dims;
  return c.cs.subarray(T * B * H, (T + 1) * B * H);
}

/** Gradients that flow out of `unrollBackward`. */
export interface UnrollGrads {
  /** (B, H) dL/dh0 */ readonly dh0: FloatArray;
  /** (B, H) dL/dc0 (LSTM), else empty */ readonly dc0: FloatArray;
}

/**
 * Backpropagation through time over the run in `cache`.
 *
 * @param dy   (T, B, H) dL/d(output at time t), or null when only final states carry loss
 * @param dhT  (B, H) dL/d(final h) from outside the sequence, or null
 * @param dcT  (B, H) dL/d(final c), or null
 * @param dx   (T, B, I) receives dL/dx (added into it), or null when not needed
 * @param dp   gradient buffers; every parameter gradient is added into them
 */
export function unrollBackward(
  backend: Backend,
  cellDef: Cell,
  p: CellParams,
  dp: CellParams,
  dtype: DType,
  cache: UnrollCache,
  dy: FloatArray | null,
  dhT: FloatArray | null,
  dcT: FloatArray | null,
  dx: FloatArray | null,
): UnrollGrads {
  const { dims, I, reverse, hs, cs } = cache;
  const { T, B, H } = dims;
  const GH = cellDef.G * H;
  const BH = B * H;
  const dxp = allocate(dtype, T * B * GH);
  // Two (B, H) carries swapped each step: dh/dc into the step, dhPrev/dcPrev out of it.
  let dh = allocate(dtype, BH);
  let dhPrev = allocate(dtype, BH);
  let dc = allocate(dtype, cellDef.hasC ? BH : 0);
  let dcPrev = allocate(dtype, cellDef.hasC ? BH : 0);
  if (dhT) dh.set(dhT);
  if (dcT && cellDef.hasC) dc.set(dcT);
  if (backend.recurrence?.supports(cellDef.config, dtype)) {
    backend.recurrence.backward({ cell: cellDef.config, dims, reverse, p, dp, hs, cs, cache: cache.cell, dy, dh, dc, dxp });
  } else {
    for (let k = T - 1; k >= 0; k--) {
      const t = timeOf(k, T, reverse);
      if (dy) {
        const dyt = dy.subarray(t * BH, (t + 1) * BH); // the output at t is h_{k+1}
        for (let i = 0; i < BH; i++) dh[i] += dyt[i];
      }
      cellDef.backward({
        backend,
        p,
        dp,
        dims,
        k,
        hPrev: hs.subarray(k * BH, (k + 1) * BH),
        h: hs.subarray((k + 1) * BH, (k + 2) * BH),
        cPrev: cellDef.hasC ? cs.subarray(k * BH, (k + 1) * BH) : cs,
        c: cellDef.hasC ? cs.subarray((k + 1) * BH, (k + 2) * BH) : cs,
        dh,
        dc,
        dxp: dxp.subarray(t * B * GH, (t + 1) * B * GH),
        dhPrev,
        dcPrev,
        cache: cache.cell,
      });
      [dh, dhPrev] = [dhPrev, dh];
      [dc, dcPrev] = [dcPrev, dc];
    }
  }
  // The input projection of all steps: XP = X W_ihᵀ + b_ih.
  backend.gemm(true, false, GH, I, T * B, dxp, cache.x, dp.Wih, true);
  addColumnSumsGemm(backend, dp.bih, dxp, T * B, GH);
  if (dx) backend.gemm(false, false, T * B, I, GH, dxp, p.Wih, dx, true);
  return { dh0: dh, dc0: dc };
}
