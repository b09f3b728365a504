"""The 05-rag-chatbot lab graded end to end against the grader's LLM server (its lexical embeddings
and scripted chat replies): the solution, the untouched student notebook, other correct solutions,
and typical mistakes, in one ``grade`` batch; a sample again under the Docker backend.

The graded notebooks are kept as files under ``tests/labs/05-rag-chatbot/``. Each is the solution
with some answer cells replaced, a cell found by its tag (``q1`` ... ``q8``, one answer cell each).
A test below checks that the files still match that recipe; ``python tests/test_lab_05_rag_chatbot.py``
rewrites them after the solution changes. Tests of the lab's parts in process (the shipped handbook
is its generator's output and holds what the text promises) come first.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO, KeptNotebooks, edit
from lab_suite import LabSuite, assert_docker_grades_the_same, load_module

from grader.kits.llm.embedding import embed

LAB = "05-rag-chatbot"
SOLUTION = REPO / "solutions" / LAB
DUPLICATE = 0.8  # the notebook's threshold for two versions of one page
MIN_SCORE = 0.2  # the notebook's threshold for a relevant chunk


HANDBOOK = load_module("_lab05_handbook_test", SOLUTION / "tests" / "handbook.py")  # the lab's generator


# --- the lab's data, in process ------------------------------------------------------------------


def test_shipped_handbook_is_the_generators_output():
    """files/ holds make_handbook.py's output for its seed, and grade assign copied it beside the notebook."""
    pages, questions = HANDBOOK.make_handbook(2026)
    for folder in (SOLUTION / "files", REPO / "labs" / LAB):
        assert json.loads((folder / "handbook.json").read_text()) == pages
        assert json.loads((folder / "questions.json").read_text()) == questions


@pytest.mark.parametrize("seed", range(40))
def test_every_handbook_holds_what_the_text_promises(seed):
    """Over many seeds: one hr page, a copy and an outdated policy that are versions (cosine at least
    DUPLICATE) of a later page, no other pair that close, and a forum page carrying an injection."""
    pages, questions = HANDBOOK.make_handbook(seed)
    vectors = np.array([embed(p["text"]) for p in pages])
    similar = vectors @ vectors.T >= DUPLICATE
    pairs = {(pages[i]["id"], pages[j]["id"]) for i, j in zip(*np.nonzero(similar), strict=True) if i < j}
    by_id = {p["id"]: p for p in pages}
    assert [p["access"] for p in pages].count("hr") == 1 and {p["access"] for p in pages} == {"everyone", "hr"}
    assert len(pairs) == 2 and all(by_id[old]["updated"] < by_id[new]["updated"] for old, new in pairs)
    assert sum("Ignore your previous instructions" in p["text"] for p in pages) == 1
    assert all(set(q["relevant"]) <= set(by_id) and q["relevant"] for q in questions)


@pytest.mark.parametrize("seed", range(40))
def test_most_labelled_questions_find_their_page_and_off_topic_ones_do_not(seed):
    """Over many seeds, at least three in four labelled questions find a relevant page first, scoring MIN_SCORE or
    more (the others are worded unlike their page, which a lexical model misses: the evaluation has something to
    show), and the off-topic questions score under MIN_SCORE: the refusal threshold separates them."""
    pages, questions = HANDBOOK.make_handbook(seed)
    vectors = np.array([embed(p["text"]) for p in pages])
    found = 0
    for q in questions:
        scores = vectors @ np.array(embed(q["question"]))
        found += scores.max() >= MIN_SCORE and pages[int(scores.argmax())]["id"] in q["relevant"]
    assert found >= 0.75 * len(questions)
    for question in HANDBOOK.OFF_TOPIC:
        assert (vectors @ np.array(embed(question))).max() < MIN_SCORE, question


# --- correct answers in other styles --------------------------------------------------------------

