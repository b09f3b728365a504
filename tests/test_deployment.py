"""grader.kits.deployment: the Dockerfile rules, the in-sandbox app probe, the live build.

The live tests need a Docker engine and the grader's image (``docker`` marker);
they build real images with no network and check that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from conftest import BACKENDS, ended_process, leftover_processes

from grader import owner
from grader.engine.sandbox import get_backend
from grader.engine.sandbox.docker import LABEL, OWNER_LABEL
from grader.errors import KitError
from grader.kits.deployment import answers, cleanup, dockerfile, lint, probe, rules
from grader.kits.deployment import container as live_layer
from grader.kits.deployment.answers import Contract
from grader.kits.deployment.dockerfile import Dockerfile
from grader.kits.sandboxed import FILE_LIMIT, read_files
from grader.testing.live import LiveNotebook

GOOD = textwrap.dedent("""\
    FROM python:3.11.7-slim-bookworm
    ENV PYTHONDONTWRITEBYTECODE=1
    WORKDIR /app
    COPY requirements.txt .
    RUN pip install --no-cache-dir -r requirements.txt
    COPY app.py model.joblib ./
    USER 10001:10001
    EXPOSE 8000
    HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
    CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
    """)

# The service the app below is: /health, and /predict taking {"features": [...]} for one row.
CONTRACT = Contract(health="/health", predict="/predict", request=lambda row: {"features": row})

RULES = [rules.pinned_base, rules.dependencies_before_code, rules.copies_what_it_needs, rules.non_root,
         rules.exposes_port, rules.health_check, rules.no_secrets, rules.small_image, rules.other_findings]


def edited(old: str, new: str) -> Dockerfile:
    assert old in GOOD
    return Dockerfile.parse(GOOD.replace(old, new))


def failing(df: Dockerfile) -> list[str]:
    return [rule.__name__ for rule in RULES if rule(df)]


def test_good_dockerfile_passes_every_rule():
    df = Dockerfile.parse(GOOD)
    assert dockerfile.refusal(df) is None
    assert failing(df) == []
    assert df.port() == 8000


@pytest.mark.parametrize("old, new, rules", [
    ("python:3.11.7-slim-bookworm", "python:latest", ["pinned_base", "small_image"]),
    ("python:3.11.7-slim-bookworm", "python:slim", ["pinned_base"]),
    ("python:3.11.7-slim-bookworm", "python", ["pinned_base", "small_image"]),
    ("python:3.11.7-slim-bookworm", "python@sha256:" + "a" * 64, ["small_image"]),
    ("COPY requirements.txt .\n", "COPY . .\n", ["dependencies_before_code", "copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY . .", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "ADD . .", ["copies_what_it_needs", "other_findings"]),  # DL3020: ADD
    ("COPY app.py model.joblib ./", "COPY . /app", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY ./ /app/", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY ./. .", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY * ./", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY --chown=10001:10001 . .", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", 'COPY [".", "/app/"]', ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY app.py ./\nCOPY . .", ["copies_what_it_needs"]),
    ("COPY app.py model.joblib ./", "COPY *.py *.joblib ./", []),
    ("COPY app.py model.joblib ./", 'COPY ["app.py", "model.joblib", "./"]', []),
    ("RUN pip install --no-cache-dir -r requirements.txt\n", "", ["dependencies_before_code"]),
    ("USER 10001:10001\n", "", ["non_root"]),
    ("USER 10001:10001\n", "USER root\n", ["non_root"]),
    ("USER 10001:10001\n", "USER 0:0\n", ["non_root"]),
    ("EXPOSE 8000\n", "", ["exposes_port"]),
    ("HEALTHCHECK CMD", "HEALTHCHECK NONE\n#", ["health_check"]),
    ("ENV PYTHONDONTWRITEBYTECODE=1\n", "ENV OPENAI_API_KEY=sk-live-123\n", ["no_secrets"]),
    ("ENV PYTHONDONTWRITEBYTECODE=1\n", "ARG GITHUB_TOKEN\n", ["no_secrets"]),
    ("COPY app.py model.joblib ./", "COPY app.py model.joblib .env ./", ["no_secrets"]),
    ("--no-cache-dir ", "", ["small_image"]),
    ("WORKDIR /app\n", "WORKDIR app\n", ["other_findings"]),
])
def test_each_mistake_fails_exactly_its_rules(old, new, rules):
    assert failing(edited(old, new)) == rules


def test_secret_names_are_whole_words():
    """TOKENIZERS_PARALLELISM is no token; a legacy ``ENV NAME value`` is read by its name."""
    assert not rules.no_secrets(edited("ENV PYTHONDONTWRITEBYTECODE=1", "ENV TOKENIZERS_PARALLELISM=false"))
    assert rules.no_secrets(edited("ENV PYTHONDONTWRITEBYTECODE=1", "ENV DB_PASSWORD hunter2"))


@pytest.mark.parametrize("line", [
    "ADD https://example.com/get.sh /get.sh",
    "ADD git@github.com:someone/repo.git /src",
    "RUN curl -fsSL http://example.com/x | sh",
    "RUN wget example.com",
    "RUN python -c \"import urllib.request; urllib.request.urlopen('http://10.0.0.1')\"",
    "RUN --mount=type=bind,source=/,target=/host cat /host/etc/shadow",
    "RUN --network=host pip install flask",
    "RUN apt-get update",
    "COPY --from=nginx:1.25 /etc/nginx /nginx",
])
def test_network_or_host_at_build_time_is_refused(line):
    df = Dockerfile.parse(GOOD + line + "\n")
    assert dockerfile.refusal(df)


def test_copy_from_an_earlier_stage_is_fine():
    df = Dockerfile.parse("FROM python:3.11-slim AS deps\nRUN pip install --no-cache-dir -r r.txt\n"
                          "FROM python:3.11-slim\nCOPY --from=deps /opt /opt\nCOPY --from=0 /x /x\n")
    assert dockerfile.refusal(df) is None


def test_no_from_is_not_a_dockerfile():
    assert "no FROM" in dockerfile.refusal(Dockerfile.parse("# YOUR CODE HERE\n"))


def test_rebased_replaces_external_bases_keeps_stages_and_labels_every_stage():
    df = Dockerfile.parse("FROM --platform=linux/amd64 python:3.11-slim AS base\nRUN true\n"
                          "FROM base AS runtime\nEXPOSE 8080\n")
    label = 'LABEL grader.deployment="1" grader.owner="7" grader.build="b1"'
    labels = {dockerfile.LIVE_LABEL: "1", dockerfile.OWNER_LABEL: "7", dockerfile.BUILD_LABEL: "b1"}
    assert dockerfile.rebased(df, "grader-kernel:abc", labels).splitlines() == [
        "FROM grader-kernel:abc AS base", label, "RUN true", "FROM base AS runtime", label, "EXPOSE 8080"]
    assert df.port() == 8080


def test_json_form_copy_sources_count_as_code():
    df = edited('COPY requirements.txt .\n', 'COPY ["app.py", "requirements.txt", "./"]\n')
    assert rules.dependencies_before_code(df)


# --- reading files and probing the app in a fresh process -------------------------------

APP = textwrap.dedent('''\
    from pathlib import Path
    import joblib
    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    MODEL = joblib.load(Path(__file__).with_name("model.joblib"))
    app = FastAPI()

    class Request(BaseModel):
        features: list[float] = Field(min_length=2, max_length=2)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: Request):
        return {"prediction": int(MODEL.predict([request.features])[0])}
    ''')


@pytest.fixture
def app_folder(tmp_path, monkeypatch):
    """A folder holding an app and a model, as the notebook would write them."""
    import joblib
    from sklearn.tree import DecisionTreeClassifier

    joblib.dump(DecisionTreeClassifier().fit([[0, 0], [1, 1]], [0, 1]), tmp_path / "model.joblib")
    (tmp_path / "app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_read_files_skips_missing_symlinked_and_huge(app_folder):
    (app_folder / "link").symlink_to(app_folder / "app.py")
    with open(app_folder / "huge", "wb") as f:
        f.truncate(FILE_LIMIT + 1)
    files = read_files(LiveNotebook({}), ["app.py", "missing", "link", "huge"])
    assert files == {"app.py": APP.encode(), "missing": None, "link": None, "huge": None}


@pytest.mark.parametrize("folder", ["service", "./service", "build/context"])
def test_read_files_of_a_folder_keys_them_by_their_names_in_it(app_folder, folder):
    """A notebook that keeps the image's build context in a folder of its own: the files are read
    there (never the same names beside the notebook), keyed by the names the image sees."""
    context = app_folder / folder
    context.mkdir(parents=True)
    (context / "app.py").write_text("# the service's app\n")
    (context / "link").symlink_to(app_folder / "app.py")
    files = read_files(LiveNotebook({}), ["app.py", "model.joblib", "link"], folder)
    assert files == {"app.py": b"# the service's app\n", "model.joblib": None, "link": None}


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each sandbox backend the app can be probed in."""
    return get_backend(request.param)


