"""The 00-python-git lab graded end to end against the grader's REST API, git in fresh sandboxes
and the mutation kit: the solution, the untouched student notebook, other correct solutions, and
typical mistakes, in one ``grade`` batch.

The graded notebooks are kept as files under ``tests/labs/00-python-git/``. Each is the solution
with some answer cells replaced; a cell is found by its last tag (``q6-init``, ``q6-merge`` and
``q6-revert`` are q6's three functions, ``q7-find``, ``q7-remove`` and ``q7-why`` q7's parts; q3
has no cell of its own: its hints are in q1's and q2's). A test below checks that the files still
match that recipe; ``python tests/test_lab_00_python_git.py`` rewrites them after the solution
changes.

The lab's own parts are checked in this process over generated families of inputs: the rewrite of
``slugify`` answers as the given one does, each faulty version is a bug some title shows, the
hidden q1 tests' truth is what the solution computes, and the hidden q3 tests accept every
equivalent spelling of the hints and refuse wrong ones.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import REPO, KeptNotebooks, edit
from lab_suite import LabSuite, assert_docker_grades_the_same, load_module, solution_cell

LAB = "00-python-git"


# --- correct answers in other styles -------------------------------------------------------

# Counters, a dataclass, a page-number loop, parametrized tests, and git from `!` shell lines.
COUNTER_SUMMARY = '''
def summarise_events(lines: Iterable[str]) -> dict:
    """One pass, counting with Counters."""
    actions, errors, users, malformed = Counter(), Counter(), set(), 0
    for raw in lines:
        if not raw.strip():
            continue
        parts = raw.split()
        if len(parts) == 4 and parts[3] in {"ok", "error"}:
            _, user, action, status = parts
            users.add(user)
            actions[action] += 1
            errors[action] += status == "error"
        else:
            malformed += 1
    return {"events": sum(actions.values()), "malformed": malformed, "users": users, "actions": actions,
            "error_rate": {a: errors[a] / n for a, n in actions.items()}}
'''

DATACLASS_TICKET = '''
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self


class TicketClosedError(RuntimeError):
    """Closing twice."""


@dataclass
class Ticket:
    id: int
    title: str
    status: str = "open"
    tags: Iterable[str] = ()

    def __post_init__(self) -> None:
        if type(self.id) is not int:
            raise TypeError(f"id {self.id!r} is not an int")
        if self.id < 1:
            raise ValueError(f"id {self.id} is below 1")
        if not self.title or self.title.isspace():
            raise ValueError("the title is blank")
        if self.status not in {"open", "pending", "closed"}:
            raise ValueError(f"status {self.status!r} is not open, pending or closed")
        self.tags = {t.lower() for t in self.tags}

    def close(self) -> None:
        if self.status == "closed":
            raise TicketClosedError(f"#{self.id} was closed already")
        self.status = "closed"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        return cls(**{key: record[key] for key in ("id", "title", "status", "tags")})
'''

PAGE_NUMBER_CLIENT = '''
def get_json(path, params=None, max_attempts=3):
    attempts = 0
    while True:
        attempts += 1
        r = http.get(path, params=params)
        if r.status_code == 429 and attempts < max_attempts:
            time.sleep(int(r.headers["Retry-After"]))
            continue
        if r.status_code == 429:
            raise RuntimeError(f"gave up after {attempts} attempts: 429 Too Many Requests")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()


def fetch_all(collection, per_page=10):
    """Page numbers until the total is reached."""
    records, page = [], 1
    while True:
        body = get_json(f"/{collection}", {"page": page, "per_page": per_page})
        records += body["items"]
        if page * per_page >= body["total"]:
            return records
        page += 1


def get_record(collection, record_id):
    return get_json(f"/{collection}/{record_id}")
'''

PARAMETRIZED_TESTS = '''
%%writefile test_textutils.py
import pytest

from textutils import slugify


@pytest.mark.parametrize("text, expected", [
    ("Login fails on Safari!", "login-fails-on-safari"),
    ("  --Hello__World--  ", "hello-world"),
    ("A  B", "a-b"),
    ("Version 2.0", "version-2-0"),
])
def test_slugify(text, expected):
    assert slugify(text) == expected


@pytest.mark.parametrize("n, expected", [(5, "hello"), (6, "hello"), (7, "hello-w"), (11, "hello-world")])
def test_max_length(n, expected):
    assert slugify("Hello world", max_length=n) == expected


def test_empty():
    with pytest.raises(ValueError):
        slugify("")
'''

SHELL_INIT = '''
def init_project(path, name, email):
    os.makedirs(path, exist_ok=True)
    !git -C {path} init --quiet --initial-branch=main
    !git -C {path} config user.name "{name}"
    !git -C {path} config user.email "{email}"
    Path(path, ".gitignore").write_text(".env\\ndata/\\n")
    Path(path, "README.md").write_text("# Desk tools\\n")
    !git -C {path} add .gitignore README.md
    !git -C {path} commit --quiet -m "Start the project with a README and a .gitignore"
'''

SHELL_MERGE = '''
def merge_conflicting(path, branch, main_text, branch_text):
    notes = os.path.join(path, "notes.txt")
    with open(notes, "w") as f:
        f.write("status: draft\\n")
    !git -C {path} add notes.txt && git -C {path} commit -q -m "Start the notes as a draft"
    !git -C {path} checkout -q -b {branch}
    with open(notes, "w") as f:
        f.write(branch_text + "\\n")
    !git -C {path} commit -q -am "Set the status of the notes on the branch"
    !git -C {path} checkout -q main
    with open(notes, "w") as f:
        f.write(main_text + "\\n")
    !git -C {path} commit -q -am "Set the status of the notes on main"
    !git -C {path} merge {branch} > /dev/null
    with open(notes, "w") as f:
        f.write(main_text + "\\n" + branch_text + "\\n")
    !git -C {path} add notes.txt
    !git -C {path} commit -q -m "Merge {branch}, keeping both statuses"
'''

SHELL_REVERT = '''
def revert_commit(path, sha):
    !git -C {path} revert --no-edit {sha}
'''

SHELL_FIND = '''
def commits_containing(path, secret):
    hits = !git -C {path} grep -F -l {secret} $(git -C {path} rev-list --all)
    return {hit.split(":")[0] for hit in hits}
'''

SHELL_REMOVE = '''
def remove_from_history(path, filename):
    !cd {path} && git filter-branch -f --tree-filter "rm -f {filename}" -- --all > /dev/null 2>&1
    !cd {path} && git for-each-ref --format="%(refname)" refs/original/ | xargs -r -n 1 git update-ref -d
'''

UPPER_CASE_LETTER = '''
WHY_ROTATE = "B"  # copies made before the rewrite
'''

# A TypedDict and comprehensions, a plain class with an exception of its own, typing's old
# spellings, a generator of pages following `next`, a test class, and git through subprocess.
TYPED_DICT_SUMMARY = '''
from typing import Dict, List, Set, TypedDict


class Summary(TypedDict):
    events: int
    malformed: int
    users: Set[str]
    actions: Dict[str, int]
    error_rate: Dict[str, float]


def summarise_events(lines: List[str]) -> Summary:
    """Parse first, then count with comprehensions."""
    rows = [line.split() for line in lines if line.strip()]
    valid = [row for row in rows if len(row) == 4 and row[3] in ("ok", "error")]
    counts = {action: sum(1 for row in valid if row[2] == action) for action in {row[2] for row in valid}}
    return Summary(
        events=len(valid), malformed=len(rows) - len(valid), users={row[1] for row in valid}, actions=counts,
        error_rate={a: sum(1 for row in valid if row[2] == a and row[3] == "error") / n for a, n in counts.items()})
'''

PLAIN_CLASS_TICKET = '''
from typing import Dict, Optional, Sequence


class InvalidTicket(ValueError):
    """Bad data for a ticket."""


class TicketClosedError(Exception):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket #{ticket_id} is closed already")


class Ticket:
    STATUSES = frozenset({"open", "pending", "closed"})

    def __init__(self, id: int, title: str, status: str = "open", tags: Optional[Sequence[str]] = None) -> None:
        if not isinstance(id, int) or isinstance(id, bool):
            raise TypeError(f"expected an int id, got {type(id).__name__} {id!r}")
        if id <= 0:
            raise InvalidTicket(f"id must be positive: {id}")
        if title.strip() == "":
            raise InvalidTicket("empty title")
        if status not in self.STATUSES:
            raise InvalidTicket(f"bad status: {status}")
        self.id, self.title, self.status = id, title, status
        self.tags = set(map(str.lower, tags or []))

    def close(self) -> None:
        if self.status == "closed":
            raise TicketClosedError(self.id)
        self.status = "closed"

    @classmethod
    def from_record(cls, record: Dict[str, object]) -> "Ticket":
        return cls(record["id"], record["title"], status=record["status"], tags=record["tags"])
'''

NEXT_GENERATOR_CLIENT = '''
def get_json(path, params=None, max_attempts=3):
    for attempt in range(max_attempts):
        r = http.get(path, params=params)
        if r.status_code != 429:
            break
        if attempt + 1 < max_attempts:
            time.sleep(float(r.headers.get("retry-after", 1)))
    else:
        raise RuntimeError(f"rate limited on all {max_attempts} attempts")
    if r.status_code == httpx.codes.NOT_FOUND:
        return None
    r.raise_for_status()
    return r.json()


def pages(collection, per_page):
    url, params = f"/{collection}", {"per_page": per_page}
    while url:
        body = get_json(url, params)
        yield body["items"]
        url, params = body["next"], None


def fetch_all(collection, per_page=10):
    return [record for items in pages(collection, per_page) for record in items]


def get_record(collection, record_id):
    return get_json(f"/{collection}/{record_id}")
'''

TEST_CLASS = '''
%%writefile test_textutils.py
import pytest

import textutils


class TestSlugify:
    def test_words(self):
        assert textutils.slugify("Export to CSV times out") == "export-to-csv-times-out"

    def test_punctuation_runs(self):
        assert textutils.slugify("what?!... really") == "what-really"

    def test_edges(self):
        assert textutils.slugify("(urgent) refund ") == "urgent-refund"

    def test_long_titles_are_cut(self):
        assert textutils.slugify("a" * 50) == "a" * 40
        assert textutils.slugify("x" * 39 + " yz") == "x" * 39

    def test_rejects_empty(self):
        with pytest.raises(ValueError):
            textutils.slugify("***")
'''

SUBPROCESS_INIT = '''
def run(path, *args, allowed=(0,)):
    done = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True)
    if done.returncode not in allowed:
        raise RuntimeError(done.stderr)
    return done.stdout.strip()


def init_project(path, name, email):
    """git init, then rename the first branch to main once it has a commit."""
    os.makedirs(path, exist_ok=True)
    run(path, "init")
    run(path, "config", "--local", "user.name", name)
    run(path, "config", "--local", "user.email", email)
    with open(os.path.join(path, ".gitignore"), "w") as f:
        f.write("# local settings and secrets\\n.env\\n\\n# datasets\\n/data/\\n")
    with open(os.path.join(path, "README.md"), "w") as f:
        f.write("Support desk tools\\n")
    run(path, "add", "--all")
    run(path, "commit", "-m", "Initial commit: README and .gitignore")
    run(path, "branch", "-M", "main")
'''

SUBPROCESS_MERGE = '''
def merge_conflicting(path, branch, main_text, branch_text):
    notes = Path(path) / "notes.txt"
    notes.write_text("status: draft\\n")
    run(path, "add", "notes.txt")
    run(path, "commit", "-m", "Draft the notes")
    run(path, "branch", branch)
    run(path, "checkout", branch)
    notes.write_text(branch_text + "\\n")
    run(path, "commit", "-a", "-m", "Give the notes the branch status")
    run(path, "checkout", "main")
    notes.write_text(main_text + "\\n")
    run(path, "commit", "-a", "-m", "Give the notes the main status")
    run(path, "merge", "--no-ff", branch, allowed=(0, 1))
    kept = [line for line in notes.read_text().splitlines() if not line.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
    notes.write_text("\\n".join(kept) + "\\n")
    run(path, "add", "notes.txt")
    run(path, "commit", "-m", "Merge the branch notes, keeping both statuses")
'''

SUBPROCESS_REVERT = '''
def revert_commit(path, sha):
    run(path, "revert", sha, "--no-edit")
'''

SUBPROCESS_FIND = '''
def commits_containing(path, secret):
    shas = run(path, "rev-list", "--all").split()
    done = subprocess.run(["git", "grep", "-l", "-F", "-e", secret, *shas], cwd=path, capture_output=True, text=True)
    return sorted({line.split(":", 1)[0] for line in done.stdout.splitlines()})
'''

SUBPROCESS_REMOVE = '''
def remove_from_history(path, filename):
    run(path, "filter-branch", "-f", "--prune-empty", "--index-filter",
        f"git rm -q --cached --ignore-unmatch {filename}", "--", "--branches")
    shutil.rmtree(os.path.join(path, ".git", "refs", "original"), ignore_errors=True)
'''

# A regular expression and a defaultdict, properties that validate, module-level httpx calls and
# recursion over `next`, tests named by the rule they check, and a merge resolved from git's index
# stages, all through subprocess.check_output.
REGEX_SUMMARY = r'''
import re
from collections import defaultdict
from typing import Iterable

EVENT = re.compile(r"(\S+)\s+(\S+)\s+(\S+)\s+(ok|error)")


def summarise_events(lines: Iterable[str]) -> dict[str, object]:
    per_action = defaultdict(lambda: [0, 0])  # action -> [events, errors]
    users, malformed = set(), 0
    for line in map(str.strip, lines):
        if not line:
            continue
        match = EVENT.fullmatch(line)
        if match is None:
            malformed += 1
            continue
        _, user, action, status = match.groups()
        users.add(user)
        per_action[action][0] += 1
        per_action[action][1] += status == "error"
    return {"events": sum(n for n, _ in per_action.values()), "malformed": malformed, "users": users,
            "actions": {a: n for a, (n, _) in per_action.items()},
            "error_rate": {a: e / n for a, (n, e) in per_action.items()}}
'''

PROPERTY_TICKET = '''
from typing import Optional


class TicketClosedError(Exception):
    pass


class Ticket:
    __slots__ = ("_id", "title", "_status", "tags")
    STATUSES = ("open", "pending", "closed")

    def __init__(self, id: int, title: str, status: str = "open", tags: Optional[list[str]] = None) -> None:
        if type(id) is not int:
            raise TypeError(f"Ticket id should be int, got {id!r}")
        if id < 1:
            raise ValueError(f"Ticket id should be >= 1, got {id!r}")
        if not title or not title.strip():
            raise ValueError(f"Ticket title is empty: {title!r}")
        self._id, self.title = id, title
        self.status = status
        self.tags = {t.casefold() for t in tags or ()}

    @property
    def id(self) -> int:
        return self._id

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        if value not in self.STATUSES:
            raise ValueError(f"status must be one of {self.STATUSES}, got {value!r}")
        self._status = value

    def close(self) -> None:
        if self._status == "closed":
            raise TicketClosedError(f"Ticket {self._id}: already closed")
        self.status = "closed"

    @classmethod
    def from_record(cls, record: "dict[str, Any]") -> "Ticket":
        return cls(id=record["id"], title=record["title"], status=record["status"], tags=list(record["tags"]))
'''

RECURSIVE_CLIENT = '''
def get_json(path, params=None, max_attempts=3):
    url = API_BASE_URL.rstrip("/") + path
    for attempt in range(1, max_attempts + 1):
        response = httpx.get(url, params=params, timeout=10)
        if response.status_code == 429:
            if attempt == max_attempts:
                raise RuntimeError(f"rate limited: gave up after {attempt} tries of {path}")
            time.sleep(int(response.headers.get("Retry-After", 1)))
            continue
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()


def fetch_all(collection, per_page=10, path=None):
    page = get_json(path or f"/{collection}", None if path else {"page": 1, "per_page": per_page})
    rest = fetch_all(collection, per_page, page["next"]) if page["next"] else []
    return page["items"] + rest


def get_record(collection, record_id):
    return get_json(f"/{collection}/{int(record_id)}")
'''

NAMED_CASES_TESTS = '''
%%writefile test_textutils.py
"""Tests of slugify, one rule of its docstring each."""
import pytest

from textutils import slugify

CASES = {
    "lowercase": ("MiXeD Case", "mixed-case"),
    "punctuation run": ("one, two; three", "one-two-three"),
    "ends": ("!!!wow!!!", "wow"),
    "accents": ("naïve café", "na-ve-caf"),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_rules(text, expected):
    assert slugify(text) == expected


def test_exact_cut():
    assert slugify("0123456789", 10) == "0123456789"
    assert slugify("0123456789", 9) == "012345678"


def test_cut_before_dash():
    assert slugify("ab cd", 3) == "ab"


def test_blank():
    with pytest.raises(ValueError):
        slugify("  ")
'''

STAGES_INIT = '''
def sh(path, *args):
    return subprocess.check_output(("git", *args), cwd=path, text=True, stderr=subprocess.STDOUT)


def init_project(path, name, email):
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    sh(p, "init", "--initial-branch", "main")
    sh(p, "config", "user.name", name)
    sh(p, "config", "user.email", email)
    (p / ".gitignore").write_text("/.env\\ndata\\n")
    (p / "README.md").write_text("# Helpdesk\\n")
    sh(p, "add", "README.md", ".gitignore")
    sh(p, "commit", "--message", "Create the project: README and ignore rules")
'''

STAGES_MERGE = '''
def merge_conflicting(path, branch, main_text, branch_text):
    p = Path(path)
    (p / "notes.txt").write_text("status: draft\\n")
    sh(p, "add", "notes.txt")
    sh(p, "commit", "-m", "Write the first notes")
    sh(p, "checkout", "-b", branch)
    (p / "notes.txt").write_text(f"{branch_text}\\n")
    sh(p, "commit", "-qam", "Change the status on the branch")
    sh(p, "checkout", "main")
    (p / "notes.txt").write_text(f"{main_text}\\n")
    sh(p, "commit", "-qam", "Change the status on main")
    merge = subprocess.run(["git", "merge", branch], cwd=p, capture_output=True, text=True)
    assert merge.returncode == 1 and "CONFLICT" in merge.stdout, merge.stdout
    ours, theirs = sh(p, "show", ":2:notes.txt"), sh(p, "show", ":3:notes.txt")  # the two sides, from the index
    (p / "notes.txt").write_text(ours + theirs)
    sh(p, "add", "notes.txt")
    sh(p, "commit", "--no-edit")
'''

STAGES_REVERT = '''
def revert_commit(path, sha):
    sh(path, "revert", "--no-edit", sha)
'''

LOG_FIND = '''
def commits_containing(path, secret):
    found = []
    for sha in sh(path, "log", "--all", "--format=%H").split():
        if subprocess.run(["git", "grep", "--quiet", "--fixed-strings", secret, sha], cwd=path).returncode == 0:
            found.append(sha)
    return found
'''

TAG_FILTER_REMOVE = '''
def remove_from_history(path, filename):
    sh(path, "filter-branch", "--force", "--index-filter", f"git rm -r --cached --quiet --ignore-unmatch {filename}",
       "--tag-name-filter", "cat", "--", "--all")
    for ref in sh(path, "for-each-ref", "--format=%(refname)", "refs/original").split():
        sh(path, "update-ref", "-d", ref)
'''

PARENTHESISED_LETTER = '''
WHY_ROTATE = "(b)"
'''

CORRECT: dict[str, dict[str, str]] = {
    "counters-dataclass-shell": {"q1": COUNTER_SUMMARY, "q2": DATACLASS_TICKET, "q4": PAGE_NUMBER_CLIENT,
                                 "q5": PARAMETRIZED_TESTS, "q6-init": SHELL_INIT, "q6-merge": SHELL_MERGE,
                                 "q6-revert": SHELL_REVERT, "q7-find": SHELL_FIND, "q7-remove": SHELL_REMOVE,
                                 "q7-why": UPPER_CASE_LETTER},
    "typeddict-next-subprocess": {"q1": TYPED_DICT_SUMMARY, "q2": PLAIN_CLASS_TICKET, "q4": NEXT_GENERATOR_CLIENT,
                                  "q5": TEST_CLASS, "q6-init": SUBPROCESS_INIT, "q6-merge": SUBPROCESS_MERGE,
                                  "q6-revert": SUBPROCESS_REVERT, "q7-find": SUBPROCESS_FIND,
                                  "q7-remove": SUBPROCESS_REMOVE},
    "regex-properties-stages": {"q1": REGEX_SUMMARY, "q2": PROPERTY_TICKET, "q4": RECURSIVE_CLIENT,
                                "q5": NAMED_CASES_TESTS, "q6-init": STAGES_INIT, "q6-merge": STAGES_MERGE,
                                "q6-revert": STAGES_REVERT, "q7-find": LOG_FIND, "q7-remove": TAG_FILTER_REMOVE,
                                "q7-why": PARENTHESISED_LETTER},
}

# --- typical mistakes ----------------------------------------------------------------------

COUNTED_SUMMARY = '''
def summarise_events(lines: Iterable[str]) -> dict[str, Any]:
    actions, errors, users, malformed = {}, {}, set(), 0
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4 or fields[3] not in ("ok", "error"):
            malformed += 1
            continue
        _, user, action, status = fields
        users.add(user)
        actions[action] = actions.get(action, 0) + 1
        errors[action] = errors.get(action, 0) + (status == "error")
    return {"events": sum(actions.values()), "malformed": malformed, "users": users, "actions": actions,
            "error_rate": {a: errors[a] / n for a, n in actions.items()}}
'''  # a correct q1, which the mistakes below change

BLANK_LINES_MALFORMED = edit(COUNTED_SUMMARY, "        if not fields:\n            continue\n", "")

RATE_OVER_ALL_EVENTS = edit(edit(
    COUNTED_SUMMARY, '    return {"events": sum(actions.values()),',
    '    total = sum(actions.values())\n    return {"events": total,'),
    "{a: errors[a] / n for a, n in actions.items()}", "{a: errors[a] / total for a in actions}")

USERS_AS_A_LIST = edit(edit(COUNTED_SUMMARY, "{}, {}, set(), 0", "{}, {}, [], 0"),
                       "        users.add(user)\n", "        if user not in users:\n            users.append(user)\n")


def ticket(checks: str, close: str = 'raise TicketClosedError(f"ticket {self.id} is already closed")') -> str:
    """The solution's Ticket with other checks in __init__ or another error for a second close()."""
    return f'''
class TicketClosedError(Exception):
    """Closing twice."""


class Ticket:
    def __init__(self, id: int, title: str, status: str = "open", tags: Iterable[str] = ()) -> None:
{checks}
        self.id, self.title, self.status = id, title, status
        self.tags = {{tag.lower() for tag in tags}}

    def close(self) -> None:
        if self.status == "closed":
            {close}
        self.status = "closed"

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Ticket":
        return cls(record["id"], record["title"], record["status"], record["tags"])
'''


