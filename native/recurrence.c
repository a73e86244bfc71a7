/*
 * Fused float32 recurrence over a whole sequence (recurrence.h), cuDNN style (Appleyard et al.
 * 2016, "Optimizing Performance of Recurrent Neural Networks on GPUs"):
 *
 *   forward   for k = 0 … T−1:  A = h_k W_hhᵀ + xp[t] + b_hh, pointwise cell math → h_{k+1} (c, cache)
 *   backward  for k = T−1 … 0:  pointwise gate gradients → dxp[t];  dh_k = dA · W_hh (+ direct paths)
 *             then dW_hh += Σ_t dA_tᵀ h_prev(t) as ONE GEMM over all T·B rows, db_hh column sums.
 *
 * Work is split by hidden units into chunks (a multiple of 24 units, the panel width): a chunk
 * computes every gate row of its units, so its pointwise math needs no other chunk's products and
 * a step needs one synchronisation (two for Cho's GRU, whose candidate needs r ⊙ h of every unit;
 * the backward pass has one between the gate gradients and dA · W_hh). Each chunk packs its own
 * slice of W_hh once per call (small batches read W_hh in place instead). Threads claim chunks
 * (their own first, then the others'), so a preempted thread's share is taken over; every output
 * element is computed the same way whichever thread runs it, so results do not depend on the
 * thread count.
 *
 * Batch mode (from 4 batch rows, one register tile, per thread) splits the batch instead: after
 * W_hh is packed once (each thread packs a part), each thread runs its rows through all T steps
 * with no synchronisation at all, reading the whole packed W_hh every step (from L3). At T1's
 * shapes (B 32, H 256: ~100 µs of work per step and thread) that is 8–23% faster than unit mode's
 * per-step barriers, forward and backward, for every cell; at B 16, H 128 (T3) 15–22%. Peephole LSTMs stay in unit mode: their
 * peephole gradients sum over the batch rows.
 *
 * Calls are serialised by a mutex (the pool and the scratch are process-wide).
 */
#include "recurrence.h"

#include "gemm.h"
#include "pool.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define REC_LOCK() ((void)0)
#define REC_UNLOCK() ((void)0)
#else
#include <pthread.h>
#include <sched.h>
static pthread_mutex_t rec_mutex = PTHREAD_MUTEX_INITIALIZER;
#define REC_LOCK() pthread_mutex_lock(&rec_mutex)
#define REC_UNLOCK() pthread_mutex_unlock(&rec_mutex)
#endif

typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

/* Panel width of the packed recurrent weights (3 vectors) and the K block of the step GEMM. */
#define PANEL 24
#define KC 256

/*
 * A K × N operand of the step GEMM. Packed: panels of PANEL columns (the last one rounded up to
 * 8), each K × width, k-major. Direct (small batches, where packing would cost more than the
 * product): column c is read from W_hh in place, see direct_* below.
 */
typedef struct {
  int K, N;
  float *data;
  /* direct mode */
  int direct, cols, nj, j0, rowbase, H;
  const float *W;
} packed;

/*
 * A chunk: hidden units [j0, j0 + nj) of batch rows [b0, b1), its W_hh operands and step
 * products. Unit mode: every row, a slice of the units, its own packed slice of W_hh. Batch mode:
 * every unit, a range of rows, and one packed W_hh shared by all chunks.
 */
typedef struct {
  int j0, nj, b0, b1;
  packed P1, P2;
  float *acc, *acc2; /* (b1 − b0, blocks·nj), (b1 − b0, nj) */
} chunk;

#define MAX_CHUNKS (4 * UNROLL_MAX_THREADS)

typedef struct {
  _Alignas(64) volatile int v;
} padded_counter;

/*
 * The schedule: phases run in order; phase q has one task per chunk. Phase 0 packs W_hh; then
 * per_step phases per time step; a backward run ends with a phase of weight-gradient blocks.
 * Thread t first claims the chunks it owns (a fixed range), then steals the others' unclaimed
 * ones, then waits until every chunk of the phase is done. Claims go through one counter per
 * owner whose value v means phase v / n, chunk v % n, so no counter is ever reset. A chunk's
 * arithmetic does not depend on which thread runs it: results are the same for every schedule.
 */
