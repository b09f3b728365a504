"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks on the lab's own handbook, against whichever server your notebook talks
to. The grader also runs hidden tests on documents and questions of its own choosing: it scripts the
model's replies and reads the requests your code sends (which texts, in what order, in which role).
"""

import pytest

PAGE = {"id": "x1", "title": "Tiny page", "updated": "2025-01-02", "access": "hr",
        "text": "one two three four five six seven eight nine ten eleven"}


def test_q1_chunks(nb):
    """q1: 11 words in chunks of 5 overlapping by 2 start at words 0, 3 and 6, and carry the page's metadata"""
    chunks = nb.call("chunk_page", PAGE, 5, 2)
    assert [c["text"] for c in chunks] == ["one two three four five", "four five six seven eight",
                                           "seven eight nine ten eleven"]
    assert [c["id"] for c in chunks] == ["x1#0", "x1#1", "x1#2"]
    assert {(c["page"], c["title"], c["updated"], c["access"]) for c in chunks} == {
        ("x1", "Tiny page", "2025-01-02", "hr")}


def test_q2_embeddings(nb):
    """q2: embed_texts gives one float32 row per text, and tfidf_embedder a function giving one row per text"""
    assert nb.ref("(lambda v: [v.shape[0], str(v.dtype)])(embed_texts(['refund policy', 'shift swap', 'rota']))") \
        == [3, "float32"]
    assert nb.ref("tfidf_embedder(['refund policy', 'shift swap'])(['refund', 'swap', 'x']).shape[0]") == 3


def test_q3_retrieve(nb):
    """q3: the best chunk for a question about swapping shifts is on the shift swaps page, with a cosine score"""
    nb.run("_t_chunks = chunk_pages(PAGES)\n_t_index = build_index(embed_texts([c['text'] for c in _t_chunks]))")
    hits = nb.ref("[(c['id'], c['title'], s) for c, s in retrieve('Can I swap a shift?', _t_chunks, _t_index, 3)]")
    assert len(hits) == 3 and hits[0][1] == "Shift swaps"
    assert 0 < hits[0][2] <= 1.0 + 1e-5 and hits[0][2] >= hits[1][2] >= hits[2][2]


def test_q4_metrics(nb):
    """q4: for the ranking a, b, c with only c relevant, recall@2 is 0 and the reciprocal rank 1/3"""
    assert nb.call("recall_at_k", ["a", "b", "c"], ["c"], 2) == 0
    assert nb.call("reciprocal_rank", ["a", "b", "c"], ["c"]) == pytest.approx(1 / 3)


def test_q5_messages(nb):
    """q5: build_messages gives the system prompt, then a user message with the source and the question"""
    chunk = {"id": "x1#0", "page": "x1", "title": "Tiny page", "updated": "2025-01-02", "access": "everyone",
             "text": "Refunds take five days."}
    messages = nb.call("build_messages", "How long do refunds take?", [(chunk, 0.5)])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == nb.ref("SYSTEM_PROMPT")
    assert "Refunds take five days." in messages[1]["content"] and "How long do refunds take?" in messages[1]["content"]


def test_q6_refusal(nb):
    """q6: with no hits at all, answer() refuses"""
    assert nb.call("answer", "What is the capital of Australia?", []) == {"answer": nb.ref("REFUSAL"), "sources": []}


def test_q7_salary_is_for_hr(nb):
    """q7: the salary bands page is retrieved for the hr group and never for sales"""
    nb.run("_t_chunks = chunk_pages(PAGES)\n_t_index = build_index(embed_texts([c['text'] for c in _t_chunks]))")
    question = "What is the salary band of a senior engineer?"
    pages = "[c['access'] for c, _ in retrieve_for({!r}, _t_chunks, _t_index, {!r}, 4)]"
    assert "hr" not in nb.ref(pages.format(question, ["sales"]))
    assert "hr" in nb.ref(pages.format(question, ["hr"]))


def test_q8_old_policy_dropped(nb):
    """q8: the 2023 remote work policy is dropped, the newer one kept"""
    kept = nb.ref("[(p['title'], p['updated'][:4]) for p in "
                  "latest_versions(PAGES, embed_texts([p['text'] for p in PAGES]))]")
    assert ("Remote work policy", "2025") in kept and ("Remote work policy", "2023") not in kept