def test_probe_app_reports_what_the_app_did(app_folder, backend):
    model = (app_folder / "model.joblib").read_bytes()
    report = probe.probe_app(LiveNotebook({}), [[0, 0], [1, 1]], {"short": {"features": [1.0]}}, backend,
                             contract=CONTRACT)
    assert report["error"] is None
    assert [r["json"] for r in report["predict"]] == [{"prediction": 0}, {"prediction": 1}]
    assert report["expected"] == [0, 1]
    assert report["bad"]["short"]["status"] == 422
    assert report["without_file"]["status"] == 200  # loaded at import, before the file was emptied
    assert report["health"]["json"] == {"status": "ok"}
    assert report["openapi"]["paths"]["/predict"]
    assert (app_folder / "model.joblib").read_bytes() == model  # the probe works on copies


SCRAPED = APP + textwrap.dedent('''\
    from fastapi.responses import PlainTextResponse

    SEEN = []

    @app.middleware("http")
    async def count(request, call_next):
        response = await call_next(request)
        SEEN.append((request.method, request.url.path, response.status_code))
        return response

    @app.get("/seen", response_class=PlainTextResponse)
    def seen():
        return "\\n".join(f"{m} {p} {s}" for m, p, s in SEEN) + "\\n" + "#" * LENGTH
    ''')


