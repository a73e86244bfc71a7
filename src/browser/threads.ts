/**
 * The browser edge of the wasm backend's second thread: a dedicated Worker, started from a Blob
 * URL (no file to serve or bundle), that runs the threaded module's poll/run loop on the shared
 * memory (src/backend/wasm/index.ts, assembly/threads.ts). The Node counterpart is
 * src/node/wasm-threads.ts.
 *
 * Shared memory needs a cross-origin isolated page: the server must send
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
 * Without them `enableBrowserThreads` stays on one thread and says so, instead of failing later
 * with a DataCloneError. Call it in a Web Worker (where the training runs): the calling thread
 * spins while the worker finishes its half of each kernel, which would freeze a page.
 */
import type { Backend } from "../backend/backend.js";
import { enableWasmThreads, initWasmBackend, wasmBackend, wasmThreads, type WasmWorkerJob } from "../backend/wasm/index.js";

/** The worker's whole program (a classic worker script). */
const WORKER = `
onmessage = (e) => {
  const { module, memory, ctrl, tile } = e.data;
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const seqs = new Int32Array(memory.buffer, ctrl, 1);
  postMessage("ready");
  for (let seen = 0; ; ) {
    const s = exports.workerPoll(ctrl, seen);
    if (s === seen) Atomics.wait(seqs, 0, seen);
    else if (exports.workerRun(ctrl, tile, (seen = s)) === 0) break;
  }
};
`;

/** The browser globals used here, typed locally (the library is compiled without the DOM lib). */
interface BrowserGlobals {
  readonly crossOriginIsolated?: boolean;
  readonly SharedArrayBuffer?: unknown;
  readonly Worker?: new (url: string, options?: { name?: string }) => BrowserWorker;
  readonly Blob?: new (parts: string[], options: { type: string }) => object;
  readonly URL?: { createObjectURL(blob: object): string; revokeObjectURL(url: string): void };
}
interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
}

/** What `enableBrowserThreads` got. */
export interface BrowserThreads {
  /** Threads the wasm backend now runs on. */
  readonly threads: number;
  /** Why it stays on one thread (one sentence saying what to do), or null on two. */
  readonly note: string | null;
  readonly backend: Backend;
}

/** The one-sentence reason threads cannot start here, or null when they can. */
export function browserThreadsUnavailable(g: BrowserGlobals = globalThis as BrowserGlobals): string | null {
  if (g.crossOriginIsolated !== true) {
    return "Threads need a cross-origin isolated page: serve it with the headers `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`; running on one thread.";
  }
  if (g.SharedArrayBuffer === undefined) return "This browser has no SharedArrayBuffer; running on one thread.";
  if (!g.Worker || !g.Blob || !g.URL) return "This context cannot start a Web Worker; running on one thread.";
  return null;
}

function startWorker(g: BrowserGlobals): (job: WasmWorkerJob) => Promise<void> {
  return (job) =>
    new Promise((resolve, reject) => {
      const url = g.URL!.createObjectURL(new g.Blob!([WORKER], { type: "text/javascript" }));
      const w = new g.Worker!(url, { name: "unroll wasm thread" });
      w.onmessage = () => {
        w.onmessage = null;
        g.URL!.revokeObjectURL(url);
        resolve();
      };
      w.onerror = (e) => {
        g.URL!.revokeObjectURL(url);
        w.terminate();
        reject(new Error(`the wasm thread's worker failed to start: ${e.message ?? "unknown error"}`));
      };
      w.postMessage(job);
    });
}

/**
 * Runs the wasm backend on 2 threads (this one and a Worker) where the page is cross-origin
 * isolated, else compiles it for one thread and says why in `note`. Results are bit for bit those
 * of one thread. Safe to call more than once.
 */
export async function enableBrowserThreads(): Promise<BrowserThreads> {
  if (wasmThreads() === 2) return { threads: 2, note: null, backend: wasmBackend };
  const g = globalThis as BrowserGlobals;
  const note = browserThreadsUnavailable(g);
  if (note !== null) return { threads: 1, note, backend: await initWasmBackend() };
  try {
    const backend = await enableWasmThreads(startWorker(g));
    return { threads: 2, note: null, backend };
  } catch (e) {
    return { threads: 1, note: `${(e as Error).message}; running on one thread.`, backend: await initWasmBackend() };
  }
}
