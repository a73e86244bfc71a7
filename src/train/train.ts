/**
 * The char-rnn training loop as a library: text in, a trained language model out, with events
 * along the way. Browser-safe; files, terminals and signals are the caller's (the CLI's) concern.
 *
 *   for each step: chunk = train[position]; state zeroed at the start of each epoch, else carried
 *                  loss, backward, clip, optimizer step (trainStep)
 *                  every evalEvery steps (and at step 0 and the end): validation loss
 *
 * A run can be snapshotted at any step boundary (`snapshot()`), and a snapshot resumed: the
 * resumed run ends with exactly the weights of an uninterrupted one (same backend).
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import { parseCell, cellName } from "../cells/cell.js";
import type { Checkpoint, TrainingSnapshot } from "../model/checkpoint.js";
import { createLanguageModel, type LanguageModel, type RecurrentState } from "../model/language-model.js";
import { sampleTokens } from "../generate/sample.js";
import { makeBatches, type Batches } from "../text/batches.js";
import { buildVocabulary, decode, encodeText, type Vocabulary } from "../text/vocab.js";
import { fromValues, type DType, type FloatArray } from "../tensor/dtype.js";
import { Rng } from "../tensor/random.js";
import { initLanguageModel } from "./init-model.js";
import { createOptimizer, type OptimizerConfig } from "./optimizers.js";
import { createPlateau, scheduledLr, type LrScheduleConfig, type Plateau } from "./schedules.js";
import { createStepContext, DivergedError, trainStep, type StepContext } from "./step.js";
import { evaluateChunks } from "../model/evaluate.js";
import { yieldToEventLoop } from "../util/yield.js";

/** Everything a training run can be told; omitted options take the defaults in `DEFAULTS`. */
export interface TrainOptions {
  /** The corpus (resuming needs the same text). */
  readonly text?: string;
  /** Where the text came from (a corpus name or path), recorded in checkpoints. */
  readonly source?: string;
  readonly level?: "char" | "word";
  readonly lowercase?: boolean;
  readonly minCount?: number;
  readonly maxVocab?: number;
  /** Cell name: lstm, gru, rnn, lstm-peephole, gru-cho, … */
  readonly cell?: string;
  readonly layers?: number;
  readonly hidden?: number;
  /** Embedding size; 0 feeds one-hot vectors; default: the hidden size. */
  readonly embed?: number;
  readonly dropout?: number;
  readonly seqLen?: number;
  readonly batch?: number;
  readonly optimizer?: OptimizerConfig["kind"];
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  /** char-rnn's learning_rate_decay: factor per epoch once `lrDecayAfter` epochs are done (1: off). */
  readonly lrDecay?: number;
  readonly lrDecayAfter?: number;
  /** Another schedule instead: "cosine" (over maxSteps), "plateau" (on validation loss). */
  readonly schedule?: "char-rnn" | "cosine" | "plateau";
  readonly clipNorm?: number;
  readonly clipValue?: number;
  readonly maxSteps?: number;
  readonly maxEpochs?: number;
  /** Seconds of training after which to stop. */
  readonly maxTime?: number;
  readonly evalEvery?: number;
  readonly valFrac?: number;
  readonly testFrac?: number;
  readonly seed?: number;
  readonly dtype?: DType;
  readonly init?: "pytorch" | "charrnn";
  readonly orthogonal?: boolean;
  readonly forgetBias?: number;
  /** Emit a sample every this many steps (0: never). */
  readonly sampleEvery?: number;
  readonly sampleLength?: number;
  readonly temperature?: number;
  /** A backend name or object; default: the fastest available. */
  readonly backend?: string | Backend;
  /** Stops the run at the next step boundary. */
  readonly signal?: { readonly aborted: boolean };
  /** Continue this checkpoint's run exactly (its options win, except stopping conditions). */
  readonly resume?: Checkpoint;
  /** Start from this checkpoint's weights and vocabulary (fine-tuning), with fresh training state. */
  readonly initFrom?: Checkpoint;
  /** Clock in milliseconds (default `Date.now`), injectable for tests. */
  readonly now?: () => number;
}

/** The options a run actually used (stored in checkpoints). */
export type ResolvedTrainOptions = Required<
  Omit<TrainOptions, "text" | "backend" | "signal" | "resume" | "initFrom" | "now" | "maxSteps" | "maxEpochs" | "maxTime" | "clipValue" | "maxVocab" | "schedule">
