"""A lab's settings, from ``solutions/<id>/lab.toml``: every key known, typed and documented.

An unknown key is an error that names it and the keys there are, so that a
misspelt ``cell_timout = 5`` never silently leaves the default in force. The
table :data:`SETTINGS` is the one place a setting is declared: its type, its
default, its unit and what it means (the README's table of settings matches it).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import CourseError

DEFAULT_CELL_TIMEOUT = 30.0
DEFAULT_TIMEOUT = 300.0
DEFAULT_MEMORY_MIB = 1024
SETTINGS_LIMIT = 64 * 2**10  # bytes of a lab.toml: a few lines in practice


@dataclass(frozen=True)
class Setting:
    """One key of ``lab.toml``."""

    name: str
    kind: type
    unit: str
    doc: str


SETTINGS = (
    Setting("title", str, "", "shown in tables and on feedback pages (default: the lab id)"),
    Setting("cell_timeout", float, "s", f"how long one cell may run (default {DEFAULT_CELL_TIMEOUT:g})"),
    Setting("timeout", float, "s", f"how long the whole notebook may run (default {DEFAULT_TIMEOUT:g})"),
    Setting("memory", int, "MiB", f"the kernel's memory (default {DEFAULT_MEMORY_MIB})"),
    Setting("show_hidden_output", bool, "", "show students why a hidden test failed (default false)"),
    Setting("kits", list, "", 'the kits the tests use, from grader/kits/ (default []; e.g. ["llm"])'),
    Setting("llm", bool, "", 'the older spelling of kits = ["llm"] (default false)'),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Per-lab limits and presentation, read from ``lab.toml``."""

    title: str = ""
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    timeout: float = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY_MIB
    show_hidden_output: bool = False
    kits: tuple[str, ...] = ()
    llm: bool = False

    @property
    def kit_names(self) -> tuple[str, ...]:
        """The declared kits, ``llm = true`` included, each once, in order."""
        names = self.kits + (("llm",) if self.llm else ())
        return tuple(dict.fromkeys(names))

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read ``lab.toml``; a missing file means the grader's defaults."""
        if not path.is_file():
            return cls()
        try:
            data = path.read_bytes()
            if len(data) > SETTINGS_LIMIT:
                raise CourseError(f"{path}: over {SETTINGS_LIMIT // 1024} KiB; settings are a few lines")
            table = tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CourseError(f"{path}: not valid TOML: {exc}") from exc
        return cls(**{key: _value(path, key, value) for key, value in table.items()})


def _value(path: Path, key: str, value: object) -> object:
    """``value`` checked against the setting ``key``; CourseError naming what is wrong."""
    setting = _BY_NAME.get(key)
    if setting is None:
        close = difflib.get_close_matches(key, _BY_NAME, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CourseError(f"{path}: unknown setting {key!r}{hint}; the settings are: {', '.join(_BY_NAME)}")
    if not _fits(value, setting.kind):
        raise CourseError(f"{path}: {key} must be {_kind_name(setting)}, not {value!r}")
    if setting.kind in (int, float) and value <= 0:
        raise CourseError(f"{path}: {key} must be more than 0 {setting.unit}, not {value!r}")
    return tuple(value) if setting.kind is list else value


def _fits(value: object, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def _kind_name(setting: Setting) -> str:
    names = {str: "a string", float: "a number", int: "a whole number", bool: "true or false",
             list: "a list of strings"}
    return names[setting.kind] + (f" ({setting.unit})" if setting.unit else "")
