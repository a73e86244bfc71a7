/*
 * Fused whole-sequence recurrence in float32 (the Backend.recurrence contract of
 * src/backend/backend.ts): one direction of one layer over all T steps, forward or backward, with
 * the per-step recurrent GEMM and the cell's pointwise math in one call. The cells' step code
 * (src/cells/{lstm,gru,rnn}.ts) is the specification; test/fused.test.ts checks the two agree.
 *
 * Layouts (time-major, row-major, gate blocks in the cell's order), T steps, B batch, H hidden,
 * G gate blocks:
 *   Whh (G·H, H), bhh (G·H), pi/pf/po (H) LSTM peepholes (pi absent when coupled)
 *   xp, dxp (T, B, G·H) indexed by time t; hs, cs (T+1, B, H) indexed by processing step k
 *   gates (T, B, G·H) post-activation, by k; aux (T, B, H) by k: tanh(c) (LSTM) or hn (GRU)
 * Step k reads time t = k, or T−1−k when `reverse`.
 */
#ifndef UNROLL_RECURRENCE_H
#define UNROLL_RECURRENCE_H

enum { UNROLL_RNN = 0, UNROLL_LSTM = 1, UNROLL_GRU = 2 };
enum { UNROLL_ACT_TANH = 0, UNROLL_ACT_SIGMOID = 1, UNROLL_ACT_RELU = 2 };

typedef struct {
  int kind;        /* UNROLL_RNN, UNROLL_LSTM, UNROLL_GRU */
  int act;         /* RNN nonlinearity */
  int peephole;    /* LSTM */
  int coupled;     /* LSTM: i = 1 − f, gates (f, g, o) */
  int reset_after; /* GRU: PyTorch (1) or Cho (0) */
  int T, B, H, reverse;
  const float *Whh, *bhh, *pi, *pf, *po;
  /* forward */
  const float *xp;
  float *hs, *cs, *gates, *aux;
  /* backward (hs, cs, gates, aux read only) */
  const float *dy; /* (T, B, H) or NULL */
  float *dh, *dc, *dxp, *dWhh, *dbhh, *dpi, *dpf, *dpo;
} unroll_rec;

/* Gate blocks of the cell (rows of W_hh over H). */
int unroll_rec_gates(const unroll_rec *r);

/* Both return 0, or −1 when scratch memory could not be allocated (nothing written then). */
int unroll_rec_forward(const unroll_rec *r);
int unroll_rec_backward(const unroll_rec *r);

/*
 * One batch-1 LSTM cell update from its pre-activations g (4H: i, f, g, o, biases added), c and h
 * in place, with the fused recurrence's nonlinearities: c ← σ(f)·c + σ(i)·tanh(g), h ← σ(o)·tanh(c).
 */
void unroll_lstm_cell(int H, const float *g, float *c, float *h);

/* Units [0, N) of such a cell whose gate blocks are S apart in g (g + j + k·S, c + j, h + j); S = N = H is the whole cell. */
void unroll_lstm_cell_part(int S, int N, const float *g, float *c, float *h);

/*
 * Softmax cross-entropy over N rows of V float32 logits: returns the sum over rows whose target is
 * not `ignore` of log Σ e^z − z_target; when dlogits is non-null writes (softmax − onehot)·scale for
 * those rows and zeros for ignored ones. Targets must be in [0, V) or `ignore` (the caller checks).
 * Large N is split over the pool by fixed blocks of rows whose sums are added in block order: the
 * loss is the same for any thread count, and dlogits does not depend on the split at all.
 */
double unroll_softmax_xent(const float *logits, const int *targets, int N, int V, float *dlogits, int ignore,
                           float scale);

#endif
