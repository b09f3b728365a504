"""``grade import``: nbgrader's and otter's courses read as labs of this grader.

:mod:`.nbgrader` and :mod:`.otter` read their tool's format into :class:`.model.ImportedLab`;
:mod:`.convert` turns each test case into a pytest test that judges in the grader wherever the
case allows; :mod:`.write` writes the lab's folder under ``solutions/``.
"""
