"""Kits: a lab's machinery, loaded only for the labs whose settings declare it.

A kit is a package ``grader/kits/<name>/`` whose ``__init__`` defines
``KIT = Kit(...)``: a pytest plugin its tests use (fixtures), optionally a
service the notebook reaches from inside the sandbox (the LLM server), and
optionally commands of its own (``grade llm-server``). A lab declares the kits
it uses in ``lab.toml`` (``kits = ["llm"]``); the engine never names one. The
runner asks this registry for the declared kits, starts their services for
one submission and hands their plugins to pytest; the batch fingerprints the
declared kits' files, so that editing a kit regrades only the labs that use it.

A kit's own failure raises :class:`grader.errors.KitError`: the grader's
error, never a test the student failed.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
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
    # The pytest plugin (an object with fixtures), given the running service's handle;
    # None when the service is not running (the tests are only listed, not run).
    plugin: Callable[[Any], object] | None = None
    # For one submission: the service the kernel may reach, and the handle its plugin gets.
    service: Callable[[], AbstractContextManager[tuple[Service, Any]]] | None = None
    commands: Mapping[str, Command] = field(default_factory=dict)
    summary: str = ""  # one line for the README's table of kits


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


@contextlib.contextmanager
def started(names: tuple[str, ...]) -> Iterator[Running]:
    """Start the services of kits ``names`` for one submission; stop them afterwards."""
    running = Running()
    with contextlib.ExitStack() as stack:
        for kit in map(load, names):
            handle = None
            if kit.service is not None:
                service, handle = stack.enter_context(kit.service())
                running.services += (service,)
            if kit.plugin is not None:
                running.plugins.append(kit.plugin(handle))
        yield running


def idle_plugins(names: tuple[str, ...]) -> list[object]:
    """The kits' plugins with no service running: to list a lab's tests as not graded."""
    return [kit.plugin(None) for kit in map(load, names) if kit.plugin is not None]


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
