"""Tests for grader.course.layout: the course layout, lab ids and lab.toml settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.course.layout import Course, Lab
from grader.course.settings import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_MEMORY_MIB,
    DEFAULT_TIMEOUT,
    STUDENT_KEYS,
    Settings,
    student_toml,
)
from grader.errors import CourseError


def make_course(root: Path, labs=(), solutions=()) -> Course:
    for lab_id in labs:
        (root / "labs" / lab_id).mkdir(parents=True, exist_ok=True)
    for lab_id in solutions:
        (root / "solutions" / lab_id).mkdir(parents=True, exist_ok=True)
    return Course(root)


# --- Course.find -----------------------------------------------------------------------


def test_find_refuses_folder_without_labs_or_solutions(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(CourseError, match="not a course"):
        Course.find(tmp_path)


def test_find_refuses_files_named_like_the_folders(tmp_path):
    (tmp_path / "labs").write_text("not a folder", encoding="utf-8")
    (tmp_path / "solutions").write_text("not a folder", encoding="utf-8")
    with pytest.raises(CourseError):
        Course.find(tmp_path)


@pytest.mark.parametrize("folder", ["labs", "solutions"])
def test_find_accepts_either_folder(tmp_path, folder):
    (tmp_path / folder).mkdir()
    assert Course.find(tmp_path).root == tmp_path.resolve()


def test_find_defaults_to_current_directory(tmp_path, monkeypatch):
    (tmp_path / "labs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert Course.find().root == tmp_path.resolve()


def test_find_resolves_relative_root(tmp_path, monkeypatch):
    (tmp_path / "course" / "solutions").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    course = Course.find(Path("course"))
    assert course.root.is_absolute() and course.root == (tmp_path / "course").resolve()


# --- lab ids ---------------------------------------------------------------------------


def test_lab_ids_union_of_labs_and_solutions_sorted(tmp_path):
    course = make_course(tmp_path, labs=["b", "a"], solutions=["c", "a"])
    assert course.lab_ids() == ["a", "b", "c"]


def test_lab_ids_skip_hidden_folders_and_files(tmp_path):
    course = make_course(tmp_path, labs=["lab1", ".git"], solutions=[".ipynb_checkpoints"])
    (tmp_path / "labs" / "README.md").write_text("x", encoding="utf-8")
    assert course.lab_ids() == ["lab1"]


def test_lab_ids_empty_course(tmp_path):
    (tmp_path / "labs").mkdir()
    assert Course(tmp_path).lab_ids() == []


# --- Course.lab ------------------------------------------------------------------------


def test_lab_gives_paths_and_default_settings(tmp_path):
    course = make_course(tmp_path, labs=["lab1"], solutions=["lab1"])
    lab = course.lab("lab1")
    assert isinstance(lab, Lab)
    assert lab.id == "lab1"
    assert lab.lab_dir == tmp_path / "labs" / "lab1"
    assert lab.solution_dir == tmp_path / "solutions" / "lab1"
    assert lab.notebook == tmp_path / "labs" / "lab1" / "lab.ipynb"
    assert lab.solution == tmp_path / "solutions" / "lab1" / "solution.ipynb"
    assert lab.public_tests == tmp_path / "labs" / "lab1" / "tests"
    assert lab.hidden_tests == tmp_path / "solutions" / "lab1" / "tests"
    assert lab.settings == Settings()
    assert lab.title == "lab1"


def test_lab_only_in_solutions_is_found(tmp_path):
    course = make_course(tmp_path, solutions=["lab1"])
    assert course.lab("lab1").lab_dir == tmp_path / "labs" / "lab1"


def test_lab_unknown_id_names_existing_labs(tmp_path):
    course = make_course(tmp_path, labs=["lab1", "lab2"])
    with pytest.raises(CourseError, match="lab1, lab2"):
        course.lab("lab3")


def test_lab_unknown_id_in_empty_course(tmp_path):
    course = make_course(tmp_path)
    (tmp_path / "labs").mkdir()
    with pytest.raises(CourseError, match="none"):
        course.lab("lab1")


@pytest.mark.parametrize("bad_id", ["..", ".", "", "a/b", "../lab1", "lab1/", "/etc"])
def test_lab_refuses_path_like_ids(tmp_path, bad_id):
    course = make_course(tmp_path, labs=["lab1", "a"], solutions=["lab1"])
    (tmp_path / "labs" / "a" / "b").mkdir()
    with pytest.raises(CourseError):
        course.lab(bad_id)


def test_lab_refuses_hidden_folder_id(tmp_path):
    course = make_course(tmp_path, labs=[".git"])
    with pytest.raises(CourseError):
        course.lab(".git")


def test_lab_title_from_settings(tmp_path):
    course = make_course(tmp_path, solutions=["lab1"])
    (tmp_path / "solutions" / "lab1" / "lab.toml").write_text('title = "Warm-up"\n', encoding="utf-8")
    assert course.lab("lab1").title == "Warm-up"


def test_lab_with_invalid_toml_raises_course_error(tmp_path):
    course = make_course(tmp_path, solutions=["lab1"])
    (tmp_path / "solutions" / "lab1" / "lab.toml").write_text("memory = = 3\n", encoding="utf-8")
    with pytest.raises(CourseError):
        course.lab("lab1")


# --- Settings.load ---------------------------------------------------------------------


def test_settings_defaults_when_file_missing(tmp_path):
    settings = Settings.load(tmp_path / "lab.toml")
    assert settings == Settings()
    assert settings.title == ""
    assert settings.cell_timeout == DEFAULT_CELL_TIMEOUT
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.memory == DEFAULT_MEMORY_MIB
    assert settings.show_hidden_output is False


def test_settings_missing_when_path_is_a_folder(tmp_path):
    (tmp_path / "lab.toml").mkdir()
    assert Settings.load(tmp_path / "lab.toml") == Settings()


def test_settings_reads_every_key(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('title = "Lab One"\ncell_timeout = 5\ntimeout = 60.5\nmemory = 512\n'
                    "show_hidden_output = true\n", encoding="utf-8")
    settings = Settings.load(path)
    assert settings == Settings(title="Lab One", cell_timeout=5, timeout=60.5, memory=512,
                                show_hidden_output=True)


def test_settings_partial_file_keeps_other_defaults(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text("memory = 2048\n", encoding="utf-8")
    settings = Settings.load(path)
    assert settings.memory == 2048
    assert settings.timeout == DEFAULT_TIMEOUT and settings.title == ""


def test_settings_empty_file_is_defaults(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text("", encoding="utf-8")
    assert Settings.load(path) == Settings()


@pytest.mark.parametrize("line", [
    'memory = "big"',
    "memory = 1.5",
    "memory = true",
    "timeout = true",
    'timeout = "60"',
    "cell_timeout = false",
    "cell_timeout = [1]",
    "title = 5",
    "title = true",
    "show_hidden_output = 1",
    'show_hidden_output = "yes"',
])
def test_settings_rejects_wrong_types(tmp_path, line):
    path = tmp_path / "lab.toml"
    path.write_text(line + "\n", encoding="utf-8")
    key = line.split("=")[0].strip()
    with pytest.raises(CourseError, match=key):
        Settings.load(path)


@pytest.mark.parametrize("text", ["memory = = 3\n", "[unclosed\n", 'title = "no end\n', "a = 1\na = 2\n"])
def test_settings_rejects_invalid_toml(tmp_path, text):
    path = tmp_path / "lab.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CourseError, match="TOML"):
        Settings.load(path)


def test_settings_rejects_non_utf8(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_bytes(b'title = "\xff\xfe"\n')
    with pytest.raises(CourseError):
        Settings.load(path)


# --- Lab helpers -----------------------------------------------------------------------


def test_student_files_excludes_generated_files_and_dotfiles(tmp_path):
    """The notebook comes as submitted; lab.toml and requirements.txt are for the student's machine,
    and a notebook that writes its own requirements.txt must not find a read-only one in its way."""
    course = make_course(tmp_path, labs=["lab1"])
    lab_dir = tmp_path / "labs" / "lab1"
    for name in ["lab.ipynb", "lab.toml", "requirements.txt", ".hidden", "data.csv", "helper.py"]:
        (lab_dir / name).write_text("# x\n", encoding="utf-8")
    (lab_dir / ".ipynb_checkpoints").mkdir()
    (lab_dir / "tests").mkdir()
    files = course.lab("lab1").student_files()
    assert files == [lab_dir / "data.csv", lab_dir / "helper.py", lab_dir / "tests"]


def test_student_files_when_lab_dir_missing(tmp_path):
    course = make_course(tmp_path, solutions=["lab1"])
    assert course.lab("lab1").student_files() == []


def test_test_dirs_public_first_and_only_existing(tmp_path):
    course = make_course(tmp_path, labs=["lab1"], solutions=["lab1"])
    lab = course.lab("lab1")
    assert lab.test_dirs() == []
    lab.hidden_tests.mkdir()
    assert lab.test_dirs() == [lab.hidden_tests]
    lab.public_tests.mkdir()
    assert lab.test_dirs() == [lab.public_tests, lab.hidden_tests]
    assert lab.test_dirs(hidden=False) == [lab.public_tests]


def test_test_dirs_ignores_a_file_named_tests(tmp_path):
    course = make_course(tmp_path, labs=["lab1"], solutions=["lab1"])
    lab = course.lab("lab1")
    lab.public_tests.write_text("not a folder", encoding="utf-8")
    lab.hidden_tests.mkdir()
    assert lab.test_dirs() == [lab.hidden_tests]
    assert lab.test_dirs(hidden=False) == []


# --- strict settings and kits ----------------------------------------------------------


@pytest.mark.parametrize(("typo", "meant"), [("cell_timout", "cell_timeout"), ("timeuot", "timeout"),
                                             ("memroy", "memory"), ("titel", "title"), ("kit", "kits"),
                                             ("show_hidden_outputs", "show_hidden_output")])
def test_an_unknown_key_is_refused_naming_it_and_the_known_keys(tmp_path, typo, meant):
    path = tmp_path / "lab.toml"
    path.write_text(f"{typo} = 5\n", encoding="utf-8")
    with pytest.raises(CourseError, match=f"unknown setting '{typo}' \\(did you mean '{meant}'\\?\\)") as caught:
        Settings.load(path)
    assert all(key in str(caught.value) for key in ("title", "cell_timeout", "timeout", "memory", "kits"))


@pytest.mark.parametrize("line", ["timeout = 0", "cell_timeout = -1", "memory = 0", 'kits = "llm"', "kits = [1]",
                                  "timeout = nan", "cell_timeout = -inf"])
def test_limits_must_be_positive_and_kits_a_list_of_names(tmp_path, line):
    path = tmp_path / "lab.toml"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CourseError, match=line.split(" ")[0]):
        Settings.load(path)


def test_kits_are_declared_once_whichever_way_they_are_spelt(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('kits = ["deployment", "llm"]\nllm = true\n', encoding="utf-8")
    assert Settings.load(path).kit_names == ("deployment", "llm")
    path.write_text("llm = true\n", encoding="utf-8")
    assert Settings.load(path).kit_names == ("llm",)


def test_an_unknown_kit_is_a_course_error_naming_the_kits(tmp_path):
    from grader import kits

    with pytest.raises(CourseError, match="no kit 'vector' \\(kits: .*llm"):
        kits.load("vector")
    with pytest.raises(CourseError):
        kits.files("../llm")


# --- where the settings come from: the solution's, else the copy in labs/ -----------------


def write_settings(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab.toml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("labs_copy", [None, 'title = "labs"\nmemory = 64\n', "unknown_key = 1\n"])
def test_the_solutions_settings_win_where_the_solution_folder_is(tmp_path, labs_copy):
    """The instructor's course reads solutions/<id>/lab.toml, whatever labs/<id>/ holds."""
    write_settings(tmp_path / "solutions" / "lab1", 'title = "solution"\nmemory = 512\n')
    if labs_copy is not None:
        write_settings(tmp_path / "labs" / "lab1", labs_copy)
    settings = Course(tmp_path).lab("lab1").settings
    assert (settings.title, settings.memory) == ("solution", 512)


