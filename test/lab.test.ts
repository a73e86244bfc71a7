/**
 * The long-term dependency lab (src/lab): task generators and their baselines, the sequence
 * model's gradients (finite differences), the gradient-norm measurement against `unrollBackward`
 * and finite differences, the decay-rate relation of the tanh RNN, the linear algebra behind it,
 * a short training run, and the report. Everything small: the big measurements (adding at
 * T = 100, copy at T = 50) are run by hand with `unroll task` (see the task's report).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { jsBackend } from "../src/backend/js/index.js";
import { parseCell, type LstmCache } from "../src/cells/index.js";
import { gradientsCommand, labCommand, taskCommand } from "../src/cli/lab.js";
import { gradientNorms } from "../src/lab/gradients.js";
import { largestSingularValue, spectralRadius } from "../src/lab/linalg.js";
import {
  bindSequenceModel,
  createSequenceGradients,
  createSequenceModel,
  initSequenceModel,
  sequenceBackward,
  sequenceForward,
  sequenceLoss,
  type SequenceModel,
} from "../src/lab/model.js";
import { labReportHtml } from "../src/lab/report.js";
import { labGrid } from "../src/lab/study.js";
import { addingTask, copyTask, embeddedReberString, REBER_SYMBOLS, reberTask, temporalOrderTask, type TaskBatch } from "../src/lab/tasks/index.js";
import { createTaskModel, trainOnTask } from "../src/lab/train.js";
import { unrollBackward, unrollForward } from "../src/sequence/unroll.js";
import { Rng } from "../src/tensor/random.js";
import { failures, gradcheck } from "./helpers/gradcheck.js";

// Dimensions: T steps, B batch, H hidden, O outputs.

describe("tasks", () => {
  it("adding: two markers, one per half, the target their sum; answering 1 scores ≈ 1/6", () => {
    const T = 12;
    const B = 4000;
    const b = addingTask.sample(Rng.seeded(1), T, B, "float64");
    if (b.target.kind !== "mse-last") throw new Error("kind");
    let se = 0;
    for (let s = 0; s < B; s++) {
      const marks: number[] = [];
      let sum = 0;
      for (let t = 0; t < T; t++) {
        const u = b.x[(t * B + s) * 2];
        expect(u >= 0 && u < 1).toBe(true);
        if (b.x[(t * B + s) * 2 + 1] === 1) {
          marks.push(t);
          sum += u;
        }
      }
      expect(marks.length).toBe(2);
      expect(marks[0]).toBeLessThan(T / 2);
      expect(marks[1]).toBeGreaterThanOrEqual(T / 2);
      expect(b.target.y[s]).toBeCloseTo(sum, 12);
      se += (1 - b.target.y[s]) ** 2;
    }
    expect(Math.abs(se / B - 1 / 6)).toBeLessThan(0.01);
    expect(addingTask.baseline(T)).toBeCloseTo(1 / 6, 12);
  });

  it("copy: 10 symbols, T − 1 blanks, the delimiter, 10 blanks; the baseline prediction scores 10·log 8/(T+20)", () => {
    const T = 7;
    const B = 3;
    const b = copyTask.sample(Rng.seeded(2), T, B, "float64");
    if (b.target.kind !== "xent") throw new Error("kind");
    expect(b.T).toBe(T + 20);
    for (let s = 0; s < B; s++) {
      const inp = Array.from({ length: b.T }, (_, t) => [...b.x.subarray((t * B + s) * 10, (t * B + s + 1) * 10)].indexOf(1));
      const out = Array.from({ length: b.T }, (_, t) => b.target.y[t * B + s]);
      for (let t = 0; t < 10; t++) expect(inp[t]).toBeGreaterThanOrEqual(1);
      expect(inp.slice(10, T + 9)).toEqual(new Array(T - 1).fill(0));
      expect(inp[T + 9]).toBe(9);
      expect(inp.slice(T + 10)).toEqual(new Array(10).fill(0));
      expect(out.slice(0, T + 10)).toEqual(new Array(T + 10).fill(0));
      expect(out.slice(T + 10)).toEqual(inp.slice(0, 10));
    }
    // logits of the baseline: certain blank for T + 10 steps, then uniform over the 8 symbols
    const O = 9;
    const z = new Float64Array(b.T * B * O);
    for (let t = 0; t < b.T; t++) for (let s = 0; s < B; s++) for (let o = 0; o < O; o++) z[(t * B + s) * O + o] = t < T + 10 ? (o === 0 ? 50 : -50) : o === 0 ? -50 : 0;
    const sc = copyTask.score(b, z);
    expect(sc.sum / sc.count).toBeCloseTo(copyTask.baseline(T), 8);
    expect(copyTask.baseline(T)).toBeCloseTo((10 * Math.log(8)) / (T + 20), 12);
  });

  it("reber: every string is in the embedded Reber language, and the next-symbol sets are right", () => {
    const reber = "B(TS*X(XT*VP)*(S|XT*VV)|PT*V(V|P(XT*VP)*(S|XT*VV)))E";
    const language = new RegExp(`^B([TP])${reber}\\1E$`);
    const rng = Rng.seeded(3);
    const seen = new Map<string, { claimed: number; observed: number; count: number }>();
    for (let n = 0; n < 1000; n++) {
      const { symbols, next } = embeddedReberString(rng);
      const s = symbols.map((i) => REBER_SYMBOLS[i]).join("");
      expect(s).toMatch(language);
      // the next symbol is always among the legal ones; the sets have 1 or 2 members
      for (let t = 0; t + 1 < symbols.length; t++) {
        expect((next[t] >> symbols[t + 1]) & 1).toBe(1);
        const size = next[t].toString(2).replace(/0/g, "").length;
        expect(size === 1 || size === 2).toBe(true);
      }
      // the long-range step: after the inner E exactly the branch symbol may follow
      expect(next[symbols.length - 3]).toBe(1 << symbols[1]);
      expect(next[symbols.length - 1]).toBe(0);
      for (let t = 0; t + 1 < symbols.length; t++) {
        const key = s.slice(0, t + 1);
        const e = seen.get(key) ?? { claimed: next[t], observed: 0, count: 0 };
        expect(next[t]).toBe(e.claimed); // the same prefix always gets the same set
        e.observed |= 1 << symbols[t + 1];
        e.count++;
        seen.set(key, e);
      }
    }
    // the sets are exactly the continuations that occur (prefixes seen ≥ 20 times: a legal one is
    // missed with probability ≤ 2⁻²⁰)
    let checked = 0;
    for (const { claimed, observed, count } of seen.values()) {
      if (count < 20) continue;
      expect(observed).toBe(claimed);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("reber: scoring counts a string only when every step is right; padding is masked", () => {
    const b = reberTask.sample(Rng.seeded(4), 40, 16, "float64");
    if (b.target.kind !== "bce") throw new Error("kind");
    const perfect = Float64Array.from(b.target.y, (y) => (y > 0.5 ? 5 : -5));
    expect(reberTask.score(b, perfect)).toEqual({ sum: 16, count: 16 });
    // flip the long-range prediction of sequence 0 (the last counted step)
    let last = -1;
    for (let t = 0; t < b.T; t++) if (b.target.mask[t * 16]) last = t;
    const wrong = perfect.slice();
    for (let o = 0; o < 7; o++) wrong[(last * 16) * 7 + o] = -wrong[(last * 16) * 7 + o];
    expect(reberTask.score(b, wrong).sum).toBe(15);
    expect(() => reberTask.sample(Rng.seeded(1), 8, 1, "float64")).toThrow(/T must be an integer ≥ 9/);
  });

  it("temporal order: X/Y at scaled positions, the class their order, only the last step scored", () => {
    const T = 100;
    const B = 50;
    const b = temporalOrderTask.sample(Rng.seeded(5), T, B, "float64");
    if (b.target.kind !== "xent") throw new Error("kind");
    for (let s = 0; s < B; s++) {
      const sym = Array.from({ length: T }, (_, t) => [...b.x.subarray((t * B + s) * 8, (t * B + s + 1) * 8)].indexOf(1));
      expect(sym[0]).toBe(6);
      expect(sym[T - 1]).toBe(7);
      const rel = sym.map((v, t) => [v, t]).filter(([v]) => v === 4 || v === 5);
      expect(rel.length).toBe(2);
      expect(rel[0][1] >= 10 && rel[0][1] <= 20).toBe(true);
      expect(rel[1][1] >= 50 && rel[1][1] <= 60).toBe(true);
      expect(b.target.y[(T - 1) * B + s]).toBe(2 * (rel[0][0] - 4) + (rel[1][0] - 4));
      for (let t = 0; t < T - 1; t++) expect(b.target.y[t * B + s]).toBe(-1);
    }
  });
});

/** A float64 model with small random parameters. */
function smallModel(cell: string, I: number, H: number, O: number, seed: number): SequenceModel {
  const m = createSequenceModel({ cell: parseCell(cell), inputSize: I, hiddenSize: H, outputSize: O }, "float64");
  initSequenceModel(m, Rng.seeded(seed), { forgetBias: 1 });
  return m;
}

