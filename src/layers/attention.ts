/**
 * Global attention of a sequence-to-sequence decoder (Luong, Pham & Manning 2015, "Effective
 * Approaches to Attention-based Neural Machine Translation", §3.1), applied to the decoder's
 * output q_t at each step, without input feeding. Everything is time-major and masked by the
 * source lengths: steps s ≥ srcLen[b] are padding.
 *
 * Scores e[t,b,s] of the decoder output q_t against the encoder outputs ("memory") k_s:
 *
 *   dot:       e = q_t · k_s
 *   general:   e = q_t · (Wa k_s)                         Wa (H, H)
 *   additive:  e = v · tanh(Wq q_t + Wk k_s)               Wq, Wk (A, H), v (A)   (Bahdanau et al. 2015)
 *
 *   a[t,b,s]  = exp(e[t,b,s]) / Σ_{s'<srcLen[b]} exp(e[t,b,s'])  for s < srcLen[b];  0 otherwise
 *   ctx[t,b]  = Σ_s a[t,b,s] k_s                           (H)
 *   out[t,b]  = tanh(Wc [ctx; q_t] + bc)                   Wc (H, 2H), bc (H)   Luong's h̃_t
 *
 * The key projections (Wa k_s or Wk k_s) depend only on the memory, so `attentionMemory` computes
 * them once per source; a step-by-step decoder then calls `attentionForward` with Tq = 1.
 *
 * Backward (for one (t, b); the masked s never take part):
 *
 *   dpre      = dout ⊙ (1 − out²);   [dctx; dq] = dpreᵀ Wc;  dWc += dpreᵀ [ctx; q];  dbc += dpre
 *   da_s      = dctx · k_s;          dk_s += a_s dctx
 *   de_s      = a_s (da_s − Σ_s' a_s' da_s')                                  (softmax Jacobian)
 *   dot:      dq += Σ_s de_s k_s;     dk_s += Σ_t de_s q_t
 *   general:  dq += Σ_s de_s (Wa k_s); d(Wa k_s) += Σ_t de_s q_t;  then dWa += d(Wa k)ᵀ k, dk += d(Wa k) Wa
 *   additive: u = tanh(Wq q_t + Wk k_s);  dv += Σ de_s u;  dz = de_s v ⊙ (1 − u²);
 *             d(Wq q_t) += Σ_s dz;  d(Wk k_s) += Σ_t dz;  then the two linear maps' backward
 *
 * The memory keeps its own copy of k with the padded rows set to zero, so whatever the padding
 * holds (even NaN) reaches no output and no gradient, and dk is exactly 0 there.
 */
import type { Backend } from "../backend/backend.js";
import type { Arena, TensorSpec } from "../tensor/arena.js";
import { view } from "../tensor/arena.js";
import { allocate, dtypeOf, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { linearBackward, linearForward } from "./linear.js";

// Dimensions: Tq decoder steps, Ts source steps, B sequences, H hidden size (of both q and k),
// A attention size (additive score only), P width of the projected keys (H general, A additive).

/** The score function of global attention. */
export type AttentionScore = "dot" | "general" | "additive";

/** Configuration of an attention layer. */
export interface AttentionConfig {
  readonly score: AttentionScore;
  /** H: the size of the decoder outputs q_t and of the encoder outputs k_s */
  readonly hiddenSize: number;
  /** A: the size of the additive score's hidden layer (ignored by dot and general) */
  readonly attentionSize: number;
}

function positiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`attention: ${what} must be a positive integer, got ${v}`);
}

/** Throws unless `c` is a valid attention configuration. */
export function checkAttentionConfig(c: AttentionConfig): void {
  if (c.score !== "dot" && c.score !== "general" && c.score !== "additive") {
    throw new Error(`attention: unknown score "${String(c.score)}"; choose dot, general or additive`);
  }
  positiveInt(c.hiddenSize, "hiddenSize");
  if (c.score === "additive") positiveInt(c.attentionSize, "attentionSize (needed by the additive score)");
}

/** The parameter specs (PyTorch-style names under `prefix`). */
export function attentionSpecs(c: AttentionConfig, prefix = "attention."): TensorSpec[] {
  checkAttentionConfig(c);
  const H = c.hiddenSize;
  const A = c.attentionSize;
  const specs: TensorSpec[] = [];
  if (c.score === "general") specs.push({ name: `${prefix}weight`, shape: [H, H] });
  if (c.score === "additive") {
    specs.push({ name: `${prefix}query.weight`, shape: [A, H] });
    specs.push({ name: `${prefix}key.weight`, shape: [A, H] });
    specs.push({ name: `${prefix}v`, shape: [A] });
  }
  specs.push({ name: `${prefix}combine.weight`, shape: [H, 2 * H] });
  specs.push({ name: `${prefix}combine.bias`, shape: [H] });
  return specs;
}

