/// <reference lib="dom" />
/**
 * The web lab end to end, in Debian's Chromium driven by playwright-core (no browser download):
 * the page loads cross-origin isolated and trains on two wasm threads in its worker, the loss
 * falls, it samples, it loads a checkpoint made by `unroll train` and saves one `unroll sample`
 * reads, the activation view renders, the gradient chart draws, and without isolation it says
 * why it runs on one thread. Any console error or uncaught exception fails the test.
 *
 * Needs Chromium (`apt-get install -y chromium`; .ci/run installs it). Without one the suite is
 * skipped locally and fails under CI. Screenshots go to runs/screenshots/ (UNROLL_SCREENSHOTS).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath, launchChromium } from "../scripts/chromium.mjs";
import { serveStatic, type RunningServer } from "../src/node/serve.js";

/** What the page exposes for the console (web/src/app.ts). */
declare global {
  interface Window {
    unrollLab: { history: { train: [number, number][]; val: [number, number][] } };
  }
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(repo, "dist", "web");
const cli = join(repo, "dist", "cli", "main.js");
const shots = process.env.UNROLL_SCREENSHOTS ?? join(repo, "runs", "screenshots");
const haveChromium = chromiumPath() !== null;
if (!haveChromium && process.env.CI) throw new Error("the browser tests need Chromium: apt-get install -y chromium");

describe.skipIf(!haveChromium)("the web lab in Chromium", () => {
  let server: RunningServer;
  let plain: RunningServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "unroll-web-"));

  const watch = (p: Page) => {
    p.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
    p.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    p.on("requestfailed", (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  };
  const shot = (p: Page, name: string) => p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const message = () => page.textContent("#message");

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    server = await serveStatic({ root: web, port: 0 });
    plain = await serveStatic({ root: web, port: 0, isolate: false });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, acceptDownloads: true });
    watch(page);
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector("#backend")?.textContent?.includes("thread"), null, { timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await plain?.close();
  });

  it("runs the wasm backend on two threads in a cross-origin isolated page", async () => {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const backend = await page.textContent("#backend");
    expect(backend).toMatch(/backend: wasm .*2 threads, cross-origin isolated/);
    expect(errors).toEqual([]);
  });

  it("trains 100 steps in the worker and the loss falls", async () => {
    await page.fill("#hidden", "64");
    await page.fill("#batch", "16");
    await page.fill("#seq-len", "32");
    await page.fill("#steps", "100");
    await page.fill("#eval-every", "50");
    await page.click("#train-start");
    // the page stays responsive while the worker trains: the tabs answer clicks
    await page.waitForFunction(() => window.unrollLab.history.train.length >= 5);
    await page.click("#tab-generate");
    await page.click("#tab-train");
    await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("training stopped"), null, { timeout: 90_000 });
    const h = await page.evaluate(() => window.unrollLab.history);
    expect(h.train.length).toBe(100);
    const mean = (xs: [number, number][]) => xs.reduce((s, [, y]) => s + y, 0) / xs.length;
    expect(mean(h.train.slice(0, 5))).toBeGreaterThan(4); // ≈ ln(vocabulary) at the start
    expect(mean(h.train.slice(-10))).toBeLessThan(mean(h.train.slice(0, 5)) - 1); // and well below it after 100 steps
    expect(h.val.map(([s]) => s)).toEqual([0, 50, 100]);
    expect(h.val[2][1]).toBeLessThan(h.val[0][1] - 1);
    expect(await message()).toContain("max-steps");
    await shot(page, "train");
    expect(errors).toEqual([]);
  });

  it("generates text from the trained model, streamed, the same for the same seed", async () => {
    await page.click("#tab-generate");
    await page.fill("#length", "300");
    const once = async () => {
      await page.click("#generate");
      await page.waitForFunction(() => document.querySelector("#sample-status")?.textContent?.includes("chars/s"), null, { timeout: 60_000 });
      return (await page.textContent("#sample-out")) ?? "";
    };
    const a = await once();
    expect(a.startsWith("Call me ")).toBe(true);
    expect(a.length).toBeGreaterThan(300);
    expect(await page.textContent("#sample-status")).toMatch(/^300 characters in .*, int8 weights\)/); // auto: the wasm int8 kernel
    expect(await once()).toBe(a);
    await page.selectOption("#sample-weights", "float32");
    const f = await once();
    expect(f.startsWith("Call me ")).toBe(true);
    expect(await page.textContent("#sample-status")).toMatch(/, float32 weights\)/);
    expect(await once()).toBe(f);
    await page.selectOption("#sample-weights", "auto");
    await shot(page, "generate");
    expect(errors).toEqual([]);
  });

  it("saves a checkpoint that `unroll sample` reads", async () => {
    await page.click("#tab-train");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#ckpt-save")]);
    const file = join(tmp, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toMatch(/^unroll-lstm-2x64-step100\.ckpt$/);
    const out = execFileSync(process.execPath, [cli, "sample", "--model", file, "--length", "40", "--prime", "The "], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(out.startsWith("The ")).toBe(true);
    expect(out.trim().length).toBeGreaterThan(30);
    // the same checkpoint, loaded back into the page, resumes its run: 100 → 110 steps
    await page.setInputFiles("#ckpt-load", file);
    await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("trained 100 steps"));
    await page.fill("#steps", "110");
    await page.click("#ckpt-resume");
    await page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("training stopped"), null, { timeout: 60_000 });
    expect(await message()).toMatch(/training stopped \(max-steps\) at step 110/);
    // and the weights download is a safetensors file with PyTorch's names that `unroll inspect` reads
    const [weights] = await Promise.all([page.waitForEvent("download"), page.click("#weights-save")]);
    const wfile = join(tmp, weights.suggestedFilename());
    await weights.saveAs(wfile);
    const info = execFileSync(process.execPath, [cli, "inspect", wfile], { encoding: "utf8" });
    expect(info).toMatch(/safetensors/i);
    expect(info).toContain("lstm.weight_hh_l1");
    expect(info).toContain("embedding.weight");
    expect(errors).toEqual([]);
  });

  it("colours the text by a unit, shows the top-5 predictions, and ranks units by a pattern", async () => {
    await page.click("#tab-inside");
    await page.fill("#inspect-text", '“Call me Ishmael,” he said (twice).\nThen: “No.”');
    await page.click("#inspect-run");
    await page.waitForFunction(() => document.querySelector("#inspect-status")?.textContent?.includes("traced"), null, { timeout: 30_000 });
    expect(await page.textContent("#inspect-status")).toMatch(/^lstm, layer 1, h: hidden state, unit 0 of 64 · 47 characters/);
    const colours = await page.$$eval("#inspect-chars span", (els) => els.map((e) => (e as HTMLElement).style.background));
    expect(colours.length).toBe(47);
    expect(new Set(colours).size).toBeGreaterThan(5); // a real activation, not one flat colour
    const before = colours.join();
    await page.selectOption("#inspect-quantity", "f");
    expect(await page.$$eval("#inspect-chars span", (els) => els.map((e) => (e as HTMLElement).style.background).join())).not.toBe(before);
    await page.hover("#inspect-chars span[data-t='3']");
    const preds = await page.$$eval("#inspect-preds .pred", (els) => els.map((e) => Number(e.getAttribute("title"))));
    expect(preds.length).toBe(5);
    expect(preds.every((p, i) => p > 0 && p < 1 && (i === 0 || p <= preds[i - 1]))).toBe(true);
    await page.selectOption("#inspect-quantity", "h");
    await page.click("#pattern-find");
    await page.waitForSelector("#units-table tr[data-unit]");
    const rs = await page.$$eval("#units-table tr[data-unit] td:nth-child(2)", (els) => els.map((e) => Math.abs(Number(e.textContent))));
    expect(rs.length).toBe(12);
    expect(rs.every((r, i) => r <= 1 && (i === 0 || r <= rs[i - 1]))).toBe(true);
    expect(await page.textContent("#units-note")).toContain("non-zero at 21 of 47 characters");
    const top = await page.getAttribute("#units-table tr[data-unit]", "data-unit");
    expect(await page.inputValue("#inspect-unit")).toBe(top); // the best unit colours the text
    await shot(page, "look-inside");
    expect(errors).toEqual([]);
  });

  it("draws the network unrolled and steps BPTT back through it", async () => {
    await page.click("#tab-unrolled");
    await page.fill("#unrolled-text", "the whale");
    await page.click("#unrolled-run");
    await page.waitForSelector("#unrolled-svg svg");
    expect(await page.$$eval("#unrolled-svg g[data-step]", (els) => els.length)).toBe(9);
    await page.click("#unrolled-fwd");
    await page.click("#unrolled-fwd");
    expect(await page.textContent("#unrolled-detail")).toMatch(/^step 2: read “e”, next is “␣”/);
    await page.selectOption("#unrolled-mode", "backward");
    await page.selectOption("#unrolled-loss", "last");
    const norms: number[] = [];
    for (let k = 0; k < 8; k++) {
      await page.click("#unrolled-back");
      norms.push(Number((await page.textContent("[data-testid=dh-norm]"))!.match(/= ([0-9.e+-]+)/)![1]));
    }
    expect(norms.every((n) => n > 0 && Number.isFinite(n))).toBe(true); // the last step's loss reaches back to step 0
    expect(await page.isDisabled("#unrolled-back")).toBe(true);
    await shot(page, "unrolled");
    expect(errors).toEqual([]);
  });

  it("plots the vanishing gradient live: the RNN's falls by orders of magnitude, the LSTM's much less", async () => {
    await page.click("#tab-gradients");
    type Norms = { T: number; scale: number; cells: Record<string, { dh: number[] }> };
    const norms = async (T: number): Promise<Norms> => {
      await page.waitForFunction((T) => JSON.parse((document.querySelector("#grad-summary") as HTMLElement).dataset.json ?? "{}").T === T, T, { timeout: 30_000 });
      return JSON.parse((await page.getAttribute("#grad-summary", "data-json"))!) as Norms;
    };
    const a = await norms(100);
    expect(Object.keys(a.cells).sort()).toEqual(["gru", "lstm", "rnn"]);
    for (const c of Object.values(a.cells)) expect(c.dh.length).toBe(101);
    expect(a.cells.rnn.dh[100]).toBeLessThan(1e-10);
    expect(a.cells.lstm.dh[100]).toBeGreaterThan(1e6 * a.cells.rnn.dh[100]);
    // moving the T slider recomputes
    await page.$eval("#grad-T", (el) => {
      (el as HTMLInputElement).value = "40";
      el.dispatchEvent(new Event("input", { bubbles: true }));
    });
    const b = await norms(40);
    expect(b.cells.rnn.dh.length).toBe(41);
    await shot(page, "gradients");
    // the side-by-side training starts, draws, and stops on request
    await page.fill("#adding-T", "20");
    await page.click("#adding-start");
    await page.waitForFunction(() => (document.querySelector("#adding-summary") as HTMLElement).dataset.json?.includes('"step"'), null, { timeout: 30_000 });
    await page.waitForTimeout(1500);
    await page.click("#adding-stop");
    await page.waitForFunction(() => /stopped|solved/.test(document.querySelector("#adding-summary")?.textContent ?? ""), null, { timeout: 30_000 });
    expect(await page.textContent("#adding-summary")).toMatch(/rnn: .*\n?.*lstm: /s);
    expect(errors).toEqual([]);
  });

  it("loads a checkpoint made by `unroll train` and generates from it", async () => {
    const data = join(tmp, "abc.txt");
    writeFileSync(data, "abcabcabd ".repeat(400));
    const out = join(tmp, "cli-run");
    execFileSync(process.execPath, [cli, "train", "--data", data, "--max-steps", "60", "--hidden", "24", "--layers", "1", "--seq-len", "16", "--batch", "8", "--eval-every", "30", "--out", out, "--seed", "3"], { stdio: "ignore" });
    await page.setInputFiles("#ckpt-load", join(out, "latest.ckpt"));
    await page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("loaded latest.ckpt"));
    expect(await message()).toMatch(/loaded latest\.ckpt: lstm 1×24, 5 symbols, .* trained 60 steps/);
    await page.click("#tab-generate");
    await page.fill("#prime", "abc");
    await page.fill("#temperature", "0.05");
    await page.fill("#length", "30");
    await page.click("#generate");
    await page.waitForFunction(() => document.querySelector("#sample-status")?.textContent?.includes("chars/s"), null, { timeout: 30_000 });
    const text = (await page.textContent("#sample-out")) ?? "";
    expect(text).toMatch(/^abc[abcd ]{30}$/);
    expect(text).toContain("abcab"); // it learned the pattern
    // a file that is not a checkpoint: one clear message, nothing else changes
    const junk = join(tmp, "junk.ckpt");
    writeFileSync(junk, "not a checkpoint at all");
    await page.click("#tab-train");
    await page.setInputFiles("#ckpt-load", junk);
    await page.waitForFunction(() => document.querySelector("#message")?.classList.contains("error"));
    expect(await message()).toMatch(/^junk\.ckpt: /);
    expect(errors).toEqual([]);
  });

  it("without cross-origin isolation, says which headers are missing and trains on one thread; pause, continue, stop", async () => {
    const p = await browser.newPage();
    const own: string[] = [];
    p.on("pageerror", (e) => own.push(e.message));
    await p.goto(plain.url);
    await p.waitForFunction(() => document.querySelector("#backend")?.textContent?.includes("thread"), null, { timeout: 30_000 });
    expect(await p.textContent("#backend")).toMatch(/wasm .*1 thread, not cross-origin isolated/);
    expect(await p.textContent("[data-testid=backend-note]")).toContain("Cross-Origin-Opener-Policy: same-origin");
    expect(await p.textContent("[data-testid=backend-note]")).toContain("Cross-Origin-Embedder-Policy: require-corp");
    // pause holds the run, continue goes on, stop ends it
    await p.fill("#hidden", "16");
    await p.fill("#steps", "100000");
    await p.click("#train-start");
    const steps = () => p.evaluate(() => window.unrollLab.history.train.length);
    await p.waitForFunction(() => window.unrollLab.history.train.length >= 3);
    await p.click("#train-pause");
    await p.waitForFunction(() => document.querySelector("#message")?.textContent === "paused");
    const held = await steps();
    await p.waitForTimeout(500);
    expect(await steps()).toBeLessThanOrEqual(held + 1); // at most the step in flight
    expect(await p.textContent("#train-pause")).toBe("Continue");
    await p.click("#train-pause");
    await p.waitForFunction((n) => window.unrollLab.history.train.length > n + 2, held);
    await p.click("#train-stop");
    await p.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("training stopped (aborted)"), null, { timeout: 60_000 });
    expect(await p.isDisabled("#train-start")).toBe(false);
    await shot(p, "not-isolated");
    await p.close();
    expect(own).toEqual([]);
  });
});
