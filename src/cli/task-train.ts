/**
 * `unroll train --task classify|tag|conditional|seq2seq`: the shared run of every task — data,
 * model, the training loop (src/tasks/trainer.ts), atomic checkpoints (latest.ckpt each
 * validation, best.ckpt when it improves), metrics.jsonl, progress, and at the end the test
 * report of the best checkpoint (report.json, printed; `--json` prints it as the last line).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { openRunFolder, runStamp } from "../node/run-lock.js";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { getBackend } from "../backend/select.js";
import { writeBytesAtomic } from "../node/checkpoint-file.js";
import { plotRun } from "../node/plot-run.js";
import { decodeTaskCheckpoint, encodeTaskCheckpoint, type TaskCheckpoint } from "../tasks/task-checkpoint.js";
import { createTaskTraining, type TaskEvent, type TaskTrainingState } from "../tasks/trainer.js";
import type { FloatArray } from "../tensor/dtype.js";
import { formatDuration, stopOnInterrupt } from "./options.js";
import { applyThreads } from "../node/threads-option.js";
import { setupTask } from "./task-setup.js";
import type { TaskFlags } from "./task-util.js";

export type { TaskFlags, TaskSetup } from "./task-util.js";



export function readTaskCheckpoint(path: string): TaskCheckpoint {
  let bytes: Uint8Array;
  try {
      bytes = readFileSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new Error(`no such checkpoint: ${path}; "unroll train --task …" writes best.ckpt and latest.ckpt in its run folder`);
      throw new Error(`${path}: cannot read the checkpoint: ${(e as Error).message}`);
    }
    return decodeTaskCheckpoint(bytes, path);
  }

  export function writeTaskCheckpoint(path: string, ck: TaskCheckpoint): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeTaskCheckpoint(ck);
    } catch (e) {
      throw new Error(`${path}: cannot save the checkpoint: ${(e as Error).message}`);
    }
    writeBytesAtomic(path, bytes);
  }

  /** Which flags a resumed run keeps from the checkpoint (all but the stopping limits and the output). */
  const RUN_LIMITS = ["maxSteps", "maxEpochs", "maxTime", "out", "resume", "quiet", "json", "threads", "backend"] as const;

  export async function runTaskTrain(given: TaskFlags, cmd: Command): Promise<void> {
    await applyThreads(given.threads, given.backend);
    const resume = given.resume ? readTaskCheckpoint(given.resume) : undefined;
    if (resume && !resume.training) throw new Error(`${given.resume}: holds a finished model without training state, so it cannot be resumed`);
    let f: TaskFlags = given;
    if (resume) {
      const saved = resume.meta.options as TaskFlags;
      if (saved.task !== given.task && cmd.getOptionValueSource("task") === "cli") throw new Error(`${given.resume} is a ${saved.task} run; resume it with --task ${saved.task}`);
      f = { ...saved };
      for (const k of RUN_LIMITS) if (given[k] !== undefined && cmd.getOptionValueSource(k) === "cli") (f as unknown as Record<string, unknown>)[k] = given[k];
    }
    if (f.maxEpochs === undefined && f.maxSteps === undefined && f.maxTime === undefined) f = { ...f, maxEpochs: 20 };
    const backend = getBackend(f.backend === "auto" ? undefined : f.backend);
    const setup = setupTask(f, backend, resume);
    const controller = new AbortController();
    const training = createTaskTraining(
      setup.loop,
      {
        optimizer: optimizerConfig(f),
        clipNorm: f.clipNorm,
        maxEpochs: f.maxEpochs ?? null,
        maxSteps: f.maxSteps ?? null,
        maxTime: f.maxTime ?? null,
        evalEvery: f.evalEvery,
        lrDecay: f.lrDecay,
        seed: f.seed,
        signal: controller.signal,
      },
      resume ? { training: resume.training as unknown as TaskTrainingState, tensors: resume.tensors } : undefined,
    );
    const name = (f.corpus && !f.data ? f.corpus : f.task).replace(/[^\w.-]+/g, "_");
    const out = f.out ?? (given.resume ? resolve(given.resume, "..") : join("runs", `${f.task}-${name}-${runStamp()}`));
    const run = openRunFolder(out, !resume);
    const { latest, best } = run;
    const checkpoint = (withTraining: boolean): TaskCheckpoint => {
      const tensors = new Map<string, FloatArray>([["params", setup.model.params.data.slice()]]);
      let state: Record<string, unknown> | null = null;
      if (withTraining) {
        const s = training.snapshot();
        for (const [k, v] of s.tensors) tensors.set(k, v);
        state = s.training as unknown as Record<string, unknown>;
      }
      return { task: setup.task, dtype: setup.model.params.dtype, config: setup.config, meta: { ...setup.meta, options: f }, tensors, training: state };
    };
    const interrupt = stopOnInterrupt(controller, f.json ?? false);
    const show = progressPrinter(f);
    let bestWritten = resume !== undefined && existsSync(best);
    let done: Extract<TaskEvent, { event: "done" }> | null = null;
    try {
    for await (const e of training.run()) {
      run.appendMetrics(toMetricsLine(e));
      if (e.event === "start") {
        show({ ...e, summary: setup.summary, out });
        continue;
      }
      if (e.event === "eval") {
        if (e.improved) {
          writeTaskCheckpoint(best, checkpoint(true));
          bestWritten = true;
        }
        writeTaskCheckpoint(latest, checkpoint(true));
        tryPlot(out);
      }
      if (e.event === "done") {
        writeTaskCheckpoint(latest, checkpoint(true));
        done = e;
        continue;
      }
      show(e);
    }
  } finally {
    run.release();
    interrupt.dispose();
  }
  if (!done) return;
  // The report is of the best checkpoint (by validation loss).
  if (bestWritten) setup.model.params.data.set(readTaskCheckpoint(best).tensors.get("params")!);
  const report = { ...setup.report(out), task: setup.task, trainingMs: done.elapsedMs, steps: done.step, epochs: done.epoch, reason: done.reason, backend: backend.name };
  writeFileSync(join(out, "report.json"), JSON.stringify(report, null, 2) + "\n");
  tryPlot(out);
  const final = { event: "done", ...report, bestValLoss: done.bestValLoss, checkpoint: bestWritten ? best : latest, latest, runDir: out };
  if (f.json) console.log(JSON.stringify(final));
  else {
    if (!f.quiet) console.log(`\nstopped (${done.reason}) after ${done.step} steps, ${formatDuration(done.elapsedMs)}; best validation loss ${done.bestValLoss?.toFixed(4) ?? "—"}`);
    for (const line of setup.describe(report)) console.log(line);
    console.log(`model: ${final.checkpoint}\nreport: ${join(out, "report.json")}`);
  }
  if (interrupt.interrupted()) process.exitCode = 130;
}

