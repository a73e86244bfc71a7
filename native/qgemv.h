/*
 * int8 matrix–vector product with per-row float32 scales (qgemv.c), for batch-1 inference with
 * quantized weights (src/generate/quantized.ts):
 *
 *   y[r] = scale[r] · Σ_k q[r·cols + k] · x[k]        (y[r] += … when `accumulate`)
 *
 * then y[r] += bias[r] when `bias` is not NULL.
 *
 * q is rows × cols int8, row-major; x has cols floats, y rows floats. The sum is accumulated in
 * float32 (each q converted exactly to float32), or, where the CPU has AVX512-VNNI, exactly in
 * int32 with x rounded to 15 bits (qgemv.c). Kernels: AVX-512, AVX2+FMA or portable C, picked
 * with sgemm's ISA (unroll_current_isa). Large products split their rows over the addon's pool;
 * every row is computed by one thread in a fixed order, so results do not depend on the thread
 * count.
 */
#ifndef UNROLL_QGEMV_H
#define UNROLL_QGEMV_H

#include <stddef.h>
#include <stdint.h>

void unroll_qgemv(const int8_t *q, const uint8_t *packed, const float *scale, int rows, int cols, const float *x,
                  const float *bias, float *y, int accumulate);

/* y[r] (+)= Σ_k w[r·cols + k] · x[k] (+ bias[r]), w bfloat16 bit patterns (the upper 16 bits of float32). */
void unroll_bgemv(const uint16_t *w, const uint16_t *packed, int rows, int cols, const float *x, const float *bias,
                  float *y, int accumulate);

/*
 * `packed` (may be NULL) is the same matrix in the dot-product kernels' layout (qgemv.c), made
 * once by the pack functions; without it, or on a CPU without those instructions, the float
 * kernels read the row-major matrix. Sizes are in elements (bytes for int8, uint16 for bf16).
 */
size_t unroll_qgemv_packed_size(int rows, int cols);
size_t unroll_bgemv_packed_size(int rows, int cols);
/* gate_order (rows a multiple of 256): the stripe order of unroll_qlstm_layer (each 64-unit block's four gates adjacent). */
void unroll_qgemv_pack(const int8_t *q, int rows, int cols, int gate_order, uint8_t *packed);
void unroll_bgemv_pack(const uint16_t *w, int rows, int cols, int gate_order, uint16_t *packed);

/* The kernel a call uses now: "avx512-vnni" / "avx512-bf16" (dot-product instructions, see qgemv.c),
 * else the ISA's name ("avx512", "avx2", "portable"). */
const char *unroll_qgemv_kernel(void);
const char *unroll_bgemv_kernel(void);

/* Allows (1) or forbids (0) the dot-product kernels, so that tests reach the float ones; returns the previous setting. */
int unroll_qgemv_set_dot(int enabled);

/*
 * One batch-1 step of an LSTM layer (i, f, g, o gates, sigmoid and tanh) on packed weights where the
 * dot-product kernels exist: gates ← W_ih x + bias + W_hh h (or, when wih is NULL, gates ← x + W_hh h
 * with x the input side of the gates (4H), or gates += W_hh h when x is NULL too: gates hold it
 * already), then c and h updated in place as unroll_lstm_cell does. Weights are
 * packed in gate order, int8 with row scales sih / shh (bf16 = 0, the VNNI kernel) or bf16 (bf16 = 1,
 * the BF16 kernel), W_ih 4H × in, W_hh 4H × H; bias (4H) may be NULL. Each thread then streams its
 * blocks' weights from one address instead of eight. The results equal those of
 * unroll_qgemv / unroll_bgemv and unroll_lstm_cell called in turn. The pool's threads each take
 * whole 64-unit blocks, the same ones from call to call; `descending` runs each thread's blocks in
 * reverse order (alternate it from step to step: a thread starts on what it read last). Returns 0,
 * having changed nothing, where it cannot run: H not a multiple of 64, no such kernel on this CPU,
 * or a non-finite value in x or h.
 */
int unroll_qlstm_layer(int bf16, int H, int in, const void *wih, const float *sih, const float *x, const void *whh,
                       const float *shh, const float *bias, float *g, float *c, float *h, int descending);

/* One layer's weights for unroll_qlstm_stack (wih, sih, bias unused in layer 0). */
typedef struct {
  const void *wih, *whh;
  const float *sih, *shh, *bias;
} unroll_qlstm_weights;

/*
 * Layers 0 … L−1 of a stacked LSTM in turn with unroll_qlstm_layer: layer 0 from its gates' input
 * side `row` (4H; NULL: g holds it), layer l > 0 from h of layer l − 1 (W_ih H wide); h and c are
 * L·H, layer after layer. Bit l of *descending is layer l's direction, flipped after it runs.
 * Returns the number of layers done: where one declines, the caller goes on from it.
 */
int unroll_qlstm_stack(int bf16, int L, int H, const unroll_qlstm_weights *w, const float *row, float *g, float *h,
                       float *c, unsigned *descending);

/*
 * unroll_qlstm_stack (layer 0 from `row`, or from g when NULL), with layer 0's W_hh h0 products
 * for the next step made in the same pass over the pool as layer 1 and kept in `carry`: the next
 * call's layer 0 starts from them when h0 (h's first H values) is still, bit for bit, the one they
 * were made from, and multiplies afresh otherwise. A thread's blocks of layer 1 and of layer 0 then
 * run as one sequence, reversed from step to step. The results are unroll_qlstm_stack's, bits
 * included. pre holds 4H floats and h0 H (the caller's memory); valid starts at 0. One-layer
 * stacks, and CPUs without the dot-product kernels, run unroll_qlstm_stack.
 */
typedef struct unroll_qlstm_ahead unroll_qlstm_ahead;
typedef struct {
  float *pre, *h0;
  int valid;
  unroll_qlstm_ahead *ahead; /* NULL at first; unroll_qlstm_carry_release frees it */
} unroll_qlstm_carry;

int unroll_qlstm_stack_carry(int bf16, int L, int H, const unroll_qlstm_weights *w, const float *row, float *g, float *h,
                             float *c, unsigned *descending, unroll_qlstm_carry *carry);

/*
 * With two or more threads, a carried step also leaves layer 1's W_hh h1 for the next step to an
 * idle worker of the pool (unroll_pool_idle_post), made between calls from a copy of h1 while the
 * caller goes on; the next step uses what was made when its h1 is still the copy, bit for bit (the
 * same results either way). So the weights of layer 1 are read between calls as well: they must
 * not change while a carry is in use. unroll_qlstm_carry_release takes that work back (waiting for
 * a worker inside it) and frees its memory: call it before the weights or the carry go away.
 */
void unroll_qlstm_carry_release(unroll_qlstm_carry *carry);

/* Whether carried steps leave layer 1's W_hh h1 to an idle worker (default on); returns the previous setting. */
int unroll_qlstm_set_ahead(int on);

/* Blocks of 64 units of layer 1 that steps have finished from products made ahead, since the addon loaded. */
unsigned long unroll_qlstm_ahead_used(void);

#endif
