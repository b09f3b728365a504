"""The 07-resume-extractor lab graded end to end against the grader's LLM server (scripted replies,
recorded requests): the solution, the untouched student notebook, other correct solutions, and
typical mistakes, in one ``grade`` batch; a sample again under the Docker backend.

The graded notebooks are kept as files under ``tests/labs/07-resume-extractor/``. Each is the
solution with some answer cells replaced, a cell found by its tag (``q1`` ... ``q7``, one answer
cell each); a mistake is the solution's cell with one change (``edit``). A test below checks that
the files still match that recipe; ``python tests/test_lab_07_resume_extractor.py`` rewrites them
after the solution changes. Tests of the lab's data in process (the shipped resumes are their
generator's output and hold what the text promises) come first.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import re
import sys

import nbformat
import pypdf
import pytest
from conftest import REPO, KeptNotebooks, edit
from lab_suite import LabSuite, assert_docker_grades_the_same

LAB = "07-resume-extractor"
SOLUTION = REPO / "solutions" / LAB
SUSPICIOUS = ("ignore previous", "ignore all previous", "rate this candidate", "add the skill", "you are now",
              "as an ai", "system prompt")


def _resumes():
    """The lab's generator, loaded from the solution's tests folder."""
    spec = importlib.util.spec_from_file_location("_lab07_resumes_test", SOLUTION / "tests" / "resumes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RESUMES = _resumes()


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def squeeze(text: str) -> str:
    return " ".join(text.lower().split())


# --- the lab's data, in process ------------------------------------------------------------------


def test_shipped_resumes_are_the_generators_output():
    """files/ holds make_resumes.py's output for its seed, and grade assign copied it beside the notebook."""
    resumes = RESUMES.make_resumes(2026)
    labels = [{"file": r["file"], **r["label"]} for r in resumes]
    for folder in (SOLUTION / "files", REPO / "labs" / LAB):
        assert json.loads((folder / "labels.json").read_text()) == labels
        assert sorted(p.name for p in (folder / "resumes").iterdir()) == [r["file"] for r in resumes]
        assert all((folder / "resumes" / r["file"]).read_bytes() == r["pdf"] for r in resumes)


@pytest.mark.parametrize("seed", range(12))
def test_every_resume_holds_what_the_text_promises(seed):
    """Over many seeds: scans have no text layer; every other layout's text holds each labelled field
    (compared as the guard of q6 compares), on lines that address no model; the injected skill is on
    such a line only; jobs end after they start, in YYYY-MM."""
    for resume in RESUMES.make_resumes(seed):
        text, label = text_of(resume["pdf"]), resume["label"]
        if resume["layout"] == "scanned":
            assert text.strip() == ""
            continue
        lines = text.splitlines()
        clean = squeeze(" ".join(line for line in lines if not any(p in line.lower() for p in SUSPICIOUS)))
        values = [label["name"], label["email"], label["phone"], *label["skills"],
                  *(v for job in label["experience"] for v in (job["title"], job["company"]))]
        assert all(squeeze(v) in clean for v in values), (seed, resume["file"])
        addressed = [line for line in lines if any(p in line.lower() for p in SUSPICIOUS)]
        assert len(addressed) == (resume["file"] == "resume-05.pdf")
        for line in addressed:
            assert squeeze(line.split("the skill ")[1].rstrip(".")) not in clean
        assert all(re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", job["start"]) and (job["end"] is None or
                   job["start"] <= job["end"]) for job in label["experience"])


def test_the_tests_list_the_notebooks_suspicious_phrases():
    """The phrases the hidden tests inject and this file checks are the ones the notebook gives students."""
    cells = nbformat.read(SOLUTION / "solution.ipynb", 4).cells
    [cell] = [c.source for c in cells if c.source.startswith("SUSPICIOUS =")]
    hidden = (SOLUTION / "tests" / "test_hidden.py").read_text()
    given = ast.literal_eval(cell.split("=", 1)[1].strip())
    assert given == SUSPICIOUS
    assert ast.literal_eval(hidden.split("\nSUSPICIOUS = ", 1)[1].split("  #")[0]) == given


