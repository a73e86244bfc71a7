/**
 * Whole-sequence recurrences of one layer direction (the `FusedRecurrence` contract of
 * src/backend/backend.ts): per step one recurrent GEMM against W_hh packed once before the loop,
 * then the cell's pointwise math in f32x4. The equations and every buffer layout are those of
 * src/cells/{lstm,gru,rnn}.ts, the specification; these loops must reproduce them.
 *
 * Dimensions: T steps, B batch, H hidden, G gate blocks. Step k reads time t = k, or T−1−k when
 * `reverse`. States hs, cs are (T+1, B, H) in processing order; xp, dy are indexed by time t;
 * caches and the per-step gradients dA are indexed by k. Pointers are byte offsets.
 */
import { packedASize, rowsGemm, stepGemm } from "./gemm";
import { hasWorker, jobArg as g, joinJob, postJob, setArg } from "./threads";
import { at, ld, splat, st, vsigmoid, vtanh } from "./math";

const ONE: v128 = f32x4.splat(1);

// @ts-ignore: decorator
@inline function add(a: v128, b: v128): v128 { return f32x4.add(a, b); }
// @ts-ignore: decorator
@inline function sub(a: v128, b: v128): v128 { return f32x4.sub(a, b); }
// @ts-ignore: decorator
@inline function mul(a: v128, b: v128): v128 { return f32x4.mul(a, b); }
/** σ'(a) from s = σ(a): s(1 − s). */
// @ts-ignore: decorator
@inline function dsig(s: v128): v128 { return mul(s, sub(ONE, s)); }
/** tanh'(a) from y = tanh(a): 1 − y². */
// @ts-ignore: decorator
@inline function dtanh(y: v128): v128 { return sub(ONE, mul(y, y)); }

/** dst (R×N) = src (R×N, or nothing when src is 0) + bias (N) broadcast over rows. */
function biasRows(dst: usize, src: usize, bias: usize, R: i32, N: i32): void {
  for (let r = 0; r < R; r++) {
    const row = r * N;
    let j = 0;
    while (j < N) {
      const full = j + 4 <= N;
      let v = ld(at(bias, j), full);
      if (src) v = add(v, ld(at(src, row + j), full));
      st(at(dst, row + j), v, full);
      j += full ? 4 : 1;
    }
  }
}

/** x (n) += y (n). */
function addInto(x: usize, y: usize, n: i32): void {
  let i = 0;
  while (i < n) {
    const full = i + 4 <= n;
    st(at(x, i), add(ld(at(x, i), full), ld(at(y, i), full)), full);
    i += full ? 4 : 1;
  }
}

// ---------------------------------------------------------------- LSTM

/**
 * LSTM forward over T steps (gates i, f, g, o; `coupled`: f, g, o with i = 1 − f; `peephole`:
 * p_i, p_f from c_{t−1}, p_o from c_t). whh: W_hh (G·H, H); whhT: W_hhᵀ packed as op(B)
 * (K = H, N = G·H), unused (and not needed) when B ≤ SMALL_M (see `stepGemm`).
 * Writes hs[1..T], cs[1..T], gates (T, B, G·H) after their nonlinearities, tc (T, B, H) = tanh(c).
 * ap: scratch of packedASize(B, H) floats.
 */
