import type { Backend } from "./backend.js";
import { jsBackend, referenceBackend } from "./js/index.js";

const registry = new Map<string, Backend>([
  ["reference", referenceBackend],
  ["js", jsBackend],
]);

/** Makes a backend selectable by name (a native or WebAssembly backend registers itself here). */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** Names of the registered backends, fastest first. */
export function backendNames(): string[] {
  return [...registry.keys()].reverse();
}

/** The backend called `name`, or the fastest registered one when `name` is omitted or "auto". */
export function getBackend(name?: string): Backend {
  if (name === undefined || name === "auto") return registry.get(backendNames()[0])!;
  const b = registry.get(name);
  if (!b) throw new Error(`unknown backend "${name}"; available: ${backendNames().join(", ")}`);
  return b;
}