@pytest.mark.parametrize("length", [4000, answers.BODY_LIMIT + 1])
def test_probe_app_scrapes_after_every_other_request_and_keeps_the_text_whole(app_folder, length):
    """A scraped path is asked last, so its page reports every request the probe sent, and its text is
    kept whole up to BODY_LIMIT (a metrics page is parsed by the lab's tests); a longer one is cut."""
    (app_folder / "app.py").write_text(SCRAPED.replace("LENGTH", str(length)))
    report = probe.probe_app(LiveNotebook({}), [[0, 0], [1, 1]], {"short": {"features": [1.0]}},
                             get_backend("bwrap"), contract=CONTRACT, scrape=("/seen",))
    page = report["scrape"]["/seen"]
    assert report["error"] is None and page["status"] == 200 and page["json"] is None
    lines = page["text"].splitlines()[:-1]
    assert lines == ["POST /predict 200", "GET /health 200", "POST /predict 200", "POST /predict 200",
                     "POST /predict 422", "GET /openapi.json 200"]
    assert len(page["text"]) == min(len("\n".join(lines)) + 1 + length, answers.BODY_LIMIT)
    assert len(report["health"]["text"]) <= answers.TEXT_LIMIT


def test_probe_app_scrapes_nothing_unless_asked(app_folder):
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, get_backend("bwrap"), contract=CONTRACT)
    assert report["error"] is None and report["scrape"] == {}


LOADS = 'MODEL = joblib.load(Path(__file__).with_name("model.joblib"))\n'
PER_REQUEST = APP.replace(LOADS, "").replace("int(MODEL.predict", 'int(joblib.load(Path(__file__).with_name('
                                                                 '"model.joblib")).predict')
AT_FIRST_REQUEST = APP.replace(LOADS, "MODEL = []\n").replace(
    "    return {\"prediction\": int(MODEL.predict", '    MODEL[:] = MODEL or [joblib.load(Path(__file__).with_name('
    '"model.joblib"))]\n    return {"prediction": int(MODEL[0].predict')


@pytest.mark.parametrize("app", [PER_REQUEST, AT_FIRST_REQUEST], ids=["per request", "at the first request"])
def test_probe_app_a_model_not_loaded_at_start_up_fails_without_the_file(app_folder, backend, app):
    assert app != APP
    (app_folder / "app.py").write_text(app)
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    assert report["without_file"]["status"] == 500
    assert report["health"]["json"] == {"status": "ok"}  # a failed request costs nothing else
    assert report["predict"][0]["json"] == {"prediction": 1}  # the file is back for the other requests