describe("sequence model", () => {
  const cases: [string, typeof addingTask, number][] = [
    ["lstm-peephole", addingTask, 5],
    ["gru", copyTask, 1],
    ["rnn", reberTask, 12],
    ["lstm-coupled", temporalOrderTask, 10],
  ];
  for (const [cell, task, T] of cases) {
    it(`${cell} on ${task.name} (${task.loss}): every parameter gradient matches finite differences`, () => {
      const m = smallModel(cell, task.inputSize, 3, task.outputSize, 7);
      const b = task.sample(Rng.seeded(8), T, 3, "float64");
      const loss = () => sequenceLoss(m, sequenceForward(jsBackend, m, b.x, b.T, b.B), b.target, null);
      const pass = sequenceForward(jsBackend, m, b.x, b.T, b.B);
      const dout = new Float64Array(pass.out.length);
      sequenceLoss(m, pass, b.target, dout);
      const g = createSequenceGradients(m);
      sequenceBackward(jsBackend, m, g, pass, dout);
      const checks = gradcheck(
        loss,
        m.params.specs.map((s) => {
          const off = m.params.offsets.get(s.name)!;
          const n = s.shape.reduce((a, c) => a * c, 1);
          return { name: s.name, x: m.params.data.subarray(off, off + n), analytic: g.data.subarray(off, off + n) };
        }),
      );
      expect(failures(checks)).toEqual([]);
    });
  }
});

