"""Hidden tests for 00-python-git: run by the grader only.

Every input is the grader's choice, made afresh for each submission: the log lines, the
tickets, the API's records and faults, the names, texts and secrets of the repositories. What
the student's code returns comes back as plain data (``kernel_side.py`` turns hints, raised
exceptions and files into it in the kernel); what their API client sent is read from the
server's own record (``api``); their repositories are read by git in a fresh sandbox (the git
kit); their tests are run against the given ``slugify`` and its faulty versions in fresh
sandboxes (the mutation kit). Each exercise is judged on its own code: the repositories that
q6's merge and revert and q7 work on are built by the grader, not by q6's ``init_project``.
"""

from __future__ import annotations

import math
import random
import re
import string
from pathlib import Path
from typing import NamedTuple

import pytest

from grader.kits.git.inspect import inspect_repository
from grader.kits.mutation.run import TestsError, run_tests

RNG = random.Random()
HERE = Path(__file__).parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()
GIVEN = HERE.parents[2] / "labs" / HERE.parent.name / "textutils.py"  # the slugify students test
VARIANTS = HERE / "variants"
MUTANTS = sorted(p.stem for p in VARIANTS.glob("*.py") if p.stem != "refactored")
TEST_FILE, TEST_LIMIT = "test_textutils.py", 256 * 2**10


def word(k: int | None = None) -> str:
    """A random lowercase word no notebook can know in advance."""
    return "".join(RNG.choices(string.ascii_lowercase, k=k or RNG.randint(5, 9)))


@pytest.fixture(scope="module")
def kernel(nb):
    """The notebook with the grader's helpers in it."""
    nb.run(KERNEL_SIDE)
    return nb


def raised(nb, code: str) -> list | None:
    """[class names of what ``code`` raised, its message], or None if it raised nothing."""
    return nb.ref(f"_t_raised(lambda: {code})")


# --- q1 ---------------------------------------------------------------------------------


def event_log() -> tuple[list[str], dict]:
    """Random log lines (valid, malformed and blank, some with newlines) and their true summary."""
    actions = [word() for _ in range(RNG.randint(3, 6))]
    users = [f"u{RNG.randint(1, 9999):04d}" for _ in range(RNG.randint(4, 12))]
    lines, events = [], []
    for second in range(RNG.randint(40, 80)):
        event = (RNG.choice(users), RNG.choice(actions), RNG.choice(["ok", "ok", "ok", "error"]))
        events.append(event)
        lines.append(f"2026-04-{RNG.randint(1, 28):02d}T10:{second % 60:02d}:00Z {' '.join(event)}")
    bad = [f"2026-04-01T10:00:00Z {users[0]} {actions[0]}", f"2026-04-01T10:00:00Z {users[0]} {actions[0]} ok extra",
           f"2026-04-01T10:00:00Z {users[0]} {actions[0]} OK", f"2026-04-01T10:00:00Z {users[0]} {actions[0]} failed",
           "Traceback (most recent call last):", word()]
    malformed = RNG.sample(bad, RNG.randint(2, len(bad)))
    for line in [*malformed, "", "   "]:
        lines.insert(RNG.randrange(len(lines) + 1), line)
    lines = [line + "\n" if RNG.random() < 0.5 else line for line in lines]
    counts = {a: sum(e[1] == a for e in events) for a in actions}
    counts = {a: n for a, n in counts.items() if n}
    truth = {"events": len(events), "malformed": len(malformed), "users": {e[0] for e in events}, "actions": counts,
             "error_rate": {a: sum(e[1] == a and e[2] == "error" for e in events) / n for a, n in counts.items()}}
    return lines, truth


class Summarised(NamedTuple):
    """The notebook's summary of a random log, and the true one."""

    got: dict
    truth: dict


@pytest.fixture(scope="module")
def summarised(kernel) -> Summarised:
    lines, truth = event_log()
    kernel.assign("_t_lines", lines)
    return Summarised(kernel.ref("_t_plain(summarise_events(_t_lines))"), truth)


@pytest.mark.points(2)
def test_q1_counts_per_action(summarised):
    """q1: the number of valid events, and of events per action"""
    got, truth = summarised
    assert (got["events"], got["actions"]) == (truth["events"], truth["actions"])


@pytest.mark.points(1)
def test_q1_users_are_a_set(summarised):
    """q1: "users" is the set of users seen in valid events"""
    assert summarised.got["users"] == summarised.truth["users"]


