/**
 * Faults a training must survive, end to end through the CLI: a run that diverges (NaN/Inf) stops
 * at the step it happens and never writes a checkpoint holding NaN; two trainings into one --out
 * folder cannot interleave (a lock, taken over when its process is gone); a full disk during a
 * checkpoint write gives a clear error and keeps the previous checkpoint.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createTraining, DivergedError } from "../src/index.js";
import { readCheckpointFile } from "../src/node/checkpoint-file.js";
import { nativeBackend } from "../src/node/native-backend.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(repo, "dist", "cli", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "unroll-faults-"));
const data = join(tmp, "data.txt");
writeFileSync(data, "the cat sat on the mat. ".repeat(300));
const SMALL = ["--data", data, "--hidden", "8", "--layers", "1", "--seq-len", "8", "--batch", "4", "--quiet"];
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (args: string[]) => spawnSync(process.execPath, [cli, "train", ...args], { encoding: "utf8" });
const oneLine = (stderr: string) => stderr.trim().split("\n").filter((l) => l.startsWith("unroll:"));

/** Every checkpoint in `dir` decodes and holds finite parameters. */
function checkpointsAreGood(dir: string): number {
  const files = readdirSync(dir).filter((f) => f.endsWith(".ckpt"));
  for (const f of files) {
    const p = readCheckpointFile(join(dir, f)).tensors.get("params")!;
    expect(p.every((v) => Number.isFinite(v))).toBe(true);
  }
  return files.length;
}

describe("a diverging run", () => {
  // native and wasm restore what their guarded updates kept; js copies before its loop
  it.each(["js", "wasm", ...(nativeBackend ? ["native"] : [])])("stops at the step it happens, with the parameters of the step before, and cannot be saved (%s)", async (backend) => {
    const t = createTraining({ text: readFileSync(data, "utf8"), hidden: 8, layers: 1, seqLen: 8, batch: 4, optimizer: "sgd", lr: 1e300, clipNorm: 1e30, maxSteps: 10, backend });
    const before = t.model.params.data.slice();
    const seen: string[] = [];
    let error: unknown = null;
    try {
      for await (const e of t.run()) seen.push(e.event);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DivergedError);
    expect((error as DivergedError).message).toMatch(/^the run diverged at step 1: the parameters became Infinity after the update \(they are restored/);
    expect((error as DivergedError).quantity).toBe("parameters");
    expect(seen).toEqual(["start", "eval"]); // no step event for the diverged step
    expect(Array.from(t.model.params.data)).toEqual(Array.from(before));
    expect(() => t.snapshot()).toThrow(/diverged at step 1, so it cannot be saved/);
  });

  it("a NaN loss is caught before the update", async () => {
    const t = createTraining({ text: readFileSync(data, "utf8"), hidden: 8, layers: 1, seqLen: 8, batch: 4, maxSteps: 10, backend: "js" });
    t.model.params.data[0] = NaN; // e.g. a corrupted model handed in
    await expect(async () => {
      for await (const _ of t.run());
    }).rejects.toThrow(/the run diverged at step 1: the training loss became NaN/);
  });

  it("unroll train says so in one line, names the last good checkpoint, and leaves only finite checkpoints", () => {
    const out = join(tmp, "diverge");
    const r = run([...SMALL, "--optimizer", "sgd", "--lr", "1e300", "--clip-norm", "1e30", "--eval-every", "1", "--max-steps", "20", "--out", out]);
    expect(r.status).toBe(2);
    const lines = oneLine(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/the run diverged at step 1: .*the last good checkpoint is .*latest\.ckpt \(step 0\); continue from it with --init-from and a lower --lr/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(checkpointsAreGood(out)).toBe(2);
    expect(existsSync(join(out, ".lock"))).toBe(false);
  });
});

describe("one training per run folder", () => {
  it("a second training into a busy --out refuses, leaving the first one's files alone", async () => {
    const out = join(tmp, "busy");
    const first = spawn(process.execPath, [cli, "train", ...SMALL, "--eval-every", "1", "--max-steps", "1000000", "--out", out], { stdio: "ignore" });
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(out, "latest.ckpt")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(JSON.parse(readFileSync(join(out, ".lock"), "utf8")).pid).toBe(first.pid);
      const metricsBefore = readFileSync(join(out, "metrics.jsonl"), "utf8").length;
      const second = run([...SMALL, "--max-steps", "5", "--out", out]);
      expect(second.status).toBe(2);
      expect(oneLine(second.stderr)).toEqual([expect.stringMatching(new RegExp(`is in use by another training \\(pid ${first.pid}, started .*\\): choose another --out, or wait for that one to finish$`))]);
      expect(readFileSync(join(out, "metrics.jsonl"), "utf8").length).toBeGreaterThanOrEqual(metricsBefore); // not truncated
    } finally {
      first.kill("SIGINT");
      await new Promise((r) => first.once("exit", r));
    }
    expect(existsSync(join(out, ".lock"))).toBe(false); // released on Ctrl-C
  });

  it("a lock left by a process that is gone is taken over", () => {
    const out = join(tmp, "stale");
    mkdirSync(out, { recursive: true });
    const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    writeFileSync(join(out, ".lock"), JSON.stringify({ pid: Number(gone.stdout.trim()), host: hostname(), started: "earlier" }));
    writeFileSync(join(out, `latest.ckpt.tmp-${gone.stdout.trim()}-abcdef123456`), "half a checkpoint");
    const r = run([...SMALL, "--max-steps", "3", "--out", out]);
    expect(r.status).toBe(0);
    expect(readdirSync(out).filter((f) => f.includes(".tmp-") || f === ".lock")).toEqual([]);
  });
});

describe("a full disk", () => {
  it("during a checkpoint write: one clear line, and the previous checkpoint still loads", () => {
    const small = join(tmp, "small");
    mkdirSync(small);
    // a 48 KB file system where the platform allows it (Linux, as root); else a file-size limit is not portable, so skip
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=48k", "tmpfs", small]).status === 0;
    if (!mounted) {
      console.log("no size-limited folder here (mount -t tmpfs needs root): the ENOSPC case is covered by test/checkpoint.test.ts's simulated failures only");
      return;
    }
    try {
      const out = join(small, "run");
      const r = run([...SMALL, "--hidden", "16", "--eval-every", "2", "--max-steps", "100000", "--out", out]);
      expect(r.status).toBe(2);
      const lines = oneLine(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/(cannot write the checkpoint \(any previous file there is unchanged\)|cannot append to the metrics .*the checkpoints in .* are intact).*ENOSPC/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(checkpointsAreGood(out)).toBeGreaterThan(0);
      expect(readdirSync(out).filter((f) => f.includes(".tmp-") || f === ".lock")).toEqual([]);
    } finally {
      spawnSync("umount", [small]);
    }
  });
});
