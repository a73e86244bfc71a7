/**
 * Relaxed SIMD for the wasm backend on Node 20, whose V8 (11.3) has it behind a flag: switched on
 * at run time, before the first wasm module compiles, it lets the backend use its fused
 * multiply-add modules (src/backend/wasm/kernels.ts). Node 21+ has relaxed SIMD on already, and
 * then this does nothing. The unroll CLI calls it first thing; a program using the library on
 * Node 20 may call it too.
 */
import { setFlagsFromString } from "node:v8";
import { relaxedSimdSupported } from "../backend/wasm/kernels.js";

/** Turns relaxed SIMD on where V8 has it behind a flag; returns whether wasm now has it. */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdSupported()) return true;
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  return relaxedSimdSupported();
}
