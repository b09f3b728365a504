"""``grade review``'s app over a real loopback socket: the token, the Host and Origin checks,
the bounds of a request, escaping on every page, and saving an override; and overrides kept
over a regrade of the same submission, not applied (and said) after it changed."""

from __future__ import annotations

import contextlib
import csv
import html
import json
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from conftest import EXAMPLE, LAB, copy_course, run_grade

from grader.cli.review import free_port
from grader.results import history
from grader.results.late import Late
from grader.results.model import Result, TestResult
from grader.results.store import result_path, write_result
from grader.review import store
from grader.review.app import COOKIE, Settings, make_app
from grader.review.serve import Background

HOSTILE = "<script>alert('x')</script>\"'&<img src=x onerror=alert(1)>"
CODE = f"def answer():\n    return {HOSTILE!r}  # </pre><script>alert(2)</script>"


def hostile_grades(out: Path) -> None:
    """Grades whose student name, test name, test output and executed cell are all hostile."""
    tests = [TestResult(f"q1: {HOSTILE}", 0, 2, "failed", output=HOSTILE, exercise="q1"),
             TestResult("q1: plain", 1, 1, "passed", exercise="q1", hidden=True)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE, metadata={"tags": ["q1"]}, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=HOSTILE)])])
    for student in (HOSTILE, "bob"):
        result = Result(student, LAB, "graded", tests, fingerprint_parts={"submission": "s1"},
                        executed=nbformat.writes(nb))
        write_result(out, result)
        history.append(out, result, "run1")


@pytest.fixture
def served(tmp_path):
    """A review server over hostile grades on a free loopback port: (base URL, settings)."""
    grades = tmp_path / "grades"
    hostile_grades(grades)
    port = free_port(0)
    settings = Settings(grades, None, "the-token", "ta <b>", port)
    with Background(make_app(settings), port):
        yield f"http://127.0.0.1:{port}", settings


@contextlib.contextmanager
def client(base: str) -> Iterator[httpx.Client]:
    """A client that has been given the cookie, as a browser that opened the printed URL."""
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.get("/?token=the-token").status_code == 303
        yield c


def test_without_the_token_401_and_with_a_wrong_one_403(served):
    base, _ = served
    assert httpx.get(f"{base}/").status_code == 401
    assert httpx.get(f"{base}/queue?lab={LAB}&item=q1").status_code == 401
    assert httpx.get(f"{base}/?token=wrong").status_code == 403
    assert httpx.get(f"{base}/", cookies={COOKIE: "wrong"}).status_code == 403
    assert httpx.post(f"{base}/override", headers={"Origin": base}).status_code == 401


def test_the_token_moves_into_a_strict_httponly_cookie_and_out_of_the_url(served):
    base, _ = served
    first = httpx.get(f"{base}/queue?token=the-token&lab={LAB}&item=q1")
    assert first.status_code == 303 and "token" not in first.headers["location"]
    assert first.headers["location"].startswith("/queue?lab=")
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert httpx.get(f"{base}/", cookies=first.cookies).status_code == 200


def test_a_cookie_for_another_path_is_not_sent_and_does_not_open_a_page(served):
    base, _ = served
    jar = httpx.Cookies()
    jar.set(COOKIE, "the-token", domain="127.0.0.1", path="/elsewhere")
    with httpx.Client(base_url=base, cookies=jar) as c:
        assert c.get("/").status_code == 401


def test_another_host_name_is_refused_even_with_the_token(served):
    base, _ = served
    for host in ("evil.example", f"evil.example:{base.rsplit(':', 1)[1]}", "127.0.0.1:1"):
        assert httpx.get(f"{base}/?token=the-token", headers={"Host": host}).status_code == 403


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"},
                                     {"Origin": "null"}])
def test_a_post_from_another_page_is_refused_and_saves_nothing(served, headers):
    base, settings = served
    with client(base) as c:
        answer = c.post("/override", data={"student": "bob", "lab": LAB, "test": "q1: plain", "points": "0",
                                           "item": "q1"}, headers=headers)
    assert answer.status_code == 403
    assert store.trail(settings.grades) == []


def test_listens_on_loopback_only(served):
    base, _ = served
    port = int(base.rsplit(":", 1)[1])
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    ours = [fields[1] for fields in listening if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port]
    assert ours == [f"0100007F:{port:04X}"]


def test_a_body_or_a_form_over_its_bound_is_refused(served):
    base, settings = served
    with client(base) as c:
        big = c.post("/override", content=b"a=" + b"x" * (70 * 2**10), headers={"Origin": base})
        many = c.post("/override", content="&".join(f"f{i}=1" for i in range(50)), headers={"Origin": base})
    assert big.status_code == 413 and many.status_code == 400
    assert store.trail(settings.grades) == []


