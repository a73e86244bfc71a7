/**
 * The "wasm" backend over one instance of the kernels: float32 GEMM and the fused whole-sequence
 * recurrence of every cell (LSTM with its peephole and coupled variants, GRU reset-after and
 * Cho, RNN tanh/sigmoid/relu), with logistic-sigmoid gates. Float64 — gradient checks,
 * conformance — runs the JS backend's blocked GEMM, and `recurrence.supports` declines it so
 * `unroll` runs the cells' step code; it declines hard-sigmoid gates (`gate: "hard-sigmoid"`, the
 * `-hard` cells of Keras / TF.js imports) too, which the kernels do not compute.
 *
 * A fused call copies its inputs into linear memory once (x projections, W_hh, h0, c0), runs all
 * T steps inside wasm — per step one recurrent GEMM against W_hh packed once, then the gate math
 * in f32x4 — and copies states and cache out once. Backward keeps the pre-activation gradients of
 * every step in processing order and finishes with one GEMM dW_hh += dAᵀ·H over all T·B rows and
 * one column sum for db_hh.
 */
import type { Backend, FusedBackward, FusedForward, FusedRecurrence, OptimizerKernels } from "../backend.js";
import type { CellConfig } from "../cell-types.js";
import type { DType, FloatArray } from "../../tensor/dtype.js";
import { gemmBlocked } from "../js/gemm-blocked.js";
import type { Kernels } from "./kernels.js";

// Dimensions: T steps, B batch, H hidden, G gate blocks.

/** Cache layouts of the cells (src/cells/lstm.ts, gru.ts), float32 here. */
interface LstmCache {
  /** (T, B, G·H) */ readonly gates: Float32Array;
  /** (T, B, H) */ readonly tc: Float32Array;
}
interface GruCache {
  /** (T, B, 3H) */ readonly gates: Float32Array;
  /** (T, B, H) */ readonly hn: Float32Array;
}

const ACTIVATION = { tanh: 0, sigmoid: 1, relu: 2 } as const;

/**
 * Up to this batch size the forward step reads W_hh as it is instead of packed (assembly/gemm.ts
 * `SMALL_M`, `stepGemm`): batch-1 sampling runs one step per call, and packing would cost more
 * than the product.
 */
const SMALL_M = 2;

/** The wasm backend on `kernels()`, which is called on first use (so instantiation can be lazy). */
export function createWasmBackend(kernels: () => Kernels): Backend {
  return {
    name: "wasm",
    gemm(transA, transB, M, N, K, A, B, C, accumulate) {
      if (!(A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array)) {
        gemmBlocked(transA, transB, M, N, K, A, B, C, accumulate);
        return;
      }
      const w = kernels();
      const k = w.k;
      w.reset();
      const a = w.alloc(M * K);
      const b = w.alloc(K * N);
      const c = w.alloc(M * N);
      const direct = !transA && transB && M <= SMALL_M; // read unpacked (assembly/gemm.ts gemmSmallNT)
      const ap = w.alloc(direct ? 0 : k.packedASize(M, K));
      const bp = w.alloc(direct ? 0 : k.packedBSize(K, N));
      w.ready();
      w.put(a, A, M * K);
      w.put(b, B, K * N);
      if (accumulate) w.put(c, C, M * N);
      k.sgemm(+transA, +transB, M, N, K, a, b, c, +accumulate, ap, bp);
      w.get(c, C, M * N);
    },
    recurrence: createRecurrence(kernels),
    optimizerKernels: createOptimizerKernels(kernels),
  };
}

/**
 * Adam, SGD, clipping's scale and Σx² in wasm (assembly/optim.ts) for Float32Array buffers: the
 * buffers are copied in and the updated ones out, which costs less than the JavaScript loops'
 * f64 divisions and square roots one element at a time (Adam over T1's 1.1M parameters: 21 ms in
 * the loop). Bit for bit what the loops write.
 */
