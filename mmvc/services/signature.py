"""Who did something and when: the signatures of commits and tags, and the name reflogs record.

One place reads MMVC_<ROLE>_NAME/EMAIL/DATE, the repository's ``[user]`` and the global
config, so a commit, a tag, a recipe and every ref move agree on who made them.
"""

from __future__ import annotations

import os
import time

from mmvc.core.objects import Signature


def _local_tz_minutes(ts: int) -> int:
    lt = time.localtime(ts)
    return (lt.tm_gmtoff or 0) // 60


def signature(repo, role: str) -> Signature:
    """Who and when: MMVC_<ROLE>_NAME/EMAIL/DATE, then repo config, then the login name."""
    import getpass
    import socket

    env = os.environ
    c = repo.config
    name = env.get(f"MMVC_{role}_NAME") or c.user_name
    email = env.get(f"MMVC_{role}_EMAIL") or c.user_email
    if not name or not email:
        from mmvc.core.config import global_user

        g = global_user()
        name = name or g.get("name", "")
        email = email or g.get("email", "")
    try:
        login = getpass.getuser()
    except Exception:
        login = "unknown"
    name = name or login
    email = email or f"{login}@{socket.gethostname()}"
    when = env.get(f"MMVC_{role}_DATE")
    ts = int(when) if when and when.lstrip("-").isdigit() else int(time.time())
    return Signature(name=name, email=email, time=ts, tz=_local_tz_minutes(ts))


def committer(repo) -> str:
    """``Name <email>`` of the committer, as a reflog entry records who moved a ref."""
    return signature(repo, "COMMITTER").who
