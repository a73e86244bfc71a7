/**
 * Global attention (src/layers/attention.ts): float64 finite-difference gradient checks of every
 * score w.r.t. q, k and every parameter; masking (weights, outputs and gradients at padded source
 * steps); step-by-step decoding equals the whole pass; repeated memories for beam search; a tiny
 * case computed by hand; the boundary errors.
 */
import { describe, expect, it } from "vitest";
import {
  attentionBackward,
  attentionForward,
  attentionMemory,
  attentionSpecs,
  bindAttention,
  initAttention,
  repeatMemory,
  type AttentionConfig,
  type AttentionParams,
  type AttentionScore,
} from "../src/layers/attention.js";
import { getBackend } from "../src/backend/select.js";
import { assign, createArena, mirrorArena, type Arena } from "../src/tensor/arena.js";
import type { FloatArray } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { dot, failures, gradcheck, maxAbsDiff, randomF64 } from "./helpers/gradcheck.js";

const backend = getBackend("js");
const SCORES: readonly AttentionScore[] = ["dot", "general", "additive"];
const H = 3;
const A = 4;
const Ts = 5;
const Tq = 4;
const B = 3;
const srcLen = Int32Array.from([5, 2, 3]);

interface Setup {
  readonly c: AttentionConfig;
  readonly arena: Arena;
  readonly p: AttentionParams;
  readonly q: Float64Array;
  readonly k: Float64Array;
}

/** Parameters U(±1/√fan_in) scaled up ×2 so the scores are not all near zero; q, k U(±1). */
function setup(score: AttentionScore, seed: number): Setup {
  const c: AttentionConfig = { score, hiddenSize: H, attentionSize: A };
  const arena = createArena("float64", attentionSpecs(c));
  const p = bindAttention(c, arena);
  const rng = Rng.seeded(seed);
  initAttention(c, p, rng);
  for (let i = 0; i < arena.data.length; i++) arena.data[i] *= 2;
  return { c, arena, p, q: randomF64(Tq * B * H, rng, 1), k: randomF64(Ts * B * H, rng, 1) };
}

function run(s: Setup, q: FloatArray = s.q, k: FloatArray = s.k, len: Int32Array = srcLen, T = Tq) {
  const mem = attentionMemory(backend, s.c, s.p, k, Ts, len.length, len);
  return { mem, pass: attentionForward(backend, s.c, s.p, mem, q, T) };
}

/** Whether source step s of sequence b is padding. */
const padded = (s: number, b: number) => s >= srcLen[b];

describe("attention gradients (float64, finite differences)", () => {
  for (const score of SCORES) {
    it(`${score}: q, k and every parameter`, () => {
      const s = setup(score, 11 + SCORES.indexOf(score));
      const r = randomF64(Tq * B * H, Rng.seeded(99), 1);
      const loss = () => dot(run(s).pass.out, r);
      const { mem, pass } = run(s);
      const gArena = mirrorArena(s.arena);
      const g = bindAttention(s.c, gArena);
      const { dq, dk } = attentionBackward(backend, s.c, s.p, g, mem, s.q, pass, r);
      const tensors = [
        { name: "q", x: s.q, analytic: dq },
        { name: "k", x: s.k, analytic: dk },
        ...(["Wa", "Wq", "Wk", "v", "Wc", "bc"] as const)
          .filter((n) => s.p[n] !== null)
          .map((n) => ({ name: n, x: s.p[n]!, analytic: g[n]! })),
      ];
      expect(tensors.length).toBe({ dot: 4, general: 5, additive: 7 }[score]);
      const checks = gradcheck(loss, tensors);
      console.log(`gradcheck ${score}: ${checks.map((ch) => `${ch.name} ${ch.error.toExponential(1)}`).join(", ")}`);
      expect(failures(checks)).toEqual([]);
    });
  }
});