function lstmForwardRows(
  T: i32, B: i32, H: i32, reverse: bool, peephole: bool, coupled: bool,
  xp: usize, whh: usize, whhT: usize, bhh: usize, pi: usize, pf: usize, po: usize,
  hs: usize, cs: usize, gates: usize, tc: usize, ap: usize, b0: i32, b1: i32, shared: bool,
): void {
  const R = b1 - b0;
  const G = coupled ? 3 : 4;
  const GH = G * H;
  const BH = B * H;
  const F = coupled ? 0 : H; // offsets of the gate blocks within a row
  const Gg = F + H;
  const O = F + 2 * H;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const a = at(gates, (k * B + b0) * GH); // (B, G·H) pre-activations, then gates
    biasRows(a, at(xp, (t * B + b0) * GH), bhh, R, GH);
    stepGemm(R, GH, H, at(hs, k * BH + b0 * H), whh, whhT, a, GH, ap, shared);
    const cPrev = at(cs, k * BH + b0 * H);
    const c = at(cs, (k + 1) * BH + b0 * H);
    const h = at(hs, (k + 1) * BH + b0 * H);
    const tck = at(tc, k * BH + b0 * H);
    for (let b = 0; b < R; b++) {
      const r = b * GH;
      let j = 0;
      while (j < H) {
        const full = j + 4 <= H;
        const n = b * H + j;
        const cp = ld(at(cPrev, n), full);
        let af = ld(at(a, r + F + j), full);
        if (peephole) af = add(af, mul(ld(at(pf, j), full), cp));
        const f = vsigmoid(af);
        let i: v128;
        if (coupled) {
          i = sub(ONE, f);
        } else {
          let ai = ld(at(a, r + j), full);
          if (peephole) ai = add(ai, mul(ld(at(pi, j), full), cp));
          i = vsigmoid(ai);
          st(at(a, r + j), i, full);
        }
        const g = vtanh(ld(at(a, r + Gg + j), full));
        const ct = add(mul(f, cp), mul(i, g));
        let ao = ld(at(a, r + O + j), full);
        if (peephole) ao = add(ao, mul(ld(at(po, j), full), ct));
        const o = vsigmoid(ao);
        const th = vtanh(ct);
        st(at(a, r + F + j), f, full);
        st(at(a, r + Gg + j), g, full);
        st(at(a, r + O + j), o, full);
        st(at(c, n), ct, full);
        st(at(tck, n), th, full);
        st(at(h, n), mul(o, th), full);
        j += full ? 4 : 1;
      }
    }
  }
}

/**
 * LSTM backward over T steps, k = T−1 … 0. whh: W_hh packed as op(B) (K = G·H, N = H).
 * dh, dc (B, H): in dL/dh_T, dL/dc_T; out dL/dh0, dL/dc0. Writes dA (T, B, G·H) by k (the
 * gradients of the pre-activations, = dxp at time t_k); adds into dpi, dpf, dpo. dW_hh and db_hh
 * are left to one GEMM over all steps afterwards. dhPrev, dcPrev: (B, H) scratch; ap: scratch
 * of packedASize(B, G·H) floats.
 */
function lstmBackwardRows(
  T: i32, B: i32, H: i32, reverse: bool, peephole: bool, coupled: bool, hasDy: bool,
  whh: usize, pi: usize, pf: usize, po: usize, dpi: usize, dpf: usize, dpo: usize,
  hs: usize, cs: usize, gates: usize, tc: usize, dy: usize,
  dh: usize, dc: usize, dA: usize, dhPrev: usize, dcPrev: usize, ap: usize, b0: i32, b1: i32, shared: bool,
): void {
  const R = b1 - b0;
  const RH = R * H;
  // this thread's rows of the (B, H) buffers
  dh = at(dh, b0 * H);
  dc = at(dc, b0 * H);
  dhPrev = at(dhPrev, b0 * H);
  dcPrev = at(dcPrev, b0 * H);
  const G = coupled ? 3 : 4;
  const GH = G * H;
  const BH = B * H;
  const F = coupled ? 0 : H;
  const Gg = F + H;
  const O = F + 2 * H;
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    if (hasDy) addInto(dh, at(dy, t * BH + b0 * H), RH); // the output at t is h_{k+1}
    const gk = at(gates, (k * B + b0) * GH);
    const da = at(dA, (k * B + b0) * GH);
    const tck = at(tc, k * BH + b0 * H);
    const cPrev = at(cs, k * BH + b0 * H);
    const c = at(cs, (k + 1) * BH + b0 * H);
    for (let b = 0; b < R; b++) {
      const r = b * GH;
      let j = 0;
      while (j < H) {
        const full = j + 4 <= H;
        const n = b * H + j;
        const f = ld(at(gk, r + F + j), full);
        const i = coupled ? sub(ONE, f) : ld(at(gk, r + j), full);
        const g = ld(at(gk, r + Gg + j), full);
        const o = ld(at(gk, r + O + j), full);
        const th = ld(at(tck, n), full);
        const cp = ld(at(cPrev, n), full);
        const dhn = ld(at(dh, n), full);
        // h = o·tanh(c): through o, and through tanh(c) into c
        const dao = mul(mul(dhn, th), dsig(o));
        let dct = add(ld(at(dc, n), full), mul(mul(dhn, o), dtanh(th)));
        if (peephole) {
          dct = add(dct, mul(dao, ld(at(po, j), full))); // o also sees c_t through p_o
          st(at(dpo, j), add(ld(at(dpo, j), full), mul(dao, ld(at(c, n), full))), full);
        }
        // c = f·c_{t−1} + i·g
        const di = mul(dct, g);
        let df = mul(dct, cp);
        if (coupled) df = sub(df, di); // i = 1 − f
        const daf = mul(df, dsig(f));
        const dag = mul(mul(dct, i), dtanh(g));
        let dcp = mul(dct, f);
        if (peephole) {
          dcp = add(dcp, mul(daf, ld(at(pf, j), full)));
          st(at(dpf, j), add(ld(at(dpf, j), full), mul(daf, cp)), full);
        }
        if (!coupled) {
          const dai = mul(di, dsig(i));
          st(at(da, r + j), dai, full);
          if (peephole) {
            dcp = add(dcp, mul(dai, ld(at(pi, j), full)));
            st(at(dpi, j), add(ld(at(dpi, j), full), mul(dai, cp)), full);
          }
        }
        st(at(da, r + F + j), daf, full);
        st(at(da, r + Gg + j), dag, full);
        st(at(da, r + O + j), dao, full);
        st(at(dcPrev, n), dcp, full);
        j += full ? 4 : 1;
      }
    }
    // a = … + W_hh h_{t−1}: dh_{t−1} = dA W_hh
    memory.fill(dhPrev, 0, <usize>RH << 2);
    rowsGemm(R, H, GH, da, whh, dhPrev, ap, shared);
    memory.copy(dh, dhPrev, <usize>RH << 2);
    memory.copy(dc, dcPrev, <usize>RH << 2);
  }
}

