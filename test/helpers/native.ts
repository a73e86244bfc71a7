/**
 * The native kernel tests' set-up (test/native-kernels.test.ts, test/optim-native.test.ts): the
 * instruction sets to run each check on, and the addon's ISA and thread count restored after every
 * test; `withThreads` for a check on a given thread count.
 */
import { afterEach } from "vitest";
import type { NativeAddon, NativeIsa } from "../../src/node/native-backend.js";

/** The AVX path serves both avx2 and avx512; portable is the scalar loop. Call inside a describe. */
export function nativeIsasRestoredAfterEach(addon: NativeAddon): NativeIsa[] {
  const defaultIsa = addon.isa();
  const defaultThreads = addon.threads();
  afterEach(() => {
    addon.setIsa(defaultIsa);
    addon.setThreads(defaultThreads);
  });
  return defaultIsa === "portable" ? ["portable"] : [defaultIsa, "portable"];
}

/** f() with the addon on n threads, then the thread count it had before. */
export function withThreads<T>(addon: NativeAddon, n: number, f: () => T): T {
  const before = addon.threads();
  addon.setThreads(n);
  try {
    return f();
  } finally {
    addon.setThreads(before);
  }
}
