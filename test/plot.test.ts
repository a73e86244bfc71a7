import { Resvg } from "@resvg/resvg-js";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { canRenderText, svgToPng } from "../src/node/png.js";
import { plotRun } from "../src/node/plot-run.js";
import { escapeXml, lineChartSvg, linearTicks, logTicks, niceStep } from "../src/plot/chart.js";
import { lossCurveSvg, readMetricsLines, smoothRunningLine } from "../src/plot/loss-curve.js";
import type { TrainEvent } from "../src/train/train.js";

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

/** Renders with resvg (throws on malformed SVG) and returns the PNG. */
function render(svg: string, width?: number): Buffer {
  return svgToPng(svg, width);
}

function pngSize(png: Buffer): { width: number; height: number } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** A deterministic synthetic run: noisy decreasing training loss, validation every 250 steps. */
function syntheticRun(steps = 1500): TrainEvent[] {
  let s = 12345;
  const rnd = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const curve = (t: number): number => 1.35 + 2.85 * Math.exp(-t / 120) + 0.45 * Math.exp(-t / 900);
  const events: unknown[] = [
    { event: "start", step: 0, params: 1, vocabSize: 65, trainTokens: 1, valTokens: 1, chunksPerEpoch: 1, backend: "js", resumed: false, options: { cell: "gru", layers: 2, hidden: 64 } },
  ];
  for (let t = 1; t <= steps; t++) {
    if ((t - 1) % 250 === 0) events.push({ event: "eval", step: t - 1, epoch: 0, valLoss: curve(t - 1) + 0.06, bestValLoss: 0, improved: true });
    events.push({ event: "step", step: t, epoch: 0, progress: 0, loss: curve(t) + (rnd() - 0.5) * 0.3, lr: 2e-3, gradNorm: 1, tokensPerSec: 1, elapsedMs: t, etaMs: null });
  }
  events.push({ event: "done", reason: "max-steps", step: steps, epoch: 0, trainLoss: 1.4, valLoss: 1.5, bestValLoss: 1.5, elapsedMs: 1 });
  return events as TrainEvent[];
}

