/**
 * Whenever two paths must agree, a test says so (STYLE.md principle 11):
 * - step-by-step (T = 1 chunks, state carried) equals one `unroll` over T, forward and backward,
 *   in both directions; a bidirectional stack equals running the reversed sequence by hand;
 * - a batch of B equals B runs of batch 1 (outputs, final states, input gradients, and the
 *   parameter gradients summed);
 * - two truncated chunks with the state carried equal one chunk (recurrent stack and language
 *   model), and carrying dL/dh0 of the later chunk into the earlier one gives full BPTT;
 * - dropout: off (eval, or p = 0) changes nothing; on, it is deterministic under a seeded Rng, and
 *   finite differences with the mask held fixed agree with the backward pass;
 * - float32 agrees with float64 within float32 tolerance.
 *
 * Same-arithmetic paths are compared at ≤ 1e-14 relative to the tensor's scale (they do the same
 * operations, up to summation order at most); paths whose gradient sums are reordered at ≤ 1e-12.
 */
import { describe, expect, it } from "vitest";
import { jsBackend } from "../src/backend/js/index.js";
import { parseCell, type Cell, type CellParams } from "../src/cells/index.js";
import { embeddingBackward } from "../src/layers/embedding.js";
import {
  createGradients,
  createLanguageModel,
  languageModelBackward,
  languageModelForward,
  languageModelInputProjections,
  languageModelLoss,
  type LanguageModel,
  type LanguageModelConfig,
} from "../src/model/language-model.js";
import {
  bindRecurrent,
  recurrentBackward,
  recurrentForward,
  recurrentSpecs,
  type ForwardOptions,
  type RecurrentConfig,
} from "../src/sequence/recurrent.js";
import { finalC, finalH, outputAt, unrollBackward, unrollForward, type UnrollCache } from "../src/sequence/unroll.js";
import { createArena, mirrorArena, view, type Arena } from "../src/tensor/arena.js";
import type { DType, FloatArray } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { dot, failures, fillUniform, gradcheck, maxAbsDiff, randomF64, scaledDiff, type Checked } from "./helpers/gradcheck.js";

// Dimensions: T steps, B batch, I input features, H hidden, L layers, D directions, V vocabulary.
const T = 5;
const B = 3;
const I = 3;
const H = 4;

const CELLS = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "lstm", "lstm-peephole", "lstm-coupled", "lstm-peephole-coupled", "gru", "gru-cho"] as const;

/** Same arithmetic: equal up to rounding of a reordered sum at most. */
const SAME = 1e-14;
/** Gradients accumulated in another order. */
const REORDERED = 1e-12;

/** A recurrent stack in float64 with uniform ±0.5 parameters and a zeroed gradient arena. */
function makeStack(cell: string, L: number, bidirectional: boolean, seed: number, dropout = 0) {
  const rng = Rng.seeded(seed);
  const config: RecurrentConfig = { cell: parseCell(cell), inputSize: I, hiddenSize: H, numLayers: L, bidirectional, dropout };
  const params = createArena("float64", recurrentSpecs(config));
  fillUniform(params.data, rng);
  const grads = mirrorArena(params);
  const r = bindRecurrent(config, params);
  const g = bindRecurrent(config, grads);
  const D = bidirectional ? 2 : 1;
  const S = L * D * B * H;
  const x = randomF64(T * B * I, rng, 1);
  const h0 = randomF64(S, rng);
  const c0 = r.cell.hasC ? randomF64(S, rng) : null;
  // upstream gradients of a random weighted sum of all outputs and final states
  const wy = randomF64(T * B * D * H, rng, 1);
  const wh = randomF64(S, rng, 1);
  const wc = r.cell.hasC ? randomF64(S, rng, 1) : null;
  return { rng, config, params, grads, r, g, D, S, x, h0, c0, wy, wh, wc };
}

/** Rows [from, to) of the outer axis of an (outer, …) buffer of `inner` values per row. */
function rows(a: FloatArray, from: number, to: number, inner: number): FloatArray {
  return a.subarray(from * inner, to * inner);
}

