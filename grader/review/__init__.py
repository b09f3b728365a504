"""``grade review``: an instructor reads, overrides and grades by hand after a grade run.

The overrides and the comment bank live in the grades folder's ``history.sqlite``, appended to
and never changed (grader.review.store); the app that serves the review pages is
grader.review.app.
"""