typedef struct {
  const unroll_rec *r;
  int G;  /* gate blocks */
  int Gf; /* blocks of the first forward product (Cho: r, z) */
  int backward, per_step, nphases, nchunks, nowners;
  int first_phase; /* 1 when prepare() did phase 0 itself (direct products: nothing to pack) */
  int batch; /* batch mode: chunk c runs all T steps of its rows, phases: pack, run, (weight grads) */
  const int *t_of;
  chunk *chunks;
  int own_lo[UNROLL_MAX_THREADS + 1];
  padded_counter claims[UNROLL_MAX_THREADS];
  _Alignas(64) volatile int done;
  /* backward */
  float *drec;         /* (T, B, 3H) GRU reset-after: dL/d(h W_hhᵀ + b_hh), by t */
  const float *hprevT; /* (T, B, H) h_{k(t)}, by t */
  const float *hnT;    /* (T, B, H) Cho: r ⊙ h, by t */
  volatile int failed;
} job;

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Claims the next unclaimed chunk of phase q among those `owner` owns. */
static int claim(job *J, int owner, int q, int *c)
{
  const int lo = J->own_lo[owner], n = J->own_lo[owner + 1] - lo;
  if (n <= 0) return 0;
  int v = __atomic_load_n(&J->claims[owner].v, __ATOMIC_ACQUIRE);
  for (;;) {
    if (v / n != q) return 0;
    if (__atomic_compare_exchange_n(&J->claims[owner].v, &v, v + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      *c = lo + v % n;
      return 1;
    }
  }
}

/* Waits until every chunk of phase q is done. */
static void wait_phase(job *J, int q)
{
  const int target = (q + 1) * J->nchunks;
  for (long spins = 0; __atomic_load_n(&J->done, __ATOMIC_ACQUIRE) < target; spins++) {
    CPU_RELAX();
#if !defined(_WIN32)
    if (spins > 20000) sched_yield(); /* a preempted thread holds a chunk: let it run */
#endif
  }
}

int unroll_rec_gates(const unroll_rec *r)
{
  switch (r->kind) {
  case UNROLL_LSTM: return r->coupled ? 3 : 4;
  case UNROLL_GRU: return 3;
  default: return 1;
  }
}

static size_t round8(size_t n) { return (n + 7) / 8 * 8; }

/* Forward operand: column c = block g, unit j0 + jj of W_hh's rows rowbase + g·H + j0 + jj. */
/* Panels [p0, p1) of part `part` of `parts` of an operand of N columns. */
static void panel_range(int N, int part, int parts, int *p0, int *p1)
{
  const int np = (N + PANEL - 1) / PANEL;
  *p0 = (int)((long)np * part / parts);
  *p1 = (int)((long)np * (part + 1) / parts);
}

static void pack_rows(packed *P, const float *W, int H, int blocks, int j0, int nj, int rowbase, int part, int parts)
{
  const int K = H, N = blocks * nj;
  P->K = K;
  P->N = N;
  if (P->direct) {
    P->cols = 0, P->nj = nj, P->j0 = j0, P->rowbase = rowbase, P->H = H, P->W = W;
    return;
  }
  int p0, p1;
  panel_range(N, part, parts, &p0, &p1);
  for (int n0 = p0 * PANEL; n0 < N && n0 < p1 * PANEL; n0 += PANEL) {
    const int nc = N - n0 < PANEL ? N - n0 : PANEL;
    const int w = (int)round8((size_t)nc);
    float *dst = P->data + (size_t)n0 * K;
    for (int c = 0; c < w; c++) {
      if (c < nc) {
        const int col = n0 + c;
        const float *src = W + (size_t)(rowbase + (col / nj) * H + j0 + col % nj) * H;
        for (int k = 0; k < K; k++) dst[(size_t)k * w + c] = src[k];
      } else {
        for (int k = 0; k < K; k++) dst[(size_t)k * w + c] = 0.0f;
      }
    }
  }
}

/* Backward operand: K = Krows rows of W_hh from rowbase, columns j0 … j0 + nj − 1. */
static void pack_cols(packed *P, const float *W, int H, int Krows, int j0, int nj, int rowbase, int part, int parts)
{
  const int K = Krows, N = nj;
  P->K = K;
  P->N = N;
  if (P->direct) {
    P->cols = 1, P->nj = nj, P->j0 = j0, P->rowbase = rowbase, P->H = H, P->W = W;
    return;
  }
  int p0, p1;
  panel_range(N, part, parts, &p0, &p1);
  for (int n0 = p0 * PANEL; n0 < N && n0 < p1 * PANEL; n0 += PANEL) {
    const int nc = N - n0 < PANEL ? N - n0 : PANEL;
    const int w = (int)round8((size_t)nc);
    float *dst = P->data + (size_t)n0 * K;
    for (int k = 0; k < K; k++) {
      const float *src = W + (size_t)(rowbase + k) * H + j0 + n0;
      float *d = dst + (size_t)k * w;
      memcpy(d, src, (size_t)nc * sizeof(float));
      for (int c = nc; c < w; c++) d[c] = 0.0f;
    }
  }
}

/* Floats a packed operand takes. */
static size_t packed_size(int K, int N) { return round8((size_t)N) * (size_t)K; }

/*
 * After the backward loop: block c of the rows of dW_hh, [m0, m1) (all T·B rows in one GEMM), and
 * the same columns of db_hh.
 */
static void weight_grads(job *J, int c)
{
  const unroll_rec *R = J->r;
  const int T = R->T, B = R->B, H = R->H, GH = J->G * H, TB = T * B;
  const int cho = R->kind == UNROLL_GRU && !R->reset_after;
  const float *A = R->kind == UNROLL_GRU && R->reset_after ? J->drec : R->dxp; /* (T·B, G·H) */
  int m0, m1;
  unroll_partition(GH, J->nchunks, c, 16, &m0, &m1);
  if (m0 >= m1) return;
  /* dW_hh[m0:m1] += A[:, m0:m1]ᵀ · h_prev, where Cho's candidate rows see r ⊙ h instead */
  const int split = cho ? 2 * H : GH;
  int rc = 0;
  if (m0 < split) {
    const int e = m1 < split ? m1 : split;
    rc |= unroll_sgemm_ld(1, 0, e - m0, H, TB, A + m0, GH, J->hprevT, H, R->dWhh + (size_t)m0 * H, H, 1);
  }
  if (m1 > split) {
    const int s = m0 > split ? m0 : split;
    rc |= unroll_sgemm_ld(1, 0, m1 - s, H, TB, A + s, GH, J->hnT, H, R->dWhh + (size_t)s * H, H, 1);
  }
  if (rc) J->failed = 1;
  /* db_hh = Σ over all T·B rows */
  float *db = R->dbhh;
  for (int r = 0; r < TB; r++) {
    const float *a = A + (size_t)r * GH;
    for (int j = m0; j < m1; j++) db[j] += a[j];
  }
}

/* Phase 0 for chunk c: pack its slice of W_hh (batch mode: part c of the shared W_hh). */
static void pack_chunk(job *J, int c)
{
  const unroll_rec *R = J->r;
  const int H = R->H, GH = J->G * H;
  const int cho = R->kind == UNROLL_GRU && !R->reset_after;
  chunk *C = &J->chunks[c];
  const int j0 = C->j0, nj = C->nj;
  if (nj == 0) return;
  const int part = J->batch ? c : 0, parts = J->batch ? J->nchunks : 1;
  if (!J->backward) {
    pack_rows(&C->P1, R->Whh, H, J->Gf, j0, nj, 0, part, parts);
    if (cho) pack_rows(&C->P2, R->Whh, H, 1, j0, nj, 2 * H, part, parts);
  } else {
    /* dh_k (these units) = dA · W_hh[:, units]: K = the gate rows */
    pack_cols(&C->P1, R->Whh, H, cho ? 2 * H : GH, j0, nj, 0, part, parts);
    if (cho) pack_cols(&C->P2, R->Whh, H, H, j0, nj, 2 * H, part, parts);
  }
}

#define RK_CAT2(a, b) a##_##b
#define RK_CAT(a, b) RK_CAT2(a, b)

#if defined(__x86_64__) || defined(__i386__)
#define RK(name) RK_CAT(name, avx2)
#define RK_ATTR __attribute__((target("avx2,fma")))
/* Keeps a vector in a ymm register: without it GCC folds the B loads into every FMA (16 loads per 12 FMAs). */
#define RK_PIN(v) __asm__("" : "+x"(v))
#include "recurrence_kernel.inc"
#undef RK
#undef RK_ATTR
#undef RK_PIN

/* The same kernels with the step products' panels in zmm registers (RK_WIDE) where AVX-512 runs. */
#define RK(name) RK_CAT(name, avx512)
#define RK_ATTR __attribute__((target("avx512f,avx2,fma")))
#define RK_PIN(v) __asm__("" : "+v"(v))
#define RK_WIDE 1
#include "recurrence_kernel.inc"
#undef RK_WIDE
#undef RK
#undef RK_ATTR
#undef RK_PIN
#endif

#define RK(name) RK_CAT(name, generic)
#define RK_ATTR
#define RK_PIN(v) (void)0
#include "recurrence_kernel.inc"
#undef RK_PIN
#undef RK
#undef RK_ATTR

#if defined(__x86_64__) || defined(__i386__)
/*
 * The batch-1 sampling cell 16 units at a time in zmm registers: half the instructions of the
 * 8-wide one (1.2 against 1.9 µs for 512 units on a Zen 4), the same operations per unit, so the
 * same bits; a tail of fewer than 16 goes to the 8-wide one.
 */
typedef float v16 __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));
#define NL(name) name##_x16
#define NL_V v16
#define NL_VI v16i
#define NL_ATTR __attribute__((target("avx512f,avx2,fma")))
#include "nonlinear.inc"

