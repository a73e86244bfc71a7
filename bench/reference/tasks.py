#!/usr/bin/env python3
"""PyTorch reference vectors for the sequence-task layers (issue 13), read by
test/task-reference.test.ts.

PyTorch is used only here, to generate; the tests read the committed JSON. Everything is
float64, CPU, one thread, with a fixed torch.manual_seed per case, so rerunning the script gives
the same files byte for byte (for one PyTorch build).

Regenerate, from the repository root:

    /usr/bin/python3 bench/reference/tasks.py        # writes test/fixtures/tasks/*.json

The models are written out from PyTorch ops and modules (nn.LSTM / nn.GRU, whose parameter layout
is unroll's: rows (i, f, g, o) and (r, z, n), weights (out, in), two biases; F.embedding,
F.linear, F.cross_entropy), not from unroll's code, so the vectors are an independent check of
unroll's forward and hand-written backward passes. Gradients come from autograd.

Conventions reproduced (each read from unroll's source; cited per case):

* time-major everywhere: a (T, B, F) tensor, token ids (T·B) at index t·B + b;
* attention (src/layers/attention.ts): Luong's global attention on the decoder output q_t,
  scores dot q·k, general q·(Wa k), additive v·tanh(Wq q + Wk k); softmax over the source steps
  s < srcLen[b] only; out = tanh(Wc [ctx; q] + bc), [ctx; q] in that order;
* classifier (src/tasks/classifier.ts): pooling of the (T, B, D·H) outputs — last: forward
  direction at t = T−1, reverse direction at t = 0; mean over t; max over t — then linear, then
  nn.CrossEntropyLoss(weight=w) (mean divided by Σ_b w[y_b]);
* conditional LM (src/tasks/conditional.ts): h0[l, b] = condition.h[c_b, l·H:(l+1)·H] (c0 from
  condition.c), inputs [⏎, w…], targets [w…, ⏎], mean cross-entropy over the T·B tokens;
* seq2seq (src/tasks/seq2seq.ts): bidirectional encoder of H/2 units per direction; decoder
  layer l starts from [h_fwd; h_rev] of encoder layer l (and c likewise); decoder inputs
  <s> y_1 … y_n padded with </s>, labels y_1 … y_n </s> padded with −100; attention over all Ts
  source steps; linear; mean cross-entropy over the non-ignored labels (teacher forcing, no
  sampling, no dropout).

JSON layout of each file (all float64 numbers written as their shortest round-trip decimal):

    {"case", "kind": "attention"|"classifier"|"conditional"|"seq2seq", "torch_version",
     "config": unroll's config object for the case (camelCase, as the TypeScript types),
     "notes", "inputs": {...}, "params": {name: {"shape", "data"}},
     "expected": {name: {"shape", "data"}}  (scalars have shape [] and one datum),
     "grads": {name: {"shape", "data"}}}   (dL/d<name> for every parameter and input listed)
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "tasks")


def tensor(t):
    t = t.detach().to(torch.float64).contiguous()
    data = [float(x) for x in t.reshape(-1).tolist()]
    for x in data:
        assert math.isfinite(x), "non-finite value in a reference vector"
    return {"shape": list(t.shape), "data": data}


def ints(t):
    return [int(x) for x in torch.as_tensor(t).reshape(-1).tolist()]


def write(case, kind, config, notes, inputs, params, expected, grads):
    for name, g in grads.items():  # a tensor whose gradient is all zero would be checked vacuously
        assert g.abs().max() > 0, f"{case}: the gradient of {name} is identically zero; pick another seed"
    doc = {
        "case": case,
        "kind": kind,
        "torch_version": torch.__version__,
        "config": config,
        "notes": notes,
        "inputs": inputs,
        "params": {k: tensor(v) for k, v in params.items()},
        "expected": {k: tensor(v) for k, v in expected.items()},
        "grads": {k: tensor(v) for k, v in grads.items()},
    }
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{case}.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)}")


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def uniform(shape, a):
    return (torch.rand(shape) * 2 - 1) * a


# ----------------------------------------------------------------------------------------------
# (a) attention


def attention(score, q, k, src_len, p):
    """Luong global attention, q (Tq, B, H), k (Ts, B, H): returns out (Tq, B, H), weights (B, Tq, Ts)."""
    Ts = k.shape[0]
    mask = torch.arange(Ts)[None, :] < torch.as_tensor(src_len)[:, None]  # (B, Ts) valid steps
    qb = q.permute(1, 0, 2)  # (B, Tq, H)
    kb = k.permute(1, 0, 2)  # (B, Ts, H)
    if score == "dot":
        e = qb @ kb.transpose(1, 2)  # (B, Tq, Ts)
    elif score == "general":
        kp = F.linear(kb, p["weight"])  # Wa k_s
        e = qb @ kp.transpose(1, 2)
    elif score == "additive":
        qp = F.linear(qb, p["query.weight"])  # (B, Tq, A)
        kp = F.linear(kb, p["key.weight"])  # (B, Ts, A)
        u = torch.tanh(qp[:, :, None, :] + kp[:, None, :, :])  # (B, Tq, Ts, A)
        e = u @ p["v"]  # (B, Tq, Ts)
    else:
        raise ValueError(score)
    e = e.masked_fill(~mask[:, None, :], float("-inf"))
    a = torch.softmax(e, dim=-1)  # exactly 0 on the padded steps
    ctx = (a @ kb).permute(1, 0, 2)  # (Tq, B, H)
    out = torch.tanh(F.linear(torch.cat([ctx, q], dim=-1), p["combine.weight"], p["combine.bias"]))
    return out, a


def attention_specs(score, H, A):
    specs = []
    if score == "general":
        specs.append(("weight", [H, H]))
    if score == "additive":
        specs += [("query.weight", [A, H]), ("key.weight", [A, H]), ("v", [A])]
    specs += [("combine.weight", [H, 2 * H]), ("combine.bias", [H])]
    return specs


def attention_case(score, seed):
    torch.manual_seed(seed)
    H, A, Ts, Tq, B = 4, 3, 5, 3, 3
    src_len = [5, 2, 4]  # rows 1 and 2 have shorter sources
    # parameters U(±1): larger than the init's, so the scores (and the query side) matter
    p = {name: leaf(uniform(shape, 1.0)) for name, shape in attention_specs(score, H, A)}
    q = leaf(torch.randn(Tq, B, H))
    k = leaf(torch.randn(Ts, B, H))  # the padded steps hold random values too; they must not count
    gout = torch.randn(Tq, B, H)
    out, a = attention(score, q, k, src_len, p)
    L = (out * gout).sum()
    L.backward()
    # the padding contributes nothing: recomputing with the padded rows set to 1e3 changes no output
    k2 = k.detach().clone()
    for b, n in enumerate(src_len):
        k2[n:, b, :] = 1e3
    out2, _ = attention(score, q.detach(), k2, src_len, {n: v.detach() for n, v in p.items()})
    assert torch.equal(out2, out.detach())
    write(
        f"attention_{score}",
        "attention",
        {"score": score, "hiddenSize": H, "attentionSize": A},
        "Global attention (src/layers/attention.ts). q (Tq, B, H), k (Ts, B, H) time-major; srcLen masks "
        "the source steps s >= srcLen[b] (their k rows hold random values and get exactly zero gradient). "
        "L = sum(out * gout). weights is (B, Tq, Ts). Parameters U(-1, 1), q, k, gout ~ N(0, 1).",
        {"Tq": Tq, "Ts": Ts, "B": B, "srcLen": src_len, "q": tensor(q), "k": tensor(k), "gout": tensor(gout)},
        {f"attention.{n}": v for n, v in p.items()},
        {"out": out, "weights": a, "L": L},
        {"q": q.grad, "k": k.grad, **{f"attention.{n}": v.grad for n, v in p.items()}},
    )


# ----------------------------------------------------------------------------------------------
# recurrent stacks: nn.LSTM / nn.GRU with parameters by unroll's names


def rnn_module(cell, I, H, L, bidirectional):
    cls = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
    return cls(I, H, num_layers=L, bidirectional=bidirectional)  # time-major (batch_first=False)


def rnn_params(module, prefix):
    """The module's parameters under unroll's names (nn.LSTM's names are unroll's)."""
    return {f"{prefix}{n}": t for n, t in module.named_parameters()}


def randomize(module, a):
    with torch.no_grad():
        for t in module.parameters():
            t.copy_(uniform(t.shape, a))


def cell_config(cell):
    return {"lstm": {"kind": "lstm", "peephole": False, "coupled": False}, "gru": {"kind": "gru", "resetAfter": True}}[cell]


# ----------------------------------------------------------------------------------------------
# (b) classifier


def pool(y, how, D, H):
    """y (T, B, D·H) → (B, D·H); every sequence has the full length T (the classifier's batches)."""
    if how == "last":
        fwd = y[-1, :, :H]  # the forward direction ends at t = T−1
        if D == 1:
            return fwd
        return torch.cat([fwd, y[0, :, H:]], dim=-1)  # the reverse direction ends at t = 0
    if how == "mean":
        return y.mean(dim=0)
    if how == "max":
        return y.max(dim=0).values
    raise ValueError(how)


def classifier_case(case, pooling, bidirectional, num_layers, weighted, seed):
    torch.manual_seed(seed)
    V, E, H, K, T, B = 6, 3, 4, 3, 4, 3
    D = 2 if bidirectional else 1
    emb = leaf(torch.randn(V, E))
    rnn = rnn_module("lstm", E, H, num_layers, bidirectional)
    randomize(rnn, 0.8)
    W = leaf(uniform((K, D * H), 0.8))
    bias = leaf(uniform((K,), 0.8))
    tokens = torch.randint(0, V, (T, B))
    labels = torch.tensor([2, 0, 2])  # class 2 twice, class 1 absent
    # Σ_b w[y_b] = 3.5 ≠ B: the weighted mean (divided by Σ w[y_b]) differs from a mean over B
    w = torch.tensor([0.5, 2.0, 1.5]) if weighted else None
    y, _ = rnn(F.embedding(tokens, emb))  # (T, B, D·H), zero initial state
    logits = F.linear(pool(y, pooling, D, H), W, bias)
    loss = nn.CrossEntropyLoss(weight=w)(logits, labels)
    loss.backward()
    if pooling == "max":  # no ties (the argmax is then unambiguous)
        top2 = y.detach().topk(2, dim=0).values
        assert (top2[0] - top2[1]).abs().min() > 1e-6
    params = {"embedding.weight": emb, **rnn_params(rnn, "encoder."), "linear.weight": W, "linear.bias": bias}
    write(
        case,
        "classifier",
        {
            "vocabSize": V, "embedSize": E, "cell": cell_config("lstm"), "hiddenSize": H, "numLayers": num_layers,
            "bidirectional": bidirectional, "dropout": 0, "pooling": pooling, "numClasses": K,
        },
        "Sequence classifier (src/tasks/classifier.ts): embedding → nn.LSTM (time-major, zero initial state) → "
        f"{pooling} pooling → linear → nn.CrossEntropyLoss(weight=classWeights) (mean over the batch divided by "
        "the sum of the rows' class weights; unweighted when classWeights is null). tokens (T·B) time-major. "
        "probs (B, K) = softmax(logits).",
        {"T": T, "B": B, "tokens": ints(tokens), "labels": ints(labels), "classWeights": None if w is None else w.tolist()},
        params,
        {"loss": loss, "probs": torch.softmax(logits, dim=-1)},
        {n: t.grad for n, t in params.items()},
    )


# ----------------------------------------------------------------------------------------------
# (c) conditional language model


def conditional_case(case, cell, num_layers, V, E, m, seed):
    torch.manual_seed(seed)
    H, C, boundary = 4, 3, 0
    conditions = torch.tensor([2, 0, 2])  # row 2 gathers two sequences' gradients, row 1 none
    B = len(conditions)
    T = m + 1
    emb = leaf(torch.randn(V, E)) if E > 0 else None
    I = E if E > 0 else V
    rnn = rnn_module(cell, I, H, num_layers, False)
    randomize(rnn, 0.8)
    W = leaf(uniform((V, H), 0.8))
    bias = leaf(uniform((V,), 0.8))
    cond_h = leaf(uniform((C, num_layers * H), 0.8))
    cond_c = leaf(uniform((C, num_layers * H), 0.8)) if cell == "lstm" else None
    seqs = torch.randint(1, V, (B, m))  # no boundary inside a sequence
    # inputs [⏎, w_1 … w_m], targets [w_1 … w_m, ⏎], time-major (T, B)
    inputs = torch.cat([torch.full((B, 1), boundary), seqs], dim=1).t().contiguous()
    targets = torch.cat([seqs, torch.full((B, 1), boundary)], dim=1).t().contiguous()

    def state(table):  # (C, L·H) → (L, B, H): h0[l, b] = table[c_b, l·H:(l+1)·H]
        return table[conditions].reshape(B, num_layers, H).permute(1, 0, 2).contiguous()

    x = F.embedding(inputs, emb) if emb is not None else F.one_hot(inputs, V).to(torch.float64)
    h0 = state(cond_h)
    y, _ = rnn(x, (h0, state(cond_c)) if cell == "lstm" else h0)
    logits = F.linear(y, W, bias)  # (T, B, V)
    loss = F.cross_entropy(logits.reshape(T * B, V), targets.reshape(-1))
    loss.backward()
    params = {}
    if emb is not None:
        params["embedding.weight"] = emb
    params.update(rnn_params(rnn, f"{cell}."))
    params["linear.weight"] = W
    params["linear.bias"] = bias
    params["condition.h"] = cond_h
    if cond_c is not None:
        params["condition.c"] = cond_c
    write(
        case,
        "conditional",
        {
            "vocabSize": V, "embedSize": E, "cell": cell_config(cell), "hiddenSize": H, "numLayers": num_layers,
            "dropout": 0, "numConditions": C, "boundary": boundary,
        },
        "Conditional LM (src/tasks/conditional.ts): the initial state of layer l for sequence b is "
        "condition.h[c_b, l*H:(l+1)*H] (condition.c likewise for the LSTM); "
        + ("embedding" if E > 0 else "one-hot input")
        + f" → nn.{cell.upper()} → linear; mean cross-entropy over the T·B tokens. sequences are the "
        "token ids without the boundary; tokens/targets (T·B) time-major are [boundary, w...] and [w..., boundary]. "
        "logits (T, B, V).",
        {
            "T": T, "B": B, "sequences": [ints(s) for s in seqs], "conditions": ints(conditions),
            "tokens": ints(inputs), "targets": ints(targets),
        },
        params,
        {"loss": loss, "logits": logits},
        {n: t.grad for n, t in params.items()},
    )


# ----------------------------------------------------------------------------------------------
# (d) sequence to sequence

EOS, BOS, IGNORE = 0, 1, -100


def seq2seq_case(case, cell, num_layers, bidirectional, score, seed):
    torch.manual_seed(seed)
    Vs, Vt, E, H, A, Ts, B = 5, 7, 3, 4, 3, 4, 3
    D = 2 if bidirectional else 1
    He = H // D
    src_emb = leaf(torch.randn(Vs, E))
    enc = rnn_module(cell, E, He, num_layers, bidirectional)
    randomize(enc, 0.8)
    tgt_emb = leaf(torch.randn(Vt, E))
    dec = rnn_module(cell, E, H, num_layers, False)
    randomize(dec, 0.8)
    att = {n: leaf(uniform(shape, 0.8)) for n, shape in attention_specs(score, H, A)} if score != "none" else {}
    W = leaf(uniform((Vt, H), 0.8))
    bias = leaf(uniform((Vt,), 0.8))

    src = torch.randint(0, Vs, (Ts, B))
    lengths = [2, 4, 1]  # targets of different lengths: right-padded
    targets = [torch.randint(2, Vt, (n,)) for n in lengths]  # ids 0 and 1 are </s> and <s>
    Tt = max(lengths) + 1
    dec_in = torch.full((Tt, B), EOS)
    labels = torch.full((Tt, B), IGNORE)
    for b, y in enumerate(targets):
        dec_in[0, b] = BOS
        dec_in[1 : len(y) + 1, b] = y
        labels[: len(y), b] = y
        labels[len(y), b] = EOS

    k, state = enc(F.embedding(src, src_emb))  # k (Ts, B, D·He = H)
    hN, cN = state if cell == "lstm" else (state, None)

    def bridge(s):  # (L·D, B, He) → (L, B, H): layer l gets [fwd; rev] of encoder layer l
        return s.reshape(num_layers, D, B, He).permute(0, 2, 1, 3).reshape(num_layers, B, D * He)

    h0 = bridge(hN)
    if bidirectional:  # the bridge, spelt out once more for layer 0, batch row 0
        assert torch.equal(h0[0, 0], torch.cat([hN[0, 0], hN[1, 0]]))
    q, _ = dec(F.embedding(dec_in, tgt_emb), (h0, bridge(cN)) if cell == "lstm" else h0)  # (Tt, B, H)
    top = attention(score, q, k, [Ts] * B, att)[0] if score != "none" else q
    logits = F.linear(top, W, bias)  # (Tt, B, Vt)
    loss = F.cross_entropy(logits.reshape(Tt * B, Vt), labels.reshape(-1), ignore_index=IGNORE)
    loss.backward()
    params = {"src_embedding.weight": src_emb, **rnn_params(enc, "encoder."), "tgt_embedding.weight": tgt_emb, **rnn_params(dec, "decoder.")}
    params.update({f"attention.{n}": t for n, t in att.items()})
    params["linear.weight"] = W
    params["linear.bias"] = bias
    write(
        case,
        "seq2seq",
        {
            "srcVocabSize": Vs, "tgtVocabSize": Vt, "embedSize": E, "cell": cell_config(cell), "hiddenSize": H,
            "numLayers": num_layers, "bidirectional": bidirectional, "dropout": 0, "attention": score, "attentionSize": A,
        },
        "Encoder-decoder (src/tasks/seq2seq.ts), teacher forcing: src (Ts·B) time-major; targets per sequence "
        "without </s>; decoderInputs <s> y... padded with </s>, labels y... </s> padded with -100 (time-major, "
        f"Tt·B). Encoder nn.{cell.upper()} with H/D units per direction; decoder layer l starts from the "
        "concatenated [fwd; rev] final states of encoder layer l; "
        + (f"{score} attention over all Ts source steps; " if score != "none" else "no attention; ")
        + "linear; F.cross_entropy(ignore_index=-100), the mean over the non-ignored labels.",
        {
            "Ts": Ts, "B": B, "Tt": Tt, "src": ints(src), "targets": [ints(y) for y in targets],
            "decoderInputs": ints(dec_in), "labels": ints(labels), "count": int((labels != IGNORE).sum()),
        },
        params,
        {"loss": loss},
        {n: t.grad for n, t in params.items()},
    )


def main():
    for i, score in enumerate(["dot", "general", "additive"]):
        attention_case(score, 100 + i)
    classifier_case("classifier_bilstm_last", "last", True, 1, True, 200)
    classifier_case("classifier_bilstm_mean", "mean", True, 1, True, 201)
    classifier_case("classifier_bilstm_max", "max", True, 1, True, 202)
    classifier_case("classifier_bilstm2_max_unweighted", "max", True, 2, False, 207)  # 203: every max of layer 1 reverse at its first step, dW_hh = 0
    classifier_case("classifier_lstm2_last", "last", False, 2, True, 204)
    # T·B = 12 ≥ 2V = 12: unroll's first layer reads token ids through a projection table
    conditional_case("conditional_lstm2_token_input", "lstm", 2, 6, 3, 3, 300)
    # T·B = 12 < 2V = 14: an embedded (T, B, E) input
    conditional_case("conditional_gru1_embedded", "gru", 1, 7, 3, 3, 301)
    conditional_case("conditional_lstm1_onehot", "lstm", 1, 5, 0, 4, 302)
    seq2seq_case("seq2seq_bilstm_general", "lstm", 1, True, "general", 400)
    seq2seq_case("seq2seq_bilstm_additive", "lstm", 1, True, "additive", 401)
    seq2seq_case("seq2seq_bilstm_none", "lstm", 1, True, "none", 402)
    seq2seq_case("seq2seq_bilstm2_dot", "lstm", 2, True, "dot", 403)
    seq2seq_case("seq2seq_gru_general", "gru", 1, False, "general", 404)


if __name__ == "__main__":
    sys.exit(main())
