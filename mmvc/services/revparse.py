"""Revision names, Git's syntax: ``HEAD`` (``@``), branches, tags, remote-tracking branches,
full or unique-prefix ids; ``~N`` / ``^N`` steps; ``REF@{N}`` (where REF pointed N moves ago, from
its reflog; ``@{N}`` for the current branch), ``@{-N}`` (the N-th previous branch), ``REF@{u}`` /
``@{upstream}`` (the remote-tracking branch ``pull`` merges); ``REV^{commit}``, ``REV^{tree}``,
``REV^{}`` (peel); ``:/TEXT`` (the youngest commit, reachable from any branch, tag or HEAD,
whose message matches the regular expression TEXT)."""

from __future__ import annotations

import re

from mmvc.core.hashing import is_object_id
from mmvc.core.layout import HEAD, HEADS, REFS, REMOTES, TAGS, branch_ref, short_ref, tag_ref, tracking_ref
from mmvc.errors import BadInputError
from mmvc.services.remotes import get_spec

_SUFFIX = re.compile(r"(~\d*|\^\d*)$")
_PEEL = re.compile(r"\^\{(\w*)\}$")
_AT = re.compile(r"(.*)@\{([^}]*)\}")


def resolve(repo, rev: str) -> str:
    """The commit id ``rev`` names; errors list candidates when it is ambiguous or unknown."""
    oid, kind = parse(repo, rev)
    if kind != "commit":
        raise BadInputError(f"{rev!r} names a {kind}, not a version", "drop the ^{" + kind + "}; `mmvc rev-parse` prints the ids of trees")
    return oid


def parse(repo, rev: str) -> tuple[str, str]:
    """(object id, "commit" or "tree") for any revision, ``^{tree}`` included (``rev-parse``)."""
    if not rev:
        raise BadInputError("empty revision", "name a branch, tag or commit id")
    if rev.startswith(":/"):
        return _search_message(repo, rev[2:], rev), "commit"
    to = _PEEL.search(rev)
    if to:
        if to.group(1) not in ("", "commit", "tree"):
            raise BadInputError(f"{rev!r}: ^{{{to.group(1)}}} is not a kind mmvc peels to", "use ^{commit}, ^{tree} or ^{}")
        oid, _ = parse(repo, rev[: to.start()])
        if to.group(1) == "tree":
            return repo.read_commit(oid).tree, "tree"
        return oid, "commit"
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
    return oid, "commit"


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
    m = _AT.fullmatch(name)
    if m:
        ref, what = m.group(1), m.group(2)
        if what.isdigit():
            return peel(repo, _reflog_entry(repo, ref, int(what), rev))
        if what in ("u", "upstream", "push"):
            return _resolve_base(repo, upstream(repo, ref), rev)
        raise BadInputError(f"{rev!r}: @{{{what}}} is not a reflog position or upstream",
                            "use REF@{N} (N moves ago), @{-N} (the N-th previous branch) or REF@{u} (its upstream)")
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
    for e in repo.refs.read_log(HEAD):
        m = re.match(r"checkout: moving from (\S+) to (\S+)$", e["message"])
        if m:
            seen += 1
            if seen == n:
                return m.group(1)
    raise BadInputError(f"@{{-{n}}}: there is no {n}th previous branch", "`mmvc reflog` shows where HEAD has been")


def _branch_ref(repo, name: str) -> str:
    """The ref a name in ``NAME@{...}`` stands for: HEAD's branch for "", else a branch, HEAD or a full ref."""
    if name in ("", "@"):
        branch, _ = repo.refs.head_target()
        return branch or HEAD
    if name == HEAD or name.startswith(REFS):
        return name
    return branch_ref(name)


