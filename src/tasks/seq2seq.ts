/**
 * Encoder–decoder sequence-to-sequence model (Sutskever et al. 2014; with Luong et al. 2015's
 * global attention), e.g. grapheme-to-phoneme conversion:
 *
 *   encoder:  x_s = src_embedding[src_s]                                 (Ts, B, E)
 *             k   = recurrent stack (bidirectional: Hₑ = H/2 units per direction) (Ts, B, H)
 *   bridge:   decoder layer l starts from [h_fwd; h_rev] of encoder layer l (each direction's
 *             final state, concatenated: H units), and likewise the LSTM cell state
 *   decoder:  u_t = tgt_embedding[y_{t−1}], y_0 = <s>                      (Tt, B, E)
 *             q   = unidirectional recurrent stack(u) from the bridge        (Tt, B, H)
 *   attend:   h̃_t = tanh(W_c [ctx_t; q_t] + b_c), ctx_t = Σ_s a_ts k_s,
 *             a_t = softmax_s score(q_t, k_s)  (dot, general or additive; src/layers/attention.ts)
 *             (without attention: h̃_t = q_t)
 *   output:   z_t = linear(h̃_t)                                            (Tt, B, Vₜ)
 *   loss:     mean over the real target tokens of cross-entropy(z_t, y_t), y ending with </s>
 *
 * All sources of a batch have one length (the trainer groups them by length), so the encoder's
 * two directions and its final states need no masking; targets are right-padded and padded
 * steps are left out of the loss (exact for the causal decoder).
 *
 * "additive" is Bahdanau et al. 2015's score v·tanh(W_q q + W_k k); it is used here inside
 * Luong's architecture (attention reads the decoder's current output q_t, not its previous state,
 * and there is no input feeding), so that the decoder runs over the whole target at once in
 * training.
 *
 * Scheduled sampling (Bengio et al. 2015) in its two-pass form (Mihaylova & Liu 2019): a first
 * teacher-forced pass without gradients predicts every step; each decoder input y_{t−1} (t ≥ 1)
 * is then replaced by that prediction with probability p, and the second pass is trained.
 */
import type { Backend } from "../backend/backend.js";
import { createCell, type CellConfig } from "../cells/index.js";
import { embeddingBackward, embeddingForward, oneHot } from "../layers/embedding.js";
import { linearBackward, linearForward } from "../layers/linear.js";
import { softmaxCrossEntropy } from "../layers/softmax-cross-entropy.js";
import {
  attentionBackward,
  attentionForward,
  attentionMemory,
  attentionSpecs,
  bindAttention,
  initAttention,
  repeatMemory,
  type AttentionConfig,
  type AttentionMemory,
  type AttentionParams,
  type AttentionScore,
} from "../layers/attention.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, type Recurrent, type RecurrentConfig } from "../sequence/recurrent.js";
import { createArena, view, type Arena, type TensorSpec } from "../tensor/arena.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/random.js";
import { normal, pytorchRnnUniform } from "../train/init.js";

// Dimensions: Ts source steps, Tt target steps, B batch, E embedding, H decoder units (Hₑ = H/D
// per encoder direction), D encoder directions, L layers, Vs/Vt vocabularies.

/** Ids every target vocabulary starts with. */
export const EOS_ID = 0;
export const BOS_ID = 1;
/** The target vocabulary's first two tokens: end and start of a sequence. */
export const TARGET_SPECIALS = ["</s>", "<s>"] as const;

export type Seq2SeqAttention = "none" | AttentionScore;

export interface Seq2SeqConfig {
  readonly srcVocabSize: number;
  /** Target vocabulary size, TARGET_SPECIALS included. */
  readonly tgtVocabSize: number;
  /** Embedding size of both sides; 0 feeds one-hot vectors. */
  readonly embedSize: number;
  readonly cell: CellConfig;
  /** Decoder units (and the encoder's, both directions together). */
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** A bidirectional encoder (hiddenSize must then be even). */
  readonly bidirectional: boolean;
  readonly dropout: number;
  readonly attention: Seq2SeqAttention;
  /** Units of the additive score. */
  readonly attentionSize: number;
}