describe("ticks", () => {
  it("steps by 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(0.13)).toBeCloseTo(0.2, 12);
    expect(niceStep(3)).toBe(5);
    expect(niceStep(700)).toBe(1000);
    expect(linearTicks(0, 1500, 8).map((t) => t.label)).toEqual(["0", "200", "400", "600", "800", "1000", "1200", "1400"]);
    expect(linearTicks(1.23, 4.61, 7).map((t) => t.label)).toEqual(["1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5"]);
    expect(linearTicks(-1, 1, 4).map((t) => t.label)).toEqual(["−1.0", "−0.5", "0", "0.5", "1.0"]);
    expect(linearTicks(1, 3, 10, 1).map((t) => t.label)).toEqual(["1", "2", "3"]);
  });

  it("puts log ticks at decades, minor ticks between", () => {
    const { majors, minors } = logTicks(2e-6, 3, 10);
    expect(majors.map((t) => t.value)).toEqual([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]);
    expect(majors.map((t) => t.label)).toEqual(["10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
    expect(minors).toContain(2e-6);
    expect(minors).toContain(2);
    expect(minors.length).toBe(8 * 6 + 2); // 2..9 in each decade from 1e-6 to 0.1, then 2 and 3
    expect(logTicks(0.01, 100, 10).majors.map((t) => t.label)).toEqual(["0.01", "0.1", "1", "10", "100"]);
    // Under two decades the axis still gets labeled numbers.
    expect(logTicks(1.3, 5.4, 6).majors.map((t) => t.label)).toEqual(["2", "3", "4", "5"]);
    expect(logTicks(1.1, 1.9, 6).majors.map((t) => t.label)).toEqual(["1.2", "1.4", "1.6", "1.8"]);
  });
});

describe("lineChartSvg", () => {
  const spec = {
    title: "gradient norm <vs> time & gap",
    xLabel: "time gap",
    yLabel: "‖dL/dh‖",
    yScale: "log" as const,
    series: [
      { name: "rnn", points: Array.from({ length: 40 }, (_, k) => [k + 1, 0.7 ** k] as const) },
      { name: "lstm", points: Array.from({ length: 40 }, (_, k) => [k + 1, 0.99 ** k] as const), dashed: true, markers: true },
    ],
  };

  it("is well-formed SVG with the title, axis labels and legend entries, escaped", () => {
    const svg = lineChartSvg(spec);
    checkWellFormed(svg);
    expect(() => new Resvg(svg)).not.toThrow();
    expect(svg).toContain(`>${escapeXml(spec.title)}</text>`);
    expect(svg).toContain("gradient norm &lt;vs&gt; time &amp; gap");
    expect(svg).toContain(">time gap</text>");
    expect(svg).toContain(">‖dL/dh‖</text>");
    expect(svg).toContain(">rnn</text>");
    expect(svg).toContain(">lstm</text>");
    expect(svg).toContain(`<rect x="0" y="0" width="900" height="540" fill="#ffffff"/>`);
    expect(svg).toContain('font-family="sans-serif"');
  });

  it("labels a log axis at decades", () => {
    const svg = lineChartSvg(spec); // y from 0.7^39 ≈ 9e-7 to 1
    for (const label of ["10⁻⁶", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]) expect(svg).toContain(`>${label}</text>`);
  });

  it("skips non-finite points and, on a log axis, non-positive ones", () => {
    const svg = lineChartSvg({
      title: "t",
      yScale: "log",
      series: [{ name: "s", points: [[0, 1], [1, NaN], [2, Infinity], [3, -1], [4, 0], [NaN, 2], [5, 10], [6, 100]] }],
    });
    checkWellFormed(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
    // The skipped points break the line: [0,1] alone, then [5,10]-[6,100].
    const d = /<path d="([^"]+)"/.exec(svg)![1];
    expect(d.match(/M/g)!.length).toBe(2);
    expect(d.match(/L/g)!.length).toBe(1);
    render(svg);
  });

  it("draws axes and 'no data' for empty series, and a marker for a single point", () => {
    for (const series of [[], [{ name: "none", points: [] }], [{ name: "nan", points: [[NaN, NaN]] as const }]]) {
      const svg = lineChartSvg({ title: "empty", xLabel: "x", yLabel: "y", series });
      checkWellFormed(svg);
      expect(svg).toContain(">no data</text>");
      expect(svg).not.toMatch(/NaN|Infinity/);
      render(svg);
    }
    for (const yScale of ["linear", "log"] as const) {
      const svg = lineChartSvg({ title: "one", yScale, series: [{ name: "one", points: [[3, 0.5]] }] });
      checkWellFormed(svg);
      expect(svg).not.toContain("no data");
      expect(svg).not.toMatch(/NaN|Infinity/);
      expect(svg).toMatch(/<g class="markers">\n<circle /);
      render(svg);
    }
  });

  it("honors fixed ranges", () => {
    const svg = lineChartSvg({ series: [{ name: "s", points: [[0, 0], [10, 3]] }], yRange: { min: 0, max: 10 }, xRange: { max: 20 } });
    expect(svg).toContain(">10</text>");
    expect(svg).toContain(">20</text>");
  });
});

describe("svgToPng", () => {
  it("writes a PNG of the requested width", () => {
    const svg = lineChartSvg({ ...{ title: "t", series: [{ name: "a", points: [[0, 1], [1, 2]] as const }] }, width: 600, height: 400 });
    expect(pngSize(render(svg, 1200))).toEqual({ width: 1200, height: 800 });
    expect(pngSize(render(svg))).toEqual({ width: 600, height: 400 });
    expect(() => render(svg, 0)).toThrow(/width/);
    expect(() => render("<svg")).toThrow();
  });

  it.skipIf(!canRenderText())("draws text (a font is found)", () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30"><rect width="60" height="30" fill="#fff"/><text x="4" y="22" font-family="sans-serif" font-size="20">Hg</text></svg>`;
    const png = new Resvg(svg, { font: { loadSystemFonts: true } }).render();
    let dark = 0;
    for (let i = 0; i < png.pixels.length; i += 4) if (png.pixels[i] < 128) dark++;
    expect(dark).toBeGreaterThan(20);
  });
});