CHECKS = '''        if not isinstance(id, int):
            raise TypeError(f"id {id!r} is not an int")
        if id < 1:
            raise ValueError(f"id {id} is below 1")
        if not title.strip():
            raise ValueError("the title is blank")
        if status not in ("open", "pending", "closed"):
            raise ValueError(f"unknown status {status!r}")'''  # the solution's, which a mistake may keep

VAGUE_ERRORS = ticket(edit(edit(edit(edit(
    CHECKS, 'f"id {id!r} is not an int"', '"invalid id"'), 'f"id {id} is below 1"', '"invalid id"'),
    '"the title is blank"', '"invalid title"'), 'f"unknown status {status!r}"', '"invalid status"'))

ASSERTS_FOR_CHECKS = ticket('''        assert isinstance(id, int), f"id {id!r} is not an int"
        assert id >= 1, f"id {id} is below 1"
        assert title.strip(), "the title is blank"
        assert status in ("open", "pending", "closed"), f"unknown status {status!r}"''')

SECOND_CLOSE_IGNORED = ticket(CHECKS, close="return")

NO_HINTS_SUMMARY = edit(COUNTED_SUMMARY, "(lines: Iterable[str]) -> dict[str, Any]:", "(lines):")

NO_HINTS_TICKET = ticket(CHECKS).replace(
    "(self, id: int, title: str, status: str = \"open\", tags: Iterable[str] = ()) -> None",
    "(self, id, title, status=\"open\", tags=())").replace("def close(self) -> None", "def close(self)").replace(
    "(cls, record: dict[str, Any]) -> \"Ticket\"", "(cls, record)")