export interface Seq2SeqModel {
  readonly kind: "seq2seq";
  readonly config: Seq2SeqConfig;
  readonly params: Arena;
}

function positive(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
}

export function validateSeq2SeqConfig(c: Seq2SeqConfig): void {
  positive(c.srcVocabSize, "srcVocabSize");
  positive(c.hiddenSize, "hiddenSize");
  positive(c.numLayers, "numLayers");
  if (!Number.isInteger(c.tgtVocabSize) || c.tgtVocabSize < 3) throw new Error(`tgtVocabSize must count </s>, <s> and at least one token, got ${c.tgtVocabSize}`);
  if (!Number.isInteger(c.embedSize) || c.embedSize < 0) throw new Error(`embedSize must be 0 (one-hot) or a positive integer, got ${c.embedSize}`);
  if (c.bidirectional && c.hiddenSize % 2 !== 0) throw new Error(`a bidirectional encoder splits hiddenSize between its directions: use an even size, got ${c.hiddenSize}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${c.dropout}`);
  if (!["none", "dot", "general", "additive"].includes(c.attention)) throw new Error(`unknown attention "${c.attention}"; choose none, dot, general or additive`);
  if (c.attention === "additive") positive(c.attentionSize, "attentionSize");
}

function encoderConfig(c: Seq2SeqConfig): RecurrentConfig {
  return {
    cell: c.cell,
    inputSize: c.embedSize > 0 ? c.embedSize : c.srcVocabSize,
    hiddenSize: c.bidirectional ? c.hiddenSize / 2 : c.hiddenSize,
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    dropout: c.dropout,
  };
}

function decoderConfig(c: Seq2SeqConfig): RecurrentConfig {
  return { cell: c.cell, inputSize: c.embedSize > 0 ? c.embedSize : c.tgtVocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bidirectional: false, dropout: c.dropout };
}

function attentionConfig(c: Seq2SeqConfig): AttentionConfig | null {
  return c.attention === "none" ? null : { score: c.attention, hiddenSize: c.hiddenSize, attentionSize: c.attentionSize };
}

export function seq2seqSpecs(c: Seq2SeqConfig): TensorSpec[] {
  validateSeq2SeqConfig(c);
  const att = attentionConfig(c);
  return [
    ...(c.embedSize > 0 ? [{ name: "src_embedding.weight", shape: [c.srcVocabSize, c.embedSize] }] : []),
    ...recurrentSpecs(encoderConfig(c), "encoder."),
    ...(c.embedSize > 0 ? [{ name: "tgt_embedding.weight", shape: [c.tgtVocabSize, c.embedSize] }] : []),
    ...recurrentSpecs(decoderConfig(c), "decoder."),
    ...(att ? attentionSpecs(att, "attention.") : []),
    { name: "linear.weight", shape: [c.tgtVocabSize, c.hiddenSize] },
    { name: "linear.bias", shape: [c.tgtVocabSize] },
  ];
}

export function createSeq2Seq(config: Seq2SeqConfig, dtype: DType = "float32"): Seq2SeqModel {
  return { kind: "seq2seq", config, params: createArena(dtype, seq2seqSpecs(config)) };
}

interface Views {
  readonly srcEmb: FloatArray | null;
  readonly encoder: Recurrent;
  readonly tgtEmb: FloatArray | null;
  readonly decoder: Recurrent;
  readonly attention: AttentionParams | null;
  readonly W: FloatArray;
  readonly b: FloatArray;
}

function bind(c: Seq2SeqConfig, arena: Arena): Views {
  const att = attentionConfig(c);
  return {
    srcEmb: c.embedSize > 0 ? view(arena, "src_embedding.weight") : null,
    encoder: bindRecurrent(encoderConfig(c), arena, "encoder."),
    tgtEmb: c.embedSize > 0 ? view(arena, "tgt_embedding.weight") : null,
    decoder: bindRecurrent(decoderConfig(c), arena, "decoder."),
    attention: att ? bindAttention(att, arena, "attention.") : null,
    W: view(arena, "linear.weight"),
    b: view(arena, "linear.bias"),
  };
}

