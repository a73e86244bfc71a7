/**
 * Throughput benchmarks of the project's reference configurations (shared anchors T1–T5, I1, I2,
 * W1: the same models, batch shapes, optimizers and FLOP formulas as bench/pytorch/bench_rnn.py),
 * for unroll and, where /usr/bin/python3 has torch, for PyTorch in the same session. Never part of
 * the tests: benchmarks print figures, tests assert behaviour.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend } from "../backend/backend.js";
import { parseCell } from "../cells/cell.js";
import { sampleTokens, sampleTokensQuantized } from "../generate/sample.js";
import { quantizedBytesPerToken, quantizedKernelsFor, quantizeLanguageModel, type QuantizedFormat } from "../generate/quantized.js";
import { createLanguageModel, languageModelForward, languageModelLoss, type RecurrentState } from "../model/language-model.js";
import type { Chunk } from "../text/batches.js";
import { Rng } from "../tensor/random.js";
import { Workspace } from "../tensor/workspace.js";
import { initLanguageModel } from "../train/init-model.js";
import { nativeAddon } from "./native-backend.js";
import { createOptimizer } from "../train/optimizers.js";
import { createStepContext, trainStep } from "../train/step.js";

/** One benchmark configuration (names and shapes as in bench_rnn.py). */
export interface BenchConfig {
  readonly name: string;
  readonly desc: string;
  readonly kind: "train" | "sample" | "score";
  readonly cell: "lstm" | "gru" | "rnn";
  readonly V: number;
  readonly E: number;
  readonly H: number;
  readonly L: number;
  readonly seq: number;
  readonly batch: number;
  readonly opt: "adam" | "sgd";
  readonly lr: number;
  readonly clip: number | null;
  /** "int8" or "bf16": sampling with compact weight matrices (generate/quantized.ts); unroll only, no PyTorch counterpart. */
  readonly weights?: QuantizedFormat;
}

const CHAR = { cell: "lstm", V: 96, E: 256, H: 256, L: 2, seq: 64, batch: 32, opt: "adam", lr: 2e-3, clip: null } as const;

/** The configurations, in bench_rnn.py's order. */
export const BENCH_CONFIGS: readonly BenchConfig[] = [
  { ...CHAR, name: "T1", kind: "train", desc: "char-LM train, LSTM 2x256, V=96, seq 64, batch 32, Adam" },
  { ...CHAR, name: "T2", kind: "train", E: 512, H: 512, batch: 64, desc: "char-LM train, LSTM 2x512, V=96, seq 64, batch 64, Adam" },
  { ...CHAR, name: "T3", kind: "train", E: 128, H: 128, batch: 16, desc: "char-LM train, LSTM 2x128, V=96, seq 64, batch 16, Adam" },
  { ...CHAR, name: "T4", kind: "train", cell: "gru", desc: "char-LM train, GRU 2x256, V=96, seq 64, batch 32, Adam" },
  { ...CHAR, name: "T5", kind: "train", cell: "rnn", desc: "char-LM train, RNN(tanh) 2x256, V=96, seq 64, batch 32, Adam" },
  { ...CHAR, name: "I1", kind: "sample", E: 512, H: 512, seq: 2000, batch: 1, desc: "sampling, LSTM 2x512, V=96, batch 1, 2000 chars one at a time, multinomial" },
  { ...CHAR, name: "I1q", kind: "sample", E: 512, H: 512, seq: 2000, batch: 1, weights: "int8", desc: "I1 with int8 weights (per-row scales); unroll only" },
  { ...CHAR, name: "I1b", kind: "sample", E: 512, H: 512, seq: 2000, batch: 1, weights: "bf16", desc: "I1 with bf16 weights; unroll only" },
  { ...CHAR, name: "I2", kind: "score", E: 512, H: 512, seq: 256, batch: 32, desc: "scoring (forward + CE, no gradient), LSTM 2x512, V=96, seq 256, batch 32" },
  { cell: "lstm", V: 10000, E: 200, H: 200, L: 2, seq: 20, batch: 20, opt: "sgd", lr: 1, clip: 5, name: "W1", kind: "train", desc: "word-LM train (Zaremba small), LSTM 2x200, V=10000, seq 20, batch 20, SGD lr 1, clip 5" },
];

/**
 * This machine's float32 peak for `threads` threads: the native addon's measured one-core FMA peak
 * in the widest registers the CPU has (AVX-512, AVX2 or scalar), times the threads (at most the
 * logical cores). Null without the native addon: nothing then measures the hardware.
 */
export function machinePeak(threads: number): { readonly gflops: number; readonly perCore: number; readonly isa: string; readonly threads: number } | null {
  if (!nativeAddon) return null;
  const perCore = nativeAddon.peakGflops(0.3);
  const t = Math.max(1, Math.min(threads, availableParallelism()));
  return { gflops: perCore * t, perCore, isa: nativeAddon.isa(), threads: t };
}

