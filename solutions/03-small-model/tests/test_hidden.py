"""Hidden tests for 03-small-model: run by the grader only.

The student's functions run in their kernel on data, seeds and models the
grader chooses. Test labels never enter the kernel: the kernel returns logits
and the accuracy is computed here, from plain arrays. Floors were set from
the spread of many correct solutions (below), with a margin; exact equality is
asked only where it is the point (same seed, same losses; saved and loaded
model, same outputs).
"""

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

SPLIT_SEED = 20240611  # which digits the grader trains and tests on
TRAIN_SIZE = 1200  # 1200 % 32 != 1: batch-norm models never see a batch of one
# Floors, from the spread over 8 random splits and seeds plus the fixed ones below:
# q3, the grader's loop on 10 architectures (16 to 256x2 units, ReLU, tanh, sigmoid, ELU, GELU,
#     dropout, batch norm, log-softmax): 0.814 (two sigmoid layers) .. 0.985, most above 0.93.
# q4, the student's loop and LR on the grader's 64-64-10 model, 13 optimizer/LR pairs from SGD 0.05
#     to Adam 0.02: 0.869 (Adam 5e-4, a slow rate) .. 0.975, most above 0.92. Forgetting zero_grad:
#     about 0.09 with SGD and momentum, 0.60..0.86 with Adam (the gradient-hook test catches that).
# Last epoch's loss / first epoch's: at most 0.33 for every correct set-up; 28..71 without zero_grad.
Q3_FLOOR = 0.75
Q4_FLOOR = 0.80
MAX_PARAMETERS = 100_000

KERNEL_SIDE = Path(__file__).with_name("kernel_side.py").read_text()  # run in the kernel as _grader_lab


@pytest.fixture(scope="module")
def digits():
    """The grader's split of the digits: (X_train, y_train, X_test, y_test)."""
    data = load_digits()
    X, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    tr, te = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return X[tr], y[tr], X[te], y[te]


@pytest.fixture
def lab(nb, digits):
    """The kernel, with the grader's helpers (``_grader_lab``) and data loaded once."""
    if not nb.ref("'_grader_lab' in globals()"):
        nb.run("import types as _t\n_grader_lab = _t.ModuleType('_grader_lab')\n"
               f"exec({KERNEL_SIDE!r}, _grader_lab.__dict__)\ndel _t")
        nb.assign("_grader_data", {"Xtr": digits[0], "ytr": digits[1], "Xte": digits[2]})
        nb.run("_grader_lab.DATA.update(_grader_data)\ndel _grader_data")
    return nb


def result(nb, key, expr):
    """The value of ``_grader_lab.<expr>``, computed once per kernel; fails on the error it raised."""
    got = nb.ref(f"_grader_lab.once({key!r}, lambda: _grader_lab.{expr})")
    if isinstance(got, dict) and "error" in got:
        pytest.fail(got["error"])
    return got


def accuracy(logits, labels):
    return float(np.mean(np.argmax(logits, axis=1) == labels))


# --- q1: autograd -------------------------------------------------------------------


def analytic_grad(X, y, w):
    return 2 / len(y) * X.T @ (X @ w - y)


@pytest.mark.points(2)
@pytest.mark.parametrize("n,d,seed", [(7, 3, 1), (40, 6, 2)], ids=["7x3", "40x6"])
def test_q1_gradient_matches_analytic(nb, n, d, seed):
    """q1: mse_grad equals the analytic gradient 2/n X^T (Xw - y) on new data"""
    rng = np.random.default_rng(seed)
    X, y, w = rng.normal(size=(n, d)), rng.normal(size=n), rng.normal(size=d)
    got = nb.call("mse_grad", X, y, w)
    assert type(got) is np.ndarray, "mse_grad should return a NumPy array"
    expected = analytic_grad(X, y, w)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.points(1)
def test_q1_accepts_lists(nb):
    """q1: mse_grad accepts plain lists and returns a float array of shape (d,)"""
    got = nb.call("mse_grad", [[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]], [1.0, -1.0], [0.5, 0.5, 0.5])
    expected = analytic_grad(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]), np.array([1.0, -1.0]),
                             np.array([0.5, 0.5, 0.5]))
    assert type(got) is np.ndarray and got.dtype.kind == "f" and got.shape == (3,)
    assert np.allclose(got, expected, rtol=1e-5)


# --- q2: DataLoader -----------------------------------------------------------------


