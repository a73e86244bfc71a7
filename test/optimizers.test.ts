import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import { createLanguageModel, type RecurrentState } from "../src/model/language-model.js";
import { Rng } from "../src/tensor/random.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { createOptimizer, type Optimizer, type OptimizerConfig, type OptimizerState } from "../src/train/optimizers.js";
import { createStepContext, DivergedError, trainStep } from "../src/train/step.js";

const p0 = [1, -2, 0.5];
/** Gradients of steps 1, 2, 3. */
const gs = [
  [0.1, -0.3, 0.2],
  [-0.2, 0.05, 0.4],
  [0.3, 0.1, -0.1],
];

/**
 * Parameters after steps 1, 2, 3 from p0 and gs, by PyTorch 1.13.0 (Debian `python3-torch`,
 * float64, `torch.set_default_dtype(torch.float64)`): for each case,
 *   p = torch.tensor(p0, requires_grad=True); opt = Class([p], **kwargs)
 *   for g in gs: p.grad = torch.tensor(g); opt.step(); print(repr of p.tolist())
 */
const torchCases: { name: string; torch: string; config: OptimizerConfig; steps: number[][] }[] = [
  {
    name: "sgd",
    torch: "SGD(lr=0.1)",
    config: { kind: "sgd", lr: 0.1 },
    steps: [
      [0.99, -1.97, 0.48],
      [1.01, -1.9749999999999999, 0.44],
      [0.98, -1.9849999999999999, 0.45],
    ],
  },
  {
    name: "sgd momentum + weight decay",
    torch: "SGD(lr=0.1, momentum=0.9, weight_decay=0.01)",
    config: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 0.01 },
    steps: [
      [0.989, -1.968, 0.4795],
      [0.998111, -1.942232, 0.42057049999999996],
      [0.975312789, -1.927098568, 0.37711337949999996],
    ],
  },
  {
    name: "sgd nesterov",
    torch: "SGD(lr=0.1, momentum=0.9, nesterov=True)",
    config: { kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: true },
    steps: [
      [0.981, -1.943, 0.462],
      [1.0109, -1.9282000000000001, 0.3698],
      [0.9628099999999999, -1.92938, 0.34182],
    ],
  },
  {
    name: "adagrad + weight decay",
    torch: "Adagrad(lr=0.1, weight_decay=0.01)",
    config: { kind: "adagrad", lr: 0.1, weightDecay: 0.01 },
    steps: [
      [0.9000000000909091, -1.90000000003125, 0.40000000004878045],
      [0.986656300116734, -1.9096423600434718, 0.3108237298498057],
      [0.9051683972629352, -1.9340460922827818, 0.33173799655056274],
    ],
  },
  {
    name: "rmsprop",
    torch: "RMSprop(lr=0.01)",
    config: { kind: "rmsprop", lr: 0.01 },
    steps: [
      [0.9000000999999, -1.9000000333333222, 0.40000004999997507],
      [0.9895323561269267, -1.916520492886186, 0.31046777383288177],
      [0.9091819282472542, -1.948035661325197, 0.3324151216434958],
    ],
  },
  {
    name: "rmsprop centered + momentum + weight decay",
    torch: "RMSprop(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)",
    config: { kind: "rmsprop", lr: 0.01, momentum: 0.9, centered: true, weightDecay: 0.01 },
    steps: [
      [0.8994963103013595, -1.8994962500397254, 0.3994962677472747],
      [0.8958683442831745, -1.8187738241040698, 0.21896167182068127],
      [0.8108767930064974, -1.7710642314689662, 0.07783444129370268],
    ],
  },
  {
    name: "adam",
    torch: "Adam(lr=0.1)",
    config: { kind: "adam", lr: 0.1 },
    steps: [
      [0.900000009999999, -1.9000000033333333, 0.40000000499999977],
      [0.9366103603884888, -1.8461462506452082, 0.3034818054695385],
      [0.9022862539477428, -1.826574708193867, 0.24462113442151592],
    ],
  },
  {
    name: "adam betas + eps + weight decay",
    torch: "Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)",
    config: { kind: "adam", lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
    steps: [
      [0.99000004999975, -1.99000001999996, 0.49000003999984],
      [0.9879280759638361, -1.981715183910323, 0.4800911044123048],
      [0.9810266797435051, -1.974498957367471, 0.47366306180529005],
    ],
  },
  {
    name: "adamw",
    torch: "AdamW(lr=0.1, weight_decay=0.1)",
    config: { kind: "adamw", lr: 0.1, weightDecay: 0.1 },
    steps: [
      [0.890000009999999, -1.8800000033333333, 0.39500000499999977],
      [0.9177103602884887, -1.8073462506118751, 0.2945318054195385],
      [0.8742091502448578, -1.7697012456544152, 0.2327258163173205],
    ],
  },
];

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]), `element ${i}`).toBeLessThanOrEqual(tol);
}

