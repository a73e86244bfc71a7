/*
 * Fused float32 recurrence over a whole sequence (recurrence.h), cuDNN style (Appleyard et al.
 * 2016, "Optimizing Performance of Recurrent Neural Networks on GPUs"):
 *
 *   forward   for k = 0 … T−1:  A = h_k W_hhᵀ (own units), pointwise cell math (own units), barrier
 *   backward  for k = T−1 … 0:  pointwise gate gradients into dxp[t] (own units), barrier,
 *                                dh_k(own units) = dA · W_hh[:, own]
 *             then dW_hh += Σ_t dA_tᵀ h_prev(t) as ONE GEMM over all T·B rows, db_hh column sums.
 *
 * Threads split the hidden units: thread tid owns units [j0, j1) (unroll_partition, multiples of
 * 8) and computes every gate row of those units, so the pointwise math of a step needs no other
 * thread's products and one barrier per step suffices (two for Cho's GRU, whose candidate needs
 * r ⊙ h of every unit). Each thread packs its own slice of W_hh once per call. Every output element
 * is computed by one thread in a fixed order, so results do not depend on the thread count.
 *
 * Calls are serialised by a mutex (the pool and the scratch are process-wide).
 */
#include "recurrence.h"

#include "gemm.h"
#include "pool.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define REC_LOCK() ((void)0)
#define REC_UNLOCK() ((void)0)
#else
#include <pthread.h>
static pthread_mutex_t rec_mutex = PTHREAD_MUTEX_INITIALIZER;
#define REC_LOCK() pthread_mutex_lock(&rec_mutex)
#define REC_UNLOCK() pthread_mutex_unlock(&rec_mutex)
#endif

typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

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

typedef struct {
  packed P1, P2;
  float *acc, *acc2;
} thread_scratch;

