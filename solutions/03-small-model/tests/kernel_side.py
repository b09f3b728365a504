"""Grader code that runs in the student's kernel for the hidden tests of 03-small-model.

The tests send this module's source into the kernel as a module of its own
(``_grader_lab``), so that its names cannot clash with the student's. It trains
and probes with the grader's own models, batches and loops, so that each exercise
is tested on its own answer: a weak q3 model cannot cost q4's points, and while
q8 is tested ``build_model`` is the grader's (:func:`with_reference_model`).
Only plain facts go back; the tests decide.
"""

import random
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

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


def loader(X, y, batch_size=32, shuffle=False, seed=0):
    """The grader's own DataLoader, shuffled by a generator of its own."""
    data = TensorDataset(torch.as_tensor(np.asarray(X), dtype=torch.float32),
                         torch.as_tensor(np.asarray(y), dtype=torch.long))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


def mlp(seed):
    """The grader's reference network: 64-64-10 with ReLU."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def logits(model, X):
    """The model's logits for X in eval mode, as a float64 array."""
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(X), dtype=torch.float32)).double().numpy()


def fit(model, seed, epochs=10):
    """The grader's own training loop: Adam, lr 3e-3, batches of 32."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = loader(DATA["Xtr"], DATA["ytr"], 32, True, seed)
    for _ in range(epochs):
        model.train()
        for inputs, labels in batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
    return model


def watch_gradients(model):
    """A list that gets, at each backward pass and for each parameter, whether .grad then
    holds only this pass's gradient (True) or the sum with older ones (False)."""
    fresh = []
    for p in model.parameters():
        seen = {}

        def before(grad, seen=seen):
            seen["grad"] = grad.detach().clone()

        def after(param, seen=seen):
            fresh.append(bool(torch.allclose(param.grad, seen["grad"], rtol=1e-5, atol=1e-8)))

        p.register_hook(before)
        p.register_post_accumulate_grad_hook(after)
    return fresh


def q3_facts(build_model):
    """What the tests check about a model from build_model()."""
    torch.manual_seed(3)
    a, b = build_model(), build_model()
    shared = {id(p) for p in a.parameters()} & {id(p) for p in b.parameters()}
    g = torch.Generator().manual_seed(3)
    x1, x2 = torch.rand(50, 64, generator=g), torch.rand(50, 64, generator=g)
    out1, out2, mid = logits(a, x1), logits(a, x2), logits(a, (x1 + x2) / 2)
    scale = max(np.abs(out1).max(), np.abs(out2).max(), 1e-12)
    return {"distinct": a is not b and not shared,
            "parameters": sum(p.numel() for p in a.parameters()),
            "shape": list(out1.shape),
            "probabilities": bool((out1 >= 0).all() and np.allclose(out1.sum(axis=1), 1, atol=1e-4)),
            "curvature": float(np.abs(mid - (out1 + out2) / 2).max() / scale)}


def q3_learns(build_model, seed):
    torch.manual_seed(seed)
    return logits(fit(build_model(), seed), DATA["Xte"])


def full_loss(model, X, y):
    """The mean cross-entropy of model over all of X, in eval mode."""
    model.eval()
    with torch.no_grad():
        return nn.functional.cross_entropy(model(torch.as_tensor(X, dtype=torch.float32)),
                                           torch.as_tensor(y, dtype=torch.long)).item()


def q4_run(train, lr, seed, epochs=10):
    """The student's train() with their LR, on the grader's model and batches."""
    model = mlp(seed)
    fresh = watch_gradients(model)
    losses = [float(v) for v in train(model, loader(DATA["Xtr"], DATA["ytr"], 32, True, seed), epochs, lr)]
    return {"losses": losses, "fresh": fresh, "logits": logits(model, DATA["Xte"])}


def q4_lr_zero(train):
    """train() with lr=0 for 2 epochs on 3 full batches: whether the weights stayed, the losses it
    returned, and the mean loss over those samples before and after."""
    X, y = DATA["Xtr"][:96], DATA["ytr"][:96]
    model = mlp(1)
    before = [p.detach().clone() for p in model.parameters()]
    loss_before = full_loss(model, X, y)
    losses = [float(v) for v in train(model, loader(X, y, 32, True, 1), 2, 0.0)]
    return {"unchanged": all(torch.equal(a, b.detach()) for a, b in zip(before, model.parameters())),
            "losses": losses, "before": loss_before, "after": full_loss(model, X, y)}


