/**
 * Training in a worker (unroll/browser's serveTraining and connectTrainingWorker), over a
 * MessageChannel in this process: events arrive, pause holds the run between steps, stop ends it,
 * the snapshot is a checkpoint that resumes to the same weights as an uninterrupted run, loading a
 * checkpoint makes it the model handlers see, and errors come back as messages, not crashes.
 */
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { connectTrainingWorker, serveTraining, type TrainingWorker, type WorkerLike, type WorkerScope } from "../src/browser/index.js";
import { decodeCheckpoint, encodeCheckpoint, train, type TrainEvent } from "../src/index.js";

const TEXT = "the quick brown fox jumps over the lazy dog. ".repeat(40);
const OPTIONS = { text: TEXT, hidden: 12, layers: 1, seqLen: 8, batch: 4, evalEvery: 5, backend: "js", threads: false } as const;

function pair(): { page: TrainingWorker; ports: MessagePort[] } {
  const { port1, port2 } = new MessageChannel();
  serveTraining({
    scope: port1 as unknown as WorkerScope,
    handlers: {
      vocabSize: (_p, ctx) => ctx.model()?.vocab.tokens.length ?? null,
      fail: () => {
        throw new Error("as asked");
      },
    },
  });
  port1.start();
  port2.start();
  const like: WorkerLike = {
    postMessage: (m, transfer) => port2.postMessage(m, transfer as never),
    addEventListener: ((type: string, l: (e: { data: unknown }) => void) => port2.addEventListener(type as "message", l as never)) as WorkerLike["addEventListener"],
    terminate: () => port2.close(),
  };
  return { page: connectTrainingWorker(like), ports: [port1, port2] };
}

const open: MessagePort[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

function collect(w: TrainingWorker): TrainEvent[] {
  const events: TrainEvent[] = [];
  w.on("event", ({ event }) => events.push(event));
  return events;
}

describe("training in a worker", () => {
  it("streams the run's events, reports its backend and ends", async () => {
    const { page, ports } = pair();
    open.push(...ports);
    const events = collect(page);
    const ready = new Promise((done) => page.on("ready", ({ info }) => done(info)));
    page.start({ ...OPTIONS, maxSteps: 12 });
    expect(await page.ended()).toBeNull();
    expect(await ready).toEqual({ backend: "js", module: null, threads: 1, crossOriginIsolated: false, note: null });
    expect(events[0].event).toBe("start");
    expect(events.filter((e) => e.event === "step").length).toBe(12);
    expect(events.at(-1)).toMatchObject({ event: "done", reason: "max-steps", step: 12 });
    // the same run in this thread: the same losses
    const direct: number[] = [];
    await train({ ...OPTIONS, maxSteps: 12, backend: "js" }, (e) => e.event === "step" && direct.push(e.loss));
    expect(events.flatMap((e) => (e.event === "step" ? [e.loss] : []))).toEqual(direct);
  });

  it("pauses between steps, continues, and stops; the snapshot resumes to the uninterrupted weights", async () => {
    const { page, ports } = pair();
    open.push(...ports);
    const events = collect(page);
    page.start({ ...OPTIONS, maxSteps: 30 });
    await new Promise<void>((done) => {
      const off = page.on("event", ({ event }) => event.event === "step" && event.step === 3 && (off(), page.pause(), done()));
    });
    await new Promise<void>((done) => page.on("paused", ({ paused }) => paused && done()));
    const held = events.length;
    await new Promise((r) => setTimeout(r, 100));
    const steps = events.filter((e) => e.event === "step").length;
    expect(events.length - held).toBeLessThanOrEqual(2); // at most the step (and eval) in flight
    const snap = await page.snapshot(); // between steps, while paused
    const ck = decodeCheckpoint(snap, "snapshot");
    expect(ck.training?.progress.step).toBe(steps);
    page.continue();
    await new Promise<void>((done) => {
      const off = page.on("event", ({ event }) => event.event === "step" && event.step === steps + 4 && (off(), page.stop(), done()));
    });
    expect(await page.ended()).toBeNull();
    expect(events.at(-1)).toMatchObject({ event: "done", reason: "aborted" });

    // resume the snapshot in a fresh worker to the end: the same weights as one run of 30 steps
    const other = pair();
    open.push(...other.ports);
    other.page.start({ ...OPTIONS, maxSteps: 30 }, { resume: snap });
    expect(await other.page.ended()).toBeNull();
    const resumed = decodeCheckpoint(await other.page.snapshot(), "resumed");
    const whole = await train({ ...OPTIONS, maxSteps: 30, backend: "js" });
    expect(Array.from(resumed.tensors.get("params")!)).toEqual(Array.from(whole.training.model.params.data));
  });

  it("loads a checkpoint for handlers, and returns errors as messages", async () => {
    const { page, ports } = pair();
    open.push(...ports);
    expect(await page.call("vocabSize")).toBeNull();
    await expect(page.snapshot()).rejects.toThrow(/there is no model yet: start a training or load a checkpoint first/);
    const made = await train({ ...OPTIONS, maxSteps: 2, backend: "js" });
    const bytes = encodeCheckpoint(made.training.snapshot());
    const summary = await page.load(bytes.slice());
    expect(summary).toMatchObject({ cell: "lstm", layers: 1, hidden: 12, vocabSize: made.training.vocab.tokens.length, step: 2 });
    expect(await page.call("vocabSize")).toBe(made.training.vocab.tokens.length);
    expect(Array.from(decodeCheckpoint(await page.snapshot(), "x").tensors.get("params")!)).toEqual(Array.from(made.training.model.params.data));
    await expect(page.load(new TextEncoder().encode("not a checkpoint"))).rejects.toThrow(/checkpoint/);
    await expect(page.call("fail")).rejects.toThrow("as asked");
    await expect(page.call("nope")).rejects.toThrow('the worker has no handler "nope"');
    // a bad option: the run ends with the library's message
    page.start({ ...OPTIONS, hidden: 0, maxSteps: 2 });
    expect(await page.ended()).toMatch(/hidden must be a positive integer, got 0/);
  });
});