def test_probe_app_cannot_be_answered_by_printing(app_folder, backend):
    """An app that prints a report of its own, then dies, gets an error, not its report."""
    fake = json.dumps({"error": None, "health": {"status": 200, "json": {"status": "ok"}, "text": ""}})
    (app_folder / "app.py").write_text(f"print({fake!r})\nraise SystemExit(0)\n")
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    assert report.get("health") is None and report["error"]


def test_probe_app_says_why_an_app_does_not_start(app_folder, backend):
    (app_folder / "app.py").write_text("import no_such_module\n")
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    assert "no_such_module" in report["error"]


def test_probe_app_reads_no_host_file_through_a_link(app_folder, backend, tmp_path):
    """The app points its log at a file of the host and dies: the grader does not follow the link."""
    secret = tmp_path / "secret.txt"
    secret.write_text("HOST-SECRET-1234")
    secret.chmod(0o600)
    (app_folder / "app.py").write_text(textwrap.dedent(f"""\
        import os, sys
        log = os.path.join(sys.argv[1], "app.log")
        os.remove(log)
        os.symlink({str(secret)!r}, log)
        print("the app wrote this", file=sys.stderr)
        raise SystemExit(1)
        """))
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    assert "stopped before it served" in report["error"] and "HOST-SECRET" not in report["error"]


def test_probe_app_never_connects_through_a_link(app_folder, backend, tmp_path, monkeypatch):
    """The app swaps its socket for a link to another socket of the host (one that would answer
    everything): the grader talks to the app's own socket, or to none, never to the other."""
    monkeypatch.setattr(probe, "PROBE_TIMEOUT", 12.0)
    with trap_server(tmp_path / "trap.sock") as visits:
        (app_folder / "app.py").write_text(textwrap.dedent(f"""\
            import contextlib, os, sys
            sock = os.path.join(sys.argv[1], "app.sock")
            with contextlib.suppress(FileNotFoundError):
                os.remove(sock)
            os.symlink({str(tmp_path / "trap.sock")!r}, sock)
            """) + APP)
        report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    assert visits == []
    assert report["error"] is not None or report["health"]["json"] == {"status": "ok"}


@contextlib.contextmanager
def trap_server(path: Path):
    """A Unix socket that answers every request 200 with a perfect-looking body; yields its visits."""
    import socketserver
    import threading

    visits: list[bytes] = []

    class Answer(socketserver.StreamRequestHandler):
        def handle(self):
            visits.append(self.rfile.readline())
            body = b'{"status": "ok", "prediction": 1}'
            self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(body), body))

    server = socketserver.ThreadingUnixStreamServer(str(path), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield visits
    finally:
        server.shutdown()
        server.server_close()


def test_probe_app_bounds_what_it_reads_and_how_long_it_waits(app_folder, backend, monkeypatch):
    """A huge answer is cut and not parsed; an answer that never comes costs one request timeout."""
    monkeypatch.setattr(answers, "REQUEST_TIMEOUT", 2.0)
    (app_folder / "app.py").write_text(APP + textwrap.dedent("""\
        import asyncio
        from fastapi.responses import PlainTextResponse

        @app.middleware("http")
        async def misbehave(request, call_next):
            if request.url.path == "/openapi.json":
                return PlainTextResponse("[" * (4 * 2**20))
            if b"hang" in await request.body():
                await asyncio.sleep(600)
            return await call_next(request)
        """))
    started = time.monotonic()
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {"hangs": {"hang": 1}}, backend, contract=CONTRACT)
    assert time.monotonic() - started < 60
    assert report["error"] is None and report["openapi"] is None and report["predict"][0]["json"] == {"prediction": 1}
    assert report["bad"]["hangs"] == {"status": None, "json": None, "text": "no answer: ReadTimeout"}


def test_probe_app_leaves_nothing_behind(app_folder, backend, tmp_path, monkeypatch):
    """Every sandbox is closed and every folder removed, whether the app started or not."""
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    (app_folder / "app.py").write_text("import no_such_module\n")
    probe.probe_app(LiveNotebook({}), [[1, 1]], {}, backend, contract=CONTRACT)
    assert list(scratch.iterdir()) == []
    assert leftover_processes(scratch) == [] and own_kernel_containers() == []


def own_kernel_containers() -> list[str]:
    """Sandbox containers this process opened and that still exist."""
    import docker

    try:
        client = docker.from_env()
        owned = {"label": [LABEL, f"{OWNER_LABEL}={owner.current()}"]}
        return [c.name for c in client.containers.list(all=True, filters=owned)]
    except docker.errors.DockerException:
        return []


