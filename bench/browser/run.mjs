// In-browser training speed at T1 (2-layer LSTM 256, embedding 256, vocab 96, batch 32, seq 64,
// Adam 2e-3): unroll's wasm backend (1 and 2 threads) against TensorFlow.js 4.22 (wasm and webgl
// backends, stock tf.layers and hand-written ops), each configuration in a dedicated module Web
// Worker of one headless Chromium page that is cross-origin isolated. See bench/browser/README.md.
//
//   npm run build && flock /tmp/bench.lock npm run bench:browser [-- --quick] [--json] [--only unroll-1t,tfjs-wasm-ops]
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { launchChromium } from "../../scripts/chromium.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const outDir = join(repo, "bench", "out", "browser"); // results*.json
const siteDir = join(outDir, "site"); // the bundled page, rebuilt on every run

const CONFIGS = [
  { name: "unroll-1t", lib: "unroll", threads: 1 },
  { name: "unroll-2t", lib: "unroll", threads: 2 },
  { name: "tfjs-wasm-layers", lib: "tfjs", backend: "wasm", impl: "layers-fit" },
  { name: "tfjs-wasm-ops", lib: "tfjs", backend: "wasm", impl: "ops" },
  { name: "tfjs-webgl-layers", lib: "tfjs", backend: "webgl", impl: "layers-fit" },
  { name: "tfjs-webgl-ops", lib: "tfjs", backend: "webgl", impl: "ops" },
];
// WebGL in headless Chromium: SwiftShader (software) through ANGLE; the default launch passes --disable-gpu
const WEBGL_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--enable-webgl", "--ignore-gpu-blocklist"];

const argv = process.argv.slice(2);
const flag = (n) => argv.includes(n);
const opt = (n) => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag("--quick");
const asJson = flag("--json");
const only = opt("--only")?.split(",").map((s) => s.trim()).filter(Boolean);
if (only) {
  const bad = only.filter((n) => !CONFIGS.some((c) => c.name === n));
  if (bad.length) {
    console.error(`unknown config(s) ${bad.join(", ")}; choose from ${CONFIGS.map((c) => c.name).join(", ")}`);
    process.exit(2);
  }
}
const selected = CONFIGS.filter((c) => !only || only.includes(c.name));

// ≥ 2 warm-up steps, then ≥ 5 timed steps and ≥ 8 s; configs over 3 s/step stop after 3 timed steps.
// --quick is a smoke run: 1 warm-up step, ≥ 3 timed steps and ≥ 3 s, 1 timed step over 3 s/step.
const PROTOCOL = quick
  ? { warmup: 1, minSteps: 3, minSeconds: 3, slowSteps: 1, slowS: 3, maxSeconds: 12, maxSteps: 100 }
  : { warmup: 2, minSteps: 5, minSeconds: 8, slowSteps: 3, slowS: 3, maxSeconds: 30, maxSteps: 200 };
PROTOCOL.maxStepsUnroll = PROTOCOL.warmup + PROTOCOL.maxSteps;
// a configuration still running after this long is stopped and reported as not finished
const timeoutS = (c) => {
  if (c.backend === "webgl") return quick ? 40 : 100;
  if (c.impl === "layers-fit") return quick ? 60 : 150;
  return quick ? 45 : 100;
};
// --webgl-args a,b,c replaces WEBGL_ARGS (--webgl-args "" launches with the default flags only)
const webglArgs = opt("--webgl-args") !== undefined ? opt("--webgl-args").split(",").filter(Boolean) : WEBGL_ARGS;

const log = (m) => process.stderr.write(m + "\n");

/**
 * CPU time (in cores) the rest of the machine used meanwhile: all CPUs' busy time from /proc/stat
 * minus this process and its descendants (Chromium). Only benchmarks take /tmp/bench.lock, so
 * builds and tests beside a run show up here; null where /proc is not Linux's.
 */
function cpuSample() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0); // user nice system irq softirq steal
    const parent = new Map();
    const ticks = new Map();
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = readFileSync(`/proc/${d}/stat`, "utf8");
        const rest = st.slice(st.lastIndexOf(")") + 2).split(" ");
        parent.set(Number(d), Number(rest[1]));
        ticks.set(Number(d), Number(rest[11]) + Number(rest[12]) + (Number(d) === process.pid ? Number(rest[13]) + Number(rest[14]) : 0));
      } catch {}
    }
    let mine = 0;
    for (const [pid, t] of ticks) {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) {
        if (p === process.pid) {
          mine += t;
          break;
        }
      }
    }
    return { busy, mine, t: performance.now() };
  } catch {
    return null;
  }
}
const otherCores = (a, b) => (a && b ? Math.max(0, (b.busy - a.busy - (b.mine - a.mine)) / 100 / ((b.t - a.t) / 1000)) : null);