/** (S, 1, F) slice of batch element b of an (S, B, F) buffer (a copy). */
function batchSlice(a: FloatArray, S: number, Bn: number, F: number, b: number): Float64Array {
  const out = new Float64Array(S * F);
  for (let s = 0; s < S; s++) out.set(a.subarray((s * Bn + b) * F, (s * Bn + b + 1) * F), s * F);
  return out;
}

/** The (T, B, F) buffer with its time axis reversed (a copy). */
function reverseTime(a: FloatArray, Tn: number, F: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let t = 0; t < Tn; t++) out.set(a.subarray(t * F, (t + 1) * F), (Tn - 1 - t) * F);
  return out;
}

function concat(...parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Names of the tensors of two same-layout arenas that differ by more than `tol` (scaled). */
function arenaMismatches(actual: Arena, expected: Arena, tol: number): string[] {
  return expected.specs
    .map((s) => [s.name, scaledDiff(view(actual, s.name), view(expected, s.name))] as const)
    .filter(([, d]) => !(d <= tol))
    .map(([n, d]) => `${n}: ${d.toExponential(2)}`);
}

/** Fails unless `a` equals `b` within `tol` relative to the scale of `b`, and `b` is not all zeros. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  expect(maxAbsDiff(b, new Float64Array(b.length)), `${what}: the expected tensor is all zeros`).toBeGreaterThan(0);
  expect(scaledDiff(a, b), what).toBeLessThanOrEqual(tol);
}

describe("step-by-step equals unroll (T = 1 chunks, state carried)", () => {
  let seed = 1000;
  for (const name of CELLS) {
    for (const reverse of [false, true]) {
      const caseSeed = seed++;
      it(`${name}${reverse ? ", reverse direction" : ""}: outputs, final states and every gradient`, () => {
        const s = makeStack(name, 1, false, caseSeed);
        const { cell } = s.r;
        const p = s.r.dirs[0];
        const dp = s.g.dirs[0];
        const BH = B * H;
        const c0 = s.c0;
        const full = unrollForward(jsBackend, cell, p, "float64", { T, B, H }, I, s.x, s.h0, c0, reverse);

        // The plain loop: h = h0; for t in processing order: h = cell(x_t, h); y_t = h.
        const order = Array.from({ length: T }, (_, k) => (reverse ? T - 1 - k : k));
        const steps = new Map<number, UnrollCache>();
        let h: FloatArray = s.h0;
        let c: FloatArray | null = c0;
        for (const t of order) {
          const step = unrollForward(jsBackend, cell, p, "float64", { T: 1, B, H }, I, rows(s.x, t, t + 1, B * I), h, c, reverse);
          steps.set(t, step);
          expectClose(outputAt(step, 0), outputAt(full, t), SAME, `y at t=${t}`);
          h = finalH(step);
          c = cell.hasC ? finalC(step) : null;
        }
        expectClose(h, finalH(full), SAME, "final h");
        if (cell.hasC) expectClose(c!, finalC(full), SAME, "final c");

        // Backward: the carry dL/dh_{t} leaves one step as dh0 and enters the previous as dhT.
        const wy = s.wy.subarray(0, T * BH);
        const wh = s.wh.subarray(0, BH);
        const wc = s.wc ? s.wc.subarray(0, BH) : null;
        const dxFull = new Float64Array(T * B * I);
        const gFull = unrollBackward(jsBackend, cell, p, dp, "float64", full, wy, wh, wc, dxFull);
        const stepGrads = mirrorArena(s.params);
        const dps = bindRecurrent(s.config, stepGrads).dirs[0];
        const dxSteps = new Float64Array(T * B * I);
        let dh: FloatArray = wh;
        let dc: FloatArray | null = wc;
        for (const t of [...order].reverse()) {
          const gs = unrollBackward(jsBackend, cell, p, dps, "float64", steps.get(t)!, rows(wy, t, t + 1, BH), dh, dc, rows(dxSteps, t, t + 1, B * I));
          dh = gs.dh0;
          dc = cell.hasC ? gs.dc0 : null;
        }
        expect(arenaMismatches(stepGrads, s.grads, REORDERED)).toEqual([]);
        expectClose(dxSteps, dxFull, REORDERED, "dx");
        expectClose(dh, gFull.dh0, REORDERED, "dh0");
        if (cell.hasC) expectClose(dc!, gFull.dc0, REORDERED, "dc0");
      });
    }
  }
});

/** One bidirectional layer by hand: the reverse direction is a forward unroll of the reversed sequence. */
function manualBidirectional(cell: Cell, pf: CellParams, pr: CellParams, x: FloatArray, In: number, h0: FloatArray, c0: FloatArray | null) {
  const BH = B * H;
  const dims = { T, B, H };
  const c0f = c0 ? c0.subarray(0, BH) : null;
  const c0r = c0 ? c0.subarray(BH, 2 * BH) : null;
  const fwd = unrollForward(jsBackend, cell, pf, "float64", dims, In, x, h0.subarray(0, BH), c0f, false);
  const xr = reverseTime(x, T, B * In);
  const rev = unrollForward(jsBackend, cell, pr, "float64", dims, In, xr, h0.subarray(BH, 2 * BH), c0r, false);
  const y = new Float64Array(T * B * 2 * H);
  for (let t = 0; t < T; t++) {
    const of = outputAt(fwd, t);
    const or = outputAt(rev, T - 1 - t); // reversed time
    for (let b = 0; b < B; b++) {
      y.set(of.subarray(b * H, (b + 1) * H), (t * B + b) * 2 * H);
      y.set(or.subarray(b * H, (b + 1) * H), (t * B + b) * 2 * H + H);
    }
  }
  const hN = concat(finalH(fwd), finalH(rev));
  const cN = cell.hasC ? concat(finalC(fwd), finalC(rev)) : new Float64Array(0);
  return { fwd, rev, y, hN, cN };
}

/** Backward of `manualBidirectional`; returns dL/dx (T, B, In) and dh0, dc0 (2, B, H). */
function manualBidirectionalBackward(
  cell: Cell,
  pf: CellParams,
  pr: CellParams,
  dpf: CellParams,
  dpr: CellParams,
  run: ReturnType<typeof manualBidirectional>,
  In: number,
  dy: FloatArray,
  dhN: FloatArray,
  dcN: FloatArray | null,
) {
  const BH = B * H;
  const dyf = new Float64Array(T * BH);
  const dyr = new Float64Array(T * BH);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const row = (t * B + b) * 2 * H;
      dyf.set(dy.subarray(row, row + H), (t * B + b) * H);
      dyr.set(dy.subarray(row + H, row + 2 * H), ((T - 1 - t) * B + b) * H); // reversed time
    }
  }
  const dxf = new Float64Array(T * B * In);
  const dxr = new Float64Array(T * B * In);
  const gf = unrollBackward(jsBackend, cell, pf, dpf, "float64", run.fwd, dyf, dhN.subarray(0, BH), dcN ? dcN.subarray(0, BH) : null, dxf);
  const gr = unrollBackward(jsBackend, cell, pr, dpr, "float64", run.rev, dyr, dhN.subarray(BH), dcN ? dcN.subarray(BH) : null, dxr);
  const dxrBack = reverseTime(dxr, T, B * In);
  const dx = dxf.map((v, i) => v + dxrBack[i]);
  return { dx, dh0: concat(gf.dh0, gr.dh0), dc0: concat(gf.dc0, gr.dc0) };
}

