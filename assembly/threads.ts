/**
 * Two threads — the caller and one worker on the same shared memory. Built only into the threaded
 * module (asconfig.json target "threads": shared memory, atomics); in the single-threaded module
 * `hasWorker()` is false and `gemmShared` is `gemmPacked`. Two kinds of job:
 * - a large GEMM split by column panels (rows, when there is a single panel): `gemmShared`;
 * - a whole recurrence on a range of batch rows (cells.ts `runRowsJob`): each thread runs all T
 *   steps on its own rows, with no synchronisation per step.
 *
 * Synchronisation is spin-then-wait on a control block of i32 slots at `ctrl` (64 of them): 0 `seq`
 * (caller → worker: a new job), 1 `done` (worker → caller: job `seq` finished), 2 op, 3–4 the
 * worker's rows b0, b1, 16… the job's arguments. The worker spins on an atomic load for about
 * SPIN iterations (≈ 100–200 µs), then sleeps in JS `Atomics.wait` (`workerPoll`): futex wake-ups
 * cost 40–70 µs on the machines measured (anchors/limits/NOTES.md §4), so within a training step
 * the worker rarely sleeps, and between steps it soon stops burning its core. The caller spins
 * until its job is done.
 */
import { gemmPart, setTile as setTileOf } from "./gemm";
import { runRowsJob } from "./cells";

// @ts-ignore: decorator
@inline const SPIN: i32 = 100_000;
/** Below this many multiply-adds one thread is faster than a round trip. */
// @ts-ignore: decorator
@inline const MIN_WORK: i64 = 65_536;
// @ts-ignore: decorator
@inline const OP_QUIT: i32 = 0;
// @ts-ignore: decorator
@inline const OP_GEMM: i32 = 1;
// @ts-ignore: decorator
@inline const ARGS: usize = 64;

/** The control block, or 0: no worker (set on the caller's instance by `setWorker`). */
let ctrl: usize = 0;

/** Tells the caller's instance where its worker listens (0: none). */
export function setWorker(c: usize): void {
  ctrl = c;
}

/** Whether a worker takes jobs. */
export function hasWorker(): bool {
  return ASC_FEATURE_THREADS && ctrl != 0;
}

/** Sets argument i of the next job. */
export function setArg(i: i32, v: i32): void {
  store<i32>(ctrl + ARGS + (<usize>i << 2), v);
}

/** Hands job `op` on rows [b0, b1) to the worker; returns its number for `joinJob`. */
export function postJob(op: i32, b0: i32, b1: i32): i32 {
  if (!ASC_FEATURE_THREADS) return 0;
  store<i32>(ctrl, op, 8);
  store<i32>(ctrl, b0, 12);
  store<i32>(ctrl, b1, 16);
  const seq = atomic.load<i32>(ctrl) + 1;
  atomic.store<i32>(ctrl, seq); // publishes the stores above
  atomic.notify(ctrl, 1);
  return seq;
}

/**
 * Waits until the worker has finished job `seq`, spinning (see `workerPoll` for why never
 * `atomic.wait`): the worker's half of a job takes about as long as the caller's own half.
 */
export function joinJob(seq: i32): void {
  if (!ASC_FEATURE_THREADS) return;
  while (atomic.load<i32>(ctrl, 4) != seq) {}
}

/** C (M×N, row stride ldc) += op(A)·op(B) from packed operands, shared with the worker if any. */
export function gemmShared(M: i32, N: i32, K: i32, ap: usize, bp: usize, c: usize, ldc: i32): void {
  const NP = (N + 7) >> 3;
  const MB = (M + 3) >> 2;
  if (!hasWorker() || <i64>M * <i64>N * <i64>K < MIN_WORK || (NP < 2 && MB < 2)) {
    gemmPart(M, N, K, ap, bp, c, ldc, 0, NP, 0, MB);
    return;
  }
  // the worker takes the second half of the panels (of the row blocks, when there is one panel)
  const byPanels = NP >= 2;
  const p1 = byPanels ? NP >> 1 : NP;
  const b1 = byPanels ? MB : MB >> 1;
  setArg(0, M); setArg(1, N); setArg(2, K); setArg(3, ap); setArg(4, bp); setArg(5, c); setArg(6, ldc);
  setArg(7, byPanels ? p1 : 0); setArg(8, NP); setArg(9, byPanels ? 0 : b1); setArg(10, MB);
  const seq = postJob(OP_GEMM, 0, 0);
  gemmPart(M, N, K, ap, bp, c, ldc, 0, p1, 0, b1);
  joinJob(seq);
}

/**
 * The worker's side, part 1: spins until the job number at `c` differs from `seen` or SPIN loads
 * have passed; returns the job number then (`seen` when nothing came: the caller sleeps in JS
 * `Atomics.wait` and polls again). Sleeping is left to JS on purpose: on Node 20 (V8 11.3) wasm
 * code that resumed from `memory.atomic.wait32` inside a long-running loop computed wrong
 * results (its later loads read zeros), so no wasm code here ever waits.
 */
export function workerPoll(c: usize, seen: i32): i32 {
  if (!ASC_FEATURE_THREADS) return seen;
  let s = atomic.load<i32>(c);
  for (let n = 0; s == seen && n < SPIN; n++) s = atomic.load<i32>(c);
  return s;
}

/**
 * The worker's side, part 2: runs job `seq` described at `c` with this thread's edge tile, then
 * reports it done; returns the op (0: quit).
 */
export function workerRun(c: usize, tile: usize, seq: i32): i32 {
  if (!ASC_FEATURE_THREADS) return 0;
  setTileOf(tile);
  const op = load<i32>(c, 8);
  const a = c + ARGS;
  if (op == OP_GEMM) {
    gemmPart(
      load<i32>(a), load<i32>(a, 4), load<i32>(a, 8), <usize>load<u32>(a, 12), <usize>load<u32>(a, 16), <usize>load<u32>(a, 20),
      load<i32>(a, 24), load<i32>(a, 28), load<i32>(a, 32), load<i32>(a, 36), load<i32>(a, 40),
    );
  } else if (op != OP_QUIT) {
    runRowsJob(op, a, load<i32>(c, 12), load<i32>(c, 16));
  }
  atomic.store<i32>(c, seq, 4);
  atomic.notify(c + 4, 1);
  return op;
}
