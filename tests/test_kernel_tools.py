"""What the course's notebooks run is in the kernel of both backends: the git CLI (00-python-git
makes a repository; the git kit reads it in a fresh sandbox), pytest (the mutation kit runs a
student's tests), and the libraries of the data labs (faiss: 05-rag-chatbot's vector index;
pypdf: 07-resume-extractor's PDFs; mlflow and prometheus_client: 10-mlops)."""

from __future__ import annotations

import pytest

from conftest import BACKENDS
from grader.engine.kernel import Kernel
from grader.engine.sandbox import Limits, get_backend

GIT_ROUND_TRIP = """
import subprocess
def git(*args):
    return subprocess.run(["git", *args], cwd="project", capture_output=True, text=True, check=True).stdout
import os
os.makedirs("project")
git("init", "-q", "-b", "main")
git("config", "user.email", "student@example.org")
git("config", "user.name", "Student")
open("project/notes.txt", "w").write("first\\n")
git("add", "notes.txt")
git("commit", "-q", "-m", "Add notes")
print(git("log", "--format=%s").strip(), git("ls-files").strip())
"""


@pytest.fixture(params=BACKENDS)
def kernel(request):
    k = Kernel(get_backend(request.param), [], Limits(memory=512))
    k.start()
    yield k
    k.close()


def test_git_makes_a_repository_in_the_kernel(kernel):
    assert kernel.execute(GIT_ROUND_TRIP, 60).stdout.split() == ["Add", "notes", "notes.txt"]


@pytest.mark.parametrize("module", ["pytest", "httpx", "numpy", "pandas", "matplotlib", "sqlite3", "faiss", "pypdf",
                                    "mlflow", "prometheus_client"])
def test_the_labs_libraries_import(kernel, module):
    reply = kernel.execute(f"import {module}\nprint({module}.__name__)", 60)
    assert reply.stdout.strip() == module, reply
