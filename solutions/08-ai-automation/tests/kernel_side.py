"""Grader code that runs in the student's kernel for the hidden tests of 08-ai-automation.

The tests run it in the notebook's namespace; its names start with ``_t_`` so that they cannot
clash with the student's. It holds the grader's own answer to each exercise, and swaps them in
for the student's while another exercise is tested (``_t_use``): while the guardrails are tested,
``lookup_order`` is the grader's; while the loop is tested, so are triage, the tools, check_call
and execute. So how one exercise was answered cannot cost another's points. The grader's
functions call the others by their plain names, whichever answer those names hold at the time;
the notebook's names (client, ALLOWED, ...) are the globals it runs among, which a linter reading
this file alone cannot know.
"""
# ruff: noqa: F821

import hashlib as _t_hashlib
import json as _t_json

import httpx as _t_httpx


def _t_triage(email):
    response = client.chat.completions.parse(model=MODEL, temperature=0, response_format=Triage, messages=[
        {"role": "system", "content": "Triage the support email."}, {"role": "user", "content": email_text(email)}])
    return response.choices[0].message.parsed.model_dump()


def _t_lookup_order(order_id):
    answer = backoffice.get(f"/orders/{int(order_id)}")
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return answer.json()


def _t_post(collection, fields, key):
    for attempt in range(3):
        try:
            answer = backoffice.post(f"/{collection}", json=fields, headers={"Idempotency-Key": key})
        except _t_httpx.TransportError:
            if attempt == 2:
                raise
            continue
        if answer.status_code < 500 or attempt == 2:
            answer.raise_for_status()
            return answer.json()


def _t_create_ticket(summary, priority, key):
    return _t_post("cases", {"summary": summary, "priority": priority}, key)


def _t_send_reply(to, body, key):
    return _t_post("replies", {"to": to, "body": body}, key)


def _t_refund(order_id, amount, key):
    return _t_post("refunds", {"order_id": order_id, "amount": amount}, key)


def _t_tool(name, **properties):
    return {"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": properties, "required": list(properties)}}}


_t_TOOLS = [_t_tool("lookup_order", order_id={"type": "integer"}),
            _t_tool("create_ticket", summary={"type": "string"}, priority={"type": "string"}),
            _t_tool("send_reply", to={"type": "string"}, body={"type": "string"}),
            _t_tool("refund", order_id={"type": "integer"}, amount={"type": "number"})]


def _t_check_call(name, args, email, category):
    if name not in ALLOWED.get(category, set()):
        return "refuse"
    sender = email["from"].lower()
    if name in ("lookup_order", "refund"):
        order = lookup_order(args.get("order_id"))
        if order is None or order["customer_email"].lower() != sender:
            return "refuse"
    if name == "refund":
        amount = args.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount <= order["total"]:
            return "refuse"
        if amount > REFUND_LIMIT:
            return "approve"
    if name == "send_reply" and str(args.get("to", "")).lower() != sender:
        return "refuse"
    return "run"


def _t_execute(name, args, email, category, dry_run=False):
    decision = check_call(name, args, email, category)
    entry = {"email_id": email["id"], "tool": name, "arguments": args, "decision": "refused", "result": None}
    if decision == "run" and not (dry_run and name in WRITES):
        canonical = _t_json.dumps([email["id"], name, args], sort_keys=True)
        key = {"key": _t_hashlib.sha256(canonical.encode()).hexdigest()} if name in WRITES else {}
        entry["result"] = TOOL_FUNCTIONS[name](**args, **key)
        entry["decision"] = "executed"
    elif decision != "refuse" and dry_run:
        entry["decision"] = "dry-run"
    elif decision == "approve":
        APPROVALS.append({"email_id": email["id"], "tool": name, "arguments": args})
        entry["decision"] = "queued"
    AUDIT_LOG.append(entry)
    return entry


def _t_run_agent(email, dry_run=False, max_steps=5, max_cost=0.01):
    category = triage(email)["category"]
    messages = [{"role": "system", "content": "Help the customer."}, {"role": "user", "content": email_text(email)}]
    tools = [t for t in TOOLS if t["function"]["name"] in ALLOWED[category]]
    for _ in range(max_steps):
        message = client.chat.completions.create(model=MODEL, messages=messages, tools=tools).choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append({"role": "assistant", "content": message.content,
                         "tool_calls": [call.model_dump() for call in message.tool_calls]})
        for call in message.tool_calls:
            entry = execute(call.function.name, _t_json.loads(call.function.arguments), email, category, dry_run)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": _t_json.dumps(entry["result"])})
    return None


_t_TOOL_NAMES = ("lookup_order", "create_ticket", "send_reply", "refund")


def _t_use(*names):
    """The grader's answers in place of the student's for ``names`` (the tools' names also in
    TOOL_FUNCTIONS); what was there, for _t_restore."""
    saved = {name: globals().get(name) for name in names}
    for name in names:
        globals()[name] = globals()[f"_t_{name}"]
        if name in _t_TOOL_NAMES and isinstance(globals().get("TOOL_FUNCTIONS"), dict):
            TOOL_FUNCTIONS[name] = globals()[name]
    return saved


def _t_restore(saved):
    for name, value in saved.items():
        globals()[name] = value
        if name in _t_TOOL_NAMES and isinstance(globals().get("TOOL_FUNCTIONS"), dict):
            TOOL_FUNCTIONS[name] = value


def _t_plain(value):
    """value as plain JSON data (the SDK's tool helpers return dicts of classes of their own)."""
    return _t_json.loads(_t_json.dumps(value))


def _t_reset():
    """An empty audit log and approval queue (the student's lists, emptied in place)."""
    for name in ("AUDIT_LOG", "APPROVALS"):
        if isinstance(globals().get(name), list):
            globals()[name].clear()
        else:
            globals()[name] = []
