"""Matching user pathspecs against tracked keys (for verbs that act on what is tracked)."""

from __future__ import annotations

import fnmatch

from mmvc.errors import BadInputError


def tracked_matches(repo, keys_source, specs: list[str], cwd: str | None, recursive: bool) -> list[str]:
    """Tracked keys named by ``specs``: exact files, folders (with ``recursive``) or globs."""
    wt = repo.worktree
    all_keys = None
    out: list[str] = []
    for spec in specs:
        if set("*?[") & set(spec):
            import os

            prefix = wt.key_of(os.path.dirname(spec) or ".", cwd)
            pattern = (prefix + "/" if prefix else "") + os.path.basename(spec)
            if all_keys is None:
                all_keys = list(keys_source(""))
            hits = [k for k in all_keys if fnmatch.fnmatchcase(k, pattern) or "**" in spec and fnmatch.fnmatchcase(k, pattern.replace("**/", ""))]
        else:
            key = wt.key_of(spec, cwd)
            under = list(keys_source(key + "/" if key else ""))
            exact = [k for k in keys_source(key) if k == key] if key else []
            if exact:
                hits = exact
            elif under:
                if not recursive:
                    raise BadInputError(f"not removing {spec!r} recursively without -r", "pass -r to act on a whole folder")
                hits = under
            else:
                hits = []
        if not hits:
            raise BadInputError(f"pathspec {spec!r} did not match any tracked item", "`mmvc ls-files` lists what is tracked")
        out.extend(hits)
    return sorted(set(out))
