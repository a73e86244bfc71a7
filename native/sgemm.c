/*
 * float32 GEMM, C (M×N) (+)= op(A)·op(B), with the loop structure of BLIS / GotoBLAS:
 *
 *   for jc in N by NC:                       B block  (KC × NC)  stays in L2/L3
 *     for pc in K by KC:                     pack op(B)[pc:pc+KC, jc:jc+NC] into NR-wide panels
 *       for ic in M by MC:                   A block  (MC × KC)  stays in L2
 *         pack op(A)[ic:ic+MC, pc:pc+KC] into MR-tall panels
 *         for jr in NC by NR:                one B panel (KC × NR) stays in L1
 *           for ir in MC by MR:
 *             microkernel: C[ir:ir+MR, jr:jr+NR] (+)= Apanel · Bpanel
 *
 * Packing copies each operand into 64-byte-aligned scratch in the order the microkernel reads
 * it (k-major, zero-padded to whole panels), so the four transpose cases differ only in the
 * packing routine, and the kernel never sees a misaligned load or a partial panel. The first K
 * block writes C (or adds to it when `accumulate`); later K blocks add.
 *
 * Microkernels (sgemm_kernel.inc), picked at run time:
 *   avx512   8 × 32 tile, 16 zmm accumulators       (target avx512f)
 *   avx2     6 × 16 tile, 12 ymm accumulators       (target avx2,fma)
 *   portable 4 × 8 tile with 128-bit GNU vectors (SSE2 / NEON), or scalar loops without GNU C
 * and, for the edge tiles of at most half that width, avx512 8 × 16 and avx2 6 × 8 (one vector per
 * row, the same sums as the full tile's first vector).
 * M = 1 (batch-1 sampling) and N = 1 skip packing, which would cost as much as the product, and
 * run a vector-matrix loop instead (sgemv_kernel.inc).
 *
 * native/check.c tests every kernel against a float64 reference, including the AVX-512 tiling
 * compiled for AVX2 so that its blocking and edges are exercised on machines without AVX-512.
 */
#include "gemm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* UNROLL_PLAIN_C: build only the plain-C portable kernel, as a compiler without GNU vectors does. */
#if defined(__GNUC__) && !defined(UNROLL_PLAIN_C)
#define UNROLL_GNU_VECTORS 1
#endif

#if UNROLL_GNU_VECTORS && (defined(__x86_64__) || defined(__i386__))
#define UNROLL_X86 1
#include <immintrin.h>
#endif

#if defined(_MSC_VER)
#include <malloc.h>
#define UNROLL_THREAD_LOCAL __declspec(thread)
#else
#define UNROLL_THREAD_LOCAL _Thread_local
#endif

/* ---------------------------------------------------------------------------------------------
 * Microkernels
 */
typedef void (*sgemm_kernel_fn)(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int beta, int mr,
                                int nr, const float *bias);

#if UNROLL_GNU_VECTORS
typedef float v4sf __attribute__((vector_size(16)));

#define KERNEL_NAME kernel_portable_4x8
#define KERNEL_ATTR
#define KVEC v4sf
#define KVW 4
#define KMR 4
#define KNV 2
#include "sgemm_kernel.inc"
#define PORTABLE_MR 4
#define PORTABLE_NR 8

#define GEMV_AXPY gemv_axpy_portable
#define GEMV_DOT gemv_dot_portable
#define GEMV_ATTR
#define GVEC v4sf
#define GVW 4
#include "sgemv_kernel.inc"

#else /* no GNU vectors (MSVC): plain loops */
#define PORTABLE_MR 4
#define PORTABLE_NR 8
static void kernel_portable_4x8(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc, int beta, int mr,
                                int nr, const float *bias)
{
  float acc[PORTABLE_MR][PORTABLE_NR] = {{0}};
  for (int k = 0; k < kc; k++, a += PORTABLE_MR, b += PORTABLE_NR)
    for (int i = 0; i < PORTABLE_MR; i++)
      for (int j = 0; j < PORTABLE_NR; j++) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++)
      c[i * ldc + j] = beta ? c[i * ldc + j] + acc[i][j] : bias ? acc[i][j] + bias[j] : acc[i][j];
}

static void gemv_axpy_portable(int N, int K, const float *a, const float *B, ptrdiff_t ldb, float *c, int beta)
{
  if (!beta) memset(c, 0, (size_t)N * sizeof(float));
  for (int k = 0; k < K; k++)
    for (int n = 0; n < N; n++) c[n] += a[k] * B[k * ldb + n];
}