STARTS_CHUNKER = '''
def chunk_page(page, size=30, overlap=10):
    """The list of chunk starts first, then one dict per start."""
    if overlap < 0 or overlap >= size:
        raise ValueError("overlap must be at least 0 and smaller than size")
    words = page["text"].split()
    starts = [0]
    while starts[-1] + size < len(words):
        starts.append(starts[-1] + size - overlap)
    meta = {key: page[key] for key in ("title", "updated", "access")}
    return [dict(meta, id=f"{page['id']}#{i}", page=page["id"], text=" ".join(words[s:s + size]))
            for i, s in enumerate(starts)]


def chunk_pages(pages, size=30, overlap=10):
    out = []
    for page in pages:
        out.extend(chunk_page(page, size=size, overlap=overlap))
    return out
'''

IDMAP_INDEX = '''
def build_index(vectors):
    """Normalised with NumPy, in an IndexIDMap that keeps explicit ids."""
    x = np.asarray(vectors, dtype=np.float32)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    index = faiss.IndexIDMap(faiss.IndexFlatIP(x.shape[1]))
    index.add_with_ids(x, np.arange(len(x), dtype=np.int64))
    return index


def search(index, chunks, query_vector, k=4):
    q = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
    q = q / np.linalg.norm(q)
    D, I = index.search(q, k)
    hits = []
    for score, i in zip(D[0], I[0]):
        if i != -1:
            hits.append((chunks[int(i)], float(score)))
    return hits


def retrieve(question, chunks, index, k=4):
    [vector] = embed_texts([question])
    return search(index, chunks, vector, k)
'''

OVERFETCH_ACCESS = '''
def retrieve_for(question, chunks, index, groups, k=4):
    """Everything ranked, then the readable ones kept: the top k of what this user may see."""
    allowed = {"everyone", *groups}
    ranked = retrieve(question, chunks, index, k=index.ntotal)
    return [(chunk, score) for chunk, score in ranked if chunk["access"] in allowed][:k]
'''

PAIRWISE_VERSIONS = '''
def latest_versions(pages, vectors, threshold=DUPLICATE):
    """Each similar pair once: the later page wins, and on the same day the first in the list."""
    v = np.asarray(vectors, dtype=float)
    v = v / np.linalg.norm(v, axis=1)[:, None]
    outdated = set()
    for i in range(len(pages)):
        for j in range(i + 1, len(pages)):
            if v[i] @ v[j] >= threshold:
                outdated.add(i if pages[j]["updated"] > pages[i]["updated"] else j)
    return [page for i, page in enumerate(pages) if i not in outdated]
'''

SORTED_BATCHES = '''
def embed_texts(texts, batch_size=32):
    """Batches made first; each answer's items put in order by their index."""
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    items = []
    for batch in batches:
        response = client.embeddings.create(input=batch, model=EMBEDDING_MODEL)
        items += sorted(response.data, key=lambda item: item.index)
    return np.array([item.embedding for item in items], dtype=np.float32)


def tfidf_embedder(texts):
    vectorizer = TfidfVectorizer()
    vectorizer.fit(texts)

    def embed(batch):
        return np.asarray(vectorizer.transform(batch).todense(), dtype=np.float32)
    return embed
'''

STATISTICS_METRICS = '''
from statistics import mean


def ranked_pages(hits):
    return list(dict.fromkeys(chunk["page"] for chunk, _ in hits))


def recall_at_k(ranked, relevant, k):
    relevant = set(relevant)
    return sum(1 for page in ranked[:k] if page in relevant) / len(relevant)


def reciprocal_rank(ranked, relevant):
    found = [i for i, page in enumerate(ranked) if page in relevant]
    return 1.0 / (found[0] + 1) if found else 0.0


def evaluate(rankings, questions, k=3):
    pairs = list(zip(rankings, questions))
    return {"recall": mean(recall_at_k(r, q["relevant"], k) for r, q in pairs),
            "mrr": mean(reciprocal_rank(r, q["relevant"]) for r, q in pairs)}
'''

