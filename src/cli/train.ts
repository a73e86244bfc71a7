import { Command, Option } from "commander";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CELL_NAMES } from "../cells/cell.js";
import { builtinCorpus, CORPORA, readData } from "../node/corpus.js";
import { readCheckpointFile, writeCheckpointFile } from "../node/checkpoint-file.js";
import { plotRun } from "../node/plot-run.js";
import { createTraining, DEFAULTS, type TrainEvent, type TrainOptions } from "../train/train.js";
import { DivergedError } from "../train/step.js";
import { openRunFolder, runStamp } from "../node/run-lock.js";
import { backendName, duration, formatDuration, int, num, stopOnInterrupt } from "./options.js";
import { applyThreads, threadsOf } from "../node/threads-option.js";
import { runTaskTrain, type TaskFlags } from "./task-train.js";

/** Built-in corpora of the task shapes (`--task`), besides the language-model corpora. */
export const TASK_CORPORA: Readonly<Record<string, { task: string; about: string }>> = {
  "spam-assassin": { task: "classify", about: "SpamAssassin public mail corpus, spam vs ham" },
  "cmudict-stress": { task: "tag", about: "CMUdict phonemes tagged with their lexical stress" },
  "first-names": { task: "conditional", about: "US first names conditioned on female/male" },
  cmudict: { task: "seq2seq", about: "CMU Pronouncing Dictionary, letters to phonemes" },
};

type TaskOnlyFlags = "pooling" | "bidirectional" | "classWeights" | "maxLen" | "attention" | "attentionSize" | "samplingProb" | "beam" | "lengthPenalty" | "sharedVocab" | "srcLevel" | "tgtLevel" | "valDecode";

interface TrainFlags extends Pick<TaskFlags, TaskOnlyFlags> {
  task: "lm" | TaskFlags["task"];
  data?: string;
  corpus: string;
  level: "char" | "word";
  lowercase?: boolean;
  minCount: number;
  maxVocab?: number;
  cell: string;
  layers: number;
  hidden: number;
  embed?: number;
  dropout: number;
  seqLen: number;
  batch: number;
  optimizer: TrainOptions["optimizer"];
  lr: number;
  momentum: number;
  lrDecay: number;
  lrDecayAfter: number;
  schedule: "char-rnn" | "cosine" | "plateau";
  clipNorm: number;
  clipValue?: number;
  weightDecay: number;
  maxSteps?: number;
  maxEpochs?: number;
  maxTime?: number;
  evalEvery: number;
  sampleEvery?: number;
  sampleLength: number;
  temperature: number;
  valFrac: number;
  testFrac: number;
  seed: number;
  init: "pytorch" | "charrnn";
  orthogonal?: boolean;
  forgetBias: number;
  dtype: "float32" | "float64";
  backend: string;
  threads?: number;
  out?: string;
  resume?: string;
  initFrom?: string;
  quiet?: boolean;
  json?: boolean;
}

