/**
 * A live line chart on a canvas: several named series of (x, y) points, linear or log-10 y axis,
 * redrawn at most once per animation frame however often points arrive.
 */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: [number, number][];
  readonly dashed?: boolean;
  /** Draw dots instead of a line (for sparse points such as validation losses). */
  readonly dots?: boolean;
}

export interface ChartOptions {
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logY?: boolean;
  /** Fixed y range (else from the data). */
  readonly yRange?: [number, number];
}

export class LiveChart {
  readonly canvas: HTMLCanvasElement;
  private series: Series[] = [];
  private pending = false;

  constructor(
    readonly root: HTMLElement,
    private o: ChartOptions,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "chart";
    root.append(this.canvas);
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  setOptions(o: Partial<ChartOptions>): void {
    this.o = { ...this.o, ...o };
    this.schedule();
  }

  set(series: Series[]): void {
    this.series = series;
    this.schedule();
  }

  /** Asks for a redraw on the next frame. */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw(): void {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const W = c.clientWidth || 600;
    const H = c.clientHeight || 260;
    if (c.width !== Math.round(W * dpr)) c.width = Math.round(W * dpr);
    if (c.height !== Math.round(H * dpr)) c.height = Math.round(H * dpr);
    const g = c.getContext("2d")!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const L = 56, R = 12, T = 12, B = 36;
    const ty = (y: number) => (this.o.logY ? Math.log10(Math.max(y, 1e-300)) : y);
    const pts = this.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!this.o.logY || y > 0));
    g.font = "12px system-ui, sans-serif";
    g.fillStyle = "#555";
    if (pts.length === 0) {
      g.fillText("no data yet", L + 8, T + 20);
      return;
    }
    let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
    let [y0, y1] = this.o.yRange ? this.o.yRange.map(ty) : [Math.min(...pts.map((p) => ty(p[1]))), Math.max(...pts.map((p) => ty(p[1])))];
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const py = (y: number) => T + (1 - (ty(y) - y0) / (y1 - y0)) * (H - T - B);
    // axes and ticks
    g.strokeStyle = "#ccc";
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(L, T);
    g.lineTo(L, H - B);
    g.lineTo(W - R, H - B);
    g.stroke();
    g.textAlign = "right";
    // y ticks: whole powers of ten on a log axis (1e-3, 1e-6, …), else five even steps
    const ticks: number[] = [];
    if (this.o.logY) {
      const span = Math.max(1, Math.ceil((y1 - y0) / 5));
      for (let e = Math.ceil(y0 / span) * span; e <= y1; e += span) ticks.push(e);
    } else for (let i = 0; i <= 4; i++) ticks.push(y0 + ((y1 - y0) * i) / 4);
    for (const v of ticks) {
      const y = T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
      g.fillText(this.o.logY ? (v === 0 ? "1" : `1e${v}`) : v.toFixed(Math.abs(y1 - y0) < 1 ? 3 : 2), L - 4, y + 4);
      g.strokeStyle = "#eee";
      g.beginPath();
      g.moveTo(L + 1, y);
      g.lineTo(W - R, y);
      g.stroke();
    }
    g.textAlign = "center";
    for (let i = 0; i <= 4; i++) {
      const v = x0 + ((x1 - x0) * i) / 4;
      g.fillText(Math.abs(x1 - x0) >= 10 ? String(Math.round(v)) : v.toFixed(1), px(v), H - B + 16);
    }
    g.fillText(this.o.xLabel, L + (W - L - R) / 2, H - 4);
    g.save();
    g.translate(12, T + (H - T - B) / 2);
    g.rotate(-Math.PI / 2);
    g.fillText(this.o.yLabel, 0, 0);
    g.restore();
    // series
    let legendX = L + 8;
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 1.8;
      g.setLineDash(s.dashed ? [5, 4] : []);
      const ok = s.points.filter(([, y]) => Number.isFinite(y) && (!this.o.logY || y > 0));
      if (s.dots) for (const [x, y] of ok) g.fillRect(px(x) - 2.5, py(y) - 2.5, 5, 5);
      else {
        g.beginPath();
        ok.forEach(([x, y], i) => (i === 0 ? g.moveTo(px(x), py(y)) : g.lineTo(px(x), py(y))));
        g.stroke();
      }
      g.setLineDash([]);
      g.textAlign = "left";
      g.fillRect(legendX, T + 4, 10, 3);
      g.fillStyle = "#333";
      g.fillText(s.name, legendX + 14, T + 9);
      legendX += 24 + g.measureText(s.name).width;
    }
  }
}
