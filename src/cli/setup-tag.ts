/**
 * `unroll train --task tag`: aligned many-to-many tagging on JSONL `{"tokens", "tags"}` or
 * CoNLL two-column files, or the built-in cmudict-stress corpus (each phoneme of a CMUdict word
 * tagged with its lexical stress); per-token accuracy, per-tag precision/recall/F1, whole-sequence
 * accuracy, and the tag confusion matrix.
 */
import type { Backend } from "../backend/backend.js";
import { cmudictText } from "../node/corpus.js";
import { readTaggedFile } from "../node/records.js";
import { confusionMatrixSvg } from "../plot/heatmap.js";
import { parseCmudict } from "../tasks/cmudict.js";
import { classReport, formatConfusion, type ClassReport } from "../tasks/metrics.js";
import { randomSplit } from "../tasks/split.js";
import { stressTagging } from "../tasks/stress.js";
import type { TaggedExample } from "../tasks/tagged.js";
import { createTagger, initTagger, taggerLoss, taggerPredict, type TaggerBatch, type TaggerConfig, type TaggerModel } from "../tasks/tagger.js";
import type { TaskCheckpoint } from "../tasks/task-checkpoint.js";
import { buildTokenVocab, encodeTokens, padTimeMajor, paddedBatches } from "../tasks/tokens.js";
import type { TaskLoop } from "../tasks/trainer.js";
import { Rng } from "../tensor/random.js";
import { checkData, checkFingerprint, encoderOptions, fingerprint, loadCheckpointParams, pct, writePlot, type TaskFlags, type TaskSetup } from "./task-util.js";

export interface TaggerMeta {
  readonly vocab: readonly string[];
  readonly tags: readonly string[];
  readonly maxLen: number;
}

export function taggerFromCheckpoint(ck: TaskCheckpoint): { model: TaggerModel; meta: TaggerMeta } {
  const meta = ck.meta as unknown as TaggerMeta;
  const config = ck.config as unknown as TaggerConfig;
  if (!Array.isArray(meta.vocab) || !Array.isArray(meta.tags) || meta.vocab.length !== config.vocabSize || meta.tags.length !== config.numTags) {
    throw new Error("the checkpoint's vocabulary or tags do not fit its model; it is damaged");
  }
  const model = createTagger(config, ck.dtype);
  loadCheckpointParams(ck, model.params);
  return { model, meta };
}

/** The most likely tag of every token of each sequence (batched by length). */
export function tagSequences(backend: Backend, model: TaggerModel, meta: TaggerMeta, sequences: readonly (readonly string[])[]): string[][] {
  const index = new Map(meta.vocab.map((t, i) => [t, i]));
  const seqs = sequences.map((s, i) => {
    if (s.length === 0) throw new Error(`sequence ${i + 1} is empty; give at least one token`);
    return encodeTokens(meta.vocab, s, index);
  });
  const out = new Array<string[]>(seqs.length);
  const K = model.config.numTags;
  for (const idx of paddedBatches(seqs, 128, Rng.seeded(0))) {
    const { ids, T, B, lengths } = padTimeMajor(idx.map((i) => seqs[i]));
    const p = taggerPredict(backend, model, ids, T, B, lengths);
    idx.forEach((i, b) => {
      out[i] = Array.from({ length: lengths[b] }, (_, t) => {
        const row = (t * B + b) * K;
        let best = 0;
        for (let k = 1; k < K; k++) if (p[row + k] > p[row + best]) best = k;
        return meta.tags[best];
      });
    });
  }
  return out;
}

function taggedData(f: TaskFlags): { examples: TaggedExample[]; source: string } {
  if (f.data !== undefined) return { examples: readTaggedFile(f.data), source: `file:${f.data}` };
  const { path, text } = cmudictText();
  return { examples: stressTagging(parseCmudict(text, path)), source: "corpus:cmudict-stress" };
}