def test_every_page_escapes_what_the_grades_hold(served):
    base, settings = served
    with client(base) as c:
        assert c.post("/override", headers={"Origin": base}, data={
            "student": HOSTILE, "lab": LAB, "test": f"q1: {HOSTILE}", "points": "1", "item": "q1", "i": "0",
            "comment": HOSTILE, "bank": "1"}).status_code == 303
        pages = [c.get("/"), c.get("/queue", params={"lab": LAB, "item": "q1", "i": 0}),
                 c.get("/queue", params={"lab": LAB, "item": "q1", "i": 1}),
                 c.get("/queue", params={"lab": HOSTILE, "item": HOSTILE}),
                 c.get("/feedback", params={"student": HOSTILE, "lab": LAB})]
    assert [p.status_code for p in pages] == [200, 200, 200, 404, 200]
    for page in pages:
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, page.url
        assert "content-security-policy" in page.headers
    queue = pages[1].text + pages[2].text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in queue and "</pre><script>" not in queue
    policy = pages[1].headers["content-security-policy"]
    assert queue.count("<script nonce=") == 2 and re.search(r"script-src 'nonce-[\w-]+';", policy)
    assert "script-src" not in pages[4].headers["content-security-policy"]


def test_the_overview_puts_a_test_every_student_fails_first_and_counts_statuses(served):
    base, settings = served
    result = Result("tim", LAB, "timeout", [], fingerprint_parts={"submission": "s9"})
    write_result(settings.grades, result)
    history.append(settings.grades, result, "run2")
    with client(base) as c:
        page = c.get("/").text
    rows = re.findall(r'<tr class="test-rate( suspicious)?"><td>(.*?)</td>', page)
    assert rows == [(" suspicious", f"q1: {html.escape(HOSTILE)}"), ("", "q1: plain")]
    assert "likely a test bug" in page and "graded: 2" in page and "timeout: 1" in page
    assert page.count("<svg class=\"chart\"") == 1 and "3 results" in page