STR_HINTS_TICKET = NO_HINTS_TICKET.replace(
    "(self, id, title, status=\"open\", tags=())",
    "(self, id: int, title: str, status: str = \"open\", tags: str = ()) -> None")

GET_RECORD = '''
def get_record(collection, record_id):
    return get_json(f"/{collection}/{record_id}")
'''

FOLLOW_NEXT = '''
def fetch_all(collection, per_page=10):
    records, path, params = [], f"/{collection}", {"page": 1, "per_page": per_page}
    while path is not None:
        page = get_json(path, params)
        records.extend(page["items"])
        path, params = page["next"], None
    return records
'''

WAITING_GET_JSON = '''
def get_json(path, params=None, max_attempts=3):
    for attempt in range(1, max_attempts + 1):
        response = http.get(path, params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 429:
            response.raise_for_status()
            return response.json()
        if attempt < max_attempts:
            time.sleep(float(response.headers.get("Retry-After", "1")))
    raise RuntimeError(f"{path}: still rate limited after {max_attempts} attempts")
'''


def client(get_json: str, fetch_all: str = FOLLOW_NEXT) -> str:
    """An API client cell: its ``get_json`` and ``fetch_all``, and the ``get_record`` every mistake shares."""
    return "\n\n".join(part.strip("\n") + "\n" for part in (get_json, fetch_all, GET_RECORD))


