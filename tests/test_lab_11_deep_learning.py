"""The 11-deep-learning lab graded end to end: the solution, the untouched student notebook, other
correct solutions, and typical mistakes, in one ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/11-deep-learning/``. Each is the solution
with some answer cells (found by tag) replaced; ``python tests/test_lab_11_deep_learning.py``
rewrites them after the solution changes.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from conftest import REPO, KeptNotebooks, edit
from lab_suite import LabSuite, assert_docker_grades_the_same, load_module, solution_cell
from torch import nn

LAB = "11-deep-learning"

# --- correct answers in other styles -------------------------------------------------------

TORCH_COUNTED_SHAPES = '''
def conv_output_size(size, kernel, stride=1, padding=0):
    return math.floor((size + 2 * padding - kernel) / stride) + 1


def conv_parameters(in_channels, out_channels, kernel, bias=True):
    layer = nn.Conv2d(in_channels, out_channels, kernel, bias=bias)
    return sum(p.numel() for p in layer.parameters())
'''

GELU_CLASS_CNN = '''
class DigitCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 3, padding=1)
        self.conv2 = nn.Conv2d(12, 24, 3)
        self.pool = nn.AvgPool2d(2)
        self.out = nn.Linear(24, 10)

    def forward(self, x):
        x = self.pool(F.gelu(self.conv1(x)))  # 12 x 4 x 4
        x = F.gelu(self.conv2(x))             # 24 x 2 x 2
        return self.out(x.mean(dim=(2, 3)))   # global average


def build_cnn():
    return DigitCNN()


def count_parameters(model):
    return int(sum(np.prod(p.shape) for p in model.parameters()))
'''

EINSUM_ADDITIVE_ATTENTION = '''
def attention(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.size(-1) ** 0.5
    if mask is not None:
        scores = scores + torch.where(mask, 0.0, float("-inf"))
    return torch.einsum("...qk,...kv->...qv", scores.softmax(dim=-1), v)
'''

EINSUM_HEADS = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        assert d_model % n_heads == 0
        self.h, self.size = n_heads, d_model // n_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d_model, d_model) for _ in range(4))

    def split(self, t):
        b, length, _ = t.shape
        return t.reshape(b, length, self.h, self.size).permute(0, 2, 1, 3)

    def forward(self, x, mask=None):
        q, k, v = self.split(self.q_proj(x)), self.split(self.k_proj(x)), self.split(self.v_proj(x))
        if mask is not None:
            mask = mask.unsqueeze(1).unsqueeze(2)
        out = attention(q, k, v, mask)
        b, h, length, s = out.shape
        return self.out_proj(out.permute(0, 2, 1, 3).reshape(b, length, h * s))
'''

SINUSOID_OWN_BLOCK = '''
def sinusoids(max_len, d_model):
    position = torch.arange(max_len).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


class TextClassifier(nn.Module):
    def __init__(self, vocab_size, n_classes, d_model=32, n_heads=4, max_len=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.register_buffer("pe", sinusoids(max_len, d_model))
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, 64), nn.ReLU(), nn.Linear(64, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.classify = nn.Linear(d_model, n_classes)

    def forward(self, ids, mask):
        x = self.embed(ids) + self.pe[: ids.size(1)]
        x = self.norm1(x + self.attn(x, mask))
        x = self.norm2(x + self.ff(x))
        keep = mask.unsqueeze(-1).to(x.dtype)
        return self.classify((x * keep).sum(dim=1) / keep.sum(dim=1))
'''

TRUNCATING_SHAPES = '''
def conv_output_size(size, kernel, stride=1, padding=0):
    return int((size - kernel + 2 * padding) / stride) + 1


def conv_parameters(in_channels, out_channels, kernel, bias=True):
    per_filter = in_channels * kernel ** 2
    return out_channels * (per_filter + int(bias))
'''

LOOP_SHIFTS = '''
def shift_image(image, dx, dy):
    h, w = len(image), len(image[0])
    out = np.zeros((h, w))
    for r in range(h):
        for c in range(w):
            r0, c0 = r - dy, c - dx
            if 0 <= r0 < h and 0 <= c0 < w:
                out[r, c] = image[r0][c0]
    return out


def augment(X, y):
    images, labels = [], []
    for image, label in zip(X, y):
        for dx, dy in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]:
            images.append(shift_image(image, dx, dy))
            labels.append(label)
    return np.array(images), np.array(labels)
'''

ONE_CONV_CNN = '''
def build_cnn():
    return nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 6 * 6, 10))


def count_parameters(model):
    total = 0
    for _, parameter in model.named_parameters():
        total += parameter.numel()
    return total
'''

LOOP_TEXT = '''
def tokenize(text):
    words, current = [], ""
    for ch in text.lower():
        if "a" <= ch <= "z":
            current += ch
        elif current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


def build_vocab(texts, min_count=1):
    counts = {}
    for text in texts:
        for word in tokenize(text):
            counts[word] = counts.get(word, 0) + 1
    vocab = {"<pad>": 0, "<unk>": 1}
    for word in sorted(counts):
        if counts[word] >= min_count:
            vocab[word] = len(vocab)
    return vocab


def encode(texts, vocab, max_len):
    rows, masks = [], []
    for text in texts:
        ids = [vocab[w] if w in vocab else vocab["<unk>"] for w in tokenize(text)][:max_len]
        rows.append(ids + [vocab["<pad>"]] * (max_len - len(ids)))
        masks.append([True] * len(ids) + [False] * (max_len - len(ids)))
    return torch.tensor(rows, dtype=torch.long), torch.tensor(masks, dtype=torch.bool)
'''

LOOP_SHIFT_REPORT = '''
def thicken(images):
    images = np.asarray(images)
    out = np.empty_like(images)
    n, h, w = images.shape
    for i in range(n):
        for r in range(h):
            for c in range(w):
                best = images[i, r, c]
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    if 0 <= r + dr < h and 0 <= c + dc < w:
                        best = max(best, images[i, r + dr, c + dc])
                out[i, r, c] = best
    return out


def shift_report(model, X, y):
    model.eval()
    labels = torch.as_tensor(np.asarray(y))
    result = {}
    with torch.no_grad():
        for name, pixels in (("iid", X), ("shifted", thicken(X))):
            batch = torch.tensor(np.asarray(pixels), dtype=torch.float32)[:, None]
            result[name] = (model(batch).argmax(1) == labels).float().mean().item()
    result["drop"] = result["iid"] - result["shifted"]
    return result
'''

ROLL_AND_CLEAR_SHIFTS = '''
def shift_image(image, dx, dy):
    out = np.roll(np.asarray(image, dtype=float), (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def augment(X, y):
    moves = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    blocks = [np.stack([shift_image(image, dx, dy) for image in X]) for dx, dy in moves]
    return np.concatenate(blocks), np.tile(np.asarray(y), len(moves))
'''

LARGE_NEGATIVE_ATTENTION = '''
def attention(q, k, v, mask=None):
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(k.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask == False, -1e9)  # noqa: E712
    return torch.matmul(F.softmax(scores, dim=-1), v)
'''

COUNTER_PAD_SEQUENCE = '''
def tokenize(text):
    return [word for word in re.split(r"[^a-z]+", text.lower()) if word]


def build_vocab(texts, min_count=1):
    counts = Counter()
    for text in texts:
        counts.update(tokenize(text))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return {"<pad>": 0, "<unk>": 1, **{w: i for i, w in enumerate(kept, start=2)}}


def encode(texts, vocab, max_len):
    rows = [[vocab.get(w, vocab["<unk>"]) for w in tokenize(t)][:max_len] + [0] * max_len for t in texts]
    ids = torch.tensor([row[:max_len] for row in rows], dtype=torch.long)
    return ids, ids != vocab["<pad>"]
'''

LEARNED_PARAMETER_ENCODER = '''
class TextClassifier(nn.Module):
    def __init__(self, vocab_size, n_classes, d_model=32, n_heads=4, max_len=16):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.where = nn.Parameter(torch.randn(1, max_len, d_model) * 0.5)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=4 * d_model, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, n_classes)

    def forward(self, ids, mask):
        h = self.encoder(self.tokens(ids) + self.where[:, : ids.shape[1]], src_key_padding_mask=~mask)
        h = h.masked_fill(~mask.unsqueeze(-1), 0.0)
        return self.out(h.sum(dim=1) / mask.sum(dim=1, keepdim=True))
'''

DILATION_SHIFT = '''
from scipy.ndimage import grey_dilation

CROSS = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)


def thicken(images):
    return grey_dilation(np.asarray(images), footprint=CROSS, mode="constant", cval=0.0)


def shift_report(model, X, y):
    iid = accuracy(model, images(X), y)
    shifted = accuracy(model, images(thicken(X)), y)
    return dict(iid=iid, shifted=shifted, drop=iid - shifted)
'''

CORRECT: dict[str, dict[str, str]] = {
    "class-einsum-sinusoid": {"q1": TORCH_COUNTED_SHAPES, "q3": GELU_CLASS_CNN, "q4": EINSUM_ADDITIVE_ATTENTION,
                              "q5": EINSUM_HEADS, "q7": SINUSOID_OWN_BLOCK},
    "loops": {"q1": TRUNCATING_SHAPES, "q2": LOOP_SHIFTS, "q3": ONE_CONV_CNN, "q6": LOOP_TEXT,
              "q8": LOOP_SHIFT_REPORT},
    "roll-functional-encoder": {"q2": ROLL_AND_CLEAR_SHIFTS, "q4": LARGE_NEGATIVE_ATTENTION,
                                "q6": COUNTER_PAD_SEQUENCE, "q7": LEARNED_PARAMETER_ENCODER, "q8": DILATION_SHIFT},
}

# --- typical mistakes: each breaks one thing in the solution --------------------------


def changed(tag: str, old: str, new: str) -> dict[str, str]:
    """The solution's cell ``tag`` with one change: a mistake that follows the solution."""
    return {tag: edit(solution_cell(LAB, tag), old, new)}