// ---------------------------------------------------------------- GRU

/**
 * GRU forward, rows (r, z, n); whh = W_hh (3H, H) as it is (see `stepGemm`).
 * `resetAfter` (PyTorch): whhT = W_hhᵀ packed (K = H, N = 3H),
 * hn = W_hn h + b_hn. Cho: whhT = W_hh[0:2H]ᵀ packed (K = H, N = 2H), whnT = W_hnᵀ packed
 * (K = H, N = H), hn = r ⊙ h. Writes hs[1..T], gates (T, B, 3H), hn (T, B, H).
 * rec: (B, 3H) scratch; ap: packedASize(B, H).
 */
function gruForwardRows(
  T: i32, B: i32, H: i32, reverse: bool, resetAfter: bool,
  xp: usize, whh: usize, whhT: usize, whnT: usize, bhh: usize,
  hs: usize, gates: usize, hn: usize, rec: usize, ap: usize, b0: i32, b1: i32, shared: bool,
): void {
  const R = b1 - b0;
  const H3 = 3 * H;
  const BH = B * H;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const x = at(xp, (t * B + b0) * H3);
    const gk = at(gates, (k * B + b0) * H3);
    const hnk = at(hn, k * BH + b0 * H);
    const hPrev = at(hs, k * BH + b0 * H);
    const h = at(hs, (k + 1) * BH + b0 * H);
    if (resetAfter) {
      // rec = h W_hhᵀ + b_hh, all three blocks at once
      const rec_ = at(rec, b0 * H3);
      biasRows(rec_, 0, bhh, R, H3);
      stepGemm(R, H3, H, hPrev, whh, whhT, rec_, H3, ap, shared);
      for (let b = 0; b < R; b++) {
        const row = b * H3;
        let j = 0;
        while (j < H) {
          const full = j + 4 <= H;
          const r = vsigmoid(add(ld(at(x, row + j), full), ld(at(rec_, row + j), full)));
          const z = vsigmoid(add(ld(at(x, row + H + j), full), ld(at(rec_, row + H + j), full)));
          const hnj = ld(at(rec_, row + 2 * H + j), full);
          const n = vtanh(add(ld(at(x, row + 2 * H + j), full), mul(r, hnj)));
          st(at(gk, row + j), r, full);
          st(at(gk, row + H + j), z, full);
          st(at(gk, row + 2 * H + j), n, full);
          st(at(hnk, b * H + j), hnj, full);
          const hp = ld(at(hPrev, b * H + j), full);
          st(at(h, b * H + j), add(mul(sub(ONE, z), n), mul(z, hp)), full);
          j += full ? 4 : 1;
        }
      }
    } else {
      // r, z from the (B, 2H) product with the first two row blocks; then n from r ⊙ h.
      const rz = at(rec, b0 * 2 * H);
      const hh = at(rec, B * 2 * H + b0 * H);
      biasRows(rz, 0, bhh, R, 2 * H);
      stepGemm(R, 2 * H, H, hPrev, whh, whhT, rz, 2 * H, ap, shared);
      for (let b = 0; b < R; b++) {
        const row = b * H3;
        let j = 0;
        while (j < H) {
          const full = j + 4 <= H;
          const r = vsigmoid(add(ld(at(x, row + j), full), ld(at(rz, b * 2 * H + j), full)));
          const z = vsigmoid(add(ld(at(x, row + H + j), full), ld(at(rz, b * 2 * H + H + j), full)));
          st(at(gk, row + j), r, full);
          st(at(gk, row + H + j), z, full);
          st(at(hnk, b * H + j), mul(r, ld(at(hPrev, b * H + j), full)), full);
          j += full ? 4 : 1;
        }
      }
      biasRows(hh, 0, at(bhh, 2 * H), R, H);
      stepGemm(R, H, H, hnk, at(whh, 2 * H * H), whnT, hh, H, ap, shared);
      for (let b = 0; b < R; b++) {
        const row = b * H3;
        let j = 0;
        while (j < H) {
          const full = j + 4 <= H;
          const z = ld(at(gk, row + H + j), full);
          const n = vtanh(add(ld(at(x, row + 2 * H + j), full), ld(at(hh, b * H + j), full)));
          st(at(gk, row + 2 * H + j), n, full);
          const hp = ld(at(hPrev, b * H + j), full);
          st(at(h, b * H + j), add(mul(sub(ONE, z), n), mul(z, hp)), full);
          j += full ? 4 : 1;
        }
      }
    }
  }
}

