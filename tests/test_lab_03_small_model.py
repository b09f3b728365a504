"""The 03-small-model lab graded end to end: the solution, the untouched student
notebook, other correct solutions, and typical mistakes, in one ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/03-small-model/``.
Each is the solution with some answer cells (found by tag) replaced; a test
below checks the files still match that recipe, and
``python tests/test_lab_03_small_model.py`` rewrites them after the solution changes.
"""

from __future__ import annotations

import csv
import json
import tomllib

import nbformat
import pytest

from conftest import REPO, KeptNotebooks, last_matching_tag, run_grade

LAB = "03-small-model"
SOLUTION = REPO / "solutions" / LAB / "solution.ipynb"
STUDENT = REPO / "labs" / LAB / "lab.ipynb"

# --- correct answers in other styles -------------------------------------------------

SUBCLASS_MODEL = '''
class DigitNet(nn.Module):
    """64 -> 128 -> 10, ReLU applied in forward()."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 128)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def build_model():
    return DigitNet()
'''

ADAM_TRAIN = '''
def train(model, loader, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        model.train()
        batch_losses = []
        for xb, yb in loader:
            loss = criterion(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        history.append(sum(batch_losses) / len(batch_losses))
    return history
'''

FLOAT32_AUTOGRAD = '''
def mse_grad(X, y, w):
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32)
    w = torch.tensor(w, dtype=torch.float32, requires_grad=True)
    loss = torch.mean((X @ w - y) ** 2)
    (grad,) = torch.autograd.grad(loss, w)
    return grad.numpy()
'''

FROM_NUMPY_LOADER = '''
def make_loader(X, y, batch_size=32, shuffle=False):
    inputs = torch.from_numpy(np.asarray(X, dtype=np.float32))
    labels = torch.tensor(np.asarray(y)).long()
    return DataLoader(TensorDataset(inputs, labels), batch_size=batch_size, shuffle=shuffle)
'''

PYPLOT_PLOT = '''
def plot_losses(losses):
    fig = plt.figure()
    plt.plot(losses)
    plt.xlabel("Epoch")
    plt.ylabel("Loss")
    return fig
'''

INFERENCE_MODE_EVALUATE = '''
def evaluate(model, loader):
    model.train(False)
    hits = total = 0
    with torch.inference_mode():
        for xb, yb in loader:
            hits += int(model(xb).argmax(1).eq(yb).sum())
            total += yb.numel()
    return hits / total
'''

CUDA_TOO_SEED = '''
def set_seed(seed):
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    np.random.seed(seed)
    random.seed(seed)
'''

DEFAULT_LOAD = '''
def save(model, path):
    torch.save(model.state_dict(), path)


def load(path):
    model = build_model()
    model.load_state_dict(torch.load(path))
    return model.eval()
'''

COUNTER_EARLY_STOP = '''
def val_loss(model, loader):
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    with torch.no_grad():
        total = sum(criterion(model(xb), yb).item() for xb, yb in loader)
    return total / len(loader.dataset)


def early_stop(val_losses, patience):
    best_loss, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_loss:
            best_loss, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                break
    return best_epoch
'''

TANH_DROPOUT_MODEL = '''
def build_model():
    return nn.Sequential(
        nn.Linear(64, 96), nn.Tanh(), nn.Dropout(0.2),
        nn.Linear(96, 48), nn.Tanh(),
        nn.Linear(48, 10),
    )
'''

ADAMW_CLIPPED_TRAIN = '''
def train(model, loader, epochs, lr):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    losses = []
    for _ in range(epochs):
        model.train()
        seen, running = 0, 0.0
        for inputs, labels in loader:
            model.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            running += loss.item() * inputs.shape[0]
            seen += inputs.shape[0]
        losses.append(running / seen)
    return losses
'''

CONCAT_EVALUATE = '''
def evaluate(model, loader):
    model.eval()
    preds, labels = [], []
    with torch.no_grad():
        for xb, yb in loader:
            preds.append(model(xb).argmax(dim=1))
            labels.append(yb)
    return (torch.cat(preds) == torch.cat(labels)).float().mean().item()
'''

AXES_PLOT = '''
def plot_losses(losses):
    fig, ax = plt.subplots()
    ax.plot(np.arange(len(losses)), np.array(losses), "b-")
    ax.set(xlabel="epoch", ylabel="mean loss")
    ax.grid(True)
    return fig
'''

MEAN_TIMES_COUNT_VAL_LOSS = '''
def val_loss(model, loader):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            total += nn.functional.cross_entropy(model(xb), yb).item() * len(yb)
            count += len(yb)
    return total / count


def early_stop(val_losses, patience):
    best = 0
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        elif epoch - best >= patience:
            break
    return best
'''

BATCHNORM_MODEL = '''
def build_model():
    return nn.Sequential(
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 32), nn.ReLU(),
        nn.Linear(32, 10),
    )
'''

