"""Matching user pathspecs against tracked keys (for verbs that act on what is tracked).

A spec holding ``*``, ``?`` or ``[`` is a glob, unless a tracked file or folder has exactly that
name: the literal match wins (``rm 'data[1].txt'`` removes that file). ``literal`` (``--literal``)
or a ``:(literal)`` prefix, as in Git, turns globbing off altogether.
"""

from __future__ import annotations

import fnmatch

from mmvc.errors import BadInputError

LITERAL_MAGIC = ":(literal)"


def tracked_matches(repo, keys_source, specs: list[str], cwd: str | None, recursive: bool, literal: bool = False) -> list[str]:
    """Tracked keys named by ``specs``: exact files, folders (with ``recursive``) or globs."""
    wt = repo.worktree
    all_keys = None
    out: list[str] = []
    for spec in specs:
        verbatim = literal or spec.startswith(LITERAL_MAGIC)
        spec = spec.removeprefix(LITERAL_MAGIC)
        hits = None
        if not verbatim and set("*?[") & set(spec):
            import os

            hits = _named(wt.key_of(spec, cwd), keys_source, spec, recursive) or None
            if hits is None:
                prefix = wt.key_of(os.path.dirname(spec) or ".", cwd)
                pattern = (prefix + "/" if prefix else "") + os.path.basename(spec)
                if all_keys is None:
                    all_keys = list(keys_source(""))
                hits = [k for k in all_keys if fnmatch.fnmatchcase(k, pattern) or "**" in spec and fnmatch.fnmatchcase(k, pattern.replace("**/", ""))]
        else:
            hits = _named(wt.key_of(spec, cwd), keys_source, spec, recursive)
        if not hits:
            raise BadInputError(f"pathspec {spec!r} did not match any tracked item", "`mmvc ls-files` lists what is tracked")
        out.extend(hits)
    return sorted(set(out))


def _named(key: str, keys_source, spec: str, recursive: bool) -> list[str]:
    """The tracked file ``key``, or everything tracked below the folder ``key``."""
    exact = [k for k in keys_source(key) if k == key] if key else []
    if exact:
        return exact
    under = list(keys_source(key + "/" if key else ""))
    if under and not recursive:
        raise BadInputError(f"not removing {spec!r} recursively without -r", "pass -r to act on a whole folder")
    return under