/**
 * GRU backward, k = T−1 … 0. Writes dX (T, B, 3H) by k (= dxp at time t_k) and dR (T, B, 3H)
 * by k, what dW_hh and db_hh need afterwards: reset-after, dL/d(h W_hhᵀ + b_hh) (pair with hs);
 * Cho, dL/d(W_hh[0:2H] h) (B, 2H) rows first, T·B·2H floats (pair with hs), then dL/da_n
 * (T, B, H) (pair with hn). whh = W_hh packed as op(B) (K = 3H, N = H) for reset-after; for Cho
 * W_hh[0:2H] (K = 2H, N = H) and whn = W_hn (K = H, N = H). dh: in dL/dh_T, out dL/dh0.
 * dhPrev, drh: (B, H) scratch; ap: packedASize(B, 3H).
 */
function gruBackwardRows(
  T: i32, B: i32, H: i32, reverse: bool, resetAfter: bool, hasDy: bool,
  whh: usize, whn: usize, hs: usize, gates: usize, hn: usize, dy: usize,
  dh: usize, dX: usize, dR: usize, dhPrev: usize, drh: usize, ap: usize, b0: i32, b1: i32, shared: bool,
): void {
  const R = b1 - b0;
  const RH = R * H;
  dh = at(dh, b0 * H);
  dhPrev = at(dhPrev, b0 * H);
  drh = at(drh, b0 * H);
  const H3 = 3 * H;
  const BH = B * H;
  const dAn = at(dR, T * B * 2 * H);
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    if (hasDy) addInto(dh, at(dy, t * BH + b0 * H), RH);
    const gk = at(gates, (k * B + b0) * H3);
    const hnk = at(hn, k * BH + b0 * H);
    const hPrev = at(hs, k * BH + b0 * H);
    const dx = at(dX, (k * B + b0) * H3);
    if (resetAfter) {
      const drec = at(dR, (k * B + b0) * H3);
      for (let b = 0; b < R; b++) {
        const row = b * H3;
        let j = 0;
        while (j < H) {
          const full = j + 4 <= H;
          const n_ = b * H + j;
          const r = ld(at(gk, row + j), full);
          const z = ld(at(gk, row + H + j), full);
          const n = ld(at(gk, row + 2 * H + j), full);
          const d = ld(at(dh, n_), full);
          const dan = mul(mul(d, sub(ONE, z)), dtanh(n)); // through n = tanh(a_n)
          const daz = mul(mul(d, sub(ld(at(hPrev, n_), full), n)), dsig(z));
          const dar = mul(mul(dan, ld(at(hnk, n_), full)), dsig(r)); // r multiplies (W_hn h + b_hn)
          st(at(dx, row + j), dar, full);
          st(at(dx, row + H + j), daz, full);
          st(at(dx, row + 2 * H + j), dan, full);
          st(at(drec, row + j), dar, full);
          st(at(drec, row + H + j), daz, full);
          st(at(drec, row + 2 * H + j), mul(dan, r), full);
          st(at(dhPrev, n_), mul(d, z), full); // direct path h_t = … + z ⊙ h
          j += full ? 4 : 1;
        }
      }
      rowsGemm(R, H, H3, drec, whh, dhPrev, ap, shared);
    } else {
      const dan = at(dAn, k * BH + b0 * H);
      const drz = at(dR, (k * B + b0) * 2 * H);
      for (let b = 0; b < R; b++) {
        const row = b * H3;
        let j = 0;
        while (j < H) {
          const full = j + 4 <= H;
          const n_ = b * H + j;
          const z = ld(at(gk, row + H + j), full);
          const n = ld(at(gk, row + 2 * H + j), full);
          const d = ld(at(dh, n_), full);
          const da = mul(mul(d, sub(ONE, z)), dtanh(n));
          const daz = mul(mul(d, sub(ld(at(hPrev, n_), full), n)), dsig(z));
          st(at(dan, n_), da, full);
          st(at(dx, row + 2 * H + j), da, full);
          st(at(dx, row + H + j), daz, full);
          st(at(drz, b * 2 * H + H + j), daz, full);
          st(at(dhPrev, n_), mul(d, z), full);
          j += full ? 4 : 1;
        }
      }
      // a_n = … + W_hn (r ⊙ h) + b_hn
      memory.fill(drh, 0, <usize>RH << 2);
      rowsGemm(R, H, H, dan, whn, drh, ap, shared);
      for (let b = 0; b < R; b++) {
        const row = b * H3;
        let j = 0;
        while (j < H) {
          const full = j + 4 <= H;
          const n_ = b * H + j;
          const r = ld(at(gk, row + j), full);
          const g = ld(at(drh, n_), full);
          const dar = mul(mul(g, ld(at(hPrev, n_), full)), dsig(r));
          st(at(dx, row + j), dar, full);
          st(at(drz, b * 2 * H + j), dar, full);
          st(at(dhPrev, n_), add(ld(at(dhPrev, n_), full), mul(g, r)), full);
          j += full ? 4 : 1;
        }
      }
      // r and z blocks: a_rz = … + W_hh[0:2H] h + b_hh[0:2H]
      rowsGemm(R, H, 2 * H, drz, whh, dhPrev, ap, shared);
    }
    memory.copy(dh, dhPrev, <usize>RH << 2);
  }
}

