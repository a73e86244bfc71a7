/**
 * Masked sequence pooling (src/layers/pooling.ts): float64 finite-difference gradient checks of
 * every pooling, one and two directions, ragged lengths; padded steps neither change the output
 * nor receive gradient; exact values on tiny hand cases; the boundary errors.
 */
import { describe, expect, it } from "vitest";
import { poolBackward, poolForward, type Pooling } from "../src/layers/pooling.js";
import { Rng } from "../src/tensor/random.js";
import { dot, failures, gradcheck } from "./helpers/gradcheck.js";

const POOLINGS: readonly Pooling[] = ["last", "mean", "max"];

function normals(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Whether step t of sequence b is padding. */
function padded(t: number, b: number, lengths: Int32Array): boolean {
  return t >= lengths[b];
}

describe("pooling gradients (float64, finite differences)", () => {
  const T = 5;
  const B = 3;
  const H = 4;
  const lengths = Int32Array.from([5, 2, 3]);
  for (const pooling of POOLINGS) {
    for (const D of [1, 2]) {
      it(`${pooling}, D = ${D}`, () => {
        const rng = Rng.seeded(100 + D * 10 + POOLINGS.indexOf(pooling));
        const F = D * H;
        const y = normals(T * B * F, rng);
        const R = normals(B * F, rng);
        const loss = () => dot(poolForward(y, T, B, D, H, lengths, pooling).out, R);
        const pass = poolForward(y, T, B, D, H, lengths, pooling);
        const dy = poolBackward(pass, R, T, B, D, H, lengths, pooling);
        const checks = gradcheck(loss, [{ name: "y", x: y, analytic: dy }]);
        expect(failures(checks)).toEqual([]);
      });
    }
  }
});

describe("padded steps", () => {
  const T = 5;
  const B = 3;
  const H = 3;
  const lengths = Int32Array.from([5, 2, 3]);
  for (const pooling of POOLINGS) {
    for (const D of [1, 2]) {
      it(`${pooling}, D = ${D}: do not change the output and get exactly zero gradient`, () => {
        const rng = Rng.seeded(7 + D);
        const F = D * H;
        const y = normals(T * B * F, rng);
        const before = poolForward(y, T, B, D, H, lengths, pooling);
        const y2 = y.slice();
        for (let t = 0; t < T; t++) {
          for (let b = 0; b < B; b++) {
            if (!padded(t, b, lengths)) continue;
            // huge values would win any max, and shift any mean or wrong "last" pick
            for (let f = 0; f < F; f++) y2[(t * B + b) * F + f] = 1e6 * (1 + rng.uniform());
          }
        }
        const after = poolForward(y2, T, B, D, H, lengths, pooling);
        expect(Array.from(after.out)).toEqual(Array.from(before.out));
        const dout = normals(B * F, rng);
        const dy = new Float64Array(T * B * F).fill(123); // stale values must be overwritten
        poolBackward(after, dout, T, B, D, H, lengths, pooling, dy);
        let nonzero = 0;
        for (let t = 0; t < T; t++) {
          for (let b = 0; b < B; b++) {
            for (let f = 0; f < F; f++) {
              const v = dy[(t * B + b) * F + f];
              if (padded(t, b, lengths)) expect(v).toBe(0);
              else if (v !== 0) nonzero++;
            }
          }
        }
        expect(nonzero).toBeGreaterThan(0);
      });
    }
  }
});

describe("hand cases", () => {
  // T = 3, B = 2, H = 1; y[t, b] = values; lengths [2, 3] (sequence 0 has one padded step)
  const T = 3;
  const B = 2;
  const lengths = Int32Array.from([2, 3]);
  // y (T, B, 1): t=0: [1, 4], t=1: [3, -2], t=2: [100, 6]
  const y1 = Float64Array.from([1, 4, 3, -2, 100, 6]);

  it("last, D = 1: y at lengths[b] − 1", () => {
    const pass = poolForward(y1, T, B, 1, 1, lengths, "last");
    expect(Array.from(pass.out)).toEqual([3, 6]);
    expect(pass.argmax).toBeNull();
    const dy = poolBackward(pass, Float64Array.from([10, 20]), T, B, 1, 1, lengths, "last");
    expect(Array.from(dy)).toEqual([0, 0, 10, 0, 0, 20]);
  });

  it("mean, D = 1: average over valid steps", () => {
    const pass = poolForward(y1, T, B, 1, 1, lengths, "mean");
    expect(Array.from(pass.out)).toEqual([2, 8 / 3]);
    const dy = poolBackward(pass, Float64Array.from([10, 6]), T, B, 1, 1, lengths, "mean");
    expect(Array.from(dy)).toEqual([5, 2, 5, 2, 0, 2]);
  });

  it("max, D = 1: max over valid steps, gradient to the argmax", () => {
    const pass = poolForward(y1, T, B, 1, 1, lengths, "max");
    expect(Array.from(pass.out)).toEqual([3, 6]);
    expect(Array.from(pass.argmax!)).toEqual([1, 2]);
    const dy = poolBackward(pass, Float64Array.from([10, 20]), T, B, 1, 1, lengths, "max");
    expect(Array.from(dy)).toEqual([0, 0, 10, 0, 0, 20]);
  });

  it("max: the first maximum wins ties", () => {
    const y = Float64Array.from([5, 5, 5]); // T = 3, B = 1, H = 1
    const pass = poolForward(y, 3, 1, 1, 1, Int32Array.from([3]), "max");
    expect(Array.from(pass.argmax!)).toEqual([0]);
    expect(Array.from(poolBackward(pass, Float64Array.from([1]), 3, 1, 1, 1, Int32Array.from([3]), "max"))).toEqual([1, 0, 0]);
  });

  // D = 2, H = 1: y (T, B, 2) as [forward, reverse] per (t, b)
  // t=0: b0 [1, -1], b1 [4, -4];  t=1: b0 [3, -3], b1 [-2, 2];  t=2: b0 [100, 100], b1 [6, -6]
  const y2 = Float64Array.from([1, -1, 4, -4, 3, -3, -2, 2, 100, 100, 6, -6]);

  it("last, D = 2: forward at lengths[b] − 1, reverse at t = 0", () => {
    const pass = poolForward(y2, T, B, 2, 1, lengths, "last");
    expect(Array.from(pass.out)).toEqual([3, -1, 6, -4]);
    const dy = poolBackward(pass, Float64Array.from([1, 2, 3, 4]), T, B, 2, 1, lengths, "last");
    expect(Array.from(dy)).toEqual([0, 2, 0, 4, 1, 0, 0, 0, 0, 0, 3, 0]);
  });

  it("mean and max, D = 2", () => {
    const mean = poolForward(y2, T, B, 2, 1, lengths, "mean");
    expect(Array.from(mean.out)).toEqual([2, -2, 8 / 3, -8 / 3]);
    const max = poolForward(y2, T, B, 2, 1, lengths, "max");
    expect(Array.from(max.out)).toEqual([3, -1, 6, 2]);
    expect(Array.from(max.argmax!)).toEqual([1, 0, 2, 1]);
  });

  it("float32 in, float32 out", () => {
    const pass = poolForward(Float32Array.from(y1), T, B, 1, 1, lengths, "mean");
    expect(pass.out).toBeInstanceOf(Float32Array);
  });
});

describe("errors", () => {
  const y = new Float64Array(3 * 2 * 2);
  const ok = Int32Array.from([3, 1]);

  it("rejects lengths outside 1..T", () => {
    expect(() => poolForward(y, 3, 2, 1, 2, Int32Array.from([0, 1]), "mean")).toThrow(/length 0 of sequence 0 is out of range 1…3/);
    expect(() => poolForward(y, 3, 2, 1, 2, Int32Array.from([3, 4]), "last")).toThrow(/length 4 of sequence 1 is out of range 1…3/);
    expect(() => poolBackward({ out: new Float64Array(4), argmax: null }, new Float64Array(4), 3, 2, 1, 2, Int32Array.from([-1, 1]), "mean")).toThrow(/out of range/);
  });

  it("rejects wrong sizes", () => {
    expect(() => poolForward(y, 3, 2, 1, 2, Int32Array.from([3]), "mean")).toThrow(/lengths has 1 entries, expected B = 2/);
    expect(() => poolForward(new Float64Array(11), 3, 2, 1, 2, ok, "mean")).toThrow(/y has 11 values/);
    expect(() => poolForward(y, 3, 2, 3, 2, ok, "mean")).toThrow(/D \(directions\) must be 1 or 2/);
    expect(() => poolForward(y, 0, 2, 1, 2, ok, "mean")).toThrow(/T must be a positive integer/);
    const pass = poolForward(y, 3, 2, 1, 2, ok, "max");
    expect(() => poolBackward(pass, new Float64Array(3), 3, 2, 1, 2, ok, "max")).toThrow(/dout has 3 values/);
    expect(() => poolBackward(pass, new Float64Array(4), 3, 2, 1, 2, ok, "max", new Float64Array(5))).toThrow(/dy has 5 values/);
    const meanPass = poolForward(y, 3, 2, 1, 2, ok, "mean");
    expect(() => poolBackward(meanPass, new Float64Array(4), 3, 2, 1, 2, ok, "max")).toThrow(/needs the pass's argmax/);
  });

  it("rejects an unknown pooling", () => {
    expect(() => poolForward(y, 3, 2, 1, 2, ok, "x" as Pooling)).toThrow('unknown pooling "x"; choose last, mean or max');
    expect(() => poolBackward({ out: new Float64Array(4), argmax: null }, new Float64Array(4), 3, 2, 1, 2, ok, "sum" as Pooling)).toThrow(
      'unknown pooling "sum"; choose last, mean or max',
    );
  });
});