describe("initialisation", () => {
  it("chrono (Tallec & Ollivier 2018): LSTM b_f = log u, b_i = −b_f, u ∈ [1, T_max − 1]; GRU b_z; b_hh rows zero; others untouched", () => {
    const H = 50;
    const tMax = 75;
    for (const cell of ["lstm", "lstm-coupled", "gru", "rnn"]) {
      const plain = createSequenceModel({ cell: parseCell(cell), inputSize: 4, hiddenSize: H, outputSize: 2 }, "float64");
      const chrono = createSequenceModel({ cell: parseCell(cell), inputSize: 4, hiddenSize: H, outputSize: 2 }, "float64");
      initSequenceModel(plain, Rng.seeded(5), {});
      initSequenceModel(chrono, Rng.seeded(5), { chrono: tMax, forgetBias: 1 });
      const p = bindSequenceModel(plain.config, plain.params).rnn.dirs[0];
      const c = bindSequenceModel(chrono.config, chrono.params).rnn.dirs[0];
      const gate = cell === "lstm" ? 1 : cell === "rnn" ? -1 : cell === "gru" ? 1 : 0;
      const input = cell === "lstm" ? 0 : -1;
      expect(c.Wih).toEqual(p.Wih);
      expect(c.Whh).toEqual(p.Whh);
      const biasBlock = (b: Float64Array | Float32Array, k: number) => [...b.subarray(k * H, (k + 1) * H)];
      const G = p.bih.length / H;
      for (let k = 0; k < G; k++) {
        if (k === gate) {
          const bf = biasBlock(c.bih, k);
          for (const v of bf) expect(v >= 0 && v <= Math.log(tMax - 1)).toBe(true);
          expect(Math.max(...bf) - Math.min(...bf)).toBeGreaterThan(1); // spread over time scales, not one value
          expect(biasBlock(c.bhh, k).every((v) => v === 0)).toBe(true);
          if (input >= 0) expect(biasBlock(c.bih, input)).toEqual(bf.map((v) => -v));
        } else if (k !== input) {
          expect(biasBlock(c.bih, k)).toEqual(biasBlock(p.bih, k));
          expect(biasBlock(c.bhh, k)).toEqual(biasBlock(p.bhh, k));
        }
      }
    }
    const m = createSequenceModel({ cell: parseCell("lstm"), inputSize: 4, hiddenSize: 3, outputSize: 2 }, "float64");
    expect(() => initSequenceModel(m, Rng.seeded(1), { chrono: 2 })).toThrow(/chrono initialisation needs the longest dependency in steps, > 2; got 2/);
  });
});

