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
 *
 * The recurrence `projects` (see `FusedRecurrence.projects`): a call also takes the layer's input
 * and makes XP in linear memory — b_ih rows plus one GEMM X·W_ihᵀ, or a gather of the token table's
 * rows — and the backward pass finishes dW_ih, db_ih and dx there (or groups dXP by token), the
 * same kernels in the same order as `unroll` runs them through `gemm`. So XP and dXP, the largest
 * buffers of a step, never cross between JS arrays and linear memory.
 */
import { checkTokenIds, countTargets, type AdamScalars, type Backend, type FusedBackward, type FusedForward, type FusedRecurrence, type Int8Rows, type OptimizerKernels, type ProjectionGrad, type ProjectionInput, type SgdScalars } from "../backend.js";
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
    crossEntropy: createCrossEntropy(kernels),
    int8Gemv: createInt8Gemv(kernels),
    lstmCell: (H, gates, c, h) => {
      if (gates.length < 4 * H || c.length < H || h.length < H) throw new Error(`lstmCell: H = ${H} needs gates of ${4 * H} values, c and h of ${H}`);
      const w = kernels();
      w.reset();
      const og = w.alloc(4 * H), oc = w.alloc(H), oh = w.alloc(H);
      w.ready();
      w.put(og, gates, 4 * H);
      w.put(oc, c, H);
      w.k.lstmCellStep(H, og, oc, oh);
      w.get(oc, c, H);
      w.get(oh, h, H);
    },
  };
}

/** A compact matrix's copy in linear memory: q with rows padded to `pc` columns and to `rows4` rows, then the scales. */
interface KeptInt8 {
  readonly w: Kernels;
  readonly off: number;
  readonly bytes: number;
  readonly pc: number;
  readonly rows4: number;
}

/**
 * `Backend.int8Gemv` in wasm (assembly/qgemv.ts, the native VNNI kernel's fixed point). Each
 * matrix is copied into linear memory on first use and kept there (per instance of the kernels)
 * until the matrix is collected, so a sampling step copies only x and y. The kernel takes rows
 * four at a time: the copy has zero rows up to a multiple of 4, and y as many slots.
 */
function createInt8Gemv(kernels: () => Kernels): NonNullable<Backend["int8Gemv"]> {
  const kept = new WeakMap<Int8Rows, KeptInt8>();
  const gone = new FinalizationRegistry<KeptInt8>((c) => c.w.release(c.off, c.bytes));
  const copyIn = (w: Kernels, m: Int8Rows): KeptInt8 => {
    const { rows, cols } = m;
    const pc = (cols + 7) & ~7; // assembly/qgemv.ts: rows of a multiple of 8 columns
    const rows4 = (rows + 3) & ~3;
    const bytes = rows4 * pc + 4 * rows4;
    const off = w.keep(bytes);
    const q = w.int8s(off, rows4 * pc).fill(0);
    if (pc === cols) q.set(m.q.subarray(0, rows * cols));
    else for (let r = 0; r < rows; r++) q.set(m.q.subarray(r * cols, (r + 1) * cols), r * pc);
    w.fill(off + rows4 * pc, 0, rows4);
    w.put(off + rows4 * pc, m.scale, rows);
    const c: KeptInt8 = { w, off, bytes, pc, rows4 };
    kept.set(m, c);
    gone.register(m, c);
    return c;
  };
  return (m, x, y, accumulate, bias) => {
    const { rows, cols } = m;
    if (m.q.length !== rows * cols || m.scale.length !== rows || x.length < cols || y.length < rows || (bias && bias.length < rows)) {
      throw new Error(`int8Gemv: a ${rows} × ${cols} matrix needs q of ${rows * cols}, scale and y of ${rows}, x of ${cols} values`);
    }
    const w = kernels();
    let c = kept.get(m);
    if (c?.w !== w) c = copyIn(w, m); // first use, or a new instance since (enableWasmThreads)
    const { rows4, pc } = c;
    w.reset();
    const ox = w.alloc(cols), oy = w.alloc(rows4), ob = w.alloc(bias ? rows4 : 0), dig = w.alloc(pc); // room for two rows of pc i16 digits, the most assembly/qgemv.ts uses
    w.ready();
    w.put(ox, x, cols);
    if (accumulate) w.put(oy, y, rows);
    if (bias) w.put(ob, bias, rows);
    if (w.k.qgemv(c.off, c.off + rows4 * pc, rows4, cols, ox, oy, +accumulate, bias ? ob : 0, dig) === 0) return false;
    w.get(oy, y, rows);
    return true;
  };
}

