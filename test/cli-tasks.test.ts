/**
 * The task shapes end to end through the command line, on small files: train (--json summary
 * last), resume bit for bit, and run the model (classify, tag, sample --condition, translate);
 * bad input gives one clear line naming the file and line, and writes no model.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { randomSplit } from "../src/tasks/split.js";
import { Rng } from "../src/tensor/random.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli", "main.js");
const run = (args: string[], input?: string) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: root, input, env: { ...process.env, UNROLL_THREADS: "1" } });
const SMALL = ["--hidden", "12", "--embed", "6", "--batch", "8", "--seed", "3", "--json"];

function last(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

let dir = "";
beforeAll(() => {
  if (!existsSync(cli)) throw new Error("dist/cli/main.js is missing: run `npm run build` (npm test does it) before the CLI tests");
  dir = mkdtempSync(join(tmpdir(), "unroll-tasks-"));
  const rng = Rng.seeded(42);
  rng.uniform();
  // classify: does the text hold an "x"? (CSV with a quoted field holding a comma)
  const rows = ["text,label", '"a, quoted text with x",yes'];
  for (let i = 0; i < 120; i++) {
    const s = Array.from({ length: 3 + rng.int(4) }, () => "abcx"[rng.int(4)]).join("");
    rows.push(`${s},${s.includes("x") ? "yes" : "no"}`);
  }
  writeFileSync(join(dir, "cls.csv"), rows.join("\n") + "\n");
  // tag: each token tagged with its type (vowel or consonant)
  const lines: string[] = [];
  for (let i = 0; i < 80; i++) {
    const tokens = Array.from({ length: 2 + rng.int(4) }, () => "aeiktp"[rng.int(6)]);
    lines.push(JSON.stringify({ tokens, tags: tokens.map((t) => ("aei".includes(t) ? "V" : "C")) }));
  }
  writeFileSync(join(dir, "tag.jsonl"), lines.join("\n") + "\n");
  // conditional: a names repeated, b names repeated
  const names = ["label,text"];
  for (let i = 0; i < 60; i++) names.push(i % 2 ? `bee,${"b".repeat(2 + rng.int(3))}` : `ay,${"a".repeat(2 + rng.int(3))}`);
  writeFileSync(join(dir, "names.csv"), names.join("\n") + "\n");
  // seq2seq: upper-case copy
  const pairs = ["source,target"];
  for (let i = 0; i < 80; i++) {
    const s = Array.from({ length: 2 + rng.int(3) }, () => "abc"[rng.int(3)]);
    pairs.push(`${s.join("")},${s.map((c) => c.toUpperCase()).join(" ")}`);
  }
  writeFileSync(join(dir, "pairs.csv"), pairs.join("\n") + "\n");
});

describe("unroll train --task", () => {
  it("classify: trains, reports accuracy beside the baseline, and classify prints label and probabilities", () => {
    const out = join(dir, "cls");
    const r = run(["train", "--task", "classify", "--data", join(dir, "cls.csv"), "--max-epochs", "3", "--pooling", "max", "--out", out, ...SMALL]);
    expect(r.status, r.stderr).toBe(0);
    const s = last(r.stdout);
    expect(s.event).toBe("done");
    expect(typeof s.accuracy).toBe("number");
    expect(s.baseline).toBeDefined();
    expect(existsSync(join(out, "confusion.svg"))).toBe(true);
    const c = run(["classify", "--model", join(out, "best.ckpt"), "--json", "abcx", "bbb"]);
    expect(c.status, c.stderr).toBe(0);
    const lines = c.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(2);
    for (const l of lines) expect(Math.abs((l.probabilities.yes as number) + (l.probabilities.no as number) - 1)).toBeLessThan(1e-6);
    const stdin = run(["classify", "--model", join(out, "best.ckpt")], "abc\nxx\n");
    expect(stdin.stdout.trim().split("\n").length).toBe(2);
  });

  it("classify: resumed from latest.ckpt it ends bit for bit as the run that was not stopped", () => {
    const a = join(dir, "full");
    const b = join(dir, "part");
    expect(run(["train", "--task", "classify", "--data", join(dir, "cls.csv"), "--max-steps", "30", "--dropout", "0.2", "--out", a, ...SMALL]).status).toBe(0);
    expect(run(["train", "--task", "classify", "--data", join(dir, "cls.csv"), "--max-steps", "13", "--dropout", "0.2", "--out", b, ...SMALL]).status).toBe(0);
    const r = run(["train", "--task", "classify", "--resume", join(b, "latest.ckpt"), "--max-steps", "30", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const bytes = (p: string) => readFileSync(p);
    // the parameters of both latest checkpoints are identical (the headers differ only in paths)
    const params = (p: string) => {
      const buf = bytes(p);
      const n = buf.readUInt32LE(12);
      return buf.subarray((16 + n + 7) & ~7, buf.length - 4); // payload, without the CRC (it covers the header too)
    };
    expect(params(join(b, "latest.ckpt")).equals(params(join(a, "latest.ckpt")))).toBe(true);
  });

  it("tag: JSONL, bidirectional; per-token accuracy; classify tags tokens", () => {
    const out = join(dir, "tag");
    const r = run(["train", "--task", "tag", "--data", join(dir, "tag.jsonl"), "--max-epochs", "4", "--out", out, ...SMALL]);
    expect(r.status, r.stderr).toBe(0);
    const s = last(r.stdout);
    expect(s.accuracy as number).toBeGreaterThan(0.5);
    expect(s.perTag).toBeDefined();
    const t = run(["classify", "--model", join(out, "best.ckpt"), "a k i"]);
    expect(t.stdout.trim()).toMatch(/^a\/[CV] k\/[CV] i\/[CV]$/);
  });

  it("conditional: samples per condition; sample --condition; an unknown condition is refused", () => {
    const out = join(dir, "cond");
    const r = run(["train", "--task", "conditional", "--data", join(dir, "names.csv"), "--max-epochs", "2", "--out", out, ...SMALL]);
    expect(r.status, r.stderr).toBe(0);
    const s = last(r.stdout);
    expect(Object.keys(s.samples as object).sort()).toEqual(["ay", "bee"]);
    const g = run(["sample", "--model", join(out, "best.ckpt"), "--condition", "ay", "--num", "3", "--length", "10"]);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout.split("\n").slice(0, -1).length).toBe(3); // one line per sample (a sample may be empty: the model may end at once)
    const bad = run(["sample", "--model", join(out, "best.ckpt"), "--condition", "cee"]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown condition "cee"; this model knows "ay", "bee"/);
  });

  it("seq2seq: reports PER/WER greedy and beam; translate decodes", () => {
    const out = join(dir, "s2s");
    const r = run(["train", "--task", "seq2seq", "--data", join(dir, "pairs.csv"), "--max-epochs", "2", "--attention", "additive", "--attention-size", "8", "--beam", "3", "--out", out, ...SMALL]);
    expect(r.status, r.stderr).toBe(0);
    const s = last(r.stdout);
    expect((s.greedy as { per: number }).per).toBeGreaterThanOrEqual(0);
    expect((s.beam as { width: number }).width).toBe(3);
    const t = run(["translate", "--model", join(out, "best.ckpt"), "--beam", "2", "abc", "--attention", join(dir, "att.svg")]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout.trim()).toMatch(/^[A-C ]*$/);
    expect(readFileSync(join(dir, "att.svg"), "utf8")).toMatch(/^(<\?xml[^>]*>\s*)?<svg/);
  });
});

describe("bad task input: one line naming the file and line, nothing written", () => {
  const cases: { name: string; file: string; text: string; task: string; error: RegExp }[] = [
    { name: "a CSV without the label column", file: "nolabel.csv", text: "text,tag\nabc,x\n", task: "classify", error: /nolabel\.csv.*"label"/ },
    { name: "an empty label", file: "empty.csv", text: "text,label\nabc,\nabd,y\n", task: "classify", error: /empty\.csv:\d+: .*label/ },
    { name: "a line that is not JSON", file: "bad.jsonl", text: '{"tokens":["a"],"tags":["x"]}\n{not json\n', task: "tag", error: /bad\.jsonl:2: / },
  ];
  {
    // a tag carried by one sequence only, the one the seeded split (seed 3, 5% / 5%) puts in the test split
    const n = 60;
    const inTest = randomSplit(n, 0.05, 0.05, Rng.seeded(3)).test[0];
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ tokens: ["a", "b", "c"], tags: i === inTest ? ["x", "RARE", "y"] : ["x", "y", "y"] }));
    cases.push({ name: "a tag seen only in the test split", file: "rare.jsonl", text: lines.join("\n") + "\n", task: "tag", error: new RegExp(`rare\\.jsonl:${inTest + 1}: tag "RARE" appears in the test split but never in training`) });
  }
  for (const c of cases) {
    it(c.name, () => {
      const path = join(dir, c.file);
      writeFileSync(path, c.text);
      const out = join(dir, `bad-${c.file}`);
      const r = run(["train", "--task", c.task, "--data", path, "--max-epochs", "1", "--out", out, ...SMALL]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split("\n").length).toBe(1);
      expect(r.stderr).toMatch(c.error);
      expect(existsSync(join(out, "best.ckpt"))).toBe(false);
    });
  }
});
