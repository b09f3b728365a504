"""Kits: a lab's machinery, loaded only for the labs whose settings declare it.

A kit is a package ``grader/kits/<name>/`` whose ``__init__`` defines
``KIT = Kit(...)``: a pytest plugin its tests use (fixtures), optionally a
service the notebook reaches from inside the sandbox (the LLM server),
optionally a decision made once per batch (``prepare``: is a Docker engine
there?), and optionally commands of its own (``grade llm-server``). A lab
declares the kits it uses in ``lab.toml`` (``kits = ["llm"]``); the engine
never names one. The batch asks each declared kit to prepare before its first
submission and sends what it decided to every worker in the Job; the runner
asks this registry for the declared kits, starts their services for one
submission and hands their plugins to pytest; the batch fingerprints the
declared kits' files, so that editing a kit regrades only the labs that use it.

A kit's own failure raises :class:`grader.errors.KitError`: the grader's
error, never a test the student failed.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.engine.sandbox import Service
from grader.errors import CourseError

Command = Callable[[list[str], Any], int]  # (arguments, rich console) -> exit status


@dataclass(frozen=True)
class Kit:
    """What one kit brings to the labs that declare it."""

    name: str
    # The pytest plugin (an object with fixtures): plugin(handle), given the running service's
    # handle, or plugin(handle, prepared) for a kit that prepares; given None for both when the
    # tests are only listed, not run.
    plugin: Callable[..., object] | None = None
    # For one submission: the service the kernel may reach, and the handle its plugin gets.
    service: Callable[[], AbstractContextManager[tuple[Service, Any]]] | None = None
    commands: Mapping[str, Command] = field(default_factory=dict)
    summary: str = ""  # one line for the README's table of kits
    # The grader's extra (pyproject.toml) that installs what the kit imports, named in the
    # requirements grade assign writes for a lab's students; "" means the kit's own name, None
    # that the kit imports nothing beyond the grader's own dependencies.
    extra: str | None = ""
    # Called once per batch, in the batch's process, before its first submission: what every
    # submission of the batch is graded under (is a Docker engine there?), so that one batch is
    # never graded two ways. Small and picklable: it travels to the workers in the Job.
    prepare: Callable[[], object] | None = None

    def fixtures(self, handle: Any, prepared: object = None) -> object:
        """The plugin over a service's ``handle`` and, for a kit that prepares, ``prepared``."""
        return self.plugin(handle) if self.prepare is None else self.plugin(handle, prepared)


@dataclass
class Running:
    """The declared kits, started for one submission."""

    services: tuple[Service, ...] = ()
    plugins: list[object] = field(default_factory=list)


def available() -> list[str]:
    """The kits installed with the grader: every package in this folder."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def load(name: str) -> Kit:
    """The kit ``name``; CourseError naming the kits there are if there is none."""
    if name not in available():
        raise CourseError(f"no kit {name!r} (kits: {', '.join(available()) or 'none'})")
    return importlib.import_module(f"{__name__}.{name}").KIT


def files(name: str) -> list[Path]:
    """The kit's own source files, in a stable order: what its fingerprint covers."""
    load(name)
    folder = Path(__file__).parent / name
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def prepare(names: Iterable[str]) -> tuple[tuple[str, object], ...]:
    """What each of the kits ``names`` that prepares decides, by name: called once per batch."""
    return tuple((kit.name, kit.prepare()) for kit in map(load, sorted(set(names))) if kit.prepare is not None)


@contextlib.contextmanager
def started(names: tuple[str, ...], prepared: Mapping[str, object] | None = None) -> Iterator[Running]:
    """Start the services of kits ``names`` for one submission; stop them afterwards. A kit that
    prepares gets what its batch decided (``prepared``, by name), or decides now if no batch did
    (``grade check``)."""
    prepared = prepared or {}
    running = Running()
    with contextlib.ExitStack() as stack:
        for kit in map(load, names):
            handle = None
            if kit.service is not None:
                service, handle = stack.enter_context(kit.service())
                running.services += (service,)
            if kit.plugin is not None:
                if kit.prepare is not None and kit.name not in prepared:  # no batch decided: grade check
                    prepared = {**prepared, kit.name: kit.prepare()}
                running.plugins.append(kit.fixtures(handle, prepared.get(kit.name)))
        yield running


def idle_plugins(names: tuple[str, ...]) -> list[object]:
    """The kits' plugins with no service running: to list a lab's tests as not graded."""
    return [kit.fixtures(None) for kit in map(load, names) if kit.plugin is not None]


def command(name: str) -> Command | None:
    """The kit command ``grade <name>``, if a kit has one."""
    for kit_name in available():
        found = load(kit_name).commands.get(name)
        if found is not None:
            return found
    return None


def commands() -> list[str]:
    """Every kit command's name, for the CLI's help."""
    return sorted(c for kit_name in available() for c in load(kit_name).commands)