/**
 * `Backend.crossEntropy` in wasm for float32 (assembly/xent.ts: f32x4 exp; the worker takes half
 * the rows): it gives each row's max and Σ e^{z − max}, and the loss max + log Σ − z_target is
 * added here in row order, so 1 and 2 threads give the same loss. The targets are checked here,
 * as the specification does.
 */
function createCrossEntropy(kernels: () => Kernels): NonNullable<Backend["crossEntropy"]> {
  return (logits, targets, N, V, dlogits, ignoreIndex) => {
    if (!(logits instanceof Float32Array) || (dlogits !== null && !(dlogits instanceof Float32Array))) return null;
    const count = countTargets(targets, N, V, ignoreIndex);
    const scale = count > 0 ? 1 / count : 0;
    const w = kernels();
    w.reset();
    const z = w.alloc(N * V), t = w.alloc(N), d = w.alloc(dlogits ? N * V : 0), maxes = w.alloc(N), sums = w.alloc(2 * N);
    w.ready();
    w.put(z, logits, N * V);
    w.putInt32(t, targets.subarray(0, N));
    w.k.softmaxXent(z, t, N, V, dlogits ? d : 0, ignoreIndex, scale, maxes, sums);
    if (dlogits) w.get(d, dlogits, N * V);
    const mx = w.floats(maxes, N), sm = w.doubles(sums, N);
    let total = 0;
    for (let n = 0; n < N; n++) {
      const tn = targets[n];
      if (tn !== ignoreIndex) total += mx[n] + Math.log(sm[n]) - logits[n * V + tn];
    }
    return total * scale;
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
  /*
   * The updated p comes back out of wasm memory last: with a backup, p (still as it was) is copied
   * there first and Σ p² is summed where the update left it. Returns null for inputs not handled,
   * else the sum (0 without a backup).
   */
  const finish = (w: Kernels, op: number, p: FloatArray, backup: FloatArray | null): number => {
    let sum = 0;
    if (backup) {
      backup.set(p);
      sum = w.k.sumSquares(p.length, op);
    }
    w.get(op, f32(p), p.length);
    return sum;
  };
  const adam = (p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamScalars, backup: FloatArray | null): number | null => {
    if (!all32(p, g, m, v, backup)) return null;
    const w = kernels();
    const n = p.length;
    w.reset();
    const [op, og, om, ov] = [w.alloc(n), w.alloc(n), w.alloc(n), w.alloc(n)];
    w.ready();
    putAll(w, [[op, f32(p)], [og, f32(g)], [om, f32(m)], [ov, f32(v)]]);
    w.k.adam(n, op, og, om, ov, s.shrink, s.l2, s.beta1, s.beta2, s.stepSize, s.sqrtCorrection2, s.eps);
    w.get(om, f32(m), n);
    w.get(ov, f32(v), n);
    return finish(w, op, p, backup);
  };
  const sgd = (p: FloatArray, g: FloatArray, b: FloatArray | null, s: SgdScalars, backup: FloatArray | null): number | null => {
    if (!all32(p, g, b, backup)) return null;
    const w = kernels();
    const n = p.length;
    w.reset();
    const [op, og, ob] = [w.alloc(n), w.alloc(n), b ? w.alloc(n) : 0];
    w.ready();
    putAll(w, [[op, f32(p)], [og, f32(g)], [ob, b ? f32(b) : undefined]]);
    w.k.sgd(n, op, og, ob, s.lr, s.weightDecay, s.momentum, +s.nesterov, +s.firstStep);
    if (b) w.get(ob, f32(b), n);
    return finish(w, op, p, backup);
  };
  return {
    adam: (p, g, m, v, s) => adam(p, g, m, v, s, null) !== null,
    sgd: (p, g, b, s) => sgd(p, g, b, s, null) !== null,
    adamGuarded: (p, g, m, v, s, backup) => adam(p, g, m, v, s, backup),
    sgdGuarded: (p, g, b, s, backup) => sgd(p, g, b, s, backup),
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
    projects: true,
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

/** Copies each `src` in at its offset (allocated before `ready`); undefined sources are skipped. */
function putAll(w: Kernels, pairs: [number, Float32Array | undefined][]): void {
  for (const [off, src] of pairs) if (src) w.put(off, src);
}

/** The buffers of a forward call's input projection (`FusedForward.input`), laid out with the call's others. */
interface ProjectionIn {
  readonly input: ProjectionInput;
  /** dense: X, W_ih and the GEMM's packing scratch; rows: the table P at `x` */
  readonly x: number;
  readonly wih: number;
  readonly ap: number;
  readonly bp: number;
}

/** Allocates the input projection's buffers of a call whose XP has T·B rows of GH; null without `input`. */
function planIn(w: Kernels, a: FusedForward, GH: number): ProjectionIn | null {
  const input = a.input;
  if (!input) return null;
  if (input.kind === "rows") return { input, x: w.alloc(input.P.length), wih: 0, ap: 0, bp: 0 };
  const TB = a.dims.T * a.dims.B;
  const direct = TB <= SMALL_M; // as in `gemm`: read unpacked
  const { I } = input;
  return { input, x: w.alloc(TB * I), wih: w.alloc(GH * I), ap: w.alloc(direct ? 0 : w.k.packedASize(TB, I)), bp: w.alloc(direct ? 0 : w.k.packedBSize(I, GH)) };
}

/**
 * XP (T·B rows of GH) at `xp`: the caller's `a.xp` copied in, or made here from `a.input` as
 * `unroll` makes it — b_ih in every row plus X·W_ihᵀ by the same GEMM as `gemm`, or row ids[n] of P.
 */
function projectIn(w: Kernels, plan: ProjectionIn | null, a: FusedForward, xp: number, GH: number): void {
  if (!plan) {
    w.put(xp, f32(a.xp));
    return;
  }
  const TB = a.dims.T * a.dims.B;
  const input = plan.input;
  if (input.kind === "rows") {
    w.put(plan.x, f32(input.P));
    checkTokenIds(input.ids, TB, input.P.length / GH);
    for (let r = 0; r < TB; r++) w.move(xp + 4 * r * GH, plan.x + 4 * input.ids[r] * GH, GH);
    return;
  }
  const { x, I } = input;
  w.putRows(xp, f32(a.p.bih), TB);
  w.put(plan.x, f32(x), TB * I);
  w.put(plan.wih, f32(a.p.Wih), GH * I);
  w.k.sgemm(0, 1, TB, GH, I, plan.x, plan.wih, xp, 1, plan.ap, plan.bp);
}

/** The buffers of a backward call's projection gradients (`FusedBackward.input`). */
interface ProjectionOut {
  readonly grad: ProjectionGrad;
  /** dXP by time, for a reverse direction (dA comes by processing step); unused otherwise */
  readonly ordered: number;
  /** dense: X, W_ih, dW_ih, db_ih, dx, a row of ones for the column sums, packing scratch; rows: D at `x`, and the ids */
  readonly x: number;
  readonly ids: number;
  readonly wih: number;
  readonly dwih: number;
  readonly dbih: number;
  readonly dx: number;
  readonly ones: number;
  readonly ap: number;
  readonly bp: number;
}

/** Allocates the projection gradients' buffers of a call whose dXP has T·B rows of GH; null without `input`. */
function planOut(w: Kernels, a: FusedBackward, GH: number): ProjectionOut | null {
  const grad = a.input;
  if (!grad) return null;
  const k = w.k;
  const TB = a.dims.T * a.dims.B;
  const ordered = w.alloc(a.reverse ? TB * GH : 0);
  if (grad.kind === "rows") return { grad, ordered, x: w.alloc(grad.D.length), ids: w.alloc(TB), wih: 0, dwih: 0, dbih: 0, dx: 0, ones: 0, ap: 0, bp: 0 };
  const { I } = grad;
  // unroll's three GEMMs: dXPᵀ·X (GH×I over T·B), ones·dXP (1×GH over T·B), dXP·W_ih (T·B×I over GH)
  const ap = Math.max(k.packedASize(GH, TB), k.packedASize(1, TB), grad.dx ? k.packedASize(TB, GH) : 0);
  const bp = Math.max(k.packedBSize(TB, I), k.packedBSize(TB, GH), grad.dx ? k.packedBSize(GH, I) : 0);
  return {
    grad, ordered, x: w.alloc(TB * I), ids: 0, wih: w.alloc(GH * I), dwih: w.alloc(GH * I), dbih: w.alloc(GH), dx: w.alloc(grad.dx ? TB * I : 0),
    ones: w.alloc(TB), ap: w.alloc(ap), bp: w.alloc(bp),
  };
}

/**
 * From dA (T·B rows of GH, by processing step) at `dA`: without `input`, the caller's `a.dxp` by
 * time; with it, what `unroll` does with dXP — dW_ih += dXPᵀX, db_ih += Σ dXP, dx += dXP·W_ih by
 * the same GEMMs as `gemm` (dense), or D[ids[n]] += dXP[n] for n ascending (rows).
 */
function projectOut(w: Kernels, plan: ProjectionOut | null, a: FusedBackward, dA: number, GH: number): void {
  const { T, B } = a.dims;
  if (!plan) {
    scatterByTime(w, dA, f32(a.dxp), T, B * GH, a.reverse);
    return;
  }
  const k = w.k;
  const TB = T * B;
  let dxp = dA;
  if (a.reverse) {
    for (let s = 0; s < T; s++) w.move(plan.ordered + 4 * (T - 1 - s) * B * GH, dA + 4 * s * B * GH, B * GH);
    dxp = plan.ordered;
  }
  const g = plan.grad;
  if (g.kind === "rows") {
    checkTokenIds(g.ids, TB, g.D.length / GH);
    w.put(plan.x, f32(g.D));
    w.putInt32(plan.ids, g.ids.subarray(0, TB));
    k.scatterAddRows(plan.x, dxp, plan.ids, TB, GH);
    w.get(plan.x, f32(g.D));
    return;
  }
  const { x, I, dx } = g;
  w.put(plan.x, f32(x), TB * I);
  w.put(plan.wih, f32(a.p.Wih), GH * I);
  w.put(plan.dwih, f32(a.dp.Wih), GH * I);
  w.put(plan.dbih, f32(a.dp.bih), GH);
  w.fill(plan.ones, 1, TB);
  k.sgemm(1, 0, GH, I, TB, dxp, plan.x, plan.dwih, 1, plan.ap, plan.bp);
  k.sgemm(0, 0, 1, GH, TB, plan.ones, dxp, plan.dbih, 1, plan.ap, plan.bp);
  if (dx) {
    w.put(plan.dx, f32(dx), TB * I);
    k.sgemm(0, 0, TB, I, GH, dxp, plan.wih, plan.dx, 1, plan.ap, plan.bp);
    w.get(plan.dx, f32(dx), TB * I);
  }
  w.get(plan.dwih, f32(a.dp.Wih), GH * I);
  w.get(plan.dbih, f32(a.dp.bih), GH);
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
  const proj = planIn(w, a, GH);
  w.ready();
  projectIn(w, proj, a, xp, GH);
  putAll(w, [[whh, f32(a.p.Whh)], [bhh, f32(a.p.bhh)], [opi, pi && f32(pi)], [opf, pf && f32(pf)], [opo, po && f32(po)]]);
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
  const proj = planOut(w, a, GH);
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
  projectOut(w, proj, a, dA, GH);
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
  const proj = planIn(w, a, H3);
  w.ready();
  projectIn(w, proj, a, xp, H3);
  putAll(w, [[whh, f32(a.p.Whh)], [bhh, f32(a.p.bhh)]]);
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
  const proj = planOut(w, a, H3);
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
  projectOut(w, proj, a, dX, H3);
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
  const proj = planIn(w, a, H);
  w.ready();
  projectIn(w, proj, a, xp, H);
  putAll(w, [[whh, f32(a.p.Whh)], [bhh, f32(a.p.bhh)]]);
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
  const proj = planOut(w, a, H);
  w.ready();
  putAll(w, [[whh, f32(a.p.Whh)], [hs, f32(a.hs)], [dy, a.dy ? f32(a.dy) : undefined], [dh, f32(a.dh)], [dWhh, f32(a.dp.Whh)], [dbhh, f32(a.dp.bhh)]]);
  k.packB(0, H, H, whh, whhP);
  k.rnnBackward(T, B, H, +a.reverse, f, +(a.dy !== null), whhP, hs, dy, dh, dA, dhPrev, ap);
  k.sgemm(1, 0, H, H, TB, dA, hs, dWhh, 1, apW, bpW);
  k.addColumnSums(dbhh, dA, TB, H);
  w.get(dh, f32(a.dh), BH);
  w.get(dWhh, f32(a.dp.Whh));
  w.get(dbhh, f32(a.dp.bhh));
  projectOut(w, proj, a, dA, H);
}
