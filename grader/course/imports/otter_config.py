"""An otter master's assignment config: the keys that apply to a lab here, and a note of the rest.

``name`` names the lab; ``files`` (paths beside the master, never outside its folder) become the
lab's files; ``requirements`` (a file beside the master, or a list) its requirements;
``seed.variable`` is set to ``seed.autograder_value`` wherever the notebook assigns it (otter
sets it before every cell when it grades; here the solution and the student notebook set it,
and the hidden tests see the value the student's run used); ``show_question_points`` adds
otter's ``_Points:_`` lines. Every other key is named in a note the command prints. Otter's
``# BEGIN IGNORE`` / ``# IGNORE`` lines go from every cell (:func:`without_ignored`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course.imports.otter_cases import CONFIG_LIMIT, load_yaml
from grader.errors import UsageError

LAB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
APPLIED = frozenset({"name", "files", "requirements", "seed", "show_question_points", "config_file", "tests"})
IGNORE_BEGIN = re.compile(r"\s*#\s*BEGIN\s*IGNORE\s*", re.IGNORECASE)


@dataclass
class Settings:
    """What the assignment config says for the lab."""

    name: str | None = None
    files: dict[str, Path] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    seed: tuple[str, int] | None = None
    show_points: bool = False
    notes: list[str] = field(default_factory=list)


def read(config: dict, master: Path) -> Settings:
    """The settings of a master's config (its cells' keys over ``config_file``'s)."""
    where = f"{master}: the assignment config"
    if config.get("config_file") is not None:
        config = {**_config_file(config["config_file"], master, where), **config}
    tests = config.get("tests") or {}
    if not isinstance(tests, dict) or not isinstance(tests.get("ok_format", True), bool):
        raise UsageError(f"{where}: tests must hold ok_format: true or false")
    name = config.get("name")
    settings = Settings(name=None if name is None else lab_name(name, where),
                        show_points=config.get("show_question_points") is True)
    settings.files = {name: path for entry in _strings(config.get("files") or [], where, "files")
                      for name, path in [_inside(entry, master, where)]}
    settings.requirements = _requirements(config.get("requirements"), master, where)
    settings.seed = _seed(config.get("seed"), where, settings.notes)
    ignored = sorted(str(key) for key in config if key not in APPLIED)
    if ignored:
        settings.notes.append(f"assignment config: ignored {', '.join(ignored)} (no meaning for a lab here)")
    return settings


def _config_file(value: object, master: Path, where: str) -> dict:
    _, path = _inside(value, master, where)
    if not path.is_file() or path.stat().st_size > CONFIG_LIMIT:
        raise UsageError(f"{where}: config_file {value!r} is not a file of at most {CONFIG_LIMIT // 2**10} KiB")
    found = load_yaml(path.read_text(encoding="utf-8"), f"{path}") or {}
    if not isinstance(found, dict):
        raise UsageError(f"{path}: not a mapping of keys to values")
    return found


def lab_name(value: object, where: str) -> str:
    """``value`` as a lab's id: a folder name under ``solutions/``, never a path."""
    if not isinstance(value, str) or not LAB_ID.fullmatch(value):
        raise UsageError(f"{where}: {value!r} cannot name a lab (letters, digits, '.', '_', '-'): set the "
                         "assignment config's name")
    return value


def _strings(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise UsageError(f"{where}: {key} must be a list of paths or names")
    return value


def _inside(entry: object, master: Path, where: str) -> tuple[str, Path]:
    """A path the config names: its name in the lab, and the file or folder beside the master
    (none outside the master's folder, none through a link)."""
    folder = master.parent.resolve()
    if not isinstance(entry, str) or not entry:
        raise UsageError(f"{where}: {entry!r} is not a path")
    path = folder / entry
    resolved = path.resolve()
    if not resolved.is_relative_to(folder) or resolved == folder:
        raise UsageError(f"{where}: {entry!r} is outside the master's folder")
    if not resolved.exists() or any(p.is_symlink() for p in [path, *path.parents] if p.is_relative_to(folder)):
        raise UsageError(f"{where}: {entry!r} does not exist beside the master (or is a link)")
    return resolved.relative_to(folder).as_posix(), resolved


def _requirements(value: object, master: Path, where: str) -> list[str]:
    """otter's ``requirements``: a requirements file beside the master, or a list of packages."""
    if value is None:
        return []
    if isinstance(value, list):
        return _strings(value, where, "requirements")
    _, path = _inside(value, master, where)
    if not path.is_file() or path.stat().st_size > CONFIG_LIMIT:
        raise UsageError(f"{where}: requirements {value!r} is not a file of at most {CONFIG_LIMIT // 2**10} KiB")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _seed(value: object, where: str, notes: list[str]) -> tuple[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UsageError(f"{where}: seed must hold variable, autograder_value and student_value")
    variable, chosen = value.get("variable"), value.get("autograder_value")
    if variable is None or chosen is None:
        notes.append("assignment config: seed without variable and autograder_value: otter's seeding of "
                     "every cell is not reproduced; seed the notebook in its own code")
        return None
    if not isinstance(variable, str) or not variable.isidentifier() or isinstance(chosen, bool) \
            or not isinstance(chosen, int):
        raise UsageError(f"{where}: seed's variable must be a name and autograder_value an integer")
    if value.get("student_value") is not None:
        notes.append(f"assignment config: seed: students' notebooks set {variable} = {chosen} (the autograder's "
                     f"value) instead of {value['student_value']}: their run is the graded run")
    return variable, chosen


def set_seed(notebook: nbformat.NotebookNode, seed: tuple[str, int] | None) -> None:
    """Each assignment of the seed variable set to the autograder's value, as otter's
    ``overwrite_seed_vars`` rewrites them (``seed = 12`` becomes ``seed = 42``)."""
    if seed is None:
        return
    variable, value = seed
    pattern = re.compile(rf"(\s*){re.escape(variable)}\s*=(?!=)")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(found[1] + f"{variable} = {value}" if (found := pattern.match(line)) else line
                                    for line in re.split(r"\r?\n", cell.source))


def without_ignored(source: str) -> str:
    """``source`` without otter's ignored lines: ``# IGNORE`` at a line's end, and everything
    from ``# BEGIN IGNORE`` to ``# END IGNORE``; UsageError-free (an open region runs to the end)."""
    kept, ignoring = [], False
    for line in re.split(r"\r?\n", source):
        end = line.rstrip()
        if end.endswith("# END IGNORE"):
            ignoring = False
        elif IGNORE_BEGIN.match(line):
            ignoring = True
        elif not ignoring and not end.endswith("# IGNORE"):
            kept.append(line)
    return "\n".join(kept)