describe("optimizers against PyTorch 1.13 (float64)", () => {
  for (const c of torchCases) {
    it(`${c.name} = torch.optim.${c.torch} for 3 steps`, () => {
      const p = Float64Array.from(p0);
      const opt = createOptimizer(c.config, 3, "float64");
      c.steps.forEach((expected, k) => {
        const g = Float64Array.from(gs[k]);
        opt.step(p, g);
        expect(opt.t).toBe(k + 1);
        expectClose(p, expected, 1e-14);
        expect(Array.from(g)).toEqual(gs[k]); // gradients are never written
      });
    });

    it(`${c.name} in float32 stays within float32 rounding of float64`, () => {
      const p = Float32Array.from(p0);
      const opt = createOptimizer(c.config, 3, "float32");
      gs.forEach((g) => opt.step(p, Float32Array.from(g)));
      expectClose(p, c.steps[2], 1e-6);
    });
  }
});

describe("optimizers by hand", () => {
  it("adam's first step moves each parameter by lr·sign(g) (m̂ = g, v̂ = g²)", () => {
    const p = Float64Array.from(p0);
    createOptimizer({ kind: "adam", lr: 0.01, eps: 0 }, 3, "float64").step(p, Float64Array.from(gs[0]));
    expectClose(p, [1 - 0.01, -2 + 0.01, 0.5 - 0.01], 1e-15);
  });

  it("adam steps 1-3 follow the textbook formulas with bias correction", () => {
    const [lr, b1, b2, eps] = [0.05, 0.9, 0.999, 1e-8];
    const p = Float64Array.from(p0);
    const opt = createOptimizer({ kind: "adam", lr, beta1: b1, beta2: b2, eps }, 3, "float64");
    const want = [...p0];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    for (let t = 1; t <= 3; t++) {
      const g = gs[t - 1];
      for (let i = 0; i < 3; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2;
        const mHat = m[i] / (1 - b1 ** t);
        const vHat = v[i] / (1 - b2 ** t);
        want[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
      opt.step(p, Float64Array.from(g));
      expectClose(p, want, 1e-14);
    }
  });

  it("an lr passed to step overrides the configured one", () => {
    const p = Float64Array.from(p0);
    createOptimizer({ kind: "sgd", lr: 1 }, 3, "float64").step(p, Float64Array.from(gs[0]), 0.1);
    expectClose(p, torchCases[0].steps[0], 1e-15);
  });
});

describe("optimizer state", () => {
  for (const c of torchCases) {
    it(`${c.name}: export after 1 step, import into a fresh optimizer, 2 more steps = 3 uninterrupted`, () => {
      const whole = Float64Array.from(p0);
      const a = createOptimizer(c.config, 3, "float64");
      gs.forEach((g) => a.step(whole, Float64Array.from(g)));

      const p = Float64Array.from(p0);
      const b = createOptimizer(c.config, 3, "float64");
      b.step(p, Float64Array.from(gs[0]));
      const saved = JSON.parse(JSON.stringify(b.exportState())) as OptimizerState;
      const resumed = createOptimizer(c.config, 3, "float64");
      resumed.importState(saved);
      expect(resumed.t).toBe(1);
      resumed.step(p, Float64Array.from(gs[1]));
      resumed.step(p, Float64Array.from(gs[2]));
      expect(Array.from(p)).toEqual(Array.from(whole));
      expect(resumed.exportState()).toEqual(a.exportState());
    });
  }

  it("exports the moment buffers by their names, as copies", () => {
    const opt = createOptimizer({ kind: "rmsprop", lr: 0.01, centered: true, momentum: 0.5 }, 3, "float64");
    const state = opt.exportState();
    expect(Object.keys(state.buffers).sort()).toEqual(["b", "gAve", "v"]);
    expect(Object.keys(createOptimizer({ kind: "sgd", lr: 0.1 }, 3, "float64").exportState().buffers)).toEqual([]);
    opt.step(Float64Array.from(p0), Float64Array.from(gs[0]));
    expect(state.buffers.v).toEqual([0, 0, 0]);
  });

  it("rejects state of another kind, size or configuration, saying what is wrong", () => {
    const adam = createOptimizer({ kind: "adam", lr: 0.1 }, 3, "float64");
    const state = adam.exportState();
    expect(() => createOptimizer({ kind: "adamw", lr: 0.1 }, 3, "float64").importState(state)).toThrow(/state is for adam, but this optimizer is adamw/);
    expect(() => createOptimizer({ kind: "adam", lr: 0.1 }, 4, "float64").importState(state)).toThrow(/buffer "m" must be an array of 4 numbers, got 3 entries/);
    expect(() => adam.importState({ ...state, t: -1 })).toThrow(/integer ≥ 0/);
    expect(() => adam.importState({ ...state, buffers: { m: [0, 0, 0] } })).toThrow(/buffers are \[m\] but this configuration needs \[m, v\]/);
    const sgd = createOptimizer({ kind: "sgd", lr: 0.1, momentum: 0.9 }, 3, "float64");
    expect(() => sgd.importState({ kind: "sgd", t: 1, buffers: {} })).toThrow(/needs \[b\]/);
  });
});

describe("optimizer config and call checks", () => {
  it("fills PyTorch's defaults", () => {
    expect(createOptimizer({ kind: "adamw", lr: 1e-3 }, 1, "float32").config).toEqual({ kind: "adamw", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    expect(createOptimizer({ kind: "adagrad", lr: 0.01 }, 1, "float32").config).toEqual({ kind: "adagrad", lr: 0.01, eps: 1e-10, weightDecay: 0 });
    expect(createOptimizer({ kind: "rmsprop", lr: 0.01 }, 1, "float32").config).toEqual({
      kind: "rmsprop",
      lr: 0.01,
      alpha: 0.99,
      eps: 1e-8,
      momentum: 0,
      centered: false,
      weightDecay: 0,
    });
  });

  it("rejects invalid configs with errors that name the option", () => {
    expect(() => createOptimizer({ kind: "sgd", lr: -1 }, 1, "float64")).toThrow(/sgd option lr must be a number ≥ 0, got -1/);
    expect(() => createOptimizer({ kind: "sgd", lr: 0.1, nesterov: true }, 1, "float64")).toThrow(/nesterov needs momentum > 0/);
    expect(() => createOptimizer({ kind: "adam", lr: 0.1, beta1: 1 }, 1, "float64")).toThrow(/beta1 must be a number in \[0, 1\), got 1/);
    expect(() => createOptimizer({ kind: "adam", lr: 0.1, beta2: -0.1 }, 1, "float64")).toThrow(/beta2/);
    expect(() => createOptimizer({ kind: "rmsprop", lr: 0.1, momentum: Number.NaN }, 1, "float64")).toThrow(/momentum/);
    expect(() => createOptimizer({ kind: "adam", lr: 0.1, momentum: 0.9 } as unknown as OptimizerConfig, 1, "float64")).toThrow(/adam has no option "momentum"/);
    expect(() => createOptimizer({ kind: "lion", lr: 0.1 } as unknown as OptimizerConfig, 1, "float64")).toThrow(/unknown optimizer kind "lion"/);
    expect(() => createOptimizer({ kind: "sgd" } as unknown as OptimizerConfig, 1, "float64")).toThrow(/lr must be a number/);
  });

  it("momentum without nesterov is fine", () => {
    expect(createOptimizer({ kind: "sgd", lr: 0.1, momentum: 0.9 }, 1, "float64").config).toEqual({ kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 });
  });

  it("checks buffer sizes, dtype and the lr override on every step", () => {
    const opt = createOptimizer({ kind: "sgd", lr: 0.1 }, 3, "float64");
    expect(() => opt.step(new Float64Array(2), new Float64Array(3))).toThrow(/made for 3 parameters; got 2 parameters and 3 gradients/);
    expect(() => opt.step(new Float32Array(3), new Float32Array(3))).toThrow(/state is float64 but the parameters are float32/);
    expect(() => opt.step(new Float64Array(3), new Float64Array(3), -0.1)).toThrow(/learning rate/);
    expect(() => opt.guardedStep!(new Float64Array(3), new Float64Array(3), new Float64Array(2))).toThrow(/backup must be a float64 buffer of 3 elements, got float64 × 2/);
    expect(() => opt.guardedStep!(new Float64Array(3), new Float64Array(3), new Float32Array(3))).toThrow(/backup must be a float64 buffer/);
    expect(opt.t).toBe(0);
  });
});

describe("guarded steps", () => {
  for (const c of torchCases) {
    it(`${c.name}: guardedStep keeps the parameters before it and returns Σ p² after it; the update is step's`, () => {
      const plain = createOptimizer(c.config, 3, "float64");
      const guarded = createOptimizer(c.config, 3, "float64");
      const p = Float64Array.from(p0);
      const q = Float64Array.from(p0);
      const backup = new Float64Array(3);
      for (let k = 0; k < 3; k++) {
        const before = q.slice();
        plain.step(p, Float64Array.from(gs[k]));
        const sum = guarded.guardedStep!(q, Float64Array.from(gs[k]), backup);
        expect(Array.from(q)).toEqual(Array.from(p));
        expect(Array.from(backup)).toEqual(Array.from(before));
        expect(sum).toBe(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
      }
      expect(guarded.t).toBe(3);
      expect(guarded.exportState()).toEqual(plain.exportState());
    });
  }
});

describe("an optimizer without guardedStep (the interface before it)", () => {
  /** `steps` steps of a small LSTM LM on the js backend with `wrap(optimizer)`; the parameters, or the error. */
  function train(wrap: (o: Optimizer) => Optimizer, lr: number, steps: number): { params: Float32Array; error: unknown } {
    const rng = Rng.seeded(4);
    const model = createLanguageModel({ vocabSize: 11, embedSize: 6, cell: parseCell("lstm"), hiddenSize: 8, numLayers: 1, dropout: 0 }, "float32");
    initLanguageModel(model, rng);
    const optimizer = wrap(createOptimizer({ kind: "sgd", lr }, model.params.data.length, "float32"));
    const ctx = createStepContext(getBackend("js"), model, optimizer, rng, { clipNorm: 1e30 });
    let state: RecurrentState | null = null;
    let error: unknown = null;
    try {
      for (let k = 0; k < steps; k++) {
        const x = Int32Array.from({ length: 12 }, () => rng.int(11));
        state = trainStep(ctx, { x, y: x.map((v) => (v + 1) % 11), S: 4, B: 3 }, state).state;
      }
    } catch (e) {
      error = e;
    }
    return { params: Float32Array.from(model.params.data), error };
  }
  const old = (o: Optimizer): Optimizer => ({ config: o.config, size: o.size, dtype: o.dtype, get t() { return o.t; }, step: o.step.bind(o), exportState: o.exportState.bind(o), importState: o.importState.bind(o) });

  it("trains as one with it, and a diverging update is undone the same way", () => {
    expect(old(createOptimizer({ kind: "sgd", lr: 1 }, 3, "float32")).guardedStep).toBeUndefined();
    const a = train((o) => o, 0.5, 3), b = train(old, 0.5, 3);
    expect(a.error).toBeNull();
    expect(Buffer.from(b.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
    const before = train((o) => o, 1e300, 0).params;
    for (const run of [train((o) => o, 1e300, 1), train(old, 1e300, 1)]) {
      expect(run.error).toBeInstanceOf(DivergedError);
      expect((run.error as DivergedError).quantity).toBe("parameters");
      expect(Array.from(run.params)).toEqual(Array.from(before));
    }
  });
});
