import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { readCheckpointFile } from "../src/node/checkpoint-file.js";
import { referenceDir } from "./helpers/fixtures.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli", "main.js");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: root });

const CORPUS = "It is not down in any map; true places never are.\n".repeat(40);
const SMALL = ["--hidden", "16", "--embed", "8", "--batch", "4", "--seq-len", "16", "--eval-every", "5", "--quiet"];

beforeAll(() => {
  if (!existsSync(cli)) throw new Error("dist/cli/main.js is missing: run `npm run build` (npm test does it) before the CLI tests");
});

describe("unroll conformance", () => {
  for (const dtype of ["float64", "float32"]) {
    it(`passes every reference file in ${dtype} and prints the worst error per file`, () => {
      const r = run("conformance", referenceDir, "--dtype", dtype);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines.length).toBe(10);
      for (const line of lines) expect(line).toMatch(/^PASS .* worst .*: max rel err \S+, max abs err \S+, \S+% of tolerance/);
    });
  }

  it("exits 1 and names the tensor when a reference value is off", () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-conf-"));
    const doc = JSON.parse(readFileSync(join(referenceDir, "gru_2layer.json"), "utf8"));
    doc.tensors["grad.weight_hh_l1"].data[3] += 1e-6;
    writeFileSync(join(dir, "tampered.json"), JSON.stringify(doc));
    const r = run("conformance", join(dir, "tampered.json"), "--json");
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout.trim());
    expect(report.pass).toBe(false);
    expect(report.worst.name).toBe("grad.weight_hh_l1");
  });

  it("reports an unreadable file clearly", () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-conf-"));
    writeFileSync(join(dir, "cut.json"), readFileSync(join(referenceDir, "lstm_1layer.json"), "utf8").slice(0, 500));
    const r = run("conformance", join(dir, "cut.json"));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/cut.json: not valid JSON .*is the file complete\?/);
  });
});

describe("unroll train, sample, eval", () => {
  it("--backend wasm --threads 2 starts the wasm worker and trains bit for bit as one thread does", () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-wasm2-"));
    const data = join(dir, "corpus.txt");
    writeFileSync(data, CORPUS);
    const args = ["train", "--data", data, "--backend", "wasm", "--max-steps", "6", "--eval-every", "3", "--hidden", "64", "--embed", "16", "--batch", "16", "--seq-len", "16"];
    const losses = (threads: string) => {
      const r = run(...args, "--threads", threads, "--out", join(dir, `t${threads}`));
      expect(r.status, r.stderr).toBe(0);
      const vals = [...r.stdout.matchAll(/validation loss (\d+\.\d+)/g)].map((m) => m[1]);
      expect(vals.length).toBeGreaterThan(0);
      return { vals, start: r.stdout.split("\n")[0] };
    };
    const one = losses("1"), two = losses("2");
    expect(one.start).toMatch(/backend wasm, resumed|backend wasm\n|backend wasm$/);
    expect(two.start).toMatch(/backend wasm \(2 threads\)$/);
    expect(two.vals).toEqual(one.vals);
    // the weights and the optimizer state, every bit (the files differ in their run folders and times)
    const saved = (t: string) => readCheckpointFile(join(dir, `t${t}`, "best.ckpt")).tensors;
    const a = saved("1"), b = saved("2");
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, x] of a) expect(b.get(name), name).toEqual(x);
  });

  it("trains, writes checkpoints, metrics and plots, and the done line names the checkpoint", () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-run-"));
    const data = join(dir, "corpus.txt");
    writeFileSync(data, CORPUS);
    const out = join(dir, "run");
    const r = run("train", "--data", data, "--out", out, "--max-steps", "10", ...SMALL, "--json");
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const done = events.at(-1);
    expect(done.event).toBe("done");
    expect(done.checkpoint).toBe(join(out, "best.ckpt"));
    expect(done.valLoss).toBeGreaterThan(0);
    for (const f of ["best.ckpt", "latest.ckpt", "metrics.jsonl", "loss.svg", "loss.png"]) expect(existsSync(join(out, f)), f).toBe(true);

    const s = run("sample", "--model", done.checkpoint, "--length", "40", "--prime", "It is", "--seed", "3");
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout.startsWith("It is")).toBe(true);
    expect(Array.from(s.stdout.trimEnd()).length).toBeGreaterThanOrEqual(40);
    expect(run("sample", "--model", done.checkpoint, "--length", "40", "--prime", "It is", "--seed", "3").stdout).toBe(s.stdout);
    // on wasm, --weights auto samples as int8 does (test/wasm-quantized.test.ts: fastInt8On)
    const onWasm = (...w: string[]) => run("sample", "--model", done.checkpoint, "--length", "60", "--seed", "3", "--backend", "wasm", ...w);
    const auto = onWasm();
    expect(auto.status, auto.stderr).toBe(0);
    expect(auto.stdout).toBe(onWasm("--weights", "int8").stdout);

    const e = run("eval", "--model", done.checkpoint, "--json");
    expect(e.status, e.stderr).toBe(0);
    const ev = JSON.parse(e.stdout);
    expect(ev.loss).toBeCloseTo(done.bestValLoss, 5); // the best checkpoint's own validation split
    expect(ev.bits).toBeCloseTo(ev.loss / Math.LN2, 10);
    expect(ev.perplexity).toBeCloseTo(Math.exp(ev.loss), 8);
  });

  it("Ctrl-C saves a checkpoint that resumes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-int-"));
    const data = join(dir, "corpus.txt");
    writeFileSync(data, CORPUS);
    const out = join(dir, "run");
    const child = spawn(process.execPath, [cli, "train", "--data", data, "--out", out, "--max-steps", "100000", ...SMALL.filter((a) => a !== "--quiet"), "--json"], { cwd: root });
    let stdout = "";
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on("data", (d) => {
        stdout += d;
        if (!sent && /"event":"step","step":3,/.test(stdout)) sent = child.kill("SIGINT");
      });
      child.on("exit", (c) => resolve(c));
    });
    expect(code).toBe(130);
    const done = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(done.reason).toBe("aborted");
    const r = run("train", "--resume", join(out, "latest.ckpt"), "--max-steps", String(done.step + 2), "--json");
    expect(r.status, r.stderr).toBe(0);
    const resumed = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(resumed[0]).toMatchObject({ event: "start", resumed: true, step: done.step });
    expect(resumed.at(-1)).toMatchObject({ event: "done", step: done.step + 2, reason: "max-steps" });
  });

  it("refuses a corrupt checkpoint without touching it", () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-bad-"));
    const bad = join(dir, "bad.ckpt");
    writeFileSync(bad, "UNROLLCK garbage");
    const r = run("sample", "--model", bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad.ckpt/);
    expect(readFileSync(bad, "utf8")).toBe("UNROLLCK garbage");
  });

  it("rejects bad option values with a hint", () => {
    const r = run("train", "--hidden", "-3");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--hidden.*expected an integer ≥ 1, got "-3"/);
    const c = run("train", "--cell", "tree");
    expect(c.stderr).toMatch(/Allowed choices are lstm, lstm-peephole/);
  });
});