/**
 * PyTorch's defaults: embeddings N(0, 1), recurrent weights U(±1/√H of their own stack), the
 * attention and output layers U(±1/√fan_in); `forgetBias` (default 1 for an LSTM) added to the
 * forget-gate rows of every b_ih.
 */
export function initSeq2Seq(model: Seq2SeqModel, rng: Rng, opts: { forgetBias?: number } = {}): void {
  const c = model.config;
  const v = bind(c, model.params);
  if (v.srcEmb) normal(v.srcEmb, 0, 1, rng);
  for (const d of v.encoder.dirs) for (const w of [d.Wih, d.Whh, d.bih, d.bhh, ...Object.values(d.extra)]) pytorchRnnUniform(w, v.encoder.config.hiddenSize, rng);
  if (v.tgtEmb) normal(v.tgtEmb, 0, 1, rng);
  for (const d of v.decoder.dirs) for (const w of [d.Wih, d.Whh, d.bih, d.bhh, ...Object.values(d.extra)]) pytorchRnnUniform(w, c.hiddenSize, rng);
  const att = attentionConfig(c);
  if (att && v.attention) initAttention(att, v.attention, rng);
  pytorchRnnUniform(v.W, c.hiddenSize, rng);
  pytorchRnnUniform(v.b, c.hiddenSize, rng);
  const forgetBias = opts.forgetBias ?? (c.cell.kind === "lstm" ? 1 : 0);
  if (forgetBias !== 0 && c.cell.kind === "lstm") {
    const F = c.cell.coupled ? 0 : 1;
    for (const r of [v.encoder, v.decoder]) {
      const H = r.config.hiddenSize;
      for (const d of r.dirs) for (let j = 0; j < H; j++) d.bih[F * H + j] += forgetBias;
    }
  }
}

/** A training batch: sources of one length Ts, targets right-padded. */
export interface Seq2SeqBatch {
  /** (Ts·B) time-major source ids */
  readonly src: Int32Array;
  readonly Ts: number;
  readonly B: number;
  /** per sequence: its target ids without </s> (the batch appends it) */
  readonly targets: readonly Int32Array[];
}

/** Decoder inputs (<s> y₁ … yₙ) and targets (y₁ … yₙ </s>, then −100), time-major (Tt·B). */
export function decoderData(targets: readonly Int32Array[]): { inputs: Int32Array; labels: Int32Array; Tt: number } {
  const B = targets.length;
  let Tt = 0;
  for (const t of targets) Tt = Math.max(Tt, t.length + 1);
  const inputs = new Int32Array(Tt * B).fill(EOS_ID);
  const labels = new Int32Array(Tt * B).fill(-100);
  for (let b = 0; b < B; b++) {
    const y = targets[b];
    for (let t = 0; t <= y.length; t++) {
      inputs[t * B + b] = t === 0 ? BOS_ID : y[t - 1];
      labels[t * B + b] = t < y.length ? y[t] : EOS_ID;
    }
  }
  return { inputs, labels, Tt };
}

function embed(table: FloatArray | null, ids: Int32Array, V: number, E: number, dtype: DType): FloatArray {
  const out = allocate(dtype, ids.length * E);
  if (table) embeddingForward(table, ids, E, out);
  else oneHot(ids, V, out);
  return out;
}

function dropoutMask(n: number, p: number, rng: Rng | undefined, dtype: DType): FloatArray | null {
  if (p <= 0) return null;
  if (!rng) throw new Error("dropout while training needs a random generator (opts.rng)");
  const mask = allocate(dtype, n);
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) mask[i] = rng.uniform() < p ? 0 : keep;
  return mask;
}

/** The encoder's pass and what the decoder starts from. */
interface Encoded {
  readonly x: FloatArray;
  readonly pass: ReturnType<typeof recurrentForward>;
  /** (L, B, H) decoder initial states */
  readonly h0: FloatArray;
  readonly c0: FloatArray | null;
  readonly memory: AttentionMemory | null;
}

