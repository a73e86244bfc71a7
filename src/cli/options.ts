/**
 * Parsers for command-line option values: each checks its value and says what it expects. Every
 * parser carries `accepts`, a description of what it takes (read by the table-driven test of bad
 * values, test/cli-flags.test.ts). `strictOptions` makes every failure of the program one line.
 */
import { Command, CommanderError, InvalidArgumentError, type Option } from "commander";
import { backendNames } from "../backend/select.js";

/** What an option's value may be. */
export type Accepts =
  | { readonly kind: "int"; readonly min: number; readonly max: number }
  | { readonly kind: "num"; readonly min: number; readonly max: number; readonly inclusive: boolean }
  | { readonly kind: "duration" }
  | { readonly kind: "backend" }
  /** a comma-separated list of names (cells, tasks, configurations) or of positive integers ("ints") */
  | { readonly kind: "list"; readonly of: "cells" | "tasks" | "configs" | "ints" }
  | { readonly kind: "choice"; readonly choices: readonly string[] }
  /** any string; `empty`: "" too */
  | { readonly kind: "text"; readonly empty: boolean };

/** A parser of option values with what it accepts. */
export type Parser<T> = ((v: string, previous?: unknown) => T) & { readonly accepts: Accepts };

/** Tags `parse` with what it accepts. */
export function accepting<T>(accepts: Accepts, parse: (v: string) => T): Parser<T> {
  return Object.assign((v: string) => parse(v), { accepts });
}

/** The number a decimal literal (1, -2, 0.5, 1e3) spells; NaN for anything else ("", "0x10", "Infinity"). */
function decimal(v: string): number {
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v) ? Number(v) : NaN;
}

/** An integer ≥ min (and ≤ max). */
export function int(min = 0, max = Infinity): Parser<number> {
  const range = max === Infinity ? `≥ ${min}` : `from ${min} to ${max}`;
  return accepting({ kind: "int", min, max }, (v) => {
    const n = decimal(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${range}, got "${v}"`);
    return n;
  });
}

/** A finite number, > min (or ≥ min when `inclusive`), ≤ max. */
export function num(min = -Infinity, max = Infinity, inclusive = false): Parser<number> {
  return accepting({ kind: "num", min, max, inclusive }, (v) => {
    const n = decimal(v);
    if (!Number.isFinite(n) || (inclusive ? n < min : n <= min) || n > max) {
      const lo = min === -Infinity ? "" : `${inclusive ? "≥" : ">"} ${min}`;
      const hi = max === Infinity ? "" : `≤ ${max}`;
      const bounds = [lo, hi].filter(Boolean).join(" and ");
      throw new InvalidArgumentError(`expected a ${bounds ? `number ${bounds}` : "finite number"}, got "${v}"`);
    }
    return n === 0 ? 0 : n; // -0 is 0
  });
}

/** A duration: seconds, or a number with unit s, m, h (e.g. 90, 90s, 10m, 1.5h). */
export const duration: Parser<number> = accepting({ kind: "duration" }, (v) => {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 600, 90s, 10m or 1.5h, got "${v}"`);
  const n = Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  if (!(n > 0)) throw new InvalidArgumentError(`the duration must be positive, got "${v}"`);
  return n;
});

/** A compute backend: "auto" or a registered backend's name. */
export const backendName: Parser<string> = accepting({ kind: "backend" }, (v) => {
  const names = backendNames();
  if (v !== "auto" && !names.includes(v)) throw new InvalidArgumentError(`unknown backend "${v}"; choose auto or one of ${names.join(", ")}`);
  return v;
});

/** Options whose value may be the empty string. */
const EMPTY_OK: ReadonlySet<string> = new Set(["--prime", "--title"]);

/** A bad option value (or a bad command line): printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Commander's own ways out that are not failures, or have printed what they have to say (help, version). */
const QUIET_EXITS: ReadonlySet<string> = new Set(["commander.help", "commander.helpDisplayed", "commander.version"]);

/**
 * Makes every failure of `program` and its commands one line: each option value is checked as
 * it is parsed (an empty value refused, a choice checked, the parser's complaint prefixed with the
 * flag: `--hidden: expected an integer ≥ 1, got "0"`), and commander's own errors (unknown option,
 * missing value or argument) are thrown, not printed, with a pointer to the command's --help.
 * `describeFailure` turns what is thrown into the line and the exit code.
 */
export function strictOptions(program: Command): Command {
  for (const c of [program, ...program.commands]) {
    c.configureOutput({ outputError: () => {} });
    c.exitOverride((err) => {
      if (err.exitCode === 0 || QUIET_EXITS.has(err.code)) throw err;
      const what = oneLine(err.message.replace(/^error: /, "")).replace(/\.$/, "");
      throw new UsageError(`${what}; see ${c.parent ? `unroll ${c.name()}` : "unroll"} --help`);
    });
    for (const o of c.options) guardOption(o);
  }
  return program;
}

/** Wraps the option's parser: empty values, choices and the parser's errors all name the flag. */
function guardOption(o: Option & { guarded?: boolean }): void {
  if (!o.required && !o.optional) return; // a switch: no value
  if (o.guarded) return; // strictOptions ran before
  const flag = o.long ?? o.flags;
  const inner = o.parseArg as ((v: string, prev: unknown) => unknown) | undefined;
  const choices = o.argChoices;
  const accepts: Accepts = choices ? { kind: "choice", choices } : ((inner as Partial<Parser<unknown>> | undefined)?.accepts ?? { kind: "text", empty: EMPTY_OK.has(flag) });
  const parse = (v: string, prev: unknown): unknown => {
    if (choices) {
      if (!choices.includes(v)) throw new UsageError(`${flag}: "${v}" is not a choice. Allowed choices are ${choices.join(", ")}`);
      return v;
    }
    if (!inner) {
      if (v === "" && !EMPTY_OK.has(flag)) throw new UsageError(`${flag}: the value is empty; give ${o.flags.replace(/^.*?</, "<")}`);
      return v;
    }
    try {
      return inner(v, prev);
    } catch (e) {
      throw new UsageError(`${flag}: ${oneLine((e as Error).message)}`);
    }
  };
  o.parseArg = Object.assign(parse, { accepts }) as typeof o.parseArg;
  o.guarded = true;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * What the command line prints for an error thrown out of the program, and its exit code:
 * `unroll: <message>` on one line and 2, or nothing (help and version have printed theirs).
 */
export function describeFailure(e: unknown): { line: string | null; exitCode: number } {
  if (e instanceof CommanderError && (e.exitCode === 0 || QUIET_EXITS.has(e.code))) return { line: null, exitCode: e.exitCode };
  const message = e instanceof Error ? e.message : String(e);
  return { line: `unroll: ${oneLine(message) || "failed"}`, exitCode: 2 };
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
