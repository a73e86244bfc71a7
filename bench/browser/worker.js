// The benchmark's dedicated module worker: runs one configuration (given by the page in the
// first message) and posts {type: "progress"} messages, then {type: "result"} or {type: "error"}.
// Each configuration gets a fresh worker, so no library state leaks between them.
self.onmessage = async (e) => {
  const { cfg, protocol } = e.data;
  const progress = (p) => self.postMessage({ type: "progress", cfg: cfg.name, ...p });
  try {
    const t0 = performance.now();
    let r;
    if (cfg.lib === "unroll") r = await (await import("./unroll-bench.js")).runUnroll(cfg, protocol, progress);
    else r = await (await import("./tfjs-bench.js")).runTfjs(cfg, protocol, progress);
    self.postMessage({ type: "result", result: { ...r, wallS: (performance.now() - t0) / 1000 } });
  } catch (err) {
    self.postMessage({ type: "error", error: String(err?.stack ?? err?.message ?? err) });
  }
};
self.postMessage({ type: "ready" });