# --- correct answers in other styles --------------------------------------------------------------

LOOPS = {
    "q1": '''
def read_pdf(path):
    """Page by page; a scan is a PDF whose every page gives only whitespace."""
    with open(path, "rb") as handle:
        texts = []
        for page in PdfReader(handle).pages:
            texts.append(page.extract_text())
    return {"text": "\\n".join(texts), "needs_ocr": all(not t.strip() for t in texts)}
''',
    "q3": '''
def ask_model(text):
    """A counter and a while loop; json.loads then Resume(**data)."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": "<resume>" + text + "</resume>"}]
    fmt = {"type": "json_schema", "json_schema": {"name": "resume", "strict": False,
                                                  "schema": Resume.model_json_schema()}}
    attempts = 0
    while attempts < 2:
        attempts += 1
        answer = client.chat.completions.create(model=MODEL, messages=messages, temperature=0,
                                                response_format=fmt).choices[0].message.content
        try:
            return Resume(**json.loads(answer)).model_dump()
        except (json.JSONDecodeError, TypeError) as error:
            problem = f"invalid JSON: {error}"
        except ValidationError as error:
            problem = str(error)
        messages.append({"role": "assistant", "content": answer})
        messages.append({"role": "user", "content": "Please fix this and answer again. " + problem})
    return None
''',
    "q4": '''
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\\.)+[A-Za-z0-9-]+")
PHONES = [re.compile(p) for p in (r"\\+1 \\d{3} \\d{3} \\d{4}", r"\\(\\d{3}\\) \\d{3}-\\d{4}",
                                  r"(?<![\\d.])\\d{3}\\.\\d{3}\\.\\d{4}(?![\\d.])",
                                  r"(?<![\\d-])\\d{3}-\\d{3}-\\d{4}(?!\\d)")]


def unique(values):
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def rule_fields(text):
    """One pattern per phone spelling, merged by position."""
    found = sorted((m.start(), m.group()) for p in PHONES for m in p.finditer(text))
    months = []
    for m in re.finditer(r"(?<!\\d)(\\d\\d)/(\\d{4})(?!\\d)", text):
        if 1 <= int(m.group(1)) <= 12:
            months.append(m.group(2) + "-" + m.group(1))
    return {"emails": unique(EMAIL.findall(text)), "phones": unique(v for _, v in found), "months": unique(months)}


def fallback(text):
    found = rule_fields(text)
    return dict(name=None, email=found["emails"][0] if found["emails"] else None,
                phone=found["phones"][0] if found["phones"] else None, skills=[], experience=[])
''',
    "q6": '''
def guard(fields, text):
    """A regex built from SUSPICIOUS, and a helper per kind of field."""
    addressed = re.compile("|".join(re.escape(p) for p in SUSPICIOUS), re.IGNORECASE)
    kept_lines = [line for line in text.split("\\n") if not addressed.search(line)]
    haystack = re.sub(r"\\s+", " ", "\\n".join(kept_lines)).lower()

    def found(value):
        return value is not None and re.sub(r"\\s+", " ", value).strip().lower() in haystack

    out = {key: (fields[key] if found(fields[key]) else None) for key in ("name", "email", "phone")}
    out["skills"], seen = [], set()
    for skill in fields["skills"]:
        if found(skill) and skill.lower() not in seen:
            seen.add(skill.lower())
            out["skills"].append(skill)
    out["experience"] = [job for job in fields["experience"] if found(job["title"]) and found(job["company"])]
    return out
''',
}

