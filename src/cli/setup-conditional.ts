/**
 * `unroll train --task conditional`: a character language model whose initial state is learnt per
 * label (one-to-many generation from a condition), on a CSV/TSV/JSONL file of `label`, `text` or
 * the built-in first names conditioned on female/male. The report: validation/test loss in nats
 * per character, samples for every condition, and how well the likelihood under each condition
 * tells the labels apart (Bayes' rule, uniform prior) beside the majority baseline.
 */
import type { Backend } from "../backend/backend.js";
import { parseCell } from "../cells/cell.js";
import { readLabelledFile } from "../node/records.js";
import { firstNames } from "../node/task-corpora.js";
import { conditionalBatch, conditionalLoss, conditionalPredict, conditionalSample, createConditional, initConditional, type ConditionalBatch, type ConditionalConfig, type ConditionalModel } from "../tasks/conditional.js";
import { classIds, labelSet, type LabelledExample } from "../tasks/labelled.js";
import { classReport, majorityBaseline } from "../tasks/metrics.js";
import { stratifiedSplit } from "../tasks/split.js";
import type { TaskCheckpoint } from "../tasks/task-checkpoint.js";
import { lengthBatches } from "../tasks/tokens.js";
import type { TaskLoop } from "../tasks/trainer.js";
import { Rng } from "../tensor/random.js";
import { checkData, checkFingerprint, embedOf, fingerprint, loadCheckpointParams, pct, type TaskFlags, type TaskSetup } from "./task-util.js";

/** The sequence boundary: the token that starts and ends every text. */
export const BOUNDARY = "\n";

export interface ConditionalMeta {
  readonly vocab: readonly string[];
  readonly labels: readonly string[];
}

export function conditionalFromCheckpoint(ck: TaskCheckpoint): { model: ConditionalModel; meta: ConditionalMeta } {
  const meta = ck.meta as unknown as ConditionalMeta;
  const config = ck.config as unknown as ConditionalConfig;
  if (!Array.isArray(meta.vocab) || !Array.isArray(meta.labels) || meta.vocab.length !== config.vocabSize || meta.labels.length !== config.numConditions) {
    throw new Error("the checkpoint's vocabulary or labels do not fit its model; it is damaged");
  }
  const model = createConditional(config, ck.dtype);
  loadCheckpointParams(ck, model.params);
  return { model, meta };
}

/** Draws `n` texts for the condition `label`. */
export function sampleCondition(
  backend: Backend,
  model: ConditionalModel,
  meta: ConditionalMeta,
  label: string,
  n: number,
  rng: Rng,
  o: { temperature?: number; topK?: number; topP?: number; argmax?: boolean; maxLength?: number; prime?: string } = {},
): string[] {
  const c = meta.labels.indexOf(label);
  if (c < 0) throw new Error(`unknown condition "${label}"; this model knows ${meta.labels.map((l) => `"${l}"`).join(", ")}`);
  const index = new Map(meta.vocab.map((t, i) => [t, i]));
  const primeChars = Array.from(o.prime ?? "");
  const missing = primeChars.filter((ch) => !index.has(ch) || ch === BOUNDARY);
  if (missing.length > 0) throw new Error(`--prime holds ${missing.map((m) => JSON.stringify(m)).join(", ")}, never seen in training; use other characters`);
  const prime = Int32Array.from(primeChars, (ch) => index.get(ch)!);
  return Array.from({ length: n }, () =>
    Array.from(conditionalSample(backend, model, c, rng, { maxLength: o.maxLength ?? 40, temperature: o.temperature, topK: o.topK, topP: o.topP, argmax: o.argmax, prime }), (id) => meta.vocab[id]).join(""),
  );
}

