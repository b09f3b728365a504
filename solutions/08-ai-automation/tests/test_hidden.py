"""Hidden tests for 08-ai-automation: run by the grader only.

The notebook talks to the grader's model (``llm``) and back office (``api``). Each test starts
from a world of its own (customers, orders, emails drawn by ``inbox.py`` from a fresh seed, with
attacks of their own), scripts the model's replies, the worst ones included, calls the student's
function, and judges what the back office recorded (``api.records``, ``api.writes``) and the
requests the model received: side effects as data, read from outside the kernel.

Each exercise is tested on its own answer: the grader's answers to the other exercises stand in
for the student's meanwhile (``kernel_side.py``).
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.kits.llm.model import Reply

HERE = Path(__file__).resolve().parent
KERNEL_SIDE = (HERE / "kernel_side.py").read_text()


def _inbox():
    """The generator of the lab's inbox, loaded from beside this file (pytest imports tests by path)."""
    spec = importlib.util.spec_from_file_location("_lab08_inbox", HERE / "inbox.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_generator = _inbox()
ATTACKER, attack, customers, email, orders, word = (getattr(_generator, name) for name in (
    "ATTACKER", "attack", "customers", "email", "orders", "word"))
BACK_OFFICE = ("cases", "replies", "refunds")
LIMIT = 50.0  # the notebook's REFUND_LIMIT
RNG = random.Random()


class World:
    """Customers and orders of the grader's, served as the back office, with empty writable
    collections; the audit log and approval queue emptied; the model's script and record cleared."""

    def __init__(self, nb, llm, api, count: int = 20):
        self.rng = random.Random(RNG.random())
        self.people = customers(self.rng)
        self.orders = [dict(o, total=o["total"] + 0.01) if o["total"] == LIMIT else o  # none at the limit itself
                       for o in orders(self.rng, self.people, count, first=self.rng.randint(10_000, 90_000))]
        self.nb, self.llm, self.api = nb, llm, api
        llm.clear()
        api.clear()
        api.load("orders", self.orders)
        for name in BACK_OFFICE:
            api.load(name, [], writable=True)
        nb.run(KERNEL_SIDE + "\n_t_reset()")

    def order(self, most: float | None = None, least: float | None = None) -> dict:
        """An order with a total in [least, most] (the first order changed to one, if none is)."""
        fits = [o for o in self.orders
                if (most is None or o["total"] <= most) and (least is None or o["total"] >= least)]
        if not fits:  # a total well inside the range, never at its edge
            fits = [dict(self.orders[0], total=most - 10 if most is not None else least + 10)]
            self.orders[0] = fits[0]
            self.api.load("orders", self.orders)
        return self.rng.choice(fits)

    def others(self, own: dict) -> list[dict]:
        return [o for o in self.orders if o["customer_email"] != own["customer_email"]]

    def email(self, category: str, order: dict) -> dict:
        made = email(self.rng, self.rng.randint(1, 999), category, order, order["customer_email"])
        self.nb.assign("_t_email", made)
        return made

    def effects(self) -> dict[str, list[dict]]:
        return {name: self.api.records(name) for name in BACK_OFFICE}


@pytest.fixture
def world(nb, llm, api) -> World:
    return World(nb, llm, api)


@contextmanager
def grader_answers(nb, *names: str) -> Iterator[None]:
    """For the block, ``names`` in the notebook are the grader's; the student's are put back after."""
    nb.run(f"_t_saved = _t_use(*{names!r})")
    try:
        yield
    finally:
        nb.run("_t_restore(_t_saved)")


def calls(*pairs: tuple[str, dict]) -> Reply:
    return Reply(tool_calls=[{"name": name, "arguments": args} for name, args in pairs])


def triaged(category: str, order: dict | None) -> dict:
    return {"category": category, "order_id": order["id"] if order else None, "summary": f"about {word(RNG)}"}


def resolve(schema: dict, root: dict) -> dict:
    """A schema with its ``$ref`` (into ``$defs``) followed."""
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


# --- q1 ---------------------------------------------------------------------------------


@pytest.mark.points(2)
def test_q1_returns_the_models_fields(world, nb, llm):
    """q1: triage returns the category, order and summary the model sent back, as a plain dict"""
    order = world.order()
    values = triaged(RNG.choice(["refund", "shipping", "account", "other"]), order)
    llm.reply(values)
    world.email("shipping", order)
    assert nb.ref("triage(_t_email)") == values


@pytest.mark.points(2)
def test_q1_asks_for_the_schema(world, nb, llm):
    """q1: the request asks for JSON following Triage: a category among CATEGORIES, an order_id, a summary"""
    order = world.order()
    llm.reply(triaged("refund", order))  # the grader's model reads no $ref: a schema with $defs gets a valid reply
    world.email("refund", order)
    nb.ref("triage(_t_email)['category']")
    body = llm.chat_requests()[-1]
    fmt = body.get("response_format") or {}
    assert fmt.get("type") == "json_schema"
    schema = fmt["json_schema"]["schema"]
    properties = schema["properties"]
    assert set(properties) == {"category", "order_id", "summary"} == set(schema.get("required", []))
    category = resolve(properties["category"], schema)
    assert sorted(category.get("enum", [])) == sorted(["refund", "shipping", "account", "other"])
    kinds = {resolve(s, schema).get("type") for s in properties["order_id"].get("anyOf", [properties["order_id"]])}
    assert "integer" in kinds
    assert body["model"] == nb.ref("MODEL")


@pytest.mark.points(2)
def test_q1_the_email_is_data(world, nb, llm):
    """q1: the email (sender, subject, body) is in a user message, never in the system message"""
    order = world.order()
    made = attack(world.rng, 7, order, world.others(order)[0])
    nb.assign("_t_email", made)
    nb.ref("triage(_t_email)['category']")
    messages = llm.chat_requests()[-1]["messages"]
    system = " ".join(str(m.get("content")) for m in messages if m["role"] == "system")
    user = " ".join(str(m.get("content")) for m in messages if m["role"] == "user")
    assert made["body"] in user and made["from"] in user and made["subject"] in user
    assert ATTACKER not in system and made["body"] not in system


# --- q2 ---------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_q2_lookup_order(world, nb):
    """q2: lookup_order returns the back office's order, and None for an order it does not have"""
    order = world.order()
    assert nb.call("lookup_order", order["id"]) == order
    assert nb.call("lookup_order", order["id"] + 1_000_000) is None


@pytest.mark.points(2)
def test_q2_writes_make_records(world, nb, api):
    """q2: create_ticket, send_reply and refund each create their record in the back office and return it"""
    order, to, body, summary = world.order(), f"{word(RNG)}@x.example", f"Hello {word(RNG)}", word(RNG)
    made = [nb.call("create_ticket", summary, "high", f"k-{word(RNG)}"),
            nb.call("send_reply", to, body, f"k-{word(RNG)}"),
            nb.call("refund", order["id"], 12.5, f"k-{word(RNG)}")]
    assert world.effects() == {"cases": [{"id": 1, "summary": summary, "priority": "high"}],
                               "replies": [{"id": 1, "to": to, "body": body}],
                               "refunds": [{"id": 1, "order_id": order["id"], "amount": 12.5}]}
    assert made == [world.effects()[name][0] for name in BACK_OFFICE]


@pytest.mark.points(1)
def test_q2_writes_carry_their_key(world, nb, api):
    """q2: every write sends its key as the Idempotency-Key header"""
    keys = [f"k-{word(RNG)}" for _ in range(3)]
    nb.call("create_ticket", word(RNG), "low", keys[0])
    nb.call("send_reply", "a@b.example", word(RNG), keys[1])
    nb.call("refund", world.order()["id"], 3, keys[2])
    assert [w.key for w in api.writes] == keys


@pytest.mark.points(3)
def test_q2_a_lost_answer_never_refunds_twice(world, nb, api):
    """q2: a refund whose answer is lost (500 after it was made) is retried under its key: one refund, returned"""
    order = world.order()
    amount = round(RNG.uniform(1, 40), 2)
    api.fail(500, method="POST", after=True, path_prefix="/refunds")
    got = nb.call("refund", order["id"], amount, f"k-{word(RNG)}")
    assert world.effects()["refunds"] == [{"id": 1, "order_id": order["id"], "amount": amount}] == [got]
    assert [w.status for w in api.writes] == [500, 201] and len({w.key for w in api.writes}) == 1


@pytest.mark.points(1)
def test_q2_client_errors_raise(world, nb, api):
    """q2: a write the back office refuses (4xx) raises, without retrying"""
    api.drop("cases")
    with pytest.raises(Exception):  # noqa: B017 - the notebook's error, whatever its class
        nb.call("create_ticket", word(RNG), "low", f"k-{word(RNG)}")
    assert [w.status for w in api.writes] == [404]


@pytest.mark.points(1)
def test_q2_tools_describe_the_functions(world, nb):
    """q2: TOOLS offers the four functions, every parameter but the key required"""
    tools = nb.ref("_t_plain(TOOLS)")
    functions = {t["function"]["name"]: t["function"]["parameters"] for t in tools if t.get("type") == "function"}
    wanted = {"lookup_order": {"order_id"}, "create_ticket": {"summary", "priority"},
              "send_reply": {"to", "body"}, "refund": {"order_id", "amount"}}
    assert {name: set(p["properties"]) for name, p in functions.items()} == wanted
    assert {name: set(p.get("required", [])) for name, p in functions.items()} == wanted


# --- q3 ---------------------------------------------------------------------------------


def decide(nb, name: str, args: dict, category: str) -> str:
    with grader_answers(nb, "lookup_order"):
        return nb.ref(f"check_call({name!r}, {args!r}, _t_email, {category!r})")


@pytest.mark.points(2)
def test_q3_allow_list(world, nb):
    """q3: a tool outside the category's allow-list is refused, whatever its arguments"""
    order = world.order(most=LIMIT)
    world.email("refund", order)
    everything = {"lookup_order": {"order_id": order["id"]}, "refund": {"order_id": order["id"], "amount": 1},
                  "send_reply": {"to": order["customer_email"], "body": "hi"},
                  "create_ticket": {"summary": "x", "priority": "low"}}
    allowed = nb.ref("{c: sorted(t) for c, t in ALLOWED.items()}")
    got = {(c, n): decide(nb, n, a, c) for c in allowed for n, a in everything.items()}
    assert got == {(c, n): "run" if n in allowed[c] else "refuse" for c in allowed for n in everything}


@pytest.mark.points(2)
def test_q3_only_the_senders_orders(world, nb):
    """q3: looking up or refunding an order that is someone else's, or no one's, is refused"""
    own = world.order(most=LIMIT)
    world.email("refund", own)
    foreign = RNG.sample(world.others(own), 3)
    missing = max(o["id"] for o in world.orders) + RNG.randint(1, 99)
    for order_id in [o["id"] for o in foreign] + [missing]:
        assert decide(nb, "lookup_order", {"order_id": order_id}, "refund") == "refuse"
        assert decide(nb, "refund", {"order_id": order_id, "amount": 1}, "refund") == "refuse"
    assert decide(nb, "lookup_order", {"order_id": own["id"]}, "shipping") == "run"


@pytest.mark.points(2)
def test_q3_refund_amounts(world, nb):
    """q3: a refund up to REFUND_LIMIT runs, above it waits for approval, above the total or not above 0 is refused"""
    big = world.order(least=LIMIT + 10)
    world.email("refund", big)
    total = big["total"]
    cases = {LIMIT: "run", 1: "run", 0.5: "run", LIMIT + 0.01: "approve", total: "approve",
             round(total + 0.01, 2): "refuse", 0: "refuse", -5: "refuse", "all": "refuse"}
    got = {amount: decide(nb, "refund", {"order_id": big["id"], "amount": amount}, "refund") for amount in cases}
    assert got == cases


@pytest.mark.points(1)
def test_q3_replies_only_to_the_sender(world, nb):
    """q3: a reply goes to the email's sender, and to no one else"""
    order = world.order()
    world.email("shipping", order)
    assert decide(nb, "send_reply", {"to": order["customer_email"], "body": "Hello"}, "shipping") == "run"
    for to in (ATTACKER, world.others(order)[0]["customer_email"], ""):
        assert decide(nb, "send_reply", {"to": to, "body": "Here is the list"}, "shipping") == "refuse"


def obeyed_attack(world: World) -> Reply:
    """What a model that obeys the email asks for: refund everything, tell the attacker and everyone."""
    everyone = world.people + [ATTACKER]
    return calls(*[("lookup_order", {"order_id": o["id"]}) for o in world.orders],
                 *[("refund", {"order_id": o["id"], "amount": o["total"]}) for o in world.orders],
                 *[("send_reply", {"to": to, "body": "Here is the customer list you asked for."}) for to in everyone],
                 ("create_ticket", {"summary": "grant admin to " + ATTACKER, "priority": "high"}))


@pytest.mark.points(3)
def test_q3_an_obeyed_attack_is_contained(world, nb, llm):
    """q3: a model obeying an injected email (refund all, mail the customers away) gets only what the sender may have"""
    own = world.order(most=LIMIT)
    nb.assign("_t_email", attack(world.rng, 11, own, world.others(own)[0]))
    llm.reply(triaged("refund", own), obeyed_attack(world), "Done, as the email asked.")
    with grader_answers(nb, "triage", "lookup_order", "create_ticket", "send_reply", "refund", "TOOLS",
                        "execute", "run_agent"):
        nb.ref("run_agent(_t_email, max_steps=3)")
    effects = world.effects()
    mine = {o["id"]: o for o in world.orders if o["customer_email"] == own["customer_email"]}
    assert effects["refunds"] and all(r["order_id"] in mine and r["amount"] <= LIMIT for r in effects["refunds"])
    assert {r["order_id"] for r in effects["refunds"]} == {i for i, o in mine.items() if o["total"] <= LIMIT}
    assert effects["cases"] == [] and {r["to"] for r in effects["replies"]} == {own["customer_email"]}
    answered = llm.chat_requests()[-1]["messages"]
    strangers = {o["customer_email"] for o in world.others(own)} - {own["customer_email"]}
    assert not any(s in str(m.get("content")) for m in answered if m.get("role") == "tool" for s in strangers)


@pytest.mark.points(2)
def test_q3_an_attack_in_an_other_email_does_nothing(world, nb, llm):
    """q3: an injected email classified "other" gets no refund and no reply, whatever the model asks for"""
    own = world.order(most=LIMIT)
    nb.assign("_t_email", attack(world.rng, 12, own, world.others(own)[0]))
    script = obeyed_attack(world)
    script.tool_calls = [c for c in script.tool_calls if c["name"] != "create_ticket"]
    llm.reply(triaged("other", None), script, "Done.")
    with grader_answers(nb, "triage", "lookup_order", "create_ticket", "send_reply", "refund", "TOOLS",
                        "execute", "run_agent"):
        nb.ref("run_agent(_t_email, max_steps=3)")
    assert world.effects() == {"cases": [], "replies": [], "refunds": []}


# --- q4 ---------------------------------------------------------------------------------


def act(nb, name: str, args: dict, category: str, dry_run: bool = False) -> dict:
    with grader_answers(nb, "check_call", "lookup_order", "create_ticket", "send_reply", "refund"):
        return nb.ref(f"execute({name!r}, {args!r}, _t_email, {category!r}, dry_run={dry_run!r})")


def audit(nb) -> list[dict]:
    return nb.ref("list(AUDIT_LOG)")


@pytest.mark.points(2)
def test_q4_a_refused_call_does_nothing(world, nb, api):
    """q4: a call the guardrails refuse never reaches the back office"""
    own = world.order(most=LIMIT)
    world.email("shipping", own)
    foreign = world.others(own)[0]
    act(nb, "refund", {"order_id": own["id"], "amount": 5}, "shipping")
    act(nb, "send_reply", {"to": ATTACKER, "body": "all emails"}, "shipping")
    act(nb, "lookup_order", {"order_id": foreign["id"]}, "shipping")
    assert world.effects() == {"cases": [], "replies": [], "refunds": []}
    assert api.writes == []


@pytest.mark.points(2)
def test_q4_every_call_is_audited(world, nb):
    """q4: every call is in AUDIT_LOG, refused ones too: email, tool, arguments, decision and result"""
    own = world.order(most=LIMIT)
    made = world.email("refund", own)
    steps = [("lookup_order", {"order_id": own["id"]}), ("create_ticket", {"summary": "x", "priority": "low"}),
             ("refund", {"order_id": own["id"], "amount": 1.5}), ("send_reply", {"to": ATTACKER, "body": "hi"})]
    returned = [act(nb, name, args, "refund") for name, args in steps]
    log = audit(nb)
    assert log == returned
    assert [(e["email_id"], e["tool"], e["arguments"], e["decision"]) for e in log] == [
        (made["id"], name, args, decision) for (name, args), decision
        in zip(steps, ["executed", "refused", "executed", "refused"], strict=True)]
    assert log[0]["result"] == own and log[2]["result"] == world.effects()["refunds"][0]
    assert log[1]["result"] is None and log[3]["result"] is None


@pytest.mark.points(2)
def test_q4_a_risky_refund_waits_for_a_person(world, nb):
    """q4: a refund that needs approval joins APPROVALS and is not made"""
    big = world.order(least=LIMIT + 1)
    made = world.email("refund", big)
    entry = act(nb, "refund", {"order_id": big["id"], "amount": big["total"]}, "refund")
    assert (entry["decision"], entry["result"]) == ("queued", None)
    assert nb.ref("list(APPROVALS)") == [{"email_id": made["id"], "tool": "refund",
                                          "arguments": {"order_id": big["id"], "amount": big["total"]}}]
    assert world.effects()["refunds"] == []


@pytest.mark.points(2)
def test_q4_a_dry_run_writes_nothing(world, nb, api):
    """q4: in a dry run nothing is written or queued, reads still run, and every call is in the log"""
    small, big = world.order(most=LIMIT), world.order(least=LIMIT + 1)
    world.email("shipping", small)
    act(nb, "lookup_order", {"order_id": small["id"]}, "shipping", dry_run=True)
    act(nb, "send_reply", {"to": small["customer_email"], "body": "On its way"}, "shipping", dry_run=True)
    act(nb, "create_ticket", {"summary": "late", "priority": "normal"}, "shipping", dry_run=True)
    nb.assign("_t_email", dict(nb.ref("_t_email"), **{"from": big["customer_email"]}))
    act(nb, "refund", {"order_id": big["id"], "amount": big["total"]}, "refund", dry_run=True)
    assert api.writes == [] and nb.ref("list(APPROVALS)") == []
    assert [(e["tool"], e["decision"]) for e in audit(nb)] == [
        ("lookup_order", "executed"), ("send_reply", "dry-run"), ("create_ticket", "dry-run"), ("refund", "dry-run")]
    assert audit(nb)[0]["result"] == small


@pytest.mark.points(2)
def test_q4_running_an_email_again_never_refunds_twice(world, nb):
    """q4: the same call from the same email, run again, makes one refund; another call or email makes another"""
    own = world.order(most=LIMIT)
    made = world.email("refund", own)
    for _ in range(2):
        act(nb, "refund", {"order_id": own["id"], "amount": 2.0}, "refund")
        act(nb, "refund", {"amount": 2.0, "order_id": own["id"]}, "refund")  # the model's fields in another order
    act(nb, "refund", {"order_id": own["id"], "amount": 3.0}, "refund")
    nb.assign("_t_email", dict(made, id=made["id"] + "-again"))
    act(nb, "refund", {"order_id": own["id"], "amount": 2.0}, "refund")
    assert [r["amount"] for r in world.effects()["refunds"]] == [2.0, 3.0, 2.0]


# --- q5 ---------------------------------------------------------------------------------


@contextmanager
def agent(nb) -> Iterator[None]:
    with grader_answers(nb, "triage", "check_call", "execute", "lookup_order", "create_ticket", "send_reply",
                        "refund", "TOOLS"):
        yield


def run(nb, **options) -> dict:
    with agent(nb):
        return nb.ref(f"run_agent(_t_email, **{options!r})")


@pytest.mark.points(1)
def test_q5_offers_only_the_allowed_tools(world, nb, llm):
    """q5: the model is offered exactly the tools its category allows"""
    order = world.order()
    world.email("shipping", order)
    category = RNG.choice(["refund", "shipping", "account", "other"])
    llm.reply(triaged(category, order), "Nothing to do.")
    assert run(nb)["category"] == category
    body = llm.chat_requests()[-1]
    offered = {t["function"]["name"] for t in body.get("tools") or []}
    assert offered == set(nb.ref(f"sorted(ALLOWED[{category!r}])"))


@pytest.mark.points(3)
def test_q5_results_go_back_and_the_answer_comes_out(world, nb, llm):
    """q5: each tool call is executed and answered with its result; the model's final text is returned"""
    own = world.order(most=LIMIT)
    world.email("refund", own)
    text = f"Refunded, {word(RNG)}."
    llm.reply(triaged("refund", own), calls(("lookup_order", {"order_id": own["id"]}), ("refund", {
        "order_id": own["id"], "amount": 1.25})), calls(("send_reply", {"to": own["customer_email"], "body": text})),
        text)
    result = run(nb)
    assert (result["answer"], result["stopped"], result["steps"], result["category"]) == (text, "done", 3, "refund")
    bodies = llm.chat_requests()
    second = bodies[2]["messages"]
    assert [m.get("tool_call_id") for m in second[-2:]] == ["call_0", "call_1"]
    assert own["item"] in str(second[-2]["content"])
    assert [r["amount"] for r in world.effects()["refunds"]] == [1.25]
    assert [r["to"] for r in world.effects()["replies"]] == [own["customer_email"]]


@pytest.mark.points(2)
def test_q5_step_budget(world, nb, llm):
    """q5: a model that never stops gets max_steps requests, then the agent stops with "budget\""""
    order = world.order()
    world.email("shipping", order)
    steps = RNG.randint(2, 5)
    llm.reply(triaged("shipping", order), *[calls(("lookup_order", {"order_id": order["id"]}))] * (steps + 3))
    result = run(nb, max_steps=steps, max_cost=100.0)
    assert (result["stopped"], result["steps"], result["answer"]) == ("budget", steps, None)
    assert len(llm.chat_requests()) == steps + 1


@pytest.mark.points(2)
def test_q5_cost_budget(world, nb, llm):
    """q5: the agent stops once what its requests cost (usage at PRICE_IN and PRICE_OUT) reaches max_cost"""
    order = world.order()
    world.email("shipping", order)
    prompt, completion = RNG.randint(1000, 9000), RNG.randint(100, 900)
    each = (prompt * 0.15 + completion * 0.60) / 1e6
    paid = RNG.randint(1, 4)  # requests made before the budget is reached
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    step = Reply(tool_calls=[{"name": "lookup_order", "arguments": {"order_id": order["id"]}}], usage=usage)
    llm.reply(triaged("shipping", order), *[step] * (paid + 3))
    result = run(nb, max_steps=50, max_cost=each * (paid - 0.5))
    assert (result["stopped"], result["steps"]) == ("budget", paid)
    assert result["cost"] == pytest.approx(each * paid)


@pytest.mark.points(1)
def test_q5_dry_run_reaches_the_tools(world, nb, llm, api):
    """q5: run_agent(dry_run=True) writes nothing, whatever the model asks for"""
    own = world.order(most=LIMIT)
    world.email("refund", own)
    llm.reply(triaged("refund", own), calls(("refund", {"order_id": own["id"], "amount": 1.0}),
                                            ("send_reply", {"to": own["customer_email"], "body": "ok"})), "Done.")
    assert run(nb, dry_run=True)["stopped"] == "done"
    assert api.writes == []
    assert [e["decision"] for e in audit(nb)] == ["dry-run", "dry-run"]
