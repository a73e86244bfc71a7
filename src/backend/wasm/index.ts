/**
 * The WebAssembly SIMD backend "wasm": AssemblyScript kernels (assembly/, built by
 * `npm run build:wasm` into module.generated.ts) for float32 GEMM and the fused recurrence of
 * every cell; float64 runs the JS backend's loops. See backend.ts for what is fused.
 *
 * How it gets instantiated (the one decision a caller has to know about):
 * - The core registers "wasm" in src/backend/select.ts from the start, ahead of nothing but "js"
 *   and "reference", so a native backend registered later still comes first: native > wasm > js.
 * - The module is compiled on first use, synchronously (`new WebAssembly.Module`). That works in
 *   Node, Deno, Bun, web workers and, since Chrome 114, on Chrome's main thread too. Engines that
 *   still refuse large synchronous compiles on a page's main thread exist (older Chrome refused
 *   more than 4 KB), so in a page call `await initWasmBackend()` once before training: it compiles
 *   asynchronously and instantiates, everywhere. Where a synchronous compile fails, `getBackend()`
 *   skips "wasm" (see `wasmUsable`) and picks "js"; `getBackend("wasm")` works and the first
 *   kernel call throws with that advice.
 * - Where the engine has relaxed SIMD (Chrome 114+, Node 21+; Node 20 only with
 *   --experimental-wasm-relaxed-simd, which the unroll CLI sets), the modules built with it are
 *   used: one fused multiply-add per GEMM lane instead of a multiply and an add.
 * - Two threads are opt-in: `enableWasmThreads(host)` swaps in the threaded module on shared
 *   memory with one worker, which runs half of the batch rows of every fused recurrence and half
 *   of every large GEMM (spin-then-wait sync, see assembly/threads.ts); results are bit for bit
 *   those of one thread. Node: `enableWasmThreads()` from `unroll/node`; browsers:
 *   `enableBrowserThreads()` from `unroll/browser`, which needs a cross-origin isolated page
 *   (SharedArrayBuffer) and says so otherwise. The caller spins while the worker finishes its
 *   half, so run training in a worker rather than on the page's main thread. The threaded
 *   modules are imported on demand (module-threads.generated.ts), so apps that never start
 *   threads do not carry them.
 */
import type { Backend } from "../backend.js";
import { createWasmBackend } from "./backend.js";
import { Kernels, moduleBytes, relaxedSimdSupported, threadedModuleBytes, webAssemblyApi } from "./kernels.js";

let kernels: Kernels | null = null;
let syncFailure: string | null = null;

/** The instance, compiling synchronously on first use. */
function instance(): Kernels {
  if (kernels) return kernels;
  const api = webAssemblyApi();
  if (!api) throw new Error("the wasm backend needs WebAssembly; choose the js backend instead");
  try {
    kernels = new Kernels(new api.Module(moduleBytes()));
  } catch (e) {
    throw new Error(
      `the wasm backend could not compile synchronously (${(e as Error).message}); ` +
        "on a browser's main thread call `await initWasmBackend()` first",
    );
  }
  return kernels;
}

/** The backend "wasm" (instantiated lazily, see above). */
export const wasmBackend: Backend = createWasmBackend(instance);

/**
 * Compiles and instantiates the module asynchronously (allowed everywhere, required on a
 * browser's main thread) and resolves to the backend; `getBackend()` then picks it unless a
 * native backend is registered.
 */
export async function initWasmBackend(): Promise<Backend> {
  if (!kernels) {
    const api = webAssemblyApi();
    if (!api) throw new Error("this JavaScript engine has no WebAssembly; use the js backend");
    const module = await api.compile(moduleBytes());
    kernels ??= new Kernels(module);
  }
  return wasmBackend;
}

/**
 * Whether "wasm" can run now: instantiated already, or instantiable synchronously here (tried
 * once; a failure, e.g. on a browser main thread, is retried only after `initWasmBackend`).
 */
export function wasmUsable(): boolean {
  if (kernels) return true;
  if (syncFailure !== null) return false;
  try {
    instance();
    return true;
  } catch (e) {
    syncFailure = (e as Error).message;
    return false;
  }
}

/** What `enableWasmThreads` hands to the worker it starts. */
export interface WasmWorkerJob {
  /** the compiled threaded module (cloneable to a worker) */
  readonly module: object;
  /** its shared memory (cloneable to a worker) */
  readonly memory: object;
  /** byte offsets of the control block and of the worker's edge tile */
  readonly ctrl: number;
  readonly tile: number;
}

/**
 * Starts the worker, a platform matter: it must instantiate
 *   const { exports } = new WebAssembly.Instance(job.module, { env: { memory: job.memory } })
 * and then loop (src/node/wasm-threads.ts does it with worker_threads; in a browser, a Worker
 * that receives the job by postMessage runs the same loop):
 *   for (let seen = 0; ; ) {
 *     const s = exports.workerPoll(job.ctrl, seen);         // spins ≈ 100–200 µs
 *     if (s === seen) Atomics.wait(new Int32Array(job.memory.buffer, job.ctrl, 1), 0, seen);
 *     else if (exports.workerRun(job.ctrl, job.tile, (seen = s)) === 0) break;
 *   }
 * The returned promise resolves once the instance exists.
 */
export type WasmWorkerHost = (job: WasmWorkerJob) => Promise<void>;

let threads = 1;

/** Whether the wasm backend's module uses relaxed SIMD (fused multiply-add); compiles it if need be. */
export function wasmRelaxedSimd(): boolean {
  return instance().relaxed;
}

/** Which wasm module runs: what decides bit-for-bit equality between two machines or engines. */
export interface WasmInfo {
  /** Whether a module is compiled and instantiated yet (false: the figures below are what would run). */
  readonly instantiated: boolean;
  /** "relaxed-simd" (one fused multiply-add per GEMM lane) or "simd" (multiply, then add). */
  readonly module: "relaxed-simd" | "simd";
  /** 1, or 2 after `enableWasmThreads`. */
  readonly threads: number;
}

/**
 * Describes the wasm backend as it runs here (module kind and threads), as `unroll info` does in
 * Node. Results are bit for bit equal between runs with the same module kind, whatever the threads.
 */
export function wasmInfo(): WasmInfo {
  if (kernels) return { instantiated: true, module: kernels.relaxed ? "relaxed-simd" : "simd", threads };
  const relaxed = webAssemblyApi() !== null && relaxedSimdSupported();
  return { instantiated: false, module: relaxed ? "relaxed-simd" : "simd", threads };
}

/** Threads the wasm backend runs on: 1, or 2 after `enableWasmThreads`. */
export function wasmThreads(): number {
  return threads;
}

/**
 * Switches the wasm backend to 2 threads: the caller's and one worker's, started by `host`.
 * Resolves to the backend; every later kernel call runs on the threaded instance.
 */
export async function enableWasmThreads(host: WasmWorkerHost): Promise<Backend> {
  if (threads === 2) return wasmBackend;
  const api = webAssemblyApi();
  if (!api) throw new Error("this JavaScript engine has no WebAssembly; use the js backend");
  // the same kind of module as the single-threaded instance, if there is one: 2 threads = 1, bit for bit
  const module = await api.compile(await threadedModuleBytes(kernels?.relaxed));
  const memory = new api.Memory({ initial: 16, maximum: 16384, shared: true });
  const k = new Kernels(module, memory);
  const ctrl = k.reserve(64);
  const tile = k.reserve(32);
  await host({ module, memory, ctrl, tile });
  k.k.setWorker(ctrl);
  kernels = k;
  threads = 2;
  return wasmBackend;
}