def test_saving_an_override_updates_the_json_the_page_and_the_gradebook(served):
    base, settings = served
    with client(base) as c:
        saved = c.post("/override", headers={"Origin": base}, data={
            "student": "bob", "lab": LAB, "test": "q1: plain", "points": "0.5", "item": "q1", "i": "1",
            "comment": "half: the loop is right, the edge case is not", "bank": "1"})
        assert saved.status_code == 303 and saved.headers["location"] == f"/queue?lab={LAB}&item=q1&i=1"
        page = c.get(saved.headers["location"]).text
    assert "half: the loop is right" in page and 'class="bank"' in page and "1 / 2 reviewed" in page
    [row] = store.trail(settings.grades)
    assert (row.student, row.test, row.points, row.who, row.submission) == ("bob", "q1: plain", 0.5, "ta <b>", "s1")
    data = json.loads(result_path(settings.grades, "bob", LAB).read_text())
    assert data["score"] == 0.5 and data["automatic_score"] == 1
    with open(settings.grades / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert (rows["bob"]["score"], rows["bob"]["automatic_score"], rows["bob"]["overridden"]) == ("0.5", "1", "1")
    feedback = result_path(settings.grades, "bob", LAB).with_suffix(".html").read_text()
    assert "the edge case is not" in feedback and "ta &lt;b&gt;" in feedback


def test_an_item_graded_by_hand_is_graded_in_the_queue_and_counts_in_the_gradebook(served):
    base, settings = served
    essay = TestResult("q2: explain the trade-off", 0, 0, "not run", exercise="q2", manual=4)
    result = Result("cat", LAB, "graded", [TestResult("q2: runs", 1, 1, "passed", exercise="q2"), essay],
                    fingerprint_parts={"submission": "s3"})
    write_result(settings.grades, result)
    history.append(settings.grades, result, "run2")
    with client(base) as c:
        page = c.get("/queue", params={"lab": LAB, "item": "q2"}).text
        assert "graded by hand: q2: explain the trade-off" in page and "to grade by hand" in page
        assert c.post("/override", headers={"Origin": base}, data={
            "student": "cat", "lab": LAB, "test": essay.name, "points": "3", "item": "q2"}).status_code == 303
        assert "1 / 1 reviewed" in c.get("/queue", params={"lab": LAB, "item": "q2"}).text
    with open(settings.grades / "gradebook.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["student"] == "cat")
    assert (row["score"], row["max_score"], row["automatic_score"], row["manual_score"]) == ("4", "5", "1", "3")


def test_a_late_penalty_is_taken_off_the_overridden_score_and_shown_beside_it(served):
    """An override changes the score before the penalty; the penalty, a share of the lab's points,
    stays what it was, and the queue, the JSON, the gradebook and the page all say both."""
    base, settings = served
    late = Late("2026-03-03T10:00:00-05:00", "commit", "commit 1a2b3c4d in the instructor's repository",
                "2026-03-01T23:59:00-05:00", "", 0, 10, 50)
    tests = [TestResult("q1: works", 1, 2, "failed", exercise="q1"),
             TestResult("q1: fast", 2, 2, "passed", exercise="q1")]
    result = Result("dan", LAB, "graded", tests, fingerprint_parts={"submission": "s4"}, late=late)
    write_result(settings.grades, result)
    history.append(settings.grades, result, "run2")
    with client(base) as c:
        assert '<span class="late-count">late: 1</span>' in c.get("/").text
        assert "2 days late, 20% of the lab&#x27;s points off (0.8 points" in c.get(
            "/queue", params={"lab": LAB, "item": "q1", "i": "2"}).text  # after the hostile name and bob
        assert c.post("/override", headers={"Origin": base}, data={
            "student": "dan", "lab": LAB, "test": "q1: works", "points": "2", "item": "q1"}).status_code == 303
    data = json.loads(result_path(settings.grades, "dan", LAB).read_text())
    assert (data["score"], data["late"]["score_before_penalty"], data["late"]["penalty"]) == (3.2, 4, 0.8)
    with open(settings.grades / "gradebook.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["student"] == "dan")
    assert (row["score"], row["score_before_penalty"], row["automatic_score"], row["penalty"]) == (
        "3.2", "4", "3", "0.8")
    feedback = result_path(settings.grades, "dan", LAB).with_suffix(".html").read_text()
    assert "Score: 3.2 / 4" in feedback and "Score before the penalty: 4" in feedback


def test_points_out_of_bounds_are_refused_with_400(served):
    base, settings = served
    with client(base) as c:
        for points in ("3", "-1", "nan", "inf", "x"):
            answer = c.post("/override", headers={"Origin": base}, data={
                "student": "bob", "lab": LAB, "test": "q1: plain", "points": points, "item": "q1"})
            assert answer.status_code == 400, points
    assert store.trail(settings.grades) == []


def test_grade_review_prints_a_loopback_url_with_a_token_and_serves_it(tmp_path):
    grades = tmp_path / "grades"
    hostile_grades(grades)
    proc = subprocess.Popen([sys.executable, "-m", "grader", "review", "--grades", str(grades)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{40,}", line)
        assert url, line
        base = url.group(0).split("/?")[0]
        assert httpx.get(base + "/").status_code == 401
        opened = httpx.get(url.group(0), follow_redirects=True)
        assert opened.status_code == 200 and LAB in opened.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0  # Ctrl-C stops it cleanly
    finally:
        proc.kill()
        proc.wait(10)


# --- a regrade with the grader --------------------------------------------------------------

def test_a_regrade_keeps_overrides_of_the_same_submission_and_says_when_it_changed(tmp_path):
    course = copy_course(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(EXAMPLE / "submissions" / "bob.ipynb", subs / "bob.ipynb")
    assert run_grade(str(subs), "--out", "grades", cwd=course).returncode == 0
    grades = course / "grades"
    result = Result.from_json(json.loads(result_path(grades, "bob", LAB).read_text()))
    failed = next(t for t in result.tests if t.status == "failed")
    store.record(grades, result, failed.name, failed.max_score, "right on paper", "prof")

    forced = run_grade(str(subs), "--out", "grades", "--force", "--junit", "junit.xml", cwd=course)
    assert forced.returncode == 0 and "not applied" not in forced.stderr
    data = json.loads(result_path(grades, "bob", LAB).read_text())
    final = result.score + failed.max_score
    assert data["score"] == final and data["automatic_score"] == result.score
    # grade's own table and its CI outputs show the grade the gradebook has, and say why
    assert f"{final:g} / {result.max_score:g}" in forced.stdout
    assert f"1 overridden ({result.score:g} automatic)" in forced.stdout
    junit = ET.parse(course / "junit.xml").getroot()
    assert junit.find(".//property[@name='score']").get("value") == f"{final:g}"
    assert "right on paper" in result_path(grades, "bob", LAB).with_suffix(".html").read_text()

    nb = nbformat.read(subs / "bob.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("one more thought"))
    nbformat.write(nb, subs / "bob.ipynb")
    changed = run_grade(str(subs), "--out", "grades", cwd=course)
    assert changed.returncode == 0 and "is not applied: the submission changed" in changed.stderr
    data = json.loads(result_path(grades, "bob", LAB).read_text())
    assert data["score"] == result.score and data["overrides_not_applied"][0]["comment"] == "right on paper"
    with open(grades / "gradebook.csv", newline="") as f:
        [row] = csv.DictReader(f)
    assert row["overridden"] == "0" and "submission changed" in row["message"]
    assert "not applied" in result_path(grades, "bob", LAB).with_suffix(".html").read_text()
    port = free_port(0)
    with Background(make_app(Settings(grades, None, "the-token", "ta", port)), port), \
            client(f"http://127.0.0.1:{port}") as c:
        page = c.get("/queue", params={"lab": LAB, "item": failed.exercise}).text
    assert "Not applied, the submission changed since: " in page and "right on paper" in page
    assert len(store.trail(grades)) == 1
