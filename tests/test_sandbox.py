"""The bubblewrap sandbox on its own: what a command inside can see, reach and use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from grader.engine.sandbox import Limits, SandboxUnavailable, get_backend

SECRET = "sandbox-test-secret-3a9c"


def run_inside(code: str, tmp_path: Path, files: list[Path] = (), **limits) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a fresh sandbox, then close it."""
    socket_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    sandbox = get_backend("bwrap").open(list(files), socket_dir, Limits(**limits))
    try:
        return subprocess.run(sandbox.command([sys.executable, "-c", textwrap.dedent(code)]),
                              cwd=sandbox.launch_dir, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "SANDBOX_SECRET": SECRET})
    finally:
        sandbox.close()


def test_runs_as_an_unprivileged_user_without_capabilities(tmp_path):
    out = run_inside("""
        import os
        caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))]
        print(os.getuid(), os.getgid(), os.getgroups(), caps)
    """, tmp_path).stdout.split(maxsplit=2)
    assert int(out[0]) >= 1_000_000 and int(out[1]) >= 1_000_000
    assert out[2].strip() == "[] ['0000000000000000', '0000000000000000', '0000000000000000']"


def test_sees_only_the_lab_files_and_no_secrets(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    hidden = tmp_path / "hidden_tests.py"
    hidden.write_text("assert answer == 42\n")
    out = run_inside(f"""
        import os
        print(sorted(os.listdir('.')))
        print(open('data.csv').read().splitlines()[0])
        print(os.path.exists({str(hidden)!r}), os.path.exists('/etc/shadow'), os.path.exists('/root/.bashrc'))
        print({SECRET!r} in str(os.environ), sorted(os.environ)[:3])
        try:
            open('data.csv', 'a').write('x')
        except OSError as e:
            print('refused', e.errno in (13, 30))  # EACCES or EROFS
    """, tmp_path, files=[data]).stdout.splitlines()
    assert out[0] == "['data.csv']"
    assert out[1] == "a,b"
    assert out[2] == "False False False"
    assert out[3].startswith("False")
    assert out[4] == "refused True"


def test_cannot_reach_the_host_or_the_network(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    out = run_inside(f"""
        import socket
        for addr in [('127.0.0.1', {port}), ('1.1.1.1', 80)]:
            try:
                socket.create_connection(addr, timeout=2)
                print('reached', addr)
            except OSError as e:
                print('blocked', type(e).__name__)
        print(sorted(name for _, name in socket.if_nameindex()))
    """, tmp_path).stdout.splitlines()
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()
    assert out == ["blocked ConnectionRefusedError", "blocked OSError", "['lo']"]


def test_limits_apply(tmp_path):
    out = run_inside("""
        import os, resource
        def attempt(fn):
            try:
                fn()
                return 'ok'
            except OSError as e:
                return os.strerror(e.errno)
        def big_file():
            with open('big', 'wb') as f:
                f.write(b'x' * 3 * 2**20)
        def many_files():
            [open('/dev/null') for _ in range(100)]
        def fill_scratch():
            for i in range(10):
                with open(f'fill{i}', 'wb') as f:
                    f.write(b'x' * 2**20)
        print(attempt(big_file))
        print(attempt(many_files))
        print(attempt(fill_scratch))
    """, tmp_path, file_size=2, open_files=50, scratch=4).stdout.splitlines()
    assert out == ["File too large", "Too many open files", "No space left on device"]


def test_close_kills_processes_that_left_their_session(tmp_path):
    marker = "sandbox-daemon-marker-51"
    run_inside(f"""
        import subprocess
        subprocess.Popen(['sh', '-c', 'sleep 300; echo {marker}'], start_new_session=True)
    """, tmp_path)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)]
    assert leftovers == []


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text.encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def test_memory_limit_kills_and_is_reported(tmp_path):
    socket_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    sandbox = get_backend("bwrap").open([], socket_dir, Limits(memory=128))
    try:
        proc = subprocess.run(sandbox.command([sys.executable, "-c", "x = bytearray(400 * 2**20)"]),
                              cwd=sandbox.launch_dir, capture_output=True, timeout=60)
        assert proc.returncode != 0
        assert sandbox.memory_exceeded()
    finally:
        sandbox.close()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(SandboxUnavailable, match="unknown sandbox backend"):
        get_backend("chroot")
