/**
 * kill -9 at random moments (seeded) of a training that checkpoints at every step: after every
 * kill the newest complete checkpoint loads and the run resumes from it, and the run that went
 * through all the kills ends with exactly the weights of one that was never interrupted.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../src/index.js";
import { readCheckpointFile } from "../src/node/checkpoint-file.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(repo, "dist", "cli", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "unroll-kill-"));
const data = join(tmp, "data.txt");
writeFileSync(data, "a stitch in time saves nine; ".repeat(400));
const MODEL = ["--data", data, "--hidden", "12", "--layers", "1", "--seq-len", "8", "--batch", "4", "--eval-every", "1", "--quiet"];
const KILLS = 20;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kill -9 while checkpointing", () => {
  it(`${KILLS} seeded kills: the newest checkpoint always loads and resumes, and the weights end as if never interrupted`, async () => {
    const out = join(tmp, "run");
    const latest = join(out, "latest.ckpt");
    const rng = Rng.seeded(20261207);
    const steps: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const args = existsSync(latest) ? ["--resume", latest, "--max-steps", "1000000"] : [...MODEL, "--max-steps", "1000000", "--out", out];
      const child = spawn(process.execPath, [cli, "train", ...args], { stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      // wait until this process has written a checkpoint of its own, then kill it a random moment later
      const since = existsSync(latest) ? statSync(latest).mtimeMs : 0;
      const deadline = Date.now() + 30_000;
      while (!(existsSync(latest) && statSync(latest).mtimeMs > since) && Date.now() < deadline) await sleep(10);
      await sleep(50 + Math.floor(rng.uniform() * 400));
      child.kill("SIGKILL");
      await exited;
      const ck = readCheckpointFile(latest); // never torn: the write is atomic
      const step = ck.training!.progress.step;
      expect(step).toBeGreaterThanOrEqual(steps.at(-1) ?? 0);
      steps.push(step);
    }
    console.log(`${KILLS} kills with -9; the newest checkpoint loaded every time, at steps ${steps.join(", ")}`);
    expect(steps.at(-1)).toBeGreaterThan(steps[0]); // training made progress through the kills

    // finish the interrupted run, and run the same training without interruption
    const end = steps.at(-1)! + 10;
    const resumed = spawnSync(process.execPath, [cli, "train", "--resume", latest, "--max-steps", String(end)], { encoding: "utf8" });
    expect(resumed.status).toBe(0);
    const whole = join(tmp, "whole");
    const straight = spawnSync(process.execPath, [cli, "train", ...MODEL, "--max-steps", String(end), "--out", whole], { encoding: "utf8" });
    expect(straight.status).toBe(0);
    const a = readCheckpointFile(latest);
    const b = readCheckpointFile(join(whole, "latest.ckpt"));
    expect(a.training!.progress.step).toBe(end);
    expect(Array.from(a.tensors.get("params")!)).toEqual(Array.from(b.tensors.get("params")!));
    // the next run cleaned up what the killed ones left: no lock, no half-written temporary files
    expect(readdirSync(out).filter((f) => f.includes(".tmp-") || f === ".lock")).toEqual([]);
  });
});