/** Views of the attention parameters (or of their gradients); null where the score has none. */
export interface AttentionParams {
  /** (H, H) general score */
  readonly Wa: FloatArray | null;
  /** (A, H) additive score, query side */
  readonly Wq: FloatArray | null;
  /** (A, H) additive score, key side */
  readonly Wk: FloatArray | null;
  /** (A) additive score */
  readonly v: FloatArray | null;
  /** (H, 2H) combine layer, acting on [ctx; q] */
  readonly Wc: FloatArray;
  /** (H) */
  readonly bc: FloatArray;
}

/** Binds live views of the parameters in `arena` (a parameter arena or a gradient mirror of it). */
export function bindAttention(c: AttentionConfig, arena: Arena, prefix = "attention."): AttentionParams {
  const specs = attentionSpecs(c, prefix);
  const get = (name: string): FloatArray => {
    const spec = specs.find((s) => s.name === name)!;
    const x = view(arena, name);
    const n = spec.shape.reduce((p, d) => p * d, 1);
    if (x.length !== n) {
      throw new Error(`attention: tensor "${name}" has ${x.length} values but the config needs (${spec.shape.join(", ")}); build the arena from attentionSpecs with the same config`);
    }
    return x;
  };
  return {
    Wa: c.score === "general" ? get(`${prefix}weight`) : null,
    Wq: c.score === "additive" ? get(`${prefix}query.weight`) : null,
    Wk: c.score === "additive" ? get(`${prefix}key.weight`) : null,
    v: c.score === "additive" ? get(`${prefix}v`) : null,
    Wc: get(`${prefix}combine.weight`),
    bc: get(`${prefix}combine.bias`),
  };
}

function need(x: FloatArray | null, name: string, c: AttentionConfig): FloatArray {
  if (!x) throw new Error(`attention: the ${c.score} score needs parameter ${name}; bind the parameters with bindAttention and the same config`);
  return x;
}

/**
 * PyTorch nn.Linear-style initialisation, drawing in this order: Wa ~ U(±1/√H) (general);
 * Wq, Wk ~ U(±1/√H), v ~ U(±1/√A) (additive); Wc, bc ~ U(±1/√(2H)).
 */
export function initAttention(c: AttentionConfig, p: AttentionParams, rng: Rng): void {
  checkAttentionConfig(c);
  const fill = (w: FloatArray, fanIn: number) => {
    const r = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < w.length; i++) w[i] = rng.range(-r, r);
  };
  const H = c.hiddenSize;
  if (c.score === "general") fill(need(p.Wa, "Wa", c), H);
  if (c.score === "additive") {
    fill(need(p.Wq, "Wq", c), H);
    fill(need(p.Wk, "Wk", c), H);
    fill(need(p.v, "v", c), c.attentionSize);
  }
  fill(p.Wc, 2 * H);
  fill(p.bc, 2 * H);
}

/** Precomputation that depends only on the memory (for decoding step by step: computed once per source). */
export interface AttentionMemory {
  readonly Ts: number;
  readonly B: number;
  /** (Ts, B, H) the encoder outputs, a copy with the padded rows s ≥ srcLen[b] set to 0 */
  readonly k: FloatArray;
  /** (B) source lengths, 1 ≤ srcLen[b] ≤ Ts */
  readonly srcLen: Int32Array;
  /** (Ts, B, P) projected keys: Wa k_s (P = H) for general, Wk k_s (P = A) for additive; null for dot */
  readonly kp: FloatArray | null;
}

function checkParams(c: AttentionConfig, p: AttentionParams, what: string): void {
  const H = c.hiddenSize;
  const A = c.attentionSize;
  const sizes: [string, FloatArray | null, number][] = [
    ["Wc", p.Wc, 2 * H * H],
    ["bc", p.bc, H],
  ];
  if (c.score === "general") sizes.push(["Wa", need(p.Wa, "Wa", c), H * H]);
  if (c.score === "additive") sizes.push(["Wq", need(p.Wq, "Wq", c), A * H], ["Wk", need(p.Wk, "Wk", c), A * H], ["v", need(p.v, "v", c), A]);
  for (const [name, x, n] of sizes) {
    if (x!.length !== n) throw new Error(`attention: ${what} ${name} has ${x!.length} values, expected ${n} for H = ${H}${c.score === "additive" ? `, A = ${A}` : ""}`);
  }
}

