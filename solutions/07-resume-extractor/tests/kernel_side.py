"""Grader code that runs in the student's kernel for the hidden tests of 07-resume-extractor.

The tests run it in the notebook's namespace; its names start with ``_t_`` so that they cannot
clash with the student's. It writes the grader's PDFs where ``read_pdf`` can open them, reports
how a model judges a value as plain data, and brings the grader's own schema (q2), model call (q3)
and rules (q4): while one exercise is tested, the ones it builds on are the grader's, so that how
they were answered cannot cost its points.
"""

import re as _t_re
from pathlib import Path as _t_Path

import pydantic as _t_pydantic

_T_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def _t_write(name, data):
    """Write the grader's bytes to a file in the notebook's folder and return its name."""
    _t_Path(name).write_bytes(data)
    return name


def _t_judge(model, data):
    """["valid", the dump] or ["invalid", the exception's class name]: plain data for the grader."""
    try:
        return ["valid", model.model_validate(data).model_dump()]
    except Exception as error:  # the grader judges which exception, not only whether one
        return ["invalid", type(error).__name__]


class _t_Job(_t_pydantic.BaseModel):
    model_config = _t_pydantic.ConfigDict(extra="forbid")
    title: str
    company: str
    start: str = _t_pydantic.Field(pattern=_T_MONTH)
    end: str | None = _t_pydantic.Field(pattern=_T_MONTH)

    @_t_pydantic.model_validator(mode="after")
    def _t_ordered(self):
        if self.end is not None and self.end < self.start:
            raise ValueError("the job ends before it starts")
        return self


class _t_Resume(_t_pydantic.BaseModel):
    model_config = _t_pydantic.ConfigDict(extra="forbid")
    name: str
    email: str | None
    phone: str | None
    skills: list[str]
    experience: list[_t_Job]


def _t_ask_model(text):
    """The grader's q3: one request, its content validated, None if invalid."""
    reply = globals()["client"].chat.completions.create(
        model=globals()["MODEL"], temperature=0, response_format={"type": "json_object"},
        messages=[{"role": "system", "content": globals()["SYSTEM_PROMPT"]},
                  {"role": "user", "content": f"<resume>\n{text}\n</resume>"}])
    try:
        return _t_Resume.model_validate_json(reply.choices[0].message.content or "").model_dump()
    except _t_pydantic.ValidationError:
        return None


def _t_rule_fields(text):
    """The grader's q4 rules."""
    emails = _t_re.findall(r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", text)
    phones = [m.group(0) for m in _t_re.finditer(
        r"\+1 \d{3} \d{3} \d{4}|\(\d{3}\) \d{3}-\d{4}|\b\d{3}([.-])\d{3}\1\d{4}\b", text)]
    months = [f"{y}-{m}" for m, y in _t_re.findall(r"\b(0[1-9]|1[0-2])/(\d{4})\b", text)]
    return {"emails": list(dict.fromkeys(emails)), "phones": list(dict.fromkeys(phones)),
            "months": list(dict.fromkeys(months))}


def _t_fallback(text):
    """The grader's q4 fallback."""
    found = _t_rule_fields(text)
    return {"name": None, "email": (found["emails"] or [None])[0], "phone": (found["phones"] or [None])[0],
            "skills": [], "experience": []}


_T_SWAPS = {"q2": ("Job", "Resume"), "q3": ("ask_model",), "q4": ("rule_fields", "fallback")}
_t_saved = {}


def _t_swap(*exercises):
    """Put the grader's answers to these exercises in the notebook's place, keeping the student's."""
    for exercise in exercises:
        for name in _T_SWAPS[exercise]:
            _t_saved[name] = globals().get(name)
            globals()[name] = globals()[f"_t_{name}"]


def _t_unswap():
    """Put the student's answers back."""
    for name, value in _t_saved.items():
        globals()[name] = value
    _t_saved.clear()