describe("a bidirectional stack equals running the reversed sequence by hand", () => {
  let seed = 1100;
  for (const name of CELLS) {
    const caseSeed = seed++;
    it(`2-layer bidirectional ${name}: outputs, final states and every gradient`, () => {
      const s = makeStack(name, 2, true, caseSeed);
      const { cell, dirs } = s.r;
      const S1 = 2 * B * H; // states of one layer
      const pass = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0);
      const l0 = manualBidirectional(cell, dirs[0], dirs[1], s.x, I, s.h0.subarray(0, S1), s.c0 ? s.c0.subarray(0, S1) : null);
      const l1 = manualBidirectional(cell, dirs[2], dirs[3], l0.y, 2 * H, s.h0.subarray(S1), s.c0 ? s.c0.subarray(S1) : null);
      expectClose(pass.y, l1.y, SAME, "y");
      expectClose(pass.hN, concat(l0.hN, l1.hN), SAME, "hN");
      if (cell.hasC) expectClose(pass.cN, concat(l0.cN, l1.cN), SAME, "cN");

      const got = recurrentBackward(jsBackend, s.r, s.g, "float64", pass, s.wy, s.wh, s.wc);
      const manualGrads = mirrorArena(s.params);
      const gd = bindRecurrent(s.config, manualGrads).dirs;
      const wc = s.wc;
      const b1 = manualBidirectionalBackward(cell, dirs[2], dirs[3], gd[2], gd[3], l1, 2 * H, s.wy, s.wh.subarray(S1), wc ? wc.subarray(S1) : null);
      const b0 = manualBidirectionalBackward(cell, dirs[0], dirs[1], gd[0], gd[1], l0, I, b1.dx, s.wh.subarray(0, S1), wc ? wc.subarray(0, S1) : null);
      expect(arenaMismatches(s.grads, manualGrads, REORDERED)).toEqual([]);
      expectClose(got.dx, b0.dx, REORDERED, "dx");
      expectClose(got.dh0, concat(b0.dh0, b1.dh0), REORDERED, "dh0");
      if (cell.hasC) expectClose(got.dc0, concat(b0.dc0, b1.dc0), REORDERED, "dc0");
    });
  }
});

