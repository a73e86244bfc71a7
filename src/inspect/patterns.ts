/**
 * Which units track what: target patterns over a text (inside quotes, inside parentheses, position
 * in the line, …) and every unit's Pearson correlation with one — how Karpathy et al. (2015) found
 * their quote, line-length and indentation cells.
 *
 * A pattern holds one value per step of a trace. The value at a character is the state *after*
 * reading it, which is what h_t can know: an opening quote is already inside the quotes and a
 * closing one outside; "(" is at depth 1 and its matching ")" back at depth 0; a newline is at line
 * position 0 and the character after it at 1. A token of several characters (a word model's
 * pieces) takes the value at its last character.
 */
import { codePoints } from "../text/vocab.js";
import { traceValues, type TextTrace, type TraceQuantity } from "./trace.js";

// Dimensions: T steps, H hidden.

/** The built-in patterns of `patternOf`; a regular expression is `regex:<source>` (or a RegExp). */
export const PATTERN_KINDS = ["inside-quotes", "inside-parens", "paren-depth", "line-position", "vowel", "whitespace", "uppercase"] as const;

/** A built-in pattern, or `regex:<source>`: 1 for characters inside a match. */
export type PatternKind = (typeof PATTERN_KINDS)[number] | `regex:${string}`;

/**
 * One target value per token of `source` (a trace's tokens, token strings, or a string read as its
 * code points):
 * - "inside-quotes": 1 between an opening and a closing `"` (across lines), else 0; typographic
 *   quotes count too: “ opens and ” closes;
 * - "inside-parens": 1 inside at least one pair of parentheses, else 0; "paren-depth": how many
 *   are open (an unmatched ")" leaves the depth at 0);
 * - "line-position": characters since the last newline (the text starts as if after one);
 * - "vowel" (a, e, i, o, u in either case, accents ignored), "whitespace", "uppercase" (\p{Lu}): 1 or 0;
 * - `regex:<source>` or a RegExp: 1 for characters inside a match (flags "gu" for a source; a
 *   RegExp keeps its own, with "g" added).
 */
export function patternOf(source: TextTrace | readonly string[] | string, kind: PatternKind | RegExp): Float64Array {
  const tokens = typeof source === "string" ? codePoints(source) : Array.isArray(source) ? (source as readonly string[]) : (source as TextTrace).tokens;
  const chars: string[] = [];
  const last = new Int32Array(tokens.length); // index in chars of each token's last character, −1 for an empty token
  for (let n = 0; n < tokens.length; n++) {
    for (const ch of codePoints(tokens[n])) chars.push(ch);
    last[n] = chars.length - 1;
  }
  const values = charPattern(chars, kind);
  const out = new Float64Array(tokens.length);
  for (let n = 0; n < tokens.length; n++) out[n] = last[n] >= 0 ? values[last[n]] : 0;
  return out;
}

/** The pattern per character. */
function charPattern(chars: readonly string[], kind: PatternKind | RegExp): Float64Array {
  const N = chars.length;
  const v = new Float64Array(N);
  if (kind instanceof RegExp || kind.startsWith("regex:")) {
    let re: RegExp;
    if (kind instanceof RegExp) re = new RegExp(kind.source, kind.flags.includes("g") ? kind.flags : `${kind.flags}g`);
    else {
      const src = kind.slice("regex:".length);
      if (src.length === 0) throw new Error(`the pattern "regex:" has no regular expression after the colon`);
      try {
        re = new RegExp(src, "gu");
      } catch (e) {
        throw new Error(`the pattern "${kind}" is not a valid regular expression: ${(e as Error).message}`);
      }
    }
    const text = chars.join("");
    const start = new Int32Array(N + 1); // UTF-16 offset of each character
    for (let i = 0; i < N; i++) start[i + 1] = start[i] + chars[i].length;
    let i = 0;
    for (const m of text.matchAll(re)) {
      const a = m.index;
      const b = a + m[0].length;
      while (i < N && start[i] < a) i++;
      for (let j = i; j < N && start[j] < b; j++) v[j] = 1;
    }
    return v;
  }
  switch (kind) {
    case "inside-quotes": {
      let inside = 0;
      for (let i = 0; i < N; i++) {
        const ch = chars[i];
        if (ch === '"') inside = 1 - inside;
        else if (ch === "\u201c") inside = 1; // “ opens
        else if (ch === "\u201d") inside = 0; // ” closes
        v[i] = inside;
      }
      return v;
    }
    case "inside-parens":
    case "paren-depth": {
      let depth = 0;
      for (let i = 0; i < N; i++) {
        if (chars[i] === "(") depth++;
        else if (chars[i] === ")" && depth > 0) depth--;
        v[i] = kind === "paren-depth" ? depth : depth > 0 ? 1 : 0;
      }
      return v;
    }
    case "line-position": {
      let pos = 0;
      for (let i = 0; i < N; i++) {
        pos = chars[i] === "\n" ? 0 : pos + 1;
        v[i] = pos;
      }
      return v;
    }
    case "vowel":
      return mark(chars, v, (c) => "aeiouAEIOU".includes(c.normalize("NFD")[0]));
    case "whitespace":
      return mark(chars, v, (c) => /^\s$/u.test(c));
    case "uppercase":
      return mark(chars, v, (c) => /^\p{Lu}$/u.test(c));
    default:
      throw new Error(`unknown pattern "${String(kind)}"; choose one of: ${PATTERN_KINDS.join(", ")}, or regex:<source>`);
  }
}