// ---------------------------------------------------------------- RNN

/** Elman RNN forward, h = f(xp + b_hh + h W_hhᵀ), f: 0 tanh, 1 sigmoid, 2 relu; whh, whhT as for LSTM. */
function rnnForwardRows(
  T: i32, B: i32, H: i32, reverse: bool, f: i32,
  xp: usize, whh: usize, whhT: usize, bhh: usize, hs: usize, ap: usize, b0: i32, b1: i32, shared: bool,
): void {
  const R = b1 - b0;
  const RH = R * H;
  const BH = B * H;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const h = at(hs, (k + 1) * BH + b0 * H);
    biasRows(h, at(xp, t * BH + b0 * H), bhh, R, H);
    stepGemm(R, H, H, at(hs, k * BH + b0 * H), whh, whhT, h, H, ap, shared);
    let i = 0;
    while (i < RH) {
      const full = i + 4 <= RH;
      const a = ld(at(h, i), full);
      st(at(h, i), f == 0 ? vtanh(a) : f == 1 ? vsigmoid(a) : f32x4.max(a, splat(0)), full);
      i += full ? 4 : 1;
    }
  }
}

/** Elman RNN backward: dA (T, B, H) by k = dh ⊙ f'(a) from h alone; whh = W_hh (K = N = H). */
function rnnBackwardRows(
  T: i32, B: i32, H: i32, reverse: bool, f: i32, hasDy: bool,
  whh: usize, hs: usize, dy: usize, dh: usize, dA: usize, dhPrev: usize, ap: usize, b0: i32, b1: i32, shared: bool,
): void {
  const R = b1 - b0;
  const RH = R * H;
  dh = at(dh, b0 * H);
  dhPrev = at(dhPrev, b0 * H);
  const BH = B * H;
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    if (hasDy) addInto(dh, at(dy, t * BH + b0 * H), RH);
    const h = at(hs, (k + 1) * BH + b0 * H);
    const da = at(dA, k * BH + b0 * H);
    let i = 0;
    while (i < RH) {
      const full = i + 4 <= RH;
      const y = ld(at(h, i), full);
      const d = f == 0 ? dtanh(y) : f == 1 ? dsig(y) : v128.and(f32x4.gt(y, splat(0)), ONE);
      st(at(da, i), mul(ld(at(dh, i), full), d), full);
      i += full ? 4 : 1;
    }
    memory.fill(dhPrev, 0, <usize>RH << 2);
    rowsGemm(R, H, H, da, whh, dhPrev, ap, shared);
    memory.copy(dh, dhPrev, <usize>RH << 2);
  }
}

