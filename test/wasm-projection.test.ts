/**
 * The wasm recurrence `projects` (src/backend/backend.ts `FusedRecurrence.projects`): a fused
 * call takes the layer's input and makes XP in linear memory, and its backward pass adds dW_ih,
 * db_ih and dx there, or groups dXP by token. `unroll` then never copies XP or dXP between JS
 * arrays and linear memory. This must give bit for bit what `unroll`'s own projection around the
 * same backend gives — every cell the kernels run, both directions, dense, table and one-hot
 * inputs, with and without dx, gradients added into nonzero buffers, a single-row call (the GEMM's
 * unpacked path) — and reject a token id out of range before writing anything.
 */
import { describe, expect, it } from "vitest";
import type { Backend, FusedRecurrence } from "../src/backend/backend.js";
import { wasmBackend } from "../src/backend/wasm/index.js";
import { CELL_NAMES, createCell, parseCell, type CellParams } from "../src/cells/index.js";
import { unrollBackward, unrollForward, type UnrollInput } from "../src/sequence/unroll.js";
import { Rng } from "../src/tensor/random.js";

/** The same backend with the recurrence's projection turned off: `unroll` projects around it. */
function apart(b: Backend): Backend {
  const r = b.recurrence!;
  const recurrence: FusedRecurrence = { supports: (c, d) => r.supports(c, d), forward: (a) => r.forward(a), backward: (a) => r.backward(a) };
  return { ...b, recurrence };
}

function random(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.range(-1, 1));
}

type InputKind = "dense" | "table" | "one-hot";

/** Runs forward and backward of one direction; returns every buffer either pass wrote. */
function run(backend: Backend, name: string, reverse: boolean, kind: InputKind, withDx: boolean, dims: [number, number, number, number], seed: number) {
  const rng = Rng.seeded(seed);
  const cell = createCell(parseCell(name));
  const [T, B, I, H] = dims;
  const GH = cell.G * H;
  const V = kind === "one-hot" ? I : 7;
  const p: CellParams = {
    Wih: random(rng, GH * I, 0.5), Whh: random(rng, GH * H, 0.5), bih: random(rng, GH), bhh: random(rng, GH),
    extra: Object.fromEntries(cell.extras.map((e) => [e.key, random(rng, e.size(H), 0.5)])),
  };
  const table = kind === "table" ? random(rng, V * I) : null;
  const ids = Int32Array.from({ length: T * B }, () => Math.floor(rng.uniform() * V));
  const x: UnrollInput = kind === "dense" ? random(rng, T * B * I) : { ids, table, V };
  const h0 = random(rng, B * H), c0 = random(rng, B * H), dy = random(rng, T * B * H);
  const dp: CellParams = {
    Wih: random(rng, GH * I), Whh: random(rng, GH * H), bih: random(rng, GH), bhh: random(rng, GH),
    extra: Object.fromEntries(cell.extras.map((e) => [e.key, random(rng, e.size(H))])),
  };
  const dx = withDx ? random(rng, kind === "dense" ? T * B * I : V * I) : null;
  const cache = unrollForward(backend, cell, p, "float32", { T, B, H }, I, x, h0, cell.hasC ? c0 : null, reverse);
  const g = unrollBackward(backend, cell, p, dp, "float32", cache, dy, null, null, dx);
  return { hs: cache.hs, cs: cache.cs, dh0: g.dh0, dc0: g.dc0, dx, dWih: dp.Wih, dWhh: dp.Whh, dbih: dp.bih, dbhh: dp.bhh, ...dp.extra };
}

const CELLS = CELL_NAMES.filter((n) => !n.endsWith("-hard"));

describe("wasm recurrence with the input projection inside (projects)", () => {
  it("is on", () => {
    expect(wasmBackend.recurrence?.projects).toBe(true);
    expect(apart(wasmBackend).recurrence?.projects).toBeUndefined();
  });

  for (const name of CELLS) {
    it(`${name}: the same bits as unroll's own projection (directions, dense/table/one-hot input, dx or none)`, () => {
      let seed = 1;
      for (const reverse of [false, true]) {
        for (const kind of ["dense", "table", "one-hot"] as const) {
          for (const withDx of [true, false]) {
            for (const dims of [[5, 3, 6, 9], [1, 1, 4, 12]] as [number, number, number, number][]) {
              const s = seed++;
              const got = run(wasmBackend, name, reverse, kind, withDx, dims, s);
              const want = run(apart(wasmBackend), name, reverse, kind, withDx, dims, s);
              for (const k of Object.keys(want) as (keyof typeof want)[]) {
                expect(got[k], `${k}: ${reverse ? "reverse, " : ""}${kind}, ${withDx ? "dx" : "no dx"}, T·B·I·H ${dims.join("·")}`).toEqual(want[k]);
              }
            }
          }
        }
      }
    });
  }

  it("a token id out of range is refused, naming it, on either path", () => {
    const cell = createCell(parseCell("lstm"));
    const H = 4, I = 3, GH = cell.G * H;
    const p: CellParams = { Wih: new Float32Array(GH * I), Whh: new Float32Array(GH * H), bih: new Float32Array(GH), bhh: new Float32Array(GH), extra: {} };
    for (const backend of [wasmBackend, apart(wasmBackend)]) {
      for (const bad of [3, -1]) {
        const x: UnrollInput = { ids: Int32Array.from([0, bad]), table: null, V: 3 };
        expect(() => unrollForward(backend, cell, p, "float32", { T: 2, B: 1, H }, I, x, new Float32Array(H), null, false)).toThrow(
          `token input: id ${bad} at row 1 is not in 0…2 (V = 3)`,
        );
      }
    }
  });
});
