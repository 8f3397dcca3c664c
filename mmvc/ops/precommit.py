"""What the pre-commit framework's hooks need to check the right bytes.

pre-commit runs hooks in the Git repository's root, after stashing every change Git sees as
unstaged. A dataset whose files Git also tracks is therefore checked against Git's copy, not
the work tree (a dirty dataset passes, a clean one fails), so the hooks first ask Git whether it
tracks anything inside the mmvc work tree, and refuse to judge when it does. And the mmvc
repository need not be the Git root: it is found at or above the folder the hook runs in, or in
one of that folder's subfolders.
"""

from __future__ import annotations

import os
import subprocess

from mmvc.core.layout import MMVC_DIR
from mmvc.errors import BadInputError
from mmvc.services.repository import Repository

# Files Git may track inside an mmvc work tree without holding any of the dataset.
GIT_OWN = (".gitignore", ".gitattributes", ".mmvcignore", ".pre-commit-config.yaml")


def find_dataset(start: str = ".") -> str | None:
    """The root of the mmvc repository at or above ``start``, else of the one directly in a
    subfolder of ``start`` (``data/.mmvc``); None when there is none. Subfolders are looked at
    one level deep only, so a large tree costs one listing."""
    root = Repository.find_root(start)
    if root is not None:
        return root
    start = os.path.abspath(start)
    try:
        found = sorted(e.path for e in os.scandir(start)
                       if e.is_dir(follow_symlinks=False) and os.path.isdir(os.path.join(e.path, MMVC_DIR)))
    except OSError:
        return None
    if len(found) > 1:
        names = ", ".join(os.path.relpath(f, start) for f in found)
        raise BadInputError(f"several mmvc repositories below {start}: {names}", "name one with --repo DIR (one hook entry per repository)")
    return found[0] if found else None


def git_tracked(root: str, limit: int = 10) -> list[str]:
    """Up to ``limit`` files inside the work tree at ``root`` that Git tracks (paths relative to
    ``root``), besides Git's and mmvc's own settings files (``.mmvc/`` itself counts: Git must not
    hold it either); [] outside a Git repository."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "."], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []  # not inside a Git work tree
    paths = [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p and os.path.basename(p) not in GIT_OWN]
    paths.sort(key=lambda p: p.startswith(".mmvc/"))  # the dataset's own files first: they are what a user recognises
    return paths[:limit]