> & {
  readonly maxSteps: number | null;
  readonly maxEpochs: number | null;
  readonly maxTime: number | null;
  readonly clipValue: number | null;
  readonly maxVocab: number | null;
  readonly schedule: "char-rnn" | "cosine" | "plateau";
  /** Fingerprint of the token sequence, to refuse resuming on other data. */
  readonly corpus: { readonly tokens: number; readonly hash: string };
};

/** Defaults: the PyTorch quality protocol (shared/anchors/quality) and char-rnn's conventions. */
export const DEFAULTS = {
  source: "text",
  level: "char",
  lowercase: false,
  minCount: 1,
  cell: "lstm",
  layers: 2,
  hidden: 128,
  dropout: 0,
  seqLen: 64,
  batch: 32,
  optimizer: "adam",
  lr: 2e-3,
  momentum: 0,
  weightDecay: 0,
  lrDecay: 1,
  lrDecayAfter: 10,
  clipNorm: 5,
  maxEpochs: 50,
  evalEvery: 250,
  valFrac: 0.05,
  testFrac: 0,
  seed: 1,
  dtype: "float32",
  init: "pytorch",
  orthogonal: false,
  forgetBias: 0,
  sampleEvery: 0,
  sampleLength: 200,
  temperature: 1,
} as const;

/** Why a run stopped. */
export type StopReason = "max-steps" | "max-epochs" | "max-time" | "aborted";

/** What a run reports as it goes. */
export type TrainEvent =
  | {
      readonly event: "start";
      readonly step: number;
      readonly params: number;
      readonly vocabSize: number;
      readonly trainTokens: number;
      readonly valTokens: number;
      readonly chunksPerEpoch: number;
      readonly backend: string;
      readonly resumed: boolean;
      readonly options: ResolvedTrainOptions;
    }
  | {
      readonly event: "step";
      readonly step: number;
      readonly epoch: number;
      /** Fractional epochs done. */
      readonly progress: number;
      readonly loss: number;
      readonly lr: number;
      readonly gradNorm: number;
      readonly tokensPerSec: number;
      readonly elapsedMs: number;
      /** Estimated time to the nearest stopping condition, or null when none is set. */
      readonly etaMs: number | null;
    }
  | { readonly event: "eval"; readonly step: number; readonly epoch: number; readonly valLoss: number; readonly bestValLoss: number; readonly improved: boolean }
  | { readonly event: "sample"; readonly step: number; readonly text: string }
  | {
      readonly event: "done";
      readonly reason: StopReason;
      readonly step: number;
      readonly epoch: number;
      readonly trainLoss: number | null;
      readonly valLoss: number | null;
      readonly bestValLoss: number | null;
      readonly elapsedMs: number;
    };

/** A training run: iterate `run()` to train; `snapshot()` at any event. */
export interface Training {
  readonly model: LanguageModel;
  readonly vocab: Vocabulary;
  readonly options: ResolvedTrainOptions;
  readonly batches: Batches;
  /** Trains, yielding events; returns when a stopping condition is met or the signal aborts. */
  run(): AsyncGenerator<TrainEvent, void, undefined>;
  /** A checkpoint of the run as it stands now (between steps). */
  snapshot(): Checkpoint;
}

/** A 64-bit FNV-1a style fingerprint of the token ids (hex). */
function fingerprint(ids: Int32Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < ids.length; i++) {
    h1 = Math.imul(h1 ^ ids[i], 16777619) >>> 0;
    h2 = Math.imul(h2 ^ (ids[i] + i), 2246822519) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

function positiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
}