def figure_facts(fig):
    """The type, lines, and axis labels of what plot_losses() returned."""
    import matplotlib.pyplot as plt
    facts = {"type": type(fig).__name__}
    if facts["type"] == "Figure" and fig.axes:
        ax = fig.axes[0]
        facts["lines"] = [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
        facts["xlabel"], facts["ylabel"] = ax.get_xlabel(), ax.get_ylabel()
        plt.close(fig)
    return facts


class Probe(nn.Module):
    """A fixed linear model, with optional dropout, that records the mode of every call."""

    def __init__(self, seed, dropout=0.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.linear = nn.Linear(64, 10)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(10, 64, generator=g))
            self.linear.bias.copy_(torch.randn(10, generator=g))
        self.dropout = nn.Dropout(dropout)
        self.calls = []

    def forward(self, x):
        self.calls.append([bool(self.training), bool(torch.is_grad_enabled())])
        return self.linear(self.dropout(x))


def probe_logits(seed, X):
    return logits(Probe(seed), X)


def measure(fn, seed, X, y, batch_size, dropout=0.0, repeats=1):
    """fn(probe, loader) for the student's evaluate or val_loss: the values and the probe's calls."""
    probe = Probe(seed, dropout)
    probe.train()
    torch.manual_seed(seed)
    values = [float(fn(probe, loader(X, y, batch_size))) for _ in range(repeats)]
    return {"values": values, "calls": probe.calls}


def draws(set_seed, seed):
    """Random numbers drawn right after set_seed(seed), from each generator."""
    set_seed(seed)
    out = {"torch": torch.rand(4).tolist(), "init": nn.Linear(8, 3).weight.detach().numpy().copy(),
           "shuffle": [int(i) for batch in DataLoader(list(range(12)), batch_size=12, shuffle=True) for i in batch]}
    out["numpy"] = np.random.rand(3).tolist()
    out["random"] = [random.random() for _ in range(3)]
    return out


def seeded_run(set_seed, seed):
    """The losses of the grader's own short training run after set_seed(seed). It draws from every
    global generator: a subsample (random), noise on the inputs (NumPy), initial weights, shuffled
    batches and dropout (torch)."""
    set_seed(seed)
    rows = random.sample(range(len(DATA["Xtr"])), 256)
    X = DATA["Xtr"][rows] + np.random.normal(0.0, 0.05, (256, 64)).astype(np.float32)
    batches = DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(DATA["ytr"][rows], dtype=torch.long)),
                         batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        total = 0.0
        for inputs, labels in batches:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(inputs), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total)
    return losses


def reference_model():
    """The grader's build_model() while q8 is tested. Its dropout shows a model left in training mode."""
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))


def with_reference_model(namespace, fn):
    """fn() while ``build_model`` in the student's ``namespace`` is :func:`reference_model`: q8's load()
    builds its model with build_model(), and must not depend on how q3 was answered."""
    saved = namespace.get("build_model")
    namespace["build_model"] = reference_model
    try:
        return fn()
    finally:
        namespace["build_model"] = saved


def perturbed(seed):
    """A reference model whose weights the grader moved by its own random amounts."""
    model = reference_model()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def q8_state_dict(save):
    """What save() wrote: loadable with weights_only=True, a dict of tensors with the model's keys."""
    model = perturbed(8)
    path = tempfile.mkdtemp() + "/model.pt"
    save(model, path)
    try:
        state = torch.load(path, weights_only=True)
    except Exception as exc:
        return {"plain": False, "why": type(exc).__name__}
    return {"plain": isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()),
            "keys": sorted(state) == sorted(model.state_dict()) if isinstance(state, dict) else False}


def q8_roundtrip(save, load):
    """Two models saved and loaded back: their logits before and after, whether load made new objects,
    and whether what it returned was in eval mode (every submodule), ready for predictions."""
    a, b = perturbed(81), perturbed(82)
    folder = tempfile.mkdtemp()
    save(a, folder + "/a.pt")
    save(b, folder + "/b.pt")
    la, lb = load(folder + "/a.pt"), load(folder + "/b.pt")
    in_eval = all(isinstance(m, nn.Module) and not any(s.training for s in m.modules()) for m in (la, lb))
    X = DATA["Xte"][:64]
    return {"a": logits(a, X), "b": logits(b, X), "la": logits(la, X), "lb": logits(lb, X),
            "new_objects": la is not lb and la is not a and lb is not b, "eval": in_eval}
