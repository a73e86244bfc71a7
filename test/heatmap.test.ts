import { describe, expect, it } from "vitest";
import { svgToPng } from "../src/node/png.js";
import { attentionHeatmapSvg, confusionMatrixSvg, heatColor } from "../src/plot/heatmap.js";

/** Every element closed, in order; no stray `&` or `<` in text. Throws with the offending spot. */
function checkWellFormed(svg: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<\?xml[^>]*\?>/g;
  let last = 0;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    const between = svg.slice(last, m.index);
    if (/<|&(?!(amp|lt|gt|quot|apos);)/.test(between)) throw new Error(`bad text before offset ${m.index}: ${between.slice(0, 80)}`);
    last = re.lastIndex;
    if (m[0].startsWith("<?xml")) continue;
    const [, closing, name, attrs, selfClosing] = m;
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(attrs)) throw new Error(`bad attribute text in <${name}>`);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) stack.push(name);
  }
  if (/</.test(svg.slice(last))) throw new Error("unparsed tag at the end");
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(", ")}`);
}

/** The document's root: the first element after the XML declaration must be <svg>. */
function expectSvgRoot(svg: string): { width: number; height: number } {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, "");
  expect(body.startsWith("<svg ")).toBe(true);
  const m = /^<svg [^>]*width="(\d+)" height="(\d+)"/.exec(body);
  expect(m).not.toBeNull();
  return { width: Number(m![1]), height: Number(m![2]) };
}

interface Cell {
  readonly x: number;
  readonly y: number;
  readonly size: number;
  readonly fill: string;
}

/** The shaded cells, in row-major order. */
function cells(svg: string): Cell[] {
  const re = /<rect class="cell" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" fill="(#[0-9a-f]{6})">/g;
  return [...svg.matchAll(re)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), size: Number(m[3]), fill: m[4] }));
}

/** Relative luminance of #rrggbb (WCAG). */
function luminance(hex: string): number {
  const c = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16) / 255).map((s) => (s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

function expectPng(png: Buffer, width: number): void {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  expect(png.readUInt32BE(16)).toBe(width);
}

/** Cells lie inside the canvas, after the content group's centring shift. */
function expectCellsInside(svg: string, size: { width: number; height: number }): void {
  const dx = Number(/<g transform="translate\((\d+) 0\)">/.exec(svg)?.[1] ?? 0);
  for (const c of cells(svg)) {
    expect(c.x + dx).toBeGreaterThanOrEqual(0);
    expect(c.x + dx + c.size).toBeLessThanOrEqual(size.width);
    expect(c.y + c.size).toBeLessThanOrEqual(size.height);
  }
}

/** A banded alignment: each output row a softmax peaked near the diagonal. */
function alignment(R: number, C: number): Float64Array {
  const w = new Float64Array(R * C);
  for (let i = 0; i < R; i++) {
    const centre = ((i + 0.5) * C) / R - 0.5;
    let z = 0;
    for (let j = 0; j < C; j++) z += w[i * C + j] = Math.exp(-((j - centre) ** 2));
    for (let j = 0; j < C; j++) w[i * C + j] /= z;
  }
  return w;
}

describe("heatColor", () => {
  it("runs from white at 0 to a dark blue at 1, darker all the way", () => {
    expect(heatColor(0)).toBe("#ffffff");
    expect(luminance(heatColor(1))).toBeLessThan(0.05);
    for (let k = 1; k <= 40; k++) expect(luminance(heatColor(k / 40))).toBeLessThan(luminance(heatColor((k - 1) / 40)));
    expect(heatColor(-3)).toBe(heatColor(0));
    expect(heatColor(7)).toBe(heatColor(1));
  });
});

describe("attentionHeatmapSvg", () => {
  const rows = ["N", "AY1", "T", "</s>"];
  const cols = ["<s>", "k", "n", "i", "g", "h", "t", "&"];
  const weights = alignment(rows.length, cols.length);

  it("draws one cell per weight, well-formed, with every label escaped", () => {
    const svg = attentionHeatmapSvg(weights, rows, cols, { title: "knight → N AY1 T <demo>", caption: "rows sum to 1 & so on" });
    checkWellFormed(svg);
    const size = expectSvgRoot(svg);
    expect(cells(svg)).toHaveLength(rows.length * cols.length);
    expectCellsInside(svg, size);
    expect(svg).toContain("&lt;s&gt;");
    expect(svg).toContain("&lt;/s&gt;");
    expect(svg).toContain(">&amp;<");
    expect(svg).toContain("&lt;demo&gt;");
    expect(svg).toContain("rows sum to 1 &amp; so on");
    expect(svg).not.toMatch(/>[^<]*<s>/);
  });

  it("puts inputs along the top and outputs down the left", () => {
    const svg = attentionHeatmapSvg(weights, rows, cols);
    const cs = cells(svg);
    // Row-major: the second cell is one step right, the (C+1)-th one step down.
    expect(cs[1].x).toBeGreaterThan(cs[0].x);
    expect(cs[1].y).toBe(cs[0].y);
    expect(cs[cols.length].y).toBeGreaterThan(cs[0].y);
    expect(cs[cols.length].x).toBe(cs[0].x);
  });

  it("shades a 0 weight white and a 1 weight dark", () => {
    const svg = attentionHeatmapSvg([0, 1, 0.5, 0.5], ["a", "b"], ["x", "y"]);
    const [zero, one, half] = cells(svg).map((c) => c.fill);
    expect(zero).toBe("#ffffff");
    expect(luminance(one)).toBeLessThan(luminance(half));
    expect(luminance(half)).toBeLessThan(luminance(zero));
    // The weight under a dark cell is printed in white; under a light one, in a dark colour.
    expect(svg).toMatch(/fill="#ffffff">1\.00</);
    expect(svg).toMatch(/fill="#222">0\.50</);
  });

  it("prints the weights on grids up to 12 × 12 only, unless told", () => {
    expect(attentionHeatmapSvg(alignment(12, 12), [..."abcdefghijkl"], [..."abcdefghijkl"])).toContain(`class="values"`);
    expect(attentionHeatmapSvg(alignment(13, 4), [..."abcdefghijklm"], [..."abcd"])).not.toContain(`class="values"`);
    expect(attentionHeatmapSvg(weights, rows, cols, { showValues: false })).not.toContain(`class="values"`);
  });

  it("accepts float32 weights a rounding step outside [0, 1], and is deterministic", () => {
    const w = Float32Array.from([1 + 5e-7, -5e-7, 0.25, 0.75]);
    const a = attentionHeatmapSvg(w, ["a", "b"], ["x", "y"]);
    expect(attentionHeatmapSvg(w, ["a", "b"], ["x", "y"])).toBe(a);
    expect(cells(a)[1].fill).toBe("#ffffff");
  });

  it("says what is wrong with bad sizes and values", () => {
    expect(() => attentionHeatmapSvg(new Float64Array(5), ["a", "b"], ["x", "y", "z"])).toThrow(/5 values but 2 rows × 3 cols need 6/);
    expect(() => attentionHeatmapSvg([], [], ["x"])).toThrow(/rows is empty/);
    expect(() => attentionHeatmapSvg([], ["a"], [])).toThrow(/cols is empty/);
    expect(() => attentionHeatmapSvg([0.5, 1.01], ["a"], ["x", "y"])).toThrow(/weight \(0, 1\) = 1\.01 is not in \[0, 1\]/);
    expect(() => attentionHeatmapSvg([-0.01, 1], ["a"], ["x", "y"])).toThrow(/not in \[0, 1\]/);
    expect(() => attentionHeatmapSvg([NaN, 1], ["a"], ["x", "y"])).toThrow(/weight \(0, 0\) = NaN/);
  });

  it("renders to a PNG, also for a long, tilted-label grid", () => {
    const svg = attentionHeatmapSvg(weights, rows, cols, { title: "knight" });
    expectPng(svg2png(svg), expectSvgRoot(svg).width);
    const words = ["The", "agreement", "on", "the", "European", "Economic", "Area", "was", "signed", "in", "August", "1992", "."];
    const out = Array.from({ length: 30 }, (_, i) => `tok${i}`);
    const big = attentionHeatmapSvg(alignment(out.length, words.length), out, words);
    checkWellFormed(big);
    expect(big).toContain("rotate(-45");
    const size = expectSvgRoot(big);
    expectCellsInside(big, size);
    expectPng(svg2png(big), size.width);
  });
});

function svg2png(svg: string): Buffer {
  return svgToPng(svg);
}

describe("confusionMatrixSvg", () => {
  const labels = ["<s>", "NOUN", "VERB"];
  const m = [
    [10, 0, 0],
    [2, 50, 8],
    [0, 5, 45],
  ];

  it("draws one cell per class pair, well-formed, with escaped labels and axis titles", () => {
    const svg = confusionMatrixSvg(m, labels, { title: "POS & friends" });
    checkWellFormed(svg);
    const size = expectSvgRoot(svg);
    expect(cells(svg)).toHaveLength(9);
    expectCellsInside(svg, size);
    expect(svg).toContain("&lt;s&gt;");
    expect(svg).not.toMatch(/>[^<]*<s>/);
    expect(svg).toContain("POS &amp; friends");
    expect(svg).toContain(">true label<");
    expect(svg).toContain(">predicted label<");
    expect(svg).toContain("accuracy 88% (105 of 120 correct)");
  });

  it("shades by the row share, prints counts and percentages, bold on the diagonal", () => {
    const svg = confusionMatrixSvg(
      [
        [1, 1],
        [0, 100],
      ],
      ["a", "b"],
    );
    const [c00, c01, c10, c11] = cells(svg).map((c) => c.fill);
    expect(c00).toBe(c01); // 50% each, although the counts are tiny
    expect(c10).toBe("#ffffff");
    expect(luminance(c11)).toBeLessThan(luminance(c00));
    expect(svg).toContain(">50%<");
    expect(svg).toContain(">100%<");
    expect(svg).toMatch(/font-weight="bold">100</);
    // A zero count is printed, faint.
    expect(svg).toMatch(/fill="#a8a8a8"[^>]*>0</);
  });

  it("shades by count over the largest count with normalize: false", () => {
    const svg = confusionMatrixSvg(
      [
        [1, 1],
        [0, 100],
      ],
      ["a", "b"],
      { normalize: false },
    );
    const [c00, , c10, c11] = cells(svg).map((c) => c.fill);
    expect(luminance(c00)).toBeGreaterThan(0.9); // 1 of 100: nearly white
    expect(c10).toBe("#ffffff");
    expect(luminance(c11)).toBeLessThan(0.05);
    expect(svg).not.toContain("%<");
    expect(svg).toContain(">count<");
  });

  it("keeps an empty gold row white and free of NaN", () => {
    const svg = confusionMatrixSvg(
      [
        [0, 0],
        [3, 4],
      ],
      ["a", "b"],
    );
    expect(svg).not.toContain("NaN");
    expect(cells(svg).slice(0, 2).map((c) => c.fill)).toEqual(["#ffffff", "#ffffff"]);
    expect(confusionMatrixSvg([[0]], ["only"])).toContain("no examples");
  });

  it("handles 40 classes and long labels: no per-cell text past 15, tilted labels", () => {
    const K = 40;
    const big = Array.from({ length: K }, (_, g) => Array.from({ length: K }, (_, p) => (g === p ? 30 : (g * 7 + p * 3) % 5)));
    const names = Array.from({ length: K }, (_, k) => `a rather long class name number ${k}`);
    const svg = confusionMatrixSvg(big, names, { title: "Forty classes" });
    checkWellFormed(svg);
    expect(cells(svg)).toHaveLength(K * K);
    expect(svg).not.toContain(`class="values"`);
    expect(svg).toContain("rotate(-45");
    expect(svg).toContain(">a rather long class nam…<"); // cut to 24 characters, the ellipsis included
    expect(svg).toContain("<title>true a rather long class name number 3, predicted"); // whole in the tooltip
    const size = expectSvgRoot(svg);
    expectCellsInside(svg, size);
    expectPng(svg2png(svg), size.width);

    const fifteen = big.slice(0, 15).map((r) => r.slice(0, 15));
    expect(confusionMatrixSvg(fifteen, names.slice(0, 15))).toContain(`class="values"`);
  });

  it("says what is wrong with bad sizes and counts", () => {
    expect(() => confusionMatrixSvg([[1, 2]], ["a", "b"])).toThrow(/1 rows but there are 2 labels/);
    expect(() => confusionMatrixSvg([[1, 2], [3]], ["a", "b"])).toThrow(/row 1 has 1 entries/);
    expect(() => confusionMatrixSvg([[1, -1], [0, 2]], ["a", "b"])).toThrow(/count \[0\]\[1\] \(a predicted as b\) = -1/);
    expect(() => confusionMatrixSvg([[1, NaN], [0, 2]], ["a", "b"])).toThrow(/finite numbers ≥ 0/);
    expect(() => confusionMatrixSvg([], [])).toThrow(/labels is empty/);
  });

  it("is deterministic and renders to a PNG", () => {
    const svg = confusionMatrixSvg(m, labels, { title: "POS" });
    expect(confusionMatrixSvg(m, labels, { title: "POS" })).toBe(svg);
    expectPng(svg2png(svg), expectSvgRoot(svg).width);
  });
});