function createOptimizerKernels(kernels: () => Kernels): OptimizerKernels {
  const all32 = (...xs: (FloatArray | null)[]): boolean => xs.every((x) => x === null || x instanceof Float32Array);
  return {
    adam(p, g, m, v, s) {
      if (!all32(p, g, m, v)) return false;
      const w = kernels();
      const n = p.length;
      w.reset();
      const [op, og, om, ov] = [w.alloc(n), w.alloc(n), w.alloc(n), w.alloc(n)];
      w.ready();
      putAll(w, [[op, f32(p)], [og, f32(g)], [om, f32(m)], [ov, f32(v)]]);
      w.k.adam(n, op, og, om, ov, s.shrink, s.l2, s.beta1, s.beta2, s.stepSize, s.sqrtCorrection2, s.eps);
      w.get(op, f32(p), n);
      w.get(om, f32(m), n);
      w.get(ov, f32(v), n);
      return true;
    },
    sgd(p, g, b, s) {
      if (!all32(p, g, b)) return false;
      const w = kernels();
      const n = p.length;
      w.reset();
      const [op, og, ob] = [w.alloc(n), w.alloc(n), b ? w.alloc(n) : 0];
      w.ready();
      putAll(w, [[op, f32(p)], [og, f32(g)], [ob, b ? f32(b) : undefined]]);
      w.k.sgd(n, op, og, ob, s.lr, s.weightDecay, s.momentum, +s.nesterov, +s.firstStep);
      w.get(op, f32(p), n);
      if (b) w.get(ob, f32(b), n);
      return true;
    },
    sumSquares(x) {
      if (!all32(x)) return null;
      const w = kernels();
      return w.k.sumSquares(x.length, copyIn(w, f32(x)));
    },
    scale(x, s) {
      if (!all32(x)) return false;
      const w = kernels();
      const ox = copyIn(w, f32(x));
      w.k.scale(x.length, ox, s);
      w.get(ox, f32(x), x.length);
      return true;
    },
  };
}

/** A call with one operand: lays out x alone, copies it in, returns its offset. */
function copyIn(w: Kernels, x: Float32Array): number {
  w.reset();
  const off = w.alloc(x.length);
  w.ready();
  w.put(off, x);
  return off;
}

/** Throws for a cell whose gates are not the logistic sigmoid (`supports` declines those). */
function logisticGates(cell: CellConfig): void {
  if (cell.kind !== "rnn" && (cell.gate ?? "sigmoid") !== "sigmoid") throw new Error(`wasm recurrence: the kernels' gates are the logistic sigmoid, not ${cell.gate} (supports() declines this cell)`);
}

function createRecurrence(kernels: () => Kernels): FusedRecurrence {
  return {
    // The kernels' gates are the logistic sigmoid: hard-sigmoid cells run the cells' step code.
    supports: (cell: CellConfig, dtype: DType) => dtype === "float32" && (cell.kind === "rnn" || (cell.gate ?? "sigmoid") === "sigmoid"),
    forward(a) {
      logisticGates(a.cell);
      const w = kernels();
      if (a.cell.kind === "lstm") lstmForward(w, a, a.cell.peephole, a.cell.coupled);
      else if (a.cell.kind === "gru") gruForward(w, a, a.cell.resetAfter);
      else rnnForward(w, a, ACTIVATION[a.cell.nonlinearity]);
    },
    backward(a) {
      logisticGates(a.cell);
      const w = kernels();
      if (a.cell.kind === "lstm") lstmBackward(w, a, a.cell.peephole, a.cell.coupled);
      else if (a.cell.kind === "gru") gruBackward(w, a, a.cell.resetAfter);
      else rnnBackward(w, a, ACTIVATION[a.cell.nonlinearity]);
    },
  };
}

const f32 = (x: FloatArray) => x as Float32Array;

/** Copies `src` in at a new allocation; returns its offset. (Allocate everything before `ready`.) */
function putAll(w: Kernels, pairs: [number, Float32Array | undefined][]): void {
  for (const [off, src] of pairs) if (src) w.put(off, src);
}

/** dxp (T, B, G·H) by time t from dA by processing step k. */
function scatterByTime(w: Kernels, dA: number, dxp: Float32Array, T: number, rowLen: number, reverse: boolean): void {
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    w.get(dA + 4 * k * rowLen, dxp, rowLen, t * rowLen);
  }
}