/** Concatenates the two directions' (L·D, B, Hₑ) states per layer into (L, B, H). */
function bridge(s: FloatArray, L: number, D: number, B: number, He: number): FloatArray {
  if (D === 1) return s;
  const out = allocate(s instanceof Float64Array ? "float64" : "float32", L * B * D * He);
  for (let l = 0; l < L; l++)
    for (let d = 0; d < D; d++)
      for (let b = 0; b < B; b++) out.set(s.subarray(((l * D + d) * B + b) * He, ((l * D + d) * B + b + 1) * He), (l * B + b) * D * He + d * He);
  return out;
}

function unbridge(g: FloatArray, L: number, D: number, B: number, He: number): FloatArray {
  if (D === 1) return g;
  const out = allocate(g instanceof Float64Array ? "float64" : "float32", g.length);
  for (let l = 0; l < L; l++)
    for (let d = 0; d < D; d++)
      for (let b = 0; b < B; b++) out.set(g.subarray((l * B + b) * D * He + d * He, (l * B + b) * D * He + (d + 1) * He), ((l * D + d) * B + b) * He);
  return out;
}

function encode(backend: Backend, model: Seq2SeqModel, v: Views, src: Int32Array, Ts: number, B: number, opts: { training?: boolean; rng?: Rng }): Encoded {
  const c = model.config;
  const dtype = model.params.dtype;
  const enc = v.encoder.config;
  const x = embed(v.srcEmb, src, c.srcVocabSize, enc.inputSize, dtype);
  const pass = recurrentForward(backend, v.encoder, dtype, x, Ts, B, null, null, opts);
  const D = c.bidirectional ? 2 : 1;
  const h0 = bridge(pass.hN, c.numLayers, D, B, enc.hiddenSize);
  const c0 = v.encoder.cell.hasC ? bridge(pass.cN, c.numLayers, D, B, enc.hiddenSize) : null;
  const att = attentionConfig(c);
  const memory = att && v.attention ? attentionMemory(backend, att, v.attention, pass.y, Ts, B, new Int32Array(B).fill(Ts)) : null;
  return { x, pass, h0, c0, memory };
}

function checkBatch(c: Seq2SeqConfig, batch: Seq2SeqBatch): void {
  const { src, Ts, B, targets } = batch;
  positive(Ts, "source length Ts");
  positive(B, "batch size B");
  if (src.length !== Ts * B) throw new Error(`seq2seq: src has ${src.length} ids, expected Ts·B = ${Ts}·${B}`);
  if (targets.length !== B) throw new Error(`seq2seq: ${targets.length} targets for ${B} sources`);
  for (let i = 0; i < src.length; i++) if (!(src[i] >= 0 && src[i] < c.srcVocabSize)) throw new Error(`seq2seq: source id ${src[i]} out of range 0…${c.srcVocabSize - 1}`);
  for (const t of targets) for (let i = 0; i < t.length; i++) if (!(t[i] >= 2 && t[i] < c.tgtVocabSize)) throw new Error(`seq2seq: target id ${t[i]} out of range 2…${c.tgtVocabSize - 1} (0 and 1 are </s> and <s>)`);
}

export interface Seq2SeqLossOptions {
  readonly training?: boolean;
  readonly rng?: Rng;
  /** Scheduled sampling: probability of feeding the model's own prediction (needs `rng`). */
  readonly samplingProb?: number;
}

/**
 * Mean cross-entropy of the batch's target tokens (</s> included); with `grads`, the backward
 * pass adds every parameter's gradient into it.
 */