# --- live: a real build with no network ---------------------------------------------------


def live_files(app_folder: Path, text: str) -> dict[str, bytes]:
    files = {name: (app_folder / name).read_bytes() for name in ("app.py", "model.joblib")}
    files["requirements.txt"] = b"fastapi\nuvicorn\nscikit-learn\njoblib\n"
    return {**files, "Dockerfile": text.encode()}


def untagged_images() -> set[str]:
    import docker

    return {i.id for i in docker.from_env().images.list(all=True, filters={"dangling": True})}


@pytest.fixture
def leftovers():
    """What a live build left behind: its containers and images, and untagged step images
    (of failed builds) that were not there before."""
    import docker

    before = untagged_images()

    def left() -> list[str]:
        client = docker.from_env()
        ours = {"label": [dockerfile.LIVE_LABEL, f"{OWNER_LABEL}={owner.current()}"]}
        return [c["Id"] for c in client.api.containers(all=True, filters=ours)] + \
            [i["Id"] for i in client.api.images(all=True, filters=ours)] + sorted(untagged_images() - before)
    return left


@pytest.mark.docker
def test_live_build_runs_probes_and_removes_everything(app_folder, leftovers):
    live = live_layer.run_live(live_files(app_folder, GOOD), [[0, 0], [1, 1]], {"short": {"features": [1.0]}},
                               contract=CONTRACT)
    assert live.startup is not None and live.startup < live_layer.READY_WITHIN
    assert [r["json"] for r in live.predict] == [{"prediction": 0}, {"prediction": 1}]
    assert live.bad["short"]["status"] == 422
    assert live.healthcheck[0] == 0 and live.user == "10001:10001"
    assert 0 < live.added_bytes < 10 * 2**20
    assert leftovers() == []


@pytest.mark.docker
def test_live_build_has_no_network(app_folder, leftovers):
    """A download hidden from the static rules still fails: the build has no network."""
    sneaky = GOOD.replace("USER 10001",
                          "RUN python -c \"import socket; socket.create_connection(('1.1.1.1', 53), 3)\"\n"
                          "USER 10001")
    assert dockerfile.refusal(Dockerfile.parse(sneaky)) is None
    with pytest.raises(RuntimeError, match="returned a non-zero code"):
        live_layer.run_live(live_files(app_folder, sneaky), [[0, 0]], {}, contract=CONTRACT)
    assert leftovers() == []


@pytest.mark.docker
def test_live_root_image_runs_as_nobody(app_folder):
    """An image without USER is still never run as root by the grader."""
    live = live_layer.run_live(live_files(app_folder, GOOD.replace("USER 10001:10001\n", "")), [[1, 1]], {},
                                contract=CONTRACT)
    assert (live.user, live.run_as) == ("", "65534:65534") and live.startup is not None
    assert live.healthcheck[0] == 0


def test_no_engine_is_not_run(app_folder, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{app_folder}/no-such.sock")
    with pytest.raises(live_layer.NotRun, match="no Docker engine"):
        live_layer.run_live(live_files(app_folder, GOOD), [[0, 0]], {}, contract=CONTRACT)


@pytest.mark.docker
def test_live_build_that_hangs_is_cancelled(app_folder, monkeypatch, leftovers):
    monkeypatch.setattr(live_layer, "BUILD_TIMEOUT", 5)
    with pytest.raises(RuntimeError, match="did not build within 5 s"):
        live_layer.run_live(live_files(app_folder, GOOD.replace("USER 10001", "RUN sleep 600\nUSER 10001")),
                            [[0, 0]], {}, contract=CONTRACT)
    assert leftovers() == []


# Labels an image or a container may carry, and whether each clean-up of orphans removes it:
# (cleanup.remove_orphans, grader.engine.sandbox.docker.remove_orphans). Only what carries a kind
# of the grader's and an owner that is a dead process (grader.owner) is an orphan: a free pid, or one
# a process that started at another time has taken since.
DEAD = ended_process()
REUSED = f"{os.getpid()}.{owner.started(os.getpid()) + 1}"
ORPHAN_CASES = {
    "no labels": ({}, False, False),
    "kind only, as a build's step": ({dockerfile.LIVE_LABEL: "1"}, False, False),
    "malformed owner": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: "abc"}, False, False),
    "empty owner": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: ""}, False, False),
    "owner beyond any pid": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: "9" * 30}, False, False),
    "owner beyond Linux's largest pid": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: str(2**22 + 1)}, False, False),
    "live owner": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: owner.current()}, False, False),
    "live owner, by its pid alone (an older grader's label)": ({dockerfile.LIVE_LABEL: "1",
                                                                OWNER_LABEL: str(os.getpid())}, False, False),
    "dead owner": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: DEAD}, True, False),
    "dead owner, by its pid alone": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: DEAD.split(".")[0]}, True, False),
    "owner's pid taken by a live process": ({dockerfile.LIVE_LABEL: "1", OWNER_LABEL: REUSED}, True, False),
    "kernel owner's pid taken by a live process": ({LABEL: "1", OWNER_LABEL: REUSED}, False, True),
    "dead owner, no kind": ({OWNER_LABEL: DEAD}, False, False),
    "kernel kind only": ({LABEL: "1"}, False, False),
    "dead kernel owner": ({LABEL: "1", OWNER_LABEL: DEAD}, False, True),
}