@pytest.mark.points(2)
def test_q1_error_rates(summarised):
    """q1: the error rate of each action, from 0 to 1"""
    got, truth = summarised
    assert got["error_rate"].keys() == truth["error_rate"].keys()
    assert all(got["error_rate"][a] == pytest.approx(rate) for a, rate in truth["error_rate"].items())


@pytest.mark.points(2)
def test_q1_malformed_lines_counted_blank_lines_skipped(summarised):
    """q1: malformed lines are skipped and counted; blank lines are skipped and not counted"""
    assert summarised.got["malformed"] == summarised.truth["malformed"]


# --- q2 ---------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_q2_keeps_its_fields(kernel):
    """q2: a Ticket keeps its id, title and status, and its tags as a set of lowercase strings"""
    number, title, tag = RNG.randint(1, 10**6), f"{word().title()} {word()} fails", word()
    fields = "(lambda t: [t.id, t.title, t.status, type(t.tags).__name__, sorted(t.tags)])"
    got = kernel.ref(f"{fields}(Ticket({number}, {title!r}, 'pending', [{tag.upper()!r}, 'VIP', {tag!r}]))")
    assert got == [number, title, "pending", "set", sorted({tag, "vip"})]
    assert kernel.ref(f"{fields}(Ticket({number}, {title!r}))")[2:] == ["open", "set", []]


@pytest.mark.points(1)
def test_q2_id_of_the_wrong_type(kernel):
    """q2: an id that is not an int raises TypeError naming it"""
    bad = RNG.choice([str(RNG.randint(2, 999)), RNG.randint(2, 999) + 0.5, None])
    error = raised(kernel, f"Ticket({bad!r}, 'Refund please')")
    assert error is not None and "TypeError" in error[0] and str(bad) in error[1], error


@pytest.mark.points(1)
def test_q2_id_below_one(kernel):
    """q2: an id below 1 raises ValueError naming it"""
    bad = RNG.choice([0, -RNG.randint(1, 999)])
    error = raised(kernel, f"Ticket({bad}, 'Refund please')")
    assert error is not None and "ValueError" in error[0] and str(bad) in error[1], error


@pytest.mark.points(1)
def test_q2_unknown_status(kernel):
    """q2: an unknown status raises ValueError naming it"""
    bad = word()
    error = raised(kernel, f"Ticket(12, 'Refund please', {bad!r})")
    assert error is not None and "ValueError" in error[0] and bad in error[1], error


@pytest.mark.points(1)
def test_q2_blank_title(kernel):
    """q2: a blank title raises ValueError saying the title is the problem"""
    for title in ("", " " * RNG.randint(1, 5)):
        error = raised(kernel, f"Ticket(12, {title!r})")
        assert error is not None and "ValueError" in error[0] and "title" in error[1].lower(), error


@pytest.mark.points(2)
def test_q2_close(kernel):
    """q2: close() closes a ticket; closing it again raises TicketClosedError naming its id"""
    number = RNG.randint(1, 10**6)
    kernel.run(f"_t_ticket = Ticket({number}, 'Export times out', {RNG.choice(['open', 'pending'])!r})")
    assert kernel.ref("(_t_ticket.close(), _t_ticket.status)[1]") == "closed"
    error = raised(kernel, "_t_ticket.close()")
    assert error is not None and error[0][0] == "TicketClosedError" and "Exception" in error[0], error
    assert str(number) in error[1]
    assert kernel.ref("_t_ticket.status") == "closed"


@pytest.mark.points(1)
def test_q2_from_record(kernel):
    """q2: Ticket.from_record makes a Ticket from an API record, ignoring its other keys"""
    record = {"id": RNG.randint(1, 10**6), "title": f"{word().title()} is slow", "status": "pending",
              "priority": "high", "customer_id": 3, "created_at": "2026-03-02T10:00:00", "tags": ["API", word()]}
    kernel.assign("_t_record", record)
    got = kernel.ref("(lambda t: [type(t).__name__, t.id, t.title, t.status, sorted(t.tags)])"
                     "(Ticket.from_record(_t_record))")
    assert got == ["Ticket", record["id"], record["title"], "pending", sorted(t.lower() for t in record["tags"])]


# --- q3 ---------------------------------------------------------------------------------