NO_WAIT_BEFORE_RETRY = client(WAITING_GET_JSON.replace(
    '''        if attempt < max_attempts:
            time.sleep(float(response.headers.get("Retry-After", "1")))
''', ""))

FIRST_PAGE_ONLY = client(WAITING_GET_JSON, '''
def fetch_all(collection, per_page=10):
    return get_json(f"/{collection}", {"per_page": per_page})["items"]
''')

RETRIES_EVERY_ERROR = client(WAITING_GET_JSON.replace(
    "        if response.status_code != 429:\n"
    "            response.raise_for_status()\n            return response.json()",
    "        if response.status_code < 400:\n            return response.json()"))

RETRIES_FOREVER = client('''
def get_json(path, params=None, max_attempts=3):
    while True:
        response = http.get(path, params=params)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()
''')

WEAK_TESTS = '''
%%writefile test_textutils.py
from textutils import slugify


def test_lowercase():
    assert slugify("Hello World") == "hello-world"


def test_not_too_long():
    assert len(slugify("word " * 30)) <= 40


def test_returns_a_string():
    assert isinstance(slugify("Refund, please!"), str)
'''

WRONG_EXPECTATION_TESTS = '''
%%writefile test_textutils.py
from textutils import slugify


def test_words():
    assert slugify("Login fails on Safari!") == "login-fails-on-safari"


def test_accents_are_kept():
    assert slugify("Café crème") == "café-crème"
'''