COUNTERS = {
    "q2": '''
from datetime import datetime
from typing import Optional

from pydantic import field_validator


def month(value):
    if value is not None:
        datetime.strptime(value, "%Y-%m")  # a ValueError for 2021-13 or 03/2021
        if not re.fullmatch(r"\\d{4}-\\d\\d", value):
            raise ValueError("a month is YYYY-MM")
    return value


class Job(BaseModel, extra="forbid"):
    title: str
    company: str
    start: str
    end: Optional[str]

    @field_validator("start", "end")
    @classmethod
    def is_month(cls, value):
        return month(value)

    @model_validator(mode="after")
    def check_order(self):
        assert self.end is None or self.start <= self.end, "end before start"
        return self


class Resume(BaseModel, extra="forbid"):
    name: str
    email: Optional[str]
    phone: Optional[str]
    skills: list[str]
    experience: list[Job]
''',
    "q5": '''
def redact(text):
    """re.sub with a lookup, placeholders in rule_fields' order."""
    found = rule_fields(text)
    secrets = {f"[EMAIL_{i + 1}]": e for i, e in enumerate(found["emails"])}
    secrets.update({f"[PHONE_{i + 1}]": p for i, p in enumerate(found["phones"])})
    if not secrets:
        return text, {}
    back = {value: key for key, value in secrets.items()}
    pattern = "|".join(re.escape(v) for v in sorted(back, key=len, reverse=True))
    return re.sub(pattern, lambda m: back[m.group(0)], text), secrets


def restore(value, secrets):
    if isinstance(value, str):
        return re.sub(r"\\[(?:EMAIL|PHONE)_\\d+\\]", lambda m: secrets.get(m.group(0), m.group(0)), value)
    if isinstance(value, list):
        return list(map(lambda v: restore(v, secrets), value))
    if isinstance(value, dict):
        return {k: restore(v, secrets) for k, v in value.items()}
    return value


def extract_resume(text):
    safe_text, secrets = redact(text)
    answer = ask_model(safe_text)
    if answer is None:
        return fallback(text)
    return restore(answer, secrets)
''',
    "q7": '''
from collections import Counter


def field_items(fields, field):
    value = fields[field]
    if field == "skills":
        return {s.lower() for s in value}
    if field == "experience":
        return {(j["title"].lower(), j["company"].lower(), j["start"], j["end"]) for j in value}
    return {value} - {None}


def field_scores(predictions, labels):
    """Counts in a Counter per field."""
    out = {}
    for field in FIELDS:
        n = Counter()
        for guess, truth in zip(predictions, labels):
            got, want = field_items(guess, field), field_items(truth, field)
            n["tp"] += len(got & want)
            n["pred"] += len(got)
            n["gold"] += len(want)
        out[field] = {"precision": n["tp"] / n["pred"] if n["pred"] else 0.0,
                      "recall": n["tp"] / n["gold"] if n["gold"] else 0.0}
    return out
''',
}

TYPED = {
    "q1": '''
def read_pdf(path):
    reader = PdfReader(str(path))
    text = "\\n".join([page.extract_text() or "" for page in reader.pages])
    return dict(text=text, needs_ocr=text.isspace() or text == "")
''',
    "q2": '''
from typing import Annotated, Optional

from pydantic import StringConstraints

Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[012])$")]


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    title: str
    company: str
    start: Month
    end: Optional[Month]

    @model_validator(mode="after")
    def not_backwards(self):
        if self.end and self.end < self.start:
            raise ValueError("end < start")
        return self


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    email: Optional[str]
    phone: Optional[str]
    skills: list[str]
    experience: list[Job]
''',
    "q3": '''
def ask_model(text):
    """The request and the check as helpers; the retry as a second call."""
    base = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"<resume>{text}</resume>"}]

    def request(messages):
        return client.chat.completions.create(
            model=MODEL, messages=messages, temperature=0,
            response_format={"type": "json_schema", "json_schema": {"name": "resume",
                                                                    "schema": Resume.model_json_schema()}},
        ).choices[0].message.content

    def check_json(content):
        try:
            return Resume.model_validate_json(content).model_dump(), None
        except ValidationError as error:
            return None, error

    first = request(base)
    fields, error = check_json(first)
    if error is None:
        return fields
    second = request(base + [{"role": "assistant", "content": first},
                             {"role": "user", "content": f"That JSON failed validation: {error}. Try again."}])
    return check_json(second)[0]
''',
    "q7": '''
def field_scores(predictions, labels):
    """Per-resume item sets first, then sums."""
    def items(fields):
        return {
            "name": {fields["name"]} - {None}, "email": {fields["email"]} - {None}, "phone": {fields["phone"]} - {None},
            "skills": set(map(str.lower, fields["skills"])),
            "experience": {(j["title"].lower(), j["company"].lower(), j["start"], j["end"])
                           for j in fields["experience"]},
        }

    pairs = [(items(p), items(t)) for p, t in zip(predictions, labels)]
    result = {}
    for f in FIELDS:
        tp = sum(len(p[f] & t[f]) for p, t in pairs)
        n_pred, n_true = sum(len(p[f]) for p, _ in pairs), sum(len(t[f]) for _, t in pairs)
        result[f] = {"precision": tp / n_pred if n_pred > 0 else 0.0, "recall": tp / n_true if n_true > 0 else 0.0}
    return result
''',
}