// ---------------------------------------------------------------- two threads

// With a worker (threads.ts), the rows of the batch are split: every row of a recurrence is an
// independent sequence through all T steps, so each thread runs the whole loop on its rows with
// no synchronisation per step (the per-step GEMMs then run on one thread each). Scratch `ap` is
// allocated twice over: the worker packs into the second half. dW_hh and db_hh are summed after
// the loop (GEMMs split by columns). Results are bit for bit those of one thread: every element
// sums the same products in the same order. LSTM peephole gradients are summed over rows, so a
// peephole backward keeps one thread per sequence and shares each GEMM by columns instead.

const OP_LSTM_F = 2, OP_LSTM_B = 3, OP_GRU_F = 4, OP_GRU_B = 5, OP_RNN_F = 6, OP_RNN_B = 7;


/** Rows [0, split) stay here, [split, B) go to the worker; split = B: no split. */
function splitRows(B: i32, stepWork: i64): i32 {
  if (!hasWorker() || B < 8 || stepWork < 65536) return B;
  return (B >> 1) & ~3;
}

/** The worker's side: runs job `op` on rows [b0, b1) with the arguments at the control block. */
export function runRowsJob(op: i32, a: usize, b0: i32, b1: i32): void {
  if (op == OP_LSTM_F) {
    lstmForwardRows(g(a, 0), g(a, 1), g(a, 2), g(a, 3) != 0, g(a, 4) != 0, g(a, 5) != 0, g(a, 6), g(a, 7), g(a, 8), g(a, 9), g(a, 10), g(a, 11), g(a, 12), g(a, 13), g(a, 14), g(a, 15), g(a, 16), g(a, 17), b0, b1, false);
  } else if (op == OP_LSTM_B) {
    lstmBackwardRows(g(a, 0), g(a, 1), g(a, 2), g(a, 3) != 0, g(a, 4) != 0, g(a, 5) != 0, g(a, 6) != 0, g(a, 7), g(a, 8), g(a, 9), g(a, 10), g(a, 11), g(a, 12), g(a, 13), g(a, 14), g(a, 15), g(a, 16), g(a, 17), g(a, 18), g(a, 19), g(a, 20), g(a, 21), g(a, 22), g(a, 23), g(a, 24), b0, b1, false);
  } else if (op == OP_GRU_F) {
    gruForwardRows(g(a, 0), g(a, 1), g(a, 2), g(a, 3) != 0, g(a, 4) != 0, g(a, 5), g(a, 6), g(a, 7), g(a, 8), g(a, 9), g(a, 10), g(a, 11), g(a, 12), g(a, 13), g(a, 14), b0, b1, false);
  } else if (op == OP_GRU_B) {
    gruBackwardRows(g(a, 0), g(a, 1), g(a, 2), g(a, 3) != 0, g(a, 4) != 0, g(a, 5) != 0, g(a, 6), g(a, 7), g(a, 8), g(a, 9), g(a, 10), g(a, 11), g(a, 12), g(a, 13), g(a, 14), g(a, 15), g(a, 16), g(a, 17), b0, b1, false);
  } else if (op == OP_RNN_F) {
    rnnForwardRows(g(a, 0), g(a, 1), g(a, 2), g(a, 3) != 0, g(a, 4), g(a, 5), g(a, 6), g(a, 7), g(a, 8), g(a, 9), g(a, 10), b0, b1, false);
  } else if (op == OP_RNN_B) {
    rnnBackwardRows(g(a, 0), g(a, 1), g(a, 2), g(a, 3) != 0, g(a, 4), g(a, 5) != 0, g(a, 6), g(a, 7), g(a, 8), g(a, 9), g(a, 10), g(a, 11), g(a, 12), b0, b1, false);
  }
}