ITERABLES = {"Iterable", "Sequence", "Collection", "list", "tuple", "Iterator", "set", "frozenset", "AbstractSet"}
DICTS = {"dict", "Dict", "Mapping", "MutableMapping", "TypedDict"}


def without_none(shape):
    """The shapes a parameter's hint allows besides None (Optional[X], X | None)."""
    if isinstance(shape, list) and shape[0] == "Union":
        return [s for s in shape[1:] if s != "None"]
    return [shape]


def iterable_of_str(shape) -> bool:
    return all(isinstance(s, list) and s[0] in ITERABLES and s[1] == "str" for s in without_none(shape))


def a_dict(shape) -> bool:
    return all((s if isinstance(s, str) else s[0]) in DICTS for s in without_none(shape))


def parameters(hints) -> tuple[list, object]:
    """The hints of the parameters but self, and the return's, from kernel_side._t_hints."""
    assert isinstance(hints, list), f"the hints could not be read: {hints}"
    shaped, returned = hints
    return [shape for name, shape in shaped if name != "self"], returned


@pytest.mark.points(1)
def test_q3_summarise_events_hints(kernel):
    """q3: summarise_events takes an iterable of strings and returns a dict"""
    params, returned = parameters(kernel.ref("_t_hints(summarise_events)"))
    assert len(params) == 1 and iterable_of_str(params[0]), params
    assert returned is not None and a_dict(returned), returned


@pytest.mark.points(2)
def test_q3_ticket_init_hints(kernel):
    """q3: Ticket's id is an int, its title and status strings, its tags an iterable of strings"""
    params, returned = parameters(kernel.ref("_t_hints(Ticket.__init__)"))
    assert len(params) == 4, params
    number, title, status, tags = params
    assert number == "int" and title == "str", params
    assert status == "str" or (isinstance(status, list) and status[0] == "Literal"), status
    assert iterable_of_str(tags), tags
    assert returned in (None, "None"), returned


@pytest.mark.points(1)
def test_q3_ticket_method_hints(kernel):
    """q3: close returns None; from_record takes a dict and returns a Ticket"""
    assert kernel.ref("_t_hints(Ticket.close)") == [[["self", None]], "None"]
    params, returned = parameters(kernel.ref("_t_hints(Ticket.from_record)"))
    assert len(params) == 1 and params[0] is not None and a_dict(params[0]), params
    assert returned in ("Ticket", "Self"), returned


# --- q4 ---------------------------------------------------------------------------------


def collection(api, size: int) -> tuple[str, list[dict]]:
    """A new collection of ``size`` random records, served in place of everything scripted before."""
    name, ids = word(), sorted(RNG.sample(range(1, 10**5), size))
    records = [{"id": i, "name": word(), "score": RNG.randint(0, 100), "tags": [word()]} for i in ids]
    api.clear()
    api.load(name, records)
    return name, records


@pytest.mark.points(3)
def test_q4_fetch_all_follows_every_page(kernel, api):
    """q4: fetch_all returns every record in order, one request per page (at most one more), per_page as asked"""
    per_page = RNG.randint(3, 7)
    name, records = collection(api, RNG.randint(3, 7) * per_page + RNG.choice([0, 1, per_page - 1]))
    assert kernel.call("fetch_all", name, per_page) == records
    pages = math.ceil(len(records) / per_page)
    sent = api.requests
    assert pages <= len(sent) <= pages + 1 and all(r.path == f"/{name}" and r.status == 200 for r in sent)
    assert all(r.query.get("per_page") == str(per_page) for r in sent)


@pytest.mark.points(1)
def test_q4_fetch_all_of_an_empty_collection(kernel, api):
    """q4: fetch_all of an empty collection is an empty list"""
    name, _ = collection(api, 0)
    assert kernel.call("fetch_all", name) == []
    assert len(api.requests) <= 2


@pytest.mark.points(1)
def test_q4_get_record(kernel, api):
    """q4: get_record returns the record with that id"""
    name, records = collection(api, RNG.randint(5, 15))
    wanted = RNG.choice(records)
    assert kernel.call("get_record", name, wanted["id"]) == wanted


@pytest.mark.points(1)
def test_q4_missing_record_is_none(kernel, api):
    """q4: a record that does not exist is None, after one request (a 404 is not retried)"""
    name, records = collection(api, RNG.randint(5, 15))
    assert kernel.call("get_record", name, records[-1]["id"] + RNG.randint(1, 99)) is None
    assert [r.status for r in api.requests] == [404]