SOURCE_LINES_PROMPT = '''
DELIMITER = re.compile(r"</?\\s*context\\s*>", re.IGNORECASE)


def build_messages(question, hits):
    """Sources as 'Source [n]' sections, the block's tags removed from their text first."""
    lines = ["Answer the question from these sources only.", "<context>"]
    for n, (chunk, score) in enumerate(hits, 1):
        lines.append(f"Source [{n}]: {chunk['title']}, last updated {chunk['updated']}")
        lines.append(DELIMITER.sub("", chunk["text"]))
    lines += ["</context>", "", f"Question: {question}"]
    return [dict(role="system", content=SYSTEM_PROMPT), dict(role="user", content="\\n".join(lines))]
'''

SET_CITATIONS = '''
CITATION = re.compile(r"\\[(\\d+)\\]")


def answer(question, hits):
    best = max((score for _, score in hits), default=0.0)
    if best < MIN_SCORE:
        return {"answer": REFUSAL, "sources": []}
    completion = client.chat.completions.create(model=MODEL, messages=build_messages(question, hits),
                                                temperature=0.0)
    reply = completion.choices[0].message.content
    numbers = {int(n) for n in CITATION.findall(reply)}
    if not numbers or not numbers <= set(range(1, len(hits) + 1)):
        return {"answer": REFUSAL, "sources": []}
    return {"answer": reply, "sources": [hits[n - 1][0]["id"] for n in sorted(numbers)]}
'''

RANGE_CHUNKER = '''
def chunk_page(page, size=30, overlap=10):
    if not (0 <= overlap < size):
        raise ValueError("overlap must be smaller than size")
    tokens = page["text"].split()
    step = size - overlap
    chunks = []
    for number, start in enumerate(range(0, max(len(tokens) - overlap, 1), step)):
        chunks.append({"id": page["id"] + "#" + str(number), "page": page["id"], "title": page["title"],
                       "updated": page["updated"], "access": page["access"],
                       "text": " ".join(tokens[start:start + size])})
    return chunks


def chunk_pages(pages, size=30, overlap=10):
    return sum((chunk_page(p, size, overlap) for p in pages), [])
'''

COPY_INDEX = '''
def build_index(vectors):
    unit = vectors.copy().astype("float32")
    faiss.normalize_L2(unit)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    return index


def search(index, chunks, query_vector, k=4):
    query = np.array(query_vector, dtype="float32")[None, :]
    faiss.normalize_L2(query)
    scores, rows = index.search(query, k)
    return [(chunks[r], s.item()) for r, s in zip(rows[0], scores[0]) if r >= 0]


def retrieve(question, chunks, index, k=4):
    return search(index, chunks, embed_texts([question])[0], k=k)
'''

SUBINDEX_ACCESS = '''
def retrieve_for(question, chunks, index, groups, k=4):
    """A small index of the readable chunks only, made from the stored (already unit) vectors."""
    readable = [i for i, c in enumerate(chunks) if c["access"] in ("everyone", *groups)]
    stored = index.reconstruct_n(0, index.ntotal)[readable]
    allowed = faiss.IndexFlatIP(index.d)
    allowed.add(stored)
    return search(allowed, [chunks[i] for i in readable], embed_texts([question])[0], k)
'''

SKLEARN_VERSIONS = '''
from sklearn.metrics.pairwise import cosine_similarity


def latest_versions(pages, vectors, threshold=DUPLICATE):
    sims = cosine_similarity(vectors)

    def outdated(i):
        return any(sims[i, j] >= threshold and (pages[j]["updated"], -j) > (pages[i]["updated"], -i)
                   for j in range(len(pages)) if j != i)
    return [page for i, page in enumerate(pages) if not outdated(i)]
'''