/** `unroll train` */
export function trainCommand(): Command {
  return new Command("train")
    .summary("train a character- or word-level language model (char-rnn)")
    .description(
      "Trains a recurrent language model on text and prints samples as it goes. With no options: a\n" +
        "2-layer LSTM (128 units) on Moby Dick with the PyTorch reference protocol (Adam 2e-3, clip 5,\n" +
        "sequence 64, batch 32). Ctrl-C saves a checkpoint and stops; --resume continues exactly.\n" +
        `Built-in corpora: ${Object.entries(CORPORA).map(([k, v]) => `${k} (${v})`).join("; ")}.`,
    )
    .option("--data <path>", "train on this UTF-8 text: a file, a folder (files concatenated in sorted order) or - for stdin")
    .addOption(new Option("--task <task>", "what to train: lm (language model), classify (many-to-one), tag (aligned many-to-many), conditional (one-to-many LM from a label), seq2seq (encoder-decoder)").choices(["lm", "classify", "tag", "conditional", "seq2seq"]).default("lm"))
    .addOption(new Option("--corpus <name>", "built-in corpus when --data is not given (tasks: " + Object.entries(TASK_CORPORA).map(([k, v]) => `${k} for ${v.task}`).join(", ") + ")").choices([...Object.keys(CORPORA), ...Object.keys(TASK_CORPORA)]).default("moby-dick"))
    .addOption(new Option("--level <level>", "tokens: characters or words").choices(["char", "word"]).default("char"))
    .option("--lowercase", "word level: fold text to lower case")
    .option("--min-count <n>", "word level: words seen fewer times become <unk>", int(1), 1)
    .option("--max-vocab <n>", "word level: keep the n most frequent tokens (incl. <unk>, <eos>)", int(3))
    .addOption(new Option("--cell <cell>", "recurrent cell").choices([...CELL_NAMES]).default(DEFAULTS.cell))
    .option("--layers <n>", "stacked recurrent layers", int(1), DEFAULTS.layers)
    .option("--hidden <n>", "hidden units per layer", int(1), DEFAULTS.hidden)
    .option("--embed <n>", "embedding size; 0 feeds one-hot vectors as char-rnn (default: = hidden)", int(0))
    .option("--dropout <p>", "dropout between layers", num(0, 0.99, true), DEFAULTS.dropout)
    .option("--seq-len <n>", "steps of truncated BPTT per chunk", int(1), DEFAULTS.seqLen)
    .option("--batch <n>", "parallel streams per batch", int(1), DEFAULTS.batch)
    .addOption(new Option("--optimizer <name>", "optimizer").choices(["adam", "adamw", "sgd", "rmsprop", "adagrad"]).default(DEFAULTS.optimizer))
    .option("--lr <rate>", "learning rate", num(0), DEFAULTS.lr)
    .option("--momentum <m>", "momentum for sgd and rmsprop", num(0, 1, true), 0)
    .option("--lr-decay <factor>", "multiply the rate by this after each epoch from --lr-decay-after on (char-rnn); 1 = off", num(0, 1), DEFAULTS.lrDecay)
    .option("--lr-decay-after <epochs>", "first epoch whose end decays the rate", int(0), DEFAULTS.lrDecayAfter)
    .addOption(new Option("--schedule <kind>", "learning-rate schedule: char-rnn (--lr-decay), cosine (over --max-steps), plateau (on validation loss)").choices(["char-rnn", "cosine", "plateau"]).default("char-rnn"))
    .option("--clip-norm <n>", "clip the global gradient norm to this", num(0), DEFAULTS.clipNorm)
    .option("--clip-value <v>", "also clamp each gradient element to ±v (char-rnn's grad_clip)", num(0))
    .option("--weight-decay <w>", "weight decay (L2; decoupled for adamw)", num(0, Infinity, true), DEFAULTS.weightDecay)
    .option("--max-steps <n>", "stop after this many steps", int(0))
    .option("--max-epochs <n>", "stop after this many epochs (default 50 when no other limit is given)", int(1))
    .option("--max-time <duration>", "stop after this long, e.g. 600, 10m, 1h", duration)
    .option("--eval-every <n>", "validate (and checkpoint) every n steps", int(1), DEFAULTS.evalEvery)
    .option("--sample-every <n>", "print a sample every n steps; 0 = never (default: = --eval-every)", int(0))
    .option("--sample-length <n>", "tokens per sample", int(1), DEFAULTS.sampleLength)
    .option("--temperature <t>", "sampling temperature of the progress samples", num(0), DEFAULTS.temperature)
    .option("--val-frac <f>", "fraction of each stream held out for validation", num(0, 0.9, true), DEFAULTS.valFrac)
    .option("--test-frac <f>", "fraction of each stream held out for testing", num(0, 0.9, true), DEFAULTS.testFrac)
    .option("--seed <n>", "random seed (initialisation, dropout)", int(0), DEFAULTS.seed)
    .addOption(new Option("--init <scheme>", "initialisation: PyTorch's defaults or char-rnn's U(±0.08)").choices(["pytorch", "charrnn"]).default(DEFAULTS.init))
    .option("--orthogonal", "orthogonal recurrent weights")
    .option("--forget-bias <b>", "added to the LSTM forget-gate bias at initialisation", num(), DEFAULTS.forgetBias)
    .addOption(new Option("--dtype <dtype>", "precision").choices(["float32", "float64"]).default(DEFAULTS.dtype))
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS); wasm: 2 or more starts its second thread", int(1))
    .option("--out <dir>", "run folder for checkpoints, metrics and plots (default: runs/<corpus>-<time>)")
    .option("--resume <ckpt>", "continue the run saved in this checkpoint exactly (same data)")
    .option("--init-from <ckpt>", "start from this checkpoint's weights and vocabulary (fine-tune)")
    .option("--quiet", "print only the final summary")
    .addOption(new Option("--pooling <how>", "classify: the sequence's summary: last state (bidirectional: both ends), mean or max over steps").choices(["last", "mean", "max"]).default("last"))
    .option("--no-bidirectional", "classify, tag, seq2seq: a unidirectional encoder (default: bidirectional)")
    .addOption(new Option("--class-weights <w>", "classify: weigh the loss of each class by n/(K·count) (balanced) against imbalance").choices(["none", "balanced"]).default("none"))
    .option("--max-len <n>", "classify, tag: keep the first n tokens of each example", int(1), 400)
    .addOption(new Option("--attention <score>", "seq2seq: attention score: dot, general (Luong), additive (Bahdanau), none").choices(["none", "dot", "general", "additive"]).default("general"))
    .option("--attention-size <n>", "seq2seq: units of the additive score", int(1), 128)
    .option("--sampling-prob <p>", "seq2seq: scheduled sampling, the probability of feeding the model's own prediction", num(0, 1, true), 0)
    .option("--beam <k>", "seq2seq: beam width of the test report (1: greedy only)", int(1), 5)
    .option("--length-penalty <a>", "seq2seq: beam search ranks by log P / length^a", num(0, 10, true), 1)
    .option("--shared-vocab", "seq2seq: one vocabulary for sources and targets")
    .addOption(new Option("--src-level <level>", "seq2seq: source tokens").choices(["char", "word"]).default("char"))
    .addOption(new Option("--tgt-level <level>", "seq2seq: target tokens (word: separated by spaces)").choices(["char", "word"]).default("word"))
    .option("--val-decode <n>", "seq2seq: validation pairs decoded for PER/WER at each validation", int(0), 1000)
    .option("--json", 'print events as JSON lines; the last is {"event": "done", "checkpoint": PATH, "valLoss": ...}')
    .action(runTrain);
}