function lstmForward(w: Kernels, a: FusedForward, peephole: boolean, coupled: boolean): void {
  const { T, B, H } = a.dims;
  const GH = (coupled ? 3 : 4) * H;
  const BH = B * H;
  const cache = a.cache as LstmCache;
  const { pi, pf, po } = a.p.extra;
  const k = w.k;
  w.reset();
  const xp = w.alloc(T * B * GH);
  const whh = w.alloc(GH * H);
  const whhT = w.alloc(B > SMALL_M ? k.packedBSize(H, GH) : 0);
  const bhh = w.alloc(GH);
  const opi = w.alloc(H), opf = w.alloc(H), opo = w.alloc(H);
  const hs = w.alloc((T + 1) * BH);
  const cs = w.alloc((T + 1) * BH);
  const gates = w.alloc(T * B * GH);
  const tc = w.alloc(T * BH);
  const ap = w.alloc(2 * k.packedASize(B, H)); // twice: a worker packs its rows into the second half
  w.ready();
  putAll(w, [[xp, f32(a.xp)], [whh, f32(a.p.Whh)], [bhh, f32(a.p.bhh)], [opi, pi && f32(pi)], [opf, pf && f32(pf)], [opo, po && f32(po)]]);
  w.put(hs, f32(a.hs), BH);
  w.put(cs, f32(a.cs), BH);
  if (B > SMALL_M) k.packB(1, H, GH, whh, whhT);
  k.lstmForward(T, B, H, +a.reverse, +peephole, +coupled, xp, whh, whhT, bhh, opi, opf, opo, hs, cs, gates, tc, ap);
  w.get(hs, f32(a.hs), (T + 1) * BH);
  w.get(cs, f32(a.cs), (T + 1) * BH);
  w.get(gates, cache.gates, T * B * GH);
  w.get(tc, cache.tc, T * BH);
}

function lstmBackward(w: Kernels, a: FusedBackward, peephole: boolean, coupled: boolean): void {
  const { T, B, H } = a.dims;
  const GH = (coupled ? 3 : 4) * H;
  const BH = B * H;
  const cache = a.cache as LstmCache;
  const { pi, pf, po } = a.p.extra;
  const { pi: dpi, pf: dpf, po: dpo } = a.dp.extra;
  const k = w.k;
  w.reset();
  const whh = w.alloc(GH * H);
  const whhP = w.alloc(k.packedBSize(GH, H));
  const opi = w.alloc(H), opf = w.alloc(H), opo = w.alloc(H);
  const odpi = w.alloc(H), odpf = w.alloc(H), odpo = w.alloc(H);
  const hs = w.alloc((T + 1) * BH);
  const cs = w.alloc((T + 1) * BH);
  const gates = w.alloc(T * B * GH);
  const tc = w.alloc(T * BH);
  const dy = w.alloc(a.dy ? T * BH : 0);
  const dh = w.alloc(BH), dc = w.alloc(BH), dhPrev = w.alloc(BH), dcPrev = w.alloc(BH);
  const dA = w.alloc(T * B * GH);
  const ap = w.alloc(2 * k.packedASize(B, GH)); // twice: a worker packs its rows into the second half
  const dWhh = w.alloc(GH * H);
  const dbhh = w.alloc(GH);
  const apW = w.alloc(k.packedASize(GH, T * B));
  const bpW = w.alloc(k.packedBSize(T * B, H));
  w.ready();
  putAll(w, [
    [whh, f32(a.p.Whh)], [opi, pi && f32(pi)], [opf, pf && f32(pf)], [opo, po && f32(po)],
    [odpi, dpi && f32(dpi)], [odpf, dpf && f32(dpf)], [odpo, dpo && f32(dpo)],
    [hs, f32(a.hs)], [cs, f32(a.cs)], [gates, cache.gates], [tc, cache.tc], [dy, a.dy ? f32(a.dy) : undefined],
    [dh, f32(a.dh)], [dc, f32(a.dc)], [dWhh, f32(a.dp.Whh)], [dbhh, f32(a.dp.bhh)],
  ]);
  k.packB(0, GH, H, whh, whhP);
  k.lstmBackward(T, B, H, +a.reverse, +peephole, +coupled, +(a.dy !== null), whhP, opi, opf, opo, odpi, odpf, odpo,
    hs, cs, gates, tc, dy, dh, dc, dA, dhPrev, dcPrev, ap);
  // a = … + W_hh h_{t−1} + b_hh at every step: one GEMM and one column sum over all T·B rows
  k.sgemm(1, 0, GH, H, T * B, dA, hs, dWhh, 1, apW, bpW);
  k.addColumnSums(dbhh, dA, T * B, GH);
  w.get(dh, f32(a.dh), BH);
  w.get(dc, f32(a.dc), BH);
  w.get(dWhh, f32(a.dp.Whh));
  w.get(dbhh, f32(a.dp.bhh));
  if (dpi) w.get(odpi, f32(dpi));
  if (dpf) w.get(odpf, f32(dpf));
  if (dpo) w.get(odpo, f32(dpo));
  scatterByTime(w, dA, f32(a.dxp), T, B * GH, a.reverse);
}