describe("masking by source length", () => {
  for (const score of SCORES) {
    it(`${score}: rows sum to 1 over s < srcLen, exactly 0 beyond`, () => {
      const { pass } = run(setup(score, 21));
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < Tq; t++) {
          let sum = 0;
          for (let s = 0; s < Ts; s++) {
            const a = pass.weights[(b * Tq + t) * Ts + s];
            if (padded(s, b)) expect(a).toBe(0);
            else {
              expect(a).toBeGreaterThan(0);
              sum += a;
            }
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-15);
        }
      }
    });

    it(`${score}: padded k (even NaN) changes nothing and gets exactly zero gradient`, () => {
      const st = setup(score, 31);
      const before = run(st).pass;
      const k2 = st.k.slice();
      for (let s = 0; s < Ts; s++) for (let b = 0; b < B; b++) if (padded(s, b)) for (let h = 0; h < H; h++) k2[(s * B + b) * H + h] = s === Ts - 1 ? NaN : 1e3 * (h + 1);
      const { mem, pass } = run(st, st.q, k2);
      expect(pass.out).toEqual(before.out);
      expect(pass.weights).toEqual(before.weights);
      const g = bindAttention(st.c, mirrorArena(st.arena));
      const { dq, dk } = attentionBackward(backend, st.c, st.p, g, mem, st.q, pass, randomF64(Tq * B * H, Rng.seeded(5), 1));
      for (let s = 0; s < Ts; s++) {
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const x = dk[(s * B + b) * H + h];
            if (padded(s, b)) expect(Math.abs(x)).toBe(0);
            else expect(Number.isFinite(x)).toBe(true);
          }
        }
      }
      for (const x of [...dq, ...gArenaValues(g)]) expect(Number.isFinite(x)).toBe(true);
    });
  }
});

function gArenaValues(g: AttentionParams): number[] {
  return [g.Wa, g.Wq, g.Wk, g.v, g.Wc, g.bc].flatMap((x) => (x ? [...x] : []));
}

describe("step by step equals the whole pass", () => {
  for (const score of SCORES) {
    it(`${score}: Tq = 1 per step reproduces the Tq-step pass`, () => {
      const st = setup(score, 41);
      const { mem, pass } = run(st);
      for (let t = 0; t < Tq; t++) {
        const step = attentionForward(backend, st.c, st.p, mem, st.q.subarray(t * B * H, (t + 1) * B * H), 1);
        expect(maxAbsDiff(step.out, pass.out.subarray(t * B * H, (t + 1) * B * H))).toBeLessThanOrEqual(1e-15);
        for (let b = 0; b < B; b++) {
          const whole = pass.weights.subarray((b * Tq + t) * Ts, (b * Tq + t + 1) * Ts);
          expect(maxAbsDiff(step.weights.subarray(b * Ts, (b + 1) * Ts), whole)).toBeLessThanOrEqual(1e-15);
        }
      }
    });
  }
});

describe("repeatMemory (beam search)", () => {
  for (const score of SCORES) {
    it(`${score}: the repeated memory with repeated q rows gives repeated outputs`, () => {
      const K = 3;
      const st = setup(score, 51);
      const { mem, pass } = run(st);
      const rep = repeatMemory(mem, K);
      expect(rep.B).toBe(B * K);
      expect([...rep.srcLen]).toEqual([5, 5, 5, 2, 2, 2, 3, 3, 3]);
      for (let t = 0; t < Tq; t++) {
        // q rows of step t repeated per beam: row b·K + j = row b
        const q1 = new Float64Array(B * K * H);
        for (let b = 0; b < B; b++) for (let j = 0; j < K; j++) q1.set(st.q.subarray((t * B + b) * H, (t * B + b + 1) * H), (b * K + j) * H);
        const step = attentionForward(backend, st.c, st.p, rep, q1, 1);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < K; j++) {
            const row = b * K + j;
            expect(maxAbsDiff(step.out.subarray(row * H, (row + 1) * H), pass.out.subarray((t * B + b) * H, (t * B + b + 1) * H))).toBeLessThanOrEqual(1e-15);
            expect(maxAbsDiff(step.weights.subarray(row * Ts, (row + 1) * Ts), pass.weights.subarray((b * Tq + t) * Ts, (b * Tq + t + 1) * Ts))).toBeLessThanOrEqual(1e-15);
          }
        }
      }
    });
  }
});

