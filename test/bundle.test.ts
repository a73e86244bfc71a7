/**
 * The library bundled for a browser, as an app's bundler would (esbuild, platform "browser"):
 * the package root, `unroll/browser` and a minimal app (train, sample, initWasmBackend) build with
 * no Node built-in among their inputs, and their minified and gzipped sizes are printed.
 */
import { build, type Metafile } from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");

async function bundle(contents: string): Promise<{ bytes: number; gzip: number; inputs: string[]; meta: Metafile }> {
  const r = await build({
    stdin: { contents, resolveDir: repo, loader: "ts", sourcefile: "app.ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const out = r.outputFiles[0].contents;
  return { bytes: out.length, gzip: gzipSync(out).length, inputs: Object.keys(r.metafile.inputs), meta: r.metafile };
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;

describe("the browser bundle", () => {
  it.each([
    ["the package root (everything)", `export * from "./src/index.js";`],
    ["unroll/browser", `export * from "./src/browser/index.js";`],
    ["a minimal app (train, sample, initWasmBackend)", `import { train, sample, initWasmBackend } from "./src/index.js"; console.log(train, sample, initWasmBackend);`],
  ])("%s bundles with no Node built-in", async (what, code) => {
    const b = await bundle(code);
    expect(b.inputs.filter((f) => f.startsWith("node:") || /(^|\/)src\/(node|cli)\//.test(f))).toEqual([]);
    expect(b.inputs.length).toBeGreaterThan(5);
    console.log(`${what}: ${kb(b.bytes)} minified, ${kb(b.gzip)} gzip`);
  });

  it("the check catches a Node import", async () => {
    await expect(bundle(`export * from "./src/node/index.js";`)).rejects.toThrow(/node:|Could not resolve/);
  });
});
