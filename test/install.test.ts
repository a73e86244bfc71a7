/**
 * What a new user sees on a fresh clone: `npx unroll` prints no npm warning (no unknown keys in
 * .npmrc), and onnxruntime-node's postinstall, which would download CUDA binaries, never runs
 * (package.json's allowScripts denies it; .ci/run also sets ONNXRUNTIME_NODE_INSTALL=skip for npm 10).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string; allowScripts: Record<string, boolean> };

describe("a fresh clone", () => {
  it("npx unroll prints its output and no npm warning", () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
    const r = spawnSync("npx", ["--no-install", "unroll", "--version"], { cwd: repo, encoding: "utf8", env });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    expect(r.stderr).toBe("");
  });

  it(".npmrc holds only settings npm knows, and onnxruntime-node's install script is denied", () => {
    const keys = readFileSync(join(repo, ".npmrc"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#") && !l.startsWith(";"))
      .map((l) => l.split("=")[0].trim());
    expect(keys.every((k) => ["fund", "audit", "engine-strict", "save-exact"].includes(k))).toBe(true);
    expect(pkg.allowScripts["onnxruntime-node"]).toBe(false);
    expect(readFileSync(join(repo, ".ci", "run"), "utf8")).toContain("ONNXRUNTIME_NODE_INSTALL=skip");
  });
});