describe("a tiny dot case by hand", () => {
  it("H = 1, Ts = 2, B = 2, Tq = 1", () => {
    // Wc = [0.5, −0.25] acting on [ctx; q], bc = 0.1.
    // b = 0: q = 1, k = (1, 2), srcLen 2: e = (1, 2), a = (1/(1+e), e/(1+e)) = (0.2689414213699951, 0.7310585786300049),
    //        ctx = a0·1 + a1·2 = 1.7310585786300048, pre = 0.5·ctx − 0.25·1 + 0.1 = 0.7155292893150024,
    //        out = tanh(pre) = 0.6141324019900495.
    // b = 1: q = −1, k = (3, 100), srcLen 1: a = (1, 0), ctx = 3, pre = 1.5 + 0.25 + 0.1 = 1.85,
    //        out = tanh(1.85) = 0.9517459571646616.
    const c: AttentionConfig = { score: "dot", hiddenSize: 1, attentionSize: 1 };
    const arena = createArena("float64", attentionSpecs(c));
    assign(arena, "attention.combine.weight", [0.5, -0.25]);
    assign(arena, "attention.combine.bias", [0.1]);
    const p = bindAttention(c, arena);
    // time-major k (Ts, B, 1): [k(0,0), k(0,1), k(1,0), k(1,1)]
    const mem = attentionMemory(backend, c, p, Float64Array.from([1, 3, 2, 100]), 2, 2, Int32Array.from([2, 1]));
    const pass = attentionForward(backend, c, p, mem, Float64Array.from([1, -1]), 1);
    expect(maxAbsDiff(pass.weights, [0.2689414213699951, 0.7310585786300049, 1, 0])).toBeLessThan(1e-15);
    expect(pass.weights[3]).toBe(0);
    expect(maxAbsDiff(pass.out, [0.6141324019900495, 0.9517459571646616])).toBeLessThan(1e-15);
  });
});

describe("float32", () => {
  it("runs in float32 and agrees with float64 to float32 precision", () => {
    for (const score of SCORES) {
      const st = setup(score, 61);
      const ref = run(st).pass;
      const c = st.c;
      const a32 = createArena("float32", attentionSpecs(c));
      a32.data.set(st.arena.data);
      const p32 = bindAttention(c, a32);
      const mem = attentionMemory(backend, c, p32, Float32Array.from(st.k), Ts, B, srcLen);
      const pass = attentionForward(backend, c, p32, mem, Float32Array.from(st.q), Tq);
      expect(pass.out).toBeInstanceOf(Float32Array);
      expect(maxAbsDiff(pass.out, ref.out)).toBeLessThan(1e-5);
      const g = bindAttention(c, mirrorArena(a32));
      const { dq, dk } = attentionBackward(backend, c, p32, g, mem, Float32Array.from(st.q), pass, new Float32Array(Tq * B * H).fill(1));
      expect(dq).toBeInstanceOf(Float32Array);
      expect(dk).toBeInstanceOf(Float32Array);
    }
  });
});