describe("a batch of B equals B runs of batch 1", () => {
  const cases = [
    { name: "lstm", bidirectional: false },
    { name: "lstm-peephole", bidirectional: true },
    { name: "gru", bidirectional: false },
    { name: "gru-cho", bidirectional: true },
    { name: "rnn-tanh", bidirectional: false },
    { name: "rnn-relu", bidirectional: true },
  ];
  let seed = 1200;
  for (const { name, bidirectional } of cases) {
    const caseSeed = seed++;
    it(`2-layer ${bidirectional ? "bidirectional " : ""}${name}: outputs, final states, input gradients, summed parameter gradients`, () => {
      const s = makeStack(name, 2, bidirectional, caseSeed);
      const LD = 2 * s.D;
      const DH = s.D * H;
      const { hasC } = s.r.cell;
      const pass = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0);
      const got = recurrentBackward(jsBackend, s.r, s.g, "float64", pass, s.wy, s.wh, s.wc);
      const summed = mirrorArena(s.params); // every run of 1 adds into the same buffers
      const gs = bindRecurrent(s.config, summed);
      for (let b = 0; b < B; b++) {
        const h0 = batchSlice(s.h0, LD, B, H, b);
        const c0 = s.c0 ? batchSlice(s.c0, LD, B, H, b) : null;
        const one = recurrentForward(jsBackend, s.r, "float64", batchSlice(s.x, T, B, I, b), T, 1, h0, c0);
        expectClose(one.y, batchSlice(pass.y, T, B, DH, b), SAME, `y of batch element ${b}`);
        expectClose(one.hN, batchSlice(pass.hN, LD, B, H, b), SAME, `hN of batch element ${b}`);
        if (hasC) expectClose(one.cN, batchSlice(pass.cN, LD, B, H, b), SAME, `cN of batch element ${b}`);
        const g1 = recurrentBackward(
          jsBackend,
          s.r,
          gs,
          "float64",
          one,
          batchSlice(s.wy, T, B, DH, b),
          batchSlice(s.wh, LD, B, H, b),
          s.wc ? batchSlice(s.wc, LD, B, H, b) : null,
        );
        expectClose(g1.dx, batchSlice(got.dx, T, B, I, b), REORDERED, `dx of batch element ${b}`);
        expectClose(g1.dh0, batchSlice(got.dh0, LD, B, H, b), REORDERED, `dh0 of batch element ${b}`);
        if (hasC) expectClose(g1.dc0, batchSlice(got.dc0, LD, B, H, b), REORDERED, `dc0 of batch element ${b}`);
      }
      expect(arenaMismatches(summed, s.grads, REORDERED)).toEqual([]);
    });
  }
});

