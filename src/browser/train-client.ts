/**
 * The page side of training in a Web Worker (`serveTraining` in train-worker.ts runs in the
 * worker). Imports no library code, only types, so a page that trains in a worker carries none of
 * the training code itself.
 */
import type { FromWorker, ToWorker, WorkerBackendInfo, WorkerModelSummary, WorkerTrainOptions } from "./train-worker.js";

/** The part of a Worker used by the page side. */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: unknown[]): void;
  addEventListener(type: "message", listener: (e: { data: unknown }) => void): void;
  addEventListener(type: "error", listener: (e: { message?: string }) => void): void;
  terminate(): void;
}

type Listener<T extends FromWorker["type"]> = (m: Extract<FromWorker, { type: T }>) => void;

/** The page side of `serveTraining`. */
export interface TrainingWorker {
  start(options: WorkerTrainOptions, from?: { readonly resume?: Uint8Array; readonly initFrom?: Uint8Array }): void;
  pause(): void;
  continue(): void;
  stop(): void;
  /** Checkpoint bytes of the live run or loaded model (the CLI's format). */
  snapshot(): Promise<Uint8Array>;
  /** Makes a checkpoint the worker's model (for handlers, or to resume from). */
  load(bytes: Uint8Array): Promise<WorkerModelSummary>;
  info(): Promise<WorkerBackendInfo>;
  /** Calls a handler given to `serveTraining`. */
  call<T = unknown>(name: string, payload?: unknown): Promise<T>;
  /** Listens to one kind of message; returns a function that removes the listener. */
  on<T extends FromWorker["type"]>(type: T, listener: Listener<T>): () => void;
  /** Resolves when the running training ends (null, or its error). */
  ended(): Promise<string | null>;
  terminate(): void;
}

/** Connects to a worker that runs `serveTraining()`. */
export function connectTrainingWorker(worker: WorkerLike): TrainingWorker {
  const listeners = new Map<string, Set<(m: FromWorker) => void>>();
  const pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  let nextId = 1;
  const emit = (m: FromWorker) => listeners.get(m.type)?.forEach((l) => l(m));
  worker.addEventListener("message", (e) => {
    const m = e.data as FromWorker;
    if (m.type === "reply") {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p?.fail(new Error(m.error));
      else p?.ok(m.value);
    }
    emit(m);
  });
  worker.addEventListener("error", (e) => {
    const err = new Error(`the training worker failed: ${e.message ?? "unknown error"}`);
    for (const p of pending.values()) p.fail(err);
    pending.clear();
    emit({ type: "ended", error: err.message });
  });
  const call = <T>(name: string, payload?: unknown): Promise<T> =>
    new Promise<T>((ok, fail) => {
      const id = nextId++;
      pending.set(id, { ok: ok as (v: unknown) => void, fail });
      worker.postMessage({ type: "call", id, name, payload } satisfies ToWorker);
    });
  const on = <T extends FromWorker["type"]>(type: T, listener: Listener<T>) => {
    const set = listeners.get(type) ?? new Set();
    listeners.set(type, set);
    const l = listener as (m: FromWorker) => void;
    set.add(l);
    return () => void set.delete(l);
  };
  return {
    start: (options, from = {}) => worker.postMessage({ type: "start", options, ...from } satisfies ToWorker),
    pause: () => worker.postMessage({ type: "pause" } satisfies ToWorker),
    continue: () => worker.postMessage({ type: "continue" } satisfies ToWorker),
    stop: () => worker.postMessage({ type: "stop" } satisfies ToWorker),
    snapshot: () => call<Uint8Array>("snapshot"),
    load: (bytes) => call<WorkerModelSummary>("load", bytes),
    info: () => call<WorkerBackendInfo>("info"),
    call,
    on,
    ended: () =>
      new Promise((done) => {
        const off = on("ended", (m) => {
          off();
          done(m.error);
        });
      }),
    terminate: () => worker.terminate(),
  };
}