DERIVED_MISTAKES = {  # made from the current solution's cells, so that they follow it
    "no-plus-one": lambda: changed("q1", "// stride + 1", "// stride"),
    "params-without-in-channels": lambda: changed("q1", "out_channels * in_channels * kernel", "out_channels * kernel"),
    "roll-wraps": lambda: {"q2": """
def shift_image(image, dx, dy):
    return np.roll(np.asarray(image), (dy, dx), axis=(0, 1))
""" + "\n\ndef augment" + solution_cell(LAB, "q2").split("\n\ndef augment")[1]},
    "labels-tiled": lambda: changed("q2", "np.repeat(np.asarray(y), len(moves))", "np.tile(np.asarray(y), len(moves))"),
    "no-pooling": lambda: {"q3": """
def build_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
"""},
    "counts-tensors": lambda: changed("q3", "sum(p.numel() for p in model.parameters())",
                                      "len(list(model.parameters()))"),
    "no-scaling": lambda: changed("q4", " / math.sqrt(q.shape[-1])", ""),
    "softmax-over-queries": lambda: changed("q4", "torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)"),
    "mask-inverted": lambda: changed("q4", "masked_fill(~mask,", "masked_fill(mask,"),
    "calls-torch-attention": lambda: {"q4": '''
def attention(q, k, v, mask=None):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
'''},
    "mask-after-softmax": lambda: {"q4": '''
def attention(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights * mask
    return weights @ v
'''},
    "heads-without-transpose": lambda: changed(
        "q5", "t.view(batch, length, self.n_heads, d_model // self.n_heads).transpose(1, 2)",
        "t.reshape(batch, self.n_heads, length, d_model // self.n_heads)"),
    "mask-ignored": lambda: changed("q5", "heads(self.v_proj(x)), keys)", "heads(self.v_proj(x)))"),
    "split-on-spaces": lambda: changed("q6", 're.findall(r"[a-z]+", text.lower())', "text.lower().split()"),
    "unknown-as-pad": lambda: changed("q6", "vocab.get(word, 1)", "vocab.get(word, 0)"),
    "min-count-strict": lambda: changed("q6", "if count >= min_count:", "if count > min_count:"),
    "no-positions": lambda: changed("q7", "self.words(ids) + self.positions(torch.arange(ids.shape[1]))",
                                    "self.words(ids)"),
    "padding-not-masked": lambda: changed("q7", "self.encoder(x, src_key_padding_mask=~mask)", "self.encoder(x)"),
    "mean-over-padding": lambda: changed(
        "q7", "return self.head((x * weights).sum(dim=1) / weights.sum(dim=1))", "return self.head(x.mean(dim=1))"),
    "iid-only": lambda: changed("q8", "shifted = accuracy(model, images(thicken(X)), y)",
                                "shifted = accuracy(model, images(X), y)"),
    "thicken-wraps": lambda: {"q8": '''
def thicken(images):
    images = np.asarray(images)
    neighbours = [np.roll(images, step, axis=axis) for axis in (1, 2) for step in (1, -1)]
    return np.max([images, *neighbours], axis=0)
''' + "\n\ndef shift_report" + solution_cell(LAB, "q8").split("\n\ndef shift_report")[1]},
    "thicken-diagonals": lambda: {"q8": '''
def thicken(images):
    padded = np.pad(np.asarray(images), ((0, 0), (1, 1), (1, 1)))
    return np.max([padded[:, 1 + dr:9 + dr, 1 + dc:9 + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)], axis=0)
''' + "\n\ndef shift_report" + solution_cell(LAB, "q8").split("\n\ndef shift_report")[1]},
}