@pytest.mark.points(2)
def test_q4_waits_retry_after(kernel, api):
    """q4: after a 429, the request is sent again once Retry-After has passed"""
    name, records = collection(api, RNG.randint(5, 15))
    wanted = RNG.choice(records)
    api.fail(429, times=1, retry_after=1, path_prefix=f"/{name}/")
    assert kernel.call("get_record", name, wanted["id"]) == wanted
    sent = api.requests
    assert [r.status for r in sent] == [429, 200]
    assert sent[1].time - sent[0].time >= 0.95


@pytest.mark.points(2)
def test_q4_gives_up_after_max_attempts(kernel, api):
    """q4: a 429 every time gives max_attempts requests, then a RuntimeError that says how many"""
    name, _ = collection(api, 3)
    attempts = RNG.randint(3, 5)
    api.fail(429, times=20, retry_after=0, path_prefix=f"/{name}")
    error = raised(kernel, f"get_json('/{name}', None, {attempts})")
    assert error is not None and "RuntimeError" in error[0] and str(attempts) in error[1], error
    assert [r.status for r in api.requests] == [429] * attempts


@pytest.mark.points(1)
def test_q4_other_errors_raise_at_once(kernel, api):
    """q4: a 500 raises httpx.HTTPStatusError at once, without retrying"""
    name, _ = collection(api, 3)
    api.fail(500, times=3, path_prefix=f"/{name}")
    error = raised(kernel, f"get_json('/{name}')")
    assert error is not None and "HTTPStatusError" in error[0], error
    assert [r.status for r in api.requests] == [500]


@pytest.mark.points(1)
def test_q4_paging_survives_a_429(kernel, api):
    """q4: fetch_all retries a rate-limited page too"""
    name, records = collection(api, RNG.randint(8, 20))
    api.fail(429, times=1, retry_after=0, path_prefix=f"/{name}")
    assert kernel.call("fetch_all", name, 5) == records


# --- q5 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes(kernel) -> dict:
    """How the student's tests ended against the given slugify, a rewrite of it, and each mutant
    (the mutants are run only when the first two pass). {"error": why} if they could not run."""
    data = kernel.ref(f"_t_read({TEST_FILE!r}, {TEST_LIMIT})")
    if not isinstance(data, bytes) or len(data) > TEST_LIMIT:
        return {"error": f"{TEST_FILE} is missing, or over {TEST_LIMIT >> 10} KiB: run the cell that writes it"}
    sources = {"given": GIVEN.read_text(), "rewrite": (VARIANTS / "refactored.py").read_text()}

    def run(names: dict) -> dict:
        return run_tests(kernel.backend, {TEST_FILE: data}, "textutils", names, timeout=15.0)

    try:
        found = run(sources)
        if all(o.status == "passed" for o in found.values()):
            found |= run({m: (VARIANTS / f"{m}.py").read_text() for m in MUTANTS})
    except TestsError as exc:
        return {"error": str(exc)}
    return found


@pytest.mark.points(2)
def test_q5_tests_pass_on_the_given_slugify(outcomes):
    """q5: your tests pass on the given slugify and on a rewrite of it that behaves the same"""
    assert "error" not in outcomes, outcomes.get("error")
    assert outcomes["given"].status == "passed", outcomes["given"].detail
    assert outcomes["rewrite"].status == "passed", "they fail on a slugify that behaves exactly as the given one"


@pytest.mark.points(1)
@pytest.mark.parametrize("mutant", MUTANTS)
def test_q5_tests_catch_a_bug(outcomes, mutant):
    """q5: your tests catch a slugify with a bug (one point per bug caught)"""
    assert mutant in outcomes, "your tests must pass on the given slugify before they can catch bugs"
    assert outcomes[mutant].status in ("failed", "error")


# --- q6 ---------------------------------------------------------------------------------

BLAND = {"wip", "update", "updates", "fix", "changes", "commit", "stuff", "misc", "."}
MARKERS = ("<<<<<<<", "=======", ">>>>>>>")
CONFIG_LIMIT = 64 * 2**10  # bytes of the repository's .git/config read
PROBED_IGNORED, PROBED_KEPT = (".env", "data/raw.csv", "data/2026/march.csv"), ("README.md", "app.py", "notes.txt")


def person() -> tuple[str, str]:
    first, last = word().title(), word().title()
    return f"{first} {last}", f"{first.lower()}.{last.lower()}@{word()}.example"