typedef struct {
  const unroll_rec *r;
  int G;  /* gate blocks */
  int Gf; /* blocks of the first forward product (Cho: r, z) */
  const int *t_of;
  unroll_barrier *barrier;
  thread_scratch *ts;
  /* backward */
  float *drec;         /* (T, B, 3H) GRU reset-after: dL/d(h W_hhᵀ + b_hh), by t */
  const float *hprevT; /* (T, B, H) h_{k(t)}, by t */
  const float *hnT;    /* (T, B, H) Cho: r ⊙ h, by t */
  volatile int failed;
} job;

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
static void pack_rows(packed *P, const float *W, int H, int blocks, int j0, int nj, int rowbase)
{
  const int K = H, N = blocks * nj;
  P->K = K;
  P->N = N;
  if (P->direct) {
    P->cols = 0, P->nj = nj, P->j0 = j0, P->rowbase = rowbase, P->H = H, P->W = W;
    return;
  }
  for (int n0 = 0; n0 < N; n0 += PANEL) {
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
static void pack_cols(packed *P, const float *W, int H, int Krows, int j0, int nj, int rowbase)
{
  const int K = Krows, N = nj;
  P->K = K;
  P->N = N;
  if (P->direct) {
    P->cols = 1, P->nj = nj, P->j0 = j0, P->rowbase = rowbase, P->H = H, P->W = W;
    return;
  }
  for (int n0 = 0; n0 < N; n0 += PANEL) {
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
 * After the backward loop: thread tid adds its rows [m0, m1) of dW_hh (all T·B rows in one GEMM)
 * and the same columns of db_hh.
 */
static void weight_grads(const job *J, int tid, int nth)
{
  const unroll_rec *R = J->r;
  const int T = R->T, B = R->B, H = R->H, GH = J->G * H, TB = T * B;
  const int cho = R->kind == UNROLL_GRU && !R->reset_after;
  const float *A = R->kind == UNROLL_GRU && R->reset_after ? J->drec : R->dxp; /* (T·B, G·H) */
  int m0, m1;
  unroll_partition(GH, nth, tid, 16, &m0, &m1);
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
  if (rc) ((job *)J)->failed = 1;
  /* db_hh = Σ over all T·B rows */
  float *db = R->dbhh;
  for (int r = 0; r < TB; r++) {
    const float *a = A + (size_t)r * GH;
    for (int j = m0; j < m1; j++) db[j] += a[j];
  }
}

#define RK_CAT2(a, b) a##_##b
#define RK_CAT(a, b) RK_CAT2(a, b)

#if defined(__x86_64__) || defined(__i386__)
#define RK(name) RK_CAT(name, avx2)
#define RK_ATTR __attribute__((target("avx2,fma")))
#include "recurrence_kernel.inc"
#undef RK
#undef RK_ATTR
#endif

#define RK(name) RK_CAT(name, generic)
#define RK_ATTR
#include "recurrence_kernel.inc"
#undef RK
#undef RK_ATTR

/* ---------------------------------------------------------------------------------------------
 * Scratch, grown on demand and kept: per thread (packed weights, step products) and shared.
 */
typedef struct {
  float *buf;
  size_t cap;
} buffer;

static buffer thread_buf[UNROLL_MAX_THREADS];
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

/* Sets up the job: thread scratch, the t_of table, direct or packed operands. */
static int prepare(job *J, const unroll_rec *R, int backward, thread_scratch *ts, int nth)
{
  const int T = R->T, B = R->B, H = R->H;
  const int cho = R->kind == UNROLL_GRU && !R->reset_after;
  J->r = R;
  J->G = unroll_rec_gates(R);
  J->Gf = cho ? 2 : J->G;
  J->ts = ts;
  J->failed = 0;
  if ((size_t)T > t_of_cap) {
    int *p = (int *)realloc(t_of_buf, (size_t)T * sizeof(int));
    if (!p) return -1;
    t_of_buf = p;
    t_of_cap = (size_t)T;
  }
  for (int k = 0; k < T; k++) t_of_buf[k] = R->reverse ? T - 1 - k : k;
  J->t_of = t_of_buf;
  /* Small batches: packing W_hh would cost more than the products themselves. */
  const int direct = B < 3 || (long)T * B <= 8;
  for (int tid = 0; tid < nth; tid++) {
    int j0, j1;
    unroll_partition(H, nth, tid, 8, &j0, &j1);
    const int nj = j1 - j0;
    size_t s1, s2, sa, sa2;
    if (!backward) {
      s1 = packed_size(H, J->Gf * nj);
      s2 = cho ? packed_size(H, nj) : 0;
      sa = round8((size_t)B * J->Gf * nj);
      sa2 = cho ? round8((size_t)B * nj) : 0;
    } else {
      s1 = packed_size(cho ? 2 * H : J->G * H, nj);
      s2 = cho ? packed_size(H, nj) : 0;
      sa = 0;
      sa2 = cho ? round8((size_t)B * nj) : 0;
    }
    if (direct) s1 = s2 = 0;
    float *base = grow(&thread_buf[tid], s1 + s2 + sa + sa2);
    if (!base) return -1;
    memset(&ts[tid], 0, sizeof ts[tid]);
    ts[tid].P1.direct = ts[tid].P2.direct = direct;
    ts[tid].P1.data = base;
    ts[tid].P2.data = base + s1;
    ts[tid].acc = base + s1 + s2;
    ts[tid].acc2 = base + s1 + s2 + sa;
  }
  return 0;
}

int unroll_rec_forward(const unroll_rec *R)
{
  if (R->T <= 0 || R->B <= 0 || R->H <= 0) return 0;
  REC_LOCK();
  const int nth = unroll_pool_threads();
  thread_scratch ts[UNROLL_MAX_THREADS];
  unroll_barrier barrier;
  unroll_barrier_init(&barrier, nth);
  job J;
  memset(&J, 0, sizeof J);
  J.barrier = &barrier;
  if (prepare(&J, R, 0, ts, nth) != 0) {
    REC_UNLOCK();
    return -1;
  }
  unroll_pool_run(use_avx2() ? forward_task_avx2 : forward_task_generic, &J);
  REC_UNLOCK();
  return 0;
}

int unroll_rec_backward(const unroll_rec *R)
{
  const int T = R->T, B = R->B, H = R->H;
  if (T <= 0 || B <= 0 || H <= 0) return 0;
  REC_LOCK();
  const int nth = unroll_pool_threads();
  thread_scratch ts[UNROLL_MAX_THREADS];
  unroll_barrier barrier;
  unroll_barrier_init(&barrier, nth);
  job J;
  memset(&J, 0, sizeof J);
  J.barrier = &barrier;
  if (prepare(&J, R, 1, ts, nth) != 0) {
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
  unroll_pool_run(use_avx2() ? backward_task_avx2 : backward_task_generic, &J);
  REC_UNLOCK();
  return J.failed ? -1 : 0;
}