function mark(chars: readonly string[], v: Float64Array, test: (c: string) => boolean): Float64Array {
  for (let i = 0; i < chars.length; i++) v[i] = test(chars[i]) ? 1 : 0;
  return v;
}

/** A unit and its correlation with a pattern. */
export interface UnitCorrelation {
  readonly unit: number;
  /** Pearson's r in [−1, 1]; 0 where the unit or the pattern does not vary */
  readonly r: number;
}

/** Options of `unitCorrelations`. */
export interface CorrelationOptions {
  /** Default: the last layer. */
  readonly layer?: number;
  /** Default "h". */
  readonly quantity?: TraceQuantity;
}

/**
 * Every unit's Pearson correlation with `pattern` (one target per step; NaN marks a step to leave
 * out) over the trace's steps, sorted by |r| descending (ties: lower unit first). A unit or a
 * pattern that does not vary over the counted steps gets r = 0.
 */
export function unitCorrelations(trace: TextTrace, pattern: ArrayLike<number>, o: CorrelationOptions = {}): UnitCorrelation[] {
  const layer = o.layer ?? trace.numLayers - 1;
  const a = traceValues(trace, layer, o.quantity ?? "h");
  const T = trace.steps;
  const H = trace.hiddenSize;
  if (pattern.length !== T) throw new Error(`the pattern has ${pattern.length} values but the trace ${T} steps; give one target per step (patternOf(trace, …))`);
  let n = 0;
  let py = 0;
  let yLo = Infinity;
  let yHi = -Infinity;
  for (let t = 0; t < T; t++) {
    const y = pattern[t];
    if (Number.isNaN(y)) continue;
    if (!Number.isFinite(y)) throw new Error(`pattern[${t}] = ${y} is not a finite number (NaN leaves a step out)`);
    n++;
    py += y;
    yLo = Math.min(yLo, y);
    yHi = Math.max(yHi, y);
  }
  if (n < 2) throw new Error(`a correlation needs at least 2 steps with a target; the pattern has ${n}`);
  const my = py / n;
  const mx = new Float64Array(H);
  const lo = new Float64Array(H).fill(Infinity);
  const hi = new Float64Array(H).fill(-Infinity);
  for (let t = 0; t < T; t++) {
    if (Number.isNaN(pattern[t])) continue;
    for (let j = 0; j < H; j++) {
      const x = a[t * H + j];
      mx[j] += x;
      if (x < lo[j]) lo[j] = x;
      if (x > hi[j]) hi[j] = x;
    }
  }
  for (let j = 0; j < H; j++) mx[j] /= n;
  const sxy = new Float64Array(H);
  const sxx = new Float64Array(H);
  let syy = 0;
  for (let t = 0; t < T; t++) {
    if (Number.isNaN(pattern[t])) continue;
    const dy = pattern[t] - my;
    syy += dy * dy;
    for (let j = 0; j < H; j++) {
      const dx = a[t * H + j] - mx[j];
      sxy[j] += dx * dy;
      sxx[j] += dx * dx;
    }
  }
  const out: UnitCorrelation[] = [];
  for (let j = 0; j < H; j++) {
    // constant (exactly: min = max, so rounding in the mean cannot fake a variance) correlates 0
    const d = Math.sqrt(sxx[j] * syy);
    const r = hi[j] > lo[j] && yHi > yLo && d > 0 ? Math.max(-1, Math.min(1, sxy[j] / d)) : 0;
    out.push({ unit: j, r });
  }
  return out.sort((x, y) => Math.abs(y.r) - Math.abs(x.r) || x.unit - y.unit);
}