MARKDOWN_PROMPT = '''
def build_messages(question, hits):
    blocks = []
    for i, (chunk, _) in enumerate(hits):
        text = chunk["text"]
        for tag in ("<context>", "</context>"):
            text = re.sub(re.escape(tag), "", text, flags=re.I)
        blocks.append(f"### [{i + 1}] {chunk['title']}\\n_updated {chunk['updated']}_\\n\\n{text}")
    user = "<context>\\n" + "\\n\\n".join(blocks) + "\\n</context>\\n\\n" + "Question: " + question
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
'''

CORRECT: dict[str, dict[str, str]] = {
    "starts-idmap-overfetch": {"q1": STARTS_CHUNKER, "q3": IDMAP_INDEX, "q7": OVERFETCH_ACCESS,
                               "q8": PAIRWISE_VERSIONS},
    "sorted-batches-statistics": {"q2": SORTED_BATCHES, "q4": STATISTICS_METRICS, "q5": SOURCE_LINES_PROMPT,
                                  "q6": SET_CITATIONS},
    "range-copy-subindex": {"q1": RANGE_CHUNKER, "q3": COPY_INDEX, "q5": MARKDOWN_PROMPT, "q7": SUBINDEX_ACCESS,
                            "q8": SKLEARN_VERSIONS},
}

# --- typical mistakes: each breaks one thing in the solution -------------------------------------

NO_OVERLAP = '''
def chunk_page(page, size=30, overlap=10):
    """Consecutive chunks that do not overlap."""
    if not 0 <= overlap < size:
        raise ValueError("bad overlap")
    words = page["text"].split()
    return [{"id": f"{page['id']}#{i}", "page": page["id"], "title": page["title"], "updated": page["updated"],
             "access": page["access"], "text": " ".join(words[start:start + size])}
            for i, start in enumerate(range(0, max(len(words), 1), size))]


def chunk_pages(pages, size=30, overlap=10):
    return [chunk for page in pages for chunk in chunk_page(page, size, overlap)]
'''

TAIL_CHUNK = '''
def chunk_page(page, size=30, overlap=10):
    """A chunk at every step, up to the last word: the last ones lie inside the one before."""
    if not 0 <= overlap < size:
        raise ValueError("bad overlap")
    words = page["text"].split()
    return [{"id": f"{page['id']}#{i}", "page": page["id"], "title": page["title"], "updated": page["updated"],
             "access": page["access"], "text": " ".join(words[start:start + size])}
            for i, start in enumerate(range(0, max(len(words), 1), size - overlap))]


def chunk_pages(pages, size=30, overlap=10):
    return [chunk for page in pages for chunk in chunk_page(page, size, overlap)]
'''

ONE_TEXT_PER_REQUEST = '''
def embed_texts(texts, batch_size=32):
    """One request per text."""
    return np.array([client.embeddings.create(model=EMBEDDING_MODEL, input=text).data[0].embedding
                     for text in texts], dtype="float32")


def tfidf_embedder(texts):
    vectorizer = TfidfVectorizer().fit(texts)
    return lambda batch: vectorizer.transform(batch).toarray().astype("float32")
'''

L2_UNNORMALISED = '''
def build_index(vectors):
    """Euclidean distance on the vectors as they are."""
    vectors = np.array(vectors, dtype="float32")
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors)
    return index


def search(index, chunks, query_vector, k=4):
    distances, ids = index.search(np.array([query_vector], dtype="float32"), k)
    return [(chunks[i], float(d)) for i, d in zip(ids[0], distances[0]) if i >= 0]


def retrieve(question, chunks, index, k=4):
    return search(index, chunks, embed_texts([question])[0], k)
'''

NORMALISES_IN_PLACE = '''
def build_index(vectors):
    """Normalises the caller's array itself."""
    faiss.normalize_L2(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def search(index, chunks, query_vector, k=4):
    query = np.array([query_vector], dtype="float32")
    faiss.normalize_L2(query)
    scores, ids = index.search(query, k)
    return [(chunks[i], float(score)) for i, score in zip(ids[0], scores[0]) if i >= 0]


def retrieve(question, chunks, index, k=4):
    return search(index, chunks, embed_texts([question])[0], k)
'''

