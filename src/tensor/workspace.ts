/**
 * Buffers reused from one pass to the next. A training step (or a scoring loop) asks for the same
 * buffers in the same order every time: the n-th request of a round gets the n-th buffer of the
 * previous round when its dtype and size match, zeroed, and a new one otherwise. Large fresh
 * buffers cost page faults and the kernel's zeroing on every step (about 12% of a scoring pass of
 * a 2×512 LSTM); reused ones only a memset of memory the process already has.
 *
 * A buffer taken in one round must not be used after the next `reset()`: what outlives a step
 * (the carried recurrent state) is allocated normally.
 */
import { allocate, dtypeOf, type DType, type FloatArray } from "./dtype.js";

/**
 * Returns a buffer of `n` elements of `dtype` (`allocate`, or a workspace's `take`): zero-filled,
 * unless `overwritten` promises that the caller writes every element before reading any (then a
 * reused buffer keeps the previous round's values).
 */
export type Allocator = (dtype: DType, n: number, overwritten?: boolean) => FloatArray;

export class Workspace {
  private readonly buffers: FloatArray[] = [];
  private next = 0;

  /** Starts a round: the buffers of the previous round may be handed out again. */
  reset(): void {
    this.next = 0;
  }

  /** A buffer of `n` elements of `dtype` (zero-filled unless `overwritten`), reused from the previous round when it fits. */
  readonly take: Allocator = (dtype, n, overwritten = false) => {
    const i = this.next++;
    const b = this.buffers[i];
    if (b !== undefined && b.length === n && dtypeOf(b) === dtype) return overwritten ? b : b.fill(0);
    const fresh = allocate(dtype, n);
    this.buffers[i] = fresh;
    return fresh;
  };
}
