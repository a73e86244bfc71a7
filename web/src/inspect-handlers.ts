/**
 * The worker side of "Look inside" and "Unrolled view": traces of the live model over a text
 * (activations of every unit and gate, top-5 predictions), unit–pattern correlations, and the
 * step-by-step forward and backward pass of a short input. All on the js backend in the model's
 * dtype: a trace is a batch-1 pass, cheap, and identical on every machine.
 */
import type { WorkerContext, WorkerHandler } from "../../src/browser/index.js";
import { cellName, patternOf, traceText, tracePredictions, unitCorrelations, unrolledSteps, type PatternKind, type TextTrace, type TraceQuantity } from "../../src/index.js";

/** What the page gets of a trace. */
export interface PageTrace {
  readonly cell: string;
  readonly quantities: readonly TraceQuantity[];
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly steps: number;
  readonly tokens: readonly string[];
  readonly unknown: number;
  /** per layer, per quantity: (steps × H), unit j at step t at t·H + j */
  readonly layers: readonly Partial<Record<TraceQuantity, Float32Array | Float64Array>>[];
  /** per step: the 5 likeliest next tokens */
  readonly top: readonly (readonly { token: string; p: number }[])[];
  readonly nextProb: readonly (number | null)[];
  readonly loss: number | null;
}

export interface CorrelateRequest {
  readonly pattern: string;
  readonly layer: number;
  readonly quantity: TraceQuantity;
}
export interface CorrelateResult {
  readonly units: readonly { unit: number; r: number }[];
  /** the pattern's value per step */
  readonly pattern: Float64Array;
}

/** What the page gets of an unrolled run. */
export interface PageUnrolled {
  readonly cell: string;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly loss: number;
  readonly lastLoss: number;
  readonly unknown: number;
  readonly steps: readonly {
    readonly token: string;
    readonly target: string | null;
    readonly p: number | null;
    readonly loss: number | null;
    readonly top: readonly { token: string; p: number }[];
    readonly layers: readonly {
      readonly h: number[];
      readonly c: number[] | null;
      readonly gates: Readonly<Record<string, number[]>>;
      readonly dhNorm: number;
      readonly dcNorm: number | null;
      readonly dhLastNorm: number;
      readonly dcLastNorm: number | null;
      readonly dh: number[];
    }[];
  }[];
}

let lastTrace: TextTrace | null = null;

function model(ctx: WorkerContext) {
  const lm = ctx.model();
  if (!lm) throw new Error("there is no model yet: train one (Train) or load a checkpoint");
  return lm;
}

export const inspectHandlers: Record<string, WorkerHandler> = {
  trace(payload, ctx): PageTrace {
    const { text } = payload as { text: string };
    const t = traceText(model(ctx), text, { backend: "js", topK: 5 });
    lastTrace = t;
    return {
      cell: cellName(t.cell),
      quantities: t.quantities,
      numLayers: t.numLayers,
      hiddenSize: t.hiddenSize,
      steps: t.steps,
      tokens: t.tokens,
      unknown: t.unknown,
      layers: t.layers.map((l) => ({ ...l }) as Partial<Record<TraceQuantity, Float32Array | Float64Array>>),
      top: Array.from({ length: t.steps }, (_, s) => tracePredictions(t, s).map(({ token, p }) => ({ token, p }))),
      nextProb: t.nextProb,
      loss: t.loss,
    };
  },
  correlate(payload): CorrelateResult {
    const r = payload as CorrelateRequest;
    if (!lastTrace) throw new Error("analyse a text first");
    const pattern = patternOf(lastTrace, r.pattern as PatternKind);
    const units = unitCorrelations(lastTrace, pattern, { layer: r.layer, quantity: r.quantity }).slice(0, 12);
    return { units, pattern };
  },
  unrolled(payload, ctx): PageUnrolled {
    const { text } = payload as { text: string };
    const run = unrolledSteps(model(ctx), text, { backend: "js", topK: 3 });
    return {
      cell: cellName(run.trace.cell),
      numLayers: run.trace.numLayers,
      hiddenSize: run.trace.hiddenSize,
      loss: run.loss,
      lastLoss: run.lastLoss,
      unknown: run.unknown,
      steps: run.steps.map((s) => ({
        token: s.token,
        target: s.targetToken,
        p: s.p,
        loss: s.loss,
        top: s.top.map(({ token, p }) => ({ token, p })),
        layers: s.layers.map((l) => ({
          h: Array.from(l.h),
          c: l.c ? Array.from(l.c) : null,
          gates: Object.fromEntries(Object.entries(l.gates).map(([k, v]) => [k, Array.from(v as ArrayLike<number>)])),
          dhNorm: l.dhNorm,
          dcNorm: l.dcNorm,
          dhLastNorm: l.dhLastNorm,
          dcLastNorm: l.dcLastNorm,
          dh: Array.from(l.dh),
        })),
      })),
    };
  },
};
