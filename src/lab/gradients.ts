/**
 * How far back a gradient reaches: the norm of ∂L_T/∂h_t (and, for an LSTM, ∂L_T/∂c_t) against
 * the gap T − t, for a loss L_T on the last step only (Hochreiter 1991; Bengio, Simard & Frasconi
 * 1994; Pascanu, Mikolov & Bengio 2013).
 *
 * The carry of backpropagation through time is exactly these derivatives: with dh_T = ∂L_T/∂h_T,
 *
 *   dh_{t−1} = (∂h_t/∂h_{t−1})ᵀ dh_t  (+ the path through c for an LSTM)
 *
 * so `gradientNorms` runs the forward pass with `unroll`'s forward, then the same backward loop as
 * `unrollBackward` (sequence/unroll.ts; `dy` = 0, `dhT` = ∂L_T/∂h_T), recording the (B, H) carry
 * before each step. Its last carry is `unrollBackward`'s dh0 (a test checks this). Everything runs in
 * float64, so a gradient of 10⁻¹⁰⁰ is a number, not an underflow.
 *
 * Each sequence's dh_T is scaled to norm 1, so curves start at 1; the curve is the geometric mean
 * over the B sequences (the mean of the logarithms: these norms spread over orders of magnitude).
 *
 * For an Elman RNN, ∂h_t/∂h_{t−1} = diag(f′(a_t)) W_hh, so
 *
 *   ‖dh_{t−1}‖ ≤ ‖W_hhᵀ diag(f′(a_t))‖₂ ‖dh_t‖ ≤ σ_max(W_hh) · max_j f′(a_t,j) · ‖dh_t‖
 *
 * (Pascanu et al. 2013, eq. 7). When W_hh has equal singular values (an orthogonal matrix times a
 * gain), ‖W_hhᵀ D v‖ = σ_max ‖D v‖ exactly, and the per-step factor is σ_max times a mean of f′
 * weighted by the carry: the rate is σ_max · mean f′ as long as f′ does not vary much between
 * units. For a generic W_hh (PyTorch's uniform initialisation) σ_max overstates the rate: the
 * carry settles on the leading eigen-directions, and the rate approaches ρ(W_hh) · mean f′ instead.
 * `rnnRelation` reports these side by side, and the Jacobian bound when asked for.
 */
import type { Backend } from "../backend/backend.js";
import { cellName, gateFunctions, gateOf } from "../cells/cell.js";
import type { GruCache, LstmCache } from "../cells/index.js";
import { bindRecurrent } from "../sequence/recurrent.js";
import { mirrorArena } from "../tensor/arena.js";
import { allocate, fromValues, type FloatArray } from "../tensor/dtype.js";
import { largestSingularValue, spectralRadius } from "./linalg.js";
import {
  bindSequenceModel,
  convertSequenceModel,
  sequenceForward,
  sequenceLoss,
  sequenceRecurrentConfig,
  type SequenceModel,
} from "./model.js";
import type { Target, TaskBatch } from "./tasks/task.js";

// Dimensions: T steps, B batch, H hidden, G gate blocks, O outputs.

/** Singular values and eigenvalues of one gate block of W_hh. */
export interface RecurrentWeightStats {
  /** Gate block: "h" (RNN), "i" "f" "g" "o" (LSTM), "r" "z" "n" (GRU). */
  readonly gate: string;
  /** Largest singular value σ_max. */
  readonly sigmaMax: number;
  /** Spectral radius ρ = max |λ|. */
  readonly spectralRadius: number;
  /** Root mean square singular value ‖W‖_F / √H. */
  readonly rmsSingular: number;
}

/** Saturation of one gate or activation over all steps, sequences and units. */
export interface GateStats {
  readonly gate: string;
  readonly activation: "sigmoid" | "tanh" | "relu";
  /** Mean value. */
  readonly mean: number;
  /** Fraction saturated low: sigmoid < 0.1, tanh < −0.9, relu = 0 (inactive). */
  readonly low: number;
  /** Fraction saturated high: sigmoid > 0.9, tanh > 0.9; null for relu. */
  readonly high: number | null;
  /** Mean derivative of the nonlinearity at these values (σ′ = v(1−v), tanh′ = 1−v², relu′ = [v>0]). */
  readonly meanDerivative: number;
}

