// Shared by the benchmark's worker code: the synthetic corpus (the JS anchors' generator,
// shared/anchors/js/bench/lib.js, so every library trains on the same text), the T1 shape and the
// timing protocol. Plain JavaScript, bundled by run.mjs for the browser.

/** T1: 2-layer LSTM, hidden 256, embedding 256, vocab 96, batch 32, seq 64, Adam 2e-3. */
export const T1 = { layers: 2, H: 256, E: 256, V: 96, B: 32, T: 64, lr: 2e-3 };

/** Deterministic PRNG (mulberry32). */
export function rng(seed) {
  let s = seed >>> 0;
  return function () {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 96-symbol alphabet: '\n' + printable ASCII 32..126. */
export const ALPHABET = ["\n"];
for (let c = 32; c <= 126; c++) ALPHABET.push(String.fromCharCode(c));
const CHAR_TO_IX = new Map(ALPHABET.map((ch, i) => [ch, i]));

/**
 * Synthetic but learnable text: words drawn (Zipf-ish) from a fixed random lexicon, with
 * punctuation and newlines, after one line holding every symbol (so the vocabulary is exactly 96).
 */
export function makeCorpus(nChars, seed = 1234) {
  const r = rng(seed);
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  const lex = [];
  for (let i = 0; i < 600; i++) {
    const len = 1 + Math.floor(r() * 9);
    let w = "";
    for (let j = 0; j < len; j++) w += letters[Math.floor(Math.pow(r(), 1.7) * letters.length)];
    if (r() < 0.1) w = w[0].toUpperCase() + w.slice(1);
    if (r() < 0.03) w = String(Math.floor(r() * 10000));
    lex.push(w);
  }
  const punct = [",", ".", ";", ":", "!", "?", " -", '"', "'", "(", ")"];
  const parts = [ALPHABET.slice(1).join("") + "\n"];
  let n = parts[0].length;
  while (n < nChars) {
    let piece = lex[Math.floor(Math.pow(r(), 2.2) * lex.length)];
    if (r() < 0.12) piece += punct[Math.floor(r() * punct.length)];
    piece += r() < 0.05 ? "\n" : " ";
    parts.push(piece);
    n += piece.length;
  }
  return parts.join("").slice(0, nChars);
}

export function encode(str) {
  const a = new Int32Array(str.length);
  for (let i = 0; i < str.length; i++) a[i] = CHAR_TO_IX.get(str[i]);
  return a;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/**
 * The timing protocol. `step(i)` (sync or async) trains one step and returns its loss.
 * `warmup` untimed steps, then timed steps until n >= minSteps and >= minSeconds have passed; a
 * config slower than `slowS` s/step (median so far) stops after `slowSteps` timed steps, and any
 * config after `maxSeconds` of timed steps (or `maxSteps` of them) once it has one. `progress(m)` reports each step.
 */
export async function timeSteps(step, o, progress = () => {}) {
  const warm = [];
  const losses = [];
  for (let i = 0; i < o.warmup; i++) {
    const t0 = performance.now();
    const loss = await step(i);
    warm.push((performance.now() - t0) / 1000);
    losses.push(loss);
    progress({ phase: "warmup", i, s: warm[i], loss });
  }
  const times = [];
  const tStart = performance.now();
  for (let i = o.warmup; ; i++) {
    const t0 = performance.now();
    const loss = await step(i);
    const t1 = performance.now();
    times.push((t1 - t0) / 1000);
    losses.push(loss);
    progress({ phase: "timed", i, s: times[times.length - 1], loss });
    const elapsed = (t1 - tStart) / 1000;
    const n = times.length;
    if (n >= o.minSteps && elapsed >= o.minSeconds) break;
    if (n >= o.slowSteps && median(times) > o.slowS) break;
    if (elapsed >= o.maxSeconds || n >= o.maxSteps) break;
  }
  return { warm, times, losses, medianS: median(times) };
}
