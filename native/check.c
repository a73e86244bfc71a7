/*
 * Reference-vs-fast checker for the native GEMM kernels, independent of Node:
 *
 *   cc -O2 -std=gnu11 -o /tmp/unroll-check native/check.c native/dgemm.c -lm && /tmp/unroll-check
 *
 * (add -DUNROLL_PLAIN_C to check the plain-C kernel that compilers without GNU vectors build)
 *
 * Runs every float32 kernel this CPU supports (and, on an AVX2 machine, the AVX-512 kernel's
 * 8×32 tiling compiled for AVX2, so its blocking and edge logic is exercised even where no
 * AVX-512 is available) and the float64 loops against a float64 reference over many shapes: all
 * four transpose cases, accumulate on and off, sizes around every block edge, misaligned
 * operands, and guard elements after C that must stay untouched. Exits 1 on the first mismatch.
 */
#include "sgemm.c"

#include <math.h>
#include <stdio.h>

#if UNROLL_X86
/* The AVX-512 kernel's source with 512-bit GNU vectors lowered to ymm pairs. */
#define KERNEL_NAME kernel_avx512_shape_on_avx2
#define KERNEL_ATTR __attribute__((target("avx2,fma")))
#define KVEC v16sf
#define KVW 16
#define KMR 8
#define KNV 2
#include "sgemm_kernel.inc"
#define KERNEL_NAME kernel_avx512_half_shape_on_avx2
#define KERNEL_ATTR __attribute__((target("avx2,fma")))
#define KVEC v16sf
#define KVW 16
#define KMR 8
#define KNV 1
#define KBS 32
#include "sgemm_kernel.inc"
#define GEMV_AXPY gemv_axpy_avx512_shape_on_avx2
#define GEMV_DOT gemv_dot_avx512_shape_on_avx2
#define GEMV_ATTR __attribute__((target("avx2,fma")))
#define GVEC v16sf
#define GVW 16
#include "sgemv_kernel.inc"
static const sgemm_impl impl_avx512_shape_on_avx2 = {
    UNROLL_ISA_AVX2, 8, 32, 128, 256, 1024, kernel_avx512_shape_on_avx2, kernel_avx512_half_shape_on_avx2, gemv_axpy_avx512_shape_on_avx2,
    gemv_dot_avx512_shape_on_avx2, pack_copy_avx2, pack_transpose_avx2};
#endif

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) * (1.0 / (1 << 24)) * 2.0 - 1.0);
}

#define GUARD 7
#define GUARD_VALUE 12345.0f

/* Element (i, k) of op(A) and (k, j) of op(B). */
#define OPA(A, i, k) ((tA) ? (A)[(size_t)(k) * M + (i)] : (A)[(size_t)(i) * K + (k)])
#define OPB(B, k, j) ((tB) ? (B)[(size_t)(j) * K + (k)] : (B)[(size_t)(k) * N + (j)])

static int check_sgemm(const char *label, const sgemm_impl *im, int tA, int tB, int M, int N, int K, int acc,
                       int misalign)
{
  size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
  float *Abuf = malloc((na + 1) * sizeof(float)), *Bbuf = malloc((nb + 1) * sizeof(float));
  float *Cbuf = malloc((nc + 1 + GUARD) * sizeof(float));
  float *A = Abuf + misalign, *B = Bbuf + misalign, *C = Cbuf + misalign;
  double *want = malloc((nc + 1) * sizeof(double));
  for (size_t i = 0; i < na; i++) A[i] = uniform();
  for (size_t i = 0; i < nb; i++) B[i] = uniform();
  for (size_t i = 0; i < nc; i++) C[i] = uniform();
  for (int g = 0; g < GUARD; g++) C[nc + g] = GUARD_VALUE;
  int bad = 0;
  for (int i = 0; i < M && !bad; i++)
    for (int j = 0; j < N; j++) {
      double s = 0.0;
      for (int k = 0; k < K; k++) s += (double)OPA(A, i, k) * OPB(B, k, j);
      want[(size_t)i * N + j] = (acc ? C[(size_t)i * N + j] : 0.0) + s;
    }
  float *c0 = malloc((nc + 1) * sizeof(float));
  memcpy(c0, C, nc * sizeof(float));
  if (sgemm_blocked(im, tA, tB, M, N, K, A, B, C, acc) != 0) {
    printf("%s: out of memory\n", label);
    return 1;
  }
  for (int i = 0; i < M && !bad; i++)
    for (int j = 0; j < N && !bad; j++) {
      double mag = acc ? fabs(c0[(size_t)i * N + j]) : 0.0;
      for (int k = 0; k < K; k++) mag += fabs((double)OPA(A, i, k) * OPB(B, k, j));
      double err = fabs(C[(size_t)i * N + j] - want[(size_t)i * N + j]);
      if (!(err <= 1.2e-7 * (K + 2) * mag + 1e-30)) {
        printf("%s: tA=%d tB=%d M=%d N=%d K=%d acc=%d: C[%d,%d] = %.9g, want %.9g\n", label, tA, tB, M, N, K, acc,
               i, j, C[(size_t)i * N + j], want[(size_t)i * N + j]);
        bad = 1;
      }
    }
  for (int g = 0; g < GUARD && !bad; g++)
    if (C[nc + g] != GUARD_VALUE) {
      printf("%s: tA=%d tB=%d M=%d N=%d K=%d: wrote past the end of C\n", label, tA, tB, M, N, K);
      bad = 1;
    }
  free(Abuf), free(Bbuf), free(Cbuf), free(want), free(c0);
  return bad;
}