/** The CPU: its model name and the instruction-set extensions that matter to the kernels. */
export interface CpuInfo {
  readonly model: string;
  readonly logicalCores: number;
  /** e.g. ["sse4_2", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile"], as /proc/cpuinfo names them */
  readonly isa: readonly string[];
}

const ISA_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve"];

/** This machine's CPU (flags from /proc/cpuinfo where there is one). */
export function cpuInfo(): CpuInfo {
  const model = cpus()[0]?.model.trim() ?? "unknown";
  let flags: string[] = [];
  try {
    const text = readFileSync("/proc/cpuinfo", "utf8");
    const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(text);
    if (line) flags = line[1].split(/\s+/);
  } catch {
    // not Linux: the model name is all there is
  }
  return { model, logicalCores: availableParallelism(), isa: ISA_FLAGS.filter((f) => flags.includes(f)) };
}

/** Buffer sizes of the bandwidth probe: far past any last-level cache, and one that fits in it. */
export const BANDWIDTH_BYTES = { memory: 512 * 2 ** 20, cache: 4 * 2 ** 20 } as const;

/** Measured read bandwidth (GB/s) of `threads` threads together. */
export interface Bandwidth {
  readonly threads: number;
  readonly memoryGBs: number;
  readonly cacheGBs: number;
}

/**
 * Read bandwidth measured by the native addon (widest registers, best pass), `threads` threads
 * of its pool each reading their share at once: over 512 MiB (memory) and 4 MiB (cache). Null
 * without the addon.
 */
export function machineBandwidth(seconds = 0.4, threads = 1): Bandwidth | null {
  if (!nativeAddon || typeof nativeAddon.readBandwidth !== "function") return null;
  const memoryGBs = nativeAddon.readBandwidth(BANDWIDTH_BYTES.memory, seconds, threads);
  const cacheGBs = nativeAddon.readBandwidth(BANDWIDTH_BYTES.cache, seconds, threads);
  return memoryGBs > 0 && cacheGBs > 0 ? { threads, memoryGBs, cacheGBs } : null;
}

/** The bandwidth figures in words, with the buffer sizes and threads they were measured with. */
export function describeBandwidth(bw: Bandwidth): string {
  const mib = (b: number) => `${b / 2 ** 20} MiB`;
  return `${bw.memoryGBs.toFixed(1)} GB/s read from ${mib(BANDWIDTH_BYTES.memory)}, ${bw.cacheGBs.toFixed(1)} GB/s from ${mib(BANDWIDTH_BYTES.cache)} (cache), ${bw.threads === 1 ? "one core" : `${bw.threads} threads together`}`;
}

/**
 * Bytes of weights read per token by batch-1 sampling (I1): every recurrent and output weight
 * and bias once, and one embedding row, at `bytesPerWeight` (4 for float32).
 */
export function weightBytesPerToken(c: BenchConfig, bytesPerWeight = 4): number {
  let n = c.E; // the embedding row
  for (let l = 0; l < c.L; l++) n += GATES[c.cell] * c.H * ((l === 0 ? c.E : c.H) + c.H + 2);
  return (n + c.V * (c.H + 1)) * bytesPerWeight;
}

/**
 * Bytes of weights batch-1 sampling of `c` really reads per token: `weightBytesPerToken` in
 * float32; with int8 or bf16 weights, what the quantized step reads (the compact matrices, int8 row
 * scales and biases, and for a small vocabulary the first layer's tabulated input projection).
 */
export function sampleBytesPerToken(c: BenchConfig): number {
  if (c.weights === undefined) return weightBytesPerToken(c);
  const model = createLanguageModel({ vocabSize: c.V, embedSize: c.E, cell: parseCell(c.cell), hiddenSize: c.H, numLayers: c.L, dropout: 0 }, "float32");
  return quantizedBytesPerToken(quantizeLanguageModel(model, c.weights));
}

const GATES = { lstm: 4, gru: 3, rnn: 1 } as const;

/** Model FLOPs per token, bench_rnn.py's formula: Σ_layers k·G·H·(I+H) + k·V·H, k = 6 (train) or 2. */
export function flopsPerToken(c: BenchConfig): number {
  const k = c.kind === "train" ? 6 : 2;
  let total = 0;
  for (let l = 0; l < c.L; l++) total += k * GATES[c.cell] * c.H * ((l === 0 ? c.E : c.H) + c.H);
  return total + k * c.V * c.H;
}

/** One measured configuration. */
export interface BenchResult {
  readonly config: string;
  readonly backend: string;
  readonly tokensPerSec: number;
  readonly gflops: number;
  /** Percent of `machinePeak` for the threads used, or null when it is unknown. */
  readonly percentOfPeak: number | null;
  readonly stepMedianMs: number;
  readonly steps: number;
  /** Peak resident memory of this process so far, MiB. */
  readonly peakRssMiB: number;
  readonly torch?: { readonly tokensPerSec: number; readonly gflops: number; readonly ratio: number } | { readonly error: string };
}

