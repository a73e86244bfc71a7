import { describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint } from "../src/model/checkpoint-codec.js";
import { createTraining, train, type TrainOptions } from "../src/train/train.js";

const TEXT = "It is not down in any map; true places never are. ".repeat(12);

const BASE: TrainOptions = {
  text: TEXT,
  cell: "lstm",
  layers: 2,
  hidden: 12,
  embed: 5,
  dropout: 0.2, // the random stream matters too
  seqLen: 8,
  batch: 3,
  lr: 5e-3,
  evalEvery: 4,
  valFrac: 0.2,
  seed: 3,
  backend: "js",
};

async function drain(t: ReturnType<typeof createTraining>) {
  for await (const e of t.run()) void e;
}

describe("resuming a run", () => {
  for (const [label, extra] of [
    ["Adam, float32", {}],
    ["SGD with momentum, GRU, float64, plateau schedule", { optimizer: "sgd", momentum: 0.9, cell: "gru", dtype: "float64", schedule: "plateau" }],
  ] as const) {
    it(`${label}: interrupted and resumed ends with the same weights as uninterrupted, bit for bit`, async () => {
      const steps = 45; // crosses epoch boundaries (the split leaves 19 training chunks) and evaluations
      const whole = createTraining({ ...BASE, ...extra, maxSteps: steps });
      await drain(whole);

      const first = createTraining({ ...BASE, ...extra, maxSteps: 25 }); // stops mid-epoch, with a carried state
      await drain(first);
      const bytes = encodeCheckpoint(first.snapshot());
      const resumed = createTraining({ text: TEXT, backend: "js", maxSteps: steps, resume: decodeCheckpoint(bytes, "mid-run") });
      await drain(resumed);

      expect(resumed.batches.train.length).toBe(19);
      expect(Array.from(resumed.model.params.data)).toEqual(Array.from(whole.model.params.data));
      const a = whole.snapshot();
      const b = resumed.snapshot();
      expect(b.training!.progress.step).toBe(steps);
      expect(b.training!.progress.epoch).toBe(a.training!.progress.epoch);
      expect(b.training!.rng).toEqual(a.training!.rng);
      expect(Array.from(b.tensors.get("carry.h")!)).toEqual(Array.from(a.tensors.get("carry.h")!));
    });
  }

  it("a different seed gives different weights (the comparison above can fail)", async () => {
    const a = createTraining({ ...BASE, maxSteps: 3 });
    const b = createTraining({ ...BASE, seed: 4, maxSteps: 3 });
    await drain(a);
    await drain(b);
    expect(Array.from(a.model.params.data)).not.toEqual(Array.from(b.model.params.data));
  });

  it("refuses to resume on different text", async () => {
    const t = createTraining({ ...BASE, maxSteps: 2 });
    await drain(t);
    expect(() => createTraining({ text: TEXT.slice(1) + "I", resume: t.snapshot() })).toThrow(/text differs from the one this run was trained on/);
  });

  it("stops at an abort signal and reports why", async () => {
    const controller = new AbortController();
    let steps = 0;
    const done = await train({ ...BASE, maxSteps: 1000, signal: controller.signal }, (e) => {
      if (e.event === "step" && ++steps === 3) controller.abort();
    });
    expect(done.reason).toBe("aborted");
    expect(done.step).toBe(3);
  });

  it("emits start, step, eval and done events, validation loss at step 0 and the end", async () => {
    const events: string[] = [];
    const evals: number[] = [];
    const done = await train({ ...BASE, maxSteps: 6 }, (e) => {
      events.push(e.event);
      if (e.event === "eval") evals.push(e.step);
    });
    expect(events[0]).toBe("start");
    expect(events.at(-1)).toBe("done");
    expect(evals).toEqual([0, 4, 6]);
    expect(done.valLoss).toBeGreaterThan(0);
    expect(done.reason).toBe("max-steps");
  });
});