function resolve(o: TrainOptions, corpus: ResolvedTrainOptions["corpus"]): ResolvedTrainOptions {
  const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const r = {
    ...DEFAULTS,
    embed: o.hidden ?? DEFAULTS.hidden,
    maxSteps: null,
    maxTime: null,
    clipValue: null,
    maxVocab: null,
    schedule: "char-rnn",
    ...defined,
    corpus,
  } as ResolvedTrainOptions & Record<string, unknown>;
  for (const k of ["text", "backend", "signal", "resume", "initFrom", "now"]) delete r[k];
  if (o.maxSteps === undefined && o.maxTime === undefined && o.maxEpochs === undefined) (r as { maxEpochs: number | null }).maxEpochs = DEFAULTS.maxEpochs;
  else if (o.maxEpochs === undefined) (r as { maxEpochs: number | null }).maxEpochs = null;
  parseCell(r.cell);
  for (const k of ["layers", "hidden", "seqLen", "batch", "evalEvery", "sampleLength"] as const) positiveInt(r[k], k);
  if (!Number.isInteger(r.embed) || r.embed < 0) throw new Error(`embed must be 0 (one-hot input) or a positive integer, got ${r.embed}`);
  if (!(r.lr > 0)) throw new Error(`lr must be > 0, got ${r.lr}`);
  if (!(r.lrDecay > 0 && r.lrDecay <= 1)) throw new Error(`lr-decay must be in (0, 1] (1 = no decay), got ${r.lrDecay}`);
  if (!(r.clipNorm > 0)) throw new Error(`clip-norm must be > 0, got ${r.clipNorm}`);
  if (r.clipValue !== null && !(r.clipValue > 0)) throw new Error(`clip-value must be > 0, got ${r.clipValue}`);
  if (r.maxSteps !== null && !(Number.isInteger(r.maxSteps) && r.maxSteps >= 0)) throw new Error(`max-steps must be a non-negative integer, got ${r.maxSteps}`);
  if (r.maxTime !== null && !(r.maxTime > 0)) throw new Error(`max-time must be > 0 seconds, got ${r.maxTime}`);
  if (r.schedule === "cosine" && r.maxSteps === null) throw new Error("the cosine schedule anneals over --max-steps: set it");
  return r;
}

/** The run's optimizer config. */
function optimizerConfig(r: ResolvedTrainOptions): OptimizerConfig {
  switch (r.optimizer) {
    case "sgd":
      return { kind: "sgd", lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay };
    case "rmsprop":
      return { kind: "rmsprop", lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay };
    case "adagrad":
      return { kind: "adagrad", lr: r.lr, weightDecay: r.weightDecay };
    case "adamw":
      return { kind: "adamw", lr: r.lr, weightDecay: r.weightDecay };
    case "adam":
      return { kind: "adam", lr: r.lr, weightDecay: r.weightDecay };
    default:
      throw new Error(`unknown optimizer "${r.optimizer as string}"; choose sgd, adagrad, rmsprop, adam or adamw`);
  }
}

