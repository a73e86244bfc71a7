/**
 * src/inspect: traces of states and gates, unit–pattern correlations, and the unrolled BPTT data.
 * The gates are checked against an independent float64 recomputation from the parameters in
 * PyTorch's layout, and every backward carry against central finite differences of it.
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import { languageModelInputProjections, createLanguageModel, languageModelForward, languageModelLoss, type LanguageModel, type RecurrentState } from "../src/model/language-model.js";
import type { TrainedModel } from "../src/model/trained.js";
import { view } from "../src/tensor/arena.js";
import type { DType } from "../src/tensor/dtype.js";
import { Workspace } from "../src/tensor/workspace.js";
import { Rng } from "../src/tensor/random.js";
import { buildCharVocabulary, buildVocabulary, encode } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";
import {
  patternOf,
  traceText,
  traceUnit,
  traceValues,
  tracePredictions,
  unitCorrelations,
  unrolledSteps,
  type TextTrace,
  type TraceQuantity,
} from "../src/inspect/index.js";

const CORPUS = 'hello world "quoted" (x)\n';
const js = getBackend("js");

function tiny(cell: string, dtype: DType = "float64", o: { embed?: number; layers?: number; H?: number; seed?: number } = {}): TrainedModel {
  const vocab = buildCharVocabulary(CORPUS);
  const model = createLanguageModel(
    { vocabSize: vocab.tokens.length, embedSize: o.embed ?? 4, cell: parseCell(cell), hiddenSize: o.H ?? 5, numLayers: o.layers ?? 2, dropout: 0 },
    dtype,
  );
  initLanguageModel(model, Rng.seeded(o.seed ?? 7));
  return { model, vocab };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

interface Perturb {
  readonly layer: number;
  readonly t: number;
  readonly q: "h" | "c";
  readonly j: number;
  readonly eps: number;
}

interface Reference {
  /** per layer (T, H) */ readonly h: Float64Array[];
  readonly c: Float64Array[];
  readonly gates: Record<string, Float64Array>[];
  /** (T, V) */ readonly logits: Float64Array;
  /** summed cross-entropy of every prediction */ readonly loss: number;
  /** the last prediction's */ readonly lastLoss: number;
}

/**
 * An independent float64 forward pass of a plain LSTM / PyTorch GRU / tanh RNN language model,
 * reading the parameters by their PyTorch names and layout: W_ih (G·H, I), W_hh (G·H, H) with row
 * blocks (i, f, g, o) or (r, z, n). `perturb` adds eps to h_t (after it is computed: it feeds the
 * next step and what reads the layer) or c_t (before h_t = o ⊙ tanh(c_t) is computed).
 */