GLOBAL_AUTHOR = '''
def init_project(path: str, name: str, email: str) -> None:
    Path(path).mkdir(parents=True, exist_ok=True)
    git(path, "init", "-b", "main")
    git(path, "config", "--global", "user.name", name)
    git(path, "config", "--global", "user.email", email)
    Path(path, ".gitignore").write_text(".env\\ndata/\\n")
    Path(path, "README.md").write_text("# Support desk tools\\n")
    git(path, "add", ".gitignore", "README.md")
    git(path, "commit", "-m", "Add README and ignore secrets and data")
'''

IGNORES_ONLY_ENV = GLOBAL_AUTHOR.replace('"--global", ', "").replace(".env\\ndata/\\n", ".env\\n")

VAGUE_MESSAGES = GLOBAL_AUTHOR.replace('"--global", ', "").replace("Add README and ignore secrets and data", "wip")

KEEPS_ONE_SIDE = '''
def merge_conflicting(path: str, branch: str, main_text: str, branch_text: str) -> None:
    notes = Path(path, "notes.txt")
    notes.write_text("status: draft\\n")
    git(path, "add", "notes.txt")
    git(path, "commit", "-m", "Add the release notes")
    git(path, "switch", "-c", branch)
    notes.write_text(branch_text + "\\n")
    git(path, "commit", "-am", f"Update the notes status on {branch}")
    git(path, "switch", "main")
    notes.write_text(main_text + "\\n")
    git(path, "commit", "-am", "Update the notes status on main")
    git(path, "merge", branch, check=False)
    git(path, "checkout", "--ours", "notes.txt")
    git(path, "add", "notes.txt")
    git(path, "commit", "--no-edit")
'''