function gruForward(w: Kernels, a: FusedForward, resetAfter: boolean): void {
  const { T, B, H } = a.dims;
  const H3 = 3 * H;
  const BH = B * H;
  const cache = a.cache as GruCache;
  const k = w.k;
  w.reset();
  const xp = w.alloc(T * B * H3);
  const whh = w.alloc(H3 * H);
  const packed = B > SMALL_M;
  const whhT = w.alloc(packed ? k.packedBSize(H, resetAfter ? H3 : 2 * H) : 0);
  const whnT = w.alloc(packed && !resetAfter ? k.packedBSize(H, H) : 0);
  const bhh = w.alloc(H3);
  const hs = w.alloc((T + 1) * BH);
  const gates = w.alloc(T * B * H3);
  const hn = w.alloc(T * BH);
  const rec = w.alloc(B * H3);
  const ap = w.alloc(2 * k.packedASize(B, H)); // twice: a worker packs its rows into the second half
  w.ready();
  putAll(w, [[xp, f32(a.xp)], [whh, f32(a.p.Whh)], [bhh, f32(a.p.bhh)]]);
  w.put(hs, f32(a.hs), BH);
  if (packed && resetAfter) {
    k.packB(1, H, H3, whh, whhT);
  } else if (packed) {
    k.packB(1, H, 2 * H, whh, whhT);
    k.packB(1, H, H, whh + 4 * 2 * H * H, whnT);
  }
  k.gruForward(T, B, H, +a.reverse, +resetAfter, xp, whh, whhT, whnT, bhh, hs, gates, hn, rec, ap);
  w.get(hs, f32(a.hs), (T + 1) * BH);
  w.get(gates, cache.gates, T * B * H3);
  w.get(hn, cache.hn, T * BH);
}

function gruBackward(w: Kernels, a: FusedBackward, resetAfter: boolean): void {
  const { T, B, H } = a.dims;
  const H3 = 3 * H;
  const BH = B * H;
  const TB = T * B;
  const cache = a.cache as GruCache;
  const k = w.k;
  w.reset();
  const whh = w.alloc(H3 * H);
  const whhP = w.alloc(k.packedBSize(resetAfter ? H3 : 2 * H, H));
  const whnP = w.alloc(resetAfter ? 0 : k.packedBSize(H, H));
  const hs = w.alloc((T + 1) * BH);
  const gates = w.alloc(TB * H3);
  const hn = w.alloc(TB * H);
  const dy = w.alloc(a.dy ? TB * H : 0);
  const dh = w.alloc(BH), dhPrev = w.alloc(BH), drh = w.alloc(BH);
  const dX = w.alloc(TB * H3);
  const dR = w.alloc(TB * H3);
  const ap = w.alloc(2 * k.packedASize(B, H3)); // twice: a worker packs its rows into the second half
  const dWhh = w.alloc(H3 * H);
  const dbhh = w.alloc(H3);
  const apW = w.alloc(k.packedASize(H3, TB));
  const bpW = w.alloc(k.packedBSize(TB, H));
  w.ready();
  putAll(w, [
    [whh, f32(a.p.Whh)], [hs, f32(a.hs)], [gates, cache.gates], [hn, cache.hn], [dy, a.dy ? f32(a.dy) : undefined],
    [dh, f32(a.dh)], [dWhh, f32(a.dp.Whh)], [dbhh, f32(a.dp.bhh)],
  ]);
  if (resetAfter) {
    k.packB(0, H3, H, whh, whhP);
  } else {
    k.packB(0, 2 * H, H, whh, whhP);
    k.packB(0, H, H, whh + 4 * 2 * H * H, whnP);
  }
  k.gruBackward(T, B, H, +a.reverse, +resetAfter, +(a.dy !== null), whhP, whnP, hs, gates, hn, dy, dh, dX, dR, dhPrev, drh, ap);
  if (resetAfter) {
    // dR = dL/d(h W_hhᵀ + b_hh) of every step
    k.sgemm(1, 0, H3, H, TB, dR, hs, dWhh, 1, apW, bpW);
    k.addColumnSums(dbhh, dR, TB, H3);
  } else {
    // dR = [dL/d(W_hh[0:2H] h) (T·B, 2H) | dL/da_n (T·B, H)]; a_n's product is with r ⊙ h = hn
    const dAn = dR + 4 * TB * 2 * H;
    k.sgemm(1, 0, 2 * H, H, TB, dR, hs, dWhh, 1, apW, bpW);
    k.addColumnSums(dbhh, dR, TB, 2 * H);
    k.sgemm(1, 0, H, H, TB, dAn, hn, dWhh + 4 * 2 * H * H, 1, apW, bpW);
    k.addColumnSums(dbhh + 4 * 2 * H, dAn, TB, H);
  }
  w.get(dh, f32(a.dh), BH);
  w.get(dWhh, f32(a.dp.Whh));
  w.get(dbhh, f32(a.dp.bhh));
  scatterByTime(w, dX, f32(a.dxp), T, B * H3, a.reverse);
}