/** The decay of an Elman RNN's gradient against what W_hh and f′ predict. */
export interface RnnRelation {
  /** Per-step factor fitted to the measured curve. */
  readonly measured: number;
  /** Mean f′(a) over all steps, sequences and units. */
  readonly meanDerivative: number;
  readonly sigmaMax: number;
  readonly spectralRadius: number;
  /** σ_max(W_hh) · mean f′: exact for W_hh with equal singular values and uniform f′. */
  readonly sigmaEstimate: number;
  /** ρ(W_hh) · mean f′: the asymptotic rate for uniform f′. */
  readonly radiusEstimate: number;
  /**
   * ρ(W_hhᵀ diag(d̄)) with d̄_j the mean f′ of unit j over steps and sequences: the spectral radius
   * of the mean Jacobian, which also accounts for units that stay saturated.
   */
  readonly meanJacobianEstimate: number;
  /**
   * Geometric mean over steps and sequences of ‖W_hhᵀ diag(f′(a_t))‖₂, an upper bound on the
   * measured factor; null unless requested (it costs a power iteration per step and sequence).
   */
  readonly jacobianBound: number | null;
  /** (T + 1) the bound's curve: Π of the per-step norms back to gap k (geometric mean over sequences), or null. */
  readonly boundCurve: number[] | null;
}

/** What `gradientNorms` measures. */
export interface GradientNorms {
  readonly cell: string;
  /** Steps of the sequence. */
  readonly T: number;
  readonly H: number;
  /** Sequences averaged over. */
  readonly B: number;
  /** Gaps 0 … T: entry k is about the state h_{T−k} (k = T: the initial state). */
  readonly gaps: number[];
  /** ‖∂L_T/∂h_{T−k}‖ / ‖∂L_T/∂h_T‖, geometric mean over sequences. */
  readonly dh: number[];
  /** LSTM: ‖∂L_T/∂c_{T−k}‖ / ‖∂L_T/∂h_T‖ (the total derivative, through h_{T−k} too); else null. */
  readonly dc: number[] | null;
  /** Per-step factors exp(slope) of least-squares lines through log dh (and log dc). */
  readonly rate: { readonly dh: number; readonly dc: number | null };
  readonly weights: RecurrentWeightStats[];
  readonly gates: GateStats[];
  /** Elman RNNs only. */
  readonly rnn: RnnRelation | null;
}

/** Options of `gradientNorms`. */
export interface GradientNormOptions {
  /** Compute the RNN's Jacobian bound (`RnnRelation.jacobianBound`); default false. */
  readonly jacobianBound?: boolean;
}

/** The gate blocks of a cell's W_hh, in row order. */
export function gateNames(model: SequenceModel): string[] {
  const c = model.config.cell;
  if (c.kind === "rnn") return ["h"];
  if (c.kind === "gru") return ["r", "z", "n"];
  return c.coupled ? ["f", "g", "o"] : ["i", "f", "g", "o"];
}

/** σ_max, ρ and rms σ of each gate block of the first layer's W_hh. */
export function recurrentWeightStats(model: SequenceModel): RecurrentWeightStats[] {
  const H = model.config.hiddenSize;
  const Whh = bindSequenceModel(model.config, model.params).rnn.dirs[0].Whh;
  return gateNames(model).map((gate, q) => {
    const W = Float64Array.from(Whh.subarray(q * H * H, (q + 1) * H * H));
    let ss = 0;
    for (const w of W) ss += w * w;
    return { gate, sigmaMax: largestSingularValue(W, H), spectralRadius: spectralRadius(W, H), rmsSingular: Math.sqrt(ss / H) };
  });
}

