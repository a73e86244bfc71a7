/**
 * The WebAssembly SIMD backend "wasm": AssemblyScript kernels (assembly/, built by
 * `npm run build:wasm` into module.generated.ts) for float32 GEMM and the fused recurrence of
 * every cell; float64 runs the JS backend's loops. See backend.ts for what is fused.
 *
 * How it gets instantiated (the one decision a caller has to know about):
 * - The core registers "wasm" in src/backend/select.ts from the start, ahead of nothing but "js"
 *   and "reference", so a native backend registered later still comes first: native > wasm > js.
 * - The module is compiled on first use, synchronously (`new WebAssembly.Module`). That works in
 *   Node, Deno, Bun and web workers. Chrome's main thread refuses synchronous compiles of more
 *   than 4 KB, so in a page call `await initWasmBackend()` once before training: it compiles
 *   asynchronously and instantiates. Until then `getBackend()` skips "wasm" where it cannot be
 *   compiled synchronously (see `wasmUsable`) and picks "js"; `getBackend("wasm")` works and the
 *   first kernel call throws with that advice.
 */
import type { Backend } from "../backend.js";
import { createWasmBackend } from "./backend.js";
import { Kernels, wasmBytes, webAssemblyApi } from "./kernels.js";

let kernels: Kernels | null = null;
let syncFailure: string | null = null;

/** The instance, compiling synchronously on first use. */
function instance(): Kernels {
  if (kernels) return kernels;
  const api = webAssemblyApi();
  if (!api) throw new Error("the wasm backend needs WebAssembly; choose the js backend instead");
  try {
    kernels = new Kernels(new api.Module(wasmBytes()));
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
    const module = await api.compile(wasmBytes());
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
