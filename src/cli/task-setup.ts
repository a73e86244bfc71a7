/**
 * Each task's part of `unroll train --task …`: its data (a user's file or a built-in corpus), the
 * seeded split, vocabularies, the model (new, or from the checkpoint being resumed), the training
 * loop and the test report. Shared by the train, classify, translate and sample commands, which
 * rebuild a model from a checkpoint with `loadTaskModel`.
 */
import type { Backend } from "../backend/backend.js";
import { cmudictText } from "../node/corpus.js";
import { readRecordFile } from "../node/records.js";
import { parseCmudict } from "../tasks/cmudict.js";
import { randomSplit } from "../tasks/split.js";
import { initSeq2Seq, createSeq2Seq, type Seq2SeqConfig, type Seq2SeqModel } from "../tasks/seq2seq.js";
import { buildSeq2SeqVocab, scoreSeq2Seq, seq2seqLoop, translate, type Seq2SeqVocab, type TokenPair } from "../tasks/seq2seq-task.js";
import { errorRates } from "../tasks/metrics.js";
import type { TaskCheckpoint } from "../tasks/task-checkpoint.js";
import type { TaskLoop } from "../tasks/trainer.js";
import { Rng } from "../tensor/random.js";
import { attentionHeatmapSvg } from "../plot/heatmap.js";
import { classifySetup } from "./setup-classify.js";
import { conditionalSetup } from "./setup-conditional.js";
import { tagSetup } from "./setup-tag.js";
import { attentionRows, checkData, checkFingerprint, encoderOptions, fingerprint, loadCheckpointParams, pct, tokenize, writePlot, type TaskFlags, type TaskSetup } from "./task-util.js";

// ---------------------------------------------------------------------------------------------
// seq2seq

/** The pairs of the seq2seq data: CMUdict (letters → phonemes) or a CSV/TSV/JSONL `source,target` file. */
export function seq2seqPairs(f: Pick<TaskFlags, "data" | "corpus" | "srcLevel" | "tgtLevel">): { pairs: TokenPair[]; source: string } {
  if (f.data !== undefined) {
    const records = readRecordFile(f.data, ["source", "target"]);
    const pairs = records.map((r) => {
      const where = `${f.data}:${r.line}`;
      const source = tokenize(r.fields.source, f.srcLevel);
      const target = tokenize(r.fields.target, f.tgtLevel);
      if (source.length === 0) throw new Error(`${where}: empty source; every pair needs a source and a target`);
      if (target.length === 0) throw new Error(`${where}: empty target; every pair needs a source and a target`);
      return { source, target, where };
    });
    return { pairs, source: `file:${f.data}` };
  }
  const { path, text } = cmudictText();
  const pairs = parseCmudict(text, path).map((p) => ({ source: Array.from(p.word), target: [...p.phones], where: `cmudict:${p.word}` }));
  return { pairs, source: "corpus:cmudict" };
}

/** The seeded word-level split of the pairs. */
export function splitPairs(pairs: readonly TokenPair[], f: Pick<TaskFlags, "valFrac" | "testFrac" | "seed">): { train: TokenPair[]; val: TokenPair[]; test: TokenPair[] } {
  const s = randomSplit(pairs.length, f.valFrac, f.testFrac, Rng.seeded(f.seed));
  return { train: s.train.map((i) => pairs[i]), val: s.val.map((i) => pairs[i]), test: s.test.map((i) => pairs[i]) };
}

export function seq2seqFromCheckpoint(ck: TaskCheckpoint): { model: Seq2SeqModel; vocab: Seq2SeqVocab } {
  const config = ck.config as unknown as Seq2SeqConfig;
  const vocab = ck.meta.vocab as Seq2SeqVocab;
  if (!vocab || !Array.isArray(vocab.source) || !Array.isArray(vocab.target)) throw new Error(`the checkpoint has no seq2seq vocabulary; it is damaged`);
  if (vocab.source.length !== config.srcVocabSize || vocab.target.length !== config.tgtVocabSize) throw new Error(`the checkpoint's vocabularies do not fit its model; it is damaged`);
  const model = createSeq2Seq(config, ck.dtype);
  loadCheckpointParams(ck, model.params);
  return { model, vocab };
}