def meaningful(subject: str) -> bool:
    return len(subject.split()) >= 2 and subject.strip().lower() not in BLAND


@pytest.fixture(scope="module")
def initialised(kernel):
    """A repository made by the student's init_project in a folder and for an author of the grader's."""
    folder, (name, email) = f"_t_init_{word()}", person()
    kernel.call("init_project", folder, name, email)
    config = kernel.ref(f"_t_read({folder + '/.git/config'!r}, {CONFIG_LIMIT})")
    config = config.decode(errors="replace") if isinstance(config, bytes) and len(config) <= CONFIG_LIMIT else ""
    return inspect_repository(kernel, folder, ignored=PROBED_IGNORED + PROBED_KEPT), name, email, config


@pytest.mark.points(2)
def test_q6_init_project(initialised):
    """q6: init_project makes a repository on main with commits by the author it sets in the repository's own config"""
    repo, name, email, config = initialised
    assert repo.head == "main" and repo.commits and not repo.dirty
    assert {(c.author, c.email) for c in repo.commits.values()} == {(name, email)}
    assert name in config and email in config, "the author is not set in the repository's .git/config"


@pytest.mark.points(2)
def test_q6_gitignore_keeps_secrets_and_data_out(initialised):
    """q6: .gitignore and README.md are committed; .env and data/ are ignored, the code is not"""
    repo = initialised[0]
    assert {".gitignore", "README.md"} <= set(repo.tracked) and ".env" not in repo.tracked
    assert set(PROBED_IGNORED) <= repo.ignored and not set(PROBED_KEPT) & repo.ignored


@pytest.fixture(scope="module")
def merged(kernel):
    """A repository of the grader's, then the student's merge_conflicting with texts of the grader's."""
    folder, branch = f"_t_merge_{word()}", f"feature/{word()}"
    main_text, branch_text = f"status: {word()} {word()}", f"status: {word()} {word()}"
    start = kernel.call("_t_new_repo", folder, *person())
    kernel.call("merge_conflicting", folder, branch, main_text, branch_text)
    return inspect_repository(kernel, folder), start, branch, main_text, branch_text


@pytest.mark.points(2)
def test_q6_merge_commit(merged):
    """q6: main ends on a merge commit whose second parent is the branch, both sides having changed notes.txt"""
    repo, _, branch, _, _ = merged
    assert repo.head == "main" and branch in repo.branches and not repo.dirty
    merge = repo.commits[repo.head_commit]
    assert len(merge.parents) == 2 and merge.parents[1] == repo.branches[branch]
    assert all("notes.txt" in repo.commits[p].changed for p in merge.parents)


@pytest.mark.points(2)
def test_q6_conflict_resolved_keeping_both_sides(merged):
    """q6: the merged notes.txt keeps both sides' lines and no conflict markers"""
    repo, _, _, main_text, branch_text = merged
    notes = repo.head_files.get("notes.txt", b"").decode(errors="replace")
    assert main_text in notes and branch_text in notes
    assert not any(line.startswith(MARKERS) for line in notes.splitlines())


@pytest.fixture(scope="module")
def reverted(kernel):
    """A repository of the grader's with a bad commit and one after it, then the student's revert_commit."""
    folder = f"_t_revert_{word()}"
    kernel.call("_t_new_repo", folder, *person())
    good = f'PRIORITY = "{word()}"\n'
    kernel.call("_t_commit", folder, {"reply.py": good}, "Add the reply script")
    bad = kernel.call("_t_commit", folder, {"reply.py": f'PRIORITY = "{word()}"\n'}, "Make every reply urgent")
    after = kernel.call("_t_commit", folder, {"docs.md": f"# {word()}\n"}, "Document the reply script")
    kernel.call("revert_commit", folder, bad)
    return inspect_repository(kernel, folder), good, bad, after


@pytest.mark.points(2)
def test_q6_revert_keeps_history(reverted):
    """q6: revert_commit adds a commit on top: the bad commit and the ones after it stay in history"""
    repo, _, bad, after = reverted
    assert repo.head == "main" and not repo.dirty
    assert repo.commits[repo.head_commit].parents == (after,)
    assert bad in [c.sha for c in repo.history()]