@pytest.mark.docker
def test_orphans_are_removed_but_not_a_build_in_progress():
    """Each clean-up of orphans removes what a dead grader labeled as its own, and nothing
    else: not what has no owner (a build's step, or someone else's), a malformed or a live one."""
    import docker

    from grader.engine.sandbox import docker as docker_backend

    client, base = live_layer.engine()
    made = {}
    try:
        for name, (labels, _, _) in ORPHAN_CASES.items():
            container = client.containers.create(base, ["true"], labels=labels)
            made[name] = (container.id, container.commit(conf={"Labels": labels}).id)
        cleanup.remove_orphans(client)
        docker_backend.remove_orphans(client)
        containers = {c["Id"] for c in client.api.containers(all=True)}
        images = {i["Id"] for i in client.api.images(all=True)}
        for name, (_labels, removes_live, removes_kernel) in ORPHAN_CASES.items():
            container, image = made[name]
            assert (container not in containers) == (removes_live or removes_kernel), name
            assert (image not in images) == removes_live, name
    finally:
        for container, image in made.values():
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(container, force=True)
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(image, force=True)


@pytest.fixture
def decoys():
    """An untagged image and a container made from it, neither of them the grader's:
    (client, image id, container id). Every build must leave them as they are."""
    import docker

    client, base = live_layer.engine()
    maker = client.containers.create(base, ["true"])
    image = maker.commit()
    maker.remove()
    container = client.containers.create(image.id, ["true"])
    yield client, image.id, container.id
    with contextlib.suppress(docker.errors.APIError):
        container.remove(force=True)
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(image.id, force=True)


def echoing(*ids: str) -> str:
    """A RUN step whose output names ``ids`` the way a build log names its steps and containers."""
    short = [i.removeprefix("sha256:")[:12] for i in ids]
    lines = [f" ---> {s}" for s in short] + [f" ---> Running in {s}" for s in short] + \
            [f"Removing intermediate container {s}" for s in short] + [f"Successfully built {short[0]}"]
    return "RUN " + " && ".join(f"echo '{line}'" for line in lines) + "\n"


FIRST_STEP = "FROM python:3.11.7-slim-bookworm\n"
# How a build that echoes the decoys' ids ends, and what run_live then raises (None: nothing).
ENDINGS = {
    "fails": ("RUN exit 1\n", RuntimeError),
    "is cut short": ("RUN sleep 600\n", RuntimeError),
    "succeeds": ("", None),
    "fails in a later stage": ("FROM python:3.11.7-slim-bookworm AS second\nRUN exit 1\n", RuntimeError),
}


@pytest.mark.docker
@pytest.mark.parametrize("ending", ENDINGS)
def test_a_build_removes_what_it_made_and_nothing_its_log_names(app_folder, decoys, leftovers, monkeypatch, ending):
    client, image_id, container_id = decoys
    _, base = live_layer.engine()
    monkeypatch.setattr(live_layer, "BUILD_TIMEOUT", 15)
    steps, raised = ENDINGS[ending]
    text = GOOD.replace(FIRST_STEP, FIRST_STEP + echoing(image_id, container_id, client.images.get(base).id) + steps)
    assert text != GOOD
    if raised is None:
        assert live_layer.run_live(live_files(app_folder, text), [[1, 1]], {}, contract=CONTRACT).startup is not None
    else:
        with pytest.raises(raised):
            live_layer.run_live(live_files(app_folder, text), [[1, 1]], {}, contract=CONTRACT)
    assert client.images.get(image_id).id == image_id and client.containers.get(container_id).id == container_id
    assert leftovers() == []