describe("bad inputs", () => {
  const st = setup("additive", 71);
  it("srcLen out of range or of the wrong length", () => {
    expect(() => attentionMemory(backend, st.c, st.p, st.k, Ts, B, Int32Array.from([5, 0, 3]))).toThrow(/srcLen\[1\] = 0 is out of range.*\[1, Ts = 5\]/);
    expect(() => attentionMemory(backend, st.c, st.p, st.k, Ts, B, Int32Array.from([5, 6, 3]))).toThrow(/srcLen\[1\] = 6 is out of range/);
    expect(() => attentionMemory(backend, st.c, st.p, st.k, Ts, B, Int32Array.from([5, 2]))).toThrow(/srcLen has 2 entries, expected one per sequence \(B = 3\)/);
  });
  it("wrong sizes of k, q, dout and parameters", () => {
    expect(() => attentionMemory(backend, st.c, st.p, st.k.subarray(1), Ts, B, srcLen)).toThrow(/memory k has 44 values, expected Ts·B·H = 5·3·3 = 45/);
    const { mem, pass } = run(st);
    expect(() => attentionForward(backend, st.c, st.p, mem, st.q.subarray(3), Tq)).toThrow(/q has 33 values, expected Tq·B·H/);
    expect(() => attentionForward(backend, st.c, st.p, mem, st.q, 0)).toThrow(/Tq \(decoder steps\) must be a positive integer/);
    expect(() => attentionForward(backend, st.c, st.p, mem, Float32Array.from(st.q), Tq)).toThrow(/q is float32 but the memory is float64/);
    const g = bindAttention(st.c, mirrorArena(st.arena));
    expect(() => attentionBackward(backend, st.c, st.p, g, mem, st.q, pass, new Float64Array(5))).toThrow(/dout has 5 values/);
    expect(() => attentionForward(backend, { ...st.c, hiddenSize: 2 }, st.p, mem, st.q, Tq)).toThrow(/Wc has 18 values, expected 8/);
    expect(() => attentionForward(backend, st.c, { ...st.p, v: null }, mem, st.q, Tq)).toThrow(/additive score needs parameter v/);
    const other = repeatMemory(mem, 2);
    expect(() => attentionBackward(backend, st.c, st.p, g, other, st.q, pass, st.q)).toThrow(/pass the same memory/);
  });
  it("bad configs", () => {
    expect(() => attentionSpecs({ score: "cosine" as AttentionScore, hiddenSize: 3, attentionSize: 4 })).toThrow(/unknown score "cosine"; choose dot, general or additive/);
    expect(() => attentionSpecs({ score: "additive", hiddenSize: 3, attentionSize: 0 })).toThrow(/attentionSize/);
    expect(() => attentionSpecs({ score: "dot", hiddenSize: 1.5, attentionSize: 0 })).toThrow(/hiddenSize must be a positive integer/);
    const arena = createArena("float64", attentionSpecs({ score: "dot", hiddenSize: 3, attentionSize: 1 }));
    expect(() => bindAttention({ score: "general", hiddenSize: 3, attentionSize: 1 }, arena)).toThrow(/no tensor "attention.weight"/);
    expect(() => repeatMemory(run(st).mem, 0)).toThrow(/times must be a positive integer/);
  });
  it("the specs carry the documented names and shapes", () => {
    expect(attentionSpecs({ score: "additive", hiddenSize: 3, attentionSize: 4 }, "dec.att.")).toEqual([
      { name: "dec.att.query.weight", shape: [4, 3] },
      { name: "dec.att.key.weight", shape: [4, 3] },
      { name: "dec.att.v", shape: [4] },
      { name: "dec.att.combine.weight", shape: [3, 6] },
      { name: "dec.att.combine.bias", shape: [3] },
    ]);
    expect(attentionSpecs({ score: "general", hiddenSize: 2, attentionSize: 0 }).map((s) => s.name)).toEqual(["attention.weight", "attention.combine.weight", "attention.combine.bias"]);
  });
  it("initAttention draws U(±1/√fan_in)", () => {
    const c: AttentionConfig = { score: "additive", hiddenSize: 4, attentionSize: 9 };
    const p = bindAttention(c, createArena("float64", attentionSpecs(c)));
    initAttention(c, p, Rng.seeded(1));
    const maxAbs = (x: FloatArray) => Math.max(...[...x].map(Math.abs));
    expect(maxAbs(p.Wq!)).toBeLessThanOrEqual(0.5);
    expect(maxAbs(p.Wk!)).toBeLessThanOrEqual(0.5);
    expect(maxAbs(p.v!)).toBeLessThanOrEqual(1 / 3);
    expect(maxAbs(p.Wc)).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(maxAbs(p.bc)).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(maxAbs(p.Wq!)).toBeGreaterThan(0.3);
  });
});
