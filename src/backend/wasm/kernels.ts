/**
 * The compiled AssemblyScript kernels (assembly/*.ts) and the linear memory they work in.
 *
 * Tensors live in JS typed arrays, so each backend call lays out its operands in linear memory
 * (a bump allocator from `heapBase`, 64-byte aligned, reset per call), copies them in, runs one
 * coarse kernel and copies the results out. The memory only grows, to the largest call seen; no
 * call allocates per step. Browser-safe: no Node APIs, and no DOM or WebAssembly typings needed.
 */
import { inflateSync } from "fflate";
import { WASM_MODULE_SIZES, WASM_MODULES } from "./module.generated.js";

/** The exports of the module (bools are passed as 0/1; pointers are byte offsets). */
export interface KernelExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  /** 1 in the modules built with relaxed SIMD, else 0. */
  relaxedSimd(): number;
  packedASize(M: number, K: number): number;
  packedBSize(K: number, N: number): number;
  packB(trans: number, K: number, N: number, b: number, bp: number): void;
  sgemm(tA: number, tB: number, M: number, N: number, K: number, a: number, b: number, c: number, acc: number, ap: number, bp: number): void;
  addColumnSums(out: number, m: number, R: number, N: number): void;
  scatterAddRows(out: number, src: number, ids: number, R: number, N: number): void;
  setWorker(ctrl: number): void;
  lstmForward(...args: number[]): void;
  lstmBackward(...args: number[]): void;
  gruForward(...args: number[]): void;
  gruBackward(...args: number[]): void;
  rnnForward(...args: number[]): void;
  rnnBackward(...args: number[]): void;
  lstmCellStep(H: number, gates: number, c: number, h: number): void;
  adam(n: number, p: number, g: number, m: number, v: number, shrink: number, l2: number, b1: number, b2: number, stepSize: number, sqrtCorrection2: number, eps: number): void;
  sgd(n: number, p: number, g: number, b: number, lr: number, wd: number, mu: number, nesterov: number, firstStep: number): void;
  scale(n: number, x: number, s: number): void;
  sumSquares(n: number, x: number): number;
  softmaxXent(logits: number, targets: number, N: number, V: number, dlogits: number, ignore: number, scale: number, maxes: number, sums: number): void;
  qgemv(q: number, scale: number, rows: number, cols: number, x: number, y: number, accumulate: number, bias: number, dig: number): number;
}

/** The part of the global `WebAssembly` object used here (typed locally: the core has no DOM lib). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  compile(bytes: Uint8Array): Promise<object>;
  validate(bytes: Uint8Array): boolean;
}

/** The global `WebAssembly`, or null where there is none. */
export function webAssemblyApi(): WebAssemblyApi | null {
  return (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly ?? null;
}

/**
 * The two modules of a generated file (scripts/build-wasm.mjs): base64 of the SIMD128 and the
 * relaxed-SIMD module one after the other, deflated; returns [SIMD128, relaxed].
 */
function unpack(packed: string, sizes: readonly [number, number]): [Uint8Array, Uint8Array] {
  const atob = (globalThis as { atob?: (s: string) => string }).atob;
  if (!atob) throw new Error("the wasm backend needs atob (Node ≥ 16 or a browser)");
  const s = atob(packed);
  const deflated = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) deflated[i] = s.charCodeAt(i);
  const both = inflateSync(deflated, { out: new Uint8Array(sizes[0] + sizes[1]) });
  if (both.length !== sizes[0] + sizes[1]) throw new Error("the wasm modules in the package are damaged; reinstall unroll");
  return [both.subarray(0, sizes[0]), both.subarray(sizes[0])];
}

let single: [Uint8Array, Uint8Array] | null = null;

/**
 * The single-threaded module's bytes: with relaxed SIMD (a fused multiply-add in the GEMM
 * kernel: about 1.25× on T1 here) wherever the engine has it.
 */
export function moduleBytes(relaxed = relaxedSimdSupported()): Uint8Array {
  single ??= unpack(WASM_MODULES, WASM_MODULE_SIZES);
  return single[relaxed ? 1 : 0];
}

/**
 * A function (v128, v128, v128) → v128 of one `f32x4.relaxed_madd`: valid where the engine has
 * relaxed SIMD (Chrome 114+, Node 21+; Node 20 with --experimental-wasm-relaxed-simd).
 */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
]);

/** Whether this engine runs relaxed SIMD, so that the backend can use the fused multiply-add modules. */
export function relaxedSimdSupported(): boolean {
  try {
    return webAssemblyApi()?.validate(RELAXED_PROBE) ?? false;
  } catch {
    return false;
  }
}

/**
 * The threaded module's bytes, loaded on demand: its file is imported only here, so an app that
 * never starts threads does not carry it (a bundler leaves it out or puts it in its own chunk).
 */
export async function threadedModuleBytes(relaxed = relaxedSimdSupported()): Promise<Uint8Array> {
  const m = await import("./module-threads.generated.js");
  return unpack(m.WASM_THREADS_MODULES, m.WASM_THREADS_MODULE_SIZES)[relaxed ? 1 : 0];
}

