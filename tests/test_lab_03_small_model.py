"""The 03-small-model lab graded end to end: the solution, the untouched student
notebook, other correct solutions, and typical mistakes, in one ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/03-small-model/``.
Each is the solution with some answer cells (found by tag) replaced; a test
below checks the files still match that recipe, and
``python tests/test_lab_03_small_model.py`` rewrites them after the solution changes.
"""

from __future__ import annotations

from conftest import KeptNotebooks, last_matching_tag
from lab_suite import LabSuite, solution_cell

LAB = "03-small-model"

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

FUNC_GRAD = '''
%matplotlib inline
from torch.func import grad as func_grad

def mse_grad(X, y, w):
    X_t = torch.tensor(np.array(X, dtype=np.float64))
    y_t = torch.tensor(np.array(y, dtype=np.float64))
    loss = lambda weights: torch.mean((X_t @ weights - y_t) ** 2)
    return func_grad(loss)(torch.tensor(np.array(w, dtype=np.float64))).numpy()
'''

DATASET_LOADER = '''
from torch.utils.data import Dataset

class DigitsDataset(Dataset):
    def __init__(self, X, y):
        self.X = np.asarray(X, dtype=np.float32)
        self.y = np.asarray(y).astype(np.int64)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.X[i]), torch.tensor(self.y[i])

def make_loader(X, y, batch_size=32, shuffle=False):
    return DataLoader(DigitsDataset(X, y), batch_size=batch_size, shuffle=shuffle)
'''

LEAKY_RELU_MODULE = '''
import torch.nn.functional as F

class TwoHidden(nn.Module):
    def __init__(self, hidden=(80, 40)):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.head = nn.Linear(hidden[1], 10)

    def forward(self, x):
        x = F.leaky_relu(self.fc1(x), 0.05)
        x = F.leaky_relu(self.fc2(x), 0.05)
        return self.head(x)

def build_model():
    return TwoHidden()
'''

NESTEROV_STEPLR_TRAIN = '''
def train(model, loader, epochs, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    history = []
    for epoch in range(epochs):
        model.train()
        seen = 0
        running = 0.0
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            running += float(loss) * xb.size(0)
            seen += xb.size(0)
        sched.step()
        history.append(np.float64(running / seen))
        print(f"epoch {epoch + 1}: {history[-1]:.4f}")
    return history
'''

SEMILOGY_PLOT = '''
def plot_losses(losses):
    fig = plt.figure(figsize=(4, 3))
    ax = fig.add_subplot(111)
    ax.semilogy(np.arange(1, len(losses) + 1), losses, "o-", color="tab:red")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (log scale)")
    fig.tight_layout()
    return fig
'''

DECORATED_EVALUATE = '''
@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    right = 0
    for xb, yb in loader:
        right += int(torch.sum(torch.argmax(model(xb), dim=-1) == yb))
    return right / len(loader.dataset)
'''

DETERMINISTIC_SEED = '''
import os

def set_seed(seed):
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
'''

STRICT_LOAD = '''
def save(model, path):
    torch.save(model.state_dict(), path)

def load(path):
    fresh = build_model()
    fresh.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return fresh.eval()
'''

CONCATENATED_VAL_LOSS = '''
def val_loss(model, loader):
    model.eval()
    with torch.no_grad():
        logits_ = torch.cat([model(xb) for xb, _ in loader])
        labels = torch.cat([yb for _, yb in loader])
    return F.cross_entropy(logits_, labels).item()

def early_stop(val_losses, patience):
    best_epoch = 0
    epoch = 1
    since = 0
    while epoch < len(val_losses) and since < patience:
        if val_losses[epoch] < val_losses[best_epoch]:
            best_epoch, since = epoch, 0
        else:
            since += 1
        epoch += 1
    return best_epoch
'''

REQUIRES_GRAD_INPLACE = '''
def mse_grad(X, y, w):
    Xt = torch.from_numpy(np.array(X, dtype=float))
    yt = torch.from_numpy(np.array(y, dtype=float))
    wt = torch.from_numpy(np.array(w, dtype=float)).requires_grad_()
    residual = Xt.matmul(wt) - yt
    residual.pow(2).mean().backward()
    return wt.grad.numpy().copy()
'''

POSITIONAL_LOADER = '''
def make_loader(X, y, batch_size=32, shuffle=False):
    features = torch.from_numpy(np.ascontiguousarray(X)).float()
    targets = torch.from_numpy(np.asarray(y)).long()
    return DataLoader(TensorDataset(features, targets), batch_size, shuffle)
'''

