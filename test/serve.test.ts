/**
 * `unroll serve` and the static server under it: the web lab on localhost with the two headers of
 * cross-origin isolation, nothing outside its folder, clear errors for bad flags.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serveStatic } from "../src/node/serve.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(repo, "dist", "cli", "main.js");

describe("the static server", () => {
  it("serves files with the isolation headers and the right types, and nothing outside its folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-serve-"));
    writeFileSync(join(dir, "index.html"), "<p>hi</p>");
    writeFileSync(join(dir, "a.js"), "export {}");
    const s = await serveStatic({ root: join(dir), port: 0 });
    try {
      const r = await fetch(s.url);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("<p>hi</p>");
      expect(r.headers.get("cross-origin-opener-policy")).toBe("same-origin");
      expect(r.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
      expect(r.headers.get("content-type")).toMatch(/^text\/html/);
      expect((await fetch(`${s.url}a.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
      expect((await fetch(`${s.url}missing.js`)).status).toBe(404);
      for (const bad of ["%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fetc%2fpasswd", "%00"]) expect((await fetch(`${s.url}${bad}`)).status).toBeGreaterThanOrEqual(403);
      expect((await fetch(s.url, { method: "POST" })).status).toBe(405);
    } finally {
      await s.close();
    }
    const plain = await serveStatic({ root: dir, port: 0, isolate: false });
    try {
      expect((await fetch(plain.url)).headers.get("cross-origin-embedder-policy")).toBeNull();
    } finally {
      await plain.close();
    }
  });
});

describe("unroll serve", () => {
  it("prints the URL of the built web lab and serves it cross-origin isolated", async () => {
    const child = spawn(process.execPath, [cli, "serve", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((done, fail) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          const m = out.match(/unroll web lab: (http:\/\/127\.0\.0\.1:\d+\/)/);
          if (m) done(m[1]);
        });
        child.once("exit", (code) => fail(new Error(`exited ${code}: ${out}`)));
      });
      const r = await fetch(url);
      expect(await r.text()).toContain("<title>unroll");
      expect(r.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
      for (const f of ["app.js", "worker.js", "gradients-worker.js", "style.css", "moby-dick.txt"]) expect((await fetch(url + f)).status).toBe(200);
    } finally {
      child.kill("SIGINT");
    }
  });

  it.each([["--port", "99999"], ["--port", "x"], ["--dir", "/no/such/folder"]])("refuses %s %s with one line and exit code 2", (flag, value) => {
    const r = spawnSync(process.execPath, [cli, "serve", flag, value], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("(run with"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/port|no such folder/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
