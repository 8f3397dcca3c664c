"""User hooks: executables in ``.mmvc/hooks/`` that mmvc runs around commits, merges and pushes.

Contract (docs/cli.md, "Hooks"): the hook runs in the work-tree root with MMVC_REPO, MMVC_DIR,
MMVC_HOOK, and per operation MMVC_BRANCH, MMVC_OLD and MMVC_NEW in its environment; arguments
and standard input depend on the hook. A non-zero exit from a ``pre-*`` or ``commit-msg`` hook
aborts the operation and its output is shown; a hook that runs longer than ``hooks.timeout``
seconds (default 300) is killed and counts as a refusal. ``--no-verify`` skips user hooks; it
never skips the process gate.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

from mmvc.errors import HookError

DEFAULT_TIMEOUT = 300


@dataclass
class HookRun:
    name: str
    returncode: int
    output: str


def hook_path(repo, name: str) -> str | None:
    path = repo.layout.hook(name)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def run_hook(repo, name: str, args: tuple[str, ...] = (), stdin: str = "", env: dict | None = None,
             check: bool = True) -> HookRun | None:
    """Run hook ``name`` if it is installed and executable; None when it is not."""
    path = hook_path(repo, name)
    if path is None:
        return None
    timeout = float(repo.config.raw.get("hooks", {}).get("timeout", DEFAULT_TIMEOUT))
    full_env = dict(os.environ, MMVC_REPO=repo.root, MMVC_DIR=repo.dir, MMVC_HOOK=name, **(env or {}))
    proc = subprocess.Popen([path, *args], cwd=repo.root, env=full_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise HookError(f"the {name} hook did not finish within {timeout:g} s and was stopped" + _tail(out),
                        "fix the hook, raise [hooks] timeout in .mmvc/config.toml, or skip hooks with --no-verify") from None
    except OSError as e:
        raise HookError(f"the {name} hook could not be run: {e.strerror}", f"check the first line (#!) of {path}") from None
    run = HookRun(name, proc.returncode, out)
    if check and proc.returncode != 0:
        raise HookError(f"the {name} hook refused (exit {proc.returncode})" + _tail(out), "fix what it reports, or skip hooks with --no-verify")
    return run


def _tail(out: str) -> str:
    out = (out or "").strip()
    if not out:
        return ""
    lines = out.splitlines()[-20:]
    return ":\n" + "\n".join("  " + ln for ln in lines)