static int check_dgemm(int tA, int tB, int M, int N, int K, int acc)
{
  size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
  double *A = malloc((na + 1) * sizeof(double)), *B = malloc((nb + 1) * sizeof(double));
  double *C = malloc((nc + GUARD) * sizeof(double)), *want = malloc((nc + 1) * sizeof(double));
  for (size_t i = 0; i < na; i++) A[i] = uniform();
  for (size_t i = 0; i < nb; i++) B[i] = uniform();
  for (size_t i = 0; i < nc; i++) C[i] = uniform();
  for (int g = 0; g < GUARD; g++) C[nc + g] = GUARD_VALUE;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0.0;
      for (int k = 0; k < K; k++) s += OPA(A, i, k) * OPB(B, k, j);
      want[(size_t)i * N + j] = (acc ? C[(size_t)i * N + j] : 0.0) + s;
    }
  unroll_dgemm(tA, tB, M, N, K, A, B, C, acc);
  int bad = 0;
  for (size_t i = 0; i < nc && !bad; i++)
    if (!(fabs(C[i] - want[i]) <= 1e-13 * (K + 2))) {
      printf("dgemm: tA=%d tB=%d M=%d N=%d K=%d acc=%d: C[%zu] = %.17g, want %.17g\n", tA, tB, M, N, K, acc, i, C[i],
             want[i]);
      bad = 1;
    }
  for (int g = 0; g < GUARD && !bad; g++)
    if (C[nc + g] != GUARD_VALUE) bad = 1, printf("dgemm: wrote past the end of C\n");
  free(A), free(B), free(C), free(want);
  return bad;
}

int main(void)
{
  static const int shapes[][3] = {
      {1, 1, 1},     {1, 1, 0},     {0, 5, 3},     {3, 0, 4},     {2, 3, 1},      {5, 7, 3},     {6, 16, 8},
      {7, 17, 9},    {8, 32, 16},   {9, 33, 17},   {13, 4, 9},    {4, 83, 33},    {16, 8, 255},  {5, 9, 256},
      {11, 15, 257}, {31, 47, 300}, {32, 128, 64}, {1, 512, 128}, {121, 40, 20},  {129, 31, 7},  {250, 19, 513},
      {3, 1025, 5},  {1, 2048, 512}, {1, 37, 70}, {300, 1, 41}, {19, 1, 2}, {1, 5, 1},  {17, 1100, 9}, {64, 64, 600}, {130, 1030, 270}, {2, 2049, 3}, {40, 65, 1}, {24, 200, 300}, {17, 8, 5}, {9, 24, 40},
  };
  const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
  struct {
    const char *label;
    const sgemm_impl *im;
    unroll_isa needs;
  } impls[] = {
      {"portable", &impl_portable, UNROLL_ISA_PORTABLE},
#if UNROLL_X86
      {"avx2", &impl_avx2, UNROLL_ISA_AVX2},
      {"avx512-shape-on-avx2", &impl_avx512_shape_on_avx2, UNROLL_ISA_AVX2},
      {"avx512", &impl_avx512, UNROLL_ISA_AVX512},
#endif
  };
  int failures = 0, runs = 0;
  for (size_t t = 0; t < sizeof impls / sizeof impls[0]; t++) {
    if (!unroll_isa_supported(impls[t].needs)) {
      printf("%-22s skipped: this CPU lacks %s\n", impls[t].label, unroll_isa_name(impls[t].needs));
      continue;
    }
    int before = failures;
    for (int s = 0; s < nshapes; s++)
      for (int tA = 0; tA < 2; tA++)
        for (int tB = 0; tB < 2; tB++)
          for (int acc = 0; acc < 2; acc++) {
            failures += check_sgemm(impls[t].label, impls[t].im, tA, tB, shapes[s][0], shapes[s][1], shapes[s][2],
                                    acc, (s + tA + tB) & 1);
            runs++;
          }
    printf("%-22s %s\n", impls[t].label, failures == before ? "ok" : "FAILED");
  }
  int before = failures;
  for (int s = 0; s < nshapes; s++)
    for (int tA = 0; tA < 2; tA++)
      for (int tB = 0; tB < 2; tB++)
        for (int acc = 0; acc < 2; acc++) {
          failures += check_dgemm(tA, tB, shapes[s][0], shapes[s][1], shapes[s][2], acc);
          runs++;
        }
  printf("%-22s %s\n", "float64", failures == before ? "ok" : "FAILED");
  printf("%d passed, %d failed\n", runs - failures, failures);
  unroll_free_scratch();
  return failures ? 1 : 0;
}
