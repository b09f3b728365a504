"""Grader code that runs in the student's kernel for the hidden tests of 04-llm-api.

The tests run it in the notebook's namespace; its names start with ``_t_`` so that
they cannot clash with the student's. It brings a client with the SDK's own retries
off, so that a 429 reaches the student's retry code at once, and the grader's own
``ask``: while ask_with_retries is tested, ``ask`` is the grader's, so that how q1
was answered cannot cost q5's points.
"""

import openai as _t_openai

_t_client = _t_openai.OpenAI(max_retries=0)


def _t_hello():
    """One chat completion; a 429 raises RateLimitError at once."""
    reply = _t_client.chat.completions.create(model="grader-mini", messages=[{"role": "user", "content": "hello"}])
    return reply.choices[0].message.content


def _t_reference_ask(question, client=None):
    """The grader's ask(): one request to MODEL with the client given (by default the notebook's)."""
    client = globals()["client"] if client is None else client
    reply = client.chat.completions.create(model=globals()["MODEL"], temperature=0, messages=[
        {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": question}])
    return reply.choices[0].message.content