static void gemv_dot_portable(int N, int K, const float *a, const float *B, ptrdiff_t ldb, float *c, int beta)
{
  for (int n = 0; n < N; n++) {
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += a[k] * B[n * ldb + k];
    c[n] = (beta ? c[n] : 0.0f) + s;
  }
}
#endif

#if UNROLL_X86
typedef float v8sf __attribute__((vector_size(32)));
typedef float v16sf __attribute__((vector_size(64)));

#define KERNEL_NAME kernel_avx2_6x16
#define KERNEL_ATTR __attribute__((target("avx2,fma")))
#define KVEC v8sf
#define KVW 8
#define KMR 6
#define KNV 2
#include "sgemm_kernel.inc"

#define KERNEL_NAME kernel_avx512_8x32
#define KERNEL_ATTR __attribute__((target("avx512f,avx2,fma")))
#define KVEC v16sf
#define KVW 16
#define KMR 8
#define KNV 2
#include "sgemm_kernel.inc"

/* The edge tiles of at most half the width (W1's N = 200: 6 tiles of 32 and one of 8) on one
 * vector per row instead of two, reading the first half of each packed 2-vector B row: the same
 * sums in the same order as the full kernel's first vector, at half the work. */
#define KERNEL_NAME kernel_avx2_6x8
#define KERNEL_ATTR __attribute__((target("avx2,fma")))
#define KVEC v8sf
#define KVW 8
#define KMR 6
#define KNV 1
#define KBS 16
#include "sgemm_kernel.inc"

#define KERNEL_NAME kernel_avx512_8x16
#define KERNEL_ATTR __attribute__((target("avx512f,avx2,fma")))
#define KVEC v16sf
#define KVW 16
#define KMR 8
#define KNV 1
#define KBS 32
#include "sgemm_kernel.inc"

#define GEMV_AXPY gemv_axpy_avx2
#define GEMV_DOT gemv_dot_avx2
#define GEMV_ATTR __attribute__((target("avx2,fma")))
#define GVEC v8sf
#define GVW 8
#include "sgemv_kernel.inc"

#define GEMV_AXPY gemv_axpy_avx512
#define GEMV_DOT gemv_dot_avx512
#define GEMV_ATTR __attribute__((target("avx512f,avx2,fma")))
#define GVEC v16sf
#define GVW 16
#include "sgemv_kernel.inc"
#endif

/* ---------------------------------------------------------------------------------------------
 * Packing. A panel holds `w` ≤ W live columns (rows of A, or columns of B) per k, zero-padded to W:
 *   pack_copy:      dst[k·W + j] = src[k·ld + j]     (the operand is already k-major)
 *   pack_transpose: dst[k·W + j] = src[j·ld + k]     (the operand is k-minor: transpose it)
 */
static void pack_copy(const float *src, ptrdiff_t ld, int kc, int w, float *dst, int W)
{
  for (int k = 0; k < kc; k++) {
    const float *s = src + k * ld;
    float *d = dst + (ptrdiff_t)k * W;
    memcpy(d, s, (size_t)w * sizeof(float));
    for (int j = w; j < W; j++) d[j] = 0.0f;
  }
}

/* Columns j0..w-1 of a transposing pack, then the zero padding w..W-1. */
static void pack_transpose_tail(const float *src, ptrdiff_t ld, int kc, int j0, int w, float *dst, int W)
{
  for (int j = j0; j < w; j++) {
    const float *s = src + j * ld;
    for (int k = 0; k < kc; k++) dst[(ptrdiff_t)k * W + j] = s[k];
  }
  for (int k = 0; k < kc; k++)
    for (int j = w; j < W; j++) dst[(ptrdiff_t)k * W + j] = 0.0f;
}

static void pack_transpose_scalar(const float *src, ptrdiff_t ld, int kc, int w, float *dst, int W)
{
  pack_transpose_tail(src, ld, kc, 0, w, dst, W);
}

#if UNROLL_X86
/* Stores the first `n` ∈ {4, 6, 8} floats of v at d. */
__attribute__((target("avx2"))) static inline void store_first(float *d, __m256 v, int n)
{
  if (n == 8) {
    _mm256_storeu_ps(d, v);
    return;
  }
  _mm_storeu_ps(d, _mm256_castps256_ps128(v));
  if (n == 6) _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(v, 1));
}

/*
 * pack_transpose with 8 × 8 blocks transposed in ymm registers. A block covers jb ∈ {8, 6, 4}
 * columns (6 for the AVX2 kernel's 6-row A panels), its missing rows read as zeros; what is
 * left over (fewer than 4 columns, fewer than 8 k) goes scalar.
 */