# The metrics plainly, which each q4 mistake below changes in one place.
METRICS = '''
def ranked_pages(hits):
    pages = []
    for chunk, _ in hits:
        if chunk["page"] not in pages:
            pages.append(chunk["page"])
    return pages


def recall_at_k(ranked, relevant, k):
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def reciprocal_rank(ranked, relevant):
    for position, page in enumerate(ranked, start=1):
        if page in relevant:
            return 1 / position
    return 0.0


def evaluate(rankings, questions, k=3):
    recalls = [recall_at_k(ranked, q["relevant"], k) for ranked, q in zip(rankings, questions)]
    ranks = [reciprocal_rank(ranked, q["relevant"]) for ranked, q in zip(rankings, questions)]
    return {"recall": sum(recalls) / len(recalls), "mrr": sum(ranks) / len(ranks)}
'''

RECALL_OVER_K = edit(METRICS, '''    return len(set(ranked[:k]) & set(relevant)) / len(relevant)''',
                     '''    """Divides by k: that is precision@k."""
    return len(set(ranked[:k]) & set(relevant)) / k''')

MRR_OVER_HITS = edit(METRICS, '''def evaluate(rankings, questions, k=3):
    recalls''', '''def evaluate(rankings, questions, k=3):
    """The MRR of the questions that found something: misses left out."""
    recalls''')
MRR_OVER_HITS = edit(MRR_OVER_HITS, '''"mrr": sum(ranks) / len(ranks)}''',
                     '''"mrr": sum(found) / len(found) if found else 0.0}''')
MRR_OVER_HITS = edit(MRR_OVER_HITS, '    return {"recall"',
                     '    found = [r for r in ranks if r > 0]\n    return {"recall"')

RANK_OFF_BY_ONE = edit(METRICS, '''def reciprocal_rank(ranked, relevant):
    for position, page in enumerate(ranked, start=1):
        if page in relevant:
            return 1 / position''', '''def reciprocal_rank(ranked, relevant):
    """Positions counted from 1, and then one added again."""
    for position, page in enumerate(ranked, start=1):
        if page in relevant:
            return 1 / (position + 1)''')

SOURCES_IN_SYSTEM = '''
def build_messages(question, hits):
    """The sources appended to the instructions."""
    sources = "\\n\\n".join(f"[{n}] {chunk['title']} (updated {chunk['updated']})\\n{chunk['text']}"
                            for n, (chunk, _) in enumerate(hits, start=1))
    return [
        {"role": "system", "content": f"{SYSTEM_PROMPT}\\n\\n<context>\\n{sources}\\n</context>"},
        {"role": "user", "content": f"Question: {question}"},
    ]
'''

BLOCK_LEFT_OPEN = '''
def build_messages(question, hits):
    """The sources' text as it is, delimiters and all."""
    sources = [f"[{n}] {chunk['title']} (updated {chunk['updated']})\\n{chunk['text']}"
               for n, (chunk, _) in enumerate(hits, start=1)]
    context = "<context>\\n" + "\\n\\n".join(sources) + "\\n</context>"
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"{context}\\n\\nQuestion: {question}"}]
'''

ASKS_THE_MODEL_ANYWAY = '''
def answer(question, hits):
    """Refuses only when nothing at all was retrieved."""
    if not hits:
        return {"answer": REFUSAL, "sources": []}
    response = client.chat.completions.create(model=MODEL, temperature=0, messages=build_messages(question, hits))
    text = response.choices[0].message.content or ""
    cited = sorted({int(n) for n in re.findall(r"\\[(\\d+)\\]", text)})
    if not cited or not all(1 <= n <= len(hits) for n in cited):
        return {"answer": REFUSAL, "sources": []}
    return {"answer": text, "sources": [hits[n - 1][0]["id"] for n in cited]}
'''

