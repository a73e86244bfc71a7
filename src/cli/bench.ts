import { Command } from "commander";
import { getBackend } from "../backend/select.js";
import { BENCH_CONFIGS, benchTorch, benchUnroll, cpuInfo, describeBandwidth, machineBandwidth, machinePeak, medianBy, torchAvailable, sampleBytesPerToken, type Bandwidth, type BenchConfig, type BenchResult } from "../node/bench.js";
import { accepting, backendName, int, num } from "./options.js";
import { applyThreads, threadsOf } from "../node/threads-option.js";

interface BenchFlags {
  config?: string;
  backend: string;
  threads?: number;
  json?: boolean;
  torch: boolean;
  minTime: number;
  minSteps: number;
  warmup: number;
  rounds: number;
}

/** Comma-separated configuration names, each checked (case does not matter). */
const configList = accepting({ kind: "list", of: "configs" }, (v: string): string => {
  const names = v.split(",").map((s) => s.trim().toUpperCase());
  for (const n of names) if (!BENCH_CONFIGS.some((c) => c.name.toUpperCase() === n)) throw new Error(`unknown configuration "${n}"; choose from ${BENCH_CONFIGS.map((x) => x.name).join(", ")}`);
  return v;
});

/** `unroll bench` */
export function benchCommand(): Command {
  return new Command("bench")
    .summary("measure training, sampling and scoring throughput (and PyTorch's, when available)")
    .description(
      "Runs the reference configurations (T1–T5 char-LM training, I1 batch-1 sampling (I1q: int8\n" +
        "weights, I1b: bf16), I2 scoring, W1 word-LM training; see bench/pytorch/bench_rnn.py) and prints\n" +
        "tokens/s, GFLOP/s by the model-FLOP formula, and the fraction of this machine's float32 peak (the\n" +
        "native addon's measured one-core FMA peak in AVX-512, AVX2 or scalar registers, times the\n" +
        "threads). Where /usr/bin/python3 has torch, PyTorch runs the same configuration in the same\n" +
        "session and the ratio is printed. Run it alone on the machine (e.g. under flock\n" +
        "/tmp/bench.lock). On a machine whose speed drifts (a shared VM), --rounds 3 alternates unroll\n" +
        "and PyTorch three times per configuration and reports the median of each side.",
    )
    .option("--config <names>", `comma-separated configurations (${BENCH_CONFIGS.map((c) => c.name).join(", ")}); default all`, configList)
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS); wasm: 2 or more starts its second thread; PyTorch gets the same (default 2)", int(1))
    .option("--no-torch", "do not run PyTorch for comparison")
    .option("--min-time <s>", "time each configuration at least this long", num(0), 5)
    .option("--min-steps <n>", "and at least this many steps", int(1), 10)
    .option("--warmup <n>", "untimed steps first", int(0), 2)
    .option("--rounds <n>", "measure unroll and PyTorch alternately this many times per configuration; report medians", int(1), 1)
    .option("--json", "print one JSON object per configuration")
    .action(async (f: BenchFlags) => {
      await applyThreads(f.threads, f.backend);
      const names = f.config ? f.config.split(",").map((s) => s.trim().toUpperCase()) : BENCH_CONFIGS.map((c) => c.name.toUpperCase());
      const configs = names.map((n) => {
        const c = BENCH_CONFIGS.find((x) => x.name.toUpperCase() === n);
        if (!c) throw new Error(`unknown configuration "${n}"; choose from ${BENCH_CONFIGS.map((x) => x.name).join(", ")}`);
        return c;
      });
      const backend = getBackend(f.backend);
      const timing = { warmup: f.warmup, minSteps: f.minSteps, minTime: f.minTime, maxTime: Math.max(30, f.minTime) };
      const torch = f.torch && torchAvailable();
      const threads = threadsOf(f.backend);
      const peak = machinePeak(threads);
      const cpu = cpuInfo();
      const bandwidth = machineBandwidth();
      const bandwidthAll = threads > 1 ? machineBandwidth(0.4, threads) : bandwidth;
      if (!f.json) {
        console.log(`unroll bench: backend ${backend.name}${backend.name !== "js" ? ` (${threads} thread${threads === 1 ? "" : "s"})` : ""}${torch ? `, PyTorch from /usr/bin/python3 in the same run (${f.threads ?? 2} threads)` : ", no PyTorch comparison"}${f.rounds > 1 ? `; medians of ${f.rounds} rounds${torch ? ", alternating" : ""}` : ""}`);
        console.log(
          peak
            ? `peak:   ${peak.gflops.toFixed(0)} GFLOP/s float32 (${peak.isa} FMA, measured ${peak.perCore.toFixed(1)} per core × ${peak.threads})`
            : "peak:   unknown (the native addon measures it; it is not built)",
        );
        console.log(`cpu:    ${cpu.model}, ${cpu.logicalCores} logical cores; ${cpu.isa.length > 0 ? cpu.isa.join(" ") : "ISA flags unknown"}`);
        console.log(
          bandwidth
            ? `memory: ${describeBandwidth(bandwidth)}${bandwidthAll && bandwidthAll !== bandwidth ? `;\n        ${describeBandwidth(bandwidthAll)}` : ""}`
            : "memory: bandwidth unknown (the native addon measures it; it is not built)",
        );
        console.log("config  tokens/s     GFLOP/s  % peak  step ms   peak RSS  | PyTorch tokens/s  ratio");
      }
      for (const c of configs) {
        const ours: BenchResult[] = [];
        const theirs: ReturnType<typeof benchTorch>[] = [];
        for (let round = 0; round < f.rounds; round++) {
          ours.push(benchUnroll(backend, c, timing, peak?.gflops ?? null));
          if (torch && !c.weights) theirs.push(benchTorch(c, timing, f.threads ?? 2));
        }
        let r: BenchResult = medianBy(ours, (x) => x.tokensPerSec);
        if (torch && !c.weights) {
          const ok = theirs.filter((t): t is { tokensPerSec: number; gflops: number } => !("error" in t));
          const t = ok.length > 0 ? medianBy(ok, (x) => x.tokensPerSec) : theirs[0];
          r = { ...r, torch: "error" in t ? t : { ...t, ratio: r.tokensPerSec / t.tokensPerSec } };
        }
        if (f.json) {
          console.log(JSON.stringify({ ...r, desc: c.desc, peakGflops: peak?.gflops ?? null, cpu, bandwidth, bandwidthAll, ...weightTraffic(c, r, bandwidthAll), rounds: f.rounds, tokensPerSecRounds: ours.map((x) => x.tokensPerSec) }));
          continue;
        }
        const t = r.torch && "ratio" in r.torch ? `| ${r.torch.tokensPerSec.toFixed(0).padStart(14)}  ${r.torch.ratio.toFixed(2)}×` : r.torch ? `| PyTorch failed: ${(r.torch as { error: string }).error}` : "";
        const traffic = weightTraffic(c, r, bandwidthAll);
        const bw = traffic.weightBytesPerToken === null ? "" : `   weights ${(traffic.weightBytesPerToken / 1e6).toFixed(1)} MB/char = ${traffic.weightGBs!.toFixed(1)} GB/s` + (traffic.fractionOfBandwidth === null ? "" : ` (${(100 * traffic.fractionOfBandwidth.memory).toFixed(0)}% of memory, ${(100 * traffic.fractionOfBandwidth.cache).toFixed(0)}% of cache bandwidth, ${threads} thread${threads === 1 ? "" : "s"})`);
        console.log(
          `${c.name.padEnd(6)}  ${r.tokensPerSec.toFixed(0).padStart(9)}  ${r.gflops.toFixed(1).padStart(9)}  ${r.percentOfPeak === null ? "    ?" : r.percentOfPeak.toFixed(1).padStart(5)}%  ${r.stepMedianMs.toFixed(1).padStart(7)}  ${r.peakRssMiB.toFixed(0).padStart(6)} MiB  ${t}${bw}`,
        );
      }
    });
}

/**
 * For batch-1 sampling: the weight bytes read per character, their rate, and its share of the
 * read bandwidth measured with the same threads reading at once (the cache figure is the
 * relevant one where the weights fit in the last-level cache, as I1's do).
 */
function weightTraffic(c: BenchConfig, r: BenchResult, bw: Bandwidth | null) {
  if (c.kind !== "sample") return { weightBytesPerToken: null, weightGBs: null, fractionOfBandwidth: null };
  const bytes = sampleBytesPerToken(c);
  const gbs = (bytes * r.tokensPerSec) / 1e9;
  return { weightBytesPerToken: bytes, weightGBs: gbs, fractionOfBandwidth: bw ? { memory: gbs / bw.memoryGBs, cache: gbs / bw.cacheGBs, threads: bw.threads } : null };
}