__attribute__((target("avx2"))) static void pack_transpose_avx2(const float *src, ptrdiff_t ld, int kc, int w,
                                                                float *dst, int W)
{
  int j0 = 0;
  while (w - j0 >= 4) {
    const int jb = w - j0 >= 8 ? 8 : w - j0 >= 6 ? 6 : 4;
    const float *s = src + j0 * ld;
    int k0 = 0;
    for (; k0 + 8 <= kc; k0 += 8) {
      __m256 r[8];
      for (int j = 0; j < 8; j++) r[j] = j < jb ? _mm256_loadu_ps(s + j * ld + k0) : _mm256_setzero_ps();
      __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
      __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
      __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
      __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      float *d = dst + (ptrdiff_t)k0 * W + j0;
      store_first(d + 0 * W, _mm256_permute2f128_ps(u0, u4, 0x20), jb);
      store_first(d + 1 * W, _mm256_permute2f128_ps(u1, u5, 0x20), jb);
      store_first(d + 2 * W, _mm256_permute2f128_ps(u2, u6, 0x20), jb);
      store_first(d + 3 * W, _mm256_permute2f128_ps(u3, u7, 0x20), jb);
      store_first(d + 4 * W, _mm256_permute2f128_ps(u0, u4, 0x31), jb);
      store_first(d + 5 * W, _mm256_permute2f128_ps(u1, u5, 0x31), jb);
      store_first(d + 6 * W, _mm256_permute2f128_ps(u2, u6, 0x31), jb);
      store_first(d + 7 * W, _mm256_permute2f128_ps(u3, u7, 0x31), jb);
    }
    for (; k0 < kc; k0++)
      for (int j = 0; j < jb; j++) dst[(ptrdiff_t)k0 * W + j0 + j] = s[j * ld + k0];
    j0 += jb;
  }
  pack_transpose_tail(src, ld, kc, j0, w, dst, W);
}

/* pack_copy for whole panels of 8, 16, 24, 32 (ymm) or 6 floats; anything else goes to pack_copy. */
__attribute__((target("avx2"))) static void pack_copy_avx2(const float *src, ptrdiff_t ld, int kc, int w, float *dst,
                                                           int W)
{
  if (w == W && W % 8 == 0) {
    for (int k = 0; k < kc; k++, src += ld, dst += W)
      for (int j = 0; j < W; j += 8) _mm256_storeu_ps(dst + j, _mm256_loadu_ps(src + j));
  } else if (w == W && W == 6) {
    for (int k = 0; k < kc; k++, src += ld, dst += W) {
      _mm_storeu_ps(dst, _mm_loadu_ps(src));
      _mm_storel_pi((__m64 *)(dst + 4), _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(src + 4)));
    }
  } else {
    pack_copy(src, ld, kc, w, dst, W);
  }
}
#endif

/* ---------------------------------------------------------------------------------------------
 * The kernel table
 */
typedef struct {
  unroll_isa isa;
  int mr, nr;     /* microkernel tile */
  int mc, kc, nc; /* cache blocks; mc is a multiple of mr, nc of nr */
  sgemm_kernel_fn kernel;
  sgemm_kernel_fn half; /* the tile at half its width (nr ≤ NR / 2), or NULL */
  /* M = 1 (and N = 1, transposed): c (1×N) (+)= a (1×K) · op(B), B stored K×N (axpy) or N×K (dot),
   * row stride ldb */
  void (*gemv_axpy)(int N, int K, const float *a, const float *B, ptrdiff_t ldb, float *c, int beta);
  void (*gemv_dot)(int N, int K, const float *a, const float *B, ptrdiff_t ldb, float *c, int beta);
  void (*pack_copy)(const float *src, ptrdiff_t ld, int kc, int w, float *dst, int W);
  void (*pack_transpose)(const float *src, ptrdiff_t ld, int kc, int w, float *dst, int W);
} sgemm_impl;

/* isa, mr, nr, mc, kc, nc, kernel, half, gemv_axpy, gemv_dot, pack_copy, pack_transpose */
static const sgemm_impl impl_portable = {
    UNROLL_ISA_PORTABLE, PORTABLE_MR,        PORTABLE_NR, 128,      256, 1024, kernel_portable_4x8, NULL,
    gemv_axpy_portable,  gemv_dot_portable, pack_copy,   pack_transpose_scalar};
#if UNROLL_X86
static const sgemm_impl impl_avx2 = {UNROLL_ISA_AVX2, 6,  16, 120, 256, 1024, kernel_avx2_6x16, kernel_avx2_6x8,
                                     gemv_axpy_avx2,  gemv_dot_avx2, pack_copy_avx2, pack_transpose_avx2};
