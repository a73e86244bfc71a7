/**
 * `unroll train --task classify`: many-to-one sequence classification on a CSV/TSV/JSONL file
 * (`text`, `label`) or the built-in SpamAssassin corpus; a seeded stratified split; accuracy,
 * macro-F1, per-class precision/recall and the confusion matrix (printed, SVG, PNG) of the test
 * split beside the majority baseline.
 */
import type { Backend } from "../backend/backend.js";
import { balancedClassWeights } from "../layers/weighted-cross-entropy.js";
import { readLabelledFile } from "../node/records.js";
import { spamAssassin } from "../node/task-corpora.js";
import { confusionMatrixSvg } from "../plot/heatmap.js";
import { classifierLoss, classifierPredict, createClassifier, initClassifier, type ClassifierBatch, type ClassifierConfig, type ClassifierModel } from "../tasks/classifier.js";
import { classIds, labelSet, type LabelledExample } from "../tasks/labelled.js";
import { classReport, formatConfusion, majorityBaseline, type ClassReport } from "../tasks/metrics.js";
import { stratifiedSplit } from "../tasks/split.js";
import type { TaskCheckpoint } from "../tasks/task-checkpoint.js";
import { buildTokenVocab, encodeTokens, padTimeMajor, paddedBatches, tokenizeText } from "../tasks/tokens.js";
import type { TaskLoop } from "../tasks/trainer.js";
import { Rng } from "../tensor/random.js";
import { checkData, checkFingerprint, encoderOptions, fingerprint, loadCheckpointParams, pct, writePlot, type TaskFlags, type TaskSetup } from "./task-util.js";

/** What a classifier checkpoint keeps besides its config. */
export interface ClassifierMeta {
  readonly vocab: readonly string[];
  readonly labels: readonly string[];
  readonly level: "char" | "word";
  readonly lowercase: boolean;
  readonly maxLen: number;
}

/** Token ids of a text as the model reads it (at most maxLen tokens; an empty text reads as one <unk>). */
export function classifierInput(meta: ClassifierMeta, text: string, index?: Map<string, number>): Int32Array {
  const tokens = tokenizeText(text, meta.level, meta.lowercase).slice(0, meta.maxLen);
  return tokens.length === 0 ? Int32Array.of(0) : encodeTokens(meta.vocab, tokens, index);
}

/** The classifier and its meta from a checkpoint, checked. */
export function classifierFromCheckpoint(ck: TaskCheckpoint): { model: ClassifierModel; meta: ClassifierMeta } {
  const meta = ck.meta as unknown as ClassifierMeta;
  const config = ck.config as unknown as ClassifierConfig;
  if (!Array.isArray(meta.vocab) || !Array.isArray(meta.labels) || meta.vocab.length !== config.vocabSize || meta.labels.length !== config.numClasses) {
    throw new Error("the checkpoint's vocabulary or labels do not fit its model; it is damaged");
  }
  const model = createClassifier(config, ck.dtype);
  loadCheckpointParams(ck, model.params);
  return { model, meta };
}

/** Class probabilities of each text, (texts, K), batched by length. */
export function classifyTexts(backend: Backend, model: ClassifierModel, meta: ClassifierMeta, texts: readonly string[]): Float64Array[] {
  const index = new Map(meta.vocab.map((t, i) => [t, i]));
  const seqs = texts.map((t) => classifierInput(meta, t, index));
  const out = new Array<Float64Array>(texts.length);
  for (const idx of paddedBatches(seqs, 128, Rng.seeded(0))) {
    const { ids, T, B, lengths } = padTimeMajor(idx.map((i) => seqs[i]));
    const p = classifierPredict(backend, model, ids, T, B, lengths);
    const K = model.config.numClasses;
    idx.forEach((i, b) => (out[i] = p.slice(b * K, (b + 1) * K)));
  }
  return out;
}

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

function reportOf(r: ClassReport) {
  return { accuracy: r.accuracy, macroF1: r.macroF1, perClass: r.perClass, confusion: r.confusion };
}

