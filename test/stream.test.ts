/** sampleStream (the async form of sample) and yieldToEventLoop (how training lets messages in). */
import { describe, expect, it } from "vitest";
import { sample, sampleStream, train } from "../src/index.js";
import { yieldToEventLoop } from "../src/util/yield.js";

describe("sampleStream", async () => {
  const { training } = await train({ text: "abcabd ".repeat(200), hidden: 8, layers: 1, seqLen: 8, batch: 4, maxSteps: 5, backend: "js" });
  const lm = { model: training.model, vocab: training.vocab };

  it("yields exactly what sample does, yielding to the event loop as it goes", async () => {
    const o = { length: 400, prime: "ab", seed: 7, temperature: 0.9, backend: "js" };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const streamed: string[] = [];
    for await (const piece of sampleStream(lm, { ...o, yieldEveryMs: 0 })) streamed.push(piece);
    clearInterval(timer);
    expect(streamed).toEqual([...sample(lm, o)]);
    expect(ticks).toBeGreaterThan(0); // other tasks ran while it sampled
  });

  it("stops when its signal aborts", async () => {
    const signal = { aborted: false };
    const got: string[] = [];
    for await (const piece of sampleStream(lm, { length: 1000, signal, backend: "js" })) {
      got.push(piece);
      if (got.length === 10) signal.aborted = true;
    }
    expect(got.length).toBe(10);
  });
});

describe("yieldToEventLoop", () => {
  it("lets queued tasks run before it resolves", async () => {
    let ran = false;
    setImmediate(() => (ran = true));
    await yieldToEventLoop();
    expect(ran).toBe(true);
  });
});