def mistake_cells(name: str) -> dict[str, str]:
    """The replaced cells of mistake ``name``."""
    return DERIVED_MISTAKES[name]()


# The tests' names (their docstrings), as the results list them without "[parameters]".
PUBLIC = {
    "q1": "q1: a 3x3 convolution with padding 1 keeps 8 pixels, a 2x2 pooling halves them; Conv2d(1, 8, 3) has 80 "
          "weights",
    "q2": "q2: shift_image moves a pixel one step right; augment gives five images per image",
    "q3": "q3: build_cnn() maps (5, 1, 8, 8) to (5, 10) with fewer than 4,810 parameters",
    "q4": "q4: attention equals torch's scaled_dot_product_attention on a small causal example",
    "q5": "q5: MultiHeadAttention(8, 2) maps (3, 5, 8) to (3, 5, 8), with a padding mask too",
    "q6": "q6: tokenize, build_vocab and encode on two short texts",
    "q7": "q7: TextClassifier(20, 3) maps a padded batch of ids and its mask to (2, 3) logits",
    "q8": "q8: thicken turns one pixel into a plus sign; shift_report returns iid, shifted and drop",
}
CONV_SIZE = "q1: conv_output_size follows floor((size + 2 padding - kernel) / stride) + 1, as an int, on 40 layers"
POOL_SIZE = "q1: conv_output_size gives a max pooling's size (kernel = stride), also when the size does not divide"
CONV_PARAMS = "q1: conv_parameters counts the filters of every channel pair and one bias per output channel"
SHIFT = "q2: shift_image moves the pixels by (dx, dy), zeros moved in, nothing wrapped around"
AUGMENT = "q2: augment gives every image and its four one-pixel shifts, each with the image's own label"
SMALLER = "q3: build_cnn() has a Conv2d, gives (n, 10) logits and fewer parameters than lab 03's MLP (4,810)"
COUNT = "q3: count_parameters counts every number of any model's parameters, frozen ones too"
MATCHES = "q4: attention equals torch's scaled_dot_product_attention on the grader's shapes (batch, heads, Lq != Lk)"
CAUSAL = "q4: with a causal mask (True on and below the diagonal), attention equals torch's"
PADDING = "q4: with a padding mask of shape (batch, 1, 1, Lk), attention equals torch's"
GRADIENTS = "q4: gradients flow back to q, k and v and equal torch's, with a padding mask"
SCRATCH = "q4: the attention cell does not call torch's own attention"
MHA = "q5: MultiHeadAttention with the grader's weights equals nn.MultiheadAttention with the same weights"
MHA_MASK = "q5: with a padding mask, the real tokens' outputs equal nn.MultiheadAttention's with key_padding_mask"
TOKENIZE = ("q6: tokenize gives the runs of letters a..z of the lowercased text (digits, punctuation and apostrophes "
            "split)")