describe("loss curve", () => {
  it("smooths a straight line into itself, and is the centered running mean inside", () => {
    const line = Array.from({ length: 50 }, (_, i) => [i * 2, 3 - 0.01 * i] as const);
    for (const [i, [x, y]] of smoothRunningLine(line, 5).entries()) {
      expect(x).toBe(line[i][0]);
      expect(y).toBeCloseTo(line[i][1], 10);
    }
    const noisy = Array.from({ length: 30 }, (_, i) => [i, Math.sin(i * 1.7)] as const);
    const sm = smoothRunningLine(noisy, 3);
    for (let i = 3; i < 27; i++) {
      let mean = 0;
      for (let j = i - 3; j <= i + 3; j++) mean += noisy[j][1] / 7;
      expect(sm[i][1]).toBeCloseTo(mean, 10);
    }
  });

  it("draws train (raw and smoothed) and validation loss with the run in the title", () => {
    const svg = lossCurveSvg(syntheticRun());
    checkWellFormed(svg);
    expect(svg).toContain("unroll — loss (nats/token) — gru, 2 layers × 64");
    expect(svg).toContain(">step</text>");
    expect(svg).toContain(">loss (nats/token)</text>");
    expect(svg).toContain(">train</text>");
    expect(svg).toContain(">train (smoothed)</text>");
    expect(svg).toMatch(/>validation \(best \d\.\d{3}\)<\/text>/);
    expect(svg.match(/<circle /g)!.length).toBe(6 + 1); // 6 evals + the legend's marker
    expect(lossCurveSvg(syntheticRun(), { title: "mine" })).toContain(">mine</text>");
    render(svg, 900);
  });

  it("plots a run with no steps yet, and NaN losses (JSON null)", () => {
    const svg = lossCurveSvg(readMetricsLines('{"event":"start","step":0}\n{"event":"step","step":1,"loss":null}\n'));
    checkWellFormed(svg);
    expect(svg).toContain(">no data</text>");
    render(svg);
  });

  it("reads metrics lines, skipping a truncated last line", () => {
    const lines = syntheticRun(20).map((e) => JSON.stringify(e));
    const text = lines.join("\n") + '\n{"event":"step","step":21,"lo';
    const events = readMetricsLines(text);
    expect(events.length).toBe(lines.length);
    expect(events[0].event).toBe("start");
    expect(readMetricsLines(lines.join("\r\n")).length).toBe(lines.length);
    expect(() => readMetricsLines("")).toThrow(/no training events/);
    expect(() => readMetricsLines('{"event":"ste')).toThrow(/none of the 1 metrics line/);
    expect(() => readMetricsLines("[1,2]\n{}\n")).toThrow(/none of the 2/);
  });
});

describe("plotRun", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), "unroll-plot-"));
    dirs.push(d);
    return d;
  };

  it("writes loss.svg and loss.png into the run folder, and nothing else", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "metrics.jsonl"), syntheticRun(300).map((e) => JSON.stringify(e)).join("\n") + "\n");
    const r = plotRun(dir);
    expect(r.svgPath).toBe(join(dir, "loss.svg"));
    expect(r.pngPath).toBe(join(dir, "loss.png"));
    checkWellFormed(readFileSync(r.svgPath, "utf8"));
    expect(pngSize(readFileSync(r.pngPath)).width).toBe(1800);
    expect(readdirSync(dir).sort()).toEqual(["loss.png", "loss.svg", "metrics.jsonl"]);
    // Again (overwrites), with options.
    const r2 = plotRun(dir, { title: "again", pngWidth: 640 });
    expect(readFileSync(r2.svgPath, "utf8")).toContain(">again</text>");
    expect(pngSize(readFileSync(r2.pngPath)).width).toBe(640);
  });

  it("says what a run folder is when metrics.jsonl is missing", () => {
    const dir = tempDir();
    expect(() => plotRun(dir)).toThrow(`no metrics.jsonl in ${dir}: is it an unroll run folder (the --out of unroll train)?`);
    expect(() => plotRun(join(dir, "nope"))).toThrow(/no such folder/);
    writeFileSync(join(dir, "metrics.jsonl"), "garbage\n");
    expect(() => plotRun(dir)).toThrow(/metrics\.jsonl: none of the 1 metrics line/);
    expect(existsSync(join(dir, "loss.svg"))).toBe(false);
  });
});
