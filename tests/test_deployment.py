"""grader.deployment: the Dockerfile rules, the in-sandbox app probe, the live build.

The live tests need a Docker engine and the grader's image (``docker`` marker);
they build real images with no network and check that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from pathlib import Path

import pytest

from grader import deployment
from grader.deployment import Dockerfile
from grader.live import LiveNotebook

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

RULES = [deployment.pinned_base, deployment.dependencies_before_code, deployment.non_root, deployment.exposes_port,
         deployment.health_check, deployment.no_secrets, deployment.small_image, deployment.other_findings]


def edited(old: str, new: str) -> Dockerfile:
    assert old in GOOD
    return Dockerfile.parse(GOOD.replace(old, new))


def failing(df: Dockerfile) -> list[str]:
    return [rule.__name__ for rule in RULES if rule(df)]


def test_good_dockerfile_passes_every_rule():
    df = Dockerfile.parse(GOOD)
    assert deployment.refusal(df) is None
    assert failing(df) == []
    assert df.port() == 8000


@pytest.mark.parametrize("old, new, rules", [
    ("python:3.11.7-slim-bookworm", "python:latest", ["pinned_base", "small_image"]),
    ("python:3.11.7-slim-bookworm", "python:slim", ["pinned_base"]),
    ("python:3.11.7-slim-bookworm", "python", ["pinned_base", "small_image"]),
    ("python:3.11.7-slim-bookworm", "python@sha256:" + "a" * 64, ["small_image"]),
    ("COPY requirements.txt .\n", "COPY . .\n", ["dependencies_before_code"]),
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
    assert not deployment.no_secrets(edited("ENV PYTHONDONTWRITEBYTECODE=1", "ENV TOKENIZERS_PARALLELISM=false"))
    assert deployment.no_secrets(edited("ENV PYTHONDONTWRITEBYTECODE=1", "ENV DB_PASSWORD hunter2"))


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
    assert deployment.refusal(df)


def test_copy_from_an_earlier_stage_is_fine():
    df = Dockerfile.parse("FROM python:3.11-slim AS deps\nRUN pip install --no-cache-dir -r r.txt\n"
                          "FROM python:3.11-slim\nCOPY --from=deps /opt /opt\nCOPY --from=0 /x /x\n")
    assert deployment.refusal(df) is None


def test_no_from_is_not_a_dockerfile():
    assert "no FROM" in deployment.refusal(Dockerfile.parse("# YOUR CODE HERE\n"))


def test_rebased_replaces_external_bases_and_keeps_stages():
    df = Dockerfile.parse("FROM --platform=linux/amd64 python:3.11-slim AS base\nRUN true\n"
                          "FROM base AS runtime\nEXPOSE 8080\n")
    assert deployment.rebased(df, "grader-kernel:abc").splitlines() == [
        "FROM grader-kernel:abc AS base", "RUN true", "FROM base AS runtime", "EXPOSE 8080"]
    assert df.port() == 8080


def test_json_form_copy_sources_count_as_code():
    df = edited('COPY requirements.txt .\n', 'COPY ["app.py", "requirements.txt", "./"]\n')
    assert deployment.dependencies_before_code(df)


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
        f.truncate(deployment.FILE_LIMIT + 1)
    files = deployment.read_files(LiveNotebook({}), ["app.py", "missing", "link", "huge"])
    assert files == {"app.py": APP.encode(), "missing": None, "link": None, "huge": None}


def test_probe_app_reports_what_the_app_did(app_folder):
    report = deployment.probe_app(LiveNotebook({}), [[0, 0], [1, 1]], {"short": {"features": [1.0]}})
    assert report["error"] is None
    assert [r["json"] for r in report["predict"]] == [{"prediction": 0}, {"prediction": 1}]
    assert report["expected"] == [0, 1]
    assert report["bad"]["short"]["status"] == 422
    assert report["without_file"]["status"] == 200  # loaded at import, before the file went away
    assert report["health"]["json"] == {"status": "ok"}
    assert (app_folder / "model.joblib").exists()  # the probe works on copies


def test_probe_app_per_request_loading_fails_without_the_file(app_folder):
    (app_folder / "app.py").write_text(APP.replace('MODEL = joblib.load(Path(__file__).with_name("model.joblib"))\n', "")
                                       .replace("int(MODEL.predict", 'int(joblib.load(Path(__file__).with_name('
                                                '"model.joblib")).predict'))
    report = deployment.probe_app(LiveNotebook({}), [[1, 1]], {})
    assert report["without_file"]["status"] == 500
    assert report["predict"][0]["json"] == {"prediction": 1}


def test_probe_app_cannot_be_answered_by_printing(app_folder):
    """An app that prints a report of its own, then dies, gets an error, not its report."""
    fake = json.dumps({"error": None, "health": {"status": 200, "json": {"status": "ok"}, "text": ""}})
    (app_folder / "app.py").write_text(f"print({fake!r})\nraise SystemExit(0)\n")
    report = deployment.probe_app(LiveNotebook({}), [[1, 1]], {})
    assert report.get("health") is None and report["error"]


def test_probe_app_says_why_an_app_does_not_start(app_folder):
    (app_folder / "app.py").write_text("import no_such_module\n")
    report = deployment.probe_app(LiveNotebook({}), [[1, 1]], {})
    assert "no_such_module" in report["error"]


# --- live: a real build with no network ---------------------------------------------------


def live_files(app_folder: Path, dockerfile: str) -> dict[str, bytes]:
    files = {name: (app_folder / name).read_bytes() for name in ("app.py", "model.joblib")}
    files["requirements.txt"] = b"fastapi\nuvicorn\nscikit-learn\njoblib\n"
    return {**files, "Dockerfile": dockerfile.encode()}


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
        label = {"label": deployment.LIVE_LABEL}
        return [c.name for c in client.containers.list(all=True, filters=label)] + \
            [i.id for i in client.images.list(filters=label)] + sorted(untagged_images() - before)
    return left


@pytest.mark.docker
def test_live_build_runs_probes_and_removes_everything(app_folder, leftovers):
    live = deployment.run_live(live_files(app_folder, GOOD), [[0, 0], [1, 1]], {"short": {"features": [1.0]}})
    assert live.startup is not None and live.startup < deployment.READY_WITHIN
    assert [r["json"] for r in live.predict] == [{"prediction": 0}, {"prediction": 1}]
    assert live.bad["short"]["status"] == 422
    assert live.healthcheck[0] == 0 and live.user == "10001:10001"
    assert 0 < live.added_bytes < 10 * 2**20
    assert leftovers() == []


@pytest.mark.docker
def test_live_build_has_no_network(app_folder, leftovers):
    """A download hidden from the static rules still fails: the build has no network."""
    sneaky = GOOD.replace("USER 10001", "RUN python -c \"import socket; socket.create_connection(('1.1.1.1', 53), 3)\"\n"
                          "USER 10001")
    assert deployment.refusal(Dockerfile.parse(sneaky)) is None
    with pytest.raises(RuntimeError, match="returned a non-zero code"):
        deployment.run_live(live_files(app_folder, sneaky), [[0, 0]], {})
    assert leftovers() == []


@pytest.mark.docker
def test_live_root_image_runs_as_nobody(app_folder):
    """An image without USER is still never run as root by the grader."""
    live = deployment.run_live(live_files(app_folder, GOOD.replace("USER 10001:10001\n", "")), [[1, 1]], {})
    assert (live.user, live.run_as) == ("", "65534:65534") and live.startup is not None
    assert live.healthcheck[0] == 0


def test_no_engine_is_not_run(app_folder, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{app_folder}/no-such.sock")
    with pytest.raises(deployment.NotRun, match="no Docker engine"):
        deployment.run_live(live_files(app_folder, GOOD), [[0, 0]], {})


@pytest.mark.docker
def test_live_build_that_hangs_is_cancelled(app_folder, monkeypatch, leftovers):
    monkeypatch.setattr(deployment, "BUILD_TIMEOUT", 5)
    with pytest.raises(RuntimeError, match="did not build within 5 s"):
        deployment.run_live(live_files(app_folder, GOOD.replace("USER 10001", "RUN sleep 600\nUSER 10001")),
                            [[0, 0]], {})
    assert leftovers() == []


@pytest.mark.docker
def test_orphans_are_removed_but_not_a_build_in_progress():
    """A killed grader's container goes; one with the first label only (like the step image
    between a build's two LABEL steps) belongs to a build still running, and stays."""
    import docker

    client, base = deployment.engine()
    no_such_pid = str(2**22 + 1)  # above Linux's largest pid
    labels = {deployment.LIVE_LABEL: "1"}
    step = client.containers.create(base, ["true"], labels=labels)
    orphan = client.containers.create(base, ["true"], labels={**labels, deployment.OWNER_LABEL: no_such_pid})
    try:
        deployment.remove_orphans(client)
        left = {c.id for c in client.containers.list(all=True, filters={"label": deployment.LIVE_LABEL})}
        assert step.id in left and orphan.id not in left
    finally:
        for container in (step, orphan):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_probe_app_names_a_file_the_notebook_did_not_write(app_folder):
    (app_folder / "model.joblib").unlink()
    report = deployment.probe_app(LiveNotebook({}), [[1, 1]], {})
    assert "model.joblib missing: run the cells that write them" in report["error"]


def test_lint_findings_are_copies_of_the_cached_run():
    """hadolint runs once per text (every Dockerfile test parses the same one); a test that
    changes its findings changes nobody else's."""
    first = Dockerfile.parse(GOOD + "RUN cd /tmp\n").findings
    first[0]["code"] = "changed"
    assert Dockerfile.parse(GOOD + "RUN cd /tmp\n").findings[0]["code"] == "DL3003"
