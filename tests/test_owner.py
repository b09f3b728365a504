"""grader.owner: what the grader leaves on the machine is known by its maker's pid and start time,
so a dead grader's pid taken by another process does not keep its leftovers, and nothing that
names no process of the grader's is ever taken for a dead grader's."""

from __future__ import annotations

import random
import string

import pytest
from conftest import ended_process

from grader import owner


def test_this_process_is_not_gone_and_names_its_pid():
    me = owner.current()
    pid, start = me.split(".")
    assert owner.pid_of(me) == int(pid) and int(start) > 0
    assert not owner.gone(me) and not owner.gone(pid)


def test_an_ended_process_is_gone_by_either_form():
    for _ in range(5):
        identity = ended_process()
        assert owner.gone(identity) and owner.gone(identity.split(".")[0])


@pytest.mark.parametrize("shift", [-10**6, -1, 1, 10**6])
def test_a_live_pid_that_started_at_another_time_is_a_reused_pid(shift):
    pid, start = owner.current().split(".")
    assert owner.gone(f"{pid}.{max(0, int(start) + shift)}")


MALFORMED = ["", "abc", "1.2.3", "-5", "0", "0.5", " 12", "12 ", "12\n", "1e3", "9" * 30, str(owner.PID_MAX + 1),
             "\u0661\u0662", "12.", ".5", "12.abc", "12.-1", "12..3", "+12", "0x1f", "1_000", "12.1" + "0" * 30]


@pytest.mark.parametrize("identity", MALFORMED)
def test_what_names_no_process_is_never_gone(identity):
    assert not owner.gone(identity)


def test_generated_strings_that_are_no_identity_are_never_gone():
    rng = random.Random(8)
    alphabet = string.printable + "\u0663\u00b2\u2155"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        if owner._IDENTITY.fullmatch(text) is None:
            assert owner.pid_of(text) is None and not owner.gone(text), repr(text)