NL_ATTR static void lstm_cell_x16(int S, int N, const float *g, float *c, float *h)
{
  int j = 0;
  for (; j + 16 <= N; j += 16) {
    v16 a, f, t, o, cv;
    __builtin_memcpy(&a, g + j, sizeof a);
    __builtin_memcpy(&f, g + S + j, sizeof f);
    __builtin_memcpy(&t, g + 2 * S + j, sizeof t);
    __builtin_memcpy(&o, g + 3 * S + j, sizeof o);
    __builtin_memcpy(&cv, c + j, sizeof cv);
    const v16 ct = vsigmoid_x16(f) * cv + vsigmoid_x16(a) * vtanh_x16(t);
    __builtin_memcpy(c + j, &ct, sizeof ct);
    const v16 hv = vsigmoid_x16(o) * vtanh_x16(ct);
    __builtin_memcpy(h + j, &hv, sizeof hv);
  }
  if (j < N) lstm_cell_avx512(S, N - j, g + j, c + j, h + j);
}
#undef NL
#undef NL_V
#undef NL_VI
#undef NL_ATTR
#endif

void unroll_lstm_cell_part(int S, int N, const float *g, float *c, float *h)
{
#if defined(__x86_64__) || defined(__i386__)
  const unroll_isa isa = unroll_current_isa();
  if (isa == UNROLL_ISA_AVX512) return lstm_cell_x16(S, N, g, c, h);
  if (isa == UNROLL_ISA_AVX2) return lstm_cell_avx2(S, N, g, c, h);
#endif
  lstm_cell_generic(S, N, g, c, h);
}

