/**
 * The lab report: one self-contained HTML page (charts inlined as SVG, no external files, no
 * scripts) that a teacher can open in any browser and show a class: success against T for each
 * cell on each task, the learning curves, and how far back the gradient reaches, with the numbers
 * behind every picture and sentences generated from them. Browser-safe: it returns text.
 */
import { escapeXml } from "../plot/chart.js";
import type { GradientNorms } from "./gradients.js";
import { cellLabel, fmt, gradientNormsSvg, learningCurvesSvg, rnnRelationSvg, successVsTSvg } from "./plots.js";
import type { LabResult, RelationCase } from "./study.js";
import { getTask, type Task } from "./tasks/index.js";
import type { TaskSummary } from "./train.js";

/** One chart of the report: a file stem, a caption and its SVG. */
export interface ReportChart {
  readonly name: string;
  readonly caption: string;
  readonly svg: string;
}

/** The charts of a lab report, in page order (the CLI also writes each as SVG and PNG). */
export function labReportCharts(r: LabResult): ReportChart[] {
  const charts: ReportChart[] = [];
  if (r.gradientsInit.length > 0) {
    charts.push({
      name: "gradients-init",
      caption: `Gradient norm against the gap at initialisation (${r.gradientTask}, T = ${r.gradientT}, H = ${r.options.hidden}).`,
      svg: gradientNormsSvg(r.gradientsInit, { id: "g-init", title: `How far back the gradient reaches, at initialisation (T = ${r.gradientT})` }),
    });
  }
  if (r.gradientsTrained.length > 0) {
    charts.push({
      name: "gradients-trained",
      caption: `The same after training on ${r.gradientTask} at T = ${r.gradientT}.`,
      svg: gradientNormsSvg(r.gradientsTrained, { id: "g-trained", title: `How far back the gradient reaches, after training (T = ${r.gradientT})` }),
    });
  }
  if (r.relation.length > 0) {
    charts.push({
      name: "rnn-decay",
      caption: "The tanh RNN's measured decay (solid) against the rates its weights predict (dashed), with a random and with an orthogonal W_hh.",
      svg: rnnRelationSvg(r.relation, { id: "rnn-decay", title: `tanh RNN: measured decay against what W_hh predicts (H = ${r.options.hidden}, T = ${r.gradientT})` }),
    });
  }
  for (const name of r.options.tasks) {
    const task = getTask(name);
    const runs = r.runs.filter((x) => x.summary.task === name);
    charts.push({ name: `${name}-vs-T`, caption: `${task.title}: test ${task.metric.name} after training, against T.`, svg: successVsTSvg(task, runs.map((x) => x.summary), { id: `${name}-vs-T` }) });
    const Tmax = Math.max(...runs.map((x) => x.summary.T));
    charts.push({
      name: `${name}-curves`,
      caption: `${task.title}: learning curves at T = ${Tmax}.`,
      svg: learningCurvesSvg(task, runs.filter((x) => x.summary.T === Tmax), { id: `${name}-curves` }),
    });
  }
  return charts;
}

