/**
 * Two threads — the caller and one worker on the same shared memory. Built only into the threaded
 * module (asconfig.json target "threads": shared memory, atomics); in the single-threaded module
 * `hasWorker()` is false and every job runs on the caller. The main kinds of job (optimizer updates,
 * the cross-entropy and int8 products split their elements or rows in halves too: optim.ts, xent.ts,
 * qgemv.ts):
 * - a large GEMM split by column panels (rows, when there is a single panel): gemm.ts `gemmShared`;
 * - the packing of a large GEMM's operands, split by row blocks and panels: gemm.ts `packShared`;
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
// The bottom of the kernels' layering: this file imports nothing. gemm.ts and cells.ts post jobs
// through it; worker.ts, above them all, runs the worker's side of each job.

// @ts-ignore: decorator
@inline const SPIN: i32 = 100_000;
/** Below this many multiply-adds one thread is faster than a round trip. */
export const MIN_WORK: i64 = 65_536;
/** Job codes: 0 quit, 1 a GEMM share, 2–7 recurrences (cells.ts), 8 packing, 9–11 optimizer updates (optim.ts), 12 cross-entropy (xent.ts), 13 int8 products (qgemv.ts). */
export const OP_QUIT: i32 = 0;
export const OP_GEMM: i32 = 1;
export const OP_PACK: i32 = 8;
export const OP_ADAM: i32 = 9;
export const OP_SGD: i32 = 10;
export const OP_SCALE: i32 = 11;
export const OP_XENT: i32 = 12;
export const OP_QGEMV: i32 = 13;
/** Byte offset of the job's arguments in the control block. */
export const ARGS: usize = 64;

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

/** Argument i (i32) of the job whose arguments start at `a` (the worker's side of `setArg`). */
// @ts-ignore: decorator
@inline export function jobArg(a: usize, i: i32): i32 {
  return load<i32>(a + (<usize>i << 2));
}

/** Sets argument i of the next job. */
export function setArg(i: i32, v: i32): void {
  store<i32>(ctrl + ARGS + (<usize>i << 2), v);
}

/** Sets arguments i and i + 1 (i even) of the next job to the f64 `v`. */
export function setArgF64(i: i32, v: f64): void {
  store<f64>(ctrl + ARGS + (<usize>i << 2), v);
}

/** The f64 in arguments i and i + 1 of the job at `a` (the worker's side of `setArgF64`). */
// @ts-ignore: decorator
@inline export function jobArgF64(a: usize, i: i32): f64 {
  return load<f64>(a + (<usize>i << 2));
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

/** The worker's side, part 2 (after worker.ts ran job `seq` described at `c`): reports it done. */
export function finishJob(c: usize, seq: i32): void {
  if (!ASC_FEATURE_THREADS) return;
  atomic.store<i32>(c, seq, 4);
  atomic.notify(c + 4, 1);
}
