import { describe, expect, it } from "vitest";
import { clipGradNorm, clipGradValue, globalNorm } from "../src/train/clip.js";
import { charRnnUniform, constant, normal, orthogonal, orthogonalBlocks, pytorchRnnUniform, uniform, zeros } from "../src/train/init.js";
import { createPlateau, scheduledLr, type LrScheduleConfig, type PlateauConfig } from "../src/train/schedules.js";
import { Rng } from "../src/tensor/random.js";

describe("gradient clipping", () => {
  it("globalNorm is the Euclidean norm over all elements", () => {
    expect(globalNorm(Float64Array.from([3, -4, 0]))).toBe(5);
    expect(globalNorm(new Float32Array(0))).toBe(0);
  });

  it("clipGradNorm scales by maxNorm/(norm + 1e-6) and returns the norm before clipping", () => {
    const g = Float64Array.from([3, -4, 0]);
    expect(clipGradNorm(g, 1)).toBe(5);
    const scale = 1 / (5 + 1e-6);
    expect(Array.from(g)).toEqual([3 * scale, -4 * scale, 0]);
    expect(globalNorm(g)).toBeCloseTo(1, 6);
  });

  it("clipGradNorm leaves gradients within the bound untouched", () => {
    const g = Float64Array.from([0.3, -0.4]);
    expect(clipGradNorm(g, 1)).toBeCloseTo(0.5, 15);
    expect(Array.from(g)).toEqual([0.3, -0.4]);
  });

  it("clipGradNorm follows PyTorch on non-finite norms: returns it and scales anyway", () => {
    const inf = Float64Array.from([Infinity, 2]);
    expect(clipGradNorm(inf, 1)).toBe(Infinity);
    expect(Number.isNaN(inf[0])).toBe(true); // ∞·0
    expect(inf[1]).toBe(0);
    const nan = Float64Array.from([Number.NaN, 2]);
    expect(clipGradNorm(nan, 1)).toBeNaN();
    expect(Number.isNaN(nan[1])).toBe(true);
  });

  it("clipGradValue clamps to [-clip, clip]", () => {
    const g = Float32Array.from([-7, -0.5, 0, 0.25, 9, Number.NaN]);
    clipGradValue(g, 1);
    expect(Array.from(g)).toEqual([-1, -0.5, 0, 0.25, 1, Number.NaN]);
  });

  it("rejects non-positive bounds", () => {
    expect(() => clipGradNorm(new Float64Array(1), 0)).toThrow(/maxNorm/);
    expect(() => clipGradValue(new Float64Array(1), -1)).toThrow(/clip/);
  });
});

