/**
 * The module graph of src/: the package root (`unroll`, src/index.ts) is for browsers too, so
 * nothing it reaches, statically or by dynamic import, may be a Node built-in, a module of
 * src/node/ or src/cli/, or a package outside the few browser-safe ones it needs; and no module
 * of src/ imports itself round a circle (type-only imports included), so the layering reads one way.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../src");
const BROWSER_SAFE_PACKAGES = ["pure-rand", "onnx-proto", "fflate"];

function specifiers(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [
    ...Array.from(text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g), (m) => m[1]),
    ...Array.from(text.matchAll(/(?:^|\n)\s*import\s+"([^"]+)"/g), (m) => m[1]),
    ...Array.from(text.matchAll(/import\(\s*"([^"]+)"\s*\)/g), (m) => m[1]),
  ];
}

/** Every module reachable from `entry`, with what each imports (relative ones resolved to .ts files). */
function graph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const deps: string[] = [];
    seen.set(file, deps);
    for (const spec of specifiers(file)) {
      if (!spec.startsWith(".")) {
        deps.push(spec);
        continue;
      }
      const path = resolve(dirname(file), /\.js$/.test(spec) ? spec.replace(/\.js$/, ".ts") : `${spec}.ts`); // AssemblyScript imports name no extension
      if (!existsSync(path)) throw new Error(`${relative(src, file)} imports ${spec}, which is not a file`);
      deps.push(path);
      visit(path);
    }
  };
  visit(entry);
  return seen;
}

describe("the package root is browser-safe", () => {
  it("reaches no Node built-in, no src/node or src/cli module, and only browser-safe packages", () => {
    const g = graph(resolve(src, "index.ts"));
    expect(g.size).toBeGreaterThan(50); // the walk really follows the imports
    const bad: string[] = [];
    for (const [file, deps] of g) {
      for (const d of deps) {
        const local = d.startsWith("/");
        const rel = local ? relative(src, d) : d;
        const pkg = d.split("/").slice(0, d.startsWith("@") ? 2 : 1).join("/"); // a subpath import names its package first
        if (!local && !BROWSER_SAFE_PACKAGES.includes(pkg)) bad.push(`${relative(src, file)} → ${d}`);
        if (local && (rel.startsWith("node/") || rel.startsWith("cli/"))) bad.push(`${relative(src, file)} → ${rel}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("the check sees a Node import (src/node/index.ts reaches node:fs)", () => {
    const g = graph(resolve(src, "node/index.ts"));
    expect([...g.values()].flat().some((d) => d.startsWith("node:"))).toBe(true);
  });
});

/** The strongly connected components of more than one module (Tarjan), as paths relative to src/. */
function cycles(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of (g.get(v) ?? []).filter((d) => g.has(d))) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(relative(src, w));
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) strong(v);
  return out;
}

describe("assembly/ (the wasm kernels) has no import cycles", () => {
  it("threads ← gemm ← cells ← worker ← index, each importing only below itself", () => {
    const g = graph(resolve(src, "../assembly/index.ts"));
    expect(g.size).toBeGreaterThanOrEqual(6);
    expect(cycles(g)).toEqual([]);
  });
});

describe("src/ has no import cycles", () => {
  const all = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) for (const [f, deps] of graph(p)) all.set(f, deps);
    }
  };
  walk(src);

  it("no module reaches itself through its imports", () => {
    expect(all.size).toBeGreaterThan(100);
    expect(cycles(all)).toEqual([]);
  });

  it("the folders of src/ import one way too (tensor ← backend ← cells ← sequence ← model ← train …)", () => {
    const folderOf = (f: string) => relative(src, f).split("/")[0].replace(/\.ts$/, "");
    const folders = new Map<string, Set<string>>();
    for (const [f, deps] of all) {
      const from = folderOf(f);
      const set = folders.get(from) ?? new Set<string>();
      folders.set(from, set);
      for (const d of deps) if (d.startsWith("/") && folderOf(d) !== from) set.add(resolve(src, folderOf(d)));
    }
    const g = new Map([...folders].map(([k, v]) => [resolve(src, k), [...v]]));
    expect(g.size).toBeGreaterThan(15);
    expect(cycles(g)).toEqual([]);
  });

  it("the check finds a circle where there is one", () => {
    const a = resolve(src, "a.ts");
    const b = resolve(src, "b.ts");
    const c = resolve(src, "c.ts");
    expect(cycles(new Map([[a, [b]], [b, [c, "pure-rand"]], [c, [a]]]))).toEqual([["a.ts", "b.ts", "c.ts"]]);
  });
});