VOCAB = "q6: build_vocab gives <pad> 0, <unk> 1 and ids 2, 3, ... to the words seen at least min_count times"
IDS = "q6: encode writes each text's first max_len word ids (1 for unknown words), padded with 0 at the end"
PAD_INVARIANT = "q7: a padded batch gets the same logits as each sequence alone without padding"
ORDER = "q7: with positional information, the same words in reverse order get other logits"
LEARNS_TEXT = ("q7: trained by the grader's loop, the classifier gets at least 92% of new reviews right "
               "(word order needed)")
THICKEN = "q8: thicken makes each pixel the largest of itself and its four neighbours, borders included, no wrapping"
REPORT = "q8: shift_report gives the grader's model's accuracy on the test images as they are and drawn thicker"

ATTENTION_VALUES = {PUBLIC["q4"]: 1, MATCHES: 2, CAUSAL: 2, PADDING: 2, GRADIENTS: 2}
MASKED_VALUES = {PUBLIC["q4"]: 1, CAUSAL: 2, PADDING: 2, GRADIENTS: 2}

# What each mistake must cost, test by test (parameters' losses added up), and nothing else.
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "no-plus-one": {PUBLIC["q1"]: 1, CONV_SIZE: 2, POOL_SIZE: 1},
    "params-without-in-channels": {CONV_PARAMS: 2},  # the public example has one input channel
    "roll-wraps": {SHIFT: 2, AUGMENT: 3},
    "labels-tiled": {AUGMENT: 3},
    "no-pooling": {PUBLIC["q3"]: 1, SMALLER: 2},
    "counts-tensors": {COUNT: 1},
    "no-scaling": ATTENTION_VALUES,
    "softmax-over-queries": ATTENTION_VALUES,
    "mask-inverted": MASKED_VALUES,
    "calls-torch-attention": {SCRATCH: 1},
    "mask-after-softmax": MASKED_VALUES,
    "heads-without-transpose": {MHA: 4, MHA_MASK: 2},
    "mask-ignored": {MHA_MASK: 2},
    "split-on-spaces": {PUBLIC["q6"]: 1, TOKENIZE: 2, VOCAB: 2},
    "unknown-as-pad": {PUBLIC["q6"]: 1, IDS: 2},
    "min-count-strict": {PUBLIC["q6"]: 1, VOCAB: 2},
    "no-positions": {ORDER: 2, LEARNS_TEXT: 3},
    "padding-not-masked": {PAD_INVARIANT: 3},
    "mean-over-padding": {PAD_INVARIANT: 3},
    "iid-only": {REPORT: 5},
    "thicken-wraps": {THICKEN: 3, REPORT: 5},
    "thicken-diagonals": {PUBLIC["q8"]: 1, THICKEN: 3, REPORT: 5},
}