def fitted(model):
    from sklearn.datasets import load_breast_cancer

    return model.fit(*load_breast_cancer(return_X_y=True))


def pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=5, random_state=0)


def nearest():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(3)


@pytest.mark.parametrize("make", [pipeline, forest, nearest])
def test_the_saved_models_probability_is_that_of_the_class_it_predicts(make):
    """For each row: the probability the model gives the class it predicts, whichever that is."""
    from sklearn.datasets import load_breast_cancer

    from grader.kits.deployment.inside import predict

    model, rows = fitted(make()), load_breast_cancer().data[::23]
    answer = predict.predictions(model, rows.tolist())
    assert answer["predictions"] == model.predict(rows).tolist() and {0, 1} <= set(answer["predictions"])
    proba = model.predict_proba(rows)
    assert answer["probabilities"] == [proba[n][c] for n, c in enumerate(answer["predictions"])]
    assert answer["probabilities"] != proba[:, 1].tolist()  # not P(class 1) for every row


def test_a_model_without_probabilities_has_none():
    from sklearn.svm import LinearSVC

    from grader.kits.deployment.inside import predict

    answer = predict.predictions(fitted(LinearSVC()), [[1.0] * 30])
    assert type(answer["predictions"][0]) is int and answer["probabilities"] is None


@pytest.mark.parametrize("found, kept", [
    ([0.25, 1.0], True), ([0.0, 0.5], True), ([0.5], False), ([0.5, 1.5], False), ([0.5, -0.1], False),
    ([0.5, "0.5"], False), ([0.5, True], False), ([0.5, 1], False), ([0.5, float("nan")], False),
    ([0.5, None], False), (None, False), (0.5, False), ({"0": 0.5}, False),
])
def test_probabilities_the_sandbox_wrote_are_kept_only_if_well_formed(found, kept):
    assert probe._probabilities(found, 2) == (found if kept else None)


def test_probe_app_reports_the_saved_models_probabilities(app_folder):
    report = probe.probe_app(LiveNotebook({}), [[0, 0], [1, 1]], {}, get_backend("bwrap"), contract=CONTRACT)
    assert report["error"] is None and report["probabilities"] == [1.0, 1.0]
    assert probe.saved_predictions(LiveNotebook({}), [[0, 0], [1, 1]], get_backend("bwrap")) == [0, 1]


def test_the_probes_use_the_files_the_labs_tests_read(app_folder):
    """Given the files a lab's tests read (from wherever its notebook wrote them), the probes use
    those, and nothing of the notebook's own folder; a missing one is named as before."""
    files = read_files(LiveNotebook({}), ["app.py", "model.joblib"])
    for name in files:
        (app_folder / name).unlink()
    bwrap = get_backend("bwrap")
    report = probe.probe_app(LiveNotebook({}), [[0, 0], [1, 1]], {}, bwrap, contract=CONTRACT, files=files)
    assert report["error"] is None and report["expected"] == [0, 1]
    assert probe.saved_predictions(LiveNotebook({}), [[0, 0], [1, 1]], bwrap, files=files) == [0, 1]
    no_model = {**files, "model.joblib": None}
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, bwrap, contract=CONTRACT, files=no_model)
    assert "model.joblib missing: run the cells that write them" in report["error"]
    assert probe.saved_predictions(LiveNotebook({}), [[1, 1]], bwrap, files=no_model) is None


@pytest.mark.parametrize("value, text", [
    (float("nan"), b"NaN"), (float("inf"), b"Infinity"), (float("-inf"), b"-Infinity"), (1e308, b"1e+308"),
    ("NaN", b'"NaN"'), (1.5, b"1.5"),
])
def test_a_request_sends_numbers_as_python_writes_them_not_finite_ones_too(value, text):
    """JSON has no NaN: the probes send the text a client writing JSON with Python sends."""
    import httpx

    from grader.kits.deployment.inside.ask import request

    sent = []

    def answer(req: httpx.Request) -> httpx.Response:
        sent.append((req.headers["content-type"], req.content))
        return httpx.Response(422, stream=httpx.ByteStream(b'{"detail":"no"}'))

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://app") as client:
        got = request(client, "POST", "/predict", {"features": [value, 2.0]}, time.monotonic() + 5, timeout=5,
                      limit=100)
    assert got == {"status": 422, "body": '{"detail":"no"}', "cut": False}
    assert sent == [("application/json", b'{"features": [' + text + b', 2.0]}')]


