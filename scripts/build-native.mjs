#!/usr/bin/env node
/**
 * Builds the native backend (binding.gyp → build/Release/unroll_native.node) with the node-gyp
 * that ships inside npm, against the headers of the Node that runs this script: no download, no
 * system library, only a C compiler, make and python3.
 *
 * As the package's "install" script it never fails the install: it prints one line, either
 *   unroll: native backend built (AVX2)
 * or
 *   unroll: native backend not built (REASON); using the JavaScript backend
 * and exits 0. The full compiler output goes to build/native-build.log.
 *
 *   --strict    exit 1 when the build fails, after printing the log (`npm run build:native`)
 *   UNROLL_SKIP_NATIVE=1   skip the build
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const strict = process.argv.includes("--strict");
const addonPath = join(root, "build", "Release", "unroll_native.node");
const logPath = join(root, "build", "native-build.log");
const ISA_LABEL = { avx512: "AVX-512", avx2: "AVX2", portable: "portable C" };

function notBuilt(reason, log) {
  if (log !== undefined && strict) process.stderr.write(log);
  console.log(`unroll: native backend not built (${reason}); using the JavaScript backend`);
  process.exit(strict ? 1 : 0);
}

/** npm's own node-gyp: npm names it to its scripts; else look beside npm, beside node, locally. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath)
    candidates.push(join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  const prefix = resolve(dirname(process.execPath), "..");
  candidates.push(join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  candidates.push(join(dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  try {
    candidates.push(createRequire(join(root, "package.json")).resolve("node-gyp/bin/node-gyp.js"));
  } catch {
    // not installed locally
  }
  return candidates.find((p) => existsSync(p));
}

/** `--nodedir` for headers installed beside this node (e.g. /usr/include/node), so nothing is downloaded. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return []; // node-gyp reads it from the environment
  const prefix = resolve(dirname(process.execPath), "..");
  const inc = join(prefix, "include", "node");
  return existsSync(join(inc, "node_api.h")) && existsSync(join(inc, "common.gypi")) ? [`--nodedir=${prefix}`] : [];
}

/** The most telling line of a failed build's output. */
function failureReason(log) {
  const lines = log.split("\n").map((l) => l.trim());
  const compile = lines.find((l) => /(^|\s)(fatal )?error:/.test(l) && !l.startsWith("gyp"));
  if (compile) return `compiler error: ${compile.slice(0, 160)}`;
  const make = lines.map((l) => /^make: \*\*\* .*\/(native\/[\w-]+)\.o\]/.exec(l)).find(Boolean);
  if (make) return `cannot compile ${make[1]}.c (is a C compiler installed?)`;
  const stack = lines.find((l) => l.startsWith("gyp ERR! stack Error:"));
  if (stack) return stack.replace("gyp ERR! stack Error:", "node-gyp:").trim().slice(0, 160);
  return "node-gyp failed";
}

if (process.env.UNROLL_SKIP_NATIVE && process.env.UNROLL_SKIP_NATIVE !== "0") notBuilt("UNROLL_SKIP_NATIVE is set");
if (!existsSync(join(root, "binding.gyp"))) notBuilt("binding.gyp is missing from the package");

const nodeGyp = findNodeGyp();
if (!nodeGyp) notBuilt("node-gyp not found; it ships with npm");

const args = [nodeGyp, "rebuild", ...nodedirArgs()];
const run = spawnSync(process.execPath, args, {
  cwd: root,
  encoding: "utf8",
  timeout: 10 * 60 * 1000,
  maxBuffer: 64 * 1024 * 1024,
});
const log = `$ ${[process.execPath, ...args].join(" ")}\n${run.stdout ?? ""}${run.stderr ?? ""}${run.error ? `\n${run.error.message}\n` : ""}`;
try {
  mkdirSync(dirname(logPath), { recursive: true });
  writeFileSync(logPath, log);
} catch {
  // a read-only package folder: the one-line reason still says what happened
}
if (run.error) notBuilt(`cannot run node-gyp: ${run.error.message}`, log);
if (run.status !== 0 || !existsSync(addonPath)) notBuilt(`${failureReason(log)}; see build/native-build.log`, log);

// Load it once in a child process, as the library will: a build that cannot load counts as none.
const probe = spawnSync(
  process.execPath,
  ["-e", "process.stdout.write(require(process.argv[1]).isa())", addonPath],
  { encoding: "utf8" },
);
const isa = probe.stdout.trim();
if (probe.status !== 0 || !(isa in ISA_LABEL)) {
  const why = (probe.stderr || probe.stdout || "").split("\n").find((l) => l.trim()) ?? "unknown error";
  notBuilt(`built, but it does not load: ${why.trim().slice(0, 160)}`, log);
}
console.log(`unroll: native backend built (${ISA_LABEL[isa]})`);
