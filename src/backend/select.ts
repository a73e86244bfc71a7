import type { Backend } from "./backend.js";
import { jsBackend, referenceBackend } from "./js/index.js";
import { wasmBackend, wasmUsable } from "./wasm/index.js";

// "wasm" is registered here, before any native backend can register itself, so that the order
// fastest-first is native > wasm > js (src/backend/wasm/index.ts explains its instantiation).
const registry = new Map<string, Backend>([
  ["reference", referenceBackend],
  ["js", jsBackend],
  ["wasm", wasmBackend],
]);

/** Run-time feature checks: a backend listed here is chosen automatically only when it passes. */
const usable = new Map<string, () => boolean>([["wasm", wasmUsable]]);

/** Makes a backend selectable by name (a native or WebAssembly backend registers itself here). */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** Names of the registered backends, fastest first. */
export function backendNames(): string[] {
  return [...registry.keys()].reverse();
}

/**
 * The backend called `name`, or the fastest registered one that can run here when `name` is
 * omitted or "auto".
 */
export function getBackend(name?: string): Backend {
  if (name === undefined || name === "auto") {
    const best = backendNames().find((n) => usable.get(n)?.() ?? true)!;
    return registry.get(best)!;
  }
  const b = registry.get(name);
  if (!b) throw new Error(`unknown backend "${name}"; available: ${backendNames().join(", ")}`);
  return b;
}
