/**
 * Training in a Web Worker, as a helper: the page never freezes and needs no protocol of its own.
 *
 * In the worker (a module worker the app bundles):
 *
 *   import { serveTraining } from "unroll/browser";
 *   serveTraining();                       // optionally { handlers: { name(payload, ctx) {…} } }
 *
 * On the page:
 *
 *   import { connectTrainingWorker } from "unroll/browser";
 *   const w = connectTrainingWorker(new Worker(new URL("./worker.js", import.meta.url), { type: "module" }));
 *   w.on("event", (e) => …);              // the TrainEvents of `train()`: start, step, eval, sample, done
 *   w.start({ text, hidden: 128, maxSteps: 1000, threads: true });
 *   w.pause(); w.continue(); w.stop();
 *   const bytes = await w.snapshot();     // a checkpoint in the CLI's format (`unroll train` reads it)
 *
 * The worker picks its backend once: the wasm backend on two threads where the page is
 * cross-origin isolated (`enableBrowserThreads`), else on one thread with a note saying why, else
 * the js backend. Handlers run between training steps with the live model.
 */
import type { TrainedModel } from "../model/trained.js";
import { decodeCheckpoint, encodeCheckpoint } from "../model/checkpoint-codec.js";
import { modelFromCheckpoint } from "../model/trained.js";
import type { Checkpoint } from "../model/checkpoint.js";
import { createTraining, type TrainEvent, type TrainOptions, type Training } from "../train/train.js";
import { getBackend } from "../backend/select.js";
import { cellName } from "../cells/cell.js";
import type { Backend } from "../backend/backend.js";
import { initWasmBackend, wasmInfo } from "../backend/wasm/index.js";
import { enableBrowserThreads } from "./threads.js";

/** Training options that cross to the worker (structured-cloneable: no backend object, signal or clock). */
export type WorkerTrainOptions = Omit<TrainOptions, "backend" | "signal" | "resume" | "initFrom" | "now"> & {
  /**
   * "wasm" (default), "js" or "reference". Like `threads`, it counts only where this start is the
   * worker's first request: the worker sets its backend up once, on the first request that needs
   * it ("start", "info", or a handler calling `ctx.backend()`), and keeps it.
   */
  readonly backend?: string;
  /** Try two wasm threads (default true); see `backend`. */
  readonly threads?: boolean;
};

/** What the worker runs on, sent once its backend is ready. */
export interface WorkerBackendInfo {
  readonly backend: string;
  /** The wasm module kind, or null on another backend. */
  readonly module: "relaxed-simd" | "simd" | null;
  readonly threads: number;
  readonly crossOriginIsolated: boolean;
  /** Why it runs on fewer threads or another backend than asked, or null. */
  readonly note: string | null;
}

/** The model the worker holds, summarised. */
export interface WorkerModelSummary {
  readonly cell: string;
  readonly layers: number;
  readonly hidden: number;
  readonly vocabSize: number;
  readonly params: number;
  readonly step: number | null;
}

/** Messages to the worker. */
export type ToWorker =
  | { readonly type: "start"; readonly options: WorkerTrainOptions; readonly resume?: Uint8Array; readonly initFrom?: Uint8Array }
  | { readonly type: "pause" }
  | { readonly type: "continue" }
  | { readonly type: "stop" }
  | { readonly type: "call"; readonly id: number; readonly name: string; readonly payload?: unknown };

/** Messages from the worker. */
export type FromWorker =
  | { readonly type: "ready"; readonly info: WorkerBackendInfo }
  | { readonly type: "event"; readonly event: TrainEvent }
  | { readonly type: "paused"; readonly paused: boolean }
  | { readonly type: "ended"; readonly error: string | null }
  | { readonly type: "reply"; readonly id: number; readonly value?: unknown; readonly error?: string }
  | { readonly type: "custom"; readonly data: unknown };

/** What a handler sees. */
export interface WorkerContext {
  /** The running (or last) training, or null. */
  readonly training: Training | null;
  /** The live model: the training's, or the one loaded by "load"; null before either. */
  model(): TrainedModel | null;
  /** The backend the worker runs on (set up on first use). */
  backend(): Promise<Backend>;
  /** Sends a message the page receives as a "custom" message (e.g. streamed pieces of a sample). */
  post(data: unknown): void;
}

export type WorkerHandler = (payload: unknown, ctx: WorkerContext) => unknown;

/** The part of a worker's global scope used here. */
export interface WorkerScope {
  postMessage(message: unknown, transfer?: unknown[]): void;
  addEventListener(type: "message", listener: (e: { data: ToWorker }) => void): void;
  readonly crossOriginIsolated?: boolean;
}

function summary(lm: TrainedModel, step: number | null): WorkerModelSummary {
  const m = lm.model.config;
  return { cell: cellName(m.cell), layers: m.numLayers, hidden: m.hiddenSize, vocabSize: m.vocabSize, params: lm.model.params.data.length, step };
}

