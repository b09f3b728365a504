"""Code of the mutation kit that runs in a fresh sandbox, never in the grader:
``python -s -P -m grader.kits.mutation.inside.pytest_run SHARED``. Standard library only."""