void unroll_lstm_cell(int H, const float *g, float *c, float *h) { unroll_lstm_cell_part(H, H, g, c, h); }

/* ---------------------------------------------------------------------------------------------
 * Scratch, grown on demand and kept: per thread (packed weights, step products) and shared.
 */
typedef struct {
  float *buf;
  size_t cap;
} buffer;

static buffer shared_buf;
static int *t_of_buf;
static size_t t_of_cap;

static float *grow(buffer *b, size_t n)
{
  if (n == 0) n = 1;
  if (b->cap >= n) return b->buf;
  void *p = NULL;
  if (posix_memalign(&p, 64, n * sizeof(float)) != 0) return NULL;
  free(b->buf);
  b->buf = (float *)p;
  b->cap = n;
  return b->buf;
}

static int use_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
  return unroll_current_isa() != UNROLL_ISA_PORTABLE;
#else
  return 0;
#endif
}

/* The recurrence's task for the kernel sgemm uses: AVX-512, AVX2 or portable. */
static unroll_task rec_task(void)
{
#if defined(__x86_64__) || defined(__i386__)
  if (unroll_current_isa() == UNROLL_ISA_AVX512) return task_avx512;
#endif
  return use_avx2() ? task_avx2 : task_generic;
}

static buffer chunk_buf;
static chunk chunk_table[MAX_CHUNKS];