describe("two truncated chunks equal one chunk", () => {
  const T1 = 3;
  const T2 = T - T1;
  let seed = 1300;
  for (const name of ["lstm", "lstm-peephole-coupled", "gru", "gru-cho", "rnn-relu"]) {
    const caseSeed = seed++;
    it(`2-layer ${name} stack: outputs and final states; dL/dh0 of chunk 2 carried into chunk 1 gives full BPTT`, () => {
      const s = makeStack(name, 2, false, caseSeed);
      const { hasC } = s.r.cell;
      const BI = B * I;
      const BH = B * H;
      const full = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0);
      const p1 = recurrentForward(jsBackend, s.r, "float64", rows(s.x, 0, T1, BI), T1, B, s.h0, s.c0);
      const p2 = recurrentForward(jsBackend, s.r, "float64", rows(s.x, T1, T, BI), T2, B, p1.hN, hasC ? p1.cN : null);
      expectClose(concat(p1.y, p2.y), full.y, SAME, "y");
      expectClose(p2.hN, full.hN, SAME, "hN");
      if (hasC) expectClose(p2.cN, full.cN, SAME, "cN");

      const gFull = recurrentBackward(jsBackend, s.r, s.g, "float64", full, s.wy, s.wh, s.wc);
      const chunked = mirrorArena(s.params);
      const gc = bindRecurrent(s.config, chunked);
      const g2 = recurrentBackward(jsBackend, s.r, gc, "float64", p2, rows(s.wy, T1, T, BH), s.wh, s.wc);
      const g1 = recurrentBackward(jsBackend, s.r, gc, "float64", p1, rows(s.wy, 0, T1, BH), g2.dh0, hasC ? g2.dc0 : null);
      expect(arenaMismatches(chunked, s.grads, REORDERED)).toEqual([]);
      expectClose(concat(g1.dx, g2.dx), gFull.dx, REORDERED, "dx");
      expectClose(g1.dh0, gFull.dh0, REORDERED, "dh0");
      if (hasC) expectClose(g1.dc0, gFull.dc0, REORDERED, "dc0");
    });
  }

  const lmCases: { cell: string; embedSize: number }[] = [
    { cell: "lstm", embedSize: 3 },
    { cell: "gru", embedSize: 0 },
    { cell: "lstm-coupled", embedSize: 0 },
    { cell: "rnn-tanh", embedSize: 3 },
  ];
  for (const { cell, embedSize } of lmCases) {
    const caseSeed = seed++;
    it(`languageModelForward, 2-layer ${cell}, ${embedSize > 0 ? "embedding" : "one-hot"} input: logits and carried state`, () => {
      const { model, tokens } = makeLanguageModel(cell, embedSize, 0, "float64", caseSeed);
      const full = languageModelForward(jsBackend, model, tokens, T, B, null);
      const p1 = languageModelForward(jsBackend, model, tokens.subarray(0, T1 * B), T1, B, null);
      const p2 = languageModelForward(jsBackend, model, tokens.subarray(T1 * B), T2, B, p1.state);
      expectClose(concat(p1.logits, p2.logits), full.logits, SAME, "logits");
      expectClose(p2.state.h, full.state.h, SAME, "state h");
      if (full.state.c) expectClose(p2.state.c!, full.state.c, SAME, "state c");
      // and the carried state matters: starting chunk 2 from zeros gives other logits
      const fresh = languageModelForward(jsBackend, model, tokens.subarray(T1 * B), T2, B, null);
      expect(maxAbsDiff(fresh.logits, p2.logits)).toBeGreaterThan(1e-6);
    });
  }
});

