/**
 * Matrix plots as SVG text: an attention (alignment) matrix and a confusion matrix. Like chart.ts,
 * pure string building: no DOM, no Node API, so it runs in browsers too; src/node/png.ts turns the
 * SVG into a PNG. The output is a function of the inputs alone (no ids drawn at random, no dates).
 *
 *   attentionHeatmapSvg  weights a (R, C), row-major: a[i·C + j] = α_ij, how much output token i
 *                        attends to input token j (each row of a softmax attention sums to 1).
 *                        Inputs along the top, outputs down the left, as in Bahdanau, Cho & Bengio
 *                        2015, "Neural Machine Translation by Jointly Learning to Align and
 *                        Translate", Fig. 3.
 *   confusionMatrixSvg   counts n (K, K), n[g][p] = examples of gold class g predicted as p. Each
 *                        cell is shaded by its row share n[g][p] / Σ_q n[g][q] (so the diagonal is
 *                        the per-class recall), or, with `normalize: false`, by n[g][p] / max n.
 *
 * Both draw a cell per entry, shaded on one sequential scale from white (0) to dark blue (1)
 * (matplotlib's "Blues", its lightest stop set to pure white), with a colour bar beside the grid.
 * The SVG's size follows from the content: cells are square, between 10 and 72 pixels, chosen by
 * the matrix size; long labels are tilted, and cut at 24 characters (the whole label stays in each
 * cell's tooltip).
 */
import { crisp, escapeXml, linearTicks, px, textWidth } from "./chart.js";

/** Options of `attentionHeatmapSvg`. */
export interface AttentionHeatmapOptions {
  /** Bold text above the plot. */
  readonly title?: string;
  /** A note below the plot, wrapped to its width. */
  readonly caption?: string;
  /** Print each weight in its cell; default: when the grid is at most 12 × 12. */
  readonly showValues?: boolean;
  /** Prefix of the SVG element ids (default "attention"): give each plot its own when inlining several into one page. */
  readonly id?: string;
}

/** Options of `confusionMatrixSvg`. */
export interface ConfusionMatrixOptions {
  /** Bold text above the plot. */
  readonly title?: string;
  /** Shade by each row's share (row-normalised: the diagonal is recall) and print percentages; default true. false: shade by count / largest count. */
  readonly normalize?: boolean;
  /** A note below the plot (after the accuracy line), wrapped to its width. */
  readonly caption?: string;
  /** Prefix of the SVG element ids (default "confusion"). */
  readonly id?: string;
}

// ---------------------------------------------------------------------------------------------
// Colours

/** matplotlib's "Blues" colour map at 9 evenly spaced stops, its first (#f7fbff) made pure white. */
const BLUES: readonly (readonly [number, number, number])[] = [
  [255, 255, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214],
  [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107],
];

function hex2(v: number): string {
  return Math.round(v).toString(16).padStart(2, "0");
}

/** The scale's colour at t ∈ [0, 1] (clamped): linear interpolation between the stops, in sRGB. */
export function heatColor(t: number): string {
  const [r, g, b] = heatRgb(t);
  return `#${hex2(r)}${hex2(g)}${hex2(b)}`;
}

function heatRgb(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (BLUES.length - 1);
  const k = Math.min(BLUES.length - 2, Math.floor(u));
  const f = u - k;
  const a = BLUES[k];
  const b = BLUES[k + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** WCAG relative luminance of an sRGB colour, in [0, 1]. */
function luminance([r, g, b]: readonly [number, number, number]): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Text colour that reads on the scale's colour at t: white on dark cells, near-black on light ones. */
function inkOn(t: number): string {
  return luminance(heatRgb(t)) < 0.3 ? "#ffffff" : TEXT;
}

// ---------------------------------------------------------------------------------------------
// Text

const FONT = { title: 17, axis: 13, caption: 12, bar: 11 } as const;
const TEXT = "#222";
const MUTED = "#555";
const FRAME = "#9a9a9a";
const GRID = "#e4e4e4";
const FAINT = "#a8a8a8";
const MARGIN = 16;
const MAX_LABEL = 24;

/** A label cut to MAX_LABEL characters, with an ellipsis. */
function shorten(s: string): string {
  const chars = [...s];
  return chars.length <= MAX_LABEL ? s : chars.slice(0, MAX_LABEL - 1).join("") + "…";
}

/** Words wrapped into lines at most `width` pixels wide (a single over-long word gets a line of its own). */
function wrap(text: string, size: number, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/\s+/).filter((w) => w !== "")) {
      const next = line === "" ? word : `${line} ${word}`;
      if (line !== "" && textWidth(next, size) > width) {
        lines.push(line);
        line = word;
      } else line = next;
    }
    lines.push(line);
  }
  return lines;
}

