/**
 * Starts Debian's Chromium (or $CHROMIUM) headless through playwright-core, for the browser tests
 * and benchmarks. playwright-core never downloads a browser: the executable must be installed
 * (`apt-get install -y chromium`). The flags keep it off the network (this machine's is closed)
 * and allow root (CI runs as root).
 */
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The Chromium executable, or null when none is installed. */
export function chromiumPath() {
  if (process.env.CHROMIUM) return existsSync(process.env.CHROMIUM) ? process.env.CHROMIUM : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Launches it; `extraArgs` e.g. for WebGL on SwiftShader. */
export async function launchChromium(extraArgs = []) {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("no Chromium found: install it with `apt-get install -y chromium` (or set CHROMIUM to its path)");
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
}