/**
 * Copies k (Ts, B, H) with padding zeroed and projects it for the score. Throws on sizes that do
 * not match or a length outside [1, Ts].
 */
export function attentionMemory(backend: Backend, c: AttentionConfig, p: AttentionParams, k: FloatArray, Ts: number, B: number, srcLen: Int32Array): AttentionMemory {
  checkAttentionConfig(c);
  checkParams(c, p, "parameter");
  positiveInt(Ts, "Ts (source steps)");
  positiveInt(B, "B (batch size)");
  const H = c.hiddenSize;
  if (k.length !== Ts * B * H) throw new Error(`attention: memory k has ${k.length} values, expected Ts·B·H = ${Ts}·${B}·${H} = ${Ts * B * H} (time-major encoder outputs)`);
  if (dtypeOf(k) !== dtypeOf(p.Wc)) throw new Error(`attention: memory k is ${dtypeOf(k)} but the parameters are ${dtypeOf(p.Wc)}; use one dtype`);
  if (srcLen.length !== B) throw new Error(`attention: srcLen has ${srcLen.length} entries, expected one per sequence (B = ${B})`);
  for (let b = 0; b < B; b++) {
    const n = srcLen[b];
    if (!(n >= 1 && n <= Ts)) throw new Error(`attention: srcLen[${b}] = ${n} is out of range; every source length must be in [1, Ts = ${Ts}]`);
  }
  /** (Ts, B, H) */
  const km = allocate(dtypeOf(k), Ts * B * H);
  for (let s = 0; s < Ts; s++) {
    for (let b = 0; b < B; b++) {
      if (s < srcLen[b]) km.set(k.subarray((s * B + b) * H, (s * B + b + 1) * H), (s * B + b) * H);
    }
  }
  let kp: FloatArray | null = null;
  const N = Ts * B;
  if (c.score === "general") {
    kp = allocate(dtypeOf(k), N * H);
    backend.gemm(false, true, N, H, H, km, p.Wa!, kp, false); // (N, H) = k Waᵀ
  } else if (c.score === "additive") {
    const A = c.attentionSize;
    kp = allocate(dtypeOf(k), N * A);
    backend.gemm(false, true, N, A, H, km, p.Wk!, kp, false); // (N, A) = k Wkᵀ
  }
  return { Ts, B, k: km, srcLen: Int32Array.from(srcLen), kp };
}

/** Repeats each batch row b `times` times consecutively: row b·times + j of the result is row b. */
export function repeatMemory(mem: AttentionMemory, times: number): AttentionMemory {
  positiveInt(times, "repeatMemory times");
  const { Ts, B } = mem;
  const B2 = B * times;
  const rep = (x: FloatArray): FloatArray => {
    const W = x.length / (Ts * B);
    const y = allocate(dtypeOf(x), Ts * B2 * W);
    for (let s = 0; s < Ts; s++) {
      for (let b = 0; b < B; b++) {
        const row = x.subarray((s * B + b) * W, (s * B + b + 1) * W);
        for (let j = 0; j < times; j++) y.set(row, (s * B2 + b * times + j) * W);
      }
    }
    return y;
  };
  const srcLen = new Int32Array(B2);
  for (let b = 0; b < B; b++) srcLen.fill(mem.srcLen[b], b * times, (b + 1) * times);
  return { Ts, B: B2, k: rep(mem.k), srcLen, kp: mem.kp ? rep(mem.kp) : null };
}

/** The forward pass: its outputs and the cache `attentionBackward` reads. */
export interface AttentionPass {
  readonly Tq: number;
  readonly Ts: number;
  readonly B: number;
  /** (Tq, B, H) h̃_t = tanh(Wc [ctx; q_t] + bc) */
  readonly out: FloatArray;
  /** (B, Tq, Ts) weights, row-stochastic over s < srcLen[b], exactly 0 beyond */
  readonly weights: FloatArray;
  /** (Tq, B, 2H) [ctx; q], the combine layer's input */
  readonly cat: FloatArray;
  /** (Tq, B, A) Wq q_t for the additive score; null otherwise */
  readonly qp: FloatArray | null;
}

