import { xoroshiro128plus } from "pure-rand";
import type { RandomGenerator } from "pure-rand";

/**
 * The one source of randomness: a seeded xoroshiro128+ generator (from `pure-rand`) whose state
 * can be saved and restored exactly. It is passed explicitly to everything that draws numbers;
 * the library never calls `Math.random`.
 */
export class Rng {
  private constructor(private gen: RandomGenerator) {}

  /** A generator seeded with the integer `seed`. */
  static seeded(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    return new Rng(xoroshiro128plus(seed | 0));
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