PLAIN_SGD_TRAIN = '''
def train(model, loader, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    per_epoch = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), labels) / len(labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
        per_epoch.append(total / len(loader.dataset))
    return per_epoch
'''

INT64_LOADER = '''
def make_loader(X, y, batch_size=32, shuffle=False):
    dataset = TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
'''

LOG_SOFTMAX_MODEL = '''
def build_model():
    """Log-probabilities out: CrossEntropyLoss on them trains the same as on logits."""
    return nn.Sequential(nn.Linear(64, 48), nn.GELU(), nn.Linear(48, 10), nn.LogSoftmax(dim=1))
'''

RMSPROP_TRAIN = '''
def train(model, loader, epochs, lr):
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        model.train()
        total = torch.zeros(())
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), labels)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(labels)
        losses.append(total.item() / len(loader.dataset))
    return losses
'''

CORRECT: dict[str, dict[str, str]] = {
    "subclass-adam": {"q1": FLOAT32_AUTOGRAD, "q2": FROM_NUMPY_LOADER, "q3": SUBCLASS_MODEL, "q4": ADAM_TRAIN,
                      "q4-lr": "LR = 0.003", "q5": PYPLOT_PLOT, "q6": INFERENCE_MODE_EVALUATE, "q7": CUDA_TOO_SEED,
                      "q8": DEFAULT_LOAD, "q9": COUNTER_EARLY_STOP},
    "tanh-dropout-adamw": {"q3": TANH_DROPOUT_MODEL, "q4": ADAMW_CLIPPED_TRAIN, "q4-lr": "LR = 0.01",
                           "q5": AXES_PLOT, "q6": CONCAT_EVALUATE, "q9": MEAN_TIMES_COUNT_VAL_LOSS},
    "batchnorm-sgd": {"q2": INT64_LOADER, "q3": BATCHNORM_MODEL, "q4": PLAIN_SGD_TRAIN, "q4-lr": "LR = 0.2"},
    "logsoftmax-rmsprop": {"q3": LOG_SOFTMAX_MODEL, "q4": RMSPROP_TRAIN, "q4-lr": "LR = 0.001"},
}

# --- typical mistakes: each breaks one thing in the solution --------------------------


def solution_cell(tag: str) -> str:
    """The source of the solution's first cell tagged ``tag``."""
    return next(c.source for c in nbformat.read(SOLUTION, as_version=4).cells if tag in c.metadata.get("tags", []))


def without(tag: str, fragment: str) -> str:
    """The solution's cell ``tag`` without the lines that contain ``fragment``."""
    lines = solution_cell(tag).splitlines()
    kept = [line for line in lines if fragment not in line]
    assert len(kept) < len(lines), f"{fragment!r} is not in the solution's {tag} cell"
    return "\n".join(kept)


def replaced(tag: str, old: str, new: str) -> str:
    """The solution's cell ``tag`` with ``old`` replaced by ``new``."""
    source = solution_cell(tag)
    assert old in source, f"{old!r} is not in the solution's {tag} cell"
    return source.replace(old, new)


def mistake_cells(name: str) -> dict[str, str]:
    """The replaced cells of mistake ``name``, derived from the current solution."""
    if name == "no-eval":
        return {"q6": without("q6", "model.eval()")}
    if name == "no-zero-grad":
        return {"q4": without("q4", "zero_grad()")}
    if name == "softmax-output":
        return {"q3": replaced("q3", "nn.Linear(64, 10),", "nn.Linear(64, 10),\n        nn.Softmax(dim=1),")}
    if name == "seed-without-torch":
        return {"q7": without("q7", "torch.manual_seed")}
    if name == "pickled-model":
        return {"q8": '''
def save(model, path):
    """Write the model's state_dict to path."""
    torch.save(model, path)


def load(path):
    """A new model from build_model() with the weights saved at path, in eval mode."""
    model = torch.load(path, weights_only=False)
    model.eval()
    return model
'''}
    if name == "batch-mean-accuracy":
        return {"q6": '''
def evaluate(model, loader):
    """The accuracy of model on loader, in eval mode and without gradients."""
    model.eval()
    scores = []
    with torch.no_grad():
        for inputs, labels in loader:
            scores.append((model(inputs).argmax(dim=1) == labels).float().mean().item())
    return sum(scores) / len(scores)
'''}
    raise KeyError(name)


