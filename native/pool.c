/*
 * Persistent thread pool (pool.h). Workers wait for a new generation number: spinning with
 * `pause` for up to SPIN_NS, then sleeping on a condition variable. The caller posts work by
 * bumping the generation, runs its own share as tid 0, then spins until every worker has checked
 * in. Without pthreads (MSVC) the pool stays at one thread.
 */
#include "pool.h"

#include "gemm.h"

#include <stdint.h>
#include <stdlib.h>

#if defined(_WIN32)
#define UNROLL_NO_PTHREADS 1
#else
#include <pthread.h>
#include <sched.h>
#include <time.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* How long an idle worker spins before it sleeps, and how long a barrier spins before yielding. */
#define SPIN_NS 50000LL
#define BARRIER_SPINS_BEFORE_YIELD 20000

void unroll_partition(int total, int n, int t, int align, int *lo, int *hi)
{
  if (align < 1) align = 1;
  int chunk = (total + n - 1) / n;
  chunk = (chunk + align - 1) / align * align;
  long a = (long)t * chunk, b = a + chunk;
  if (a > total) a = total;
  if (b > total) b = total;
  *lo = (int)a;
  *hi = (int)b;
}

void unroll_partition_tiles(int total, int n, int t, int tile, int *lo, int *hi)
{
  if (tile < 1) tile = 1;
  const long tiles = ((long)total + tile - 1) / tile;
  long a = tiles * t / n * tile, b = tiles * (t + 1) / n * tile;
  if (a > total) a = total;
  if (b > total) b = total;
  *lo = (int)a;
  *hi = (int)b;
}

#if UNROLL_NO_PTHREADS

int unroll_pool_threads(void) { return 1; }
int unroll_pool_set_threads(int n)
{
  (void)n;
  return 1;
}
void unroll_pool_run(unroll_task fn, void *ctx) { fn(ctx, 0, 1); }

#else

static struct {
  int nth;                 /* threads including the caller */
  pthread_t workers[UNROLL_MAX_THREADS];
  pthread_mutex_t mutex;   /* guards sleeping */
  pthread_cond_t wake;
  unroll_task fn;
  void *ctx;
  int stop;
  _Alignas(64) volatile unsigned gen; /* bumped once per posted run */
  _Alignas(64) volatile int sleepers; /* workers blocked on `wake` */
  _Alignas(64) volatile int active;   /* workers inside the current run's fn */
  _Alignas(64) volatile unsigned closed; /* the last generation the caller finished */
} pool = {1, {0}, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0, 0};

static long long now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct {
  int tid;
  unsigned gen;
} worker_start;

static unroll_idle_job *volatile idle_slot;

/* An idle worker's turn at the slot: 1 when it ran a job. */
static int run_idle_job(void)
{
  unroll_idle_job *j = __atomic_load_n(&idle_slot, __ATOMIC_ACQUIRE);
  if (!j || !__atomic_compare_exchange_n(&idle_slot, &j, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return 0;
  j->fn(j);
  STORE(&j->state, 0);
  return 1;
}

static void *worker_main(void *arg)
{
  worker_start *ws = (worker_start *)arg;
  const int tid = ws->tid;
  unsigned seen = ws->gen;
  free(ws);
  for (;;) {
    /* Spin for new work, then sleep. */
    long long deadline = 0;
    for (long spins = 0; __atomic_load_n(&pool.gen, __ATOMIC_SEQ_CST) == seen; spins++) {
      CPU_RELAX();
      if (run_idle_job()) {
        deadline = 0;
        continue;
      }
      if ((spins & 255) == 0) {
        const long long t = now_ns();
        if (deadline == 0)
          deadline = t + SPIN_NS;
        else if (t > deadline) {
          pthread_mutex_lock(&pool.mutex);
          __atomic_add_fetch(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
          while (__atomic_load_n(&pool.gen, __ATOMIC_SEQ_CST) == seen) pthread_cond_wait(&pool.wake, &pool.mutex);
          __atomic_sub_fetch(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
          pthread_mutex_unlock(&pool.mutex);
          break;
        }
      }
    }
    seen = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE);
    if (pool.stop) return NULL;
    /* Join the run unless the caller has finished it already (tasks never need every thread). */
    __atomic_add_fetch(&pool.active, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pool.closed, __ATOMIC_SEQ_CST) != seen) pool.fn(pool.ctx, tid, pool.nth);
    __atomic_sub_fetch(&pool.active, 1, __ATOMIC_RELEASE);
  }
}

/* Bumps the generation and wakes sleepers. */
static void post(void)
{
  __atomic_add_fetch(&pool.gen, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&pool.sleepers, __ATOMIC_SEQ_CST) > 0) {
    pthread_mutex_lock(&pool.mutex);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mutex);
  }
}

int unroll_pool_threads(void) { return pool.nth; }

/* One run (or resize) at a time: a second JS thread (worker_threads) runs its task alone instead. */
static pthread_mutex_t run_mutex = PTHREAD_MUTEX_INITIALIZER;

