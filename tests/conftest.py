"""Shared fixtures: a fresh repository on disk, and a fixed identity/clock for every commit."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, settings

# A real S3 server (moto server mode) as the session fixture `s3_server`; a two-node Ray cluster as `ray_cluster`.
pytest_plugins = ["tests.s3_server", "tests.process_fixtures", "tests.ray_cluster"]

# Property tests: quick by default; `pytest --hypothesis-profile=soak` runs them deep.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("mmvc", max_examples=50, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("soak", max_examples=2000, deadline=None, suppress_health_check=_QUIET)
settings.load_profile("mmvc")


@pytest.fixture(autouse=True)
def _deterministic_env(monkeypatch, tmp_path_factory):
    """Commits made in tests get the same author, committer and date on every machine."""
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"MMVC_{role}_NAME", "Test User")
        monkeypatch.setenv(f"MMVC_{role}_EMAIL", "test@example.com")
        monkeypatch.setenv(f"MMVC_{role}_DATE", "1700000000")
    monkeypatch.setenv("TZ", "UTC")
    # Keep the developer's ~/.config/mmvc out of the tests.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def repo(tmp_path):
    from mmvc.repo import Repo

    return Repo.init(str(tmp_path), ungated=True)  # these tests are about storage and history, not the gate


@pytest.fixture
def mmvc_on_path(tmp_path):
    """An environment whose PATH runs this checkout's `mmvc` and `mmvc-pre-commit`, as an
    installed mmvc would provide them, for tests that drive other tools (shells, pre-commit)."""
    import os
    import sys

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, module in (("mmvc", "mmvc.cli.main"), ("mmvc-pre-commit", "mmvc.cli.precommit")):
        exe = bin_dir / name
        exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
        exe.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": root}


class SmallDisk:
    """A real, tiny filesystem: full disks and read-only mounts, not mocks of them."""

    def __init__(self, path):
        self.path = path

    def fill(self, leave: int = 0) -> None:
        """Fill the disk, leaving about ``leave`` bytes free."""
        import errno
        import os

        spare = os.path.join(self.path, "spare")
        with open(spare, "wb") as f:
            f.write(b"\0" * leave)
        with open(os.path.join(self.path, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError as e:
                assert e.errno == errno.ENOSPC
            try:
                while True:
                    f.write(b"\0" * 512)
            except OSError:
                pass
        os.unlink(spare)

    def free(self) -> None:
        import os

        os.unlink(os.path.join(self.path, "filler"))

    def remount(self, mode: str) -> None:
        import subprocess

        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs mounted for the test (needs root; skipped elsewhere)."""
    import subprocess

    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield SmallDisk(mnt)
    subprocess.run(["umount", "-l", str(mnt)], check=False)


_SESSION = {}


def pytest_sessionfinish(session, exitstatus):
    _SESSION["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process once pytest has reported: pyarrow's thread pools can abort the
    interpreter's own teardown ("terminate called without an active exception",
    apache/arrow#34314), which would turn a green run into exit code 134. The CLI does the same."""
    if "status" in _SESSION:
        import os
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_SESSION["status"])
