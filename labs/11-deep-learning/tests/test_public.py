"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks. The grader also runs hidden tests that call your
functions with its own data, shapes, seeds and models.
"""

import numpy as np

# Small helpers the tests put into your kernel; their names start with _t_.
SETUP = r'''
import numpy as _t_np
import torch as _t_torch
import torch.nn.functional as _t_F
'''


def setup(nb):
    nb.run(SETUP)
    return nb


def test_q1_small_sizes(nb):
    """q1: a 3x3 convolution with padding 1 keeps 8 pixels, a 2x2 pooling halves them; Conv2d(1, 8, 3) has 80 weights"""
    assert nb.call("conv_output_size", 8, 3, 1, 1) == 8
    assert nb.call("conv_output_size", 8, 2, 2) == 4
    assert nb.call("conv_parameters", 1, 8, 3) == 80


def test_q2_shift_right(nb):
    """q2: shift_image moves a pixel one step right; augment gives five images per image"""
    image = np.zeros((8, 8))
    image[2, 3] = 1.0
    got = nb.call("shift_image", image, 1, 0)
    assert got.shape == (8, 8) and got[2, 4] == 1.0 and got.sum() == 1.0
    X_aug, y_aug = nb.call("augment", np.stack([image, image.T]), np.array([3, 7]))
    assert X_aug.shape == (10, 8, 8) and sorted(y_aug.tolist()) == [3] * 5 + [7] * 5


def test_q3_cnn_shape(nb):
    """q3: build_cnn() maps (5, 1, 8, 8) to (5, 10) with fewer than 4,810 parameters"""
    setup(nb)
    assert nb.ref("tuple(build_cnn()(_t_torch.rand(5, 1, 8, 8)).shape)") == (5, 10)
    assert 0 < nb.ref("count_parameters(build_cnn())") < 4810


def test_q4_matches_torch(nb):
    """q4: attention equals torch's scaled_dot_product_attention on a small causal example"""
    setup(nb)
    nb.run("_t_g = _t_torch.Generator().manual_seed(0)\n"
           "_t_q, _t_k, _t_v = (_t_torch.randn(2, 4, 3, generator=_t_g) for _ in range(3))\n"
           "_t_mask = _t_torch.ones(4, 4, dtype=_t_torch.bool).tril()")
    mine = nb.ref("attention(_t_q, _t_k, _t_v, _t_mask).detach().numpy()")
    torch_s = nb.ref("_t_F.scaled_dot_product_attention(_t_q, _t_k, _t_v, attn_mask=_t_mask).numpy()")
    assert np.allclose(mine, torch_s, atol=1e-5)


def test_q5_shape(nb):
    """q5: MultiHeadAttention(8, 2) maps (3, 5, 8) to (3, 5, 8), with a padding mask too"""
    setup(nb)
    got = nb.ref("tuple(MultiHeadAttention(8, 2)(_t_torch.rand(3, 5, 8), "
                 "_t_torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])).shape)")
    assert got == (3, 5, 8)


def test_q6_small_example(nb):
    """q6: tokenize, build_vocab and encode on two short texts"""
    assert nb.call("tokenize", "The food, GOOD!") == ["the", "food", "good"]
    vocab = nb.call("build_vocab", ["a b", "b c"])
    assert vocab["<pad>"] == 0 and vocab["<unk>"] == 1 and sorted(vocab.values()) == [0, 1, 2, 3, 4]
    ids, mask = nb.ref("tuple(t.numpy() for t in encode(['b a', 'c d c'], build_vocab(['a b', 'b c']), 4))")
    assert mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    assert ids[0, 2:].tolist() == [0, 0] and ids[1, 1] == 1


def test_q7_shape(nb):
    """q7: TextClassifier(20, 3) maps a padded batch of ids and its mask to (2, 3) logits"""
    setup(nb)
    got = nb.ref("tuple(TextClassifier(20, 3)(_t_torch.tensor([[4, 5, 6, 0], [7, 8, 9, 10]]), "
                 "_t_torch.tensor([[True, True, True, False], [True] * 4])).shape)")
    assert got == (2, 3)


def test_q8_thicken(nb):
    """q8: thicken turns one pixel into a plus sign; shift_report returns iid, shifted and drop"""
    image = np.zeros((1, 8, 8))
    image[0, 4, 4] = 1.0
    got = nb.call("thicken", image)
    assert got.shape == (1, 8, 8) and got.sum() == 5.0 and got[0, 3, 4] == got[0, 4, 5] == 1.0
    setup(nb)
    report = nb.ref("shift_report(_t_torch.nn.Sequential(_t_torch.nn.Flatten(), _t_torch.nn.Linear(64, 10)), "
                    "_t_np.zeros((4, 8, 8), dtype=_t_np.float32), _t_np.arange(4))")
    assert set(report) == {"iid", "shifted", "drop"}