export function seq2seqLoss(backend: Backend, model: Seq2SeqModel, batch: Seq2SeqBatch, grads: Arena | null, opts: Seq2SeqLossOptions = {}): { loss: number; count: number } {
  const c = model.config;
  checkBatch(c, batch);
  const dtype = model.params.dtype;
  const v = bind(c, model.params);
  const { src, Ts, B } = batch;
  const { inputs, labels, Tt } = decoderData(batch.targets);
  let count = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== -100) count++;
  const enc = encode(backend, model, v, src, Ts, B, opts);
  const att = attentionConfig(c);
  const H = c.hiddenSize;
  const Vt = c.tgtVocabSize;
  const E = v.decoder.config.inputSize;

  const decode = (ids: Int32Array, training: boolean) => {
    const u = embed(v.tgtEmb, ids, Vt, E, dtype);
    const pass = recurrentForward(backend, v.decoder, dtype, u, Tt, B, enc.h0, enc.c0, { training, rng: opts.rng });
    const ap = att && v.attention && enc.memory ? attentionForward(backend, att, v.attention, enc.memory, pass.y, Tt) : null;
    const top = ap ? ap.out : pass.y;
    const mask = training ? dropoutMask(Tt * B * H, c.dropout, opts.rng, dtype) : null;
    let feat = top;
    if (mask) {
      feat = allocate(dtype, top.length);
      for (let i = 0; i < top.length; i++) feat[i] = top[i] * mask[i];
    }
    const logits = allocate(dtype, Tt * B * Vt);
    linearForward(backend, v.W, v.b, feat, Tt * B, H, Vt, logits);
    return { u, pass, ap, mask, feat, logits };
  };

  let ids = inputs;
  const p = opts.samplingProb ?? 0;
  if (p > 0 && opts.training) {
    if (!opts.rng) throw new Error("scheduled sampling needs a random generator (opts.rng)");
    const first = decode(inputs, false);
    ids = inputs.slice();
    for (let t = 1; t < Tt; t++)
      for (let b = 0; b < B; b++) {
        if (labels[t * B + b] === -100) continue;
        if (opts.rng.uniform() < p) ids[t * B + b] = argmaxRow(first.logits, (t - 1) * B + b, Vt);
      }
  }
  const d = decode(ids, opts.training ?? false);
  const dlogits = grads ? allocate(dtype, Tt * B * Vt) : null;
  const loss = softmaxCrossEntropy(d.logits, labels, Tt * B, Vt, dlogits, -100);
  if (!grads || !dlogits) return { loss, count };

  const g = bind(c, grads);
  const dfeat = allocate(dtype, Tt * B * H);
  linearBackward(backend, v.W, d.feat, dlogits, Tt * B, H, Vt, g.W, g.b, dfeat);
  if (d.mask) for (let i = 0; i < dfeat.length; i++) dfeat[i] *= d.mask[i];
  let dq = dfeat;
  let dk: FloatArray | null = null;
  if (d.ap && att && v.attention && g.attention && enc.memory) {
    const r = attentionBackward(backend, att, v.attention, g.attention, enc.memory, d.pass.y, d.ap, dfeat);
    dq = r.dq;
    dk = r.dk;
  }
  const dec = recurrentBackward(backend, v.decoder, g.decoder, dtype, d.pass, dq, null, null, true);
  if (g.tgtEmb) embeddingBackward(dec.dx, ids, E, g.tgtEmb);
  const D = c.bidirectional ? 2 : 1;
  const He = v.encoder.config.hiddenSize;
  const dhN = unbridge(dec.dh0, c.numLayers, D, B, He);
  const dcN = v.encoder.cell.hasC ? unbridge(dec.dc0, c.numLayers, D, B, He) : null;
  const encGrads = recurrentBackward(backend, v.encoder, g.encoder, dtype, enc.pass, dk, dhN, dcN, g.srcEmb !== null);
  if (g.srcEmb) embeddingBackward(encGrads.dx, src, v.encoder.config.inputSize, g.srcEmb);
  return { loss, count };
}