describe("token input (a table of rows read by id) equals the dense rows", () => {
  // unroll.ts "Token input": XP gathered from P = table W_ihᵀ + b_ih, gradients grouped by token.
  const V = 6;
  const cases: { cell: string; bidirectional: boolean; oneHot: boolean }[] = [
    { cell: "lstm", bidirectional: true, oneHot: false },
    { cell: "gru", bidirectional: false, oneHot: false },
    { cell: "lstm-peephole-coupled", bidirectional: false, oneHot: true },
    { cell: "rnn-relu", bidirectional: true, oneHot: true },
  ];
  let seed = 1500;
  for (const { cell, bidirectional, oneHot: hot } of cases) {
    const caseSeed = seed++;
    it(`2-layer ${cell}${bidirectional ? ", bidirectional" : ""}, ${hot ? "one-hot" : "embedding table"}: outputs, states, every gradient`, () => {
      const rng = Rng.seeded(caseSeed);
      const width = hot ? V : I;
      const config: RecurrentConfig = { cell: parseCell(cell), inputSize: width, hiddenSize: H, numLayers: 2, bidirectional, dropout: 0 };
      const params = createArena("float64", recurrentSpecs(config));
      fillUniform(params.data, rng);
      const r = bindRecurrent(config, params);
      const D = bidirectional ? 2 : 1;
      const S = 2 * D * B * H;
      const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
      ids[0] = 0; // a token that occurs more than once, and (V > T·B / 3) likely some that never do
      ids[1] = 0;
      const table = hot ? null : randomF64(V * I, rng, 1);
      const rowsOf = new Float64Array(T * B * width);
      for (let n = 0; n < T * B; n++) {
        if (table) rowsOf.set(table.subarray(ids[n] * I, (ids[n] + 1) * I), n * I);
        else rowsOf[n * V + ids[n]] = 1;
      }
      const h0 = randomF64(S, rng);
      const c0 = r.cell.hasC ? randomF64(S, rng) : null;
      const wy = randomF64(T * B * D * H, rng, 1);
      const wh = randomF64(S, rng, 1);
      const wc = r.cell.hasC ? randomF64(S, rng, 1) : null;

      const dense = recurrentForward(jsBackend, r, "float64", rowsOf, T, B, h0, c0);
      const tokens = recurrentForward(jsBackend, r, "float64", { ids, table, V }, T, B, h0, c0);
      expectClose(tokens.y, dense.y, SAME, "y");
      expectClose(tokens.hN, dense.hN, SAME, "hN");
      if (c0) expectClose(tokens.cN, dense.cN, SAME, "cN");

      const gDense = mirrorArena(params);
      const gTokens = mirrorArena(params);
      const a = recurrentBackward(jsBackend, r, bindRecurrent(config, gDense), "float64", dense, wy, wh, wc);
      const b = recurrentBackward(jsBackend, r, bindRecurrent(config, gTokens), "float64", tokens, wy, wh, wc);
      expect(arenaMismatches(gTokens, gDense, REORDERED)).toEqual([]);
      expectClose(b.dh0, a.dh0, SAME, "dh0");
      if (table) {
        // dL/d(table) is the dense dL/dx scattered by token id
        const dTable = new Float64Array(V * I);
        embeddingBackward(a.dx, ids, I, dTable);
        expectClose(b.dx, dTable, REORDERED, "d table");
      } else expect(b.dx).toHaveLength(0);
    });
  }

  it("a language model sampling with kept projection tables gives the logits of a plain pass", () => {
    for (const embedSize of [0, 3]) {
      const { model, tokens } = makeLanguageModel("lstm", embedSize, 0, "float64", 1600 + embedSize);
      const projections = languageModelInputProjections(jsBackend, model);
      const plain = languageModelForward(jsBackend, model, tokens.subarray(0, 1), 1, 1, null);
      expect(plain.e === null).toBe(embedSize === 0); // one token against V = 5: embedded rows, unless one-hot
      const kept = languageModelForward(jsBackend, model, tokens.subarray(0, 1), 1, 1, null, { inputProjections: projections });
      expect(kept.e).toBeNull();
      expectClose(kept.logits, plain.logits, SAME, `logits, embedSize ${embedSize}`);
    }
  });
});

/** A language model with uniform ±0.5 parameters and random tokens and targets. */
function makeLanguageModel(cell: string, embedSize: number, dropout: number, dtype: DType, seed: number) {
  const rng = Rng.seeded(seed);
  const V = 5;
  const config: LanguageModelConfig = { vocabSize: V, embedSize, cell: parseCell(cell), hiddenSize: H, numLayers: 2, dropout };
  const model: LanguageModel = createLanguageModel(config, dtype);
  fillUniform(model.params.data, rng);
  const tokens = Int32Array.from({ length: T * B }, () => rng.int(V));
  const targets = Int32Array.from({ length: T * B }, () => rng.int(V));
  return { model, tokens, targets, V };
}

