/**
 * What `unroll bench` and `unroll info` report about the machine: the CPU's model and ISA flags,
 * the bytes of weights batch-1 sampling reads per character, and the native bandwidth probe (its
 * figures are measurements, so only their sanity is tested, never their size).
 */
import { describe, expect, it } from "vitest";
import { BENCH_CONFIGS, cpuInfo, machineBandwidth, sampleBytesPerToken, weightBytesPerToken } from "../src/node/bench.js";
import { nativeAddon } from "../src/node/native-backend.js";

describe("the machine's figures", () => {
  it("cpuInfo names the CPU and lists only known ISA flags", () => {
    const c = cpuInfo();
    expect(c.model.length).toBeGreaterThan(0);
    expect(c.logicalCores).toBeGreaterThanOrEqual(1);
    if (process.platform === "linux" && process.arch === "x64") expect(c.isa).toContain("sse4_2");
    expect(new Set(c.isa).size).toBe(c.isa.length);
  });

  it("I1 reads 17 MB of float32 weights per character: two LSTM layers of 512, the output layer, one embedding row", () => {
    const i1 = BENCH_CONFIGS.find((c) => c.name === "I1")!;
    const floats = 512 + 2 * 4 * 512 * (512 + 512 + 2) + 96 * (512 + 1);
    expect(weightBytesPerToken(i1)).toBe(4 * floats);
    expect(weightBytesPerToken(i1)).toBe(17_009_024);
    expect(weightBytesPerToken(i1, 1)).toBe(floats);
    expect(sampleBytesPerToken(i1)).toBe(17_009_024);
    // int8 (I1q): the recurrent and output matrices at a byte and a float32 scale per row; one float32
    // bias per layer (b_ih + b_hh); the first layer's input projection is a table row per token
    // (V = 96 ≤ E = 512) of 4H floats, its biases included
    const i1q = BENCH_CONFIGS.find((c) => c.name === "I1q")!;
    const H = 512, G = 4 * H, V = 96;
    const mat = (rows: number, cols: number) => rows * cols + 4 * rows;
    expect(sampleBytesPerToken(i1q)).toBe(4 * G + mat(G, H) + (mat(G, H) + 4 * G) + mat(G, H) + mat(V, H) + 4 * V);
    // bf16 (I1b): two bytes a weight, no scales
    const i1b = BENCH_CONFIGS.find((c) => c.name === "I1b")!;
    const bmat = (rows: number, cols: number) => 2 * rows * cols;
    expect(sampleBytesPerToken(i1b)).toBe(4 * G + bmat(G, H) + (bmat(G, H) + 4 * G) + bmat(G, H) + bmat(V, H) + 4 * V);
  });

  it.skipIf(!nativeAddon)("the native probe measures a finite read bandwidth and checks its arguments", () => {
    const threadsBefore = nativeAddon!.threads();
    const bw = machineBandwidth(0.05)!;
    expect(bw).not.toBeNull();
    for (const v of [bw.memoryGBs, bw.cacheGBs]) expect(Number.isFinite(v) && v > 0).toBe(true);
    const two = machineBandwidth(0.05, 2)!;
    expect(two.threads).toBe(2);
    for (const v of [two.memoryGBs, two.cacheGBs]) expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(nativeAddon!.threads()).toBe(threadsBefore); // the probe gives the pool back as it found it
    expect(() => nativeAddon!.readBandwidth(1 << 20, 0.1, 0)).toThrow(/threads an integer in \[1, 64\]/);
    expect(() => nativeAddon!.readBandwidth(1 << 20, 0.1, 1.5)).toThrow(/threads an integer/);
    expect(() => nativeAddon!.readBandwidth(10, 0.1)).toThrow(/bytes must be in \[4096, 2\^32\]/);
    expect(() => nativeAddon!.readBandwidth(1 << 20, 100)).toThrow(/seconds in \(0, 10\]/);
  });
});