export function classifySetup(f: TaskFlags, backend: Backend, resume?: TaskCheckpoint): TaskSetup {
  checkData(f, ["spam-assassin"]);
  const examples: LabelledExample[] = f.data !== undefined ? readLabelledFile(f.data) : spamAssassin();
  const source = f.data !== undefined ? `file:${f.data}` : "corpus:spam-assassin";
  for (const e of examples) if (e.label === "") throw new Error(`${e.where}: empty label; every example needs a label`);
  const fp = fingerprint(examples.flatMap((e) => [e.text, e.label]));
  checkFingerprint(resume, fp);
  const split = stratifiedSplit(examples.map((e) => e.label), f.valFrac, f.testFrac, Rng.seeded(f.seed));
  const part = (ix: readonly number[]) => ix.map((i) => examples[i]);
  const train = part(split.train);
  const val = part(split.val);
  const test = part(split.test);
  if (val.length === 0 || test.length === 0) throw new Error(`the ${val.length === 0 ? "validation" : "test"} split is empty: raise --val-frac/--test-frac or give more examples`);
  const level = f.level ?? "char";
  let model: ClassifierModel;
  let meta: ClassifierMeta;
  if (resume) ({ model, meta } = classifierFromCheckpoint(resume));
  else {
    const labels = labelSet(train);
    if (labels.length < 2) throw new Error(`the training split holds only the label "${labels[0]}"; a classifier needs at least two classes`);
    const lowercase = f.lowercase ?? false;
    const vocab = buildTokenVocab(
      train.map((e) => tokenizeText(e.text, level, lowercase).slice(0, f.maxLen)),
      { minCount: f.minCount, maxSize: f.maxVocab },
    );
    meta = { vocab, labels, level, lowercase, maxLen: f.maxLen };
    const config: ClassifierConfig = {
      vocabSize: vocab.length,
      ...encoderOptions(f),
      pooling: f.pooling,
      numClasses: labels.length,
    };
    model = createClassifier(config, f.dtype);
    initClassifier(model, Rng.seeded(f.seed + 1), { forgetBias: f.forgetBias });
  }
  const index = new Map(meta.vocab.map((t, i) => [t, i]));
  const encode = (es: readonly LabelledExample[]) => es.map((e) => classifierInput(meta, e.text, index));
  const trainIds = classIds(train, meta.labels, "training");
  const valIds = classIds(val, meta.labels, "validation");
  const testIds = classIds(test, meta.labels, "test");
  const weights = f.classWeights === "balanced" ? balancedClassWeights(trainIds, meta.labels.length) : null;
  const makeBatches = (seqs: Int32Array[], ids: Int32Array, size: number, seed: number): ClassifierBatch[] =>
    paddedBatches(seqs, size, Rng.seeded(seed)).map((idx) => {
      const { ids: tokens, T, B, lengths } = padTimeMajor(idx.map((i) => seqs[i]));
      return { tokens, T, B, lengths, labels: Int32Array.from(idx, (i) => ids[i]) };
    });
  const batches = makeBatches(encode(train), trainIds, f.batch, f.seed ^ 0x5eed);
  const valBatches = makeBatches(encode(val), valIds, 128, 1);
  const predictIds = (es: readonly LabelledExample[]) => Int32Array.from(classifyTexts(backend, model, meta, es.map((e) => e.text)), argmax);
  const loop: TaskLoop<ClassifierBatch> = {
    backend,
    params: model.params,
    batches,
    size: (b) => b.lengths!.reduce((a, n) => a + n, 0),
    loss: (b, grads, rng) => classifierLoss(backend, model, b, grads, { training: true, rng, classWeights: weights }),
    validate: () => {
      let total = 0;
      let count = 0;
      for (const b of valBatches) {
        const r = classifierLoss(backend, model, b, null);
        total += r.loss * r.count;
        count += r.count;
      }
      const r = classReport(valIds, predictIds(val), meta.labels);
      return { loss: total / count, metrics: { accuracy: r.accuracy, macroF1: r.macroF1 } };
    },
  };
  const counts = meta.labels.map((l, k) => `${l} ${trainIds.filter((x) => x === k).length}`).join(", ");
  return {
    task: "classify",
    model,
    config: model.config as unknown as Record<string, unknown>,
    meta: { ...meta, fingerprint: fp, source, split: { train: train.length, val: val.length, test: test.length } },
    loop: loop as TaskLoop<unknown>,
    summary: `classify on ${source}: ${train.length} training (${counts}), ${val.length} validation, ${test.length} test examples; ${meta.vocab.length} ${meta.level} tokens, ≤ ${meta.maxLen} per example; pooling ${model.config.pooling}${weights ? ", balanced class weights" : ""}`,
    report(dir) {
      const r = classReport(testIds, predictIds(test), meta.labels);
      const base = majorityBaseline(trainIds, testIds, meta.labels);
      const plots = writePlot(dir, "confusion", confusionMatrixSvg(r.confusion, meta.labels, { title: `test confusion matrix (accuracy ${pct(r.accuracy)})` }));
      return { test: test.length, ...reportOf(r), baseline: { label: meta.labels[argmax(trainIds.reduce((c, k) => ((c[k] += 1), c), new Array<number>(meta.labels.length).fill(0)))], accuracy: base.accuracy, macroF1: base.macroF1 }, confusionText: formatConfusion(r), plots };
    },
    describe(r) {
      const b = r.baseline as { label: string; accuracy: number; macroF1: number };
      const per = r.perClass as ClassReport["perClass"];
      return [
        `test (${r.test} examples): accuracy ${pct(r.accuracy)}, macro-F1 ${pct(r.macroF1)}   (majority baseline "${b.label}": accuracy ${pct(b.accuracy)}, macro-F1 ${pct(b.macroF1)})`,
        ...per.map((c) => `  ${c.label}: precision ${pct(c.precision)}, recall ${pct(c.recall)}, F1 ${pct(c.f1)} (${c.support})`),
        String(r.confusionText),
        ...(r.plots as string[]).map((p) => `plot: ${p}`),
      ];
    },
  };
}
