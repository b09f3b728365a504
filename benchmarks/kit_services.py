"""What the project labs' grader-side services cost, against a baseline doing the same work plainly.

- embeddings (05-rag-chatbot): the lab's handbook cut as its notebook cuts it (30 words, overlap
  10), its chunks taken 20 times over, embedded by the llm kit's server through the openai SDK in
  batches of 32, and by its model called in process; the baseline is scikit-learn's TF-IDF
  fitted and applied to the same chunks, which the lab offers as the model-free alternative;
- writes (08-ai-automation): refunds POSTed to the api kit's back office, each under a new
  Idempotency-Key, then each sent again (replayed, no second refund); the baseline is as many
  GETs of one order from the same server.

Each is run ``--repeat`` times; the median is printed with its ratio to its baseline. From the
repository root::

    .venv/bin/python benchmarks/kit_services.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import httpx
import openai
from rich.console import Console
from rich.table import Table
from sklearn.feature_extraction.text import TfidfVectorizer
from timing import median

from grader.kits.api.model import API
from grader.kits.api.server import Server as APIServer
from grader.kits.llm.embedding import embed
from grader.kits.llm.server import Server as LLMServer

REPO = Path(__file__).resolve().parents[1]
HANDBOOK = REPO / "solutions" / "05-rag-chatbot" / "files" / "handbook.json"
BATCH = 32
COPIES = 20  # the handbook is small (35 chunks): its chunks 20 times over, for times well above the clock's grain
WRITES = 200


def chunks(size: int = 30, overlap: int = 10) -> list[str]:
    """The handbook's pages cut into word windows, as the lab's q1 asks."""
    texts = []
    for page in json.loads(HANDBOOK.read_text()):
        words = page["text"].split()
        for start in range(0, max(1, len(words) - overlap), size - overlap):
            texts.append(" ".join(words[start:start + size]))
    return texts


def embedding_rows(folder: Path, repeat: int) -> list[tuple[str, float, str]]:
    texts = chunks() * COPIES
    server = LLMServer(uds=folder / "llm.sock")
    server.start()
    try:
        client = openai.OpenAI(base_url="http://grader/v1", api_key="x", max_retries=0,
                               http_client=httpx.Client(transport=httpx.HTTPTransport(uds=str(folder / "llm.sock"))))

        def served() -> None:
            for start in range(0, len(texts), BATCH):
                client.embeddings.create(model="grader-embed", input=texts[start:start + BATCH])

        baseline = median(lambda: TfidfVectorizer().fit_transform(texts).toarray(), repeat)
        return [(f"TF-IDF, {len(texts)} chunks (baseline)", baseline, "embeddings"),
                ("the kit's model, in process", median(lambda: [embed(t) for t in texts], repeat),
                 "embeddings"),
                (f"the kit's server, batches of {BATCH}, openai SDK", median(served, repeat), "embeddings")]
    finally:
        server.stop()


def write_rows(folder: Path, repeat: int) -> list[tuple[str, float, str]]:
    server = APIServer(uds=folder / "api.sock")
    server.start()
    api = API(server.state)
    try:
        transport = httpx.HTTPTransport(uds=str(folder / "api.sock"))
        with httpx.Client(transport=transport, base_url="http://grader") as http:
            order = http.get("/orders", params={"per_page": 1}).json()["items"][0]["id"]
            rounds = iter(range(10**6))

            def refunds() -> None:
                api.clear()  # an empty store and no keys, as each submission's server starts
                run = next(rounds)
                for i in range(WRITES):
                    for _ in range(2):  # the write, then its retry: replayed under the same key
                        answer = http.post("/refunds", json={"order_id": order, "amount": 5},
                                           headers={"Idempotency-Key": f"{run}-{i}"})
                        assert answer.status_code == 201, answer.text
                assert len(api.records("refunds")) == WRITES

            def reads() -> None:
                for _ in range(2 * WRITES):
                    assert http.get(f"/orders/{order}").status_code == 200

            return [(f"{2 * WRITES} GETs of an order (baseline)", median(reads, repeat), "writes"),
                    (f"{WRITES} refunds, each sent twice under its key", median(refunds, repeat), "writes")]
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = embedding_rows(Path(folder), args.repeat) + write_rows(Path(folder), args.repeat)
    table = Table(title=f"grader-side services of the project labs (median of {args.repeat})")
    for column in ("what", "seconds", "× baseline"):
        table.add_column(column)
    baselines = {group: seconds for what, seconds, group in rows if "baseline" in what}
    for what, seconds, group in rows:
        table.add_row(what, f"{seconds:.3f}", f"{seconds / baselines[group]:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
