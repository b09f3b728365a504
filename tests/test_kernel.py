"""A real sandboxed kernel: starting it, running notebooks on it, and the ``nb`` handle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import notebook
from grader.testing.codec import CodecError
from grader.engine.execute import OutputCaps, execute
from grader.engine.kernel import Kernel, KernelError, KernelTimeout
from grader.testing.notebook import Notebook, NotebookError
from grader.engine.sandbox import Limits, get_backend


def start_kernel(**limits) -> Kernel:
    kernel = Kernel(get_backend("bwrap"), [], Limits(**limits))
    kernel.start()
    return kernel


@pytest.fixture
def kernel():
    k = start_kernel(memory=300)
    yield k
    k.close()


@pytest.fixture(scope="module")
def nb():
    """One executed notebook shared by the read-only ``nb`` tests."""
    k = start_kernel()
    executed = notebook(
        "import numpy as np, pandas as pd\nanswer = 42\nprint('hello')",
        "def add(a, b=1):\n    return a + b\n\ndef boom():\n    raise ValueError('no luck')",
        "class AlwaysEqual:\n    def __eq__(self, other): return True\nsneaky = AlwaysEqual()",
        "frame = pd.DataFrame({'x': [1, 2], 'y': ['a', 'b']})\narr = np.arange(6).reshape(2, 3)",
        "1 / 0",
        tags={0: ["setup"], 4: ["fails"]},
    )
    execution = execute(k, executed, cell_timeout=10, timeout=60)
    assert execution.status == "graded"
    yield Notebook(k, execution.notebook, timeout=10)
    k.close()


def test_kernel_runs_sandboxed(kernel):
    reply = kernel.execute("import os, socket\nprint(os.getuid(), socket.gethostname())", 10)
    uid, host = reply.stdout.split()
    assert int(uid) >= 1_000_000 and host == "sandbox"


def test_timeout_interrupts_and_the_kernel_goes_on(kernel):
    with pytest.raises(KernelTimeout):
        kernel.execute("while True:\n    pass", 1)
    assert not kernel.hung
    assert kernel.execute("print('still here')", 10).stdout == "still here\n"


def test_a_kernel_that_ignores_interrupts_is_marked_hung(kernel):
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    with pytest.raises(KernelTimeout):
        kernel.execute(code, 1)
    assert kernel.hung
    with pytest.raises(KernelError, match="stopped answering"):
        kernel.execute("1", 10)


def test_cell_timeout_moves_on_to_the_next_cell_and_says_so(kernel):
    nb = notebook("x = 1", "while True:\n    pass", "print('next cell ran')", "import time\ntime.sleep(30)")
    result = execute(kernel, nb, cell_timeout=1, timeout=60)
    assert result.status == "graded"
    for stopped in (1, 3):
        error = result.notebook.cells[stopped].outputs[-1]
        assert (error.ename, error.evalue) == ("TimeoutError", "cell exceeded 1 s and was stopped")
        assert "KeyboardInterrupt" not in "".join(error.traceback)
    assert result.notebook.cells[2].outputs[0].text == "next cell ran\n"
    assert result.message == "cells 2, 4 exceeded 1 s and were stopped"


def test_a_keyboard_interrupt_the_student_raises_is_not_called_a_timeout(kernel):
    result = execute(kernel, notebook("raise KeyboardInterrupt"), cell_timeout=10, timeout=30)
    assert result.notebook.cells[0].outputs[-1].ename == "KeyboardInterrupt" and result.message == ""


def test_notebook_timeout_stops_everything(kernel):
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)"
    result = execute(kernel, notebook(code, "print('never')"), cell_timeout=1, timeout=4)
    assert result.status == "timeout"


def test_os_exit_is_a_crash(kernel):
    result = execute(kernel, notebook("import os\nos._exit(3)", "print('never')"), cell_timeout=10, timeout=30)
    assert result.status == "crashed"


def test_memory_bomb_is_reported_as_memory(kernel):
    result = execute(kernel, notebook("x = []\nwhile True:\n    x.append(bytearray(32 * 2**20))"),
                     cell_timeout=30, timeout=60)
    assert result.status == "memory"


def test_output_is_capped_while_it_streams(kernel):
    nb = notebook("for _ in range(50):\n    print('y' * 100_000)", "print('after')")
    result = execute(kernel, nb, cell_timeout=30, timeout=60, caps=OutputCaps(cell=200_000))
    kept = sum(len(o.get("text", "")) for c in result.notebook.cells for o in c.outputs)
    assert result.truncated and kept < 400_000
    assert result.status == "graded"


def test_submitted_outputs_are_discarded(kernel):
    nb = notebook("x = 1")
    nb.cells[0].outputs = [{"output_type": "stream", "name": "stdout", "text": "forged: 100/100\n"}]
    result = execute(kernel, nb, cell_timeout=10, timeout=30)
    assert result.notebook.cells[0].outputs == []


def test_ref_and_call_return_plain_values(nb):
    assert nb.ref("answer") == 42
    assert nb.call("add", 2) == 3 and nb.call("add", 2, b=5) == 7
    frame = nb.ref("frame")
    assert type(frame) is pd.DataFrame and frame["y"].tolist() == ["a", "b"]
    assert type(nb.ref("arr")) is np.ndarray and nb.ref("arr").shape == (2, 3)
    assert nb.call("add", np.array([1, 2]), b=np.array([10, 20])).tolist() == [11, 22]


def test_errors_in_the_notebook_become_notebook_errors(nb):
    with pytest.raises(NotebookError, match="ValueError: no luck") as info:
        nb.call("boom")
    assert info.value.ename == "ValueError"
    with pytest.raises(NotebookError, match="NameError"):
        nb.ref("not_defined_anywhere")


def test_a_notebook_error_names_the_students_cell_and_line(nb):
    with pytest.raises(NotebookError) as info:
        nb.call("boom")
    assert info.value.where == "cell 2, line 5"  # boom's raise, in the notebook's second cell
    with pytest.raises(NotebookError) as info:
        nb.run("def _helper():\n    return boom()\n_helper()")
    assert info.value.where == "cell 2, line 5"  # the innermost of the student's cells, not the test's code
    for raised_by_the_test in ("1 / 0", "not_defined_anywhere"):
        with pytest.raises(NotebookError) as info:
            nb.ref(raised_by_the_test)
        assert info.value.where == ""
    assert nb.ref("answer") == 42  # asking where left the kernel as it was


def test_objects_that_claim_equality_do_not_cross(nb):
    with pytest.raises(CodecError, match="AlwaysEqual"):
        nb.ref("sneaky")


def test_run_returns_stdout_and_raises(nb):
    assert nb.run("print(answer + 1)") == "43\n"
    with pytest.raises(NotebookError, match="ZeroDivisionError"):
        nb.run("1 / 0")


def test_cell_by_tag(nb):
    setup = nb.cell("setup")
    assert "answer = 42" in setup.source and setup.text == "hello\n" and setup.error is None
    assert nb.cell("fails").error == "ZeroDivisionError"
    with pytest.raises(LookupError, match="no cell tagged 'missing'"):
        nb.cell("missing")


def test_assign_puts_grader_data_in_the_kernel(nb):
    nb.assign("_data", {"x": np.arange(3), "y": (1, 2)})
    assert nb.ref("type(_data['x']).__name__, _data['y']") == ("ndarray", (1, 2))
    assert nb.call("add", nb.ref("_data['x']"), b=1).tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        nb.assign("a; import os", 1)


def test_calls_share_one_time_budget(kernel):
    execution = execute(kernel, notebook("import time\ndef slow():\n    time.sleep(0.4)"), 10, 30)
    nb = Notebook(kernel, execution.notebook, timeout=10, budget=1)
    with pytest.raises(KernelTimeout):
        for _ in range(10):
            nb.call("slow")


def test_call_refuses_code_as_a_name(nb):
    with pytest.raises(ValueError, match="not a name"):
        nb.call("add(1); import os")
