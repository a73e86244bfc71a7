// the generator's own module: pure-rand's root carries all four generators into a browser bundle (4 KB)
import { xoroshiro128plus } from "pure-rand/generator/XoroShiro";
import type { RandomGenerator } from "pure-rand";

/**
 * The one source of randomness: a seeded xoroshiro128+ generator (from `pure-rand`) whose state
 * can be saved and restored exactly. It is passed explicitly to everything that draws numbers;
 * the library never calls `Math.random`.
 */
export class Rng {
  private constructor(private gen: RandomGenerator) {}

  /**
   * A generator seeded with the integer `seed`. The 128-bit state comes from splitmix32 of the
   * seed (as the xoroshiro authors advise), not from pure-rand's `xoroshiro128plus(seed)`, whose
   * state (−1, ~seed, seed, 0) makes the first draws of a small seed nearly 1 and then nearly 0.
   */
  static seeded(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return z ^ (z >>> 15);
    };
    const state = [next(), next(), next(), next()];
    if (!state.some((v) => v !== 0)) state[0] = 1; // the one state xoroshiro cannot leave
    return new Rng(xoroshiro128plus.fromState(state));
  }

  /** A generator continuing exactly from a state returned by `state()`. */
  static fromState(state: readonly number[]): Rng {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((v) => Number.isInteger(v))) {
      throw new Error("random generator state must be an array of 4 integers (as written by Rng.state())");
    }
    return new Rng(xoroshiro128plus.fromState(state));
  }

  /** The generator's state, a plain array of integers (JSON-safe). */
  state(): number[] {
    return [...this.gen.getState!()];
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    return this.gen.unsafeNext() >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal, by the Box–Muller transform (one value per call, no hidden cache). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
