"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks. The grader also runs hidden tests that call your
functions with its own data, seeds and models.
"""

import numpy as np

# Small helpers the tests put into your kernel; their names start with _t_.
SETUP = r'''
import numpy as _t_np
import torch as _t_torch
from sklearn.datasets import load_digits as _t_load_digits
from torch.utils.data import DataLoader as _t_DataLoader, TensorDataset as _t_TensorDataset


def _t_loader(n, batch_size=32):
    digits = _t_load_digits()
    X = _t_torch.as_tensor(digits.data[:n] / 16.0, dtype=_t_torch.float32)
    y = _t_torch.as_tensor(digits.target[:n], dtype=_t_torch.long)
    return _t_DataLoader(_t_TensorDataset(X, y), batch_size=batch_size, shuffle=True,
                         generator=_t_torch.Generator().manual_seed(0))


def _t_mlp():
    _t_torch.manual_seed(0)
    return _t_torch.nn.Sequential(_t_torch.nn.Linear(64, 64), _t_torch.nn.ReLU(), _t_torch.nn.Linear(64, 10))


def _t_identity_model():
    """A model whose logits are the first 10 inputs: it predicts the position of the largest one."""
    model = _t_torch.nn.Linear(64, 10)
    with _t_torch.no_grad():
        model.weight.zero_()
        model.weight[:, :10] = _t_torch.eye(10)
        model.bias.zero_()
    return model
'''


def setup(nb):
    nb.run(SETUP)
    return nb


def test_q1_small_gradient(nb):
    """q1: mse_grad gives 2/n X^T (Xw - y) on a small example, as a NumPy array"""
    got = nb.call("mse_grad", [[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0], [0.0, 0.0])
    assert isinstance(got, np.ndarray), "return a NumPy array: tensor.detach().numpy()"
    assert np.allclose(got, [-4.0, -6.0], rtol=1e-5)


def test_q2_batches(nb):
    """q2: make_loader yields (float32 inputs, int64 labels) batches of the given size"""
    nb.assign("_t_X", np.random.default_rng(0).random((10, 64)))
    nb.assign("_t_y", np.arange(10))
    got = nb.ref("[(str(xb.dtype), tuple(xb.shape), str(yb.dtype), tuple(yb.shape))"
                 " for xb, yb in make_loader(_t_X, _t_y, 4)]")
    assert got == [("torch.float32", (4, 64), "torch.int64", (4,))] * 2 + [
        ("torch.float32", (2, 64), "torch.int64", (2,))]


def test_q3_output_shape(nb):
    """q3: build_model() maps a batch of shape (5, 64) to logits of shape (5, 10)"""
    setup(nb)
    assert nb.ref("tuple(build_model()(_t_torch.rand(5, 64)).shape)") == (5, 10)


def test_q4_one_loss_per_epoch(nb):
    """q4: train() with your LR returns one loss per epoch, and the loss goes down"""
    setup(nb)
    losses = nb.ref("[float(v) for v in train(_t_mlp(), _t_loader(400), 3, LR)]")
    assert len(losses) == 3
    assert losses[-1] < losses[0]


def test_q5_plot(nb):
    """q5: plot_losses returns a matplotlib Figure whose line holds the losses"""
    got = nb.ref("(lambda fig: (type(fig).__name__, [list(map(float, line.get_ydata()))"
                 " for ax in fig.axes for line in ax.lines]))(plot_losses([3.0, 2.0, 1.0]))")
    assert got[0] == "Figure"
    assert [3.0, 2.0, 1.0] in got[1]


def test_q6_accuracy(nb):
    """q6: evaluate returns the fraction of correct predictions (3 of 5 here)"""
    setup(nb)
    nb.run("_t_X = _t_torch.eye(64)[[0, 1, 2, 3, 4]]\n_t_y = _t_torch.tensor([0, 1, 2, 0, 0])")
    got = nb.ref("float(evaluate(_t_identity_model(), _t_DataLoader(_t_TensorDataset(_t_X, _t_y), batch_size=2)))")
    assert abs(got - 0.6) < 1e-6


def test_q7_torch_repeats(nb):
    """q7: after set_seed(0), torch.rand gives the same numbers again"""
    setup(nb)
    first = nb.ref("(set_seed(0), _t_torch.rand(3).tolist())[1]")
    second = nb.ref("(set_seed(0), _t_torch.rand(3).tolist())[1]")
    assert first == second


def test_q8_round_trip(nb):
    """q8: a model saved with save() and read back with load() gives the same outputs"""
    setup(nb)
    nb.run("import tempfile as _t_tempfile\n_t_path = _t_tempfile.mkdtemp() + '/model.pt'\n"
           "_t_model = build_model()\nsave(_t_model, _t_path)\n_t_inputs = _t_torch.rand(4, 64)")
    before = nb.ref("_t_model.eval()(_t_inputs).detach().numpy()")
    after = nb.ref("load(_t_path).eval()(_t_inputs).detach().numpy()")
    assert np.array_equal(before, after)


def test_q9_early_stop(nb):
    """q9: early_stop returns the best epoch seen before patience runs out"""
    assert nb.call("early_stop", [3.0, 2.0, 1.0, 2.0, 3.0], 2) == 2
    assert nb.call("early_stop", [1.0, 0.8, 0.9, 0.95, 0.5], 2) == 1