@pytest.mark.points(2)
def test_q6_revert_undoes_the_bad_commit(reverted):
    """q6: the revert commit undoes exactly the bad commit's change, and says which commit it reverts"""
    repo, good, bad, _ = reverted
    head = repo.commits[repo.head_commit]
    assert head.changed == ("reply.py",) and bad in head.message
    assert repo.head_files["reply.py"].decode() == good and "docs.md" in repo.head_files


@pytest.mark.points(1)
def test_q6_messages_say_what_changed(initialised, merged):
    """q6: every commit your functions made has a message of a few words that says what it does"""
    subjects = [c.subject for c in initialised[0].commits.values()]
    subjects += [c.subject for c in merged[0].commits.values() if c.sha != merged[1]]
    assert all(meaningful(s) for s in subjects), subjects


@pytest.mark.points(1)
def test_q6_the_notebook_project(kernel):
    """q6: the notebook's project/ holds the merge and the revert, with .env and data/ untracked"""
    repo = inspect_repository(kernel, "project")
    history = repo.history()
    assert any(len(c.parents) == 2 for c in history)
    assert any("This reverts commit" in c.message for c in history)
    assert not any(p == ".env" or p.startswith("data/") for p in repo.tracked)


# --- q7 ---------------------------------------------------------------------------------


def leaky_repo(kernel, secret: str) -> tuple[str, str]:
    """A repository of the grader's whose .env holds secret on main and on a branch: (folder, branch)."""
    folder, branch = f"_t_leak_{word()}", f"feature/{word()}"
    kernel.call("_t_new_repo", folder, *person())
    kernel.call("_t_commit", folder, {".env": f"API_KEY={secret}\n", "settings.py": "DEBUG = False\n"},
                "Add the settings")
    kernel.call("_t_commit", folder, {"app.py": f"# {word()}\n"}, "Add the app")
    kernel.call("_t_branch", folder, branch)
    kernel.call("_t_commit", folder, {"search.py": f"# {word()}\n"}, "Add the search command")
    kernel.call("_t_commit", folder, {".env": f"API_KEY={secret}\nDEBUG=1\n", "settings.py": "DEBUG = True\n"},
                "Turn debugging on")
    kernel.call("_t_switch", folder, "main")
    return folder, branch


def secret() -> str:
    return f"sk-live-{''.join(RNG.choices('0123456789abcdef', k=24))}"


@pytest.mark.points(2)
def test_q7_commits_containing(kernel):
    """q7: commits_containing finds every commit, on any branch, whose files hold the text"""
    key = secret()
    folder, _ = leaky_repo(kernel, key)
    got = kernel.ref(f"sorted(commits_containing({folder!r}, {key!r}))")
    assert got == sorted(inspect_repository(kernel, folder, needles=[key]).found[key])
    assert kernel.ref(f"list(commits_containing({folder!r}, {word(12)!r}))") == []


@pytest.fixture(scope="module")
def scrubbed(kernel):
    """A leaky repository of the grader's after the student's remove_from_history(folder, ".env")."""
    key = secret()
    folder, branch = leaky_repo(kernel, key)
    kernel.call("remove_from_history", folder, ".env")
    return inspect_repository(kernel, folder, needles=[key]), key, branch


@pytest.mark.points(2)
def test_q7_secret_gone_from_every_branch(scrubbed):
    """q7: after remove_from_history no commit a branch or a backup ref reaches holds the file or the key"""
    repo, key, branch = scrubbed
    assert repo.found[key] == ()
    assert not any(".env" in c.files for c in repo.commits.values())
    assert branch in repo.branches


@pytest.mark.points(2)
def test_q7_other_files_and_commits_kept(scrubbed):
    """q7: every other file and commit is kept, on main and on the branch"""
    repo, _, branch = scrubbed
    assert repo.head == "main"
    assert [c.subject for c in repo.history("main")] == ["Add the app", "Add the settings", "Add the README"]
    assert [c.subject for c in repo.history(branch)][:2] == ["Turn debugging on", "Add the search command"]
    assert set(repo.head_files) == {"README.md", "settings.py", "app.py"}
    assert set(repo.commits[repo.branches[branch]].files) == {"README.md", "app.py", "search.py", "settings.py"}


@pytest.mark.points(1)
def test_q7_why_rotate(kernel):
    """q7: the key must be rotated because copies made before the rewrite are out of your reach"""
    answer = re.fullmatch(r"\(?([a-d])[).]?", kernel.ref("str(WHY_ROTATE)[:20].strip().lower()"))
    assert answer is not None and answer[1] == "b"