ORDERED_DICT_MODEL = '''
print(torch.__version__)
torch.set_num_threads(1)

from collections import OrderedDict

def build_model():
    return nn.Sequential(OrderedDict([
        ("hidden", nn.Linear(64, 32)),
        ("act", nn.SiLU()),
        ("out", nn.Linear(32, 10)),
    ]))
'''

PER_SAMPLE_ADAM_TRAIN = '''
def train(model, loader, epochs, lr):
    optimiser = torch.optim.Adam(model.parameters(), lr)
    per_sample = nn.CrossEntropyLoss(reduction="none")
    epoch_losses = []
    for _ in range(epochs):
        model.train()
        all_losses = []
        for batch_x, batch_y in loader:
            losses = per_sample(model(batch_x), batch_y)
            optimiser.zero_grad()
            losses.mean().backward()
            optimiser.step()
            all_losses.extend(losses.detach().tolist())
        epoch_losses.append(sum(all_losses) / len(all_losses))
    return epoch_losses
'''

TWO_PANEL_PLOT = '''
def plot_losses(losses):
    fig, axs = plt.subplots(1, 2, figsize=(8, 3))
    axs[0].plot(losses)
    axs[0].set(xlabel="epoch", ylabel="loss", title="linear")
    axs[1].plot(losses)
    axs[1].set_yscale("log")
    axs[1].set(xlabel="epoch", ylabel="loss", title="log")
    return fig
'''

GRAD_DISABLED_EVALUATE = '''
def evaluate(model, loader):
    model.eval()
    n_right = n_all = 0
    with torch.set_grad_enabled(False):
        for features, targets in loader:
            guesses = model(features).max(dim=1).indices
            n_right += (guesses == targets).sum().item()
            n_all += len(targets)
    return float(n_right) / n_all
'''

SEEDER_LOOP = '''
def set_seed(seed):
    for seeder in (random.seed, np.random.seed, torch.manual_seed):
        seeder(seed)
'''

PLAIN_DICT_SAVE = '''
def save(model, path):
    torch.save({name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}, path)

def load(path):
    state = torch.load(path)
    m = build_model()
    m.load_state_dict(state)
    m.eval()
    return m
'''

PREFIX_MIN_EARLY_STOP = '''
def val_loss(model, loader):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for xb, yb in loader:
            total += nn.CrossEntropyLoss(reduction="sum")(model(xb), yb).item()
    return total / len(loader.dataset)

def early_stop(val_losses, patience):
    for epoch in range(len(val_losses)):
        best_so_far = min(range(epoch + 1), key=lambda i: (val_losses[i], i))
        if epoch - best_so_far >= patience:
            return best_so_far
    return min(range(len(val_losses)), key=lambda i: (val_losses[i], i))
'''

CORRECT: dict[str, dict[str, str]] = {
    "subclass-adam": {"q1": FLOAT32_AUTOGRAD, "q2": FROM_NUMPY_LOADER, "q3": SUBCLASS_MODEL, "q4": ADAM_TRAIN,
                      "q4-lr": "LR = 0.003", "q5": PYPLOT_PLOT, "q6": INFERENCE_MODE_EVALUATE, "q7": CUDA_TOO_SEED,
                      "q8": DEFAULT_LOAD, "q9": COUNTER_EARLY_STOP},
    "tanh-dropout-adamw": {"q3": TANH_DROPOUT_MODEL, "q4": ADAMW_CLIPPED_TRAIN, "q4-lr": "LR = 0.01",
                           "q5": AXES_PLOT, "q6": CONCAT_EVALUATE, "q9": MEAN_TIMES_COUNT_VAL_LOSS},
    "batchnorm-sgd": {"q2": INT64_LOADER, "q3": BATCHNORM_MODEL, "q4": PLAIN_SGD_TRAIN, "q4-lr": "LR = 0.2"},
    "logsoftmax-rmsprop": {"q3": LOG_SOFTMAX_MODEL, "q4": RMSPROP_TRAIN, "q4-lr": "LR = 0.001"},
    "functional-nesterov": {"q1": FUNC_GRAD, "q2": DATASET_LOADER, "q3": LEAKY_RELU_MODULE, "q4": NESTEROV_STEPLR_TRAIN,
                            "q4-lr": "LR = 0.05", "q5": SEMILOGY_PLOT, "q6": DECORATED_EVALUATE,
                            "q7": DETERMINISTIC_SEED, "q8": STRICT_LOAD, "q9": CONCATENATED_VAL_LOSS},
    "pythonic-silu-adam": {"q1": REQUIRES_GRAD_INPLACE, "q2": POSITIONAL_LOADER, "q3": ORDERED_DICT_MODEL,
                           "q4": PER_SAMPLE_ADAM_TRAIN, "q4-lr": "LR = 1e-2", "q5": TWO_PANEL_PLOT,
                           "q6": GRAD_DISABLED_EVALUATE, "q7": SEEDER_LOOP, "q8": PLAIN_DICT_SAVE,
                           "q9": PREFIX_MIN_EARLY_STOP},
}