static void stop_workers(void)
{
  if (pool.nth <= 1) return;
  pool.stop = 1;
  post();
  for (int i = 1; i < pool.nth; i++) pthread_join(pool.workers[i], NULL);
  pool.stop = 0;
  pool.nth = 1;
}

int unroll_pool_set_threads(int n)
{
  if (n < 1) n = 1;
  if (n > UNROLL_MAX_THREADS) n = UNROLL_MAX_THREADS;
  pthread_mutex_lock(&run_mutex);
  if (n == pool.nth) {
    pthread_mutex_unlock(&run_mutex);
    return n;
  }
  stop_workers();
  const unsigned gen = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE);
  int started = 1;
  for (int i = 1; i < n; i++) {
    worker_start *ws = (worker_start *)malloc(sizeof *ws);
    if (!ws) break;
    ws->tid = i;
    ws->gen = gen;
    if (pthread_create(&pool.workers[i], NULL, worker_main, ws) != 0) {
      free(ws);
      break;
    }
    started++;
  }
  pool.nth = started;
  pthread_mutex_unlock(&run_mutex);
  return started;
}

void unroll_pool_run(unroll_task fn, void *ctx)
{
  /* Tasks never need every thread (they claim work), so running alone is always correct. */
  if (pool.nth <= 1 || pthread_mutex_trylock(&run_mutex) != 0) {
    fn(ctx, 0, 1);
    return;
  }
  const int nth = pool.nth;
  if (nth <= 1) {
    pthread_mutex_unlock(&run_mutex);
    fn(ctx, 0, 1);
    return;
  }
  pool.fn = fn;
  pool.ctx = ctx;
  post();
  fn(ctx, 0, nth);
  /* Close the run: a worker that has not joined yet skips it; wait for those inside. */
  __atomic_store_n(&pool.closed, __atomic_load_n(&pool.gen, __ATOMIC_RELAXED), __ATOMIC_SEQ_CST);
  for (long spins = 0; __atomic_load_n(&pool.active, __ATOMIC_SEQ_CST) != 0; spins++) {
    CPU_RELAX();
    if (spins >= BARRIER_SPINS_BEFORE_YIELD) sched_yield();
  }
  pthread_mutex_unlock(&run_mutex);
}

#endif

void unroll_pool_idle_post(unroll_idle_job *job)
{
#if UNROLL_NO_PTHREADS
  (void)job;
#else
  if (pool.nth <= 1) return;
  STORE(&job->state, 1);
  unroll_idle_job *old = __atomic_exchange_n(&idle_slot, job, __ATOMIC_ACQ_REL);
  if (old && old != job) STORE(&old->state, 0); /* withdrawn unrun */
#endif
}

void unroll_pool_wait_for(volatile int *flag, int value)
{
  for (long spins = 0; LOAD(flag) != value; spins++) {
    CPU_RELAX();
#if !UNROLL_NO_PTHREADS
    if (spins >= BARRIER_SPINS_BEFORE_YIELD) sched_yield();
#endif
  }
}

