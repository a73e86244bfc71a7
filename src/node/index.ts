/**
 * unroll's Node.js edge: files (checkpoints, corpora, reference vectors), plots as PNG. The
 * browser-safe library is the package root, `unroll`.
 */
export { writeCheckpointFile, readCheckpointFile, type CheckpointFs } from "./checkpoint-file.js";
export { builtinCorpus, readData, decodeUtf8, CORPORA, type Corpus, type CorpusName } from "./corpus.js";
export { expandReferencePaths, readReference } from "./reference-files.js";
export { plotRun } from "./plot-run.js";
export { svgToPng } from "./png.js";
export { loadTfjsModel } from "./tfjs-files.js";
export { nativeBackend, nativeAddon, nativeIsa, nativeUnavailableReason, type NativeIsa, type NativeAddon } from "./native-backend.js";
export { nativeThreads, setNativeThreads } from "./native-backend.js";
export { enableWasmThreads } from "./wasm-threads.js";
export { enableRelaxedSimd } from "./relaxed-simd.js";