/** Sets up a run (vocabulary, batches, model, optimizer), fresh or from a checkpoint. */
export function createTraining(o: TrainOptions): Training {
  const now = o.now ?? (() => Date.now());
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  if (o.resume && o.initFrom) throw new Error("use either resume (continue a run) or initFrom (fine-tune), not both");
  const resume = o.resume?.training ?? null;
  if (o.resume && !resume) throw new Error("this checkpoint holds a model without training state, so it cannot be resumed; use it with initFrom to fine-tune");
  const saved = (resume?.options ?? null) as ResolvedTrainOptions | null;
  if (o.text === undefined) throw new Error("no training text: give the corpus (resuming needs the same text)");
  const base: TrainOptions = saved
    ? ({ ...saved, maxSteps: o.maxSteps ?? saved.maxSteps ?? undefined, maxEpochs: o.maxEpochs ?? saved.maxEpochs ?? undefined, maxTime: o.maxTime ?? saved.maxTime ?? undefined } as unknown as TrainOptions)
    : o;
  const lvl = base.level ?? DEFAULTS.level;
  const vocab = o.resume?.vocab ?? o.initFrom?.vocab ?? buildVocabulary(o.text, { level: lvl, lowercase: base.lowercase, minCount: base.minCount, maxVocab: base.maxVocab });
  if (o.initFrom && o.initFrom.vocab.kind !== lvl) throw new Error(`the model to fine-tune is ${o.initFrom.vocab.kind}-level; pass level "${o.initFrom.vocab.kind}"`);
  const encoded = encodeText(vocab, o.text, true);
  const corpus = { tokens: encoded.ids.length, hash: fingerprint(encoded.ids) };
  if (saved && (saved.corpus.tokens !== corpus.tokens || saved.corpus.hash !== corpus.hash)) {
    throw new Error(`the text differs from the one this run was trained on (${saved.corpus.tokens} tokens, fingerprint ${saved.corpus.hash}; now ${corpus.tokens}, ${corpus.hash}): resume with the same --data`);
  }
  const fromModel = o.resume?.model ?? o.initFrom?.model;
  const r = resolve(
    fromModel
      ? { ...base, cell: cellName(fromModel.cell), layers: fromModel.numLayers, hidden: fromModel.hiddenSize, embed: fromModel.embedSize, dtype: (o.resume ?? o.initFrom)!.dtype }
      : base,
    corpus,
  );
  const batches = makeBatches(encoded.ids, r.batch, r.seqLen, r.valFrac, r.testFrac);
  const model = createLanguageModel(
    { vocabSize: vocab.tokens.length, embedSize: r.embed, cell: parseCell(r.cell), hiddenSize: r.hidden, numLayers: r.layers, dropout: r.dropout },
    r.dtype,
  );
  const rng = resume ? Rng.fromState(resume.rng) : Rng.seeded(r.seed);
  const source = o.resume ?? o.initFrom;
  if (source) {
    const p = source.tensors.get("params");
    if (!p || p.length !== model.params.data.length) throw new Error("the checkpoint's parameters do not fit its model config; the file is inconsistent");
    model.params.data.set(p);
  } else initLanguageModel(model, rng, { scheme: r.init, recurrent: r.orthogonal ? "orthogonal" : "scheme", forgetBias: r.forgetBias });
  const optimizer = createOptimizer(optimizerConfig(r), model.params.data.length, r.dtype);
  const plateau: Plateau | null = r.schedule === "plateau" ? createPlateau({ kind: "plateau", lr: r.lr, patience: 2 }) : null;
  let carry: RecurrentState | null = null;
  let progress = { step: 0, epoch: 0, position: 0, bestValLoss: null as number | null, elapsedMs: 0 };
  if (resume && o.resume) {
    const buffers: Record<string, number[]> = {};
    for (const [name, t] of o.resume.tensors) if (name.startsWith("optimizer.")) buffers[name.slice("optimizer.".length)] = Array.from(t);
    optimizer.importState({ kind: resume.optimizer.kind as OptimizerConfig["kind"], t: resume.optimizer.t, buffers });
    if (plateau && resume.schedule) plateau.importState(resume.schedule as never);
    progress = { ...resume.progress };
    if (resume.carry) {
      const h = o.resume.tensors.get("carry.h");
      const c = o.resume.tensors.get("carry.c") ?? null;
      if (!h) throw new Error("the checkpoint says a state is carried but holds no carry.h tensor; the file is inconsistent");
      carry = { h: fromValues(r.dtype, h), c: c ? fromValues(r.dtype, c) : null };
    }
  }
  const ctx: StepContext = createStepContext(backend, model, optimizer, rng, { clipNorm: r.clipNorm, clipValue: r.clipValue ?? undefined });

  const lrAt = (): number => {
    if (plateau) return plateau.lr;
    if (r.schedule === "cosine") return scheduledLr({ kind: "cosine", lr: r.lr, tMax: r.maxSteps! }, progress.step);
    const s: LrScheduleConfig = r.lrDecay < 1 ? { kind: "char-rnn-decay", lr: r.lr, decay: r.lrDecay, decayAfter: r.lrDecayAfter } : { kind: "constant", lr: r.lr };
    return scheduledLr(s, progress.epoch);
  };

  let diverged: number | null = null;
  const snapshot = (): Checkpoint => {
    if (diverged !== null) {
      // the parameters are the last good ones, but the optimizer's state may not be: never save it
      throw new Error(`the run diverged at step ${diverged}, so it cannot be saved; resume from the last checkpoint written before it, with a lower learning rate`);
    }
    const tensors = new Map<string, FloatArray>([["params", model.params.data.slice()]]);
    const os = optimizer.exportState();
    for (const [name, values] of Object.entries(os.buffers)) tensors.set(`optimizer.${name}`, fromValues(r.dtype, values));
    if (carry) {
      tensors.set("carry.h", carry.h.slice());
      if (carry.c) tensors.set("carry.c", carry.c.slice());
    }
    const training: TrainingSnapshot = {
      options: r as unknown as Record<string, unknown>,
      progress: { ...progress },
      rng: rng.state(),
      optimizer: { kind: os.kind, t: os.t },
      schedule: plateau ? (plateau.exportState() as unknown as Record<string, unknown>) : null,
      carry: carry !== null,
    };
    return { model: model.config, dtype: r.dtype, vocab, tensors, training };
  };

  async function* run(): AsyncGenerator<TrainEvent, void, undefined> {
    const ntrain = batches.train.length;
    const tokensPerStep = r.batch * r.seqLen;
    yield {
      event: "start",
      step: progress.step,
      params: model.params.data.length,
      vocabSize: vocab.tokens.length,
      trainTokens: ntrain * tokensPerStep,
      valTokens: batches.val.length * tokensPerStep,
      chunksPerEpoch: ntrain,
      backend: backend.name,
      resumed: resume !== null,
      options: r,
    };
    let valLoss: number | null = null;
    let trainLoss: number | null = null;
    const evaluate = function* (): Generator<TrainEvent> {
      if (batches.val.length === 0) return;
      valLoss = evaluateChunks(backend, model, batches.val);
      const improved = progress.bestValLoss === null || valLoss < progress.bestValLoss;
      if (improved) progress.bestValLoss = valLoss;
      plateau?.observe(valLoss);
      yield { event: "eval", step: progress.step, epoch: progress.epoch, valLoss, bestValLoss: progress.bestValLoss!, improved };
    };
    if (progress.step === 0) yield* evaluate();
    let lastEvalStep = progress.step;
    const start = now() - progress.elapsedMs;
    let reason: StopReason | null = null;
    for (;;) {
      const elapsed = now() - start;
      if (o.signal?.aborted) reason = "aborted";
      else if (r.maxSteps !== null && progress.step >= r.maxSteps) reason = "max-steps";
      else if (r.maxEpochs !== null && progress.epoch >= r.maxEpochs) reason = "max-epochs";
      else if (r.maxTime !== null && elapsed >= r.maxTime * 1000) reason = "max-time";
      if (reason) break;
      if (progress.position === 0) carry = null; // a new epoch starts from the zero state
      const lr = lrAt();
      const t0 = now();
      let res;
      try {
        res = trainStep(ctx, batches.train[progress.position], carry, lr);
      } catch (e) {
        if (e instanceof DivergedError) {
          diverged = progress.step + 1;
          throw new DivergedError(`the run diverged at step ${diverged}: ${e.message}`, e.quantity, e.value);
        }
        throw e;
      }
      const dt = Math.max(now() - t0, 1e-3);
      carry = res.state;
      trainLoss = res.loss;
      progress.step++;
      progress.position++;
      if (progress.position === ntrain) {
        progress.position = 0;
        progress.epoch++;
      }
      progress.elapsedMs = now() - start;
      const frac = progress.epoch + progress.position / ntrain;
      const msPerStep = progress.elapsedMs / Math.max(1, progress.step - (resume?.progress.step ?? 0));
      const etas: number[] = [];
      if (r.maxSteps !== null) etas.push((r.maxSteps - progress.step) * msPerStep);
      if (r.maxEpochs !== null) etas.push((r.maxEpochs - frac) * ntrain * msPerStep);
      if (r.maxTime !== null) etas.push(r.maxTime * 1000 - progress.elapsedMs);
      yield {
        event: "step",
        step: progress.step,
        epoch: progress.epoch,
        progress: frac,
        loss: res.loss,
        lr,
        gradNorm: res.gradNorm,
        tokensPerSec: (tokensPerStep / dt) * 1000,
        elapsedMs: progress.elapsedMs,
        etaMs: etas.length > 0 ? Math.max(0, Math.min(...etas)) : null,
      };
      if (progress.step % r.evalEvery === 0) {
        yield* evaluate();
        lastEvalStep = progress.step;
      }
      if (r.sampleEvery > 0 && progress.step % r.sampleEvery === 0) yield { event: "sample", step: progress.step, text: sampleText(progress.step) };
      await yieldToEventLoop(); // let signals, messages and I/O in
    }
    if (lastEvalStep !== progress.step) yield* evaluate();
    yield { event: "done", reason, step: progress.step, epoch: progress.epoch, trainLoss, valLoss, bestValLoss: progress.bestValLoss, elapsedMs: progress.elapsedMs };
  }

  /** A sample with its own generator, so that sampling never changes the training's random stream. */
  const sampleText = (step: number): string => {
    const ids = [...sampleTokens(backend, model, { length: r.sampleLength, temperature: r.temperature, rng: Rng.seeded((r.seed * 1000003 + step) | 0) })];
    return decode(vocab, ids);
  };

  return { model, vocab, options: r, batches, run, snapshot };
}

/** Trains to completion, calling `onEvent` for each event; returns the last ("done") event. */
export async function train(o: TrainOptions, onEvent?: (e: TrainEvent) => void): Promise<Extract<TrainEvent, { event: "done" }> & { training: Training }> {
  const training = createTraining(o);
  let last: TrainEvent | null = null;
  for await (const e of training.run()) {
    onEvent?.(e);
    last = e;
  }
  return { ...(last as Extract<TrainEvent, { event: "done" }>), training };
}
