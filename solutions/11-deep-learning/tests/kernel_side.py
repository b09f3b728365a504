"""Grader code that runs in the student's kernel for the hidden tests of 11-deep-learning.

The tests send this module's source into the kernel as a module of its own
(``_grader_lab``), so that its names cannot clash with the student's. It builds,
trains and probes with the grader's own loops and data, so that each exercise is
tested on its own answer: while q5 is tested ``attention`` is the grader's
(:func:`with_name`), and q7's model reads the grader's encoding, not q6's. Only
plain data (NumPy arrays, numbers, lists) goes back; the tests compare it with
what the grader computes in its own process.
"""

import math

import numpy as np
import torch
from torch import nn

DATA = {}
CACHE = {}


def once(key, make):
    """make() the first time, its cached result afterwards; an exception becomes {"error": ...}."""
    if key not in CACHE:
        try:
            CACHE[key] = make()
        except Exception as exc:
            CACHE[key] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return CACHE[key]


def with_name(namespace, name, value, fn):
    """fn() while ``name`` in the student's ``namespace`` is ``value``: q5's heads call attention(),
    and must not depend on how q4 was answered."""
    saved = namespace.get(name)
    namespace[name] = value
    try:
        return fn()
    finally:
        namespace[name] = saved


def reference_attention(q, k, v, mask=None):
    """The grader's attention, for q5: softmax(q k^T / sqrt(d)) v, a boolean mask True where allowed."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def logits(model, *inputs):
    """The model's logits in eval mode and without gradients, as a float64 array."""
    model.eval()
    with torch.no_grad():
        return model(*inputs).double().numpy()


def fit(model, inputs, y, seed, epochs, lr):
    """The grader's own training loop: Adam, batches of 32 shuffled by a generator of its own."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(y, dtype=torch.long)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(labels), generator=order).split(32):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(*(t[batch] for t in inputs)), labels[batch]).backward()
            optimizer.step()
    return model


def images(X):
    return torch.as_tensor(np.asarray(X, dtype=np.float32)).unsqueeze(1)


# --- q3 ------------------------------------------------------------------------------------


def sample_models():
    """Models of the grader's whose parameters count_parameters must count (one partly frozen)."""
    torch.manual_seed(0)
    frozen = nn.Sequential(nn.Conv2d(3, 4, 5), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    frozen[0].weight.requires_grad_(False)
    return [nn.Linear(7, 3), nn.Conv2d(2, 6, 3, bias=False), frozen,
            nn.Sequential(nn.Embedding(11, 4), nn.LSTM(4, 6))]


def counts(count_parameters):
    return [int(count_parameters(model)) for model in sample_models()]


def cnn_facts(build_cnn):
    """Whether two calls give two models, the output's shape, the parameters and the convolutions."""
    torch.manual_seed(3)
    a, b = build_cnn(), build_cnn()
    shared = {id(p) for p in a.parameters()} & {id(p) for p in b.parameters()}
    out = logits(a, torch.rand(7, 1, 8, 8, generator=torch.Generator().manual_seed(3)))
    return {"distinct": a is not b and not shared, "shape": list(out.shape),
            "parameters": sum(p.numel() for p in a.parameters()),
            "convolutions": sum(isinstance(m, nn.Conv2d) for m in a.modules())}


def cnn_learns(build_cnn, seed):
    """The student's CNN trained by the grader's loop on the grader's digits: logits on its test images."""
    torch.manual_seed(seed)
    model = fit(build_cnn(), (images(DATA["Xtr"]),), DATA["ytr"], seed, epochs=10, lr=1e-2)
    return logits(model, images(DATA["Xte"]))


# --- q4 and q5 -----------------------------------------------------------------------------


def attention_run(attention, q, k, v, mask, upstream):
    """attention's output and the gradients of sum(output * upstream) with respect to q, k and v."""
    q, k, v = (torch.tensor(np.asarray(t), requires_grad=True) for t in (q, k, v))
    out = attention(q, k, v, None if mask is None else torch.as_tensor(mask))
    (out * torch.as_tensor(upstream)).sum().backward()
    return {"out": out.detach().numpy(),
            **{name: None if t.grad is None else t.grad.numpy() for name, t in (("dq", q), ("dk", k), ("dv", v))}}


def mha_run(cls, d_model, n_heads, weights, x, mask):
    """The student's MultiHeadAttention with the grader's weights, on the grader's x and mask."""
    model = cls(d_model, n_heads)
    with torch.no_grad():
        for name, value in weights.items():
            layer, _, part = name.partition(".")
            getattr(getattr(model, layer), part).copy_(torch.as_tensor(value))
        out = model(torch.as_tensor(x), None if mask is None else torch.as_tensor(mask))
    return out.numpy()


# --- q7 ------------------------------------------------------------------------------------


def text_facts(cls, ids, lengths, seed):
    """An untrained classifier's logits, in eval mode: the padded batch, each sequence alone without
    padding, and each sequence with its words reversed."""
    torch.manual_seed(seed)
    model = cls(int(np.max(ids)) + 1, 3, max_len=ids.shape[1])
    ids = torch.as_tensor(ids, dtype=torch.long)
    mask = torch.arange(ids.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
    alone, reversed_ = [], []
    for row, n in zip(ids, lengths, strict=True):
        words = row[:int(n)][None, :]
        full = torch.ones_like(words, dtype=torch.bool)
        alone.append(logits(model, words, full)[0])
        reversed_.append(logits(model, words.flip(1), full)[0])
    return {"batch": logits(model, ids, mask), "alone": np.stack(alone), "reversed": np.stack(reversed_)}


def text_learns(cls, seed):
    """The student's classifier trained by the grader's loop on the grader's reviews: test logits."""
    text = DATA["text"]
    torch.manual_seed(seed)
    model = cls(text["vocab_size"], 2, max_len=text["ids"].shape[1])
    inputs = (torch.as_tensor(text["ids"], dtype=torch.long), torch.as_tensor(text["mask"]))
    fit(model, inputs, text["y"], seed, epochs=10, lr=3e-3)
    return logits(model, torch.as_tensor(text["test_ids"], dtype=torch.long), torch.as_tensor(text["test_mask"]))


# --- q8 ------------------------------------------------------------------------------------


class Probe(nn.Module):
    """A fixed linear model over the 64 pixels, with optional dropout, that records the mode of every call."""

    def __init__(self, weight, bias, dropout=0.0):
        super().__init__()
        self.linear = nn.Linear(64, 10)
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(weight))
            self.linear.bias.copy_(torch.as_tensor(bias))
        self.dropout = nn.Dropout(dropout)
        self.calls = []

    def forward(self, x):
        self.calls.append([bool(self.training), bool(torch.is_grad_enabled())])
        return self.linear(self.dropout(x.reshape(len(x), 64)))


def report_run(shift_report, weight, bias, X, y, dropout=0.0, repeats=1):
    """shift_report on the grader's probe, repeated: the reports and the probe's calls."""
    probe = Probe(weight, bias, dropout)
    probe.train()
    torch.manual_seed(8)
    reports = [{key: float(value) for key, value in dict(shift_report(probe, X, y)).items()} for _ in range(repeats)]
    return {"reports": reports, "calls": probe.calls}
