/**
 * Every CLI flag with a bad value (0 or a negative number where they are invalid, a non-number,
 * an unknown choice, an empty value, an out-of-vocabulary --prime, a missing file, …) fails the
 * same way: exit code 2, ONE line "unroll: …" on stderr naming the flag, no stack trace, nothing on
 * stdout and no run folder or checkpoint written.
 *
 * The table is generated from the commands themselves: each option's parser says what it accepts
 * (src/cli/options.ts, `Accepts`), and the bad values follow from that. Every bad value of every
 * option is checked against the option's parser in this process (fast); the command line itself
 * runs each option with its boundary value, a battery of each kind of value once, and the
 * hand-written rows of checks that need a file or a model (dist/cli/main.js, two at a time).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, type Option } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchCommand } from "../src/cli/bench.js";
import { classifyCommand } from "../src/cli/classify.js";
import { conformanceCommand } from "../src/cli/conformance.js";
import { evalCommand } from "../src/cli/eval.js";
import { infoCommand } from "../src/cli/info.js";
import { exportCommand, importCommand, inspectCommand } from "../src/cli/interop.js";
import { gradientsCommand, labCommand, taskCommand } from "../src/cli/lab.js";
import { strictOptions, type Accepts, type Parser } from "../src/cli/options.js";
import { plotCommand } from "../src/cli/plot.js";
import { sampleCommand } from "../src/cli/sample.js";
import { serveCommand } from "../src/cli/serve.js";
import { trainCommand } from "../src/cli/train.js";
import { translateCommand } from "../src/cli/translate.js";
import { referenceDir } from "./helpers/fixtures.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli", "main.js");

// ---------------------------------------------------------------------------------------------
// The commands, as main.ts builds them

const program = strictOptions(
  [trainCommand, sampleCommand, translateCommand, classifyCommand, evalCommand, plotCommand, exportCommand, importCommand, inspectCommand, taskCommand, gradientsCommand, labCommand, serveCommand, benchCommand, conformanceCommand, infoCommand].reduce(
    (p, make) => p.addCommand(make()),
    new Command("unroll"),
  ),
);
const commands = program.commands as Command[];
const takesValue = (o: Option) => o.required || o.optional;
const acceptsOf = (o: Option): Accepts => (o.parseArg as unknown as Parser<unknown>).accepts;
const parserOf = (o: Option) => o.parseArg as unknown as (v: string, prev: unknown) => unknown;

// ---------------------------------------------------------------------------------------------
// Bad values, by what an option accepts

function badValues(a: Accepts): string[] {
  switch (a.kind) {
    case "int": {
      const v = ["abc", "1.5", "", " ", "Infinity", "1e400", "0x10", "9007199254740993", "-1", String(a.min - 1)];
      if (a.max !== Infinity) v.push(String(a.max + 1));
      return [...new Set(v)];
    }
    case "num": {
      const v = ["abc", "", " ", "NaN", "Infinity", "-Infinity", "1e400", "0x10", "1,5"];
      if (a.min !== -Infinity) v.push(...(a.inclusive ? [String(a.min - 1), String(a.min - 0.001)] : [String(a.min), String(a.min - 1)]));
      if (a.max !== Infinity) v.push(String(a.max + 0.5));
      return [...new Set(v)];
    }
    case "duration":
      return ["soon", "-5m", "0", "0s", "", "10x", "5 minutes", "1h30m"];
    case "backend":
      return ["nope", "", "AUTO"];
    case "list":
      return { cells: ["nope", "", ",", "lstm,nope"], tasks: ["nope", "", "adding,nope", "adding,"], configs: ["NOPE", "", "T1,NOPE"], ints: ["0", "-1", "abc", "", "10,,20", "1.5", "10,0"] }[a.of];
    case "choice":
      return [...new Set(["nope", "", a.choices[0].toUpperCase() === a.choices[0] ? "NOPE!" : a.choices[0].toUpperCase(), `${a.choices[0]} `])];
    case "text":
      return a.empty ? [] : [""];
  }
}

/** The value the command line runs each option with: its boundary (0 where the least is 1, …). */
function boundaryValues(a: Accepts): string[] {
  switch (a.kind) {
    case "int":
      return [String(a.min - 1), ...(a.max !== Infinity ? [String(a.max + 1)] : [])];
    case "num":
      return [
        ...(a.min === -Infinity ? ["abc"] : [a.inclusive ? String(a.min - 1) : String(a.min)]),
        ...(a.max !== Infinity ? [String(a.max + 0.5)] : []),
      ];
    case "duration":
      return ["-5m"];
    case "backend":
      return ["nope"];
    case "list":
      return { cells: ["nope"], tasks: ["nope"], configs: ["NOPE"], ints: ["0"] }[a.of];
    case "choice":
      return ["nope"];
    case "text":
      return a.empty ? [] : [""];
  }
}