function reference(model: LanguageModel, ids: Int32Array, perturb?: Perturb): Reference {
  const c = model.config;
  const H = c.hiddenSize;
  const V = c.vocabSize;
  const T = ids.length;
  const kind = c.cell.kind;
  const G = kind === "lstm" ? 4 : kind === "gru" ? 3 : 1;
  const get = (name: string) => Float64Array.from(view(model.params, name));
  let input: Float64Array; // (T, I)
  let I: number;
  if (c.embedSize > 0) {
    I = c.embedSize;
    const E = get("embedding.weight");
    input = new Float64Array(T * I);
    for (let t = 0; t < T; t++) input.set(E.subarray(ids[t] * I, (ids[t] + 1) * I), t * I);
  } else {
    I = V;
    input = new Float64Array(T * V);
    for (let t = 0; t < T; t++) input[t * V + ids[t]] = 1;
  }
  const hs: Float64Array[] = [];
  const cs: Float64Array[] = [];
  const gates: Record<string, Float64Array>[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const Wih = get(`${kind}.weight_ih_l${l}`);
    const Whh = get(`${kind}.weight_hh_l${l}`);
    const bih = get(`${kind}.bias_ih_l${l}`);
    const bhh = get(`${kind}.bias_hh_l${l}`);
    const hOut = new Float64Array(T * H);
    const cOut = new Float64Array(T * H);
    const names = kind === "lstm" ? ["i", "f", "g", "o"] : kind === "gru" ? ["r", "z", "n"] : [];
    const gl: Record<string, Float64Array> = {};
    for (const q of names) gl[q] = new Float64Array(T * H);
    let h = new Float64Array(H);
    let cc = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const ai = new Float64Array(G * H); // W_ih x + b_ih
      const ah = new Float64Array(G * H); // W_hh h + b_hh
      for (let r = 0; r < G * H; r++) {
        let s = bih[r];
        for (let k = 0; k < I; k++) s += Wih[r * I + k] * input[t * I + k];
        ai[r] = s;
        let u = bhh[r];
        for (let k = 0; k < H; k++) u += Whh[r * H + k] * h[k];
        ah[r] = u;
      }
      const hn = new Float64Array(H);
      const cn = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        if (kind === "lstm") {
          const i = sigmoid(ai[j] + ah[j]);
          const f = sigmoid(ai[H + j] + ah[H + j]);
          const g = Math.tanh(ai[2 * H + j] + ah[2 * H + j]);
          const o = sigmoid(ai[3 * H + j] + ah[3 * H + j]);
          cn[j] = f * cc[j] + i * g;
          if (perturb && perturb.q === "c" && perturb.layer === l && perturb.t === t && perturb.j === j) cn[j] += perturb.eps;
          hn[j] = o * Math.tanh(cn[j]);
          gl.i[t * H + j] = i;
          gl.f[t * H + j] = f;
          gl.g[t * H + j] = g;
          gl.o[t * H + j] = o;
        } else if (kind === "gru") {
          const r = sigmoid(ai[j] + ah[j]);
          const z = sigmoid(ai[H + j] + ah[H + j]);
          const n = Math.tanh(ai[2 * H + j] + r * ah[2 * H + j]);
          hn[j] = (1 - z) * n + z * h[j];
          gl.r[t * H + j] = r;
          gl.z[t * H + j] = z;
          gl.n[t * H + j] = n;
        } else {
          hn[j] = Math.tanh(ai[j] + ah[j]);
        }
        if (perturb && perturb.q === "h" && perturb.layer === l && perturb.t === t && perturb.j === j) hn[j] += perturb.eps;
      }
      h = hn;
      cc = cn;
      hOut.set(h, t * H);
      cOut.set(cc, t * H);
    }
    hs.push(hOut);
    cs.push(cOut);
    gates.push(gl);
    input = hOut;
    I = H;
  }
  const W = get("linear.weight");
  const b = get("linear.bias");
  const top = hs[hs.length - 1];
  const logits = new Float64Array(T * V);
  let loss = 0;
  let lastLoss = 0;
  for (let t = 0; t < T; t++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      let s = b[v];
      for (let k = 0; k < H; k++) s += W[v * H + k] * top[t * H + k];
      logits[t * V + v] = s;
      max = Math.max(max, s);
    }
    if (t + 1 < T) {
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[t * V + v] - max);
      const nll = max + Math.log(sum) - logits[t * V + ids[t + 1]];
      loss += nll;
      if (t === T - 2) lastLoss = nll;
    }
  }
  return { h: hs, c: cs, gates, logits, loss, lastLoss };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max over t, j of the LSTM / GRU identities' residuals. */
function identityResiduals(trace: TextTrace, l: number): { c: number; h: number } {
  const T = trace.steps;
  const H = trace.hiddenSize;
  const v = (q: TraceQuantity) => traceValues(trace, l, q);
  let rc = 0;
  let rh = 0;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < H; j++) {
      const n = t * H + j;
      const hPrev = t > 0 ? v("h")[n - H] : 0;
      if (trace.cell.kind === "lstm") {
        const cPrev = t > 0 ? v("c")[n - H] : 0;
        rc = Math.max(rc, Math.abs(v("c")[n] - (v("f")[n] * cPrev + v("i")[n] * v("g")[n])));
        rh = Math.max(rh, Math.abs(v("h")[n] - v("o")[n] * Math.tanh(v("c")[n])));
      } else if (trace.cell.kind === "gru") {
        rh = Math.max(rh, Math.abs(v("h")[n] - ((1 - v("z")[n]) * v("n")[n] + v("z")[n] * hPrev)));
      }
    }
  }
  return { c: rc, h: rh };
}

