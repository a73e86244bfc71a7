/**
 * Yielding to the event loop between training steps, cheaply. `setTimeout(0)` is clamped to ≈ 4 ms
 * in browsers after a few nested calls (≈ 1 ms in Node), which is several percent of a small
 * model's step. In order of preference: Node's `setImmediate`, a `MessageChannel` message (not
 * clamped), then `setTimeout(0)`. Not `scheduler.yield()`: its continuation is run ahead of the
 * tasks already queued, so a worker that yields with it after every step never reads its
 * messages (pause, stop, a sample request) — measured in Chromium 150.
 */
type Port = { onmessage: (() => void) | null; postMessage(m: unknown): void; close?: () => void };
type Channel = new () => { port1: Port; port2: Port };

const g = globalThis as unknown as {
  setImmediate?: (f: () => void) => unknown;
  MessageChannel?: Channel;
  setTimeout: (f: () => void, ms?: number) => unknown;
};

let channel: { port1: Port; port2: Port } | null = null;
const waiting: (() => void)[] = [];

/** Resolves after the event loop has run other tasks (messages, timers, I/O). */
export function yieldToEventLoop(): Promise<void> {
  if (typeof g.setImmediate === "function") return new Promise((done) => g.setImmediate!(done));
  if (typeof g.MessageChannel === "function") {
    if (!channel) {
      channel = new g.MessageChannel();
      channel.port1.onmessage = () => waiting.shift()?.();
    }
    const c = channel;
    return new Promise((done) => {
      waiting.push(done);
      c.port2.postMessage(0);
    });
  }
  return new Promise((done) => g.setTimeout(done, 0));
}
