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

/**
 * Bundles `contents` as an app would, code-split (as Vite and Rollup do by default): `bytes` and
 * `gzip` are the entry chunk, what loads up front; `lazy` the chunks loaded on demand.
 */
async function bundle(contents: string): Promise<{ bytes: number; gzip: number; lazy: number; inputs: string[]; meta: Metafile }> {
  const r = await build({
    stdin: { contents, resolveDir: repo, loader: "ts", sourcefile: "app.ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    splitting: true,
    outdir: join(repo, "out"),
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const entry = r.outputFiles.find((f) => r.metafile.outputs[relativeOut(f.path)]?.entryPoint !== undefined) ?? r.outputFiles[0];
  const lazy = r.outputFiles.filter((f) => f !== entry && f.path.endsWith(".js")).reduce((n, f) => n + f.contents.length, 0);
  // the inputs that put bytes into some output (a module that was tree-shaken away does not count)
  const used = new Set(Object.values(r.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([f]) => f)));
  return { bytes: entry.contents.length, gzip: gzipSync(entry.contents).length, lazy, inputs: [...used], meta: r.metafile };
}

const relativeOut = (path: string) => `out/${path.split("/").pop()}`;

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
    console.log(`${what}: ${kb(b.bytes)} minified, ${kb(b.gzip)} gzip, + ${kb(b.lazy)} loaded on demand`);
  });

  it("a minimal app stays within its budget: 120 KB minified up front, no ONNX, no threaded wasm module", async () => {
    const b = await bundle(`import { train, sample, initWasmBackend } from "./src/index.js"; console.log(train, sample, initWasmBackend);`);
    expect(b.inputs.some((f) => f.includes("onnx-proto") || f.includes("protobufjs"))).toBe(false);
    expect(b.bytes).toBeLessThan(120 * 1024);
    // the threaded modules are there, but in a chunk of their own, loaded by enableWasmThreads
    const threaded = (f: string) => f.endsWith("module-threads.generated.ts");
    const entry = Object.values(b.meta.outputs).find((o) => o.entryPoint !== undefined)!;
    expect(b.inputs.some(threaded)).toBe(true);
    expect(Object.keys(entry.inputs).some(threaded)).toBe(false);
    expect(b.lazy).toBeGreaterThan(10 * 1024);
  });

  it("the check catches a Node import", async () => {
    await expect(bundle(`export * from "./src/node/index.js";`)).rejects.toThrow(/node:|Could not resolve/);
  });
});