def batches(nb, X, y, batch_size, shuffle, epochs=1):
    """The batches make_loader yields, as plain data: [(x dtype, x, y dtype, y), ...] per epoch."""
    nb.assign("_grader_args", [X, y])
    return nb.ref(
        "(lambda loader: [[(str(xb.dtype), xb.numpy(), str(yb.dtype), yb.numpy()) for xb, yb in loader]"
        f" for _ in range({epochs})])(make_loader(*_grader_args, {batch_size}, {shuffle}))")


@pytest.mark.points(2)
def test_q2_types_and_shapes(nb):
    """q2: make_loader turns float64 inputs into float32 and integer labels into int64, in batches of the given size"""
    X = np.random.default_rng(0).random((23, 64))
    got = batches(nb, X, np.arange(23) % 10, 5, False)[0]
    assert [len(b[1]) for b in got] == [5, 5, 5, 5, 3]
    assert all(b[0] == "torch.float32" and b[2] == "torch.int64" for b in got)
    assert all(b[1].shape[1:] == (64,) and b[3].ndim == 1 for b in got)


@pytest.mark.points(1)
def test_q2_order_without_shuffle(nb):
    """q2: without shuffle, make_loader keeps every sample and its label, in order"""
    X = np.random.default_rng(1).random((10, 64))
    y = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    got = batches(nb, X, y, 4, False)[0]
    assert np.allclose(np.concatenate([b[1] for b in got]), X.astype(np.float32))
    assert np.concatenate([b[3] for b in got]).tolist() == y.tolist()


@pytest.mark.points(1)
def test_q2_shuffles_each_epoch(nb):
    """q2: with shuffle=True, every epoch holds each sample once, in a new order"""
    X = np.repeat(np.arange(30, dtype=np.float64)[:, None], 64, axis=1)
    epochs = batches(nb, X, np.arange(30), 8, True, epochs=3)
    orders = [np.concatenate([b[3] for b in epoch]).tolist() for epoch in epochs]
    assert all(sorted(order) == list(range(30)) for order in orders)
    for epoch, order in zip(epochs, orders):
        assert np.concatenate([b[1][:, 0] for b in epoch]).tolist() == order, "inputs and labels must stay paired"
    assert len({tuple(order) for order in [*orders, list(range(30))]}) == 4


# --- q3: the model ------------------------------------------------------------------


@pytest.mark.points(1)
def test_q3_fresh_model_each_call(lab):
    """q3: each call of build_model() returns a new model with parameters of its own"""
    assert result(lab, "q3", "q3_facts(build_model)")["distinct"] is True


@pytest.mark.points(1)
def test_q3_small(lab):
    """q3: the model has fewer than 100,000 parameters"""
    facts = result(lab, "q3", "q3_facts(build_model)")
    assert facts["shape"] == [50, 10]
    assert 0 < facts["parameters"] < MAX_PARAMETERS


@pytest.mark.points(2)
def test_q3_outputs_logits(lab):
    """q3: the model outputs raw logits, not softmax probabilities"""
    assert result(lab, "q3", "q3_facts(build_model)")["probabilities"] is False


@pytest.mark.points(2)
def test_q3_has_nonlinearity(lab):
    """q3: the model is not a linear function of its input (a hidden layer needs a nonlinearity)"""
    assert result(lab, "q3", "q3_facts(build_model)")["curvature"] > 1e-3


@pytest.mark.points(3)
def test_q3_learns_digits(lab, digits):
    """q3: trained by the grader's own loop, the model reads at least 75% of held-out digits"""
    got = result(lab, "q3-learns", "q3_learns(build_model, 5)")
    assert accuracy(got, digits[3]) >= Q3_FLOOR


# --- q4: the training loop ----------------------------------------------------------


@pytest.mark.points(3)
def test_q4_clears_gradients(lab):
    """q4: train() clears the old gradients before each backward pass"""
    fresh = result(lab, "q4", "q4_run(train, LR, 4)")["fresh"]
    assert len(fresh) > 0, "train() made no backward pass"
    assert all(fresh)


@pytest.mark.points(3)
def test_q4_learns_digits(lab, digits):
    """q4: with your train() and LR, 10 epochs teach a 64-64-10 network to read at least 80% of held-out digits"""
    got = result(lab, "q4", "q4_run(train, LR, 4)")
    assert accuracy(got["logits"], digits[3]) >= Q4_FLOOR


@pytest.mark.points(2)
def test_q4_loss_goes_down(lab):
    """q4: train() returns one loss per epoch, and the last is less than half the first"""
    losses = result(lab, "q4", "q4_run(train, LR, 4)")["losses"]
    assert len(losses) == 10
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.points(1)
def test_q4_mean_loss_per_sample(lab):
    """q4: each epoch's loss is the mean loss per sample (with lr=0 it equals the loss over all samples), not a sum"""
    got = result(lab, "q4-lr0", "q4_lr_zero(train)")
    assert len(got["losses"]) == 2
    if got["unchanged"]:
        assert all(math.isclose(v, got["before"], rel_tol=1e-4) for v in got["losses"])
    else:  # train() ignored lr (another test says so): only the scale can be checked
        assert 0.1 < got["losses"][-1] / got["after"] < 10