/* Sets up the job: chunks and their scratch, the schedule, the t_of table. */
static int prepare(job *J, const unroll_rec *R, int backward, int nth)
{
  const int T = R->T, B = R->B, H = R->H;
  const int cho = R->kind == UNROLL_GRU && !R->reset_after;
  memset(J, 0, sizeof *J);
  J->r = R;
  J->G = unroll_rec_gates(R);
  J->Gf = cho ? 2 : J->G;
  J->backward = backward;
  /* Small batches: packing W_hh would cost more than the products themselves. */
  const int direct = B < 3 || (long)T * B <= 8;
  /* Batch mode from 4 rows (one register tile) per thread: no synchronisation per step at all (each
   * thread runs its rows through every step; the price is each thread reading all of W_hh per step). */
  J->batch = !direct && nth > 1 && B >= 4 * nth && !R->peephole; /* peephole gradients sum over rows */
  J->per_step = backward ? (cho ? 3 : 2) : (cho ? 2 : 1);
  J->nphases = J->batch ? 2 + (backward ? 1 : 0) : 1 + T * J->per_step + (backward ? 1 : 0);
  /* One chunk per thread would stall a step whenever a thread is preempted; two let the other
   * threads take over half its share. Chunks are whole multiples of 24 units (the panel width). */
  int nc = nth == 1 ? 1 : 2 * nth;
  if (nc > (H + 23) / 24) nc = (H + 23) / 24;
  if (nc < nth) nc = nth;
  if (J->batch) nc = nth;
  J->nchunks = nc;
  J->nowners = nth;
  for (int t = 0; t <= nth; t++) J->own_lo[t] = (int)((long)nc * t / nth);
  if ((size_t)T > t_of_cap) {
    int *p = (int *)realloc(t_of_buf, (size_t)T * sizeof(int));
    if (!p) return -1;
    t_of_buf = p;
    t_of_cap = (size_t)T;
  }
  for (int k = 0; k < T; k++) t_of_buf[k] = R->reverse ? T - 1 - k : k;
  J->t_of = t_of_buf;
  if (J->batch) {
    /* one shared packed W_hh (and Cho's candidate block), then each chunk's products */
    const size_t z0 = backward ? packed_size(cho ? 2 * H : J->G * H, H) : packed_size(H, J->Gf * H);
    const size_t z1 = cho ? packed_size(H, H) : 0;
    size_t total = z0 + z1;
    for (int c = 0; c < nc; c++) {
      int b0, b1;
      unroll_partition(B, nc, c, 4, &b0, &b1);
      if (b1 < b0) b1 = b0;
      chunk_table[c].b0 = b0, chunk_table[c].b1 = b1;
      total += (backward ? 0 : round8((size_t)(b1 - b0) * J->Gf * H)) + (cho ? round8((size_t)(b1 - b0) * H) : 0);
    }
    float *base = grow(&chunk_buf, total);
    if (!base) return -1;
    float *next = base + z0 + z1;
    for (int c = 0; c < nc; c++) {
      chunk *C = &chunk_table[c];
      const size_t M = (size_t)(C->b1 - C->b0);
      C->j0 = 0, C->nj = H;
      memset(&C->P1, 0, sizeof C->P1);
      memset(&C->P2, 0, sizeof C->P2);
      C->P1.data = base;
      C->P2.data = base + z0;
      C->acc = next;
      next += backward ? 0 : round8(M * J->Gf * H);
      C->acc2 = next;
      next += cho ? round8(M * H) : 0;
    }
    J->chunks = chunk_table;
    return 0;
  }
  size_t total = 0, sizes[MAX_CHUNKS][4];
  for (int c = 0; c < nc; c++) {
    int j0, j1;
    /* Boundaries at the multiple of 8 nearest to an even split: balanced threads matter more than
     * whole 24-wide panels (a chunk's short last panel runs the 8-wide kernel). */
    j0 = c == 0 ? 0 : (int)(((long)H * c / nc + 4) / 8 * 8);
    j1 = c == nc - 1 ? H : (int)(((long)H * (c + 1) / nc + 4) / 8 * 8);
    if (j0 > H) j0 = H;
    if (j1 > H) j1 = H;
    if (j1 < j0) j1 = j0;
    const int nj = j1 - j0;
    chunk_table[c].j0 = j0;
    chunk_table[c].nj = nj;
    chunk_table[c].b0 = 0;
    chunk_table[c].b1 = B;
    size_t *z = sizes[c];
    if (!backward) {
      z[0] = packed_size(H, J->Gf * nj);
      z[1] = cho ? packed_size(H, nj) : 0;
      z[2] = round8((size_t)B * J->Gf * nj);
    } else {
      z[0] = packed_size(cho ? 2 * H : J->G * H, nj);
      z[1] = cho ? packed_size(H, nj) : 0;
      z[2] = 0;
    }
    z[3] = cho ? round8((size_t)B * nj) : 0;
    if (direct) z[0] = z[1] = 0;
    total += z[0] + z[1] + z[2] + z[3];
  }
  float *base = grow(&chunk_buf, total);
  if (!base) return -1;
  for (int c = 0; c < nc; c++) {
    chunk *C = &chunk_table[c];
    const size_t *z = sizes[c];
    memset(&C->P1, 0, sizeof C->P1);
    memset(&C->P2, 0, sizeof C->P2);
    C->P1.direct = C->P2.direct = direct;
    C->P1.data = base;
    C->P2.data = base + z[0];
    C->acc = base + z[0] + z[1];
    C->acc2 = base + z[0] + z[1] + z[2];
    base += z[0] + z[1] + z[2] + z[3];
  }
  J->chunks = chunk_table;
  if (direct) {
    /* Phase 0 only points each chunk at W_hh: done here, one barrier fewer per call (batch-1
     * sampling makes one call per layer per character). Each owner's claims start at phase 1. */
    for (int c = 0; c < nc; c++) pack_chunk(J, c);
    for (int t = 0; t < nth; t++) J->claims[t].v = J->own_lo[t + 1] - J->own_lo[t];
    J->done = nc;
    J->first_phase = 1;
  }
  return 0;
}