/**
 * LSTM forward over T steps, see `lstmForwardRows`; ap: 2 × packedASize(B, H) floats.
 */
export function lstmForward(
  T: i32, B: i32, H: i32, reverse: bool, peephole: bool, coupled: bool,
  xp: usize, whh: usize, whhT: usize, bhh: usize, pi: usize, pf: usize, po: usize,
  hs: usize, cs: usize, gates: usize, tc: usize, ap: usize,
): void {
  const GH = (coupled ? 3 : 4) * H;
  const s = splitRows(B, <i64>B * GH * H);
  let seq = 0;
  if (s < B) {
    setArg(0, T); setArg(1, B); setArg(2, H); setArg(3, reverse); setArg(4, peephole); setArg(5, coupled);
    setArg(6, xp); setArg(7, whh); setArg(8, whhT); setArg(9, bhh); setArg(10, pi); setArg(11, pf); setArg(12, po);
    setArg(13, hs); setArg(14, cs); setArg(15, gates); setArg(16, tc); setArg(17, ap + (<usize>packedASize(B, H) << 2));
    seq = postJob(OP_LSTM_F, s, B);
  }
  lstmForwardRows(T, B, H, reverse, peephole, coupled, xp, whh, whhT, bhh, pi, pf, po, hs, cs, gates, tc, ap, 0, s, s == B);
  if (seq) joinJob(seq);
}

/** LSTM backward over T steps, see `lstmBackwardRows`; ap: 2 × packedASize(B, G·H) floats. */
export function lstmBackward(
  T: i32, B: i32, H: i32, reverse: bool, peephole: bool, coupled: bool, hasDy: bool,
  whh: usize, pi: usize, pf: usize, po: usize, dpi: usize, dpf: usize, dpo: usize,
  hs: usize, cs: usize, gates: usize, tc: usize, dy: usize,
  dh: usize, dc: usize, dA: usize, dhPrev: usize, dcPrev: usize, ap: usize,
): void {
  const GH = (coupled ? 3 : 4) * H;
  const s = peephole ? B : splitRows(B, <i64>B * GH * H);
  let seq = 0;
  if (s < B) {
    setArg(0, T); setArg(1, B); setArg(2, H); setArg(3, reverse); setArg(4, peephole); setArg(5, coupled); setArg(6, hasDy);
    setArg(7, whh); setArg(8, pi); setArg(9, pf); setArg(10, po); setArg(11, dpi); setArg(12, dpf); setArg(13, dpo);
    setArg(14, hs); setArg(15, cs); setArg(16, gates); setArg(17, tc); setArg(18, dy);
    setArg(19, dh); setArg(20, dc); setArg(21, dA); setArg(22, dhPrev); setArg(23, dcPrev); setArg(24, ap + (<usize>packedASize(B, GH) << 2));
    seq = postJob(OP_LSTM_B, s, B);
  }
  lstmBackwardRows(T, B, H, reverse, peephole, coupled, hasDy, whh, pi, pf, po, dpi, dpf, dpo, hs, cs, gates, tc, dy, dh, dc, dA, dhPrev, dcPrev, ap, 0, s, s == B);
  if (seq) joinJob(seq);
}

/** GRU forward over T steps, see `gruForwardRows`; ap: 2 × packedASize(B, H) floats. */
export function gruForward(
  T: i32, B: i32, H: i32, reverse: bool, resetAfter: bool,
  xp: usize, whh: usize, whhT: usize, whnT: usize, bhh: usize,
  hs: usize, gates: usize, hn: usize, rec: usize, ap: usize,
): void {
  const s = splitRows(B, <i64>B * 3 * H * H);
  let seq = 0;
  if (s < B) {
    setArg(0, T); setArg(1, B); setArg(2, H); setArg(3, reverse); setArg(4, resetAfter);
    setArg(5, xp); setArg(6, whh); setArg(7, whhT); setArg(8, whnT); setArg(9, bhh);
    setArg(10, hs); setArg(11, gates); setArg(12, hn); setArg(13, rec); setArg(14, ap + (<usize>packedASize(B, H) << 2));
    seq = postJob(OP_GRU_F, s, B);
  }
  gruForwardRows(T, B, H, reverse, resetAfter, xp, whh, whhT, whnT, bhh, hs, gates, hn, rec, ap, 0, s, s == B);
  if (seq) joinJob(seq);
}

