/**
 * Parameter initialisers, after `torch.nn.init`. Each fills a buffer (typically an arena view) in
 * place, drawing from `rng` in index order, so a seed gives the same parameters on every platform.
 *
 *   uniform            wᵢ ~ U(lo, hi)
 *   pytorchRnnUniform  wᵢ ~ U(−1/√H, 1/√H)      PyTorch's default for every RNN/LSTM/GRU weight and bias
 *   charRnnUniform     wᵢ ~ U(−0.08, 0.08)      char-rnn's `param_init`
 *   normal             wᵢ ~ N(mean, std²)       N(0, 1) is PyTorch's `nn.Embedding` default
 *   orthogonal         W = gain · Q, with Z = QR (rows ≥ cols) or Zᵀ = QR (rows < cols),
 *                      Z (rows, cols) standard normal, R's diagonal made positive
 *                      (`torch.nn.init.orthogonal_`; Saxe et al. 2014)
 */
import type { FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";

/** Fills `w` with draws from U(lo, hi). */
export function uniform(w: FloatArray, lo: number, hi: number, rng: Rng): void {
  if (!(lo <= hi) || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`uniform bounds must be finite with lo ≤ hi, got [${lo}, ${hi}]`);
  for (let i = 0; i < w.length; i++) w[i] = rng.range(lo, hi);
}

/** Fills `w` with U(−1/√H, 1/√H), PyTorch's initialisation of recurrent layers of hidden size H. */
export function pytorchRnnUniform(w: FloatArray, H: number, rng: Rng): void {
  if (!Number.isInteger(H) || H < 1) throw new Error(`hidden size H must be an integer ≥ 1, got ${H}`);
  const k = 1 / Math.sqrt(H);
  uniform(w, -k, k, rng);
}

/** Fills `w` with U(−0.08, 0.08), char-rnn's initialisation of every parameter. */
export function charRnnUniform(w: FloatArray, rng: Rng): void {
  uniform(w, -0.08, 0.08, rng);
}

/** Fills `w` with draws from N(mean, std²). */
export function normal(w: FloatArray, mean: number, std: number, rng: Rng): void {
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) throw new Error(`normal needs a finite mean and std ≥ 0, got mean ${mean}, std ${std}`);
  for (let i = 0; i < w.length; i++) w[i] = mean + std * rng.normal();
}

/** Fills `w` with zeros. */
export function zeros(w: FloatArray): void {
  w.fill(0);
}

/** Fills `w` with `value`. */
export function constant(w: FloatArray, value: number): void {
  w.fill(value);
}

/**
 * Fills `w`, a (rows, cols) row-major matrix, with gain times a random orthogonal matrix: orthonormal
 * columns when rows ≥ cols, orthonormal rows otherwise. As in `torch.nn.init.orthogonal_`, a
 * standard normal (rows, cols) matrix Z is drawn row by row, and W = Q from the QR decomposition of
 * Z (of Zᵀ when rows < cols, then transposed back) with the signs chosen so that R has a positive
 * diagonal, which makes Q unique. The QR uses Householder reflections in float64.
 */
export function orthogonal(w: FloatArray, rows: number, cols: number, rng: Rng, gain = 1): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new Error(`orthogonal needs integer rows, cols ≥ 1, got (${rows}, ${cols})`);
  }
  if (w.length !== rows * cols) throw new Error(`orthogonal (${rows}, ${cols}) needs ${rows * cols} values, the buffer has ${w.length}`);
  const m = Math.max(rows, cols);
  const n = Math.min(rows, cols);
  const wide = rows < cols;

  /** (m, n) row-major: Z, or Zᵀ when wide; overwritten by the reflections (R above the diagonal). */
  const A = new Float64Array(m * n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) A[wide ? c * n + r : r * n + c] = rng.normal();
  }

  // Householder: H_k = I − 2 v vᵀ / (vᵀv) zeroes column k of A below the diagonal, leaving R_kk = α.
  /** (n, m) the reflector vectors v, one per row (zero above index k). */
  const V = new Float64Array(n * m);
  /** (n) sign of each R_kk. */
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += A[i * n + k] * A[i * n + k];
    norm = Math.sqrt(norm);
    const alpha = A[k * n + k] > 0 ? -norm : norm; // the sign that avoids cancellation in v_k
    d[k] = alpha < 0 ? -1 : 1;
    const v = V.subarray(k * m, (k + 1) * m);
    for (let i = k; i < m; i++) v[i] = A[i * n + k];
    v[k] -= alpha;
    reflect(v, k, A, m, n);
  }

  // Q (m, n) = H_0 H_1 … H_{n−1} applied to the first n columns of the identity.
  const Q = new Float64Array(m * n);
  for (let k = 0; k < n; k++) Q[k * n + k] = 1;
  for (let k = n - 1; k >= 0; k--) reflect(V.subarray(k * m, (k + 1) * m), k, Q, m, n);

  // Column k times sign(R_kk) makes R's diagonal positive; transpose back when wide.
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      w[r * cols + c] = wide ? gain * d[r] * Q[c * n + r] : gain * d[c] * Q[r * n + c];
    }
  }
}

/** M (m, n) ← (I − 2 v vᵀ / (vᵀv)) M, for v zero above index k. */
function reflect(v: Float64Array, k: number, M: Float64Array, m: number, n: number): void {
  let vv = 0;
  for (let i = k; i < m; i++) vv += v[i] * v[i];
  if (vv === 0) return;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = k; i < m; i++) s += v[i] * M[i * n + j];
    const f = (2 * s) / vv;
    for (let i = k; i < m; i++) M[i * n + j] -= f * v[i];
  }
}

/**
 * Fills `w`, a recurrent weight W_hh of shape (G·H, H) with G gate blocks (4 for LSTM, 3 for GRU,
 * 1 for a plain RNN), with an independent orthogonal H×H matrix per gate block, times `gain`.
 */
export function orthogonalBlocks(w: FloatArray, G: number, H: number, rng: Rng, gain = 1): void {
  if (!Number.isInteger(G) || G < 1) throw new Error(`gate block count G must be an integer ≥ 1, got ${G}`);
  if (w.length !== G * H * H) throw new Error(`orthogonalBlocks (${G}·${H}, ${H}) needs ${G * H * H} values, the buffer has ${w.length}`);
  for (let g = 0; g < G; g++) orthogonal(w.subarray(g * H * H, (g + 1) * H * H), H, H, rng, gain);
}