describe("dropout between layers", () => {
  const p = 0.4;

  it("off (training false, or p = 0) changes nothing", () => {
    const s = makeStack("lstm", 3, false, 1400, p);
    const noDropout = bindRecurrent({ ...s.config, dropout: 0 }, s.params);
    const reference = recurrentForward(jsBackend, noDropout, "float64", s.x, T, B, s.h0, s.c0, { training: true, rng: Rng.seeded(5) });
    const runs: ForwardOptions[] = [{}, { training: false }, { training: false, rng: Rng.seeded(5) }];
    for (const opts of runs) {
      const pass = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0, opts);
      expect(pass.y).toEqual(reference.y);
      expect(pass.hN).toEqual(reference.hN);
      expect(pass.cN).toEqual(reference.cN);
      expect(pass.masks).toEqual([null, null]);
    }
  });

  it("on, with the same seed, is deterministic; another seed or eval mode gives other outputs", () => {
    const s = makeStack("gru", 3, true, 1401, p);
    const run = (opts: ForwardOptions) => recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, null, opts);
    const a = run({ training: true, rng: Rng.seeded(7) });
    const b = run({ training: true, rng: Rng.seeded(7) });
    expect(b.y).toEqual(a.y);
    expect(b.hN).toEqual(a.hN);
    expect(b.masks).toEqual(a.masks);
    expect(maxAbsDiff(run({ training: true, rng: Rng.seeded(8) }).y, a.y)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(run({ training: false }).y, a.y)).toBeGreaterThan(1e-3);
    // the masks are inverted dropout: 0 or 1/(1 − p), both present, about a fraction p of zeros
    expect(a.masks).toHaveLength(2);
    for (const m of a.masks) {
      expect(m).not.toBeNull();
      const zeros = m!.filter((v) => v === 0).length;
      expect(m!.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-15)).toBe(true);
      expect(zeros).toBeGreaterThan(0);
      expect(zeros).toBeLessThan(m!.length);
    }
    // requesting dropout without a generator is an error, not silent non-determinism
    expect(() => run({ training: true })).toThrow(/rng/);
  });

  for (const name of ["lstm-peephole", "gru-cho"]) {
    it(`finite differences with the mask held fixed (same seed per evaluation): 3-layer ${name}`, () => {
      const s = makeStack(name, 3, false, 1402, p);
      const opts = () => ({ training: true, rng: Rng.seeded(11) });
      const loss = () => {
        const pass = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0, opts());
        return dot(pass.y, s.wy) + dot(pass.hN, s.wh) + (s.wc ? dot(pass.cN, s.wc) : 0);
      };
      const pass = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0, opts());
      expect(pass.masks.every((m) => m !== null && m.includes(0))).toBe(true);
      const got = recurrentBackward(jsBackend, s.r, s.g, "float64", pass, s.wy, s.wh, s.wc);
      const tensors: Checked[] = [
        ...s.params.specs.map((sp) => ({ name: sp.name, x: view(s.params, sp.name), analytic: view(s.grads, sp.name) })),
        { name: "x", x: s.x, analytic: got.dx },
        { name: "h0", x: s.h0, analytic: got.dh0 },
      ];
      if (s.c0) tensors.push({ name: "c0", x: s.c0, analytic: got.dc0 });
      expect(failures(gradcheck(loss, tensors))).toEqual([]);
    });
  }

  it("finite differences with the mask held fixed: language model, 2-layer lstm", () => {
    const { model, tokens, targets } = makeLanguageModel("lstm", 3, p, "float64", 1403);
    const opts = () => ({ training: true, rng: Rng.seeded(12) });
    const loss = () => languageModelLoss(model, languageModelForward(jsBackend, model, tokens, T, B, null, opts()), targets, null);
    const pass = languageModelForward(jsBackend, model, tokens, T, B, null, opts());
    expect(pass.rnn.masks[0]).not.toBeNull();
    const dlogits = new Float64Array(pass.logits.length);
    languageModelLoss(model, pass, targets, dlogits);
    const grads = createGradients(model);
    languageModelBackward(jsBackend, model, grads, pass, dlogits);
    const tensors = model.params.specs.map((sp) => ({ name: sp.name, x: view(model.params, sp.name), analytic: view(grads, sp.name) }));
    expect(failures(gradcheck(loss, tensors))).toEqual([]);
    // and dropout is really on: eval mode gives another loss
    expect(Math.abs(languageModelLoss(model, languageModelForward(jsBackend, model, tokens, T, B, null), targets, null) - loss())).toBeGreaterThan(1e-6);
  });
});

