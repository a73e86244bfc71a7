/**
 * Node edge: the native backend, a Node-API addon in C (native/, binding.gyp) that the package's
 * install script builds with npm's own node-gyp (scripts/build-native.mjs). Its float32 GEMM picks
 * an AVX-512, AVX2+FMA or portable kernel at run time; float64 runs the specification's loops.
 *
 * Importing this module loads build/Release/unroll_native.node. When that works it registers the
 * backend "native", so `getBackend()` prefers it; when it does not (not built, or built for
 * another Node ABI), `nativeBackend` is null and `nativeUnavailableReason` says why in one line,
 * and the JavaScript backend stays the default.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Backend } from "../backend/backend.js";
import { registerBackend } from "../backend/select.js";
import type { FloatArray } from "../tensor/dtype.js";

/** Instruction sets of the native float32 kernel. */
export type NativeIsa = "avx512" | "avx2" | "portable";

/** What the addon exports. */
export interface NativeAddon {
  /** `Backend.gemm`; throws TypeError/RangeError on bad arguments instead of touching memory. */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: FloatArray,
    B: FloatArray,
    C: FloatArray,
    accumulate: boolean,
  ): void;
  /** The float32 kernel in use: the best this CPU supports unless `setIsa` chose another. */
  isa(): NativeIsa;
  /** Uses another float32 kernel (tests, benchmarks); false, changing nothing, where the CPU can't run it. */
  setIsa(isa: NativeIsa): boolean;
}

/** Where node-gyp puts the addon; this file sits two folders below the package root in src/ and dist/. */
const addonFile = fileURLToPath(new URL("../../build/Release/unroll_native.node", import.meta.url));

function load(): { addon: NativeAddon; reason: null } | { addon: null; reason: string } {
  if (!existsSync(addonFile)) {
    return {
      addon: null,
      reason: "the addon is not built: it needs a C compiler at install time (then `npm rebuild unroll`, or `npm run build:native` in unroll's repository)",
    };
  }
  try {
    const addon = createRequire(import.meta.url)(addonFile) as NativeAddon;
    if (typeof addon.gemm !== "function" || typeof addon.isa !== "function") {
      return { addon: null, reason: `${addonFile} is not unroll's addon` };
    }
    return { addon, reason: null };
  } catch (e) {
    const first = String((e as Error).message ?? e).split("\n")[0];
    return { addon: null, reason: `the addon does not load (${first}); \`npm rebuild unroll\` rebuilds it` };
  }
}

const loaded = load();

/** The loaded addon, or null. */
export const nativeAddon: NativeAddon | null = loaded.addon;

/** Why the native backend is unavailable (one line), or null when it is available. */
export const nativeUnavailableReason: string | null = loaded.reason;

/** The backend "native", or null when the addon is unavailable. */
export const nativeBackend: Backend | null = nativeAddon && { name: "native", gemm: nativeAddon.gemm };

if (nativeBackend) registerBackend(nativeBackend);

/** The float32 kernel the native backend uses, or null without the addon (for `unroll info`). */
export function nativeIsa(): NativeIsa | null {
  return nativeAddon ? nativeAddon.isa() : null;
}