/** The metrics line of an event: the plot reads `event`, `step`, `loss` and `valLoss`. */
function toMetricsLine(e: TaskEvent): Record<string, unknown> {
  if (e.event === "eval") return { ...e, ...Object.fromEntries(Object.entries(e.metrics).map(([k, v]) => [`val_${k}`, v])) };
  return { ...e };
}

function optimizerConfig(f: TaskFlags) {
  switch (f.optimizer) {
    case "sgd":
      return { kind: "sgd" as const, lr: f.lr, momentum: f.momentum, weightDecay: f.weightDecay };
    case "adamw":
      return { kind: "adamw" as const, lr: f.lr, weightDecay: f.weightDecay };
    case "rmsprop":
      return { kind: "rmsprop" as const, lr: f.lr, momentum: f.momentum, weightDecay: f.weightDecay };
    case "adagrad":
      return { kind: "adagrad" as const, lr: f.lr, weightDecay: f.weightDecay };
    default:
      return { kind: "adam" as const, lr: f.lr, weightDecay: f.weightDecay };
  }
}

function tryPlot(out: string): void {
  try {
    plotRun(out);
  } catch {
    // a plot is a convenience; `unroll plot DIR` reports its error
  }
}

function progressPrinter(f: TaskFlags): (e: Record<string, unknown>) => void {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (e) => {
    if (f.json) {
      console.log(JSON.stringify(e));
      return;
    }
    if (f.quiet) return;
    switch (e.event) {
      case "start":
        console.log(`${e.summary}\n${e.params} parameters, ${e.batchesPerEpoch} batches per epoch, backend ${e.backend}${e.resumed ? `, resumed at step ${e.step}` : ""}\nrun folder: ${e.out}`);
        return;
      case "step": {
        const now = Date.now();
        if (now - last < (tty ? 250 : 10000)) return;
        last = now;
        const eta = e.etaMs === null ? "" : `, eta ${formatDuration(e.etaMs as number)}`;
        const line = `step ${e.step} epoch ${(e.progress as number).toFixed(2)} loss ${(e.loss as number).toFixed(4)} lr ${(e.lr as number).toExponential(2)} ${Math.round(e.itemsPerSec as number)}/s${eta}`;
        if (tty) process.stderr.write(`\r\x1b[2K${line}`);
        else console.log(line);
        return;
      }
      case "eval": {
        if (tty) process.stderr.write("\r\x1b[2K");
        const m = Object.entries(e.metrics as Record<string, number>)
          .map(([k, v]) => `${k} ${k === "per" || k === "wer" || k === "accuracy" || k === "macroF1" ? (100 * v).toFixed(2) + "%" : v.toFixed(4)}`)
          .join(", ");
        console.log(`validation at step ${e.step} (epoch ${e.epoch}): loss ${(e.valLoss as number).toFixed(4)}${m ? ", " + m : ""}${e.improved ? " (best)" : ""}`);
        return;
      }
    }
  };
}
