/** Parsers for command-line option values: each checks its value and says what it expects. */
import { InvalidArgumentError } from "commander";

/** An integer ≥ min. */
export function int(min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got "${v}"`);
    return n;
  };
}

/** A finite number, > min (or ≥ min when `inclusive`), ≤ max. */
export function num(min = -Infinity, max = Infinity, inclusive = false): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || (inclusive ? n < min : n <= min) || n > max) {
      const lo = min === -Infinity ? "" : `${inclusive ? "≥" : ">"} ${min}`;
      const hi = max === Infinity ? "" : `≤ ${max}`;
      throw new InvalidArgumentError(`expected a number ${[lo, hi].filter(Boolean).join(" and ")}, got "${v}"`);
    }
    return n;
  };
}

/** A duration: seconds, or a number with unit s, m, h (e.g. 90, 90s, 10m, 1.5h). */
export function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 600, 90s, 10m or 1.5h, got "${v}"`);
  const n = Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  if (!(n > 0)) throw new InvalidArgumentError(`the duration must be positive, got "${v}"`);
  return n;
}

/** "1h 2m 3s" style. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * While a run trains: Ctrl-C aborts `controller` (the run saves a checkpoint and stops), a second
 * Ctrl-C quits at once. `dispose()` removes the handler; `interrupted()` says whether it fired.
 */
export function stopOnInterrupt(controller: AbortController, quiet: boolean): { interrupted(): boolean; dispose(): void } {
  let count = 0;
  const onSigint = () => {
    count++;
    if (count > 1) process.exit(130);
    controller.abort();
    if (!quiet) process.stderr.write("\nstopping: saving a checkpoint (Ctrl-C again to quit at once)\n");
  };
  process.on("SIGINT", onSigint);
  return { interrupted: () => count > 0, dispose: () => process.off("SIGINT", onSigint) };
}