/** Options of `labReportHtml`. */
export interface ReportOptions {
  /** The command that produced the report, shown for reproduction. */
  readonly command?: string;
  /** When it was made (free text). */
  readonly generated?: string;
  readonly title?: string;
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222; max-width: 1060px; margin: 2em auto; padding: 0 1em; line-height: 1.5; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #666; margin-top: 0; } figure { margin: 1.2em 0; } figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; } table { border-collapse: collapse; margin: 1em 0; font-size: 0.93em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; } th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
td.ok { background: #e6f4e6; } td.no { background: #fbeaea; } .note { background: #f7f7f2; border-left: 4px solid #bbb; padding: 0.6em 1em; }
code { background: #f3f3f3; padding: 0 0.25em; border-radius: 3px; } ul.findings li { margin: 0.3em 0; }
`;

/** The whole report as one HTML document. */
export function labReportHtml(r: LabResult, opts: ReportOptions = {}): string {
  const charts = labReportCharts(r);
  const chart = (name: string) => {
    const c = charts.find((x) => x.name === name);
    return c ? `<figure>${inlineSvg(c.svg)}<figcaption>${withSubscripts(escapeXml(c.caption))}</figcaption></figure>` : "";
  };
  const o = r.options;
  const out: string[] = [];
  const title = opts.title ?? "Long-term dependencies in recurrent networks";
  out.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`);
  out.push(`<title>${escapeXml(title)}</title><style>${CSS}</style></head><body>`);
  out.push(`<h1>${escapeXml(title)}</h1>`);
  out.push(
    `<p class="sub">unroll lab: ${o.cells.map(cellLabel).join(", ")} on ${o.tasks.join(", ")}; T ∈ {${[...o.Ts].sort((a, b) => a - b).join(", ")}}; ` +
      `H = ${o.hidden}, ≤ ${o.steps} steps of Adam (lr ${o.lr}, batch ${o.batch}), seed ${o.seed}; backend ${escapeXml(r.backend)}; ` +
      `${fmtSeconds(r.wallSeconds)} in all${opts.generated ? `; ${escapeXml(opts.generated)}` : ""}.</p>`,
  );
  out.push(
    `<p>A recurrent network learns from its errors by sending gradients backwards through time. Each step back multiplies the ` +
      `gradient by the step's Jacobian ∂h<sub>t</sub>/∂h<sub>t−1</sub>; if those factors are smaller than one, the signal from an ` +
      `event far in the past fades exponentially and the network cannot learn to use it (Hochreiter 1991; Bengio, Simard &amp; ` +
      `Frasconi 1994). Gated cells (LSTM, GRU) add a path whose factor is a learned gate that can stay close to one. This report ` +
      `measures both effects: first the gradients themselves, then whether each cell can actually solve tasks whose answer ` +
      `depends on something T steps back.</p>`,
  );
  const findings = labFindings(r);
  if (findings.length > 0) out.push(`<h2>What the numbers say</h2><ul class="findings">${findings.map((f) => `<li>${f}</li>`).join("")}</ul>`);

  if (r.gradientsInit.length > 0) {
    out.push(`<h2>How far back does the gradient reach?</h2>`);
    out.push(
      `<p>For a loss L<sub>T</sub> on the last step only, the curves show ‖∂L<sub>T</sub>/∂h<sub>t</sub>‖ relative to ` +
        `‖∂L<sub>T</sub>/∂h<sub>T</sub>‖ against the gap T − t, on a log scale (geometric mean over 32 ${escapeXml(r.gradientTask ?? "")} ` +
        `sequences). A straight line on this scale is exponential decay; the legend gives each cell's fitted factor per step. ` +
        `Dashed lines are the LSTMs' cell-state gradients ‖∂L<sub>T</sub>/∂c<sub>t</sub>‖.</p>`,
    );
    out.push(chart("gradients-init"));
    out.push(gradientTable(r.gradientsInit, r.gradientT));
    if (r.relation.length > 0) {
      out.push(`<p>${relationText(r.relation)}</p>`);
      out.push(chart("rnn-decay"));
    }
    if (r.gradientsTrained.length > 0) {
      out.push(
        `<p>The same measurement on the models trained above on ${escapeXml(r.gradientTask ?? "")} at T = ${r.gradientT}: ` +
          `training changes the weights and gates, and with them how far back the gradient reaches.</p>`,
      );
      out.push(chart("gradients-trained"));
      out.push(gradientTable(r.gradientsTrained, r.gradientT));
    }
  }

  for (const name of o.tasks) {
    const task = getTask(name);
    const runs = r.runs.filter((x) => x.summary.task === name).map((x) => x.summary);
    out.push(`<h2>${escapeXml(task.title)}</h2>`);
    out.push(
      `<p>${escapeXml(task.description)} <em>Source: ${escapeXml(task.citation)}.</em><br>Metric: ${escapeXml(task.metric.name)} ` +
        `(${escapeXml(task.metric.unit)}). Trivial baseline: ${escapeXml(task.baselineMeaning)}. Solved: ${escapeXml(task.solvedMeaning)}.</p>`,
    );
    out.push(successTable(task, runs));
    out.push(chart(`${name}-vs-T`));
    out.push(chart(`${name}-curves`));
  }

  out.push(`<h2>How this was made</h2>`);
  out.push(
    `<p class="note">Every run trains a fresh one-layer network (PyTorch's initialisation, LSTM forget-gate bias +${o.forgetBias}) with a ` +
      `linear read-out on new random sequences at every step, and is scored on a fixed test set of ${o.testSize} sequences` +
      `${o.stopWhenSolved ? "; a run stops as soon as it meets the success criterion, so the step counts say how long learning took" : ""}. ` +
      `Small networks and short budgets keep the lab quick: a cell marked ✗ did not succeed <em>within this budget</em>, ` +
      `and more steps, another learning rate or another seed can change individual cells.${
        opts.command ? `<br>Reproduce: <code>${escapeXml(opts.command)}</code>` : ""
      }</p>`,
  );
  out.push(`</body></html>`);
  return out.join("\n") + "\n";
}

/** Why the tanh RNN decays, with the measured numbers of each W_hh. */
function relationText(cases: readonly RelationCase[]): string {
  const parts = cases.map(({ label, g }) => {
    const r = g.rnn!;
    const off = r.measured / r.sigmaEstimate - 1;
    const verdict =
      Math.abs(off) < 0.05
        ? "they agree"
        : `σ<sub>max</sub> overstates it: the gradient settles on the directions that decay slowest, whose factor is the spectral radius of the mean Jacobian, ${fmt(r.meanJacobianEstimate)}`;
    return (
      `With ${withSubscripts(escapeXml(label))}: σ<sub>max</sub> = ${fmt(r.sigmaMax)}, mean tanh′ = ${fmt(r.meanDerivative)}, product ${fmt(r.sigmaEstimate)}; ` +
      `measured ${fmt(r.measured)} per step (${off >= 0 ? "+" : "−"}${fmt(Math.abs(100 * off), 2)}%): ${verdict}.`
    );
  });
  return (
    `Why the tanh RNN decays: one step back multiplies the gradient by W<sub>hh</sub><sup>T</sup> diag(1 − h<sub>t</sub>²). Its size is at most ` +
    `σ<sub>max</sub>(W<sub>hh</sub>) times the largest tanh′ (Pascanu et al. 2013), and when all singular values of W<sub>hh</sub> are equal ` +
    `(an orthogonal matrix) it is exactly σ<sub>max</sub> times a mean of tanh′, so the gradient shrinks by about σ<sub>max</sub>·mean tanh′ per step. ` +
    parts.join(" ")
  );
}

/** "W_hh" → W<sub>hh</sub> in text that is already escaped. */
function withSubscripts(html: string): string {
  return html.replace(/W_hh/g, "W<sub>hh</sub>").replace(/W_ih/g, "W<sub>ih</sub>");
}

/** An SVG document as an inline element (the XML declaration dropped). */
function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, "");
}