TRUSTS_THE_CITATIONS = '''
def answer(question, hits):
    """Keeps the citations that point at a source, and the reply whatever it cites."""
    if not hits or hits[0][1] < MIN_SCORE:
        return {"answer": REFUSAL, "sources": []}
    response = client.chat.completions.create(model=MODEL, temperature=0, messages=build_messages(question, hits))
    text = response.choices[0].message.content or ""
    cited = sorted({int(n) for n in re.findall(r"\\[(\\d+)\\]", text)})
    return {"answer": text, "sources": [hits[n - 1][0]["id"] for n in cited if 1 <= n <= len(hits)]}
'''

FILTERS_AFTER_TOP_K = '''
def retrieve_for(question, chunks, index, groups, k=4):
    """The top k first, then what the user may not read dropped."""
    return [(chunk, score) for chunk, score in retrieve(question, chunks, index, k)
            if chunk["access"] == "everyone" or chunk["access"] in groups]
'''

IGNORES_ACCESS = '''
def retrieve_for(question, chunks, index, groups, k=4):
    """The groups are not looked at: the retrieval is everyone's."""
    return retrieve(question, chunks, index, k)
'''

KEEPS_FIRST_COPY = '''
def latest_versions(pages, vectors, threshold=DUPLICATE):
    """Of similar pages, the first seen is kept, whatever its date."""
    unit = np.array(vectors, dtype="float64")
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    kept, kept_vectors = [], []
    for page, vector in zip(pages, unit):
        if all(vector @ other < threshold for other in kept_vectors):
            kept.append(page)
            kept_vectors.append(vector)
    return kept
'''

SAME_TITLE_ONLY = '''
def latest_versions(pages, vectors, threshold=DUPLICATE):
    """Versions recognised by their title alone."""
    newest = {}
    for page in pages:
        if page["title"] not in newest or page["updated"] > newest[page["title"]]["updated"]:
            newest[page["title"]] = page
    return [page for page in pages if newest[page["title"]] is page]
'''

MISTAKES: dict[str, dict[str, str]] = {
    "no-overlap": {"q1": NO_OVERLAP},
    "tail-chunk": {"q1": TAIL_CHUNK},
    "one-text-per-request": {"q2": ONE_TEXT_PER_REQUEST},
    "l2-unnormalised": {"q3": L2_UNNORMALISED},
    "normalises-in-place": {"q3": NORMALISES_IN_PLACE},
    "recall-over-k": {"q4": RECALL_OVER_K},
    "mrr-over-hits": {"q4": MRR_OVER_HITS},
    "rank-off-by-one": {"q4": RANK_OFF_BY_ONE},
    "sources-in-system": {"q5": SOURCES_IN_SYSTEM},
    "block-left-open": {"q5": BLOCK_LEFT_OPEN},
    "asks-the-model-anyway": {"q6": ASKS_THE_MODEL_ANYWAY},
    "trusts-the-citations": {"q6": TRUSTS_THE_CITATIONS},
    "filters-after-top-k": {"q7": FILTERS_AFTER_TOP_K},
    "ignores-access": {"q7": IGNORES_ACCESS},
    "keeps-first-copy": {"q8": KEEPS_FIRST_COPY},
    "same-title-only": {"q8": SAME_TITLE_ONLY},
}