RESET_INSTEAD_OF_REVERT = '''
def revert_commit(path: str, sha: str) -> None:
    git(path, "reset", "--hard", f"{sha}~1")
'''

CURRENT_BRANCH_ONLY = '''
def remove_from_history(path: str, filename: str) -> None:
    git(path, "filter-branch", "--force", "--index-filter", f"git rm --cached --ignore-unmatch -- '{filename}'")
    for ref in git(path, "for-each-ref", "--format=%(refname)", "refs/original/").split():
        git(path, "update-ref", "-d", ref)
'''

KEEPS_BACKUP_REFS = '''
def remove_from_history(path: str, filename: str) -> None:
    index_filter = f"git rm --cached --ignore-unmatch -- '{filename}'"
    git(path, "filter-branch", "--force", "--index-filter", index_filter, "--", "--all")
'''

DELETED_IN_A_NEW_COMMIT = '''
def remove_from_history(path: str, filename: str) -> None:
    git(path, "rm", "--quiet", "--", filename)
    git(path, "commit", "-m", f"Remove {filename}, which holds a key")
'''

HEAD_ONLY_SEARCH = '''
def commits_containing(path: str, secret: str) -> set[str]:
    shas = git(path, "rev-list", "HEAD").split()
    return {sha for sha in shas if git(path, "grep", "-F", "-l", secret, sha, check=False)}
'''

FILTER_BRANCH_ANSWER = '''
WHY_ROTATE = "c"
'''

MISTAKES: dict[str, dict[str, str]] = {
    "blank-lines-malformed": {"q1": BLANK_LINES_MALFORMED},
    "rate-over-all-events": {"q1": RATE_OVER_ALL_EVENTS},
    "users-as-a-list": {"q1": USERS_AS_A_LIST},
    "vague-errors": {"q2": VAGUE_ERRORS},
    "asserts-for-checks": {"q2": ASSERTS_FOR_CHECKS},
    "second-close-ignored": {"q2": SECOND_CLOSE_IGNORED},
    "no-hints": {"q1": NO_HINTS_SUMMARY, "q2": NO_HINTS_TICKET},
    "str-hints": {"q2": STR_HINTS_TICKET},
    "no-wait-before-retry": {"q4": NO_WAIT_BEFORE_RETRY},
    "first-page-only": {"q4": FIRST_PAGE_ONLY},
    "retries-every-error": {"q4": RETRIES_EVERY_ERROR},
    "retries-forever": {"q4": RETRIES_FOREVER},
    "weak-tests": {"q5": WEAK_TESTS},
    "wrong-expectation-tests": {"q5": WRONG_EXPECTATION_TESTS},
    "global-author": {"q6-init": GLOBAL_AUTHOR},
    "ignores-only-env": {"q6-init": IGNORES_ONLY_ENV},
    "vague-messages": {"q6-init": VAGUE_MESSAGES},
    "keeps-one-side": {"q6-merge": KEEPS_ONE_SIDE},
    "reset-instead-of-revert": {"q6-revert": RESET_INSTEAD_OF_REVERT},
    "current-branch-only": {"q7-remove": CURRENT_BRANCH_ONLY},
    "keeps-backup-refs": {"q7-remove": KEEPS_BACKUP_REFS},
    "deleted-in-a-new-commit": {"q7-remove": DELETED_IN_A_NEW_COMMIT},
    "head-only-search": {"q7-find": HEAD_ONLY_SEARCH},
    "filter-branch-answer": {"q7-why": FILTER_BRANCH_ANSWER},
}

MUTANTS = ("cut_one_short", "dash_at_the_cut", "keeps_case", "leading_dash", "one_dash_per_character")
CATCH = "q5: your tests catch a slugify with a bug (one point per bug caught)"
PASS_GIVEN = "q5: your tests pass on the given slugify and on a rewrite of it that behaves the same"
HINTS = {
    "summarise": "q3: summarise_events takes an iterable of strings and returns a dict",
    "init": "q3: Ticket's id is an int, its title and status strings, its tags an iterable of strings",
    "methods": "q3: close returns None; from_record takes a dict and returns a Ticket",
}
REVERT_TESTS = {
    "q6: revert_commit adds a commit on top: the bad commit and the ones after it stay in history": 2,
    "q6: the revert commit undoes exactly the bad commit's change, and says which commit it reverts": 2,
    "q6: the notebook's project/ holds the merge and the revert, with .env and data/ untracked": 1,
}
SECRET_GONE = "q7: after remove_from_history no commit a branch or a backup ref reaches holds the file or the key"
OTHERS_KEPT = "q7: every other file and commit is kept, on main and on the branch"