def test_a_solution_folder_without_settings_means_the_defaults(tmp_path):
    (tmp_path / "solutions" / "lab1").mkdir(parents=True)
    write_settings(tmp_path / "labs" / "lab1", "memory = 64\n")
    assert Course(tmp_path).lab("lab1").settings == Settings()


@pytest.mark.parametrize("text, expected", [
    ('title = "LLM"\ntimeout = 90\nkits = ["llm"]\n', {"title": "LLM", "timeout": 90, "kit_names": ("llm",)}),
    ("cell_timeout = 2.5\nmemory = 2048\n", {"cell_timeout": 2.5, "memory": 2048, "kit_names": ()}),
    ("", {"title": "", "timeout": DEFAULT_TIMEOUT}),
])
def test_a_labs_only_repository_reads_the_copy_in_labs(tmp_path, text, expected):
    """A student's repository has no solutions/: the settings grade assign copied into labs/<id>/."""
    write_settings(tmp_path / "labs" / "lab1", text)
    settings = Course.find(tmp_path).lab("lab1").settings
    assert {key: getattr(settings, key) for key in expected} == expected


@pytest.mark.parametrize("line", ["cell_timout = 5", "memory = 0", "kits = 3", "[table]"])
def test_the_copy_in_labs_is_read_as_strictly(tmp_path, line):
    write_settings(tmp_path / "labs" / "lab1", line + "\n")
    with pytest.raises(CourseError, match=str(tmp_path / "labs" / "lab1" / "lab.toml")):
        Course(tmp_path).lab("lab1")