@pytest.mark.points(1)
def test_q4_uses_given_lr(lab):
    """q4: train() uses the learning rate it is given (lr=0 changes no weight)"""
    assert result(lab, "q4-lr0", "q4_lr_zero(train)")["unchanged"] is True


# --- q5: the loss curve -------------------------------------------------------------


@pytest.mark.points(1)
def test_q5_plots_any_losses(lab):
    """q5: plot_losses returns a Figure with one line holding exactly the losses given"""
    losses = [2.5, 1.25, 0.8, 0.6, 0.55, 0.5, 0.48]
    facts = lab.ref(f"_grader_lab.figure_facts(plot_losses({losses!r}))")
    assert facts["type"] == "Figure"
    assert any(np.allclose(line, losses) for line in facts["lines"] if len(line) == len(losses))


@pytest.mark.points(1)
def test_q5_axes_labelled(lab):
    """q5: both axes of the loss plot have a label"""
    facts = lab.ref("_grader_lab.figure_facts(plot_losses([1.0, 0.5]))")
    assert facts["type"] == "Figure"
    assert facts["xlabel"].strip() and facts["ylabel"].strip()


# --- q6: evaluation -----------------------------------------------------------------


def probe_data(lab, digits, seed, n):
    """n held-out digits, the probe's logits on them, and labels the grader chose."""
    X = digits[2][:n]
    lab.assign("_grader_X", X)
    return X, lab.ref(f"_grader_lab.probe_logits({seed}, _grader_X)")


def run_measure(lab, fn, seed, X, y, batch_size, dropout=0.0, repeats=1):
    lab.assign("_grader_args", [X, y])
    return lab.ref(f"_grader_lab.measure({fn}, {seed}, *_grader_args, {batch_size}, {dropout}, {repeats})")


@pytest.mark.points(2)
@pytest.mark.parametrize("seed", [61, 62], ids=["probe-a", "probe-b"])
def test_q6_accuracy(lab, digits, seed):
    """q6: evaluate returns the fraction of samples whose highest logit is the label"""
    X, logits = probe_data(lab, digits, seed, 256)
    y = digits[3][:256].copy()
    y[::3] = np.argmax(logits[::3], axis=1)  # about 40% right
    got = run_measure(lab, "evaluate", seed, X, y, 64)["values"][0]
    assert math.isclose(got, accuracy(logits, y), abs_tol=1e-6)


@pytest.mark.points(3)
def test_q6_eval_mode(lab, digits):
    """q6: evaluate puts the model in eval mode (dropout off), so repeated calls agree"""
    X, logits = probe_data(lab, digits, 63, 256)
    y = digits[3][:256].copy()
    y[::2] = np.argmax(logits[::2], axis=1)
    got = run_measure(lab, "evaluate", 63, X, y, 64, dropout=0.5, repeats=2)
    assert got["calls"] and not any(training for training, _ in got["calls"])
    assert all(math.isclose(v, accuracy(logits, y), abs_tol=1e-6) for v in got["values"])


@pytest.mark.points(1)
def test_q6_no_grad(lab, digits):
    """q6: evaluate runs the model under torch.no_grad()"""
    X, _ = probe_data(lab, digits, 64, 64)
    got = run_measure(lab, "evaluate", 64, X, digits[3][:64], 16)
    assert got["calls"] and not any(grad for _, grad in got["calls"])


@pytest.mark.points(1)
def test_q6_counts_samples_not_batches(lab, digits):
    """q6: evaluate weighs every sample equally when the last batch is smaller"""
    X, logits = probe_data(lab, digits, 65, 10)
    right = np.argmax(logits, axis=1)
    y = np.where([1, 1, 1, 1, 0, 0, 0, 0, 1, 1], right, (right + 1) % 10)  # batches of 4: 4/4, 0/4, 2/2
    got = run_measure(lab, "evaluate", 65, X, y, 4)["values"][0]
    assert math.isclose(got, 0.6, abs_tol=1e-6)


# --- q7: seeds ----------------------------------------------------------------------


@pytest.mark.points(2)
def test_q7_torch_repeats(lab):
    """q7: set_seed makes torch's draws, initial weights and shuffle order repeat; another seed changes them"""
    a, b, c = (lab.ref(f"_grader_lab.draws(set_seed, {s})") for s in (123, 123, 321))
    for key in ("torch", "shuffle"):
        assert a[key] == b[key] and a[key] != c[key]
    assert np.array_equal(a["init"], b["init"]) and not np.array_equal(a["init"], c["init"])