function seq2seqSetup(f: TaskFlags, backend: Backend, resume?: TaskCheckpoint): TaskSetup {
  checkData(f, ["cmudict"]);
  const { pairs, source } = seq2seqPairs(f);
  const fp = fingerprint(pairs.flatMap((p) => [p.source.join(" "), p.target.join(" ")]));
  checkFingerprint(resume, fp);
  const { train, val, test } = splitPairs(pairs, f);
  if (val.length === 0) throw new Error("the validation split is empty: raise --val-frac or give more pairs");
  if (test.length === 0) throw new Error("the test split is empty: raise --test-frac or give more pairs");
  let model: Seq2SeqModel;
  let vocab: Seq2SeqVocab;
  if (resume) ({ model, vocab } = seq2seqFromCheckpoint(resume));
  else {
    vocab = buildSeq2SeqVocab(train, f.sharedVocab ?? false);
    const config: Seq2SeqConfig = {
      srcVocabSize: vocab.source.length,
      tgtVocabSize: vocab.target.length,
      ...encoderOptions(f),
      attention: f.attention,
      attentionSize: f.attentionSize,
    };
    model = createSeq2Seq(config, f.dtype);
    initSeq2Seq(model, Rng.seeded(f.seed + 1), { forgetBias: f.forgetBias });
  }
  // Every validation and test target token must be producible.
  const known = new Set(vocab.target);
  for (const p of [...val, ...test]) for (const t of p.target) if (!known.has(t)) throw new Error(`${p.where}: target token "${t}" never occurs in the training targets; the model cannot produce it — put such pairs in the training data`);
  const loop = seq2seqLoop(backend, model, vocab, train, val, { batchSize: f.batch, seed: f.seed, samplingProb: f.samplingProb, valDecode: f.valDecode });
  return {
    task: "seq2seq",
    model,
    config: model.config as unknown as Record<string, unknown>,
    meta: { vocab, fingerprint: fp, source, split: { train: train.length, val: val.length, test: test.length } },
    loop: loop as TaskLoop<unknown>,
    summary: `seq2seq on ${source}: ${train.length} training, ${val.length} validation, ${test.length} test pairs; ${vocab.source.length} source and ${vocab.target.length} target tokens; attention ${model.config.attention}`,
    report(dir) {
      const t0 = Date.now();
      const greedy = scoreSeq2Seq(backend, model, vocab, test, { beamWidth: 1 });
      const t1 = Date.now();
      const beam = f.beam > 1 ? scoreSeq2Seq(backend, model, vocab, test, { beamWidth: f.beam, lengthPenalty: f.lengthPenalty }) : null;
      const t2 = Date.now();
      const examples = test.slice(0, 8).map((p, i) => ({ source: p.source.join(f.srcLevel === "char" ? "" : " "), reference: p.target.join(" "), output: (beam ?? greedy).outputs[i].join(" ") }));
      const plots: string[] = [];
      if (model.config.attention !== "none" && test.length > 0) {
        const word = test[0];
        const [r] = translate(backend, model, vocab, [word.source], { beamWidth: 1 });
        if (r.attention) plots.push(...writePlot(dir, "attention", attentionHeatmapSvg(r.attention, attentionRows(r.tokens, r.attention, word.source.length), word.source, { title: `attention: ${word.source.join("")}` })));
      }
      // ARPAbet targets: also the rates with the stress digits dropped from both sides (AH0 = AH1),
      // the 39-phoneme scoring of much of the G2P literature.
      const stressed = test.some((p) => p.target.some((t) => /^[A-Z]+[012]$/.test(t)));
      const unstressed = (outputs: readonly (readonly string[])[]) => {
        const strip = (ts: readonly string[]) => ts.map((t) => t.replace(/^([A-Z]+)[012]$/, "$1"));
        const r = errorRates(test.map((p) => strip(p.target)), outputs.map(strip));
        return { per: r.tokenErrorRate, wer: r.sequenceErrorRate };
      };
      return {
        test: test.length,
        greedy: { per: greedy.per, wer: greedy.wer, ms: t1 - t0, ...(stressed ? { withoutStress: unstressed(greedy.outputs) } : {}) },
        ...(beam ? { beam: { width: f.beam, lengthPenalty: f.lengthPenalty, per: beam.per, wer: beam.wer, ms: t2 - t1, ...(stressed ? { withoutStress: unstressed(beam.outputs) } : {}) } } : {}),
        examples,
        plots,
      };
    },
    describe(r) {
      type Rates = { per: number; wer: number; withoutStress?: { per: number; wer: number } };
      const g = r.greedy as Rates;
      const b = r.beam as (Rates & { width: number }) | undefined;
      const ns = (x: Rates) => (x.withoutStress ? ` (stress ignored: PER ${pct(x.withoutStress.per)}, WER ${pct(x.withoutStress.wer)})` : "");
      const lines = [`test (${r.test} pairs): greedy PER ${pct(g.per)}, WER ${pct(g.wer)}${ns(g)}`];
      if (b) lines.push(`test: beam ${b.width} PER ${pct(b.per)}, WER ${pct(b.wer)}${ns(b)}`);
      for (const e of r.examples as { source: string; reference: string; output: string }[]) lines.push(`  ${e.source} → ${e.output}${e.output === e.reference ? "" : `   (reference: ${e.reference})`}`);
      for (const p of r.plots as string[]) lines.push(`plot: ${p}`);
      return lines;
    },
  };
}

/** The setup of `f.task`. */
export function setupTask(f: TaskFlags, backend: Backend, resume?: TaskCheckpoint): TaskSetup {
  switch (f.task) {
    case "seq2seq":
      return seq2seqSetup(f, backend, resume);
    case "classify":
      return classifySetup(f, backend, resume);
    case "tag":
      return tagSetup(f, backend, resume);
    case "conditional":
      return conditionalSetup(f, backend, resume);
  }
}
