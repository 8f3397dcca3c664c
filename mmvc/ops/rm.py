from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.core.hashing import hash_file
from mmvc.core.pathrules import display_path
from mmvc.core.worktree import prune_empty_dirs
from mmvc.errors import ConflictError
from mmvc.services.pathspecs import tracked_matches


@dataclass
class RmResult:
    removed: list[str] = field(default_factory=list)
    cached: bool = False


def rm(repo, paths: list[str], cached: bool = False, recursive: bool = False, force: bool = False, cwd: str | None = None,
       literal: bool = False) -> RmResult:
    """Stop tracking items and (unless ``cached``) delete their files. Files with changes the
    index does not hold are kept unless ``force``, since deleting them would lose work."""
    with repo.locked("rm"):
        index = repo.load_index()
        keys = tracked_matches(repo, lambda p: (e.path for e in index.iter_entries(p)), paths, cwd, recursive, literal)
        if not cached and not force:
            dirty = []
            for k in keys:
                full = repo.worktree.abspath(k)
                e = index.get(k)
                if os.path.lexists(full):
                    st = os.lstat(full)
                    if (st.st_size, st.st_mtime_ns) != (e.size, e.mtime_ns) and hash_file(full) != e.oid:
                        dirty.append(k)
            if dirty:
                raise ConflictError(
                    f"{len(dirty)} file(s) have changes that are not staged: {', '.join(map(display_path, dirty[:5]))}",
                    "stage them first, keep the files with --cached, or discard the changes with --force",
                )
        for k in keys:
            index.remove(k)
        index.write()
        if not cached:
            for k in keys:
                full = repo.worktree.abspath(k)
                try:
                    os.unlink(full)
                except FileNotFoundError:
                    pass
                prune_empty_dirs(repo.worktree.root, os.path.dirname(full))
    return RmResult(removed=keys, cached=cached)
