"""Refs: HEAD and named pointers to commits, each a small text file moved by compare-and-swap.

Callers hold the repository lock while they update refs; ``update`` still checks the old value
so that a writer acting on a stale read fails instead of silently discarding another's commit.
"""

from __future__ import annotations

import os

from mmvc.core.hashing import is_object_id
from mmvc.core.store import atomic_write
from mmvc.errors import ConflictError, CorruptError

DEFAULT_BRANCH = "main"


class RefStore:
    def __init__(self, mmvc_dir: str):
        self.dir = mmvc_dir
        self.head_path = os.path.join(mmvc_dir, "HEAD")

    def init(self, branch: str = DEFAULT_BRANCH) -> None:
        for d in ("refs/heads", "refs/tags"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        atomic_write(self.head_path, f"ref: refs/heads/{branch}\n".encode())

    def _path(self, ref: str) -> str:
        return os.path.join(self.dir, *ref.split("/"))

    def head_target(self) -> tuple[str | None, str | None]:
        """(symbolic ref HEAD points at or None when detached, commit id or None when unborn)."""
        try:
            with open(self.head_path) as f:
                text = f.read().strip()
        except FileNotFoundError:
            raise CorruptError(f"{self.head_path} is missing", "restore it, e.g. `echo 'ref: refs/heads/main' > .mmvc/HEAD`") from None
        if text.startswith("ref: "):
            ref = text[5:].strip()
            return ref, self.read(ref)
        if is_object_id(text):
            return None, text
        raise CorruptError(f"{self.head_path} holds neither a ref nor a commit id", "fix it by hand or run `mmvc fsck`")

    def read(self, ref: str) -> str | None:
        try:
            with open(self._path(ref)) as f:
                text = f.read().strip()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        if not is_object_id(text):
            raise CorruptError(f"ref {ref} is corrupt: {text[:80]!r}", "fix or delete the file under .mmvc/refs, then run `mmvc fsck`")
        return text

    def update(self, ref: str, new: str, expected_old: str | None) -> None:
        current = self.read(ref)
        if current != expected_old:
            raise ConflictError(
                f"ref {ref} moved while this command ran (expected {expected_old or 'none'}, found {current or 'none'})",
                "run the command again",
            )
        path = self._path(ref)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, (new + "\n").encode())

    def list(self, prefix: str = "refs/heads") -> dict[str, str]:
        out = {}
        root = self._path(prefix)
        for dirpath, _, files in os.walk(root):
            for name in files:
                if ".tmp-" in name:
                    continue
                full = os.path.join(dirpath, name)
                ref = os.path.relpath(full, self.dir).replace(os.sep, "/")
                oid = self.read(ref)
                if oid:
                    out[ref] = oid
        return dict(sorted(out.items()))
