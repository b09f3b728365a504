"""A notebook autograder that runs every submission in a sandbox.

Kept empty on purpose: the package is also importable inside the sandbox
(for ``grader.check``), where every import costs start-up time.
"""
