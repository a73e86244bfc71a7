/*
 * The addon's persistent thread pool: n − 1 pthreads plus the calling (main) thread.
 *
 *   unroll_pool_run(fn, ctx)      runs fn(ctx, tid, n) on every thread, tid 0 on the caller, and
 *                                 returns when all are done.
 *   unroll_pool_for(n, fn, ctx)   runs fn(ctx, b) for every block b < n, claimed by the threads.
 *   unroll_pool_idle_post(job)    leaves a job to a worker with nothing to do, between runs.
 *
 * Waiting threads spin first (a round trip costs about 0.3 µs) and block on a condition variable
 * only after a while without work: futex wake-ups cost 40–70 µs in the VMs this was tuned on
 * (shared/anchors/limits/NOTES.md §4). Work is always split by fixed partitions of the output, so a
 * result depends on the thread count at most, never on timing.
 */
#ifndef UNROLL_POOL_H
#define UNROLL_POOL_H

#include <stddef.h>

#define UNROLL_MAX_THREADS 64

typedef void (*unroll_task)(void *ctx, int tid, int nth);

/* Threads in the pool (including the caller); 1 until unroll_pool_set_threads. */
int unroll_pool_threads(void);

/* Resizes the pool to n threads (1 ≤ n ≤ UNROLL_MAX_THREADS); returns the count in effect. */
int unroll_pool_set_threads(int n);

/*
 * Runs fn on the threads of the pool (tid 0 on the caller); returns when every thread that joined
 * has finished. A task must not need every thread: a worker that wakes after the caller finished
 * skips the run, and while another caller holds the pool, fn runs on the caller alone.
 */
void unroll_pool_run(unroll_task fn, void *ctx);

/*
 * Work for an idle worker between runs: at most one job waits in the pool's slot; a worker with
 * nothing to do takes it and runs fn(job) once. state is 1 from unroll_pool_idle_post until the
 * job has run or was withdrawn, 0 after. unroll_pool_idle_withdraw takes it back if no worker has,
 * or waits until fn has returned; either way the job's memory is the owner's again. Posting a job
 * withdraws the one waiting. Without workers, post does nothing (state stays 0).
 */
typedef struct unroll_idle_job {
  void (*fn)(struct unroll_idle_job *job);
  volatile int state;
} unroll_idle_job;
void unroll_pool_idle_post(unroll_idle_job *job);
void unroll_pool_idle_withdraw(unroll_idle_job *job);

/* Returns once *flag reads `value` (acquire): spinning, then yielding the core. */
void unroll_pool_wait_for(volatile int *flag, int value);

/*
 * Runs fn(ctx, b) for every block b in [0, nblocks) on the pool: threads claim blocks until none
 * is left, so a preempted thread's share goes to the others. Which thread runs a block never
 * changes what the block computes.
 */
typedef void (*unroll_block_fn)(void *ctx, size_t block);
void unroll_pool_for(size_t nblocks, unroll_block_fn fn, void *ctx);

/*
 * unroll_pool_for where thread t first runs the blocks of its own part t of [0, nblocks) (equal
 * parts, in order, or in reverse order when `descending`), then helps with the others. Called again
 * with the same nblocks, a thread mostly reads what it read the last time, so its own cache serves
 * it; alternating the direction from call to call starts each call on what the last one read last.
 */
void unroll_pool_for_affine(size_t nblocks, unroll_block_fn fn, void *ctx, int descending);

/* [lo, hi) of part t of n parts of [0, total), part sizes multiples of `align` (except the last). */
void unroll_partition(int total, int n, int t, int align, int *lo, int *hi);

/*
 * [lo, hi) of part t of n parts of [0, total) made of whole tiles of `tile` (the last tile may be
 * short), the tiles dealt out as evenly as they go: 400 rows in tiles of 8 are 200 + 200, where
 * unroll_partition with align 48 gives 240 + 160.
 */
void unroll_partition_tiles(int total, int n, int t, int tile, int *lo, int *hi);

/* unroll_sgemm_ld split over the pool by fixed blocks of C rows (or columns when M is small). */
int unroll_sgemm_parallel(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda,
                          const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate);

/* unroll_sgemm_parallel with unroll_sgemm_bias's bias (N floats, or NULL; only without accumulate). */
int unroll_sgemm_parallel_bias(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda,
                               const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate,
                               const float *bias);

#endif
