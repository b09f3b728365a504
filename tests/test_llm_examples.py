"""The llm kit's placeholder answers to structured-output and tool requests: they satisfy the
schema pydantic writes (nested models and enums as ``$ref`` into ``$defs``), and stay small
whatever the schema, which the notebook controls."""

from __future__ import annotations

import json
import time
from enum import Enum
from typing import Literal

import pytest
from pydantic import BaseModel

from grader.kits.llm.model import EXAMPLE_NODES, example_value


class Category(str, Enum):
    refund = "refund"
    delivery = "delivery"


class Priority(int, Enum):
    low = 1
    high = 2


class Job(BaseModel):
    title: str
    start: str
    end: str | None = None


class Contact(BaseModel):
    email: str
    phone: str | None


class Resume(BaseModel):
    name: str
    contact: Contact
    jobs: list[Job]
    skills: list[str]


class Triage(BaseModel):
    category: Category
    priority: Priority
    order_id: int | None
    mood: Literal["calm", "angry"]


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


@pytest.mark.parametrize("model", [Job, Contact, Resume, Triage, Tree])
def test_the_example_satisfies_what_pydantic_asks_for(model):
    schema = model.model_json_schema()
    model.model_validate(example_value(schema))
    model.model_validate_json(json.dumps(example_value(schema)))


def wide_references(width: int, levels: int) -> dict:
    """A schema of a few kilobytes whose every level refers ``width`` times to the next: the value
    it describes has ``width ** levels`` leaves."""
    defs = {f"L{n}": {"type": "object", "properties": {f"p{i}": {"$ref": f"#/$defs/L{n + 1}"}
                                                       for i in range(width)}} for n in range(levels)}
    defs[f"L{levels}"] = {"type": "string"}
    return {"$ref": "#/$defs/L0", "$defs": defs}


def leaves(value) -> int:
    if isinstance(value, dict):
        return sum(leaves(v) for v in value.values()) or 1
    return 1


@pytest.mark.parametrize("width,levels", [(2, 30), (10, 8), (50, 6), (500, 3), (1, 10_000)])
def test_references_cannot_make_the_example_large(width, levels):
    started = time.monotonic()
    value = example_value(wide_references(width, levels))
    assert leaves(value) <= EXAMPLE_NODES + 1
    assert len(json.dumps(value)) < 100 * EXAMPLE_NODES
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("schema", [{"$ref": "#/$defs/missing"}, {"$ref": 3}, {"$defs": 3, "type": "object"},
                                    {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A"}}}])
def test_broken_references_give_no_value_rather_than_an_error(schema):
    assert example_value(schema) in (None, {})