@pytest.mark.points(1)
def test_q7_numpy_and_random_repeat(lab):
    """q7: set_seed also seeds NumPy and Python's random module"""
    a, b, c = (lab.ref(f"_grader_lab.draws(set_seed, {s})") for s in (77, 77, 78))
    for key in ("numpy", "random"):
        assert a[key] == b[key] and a[key] != c[key]


@pytest.mark.points(2)
def test_q7_same_seed_same_run(lab):
    """q7: after set_seed, a whole training run (subsample, input noise, weights, batches, dropout) repeats exactly"""
    runs = [result(lab, f"q7-{i}", "seeded_run(set_seed, 9)") for i in (1, 2)]
    assert len(runs[0]) == 2 and np.array_equal(runs[0], runs[1], equal_nan=True)


# --- q8: saving and loading ---------------------------------------------------------


@pytest.mark.points(2)
def test_q8_saves_state_dict(lab):
    """q8: save writes the model's state_dict (a dict of tensors), not the whole pickled model"""
    got = result(lab, "q8-state", "with_reference_model(globals(), lambda: _grader_lab.q8_state_dict(save))")
    assert got["plain"] is True and got["keys"] is True


def roundtrip(lab):
    """What q8_roundtrip found, with the grader's model for build_model() (computed once)."""
    return result(lab, "q8", "with_reference_model(globals(), lambda: _grader_lab.q8_roundtrip(save, load))")


@pytest.mark.points(2)
def test_q8_identical_predictions(lab):
    """q8: load(path) gives a model whose predictions are identical to the saved model's"""
    got = roundtrip(lab)
    assert np.array_equal(got["la"], got["a"]) and np.array_equal(got["lb"], got["b"])


@pytest.mark.points(1)
def test_q8_load_builds_new_model(lab):
    """q8: each load(path) builds a new model instead of reusing one"""
    got = roundtrip(lab)
    assert got["new_objects"] is True
    assert not np.array_equal(got["la"], got["lb"])


@pytest.mark.points(1)
def test_q8_load_ready_for_predictions(lab):
    """q8: load(path) returns the model in eval mode, ready for predictions"""
    assert roundtrip(lab)["eval"] is True


# --- q9: overfitting ----------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("losses,patience,expected", [
    ([1.0, 0.8, 0.9, 0.95, 0.5], 3, 4),
    ([3.0, 2.0, 2.5, 1.5, 1.6, 1.7, 1.4], 2, 3),
    ([3.0, 2.0, 2.5, 1.5, 1.6, 1.7, 1.4], 3, 6),
    ([0.9, 0.7, 0.6, 0.5], 1, 3),
    ([2.0], 1, 0),
], ids=["late-best", "patience-2", "patience-3", "always-better", "one-epoch"])
def test_q9_early_stop_patience(nb, losses, patience, expected):
    """q9: early_stop stops after patience epochs without improvement and returns the best epoch seen"""
    got = nb.call("early_stop", losses, patience)
    assert isinstance(got, (int, np.integer)) and not isinstance(got, bool) and got == expected


@pytest.mark.points(1)
def test_q9_early_stop_ties(nb):
    """q9: early_stop counts an equal loss as no improvement"""
    assert nb.call("early_stop", [0.5, 0.5, 0.5, 0.4], 2) == 0
    assert nb.call("early_stop", [0.5, 0.5, 0.5, 0.4], 3) == 3


def cross_entropy(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


@pytest.mark.points(2)
def test_q9_val_loss(lab, digits):
    """q9: val_loss is the mean cross-entropy per sample, also when the last batch is smaller"""
    X, logits = probe_data(lab, digits, 91, 10)
    y = digits[3][:10]
    got = run_measure(lab, "val_loss", 91, X, y, 4)["values"][0]
    assert math.isclose(got, cross_entropy(logits, y), rel_tol=1e-5)


@pytest.mark.points(1)
def test_q9_val_loss_eval_mode(lab, digits):
    """q9: val_loss measures in eval mode (dropout off) and without gradients"""
    X, logits = probe_data(lab, digits, 92, 96)
    y = digits[3][:96]
    got = run_measure(lab, "val_loss", 92, X, y, 32, dropout=0.5, repeats=2)
    assert got["calls"] and not any(training or grad for training, grad in got["calls"])
    assert all(math.isclose(v, cross_entropy(logits, y), rel_tol=1e-5) for v in got["values"])