/** The attention of decoder outputs q (Tq, B, H) over the memory. */
export function attentionForward(backend: Backend, c: AttentionConfig, p: AttentionParams, mem: AttentionMemory, q: FloatArray, Tq: number): AttentionPass {
  checkAttentionConfig(c);
  checkParams(c, p, "parameter");
  positiveInt(Tq, "Tq (decoder steps)");
  const { Ts, B, k, kp, srcLen } = mem;
  const H = c.hiddenSize;
  const A = c.attentionSize;
  if (k.length !== Ts * B * H) throw new Error(`attention: the memory holds ${k.length / (Ts * B)} features per step but hiddenSize is ${H}; build it with attentionMemory and the same config`);
  if (c.score !== "dot" && !kp) throw new Error(`attention: the ${c.score} score needs projected keys in the memory; build it with attentionMemory and the same config`);
  if (q.length !== Tq * B * H) throw new Error(`attention: q has ${q.length} values, expected Tq·B·H = ${Tq}·${B}·${H} = ${Tq * B * H} (B must match the memory's batch)`);
  if (dtypeOf(q) !== dtypeOf(k)) throw new Error(`attention: q is ${dtypeOf(q)} but the memory is ${dtypeOf(k)}; use one dtype`);
  const dtype = dtypeOf(q);
  const N = Tq * B;
  let qp: FloatArray | null = null;
  if (c.score === "additive") {
    qp = allocate(dtype, N * A);
    backend.gemm(false, true, N, A, H, q, p.Wq!, qp, false); // (N, A) = q Wqᵀ
  }
  /** (B, Tq, Ts) */
  const weights = allocate(dtype, B * Tq * Ts);
  /** (N, 2H) */
  const cat = allocate(dtype, N * 2 * H);
  /** (Ts) scores, then exponentials, in float64 */
  const e = new Float64Array(Ts);
  const ctx = new Float64Array(H);
  const v = p.v;
  for (let t = 0; t < Tq; t++) {
    for (let b = 0; b < B; b++) {
      const L = srcLen[b];
      const qo = (t * B + b) * H;
      for (let s = 0; s < L; s++) {
        const r = s * B + b;
        let x = 0;
        if (c.score === "dot") {
          for (let h = 0; h < H; h++) x += q[qo + h] * k[r * H + h];
        } else if (c.score === "general") {
          for (let h = 0; h < H; h++) x += q[qo + h] * kp![r * H + h];
        } else {
          const qa = (t * B + b) * A;
          for (let j = 0; j < A; j++) x += v![j] * Math.tanh(qp![qa + j] + kp![r * A + j]);
        }
        e[s] = x;
      }
      let m = -Infinity;
      for (let s = 0; s < L; s++) m = Math.max(m, e[s]);
      let sum = 0;
      for (let s = 0; s < L; s++) sum += e[s] = Math.exp(e[s] - m);
      const wo = (b * Tq + t) * Ts;
      ctx.fill(0);
      for (let s = 0; s < L; s++) {
        const a = e[s] / sum;
        weights[wo + s] = a;
        const ko = (s * B + b) * H;
        for (let h = 0; h < H; h++) ctx[h] += a * k[ko + h];
      }
      const co = (t * B + b) * 2 * H;
      for (let h = 0; h < H; h++) {
        cat[co + h] = ctx[h];
        cat[co + H + h] = q[qo + h];
      }
    }
  }
  /** (N, H) */
  const out = allocate(dtype, N * H);
  linearForward(backend, p.Wc, p.bc, cat, N, 2 * H, H, out);
  for (let i = 0; i < out.length; i++) out[i] = Math.tanh(out[i]);
  return { Tq, Ts, B, out, weights, cat, qp };
}