# What each mistake must cost, test by test, and nothing else.
EXPECTED_LOSSES: dict[str, dict[str, float]] = {
    "blank-lines-malformed": {
        "q1: events.log has 600 valid events and 7 malformed lines": 1,
        "q1: malformed lines are skipped and counted; blank lines are skipped and not counted": 2,
    },
    "rate-over-all-events": {"q1: the error rate of each action, from 0 to 1": 2},
    "users-as-a-list": {"q1: \"users\" is the set of users seen in valid events": 1},
    "vague-errors": {
        "q2: an id that is not an int raises TypeError naming it": 1,
        "q2: an id below 1 raises ValueError naming it": 1,
        "q2: an unknown status raises ValueError naming it": 1,
    },
    "asserts-for-checks": {
        "q2: a Ticket keeps lowercase tags, and an unknown status is a ValueError": 1,
        "q2: an id that is not an int raises TypeError naming it": 1,
        "q2: an id below 1 raises ValueError naming it": 1,
        "q2: an unknown status raises ValueError naming it": 1,
        "q2: a blank title raises ValueError saying the title is the problem": 1,
    },
    "second-close-ignored": {"q2: close() closes a ticket; closing it again raises TicketClosedError naming its id": 2},
    "no-hints": {"q3: summarise_events has type hints for its parameter and its return": 1,
                 HINTS["summarise"]: 1, HINTS["init"]: 2, HINTS["methods"]: 1},
    "str-hints": {HINTS["init"]: 2, HINTS["methods"]: 1},
    "no-wait-before-retry": {"q4: after a 429, the request is sent again once Retry-After has passed": 2},
    "first-page-only": {
        "q4: fetch_all returns every ticket the API holds, and get_record of a missing id is None": 1,
        "q4: fetch_all returns every record in order, one request per page (at most one more), per_page as asked": 3,
        "q4: fetch_all retries a rate-limited page too": 1,
    },
    "retries-every-error": {"q4: a 500 raises httpx.HTTPStatusError at once, without retrying": 1},
    "retries-forever": {"q4: a 429 every time gives max_attempts requests, then a RuntimeError that says how many": 2},
    "weak-tests": {CATCH: 4},
    "wrong-expectation-tests": {"q5: your test_textutils.py passes on the given slugify": 1, PASS_GIVEN: 2, CATCH: 5},
    "global-author": {
        "q6: init_project makes a repository on main with commits by the author it sets in the repository's own "
        "config": 2},
    "ignores-only-env": {"q6: .gitignore and README.md are committed; .env and data/ are ignored, the code is not": 2},
    "vague-messages": {"q6: every commit your functions made has a message of a few words that says what it does": 1},
    "keeps-one-side": {"q6: the merged notes.txt keeps both sides' lines and no conflict markers": 2},
    "reset-instead-of-revert": REVERT_TESTS,
    "current-branch-only": {SECRET_GONE: 2, OTHERS_KEPT: 2},
    "keeps-backup-refs": {SECRET_GONE: 2},
    "deleted-in-a-new-commit": {SECRET_GONE: 2, OTHERS_KEPT: 2},
    "head-only-search": {"q7: commits_containing finds every commit, on any branch, whose files hold the text": 2},
    "filter-branch-answer": {
        "q7: the key must be rotated because copies made before the rewrite are out of your reach": 1},
}

# The lab's lessons beyond syntax: an API client that survives faults, tests that catch bugs, and
# history that keeps secrets out and mistakes visible. They must weigh at least 15 % of the lab.
LESSON_EXERCISES = ("q4", "q5", "q6", "q7")


def replacements(name: str) -> dict[str, str]:
    """The answer cells (by last tag) that notebook ``name`` replaces in the solution."""
    return {**CORRECT, **MISTAKES}[name]


KEPT = KeptNotebooks(LAB, [*CORRECT, *MISTAKES], replacements)


# --- the lab's own parts, checked in this process ----------------------------------------------

SOLUTION = REPO / "solutions" / LAB
HIDDEN = load_module("lab00_hidden", SOLUTION / "tests" / "test_hidden.py")


def slugify_of(path: Path):
    return load_module(f"lab00_{path.stem}", path).slugify


def outcome(slugify, text: str, max_length: int):
    try:
        return slugify(text, max_length)
    except ValueError as error:
        return ("ValueError", str(error))


def texts(rng: random.Random, count: int) -> list[tuple[str, int]]:
    """Titles of every shape slugify meets: runs of punctuation and spaces, capitals, digits, accents,
    nothing to keep; and lengths from 0 to past the text."""
    alphabet = "aZ09 -_!?.,éİ\tß"
    return [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))), rng.randint(0, 16))
            for _ in range(count)]


def test_the_rewrite_behaves_as_the_given_slugify():
    """Tests of behaviour must pass on the rewrite: it answers every input as the given slugify does."""
    given, rewrite = slugify_of(REPO / "labs" / LAB / "textutils.py"), slugify_of(SOLUTION / "tests" / "variants" /
                                                                                  "refactored.py")
    for text, n in texts(random.Random(0), 20_000):
        assert outcome(rewrite, text, n) == outcome(given, text, n), (text, n)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_mutant_is_a_bug(mutant):
    """Each faulty version answers some ordinary title differently from the given slugify, so that it can be
    caught; and the hidden tests run exactly these."""
    given, faulty = slugify_of(REPO / "labs" / LAB / "textutils.py"), slugify_of(SOLUTION / "tests" / "variants" /
                                                                                 f"{mutant}.py")
    assert any(outcome(faulty, t, n) != outcome(given, t, n) for t, n in texts(random.Random(1), 2_000))
    assert tuple(HIDDEN.MUTANTS) == MUTANTS