function rnnForward(w: Kernels, a: FusedForward, f: number): void {
  const { T, B, H } = a.dims;
  const BH = B * H;
  const k = w.k;
  w.reset();
  const xp = w.alloc(T * BH);
  const whh = w.alloc(H * H);
  const whhT = w.alloc(B > SMALL_M ? k.packedBSize(H, H) : 0);
  const bhh = w.alloc(H);
  const hs = w.alloc((T + 1) * BH);
  const ap = w.alloc(2 * k.packedASize(B, H)); // twice: a worker packs its rows into the second half
  w.ready();
  putAll(w, [[xp, f32(a.xp)], [whh, f32(a.p.Whh)], [bhh, f32(a.p.bhh)]]);
  w.put(hs, f32(a.hs), BH);
  if (B > SMALL_M) k.packB(1, H, H, whh, whhT);
  k.rnnForward(T, B, H, +a.reverse, f, xp, whh, whhT, bhh, hs, ap);
  w.get(hs, f32(a.hs), (T + 1) * BH);
}

function rnnBackward(w: Kernels, a: FusedBackward, f: number): void {
  const { T, B, H } = a.dims;
  const BH = B * H;
  const TB = T * B;
  const k = w.k;
  w.reset();
  const whh = w.alloc(H * H);
  const whhP = w.alloc(k.packedBSize(H, H));
  const hs = w.alloc((T + 1) * BH);
  const dy = w.alloc(a.dy ? TB * H : 0);
  const dh = w.alloc(BH), dhPrev = w.alloc(BH);
  const dA = w.alloc(TB * H);
  const ap = w.alloc(2 * k.packedASize(B, H)); // twice: a worker packs its rows into the second half
  const dWhh = w.alloc(H * H);
  const dbhh = w.alloc(H);
  const apW = w.alloc(k.packedASize(H, TB));
  const bpW = w.alloc(k.packedBSize(TB, H));
  w.ready();
  putAll(w, [[whh, f32(a.p.Whh)], [hs, f32(a.hs)], [dy, a.dy ? f32(a.dy) : undefined], [dh, f32(a.dh)], [dWhh, f32(a.dp.Whh)], [dbhh, f32(a.dp.bhh)]]);
  k.packB(0, H, H, whh, whhP);
  k.rnnBackward(T, B, H, +a.reverse, f, +(a.dy !== null), whhP, hs, dy, dh, dA, dhPrev, ap);
  k.sgemm(1, 0, H, H, TB, dA, hs, dWhh, 1, apW, bpW);
  k.addColumnSums(dbhh, dA, TB, H);
  w.get(dh, f32(a.dh), BH);
  w.get(dWhh, f32(a.dp.Whh));
  w.get(dbhh, f32(a.dp.bhh));
  scatterByTime(w, dA, f32(a.dxp), T, BH, a.reverse);
}