describe("closed-form schedules", () => {
  const at = (config: LrScheduleConfig, n: number): number[] => Array.from({ length: n }, (_, k) => scheduledLr(config, k));

  it("constant", () => {
    expect(at({ kind: "constant", lr: 0.3 }, 3)).toEqual([0.3, 0.3, 0.3]);
  });

  // Expected values in this block: PyTorch 1.13.0 schedulers on SGD(lr=1.0), lr read before each
  // scheduler.step() (Debian python3-torch).
  it("step = PyTorch StepLR(step_size=3, gamma=0.5)", () => {
    expect(at({ kind: "step", lr: 1, stepSize: 3, gamma: 0.5 }, 8)).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
    expect(scheduledLr({ kind: "step", lr: 1, stepSize: 2 }, 2)).toBeCloseTo(0.1, 15);
  });

  it("exponential = PyTorch ExponentialLR(gamma=0.9)", () => {
    const want = [1.0, 0.9, 0.81, 0.7290000000000001, 0.6561000000000001];
    at({ kind: "exponential", lr: 1, gamma: 0.9 }, 5).forEach((lr, k) => expect(lr).toBeCloseTo(want[k], 15));
  });

  it("cosine = PyTorch CosineAnnealingLR(T_max=4, eta_min=0.1), including past tMax", () => {
    const want = [1.0, 0.8681980515339464, 0.55, 0.23180194846605368, 0.1, 0.2318019484660536, 0.55, 0.8681980515339467, 1.0000000000000004, 0.8681980515339468];
    at({ kind: "cosine", lr: 1, tMax: 4, etaMin: 0.1 }, 10).forEach((lr, k) => expect(Math.abs(lr - want[k])).toBeLessThan(1e-12));
  });

  it("cosine with warmup rises linearly to lr, then anneals from lr", () => {
    const c: LrScheduleConfig = { kind: "cosine", lr: 1, tMax: 4, warmup: 4 };
    expect(at(c, 4)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(scheduledLr(c, 4)).toBe(1);
    expect(scheduledLr(c, 6)).toBeCloseTo(0.5, 15);
    expect(scheduledLr(c, 8)).toBeCloseTo(0, 15);
  });

  it("char-rnn-decay equals char-rnn's train.lua loop", () => {
    for (const decayAfter of [0, 1, 3]) {
      const config: LrScheduleConfig = { kind: "char-rnn-decay", lr: 2e-3, decay: 0.5, decayAfter };
      // train.lua: iteration i uses the current rate; at i % ntrain == 0 it decays when i/ntrain >= decay_after.
      const ntrain = 4;
      let lr = 2e-3;
      for (let i = 1; i <= ntrain * 6; i++) {
        const completedEpochs = Math.floor((i - 1) / ntrain);
        expect(scheduledLr(config, completedEpochs), `decayAfter ${decayAfter}, iteration ${i}`).toBe(lr);
        expect(scheduledLr(config, (i - 1) / ntrain)).toBe(lr); // fractional epochs as train.lua counts them
        if (i % ntrain === 0 && i / ntrain >= decayAfter) lr *= 0.5;
      }
    }
    expect(at({ kind: "char-rnn-decay", lr: 1 }, 12).slice(9)).toEqual([1, 0.97, 0.97 ** 2]);
  });

  it("rejects invalid configs and positions", () => {
    expect(() => scheduledLr({ kind: "step", lr: 1, stepSize: 0 }, 0)).toThrow(/stepSize must be an integer > 0/);
    expect(() => scheduledLr({ kind: "cosine", lr: 1, tMax: 4, warmup: 1.5 }, 0)).toThrow(/warmup/);
    expect(() => scheduledLr({ kind: "constant", lr: -1 }, 0)).toThrow(/lr must be a number ≥ 0/);
    expect(() => scheduledLr({ kind: "constant", lr: 1 }, -1)).toThrow(/position/);
    expect(() => scheduledLr({ kind: "exponential", lr: 1, gamma: 0.9, stepSize: 2 } as LrScheduleConfig, 0)).toThrow(/no option "stepSize"/);
    expect(() => scheduledLr({ kind: "linear", lr: 1 } as unknown as LrScheduleConfig, 0)).toThrow(/unknown schedule kind "linear"/);
  });
});

describe("reduce on plateau", () => {
  const run = (config: PlateauConfig, metrics: number[]): number[] => {
    const p = createPlateau(config);
    return metrics.map((m) => {
      p.observe(m);
      return p.lr;
    });
  };

  // Expected values: PyTorch 1.13.0 ReduceLROnPlateau on SGD(lr=1.0), lr read after each step(metric).
  it("reduces by factor once the bad count exceeds patience (PyTorch, patience=2)", () => {
    const got = run({ kind: "plateau", lr: 1, patience: 2 }, [5, 4, 4, 4, 4, 3.9999, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5]);
    const want = [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01];
    got.forEach((lr, k) => expect(lr).toBeCloseTo(want[k], 15));
  });

  it("honours cooldown and minLr (PyTorch, patience=1, cooldown=2, factor=0.5, min_lr=0.2)", () => {
    expect(run({ kind: "plateau", lr: 1, patience: 1, cooldown: 2, factor: 0.5, minLr: 0.2 }, Array(14).fill(1))).toEqual([
      1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2,
    ]);
  });

  it("mode max with an absolute threshold (PyTorch, patience=0, threshold=0.1)", () => {
    const got = run({ kind: "plateau", lr: 1, mode: "max", patience: 0, threshold: 0.1, thresholdMode: "abs" }, [1, 1.05, 1.2, 1.25, 1.31, 1.0]);
    const want = [1, 0.1, 0.1, 0.01, 0.01, 0.001];
    got.forEach((lr, k) => expect(lr).toBeCloseTo(want[k], 15));
  });

  it("observe reports a cut; a NaN metric counts as no improvement", () => {
    const p = createPlateau({ kind: "plateau", lr: 1, patience: 0 });
    expect(p.observe(2)).toBe(false);
    expect(p.observe(Number.NaN)).toBe(true);
    expect(p.lr).toBeCloseTo(0.1, 15);
  });

  it("export/import through JSON then continue = uninterrupted", () => {
    const config: PlateauConfig = { kind: "plateau", lr: 1, patience: 1, cooldown: 1 };
    const metrics = [3, 2, 2, 2, 2, 1, 1, 1, 1];
    const whole = run(config, metrics);
    const first = createPlateau(config);
    metrics.slice(0, 4).forEach((m) => first.observe(m));
    const resumed = createPlateau(config);
    resumed.importState(JSON.parse(JSON.stringify(first.exportState())));
    expect(metrics.slice(4).map((m) => (resumed.observe(m), resumed.lr))).toEqual(whole.slice(4));
    expect(createPlateau(config).exportState()).toEqual({ kind: "plateau", lr: 1, best: null, badCount: 0, cooldownLeft: 0 });
  });

  it("rejects invalid configs and states", () => {
    expect(() => createPlateau({ kind: "plateau", lr: 1, factor: 1 })).toThrow(/factor must be < 1/);
    expect(() => createPlateau({ kind: "plateau", lr: 1, patience: -1 })).toThrow(/patience/);
    expect(() => createPlateau({ kind: "plateau", lr: 1, mode: "lowest" } as unknown as PlateauConfig)).toThrow(/mode must be "min" or "max"/);
    const p = createPlateau({ kind: "plateau", lr: 1 });
    expect(() => p.importState({ kind: "plateau", lr: 1, best: null, badCount: 0.5, cooldownLeft: 0 })).toThrow(/badCount must be an integer/);
  });
});

describe("initialisers", () => {
  it("uniform respects its bounds and is deterministic for a seed", () => {
    for (const w of [new Float64Array(2000), new Float32Array(2000)]) {
      uniform(w, -0.3, 0.7, Rng.seeded(1));
      expect(Math.min(...w)).toBeGreaterThanOrEqual(-0.3 - 1e-7);
      expect(Math.max(...w)).toBeLessThanOrEqual(0.7 + 1e-7);
      expect(Math.min(...w)).toBeLessThan(-0.29);
      expect(Math.max(...w)).toBeGreaterThan(0.69);
    }
    const a = new Float64Array(5);
    const b = new Float64Array(5);
    uniform(a, 0, 1, Rng.seeded(7));
    uniform(b, 0, 1, Rng.seeded(7));
    expect(a).toEqual(b);
  });

  it("pytorchRnnUniform draws within ±1/√H, charRnnUniform within ±0.08", () => {
    const w = new Float64Array(1000);
    pytorchRnnUniform(w, 16, Rng.seeded(2));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.24);
    charRnnUniform(w, Rng.seeded(3));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.08);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.079);
  });

  it("normal has the requested mean and standard deviation", () => {
    const w = new Float64Array(20000);
    normal(w, 2, 0.5, Rng.seeded(4));
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const variance = w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length;
    expect(mean).toBeCloseTo(2, 1);
    expect(Math.sqrt(variance)).toBeCloseTo(0.5, 1);
  });

  it("zeros and constant", () => {
    const w = Float32Array.from([1, 2, 3]);
    constant(w, 0.5);
    expect(Array.from(w)).toEqual([0.5, 0.5, 0.5]);
    zeros(w);
    expect(Array.from(w)).toEqual([0, 0, 0]);
  });

  /** (rows, cols) row-major product Aᵀ B for A (k, rows), B (k, cols). */
  const transposeTimes = (A: ArrayLike<number>, B: ArrayLike<number>, k: number, rows: number, cols: number): number[][] =>
    Array.from({ length: rows }, (_, i) =>
      Array.from({ length: cols }, (_, j) => {
        let s = 0;
        for (let l = 0; l < k; l++) s += A[l * rows + i] * B[l * cols + j];
        return s;
      }),
    );
  const transpose = (A: ArrayLike<number>, rows: number, cols: number): number[] =>
    Array.from({ length: rows * cols }, (_, k) => A[(k % rows) * cols + Math.floor(k / rows)]);
  const maxDeviationFromIdentity = (M: number[][], scale = 1): number =>
    Math.max(...M.flatMap((row, i) => row.map((x, j) => Math.abs(x - (i === j ? scale : 0)))));

  for (const [rows, cols] of [
    [6, 6],
    [9, 4],
    [3, 7],
    [1, 5],
    [40, 40],
  ]) {
    it(`orthogonal (${rows}, ${cols}): orthonormal ${rows >= cols ? "columns" : "rows"} within 1e-10, the QR factor of the drawn Gaussian`, () => {
      const w = new Float64Array(rows * cols);
      orthogonal(w, rows, cols, Rng.seeded(11), 1);
      const [m, n] = [Math.max(rows, cols), Math.min(rows, cols)];
      // Q (m, n): W, or Wᵀ when wide. QᵀQ = I.
      const Q = rows >= cols ? Array.from(w) : transpose(w, rows, cols);
      expect(maxDeviationFromIdentity(transposeTimes(Q, Q, m, n, n))).toBeLessThan(1e-10);
      // Z (or Zᵀ) = QR with R upper triangular and a positive diagonal, as torch.nn.init.orthogonal_.
      const rng = Rng.seeded(11);
      const Z = Array.from({ length: rows * cols }, () => rng.normal());
      const A = rows >= cols ? Z : transpose(Z, rows, cols);
      const R = transposeTimes(Q, A, m, n, n);
      for (let i = 0; i < n; i++) {
        expect(R[i][i]).toBeGreaterThan(0);
        for (let j = 0; j < i; j++) expect(Math.abs(R[i][j])).toBeLessThan(1e-10);
      }
    });
  }

  it("orthogonal is deterministic for a seed and scales by gain", () => {
    const a = new Float64Array(12);
    const b = new Float64Array(12);
    orthogonal(a, 4, 3, Rng.seeded(5), 1);
    orthogonal(b, 4, 3, Rng.seeded(5), 2);
    expect(Array.from(b)).toEqual(Array.from(a).map((x) => 2 * x));
    const c = new Float64Array(12);
    orthogonal(c, 4, 3, Rng.seeded(6));
    expect(c).not.toEqual(a);
  });

  it("orthogonalBlocks makes each H×H gate block of (G·H, H) orthogonal, independently", () => {
    const [G, H] = [4, 5];
    const w = new Float64Array(G * H * H);
    orthogonalBlocks(w, G, H, Rng.seeded(9));
    for (let g = 0; g < G; g++) {
      const block = w.subarray(g * H * H, (g + 1) * H * H);
      expect(maxDeviationFromIdentity(transposeTimes(block, block, H, H, H))).toBeLessThan(1e-10);
    }
    expect(w.subarray(0, H * H)).not.toEqual(w.subarray(H * H, 2 * H * H));
    // the same as filling the blocks one after another from one generator
    const rng = Rng.seeded(9);
    const first = new Float64Array(H * H);
    orthogonal(first, H, H, rng);
    expect(w.subarray(0, H * H)).toEqual(first);
  });

  it("orthogonal in float32 is orthonormal within float32 rounding", () => {
    const w = new Float32Array(64);
    orthogonal(w, 8, 8, Rng.seeded(3));
    expect(maxDeviationFromIdentity(transposeTimes(w, w, 8, 8, 8))).toBeLessThan(1e-6);
  });

  it("rejects a buffer of the wrong size", () => {
    expect(() => orthogonal(new Float64Array(5), 2, 3, Rng.seeded(1))).toThrow(/needs 6 values, the buffer has 5/);
    expect(() => orthogonalBlocks(new Float64Array(20), 4, 3, Rng.seeded(1))).toThrow(/needs 36 values/);
  });
});
