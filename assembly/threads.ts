/**
 * Two threads — the caller and one worker on the same shared memory — split each large GEMM by
 * column panels (rows, when there is a single panel). Built only into the threaded module
 * (asconfig.json target "threads": shared memory, atomics); in the single-threaded module
 * `gemmShared` is `gemmPacked`.
 *
 * Synchronisation is spin-then-wait on a control block of i32 slots at `ctrl`: slot 0 `seq`
 * (caller → worker: a new job), slot 1 `done` (worker → caller: job `seq` finished), slots 2…
 * the job. Each side spins on an atomic load for about SPIN iterations (≈ 100–200 µs) before it
 * sleeps in `atomic.wait`: futex wake-ups cost 40–70 µs on the machines measured
 * (anchors/limits/NOTES.md §4) and a recurrent step only 50–500 µs, so within a sequence the
 * worker never sleeps, and between sequences it soon stops burning its core.
 */
import { gemmPart, setTile as setTileOf } from "./gemm";

// @ts-ignore: decorator
@inline const SPIN: i32 = 100_000;
/** Below this many multiply-adds one thread is faster than a round trip. */
// @ts-ignore: decorator
@inline const MIN_WORK: i64 = 32_768;

/** The control block, or 0: no worker (set on the caller's instance by `setWorker`). */
let ctrl: usize = 0;

/** Tells the caller's instance where its worker listens (0: none). */
export function setWorker(c: usize): void {
  ctrl = c;
}

/** C (M×N, row stride ldc) += op(A)·op(B) from packed operands, shared with the worker if any. */
export function gemmShared(M: i32, N: i32, K: i32, ap: usize, bp: usize, c: usize, ldc: i32): void {
  const NP = (N + 7) >> 3;
  const MB = (M + 3) >> 2;
  if (!ASC_FEATURE_THREADS || ctrl == 0 || <i64>M * <i64>N * <i64>K < MIN_WORK || (NP < 2 && MB < 2)) {
    gemmPart(M, N, K, ap, bp, c, ldc, 0, NP, 0, MB);
    return;
  }
  if (ASC_FEATURE_THREADS) {
    // the worker takes the second half
    let p0 = 0, p1 = NP, b0 = 0, b1 = MB, wp0 = 0, wp1 = NP, wb0 = 0, wb1 = MB;
    if (NP >= 2) {
      p1 = NP >> 1;
      wp0 = p1;
    } else {
      b1 = MB >> 1;
      wb0 = b1;
    }
    store<i32>(ctrl, 1, 8); // op: gemmPart
    store<i32>(ctrl, M, 12);
    store<i32>(ctrl, N, 16);
    store<i32>(ctrl, K, 20);
    store<u32>(ctrl, <u32>ap, 24);
    store<u32>(ctrl, <u32>bp, 28);
    store<u32>(ctrl, <u32>c, 32);
    store<i32>(ctrl, ldc, 36);
    store<i32>(ctrl, wp0, 40);
    store<i32>(ctrl, wp1, 44);
    store<i32>(ctrl, wb0, 48);
    store<i32>(ctrl, wb1, 52);
    const seq = atomic.load<i32>(ctrl) + 1;
    atomic.store<i32>(ctrl, seq);
    atomic.notify(ctrl, 1);
    gemmPart(M, N, K, ap, bp, c, ldc, p0, p1, b0, b1);
    let n = 0;
    while (atomic.load<i32>(ctrl, 4) != seq) {
      if (++n > SPIN) {
        atomic.wait<i32>(ctrl + 4, seq - 1, -1);
        n = 0;
      }
    }
  }
}

/**
 * The worker's whole life: wait for a job at `c`, run it, report, repeat; returns on op 0.
 * `tile`: this thread's 128-byte edge tile.
 */
export function workerLoop(c: usize, tile: usize): void {
  if (!ASC_FEATURE_THREADS) return;
  if (ASC_FEATURE_THREADS) {
    setTileOf(tile);
    let seen = 0; // seq counts jobs from 0: a job posted before this loop started is not missed
    while (true) {
      let s = atomic.load<i32>(c);
      let n = 0;
      while (s == seen) {
        if (++n > SPIN) {
          atomic.wait<i32>(c, seen, -1);
          n = 0;
        }
        s = atomic.load<i32>(c);
      }
      seen = s;
      const op = load<i32>(c, 8);
      if (op == 1) {
        gemmPart(
          load<i32>(c, 12), load<i32>(c, 16), load<i32>(c, 20),
          <usize>load<u32>(c, 24), <usize>load<u32>(c, 28), <usize>load<u32>(c, 32), load<i32>(c, 36),
          load<i32>(c, 40), load<i32>(c, 44), load<i32>(c, 48), load<i32>(c, 52),
        );
      }
      atomic.store<i32>(c, s, 4);
      atomic.notify(c + 4, 1);
      if (op == 0) return;
    }
  }
}