describe("gradient norms", () => {
  /** L_T's dh_T, each row normalised, as gradientNorms starts from. */
  function startingCarry(m: SequenceModel, b: TaskBatch): { dhT: Float64Array; pass: ReturnType<typeof sequenceForward> } {
    const pass = sequenceForward(jsBackend, m, b.x, b.T, b.B);
    const O = m.config.outputSize;
    const H = m.config.hiddenSize;
    const dout = new Float64Array(pass.out.length);
    sequenceLoss(m, pass, b.target, dout); // adding: only the last step has a target
    const v = bindSequenceModel(m.config, m.params);
    const dhT = new Float64Array(b.B * H);
    jsBackend.gemm(false, false, b.B, H, O, dout.subarray((b.T - 1) * b.B * O), v.W, dhT, false);
    for (let s = 0; s < b.B; s++) {
      const row = dhT.subarray(s * H, (s + 1) * H);
      const n = Math.hypot(...row);
      for (let j = 0; j < H; j++) row[j] /= n;
    }
    return { dhT, pass };
  }

  const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
  const norms = (m: Float64Array, B: number, H: number) => Array.from({ length: B }, (_, s) => Math.hypot(...m.subarray(s * H, (s + 1) * H)));

  for (const cell of ["rnn", "lstm-peephole", "gru-cho"]) {
    it(`${cell}: the carry at gap k is unrollBackward's dh0 over the last k steps`, () => {
      const [T, B, H] = [9, 3, 4];
      const m = smallModel(cell, 2, H, 1, 11);
      const b = addingTask.sample(Rng.seeded(12), T, B, "float64");
      const g = gradientNorms(jsBackend, m, b);
      const { dhT, pass } = startingCarry(m, b);
      const run = pass.rnn.runs[0];
      const p = bindSequenceModel(m.config, m.params).rnn;
      const dp = bindSequenceModel(m.config, createSequenceGradients(m)).rnn;
      for (const k of [1, 4, T]) {
        // the suffix of the last k steps, from the state before them
        const j = T - k;
        const h0 = run.hs.subarray(j * B * H, (j + 1) * B * H);
        const c0 = p.cell.hasC ? run.cs.subarray(j * B * H, (j + 1) * B * H) : null;
        const x = b.x.subarray(j * B * 2);
        const suffix = unrollForward(jsBackend, p.cell, p.dirs[0], "float64", { T: k, B, H }, 2, x, h0, c0, false);
        const { dh0, dc0 } = unrollBackward(jsBackend, p.cell, p.dirs[0], dp.dirs[0], "float64", suffix, null, dhT, null, null);
        expect(g.dh[k] / geo(norms(dh0 as Float64Array, B, H)) - 1).toBeCloseTo(0, 12);
        if (k === T && g.dc) expect(g.dc[k] / geo(norms(dc0 as Float64Array, B, H)) - 1).toBeCloseTo(0, 12);
      }
      expect(g.dh[0]).toBeCloseTo(1, 12);
    });
  }

  it("lstm: ‖∂L_T/∂c_t‖ is the total derivative (through h_t too), by finite differences", () => {
    for (const cell of ["lstm", "lstm-peephole"]) {
      const [T, B, H] = [6, 1, 3];
      const m = smallModel(cell, 2, H, 1, 13);
      const b = addingTask.sample(Rng.seeded(14), T, B, "float64");
      const g = gradientNorms(jsBackend, m, b);
      const { dhT, pass } = startingCarry(m, b);
      const run = pass.rnn.runs[0];
      const p = bindSequenceModel(m.config, m.params).rnn;
      const po = p.dirs[0].extra.po;
      const cache = run.cell as LstmCache;
      const G = p.cell.G;
      for (const j of [2, 5]) {
        // L(δ) = dh_Tᵀ h_T after c_j += δ e_u, with h_j = o_j tanh(c_j) recomputed (o_j through p_o too)
        const L = (u: number, d: number) => {
          const c0 = Float64Array.from(run.cs.subarray(j * H, (j + 1) * H));
          const h0 = new Float64Array(H);
          c0[u] += d;
          for (let q = 0; q < H; q++) {
            let o = cache.gates[(j - 1) * G * H + (G - 1) * H + q];
            if (po && q === u) o = 1 / (1 + Math.exp(-(Math.log(o / (1 - o)) + po[q] * d)));
            h0[q] = o * Math.tanh(c0[q]);
          }
          const r = unrollForward(jsBackend, p.cell, p.dirs[0], "float64", { T: T - j, B, H }, 2, b.x.subarray(j * 2), h0, c0, false);
          const hT = r.hs.subarray((T - j) * H);
          let L = 0;
          for (let q = 0; q < H; q++) L += hT[q] * dhT[q];
          return L;
        };
        const e = 1e-5;
        const fd = Array.from({ length: H }, (_, u) => (L(u, e) - L(u, -e)) / (2 * e));
        expect(g.dc![T - j] / Math.hypot(...fd) - 1).toBeCloseTo(0, 6);
      }
    }
  });

  it("tanh RNN, orthogonal W_hh (all singular values equal): the decay rate is σ_max(W_hh) · mean(1 − h²)", () => {
    // Here ‖W_hhᵀ diag(d) v‖ = σ_max ‖diag(d) v‖ exactly, so only the spread of d = 1 − h² over the
    // units separates the rate from σ_max · mean d: measured within 2–5% on these seeds.
    for (const seed of [1, 2, 3]) {
      const m = createTaskModel(addingTask, parseCell("rnn"), { hidden: 16, seed, orthogonal: true, dtype: "float64" });
      const g = gradientNorms(jsBackend, m, addingTask.sample(Rng.seeded(seed + 100), 30, 32, "float64"), { jacobianBound: true });
      const r = g.rnn!;
      expect(r.sigmaMax).toBeCloseTo(1, 8);
      expect(Math.abs(r.measured / r.sigmaEstimate - 1)).toBeLessThan(0.08);
      expect(r.measured).toBeLessThan(0.99); // it does decay: mean(1 − h²) < 1
      // the rigorous bound Π ‖W_hhᵀ diag(d_t)‖₂ holds at every gap
      g.dh.forEach((v, k) => expect(v).toBeLessThanOrEqual(r.boundCurve![k] * (1 + 1e-9)));
    }
  });

  it("tanh RNN, PyTorch's random W_hh: σ_max overstates the rate; the mean Jacobian's spectral radius gives it; the bound holds", () => {
    for (const seed of [1, 2, 3]) {
      const m = createTaskModel(addingTask, parseCell("rnn"), { hidden: 16, seed, dtype: "float64" });
      const g = gradientNorms(jsBackend, m, addingTask.sample(Rng.seeded(seed + 100), 30, 32, "float64"), { jacobianBound: true });
      const r = g.rnn!;
      expect(r.sigmaMax / r.spectralRadius).toBeGreaterThan(1.3); // a non-normal matrix
      expect(r.sigmaEstimate / r.measured).toBeGreaterThan(1.3);
      expect(Math.abs(r.measured / r.meanJacobianEstimate - 1)).toBeLessThan(0.15);
      expect(r.jacobianBound!).toBeGreaterThanOrEqual(r.measured);
      g.dh.forEach((v, k) => expect(v).toBeLessThanOrEqual(r.boundCurve![k] * (1 + 1e-9)));
    }
  });

  it("LSTM with forget bias 1 keeps a gradient over 100 steps that the tanh RNN loses", () => {
    const b = addingTask.sample(Rng.seeded(21), 100, 16, "float64");
    const measure = (cell: string) => gradientNorms(jsBackend, createTaskModel(addingTask, parseCell(cell), { hidden: 16, seed: 1, forgetBias: 1, dtype: "float64" }), b);
    const lstm = measure("lstm");
    const rnn = measure("rnn");
    const sigmoid = measure("rnn-sigmoid");
    // measured (seed 21/1): printed below; LSTM ~1e-8 (factor ≈ 0.86 per step), tanh RNN ~1e-23 (0.60), sigmoid RNN ~1e-84 (0.15)
    expect(lstm.dh[100]).toBeGreaterThan(1e-9);
    expect(lstm.dc![100]).toBeGreaterThan(1e-9);
    expect(lstm.dh[100]).toBeGreaterThan(1e10 * rnn.dh[100]);
    expect(rnn.dh[100]).toBeGreaterThan(1e30 * sigmoid.dh[100]);
    // it still decays exponentially at initialisation: a forget gate of σ(1) ≈ 0.73 is not 1
    expect(lstm.rate.dh).toBeLessThan(0.95);
    const open = gradientNorms(jsBackend, createTaskModel(addingTask, parseCell("lstm"), { hidden: 16, seed: 1, forgetBias: 3, dtype: "float64" }), b);
    console.log(`gap 100: ‖∂L/∂h‖ LSTM forget bias 1 ${lstm.dh[100].toExponential(2)}, bias 3 ${open.dh[100].toExponential(2)}, tanh RNN ${rnn.dh[100].toExponential(2)}, sigmoid RNN ${sigmoid.dh[100].toExponential(2)}`);
    // forget gates near σ(3) ≈ 0.95 keep it: orders of magnitude more than at bias 1
    expect(open.dh[100]).toBeGreaterThan(1e-5);
    expect(open.dh[100]).toBeGreaterThan(1e3 * lstm.dh[100]);
  });
});

