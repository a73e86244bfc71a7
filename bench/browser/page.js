// The benchmark page: `window.runConfig(cfg, protocol, timeoutS)` runs one configuration in a fresh
// dedicated module Worker and resolves to {ok: true, result} or {ok: false, error, partial}; the
// runner (run.mjs) calls it through page.evaluate and reads progress lines from the console.
window.benchEnv = () => ({
  crossOriginIsolated: self.crossOriginIsolated,
  hardwareConcurrency: navigator.hardwareConcurrency,
  userAgent: navigator.userAgent,
});

window.runConfig = (cfg, protocol, timeoutS) =>
  new Promise((resolve) => {
    const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: `bench ${cfg.name}` });
    const partial = { warm: [], times: [], losses: [] };
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      w.terminate();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `timed out after ${timeoutS} s`, partial }), timeoutS * 1000);
    w.onerror = (e) => finish({ ok: false, error: `worker error: ${e.message ?? e}`, partial });
    w.onmessage = (e) => {
      const m = e.data;
      if (m.type === "ready") w.postMessage({ cfg, protocol });
      else if (m.type === "progress") {
        (m.phase === "warmup" ? partial.warm : partial.times).push(m.s);
        partial.losses.push(m.loss);
        console.log(`[${m.cfg}] ${m.phase} step ${m.i}: ${(m.s * 1000).toFixed(0)} ms, loss ${Number(m.loss).toFixed(4)}`);
      } else if (m.type === "result") finish({ ok: true, result: m.result });
      else if (m.type === "error") finish({ ok: false, error: m.error, partial });
    };
  });