const PAGE = 65536;

/** An instance of the kernels with its memory and a per-call bump allocator. */
export class Kernels {
  readonly k: KernelExports;
  /** Whether the module was built with relaxed SIMD (it exports `relaxedSimd` = 1). */
  readonly relaxed: boolean;
  private base: number;
  private top: number;
  private view: Float32Array;

  /** Instantiates `module`; the threaded module also needs its shared `memory`. */
  constructor(module: object, memory?: object) {
    const api = webAssemblyApi()!;
    this.k = new api.Instance(module, memory ? { env: { memory } } : {}).exports as KernelExports;
    this.relaxed = this.k.relaxedSimd() === 1;
    this.base = align(this.k.heapBase());
    this.top = this.base;
    this.view = new Float32Array(this.k.memory.buffer);
  }

  /**
   * Reserves n floats for good: a control block, a worker's tile (zeroed, reserved before any call),
   * or a `keep` block (whatever earlier calls left there).
   */
  reserve(n: number): number {
    const off = this.base;
    this.base = align(off + 4 * n);
    this.top = this.base;
    this.ready();
    return off;
  }

  /** Blocks given back by `release`, by byte offset and size, to be handed out again by `keep`. */
  private readonly spare: { off: number; bytes: number }[] = [];

  /**
   * A block of at least `bytes` (64-byte aligned, contents undefined) that later calls leave alone
   * until `release`: a spare one that fits, else one above every block so far (calls lay out
   * their buffers above it). For data kept between calls, e.g. compact weight matrices.
   */
  keep(bytes: number): number {
    const size = align(bytes);
    const i = this.spare.findIndex((b) => b.bytes >= size);
    if (i < 0) return this.reserve(size / 4);
    const b = this.spare[i];
    const off = b.off;
    if (b.bytes === size) this.spare.splice(i, 1);
    else this.spare[i] = { off: off + size, bytes: b.bytes - size };
    return off;
  }

  /** Gives back a block of `keep(bytes)` at `off`. */
  release(off: number, bytes: number): void {
    this.spare.push({ off, bytes: align(bytes) });
  }

  /** A view (no copy) of n bytes at byte offset `off` as int8, valid until memory grows. */
  int8s(off: number, n: number): Int8Array {
    return new Int8Array(this.view.buffer, off, n);
  }

  /** Starts the layout of a new call. */
  reset(): void {
    this.top = this.base;
  }

  /** Reserves n floats (64-byte aligned) and returns their byte offset. Call `ready` before use. */
  alloc(n: number): number {
    const off = this.top;
    this.top = align(off + 4 * n);
    return off;
  }

  /** Grows the memory to hold everything allocated since `reset`. */
  ready(): void {
    const have = this.k.memory.buffer.byteLength;
    if (this.top > have) this.k.memory.grow(Math.ceil((this.top - have) / PAGE));
    if (this.view.buffer !== this.k.memory.buffer || this.view.length === 0) this.view = new Float32Array(this.k.memory.buffer);
  }

  /** Copies the first n elements of src to float offset `off` (bytes). */
  put(off: number, src: Float32Array, n = src.length): void {
    this.view.set(n === src.length ? src : src.subarray(0, n), off >> 2);
  }

  /** Copies n floats from `off` into dst at dstIndex. */
  get(off: number, dst: Float32Array, n = dst.length, dstIndex = 0): void {
    dst.set(this.view.subarray(off >> 2, (off >> 2) + n), dstIndex);
  }

  /** Copies the i32 values of src to byte offset `off`. */
  putInt32(off: number, src: Int32Array): void {
    new Int32Array(this.view.buffer, off, src.length).set(src);
  }

  /** Writes `rows` copies of `row` from byte offset `off` on. */
  putRows(off: number, row: Float32Array, rows: number): void {
    for (let r = 0, o = off >> 2; r < rows; r++, o += row.length) this.view.set(row, o);
  }

  /** A view (no copy) of the n floats at byte offset `off`, valid until the next call. */
  floats(off: number, n: number): Float32Array {
    return this.view.subarray(off >> 2, (off >> 2) + n);
  }

  /** A view (no copy) of the n f64 values at byte offset `off` (8-byte aligned), valid until the next call. */
  doubles(off: number, n: number): Float64Array {
    return new Float64Array(this.view.buffer, off, n);
  }

  /** Sets n floats from byte offset `off` to `value`. */
  fill(off: number, value: number, n: number): void {
    this.view.fill(value, off >> 2, (off >> 2) + n);
  }

  /** Copies n floats inside linear memory, from byte offset `src` to `dst` (the ranges must not overlap). */
  move(dst: number, src: number, n: number): void {
    this.view.copyWithin(dst >> 2, src >> 2, (src >> 2) + n);
  }
}

function align(x: number): number {
  return (x + 63) & ~63;
}