async function runTrain(f: TrainFlags, cmd: Command): Promise<void> {
  const corpusTask = f.data === undefined ? TASK_CORPORA[f.corpus]?.task : undefined;
  if (f.task === "lm" && corpusTask) throw new Error(`the corpus ${f.corpus} is for --task ${corpusTask}; add --task ${corpusTask}`);
  if (f.task !== "lm") {
    if (f.data === undefined && cmd.getOptionValueSource("corpus") === "default" && !f.resume) {
      f.corpus = Object.entries(TASK_CORPORA).find(([, v]) => v.task === f.task)![0];
    } else if (f.data === undefined && corpusTask !== f.task && !f.resume) {
      throw new Error(`--task ${f.task} does not train on the ${f.corpus} corpus; give --data FILE${Object.entries(TASK_CORPORA).filter(([, v]) => v.task === f.task).map(([k]) => ` or --corpus ${k}`).join("")}`);
    }
    if (cmd.getOptionValueSource("evalEvery") === "default") f.evalEvery = 0;
    // tasks hold out a test split too (CMUdict's 90/5/5), and default to a bigger batch
    if (cmd.getOptionValueSource("valFrac") === "default") f.valFrac = 0.05;
    if (cmd.getOptionValueSource("testFrac") === "default") f.testFrac = 0.05;
    if (cmd.getOptionValueSource("batch") === "default") f.batch = 64;
    return runTaskTrain(f as unknown as TaskFlags, cmd);
  }
  await applyThreads(f.threads, f.backend);
  const resume = f.resume ? readCheckpointFile(f.resume) : undefined;
  const initFrom = f.initFrom ? readCheckpointFile(f.initFrom) : undefined;
  const savedSource = resume?.training?.options.source as string | undefined;
  const dataSpec = f.data ?? (resume && savedSource?.startsWith("file:") ? savedSource.slice(5) : undefined);
  const corpusName = f.data ? undefined : resume && savedSource?.startsWith("corpus:") ? savedSource.slice(7) : f.corpus;
  const corpus = dataSpec !== undefined ? await readData(dataSpec) : builtinCorpus(corpusName!);
  const source = dataSpec !== undefined ? `file:${dataSpec === "-" ? "-" : resolve(dataSpec)}` : `corpus:${corpus.name}`;
  const controller = new AbortController();
  const training = createTraining({
    text: corpus.text,
    source,
    level: f.level,
    lowercase: f.lowercase,
    minCount: f.minCount,
    maxVocab: f.maxVocab,
    cell: f.cell,
    layers: f.layers,
    hidden: f.hidden,
    embed: f.embed,
    dropout: f.dropout,
    seqLen: f.seqLen,
    batch: f.batch,
    optimizer: f.optimizer,
    lr: f.lr,
    momentum: f.momentum,
    lrDecay: f.lrDecay,
    lrDecayAfter: f.lrDecayAfter,
    schedule: f.schedule,
    clipNorm: f.clipNorm,
    clipValue: f.clipValue,
    weightDecay: f.weightDecay,
    maxSteps: f.maxSteps,
    maxEpochs: f.maxEpochs,
    maxTime: f.maxTime,
    evalEvery: f.evalEvery,
    sampleEvery: f.sampleEvery ?? f.evalEvery,
    sampleLength: f.sampleLength,
    temperature: f.temperature,
    valFrac: f.valFrac,
    testFrac: f.testFrac,
    seed: f.seed,
    init: f.init,
    orthogonal: f.orthogonal,
    forgetBias: f.forgetBias,
    dtype: f.dtype,
    backend: f.backend,
    signal: controller.signal,
    resume,
    initFrom,
  });
  const out = f.out ?? (f.resume ? resolve(f.resume, "..") : join("runs", `${corpus.name.replace(/[^\w.-]+/g, "_").slice(-40)}-${runStamp()}`));
  const run = openRunFolder(out, !resume);
  const { latest, best } = run;
  const interrupt = stopOnInterrupt(controller, f.json ?? false);
  const view = createProgress(f, out);
  let bestWritten = resume !== undefined && existsSync(best);
  let savedStep: number | null = resume ? (resume.training?.progress.step ?? null) : null;
  try {
    for await (const e of training.run()) {
      run.appendMetrics(e);
      if (e.event === "eval") {
        if (e.improved) {
          writeCheckpointFile(best, training.snapshot());
          bestWritten = true;
        }
        writeCheckpointFile(latest, training.snapshot());
        savedStep = e.step;
        tryPlot(out);
      }
      if (e.event === "done") {
        writeCheckpointFile(latest, training.snapshot());
        savedStep = e.step;
        tryPlot(out);
        const final = { ...e, checkpoint: bestWritten ? best : latest, latest, runDir: out, bits: e.valLoss === null ? null : e.valLoss / Math.LN2 };
        view(final);
      } else view(e);
    }
  } catch (e) {
    if (!(e instanceof DivergedError)) throw e;
    const kept = savedStep !== null ? `the last good checkpoint is ${latest} (step ${savedStep}); continue from it with --init-from and a lower --lr (now ${f.lr})` : `no checkpoint was written before it; start again with a lower --lr (now ${f.lr})`;
    throw new Error(`${e.message}. Nothing was saved from the diverged run: ${kept}`);
  } finally {
    run.release();
    interrupt.dispose();
  }
  if (interrupt.interrupted()) process.exitCode = 130;
}

