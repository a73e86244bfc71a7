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
 *
 * Token input. When the input rows are rows of a table — x_n = table[id_n], an embedding lookup, or
 * one-hot vectors — the projection of every row is a row of the (V, G·H) table
 *   P = table W_ihᵀ + b_ih          (one-hot: P[v] = W_ih[:, v] + b_ih, no GEMM at all)
 * so XP is a gather of P's rows, and the backward pass groups dXP by token first,
 *   D[v] = Σ_{n: id_n = v} dXP[n]:   dW_ih += Dᵀ table,  db_ih += Σ_v D[v],  d table += D W_ih,
 * which costs V rows instead of T·B in each of the three large GEMMs (a char LM: V ≈ 100 against
 * T·B ≈ 2000). Only the order of float additions differs from the dense path.
 */
import { affine, checkTokenIds, fillRows, type Backend, type ProjectionGrad, type ProjectionInput } from "../backend/backend.js";
import { addColumnSumsGemm, type Cell, type CellParams, type Dims } from "../cells/cell.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Allocator } from "../tensor/workspace.js";

// Dimensions: T steps, B batch, I input features, H hidden, G gate blocks.

/**
 * An input given as token ids (T·B, time-major): row n of the input is `table` row ids[n], or the
 * one-hot vector of ids[n] when `table` is null (then I = V).
 */
export interface TokenInput {
  readonly ids: Int32Array;
  /** (V, I) rows, or null for one-hot */
  readonly table: FloatArray | null;
  readonly V: number;
  /**
   * (V, G·H) the projection table `tokenProjection` made for this direction's weights, when the
   * caller keeps one across calls (sampling); computed here otherwise.
   */
  readonly projection?: FloatArray;
}

/** A layer's input: (T, B, I) time-major rows, or token ids into a table. */
export type UnrollInput = FloatArray | TokenInput;

export function isTokenInput(x: UnrollInput): x is TokenInput {
  return !(x instanceof Float32Array || x instanceof Float64Array);
}

/** P (V, G·H) = table W_ihᵀ + b_ih: the input projection of every token (see the header). */
export function tokenProjection(backend: Backend, p: CellParams, dtype: DType, GH: number, I: number, input: TokenInput): FloatArray {
  const { V, table } = input;
  if (table ? table.length !== V * I : V !== I) {
    throw new Error(`token input: ${table ? `the table has ${table.length} values, not V·I = ${V}·${I}` : `one-hot rows of ${V} do not match the input size ${I}`}`);
  }
  const P = allocate(dtype, V * GH);
  if (table) {
    affine(backend, false, true, V, GH, I, table, p.Wih, p.bih, P);
  } else {
    fillRows(backend, P, p.bih);
    for (let g = 0; g < GH; g++) for (let v = 0; v < V; v++) P[v * GH + g] += p.Wih[g * V + v];
  }
  return P;
}

/** The token input's projection table: the caller's (`TokenInput.projection`), checked, or made here. */
function projectionOf(backend: Backend, p: CellParams, dtype: DType, GH: number, I: number, x: TokenInput): FloatArray {
  checkTokenIds(x.ids, x.ids.length, x.V);
  if (!x.projection) return tokenProjection(backend, p, dtype, GH, I, x);
  if (x.projection.length !== x.V * GH) throw new Error(`token input: the projection table has ${x.projection.length} values, not V·G·H = ${x.V}·${GH}`);
  return x.projection;
}

