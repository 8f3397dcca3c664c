"""Refs: HEAD and named pointers to commits, each a small text file moved by compare-and-swap,
with a reflog line appended for every move (so `@{-1}` and lost commits can be found again).

Callers hold the repository lock while they update refs; ``update`` still checks the old value
so that a writer acting on a stale read fails instead of silently discarding another's commit.
"""

from __future__ import annotations

import builtins
import os
import re
import time

from mmvc.core.atomicfile import atomic_write, is_temp_name
from mmvc.core.hashing import is_object_id
from mmvc.core.layout import HEAD, HEADS, TAGS, Layout, branch_ref
from mmvc.errors import BadInputError, ConflictError, CorruptError, storage_error

DEFAULT_BRANCH = "main"
ZERO = "0" * 64
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_ref_name(name: str, what: str = "branch") -> str:
    """Git's check-ref-format rules for one branch or tag name (without the refs/ prefix)."""
    bad = (
        not name
        or name == "@"
        or name.startswith(("/", "-"))
        or name.endswith(("/", ".", ".lock"))
        or "//" in name
        or ".." in name
        or "@{" in name
        or _BAD_REF_CHARS.search(name) is not None
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
        or name == HEAD
    )
    if bad:
        raise BadInputError(
            f"{name!r} is not a valid {what} name",
            "use letters, digits, '-', '_', '.' and '/'; no spaces, '..', '~', '^', ':', '?', '*', '[', '\\' or '@{'",
        )
    return name


class RefStore:
    def __init__(self, mmvc_dir: str):
        self.dir = mmvc_dir
        self.layout = Layout(mmvc_dir)
        self.head_path = self.layout.head

    def init(self, branch: str = DEFAULT_BRANCH) -> None:
        check_ref_name(branch)
        for d in (HEADS, TAGS):
            os.makedirs(self.layout.ref(d), exist_ok=True)
        atomic_write(self.head_path, f"ref: {branch_ref(branch)}\n".encode())

    def _path(self, ref: str) -> str:
        return self.layout.ref(ref)

    # -- reading

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

    def list(self, prefix: str = HEADS) -> dict[str, str]:
        out = {}
        root = self._path(prefix)
        for dirpath, _, files in os.walk(root):
            for name in files:
                if is_temp_name(name):
                    continue
                ref = os.path.relpath(os.path.join(dirpath, name), self.dir).replace(os.sep, "/")
                oid = self.read(ref)
                if oid:
                    out[ref] = oid
        return dict(sorted(out.items()))

    def names(self, prefix: str) -> builtins.list[str]:
        """The refs under ``prefix``, by name only: for refs whose name already says what they
        hold (``refs/evals/<commit>/<eval id>``), without opening a file per ref."""
        out: builtins.list[str] = []

        def walk(path: str, rel: str) -> None:
            try:
                it = os.scandir(path)
            except (FileNotFoundError, NotADirectoryError):
                return
            with it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        walk(e.path, f"{rel}/{e.name}")
                    elif ".tmp-" not in e.name:
                        out.append(f"{rel}/{e.name}")

        walk(self._path(prefix), prefix.rstrip("/"))
        return sorted(out)

    # -- moving

    def update(self, ref: str, new: str, expected_old: str | None, message: str = "", who: str = "") -> None:
        """Move ``ref`` from ``expected_old`` (None: must not exist) to ``new``, logging it."""
        current = self.read(ref)
        if current != expected_old:
            raise ConflictError(
                f"ref {ref} moved while this command ran (expected {expected_old or 'none'}, found {current or 'none'})",
                "run the command again",
            )
        path = self._path(ref)
        _write_ref(path, new, ref)
        self.log(ref, current, new, message, who)
        head_ref, _ = self.head_target()
        if head_ref == ref:
            self.log(HEAD, current, new, message, who)

    def delete(self, ref: str, expected_old: str) -> None:
        current = self.read(ref)
        if current != expected_old:
            raise ConflictError(f"ref {ref} moved while this command ran", "run the command again")
        os.unlink(self._path(ref))
        _prune_empty(os.path.dirname(self._path(ref)), self.layout.refs)
        log = self._log_path(ref)
        if os.path.exists(log):
            os.unlink(log)
            _prune_empty(os.path.dirname(log), self.layout.logs)

    def rename(self, old: str, new: str, message: str, who: str) -> None:
        oid = self.read(old)
        if oid is None:
            raise BadInputError(f"{old.split('/', 2)[-1]} does not exist", "check the name")
        if self.read(new) is not None:
            raise BadInputError(f"{new.split('/', 2)[-1]} already exists", "pick another name, or delete it first")
        _write_ref(self._path(new), oid, new)
        old_log, new_log = self._log_path(old), self._log_path(new)
        if os.path.exists(old_log):
            os.makedirs(os.path.dirname(new_log), exist_ok=True)
            os.replace(old_log, new_log)
        os.unlink(self._path(old))
        _prune_empty(os.path.dirname(self._path(old)), self.layout.refs)
        self.log(new, oid, oid, message, who)
        head_ref, _ = self.head_target()
        if head_ref == old:
            self.set_head_symbolic(new, oid, oid, message, who)

    def set_head_symbolic(self, ref: str, old: str | None, new: str | None, message: str, who: str) -> None:
        _write_ref(self.head_path, f"ref: {ref}", HEAD)
        if new:
            self.log(HEAD, old, new, message, who)

    def set_head_detached(self, old: str | None, new: str, message: str, who: str) -> None:
        _write_ref(self.head_path, new, HEAD)
        self.log(HEAD, old, new, message, who)

    # -- reflog

    def _log_path(self, ref: str) -> str:
        return self.layout.reflog(ref)

    def log(self, ref: str, old: str | None, new: str, message: str, who: str) -> None:
        """Append "<old> <new> <who> <time> <tz>\\t<message>" to the ref's log (best effort:
        a reflog is a convenience, never a reason to fail the move that already happened)."""
        path = self._log_path(ref)
        tz = (time.localtime().tm_gmtoff or 0) // 60
        line = f"{old or ZERO} {new} {who} {int(time.time())} {'+' if tz >= 0 else '-'}{abs(tz) // 60:02d}{abs(tz) % 60:02d}\t{message}\n"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(line.replace("\n", " ").rstrip() + "\n")
        except OSError:
            pass

    def read_log(self, ref: str = HEAD) -> builtins.list[dict]:
        """Reflog entries, newest first."""
        try:
            with open(self._log_path(ref), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for ln in reversed(lines):
            head, _, message = ln.partition("\t")
            parts = head.split(" ")
            if len(parts) < 5:
                continue
            out.append({"old": None if parts[0] == ZERO else parts[0], "new": parts[1], "who": " ".join(parts[2:-2]),
                        "time": int(parts[-2]), "tz": parts[-1], "message": message})
        return out


def _write_ref(path: str, value: str, ref: str) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, (value + "\n").encode())
    except OSError as e:
        raise storage_error(e, f"writing {ref}") from e


def _prune_empty(d: str, stop: str) -> None:
    while d.startswith(stop) and d != stop:
        try:
            os.rmdir(d)
        except OSError:
            return
        d = os.path.dirname(d)