# What each mistake must cost, test by test, and nothing else (tests several mistakes fail, by name).
CHUNK_RULES = "q1: chunk i starts at word i * (size - overlap) and holds up to size words; the last reaches the end"
CHUNK_EXAMPLE = "q1: 11 words in chunks of 5 overlapping by 2 start at words 0, 3 and 6, and carry the page's metadata"
EVALUATE = "q4: evaluate gives mean recall@k and the MRR over all questions, misses counting 0"
BLOCK_CLOSED = "q5: a source holding </context> or <CONTEXT> does not end the block: the message holds one of each"
OUTSIDER = "q7: a user outside hr and legal gets the k best chunks of those for everyone, none of theirs"
MEMBER = "q7: a member of hr gets the k best chunks of those for everyone and for hr"
VERSIONS = "q8: of the versions of one document (cosine at least the threshold), only the one updated last is kept"
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "no-overlap": {CHUNK_RULES: 2, CHUNK_EXAMPLE: 1},
    "tail-chunk": {CHUNK_RULES: 2, CHUNK_EXAMPLE: 1},
    "one-text-per-request": {
        "q2: embed_texts sends the texts in order, in as few requests of at most batch_size texts as possible": 2,
    },
    "l2-unnormalised": {
        "q3: the best chunk for a question about swapping shifts is on the shift swaps page, with a cosine score": 1,
        "q3: search ranks the chunks by the cosine of their vectors and the query, whatever their lengths": 2,
    },
    "normalises-in-place": {
        "q3: build_index does not change the array it is given, and holds one vector per row in faiss": 1},
    "recall-over-k": {"q4: recall@k is the share of the relevant pages found among the first k": 1, EVALUATE: 2},
    "mrr-over-hits": {EVALUATE: 2},
    "rank-off-by-one": {
        "q4: for the ranking a, b, c with only c relevant, recall@2 is 0 and the reciprocal rank 1/3": 1,
        "q4: the reciprocal rank is 1 over the position (from 1) of the first relevant page, 0 when none is there": 1,
        EVALUATE: 2,
    },
    "sources-in-system": {
        "q5: build_messages gives the system prompt, then a user message with the source and the question": 1,
        "q5: the system message comes first, the same for every question, and holds no document text": 2,
        "q5: the user message holds the sources in one <context> block, numbered from 1 in order, then the question": 2,
        BLOCK_CLOSED: 1,
    },
    "block-left-open": {BLOCK_CLOSED: 1},
    "asks-the-model-anyway": {"q6: with no hits, or none scoring MIN_SCORE, answer refuses and sends no request": 2},
    "trusts-the-citations": {
        "q6: a reply that cites a source number that was not sent is replaced by the refusal": 1,
        "q6: a reply that cites no source is replaced by the refusal": 1,
    },
    "filters-after-top-k": {OUTSIDER: 3, MEMBER: 1},
    "ignores-access": {
        "q7: the salary bands page is retrieved for the hr group and never for sales": 1, OUTSIDER: 3, MEMBER: 1},
    "keeps-first-copy": {"q8: the 2023 remote work policy is dropped, the newer one kept": 1, VERSIONS: 2},
    "same-title-only": {
        VERSIONS: 2,
        "q8: pages under the threshold are all kept; of same-day versions the first in the list is kept": 1,
    },
}

# The lab's real-world concerns: a prompt that keeps its instructions, an honest refusal and checked
# citations, access control, and the outdated page.
LESSON_EXERCISES = ("q5", "q6", "q7", "q8")


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return {**CORRECT, **MISTAKES}[name]


KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements)


# --- the batch --------------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite), against the grader's LLM server."""

    kept = KEPT
    max_score = 43
    test_count = 32
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("filters-after-top-k", "q7: a user outside hr")
    lesson = "prompt injection, refusals and citations, access control and outdated pages"
    lesson_exercises = LESSON_EXERCISES


# One notebook per kind of check (requests recorded, an index built in the kernel, access), beside the solution.
DOCKER_SAMPLE = ("solution", "one-text-per-request", "l2-unnormalised", "asks-the-model-anyway", "filters-after-top-k")


@pytest.mark.docker
def test_the_docker_backend_grades_the_same(tmp_path):
    """The kernel image holds what the lab needs (faiss and scikit-learn among it)."""
    assert_docker_grades_the_same(TestLab, DOCKER_SAMPLE, tmp_path)


if __name__ == "__main__":
    KEPT.write()