/** What `unrollForward` keeps for `unrollBackward`. */
export interface UnrollCache {
  readonly dims: Dims;
  readonly I: number;
  readonly reverse: boolean;
  /** (T, B, I) the input, time-major, or its token ids (referenced, not copied) */
  readonly x: UnrollInput;
  /** (T+1, B, H) states in processing order: hs[0] = h0, hs[k+1] after step k */
  readonly hs: FloatArray;
  /** (T+1, B, H) cell states (LSTM), else empty */
  readonly cs: FloatArray;
  /** (T, B, G·H) input projections, indexed by time t; empty where the backend's fused call made them itself (`projects`) */
  readonly xp: FloatArray;
  readonly cell: unknown;
  /** where the run's buffers came from; the backward pass takes its own from there too */
  readonly alloc: Allocator;
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
  x: UnrollInput,
  h0: FloatArray,
  c0: FloatArray | null,
  reverse: boolean,
  alloc: Allocator = allocate,
): UnrollCache {
  const { T, B, H } = dims;
  const GH = cell.G * H;
  const BH = B * H;
  const fused = backend.recurrence?.supports(cell.config, dtype) ? backend.recurrence : null;
  // A recurrence that projects takes the input itself; otherwise XP is made here, every row a row
  // of P or b_ih + the GEMM.
  let input: ProjectionInput | undefined;
  let xp: FloatArray;
  if (fused?.projects) {
    input = isTokenInput(x) ? { kind: "rows", ids: x.ids, P: projectionOf(backend, p, dtype, GH, I, x) } : { kind: "dense", x, I };
    xp = allocate(dtype, 0);
  } else if (isTokenInput(x)) {
    const P = projectionOf(backend, p, dtype, GH, I, x);
    xp = alloc(dtype, T * B * GH, true);
    for (let r = 0; r < T * B; r++) xp.set(P.subarray(x.ids[r] * GH, (x.ids[r] + 1) * GH), r * GH);
  } else {
    xp = alloc(dtype, T * B * GH, true);
    affine(backend, false, true, T * B, GH, I, x, p.Wih, p.bih, xp);
  }
  const hs = alloc(dtype, (T + 1) * BH, true); // h0, then every step's state
  const cs = alloc(dtype, cell.hasC ? (T + 1) * BH : 0, true);
  hs.set(h0);
  if (cell.hasC) {
    if (c0) cs.set(c0);
    else cs.fill(0, 0, BH);
  }
  const cache = cell.createCache(dtype, dims, alloc);
  if (fused) {
    fused.forward({ cell: cell.config, dims, reverse, p, xp, hs, cs, cache, input });
    return { dims, I, reverse, x, hs, cs, xp, cell: cache, alloc };
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
  return { dims, I, reverse, x, hs, cs, xp, cell: cache, alloc };
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
 * @param dx   (T, B, I) receives dL/dx (added into it), or null when not needed; for a token
 *             input, (V, I) receives dL/d(table) instead (nothing for one-hot)
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
  const x = cache.x;
  const fused = backend.recurrence?.supports(cellDef.config, dtype) ? backend.recurrence : null;
  const projects = fused?.projects === true;
  const dxp = cache.alloc(dtype, projects ? 0 : T * B * GH, true); // every step writes its rows
  // Two (B, H) carries swapped each step: dh/dc into the step, dhPrev/dcPrev out of it.
  let dh = allocate(dtype, BH);
  let dhPrev = allocate(dtype, BH);
  let dc = allocate(dtype, cellDef.hasC ? BH : 0);
  let dcPrev = allocate(dtype, cellDef.hasC ? BH : 0);
  if (dhT) dh.set(dhT);
  if (dcT && cellDef.hasC) dc.set(dcT);
  if (fused && projects) {
    // dXP stays inside the backend: it adds dW_ih, db_ih and dx (dense), or groups dXP by token into D
    const D = isTokenInput(x) ? cache.alloc(dtype, x.V * GH) : null;
    const input: ProjectionGrad = isTokenInput(x) ? { kind: "rows", ids: x.ids, D: D! } : { kind: "dense", x, I, dx };
    fused.backward({ cell: cellDef.config, dims, reverse, p, dp, hs, cs, cache: cache.cell, dy, dh, dc, dxp, input });
    if (isTokenInput(x)) tokenGrads(backend, p, dp, x, D!, GH, I, dx);
    return { dh0: dh, dc0: dc };
  }
  if (fused) {
    fused.backward({ cell: cellDef.config, dims, reverse, p, dp, hs, cs, cache: cache.cell, dy, dh, dc, dxp });
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
  if (isTokenInput(x)) {
    const { ids } = x;
    const D = cache.alloc(dtype, x.V * GH); // dXP grouped by token
    // The backend's kernel when it has one (bit-identical), else the loop, its specification.
    if (!backend.scatterAddRows?.(D, dxp, ids, GH)) {
      for (let r = 0; r < T * B; r++) {
        const row = ids[r] * GH;
        for (let g = 0; g < GH; g++) D[row + g] += dxp[r * GH + g];
      }
    }
    tokenGrads(backend, p, dp, x, D, GH, I, dx);
  } else {
    backend.gemm(true, false, GH, I, T * B, dxp, x, dp.Wih, true);
    addColumnSumsGemm(backend, dp.bih, dxp, T * B, GH);
    if (dx) backend.gemm(false, false, T * B, I, GH, dxp, p.Wih, dx, true);
  }
  return { dh0: dh, dc0: dc };
}

/** A token input's gradients from D (V, G·H), dXP grouped by token: dW_ih, db_ih, and d table into `dx`. */
function tokenGrads(backend: Backend, p: CellParams, dp: CellParams, x: TokenInput, D: FloatArray, GH: number, I: number, dx: FloatArray | null): void {
  const { V, table } = x;
  if (table) backend.gemm(true, false, GH, I, V, D, table, dp.Wih, true);
  else for (let g = 0; g < GH; g++) for (let v = 0; v < V; v++) dp.Wih[g * V + v] += D[v * GH + g];
  addColumnSumsGemm(backend, dp.bih, D, V, GH);
  if (dx && table) backend.gemm(false, false, V, I, GH, D, p.Wih, dx, true);
}
