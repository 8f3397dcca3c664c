"""Where the traceback of an unexpected exception goes: a file under the repository's ``.mmvc/``
(``crash/``, see docs/format.md) or, outside a repository, the temp folder. The user sees one
line and the file's path; ``MMVC_DEBUG=1`` prints the traceback itself."""

from __future__ import annotations

import os
import tempfile
import time
import traceback

DEBUG_ENV = "MMVC_DEBUG"
CRASH_DIR = "crash"


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def write_report(exc: BaseException, argv: list[str]) -> str | None:
    """Write the traceback and the command line; returns the file's path, None if nowhere took it."""
    from mmvc import __version__
    from mmvc.repo import MMVC_DIR, Repo

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"mmvc-{stamp}-{os.getpid()}.txt"
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "(gone)"
    text = f"mmvc {__version__}\ncommand: mmvc {' '.join(argv)}\ncwd: {cwd}\n\n{traceback_text(exc)}"
    root = Repo.find_root() if cwd != "(gone)" else None  # found without reading the repository: the crash may be there
    for folder in ([os.path.join(root, MMVC_DIR, CRASH_DIR)] if root else []) + [tempfile.gettempdir()]:
        path = os.path.join(folder, name)
        try:
            os.makedirs(folder, exist_ok=True)
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return None
