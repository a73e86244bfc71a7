import { Command } from "commander";
import { availableParallelism, cpus } from "node:os";
import { backendNames, getBackend } from "../backend/select.js";
import { wasmRelaxedSimd, wasmUsable } from "../backend/wasm/index.js";
import { nativeIsa, nativeThreads, nativeUnavailableReason } from "../node/native-backend.js";

/** `unroll info`: what runs where. */
export function infoCommand(): Command {
  return new Command("info").summary("print the compute backend and environment").action(() => {
    console.log(`backend:   ${getBackend().name} (available: ${backendNames().join(", ")})`);
    const isa = nativeIsa();
    console.log(`native:    ${isa === null ? `unavailable: ${nativeUnavailableReason}` : `float32 kernels ${isa}, float64 plain loops, ${nativeThreads()} threads`}`);
    console.log(`wasm:      ${wasmUsable() ? `SIMD128${wasmRelaxedSimd() ? " + relaxed SIMD (fused multiply-add)" : ""}` : "unavailable"}`);
    console.log(`cpu:       ${cpus()[0]?.model.trim() ?? "unknown"}, ${availableParallelism()} logical cores`);
    console.log(`node:      ${process.version} (${process.platform}-${process.arch})`);
  });
}