function fmtSeconds(s: number): string {
  return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** Table: cells × T, each entry the final metric, ✓ when solved, and the steps taken. */
function successTable(task: Task, runs: readonly TaskSummary[]): string {
  const Ts = [...new Set(runs.map((r) => r.T))].sort((a, b) => a - b);
  const cells = [...new Set(runs.map((r) => r.cell))];
  const head = `<tr><th>cell \\ T</th>${Ts.map((T) => `<th>${T}<br><small>baseline ${fmt(task.baseline(T))}</small></th>`).join("")}</tr>`;
  const rows = cells.map((cell) => {
    const tds = Ts.map((T) => {
      const r = runs.find((x) => x.cell === cell && x.T === T);
      if (!r) return "<td></td>";
      const mark = r.solved ? "✓" : "✗";
      return `<td class="${r.solved ? "ok" : "no"}">${mark} ${fmt(r.value)}<br><small>${r.steps} steps</small></td>`;
    });
    return `<tr><td>${escapeXml(cellLabel(cell))}</td>${tds.join("")}</tr>`;
  });
  return `<table>${head}${rows.join("")}</table>`;
}

/** Table of fitted decay factors, values at a few gaps, W_hh spectra and gate saturation. */
function gradientTable(gs: readonly GradientNorms[], T: number): string {
  const gaps = [10, Math.round(T / 2), T].filter((k, i, a) => k <= T && a.indexOf(k) === i);
  const head =
    `<tr><th>cell</th><th>factor per step</th>${gaps.map((k) => `<th>at gap ${k}</th>`).join("")}` +
    `<th>σ<sub>max</sub> / ρ of W<sub>hh</sub> blocks</th><th>gates: mean (saturated low / high)</th></tr>`;
  const rows = gs.map((g) => {
    const w = g.weights.map((x) => `${x.gate}: ${fmt(x.sigmaMax, 2)} / ${fmt(x.spectralRadius, 2)}`).join("<br>");
    const s = g.gates
      .map((x) => `${escapeXml(x.gate)}: ${fmt(x.mean, 2)} (${pct(x.low)}${x.high === null ? "" : ` / ${pct(x.high)}`})`)
      .join("<br>");
    const c = g.dc ? `<br><small>c: ${fmt(g.rate.dc!)}</small>` : "";
    return `<tr><td>${escapeXml(cellLabel(g.cell))}</td><td>${fmt(g.rate.dh)}${c}</td>${gaps.map((k) => `<td>${fmt(g.dh[k], 2)}</td>`).join("")}<td>${w}</td><td>${s}</td></tr>`;
  });
  return `<table>${head}${rows.join("")}</table><p><small>Saturated: sigmoid gates below 0.1 or above 0.9, tanh values beyond ±0.9, ReLU units at 0.</small></p>`;
}

function pct(v: number): string {
  return `${fmt(100 * v, 2)}%`;
}

/** Sentences generated from the results, for the top of the report. */
export function labFindings(r: LabResult): string[] {
  const out: string[] = [];
  for (const name of r.options.tasks) {
    const task = getTask(name);
    const runs = r.runs.filter((x) => x.summary.task === name).map((x) => x.summary);
    const cells = [...new Set(runs.map((x) => x.cell))];
    const parts = cells.map((cell) => {
      const mine = runs.filter((x) => x.cell === cell).sort((a, b) => a.T - b.T);
      const solved = mine.filter((x) => x.solved).map((x) => x.T);
      const failed = mine.filter((x) => !x.solved).map((x) => x.T);
      const who = `<b>${escapeXml(cellLabel(cell))}</b>`;
      if (failed.length === 0) return `${who} solved every T up to ${mine[mine.length - 1].T}`;
      if (solved.length === 0) return `${who} solved none (not even T = ${mine[0].T})`;
      return `${who} solved T = ${solved.join(", ")} but not T = ${failed.join(", ")}`;
    });
    out.push(`${escapeXml(task.title)}: ${parts.join("; ")}.`);
  }
  const at = (g: GradientNorms) => g.dh[Math.min(g.T, r.gradientT)];
  const tanh = r.gradientsInit.find((g) => g.cell === "rnn");
  const lstm = r.gradientsInit.find((g) => g.cell === "lstm");
  if (tanh) {
    out.push(
      `At initialisation the tanh RNN's gradient shrinks by a factor ${fmt(tanh.rate.dh)} per step: ${r.gradientT} steps back it is ` +
        `${fmt(at(tanh), 2)} of its size at the loss.` +
        (lstm ? ` The LSTM's (forget bias +${r.options.forgetBias}) shrinks by ${fmt(lstm.rate.dh)} per step, to ${fmt(at(lstm), 2)}.` : ""),
    );
  }
  if (r.gradientsTrained.length > 0) {
    const parts = r.gradientsTrained.map((g) => {
      const before = r.gradientsInit.find((x) => x.cell === g.cell);
      return `${escapeXml(cellLabel(g.cell))}: ${fmt(at(g), 2)}${before ? ` (was ${fmt(at(before), 2)})` : ""}`;
    });
    out.push(`After training at T = ${r.gradientT}, the gradient ${r.gradientT} steps back is: ${parts.join("; ")}.`);
  }
  return out;
}