function argmaxRow(z: FloatArray, row: number, V: number): number {
  let best = 0;
  for (let j = 1; j < V; j++) if (z[row * V + j] > z[row * V + best]) best = j;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodeOptions {
  /** 1: greedy. */
  readonly beamWidth?: number;
  /**
   * Length normalisation α of beam search: hypotheses are ranked by log P / |y|^α (|y| counting
   * </s>); 0 ranks by log P alone, 1 by the mean log-probability per token.
   */
  readonly lengthPenalty?: number;
  /** Longest output; default 2·Ts + 10. */
  readonly maxLength?: number;
}

export interface Decoded {
  /** target ids, without </s> */
  readonly ids: Int32Array;
  /** log P of the ids and </s> */
  readonly logProb: number;
  /** (steps, Ts) attention weights of each output step, row-major: length+1 rows (the last for </s>), or length rows when decoding stopped at maxLength before </s>; null without attention */
  readonly attention: Float64Array | null;
}

function logSoftmaxRow(z: FloatArray, row: number, V: number, out: Float64Array): void {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, z[row * V + j]);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(z[row * V + j] - max);
  const lse = max + Math.log(sum);
  for (let j = 0; j < V; j++) out[j] = z[row * V + j] - lse;
}

/**
 * Decodes each source of a batch of one length (time-major (Ts·B) ids) by beam search (greedy for
 * width 1): the `beamWidth` best partial outputs of each source are extended by every token, the
 * best `beamWidth` kept; an output ends at </s>; the search of a source stops when its best
 * finished output outranks (length-normalised) every live one that could still finish, or at
 * `maxLength`.
 */