/** Slope-fitted per-step factor: exp of the least-squares slope of log y against k (y > 0 only). */
export function fitRate(y: readonly number[]): number {
  let n = 0;
  let sk = 0;
  let sl = 0;
  let skk = 0;
  let skl = 0;
  y.forEach((v, k) => {
    if (!(v > 0) || !Number.isFinite(v)) return;
    const l = Math.log(v);
    n++;
    sk += k;
    sl += l;
    skk += k * k;
    skl += k * l;
  });
  if (n < 2) return NaN;
  return Math.exp((n * skl - sk * sl) / (n * skk - sk * sk));
}

/** Geometric mean of a list (0 if any is 0). */
function geometricMean(v: readonly number[]): number {
  let s = 0;
  for (const x of v) s += Math.log(x);
  return Math.exp(s / v.length);
}

/** The target of `batch` kept on its last step only: L_T. */
function lastStepTarget(batch: TaskBatch): Target {
  const { T, B, target } = batch;
  switch (target.kind) {
    case "mse-last":
      return target;
    case "xent": {
      const y = new Int32Array(T * B).fill(-1);
      y.set(target.y.subarray((T - 1) * B), (T - 1) * B);
      for (let b = 0; b < B; b++) {
        if (y[(T - 1) * B + b] < 0) throw new Error("gradient norms need a target on the last step of every sequence");
      }
      return { kind: "xent", y };
    }
    case "bce": {
      const mask = new Uint8Array(T * B);
      for (let b = 0; b < B; b++) {
        if (!target.mask[(T - 1) * B + b]) {
          throw new Error("gradient norms need a target on the last step of every sequence; use a fixed-length task (adding, copy, temporal-order)");
        }
        mask[(T - 1) * B + b] = 1;
      }
      return { kind: "bce", y: target.y, mask };
    }
  }
}

/** Norms of the B rows of a (B, H) matrix. */
function rowNorms(m: FloatArray, B: number, H: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let j = 0; j < H; j++) s += m[b * H + j] * m[b * H + j];
    out.push(Math.sqrt(s));
  }
  return out;
}

/**
 * Measures ‖∂L_T/∂h_t‖ (and ‖∂L_T/∂c_t‖) against the gap for `model` (one layer) on `batch`, with
 * L_T the task's loss on the last step; plus W_hh's spectra and the gates' saturation.
 */