# The lab's real-world lesson: a test set drawn like the training set hides a distribution shift (q8). It
# must weigh at least 15 % of the lab.
LESSON_EXERCISES = ("q8",)


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return CORRECT[name] if name in CORRECT else mistake_cells(name)


KEPT = KeptNotebooks(LAB, [*CORRECT, *EXPECTED_LOSSES], replacements)


# --- the lab's parts, checked in process ----------------------------------------------------

HIDDEN_DIR = REPO / "solutions" / LAB / "tests"
REVIEWS = load_module("lab11_reviews", HIDDEN_DIR / "reviews.py")


def solution_namespace(*tags: str) -> dict:
    """The names the solution's cells ``tags`` define, run in process."""
    namespace: dict = {"np": np, "torch": torch, "nn": nn, "math": math, "re": re,
                       "Counter": __import__("collections").Counter}
    for tag in tags:
        exec(solution_cell(LAB, tag), namespace)
    return namespace


def test_the_shipped_reviews_are_their_generators():
    """reviews.csv, in the solution and in the lab, is the generator's corpus from LAB_SEED."""
    text = REVIEWS.csv_text(REVIEWS.reviews(REVIEWS.LAB_SEED, 1200))
    for folder in (REPO / "solutions" / LAB / "files", REPO / "labs" / LAB):
        assert (folder / "reviews.csv").read_text() == text


