"""The work tree: ignore rules, and walking the folders a command names into item keys.

Item keys follow the rules of ``mmvc.core.pathrules``. Symbolic links are never followed and
never stored (a link can point out of the work tree, and following one would version bytes the
tree does not own): a walk skips them and reports them; naming one explicitly is an error.
Special files (FIFOs, sockets, devices) are skipped the same way. ``.mmvc`` and ``.git`` (at any
depth, in any spelling ``pathrules`` protects), ``.mmvcignore`` files and mmvc's own temp files
are never items.
"""

from __future__ import annotations

import glob
import os
import stat as statmod
from dataclasses import dataclass, field
from typing import NamedTuple

from mmvc.core.pathrules import is_protected_component, validate_key
from mmvc.core.atomicfile import is_temp_name
from mmvc.errors import BadInputError

IGNORE_FILE = ".mmvcignore"
ALWAYS_IGNORED_DIRS = frozenset({".mmvc", ".git"})
PROTECTED_NAME = "name stands for .git or .mmvc on some filesystem (never versioned)"
_GLOB_CHARS = set("*?[")
_walked = tuple.__new__  # builds a WalkedFile without NamedTuple's slower keyword path
BAD_NAME = "file name is not valid UTF-8"


def printable(name: str) -> str:
    """A file name that is not valid UTF-8, shown with its undecodable bytes as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class WalkedFile(NamedTuple):
    """A regular file found by a walk, with the stat fields the stat cache compares."""

    key: str
    size: int
    mtime_ns: int
    ino: int
    mode: int


@dataclass
class WalkResult:
    files: list[WalkedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, why)
    covered: list[str] = field(default_factory=list)  # key prefixes walked fully ("" = everything)
    explicit: list[str] = field(default_factory=list)  # keys named one by one that do not exist


class IgnoreRules:
    """.mmvcignore files with gitignore semantics, one per folder, applied below that folder."""

    def __init__(self, root: str):
        self.root = root
        self._specs: dict[str, object] = {}

    def spec_for(self, dir_key: str):
        if dir_key not in self._specs:
            path = os.path.join(self.root, dir_key, IGNORE_FILE) if dir_key else os.path.join(self.root, IGNORE_FILE)
            spec = None
            try:
                with open(path, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except (FileNotFoundError, NotADirectoryError):
                lines = []
            except UnicodeDecodeError:
                raise BadInputError(f"{path} is not UTF-8 text", "save it as UTF-8") from None
            if any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
                import pathspec

                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            self._specs[dir_key] = spec
        return self._specs[dir_key]

    def any_rules(self, dir_key: str) -> bool:
        """Whether any .mmvcignore applies inside ``dir_key`` (lets a walk skip the checks)."""
        parts = dir_key.split("/") if dir_key else []
        return any(self.spec_for("/".join(parts[:d])) is not None for d in range(len(parts) + 1))

    def ignored(self, key: str, is_dir: bool) -> bool:
        parts = key.split("/")
        if parts[0] in ALWAYS_IGNORED_DIRS or not is_dir and (parts[-1] == IGNORE_FILE or is_temp_name(parts[-1])):
            return True
        result = False
        for depth in range(len(parts)):
            spec = self.spec_for("/".join(parts[:depth]))
            if spec is None:
                continue
            rel = "/".join(parts[depth:]) + ("/" if is_dir else "")
            r = spec.check_file(rel).include
            if r is not None:
                result = r
        return result


class WorkTree:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.ignore = IgnoreRules(self.root)

    def key_of(self, path: str, cwd: str | None = None) -> str:
        """Item key of a user-given path (relative to ``cwd``); errors if outside the tree."""
        full = os.path.normpath(os.path.join(cwd or os.getcwd(), path))
        rel = os.path.relpath(full, self.root)
        if rel == ".":
            return ""
        if rel.startswith(".." + os.sep) or rel == ".." or os.path.isabs(rel):
            raise BadInputError(f"{path} is outside the work tree {self.root}", "give a path inside the repository")
        key = rel.replace(os.sep, "/")
        return validate_key(key)

    def abspath(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/")) if key else self.root

    def walk(self, dir_key: str, out: WalkResult) -> None:
        """Every regular, non-ignored file below ``dir_key``, in directory order."""
        stack = [dir_key]
        ignore = self.ignore
        while stack:
            d = stack.pop()
            base = self.abspath(d)
            prefix = d + "/" if d else ""
            try:
                it = os.scandir(base)
            except PermissionError:
                out.skipped.append((d, "folder is not readable"))
                continue
            subdirs = []
            rules = ignore.any_rules(d)
            files = out.files
            with it:
                for entry in it:
                    name = entry.name
                    key = prefix + name
                    if not name.isascii():
                        try:
                            key.encode("utf-8")
                        except UnicodeEncodeError:
                            out.skipped.append((printable(key), BAD_NAME))
                            continue
                    if name in ALWAYS_IGNORED_DIRS:
                        continue
                    if is_protected_component(name):
                        out.skipped.append((key, PROTECTED_NAME))
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if rules and ignore.ignored(key, True):
                            continue
                        subdirs.append(key)
                        continue
                    if name == IGNORE_FILE or is_temp_name(name) or rules and ignore.ignored(key, False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                    mode = st.st_mode
                    if mode & 0o170000 != 0o100000:  # not a regular file
                        out.skipped.append((key, "symbolic link (not followed)" if statmod.S_ISLNK(mode) else "not a regular file"))
                        continue
                    files.append(_walked(WalkedFile, (key, st.st_size, st.st_mtime_ns, st.st_ino, mode)))
            stack.extend(sorted(subdirs, reverse=True))

    def resolve(self, pathspecs: list[str], cwd: str | None = None, force: bool = False) -> WalkResult:
        """Expand the paths, folders and quoted globs a user named into files."""
        out = WalkResult()
        cwd = cwd or os.getcwd()
        seen_dirs: list[str] = []
        for spec in pathspecs:
            if _GLOB_CHARS & set(spec) and not os.path.lexists(os.path.join(cwd, spec)):
                matches = sorted(glob.glob(spec, root_dir=cwd, recursive=True))
                if not matches:
                    raise BadInputError(f"pathspec {spec!r} did not match any files", "check the pattern (quote it so mmvc, not the shell, expands it)")
                for m in matches:
                    self._resolve_one(m, cwd, out, seen_dirs, force, from_glob=True)
                continue
            self._resolve_one(spec, cwd, out, seen_dirs, force, from_glob=False)
        if len(pathspecs) > 1:
            uniq: dict[str, WalkedFile] = {}
            for f in out.files:
                uniq.setdefault(f.key, f)
            out.files = list(uniq.values())
        return out

    def _resolve_one(self, spec: str, cwd: str, out: WalkResult, seen_dirs: list[str], force: bool, from_glob: bool) -> None:
        key = self.key_of(spec, cwd)
        full = self.abspath(key)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            out.explicit.append(key)
            return
        except OSError as e:
            raise BadInputError(f"cannot read {spec}: {e.strerror}") from None
        if statmod.S_ISLNK(st.st_mode):
            if from_glob:
                out.skipped.append((key, "symbolic link (not followed)"))
                return
            raise BadInputError(f"{spec} is a symbolic link; mmvc does not follow links", "add the file it points to instead, or copy it into the tree")
        if statmod.S_ISDIR(st.st_mode):
            if any(key == d or key.startswith(d + "/") or d == "" for d in seen_dirs):
                return
            seen_dirs.append(key)
            out.covered.append(key)
            self.walk(key, out)
            return
        if not statmod.S_ISREG(st.st_mode):
            raise BadInputError(f"{spec} is not a regular file", "mmvc versions regular files only")
        if key == "" or self.ignore.ignored(key, False):
            if from_glob:
                return
            if not force:
                raise BadInputError(f"{spec} is ignored by .mmvcignore", "use --force to add it anyway")
        out.files.append(WalkedFile(key, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode))


def prune_empty_dirs(root: str, d: str) -> None:
    """Remove ``d`` and its parents while they are empty, stopping at the work-tree root."""
    while d != root and d.startswith(root):
        try:
            os.rmdir(d)
        except OSError:
            return
        d = os.path.dirname(d)
