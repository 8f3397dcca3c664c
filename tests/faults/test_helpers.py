"""Worker processes never outlive the command that started them, and stay quiet on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from mmvc.repo import Repo


def _session_members(sid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
                out.append(int(name))
    return out


def _many_files(root, n_dirs=20, per_dir=400):
    for d in range(n_dirs):
        sub = root / "data" / f"d{d:02d}"
        sub.mkdir(parents=True)
        for i in range(per_dir):
            (sub / f"{i}.txt").write_text(f"caption {d} {i}\n" * 200)


def _wait_for_workers(proc, at_least: int = 2, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_session_members(proc.pid)) > at_least:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("the add finished before its workers could be seen; make the test data larger")


def test_kill_9_of_add_leaves_no_helper_behind(tmp_path):
    Repo.init(str(tmp_path), ungated=True)
    _many_files(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", str(tmp_path), "add", "data", "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    _wait_for_workers(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while _session_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _session_members(proc.pid)
    for pid in left:  # never leave them running, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} helper process(es) outlived the killed add"
    # ...so that a reader of its output sees the end of it
    assert proc.stdout.read() is not None


def test_ctrl_c_of_add_prints_one_error_and_no_worker_traceback(tmp_path):
    Repo.init(str(tmp_path), ungated=True)
    _many_files(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", str(tmp_path), "add", "data", "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    _wait_for_workers(proc, at_least=4)  # the fork server and resource tracker done starting, both workers forked
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches every process of the group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err.decode(errors="replace")
    assert err.decode().count("error:") == 1, err