/** Values that must stay valid (the bounds are read off the parsers; these pin the ones that matter). */
const VALID: [command: string, flag: string, value: string][] = [
  ["train", "--dropout", "0"], ["train", "--max-steps", "0"], ["train", "--embed", "0"], ["train", "--sample-every", "0"],
  ["train", "--momentum", "0"], ["train", "--momentum", "1"], ["train", "--weight-decay", "0"], ["train", "--seed", "0"],
  ["train", "--val-frac", "0"], ["train", "--test-frac", "0"], ["train", "--lr-decay", "1"], ["train", "--lr-decay-after", "0"],
  ["train", "--sampling-prob", "0"], ["train", "--sampling-prob", "1"], ["train", "--length-penalty", "0"], ["train", "--val-decode", "0"],
  ["train", "--forget-bias", "-1"], ["train", "--forget-bias", "0"], ["train", "--lr", "2e-3"], ["train", "--lr", ".5"], ["train", "--max-time", "90s"],
  ["train", "--max-time", "1.5h"], ["train", "--max-time", "600"], ["train", "--max-vocab", "3"], ["train", "--max-steps", "1e3"],
  ["train", "--backend", "auto"], ["train", "--backend", "js"], ["train", "--cell", "gru"], ["train", "--data", "-"],
  ["sample", "--top-p", "1"], ["sample", "--seed", "0"], ["sample", "--temperature", "0.5"], ["sample", "--prime", ""], ["sample", "--prime", " "], ["sample", "--stop", " "],
  ["translate", "--length-penalty", "0"], ["task", "--steps", "0"], ["task", "--clip-norm", "0"], ["gradients", "--train-steps", "0"], ["gradients", "--T", "2"],
  ["gradients", "--cells", "lstm, gru,"], ["lab", "--Ts", "10,20"], ["lab", "--tasks", "adding,copy"], ["bench", "--warmup", "0"], ["bench", "--config", "t1,I2"],
  ["serve", "--port", "0"], ["serve", "--port", "65535"], ["plot", "--width", "1"], ["plot", "--width", "16384"], ["plot", "--title", ""],
];

// ---------------------------------------------------------------------------------------------
// Files the rows use

const dir = mkdtempSync(join(tmpdir(), "unroll-flags-"));
const corpus = join(dir, "corpus.txt");
const text = join(dir, "text.txt");
const badCsv = join(dir, "bad.csv");
const emptyDir = join(dir, "empty");
const tinyDir = join(dir, "tiny");
const tiny = join(tinyDir, "latest.ckpt");
const missing = join(dir, "missing");
const OUT = "\0out"; // replaced by the row's own output path

/** Arguments that make everything but the flag under test right (small, in case a bad value got through). */
const BASE: Record<string, string[]> = {
  train: ["--data", corpus, "--max-steps", "1", "--hidden", "8", "--layers", "1", "--seq-len", "8", "--batch", "2", "--quiet", "--out", OUT],
  sample: ["--model", tiny, "--length", "5"],
  translate: ["--model", tiny, "abc"],
  classify: ["--model", tiny, "abc"],
  eval: ["--model", tiny],
  plot: [tinyDir],
  export: [tiny, OUT],
  import: [text, "--out", OUT],
  inspect: [tiny],
  task: ["adding", "--steps", "1", "--T", "5", "--hidden", "4", "--test-size", "8", "--out", OUT],
  gradients: ["--cells", "rnn", "--T", "5", "--hidden", "4", "--batch", "2", "--out", OUT],
  lab: ["--tasks", "adding", "--cells", "rnn", "--Ts", "5", "--hidden", "4", "--steps", "1", "--test-size", "8", "--gradient-cells", "rnn", "--quiet", "--out", OUT],
  bench: ["--config", "I1", "--no-torch", "--min-time", "0.01", "--min-steps", "1", "--warmup", "0"],
  conformance: [join(referenceDir, "gru_1layer.json")],
  serve: ["--port", "0", "--dir", dir],
  info: [],
};

interface Row {
  readonly args: string[];
  /** what the line must say: the flag, or a pattern */
  readonly says: string | RegExp;
  readonly out?: string;
  readonly label: string;
}

const rows: Row[] = [];
function addRow(command: string | null, args: string[], says: string | RegExp, label: string): void {
  const i = rows.length;
  const out = join(dir, `out-${i}`);
  const full = [...(command === null ? [] : [command, ...(BASE[command] ?? [])]), ...args].map((a) => (a === OUT ? out : a));
  rows.push({ args: full, says, out: full.includes(out) ? out : undefined, label });
}