CORRECT: dict[str, dict[str, str]] = {"loops-and-regexes": LOOPS, "counters-and-validators": COUNTERS,
                                      "typed-helpers": TYPED}


# --- typical mistakes: the solution's answer with one change ------------------------------------------

ANSWERS = {cell.metadata["tags"][-1]: cell.source for cell in nbformat.read(SOLUTION / "solution.ipynb", 4).cells
           if cell.cell_type == "code" and cell.metadata.get("tags")}


def mistake(tag: str, old: str, new: str) -> dict[str, str]:
    """The solution's answer to ``tag`` with ``old`` changed to ``new``."""
    return {tag: edit(ANSWERS[tag], old, new)}


MISTAKES: dict[str, dict[str, str]] = {
    "scan-as-empty-resume": mistake("q1", '"needs_ocr": not text.strip()', '"needs_ocr": False'),
    "scan-is-no-characters": mistake("q1", '"needs_ocr": not text.strip()', '"needs_ocr": text == ""'),
    "extra-keys-allowed": mistake("q2", '''    model_config = ConfigDict(extra="forbid")
    name: str''', '''    name: str'''),
    "dates-unchecked": mistake("q2", "if self.end is not None and self.end < self.start:", "if False:"),
    "no-retry": mistake("q3", "for _ in range(2):", "for _ in range(1):"),
    "retries-until-valid": mistake("q3", "for _ in range(2):", "for _ in range(5):"),
    "retry-without-the-error": mistake("q3", "messages += [", "_ = ["),
    "resume-in-system": mistake("q3", '''    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"<resume>\\n{text}\\n</resume>"}]''', '''    messages = [
        {"role": "system", "content": f"{SYSTEM_PROMPT}\\n<resume>\\n{text}\\n</resume>"},
        {"role": "user", "content": "Extract the fields of the resume."}]'''),
    "greedy-email": mistake("q4", r'r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"', r'r"\S+@\S+"'),
    "months-as-written": mistake("q4", 'f"{year}-{month}"', 'f"{month}/{year}"'),
    "sends-the-email": mistake("q5", '(("EMAIL", found["emails"]), ("PHONE", found["phones"]))',
                               '(("PHONE", found["phones"]),)'),
    "fallback-on-redacted": mistake("q5", "fallback(text) if fields is None", "fallback(redacted) if fields is None"),
    "trusts-the-injected-skill": mistake(
        "q6", "lines = [line for line in text.splitlines() if not any(p in line.lower() for p in SUSPICIOUS)]",
        "lines = text.splitlines()"),
    "case-folded-on-one-side": mistake("q6", 'clean = " ".join(" ".join(lines).lower().split())',
                                    'clean = " ".join(lines)'),
    "precision-recall-swapped": mistake(
        "q7", '''{"precision": correct / predicted if predicted else 0.0,
                         "recall": correct / labelled if labelled else 0.0}''',
        '''{"precision": correct / labelled if labelled else 0.0,
                         "recall": correct / predicted if predicted else 0.0}'''),
}