# What each mistake must cost, test by test (names without their "[parameters]"), and nothing else.
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "no-eval": {"q6: evaluate puts the model in eval mode (dropout off), so repeated calls agree": 3},
    "no-zero-grad": {
        "q4: train() with your LR returns one loss per epoch, and the loss goes down": 1,
        "q4: train() clears the old gradients before each backward pass": 3,
        "q4: with your train() and LR, 10 epochs teach a 64-64-10 network to read at least 80% of held-out digits": 3,
        "q4: train() returns one loss per epoch, and the last is less than half the first": 2,
    },
    "softmax-output": {"q3: the model outputs raw logits, not softmax probabilities": 2},
    "seed-without-torch": {
        "q7: after set_seed(0), torch.rand gives the same numbers again": 1,
        "q7: set_seed makes torch's draws, initial weights and shuffle order repeat; another seed changes them": 2,
        "q7: your pipeline (set_seed, build_model, make_loader, train) gives identical losses twice with one seed": 2,
    },
    "pickled-model": {"q8: save writes the model's state_dict (a dict of tensors), not the whole pickled model": 2},
    "batch-mean-accuracy": {
        "q6: evaluate returns the fraction of correct predictions (3 of 5 here)": 1,
        "q6: evaluate weighs every sample equally when the last batch is smaller": 1,
    },
}


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return CORRECT[name] if name in CORRECT else mistake_cells(name)


MISTAKES = list(EXPECTED_LOSSES)
# A cell's replacement is the last of its tags that names one (this lab's cells may carry more than one).
KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements, pick=last_matching_tag)


# --- the batch ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One ``grade`` run over the kept notebooks and the untouched student notebook."""
    out = tmp_path_factory.mktemp("lab03") / "grades"
    proc = run_grade(str(KEPT.folder.relative_to(REPO)), str(STUDENT.relative_to(REPO)), "--out", str(out), cwd=REPO)
    with open(out / "gradebook.csv", newline="") as f:
        book = {row["student"]: row for row in csv.DictReader(f)}
    results = {s: json.loads((out / s / f"{LAB}.json").read_text()) for s in book}
    return proc, book, results


def test_kept_notebooks_follow_the_solution():
    """Each kept notebook is exactly the solution with its replaced cells: regenerate after editing the solution."""
    stale = KEPT.stale()
    assert not stale, f"rewrite them: python tests/test_lab_03_small_model.py ({stale})"


def test_batch_ends_well_and_grades_everyone(graded):
    """The batch exits 0 and every notebook is graded in the sandbox."""
    proc, book, _ = graded
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(book) == {*KEPT.names(), "lab"}
    assert all(r["status"] == "graded" and r["sandboxed"] == "yes" for r in book.values()), book


def test_solution_scores_full_marks(graded):
    """The reference solution passes every public and hidden test."""
    _, book, results = graded
    assert float(book["solution"]["score"]) == float(book["solution"]["max_score"]) > 0
    assert all(t["status"] == "passed" for t in results["solution"]["tests"])


def test_untouched_student_notebook_scores_zero(graded):
    """The generated student notebook, as handed out, runs to the end and earns nothing."""
    _, book, results = graded
    assert (book["lab"]["status"], float(book["lab"]["score"])) == ("graded", 0.0)
    assert book["lab"]["max_score"] == book["solution"]["max_score"]
    assert all(t["status"] == "failed" for t in results["lab"]["tests"])


@pytest.mark.parametrize("name", list(CORRECT))
def test_other_correct_solutions_score_full_marks(graded, name):
    """Correct answers in other styles (architectures, optimizers, learning rates, idioms) earn full marks."""
    _, book, results = graded
    failed = [t["name"] for t in results[name]["tests"] if t["status"] != "passed"]
    assert failed == [] and book[name]["score"] == book["solution"]["max_score"]


def lost_points(result: dict) -> dict[str, float]:
    """Points lost per test name (parameters stripped), for the tests that failed."""
    lost: dict[str, float] = {}
    for test in result["tests"]:
        if test["status"] != "passed":
            base = test["name"].split("[")[0]
            lost[base] = lost.get(base, 0) + test["max_score"] - test["score"]
    return lost


@pytest.mark.parametrize("name", list(MISTAKES))
def test_mistake_loses_exactly_its_points(graded, name):
    """A typical mistake fails the tests about it, and no other."""
    _, book, results = graded
    expected = EXPECTED_LOSSES[name]
    assert lost_points(results[name]) == expected
    assert float(book[name]["score"]) == float(book[name]["max_score"]) - sum(expected.values())


def test_hidden_failures_name_the_exercise_without_the_answer(graded):
    """A failed hidden test shows its exercise and what to look at, not the test's values."""
    _, _, results = graded
    shown = next(t for t in results["no-zero-grad"]["tests"] if t["name"].startswith("q4: train() clears"))
    assert shown["output"] == "failed (hidden test)"


def test_solution_runs_within_the_labs_time_limit(graded):
    """Executing the notebook and running every test fits in the lab's own time limit, even in a busy batch
    (graded alone on two cores it takes about 20 s)."""
    _, book, _ = graded
    limit = tomllib.loads((REPO / "solutions" / LAB / "lab.toml").read_text())["timeout"]
    assert 0 < float(book["solution"]["execution_time"]) < limit


if __name__ == "__main__":
    KEPT.write()