def _reflog_entry(repo, name: str, n: int, rev: str) -> str:
    """Where ``name`` pointed ``n`` moves ago: entry n of its reflog (0 is where it points now)."""
    ref = _branch_ref(repo, name)
    entries = repo.refs.read_log(ref)
    if n < len(entries):
        return entries[n]["new"]
    if n == len(entries) and entries and entries[-1]["old"]:
        return entries[-1]["old"]
    shown = short_ref(ref) if ref.startswith(HEADS) else ref
    raise BadInputError(f"{rev!r}: the reflog of {shown} has only {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
                        f"`mmvc reflog {shown}` lists them")


def upstream(repo, name: str) -> str:
    """The remote-tracking branch a branch's pull merges: ``refs/remotes/REMOTE/BRANCH``, REMOTE
    being the one ``mmvc pull`` uses by default (origin, or the only remote)."""
    ref = _branch_ref(repo, name)
    if not ref.startswith(HEADS):
        raise BadInputError("@{u}: HEAD is detached, so there is no branch whose upstream to take", "name the branch: BRANCH@{u}")
    branch = ref[len(HEADS):]
    spec = get_spec(repo, None)
    tracking = tracking_ref(spec.name, branch)
    if repo.refs.read(tracking) is None:
        raise BadInputError(f"{branch}@{{u}}: {spec.name} has no branch {branch} here",
                            f"`mmvc fetch {spec.name}` brings its branches; `mmvc push {spec.name} {branch}` makes one")
    return tracking


def _search_message(repo, pattern: str, rev: str) -> str:
    """``:/TEXT``: the youngest commit reachable from HEAD, a branch or a tag whose message
    matches TEXT (a regular expression)."""
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise BadInputError(f"{rev!r}: {pattern!r} is not a regular expression ({e})", "escape special characters with \\") from None
    import heapq

    refs = repo.refs
    head = refs.head_target()[1]
    # HEAD first, then branches and tags in name order; among commits of one time, the one
    # reached first (a child before its parents) is the younger
    starts = [head] if head else []
    for ns in (HEADS, TAGS):
        named = refs.list(ns.rstrip("/"))
        starts += [named[r] for r in sorted(named)]
    heap: list = []
    seen: set[str] = set()
    order = 0
    for oid in starts:
        oid = peel(repo, oid)
        if oid not in seen:
            seen.add(oid)
            c = repo.read_commit(oid)
            heapq.heappush(heap, (-c.committer.time, order, oid, c))
            order += 1
    while heap:
        _, _, oid, c = heapq.heappop(heap)
        if regex.search(c.message):
            return oid
        for p in c.parents:
            if p not in seen:
                seen.add(p)
                pc = repo.read_commit(p)
                heapq.heappush(heap, (-pc.committer.time, order, p, pc))
                order += 1
    raise BadInputError(f"no commit's message matches {pattern!r}", "`mmvc log --all --oneline` lists the messages")


def abbrev_ref(repo, rev: str) -> str:
    """The short name of the ref ``rev`` stands for (``rev-parse --abbrev-ref``): HEAD's branch,
    ``origin/main`` for ``main@{u}``, the previous branch for ``@{-1}``, or a ref as named."""
    m = re.fullmatch(r"@\{-(\d+)\}", rev)
    if m:
        return previous_branch(repo, int(m.group(1)))
    m = _AT.fullmatch(rev)
    if m and m.group(2) in ("u", "upstream", "push"):
        return upstream(repo, m.group(1)).removeprefix(REMOTES)
    if rev in (HEAD, "@"):
        branch, _ = repo.refs.head_target()
        return short_ref(branch) if branch else HEAD
    for prefix in ("", REFS, HEADS, TAGS, REMOTES):
        ref = prefix + rev
        if ref.startswith(REFS) and repo.refs.read(ref) is not None:
            return ref.split("/", 2)[-1] if ref.startswith((HEADS, TAGS, REMOTES)) else ref
    raise BadInputError(f"{rev!r} is not the name of a ref", "--abbrev-ref takes HEAD, a branch, a tag, REF@{u} or @{-N}")