// 1. bundle
let serveStatic;
try {
  ({ serveStatic } = await import(pathToFileURL(join(repo, "dist", "node", "serve.js")).href));
} catch (e) {
  console.error(`cannot load dist/node/serve.js (${e.message}): run \`npm run build\` first`);
  process.exit(1);
}
rmSync(siteDir, { recursive: true, force: true });
mkdirSync(siteDir, { recursive: true });
const tBuild = performance.now();
await build({
  entryPoints: [join(here, "page.js"), join(here, "worker.js")],
  outdir: siteDir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: "chrome120",
  sourcemap: false,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});
copyFileSync(join(here, "index.html"), join(siteDir, "index.html"));
log(`bundled into ${relative(repo, siteDir)} in ${((performance.now() - tBuild) / 1000).toFixed(1)} s`);

// 2. serve
const require = createRequire(import.meta.url);
const tfWasmDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"));
const server = await serveStatic({ root: siteDir, port: 0, mounts: { "/tfjs-wasm/": tfWasmDir } });

// 3. run, one browser for the CPU configs (default flags) and one with WebGL flags
const cpuModel = cpus()[0]?.model ?? "unknown";
const results = [];
const env = {
  chromium: null, chromiumWebgl: null, webglArgs, cpuModel, cpuCount: cpus().length, node: process.version, page: null, quick, protocol: PROTOCOL,
  loadavgStart: loadavg(), loadavgEnd: null,
};
async function runGroup(configs, extraArgs, key) {
  if (configs.length === 0) return;
  const browser = await launchChromium(extraArgs);
  try {
    env[key] = browser.version();
    const page = await browser.newPage();
    page.on("console", (m) => log(`  ${m.text()}`));
    page.on("pageerror", (e) => log(`  page error: ${e.message}`));
    await page.goto(server.url + "index.html");
    await page.waitForFunction(() => typeof window.runConfig === "function");
    env.page ??= await page.evaluate(() => window.benchEnv());
    if (key === "chromiumWebgl") env.pageWebgl = await page.evaluate(() => window.benchEnv());
    for (const c of configs) {
      log(`${c.name}: running (timeout ${timeoutS(c)} s)`);
      const load0 = loadavg()[0];
      const cpu0 = cpuSample();
      const r = await page.evaluate(([cfg, protocol, t]) => window.runConfig(cfg, protocol, t), [c, PROTOCOL, timeoutS(c)]);
      const other = otherCores(cpu0, cpuSample());
      results.push({ ...summarise(c, r), otherCores: other, loadavg1Before: load0, loadavg1After: loadavg()[0] });
      const s = results[results.length - 1];
      log(`${c.name}: ${s.ok ? `${s.charsPerSec.toFixed(0)} chars/s, ${s.msPerStep.toFixed(1)} ms/step` : s.error.split("\n")[0]}`);
    }
  } finally {
    await browser.close();
  }
}

function summarise(c, r) {
  const base = { config: c.name, lib: c.lib, backend: c.backend ?? "wasm", impl: c.impl ?? null };
  const charsPerStep = 32 * 64;
  if (!r.ok) {
    const p = r.partial ?? { warm: [], times: [], losses: [] };
    const steps = [...p.warm, ...p.times];
    const note = steps.length ? `; steps seen: ${steps.map((s) => s.toFixed(1) + " s").join(", ")}` : "; no step finished";
    return { ...base, ok: false, error: `did not run: ${r.error}${note}`, partial: p };
  }
  const x = r.result;
  const info = x.info;
  return {
    ...base,
    ok: true,
    charsPerSec: charsPerStep / x.medianS,
    msPerStep: x.medianS * 1000,
    warmupSteps: x.warm.length,
    timedSteps: x.times.length,
    warmupS: x.warm,
    timesS: x.times,
    lossFirst: x.losses[0],
    lossLast: x.losses[x.losses.length - 1],
    losses: x.losses,
    threads: info.threads ?? null,
    wallS: x.wallS,
    info,
  };
}

try {
  await runGroup(selected.filter((c) => c.backend !== "webgl"), [], "chromium");
  await runGroup(selected.filter((c) => c.backend === "webgl"), webglArgs, "chromiumWebgl");
} finally {
  await server.close();
}
env.loadavgEnd = loadavg();

