"""Public tests: students see and run these (``check("q1")`` or ``grade check``)."""


def test_q1_square(nb):
    """q1: square(3) is 9"""
    assert nb.call("square", 3) == 9


def test_q2_mean(nb):
    """q2: mean([1, 2, 3]) is 2"""
    assert nb.call("mean", [1, 2, 3]) == 2


def test_q3_word_counts(nb):
    """q3: word_counts counts each word"""
    assert nb.call("word_counts", "a b a") == {"a": 2, "b": 1}


def test_q4_standardize(nb):
    """q4: standardize returns an array of the same length"""
    result = nb.call("standardize", [1.0, 2.0, 3.0])
    assert len(result) == 3