static const sgemm_impl impl_avx512 = {UNROLL_ISA_AVX512, 8,  32, 128, 256, 1024, kernel_avx512_8x32, kernel_avx512_8x16,
                                       gemv_axpy_avx512,  gemv_dot_avx512, pack_copy_avx2, pack_transpose_avx2};
#endif

const char *unroll_isa_name(unroll_isa isa)
{
  switch (isa) {
  case UNROLL_ISA_AVX512: return "avx512";
  case UNROLL_ISA_AVX2: return "avx2";
  default: return "portable";
  }
}

int unroll_isa_supported(unroll_isa isa)
{
  switch (isa) {
  case UNROLL_ISA_PORTABLE: return 1;
#if UNROLL_X86
  /* libgcc / compiler-rt also check that the OS saves the ymm / zmm state (XGETBV). */
  case UNROLL_ISA_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case UNROLL_ISA_AVX512:
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  default: return 0;
  }
}

static const sgemm_impl *impl_for(unroll_isa isa)
{
  switch (isa) {
#if UNROLL_X86
  case UNROLL_ISA_AVX512: return &impl_avx512;
  case UNROLL_ISA_AVX2: return &impl_avx2;
#endif
  default: return &impl_portable;
  }
}

/* -1: not chosen yet. Set once per process (or by unroll_set_isa); a race only picks the same value. */
static volatile int current_isa = -1;

unroll_isa unroll_current_isa(void)
{
  int isa = current_isa;
  if (isa < 0) {
    isa = UNROLL_ISA_PORTABLE;
    if (unroll_isa_supported(UNROLL_ISA_AVX2)) isa = UNROLL_ISA_AVX2;
    if (unroll_isa_supported(UNROLL_ISA_AVX512)) isa = UNROLL_ISA_AVX512;
    current_isa = isa;
  }
  return (unroll_isa)isa;
}