def test_probe_app_names_a_file_the_notebook_did_not_write(app_folder):
    (app_folder / "model.joblib").unlink()
    report = probe.probe_app(LiveNotebook({}), [[1, 1]], {}, contract=CONTRACT)
    assert "model.joblib missing: run the cells that write them" in report["error"]


def test_lint_findings_are_copies_of_the_cached_run():
    """hadolint runs once per text (every Dockerfile test parses the same one); a test that
    changes its findings changes nobody else's."""
    first = Dockerfile.parse(GOOD + "RUN cd /tmp\n").findings
    first[0]["code"] = "changed"
    assert Dockerfile.parse(GOOD + "RUN cd /tmp\n").findings[0]["code"] == "DL3003"


# --- whose failure is whose: the student's is a failed test, the kit's the grader's error ------


def test_hadolint_that_cannot_run_is_the_kits_error(monkeypatch, tmp_path):
    monkeypatch.setattr(lint.sysconfig, "get_path", lambda name: str(tmp_path))  # no hadolint there
    with pytest.raises(KitError, match="hadolint could not be run"):
        Dockerfile.parse(GOOD + "# a text not linted before\n")


class Unopenable:
    """A backend whose sandboxes cannot be opened: the grader's machine, not the app."""

    name = identity = "unopenable"
    sandboxed = True

    def open(self, files, socket_dir, limits, services=()):
        raise OSError("no sandbox here today")


def test_probe_app_a_sandbox_that_does_not_open_is_the_kits_error(app_folder):
    with pytest.raises(KitError, match="no sandbox here today"):
        probe.probe_app(LiveNotebook({}), [[1, 1]], {}, Unopenable(), contract=CONTRACT)
    assert probe.saved_predictions(LiveNotebook({}), [[1, 1]], get_backend("bwrap")) == [1]
    with pytest.raises(KitError, match="no sandbox here today"):
        probe.saved_predictions(LiveNotebook({}), [[1, 1]], Unopenable())


HEAVY = {"numpy", "joblib", "sklearn", "uvicorn", "fastapi", "docker", "pytest", "nbformat", "jupyter_client", "zmq"}


@pytest.mark.parametrize("module", ["ask", "predict", "serve", "live_probe"])
def test_inside_modules_import_nothing_heavy(module):
    """What runs in a sandbox or the probe's container loads only the standard library (and
    httpx, to send requests) until it runs: no other module of the kit, none of the grader's."""
    code = f"import json, sys, grader.kits.deployment.inside.{module}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-s", "-P", "-c", code], capture_output=True,
                                           text=True, check=True, cwd="/").stdout))
    assert not {m.split(".")[0] for m in loaded} & HEAVY
    assert ("httpx" in loaded) == (module in ("ask", "live_probe"))
    kit = {m for m in loaded if m.startswith("grader.kits.deployment.")}
    assert kit <= {"grader.kits.deployment.inside", "grader.kits.deployment.inside.ask",
                   f"grader.kits.deployment.inside.{module}"}


@pytest.mark.docker
def test_live_a_container_that_does_not_start_is_the_students(app_folder, leftovers):
    """An image whose CMD does not exist builds, but its container does not run: a failed test."""
    text = GOOD.replace('CMD ["uvicorn"', 'CMD ["no-such-program"')
    assert text != GOOD
    with pytest.raises(live_layer.AppFailed, match="did not run") as raised:
        live_layer.run_live(live_files(app_folder, text), [[1, 1]], {}, contract=CONTRACT)
    assert isinstance(raised.value, RuntimeError) and not isinstance(raised.value, KitError)
    assert leftovers() == []


@pytest.mark.docker
def test_live_a_probe_that_fails_is_the_kits_error(app_folder, leftovers, monkeypatch):
    """The grader's own probe container failing is the grader's error, never the student's."""
    missing = types.ModuleType("grader.kits.deployment.inside.no_such_probe")
    missing.HEALTH_TIMEOUT = 2.0
    monkeypatch.setattr(live_layer, "live_probe", missing)
    with pytest.raises(KitError, match="the live probe failed"):
        live_layer.run_live(live_files(app_folder, GOOD), [[1, 1]], {}, contract=CONTRACT)
    assert leftovers() == []