describe("linear algebra", () => {
  it("spectral radius of a scaled rotation, a Jordan block and a nilpotent matrix", () => {
    const s = 0.7;
    const rot = [s * Math.cos(1), -s * Math.sin(1), s * Math.sin(1), s * Math.cos(1)];
    expect(spectralRadius(rot, 2)).toBeCloseTo(s, 10);
    expect(largestSingularValue(rot, 2)).toBeCloseTo(s, 10);
    // Jordan block: ρ = 0.9 although ‖J‖ > 1; Gelfand's formula converges as k^{1/k}
    expect(spectralRadius([0.9, 1, 0, 0.9], 2)).toBeCloseTo(0.9, 6);
    expect(largestSingularValue([0.9, 1, 0, 0.9], 2)).toBeCloseTo((1 + Math.sqrt(1 + 4 * 0.81)) / 2, 8);
    expect(spectralRadius([0, 1, 0, 0], 2)).toBe(0);
    // an upper bound at any precision: never below the true value
    expect(largestSingularValue([3, 0, 0, 1], 2, [1, 2], 1e-2)).toBeGreaterThanOrEqual(3);
  });
});

describe("training", () => {
  it("an LSTM learns the adding problem at T = 10 well below the baseline, deterministically", () => {
    const opts = { task: "adding", cell: "lstm", T: 10, hidden: 16, steps: 300, lr: 1e-2, evalEvery: 100, testSize: 256, backend: jsBackend } as const;
    const a = trainOnTask(opts);
    expect(a.summary.value).toBeLessThan(0.3 * a.summary.baseline);
    expect(a.curve.map((p) => p.step)).toEqual([0, 100, 200, 300]);
    const b = trainOnTask(opts);
    expect(b.curve).toEqual(a.curve);
  });
});