# --- typical mistakes: each breaks one thing in the solution --------------------------


def without(tag: str, fragment: str) -> str:
    """The solution's cell ``tag`` without the lines that contain ``fragment``."""
    lines = solution_cell(LAB, tag).splitlines()
    kept = [line for line in lines if fragment not in line]
    assert len(kept) < len(lines), f"{fragment!r} is not in the solution's {tag} cell"
    return "\n".join(kept)


def replaced(tag: str, old: str, new: str) -> str:
    """The solution's cell ``tag`` with ``old`` replaced by ``new``."""
    source = solution_cell(LAB, tag)
    assert old in source, f"{old!r} is not in the solution's {tag} cell"
    return source.replace(old, new)


DERIVED_MISTAKES = {  # made from the current solution's cells, so that they follow it
    "no-eval": lambda: {"q6": without("q6", "model.eval()")},
    "no-zero-grad": lambda: {"q4": without("q4", "zero_grad()")},
    "softmax-output": lambda: {"q3": replaced("q3", "nn.Linear(64, 10),",
                                              "nn.Linear(64, 10),\n        nn.Softmax(dim=1),")},
    "seed-without-torch": lambda: {"q7": without("q7", "torch.manual_seed")},
    "linear-only": lambda: {"q3": without("q3", "nn.ReLU()")},
    "torch-only-seed": lambda: {"q7": without("q7", "random.seed")},
}

WRITTEN_MISTAKES: dict[str, dict[str, str]] = {
    "pickled-model": {"q8": '''
def save(model, path):
    """Write the model's state_dict to path."""
    torch.save(model, path)


def load(path):
    """A new model from build_model() with the weights saved at path, in eval mode."""
    model = torch.load(path, weights_only=False)
    model.eval()
    return model
'''},
    "batch-mean-accuracy": {"q6": '''
def evaluate(model, loader):
    """The accuracy of model on loader, in eval mode and without gradients."""
    model.eval()
    scores = []
    with torch.no_grad():
        for inputs, labels in loader:
            scores.append((model(inputs).argmax(dim=1) == labels).float().mean().item())
    return sum(scores) / len(scores)
'''},
    "no-no-grad": {"q6": '''
def evaluate(model, loader):
    model.eval()
    correct, count = 0, 0
    for inputs, labels in loader:
        correct += (model(inputs).argmax(dim=1) == labels).sum().item()
        count += len(labels)
    return correct / count
'''},
    "sum-not-mean": {"q1": '''
def mse_grad(X, y, w):
    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    y = torch.as_tensor(np.asarray(y, dtype=np.float64))
    w = torch.tensor(np.asarray(w, dtype=np.float64), requires_grad=True)
    ((X @ w - y) ** 2).sum().backward()
    return w.grad.numpy()
'''},
    "never-shuffles": {"q2": '''
def make_loader(X, y, batch_size=32, shuffle=False):
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
    return DataLoader(TensorDataset(inputs, labels), batch_size=batch_size)
'''},
    "shared-model": {"q3": '''
_model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

def build_model():
    return _model
'''},
    "ignores-lr": {"q4": '''
def train(model, loader, epochs, lr):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            count += len(labels)
        losses.append(total / count)
    return losses
'''},
    "sum-of-batch-means": {"q4": '''
def train(model, loader, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total)
    return losses
'''},
    "returns-axes": {"q5": '''
def plot_losses(losses):
    fig, ax = plt.subplots()
    ax.plot(losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    return ax
'''},
    "load-without-eval": {"q8": '''
def save(model, path):
    torch.save(model.state_dict(), path)

def load(path):
    model = build_model()
    model.load_state_dict(torch.load(path, weights_only=True))
    return model
'''},
    "val-loss-in-train-mode": {"q9": '''
def val_loss(model, loader):
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            total += nn.functional.cross_entropy(model(inputs), labels, reduction="sum").item()
            count += len(labels)
    return total / count

def early_stop(val_losses, patience):
    best, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best
'''},
    "ties-improve": {"q9": '''
def val_loss(model, loader):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            total += nn.functional.cross_entropy(model(inputs), labels, reduction="sum").item()
            count += len(labels)
    return total / count

def early_stop(val_losses, patience):
    best, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] <= val_losses[best]:
            best, waited = epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best
'''},
}


