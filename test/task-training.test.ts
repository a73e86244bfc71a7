/**
 * The task training loop (src/tasks/trainer.ts) and the task checkpoint container
 * (src/tasks/task-checkpoint.ts): a run stopped at any step and resumed from its encoded
 * snapshot ends bit for bit where the uninterrupted run does; the container round-trips exactly
 * and refuses damaged, truncated and foreign files with a message that says what to do.
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import { encodeCheckpoint } from "../src/model/checkpoint-codec.js";
import { createLanguageModel } from "../src/model/language-model.js";
import { createSeq2Seq, initSeq2Seq, type Seq2SeqModel } from "../src/tasks/seq2seq.js";
import { buildSeq2SeqVocab, seq2seqLoop, type TokenPair } from "../src/tasks/seq2seq-task.js";
import { decodeTaskCheckpoint, encodeTaskCheckpoint, type TaskCheckpoint } from "../src/tasks/task-checkpoint.js";
import { createTaskTraining, groupByLength, type TaskTrainOptions, type TaskTrainingState } from "../src/tasks/trainer.js";
import { Rng } from "../src/tensor/random.js";

const js = getBackend("js");

function pairs(): TokenPair[] {
  const rng = Rng.seeded(9);
  const out: TokenPair[] = [];
  for (let i = 0; i < 40; i++) {
    const s = Array.from({ length: 1 + rng.int(3) }, () => "abc"[rng.int(3)]);
    out.push({ source: s, target: s.map((x) => x.toUpperCase()), where: `${i}` });
  }
  return out;
}

function setup(): { model: Seq2SeqModel; loop: ReturnType<typeof seq2seqLoop> } {
  const data = pairs();
  const vocab = buildSeq2SeqVocab(data);
  const model = createSeq2Seq(
    { srcVocabSize: vocab.source.length, tgtVocabSize: vocab.target.length, embedSize: 4, cell: parseCell("lstm"), hiddenSize: 6, numLayers: 1, bidirectional: true, dropout: 0.2, attention: "additive", attentionSize: 4 },
    "float32",
  );
  initSeq2Seq(model, Rng.seeded(2));
  // scheduled sampling and dropout both draw from the run's generator
  const loop = seq2seqLoop(js, model, vocab, data.slice(0, 32), data.slice(32), { batchSize: 5, seed: 3, samplingProb: 0.3, valDecode: 4 });
  return { model, loop };
}

const options: TaskTrainOptions = { optimizer: { kind: "adam", lr: 0.01 }, clipNorm: 1, maxEpochs: null, maxSteps: 23, maxTime: null, evalEvery: 7, lrDecay: 0.5, seed: 4, now: () => 0 };

async function drain(gen: AsyncGenerator<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

describe("task training", () => {
  it("stopped at step 10 and resumed from the encoded checkpoint, it ends bit for bit as the uninterrupted run", async () => {
    const a = setup();
    await drain(createTaskTraining(a.loop, options).run());

    const b = setup();
    const first = createTaskTraining(b.loop, { ...options, maxSteps: 10 });
    await drain(first.run());
    const snap = first.snapshot();
    const bytes = encodeTaskCheckpoint({
      task: "seq2seq",
      dtype: "float32",
      config: b.model.config as unknown as Record<string, unknown>,
      meta: {},
      tensors: new Map([["params", b.model.params.data.slice()], ...snap.tensors]),
      training: snap.training as unknown as Record<string, unknown>,
    });
    const ck = decodeTaskCheckpoint(bytes, "mem");
    const c = setup();
    c.model.params.data.set(ck.tensors.get("params")!);
    const events = await drain(createTaskTraining(c.loop, options, { training: ck.training as unknown as TaskTrainingState, tensors: ck.tensors }).run());
    expect((events[0] as { resumed: boolean }).resumed).toBe(true);
    expect(Buffer.from(c.model.params.data.buffer).equals(Buffer.from(a.model.params.data.buffer))).toBe(true);
  });

  it("validates at epoch ends and every evalEvery steps; decays the rate when validation does not improve", async () => {
    const a = setup();
    const events = (await drain(createTaskTraining(a.loop, { ...options, maxSteps: null, maxEpochs: 2, evalEvery: 0, lrDecay: 0.5 }).run())) as { event: string; step: number; improved?: boolean; lr?: number }[];
    const evals = events.filter((e) => e.event === "eval");
    const perEpoch = a.loop.batches.length;
    expect(evals.map((e) => e.step)).toEqual([perEpoch, 2 * perEpoch]);
    if (evals[1].improved === false) expect(evals[1].lr).toBe(0.005);
    expect(events[events.length - 1].event).toBe("done");
  });

  it("refuses a resume whose data makes a different number of batches", () => {
    const a = setup();
    const t = createTaskTraining(a.loop, options);
    const snap = t.snapshot();
    const bad = { ...snap.training, order: [0, 1] } as TaskTrainingState;
    expect(() => createTaskTraining(a.loop, options, { training: bad, tensors: snap.tensors })).toThrow(/same data/);
  });
});

describe("groupByLength", () => {
  it("batches hold one length each, every index once", () => {
    const keys = [3, 1, 3, 2, 3, 1, 3, 3];
    const groups = groupByLength(keys, 2, Rng.seeded(1));
    expect(groups.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const g of groups) {
      expect(g.length).toBeLessThanOrEqual(2);
      expect(new Set(g.map((i) => keys[i])).size).toBe(1);
    }
  });
});

describe("task checkpoint container", () => {
  const ck: TaskCheckpoint = {
    task: "classify",
    dtype: "float64",
    config: { hiddenSize: 3 },
    meta: { labels: ["ham", "spam"] },
    tensors: new Map([
      ["params", Float64Array.from([1, -2.5, Math.PI])],
      ["optimizer.m", Float64Array.from([0.1, 0, 0])],
    ]),
    training: { progress: { step: 1 } },
  };

  it("round-trips exactly", () => {
    const back = decodeTaskCheckpoint(encodeTaskCheckpoint(ck), "mem");
    expect(back.task).toBe("classify");
    expect(back.meta).toEqual(ck.meta);
    expect(back.training).toEqual(ck.training);
    expect(Array.from(back.tensors.get("params")!)).toEqual([1, -2.5, Math.PI]);
  });

  it("refuses a damaged, truncated, empty or foreign file", () => {
    const bytes = encodeTaskCheckpoint(ck);
    const flipped = bytes.slice();
    flipped[40] ^= 1;
    expect(() => decodeTaskCheckpoint(flipped, "f.ckpt")).toThrow(/f\.ckpt: corrupt task checkpoint: checksum mismatch/);
    expect(() => decodeTaskCheckpoint(bytes.subarray(0, bytes.length - 9), "f.ckpt")).toThrow(/f\.ckpt: corrupt/);
    expect(() => decodeTaskCheckpoint(new Uint8Array(0), "f.ckpt")).toThrow(/not an unroll task checkpoint/);
    const lm = encodeCheckpoint({
      model: { vocabSize: 2, embedSize: 0, cell: parseCell("rnn"), hiddenSize: 1, numLayers: 1, dropout: 0 },
      dtype: "float32",
      vocab: { kind: "char", tokens: ["a", "b"] },
      tensors: new Map([["params", createLanguageModel({ vocabSize: 2, embedSize: 0, cell: parseCell("rnn"), hiddenSize: 1, numLayers: 1, dropout: 0 }).params.data]]),
      training: null,
    });
    expect(() => decodeTaskCheckpoint(lm, "lm.ckpt")).toThrow(/language-model checkpoint/);
  });

  it("refuses to save non-finite parameters", () => {
    expect(() => encodeTaskCheckpoint({ ...ck, tensors: new Map([["params", Float64Array.from([NaN])]]) })).toThrow(/diverged/);
  });
});
