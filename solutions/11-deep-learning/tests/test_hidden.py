"""Hidden tests for 11-deep-learning: run by the grader only.

The student's functions run in their kernel on shapes, data, seeds and models the grader chooses;
what comes back is plain data, compared here with what the grader computes in its own process
(torch's own attention and nn.MultiheadAttention, the conv formula, its own shifts). Test labels
never enter the kernel where accuracy is the point: the kernel returns logits and the accuracy is
computed here. Floors were set from the spread of many correct answers (below), with a margin.
"""

import ast
import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

SPLIT_SEED = 20261207  # which digits the grader trains and tests on
TEXT_SEEDS = (111, 222)  # the grader's training and test reviews
# Floors, from the spread over 8 seeds of another split and of the grader's loop (each seed its own
# split of the digits, its own reviews; measured in process with this folder's kernel_side.py):
# q3, the solution's CNN and the kept correct ones (one convolution and a dense head, 2,230 parameters;
#     GELU, average pooling and a global mean, 2,986), a batch-norm/tanh one (1,386) and, for scale, lab
#     03's MLP (4,810): 0.921 .. 0.973 of held-out digits.
# q7, learned positions with nn.TransformerEncoderLayer, a learned position parameter with a pre-norm
#     nn.TransformerEncoder, sinusoids with a block of their own: 1.0 on every seed; without positions,
#     0.72 .. 0.775 (half of the reviews hold the same words as a review of the other label).
Q3_FLOOR = 0.85
Q7_FLOOR = 0.92
MLP_PARAMETERS = 4810  # lab 03's 64-64-10 network
FORBIDDEN = ("scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward")
MAX_CELL = 100_000  # characters of a cell the source check reads

HERE = Path(__file__).parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()  # run in the kernel as _grader_lab


