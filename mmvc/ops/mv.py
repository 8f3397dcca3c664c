from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.core.worktree import prune_empty_dirs
from mmvc.errors import BadInputError


@dataclass
class MvResult:
    moved: list[tuple[str, str]] = field(default_factory=list)


def mv(repo, src: str, dst: str, force: bool = False, cwd: str | None = None) -> MvResult:
    """Rename a tracked file or folder in the work tree and the index together."""
    wt = repo.worktree
    with repo.locked("mv"):
        index = repo.load_index()
        skey = wt.key_of(src, cwd)
        dkey = wt.key_of(dst, cwd)
        if not skey:
            raise BadInputError("cannot move the work-tree root", "name a file or folder inside it")
        entry = index.get(skey)
        under = [] if entry else list(index.iter_entries(skey + "/"))
        if entry is None and not under:
            raise BadInputError(f"{src!r} is not tracked", "`mmvc ls-files` lists what is tracked; use a plain `mv` for other files")
        if os.path.isdir(wt.abspath(dkey)) and not (under and not os.path.exists(wt.abspath(dkey))):
            dkey = (dkey + "/" if dkey else "") + skey.rsplit("/", 1)[-1]
        if dkey == skey or dkey.startswith(skey + "/"):
            raise BadInputError(f"cannot move {src!r} into itself")
        pairs = [(skey, dkey)] if entry else [(e.path, dkey + e.path[len(skey):]) for e in under]
        for _, new in pairs:
            if index.get(new) is not None and not force or os.path.lexists(wt.abspath(new)) and not force:
                raise BadInputError(f"destination {new!r} already exists", "pass --force to overwrite it")
        s_abs, d_abs = wt.abspath(skey), wt.abspath(dkey)
        if not os.path.lexists(s_abs):
            raise BadInputError(f"{src!r} is tracked but missing from the work tree", "restore it with `mmvc restore` first")
        os.makedirs(os.path.dirname(d_abs), exist_ok=True)
        os.replace(s_abs, d_abs)
        try:
            for old, new in pairs:
                e = index.get(old)
                index.remove(old)
                index.set(e._replace(path=new))
            index.write()
        except BaseException:
            os.replace(d_abs, s_abs)
            raise
        prune_empty_dirs(wt.root, os.path.dirname(s_abs))
    return MvResult(moved=pairs)