export function conditionalSetup(f: TaskFlags, backend: Backend, resume?: TaskCheckpoint): TaskSetup {
  checkData(f, ["first-names"]);
  const examples: LabelledExample[] = f.data !== undefined ? readLabelledFile(f.data) : firstNames();
  const source = f.data !== undefined ? `file:${f.data}` : "corpus:first-names";
  for (const e of examples) {
    if (e.label === "") throw new Error(`${e.where}: empty label; every text needs the label it is conditioned on`);
    if (e.text.length === 0) throw new Error(`${e.where}: empty text; give a text to learn`);
    if (e.text.includes(BOUNDARY)) throw new Error(`${e.where}: the text holds a line break, which marks where texts end; give one-line texts`);
  }
  const fp = fingerprint(examples.flatMap((e) => [e.text, e.label]));
  checkFingerprint(resume, fp);
  const split = stratifiedSplit(examples.map((e) => e.label), f.valFrac, f.testFrac, Rng.seeded(f.seed));
  const train = split.train.map((i) => examples[i]);
  const val = split.val.map((i) => examples[i]);
  const test = split.test.map((i) => examples[i]);
  if (val.length === 0 || test.length === 0) throw new Error(`the ${val.length === 0 ? "validation" : "test"} split is empty: raise --val-frac/--test-frac or give more examples`);
  let model: ConditionalModel;
  let meta: ConditionalMeta;
  if (resume) ({ model, meta } = conditionalFromCheckpoint(resume));
  else {
    // Characters of every split: a held-out name may use a letter no training name has, and a
    // character model has no <unk>; the labels come from training only.
    const vocab = [BOUNDARY, ...[...new Set(examples.flatMap((e) => Array.from(e.text)))].sort()];
    meta = { vocab, labels: labelSet(train) };
    const config: ConditionalConfig = {
      vocabSize: vocab.length,
      embedSize: embedOf(f),
      cell: parseCell(f.cell),
      hiddenSize: f.hidden,
      numLayers: f.layers,
      dropout: f.dropout,
      numConditions: meta.labels.length,
      boundary: 0,
    };
    model = createConditional(config, f.dtype);
    initConditional(model, Rng.seeded(f.seed + 1), { forgetBias: f.forgetBias });
  }
  const index = new Map(meta.vocab.map((t, i) => [t, i]));
  const encode = (e: LabelledExample) =>
    Int32Array.from(Array.from(e.text), (ch) => {
      const id = index.get(ch);
      if (id === undefined) throw new Error(`${e.where}: character ${JSON.stringify(ch)} is not in the model's vocabulary`);
      return id;
    });
  const makeBatches = (es: readonly LabelledExample[], part: string, size: number, seed: number): ConditionalBatch[] => {
    const seqs = es.map(encode);
    const conds = classIds(es, meta.labels, part);
    return lengthBatches(seqs, size, Rng.seeded(seed)).map((idx) => conditionalBatch(model.config, idx.map((i) => seqs[i]), idx.map((i) => conds[i])));
  };
  const batches = makeBatches(train, "training", f.batch, f.seed ^ 0x5eed);
  const valBatches = makeBatches(val, "validation", 256, 1);
  const testBatches = makeBatches(test, "test", 256, 1);
  const meanLoss = (bs: readonly ConditionalBatch[]) => {
    let total = 0;
    let count = 0;
    for (const b of bs) {
      const r = conditionalLoss(backend, model, b, null);
      total += r.loss * r.count;
      count += r.count;
    }
    return total / count;
  };
  const trainIds = classIds(train, meta.labels, "training");
  const likelihoodReport = (es: readonly LabelledExample[]) => {
    const gold = classIds(es, meta.labels, "test");
    const pred = Int32Array.from(es, (e) => {
      const p = conditionalPredict(backend, model, encode(e));
      let best = 0;
      for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
      return best;
    });
    return { r: classReport(gold, pred, meta.labels), base: majorityBaseline(trainIds, gold, meta.labels) };
  };
  const loop: TaskLoop<ConditionalBatch> = {
    backend,
    params: model.params,
    batches,
    size: (b) => b.T * b.B,
    loss: (b, grads, rng) => conditionalLoss(backend, model, b, grads, { training: true, rng }),
    validate: () => ({ loss: meanLoss(valBatches), metrics: {} }),
  };
  return {
    task: "conditional",
    model,
    config: model.config as unknown as Record<string, unknown>,
    meta: { ...meta, fingerprint: fp, source, split: { train: train.length, val: val.length, test: test.length } },
    loop: loop as TaskLoop<unknown>,
    summary: `conditional LM on ${source}: ${train.length} training, ${val.length} validation, ${test.length} test texts; conditions ${meta.labels.join(", ")}; ${meta.vocab.length} characters (⏎ ends a text)`,
    report() {
      const testLoss = meanLoss(testBatches);
      const rng = Rng.seeded(f.seed + 7);
      const samples = Object.fromEntries(meta.labels.map((l) => [l, sampleCondition(backend, model, meta, l, 12, rng, { temperature: 0.8 })]));
      const trainSet = new Set(train.map((e) => e.text));
      const all = Object.values(samples).flat();
      const { r, base } = likelihoodReport(test);
      return {
        test: test.length,
        testLoss,
        testBitsPerChar: testLoss / Math.LN2,
        samples,
        novel: all.filter((s) => !trainSet.has(s)).length / all.length,
        byLikelihood: { accuracy: r.accuracy, macroF1: r.macroF1, baselineAccuracy: base.accuracy },
      };
    },
    describe(r) {
      const b = r.byLikelihood as { accuracy: number; macroF1: number; baselineAccuracy: number };
      return [
        `test (${r.test} texts): ${(r.testLoss as number).toFixed(4)} nats per character (${(r.testBitsPerChar as number).toFixed(3)} bits)`,
        `the condition that makes a test text likeliest is its label for ${pct(b.accuracy)} (macro-F1 ${pct(b.macroF1)}; majority baseline ${pct(b.baselineAccuracy)})`,
        ...Object.entries(r.samples as Record<string, string[]>).map(([l, s]) => `samples, ${l} (temperature 0.8): ${s.join(", ")}`),
        `${pct(r.novel)} of the samples are not names in the training split`,
      ];
    },
  };
}