def test_hidden_event_logs_are_summarised_as_the_solution_does():
    """The truth the hidden q1 tests compare with is what the solution's summarise_events computes, over
    a family of generated logs."""
    namespace: dict = {}
    exec("from collections.abc import Iterable\nfrom typing import Any\n" + solution_cell(LAB, "q1"), namespace)
    for seed in range(200):
        HIDDEN.RNG.seed(seed)
        lines, truth = HIDDEN.event_log()
        assert namespace["summarise_events"](lines) == truth


def test_the_shipped_log_is_its_generators():
    """events.log is written by make_events.py from a fixed seed, and holds what the public q1 test says."""
    make = load_module("lab00_make_events", SOLUTION / "make_events.py")
    lines = make.event_log(random.Random(make.SEED))
    assert (REPO / "labs" / LAB / "events.log").read_text() == "\n".join(lines) + "\n"
    namespace: dict = {}
    exec("from collections.abc import Iterable\nfrom typing import Any\n" + solution_cell(LAB, "q1"), namespace)
    summary = namespace["summarise_events"](lines)
    assert [summary["events"], summary["malformed"], len(summary["users"])] == [600, 7, 37]


HINT_SPELLINGS = {  # (lines, return, tags, record) hints a correct answer may use; each must be accepted
    "builtin generics": ("list[str]", "dict[str, Any]", "list[str]", "dict[str, Any]"),
    "typing aliases": ("List[str]", "Dict[str, Any]", "Optional[List[str]]", "Dict[str, object]"),
    "abstract": ("Iterable[str]", "Mapping[str, object]", "Iterable[str] | None", "Mapping[str, Any]"),
    "sequence and set": ("Sequence[str]", "dict", "set[str]", "dict"),
    "tuple and collection": ("Collection[str]", "Dict", "tuple[str, ...]", "Mapping"),
}


def hinted(lines: str, returned: str, tags: str, record: str, status: str = "str", result: str = '"Ticket"') -> str:
    return f"""
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Dict, List, Literal, Optional, Self


def summarise_events(lines: {lines}) -> {returned}: ...


class Ticket:
    def __init__(self, id: int, title: str, status: {status} = "open", tags: {tags} = ()) -> None: ...

    def close(self) -> None: ...

    @classmethod
    def from_record(cls, record: {record}) -> {result}: ...
"""


def hints_accepted(source: str) -> bool:
    """Whether the hidden q3 tests accept the hints of ``source``, read as the kernel reads them."""
    namespace: dict = {}
    exec(source, namespace)
    exec((SOLUTION / "tests" / "kernel_side.py").read_text(), namespace)
    shape = namespace["_t_hints"]
    params, returned = HIDDEN.parameters(shape(namespace["summarise_events"]))
    if not (HIDDEN.iterable_of_str(params[0]) and HIDDEN.a_dict(returned)):
        return False
    (number, title, status, tags), init_return = HIDDEN.parameters(shape(namespace["Ticket"].__init__))
    record, result = HIDDEN.parameters(shape(namespace["Ticket"].from_record))
    return (number, title, init_return, shape(namespace["Ticket"].close)) == ("int", "str", "None", [[["self", None]],
                                                                                                     "None"]) \
        and (status == "str" or status[0] == "Literal") and HIDDEN.iterable_of_str(tags) \
        and HIDDEN.a_dict(record[0]) and result in ("Ticket", "Self")


@pytest.mark.parametrize("spelling", list(HINT_SPELLINGS))
def test_equivalent_hint_spellings_are_accepted(spelling):
    assert hints_accepted(hinted(*HINT_SPELLINGS[spelling]))
    assert hints_accepted(hinted(*HINT_SPELLINGS[spelling], status='Literal["open", "pending", "closed"]',
                                 result="Self"))


@pytest.mark.parametrize("wrong", [("str", "dict", "list[str]", "dict"), ("list[str]", "list", "list[str]", "dict"),
                                   ("list[int]", "dict", "list[str]", "dict"), ("list[str]", "dict", "str", "dict"),
                                   ("list[str]", "dict", "list[str]", "list[str]")])
def test_wrong_hints_are_refused(wrong):
    assert not hints_accepted(hinted(*wrong))


# --- the batch ------------------------------------------------------------------------------


class TestLab(LabSuite):
    """The lab's standard tests (lab_suite.LabSuite), and the mutation kit's bugs seen from both sides."""

    kept = KEPT
    max_score = 66
    test_count = 47
    correct = CORRECT
    expected_losses = EXPECTED_LOSSES
    costs_elsewhere = {"no-hints": "q3", "str-hints": "q3"}  # q3 grades the hints written in q1's and q2's cells
    hidden_failure = ("keeps-one-side", "q6: the merged notes")
    lesson = "the API's faults, tests that catch bugs, and git's history"
    lesson_exercises = LESSON_EXERCISES

    def test_every_mutant_is_caught_by_someone_and_missed_by_someone(self, graded):
        """Each hidden bug is caught by good tests and missed by the weak ones: none is free, none impossible."""
        outcome = {(name, t["name"].split("[")[1].rstrip("]")): t["status"] for name in ("solution", "weak-tests")
                   for t in graded.results[name]["tests"] if t["name"].startswith(CATCH)}
        assert all(outcome["solution", m] == "passed" for m in MUTANTS)
        assert sum(outcome["weak-tests", m] == "failed" for m in MUTANTS) == 4


# One notebook per kit's kind of mistake (api, mutation, git), beside the solution.
DOCKER_SAMPLE = ("solution", "first-page-only", "weak-tests", "keeps-one-side")


@pytest.mark.docker
def test_the_docker_backend_grades_the_same(tmp_path):
    """The kernel image holds what the lab needs (git among it)."""
    assert_docker_grades_the_same(TestLab, DOCKER_SAMPLE, tmp_path)


if __name__ == "__main__":
    KEPT.write()
