/**
 * Node edge: the CLI's `--threads N` for whichever backend runs. The native backend takes any count
 * (its pool); the wasm backend runs one thread or two (the caller and a worker on shared memory,
 * `enableWasmThreads`), so N ≥ 2 starts its worker. Results do not depend on either choice.
 */
import { getBackend } from "../backend/select.js";
import { wasmThreads } from "../backend/wasm/index.js";
import { applyThreadsOption, nativeThreads } from "./native-backend.js";
import { enableWasmThreads } from "./wasm-threads.js";

/** Applies `--threads n` (undefined: the defaults) for `backend` (a `--backend` name, "auto" included). */
export async function applyThreads(n: number | undefined, backend: string): Promise<void> {
  applyThreadsOption(n);
  if (n !== undefined && n >= 2 && getBackend(backend).name === "wasm") await enableWasmThreads();
}

/** The threads `backend` computes with now (1 for the js backend). */
export function threadsOf(backend: string): number {
  const name = getBackend(backend).name;
  return name === "native" ? (nativeThreads() ?? 1) : name === "wasm" ? wasmThreads() : 1;
}
