/**
 * unroll's browser edge (`unroll/browser`): the wasm backend's second thread in a Web Worker,
 * the cross-origin isolation check, and training in a worker. Uses browser globals (Worker, Blob)
 * only; the library itself is the package root, `unroll`.
 */
export { enableBrowserThreads, browserThreadsUnavailable, type BrowserThreads } from "./threads.js";
export { wasmInfo, type WasmInfo } from "../backend/wasm/index.js";
export { connectTrainingWorker, type TrainingWorker, type WorkerLike } from "./train-client.js";
export {
  serveTraining,
  type WorkerTrainOptions,
  type WorkerBackendInfo,
  type WorkerModelSummary,
  type WorkerContext,
  type WorkerHandler,
  type WorkerScope,
  type ToWorker,
  type FromWorker,
} from "./train-worker.js";
