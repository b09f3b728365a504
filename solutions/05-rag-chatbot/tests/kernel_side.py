"""Grader code that runs in the student's kernel for the hidden tests of 05-rag-chatbot.

The tests run it in the notebook's namespace; its names start with ``_t_`` so that they cannot
clash with the student's. It builds the index that q7's tests hand to ``retrieve_for`` from vectors
the grader chose, so that access control is judged on its own code and not on q3's ``build_index``.
"""

import faiss as _t_faiss
import numpy as _t_np


def _t_build_index(vectors):
    """An inner-product index over normalised copies of vectors: its scores are cosines."""
    unit = _t_np.array(vectors, dtype="float32")
    _t_faiss.normalize_L2(unit)
    index = _t_faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    return index