@pytest.mark.parametrize("seed", range(6))
def test_word_order_decides_half_of_the_reviews(seed):
    """In every drawn corpus, about half of the reviews hold a positive and a negative word, and swapping the
    two gives a review of the other label with the same words: without positions a model is right on about
    half of those, as the hidden q7 test's floor assumes."""
    two_opinions = 0
    rows = REVIEWS.reviews(seed, 400)
    for text, label in rows:
        words = re.findall(r"[a-z]+", text.lower())
        assert len(words) <= REVIEWS.MAX_WORDS
        p, n = [w for w in words if w in REVIEWS.POSITIVE], [w for w in words if w in REVIEWS.NEGATIVE]
        if p and n:
            two_opinions += 1
            rendered = {t.format(noun=words[1], p=p[0], n=n[0]): lab for _, t, lab in REVIEWS.TEMPLATES}
            swapped = " ".join({p[0]: n[0], n[0]: p[0]}.get(w, w) for w in words)
            assert rendered[" ".join(words)] == label and rendered[swapped] == 1 - label
    assert 0.4 <= two_opinions / len(rows) <= 0.6


@pytest.mark.parametrize("seed", range(5))
def test_conv_formula_is_torchs(seed):
    """The solution's q1 formulas agree with the shapes and parameters of torch's own layers, on random layers."""
    ns = solution_namespace("q1")
    rng = np.random.default_rng(seed)
    for _ in range(20):
        size, kernel, stride, padding = int(rng.integers(4, 20)), int(rng.integers(1, 5)), int(rng.integers(1, 4)), \
            int(rng.integers(0, 2))
        cin, cout = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        layer = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding)
        out = layer(torch.zeros(1, cin, size, size))
        assert out.shape[-1] == ns["conv_output_size"](size, kernel, stride, padding)
        assert sum(p.numel() for p in layer.parameters()) == ns["conv_parameters"](cin, cout, kernel)


# --- the batch ------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite). Its correct variants differ in structure (Sequential or
    a Module class, loops or vectorised), attention (matmul or einsum, masked_fill with -inf or -1e9, an
    additive mask), positions (learned embedding, learned parameter, sinusoids), encoder (torch's layer or a
    block of their own) and libraries (scipy's dilation)."""

    kept = KEPT
    max_score = 67
    test_count = 40
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("no-positions", "q7: with positional information")
    lesson = "a test set drawn like the training set hides a distribution shift"
    lesson_exercises = LESSON_EXERCISES


# A correct variant and two mistakes, beside the solution.
DOCKER_SAMPLE = ("solution", "roll-functional-encoder", "no-positions", "thicken-wraps")


@pytest.mark.docker
def test_the_docker_backend_grades_the_same(tmp_path):
    """The kernel image holds what the lab needs (numpy, scikit-learn, scipy, torch, matplotlib)."""
    assert_docker_grades_the_same(TestLab, DOCKER_SAMPLE, tmp_path)


if __name__ == "__main__":
    KEPT.write()
