"""Hidden tests for 07-resume-extractor: run by the grader only.

They hand the student's functions resumes the grader makes (``resumes.py`` with seeds of its own,
written as PDF files into the notebook's folder), texts and field dicts, and compute every expected
answer here, in the grader. The ``llm`` fixture scripts the model's replies (valid, invalid, wrong
types, not JSON) and reads the requests the notebook sent: how often, in which role, and whether
any personal data left.

Each exercise is judged on its own code: while q3 is tested the schema is the grader's, while q5
is tested the model call and the rules are (``kernel_side.py``).
"""

import importlib.util
import io
import json
import random
import re
import string
import sys
from contextlib import contextmanager
from pathlib import Path

import pypdf
import pytest

HERE = Path(__file__).resolve().parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()
RNG = random.Random()
FIELDS = ("name", "email", "phone", "skills", "experience")
SUSPICIOUS = ("ignore previous", "ignore all previous", "rate this candidate", "add the skill", "you are now",
              "as an ai", "system prompt")  # the notebook's list, as its text gives it


def _resumes():
    """The lab's resume generator, loaded from beside this file (pytest imports tests by path)."""
    spec = importlib.util.spec_from_file_location("_lab07_resumes", HERE / "resumes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RESUMES = _resumes()
FAKE, _ = RESUMES.faker(RNG.randrange(10**9))


def word() -> str:
    """A made-up word no notebook can know in advance."""
    return "".join(RNG.choices(string.ascii_lowercase, k=RNG.randint(5, 9))).capitalize()


def person() -> dict:
    return RESUMES.candidate(FAKE, RNG)


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def helpers(nb):
    nb.run(KERNEL_SIDE)
    return nb


def put_pdf(nb, data: bytes) -> str:
    """The grader's PDF written into the notebook's folder under a fresh name; its name."""
    return nb.call("_t_write", f"_t_{word()}.pdf", data)


@contextmanager
def graders(nb, *exercises):
    """For the block, the notebook's answers to these exercises are the grader's; the student's come back after."""
    helpers(nb).call("_t_swap", *exercises)
    try:
        yield
    finally:
        nb.run("_t_unswap()")


def redacted_reply(fields: dict) -> dict:
    """What a model answers about a redacted resume: the placeholders where the contacts were."""
    return dict(fields, email="[EMAIL_1]", phone="[PHONE_1]")


# --- q1 ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_q1_text_layers_are_read(nb):
    """q1: read_pdf gives the pages' texts joined with newlines, in every layout, a two-page resume too"""
    helpers(nb)
    long = person()
    long["experience"] = long["experience"] * 16  # past one page
    for candidate, layout in [(person(), "one-column"), (person(), "two-column"), (person(), "table"),
                              (long, RNG.choice(["one-column", "table"]))]:
        data = RESUMES.render(candidate, layout)
        got = nb.call("read_pdf", put_pdf(nb, data))
        assert got == {"text": text_of(data), "needs_ocr": False}, layout


@pytest.mark.points(2)
def test_q1_a_scan_is_reported_not_empty(nb):
    """q1: a scanned resume, of one page or two, has no text layer: it needs OCR"""
    helpers(nb)
    one = RESUMES.render(person(), "scanned")
    writer = pypdf.PdfWriter()
    for data in (one, RESUMES.render(person(), "scanned")):
        writer.append(io.BytesIO(data))
    two = io.BytesIO()
    writer.write(two)
    for data in (one, two.getvalue()):
        got = nb.call("read_pdf", put_pdf(nb, data))
        assert got["needs_ocr"] is True and got["text"].strip() == ""
    assert nb.call("read_pdf", put_pdf(nb, RESUMES.render(person(), "one-column")))["needs_ocr"] is False


# --- q2 ---------------------------------------------------------------------------------------------


def invalid_variants(fields: dict) -> dict[str, dict]:
    """Answers a model gives that the schema must refuse, by what is wrong with them."""
    job = fields["experience"][0]
    late = f"{int(job['start'][:4]) - 1}{job['start'][4:]}"

    def with_job(**change):
        return dict(fields, experience=[dict(job, **change), *fields["experience"][1:]])

    return {
        "extra key": dict(fields, rating=10), "extra key in a job": with_job(seniority="senior"),
        "skills as a string": dict(fields, skills=", ".join(fields["skills"])),
        "name missing": {k: v for k, v in fields.items() if k != "name"},
        "email missing": {k: v for k, v in fields.items() if k != "email"},
        "name a number": dict(fields, name=RNG.randint(1, 99)), "skill a number": dict(fields, skills=[3]),
        "month as MM/YYYY": with_job(start=f"{job['start'][5:]}/{job['start'][:4]}"),
        "month 13": with_job(start=f"{job['start'][:4]}-13"), "month 00": with_job(start=f"{job['start'][:4]}-00"),
        "ends before it starts": with_job(end=late), "a job as a string": dict(fields, experience=[job["title"]]),
    }


@pytest.mark.points(1)
def test_q2_valid_resumes_are_accepted(nb):
    """q2: Resume accepts labelled resumes (current jobs, no phone, no skills) and dumps them unchanged"""
    helpers(nb)
    for change in ({}, {"phone": None}, {"skills": [], "email": None}, {"experience": []}):
        fields = dict(person(), **change)
        assert nb.ref(f"_t_judge(Resume, {fields!r})") == ["valid", fields], change


@pytest.mark.points(2)
def test_q2_invalid_answers_are_refused(nb):
    """q2: extra keys, wrong types, missing fields, malformed months and a job ending before it starts are refused"""
    helpers(nb)
    for why, fields in invalid_variants(person()).items():
        assert nb.ref(f"_t_judge(Resume, {fields!r})") == ["invalid", "ValidationError"], why


# --- q3 ---------------------------------------------------------------------------------------------


def chat(llm) -> list[dict]:
    return llm.chat_requests()


@pytest.mark.points(1)
def test_q3_a_valid_answer_takes_one_request(nb, llm):
    """q3: a valid answer is returned as a dict after one request for the Resume's JSON schema"""
    fields = person()
    with graders(nb, "q2"):
        llm.clear()
        llm.reply(fields)
        assert nb.call("ask_model", RESUMES.job_line(fields["experience"][0])) == fields
    [request] = chat(llm)
    assert request["model"] == nb.ref("MODEL") and request["response_format"]["type"] == "json_schema"
    assert set(request["response_format"]["json_schema"]["schema"]["properties"]) == set(FIELDS)


@pytest.mark.points(1)
def test_q3_the_resume_is_data_in_the_user_message(nb, llm):
    """q3: the system message is SYSTEM_PROMPT; the resume goes only in the user message, inside <resume>"""
    text = text_of(RESUMES.render(person(), "one-column"))
    with graders(nb, "q2"):
        llm.clear()
        llm.reply(person())
        nb.call("ask_model", text)
    [request] = chat(llm)
    system, user = request["messages"]
    assert (system["role"], system["content"], user["role"]) == ("system", nb.ref("SYSTEM_PROMPT"), "user")
    assert re.search(r"<resume>\s*" + re.escape(text.strip()) + r"\s*</resume>", user["content"])


def broken(fields: dict) -> tuple[str, str]:
    """An invalid answer and the field its validation error must name."""
    return RNG.choice([(json.dumps(dict(fields, skills=", ".join(fields["skills"]))), "skills"),
                       (json.dumps({k: v for k, v in fields.items() if k != "experience"}), "experience"),
                       (json.dumps(dict(fields, rating="10/10")), "rating")])


@pytest.mark.points(2)
def test_q3_an_invalid_answer_is_retried_once_with_its_error(nb, llm):
    """q3: after an invalid answer (wrong types, a missing field, not JSON) the model gets it back with the error"""
    for first, named in [broken(person()), ("Sure! Here are the fields you asked for.", "json")]:
        fields = person()
        with graders(nb, "q2"):
            llm.clear()
            llm.reply(first, fields)
            assert nb.call("ask_model", word()) == fields
        asked, again = chat(llm)
        assert again["messages"][:2] == asked["messages"]
        assert again["messages"][2] == {"role": "assistant", "content": first}
        assert again["messages"][3]["role"] == "user" and named in again["messages"][3]["content"].lower()


@pytest.mark.points(1)
def test_q3_no_second_retry(nb, llm):
    """q3: when the retry's answer is invalid too, ask_model returns None after two requests"""
    with graders(nb, "q2"):
        llm.clear()
        llm.reply(broken(person())[0], broken(person())[0], person())
        assert nb.call("ask_model", word()) is None
    assert len(chat(llm)) == 2


# --- q4 ---------------------------------------------------------------------------------------------


def contact_text() -> tuple[str, list[str], list[str]]:
    """A text with emails and phones among dates, years, zip codes and versions; the emails and phones."""
    emails = [FAKE.email(), f"{word().lower()}.{word().lower()}+jobs@{word().lower()}.co.uk",
              f"{word().lower()}_{RNG.randint(1, 99)}@{word().lower()}-{word().lower()}.io"]
    phones = [RESUMES.phone(RNG) for _ in range(3)]
    noise = [f"{RNG.randint(1, 12):02d}/{RNG.randint(1990, 2025)} - Present", f"CA {RNG.randint(10000, 99999)}",
             f"version {RNG.randint(1, 9)}.{RNG.randint(0, 9)}.{RNG.randint(0, 99)}", str(RNG.randint(1990, 2025)),
             f"{RNG.randint(10, 99)}% of {RNG.randint(1000, 9999)} tickets"]
    parts = [f"Write to {emails[0]}.", f"Call {phones[0]} or {phones[1]}", f"cc: {emails[1]}, {emails[2]}.",
             f"mobile {phones[2]}", f"again: {emails[0]}; {phones[0]}"] + noise  # punctuation after every email
    RNG.shuffle(parts)
    order = " ".join(parts)
    found = lambda values: sorted(values, key=order.index)  # noqa: E731 - a key for this text only
    return "\n".join(parts), found(emails), found(phones)


@pytest.mark.points(2)
def test_q4_emails_and_phones_are_found(nb):
    """q4: every email and phone (four spellings) is found as written, in order, each once, and nothing else"""
    for _ in range(3):
        text, emails, phones = contact_text()
        got = nb.call("rule_fields", text)
        assert (got["emails"], got["phones"]) == (emails, phones), text


@pytest.mark.points(1)
def test_q4_months_become_year_month(nb):
    """q4: MM/YYYY months are returned as YYYY-MM in order, each once; month 00 or 13 and other numbers are not"""
    months = [f"{RNG.randint(1990, 2030)}-{RNG.randint(1, 12):02d}" for _ in range(6)]
    written = [f"{m[5:]}/{m[:4]}" for m in months]
    text = (f"{word()} {written[0]} - {written[1]}, {word()} {written[2]}-{written[3]} 13/2020 00/2019 "
            f"{written[0]} 2021 v1/2 {written[4]}\n{written[5]} - Present")
    assert nb.call("rule_fields", text)["months"] == list(dict.fromkeys(months))


@pytest.mark.points(1)
def test_q4_fallback_gives_the_first_contacts(nb):
    """q4: fallback gives the first email and phone and nothing else; None where the text has none"""
    text, emails, phones = contact_text()
    assert nb.call("fallback", text) == {"name": None, "email": emails[0], "phone": phones[0], "skills": [],
                                         "experience": []}
    assert nb.call("fallback", f"{word()} {word()}") == {"name": None, "email": None, "phone": None, "skills": [],
                                                        "experience": []}


# --- q5 ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_q5_redact_numbers_the_placeholders(nb):
    """q5: redact replaces every email and phone, each time it appears, by its numbered placeholder"""
    text, emails, phones = contact_text()
    with graders(nb, "q4"):
        redacted, secrets = nb.call("redact", text)
    expected = {f"[EMAIL_{i}]": e for i, e in enumerate(emails, 1)}
    expected |= {f"[PHONE_{i}]": p for i, p in enumerate(phones, 1)}
    assert secrets == expected
    for placeholder, value in expected.items():
        text = text.replace(value, placeholder)
    assert redacted == text


@pytest.mark.points(1)
def test_q5_restore_puts_secrets_back_at_any_depth(nb):
    """q5: restore replaces placeholders in strings at any depth and leaves other values alone"""
    secrets = {"[EMAIL_1]": FAKE.email(), "[PHONE_1]": RESUMES.phone(RNG), "[EMAIL_2]": FAKE.email()}
    value = {"a": "[EMAIL_1]", "b": [f"call [PHONE_1] or [EMAIL_2], {word()}", None, 3, 2.5, True],
             "c": {"d": ["[EMAIL_2]", {"e": "[PHONE_1]"}], "f": None}, "g": word()}
    expected = json.loads(json.dumps(value).replace("[EMAIL_1]", secrets["[EMAIL_1]"])
                          .replace("[PHONE_1]", secrets["[PHONE_1]"]).replace("[EMAIL_2]", secrets["[EMAIL_2]"]))
    assert nb.call("restore", value, secrets) == expected


@pytest.mark.points(2)
def test_q5_no_email_or_phone_leaves_the_machine(nb, llm):
    """q5: extract_resume sends no email or phone of the resume, and returns the real ones restored"""
    for layout in ("one-column", "two-column", "table"):
        fields = person()
        text = text_of(RESUMES.render(fields, layout))
        with graders(nb, "q3", "q4"):
            llm.clear()
            llm.reply(redacted_reply(fields))
            assert nb.call("extract_resume", text) == fields
        sent = json.dumps(chat(llm))
        assert len(chat(llm)) == 1 and fields["email"] not in sent and fields["phone"] not in sent
        assert fields["name"] in sent  # the rest of the resume was sent


@pytest.mark.points(1)
def test_q5_the_rules_answer_when_the_model_fails(nb, llm):
    """q5: when ask_model gives None, extract_resume returns the rules' fields, with the real email and phone"""
    fields = person()
    text = text_of(RESUMES.render(fields, "one-column"))
    with graders(nb, "q3", "q4"):
        llm.clear()
        llm.reply("not json")
        assert nb.call("extract_resume", text) == {"name": None, "email": fields["email"], "phone": fields["phone"],
                                                   "skills": [], "experience": []}


# --- q6 ---------------------------------------------------------------------------------------------


def injected(fields: dict) -> tuple[str, str]:
    """A resume's text with a line addressed to a model, in a case of its own; the skill it asks for."""
    skill = f"{word()} {word()}"
    phrase = RNG.choice(SUSPICIOUS)
    line = f"{word()}: {RNG.choice([phrase.upper(), phrase.title(), phrase])} {skill}."  # short: never wraps
    return text_of(RESUMES.render(fields, RNG.choice(["one-column", "two-column", "table"]), [line])), skill


@pytest.mark.points(2)
def test_q6_the_injected_skill_is_dropped(nb):
    """q6: a skill (or a job) asked for by a line addressed to the model is dropped; the real fields stay"""
    for _ in range(3):
        fields = person()
        text, skill = injected(fields)
        obeyed = dict(fields, skills=RNG.sample([*fields["skills"], skill], len(fields["skills"]) + 1))
        obeyed["experience"] = [*fields["experience"], {"title": skill, "company": skill, "start": "2020-01",
                                                       "end": None}]
        expected = dict(fields, skills=[s for s in obeyed["skills"] if s != skill])
        assert nb.call("guard", obeyed, text) == expected, text


@pytest.mark.points(1)
def test_q6_ungrounded_fields_are_removed(nb):
    """q6: a name, contact, skill or job the resume does not hold is removed"""
    fields = person()
    text = text_of(RESUMES.render(fields, RNG.choice(["one-column", "two-column", "table"])))
    invented = dict(fields, name=f"{word()} {word()}", email=FAKE.email(), phone=RESUMES.phone(RNG),
                    skills=[word(), *fields["skills"], word()],
                    experience=[*fields["experience"], dict(fields["experience"][0], company=word())])
    assert nb.call("guard", invented, text) == dict(fields, name=None, email=None, phone=None)


@pytest.mark.points(1)
def test_q6_grounding_ignores_case_and_line_breaks(nb):
    """q6: a value split across lines or in another case is grounded; a skill given twice is kept once"""
    fields = person()
    first, second = word(), word()
    text = f"{fields['name'].upper()}\n{fields['email']} {fields['phone']}\nSkills: {first}\n{second}, " + \
        "; ".join(fields["skills"]) + "\n" + "\n".join(f"{j['title']}\n  {j['company']}" for j in fields["experience"])
    skills = [f"{first} {second}", *fields["skills"]]
    given = dict(fields, skills=[*skills, skills[0].upper(), fields["skills"][0].lower()])
    assert nb.call("guard", given, text) == dict(fields, skills=skills)


# --- q7 ---------------------------------------------------------------------------------------------


def items(fields: dict, field: str) -> set:
    value = fields[field]
    if field == "skills":
        return {s.lower() for s in value}
    if field == "experience":
        return {(j["title"].lower(), j["company"].lower(), j["start"], j["end"]) for j in value}
    return set() if value is None else {value}


def reference_scores(predictions: list[dict], labels: list[dict]) -> dict:
    scores = {}
    for field in FIELDS:
        pairs = [(items(p, field), items(t, field)) for p, t in zip(predictions, labels, strict=True)]
        correct = sum(len(p & t) for p, t in pairs)
        predicted, labelled = sum(len(p) for p, _ in pairs), sum(len(t) for _, t in pairs)
        scores[field] = {"precision": correct / predicted if predicted else 0.0,
                         "recall": correct / labelled if labelled else 0.0}
    return scores


def prediction(truth: dict) -> dict:
    """An imperfect extraction of ``truth``: some fields missed, some wrong, some extra, some in another case."""
    skills = [s.upper() if RNG.random() < 0.3 else s for s in truth["skills"] if RNG.random() < 0.7]
    jobs = [dict(j, company=j["company"].lower()) if RNG.random() < 0.3 else j
            for j in truth["experience"] if RNG.random() < 0.7]
    return {"name": RNG.choice([truth["name"], None, word()]), "email": RNG.choice([truth["email"], None]),
            "phone": RNG.choice([truth["phone"], RESUMES.phone(RNG)]), "skills": skills + [word()] * RNG.randint(0, 3),
            "experience": jobs + [dict(truth["experience"][0], start="1999-01")] * RNG.randint(0, 1)}


@pytest.mark.points(2)
def test_q7_precision_and_recall_over_the_set(nb):
    """q7: each field's precision and recall count its items over the whole labelled set"""
    labels = [person() for _ in range(RNG.randint(6, 10))]
    predictions = [prediction(t) for t in labels]
    got = nb.call("field_scores", predictions, labels)
    expected = reference_scores(predictions, labels)
    assert {f: set(s) for f, s in got.items()} == {f: {"precision", "recall"} for f in FIELDS}
    assert {f: (pytest.approx(s["precision"]), pytest.approx(s["recall"])) for f, s in expected.items()} == \
        {f: (s["precision"], s["recall"]) for f, s in got.items()}


@pytest.mark.points(1)
def test_q7_nothing_to_divide_by_is_zero(nb):
    """q7: a field never predicted has precision 0.0; a field never labelled has recall 0.0"""
    labels = [dict(person(), phone=None) for _ in range(3)]
    predictions = [dict(fields, skills=[], phone=RESUMES.phone(RNG)) for fields in labels]
    got = nb.call("field_scores", predictions, labels)
    assert got["skills"] == {"precision": 0.0, "recall": 0.0} and got["phone"] == {"precision": 0.0, "recall": 0.0}
    assert got["email"] == {"precision": 1.0, "recall": 1.0}
