"""The grader's embedding model: what ``/v1/embeddings`` answers, and what lab tests recompute.

A retrieval lab needs embeddings that carry meaning, come out the same on every machine, and cost
no download. This model is lexical: a text's normalised words are hashed into
:data:`EMBEDDING_DIM` signed buckets (feature hashing), weighted by ``1 + log(count)``, and the
vector scaled to length 1. Texts that share words have a high cosine; texts that share none are
near 0 (collisions add noise of about ``1/sqrt(EMBEDDING_DIM)``), which is what a refusal
threshold needs. It knows no synonyms: that is said in the labs that use it, and a real provider
through the same API does better. Tests import :func:`embed` to compute, in the grader, what a
correct pipeline retrieves.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter

EMBEDDING_DIM = 384
WORD = re.compile(r"[a-z0-9]+")
# Words so common that sharing them says nothing about a topic.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "has", "have", "how",
    "i", "if", "in", "is", "it", "its", "my", "no", "not", "of", "on", "or", "our", "so", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "to", "was", "we", "what", "when", "where", "which", "who",
    "why", "will", "with", "you", "your",
})


def words(text: str) -> list[str]:
    """The text's words as the model sees them: accents and case folded, stop words dropped, and a
    plural ``s`` cut, so that "Refunds" and "refund" are one word."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [_singular(w) for w in WORD.findall(folded) if w not in STOPWORDS]


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def embed(text: str) -> list[float]:
    """A deterministic unit vector for ``text``: equal texts, equal vectors; shared words, close ones."""
    counts = Counter(words(text))
    if not counts:  # no word to go by: a vector of the text's hash, near no other text's
        return _unit([b - 127.5 for b in hashlib.sha256(text.encode()).digest()] * (EMBEDDING_DIM // 32))
    vector = [0.0] * EMBEDDING_DIM
    for word, count in counts.items():
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[int.from_bytes(digest[:4], "big") % EMBEDDING_DIM] += sign * (1.0 + math.log(count))
    return _unit(vector)


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