export function seq2seqDecode(backend: Backend, model: Seq2SeqModel, src: Int32Array, Ts: number, B: number, o: DecodeOptions = {}): Decoded[] {
  const c = model.config;
  checkBatch(c, { src, Ts, B, targets: Array.from({ length: B }, () => new Int32Array(0)) });
  const K = o.beamWidth ?? 1;
  positive(K, "beamWidth");
  const alpha = o.lengthPenalty ?? 1;
  if (!(alpha >= 0)) throw new Error(`lengthPenalty must be ≥ 0, got ${alpha}`);
  const maxLength = o.maxLength ?? 2 * Ts + 10;
  positive(maxLength, "maxLength");
  const dtype = model.params.dtype;
  const v = bind(c, model.params);
  const enc = encode(backend, model, v, src, Ts, B, {});
  const att = attentionConfig(c);
  const H = c.hiddenSize;
  const L = c.numLayers;
  const Vt = c.tgtVocabSize;
  const E = v.decoder.config.inputSize;
  const hasC = v.decoder.cell.hasC;
  const N = B * K;
  // Row b·K + j is beam j of source b; all beams of a source start equal (only beam 0 is live).
  const repeatState = (s: FloatArray): FloatArray => {
    const out = allocate(dtype, L * N * H);
    for (let l = 0; l < L; l++) for (let b = 0; b < B; b++) for (let j = 0; j < K; j++) out.set(s.subarray((l * B + b) * H, (l * B + b + 1) * H), (l * N + b * K + j) * H);
    return out;
  };
  let h = repeatState(enc.h0);
  let cs = hasC && enc.c0 ? repeatState(enc.c0) : null;
  const memory = enc.memory ? (K > 1 ? repeatMemory(enc.memory, K) : enc.memory) : null;

  interface Hyp {
    readonly ids: number[];
    readonly logProb: number;
    readonly attn: Float64Array[];
  }
  let beams: Hyp[][] = Array.from({ length: B }, () => [{ ids: [], logProb: 0, attn: [] }]);
  const finished: Hyp[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  const score = (lp: number, len: number) => (alpha === 0 ? lp : lp / Math.pow(len, alpha));
  let tokens = new Int32Array(N).fill(BOS_ID);
  const lp = new Float64Array(Vt);
  for (let step = 0; step < maxLength && done.some((x) => !x); step++) {
    const u = embed(v.tgtEmb, tokens, Vt, E, dtype);
    const pass = recurrentForward(backend, v.decoder, dtype, u, 1, N, h, cs, {});
    const ap = att && v.attention && memory ? attentionForward(backend, att, v.attention, memory, pass.y, 1) : null;
    const logits = allocate(dtype, N * Vt);
    linearForward(backend, v.W, v.b, ap ? ap.out : pass.y, N, H, Vt, logits);
    const nextBeams: Hyp[][] = [];
    const parents: number[] = []; // per new row: the old row it continues
    const nextTokens: number[] = [];
    for (let b = 0; b < B; b++) {
      if (done[b]) {
        nextBeams.push(beams[b]);
        for (let j = 0; j < K; j++) {
          parents.push(b * K + j);
          nextTokens.push(EOS_ID);
        }
        continue;
      }
      const cands: { parent: number; token: number; logProb: number }[] = [];
      for (let j = 0; j < beams[b].length; j++) {
        logSoftmaxRow(logits, b * K + j, Vt, lp);
        for (let t = 0; t < Vt; t++) if (t !== BOS_ID) cands.push({ parent: j, token: t, logProb: beams[b][j].logProb + lp[t] });
      }
      cands.sort((x, y) => y.logProb - x.logProb || x.parent - y.parent || x.token - y.token);
      const keep: Hyp[] = [];
      const keepParents: number[] = [];
      for (const cand of cands) {
        if (keep.length === K) break;
        const parent = beams[b][cand.parent];
        const attn = ap ? [...parent.attn, Float64Array.from(ap.weights.subarray((b * K + cand.parent) * Ts, (b * K + cand.parent + 1) * Ts))] : parent.attn;
        const hyp = { ids: cand.token === EOS_ID ? parent.ids : [...parent.ids, cand.token], logProb: cand.logProb, attn };
        if (cand.token === EOS_ID) {
          finished[b].push(hyp);
          if (K === 1) break;
          continue;
        }
        keep.push(hyp);
        keepParents.push(b * K + cand.parent);
      }
      // Stop when the best finished output outranks every live one: log P only falls as an output
      // grows, so with α = 0 no live hypothesis can overtake; with α > 0 a live one could, but
      // only by growing, so the search goes on until maxLength or no live beam beats the best.
      const bestDone = finished[b].length > 0 ? Math.max(...finished[b].map((f) => score(f.logProb, f.ids.length + 1))) : -Infinity;
      const bestLive = keep.length > 0 ? Math.max(...keep.map((k) => score(k.logProb, k.ids.length + 1))) : -Infinity;
      if (keep.length === 0 || finished[b].length >= K || (K === 1 && finished[b].length > 0) || (alpha === 0 && bestDone >= bestLive)) done[b] = true;
      nextBeams.push(keep.length > 0 ? keep : beams[b]);
      for (let j = 0; j < K; j++) {
        parents.push(j < keepParents.length ? keepParents[j] : keepParents[0] ?? b * K);
        nextTokens.push(j < keep.length ? keep[j].ids[keep[j].ids.length - 1] : EOS_ID);
      }
    }
    // Reorder the states by parent.
    const h2 = allocate(dtype, L * N * H);
    const c2 = cs ? allocate(dtype, L * N * H) : null;
    for (let l = 0; l < L; l++)
      for (let r = 0; r < N; r++) {
        h2.set(pass.hN.subarray((l * N + parents[r]) * H, (l * N + parents[r] + 1) * H), (l * N + r) * H);
        if (c2) c2.set(pass.cN.subarray((l * N + parents[r]) * H, (l * N + parents[r] + 1) * H), (l * N + r) * H);
      }
    h = h2;
    cs = c2;
    tokens = Int32Array.from(nextTokens);
    beams = nextBeams;
  }
  return beams.map((live, b) => {
    const pool = finished[b].length > 0 ? finished[b] : live;
    let best = pool[0];
    for (const f of pool) if (score(f.logProb, f.ids.length + 1) > score(best.logProb, best.ids.length + 1)) best = f;
    let attention: Float64Array | null = null;
    if (best.attn.length > 0) {
      attention = new Float64Array(best.attn.length * Ts);
      best.attn.forEach((row, i) => attention!.set(row, i * Ts));
    }
    return { ids: Int32Array.from(best.ids), logProb: best.logProb, attention };
  });
}

/** Whether the stack's cell keeps a cell state (the bridge carries it). */
export function hasCellState(c: Seq2SeqConfig): boolean {
  return createCell(c.cell).hasC;
}