export function gradientNorms(backend: Backend, model: SequenceModel, batch: TaskBatch, opts: GradientNormOptions = {}): GradientNorms {
  if ((model.config.numLayers ?? 1) !== 1) throw new Error("gradient norms are measured on one-layer models (numLayers 1)");
  const m = convertSequenceModel(model, "float64");
  const c = m.config;
  const { T, B } = batch;
  const H = c.hiddenSize;
  const O = c.outputSize;
  const x = fromValues("float64", batch.x);
  const pass = sequenceForward(backend, m, x, T, B);
  const run = pass.rnn.runs[0];
  const v = bindSequenceModel(c, m.params);
  const p = v.rnn.dirs[0];
  const cell = v.rnn.cell;
  const G = cell.G;
  const BH = B * H;

  // dh_T = ∂L_T/∂h_T = dL/dz_T · W_head, each row scaled to norm 1
  const dout = allocate("float64", T * B * O);
  sequenceLoss(m, pass, lastStepTarget(batch), dout);
  let dh = allocate("float64", BH);
  backend.gemm(false, false, B, H, O, dout.subarray((T - 1) * B * O), v.W, dh, false);
  const norms0 = rowNorms(dh, B, H);
  const keep: number[] = [];
  for (let b = 0; b < B; b++) {
    if (norms0[b] > 0) keep.push(b);
    for (let j = 0; j < H; j++) dh[b * H + j] /= norms0[b] > 0 ? norms0[b] : 1;
  }
  if (keep.length === 0) throw new Error("the loss on the last step has zero gradient for every sequence: nothing to measure");

  // The backward loop of unrollBackward (dy = 0), recording the carries.
  const dp = bindRecurrent(sequenceRecurrentConfig(c), mirrorArena(m.params), `${c.cell.kind}.`).dirs[0];
  const dxp = allocate("float64", B * G * H);
  let dhPrev = allocate("float64", BH);
  let dc = allocate("float64", cell.hasC ? BH : 0);
  let dcPrev = allocate("float64", cell.hasC ? BH : 0);
  const { hs, cs } = run;
  const logH: number[][] = [];
  const logC: number[][] = [];
  const record = (j: number) => {
    // j: index of the state hs[j] whose gradient dh (and dc) now holds
    const nh = rowNorms(dh, B, H);
    logH.push(keep.map((b) => nh[b]));
    if (cell.hasC) logC.push(keep.map((b) => lstmTotalDc(j)[b]));
  };
  /** ‖∂L/∂c_j‖ per sequence: the carry plus the path c_j → h_j = o ⊙ tanh(c_j) (and → o via p_o). */
  const lstmTotalDc = (j: number): number[] => {
    if (j === 0) return rowNorms(dc, B, H); // c_0 is an input: no path through h_0
    const cache = run.cell as LstmCache;
    const O4 = G * H;
    const oBlock = G - 1; // o is the last gate block (i f g o, or f g o)
    const po = p.extra.po;
    const dgate = gateFunctions(gateOf(c.cell)).back;
    const total = allocate("float64", BH);
    for (let b = 0; b < B; b++) {
      for (let u = 0; u < H; u++) {
        const o = cache.gates[(j - 1) * B * O4 + b * O4 + oBlock * H + u];
        const t = cache.tc[(j - 1) * BH + b * H + u];
        let d = dc[b * H + u] + dh[b * H + u] * o * (1 - t * t);
        if (po) d += dgate(dh[b * H + u] * t, o) * po[u];
        total[b * H + u] = d;
      }
    }
    return rowNorms(total, B, H);
  };
  record(T);
  for (let k = T - 1; k >= 0; k--) {
    cell.backward({
      backend,
      p,
      dp,
      dims: { T, B, H },
      k,
      hPrev: hs.subarray(k * BH, (k + 1) * BH),
      h: hs.subarray((k + 1) * BH, (k + 2) * BH),
      cPrev: cell.hasC ? cs.subarray(k * BH, (k + 1) * BH) : cs,
      c: cell.hasC ? cs.subarray((k + 1) * BH, (k + 2) * BH) : cs,
      dh,
      dc,
      dxp,
      dhPrev,
      dcPrev,
      cache: run.cell,
    });
    [dh, dhPrev] = [dhPrev, dh];
    [dc, dcPrev] = [dcPrev, dc];
    record(k);
  }
  const dhCurve = logH.map(geometricMean);
  const dcCurve = cell.hasC ? logC.map(geometricMean) : null;
  const weights = recurrentWeightStats(m);
  const gates = gateStats(m, run.cell, hs, T, B);
  const name = cellName(c.cell);
  let rnn: RnnRelation | null = null;
  if (c.cell.kind === "rnn") {
    const meanDerivative = gates[0].meanDerivative;
    const { sigmaMax, spectralRadius: rho } = weights[0];
    const bound = opts.jacobianBound ? jacobianBound(p.Whh, hs, c.cell.nonlinearity, T, B, H, keep) : null;
    rnn = {
      measured: fitRate(dhCurve),
      meanDerivative,
      sigmaMax,
      spectralRadius: rho,
      sigmaEstimate: sigmaMax * meanDerivative,
      radiusEstimate: rho * meanDerivative,
      meanJacobianEstimate: meanJacobianRadius(p.Whh, hs, c.cell.nonlinearity, T, B, H),
      jacobianBound: bound ? bound.factor : null,
      boundCurve: bound ? bound.curve : null,
    };
  }
  return {
    cell: name,
    T,
    H,
    B: keep.length,
    gaps: dhCurve.map((_, k) => k),
    dh: dhCurve,
    dc: dcCurve,
    rate: { dh: fitRate(dhCurve), dc: dcCurve ? fitRate(dcCurve) : null },
    weights,
    gates,
    rnn,
  };
}

/** f′ in terms of the output v = f(a). */
function derivative(f: "tanh" | "sigmoid" | "relu", v: number): number {
  return f === "tanh" ? 1 - v * v : f === "sigmoid" ? v * (1 - v) : v > 0 ? 1 : 0;
}

