"""The review's web app: FastAPI routes behind a token, served on loopback only.

Every request must carry the token the command printed: in the URL the first time (it is then
moved into an HttpOnly, SameSite=Strict cookie and the URL is left without it, as Jupyter
does), in the cookie after. Without one the answer is 401, with a wrong one 403. The Host
header must name the loopback address served (a page of another site that renamed itself to
127.0.0.1 by DNS gets 403), and a POST must come from a page of this server (its Origin, or
else its Referer; 403 otherwise), so another site cannot make the browser save an override.
Each request is bounded before it is read (grader.review.serve: its head, and a body of ``BODY``
bytes at most; forms of ``FIELDS`` fields at most), and every page says by its
Content-Security-Policy that it runs no script but its own keyboard shortcuts. FastAPI and
uvicorn are the api extra's (``pip install grader[api]``).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from grader.course.layout import Course
from grader.errors import HistoryError
from grader.report.feedback import CSP as FEEDBACK_CSP
from grader.report.feedback import feedback_path
from grader.results.store import read_result
from grader.review import pages, summary
from grader.review.publish import after_review, lab_title
from grader.review.serve import HOST, BoundedBody
from grader.review.store import COMMENT_CHARS, bank, record, save_comment

COOKIE = "grader-review-token"
BODY = 64 * 2**10  # bytes of one form: a comment and a few fields
FIELDS = 16  # fields of one form
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'nonce-{nonce}'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass(frozen=True)
class Settings:
    """What one ``grade review`` serves, and how it knows its own pages."""

    grades: Path
    course: Course | None
    token: str
    who: str
    port: int

    @property
    def hosts(self) -> tuple[str, ...]:
        return (f"{HOST}:{self.port}", f"localhost:{self.port}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def make_app(settings: Settings):
    """The ASGI app, bounded (see the module's docstring)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        refused = refusal(settings, request.method, dict(request.headers), request.query_params.get("token"),
                          request.cookies.get(COOKIE))
        if refused is not None:
            return PlainTextResponse(refused[1], refused[0])
        if request.method == "GET" and "token" in request.query_params:  # into the cookie, out of the URL
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), 303)
            response.set_cookie(COOKIE, settings.token, httponly=True, samesite="strict", path="/")
            return response
        request.state.nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=request.state.nonce))
        response.headers.update({"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                                 "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"})
        return response

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        labs = summary.by_lab(settings.grades)
        items = {lab: [(item, *summary.progress(found, item)) for item in summary.items(found)]
                 for lab, found in labs.items()}
        return HTMLResponse(pages.overview(
            labs, {lab: summary.percents(found) for lab, found in labs.items()},
            {lab: summary.statuses(found) for lab, found in labs.items()},
            {lab: summary.test_rates(found) for lab, found in labs.items()}, items, request.state.nonce))

    @app.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, lab: str, item: str, i: int = 0) -> HTMLResponse:
        results = [r for r in summary.by_lab(settings.grades).get(lab, []) if summary.item_tests(r, item)]
        nonce = request.state.nonce
        if not results:
            return HTMLResponse(pages.message("Not found", f"no result of lab {lab} has {item}", nonce), 404)
        index = min(max(i, 0), len(results) - 1)
        reviewed = results[index]
        return HTMLResponse(pages.queue(lab, item, index, results, summary.item_tests(reviewed, item),
                                        summary.answer_cells(settings.grades, reviewed, item), bank(settings.grades),
                                        summary.progress(results, item), nonce))

    @app.get("/feedback", response_class=HTMLResponse)
    def feedback(request: Request, student: str, lab: str) -> HTMLResponse:
        path = feedback_path(settings.grades, student, lab)
        if not path.is_file() or path.is_symlink():
            return HTMLResponse(pages.message("Not found", "no feedback page for this result", request.state.nonce),
                                404)
        return HTMLResponse(path.read_text(encoding="utf-8", errors="replace"),
                            headers={"Content-Security-Policy": FEEDBACK_CSP})

    @app.post("/override")
    async def override(request: Request):
        try:
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True,
                                  max_num_fields=FIELDS, strict_parsing=True))
            saved = _save(settings, form)
        except (ValueError, KeyError, HistoryError) as exc:
            return PlainTextResponse(f"not saved: {exc}", 400)
        if not saved:
            return PlainTextResponse("not saved: no such result", 404)
        query = urlencode({"lab": form["lab"], "item": form.get("item", ""), "i": form.get("i", "0")})
        return RedirectResponse(f"/queue?{query}", 303)

    return BoundedBody(app, BODY)


def _save(settings: Settings, form: dict[str, str]) -> bool:
    """Record the override a form gives, then bring the result's files up to date; whether the
    result was there. ValueError for a form that is not one."""
    points = float(form["points"])
    comment = form.get("comment", "")
    if not math.isfinite(points) or len(comment) > COMMENT_CHARS:
        raise ValueError("the points must be a number and the comment at most "
                         f"{COMMENT_CHARS} characters")
    result = read_result(settings.grades, form["student"], form["lab"])
    if result is None:
        return False
    record(settings.grades, result, form["test"], points, comment, settings.who)
    if form.get("bank") == "1":
        save_comment(settings.grades, comment, settings.who)
    after_review(settings.grades, result.student, result.lab, lab_title(settings.course, result.lab))
    return True


def refusal(settings: Settings, method: str, headers: dict[str, str], query_token: str | None,
            cookie_token: str | None) -> tuple[int, str] | None:
    """Why a request is refused (its status and a line), or None to serve it."""
    host = headers.get("host", "")
    if host not in settings.hosts:
        return 403, "this server answers its own loopback address only"
    given = query_token if query_token is not None else cookie_token
    if not given:
        return 401, "a token is needed: open the URL grade review printed"
    if not secrets.compare_digest(given.encode(), settings.token.encode()):
        return 403, "wrong token"
    if method not in ("GET", "HEAD"):
        origin, referer = headers.get("origin"), headers.get("referer", "")
        same = origin == f"http://{host}" if origin is not None else referer.startswith(f"http://{host}/")
        if not same:
            return 403, "a change must come from a page of this server"
    return None