/**
 * Serves training in this worker (call once at the worker's top level). Built-in calls:
 * "snapshot" → checkpoint bytes of the live run (or loaded model); "load" (checkpoint bytes) →
 * makes it the live model, a WorkerModelSummary; "info" → WorkerBackendInfo.
 */
export function serveTraining(o: { readonly handlers?: Readonly<Record<string, WorkerHandler>>; readonly scope?: WorkerScope } = {}): void {
  const scope = o.scope ?? (globalThis as unknown as WorkerScope);
  const post = (m: FromWorker, transfer?: unknown[]) => scope.postMessage(m, transfer);
  let info: WorkerBackendInfo | null = null;
  let backendPromise: Promise<Backend> | null = null;
  let wantThreads = true;
  let wantBackend = "wasm";
  let training: Training | null = null;
  let loaded: { ck: Checkpoint; lm: TrainedModel } | null = null;
  const signal = { aborted: false };
  let paused = false;
  let wake: (() => void) | null = null;
  let running = false;

  const setUp = async (): Promise<Backend> => {
    const isolated = scope.crossOriginIsolated === true;
    if (wantBackend !== "wasm") {
      info = { backend: wantBackend, module: null, threads: 1, crossOriginIsolated: isolated, note: null };
      return getBackend(wantBackend);
    }
    try {
      let note: string | null = null;
      let backend: Backend;
      if (wantThreads) ({ backend, note } = await enableBrowserThreads());
      else backend = await initWasmBackend();
      const w = wasmInfo();
      info = { backend: "wasm", module: w.module, threads: w.threads, crossOriginIsolated: isolated, note };
      return backend;
    } catch (e) {
      info = { backend: "js", module: null, threads: 1, crossOriginIsolated: isolated, note: `the wasm backend did not start (${(e as Error).message}); running the js backend` };
      return getBackend("js");
    }
  };
  const backend = () => (backendPromise ??= setUp().then((b) => (post({ type: "ready", info: info! }), b)));

  const ctx: WorkerContext = {
    get training() {
      return training;
    },
    model: () => (training ? { model: training.model, vocab: training.vocab } : (loaded?.lm ?? null)),
    backend,
    post: (data) => post({ type: "custom", data }),
  };

  const snapshotBytes = (): Uint8Array => {
    if (training) return encodeCheckpoint(training.snapshot());
    if (loaded) return encodeCheckpoint(loaded.ck);
    throw new Error("there is no model yet: start a training or load a checkpoint first");
  };

  const builtins: Record<string, WorkerHandler> = {
    snapshot: () => snapshotBytes(),
    info: async () => (await backend(), info),
    load: (payload) => {
      if (running) throw new Error("a training is running: stop it before loading another model");
      const ck = decodeCheckpoint(payload as Uint8Array, "the checkpoint");
      loaded = { ck, lm: modelFromCheckpoint(ck) };
      training = null;
      return summary(loaded.lm, ck.training?.progress.step ?? null);
    },
  };

  const run = async (m: Extract<ToWorker, { type: "start" }>) => {
    if (running) throw new Error("a training is already running in this worker: stop it first");
    running = true;
    signal.aborted = false;
    paused = false;
    try {
      wantThreads = m.options.threads ?? true;
      wantBackend = m.options.backend ?? "wasm";
      const b = await backend();
      const { threads: _t, backend: _b, ...options } = m.options;
      training = createTraining({
        ...options,
        backend: b,
        signal,
        resume: m.resume ? decodeCheckpoint(m.resume, "the checkpoint to resume") : undefined,
        initFrom: m.initFrom ? decodeCheckpoint(m.initFrom, "the checkpoint to fine-tune") : undefined,
      });
      loaded = null;
      const it = training.run();
      for (;;) {
        while (paused && !signal.aborted) await new Promise<void>((done) => (wake = done));
        const next = await it.next();
        if (next.done) break;
        post({ type: "event", event: next.value });
      }
      post({ type: "ended", error: null });
    } catch (e) {
      post({ type: "ended", error: (e as Error).message });
    } finally {
      running = false;
    }
  };

  const resumeLoop = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  scope.addEventListener("message", (e) => {
    const m = e.data;
    switch (m.type) {
      case "start":
        void run(m);
        break;
      case "pause":
        paused = true;
        post({ type: "paused", paused: true });
        break;
      case "continue":
        paused = false;
        resumeLoop();
        post({ type: "paused", paused: false });
        break;
      case "stop":
        signal.aborted = true;
        resumeLoop();
        break;
      case "call": {
        const h = o.handlers?.[m.name] ?? builtins[m.name];
        if (!h) {
          post({ type: "reply", id: m.id, error: `the worker has no handler "${m.name}"` });
          break;
        }
        Promise.resolve()
          .then(() => h(m.payload, ctx))
          .then(
            (value) => post({ type: "reply", id: m.id, value }, value instanceof Uint8Array ? [value.buffer] : undefined),
            (err: unknown) => post({ type: "reply", id: m.id, error: err instanceof Error ? err.message : String(err) }),
          );
        break;
      }
    }
  });
}