def mistake_cells(name: str) -> dict[str, str]:
    """The replaced cells of mistake ``name``."""
    return DERIVED_MISTAKES[name]() if name in DERIVED_MISTAKES else WRITTEN_MISTAKES[name]


Q7_RUN = "q7: after set_seed, a whole training run (subsample, input noise, weights, batches, dropout) repeats exactly"
Q4_MEAN = ("q4: each epoch's loss is the mean loss per sample (with lr=0 it equals the loss over all samples), "
           "not a sum")

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
        Q7_RUN: 2,
    },
    "pickled-model": {"q8: save writes the model's state_dict (a dict of tensors), not the whole pickled model": 2},
    "batch-mean-accuracy": {
        "q6: evaluate returns the fraction of correct predictions (3 of 5 here)": 1,
        "q6: evaluate weighs every sample equally when the last batch is smaller": 1,
    },
    "sum-not-mean": {
        "q1: mse_grad gives 2/n X^T (Xw - y) on a small example, as a NumPy array": 1,
        "q1: mse_grad equals the analytic gradient 2/n X^T (Xw - y) on new data": 4,
        "q1: mse_grad accepts plain lists and returns a float array of shape (d,)": 1,
    },
    "never-shuffles": {"q2: with shuffle=True, every epoch holds each sample once, in a new order": 1},
    "linear-only": {"q3: the model is not a linear function of its input (a hidden layer needs a nonlinearity)": 2},
    "shared-model": {"q3: each call of build_model() returns a new model with parameters of its own": 1},
    "ignores-lr": {"q4: train() uses the learning rate it is given (lr=0 changes no weight)": 1},
    "sum-of-batch-means": {Q4_MEAN: 1},
    "returns-axes": {
        "q5: plot_losses returns a matplotlib Figure whose line holds the losses": 1,
        "q5: plot_losses returns a Figure with one line holding exactly the losses given": 1,
        "q5: both axes of the loss plot have a label": 1,
    },
    "no-no-grad": {"q6: evaluate runs the model under torch.no_grad()": 1},
    "torch-only-seed": {"q7: set_seed also seeds NumPy and Python's random module": 1, Q7_RUN: 2},
    "load-without-eval": {"q8: load(path) returns the model in eval mode, ready for predictions": 1},
    "val-loss-in-train-mode": {"q9: val_loss measures in eval mode (dropout off) and without gradients": 1},
    "ties-improve": {"q9: early_stop counts an equal loss as no improvement": 1},
}

# The lab's lesson: a training loop that trains and an honest evaluation (held-out data, eval mode, no
# gradients, per sample). These tests must weigh at least 15 % of the lab.
LESSON_EXERCISES = ("q4", "q6")
LESSON_TESTS = {Q4_MEAN, "q8: load(path) returns the model in eval mode, ready for predictions",
                "q9: val_loss measures in eval mode (dropout off) and without gradients",
                "q9: val_loss is the mean cross-entropy per sample, also when the last batch is smaller",
                "q3: trained by the grader's own loop, the model reads at least 75% of held-out digits"}


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return CORRECT[name] if name in CORRECT else mistake_cells(name)


MISTAKES = list(EXPECTED_LOSSES)
# A cell's replacement is the last of its tags that names one (this lab's cells may carry more than one).
KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements, pick=last_matching_tag)


# --- the batch ------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite). Its correct variants differ in architectures, optimizers,
    learning rates and idioms."""

    kept = KEPT
    max_score = 68
    test_count = 47
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("no-zero-grad", "q4: train() clears")
    lesson = "a training loop that trains and an honest evaluation"
    lesson_exercises = LESSON_EXERCISES
    lesson_tests = LESSON_TESTS


if __name__ == "__main__":
    KEPT.write()