/** Saturation statistics of `n` values read by `at(i)`. */
function stats(gate: string, activation: GateStats["activation"], n: number, at: (i: number) => number): GateStats {
  let sum = 0;
  let low = 0;
  let high = 0;
  let dsum = 0;
  for (let i = 0; i < n; i++) {
    const v = at(i);
    sum += v;
    dsum += derivative(activation, v);
    if (activation === "sigmoid") {
      if (v < 0.1) low++;
      else if (v > 0.9) high++;
    } else if (activation === "tanh") {
      if (v < -0.9) low++;
      else if (v > 0.9) high++;
    } else if (v <= 0) low++;
  }
  return { gate, activation, mean: sum / n, low: low / n, high: activation === "relu" ? null : high / n, meanDerivative: dsum / n };
}

/** Gate statistics from the forward caches (all steps, sequences, units). */
function gateStats(m: SequenceModel, cache: unknown, hs: FloatArray, T: number, B: number): GateStats[] {
  const c = m.config.cell;
  const H = m.config.hiddenSize;
  const n = T * B * H;
  if (c.kind === "rnn") return [stats("h", c.nonlinearity, n, (i) => hs[B * H + i])];
  const names = gateNames(m);
  const G = names.length;
  const gates = (cache as LstmCache | GruCache).gates; // (T, B, G·H) after the nonlinearities
  const block = (q: number) => (i: number) => gates[Math.floor(i / H) * G * H + q * H + (i % H)];
  const out = names.map((g, q) => stats(g, g === "g" || g === "n" ? "tanh" : "sigmoid", n, block(q)));
  if (c.kind === "lstm") {
    const tc = (cache as LstmCache).tc;
    out.push(stats("tanh(c)", "tanh", n, (i) => tc[i]));
  }
  return out;
}

/**
 * The Jacobian bound of an Elman RNN: per step t and sequence b, ‖W_hhᵀ diag(f′(a_t))‖₂ (power
 * iteration), multiplied back from the last step; the geometric mean over sequences of the
 * product to gap k bounds the measured curve at every k, and the mean log-norm per step is the
 * bound on the rate.
 */
function jacobianBound(
  Whh: FloatArray,
  hs: FloatArray,
  f: "tanh" | "sigmoid" | "relu",
  T: number,
  B: number,
  H: number,
  keep: readonly number[],
): { factor: number; curve: number[] } {
  // ‖Wᵀ D‖₂ = σ_max(Wᵀ D): pass Wᵀ to largestSingularValue, which scales columns by d
  const Wt = new Float64Array(H * H);
  for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) Wt[j * H + i] = Whh[i * H + j];
  const logs = keep.map(() => 0);
  const curve = [1];
  let total = 0;
  for (let t = T; t >= 1; t--) {
    // the step that produced hs[t] has derivative f′ at hs[t]
    keep.forEach((b, i) => {
      const d = new Float64Array(H);
      for (let j = 0; j < H; j++) d[j] = derivative(f, hs[t * B * H + b * H + j]);
      const l = Math.log(largestSingularValue(Wt, H, d, 1e-9));
      logs[i] += l;
      total += l;
    });
    curve.push(Math.exp(logs.reduce((a, b) => a + b, 0) / keep.length));
  }
  return { factor: Math.exp(total / (T * keep.length)), curve };
}

/** ρ(W_hhᵀ diag(d̄)) = ρ(W_hh diag(d̄)), d̄_j = mean over steps and sequences of f′ of unit j. */
function meanJacobianRadius(Whh: FloatArray, hs: FloatArray, f: "tanh" | "sigmoid" | "relu", T: number, B: number, H: number): number {
  const d = new Float64Array(H);
  for (let i = B * H; i < (T + 1) * B * H; i++) d[i % H] += derivative(f, hs[i]) / (T * B);
  const M = new Float64Array(H * H);
  for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) M[i * H + j] = Whh[i * H + j] * d[j];
  return spectralRadius(M, H);
}