const TEXT = 'he told "hello (world)"\nou';

describe("traceText", () => {
  for (const [cell, embed] of [
    ["lstm", 4],
    ["gru", 0],
    ["rnn", 4],
  ] as const) {
    it(`${cell} (${embed ? "embedding" : "one-hot"}): states and gates equal an independent recomputation in PyTorch's layout, and the library's forward`, () => {
      const lm = tiny(cell, "float64", { embed });
      const trace = traceText(lm, TEXT);
      const ids = encode(lm.vocab, TEXT);
      expect(Array.from(trace.ids)).toEqual(Array.from(ids));
      expect(trace.tokens.join("")).toBe(TEXT);
      expect(trace.unknown).toBe(0);
      expect(trace.quantities).toEqual(cell === "lstm" ? ["h", "c", "i", "f", "g", "o"] : cell === "gru" ? ["h", "r", "z", "n"] : ["h"]);
      const ref = reference(lm.model, ids);
      for (let l = 0; l < 2; l++) {
        expect(maxDiff(traceValues(trace, l, "h"), ref.h[l])).toBeLessThan(1e-12);
        if (cell === "lstm") expect(maxDiff(traceValues(trace, l, "c"), ref.c[l])).toBeLessThan(1e-12);
        for (const q of Object.keys(ref.gates[l]) as TraceQuantity[]) expect(maxDiff(traceValues(trace, l, q), ref.gates[l][q])).toBeLessThan(1e-12);
        for (const q of trace.quantities) expect(traceValues(trace, l, q)).toBeInstanceOf(Float64Array);
      }
      // the whole-sequence forward, batch 1: its last layer's output is the traced h
      const pass = languageModelForward(js, lm.model, ids, ids.length, 1, null);
      expect(maxDiff(traceValues(trace, 1, "h"), pass.rnn.y)).toBe(0);
      // predictions: the reference softmax
      const V = lm.model.config.vocabSize;
      let sumLoss = 0;
      for (let t = 0; t < trace.steps; t++) {
        const z = ref.logits.subarray(t * V, (t + 1) * V);
        const m = Math.max(...z);
        const s = z.reduce((a, x) => a + Math.exp(x - m), 0);
        const p = Array.from(z, (x) => Math.exp(x - m) / s);
        const order = p.map((x, i) => [x, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
        const top = tracePredictions(trace, t);
        expect(top.length).toBe(5);
        top.forEach((pr, r) => {
          expect(pr.id).toBe(order[r][1]);
          expect(pr.token).toBe(lm.vocab.tokens[pr.id]);
          expect(Math.abs(pr.p - order[r][0])).toBeLessThan(1e-12);
        });
        if (t + 1 < trace.steps) {
          expect(Math.abs(trace.nextProb[t]! - p[ids[t + 1]])).toBeLessThan(1e-12);
          expect(Math.abs(trace.nextLoss[t]! + Math.log(p[ids[t + 1]]))).toBeLessThan(1e-12);
          sumLoss += trace.nextLoss[t]!;
        } else {
          expect(trace.nextProb[t]).toBeNull();
          expect(trace.nextLoss[t]).toBeNull();
        }
      }
      expect(Math.abs(sumLoss - ref.loss)).toBeLessThan(1e-10);
      const targets = new Int32Array(ids.length).fill(-100);
      targets.set(ids.subarray(1));
      expect(Math.abs(trace.loss! - languageModelLoss(lm.model, pass, targets, null))).toBeLessThan(1e-12);
    });
  }

  it("gives the states sampling has: one step at a time with the state carried, as sampleTokens steps", () => {
    for (const cell of ["lstm", "gru", "rnn"]) {
      const lm = tiny(cell);
      const trace = traceText(lm, TEXT);
      const H = 5;
      const inputProjections = languageModelInputProjections(js, lm.model);
      const ws = new Workspace();
      let state: RecurrentState | null = null;
      let worst = 0;
      for (let t = 0; t < trace.steps; t++) {
        ws.reset();
        const pass = languageModelForward(js, lm.model, trace.ids.subarray(t, t + 1), 1, 1, state, { inputProjections, workspace: ws });
        state = pass.state;
        for (let l = 0; l < 2; l++) worst = Math.max(worst, maxDiff(state.h.subarray(l * H, (l + 1) * H), traceValues(trace, l, "h").subarray(t * H, (t + 1) * H)));
        if (state.c) for (let l = 0; l < 2; l++) worst = Math.max(worst, maxDiff(state.c.subarray(l * H, (l + 1) * H), traceValues(trace, l, "c").subarray(t * H, (t + 1) * H)));
      }
      expect(worst).toBeLessThan(1e-12);
    }
  });

  it("gate values satisfy the cell's equations, every variant, float64 to 1e-12 and float32 to 1e-6", () => {
    for (const cell of ["lstm", "lstm-peephole", "lstm-coupled", "lstm-peephole-coupled", "gru", "gru-cho"]) {
      for (const dtype of ["float64", "float32"] as const) {
        const lm = tiny(cell, dtype, { seed: 3 });
        const trace = traceText(lm, TEXT + TEXT);
        const tol = dtype === "float64" ? 1e-12 : 1e-6;
        for (let l = 0; l < 2; l++) {
          const r = identityResiduals(trace, l);
          expect(r.c).toBeLessThan(tol);
          expect(r.h).toBeLessThan(tol);
          if (cell.includes("coupled")) expect(maxDiff(traceValues(trace, l, "i"), Array.from(traceValues(trace, l, "f"), (f) => 1 - f))).toBeLessThan(tol);
          for (const q of trace.quantities) expect(traceValues(trace, l, q)).toBeInstanceOf(dtype === "float64" ? Float64Array : Float32Array);
        }
      }
    }
  });

  it("skips and counts unknown characters; the trace is that of the known ones", () => {
    const lm = tiny("lstm");
    const a = traceText(lm, "hel~lo§ wo😀rld");
    const b = traceText(lm, "hello world");
    expect(a.unknown).toBe(3);
    expect(b.unknown).toBe(0);
    expect(a.tokens).toEqual(b.tokens);
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    expect(maxDiff(traceValues(a, 1, "h"), traceValues(b, 1, "h"))).toBe(0);
  });

  it("errors clearly on an empty text, a text with no known character, a bad option or accessor", () => {
    const lm = tiny("gru");
    expect(() => traceText(lm, "")).toThrow(/the text is empty/);
    expect(() => traceText(lm, "ZZZ~~")).toThrow(/none of the characters of the text are in the model's vocabulary; all 5 are unknown/);
    expect(() => traceText(lm, "hello", { topK: 0 })).toThrow(/topK must be a positive integer/);
    const trace = traceText(lm, "hello");
    expect(() => traceValues(trace, 0, "c")).toThrow(/a gru trace has no quantity "c"; it records h, r, z, n/);
    expect(() => traceValues(trace, 2, "h")).toThrow(/layer 2 is not one of the model's layers 0…1/);
    expect(() => traceUnit(trace, 0, "h", 5)).toThrow(/unit 5/);
    expect(() => tracePredictions(trace, 5)).toThrow(/step 5/);
  });

  it("accessors, top-k bounds, determinism and a word-level model", () => {
    const lm = tiny("rnn", "float32");
    const trace = traceText(lm, "hello", { topK: 100 });
    expect(trace.topK).toBe(lm.vocab.tokens.length);
    const tp = tracePredictions(trace, 0);
    expect(tp.reduce((s, p) => s + p.p, 0)).toBeCloseTo(1, 12);
    for (let r = 1; r < tp.length; r++) expect(tp[r].p).toBeLessThanOrEqual(tp[r - 1].p);
    const u = traceUnit(trace, 1, "h", 3);
    const all = traceValues(trace, 1, "h");
    expect(Array.from(u)).toEqual(Array.from({ length: 5 }, (_, t) => all[t * 5 + 3]));
    expect(traceText(lm, "hello", { topK: 100 })).toEqual(trace);
    expect(structuredClone(trace)).toEqual(trace); // plain data: can cross a worker boundary

    const vocab = buildVocabulary("the cat sat on the mat\n", { level: "word" });
    const model = createLanguageModel({ vocabSize: vocab.tokens.length, embedSize: 3, cell: parseCell("lstm"), hiddenSize: 4, numLayers: 1, dropout: 0 }, "float64");
    initLanguageModel(model, Rng.seeded(1));
    const wt = traceText({ model, vocab }, "the dog sat");
    expect(wt.tokens).toEqual(["the", " <unk>", " sat"]);
    expect(wt.unknown).toBe(1);
    expect(tracePredictions(wt, 0)[0].token.length).toBeGreaterThan(0);
  });
});

describe("patternOf", () => {
  const vals = (s: string, k: Parameters<typeof patternOf>[1]) => Array.from(patternOf(s, k));

  it("inside-quotes: the opening quote is inside, the closing one outside, across lines", () => {
    expect(vals('a"b\nc"d"e', "inside-quotes")).toEqual([0, 1, 1, 1, 1, 0, 0, 1, 1]);
    expect(vals("no quotes", "inside-quotes").every((x) => x === 0)).toBe(true);
    // typographic quotes: “ opens, ” closes (Moby Dick's), whatever came before
    expect(vals("a“b”c”d“e", "inside-quotes")).toEqual([0, 1, 1, 0, 0, 0, 0, 1, 1]);
  });

  it("inside-parens and paren-depth, nested and with an unmatched closer", () => {
    expect(vals("a(b(c)d)e)f(", "inside-parens")).toEqual([0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    expect(vals("a(b(c)d)e)f(", "paren-depth")).toEqual([0, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1]);
    expect(vals("((x))", "paren-depth")).toEqual([1, 2, 2, 1, 0]);
  });

  it("line-position, vowel, whitespace, uppercase", () => {
    expect(vals("ab\ncde\n\nf", "line-position")).toEqual([1, 2, 0, 1, 2, 3, 0, 0, 1]);
    expect(vals("Héllo Ü y", "vowel")).toEqual([0, 1, 0, 0, 1, 0, 1, 0, 0]);
    expect(vals("a b\tc\nd", "whitespace")).toEqual([0, 1, 0, 1, 0, 1, 0]);
    expect(vals("aBcÉ1", "uppercase")).toEqual([0, 1, 0, 1, 0]);
  });

  it("regex: characters inside a match, by code point (astral characters are one step)", () => {
    expect(vals("if x then 😀y if", "regex:\\bif\\b")).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(vals("a😀😀b", "regex:😀+")).toEqual([0, 1, 1, 0]);
    expect(vals("aAbB", /b/i)).toEqual([0, 0, 1, 1]);
    expect(vals("abc", "regex:x*")).toEqual([0, 0, 0]); // empty matches mark nothing
    expect(() => patternOf("abc", "regex:(")).toThrow(/not a valid regular expression/);
    expect(() => patternOf("abc", "nonsense" as never)).toThrow(/unknown pattern "nonsense"; choose one of: inside-quotes/);
  });

  it("tokens of several characters take the value at their last character; a trace gives its own tokens", () => {
    expect(Array.from(patternOf(["say", ' "hi', '"', " (a", ")"], "inside-quotes"))).toEqual([0, 1, 0, 0, 0]);
    const lm = tiny("lstm");
    const trace = traceText(lm, 'x"~o"e'); // ~ is unknown and skipped
    expect(Array.from(patternOf(trace, "inside-quotes"))).toEqual([0, 1, 1, 0, 0]);
  });
});

describe("unitCorrelations", () => {
  it("a unit that equals the pattern comes first with r = 1; sorted by |r|; constant units get 0", () => {
    const lm = tiny("lstm");
    const text = 'he "quoted" told (hex) "eh" do';
    const base = traceText(lm, text);
    const T = base.steps;
    const H = base.hiddenSize;
    const pattern = patternOf(base, "inside-quotes");
    const rng = Rng.seeded(5);
    const h = new Float64Array(T * H);
    for (let t = 0; t < T; t++) {
      h[t * H + 0] = -pattern[t] + 0.3 * rng.uniform(); // strongly anti-correlated
      h[t * H + 1] = rng.uniform();
      h[t * H + 2] = 2 * pattern[t] - 0.5; // the pattern, affinely
      h[t * H + 3] = 0.25; // constant
      h[t * H + 4] = rng.uniform();
    }
    const trace: TextTrace = { ...base, layers: [base.layers[0], { ...base.layers[1], h }] };
    const r = unitCorrelations(trace, pattern);
    expect(r[0].unit).toBe(2);
    expect(r[0].r).toBeCloseTo(1, 12);
    expect(r[1].unit).toBe(0);
    expect(r[1].r).toBeLessThan(-0.9);
    expect(r[r.length - 1]).toEqual({ unit: 3, r: 0 });
    for (let k = 1; k < r.length; k++) expect(Math.abs(r[k].r)).toBeLessThanOrEqual(Math.abs(r[k - 1].r));
    expect(r.map((x) => x.unit).sort()).toEqual([0, 1, 2, 3, 4]);
    // against a direct Pearson of unit 1
    const x = traceUnit(trace, 1, "h", 1);
    const mx = x.reduce((a, b) => a + b, 0) / T;
    const my = pattern.reduce((a, b) => a + b, 0) / T;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let t = 0; t < T; t++) {
      sxy += (x[t] - mx) * (pattern[t] - my);
      sxx += (x[t] - mx) ** 2;
      syy += (pattern[t] - my) ** 2;
    }
    expect(r.find((c) => c.unit === 1)!.r).toBeCloseTo(sxy / Math.sqrt(sxx * syy), 12);
  });

  it("reads any layer and quantity; NaN leaves steps out; errors on a length mismatch", () => {
    const lm = tiny("lstm");
    const trace = traceText(lm, TEXT);
    const T = trace.steps;
    const pattern = Array.from(patternOf(trace, "line-position"));
    const c0 = unitCorrelations(trace, pattern, { layer: 0, quantity: "c" });
    expect(c0.length).toBe(5);
    for (const x of c0) expect(Math.abs(x.r)).toBeLessThanOrEqual(1);
    // a NaN step changes nothing but leaves that step out
    const masked = pattern.slice();
    masked[3] = NaN;
    const keep = Array.from({ length: T }, (_, t) => t).filter((t) => t !== 3);
    const g = traceValues(trace, 0, "f");
    const sub: TextTrace = {
      ...trace,
      steps: T - 1,
      layers: [{ f: Float64Array.from(keep.flatMap((t) => Array.from(g.subarray(t * 5, (t + 1) * 5)))) }, trace.layers[1]],
    };
    const a = unitCorrelations(trace, masked, { layer: 0, quantity: "f" });
    const b = unitCorrelations(sub, keep.map((t) => pattern[t]), { layer: 0, quantity: "f" });
    expect(a.map((x) => x.unit)).toEqual(b.map((x) => x.unit));
    a.forEach((x, k) => expect(x.r).toBeCloseTo(b[k].r, 12));
    expect(() => unitCorrelations(trace, pattern.slice(1))).toThrow(/the pattern has \d+ values but the trace \d+ steps/);
    expect(() => unitCorrelations(trace, pattern, { quantity: "z" })).toThrow(/no quantity "z"/);
  });
});

describe("unrolledSteps", () => {
  const SHORT = 'he "x" (o)';

  for (const [cell, embed] of [
    ["lstm", 4],
    ["gru", 0],
    ["rnn", 4],
  ] as const) {
    it(`${cell}: ∂L/∂h_t${cell === "lstm" ? ", ∂L/∂c_t" : ""} of the summed and of the last loss equal central finite differences (relative error ≤ 1e-6)`, () => {
      const lm = tiny(cell, "float64", { embed, seed: 11 });
      const run = unrolledSteps(lm, SHORT);
      const ids = encode(lm.vocab, SHORT);
      const T = ids.length;
      const H = 5;
      const ref = reference(lm.model, ids);
      expect(Math.abs(run.loss - ref.loss)).toBeLessThan(1e-10);
      expect(Math.abs(run.lastLoss - ref.lastLoss)).toBeLessThan(1e-12);
      expect(run.steps.length).toBe(T);
      const eps = 1e-5;
      const qs: ("h" | "c")[] = cell === "lstm" ? ["h", "c"] : ["h"];
      let worst = 0;
      for (let l = 0; l < 2; l++) {
        for (const q of qs) {
          for (const last of [false, true]) {
            const g = last ? run.lastGrads : run.grads;
            const analytic = q === "h" ? g.dh[l] : g.dc![l];
            const fd = new Float64Array(T * H);
            for (let t = 0; t < T; t++) {
              for (let j = 0; j < H; j++) {
                const plus = reference(lm.model, ids, { layer: l, t, q, j, eps });
                const minus = reference(lm.model, ids, { layer: l, t, q, j, eps: -eps });
                fd[t * H + j] = ((last ? plus.lastLoss : plus.loss) - (last ? minus.lastLoss : minus.loss)) / (2 * eps);
              }
            }
            let scale = 0;
            for (const x of fd) scale = Math.max(scale, Math.abs(x));
            expect(scale).toBeGreaterThan(1e-3);
            const rel = maxDiff(analytic, fd) / scale;
            worst = Math.max(worst, rel);
            expect(rel).toBeLessThan(1e-6);
            if (last) expect(Array.from(analytic.subarray((T - 1) * H))).toEqual(new Array(H).fill(0)); // the last step predicts nothing
          }
        }
      }
      expect(worst).toBeLessThan(1e-6);
    });
  }

  it("per-step views agree with the trace, norms with the vectors; the losses with the trace", () => {
    const lm = tiny("lstm");
    const run = unrolledSteps(lm, SHORT, { topK: 3 });
    const H = 5;
    let sum = 0;
    run.steps.forEach((s, t) => {
      expect(s.t).toBe(t);
      expect(s.token).toBe(run.trace.tokens[t]);
      expect(s.targetToken).toBe(t + 1 < run.steps.length ? run.trace.tokens[t + 1] : null);
      expect(s.top.length).toBe(3);
      expect(s.loss).toBe(run.trace.nextLoss[t]);
      if (s.loss !== null) {
        expect(s.p).toBeCloseTo(Math.exp(-s.loss), 14);
        sum += s.loss;
      }
      s.layers.forEach((ly, l) => {
        expect(Array.from(ly.h)).toEqual(Array.from(traceValues(run.trace, l, "h").subarray(t * H, (t + 1) * H)));
        expect(Array.from(ly.gates.f!)).toEqual(Array.from(traceValues(run.trace, l, "f").subarray(t * H, (t + 1) * H)));
        expect(Object.keys(ly.gates).sort()).toEqual(["f", "g", "i", "o"]);
        expect(ly.dhNorm).toBeCloseTo(Math.hypot(...ly.dh), 14);
        expect(ly.dcNorm!).toBeCloseTo(Math.hypot(...ly.dc!), 14);
        expect(ly.dhLastNorm).toBeCloseTo(Math.hypot(...ly.dhLast), 14);
      });
    });
    expect(run.loss).toBeCloseTo(sum, 12);
    expect(run.lastLoss).toBe(run.steps[run.steps.length - 2].loss);
  });

  it("errors on a text with fewer than 2 known tokens; variants and float32 run", () => {
    const lm = tiny("gru");
    expect(() => unrolledSteps(lm, "h~~")).toThrow(/at least 2 known tokens/);
    expect(() => unrolledSteps(lm, "")).toThrow(/the text is empty; give unrolledSteps/);
    for (const cell of ["lstm-peephole", "lstm-coupled", "gru-cho", "rnn-relu"]) {
      const run = unrolledSteps(tiny(cell, "float32"), SHORT);
      for (const s of run.steps) for (const ly of s.layers) expect(Number.isFinite(ly.dhNorm)).toBe(true);
      expect(run.grads.dh[0]).toBeInstanceOf(Float32Array);
    }
  });
});