export function tagSetup(f: TaskFlags, backend: Backend, resume?: TaskCheckpoint): TaskSetup {
  checkData(f, ["cmudict-stress"]);
  const { examples: raw, source } = taggedData(f);
  const examples = raw.map((e) => (e.tokens.length > f.maxLen ? { ...e, tokens: e.tokens.slice(0, f.maxLen), tags: e.tags.slice(0, f.maxLen) } : e));
  const fp = fingerprint(examples.flatMap((e) => [e.tokens.join(" "), e.tags.join(" ")]));
  checkFingerprint(resume, fp);
  const split = randomSplit(examples.length, f.valFrac, f.testFrac, Rng.seeded(f.seed));
  const train = split.train.map((i) => examples[i]);
  const val = split.val.map((i) => examples[i]);
  const test = split.test.map((i) => examples[i]);
  if (val.length === 0 || test.length === 0) throw new Error(`the ${val.length === 0 ? "validation" : "test"} split is empty: raise --val-frac/--test-frac or give more examples`);
  let model: TaggerModel;
  let meta: TaggerMeta;
  if (resume) ({ model, meta } = taggerFromCheckpoint(resume));
  else {
    const tags = [...new Set(train.flatMap((e) => e.tags))].sort();
    if (tags.length < 2) throw new Error(`the training split holds only the tag "${tags[0]}"; tagging needs at least two tags`);
    meta = { vocab: buildTokenVocab(train.map((e) => e.tokens), { minCount: f.minCount, maxSize: f.maxVocab }), tags, maxLen: f.maxLen };
    const config: TaggerConfig = { vocabSize: meta.vocab.length, ...encoderOptions(f), numTags: tags.length };
    model = createTagger(config, f.dtype);
    initTagger(model, Rng.seeded(f.seed + 1), { forgetBias: f.forgetBias });
  }
  const index = new Map(meta.vocab.map((t, i) => [t, i]));
  const tagIndex = new Map(meta.tags.map((t, i) => [t, i]));
  const tagIds = (e: TaggedExample, part: string) =>
    Int32Array.from(e.tags, (t) => {
      const id = tagIndex.get(t);
      if (id === undefined) throw new Error(`${e.where}: tag "${t}" appears in the ${part} split but never in training (tags: ${meta.tags.join(", ")}); add training examples of it`);
      return id;
    });
  const makeBatches = (es: readonly TaggedExample[], part: string, size: number, seed: number): TaggerBatch[] => {
    const seqs = es.map((e) => encodeTokens(meta.vocab, e.tokens, index));
    const tags = es.map((e) => tagIds(e, part));
    return paddedBatches(seqs, size, Rng.seeded(seed)).map((idx) => {
      const { ids, T, B, lengths } = padTimeMajor(idx.map((i) => seqs[i]));
      return { tokens: ids, T, B, lengths, tags: padTimeMajor(idx.map((i) => tags[i])).ids };
    });
  };
  const batches = makeBatches(train, "training", f.batch, f.seed ^ 0x5eed);
  const valBatches = makeBatches(val, "validation", 256, 1);
  makeBatches(test, "test", 256, 1); // checks every test tag now, not after training
  const score = (es: readonly TaggedExample[]) => {
    const out = tagSequences(backend, model, meta, es.map((e) => e.tokens));
    const gold = Int32Array.from(es.flatMap((e) => e.tags.map((t) => tagIndex.get(t)!)));
    const pred = Int32Array.from(out.flat().map((t) => tagIndex.get(t)!));
    const exact = es.filter((e, i) => e.tags.every((t, j) => t === out[i][j])).length / es.length;
    return { report: classReport(gold, pred, meta.tags), sequenceAccuracy: exact, outputs: out };
  };
  const loop: TaskLoop<TaggerBatch> = {
    backend,
    params: model.params,
    batches,
    size: (b) => b.lengths!.reduce((a, n) => a + n, 0),
    loss: (b, grads, rng) => taggerLoss(backend, model, b, grads, { training: true, rng }),
    validate: () => {
      let total = 0;
      let count = 0;
      for (const b of valBatches) {
        const r = taggerLoss(backend, model, b, null);
        total += r.loss * r.count;
        count += r.count;
      }
      const s = score(val);
      return { loss: total / count, metrics: { accuracy: s.report.accuracy, macroF1: s.report.macroF1 } };
    },
  };
  const tokens = train.reduce((n, e) => n + e.tokens.length, 0);
  return {
    task: "tag",
    model,
    config: model.config as unknown as Record<string, unknown>,
    meta: { ...meta, fingerprint: fp, source, split: { train: train.length, val: val.length, test: test.length } },
    loop: loop as TaskLoop<unknown>,
    summary: `tag on ${source}: ${train.length} training sequences (${tokens} tokens), ${val.length} validation, ${test.length} test; ${meta.vocab.length} token types, tags ${meta.tags.join(" ")}; ${model.config.bidirectional ? "bidirectional" : "unidirectional"}`,
    report(dir) {
      const s = score(test);
      const r = s.report;
      const plots = writePlot(dir, "confusion", confusionMatrixSvg(r.confusion, meta.tags, { title: `test tag confusion (per-token accuracy ${pct(r.accuracy)})` }));
      const examples = test.slice(0, 6).map((e, i) => ({ tokens: e.tokens.join(" "), gold: e.tags.join(" "), predicted: s.outputs[i].join(" ") }));
      // The classic tagging baseline: each token's most frequent training tag (unseen tokens: the
      // most frequent tag overall), which needs no context at all.
      const counts = new Map<string, number[]>();
      const overall = new Array<number>(meta.tags.length).fill(0);
      for (const e of train)
        e.tokens.forEach((t, j) => {
          const k = tagIndex.get(e.tags[j])!;
          const c = counts.get(t) ?? new Array<number>(meta.tags.length).fill(0);
          c[k]++;
          overall[k]++;
          counts.set(t, c);
        });
      const top = (c: number[]) => c.reduce((best, n, k) => (n > c[best] ? k : best), 0);
      const gold = Int32Array.from(test.flatMap((e) => e.tags.map((t) => tagIndex.get(t)!)));
      const guess = Int32Array.from(test.flatMap((e) => e.tokens.map((t) => top(counts.get(t) ?? overall))));
      const base = classReport(gold, guess, meta.tags);
      const baseline = { accuracy: base.accuracy, macroF1: base.macroF1 };
      return { test: test.length, tokens: r.confusion.flat().reduce((a, b) => a + b, 0), accuracy: r.accuracy, macroF1: r.macroF1, sequenceAccuracy: s.sequenceAccuracy, baseline, perTag: r.perClass, confusion: r.confusion, confusionText: formatConfusion(r), examples, plots };
    },
    describe(r) {
      const per = r.perTag as ClassReport["perClass"];
      return [
        `test (${r.test} sequences, ${r.tokens} tokens): per-token accuracy ${pct(r.accuracy)}, macro-F1 ${pct(r.macroF1)}, whole sequences right ${pct(r.sequenceAccuracy)}`,
        `  baseline, each token's most frequent training tag: accuracy ${pct((r.baseline as { accuracy: number }).accuracy)}, macro-F1 ${pct((r.baseline as { macroF1: number }).macroF1)}`,
        ...per.map((c) => `  ${c.label}: precision ${pct(c.precision)}, recall ${pct(c.recall)}, F1 ${pct(c.f1)} (${c.support})`),
        String(r.confusionText),
        ...(r.examples as { tokens: string; gold: string; predicted: string }[]).map((e) => `  ${e.tokens}\n    gold ${e.gold}\n    pred ${e.predicted}`),
        ...(r.plots as string[]).map((p) => `plot: ${p}`),
      ];
    },
  };
}
