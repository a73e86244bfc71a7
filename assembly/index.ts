/**
 * unroll's WebAssembly kernels (AssemblyScript, SIMD128). Built by scripts/build-wasm.mjs into
 * src/backend/wasm/module.generated.ts four times: single-threaded (own memory) and threaded
 * (shared, imported memory; threads.ts), each also with relaxed SIMD (gemm.ts `madd`).
 * src/backend/wasm/ calls them. Everything works on float32
 * buffers that the caller has placed in linear memory above `heapBase()`.
 */
export { packedASize, packedBSize, packA, packB, gemmPacked, sgemm, addColumnSums, scatterAddRows, setTile } from "./gemm";
export { lstmForward, lstmBackward, gruForward, gruBackward, rnnForward, rnnBackward, lstmCellStep } from "./cells";
export { setWorker, workerPoll } from "./threads";
export { workerRun } from "./worker";
export { adam, sgd, scale, sumSquares } from "./optim";
export { softmaxXent } from "./xent";
export { qgemv } from "./qgemv";

/** First free byte of linear memory: the caller lays out its buffers from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 in the modules built with relaxed SIMD, else 0. */
export function relaxedSimd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