// 4. report
const get = (n) => results.find((r) => r.config === n && r.ok);
const notes = (r) => {
  if (!r.ok) return r.error.split("\n")[0];
  const i = r.info;
  const n = [];
  if (r.lib === "unroll") {
    n.push(`module ${i.wasmModule}`, `vocab ${i.vocabSize}`);
    if (i.note) n.push(`note: ${i.note}`);
    if (i.warning) n.push(i.warning);
  } else if (r.backend === "wasm") {
    n.push(`SIMD ${i.wasmSimd}`, `multithread ${i.wasmMultithread}`, `binary ${i.wasmBinary}`, `embed ${i.embed}`);
  } else {
    n.push(`WebGL ${i.webglVersion}`, i.renderer ? `renderer ${i.renderer}` : "renderer ?", `embed ${i.embed}`);
  }
  if (!(r.lossLast < r.lossFirst)) n.push("LOSS DID NOT FALL");
  if (r.otherCores !== null && r.otherCores >= 0.15) n.push(`OTHER LOAD ${r.otherCores.toFixed(2)} cores`);
  return n.join("; ");
};
const rows = results.map((r) => [
  r.config,
  r.ok ? r.charsPerSec.toFixed(0) : "-",
  r.ok ? r.msPerStep.toFixed(1) : "-",
  r.ok ? `${r.warmupSteps}+${r.timedSteps}` : "-",
  r.ok ? String(r.threads ?? "-") : "-",
  r.otherCores === null ? "?" : r.otherCores.toFixed(2),
  r.ok ? `${r.lossFirst.toFixed(3)} → ${r.lossLast.toFixed(3)}` : "-",
  notes(r),
]);
const head = ["config", "chars/s", "ms/step", "warm+timed", "threads", "other load", "loss first → last", "notes"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i >= 1 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();

const ratio = (a, b) => (a && b ? a.charsPerSec / b.charsPerSec : null);
const best = (names) => names.map(get).filter(Boolean).sort((a, b) => b.charsPerSec - a.charsPerSec)[0];
const bestUnroll = best(["unroll-1t", "unroll-2t"]);
const bestTfWasm = best(["tfjs-wasm-layers", "tfjs-wasm-ops"]);
const bestTfWebgl = best(["tfjs-webgl-layers", "tfjs-webgl-ops"]);
const bestTf = best(["tfjs-wasm-layers", "tfjs-wasm-ops", "tfjs-webgl-layers", "tfjs-webgl-ops"]);
const ratios = [
  { name: "unroll-1t / tfjs-wasm-layers", value: ratio(get("unroll-1t"), get("tfjs-wasm-layers")), goal: 10 },
  { name: "unroll-1t / tfjs-wasm-ops", value: ratio(get("unroll-1t"), get("tfjs-wasm-ops")), goal: 3 },
  { name: "unroll-2t / unroll-1t", value: ratio(get("unroll-2t"), get("unroll-1t")), goal: 1.7 },
  { name: `best unroll (${bestUnroll?.config ?? "-"}) / best TF.js wasm (${bestTfWasm?.config ?? "-"})`, value: ratio(bestUnroll, bestTfWasm), goal: null },
  { name: `best unroll (${bestUnroll?.config ?? "-"}) / best TF.js webgl (${bestTfWebgl?.config ?? "-"})`, value: ratio(bestUnroll, bestTfWebgl), goal: null },
  { name: `best unroll (${bestUnroll?.config ?? "-"}) / best TF.js (${bestTf?.config ?? "-"})`, value: ratio(bestUnroll, bestTf), goal: null },
];

const out = [];
out.push(`T1 training in headless Chromium (${env.chromium ?? env.chromiumWebgl}), CPU ${cpuModel} × ${env.cpuCount}, ` +
  `page crossOriginIsolated=${env.page?.crossOriginIsolated}, hardwareConcurrency=${env.page?.hardwareConcurrency}${quick ? ", --quick (smoke run)" : ""}`);
if (env.chromiumWebgl) out.push(`WebGL configs: a second Chromium launched with ${webglArgs.join(" ") || "(default flags)"}`);
out.push(`other load = cores busy outside this run while a config ran (/proc/stat minus Chromium and this process); only benchmarks take /tmp/bench.lock`);
out.push(`chars/s = 32×64 / median step time after ${PROTOCOL.warmup} warm-up step(s); loss = first warm-up step → last timed step`);
out.push("");
out.push(line(head));
out.push(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) out.push(line(r));
out.push("");
for (const r of ratios) {
  const v = r.value === null ? "n/a" : `${r.value.toFixed(2)}×`;
  out.push(`${r.name}: ${v}${r.goal !== null ? `  (goal ≥ ${r.goal}×${r.value === null ? "" : r.value >= r.goal ? ", met" : ", not met"})` : ""}`);
}
console.log(out.join("\n"));

const record = { date: new Date().toISOString(), env, results, ratios };
const jsonPath = join(outDir, quick ? "results-quick.json" : "results.json");
writeFileSync(jsonPath, JSON.stringify(record, null, 2) + "\n");
log(`\nwrote ${relative(repo, jsonPath)}`);
if (asJson) console.log(JSON.stringify(record));
if (existsSync(jsonPath) && results.every((r) => !r.ok)) process.exitCode = 1;