function tryPlot(out: string): void {
  try {
    plotRun(out);
  } catch {
    // A plot is a convenience; never lose a run over it. `unroll plot DIR` reports the error.
  }
}

/** Prints events: JSON lines, a live line on a terminal, or plain lines. */
function createProgress(f: TrainFlags, out: string): (e: TrainEvent | Record<string, unknown>) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  let lastVal: number | null = null;
  let live = false;
  const clear = () => {
    if (live) process.stderr.write("\r\x1b[2K");
    live = false;
  };
  return (e) => {
    if (f.json) {
      console.log(JSON.stringify(e));
      return;
    }
    const ev = e as TrainEvent;
    switch (ev.event) {
      case "start":
        if (f.quiet) return;
        console.log(
          `unroll train: ${ev.options.cell} ${ev.options.layers}×${ev.options.hidden}, ${ev.params.toLocaleString("en")} parameters, ` +
            `vocabulary ${ev.vocabSize}, ${ev.trainTokens.toLocaleString("en")} training / ${ev.valTokens.toLocaleString("en")} validation tokens, ` +
            `${ev.chunksPerEpoch} steps per epoch, backend ${ev.backend}${threadNote(f.backend)}${ev.resumed ? `, resumed at step ${ev.step}` : ""}\nrun folder: ${out}`,
        );
        return;
      case "step": {
        if (f.quiet) return;
        const line =
          `step ${ev.step}  epoch ${ev.progress.toFixed(2)}  loss ${ev.loss.toFixed(4)}` +
          (lastVal !== null ? `  val ${lastVal.toFixed(4)}` : "") +
          `  ${Math.round(ev.tokensPerSec).toLocaleString("en")} tok/s  lr ${ev.lr.toPrecision(3)}` +
          (ev.etaMs !== null ? `  ETA ${formatDuration(ev.etaMs)}` : "");
        if (tty) {
          process.stderr.write(`\r\x1b[2K${line}`);
          live = true;
        } else if (Date.now() - lastLine > 5000 || ev.step % 100 === 0) {
          console.log(line);
          lastLine = Date.now();
        }
        return;
      }
      case "eval":
        lastVal = ev.valLoss;
        if (f.quiet) return;
        clear();
        console.log(`step ${ev.step}: validation loss ${ev.valLoss.toFixed(4)} nats/token (${(ev.valLoss / Math.LN2).toFixed(3)} bits)${ev.improved ? "  * best" : ""}`);
        return;
      case "sample":
        if (f.quiet) return;
        clear();
        console.log(`--- sample at step ${ev.step} ---\n${ev.text}\n---`);
        return;
      case "done": {
        clear();
        const d = e as Extract<TrainEvent, { event: "done" }> & { checkpoint: string };
        console.log(
          `done (${d.reason}) after ${d.step} steps, ${formatDuration(d.elapsedMs)}: ` +
            (d.valLoss !== null ? `validation loss ${d.valLoss.toFixed(4)} nats/token, best ${d.bestValLoss!.toFixed(4)}` : "no validation data") +
            `\ncheckpoint: ${d.checkpoint}\nsample with: unroll sample --model ${d.checkpoint}`,
        );
      }
    }
  };
}

/** " (N threads)" where the backend computes on more than one. */
function threadNote(backend: string): string {
  const n = threadsOf(backend);
  return n > 1 ? ` (${n} threads)` : "";
}
