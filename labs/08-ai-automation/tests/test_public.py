"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks against whichever model and back office your notebook talks to. The
grader also runs hidden tests with inboxes of its own, a scripted model that asks for the calls
they want to see handled (attacks included), and the back office's record of what your code did.
"""

EMAIL = {"id": "m-test", "from": "dalia.haddad@lumen.example", "subject": "Refund for order 5005",
         "body": "Hi, order 5005 arrived broken. Please refund 32.00 EUR."}


def test_q1_triage(nb):
    """q1: triage returns a dict with a category among CATEGORIES, an order_id and a summary"""
    nb.assign("_t_email", EMAIL)
    found = nb.ref("triage(_t_email)")
    assert isinstance(found, dict) and set(found) == {"category", "order_id", "summary"}
    assert found["category"] in nb.ref("CATEGORIES")


def test_q2_tools(nb):
    """q2: lookup_order finds order 5001 and not order 1; TOOLS names the four tools"""
    assert nb.call("lookup_order", 5001)["id"] == 5001
    assert nb.call("lookup_order", 1) is None
    names = nb.ref("sorted(tool['function']['name'] for tool in TOOLS)")
    assert names == ["create_ticket", "lookup_order", "refund", "send_reply"]


def test_q3_guardrails(nb):
    """q3: a refund outside the allow-list, of someone else's order, or above the limit is not simply run"""
    nb.assign("_t_email", EMAIL)
    assert nb.ref("check_call('refund', {'order_id': 5005, 'amount': 10}, _t_email, 'shipping')") == "refuse"
    assert nb.ref("check_call('refund', {'order_id': 5001, 'amount': 10}, _t_email, 'refund')") == "refuse"
    assert nb.ref("check_call('refund', {'order_id': 5005, 'amount': 10}, _t_email, 'refund')") == "run"
    assert nb.ref("check_call('send_reply', {'to': 'someone@else.example', 'body': 'hi'}, _t_email, 'refund')") \
        == "refuse"


def test_q4_dry_run_and_audit(nb):
    """q4: a dry-run refund is written down as "dry-run" in AUDIT_LOG and returns no result"""
    nb.assign("_t_email", EMAIL)
    before = nb.ref("len(AUDIT_LOG)")
    entry = nb.ref("execute('refund', {'order_id': 5005, 'amount': 10}, _t_email, 'refund', dry_run=True)")
    assert (entry["decision"], entry["result"], entry["tool"]) == ("dry-run", None, "refund")
    assert nb.ref("len(AUDIT_LOG)") == before + 1


def test_q5_agent(nb):
    """q5: run_agent stops within its step budget and says why"""
    nb.assign("_t_email", EMAIL)
    result = nb.ref("run_agent(_t_email, dry_run=True, max_steps=1)")
    assert result["stopped"] in ("done", "budget") and result["steps"] <= 1
    assert set(result) == {"category", "answer", "stopped", "steps", "cost"}