describe("report and command line", () => {
  afterEach(() => vi.restoreAllMocks());

  it("labGrid and labReportHtml: one self-contained page with the tables, charts and findings", () => {
    const r = labGrid({
      tasks: ["adding", "temporal-order"],
      cells: ["rnn", "lstm"],
      Ts: [10, 12],
      hidden: 6,
      steps: 20,
      batch: 8,
      lr: 1e-2,
      seed: 1,
      forgetBias: 1,
      evalEvery: 10,
      testSize: 16,
      stopWhenSolved: false,
      gradientCells: ["rnn", "lstm", "gru"],
      backend: jsBackend,
    });
    expect(r.runs.length).toBe(8);
    expect(r.gradientsInit.map((g) => g.cell)).toEqual(["rnn", "lstm", "gru"]);
    expect(r.gradientsTrained.map((g) => g.cell)).toEqual(["rnn", "lstm"]);
    expect(r.relation.map((c) => c.g.rnn!.sigmaMax > 0)).toEqual([true, true]);
    const html = labReportHtml(r, { command: "unroll lab --tiny" });
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<\?xml|src="|href="|<script/); // nothing outside the page
    expect((html.match(/<svg /g) ?? []).length).toBe(7); // gradients ×2, rnn decay, 2 per task
    const ids = [...html.matchAll(/clipPath id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const text of ["Adding problem", "Temporal order", "What the numbers say", "rnn (tanh)", "unroll lab --tiny", "σ<sub>max</sub>"]) expect(html).toContain(text);
  });

  it("unroll task --json: the last line is the summary object", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((s: string) => void lines.push(s));
    const out = mkdtempSync(join(tmpdir(), "unroll-task-"));
    await taskCommand().parseAsync(["copy", "--cell", "gru", "--T", "3", "--hidden", "8", "--steps", "10", "--eval-every", "5", "--test-size", "16", "--backend", "js", "--out", out, "--json"], { from: "user" });
    const last = JSON.parse(lines[lines.length - 1]);
    expect(Object.keys(last).slice(0, 6)).toEqual(["task", "cell", "T", "metric", "value", "baseline"]);
    expect(last).toMatchObject({ task: "copy", cell: "gru", T: 3, metric: "xent", steps: 10 });
    expect(last.baseline).toBeCloseTo((10 * Math.log(8)) / 23, 12);
    expect(lines.slice(0, -1).map((l) => JSON.parse(l).event)).toEqual(["start", "eval", "eval", "eval"]);
    expect(readFileSync(join(out, "curve.png")).subarray(1, 4).toString()).toBe("PNG");
  });

  it("unroll gradients and unroll lab write their pictures, JSON and report", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const g = mkdtempSync(join(tmpdir(), "unroll-grad-"));
    await gradientsCommand().parseAsync(["--cells", "rnn,lstm", "--T", "12", "--hidden", "6", "--train-steps", "5", "--backend", "js", "--out", g], { from: "user" });
    const doc = JSON.parse(readFileSync(join(g, "gradients.json"), "utf8"));
    expect(doc.init.map((x: { cell: string }) => x.cell)).toEqual(["rnn", "lstm"]);
    expect(doc.init[1].dc.length).toBe(13);
    expect(doc.trained.runs.length).toBe(2);
    for (const f of ["gradients.png", "gradients-trained.png", "rnn-decay.png"]) expect(readFileSync(join(g, f)).subarray(1, 4).toString()).toBe("PNG");
    const l = mkdtempSync(join(tmpdir(), "unroll-lab-"));
    await labCommand().parseAsync(["--cells", "rnn", "--Ts", "10", "--hidden", "4", "--steps", "5", "--test-size", "8", "--gradient-cells", "rnn", "--backend", "js", "--out", l, "--quiet"], { from: "user" });
    expect(readFileSync(join(l, "report.html"), "utf8")).toContain("<svg");
    expect(JSON.parse(readFileSync(join(l, "report.json"), "utf8")).runs.length).toBe(1);
  });

  it("rejects what it cannot measure, saying what to use instead", () => {
    const m = createTaskModel(reberTask, parseCell("lstm"), { hidden: 4, seed: 1 });
    expect(() => gradientNorms(jsBackend, m, reberTask.sample(Rng.seeded(1), 30, 4, "float64"))).toThrow(/fixed-length task/);
    expect(() => trainOnTask({ task: "adding", cell: "lstm", T: 1 })).toThrow(/T must be an integer ≥ 2/);
    expect(() => trainOnTask({ task: "parity" as never, cell: "lstm", T: 5 })).toThrow(/choose one of: adding, copy, reber, temporal-order/);
  });
});