void unroll_pool_idle_withdraw(unroll_idle_job *job)
{
#if !UNROLL_NO_PTHREADS
  unroll_idle_job *j = job;
  if (__atomic_compare_exchange_n(&idle_slot, &j, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
    STORE(&job->state, 0);
    return;
  }
  unroll_pool_wait_for(&job->state, 0);
#else
  (void)job;
#endif
}

/* ---------------------------------------------------------------------------------------------
 * Blocks claimed over the pool (pool.h)
 */
typedef struct {
  unroll_block_fn fn;
  void *ctx;
  size_t nblocks;
  _Alignas(64) volatile size_t next; /* the next unclaimed block */
} for_job;

static void for_task(void *arg, int tid, int nth)
{
  (void)tid, (void)nth;
  for_job *j = (for_job *)arg;
  for (;;) {
    const size_t blk = __atomic_fetch_add(&j->next, 1, __ATOMIC_ACQ_REL);
    if (blk >= j->nblocks) return;
    j->fn(j->ctx, blk);
  }
}

void unroll_pool_for(size_t nblocks, unroll_block_fn fn, void *ctx)
{
  for_job j = {fn, ctx, nblocks, 0};
  unroll_pool_run(for_task, &j);
}

/*
 * Affine blocks: thread t first claims the blocks of its own part of [0, nblocks) (part t of nth),
 * then those left in the other parts. With the same block count and threads from call to call, a
 * thread reads the same rows each time, so what it left in its own cache serves it again.
 */
typedef struct {
  _Alignas(64) volatile size_t claimed; /* blocks of this part handed out so far */
  size_t begin, count;
} affine_part;

typedef struct {
  unroll_block_fn fn;
  void *ctx;
  int nparts, descending;
  affine_part part[UNROLL_MAX_THREADS];
} affine_job;

static void affine_task(void *arg, int tid, int nth)
{
  (void)nth;
  affine_job *j = (affine_job *)arg;
  for (int k = 0; k < j->nparts; k++) {
    affine_part *p = &j->part[(tid + k) % j->nparts];
    for (;;) {
      const size_t k = __atomic_fetch_add(&p->claimed, 1, __ATOMIC_ACQ_REL);
      if (k >= p->count) break;
      j->fn(j->ctx, j->descending ? p->begin + p->count - 1 - k : p->begin + k);
    }
  }
}

void unroll_pool_for_affine(size_t nblocks, unroll_block_fn fn, void *ctx, int descending)
{
  const int nth = unroll_pool_threads();
  if (nth <= 1 || nblocks < 2) {
    for (size_t k = 0; k < nblocks; k++) fn(ctx, descending ? nblocks - 1 - k : k);
    return;
  }
  affine_job j;
  j.fn = fn;
  j.ctx = ctx;
  j.nparts = nth;
  j.descending = descending;
  for (int t = 0; t < nth; t++) {
    j.part[t].claimed = 0;
    j.part[t].begin = nblocks * (size_t)t / (size_t)nth;
    j.part[t].count = nblocks * (size_t)(t + 1) / (size_t)nth - j.part[t].begin;
  }
  unroll_pool_run(affine_task, &j);
}

/* ---------------------------------------------------------------------------------------------
 * Parallel SGEMM: each thread computes a fixed block of C with the serial kernel (and its own
 * thread-local packing scratch). Every element of C is the same sum in the same order whatever the
 * split, so results do not depend on the thread count.
 */
typedef struct {
  int transA, transB, M, N, K, accumulate, by_rows, nblocks, tile;
  const float *A, *B, *bias;
  float *C;
  ptrdiff_t lda, ldb, ldc;
  volatile int failed;
} gemm_job;

static void gemm_block(void *ctx, size_t block)
{
  gemm_job *j = (gemm_job *)ctx;
  const int blk = (int)block;
  int lo, hi, rc;
  if (j->by_rows) {
    unroll_partition_tiles(j->M, j->nblocks, blk, j->tile, &lo, &hi);
    if (lo >= hi) return;
    const float *A = j->transA ? j->A + lo : j->A + lo * j->lda;
    rc = unroll_sgemm_bias(j->transA, j->transB, hi - lo, j->N, j->K, A, j->lda, j->B, j->ldb, j->C + lo * j->ldc,
                           j->ldc, j->accumulate, j->bias);
  } else {
    unroll_partition_tiles(j->N, j->nblocks, blk, j->tile, &lo, &hi);
    if (lo >= hi) return;
    const float *B = j->transB ? j->B + lo * j->ldb : j->B + lo;
    rc = unroll_sgemm_bias(j->transA, j->transB, j->M, hi - lo, j->K, j->A, j->lda, B, j->ldb, j->C + lo, j->ldc,
                           j->accumulate, j->bias ? j->bias + lo : NULL);
  }
  if (rc != 0) j->failed = 1;
}

int unroll_sgemm_parallel(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda,
                          const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
{
  return unroll_sgemm_parallel_bias(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate, NULL);
}

int unroll_sgemm_parallel_bias(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda,
                               const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate,
                               const float *bias)
{
  const int nth = unroll_pool_threads();
  /* Below about 1 MFLOP per thread the wake-up and the duplicated packing cost more than they save;
   * but a matrix-vector product (M ≤ 2: batch-1 sampling's input projection) is bound by reading B,
   * and splitting B's columns lets each core stream (and cache) its own part from 1 MiB up. */
  const int matvec = M <= 2 && (double)N * K >= 262144.0;
  if (nth <= 1 || ((double)M * N * K < 1.0e6 * nth && !matvec) || (M < 96 && N < 96))
    return unroll_sgemm_bias(transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate, bias);
  /* Every block packs the whole of the operand it does not split: split the larger extent, so the
   * smaller operand is the one packed again (W1's logits, 400 × 10000 · 10000 × 200ᵀ: splitting the
   * rows packed the 8 MB weight once per block). Blocks beyond one per thread (for balance) must
   * carry at least ~1000 rows of work per float packed again (A/B: T1 input projection 1.12x over
   * 300). A whole number of blocks per thread,
   * or the last block runs alone. */
  int by_rows = M >= N;
  if (by_rows ? M < 96 : N < 96) by_rows = !by_rows;
  const int extent = by_rows ? M : N;
  int per_thread = extent / (1000 * nth); /* a whole number of blocks per thread, 1 to 3 */
  if (per_thread > 3) per_thread = 3;
  if (per_thread < 1) per_thread = 1;
  int nblocks = per_thread * nth;
  if (nblocks > (extent + 47) / 48) nblocks = (extent + 47) / 48;
  int mr, nr;
  unroll_sgemm_tile(&mr, &nr);
  gemm_job j = {transA, transB, M, N, K, accumulate, by_rows, nblocks, by_rows ? mr : nr, A, B, bias, C, lda, ldb, ldc, 0};
  unroll_pool_for((size_t)nblocks, gemm_block, &j);
  return j.failed ? -1 : 0;
}