// Generated rows: each option at its boundary (an option that several commands share, with the same
// parser, once: its other commands are checked in-process), and a battery once per kind of value.
let inProcessChecks = 0;
const boundaryDone = new Set<string>();
const batteryDone = new Set<string>();
for (const c of commands) {
  const first = rows.length;
  for (const o of c.options.filter(takesValue)) {
    const a = acceptsOf(o);
    const flag = o.long!;
    const boundary = boundaryValues(a);
    const key = `${flag} ${JSON.stringify(a)}`;
    if (!boundaryDone.has(key)) {
      boundaryDone.add(key);
      for (const v of boundary) addRow(c.name(), [flag, v], flag, `${c.name()} ${flag} ${JSON.stringify(v)}`);
    }
    const kind = a.kind === "list" ? `list:${a.of}` : a.kind === "text" ? `text:${a.empty}` : a.kind;
    if (!batteryDone.has(kind)) {
      batteryDone.add(kind);
      // (all of them are checked in-process; the command line runs the first six)
      for (const v of badValues(a).filter((x) => !boundary.includes(x)).slice(0, 6)) addRow(c.name(), [flag, v], flag, `${c.name()} ${flag} ${JSON.stringify(v)}`);
    }
  }
  // every command runs at least one of its options
  const o = c.options.find((x) => takesValue(x) && boundaryValues(acceptsOf(x)).length > 0);
  if (rows.length === first && o) addRow(c.name(), [o.long!, boundaryValues(acceptsOf(o))[0]], o.long!, `${c.name()} ${o.long} ${JSON.stringify(boundaryValues(acceptsOf(o))[0])}`);
}
const generated = rows.length;

// Hand-written rows: checks that need a model, a file, or the command line's shape.
const hand: [command: string | null, args: string[], says: RegExp][] = [
  ["sample", ["--prime", "é€"], /--prime holds "é", "€", not in the model's vocabulary/],
  ["sample", ["--prime", "It is🙂"], /--prime holds "🙂"/],
  ["sample", ["--temperature", "0"], /--temperature: expected a number > 0, got "0"/],
  ["sample", ["--top-p", "1.5"], /--top-p: expected a number > 0 and ≤ 1, got "1.5"/],
  ["sample", ["--model", missing], /no such checkpoint/],
  ["sample", ["--model", text], /text\.txt: not an unroll checkpoint/],
  ["sample", ["--condition", "x"], /--condition needs a model trained with --task conditional/],
  ["train", ["--resume", text], /text\.txt: not an unroll checkpoint/],
  ["train", ["--resume", missing], /no such checkpoint/],
  ["train", ["--init-from", text], /text\.txt: not an unroll checkpoint/],
  ["train", ["--data", missing], /--data .*missing: no such file/],
  ["train", ["--data", emptyDir], /--data|empty/],
  ["train", ["--task", "classify", "--data", badCsv], /bad\.csv:1: no "label" column/],
  ["train", ["--task", "classify", "--resume", text], /text\.txt: not an unroll task checkpoint/],
  ["train", ["--val-frac", "0.9", "--test-frac", "0.9"], /fractions/],
  ["train", ["--batch", "64", "--seq-len", "64"], /too few .*--batch or --seq-len/],
  [null, ["train", "--corpus", "spam-assassin", "--out", OUT], /add --task classify/],
  [null, ["train", "--task", "classify", "--corpus", "moby-dick", "--out", OUT], /--corpus spam-assassin/],
  ["eval", ["--data", missing], /--data .*no such file/],
  ["eval", ["--model", missing], /no such checkpoint/],
  ["classify", [], /language-model checkpoint/],
  ["translate", [], /language-model checkpoint/],
  [null, ["export", missing, OUT], /no such checkpoint/],
  [null, ["import", missing, "--out", OUT], /no such safetensors file/],
  ["import", [], /text\.txt: .*not a safetensors file/],
  ["import", ["--vocab", missing], /no such vocabulary file/],
  [null, ["inspect", missing], /no such file/],
  [null, ["inspect", text], /text\.txt: not an unroll checkpoint/],
  [null, ["plot", missing], /no such folder/],
  [null, ["plot", emptyDir], /no metrics\.jsonl/],
  [null, ["conformance", missing], /no such file or folder/],
  ["serve", ["--dir", missing], /no such folder/],
  [null, ["task", "nope", "--out", OUT], /unknown task "nope"/],
  // the shape of the command line: commander's errors, made one line with a pointer to --help
  ["train", ["--bogus"], /unknown option '--bogus'.*; see unroll train --help$/],
  ["info", ["--bogus"], /unknown option '--bogus'; see unroll info --help$/],
  [null, ["nosuch"], /unknown command 'nosuch'; see unroll --help$/],
  ["train", ["--hidden"], /option '--hidden <n>' argument missing; see unroll train --help$/],
  [null, ["sample"], /required option '--model <ckpt>' not specified/],
  [null, ["plot"], /missing required argument 'run-dir'/],
  [null, ["plot", tinyDir, "extra"], /too many arguments for 'plot'/],
];
for (const [command, args, says] of hand) addRow(command, args, says, `${command ?? ""} ${args.map((a) => JSON.stringify(a)).join(" ")}`.trim());

// ---------------------------------------------------------------------------------------------

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // a bad value that got through may train or serve: that row fails, it does not hang the file
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

async function pool<T, R>(items: readonly T[], width: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]);
      }
    }),
  );
  return out;
}