# --- the student's copy of the settings ------------------------------------------------------

TITLES = ["Lab", 'quotes " and \\ backslash', "tab\tnew\nline", "unicode é ü 東京 😀", "del \x7f and \x01",
          "'single' and \"\"\" triple", "[brackets] = # not a comment"]


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("kits", [(), ("llm",), ("deployment", "llm")])
def test_student_settings_read_back_as_written(tmp_path, title, kits):
    settings = Settings(title=title, cell_timeout=2.5, timeout=90, memory=2048, show_hidden_output=True, kits=kits)
    (tmp_path / "lab.toml").write_text(student_toml(settings), encoding="utf-8")
    back = Settings.load(tmp_path / "lab.toml")
    assert back == Settings(title=title, cell_timeout=2.5, timeout=90, memory=2048, kits=kits)


def test_student_settings_hold_only_what_a_check_needs():
    text = student_toml(Settings(title="T", show_hidden_output=True, llm=True))
    assert text.startswith("# Generated by `grade assign`")
    keys = [line.split(" = ")[0] for line in text.splitlines() if not line.startswith("#")]
    assert keys == list(STUDENT_KEYS)
    assert "show_hidden_output" not in text and 'kits = ["llm"]' in text and "llm = " not in text


def test_student_settings_leave_out_an_empty_title():
    assert "title" not in student_toml(Settings())
