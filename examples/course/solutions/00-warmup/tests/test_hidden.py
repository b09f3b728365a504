"""Hidden tests: run by the grader only. Values come back as plain types, so
exact type checks below cannot be fooled by objects that claim equality."""

import math

import numpy as np
import pytest


@pytest.mark.points(2)
@pytest.mark.parametrize("x", [-3, 0, 2.5, 10**12])
def test_q1_square_any_number(nb, x):
    """q1: square works for negative, zero, float and large numbers"""
    got = nb.call("square", x)
    assert type(got) in (int, float) and got == x * x


@pytest.mark.points(2)
def test_q2_mean_empty(nb):
    """q2: mean of an empty list is None"""
    assert nb.call("mean", []) is None


@pytest.mark.points(2)
def test_q2_mean_floats(nb):
    """q2: mean of floats"""
    got = nb.call("mean", [0.5, 1.5, 4.0])
    assert type(got) is float and math.isclose(got, 2.0)


@pytest.mark.points(3)
def test_q3_case_and_whitespace(nb):
    """q3: word_counts ignores case and repeated whitespace"""
    got = nb.call("word_counts", "The cat  saw\tthe other CAT\n")
    assert type(got) is dict and got == {"the": 2, "cat": 2, "saw": 1, "other": 1}


@pytest.mark.points(3)
def test_q4_standardized(nb):
    """q4: standardize gives mean 0 and standard deviation 1"""
    got = nb.call("standardize", [2, 4, 4, 4, 5, 5, 7, 9])
    assert type(got) is np.ndarray and got.dtype.kind == "f"
    assert abs(got.mean()) < 1e-9 and abs(got.std() - 1) < 1e-9
    assert np.allclose(got, [-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2])
