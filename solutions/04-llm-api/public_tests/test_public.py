"""Public tests: run them with ``check("q1")`` in the notebook or ``grade check``.

They are quick first checks: they call your functions against whichever
server your notebook talks to. The grader also runs hidden tests that script
the model's replies and faults and look at the requests your code sends.
"""

import pytest

from grader.testing.notebook import NotebookError

# A stand-in for a busy API that the tests put into your kernel; its names start with _t_.
SETUP = r'''
import openai as _t_openai
try:
    import httpx2 as _t_http
except ImportError:
    import httpx as _t_http


def _t_rate_limit_error():
    request = _t_http.Request("POST", "http://localhost/v1/chat/completions")
    return _t_openai.RateLimitError("429 Too Many Requests", response=_t_http.Response(429, request=request),
                                    body=None)


_t_calls = []


def _t_busy(failures, answer="done"):
    """A function that is rate limited `failures` times, then returns answer; its calls go to _t_calls."""
    _t_calls.clear()

    def fn():
        _t_calls.append(1)
        if len(_t_calls) <= failures:
            raise _t_rate_limit_error()
        return answer
    return fn
'''


def test_q1_ask_returns_text(nb):
    """q1: ask() returns the reply as a non-empty string"""
    answer = nb.call("ask", "Say hello in one word.")
    assert isinstance(answer, str) and answer.strip()


def test_q2_two_messages(nb):
    """q2: build_messages gives a system message, then a user message holding the review"""
    messages = nb.call("build_messages", "The kettle boils fast.", "French")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "The kettle boils fast." in messages[1]["content"]
    assert "French" in messages[0]["content"]


def test_q3_contact(nb):
    """q3: Contact has the fields name, email and company, and extract_contact returns one"""
    assert nb.ref("sorted(Contact.model_fields)") == ["company", "email", "name"]
    found = nb.ref("type(extract_contact('Ada Lovelace, ada@engines.example, Analytical Engines Ltd')).__name__")
    assert found == "Contact"


def test_q4_tools(nb):
    """q4: TOOLS offers get_order_status and answer_with_tools returns text"""
    assert "get_order_status" in nb.ref("[tool['function']['name'] for tool in TOOLS]")
    answer = nb.call("answer_with_tools", "Where is my order A-1001?")
    assert isinstance(answer, str) and answer.strip()


def test_q5_retries(nb):
    """q5: call_with_retries gets through two rate limits, and gives up after max_attempts"""
    nb.run(SETUP)
    assert nb.ref("call_with_retries(_t_busy(2), 4, 0.01)") == "done"
    assert nb.ref("len(_t_calls)") == 3
    with pytest.raises(NotebookError) as info:
        nb.ref("call_with_retries(_t_busy(10), 3, 0.01)")
    assert info.value.ename == "RuntimeError", info.value
    assert nb.ref("len(_t_calls)") == 3


def test_q6_cost(nb):
    """q6: 1000 input tokens at $2/M and 500 output tokens at $8/M cost $0.006"""
    nb.run("import openai as _t_openai\n"
           "_t_usage = _t_openai.types.CompletionUsage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500)")
    assert nb.ref("cost(_t_usage, 2.0, 8.0)") == pytest.approx(0.006)
