/**
 * Node edge of the wasm backend's second thread: a worker_threads worker that runs the threaded
 * module's `workerLoop` on the shared memory (src/backend/wasm/index.ts, assembly/threads.ts).
 * The worker is unref'd, so it never keeps a process alive.
 */
import { Worker } from "node:worker_threads";
import type { Backend } from "../backend/backend.js";
import { enableWasmThreads as enableWith, type WasmWorkerJob } from "../backend/wasm/index.js";

/** The worker's whole program (CommonJS, evaluated from this string: no file to resolve). */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, ctrl, tile } = workerData;
const { exports } = new WebAssembly.Instance(module, { env: { memory } });
const seqs = new Int32Array(memory.buffer, ctrl, 1);
parentPort.postMessage("ready");
for (let seen = 0; ; ) {
  const s = exports.workerPoll(ctrl, seen);
  if (s === seen) Atomics.wait(seqs, 0, seen);
  else if (exports.workerRun(ctrl, tile, (seen = s)) === 0) break;
}
`;

function startWorker(job: WasmWorkerJob): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: job });
    w.once("message", () => {
      w.unref(); // from now on it waits for work; it must not keep the process alive
      resolve();
    });
    w.once("error", reject);
  });
}

/** Runs the wasm backend on 2 threads (this one and a worker); resolves to the backend. */
export function enableWasmThreads(): Promise<Backend> {
  return enableWith(startWorker);
}