int unroll_set_isa(unroll_isa isa)
{
  if (!unroll_isa_supported(isa)) return 0;
  current_isa = (int)isa;
  return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Scratch: one packed A block and one packed B block per thread, grown on demand, never shrunk.
 */
typedef struct {
  float *buf;
  size_t cap; /* floats */
} scratch;

static UNROLL_THREAD_LOCAL scratch scratch_a, scratch_b;

static void aligned_free(void *p)
{
#if defined(_MSC_VER)
  _aligned_free(p);
#else
  free(p);
#endif
}

static float *scratch_get(scratch *s, size_t n)
{
  if (s->cap >= n) return s->buf;
  void *p = NULL;
#if defined(_MSC_VER)
  p = _aligned_malloc(n * sizeof(float), 64);
#else
  if (posix_memalign(&p, 64, n * sizeof(float)) != 0) p = NULL;
#endif
  if (!p) return NULL;
  aligned_free(s->buf);
  s->buf = (float *)p;
  s->cap = n;
  return s->buf;
}

void unroll_free_scratch(void)
{
  aligned_free(scratch_a.buf);
  aligned_free(scratch_b.buf);
  scratch_a.buf = scratch_b.buf = NULL;
  scratch_a.cap = scratch_b.cap = 0;
}

static int min_int(int a, int b) { return a < b ? a : b; }
static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* ---------------------------------------------------------------------------------------------
 * The driver
 */
/* Each row of C (M × N, row stride ldc) ← bias (N). */
static void fill_bias(int M, int N, const float *bias, float *C, ptrdiff_t ldc)
{
  for (int i = 0; i < M; i++) memcpy(C + i * ldc, bias, (size_t)N * sizeof(float));
}

/*
 * C (M×N, row stride ldc) (+)= op(A)·op(B); A's rows (as stored) have stride lda, B's ldb. With a
 * bias (N floats; only without accumulate), C = bias + op(A)·op(B), the bits of filling C with the
 * bias and accumulating, in one pass.
 */
static int sgemm_blocked_bias(const sgemm_impl *im, int transA, int transB, int M, int N, int K, const float *A,
                              ptrdiff_t lda, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate,
                              const float *bias)
{
  const int MR = im->mr, NR = im->nr;
  if (M <= 0 || N <= 0) return 0;
  if (accumulate) bias = NULL;
  if (K <= 0) {
    if (bias)
      fill_bias(M, N, bias, C, ldc);
    else if (!accumulate)
      for (int i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    return 0;
  }
  /* The vector paths below have no bias: fill, then accumulate (the same bits). */
  if (bias && (M == 1 || N == 1)) {
    fill_bias(M, N, bias, C, ldc);
    bias = NULL;
    accumulate = 1;
  }

  /* A row vector times a matrix (or, transposed, a matrix times a column vector): no packing. */
  if (M == 1 && (!transA || lda == 1)) {
    (transB ? im->gemv_dot : im->gemv_axpy)(N, K, A, B, ldb, C, accumulate);
    return 0;
  }
  if (N == 1 && ldc == 1) {
    /* C (M×1) = op(A)·b  ⇔  Cᵀ (1×M) = bᵀ · op(A)ᵀ, where op(A)ᵀ is stored M×K ("N×K") or K×M. */
    if (transB || ldb == 1) {
      (transA ? im->gemv_axpy : im->gemv_dot)(M, K, B, A, lda, C, accumulate);
      return 0;
    }
  }

  const int kcMax = min_int(K, im->kc);
  float *ap = scratch_get(&scratch_a, (size_t)round_up(min_int(M, im->mc), MR) * (size_t)kcMax);
  float *bp = scratch_get(&scratch_b, (size_t)round_up(min_int(N, im->nc), NR) * (size_t)kcMax);
  if (!ap || !bp) return -1;

  for (int jc = 0; jc < N; jc += im->nc) {
    const int nc = min_int(N - jc, im->nc);
    for (int pc = 0; pc < K; pc += im->kc) {
      const int kc = min_int(K - pc, im->kc);
      const int beta = accumulate || pc > 0;

      /* op(B)[pc:pc+kc, jc:jc+nc]: B is stored K×N (rows are k), or N×K when transposed. */
      for (int jr = 0; jr < nc; jr += NR) {
        const int nr = min_int(nc - jr, NR);
        float *dst = bp + (size_t)jr * kc;
        if (transB)
          im->pack_transpose(B + (jc + jr) * ldb + pc, ldb, kc, nr, dst, NR);
        else
          im->pack_copy(B + pc * ldb + jc + jr, ldb, kc, nr, dst, NR);
      }

      for (int ic = 0; ic < M; ic += im->mc) {
        const int mc = min_int(M - ic, im->mc);

        /* op(A)[ic:ic+mc, pc:pc+kc]: A is stored M×K (rows are m), or K×M when transposed. */
        for (int ir = 0; ir < mc; ir += MR) {
          const int mr = min_int(mc - ir, MR);
          float *dst = ap + (size_t)ir * kc;
          if (transA)
            im->pack_copy(A + pc * lda + ic + ir, lda, kc, mr, dst, MR);
          else
            im->pack_transpose(A + (ic + ir) * lda + pc, lda, kc, mr, dst, MR);
        }

        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = min_int(nc - jr, NR);
          const sgemm_kernel_fn kernel = im->half && 2 * nr <= NR ? im->half : im->kernel;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = min_int(mc - ir, MR);
            kernel(kc, ap + (size_t)ir * kc, bp + (size_t)jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, beta, mr, nr,
                   bias ? bias + jc + jr : NULL);
          }
        }
      }
    }
  }
  return 0;
}

static int sgemm_blocked_ld(const sgemm_impl *im, int transA, int transB, int M, int N, int K, const float *A,
                            ptrdiff_t lda, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
{
  return sgemm_blocked_bias(im, transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate, NULL);
}

static int sgemm_blocked(const sgemm_impl *im, int transA, int transB, int M, int N, int K, const float *A,
                         const float *B, float *C, int accumulate)
{
  return sgemm_blocked_ld(im, transA, transB, M, N, K, A, transA ? M : K, B, transB ? K : N, C, N, accumulate);
}

void unroll_sgemm_tile(int *mr, int *nr)
{
  const sgemm_impl *im = impl_for(unroll_current_isa());
  *mr = im->mr;
  *nr = im->nr;
}

int unroll_sgemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
                 int accumulate)
{
  return sgemm_blocked(impl_for(unroll_current_isa()), transA, transB, M, N, K, A, B, C, accumulate);
}

int unroll_sgemm_ld(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda, const float *B,
                    ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
{
  return sgemm_blocked_ld(impl_for(unroll_current_isa()), transA, transB, M, N, K, A, lda, B, ldb, C, ldc,
                          accumulate);
}

int unroll_sgemm_bias(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda, const float *B,
                      ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate, const float *bias)
{
  return sgemm_blocked_bias(impl_for(unroll_current_isa()), transA, transB, M, N, K, A, lda, B, ldb, C, ldc,
                            accumulate, bias);
}
