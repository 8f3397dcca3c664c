"""Revision names: ``HEAD``, branches, tags, full or unique-prefix ids, and ``~N`` / ``^N`` suffixes."""

from __future__ import annotations

import re

from mmvc.core.hashing import is_object_id
from mmvc.core.layout import HEAD, HEADS, REFS, REMOTES, branch_ref, short_ref, tag_ref
from mmvc.errors import BadInputError

_SUFFIX = re.compile(r"(~\d*|\^\d*)$")


def resolve(repo, rev: str) -> str:
    """The commit id ``rev`` names; errors list candidates when it is ambiguous or unknown."""
    if not rev:
        raise BadInputError("empty revision", "name a branch, tag or commit id")
    steps = []
    base = rev
    while True:
        m = _SUFFIX.search(base)
        if not m or m.start() == 0:
            break
        steps.append(m.group(0))
        base = base[: m.start()]
    oid = _resolve_base(repo, base, rev)
    for step in reversed(steps):
        n = int(step[1:]) if len(step) > 1 else 1
        if step[0] == "~":
            for _ in range(n):
                oid = _parent(repo, oid, 0, rev)
        else:
            oid = oid if n == 0 else _parent(repo, oid, n - 1, rev)
    return oid


def _parent(repo, oid: str, which: int, rev: str) -> str:
    parents = repo.read_commit(oid).parents
    if which >= len(parents):
        raise BadInputError(f"revision {rev!r} goes past the first commit", "use fewer ~ or ^ steps; `mmvc log` lists the history")
    return parents[which]


def _resolve_base(repo, name: str, rev: str) -> str:
    refs = repo.refs
    m = re.fullmatch(r"@\{-(\d+)\}", name)
    if m:
        return _resolve_base(repo, previous_branch(repo, int(m.group(1))), rev)
    if name in (HEAD, "@"):
        branch, oid = refs.head_target()
        if oid is None:
            raise BadInputError(f"HEAD does not point at a commit yet (branch {branch or '?'} has no commits)", "make the first commit with `mmvc commit`")
        return oid
    for ref in (name, REFS + name, branch_ref(name), tag_ref(name), REMOTES + name):
        if ref.startswith(REFS) and ".." not in ref:
            oid = refs.read(ref)
            if oid:
                return peel(repo, oid)
    if is_object_id(name):
        if not repo.store.has(name):
            raise BadInputError(f"unknown revision {name}", "no object with that id is in this repository")
        return name
    if re.fullmatch(r"[0-9a-f]{4,63}", name):
        matches = [o for o in repo.store.iter_ids() if o.startswith(name)]
        commits = [o for o in matches if _is_commit(repo, o)]
        if len(commits) == 1:
            return commits[0]
        if len(commits) > 1:
            raise BadInputError(f"ambiguous revision {name!r}: {', '.join(c[:12] for c in commits[:10])}", "give more characters of the id")
    branches = [short_ref(r) for r in refs.list(HEADS)]
    close = [b for b in branches if b.startswith(name[:3])][:5] if name else []
    raise BadInputError(
        f"unknown revision {rev!r}",
        ("did you mean " + ", ".join(close) + "?") if close else "name a branch, a tag or a commit id; `mmvc log` lists commits",
    )


def _is_commit(repo, oid: str) -> bool:
    """Whether an abbreviated id the user typed as a revision names a commit."""
    from mmvc.core.objects import COMMIT, TAG, kind_of

    try:
        return kind_of(repo.store.get(oid), (COMMIT, TAG)) == COMMIT
    except Exception:
        return False


def peel(repo, oid: str) -> str:
    """An annotated tag's target commit; a commit id as it is."""
    from mmvc.core.objects import COMMIT, TAG, Tag, kind_of

    for _ in range(8):
        data = repo.store.get(oid)
        if kind_of(data, (COMMIT, TAG)) != TAG:
            return oid
        oid = Tag.decode(data, oid).object
    return oid


def previous_branch(repo, n: int) -> str:
    """The branch (or commit) checked out before the n-th last switch, from HEAD's reflog."""
    seen = 0
    for e in repo.refs.read_log("HEAD"):
        m = re.match(r"checkout: moving from (\S+) to (\S+)$", e["message"])
        if m:
            seen += 1
            if seen == n:
                return m.group(1)
    raise BadInputError(f"@{{-{n}}}: there is no {n}th previous branch", "`mmvc reflog` shows where HEAD has been")
