"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks on the lab's own resumes, against whichever server your notebook talks
to. The grader also runs hidden tests on resumes of its own making: it scripts the model's replies
(valid, invalid, wrong types) and reads the requests your code sends (what, in which role, how often).
"""

import json
from pathlib import Path

LAB = Path(__file__).parents[1]  # the lab's folder: the notebook, labels.json and resumes/
LABELS = {label["file"]: label for label in json.loads((LAB / "labels.json").read_text())}
FIELDS = ("name", "email", "phone", "skills", "experience")


def truth(file: str) -> dict:
    return {field: LABELS[file][field] for field in FIELDS}


def test_q1_read_pdf(nb):
    """q1: resume-01 has a text layer holding the candidate's name; resume-04 is a scan that needs OCR"""
    first = nb.call("read_pdf", "resumes/resume-01.pdf")
    assert first["needs_ocr"] is False and LABELS["resume-01.pdf"]["name"] in first["text"]
    assert nb.call("read_pdf", "resumes/resume-04.pdf")["needs_ocr"] is True


def test_q2_schema(nb):
    """q2: a labelled resume is a valid Resume; one with a "rating" key is not"""
    nb.assign("_t_fields", truth("resume-01.pdf"))
    assert nb.ref("Resume.model_validate(_t_fields).model_dump()") == truth("resume-01.pdf")
    nb.run("from pydantic import ValidationError as _t_Invalid\ntry:\n"
           "    Resume.model_validate(dict(_t_fields, rating=10))\n    _t_refused = False\n"
           "except _t_Invalid:\n    _t_refused = True")
    assert nb.ref("_t_refused") is True


def test_q3_ask_model(nb):
    """q3: ask_model gives a dict with the Resume's five fields, or None"""
    got = nb.call("ask_model", nb.call("read_pdf", "resumes/resume-01.pdf")["text"])
    assert got is None or sorted(got) == sorted(FIELDS)


def test_q4_rules(nb):
    """q4: the rules find resume-03's email and phone, and fallback gives them with no name"""
    text, label = nb.call("read_pdf", "resumes/resume-03.pdf")["text"], LABELS["resume-03.pdf"]
    found = nb.call("rule_fields", text)
    assert (found["emails"], found["phones"]) == ([label["email"]], [label["phone"]])
    assert nb.call("fallback", text) == {"name": None, "email": label["email"], "phone": label["phone"], "skills": [],
                                         "experience": []}


def test_q5_redact(nb):
    """q5: redact hides resume-01's email and phone behind the placeholders EMAIL_1 and PHONE_1"""
    text = nb.call("read_pdf", "resumes/resume-01.pdf")["text"]
    redacted, secrets = nb.call("redact", text)
    assert LABELS["resume-01.pdf"]["email"] not in redacted and LABELS["resume-01.pdf"]["phone"] not in redacted
    assert secrets == {"[EMAIL_1]": LABELS["resume-01.pdf"]["email"], "[PHONE_1]": LABELS["resume-01.pdf"]["phone"]}


def test_q6_guard(nb):
    """q6: the skill resume-05's injection asks for is dropped, its real skills kept"""
    text = nb.call("read_pdf", "resumes/resume-05.pdf")["text"]
    injected = [line for line in text.splitlines() if "the skill" in line][0].split("the skill ")[1].rstrip(".")
    fields = dict(truth("resume-05.pdf"), skills=[*LABELS["resume-05.pdf"]["skills"], injected])
    assert nb.call("guard", fields, text) == truth("resume-05.pdf")


def test_q7_scores(nb):
    """q7: predictions equal to the labels score precision and recall 1.0 on every field"""
    labels = [truth(file) for file in LABELS]
    assert nb.call("field_scores", labels, labels) == {f: {"precision": 1.0, "recall": 1.0} for f in FIELDS}