describe("float32 agrees with float64 within float32 tolerance", () => {
  /** |a − b| ≤ 1e-4 · max|b| + 1e-6 per tensor: float32 rounding (6e-8) amplified by depth and T. */
  const close32 = (a: FloatArray, b: FloatArray, what: string) => {
    expect(a).toBeInstanceOf(Float32Array);
    expect(b).toBeInstanceOf(Float64Array);
    let mb = 0;
    for (const v of b) mb = Math.max(mb, Math.abs(v));
    const d = maxAbsDiff(a, b);
    expect(d, what).toBeLessThanOrEqual(1e-4 * mb + 1e-6);
    return d;
  };

  const stackCases = [
    { name: "lstm-peephole-coupled", bidirectional: true },
    { name: "gru-cho", bidirectional: true },
    { name: "gru", bidirectional: false },
    { name: "rnn-tanh", bidirectional: false },
  ];
  let seed = 1500;
  for (const { name, bidirectional } of stackCases) {
    const caseSeed = seed++;
    it(`2-layer ${bidirectional ? "bidirectional " : ""}${name} stack: outputs, states and every gradient`, () => {
      const s = makeStack(name, 2, bidirectional, caseSeed);
      const f32 = (a: FloatArray | null) => (a ? Float32Array.from(a) : null);
      const params32 = { ...s.params, dtype: "float32" as const, data: Float32Array.from(s.params.data) };
      const grads32 = mirrorArena(params32);
      const r32 = bindRecurrent(s.config, params32);
      const g32 = bindRecurrent(s.config, grads32);
      const pass64 = recurrentForward(jsBackend, s.r, "float64", s.x, T, B, s.h0, s.c0);
      const pass32 = recurrentForward(jsBackend, r32, "float32", f32(s.x)!, T, B, f32(s.h0), f32(s.c0));
      let total = close32(pass32.y, pass64.y, "y") + close32(pass32.hN, pass64.hN, "hN");
      const d64 = recurrentBackward(jsBackend, s.r, s.g, "float64", pass64, s.wy, s.wh, s.wc);
      const d32 = recurrentBackward(jsBackend, r32, g32, "float32", pass32, f32(s.wy), f32(s.wh), f32(s.wc));
      total += close32(d32.dx, d64.dx, "dx") + close32(d32.dh0, d64.dh0, "dh0");
      if (s.r.cell.hasC) total += close32(pass32.cN, pass64.cN, "cN") + close32(d32.dc0, d64.dc0, "dc0");
      for (const sp of s.params.specs) total += close32(view(grads32, sp.name), view(s.grads, sp.name), sp.name);
      expect(total).toBeGreaterThan(0); // float32 really rounded: the two paths are distinct
    });
  }

  it("language model, 2-layer lstm with embedding: logits, loss and every gradient", () => {
    const m64 = makeLanguageModel("lstm", 3, 0, "float64", 1510);
    const m32 = makeLanguageModel("lstm", 3, 0, "float32", 1510);
    expect(m32.model.params.data).toBeInstanceOf(Float32Array);
    expect(m32.tokens).toEqual(m64.tokens);
    const run = ({ model, tokens, targets }: typeof m64) => {
      const pass = languageModelForward(jsBackend, model, tokens, T, B, null);
      const dlogits = model.params.dtype === "float64" ? new Float64Array(pass.logits.length) : new Float32Array(pass.logits.length);
      const loss = languageModelLoss(model, pass, targets, dlogits);
      const grads = createGradients(model);
      languageModelBackward(jsBackend, model, grads, pass, dlogits);
      return { pass, loss, grads };
    };
    const a = run(m32);
    const b = run(m64);
    expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(b.loss));
    let total = close32(a.pass.logits, b.pass.logits, "logits");
    for (const sp of m64.model.params.specs) total += close32(view(a.grads, sp.name), view(b.grads, sp.name), sp.name);
    expect(total).toBeGreaterThan(0);
  });
});