/** GRU backward over T steps, see `gruBackwardRows`; ap: 2 × packedASize(B, 3H) floats. */
export function gruBackward(
  T: i32, B: i32, H: i32, reverse: bool, resetAfter: bool, hasDy: bool,
  whh: usize, whn: usize, hs: usize, gates: usize, hn: usize, dy: usize,
  dh: usize, dX: usize, dR: usize, dhPrev: usize, drh: usize, ap: usize,
): void {
  const s = splitRows(B, <i64>B * 3 * H * H);
  let seq = 0;
  if (s < B) {
    setArg(0, T); setArg(1, B); setArg(2, H); setArg(3, reverse); setArg(4, resetAfter); setArg(5, hasDy);
    setArg(6, whh); setArg(7, whn); setArg(8, hs); setArg(9, gates); setArg(10, hn); setArg(11, dy);
    setArg(12, dh); setArg(13, dX); setArg(14, dR); setArg(15, dhPrev); setArg(16, drh); setArg(17, ap + (<usize>packedASize(B, 3 * H) << 2));
    seq = postJob(OP_GRU_B, s, B);
  }
  gruBackwardRows(T, B, H, reverse, resetAfter, hasDy, whh, whn, hs, gates, hn, dy, dh, dX, dR, dhPrev, drh, ap, 0, s, s == B);
  if (seq) joinJob(seq);
}

/** Elman RNN forward over T steps, see `rnnForwardRows`; ap: 2 × packedASize(B, H) floats. */
export function rnnForward(
  T: i32, B: i32, H: i32, reverse: bool, f: i32,
  xp: usize, whh: usize, whhT: usize, bhh: usize, hs: usize, ap: usize,
): void {
  const s = splitRows(B, <i64>B * H * H);
  let seq = 0;
  if (s < B) {
    setArg(0, T); setArg(1, B); setArg(2, H); setArg(3, reverse); setArg(4, f);
    setArg(5, xp); setArg(6, whh); setArg(7, whhT); setArg(8, bhh); setArg(9, hs); setArg(10, ap + (<usize>packedASize(B, H) << 2));
    seq = postJob(OP_RNN_F, s, B);
  }
  rnnForwardRows(T, B, H, reverse, f, xp, whh, whhT, bhh, hs, ap, 0, s, s == B);
  if (seq) joinJob(seq);
}

/** Elman RNN backward over T steps, see `rnnBackwardRows`; ap: 2 × packedASize(B, H) floats. */
export function rnnBackward(
  T: i32, B: i32, H: i32, reverse: bool, f: i32, hasDy: bool,
  whh: usize, hs: usize, dy: usize, dh: usize, dA: usize, dhPrev: usize, ap: usize,
): void {
  const s = splitRows(B, <i64>B * H * H);
  let seq = 0;
  if (s < B) {
    setArg(0, T); setArg(1, B); setArg(2, H); setArg(3, reverse); setArg(4, f); setArg(5, hasDy);
    setArg(6, whh); setArg(7, hs); setArg(8, dy); setArg(9, dh); setArg(10, dA); setArg(11, dhPrev); setArg(12, ap + (<usize>packedASize(B, H) << 2));
    seq = postJob(OP_RNN_B, s, B);
  }
  rnnBackwardRows(T, B, H, reverse, f, hasDy, whh, hs, dy, dh, dA, dhPrev, ap, 0, s, s == B);
  if (seq) joinJob(seq);
}

/**
 * One batch-1 LSTM cell update (gates i, f, g, o, logistic): gates (4H pre-activations, biases
 * added), c and h (H) in place, with the f32x4 math of `lstmForwardRows`: c ← σ(f)·c + σ(i)·tanh(g),
 * h ← σ(o)·tanh(c). For compact-weight sampling (src/generate/quantized.ts `lstmCell`).
 */
export function lstmCellStep(H: i32, gates: usize, c: usize, h: usize): void {
  let j = 0;
  while (j < H) {
    const full = j + 4 <= H;
    const i = vsigmoid(ld(at(gates, j), full));
    const f = vsigmoid(ld(at(gates, H + j), full));
    const g = vtanh(ld(at(gates, 2 * H + j), full));
    const o = vsigmoid(ld(at(gates, 3 * H + j), full));
    const ct = add(mul(f, ld(at(c, j), full)), mul(i, g));
    st(at(c, j), ct, full);
    st(at(h, j), mul(o, vtanh(ct)), full);
    j += full ? 4 : 1;
  }
}