/** Timing rule (as bench_rnn.py, shorter by default): warm-up, then until ≥ minSteps and ≥ minTime s. */
export interface BenchTiming {
  readonly warmup: number;
  readonly minSteps: number;
  readonly minTime: number;
  readonly maxTime: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The element of `xs` at the median of `key` (the upper of the middle two): a representative run of several. */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[xs.length >> 1];
}

function randomChunk(rng: Rng, c: BenchConfig): Chunk {
  const n = c.seq * c.batch;
  const x = Int32Array.from({ length: n }, () => rng.int(c.V));
  const y = Int32Array.from({ length: n }, () => rng.int(c.V));
  return { x, y, S: c.seq, B: c.batch };
}

/** Measures unroll on configuration `c`. */
export function benchUnroll(backend: Backend, c: BenchConfig, timing: BenchTiming, peakGflops: number | null = null): BenchResult {
  const rng = Rng.seeded(0);
  const model = createLanguageModel({ vocabSize: c.V, embedSize: c.E, cell: parseCell(c.cell), hiddenSize: c.H, numLayers: c.L, dropout: 0 }, "float32");
  initLanguageModel(model, rng);
  let step: () => void;
  let tokens: number;
  if (c.kind === "train") {
    const optimizer = createOptimizer(c.opt === "sgd" ? { kind: "sgd", lr: c.lr } : { kind: "adam", lr: c.lr }, model.params.data.length, "float32");
    const ctx = createStepContext(backend, model, optimizer, rng, c.clip !== null ? { clipNorm: c.clip } : {});
    const chunk = randomChunk(rng, c);
    let state: RecurrentState | null = null;
    step = () => {
      state = trainStep(ctx, chunk, state).state;
    };
    tokens = c.seq * c.batch;
  } else if (c.kind === "score") {
    const chunk = randomChunk(rng, c);
    const workspace = new Workspace(); // as evaluateChunks does
    step = () => {
      workspace.reset();
      const pass = languageModelForward(backend, model, chunk.x, c.seq, c.batch, null, { workspace });
      languageModelLoss(model, pass, chunk.y, null);
    };
    tokens = c.seq * c.batch;
  } else if (c.weights !== undefined) {
    const qm = quantizeLanguageModel(model, c.weights); // once, untimed, as a caller that keeps the quantized model
    const kernels = quantizedKernelsFor(backend.name);
    step = () => {
      for (const t of sampleTokensQuantized(qm, kernels, { length: c.seq, rng })) void t;
    };
    tokens = c.seq;
  } else {
    step = () => {
      for (const t of sampleTokens(backend, model, { length: c.seq, rng })) void t;
    };
    tokens = c.seq;
  }
  for (let i = 0; i < timing.warmup; i++) step();
  const times: number[] = [];
  const start = performance.now();
  for (;;) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
    const elapsed = (performance.now() - start) / 1000;
    if ((times.length >= timing.minSteps && elapsed >= timing.minTime) || (elapsed >= timing.maxTime && times.length >= 2)) break;
  }
  const med = median(times);
  const tokensPerSec = (tokens / med) * 1000;
  const gflops = (tokensPerSec * flopsPerToken(c)) / 1e9;
  return {
    config: c.name,
    backend: backend.name,
    tokensPerSec,
    gflops,
    percentOfPeak: peakGflops === null ? null : (100 * gflops) / peakGflops,
    stepMedianMs: med,
    steps: times.length,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

const TORCH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "pytorch", "bench_rnn.py");

/** Whether PyTorch is there to compare with. */
export function torchAvailable(): boolean {
  if (!existsSync("/usr/bin/python3") || !existsSync(TORCH_SCRIPT)) return false;
  return spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

/**
 * Runs bench_rnn.py for one configuration (OpenBLAS-OpenMP, as the anchors) on `threads` threads
 * (default 2, the anchors' setting; `unroll bench --threads N` passes N so both sides get the same).
 */
export function benchTorch(c: BenchConfig, timing: BenchTiming, threads = 2): { tokensPerSec: number; gflops: number } | { error: string } {
  const out = join(mkdtempSync(join(tmpdir(), "unroll-torch-")), "results.json");
  const args = [TORCH_SCRIPT, "--configs", c.name, "--threads", String(threads), "--out", out, "--tag", "unroll-bench", "--warmup", String(timing.warmup), "--min-steps", String(timing.minSteps), "--min-time", String(timing.minTime), "--max-time", String(Math.max(timing.maxTime, timing.minTime))];
  const r = spawnSync("/usr/bin/python3", args, { encoding: "utf8" });
  if (r.status !== 0) return { error: (r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? `exit ${r.status}` };
  const doc = JSON.parse(readFileSync(out, "utf8")) as { runs: Record<string, { results: { config: string; tokens_per_s: number; gflops: number }[] }> };
  const res = doc.runs["unroll-bench"].results.find((x) => x.config === c.name);
  if (!res) return { error: "no result in bench_rnn.py's output" };
  return { tokensPerSec: res.tokens_per_s, gflops: res.gflops };
}