/** Adds parameter gradients into g; returns dq (Tq,B,H) and dk (Ts,B,H) (dk includes the path through the precomputed memory). */
export function attentionBackward(
  backend: Backend,
  c: AttentionConfig,
  p: AttentionParams,
  g: AttentionParams,
  mem: AttentionMemory,
  q: FloatArray,
  pass: AttentionPass,
  dout: FloatArray,
): { dq: FloatArray; dk: FloatArray } {
  checkAttentionConfig(c);
  checkParams(c, p, "parameter");
  checkParams(c, g, "gradient");
  const { Tq, Ts, B, out, weights, cat, qp } = pass;
  const H = c.hiddenSize;
  const A = c.attentionSize;
  if (mem.Ts !== Ts || mem.B !== B) throw new Error(`attention: the pass was made on a memory of (Ts, B) = (${Ts}, ${B}) but this memory is (${mem.Ts}, ${mem.B}); pass the same memory`);
  if (q.length !== Tq * B * H) throw new Error(`attention: q has ${q.length} values, expected Tq·B·H = ${Tq * B * H}; pass the q given to attentionForward`);
  if (dout.length !== Tq * B * H) throw new Error(`attention: dout has ${dout.length} values, expected Tq·B·H = ${Tq}·${B}·${H} = ${Tq * B * H}`);
  const { k, kp, srcLen } = mem;
  const dtype = dtypeOf(q);
  const N = Tq * B;

  // through the combine layer: dpre = dout ⊙ tanh′
  /** (N, H) */
  const dpre = allocate(dtype, N * H);
  for (let i = 0; i < dpre.length; i++) dpre[i] = dout[i] * (1 - out[i] * out[i]);
  /** (N, 2H) [dctx; dq] */
  const dcat = allocate(dtype, N * 2 * H);
  linearBackward(backend, p.Wc, cat, dpre, N, 2 * H, H, g.Wc, g.bc, dcat);

  /** (Tq, B, H) */
  const dq = allocate(dtype, N * H);
  /** (Ts, B, H) */
  const dk = allocate(dtype, Ts * B * H);
  /** (Ts, B, P) gradient of the projected keys */
  const dkp = kp ? allocate(dtype, kp.length) : null;
  /** (N, A) gradient of Wq q */
  const dqp = c.score === "additive" ? allocate(dtype, N * A) : null;
  const da = new Float64Array(Ts);
  const u = new Float64Array(A);
  const v = p.v;
  const dv = g.v;
  for (let t = 0; t < Tq; t++) {
    for (let b = 0; b < B; b++) {
      const L = srcLen[b];
      const qo = (t * B + b) * H;
      const co = (t * B + b) * 2 * H;
      const wo = (b * Tq + t) * Ts;
      for (let h = 0; h < H; h++) dq[qo + h] = dcat[co + H + h]; // q's direct path into the combine
      // ctx = Σ a_s k_s: da_s = dctx · k_s, dk_s += a_s dctx
      let adot = 0;
      for (let s = 0; s < L; s++) {
        const ko = (s * B + b) * H;
        const a = weights[wo + s];
        let x = 0;
        for (let h = 0; h < H; h++) {
          x += dcat[co + h] * k[ko + h];
          dk[ko + h] += a * dcat[co + h];
        }
        da[s] = x;
        adot += a * x;
      }
      for (let s = 0; s < L; s++) {
        const de = weights[wo + s] * (da[s] - adot); // softmax Jacobian
        const r = s * B + b;
        if (c.score === "dot") {
          for (let h = 0; h < H; h++) {
            dq[qo + h] += de * k[r * H + h];
            dk[r * H + h] += de * q[qo + h];
          }
        } else if (c.score === "general") {
          for (let h = 0; h < H; h++) {
            dq[qo + h] += de * kp![r * H + h];
            dkp![r * H + h] += de * q[qo + h];
          }
        } else {
          const qa = (t * B + b) * A;
          for (let j = 0; j < A; j++) u[j] = Math.tanh(qp![qa + j] + kp![r * A + j]); // recomputed, as in forward
          for (let j = 0; j < A; j++) {
            dv![j] += de * u[j];
            const dz = de * v![j] * (1 - u[j] * u[j]);
            dqp![qa + j] += dz;
            dkp![r * A + j] += dz;
          }
        }
      }
    }
  }
  const M = Ts * B;
  if (c.score === "general") {
    // kp = k Waᵀ: dWa += dkpᵀ k, dk += dkp Wa (padded rows of dkp and k are zero)
    backend.gemm(true, false, H, H, M, dkp!, k, g.Wa!, true);
    backend.gemm(false, false, M, H, H, dkp!, p.Wa!, dk, true);
  } else if (c.score === "additive") {
    // qp = q Wqᵀ, kp = k Wkᵀ
    backend.gemm(true, false, A, H, N, dqp!, q, g.Wq!, true);
    backend.gemm(false, false, N, H, A, dqp!, p.Wq!, dq, true);
    backend.gemm(true, false, A, H, M, dkp!, k, g.Wk!, true);
    backend.gemm(false, false, M, H, A, dkp!, p.Wk!, dk, true);
  }
  return { dq, dk };
}
