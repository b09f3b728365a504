"""The llm kit's embedding model, over generated families of texts: deterministic unit vectors
whose cosine follows the words two texts share, which is what a retrieval lab's tests rely on."""

from __future__ import annotations

import random

import numpy as np
import pytest

from grader.kits.llm.embedding import EMBEDDING_DIM, embed, words

SEEDS = range(40)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Made-up words (no stop word, no plural ``s``), so that two vocabularies never share one."""
    letters = "bcdfghjklmnpqrtvwxz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) + "o" for _ in range(size)]


def vector(text: str) -> np.ndarray:
    return np.array(embed(text))


@pytest.mark.parametrize("seed", SEEDS)
def test_equal_texts_give_equal_unit_vectors(seed):
    rng = random.Random(seed)
    text = " ".join(vocabulary(rng, rng.randint(0, 30)))
    first, second = vector(text), vector(text)
    assert first.shape == (EMBEDDING_DIM,)
    assert np.array_equal(first, second)
    assert abs(np.linalg.norm(first) - 1) < 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_order_case_plural_and_stop_words_do_not_change_the_vector(seed):
    rng = random.Random(seed)
    chosen = vocabulary(rng, 12)
    shuffled = rng.sample(chosen, len(chosen))
    dressed = " the ".join(w.upper() + "s" for w in shuffled) + ", and of it!"
    assert words(dressed) == shuffled
    assert np.allclose(vector(" ".join(chosen)), vector(dressed))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_query_is_closest_to_the_text_it_shares_words_with(seed):
    rng = random.Random(seed)
    pages = [vocabulary(rng, 20) for _ in range(5)]
    target = rng.randrange(len(pages))
    query = vector(" ".join(rng.sample(pages[target], 5)))
    scores = [float(query @ vector(" ".join(page))) for page in pages]
    assert int(np.argmax(scores)) == target
    assert scores[target] > 0.3


def test_texts_without_a_shared_word_are_near_orthogonal():
    rng = random.Random(0)
    pairs = [(vocabulary(rng, 15), vocabulary(rng, 15)) for _ in range(200)]
    cosines = [abs(float(vector(" ".join(a)) @ vector(" ".join(b)))) for a, b in pairs]
    assert np.mean(cosines) < 0.1


@pytest.mark.parametrize("text", ["", "   ", "?!", "the of and", "日本語"])
def test_a_text_without_words_still_gets_its_own_unit_vector(text):
    assert abs(np.linalg.norm(vector(text)) - 1) < 1e-9
    assert np.array_equal(vector(text), vector(text))
    assert abs(float(vector(text) @ vector("refund policy"))) < 0.5
