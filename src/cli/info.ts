import { Command } from "commander";
import { backendNames, getBackend } from "../backend/select.js";
import { wasmRelaxedSimd, wasmUsable } from "../backend/wasm/index.js";
import { nativeAddon, nativeIsa, nativeThreads, nativeUnavailableReason } from "../node/native-backend.js";
import { cpuInfo, describeBandwidth, machineBandwidth, machinePeak } from "../node/bench.js";

/** `unroll info`: what runs where. */
export function infoCommand(): Command {
  return new Command("info").summary("print the compute backend and environment").action(() => {
    console.log(`backend:   ${getBackend().name} (available: ${backendNames().join(", ")})`);
    const isa = nativeIsa();
    console.log(`native:    ${isa === null ? `unavailable: ${nativeUnavailableReason}` : `float32 kernels ${isa}, float64 plain loops, ${nativeThreads()} threads`}`);
    const qk = nativeAddon?.quantizedKernels?.();
    if (qk) console.log(`sampling:  int8 weights ${qk.int8}, bf16 weights ${qk.bf16} (native)`);
    console.log(`wasm:      ${wasmUsable() ? `SIMD128${wasmRelaxedSimd() ? " + relaxed SIMD (fused multiply-add)" : ""}; int8 sampling weights in fixed point (the native VNNI kernel's bits), bf16 in TypeScript` : "unavailable"}`);
    const cpu = cpuInfo();
    console.log(`cpu:       ${cpu.model}, ${cpu.logicalCores} logical cores${cpu.isa.length > 0 ? `; ${cpu.isa.join(" ")}` : ""}`);
    const peak = machinePeak(1);
    const bw = machineBandwidth(0.2);
    const threads = nativeThreads() ?? 1;
    const bwAll = bw && threads > 1 ? machineBandwidth(0.2, threads) : null;
    if (peak) console.log(`peak:      ${peak.perCore.toFixed(1)} GFLOP/s float32 per core (${peak.isa} FMA, measured)`);
    if (bw) console.log(`memory:    ${describeBandwidth(bw)} (measured)`);
    if (bwAll) console.log(`           ${describeBandwidth(bwAll)}`);
    console.log(`node:      ${process.version} (${process.platform}-${process.arch})`);
  });
}