def _generator():
    """The generator of the lab's reviews, loaded from beside this file under a name of its own (pytest
    imports tests by path, and another lab may have a module of the same name)."""
    spec = importlib.util.spec_from_file_location("_lab11_reviews", HERE / "reviews.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reviews = _generator().reviews


def tokens(text):
    return re.findall(r"[a-z]+", text.lower())


def grader_encoding(rows, vocab, max_len):
    ids = np.zeros((len(rows), max_len), dtype=np.int64)
    for i, (text, _) in enumerate(rows):
        words = [vocab.get(w, 1) for w in tokens(text)][:max_len]
        ids[i, :len(words)] = words
    return ids, ids != 0


@pytest.fixture(scope="module")
def digits():
    """The grader's split of the digits: (X_train, y_train, X_test, y_test), images of (8, 8) in [0, 1]."""
    data = load_digits()
    X, y = (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    tr, te = order[:1200], order[1200:]
    return X[tr], y[tr], X[te], y[te]


@pytest.fixture(scope="module")
def corpus():
    """The grader's reviews, encoded by the grader: a dict for the kernel, and the test labels."""
    train, test = reviews(TEXT_SEEDS[0], 800), reviews(TEXT_SEEDS[1], 400)
    words = sorted({w for text, _ in train for w in tokens(text)})
    vocab = {"<pad>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    ids, mask = grader_encoding(train, vocab, 8)
    test_ids, test_mask = grader_encoding(test, vocab, 8)
    data = {"vocab_size": len(vocab), "ids": ids, "mask": mask, "y": np.array([label for _, label in train]),
            "test_ids": test_ids, "test_mask": test_mask}
    return data, np.array([label for _, label in test])


@pytest.fixture
def lab(nb, digits, corpus):
    """The kernel, with the grader's helpers (``_grader_lab``) and data loaded once."""
    if not nb.ref("'_grader_lab' in globals()"):
        nb.run("import types as _t\n_grader_lab = _t.ModuleType('_grader_lab')\n"
               f"exec({KERNEL_SIDE!r}, _grader_lab.__dict__)\ndel _t")
        nb.assign("_grader_data", {"Xtr": digits[0], "ytr": digits[1], "Xte": digits[2], "text": corpus[0]})
        nb.run("_grader_lab.DATA.update(_grader_data)\ndel _grader_data")
    return nb


def result(nb, key, expr):
    """The value of ``_grader_lab.<expr>``, computed once per kernel; fails on the error it raised."""
    got = nb.ref(f"_grader_lab.once({key!r}, lambda: _grader_lab.{expr})")
    if isinstance(got, dict) and "error" in got:
        pytest.fail(got["error"])
    return got


def call_with(nb, expr, **values):
    """``_grader_lab.<expr>`` with the grader's ``values`` put into the kernel first (as _grader_<name>)."""
    for name, value in values.items():
        nb.assign(f"_grader_{name}", value)
    return nb.ref(f"_grader_lab.{expr}")


def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def accuracy(logits, labels):
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def names_in(source):
    """Every name, attribute and string constant of a cell's code."""
    if len(source) > MAX_CELL:
        pytest.fail("the cell is too long to read")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pytest.fail("the cell is not plain Python")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.update(node.name.split("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


# --- q1: shapes and parameters ------------------------------------------------------------


def output_size(size, kernel, stride, padding):
    return math.floor((size + 2 * padding - kernel) / stride) + 1


def conv_configs(seed, n):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < n:
        size, kernel, stride, padding = (int(v) for v in (rng.integers(3, 40), rng.integers(1, 8),
                                                          rng.integers(1, 5), rng.integers(0, 4)))
        if kernel <= size + 2 * padding and padding <= kernel // 2 + 1:
            configs.append((size, kernel, stride, padding))
    return configs


@pytest.mark.points(2)
def test_q1_conv_output_size(nb):
    """q1: conv_output_size follows floor((size + 2 padding - kernel) / stride) + 1, as an int, on 40 layers"""
    for size, kernel, stride, padding in conv_configs(1, 40):
        got = nb.call("conv_output_size", size, kernel, stride, padding)
        assert is_int(got) and got == output_size(size, kernel, stride, padding), (size, kernel, stride, padding)


@pytest.mark.points(1)
def test_q1_pooling_size(nb):
    """q1: conv_output_size gives a max pooling's size (kernel = stride), also when the size does not divide"""
    for size, k in ((9, 2), (7, 3), (16, 4), (5, 5), (11, 2)):
        assert nb.call("conv_output_size", size, k, k) == size // k


@pytest.mark.points(2)
def test_q1_conv_parameters(nb):
    """q1: conv_parameters counts the filters of every channel pair and one bias per output channel"""
    rng = np.random.default_rng(2)
    for _ in range(12):
        cin, cout, k = (int(v) for v in rng.integers(1, 17, size=3))
        for bias in (True, False):
            got = nb.call("conv_parameters", cin, cout, k % 7 + 1, bias)
            expected = sum(p.numel() for p in nn.Conv2d(cin, cout, k % 7 + 1, bias=bias).parameters())
            assert is_int(got) and got == expected, (cin, cout, k % 7 + 1, bias)


# --- q2: augmentation ---------------------------------------------------------------------


def grader_shift(image, dx, dy):
    """The grader's shift: pad with zeros on every side, then cut the window the move brings in."""
    padded = np.pad(image, 8)
    return padded[8 - dy:16 - dy, 8 - dx:16 - dx]


def pairs(X, y):
    """(label, pixels) of every image, sorted: augment may give them in any order."""
    return sorted((int(label), np.round(np.asarray(image, dtype=float), 6).tobytes())
                  for image, label in zip(X, y, strict=True))


@pytest.mark.points(2)
def test_q2_shift_image(nb, digits):
    """q2: shift_image moves the pixels by (dx, dy), zeros moved in, nothing wrapped around"""
    rng = np.random.default_rng(21)
    for dx, dy in ((1, 0), (0, -1), (-2, 3), (3, -2), (0, 0), (-7, 0), (8, 8)):
        image = rng.random((8, 8))
        got = nb.call("shift_image", image, dx, dy)
        assert np.asarray(got).shape == (8, 8) and np.allclose(got, grader_shift(image, dx, dy)), (dx, dy)


@pytest.mark.points(3)
def test_q2_augment_keeps_labels(nb, digits):
    """q2: augment gives every image and its four one-pixel shifts, each with the image's own label"""
    X, y = digits[0][:40], digits[1][:40]
    X_aug, y_aug = nb.call("augment", X, y)
    moves = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
    expected = [(grader_shift(image, dx, dy), label) for image, label in zip(X, y, strict=True) for dx, dy in moves]
    assert len(X_aug) == len(y_aug) == len(expected)
    assert pairs(X_aug, y_aug) == pairs(*zip(*expected, strict=True))


@pytest.mark.points(1)
def test_q2_augment_shapes(nb, digits):
    """q2: augment returns (5n, 8, 8) images in [0, 1] and (5n,) integer labels"""
    X_aug, y_aug = nb.call("augment", digits[0][:7], digits[1][:7])
    assert np.asarray(X_aug).shape == (35, 8, 8) and np.asarray(y_aug).shape == (35,)
    assert np.asarray(y_aug).dtype.kind in "iu" and np.min(X_aug) >= 0 and np.max(X_aug) <= 1


# --- q3: the CNN --------------------------------------------------------------------------


@pytest.mark.points(2)
def test_q3_convolutional_and_smaller_than_mlp(lab):
    """q3: build_cnn() has a Conv2d, gives (n, 10) logits and fewer parameters than lab 03's MLP (4,810)"""
    facts = result(lab, "q3", "cnn_facts(build_cnn)")
    assert facts["shape"] == [7, 10] and facts["convolutions"] >= 1
    assert 0 < facts["parameters"] < MLP_PARAMETERS


@pytest.mark.points(1)
def test_q3_new_model_each_call(lab):
    """q3: each call of build_cnn() returns a new model with parameters of its own"""
    assert result(lab, "q3", "cnn_facts(build_cnn)")["distinct"] is True


@pytest.mark.points(1)
def test_q3_count_parameters(lab):
    """q3: count_parameters counts every number of any model's parameters, frozen ones too"""
    namespace = {}
    exec(KERNEL_SIDE, namespace)
    expected = [sum(p.numel() for p in model.parameters()) for model in namespace["sample_models"]()]
    assert result(lab, "q3-count", "counts(count_parameters)") == expected


@pytest.mark.points(3)
def test_q3_learns_digits(lab, digits):
    """q3: trained by the grader's own loop, the CNN reads at least 85% of held-out digits"""
    got = result(lab, "q3-learns", "cnn_learns(build_cnn, 5)")
    assert accuracy(got, digits[3]) >= Q3_FLOOR


# --- q4: attention ------------------------------------------------------------------------


def attention_case(seed, shape_q, shape_k, dv, mask=None):
    """Grader-chosen q, k, v, mask and upstream gradient, and torch's answer computed here."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=shape_q).astype(np.float32)
    k = rng.normal(size=shape_k).astype(np.float32)
    v = rng.normal(size=(*shape_k[:-1], dv)).astype(np.float32)
    upstream = rng.normal(size=(*shape_q[:-1], dv)).astype(np.float32)
    tq, tk, tv = (torch.tensor(t, requires_grad=True) for t in (q, k, v))
    out = nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=None if mask is None else torch.tensor(mask))
    (out * torch.tensor(upstream)).sum().backward()
    expected = {"out": out.detach().numpy(), "dq": tq.grad.numpy(), "dk": tk.grad.numpy(), "dv": tv.grad.numpy()}
    return {"q": q, "k": k, "v": v, "mask": mask, "upstream": upstream}, expected


def run_attention(nb, case):
    return call_with(nb, "attention_run(attention, _grader_q, _grader_k, _grader_v, _grader_mask, _grader_upstream)",
                     **case)


def assert_close(got, expected, keys):
    for key in keys:
        assert got[key] is not None, f"no gradient reached {key[1:]}"
        assert np.asarray(got[key]).shape == expected[key].shape, key
        assert np.allclose(got[key], expected[key], rtol=1e-4, atol=1e-5), key


def padding_mask(seed, batch, lk):
    """(batch, 1, 1, lk): each row hides a few keys at its end, never all of them."""
    lengths = np.random.default_rng(seed).integers(1, lk + 1, size=batch)
    return (np.arange(lk)[None, :] < lengths[:, None])[:, None, None, :]


@pytest.mark.points(1)
@pytest.mark.parametrize("shape_q,shape_k,dv", [((3, 5, 4), (3, 5, 4), 4), ((2, 3, 4, 8), (2, 3, 6, 8), 5)],
                         ids=["batch", "heads"])
def test_q4_matches_torch(nb, shape_q, shape_k, dv):
    """q4: attention equals torch's scaled_dot_product_attention on the grader's shapes (batch, heads, Lq != Lk)"""
    case, expected = attention_case(41, shape_q, shape_k, dv)
    assert_close(run_attention(nb, case), expected, ["out"])


@pytest.mark.points(2)
def test_q4_causal_mask(nb):
    """q4: with a causal mask (True on and below the diagonal), attention equals torch's"""
    case, expected = attention_case(42, (2, 2, 7, 6), (2, 2, 7, 6), 6, np.tril(np.ones((7, 7), dtype=bool)))
    assert_close(run_attention(nb, case), expected, ["out"])


@pytest.mark.points(2)
def test_q4_padding_mask(nb):
    """q4: with a padding mask of shape (batch, 1, 1, Lk), attention equals torch's"""
    case, expected = attention_case(43, (4, 2, 5, 8), (4, 2, 9, 8), 3, padding_mask(43, 4, 9))
    assert_close(run_attention(nb, case), expected, ["out"])


@pytest.mark.points(2)
def test_q4_gradients(nb):
    """q4: gradients flow back to q, k and v and equal torch's, with a padding mask"""
    case, expected = attention_case(44, (3, 2, 6, 4), (3, 2, 6, 4), 4, padding_mask(44, 3, 6))
    assert_close(run_attention(nb, case), expected, ["out", "dq", "dk", "dv"])


@pytest.mark.points(1)
def test_q4_written_from_scratch(nb):
    """q4: the attention cell does not call torch's own attention"""
    case, _ = attention_case(45, (1, 2, 2), (1, 2, 2), 2)
    run_attention(nb, case)  # a stub names no torch attention either
    assert not names_in(nb.cell("q4").source) & set(FORBIDDEN)


# --- q5: multi-head attention -------------------------------------------------------------


def mha_case(seed, batch, length, d_model, n_heads, masked):
    """Grader-chosen weights, x and mask, and nn.MultiheadAttention's answer with those weights."""
    rng = np.random.default_rng(seed)
    weights = {f"{layer}.{part}": (rng.normal(size=(d_model, d_model) if part == "weight" else d_model)
                                   / math.sqrt(d_model)).astype(np.float32)
               for layer in ("q_proj", "k_proj", "v_proj", "out_proj") for part in ("weight", "bias")}
    x = rng.normal(size=(batch, length, d_model)).astype(np.float32)
    mask = (np.arange(length)[None, :] < rng.integers(1, length + 1, size=batch)[:, None]) if masked else None
    reference = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.tensor(np.concatenate([weights[f"{p}_proj.weight"] for p in "qkv"])))
        reference.in_proj_bias.copy_(torch.tensor(np.concatenate([weights[f"{p}_proj.bias"] for p in "qkv"])))
        reference.out_proj.weight.copy_(torch.tensor(weights["out_proj.weight"]))
        reference.out_proj.bias.copy_(torch.tensor(weights["out_proj.bias"]))
        tx = torch.tensor(x)
        out, _ = reference(tx, tx, tx, need_weights=False,
                           key_padding_mask=None if mask is None else ~torch.tensor(mask))
    return {"weights": weights, "x": x, "mask": mask}, out.numpy()


def run_mha(nb, key, d_model, n_heads, case):
    expr = (f"with_name(globals(), 'attention', _grader_lab.reference_attention, lambda: _grader_lab.mha_run("
            f"MultiHeadAttention, {d_model}, {n_heads}, _grader_weights, _grader_x, _grader_mask))")
    for name, value in case.items():
        nb.assign(f"_grader_{name}", value)
    return result(nb, key, expr)


@pytest.mark.points(2)
@pytest.mark.parametrize("d_model,n_heads", [(8, 2), (12, 3)], ids=["8x2", "12x3"])
def test_q5_matches_torch(lab, d_model, n_heads):
    """q5: MultiHeadAttention with the grader's weights equals nn.MultiheadAttention with the same weights"""
    case, expected = mha_case(51 + n_heads, 3, 5, d_model, n_heads, masked=False)
    got = run_mha(lab, f"q5-{d_model}", d_model, n_heads, case)
    assert np.asarray(got).shape == expected.shape and np.allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.points(2)
def test_q5_padding_mask(lab):
    """q5: with a padding mask, the real tokens' outputs equal nn.MultiheadAttention's with key_padding_mask"""
    case, expected = mha_case(55, 4, 6, 8, 4, masked=True)
    got = run_mha(lab, "q5-mask", 8, 4, case)
    real = case["mask"]
    assert np.asarray(got).shape == expected.shape
    assert np.allclose(np.asarray(got)[real], expected[real], rtol=1e-4, atol=1e-5)


@pytest.mark.points(1)
def test_q5_written_from_scratch(nb):
    """q5: the multi-head attention cell does not call torch's own attention"""
    nb.run("MultiHeadAttention(4, 2)")  # a stub names no torch attention either
    assert not names_in(nb.cell("q5").source) & set(FORBIDDEN)


# --- q6: text into tensors ----------------------------------------------------------------

TEXTS = ["Room 101 was GREAT!!", "didn't like it... at all", "  tabs\tand\nnew lines ", "", "ÉTÉ café-bar 2x",
         "the food was not good but bad.", "A b a B a"]


@pytest.mark.points(2)
def test_q6_tokenize(nb):
    """q6: tokenize gives the runs of letters a..z of the lowercased text (digits, punctuation and apostrophes split)"""
    assert [nb.call("tokenize", text) for text in TEXTS] == [tokens(text) for text in TEXTS]


@pytest.mark.points(1)
@pytest.mark.parametrize("min_count", [1, 3])
def test_q6_vocab(nb, min_count):
    """q6: build_vocab gives <pad> 0, <unk> 1 and ids 2, 3, ... to the words seen at least min_count times"""
    texts = [text for text, _ in reviews(61, 30)] + TEXTS
    vocab = nb.call("build_vocab", texts, min_count)
    counts = {}
    for word in (w for text in texts for w in tokens(text)):
        counts[word] = counts.get(word, 0) + 1
    assert vocab["<pad>"] == 0 and vocab["<unk>"] == 1
    assert set(vocab) - {"<pad>", "<unk>"} == {w for w, c in counts.items() if c >= min_count}
    assert sorted(vocab.values()) == list(range(len(vocab)))


def encoded(nb, texts, vocab, max_len):
    nb.assign("_grader_texts", texts)
    nb.assign("_grader_vocab", vocab)
    return nb.ref(f"tuple(_grader_lab_t.numpy() for _grader_lab_t in encode(_grader_texts, _grader_vocab, {max_len}))")


ENCODE_TEXTS = ["the movie was good", "The room was not nice but awful!", "", "zebra was", "good"]
ENCODE_VOCAB = {"<pad>": 0, "<unk>": 1, "was": 2, "good": 3, "the": 4, "not": 5, "nice": 6, "movie": 7}


@pytest.mark.points(2)
def test_q6_encode_ids(nb):
    """q6: encode writes each text's first max_len word ids (1 for unknown words), padded with 0 at the end"""
    ids, _ = encoded(nb, ENCODE_TEXTS, ENCODE_VOCAB, 6)
    expected, _ = grader_encoding([(t, 0) for t in ENCODE_TEXTS], ENCODE_VOCAB, 6)
    assert ids.dtype == np.int64 and ids.shape == (5, 6) and np.array_equal(ids, expected)


@pytest.mark.points(1)
def test_q6_encode_mask(nb):
    """q6: encode's mask is True exactly at the positions that hold a word (unknown words too)"""
    _, mask = encoded(nb, ENCODE_TEXTS, ENCODE_VOCAB, 6)
    lengths = [min(len(tokens(t)), 6) for t in ENCODE_TEXTS]
    assert mask.dtype == np.bool_ and np.array_equal(mask, np.arange(6)[None, :] < np.array(lengths)[:, None])


# --- q7: the transformer classifier -------------------------------------------------------


def text_batch(seed):
    """Grader-chosen ids (never 0) in a padded batch of 10, and each row's length."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 11, size=6)
    ids = np.where(np.arange(10)[None, :] < lengths[:, None], rng.integers(2, 40, size=(6, 10)), 0)
    return ids, lengths


def facts(lab):
    ids, lengths = text_batch(71)
    lab.assign("_grader_ids", ids)
    lab.assign("_grader_lengths", lengths)
    return result(lab, "q7", "text_facts(TextClassifier, _grader_ids, _grader_lengths, 7)")


@pytest.mark.points(3)
def test_q7_padding_changes_nothing(lab):
    """q7: a padded batch gets the same logits as each sequence alone without padding"""
    got = facts(lab)
    assert np.asarray(got["batch"]).shape == (6, 3)
    assert np.allclose(got["batch"], got["alone"], rtol=1e-4, atol=1e-4)


@pytest.mark.points(2)
def test_q7_word_order_matters(lab):
    """q7: with positional information, the same words in reverse order get other logits"""
    got = facts(lab)
    changed = np.abs(np.asarray(got["alone"]) - np.asarray(got["reversed"])).max(axis=1) > 1e-3
    assert changed.sum() >= 4


@pytest.mark.points(3)
def test_q7_learns_reviews(lab, corpus):
    """q7: trained by the grader's loop, the classifier gets at least 92% of new reviews right (word order needed)"""
    got = result(lab, "q7-learns", "text_learns(TextClassifier, 3)")
    assert accuracy(got, corpus[1]) >= Q7_FLOOR


# --- q8: distribution shift ---------------------------------------------------------------


def grader_thicken(images):
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return np.max([padded[:, 1:9, 1:9], padded[:, :8, 1:9], padded[:, 2:, 1:9], padded[:, 1:9, :8],
                   padded[:, 1:9, 2:]], axis=0)


@pytest.fixture(scope="module")
def probe(digits):
    """A linear model of the grader's (least squares on one-hot labels) and its accuracies, computed here."""
    X, y = digits[0].reshape(-1, 64).astype(np.float64), digits[1]
    design = np.hstack([X, np.ones((len(X), 1))])
    solution, *_ = np.linalg.lstsq(design, np.eye(10)[y], rcond=None)
    weight, bias = solution[:64].T.astype(np.float32), solution[64].astype(np.float32)
    layer = nn.Linear(64, 10)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
        def acc(images):
            flat = torch.tensor(np.asarray(images, dtype=np.float32).reshape(-1, 64))
            return float((layer(flat).argmax(dim=1).numpy() == digits[3]).mean())
        return {"weight": weight, "bias": bias, "iid": acc(digits[2]), "shifted": acc(grader_thicken(digits[2]))}


@pytest.mark.points(3)
def test_q8_thicken(nb):
    """q8: thicken makes each pixel the largest of itself and its four neighbours, borders included, no wrapping"""
    images = np.random.default_rng(81).random((5, 8, 8)) ** 3
    got = nb.call("thicken", images)
    assert np.asarray(got).shape == (5, 8, 8) and np.allclose(got, grader_thicken(images))


def report(lab, probe, digits, dropout=0.0, repeats=1):
    lab.assign("_grader_probe", [probe["weight"], probe["bias"], digits[2], digits[3]])
    return lab.ref(f"_grader_lab.report_run(shift_report, *_grader_probe, {dropout}, {repeats})")


@pytest.mark.points(5)
def test_q8_report_accuracies(lab, probe, digits):
    """q8: shift_report gives the grader's model's accuracy on the test images as they are and drawn thicker"""
    got = report(lab, probe, digits)["reports"][0]
    assert probe["iid"] - probe["shifted"] > 0.05  # the shift the lab is about is there
    assert math.isclose(got["iid"], probe["iid"], abs_tol=1e-6)
    assert math.isclose(got["shifted"], probe["shifted"], abs_tol=1e-6)


@pytest.mark.points(1)
def test_q8_report_drop(lab, probe, digits):
    """q8: shift_report's drop is its iid accuracy minus its shifted accuracy"""
    got = report(lab, probe, digits)["reports"][0]
    assert set(got) == {"iid", "shifted", "drop"}
    assert math.isclose(got["drop"], got["iid"] - got["shifted"], abs_tol=1e-9)


@pytest.mark.points(1)
def test_q8_report_eval_mode(lab, probe, digits):
    """q8: shift_report measures in eval mode (dropout off) and without gradients"""
    got = report(lab, probe, digits, dropout=0.5, repeats=2)
    assert got["calls"] and not any(training or grad for training, grad in got["calls"])
    assert all(math.isclose(r["iid"], probe["iid"], abs_tol=1e-6) for r in got["reports"])