int unroll_rec_forward(const unroll_rec *R)
{
  if (R->T <= 0 || R->B <= 0 || R->H <= 0) return 0;
  REC_LOCK();
  const int nth = unroll_pool_threads();
  static job J;
  if (prepare(&J, R, 0, nth) != 0) {
    REC_UNLOCK();
    return -1;
  }
  unroll_pool_run(rec_task(), &J);
  REC_UNLOCK();
  return 0;
}

int unroll_rec_backward(const unroll_rec *R)
{
  const int T = R->T, B = R->B, H = R->H;
  if (T <= 0 || B <= 0 || H <= 0) return 0;
  REC_LOCK();
  const int nth = unroll_pool_threads();
  static job J;
  if (prepare(&J, R, 1, nth) != 0) {
    REC_UNLOCK();
    return -1;
  }
  const int cho = R->kind == UNROLL_GRU && !R->reset_after;
  const size_t BH = (size_t)B * H;
  /* Shared scratch: drec (GRU reset-after), and for a reverse run h_prev and hn reordered by t. */
  const size_t ndrec = R->kind == UNROLL_GRU && R->reset_after ? (size_t)T * B * 3 * H : 0;
  const size_t nh = R->reverse ? (size_t)T * BH : 0;
  const size_t nhn = R->reverse && cho ? (size_t)T * BH : 0;
  float *sh = grow(&shared_buf, ndrec + nh + nhn);
  if (!sh) {
    REC_UNLOCK();
    return -1;
  }
  J.drec = sh;
  if (R->reverse) {
    float *hp = sh + ndrec, *hn = sh + ndrec + nh;
    for (int k = 0; k < T; k++) {
      memcpy(hp + (size_t)(T - 1 - k) * BH, R->hs + (size_t)k * BH, BH * sizeof(float));
      if (cho) memcpy(hn + (size_t)(T - 1 - k) * BH, R->aux + (size_t)k * BH, BH * sizeof(float));
    }
    J.hprevT = hp;
    J.hnT = cho ? hn : NULL;
  } else {
    J.hprevT = R->hs;
    J.hnT = cho ? R->aux : NULL;
  }
  unroll_pool_run(rec_task(), &J);
  REC_UNLOCK();
  return J.failed ? -1 : 0;
}