/** 1234567 → "1,234,567"; non-integers keep up to two decimals. Locale-free, so deterministic. */
function formatCount(n: number): string {
  const s = Number.isInteger(n) ? String(n) : String(Number(n.toFixed(2)));
  const [int, frac] = s.split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** A count short enough for a small cell: 950, 1.2k, 34k, 1.5M. */
function compactCount(n: number): string {
  if (n < 1000) return formatCount(Math.round(n * 10) / 10);
  const [d, s] = n >= 1e6 ? [1e6, "M"] : [1e3, "k"];
  const v = n / d;
  return `${v < 10 ? Number(v.toFixed(1)) : Math.round(v)}${s}`;
}

/** A share in [0, 1] as a percentage: "100%", "37%", "4.2%", "<0.1%". */
function formatPercent(p: number): string {
  const q = p * 100;
  if (q === 0) return "0%";
  if (q < 0.1) return "<0.1%";
  if (q < 9.95) return `${q.toFixed(1)}%`;
  return `${Math.round(q)}%`;
}

// ---------------------------------------------------------------------------------------------
// The shared matrix layout

interface BarTick {
  /** Position on the scale, in [0, 1]. */
  readonly at: number;
  readonly label: string;
}

interface MatrixSpec {
  readonly id: string;
  readonly title: string;
  /** Wrapped below the plot, in this order. */
  readonly notes: readonly string[];
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  /** Rotated, left of the row labels. */
  readonly rowAxis?: string;
  /** Above the column labels. */
  readonly colAxis?: string;
  /** Square cell side in pixels (an integer). */
  readonly cell: number;
  /** Shade of cell (i, j), in [0, 1]. */
  shade(i: number, j: number): number;
  /** Text lines of cell (i, j) (first line larger), or null for none. */
  text: ((i: number, j: number) => readonly string[] | null) | null;
  /** Tooltip of cell (i, j). */
  tooltip(i: number, j: number): string;
  /** Draw the diagonal's text in bold. */
  readonly boldDiagonal: boolean;
  /** Draw cell (i, j)'s text in light grey (e.g. a zero count), or null for never. */
  readonly faint: ((i: number, j: number) => boolean) | null;
  readonly barTicks: readonly BarTick[];
  readonly barLabel: string;
}

/** Lays out and draws a grid of shaded cells with row and column labels, a colour bar and notes. */
function matrixSvg(s: MatrixSpec): string {
  const R = s.rowLabels.length;
  const C = s.colLabels.length;
  const cell = s.cell;
  const labelFont = Math.max(7, Math.min(13, Math.floor(cell * 0.62)));
  const rows = s.rowLabels.map(shorten);
  const cols = s.colLabels.map(shorten);

  // Column labels: level when every one fits its column, else tilted 45° up and to the right.
  const colW = cols.map((c) => textWidth(c, labelFont));
  const maxColW = Math.max(0, ...colW);
  const level = maxColW <= cell - 4;
  const SIN = Math.SQRT1_2;
  const colLabelH = level ? labelFont + 8 : (maxColW + labelFont) * SIN + 8;

  const title = s.title;
  const titleTop = title ? 14 : 0;
  const colAxisH = s.colAxis ? FONT.axis + 10 : 0;
  const rowAxisW = s.rowAxis ? FONT.axis + 12 : 0;
  const rowLabelW = Math.max(0, ...rows.map((r) => textWidth(r, labelFont)));

  const gridLeft = Math.ceil(MARGIN + rowAxisW + rowLabelW + 8);
  const gridW = C * cell;
  const gridH = R * cell;

  // Colour bar, right of the grid, from its top.
  const barW = 14;
  const barH = Math.max(100, Math.min(gridH, 260));
  const barX = gridLeft + gridW + 22;
  const barTickW = Math.max(0, ...s.barTicks.map((t) => textWidth(t.label, FONT.bar)));
  let barLabelFont: number = FONT.bar + 1;
  while (barLabelFont > 8 && textWidth(s.barLabel, barLabelFont) > barH) barLabelFont--;
  const barLabelX = barX + barW + 4 + 5 + barTickW + 8 + barLabelFont * 0.8;
  // Tilted column labels reach right of their column; the last ones may pass the grid's edge.
  let colReach = gridLeft + gridW;
  if (!level) cols.forEach((_, j) => (colReach = Math.max(colReach, gridLeft + (j + 0.5) * cell + (colW[j] + labelFont * 0.35) * SIN)));
  const contentRight = Math.max(barLabelX + barLabelFont * 0.3, colReach);

  // Width: the content's, widened (up to a point) for the title; the title shrinks to what is left.
  // Width: the content's, widened (up to a point) for the title, which then shrinks to fit, and
  // wraps if it must; narrower content is centred.
  const bold = (t: string, size: number): number => textWidth(t, size) * 1.1;
  let titleSize: number = FONT.title;
  const contentW = contentRight + MARGIN;
  const W = Math.ceil(Math.max(260, contentW, title ? Math.min(bold(title, titleSize) + 2 * MARGIN, 640) : 0));
  while (title && titleSize > 13 && bold(title, titleSize) > W - 2 * MARGIN) titleSize--;
  const titleLines = title ? wrap(title, titleSize * 1.1, W - 2 * MARGIN) : [];
  const titleLineH = titleSize + 5;
  const titleH = title ? titleTop + titleSize + (titleLines.length - 1) * titleLineH + 12 : MARGIN;
  const dx = Math.floor((W - contentW) / 2);
  const colAxisY = titleH + FONT.axis;
  const gridTop = Math.ceil(titleH + colAxisH + colLabelH);

  const notes = s.notes.flatMap((n) => wrap(n, FONT.caption, W - 2 * MARGIN));
  const notesTop = gridTop + Math.max(gridH, barH) + 14;
  const lineH = FONT.caption + 5;
  const H = Math.ceil(notesTop + (notes.length > 0 ? notes.length * lineH + 4 : 0) + MARGIN - 8);

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="${labelFont}">`);
  if (title) out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<defs><linearGradient id="${s.id}-scale" x1="0" y1="1" x2="0" y2="0">`);
  BLUES.forEach((_, k) => {
    const at = k / (BLUES.length - 1);
    out.push(`<stop offset="${px(at)}" stop-color="${heatColor(at)}"/>`);
  });
  out.push(`</linearGradient></defs>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(dx > 0 ? `<g transform="translate(${dx} 0)">` : `<g>`);

  // Cells, then a faint grid between them (cells stay edge to edge: no seams), then the frame.
  out.push(`<g class="cells">`);
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < C; j++) {
      const t = s.shade(i, j);
      out.push(
        `<rect class="cell" x="${gridLeft + j * cell}" y="${gridTop + i * cell}" width="${cell}" height="${cell}" fill="${heatColor(t)}">` +
          `<title>${escapeXml(s.tooltip(i, j))}</title></rect>`,
      );
    }
  }
  out.push(`</g>`);
  if (cell >= 8) {
    out.push(`<g class="grid" stroke="${GRID}" stroke-width="1" stroke-opacity="0.8">`);
    for (let j = 1; j < C; j++) out.push(`<line x1="${px(crisp(gridLeft + j * cell))}" y1="${gridTop}" x2="${px(crisp(gridLeft + j * cell))}" y2="${gridTop + gridH}"/>`);
    for (let i = 1; i < R; i++) out.push(`<line x1="${gridLeft}" y1="${px(crisp(gridTop + i * cell))}" x2="${gridLeft + gridW}" y2="${px(crisp(gridTop + i * cell))}"/>`);
    out.push(`</g>`);
  }
  out.push(`<rect x="${px(crisp(gridLeft))}" y="${px(crisp(gridTop))}" width="${gridW}" height="${gridH}" fill="none" stroke="${FRAME}" stroke-width="1"/>`);

  // Cell text.
  if (s.text) {
    const f1 = Math.max(7, Math.min(13, Math.floor(cell * 0.3)));
    const f2 = Math.max(7, Math.round(f1 * 0.82));
    out.push(`<g class="values" text-anchor="middle">`);
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < C; j++) {
        const lines = s.text(i, j);
        if (!lines || lines.length === 0) continue;
        const cx = gridLeft + (j + 0.5) * cell;
        const cy = gridTop + (i + 0.5) * cell;
        const ink = s.faint?.(i, j) ? FAINT : inkOn(s.shade(i, j));
        const bold = s.boldDiagonal && i === j ? ` font-weight="bold"` : "";
        if (lines.length === 1) {
          out.push(`<text x="${px(cx)}" y="${px(cy + f1 * 0.36)}" font-size="${f1}" fill="${ink}"${bold}>${escapeXml(lines[0])}</text>`);
        } else {
          const top = cy - (f1 + 2 + f2) / 2;
          out.push(`<text x="${px(cx)}" y="${px(top + f1 * 0.86)}" font-size="${f1}" fill="${ink}"${bold}>${escapeXml(lines[0])}</text>`);
          out.push(`<text x="${px(cx)}" y="${px(top + f1 + 2 + f2 * 0.86)}" font-size="${f2}" fill="${ink}" fill-opacity="0.85">${escapeXml(lines[1])}</text>`);
        }
      }
    }
    out.push(`</g>`);
  }

  // Row and column labels.
  out.push(`<g class="row-labels" text-anchor="end" fill="${TEXT}">`);
  rows.forEach((r, i) => out.push(`<text x="${px(gridLeft - 7)}" y="${px(gridTop + (i + 0.5) * cell + labelFont * 0.36)}">${escapeXml(r)}</text>`));
  out.push(`</g>`);
  out.push(`<g class="col-labels" fill="${TEXT}"${level ? ` text-anchor="middle"` : ""}>`);
  cols.forEach((c, j) => {
    const cx = gridLeft + (j + 0.5) * cell;
    if (level) out.push(`<text x="${px(cx)}" y="${px(gridTop - 7)}">${escapeXml(c)}</text>`);
    else {
      // Anchor shifted so the text's middle line, not its baseline, points at the column's centre.
      const ax = cx + labelFont * 0.25;
      const ay = gridTop - 6 + labelFont * 0.25 - 4;
      out.push(`<text x="${px(ax)}" y="${px(ay)}" transform="rotate(-45 ${px(ax)} ${px(ay)})">${escapeXml(c)}</text>`);
    }
  });
  out.push(`</g>`);
  if (s.colAxis) {
    out.push(`<text x="${px(gridLeft + gridW / 2)}" y="${px(colAxisY)}" text-anchor="middle" font-size="${FONT.axis}" fill="${TEXT}">${escapeXml(s.colAxis)}</text>`);
  }
  if (s.rowAxis) {
    const x = MARGIN + FONT.axis * 0.8;
    const y = gridTop + gridH / 2;
    out.push(`<text x="${px(x)}" y="${px(y)}" transform="rotate(-90 ${px(x)} ${px(y)})" text-anchor="middle" font-size="${FONT.axis}" fill="${TEXT}">${escapeXml(s.rowAxis)}</text>`);
  }

  // Colour bar: 0 at the bottom, 1 at the top.
  out.push(`<g class="colorbar">`);
  out.push(`<rect x="${barX}" y="${gridTop}" width="${barW}" height="${barH}" fill="url(#${s.id}-scale)" stroke="${FRAME}" stroke-width="1"/>`);
  for (const t of s.barTicks) {
    const y = gridTop + (1 - t.at) * barH;
    out.push(`<line x1="${barX + barW}" y1="${px(crisp(y))}" x2="${barX + barW + 4}" y2="${px(crisp(y))}" stroke="${FRAME}" stroke-width="1"/>`);
    out.push(`<text x="${barX + barW + 9}" y="${px(y + FONT.bar * 0.36)}" font-size="${FONT.bar}" fill="${MUTED}">${escapeXml(t.label)}</text>`);
  }
  const by = gridTop + barH / 2;
  out.push(`<text x="${px(barLabelX)}" y="${px(by)}" transform="rotate(-90 ${px(barLabelX)} ${px(by)})" text-anchor="middle" font-size="${barLabelFont}" fill="${MUTED}">${escapeXml(s.barLabel)}</text>`);
  out.push(`</g>`);
  out.push(`</g>`);

  titleLines.forEach((line, k) => {
    const y = titleTop + titleSize + k * titleLineH;
    out.push(`<text x="${px(W / 2)}" y="${px(y)}" text-anchor="middle" font-size="${titleSize}" font-weight="bold" fill="${TEXT}">${escapeXml(line)}</text>`);
  });
  notes.forEach((line, k) => {
    out.push(`<text x="${MARGIN}" y="${px(notesTop + FONT.caption + k * lineH)}" font-size="${FONT.caption}" fill="${MUTED}">${escapeXml(line)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}

function checkLabels(what: string, labels: readonly string[], expected: number | null): void {
  if (!Array.isArray(labels)) throw new Error(`${what} must be an array of strings`);
  if (labels.length === 0) throw new Error(`${what} is empty: give one label per ${what === "rows" ? "output token" : what === "cols" ? "input token" : "class"}`);
  if (expected !== null && labels.length !== expected) throw new Error(`${what} has ${labels.length} labels but the matrix needs ${expected}`);
  labels.forEach((l, k) => {
    if (typeof l !== "string") throw new Error(`${what}[${k}] is not a string (got ${typeof l}): pass labels as text`);
  });
}

// ---------------------------------------------------------------------------------------------
// Attention

/**
 * An attention (alignment) matrix as a standalone SVG document: input tokens along the top, output
 * tokens down the left, cell (i, j) shaded by α_ij from white (0) to dark blue (1), with a colour
 * bar; weights printed in their cells when the grid is at most 12 × 12 (weights under 0.005 are
 * left blank, so the alignment stands out).
 *
 * @param weights (R, C) row-major, each in [0, 1] (within 1e-6; clamped for drawing)
 * @param rows    R output-token labels (e.g. phonemes, with "</s>")
 * @param cols    C input-token labels (e.g. letters)
 * @throws when the sizes disagree or a weight is not a number in [0, 1]
 */
export function attentionHeatmapSvg(
  weights: ArrayLike<number>,
  rows: readonly string[],
  cols: readonly string[],
  opts: AttentionHeatmapOptions = {},
): string {
  checkLabels("rows", rows, null);
  checkLabels("cols", cols, null);
  const R = rows.length;
  const C = cols.length;
  if (weights === null || typeof weights !== "object" || typeof weights.length !== "number") {
    throw new Error("weights must be an array or typed array of R·C numbers, row-major");
  }
  if (weights.length !== R * C) {
    throw new Error(
      `weights has ${weights.length} values but ${R} rows × ${C} cols need ${R * C}: pass the (rows, cols) matrix row-major, one row per output token`,
    );
  }
  for (let k = 0; k < R * C; k++) {
    const v = weights[k];
    if (typeof v !== "number" || !(v >= -1e-6 && v <= 1 + 1e-6)) {
      const i = Math.floor(k / C);
      throw new Error(
        `weight (${i}, ${k - i * C}) = ${v} is not in [0, 1]: attention weights are softmax probabilities (normalise scores before plotting)`,
      );
    }
  }
  const a = (i: number, j: number): number => Math.min(1, Math.max(0, weights[i * C + j]));
  const showValues = opts.showValues ?? (R <= 12 && C <= 12);
  const cell = Math.max(10, Math.min(44, Math.floor(560 / Math.max(R, C))));
  return matrixSvg({
    id: safeId(opts.id ?? "attention"),
    title: opts.title ?? "",
    notes: opts.caption ? [opts.caption] : [],
    rowLabels: rows,
    colLabels: cols,
    cell,
    shade: a,
    text: showValues && cell >= 20 ? (i, j) => (a(i, j) < 0.005 ? null : [a(i, j).toFixed(2)]) : null,
    tooltip: (i, j) => `${rows[i]} ← ${cols[j]}: ${a(i, j).toFixed(3)}`,
    boldDiagonal: false,
    faint: null,
    barTicks: [
      { at: 0, label: "0" },
      { at: 0.5, label: "0.5" },
      { at: 1, label: "1" },
    ],
    barLabel: "attention weight",
  });
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

/**
 * A confusion matrix as a standalone SVG document: gold classes down the left ("true label"),
 * predictions along the top ("predicted label"), each cell shaded by its share of its row (or, with
 * `normalize: false`, by count / largest count) and showing its count, with the row percentage
 * under it when normalised; diagonal counts are bold, zero counts light grey. Up to 15 classes the cells carry text; beyond
 * that only shading (each cell's tooltip still has the numbers). A line under the grid gives the
 * accuracy. A gold class with no examples has an empty (white) row.
 *
 * @param matrix (K, K) counts, matrix[gold][predicted], finite and ≥ 0
 * @param labels K class names
 * @throws when the matrix is not K × K for the K labels, or a count is negative or not a number
 */
export function confusionMatrixSvg(
  matrix: readonly (readonly number[])[],
  labels: readonly string[],
  opts: ConfusionMatrixOptions = {},
): string {
  checkLabels("labels", labels, null);
  const K = labels.length;
  if (!Array.isArray(matrix as unknown)) throw new Error("matrix must be an array of rows: matrix[gold][predicted] counts");
  if (matrix.length !== K) throw new Error(`matrix has ${matrix.length} rows but there are ${K} labels: give one row per gold class`);
  matrix.forEach((row, g) => {
    if (!row || typeof row.length !== "number" || row.length !== K) {
      throw new Error(`matrix row ${g} has ${row?.length} entries but there are ${K} labels: each row needs one count per predicted class`);
    }
    for (let p = 0; p < K; p++) {
      const v = row[p];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new Error(`count [${g}][${p}] (${labels[g]} predicted as ${labels[p]}) = ${v}: counts must be finite numbers ≥ 0`);
      }
    }
  });
  const normalize = opts.normalize ?? true;
  const rowSum = matrix.map((row) => row.reduce((s, v) => s + v, 0));
  const total = rowSum.reduce((s, v) => s + v, 0);
  let maxCount = 0;
  for (const row of matrix) for (const v of row) maxCount = Math.max(maxCount, v);
  let correct = 0;
  for (let g = 0; g < K; g++) correct += matrix[g][g];

  const share = (g: number, p: number): number => (rowSum[g] > 0 ? matrix[g][p] / rowSum[g] : 0);
  const shade = normalize ? share : (g: number, p: number): number => (maxCount > 0 ? matrix[g][p] / maxCount : 0);
  const cell = Math.max(12, Math.min(72, Math.floor(640 / K)));
  const twoLines = normalize && cell >= 34;
  const f1 = Math.max(7, Math.min(13, Math.floor(cell * 0.3)));
  const countText = (n: number): string => {
    const full = formatCount(n);
    return textWidth(full, f1) <= cell - 4 ? full : compactCount(n);
  };
  const text =
    K > 15
      ? null
      : (g: number, p: number): readonly string[] => {
          const n = matrix[g][p];
          if (!twoLines || n === 0 || rowSum[g] === 0) return [normalize && !twoLines && rowSum[g] > 0 ? formatPercent(share(g, p)) : countText(n)];
          return [countText(n), formatPercent(share(g, p))];
        };

  let barTicks: BarTick[];
  let barLabel: string;
  if (normalize) {
    barTicks = [0, 0.5, 1].map((at) => ({ at, label: `${at * 100}%` }));
    barLabel = "% of true label";
  } else {
    const top = maxCount > 0 ? maxCount : 1;
    barTicks = linearTicks(0, top, 4).map((t) => ({ at: t.value / top, label: t.label }));
    barLabel = "count";
  }
  const accuracy =
    total > 0 ? `accuracy ${formatPercent(correct / total)} (${formatCount(correct)} of ${formatCount(total)} correct)` : "no examples";
  const cellNote = normalize && !twoLines && K <= 15 ? "cells show the % of each true label" : "";
  return matrixSvg({
    id: safeId(opts.id ?? "confusion"),
    title: opts.title ?? "",
    notes: [[accuracy, cellNote].filter((s) => s !== "").join("; "), ...(opts.caption ? [opts.caption] : [])],
    rowLabels: labels,
    colLabels: labels,
    rowAxis: "true label",
    colAxis: "predicted label",
    cell,
    shade,
    text,
    tooltip: (g, p) =>
      `true ${labels[g]}, predicted ${labels[p]}: ${formatCount(matrix[g][p])}` +
      (rowSum[g] > 0 ? ` (${formatPercent(share(g, p))} of ${formatCount(rowSum[g])})` : ""),
    boldDiagonal: true,
    faint: (g, p) => matrix[g][p] === 0,
    barTicks,
    barLabel,
  });
}