# What each mistake must cost, test by test, and nothing else (tests several mistakes fail, by name).
SCAN = "q1: a scanned resume, of one page or two, has no text layer: it needs OCR"
REFUSED = "q2: extra keys, wrong types, missing fields, malformed months and a job ending before it starts are refused"
RETRIED = "q3: after an invalid answer (wrong types, a missing field, not JSON) the model gets it back with the error"
ONCE = "q3: when the retry's answer is invalid too, ask_model returns None after two requests"
INJECTED = "q6: a skill (or a job) asked for by a line addressed to the model is dropped; the real fields stay"
INJECTED_PUBLIC = "q6: the skill resume-05's injection asks for is dropped, its real skills kept"
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "scan-as-empty-resume": {
        "q1: resume-01 has a text layer holding the candidate's name; resume-04 is a scan that needs OCR": 1, SCAN: 2},
    "scan-is-no-characters": {SCAN: 2},
    "extra-keys-allowed": {"q2: a labelled resume is a valid Resume; one with a \"rating\" key is not": 1, REFUSED: 2},
    "dates-unchecked": {REFUSED: 2},
    "no-retry": {RETRIED: 2, ONCE: 1},
    "retries-until-valid": {ONCE: 1},
    "retry-without-the-error": {RETRIED: 2},
    "resume-in-system": {
        "q3: the system message is SYSTEM_PROMPT; the resume goes only in the user message, inside <resume>": 1},
    "greedy-email": {
        "q4: every email and phone (four spellings) is found as written, in order, each once, and nothing else": 2,
        "q4: fallback gives the first email and phone and nothing else; None where the text has none": 1},
    "months-as-written": {
        "q4: MM/YYYY months are returned as YYYY-MM in order, each once; month 00 or 13 and other numbers are not": 1},
    "sends-the-email": {
        "q5: redact hides resume-01's email and phone behind the placeholders EMAIL_1 and PHONE_1": 1,
        "q5: redact replaces every email and phone, each time it appears, by its numbered placeholder": 1,
        "q5: extract_resume sends no email or phone of the resume, and returns the real ones restored": 2},
    "fallback-on-redacted": {
        "q5: when ask_model gives None, extract_resume returns the rules' fields, with the real email and phone": 1},
    "trusts-the-injected-skill": {INJECTED_PUBLIC: 1, INJECTED: 2},
    "case-folded-on-one-side": {
        INJECTED_PUBLIC: 1, INJECTED: 2, "q6: a name, contact, skill or job the resume does not hold is removed": 1,
        "q6: a value split across lines or in another case is grounded; a skill given twice is kept once": 1},
    "precision-recall-swapped": {
        "q7: each field's precision and recall count its items over the whole labelled set": 2},
}

# The lab's real-world concerns: the scan reported, personal data kept here, the injection contained.
LESSON_EXERCISES = ("q5", "q6")
LESSON_TESTS = ("q1: a scanned resume, of one page or two, has no text layer: it needs OCR",)


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by tag) that notebook ``name`` replaces in the solution."""
    return {**CORRECT, **MISTAKES}[name]


KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements)


# --- the batch --------------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite), against the grader's LLM server."""

    kept = KEPT
    max_score = 34
    test_count = 27
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    hidden_failure = ("trusts-the-injected-skill", "q6: a skill (or a job) asked for")
    lesson = "a scan reported, personal data kept on the machine, and a prompt injection contained"
    lesson_exercises = LESSON_EXERCISES
    lesson_tests = LESSON_TESTS


# One notebook per kind of check (PDFs written into the kernel, the schema, the record), beside the solution.
DOCKER_SAMPLE = ("solution", "scan-as-empty-resume", "extra-keys-allowed", "no-retry", "sends-the-email")


@pytest.mark.docker
def test_the_docker_backend_grades_the_same(tmp_path):
    """The kernel image holds what the lab needs (pypdf and pydantic among it)."""
    assert_docker_grades_the_same(TestLab, DOCKER_SAMPLE, tmp_path)


if __name__ == "__main__":
    KEPT.write()