/*
 * Softmax cross-entropy, split by rows: fixed blocks of XENT_BLOCK rows that the pool's threads
 * claim. Each block's loss is summed in double by the kernel, and the block sums are added in block
 * order on the calling thread, so the loss is the same for any thread count (one thread runs the
 * same blocks in the same order); each dlogits row is computed exactly as before. Below
 * XENT_PARALLEL_MIN logits, or with one block, everything runs on the calling thread.
 */
#define XENT_BLOCK 64
#define XENT_PARALLEL_MIN 65536
#define XENT_STACK_BLOCKS 256

typedef double (*xent_fn)(const float *logits, const int *targets, int N, int V, float *dlogits, int ignore,
                          float scale);

typedef struct {
  xent_fn fn;
  const float *logits;
  const int *targets;
  float *dlogits;
  int N, V, ignore, nblocks;
  float scale;
  double *sums; /* one per block */
} xent_job;

/* Rows [blk·XENT_BLOCK, …) of the job: their summed loss. */
static double xent_block(const xent_job *j, int blk)
{
  const int lo = blk * XENT_BLOCK, hi = lo + XENT_BLOCK < j->N ? lo + XENT_BLOCK : j->N;
  const size_t off = (size_t)lo * j->V;
  return j->fn(j->logits + off, j->targets + lo, hi - lo, j->V, j->dlogits ? j->dlogits + off : NULL, j->ignore,
               j->scale);
}

static void xent_pool_block(void *ctx, size_t blk)
{
  const xent_job *j = (const xent_job *)ctx;
  j->sums[blk] = xent_block(j, (int)blk);
}

double unroll_softmax_xent(const float *logits, const int *targets, int N, int V, float *dlogits, int ignore,
                           float scale)
{
  xent_fn fn = softmax_xent_generic;
#if defined(__x86_64__) || defined(__i386__)
  if (unroll_current_isa() != UNROLL_ISA_PORTABLE) fn = softmax_xent_avx2;
#endif
  const int nblocks = (N + XENT_BLOCK - 1) / XENT_BLOCK;
  xent_job j = {fn, logits, targets, dlogits, N, V, ignore, nblocks, scale, NULL};
  double stack[XENT_STACK_BLOCKS];
  double *heap = NULL;
  if (nblocks > 1 && (size_t)N * V >= XENT_PARALLEL_MIN && unroll_pool_threads() > 1) {
    j.sums = nblocks <= XENT_STACK_BLOCKS ? stack : (heap = (double *)malloc((size_t)nblocks * sizeof(double)));
  }
  double total = 0;
  if (j.sums) {
    unroll_pool_for((size_t)nblocks, xent_pool_block, &j);
    for (int b = 0; b < nblocks; b++) total += j.sums[b];
    free(heap);
  } else {
    /* Small, one thread, or no memory for the block sums: the same blocks in the same order. */
    for (int b = 0; b < nblocks; b++) total += xent_block(&j, b);
  }
  return total;
}