const results: Result[] = [];
let runMs = 0;

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error("dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` (npm test builds it) before the CLI tests");
  writeFileSync(corpus, "It is not down in any map; true places never are.\n".repeat(40));
  writeFileSync(text, "hello\n");
  writeFileSync(badCsv, "text,tag\nabc,x\n");
  mkdirSync(emptyDir);
  const t = spawnSync(process.execPath, [cli, "train", "--data", corpus, "--max-steps", "2", "--hidden", "8", "--layers", "1", "--seq-len", "8", "--batch", "2", "--quiet", "--out", tinyDir], { encoding: "utf8", cwd: dir });
  if (t.status !== 0) throw new Error(`could not train the tiny model: ${t.stderr}`);
  const t0 = Date.now();
  results.push(...(await pool(rows, 2, (r) => runCli(r.args))));
  runMs = Date.now() - t0;
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the commands the table covers", () => {
  it("are the commands of unroll --help", () => {
    const help = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" }).stdout;
    const listed = [...help.slice(help.indexOf("Commands:")).matchAll(/^ {2}(\w[\w-]*)/gm)].map((m) => m[1]).filter((n) => n !== "help");
    expect(commands.map((c) => c.name()).sort()).toEqual(listed.sort());
  });
});

describe("every bad value of every option is refused by its parser, naming the flag", () => {
  for (const c of commands) {
    const options = c.options.filter(takesValue);
    if (options.length === 0) continue;
    it(c.name(), () => {
      for (const o of options) {
        const flag = o.long!;
        for (const v of badValues(acceptsOf(o))) {
          inProcessChecks++;
          let message: string | null = null;
          try {
            parserOf(o)(v, o.defaultValue);
          } catch (e) {
            message = (e as Error).message;
          }
          expect(message, `${c.name()} ${flag} ${JSON.stringify(v)} was accepted`).not.toBeNull();
          expect(message!.startsWith(`${flag}: `), message!).toBe(true);
          expect(message).not.toMatch(/\n/);
        }
      }
    });
  }

  it("good values at the bounds stay valid", () => {
    for (const [name, flag, v] of VALID) {
      const o = commands.find((c) => c.name() === name)!.options.find((x) => x.long === flag);
      expect(o, `${name} ${flag}`).toBeDefined();
      expect(() => parserOf(o!)(v, o!.defaultValue), `${name} ${flag} ${JSON.stringify(v)}`).not.toThrow();
    }
  });
});

describe("the command line: exit code 2, one line naming the flag, nothing written", () => {
  it.each(rows.map((r, i) => [r.label, i] as const))("%s", (_label, i) => {
    const row = rows[i];
    const r = results[i];
    const what = `unroll ${row.args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    expect(r.status, what).toBe(2);
    expect(r.stdout, what).toBe("");
    expect(r.stderr, what).not.toMatch(/^\s+at /m);
    const lines = r.stderr.replace(/\n$/, "").split("\n");
    expect(lines.length, what).toBe(1);
    expect(lines[0], what).toMatch(/^unroll: \S/);
    if (typeof row.says === "string") expect(lines[0], what).toContain(row.says);
    else expect(lines[0], what).toMatch(row.says);
    if (row.out) expect(existsSync(row.out), `${what}\n${row.out} was written`).toBe(false);
  });

  it("summary", () => {
    const valueOptions = commands.reduce((n, c) => n + c.options.filter(takesValue).length, 0);
    console.log(
      `cli-flags: ${commands.length} commands, ${valueOptions} options that take a value; ` +
        `${inProcessChecks} bad values checked against the parsers; ${rows.length} command lines run ` +
        `(${generated} generated, ${rows.length - generated} hand-written) in ${(runMs / 1000).toFixed(1)} s`,
    );
    expect(results.length).toBe(rows.length);
  });
});
