"""``mmvc merge``: bring another branch's changes into the current one.

Fast-forward when the current version is an ancestor of the other. Otherwise a three-way merge
of manifests against the merge base: both diffs are computed by walking the trees (cost follows
the changes), a path changed on one side takes that side, a path changed identically on both
is taken once, and a path changed differently on both sides is a conflict unless a
``--strategy ours|theirs[:GLOB]`` rule settles it. The merged result goes through the index and
the ordinary commit path, so the trust boundary sees a merge like any other commit.

While conflicts are open, ``.mmvc/MERGE_HEAD`` names the other commit, ``ORIG_HEAD`` the one
merged into, and ``MERGE_STATE.json`` the conflicts and the paths already changed; ``--continue``
commits once each conflict is settled (by ``mmvc add`` of the chosen content or a strategy) and
``--abort`` puts the index and the work tree back as they were.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field

from mmvc.core.manifest import ManifestEntry
from mmvc.errors import BadInputError, ConflictError

STATE = "MERGE_STATE.json"


@dataclass
class Conflict:
    path: str
    base: str | None
    ours: str | None
    theirs: str | None


@dataclass
class MergeResult:
    status: str  # up-to-date | fast-forward | merged | conflicts | aborted
    ours: str | None
    theirs: str | None
    base: str | None = None
    commit: str | None = None
    taken_from_theirs: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


def parse_strategies(specs: list[str]) -> list[tuple[str, str]]:
    """``ours``, ``theirs``, ``ours:GLOB``, ``theirs:GLOB`` → [(side, glob)], first match wins."""
    out = []
    for spec in specs:
        side, _, glob = spec.partition(":")
        if side not in ("ours", "theirs"):
            raise BadInputError(f"unknown merge strategy {spec!r}", "use ours, theirs, ours:GLOB or theirs:GLOB")
        out.append((side, glob or "*"))
    return out


def _strategy_for(path: str, rules: list[tuple[str, str]]) -> str | None:
    for side, glob in rules:
        if fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(path, glob.rstrip("/") + "/*") or glob == "*":
            return side
    return None


def merge_base(repo, a: str, b: str) -> str | None:
    """A best common ancestor: the newest commit reachable from both."""
    from mmvc.ops.log import log

    ancestors_a = {e.oid for e in log(repo, a)}
    for e in log(repo, b):
        if e.oid in ancestors_a:
            return e.oid
    return None


def _who(repo) -> str:
    from mmvc.ops.commit import signature

    return signature(repo, "COMMITTER").who


def _same(x: ManifestEntry | None, y: ManifestEntry | None) -> bool:
    if x is None or y is None:
        return x is y
    return tuple(x)[1:] == tuple(y)[1:]


def merge(repo, rev: str, strategies: list[str] = (), message: str | None = None, no_verify: bool = False,
          no_ff: bool = False) -> MergeResult:
    from mmvc.core.diff import diff_trees
    from mmvc.core.hooks import run_hook
    from mmvc.ops.checkout import _move, apply_to_worktree

    if os.path.exists(os.path.join(repo.dir, "MERGE_HEAD")):
        raise ConflictError("a merge is already in progress", "finish it with `mmvc merge --continue`, or give up with `mmvc merge --abort`")
    rules = parse_strategies(list(strategies))
    branch, ours = repo.head()
    theirs = repo.resolve(rev)
    if ours is None:
        raise BadInputError("cannot merge into a branch with no commits", f"use `mmvc switch -c NAME {rev}` or `mmvc checkout {rev}`")
    base = merge_base(repo, ours, theirs)
    if base == theirs:
        return MergeResult("up-to-date", ours, theirs, base)
    if not no_verify:
        run_hook(repo, "pre-merge", env={"MMVC_BRANCH": (branch or "").split("/", 2)[-1], "MMVC_OLD": ours, "MMVC_NEW": theirs})
    if base == ours and not no_ff:
        _move(repo, theirs, branch, force=False, new_sparse=None, advance=f"merge {rev}: Fast-forward")
        return MergeResult("fast-forward", ours, theirs, base, commit=theirs)

    tree = repo.tree
    t_base = repo.read_commit(base).tree if base else ""
    t_ours = repo.read_commit(ours).tree
    t_theirs = repo.read_commit(theirs).tree
    d_ours = {p: b for p, _, b in diff_trees(tree, t_base, t_ours)}
    d_theirs = list(diff_trees(tree, t_base, t_theirs))
    base_entries = {p: a for p, a, _ in d_theirs}
    take: list[tuple[str, ManifestEntry | None]] = []
    conflicts: list[Conflict] = []
    for p, _, theirs_entry in d_theirs:
        if p not in d_ours:
            take.append((p, theirs_entry))
            continue
        ours_entry = d_ours[p]
        if _same(ours_entry, theirs_entry):
            continue
        side = _strategy_for(p, rules)
        if side == "theirs":
            take.append((p, theirs_entry))
        elif side is None:
            conflicts.append(Conflict(p, _oid(base_entries.get(p)), _oid(ours_entry), _oid(theirs_entry)))

    from mmvc.ops.checkout import Sparse

    sparse = Sparse.load(repo)
    with repo.locked("merge"):
        index = repo.load_index()
        staged = {p: e for p, e, _ in index.staged(tree, t_ours)}
        if staged:
            raise ConflictError(f"{len(staged)} staged change(s) would be mixed into the merge", "commit them first, or unstage them with `mmvc restore --staged .`")
        todo = [(p, e, e is not None and sparse.wants(p, e.modality, e.meta)) for p, e in take]
        apply_to_worktree(repo, index, staged, todo, force=False, target=theirs)
        index.write()
        state = {"base": base, "ours": ours, "theirs": theirs, "rev": rev, "taken": [p for p, _ in take],
                 "message": message or f"Merge {_describe(rev)} into {(branch or 'HEAD').split('/', 2)[-1]}\n",
                 "conflicts": [c.__dict__ for c in conflicts]}
        _write_state(repo, state)
    res = MergeResult("conflicts" if conflicts else "merged", ours, theirs, base, taken_from_theirs=len(take), conflicts=conflicts)
    if conflicts:
        return res
    res.commit = _finish(repo, state, no_verify=True)
    return res


def _oid(e: ManifestEntry | None) -> str | None:
    return e.oid if e is not None else None


def _describe(rev: str) -> str:
    return f"branch '{rev}'" if not all(c in "0123456789abcdef" for c in rev) else f"commit {rev[:12]}"


def _write_state(repo, state: dict) -> None:
    from mmvc.core.store import atomic_write

    atomic_write(os.path.join(repo.dir, STATE), json.dumps(state, indent=1, sort_keys=True).encode())
    atomic_write(os.path.join(repo.dir, "ORIG_HEAD"), (state["ours"] + "\n").encode())
    atomic_write(os.path.join(repo.dir, "MERGE_HEAD"), (state["theirs"] + "\n").encode())


def _read_state(repo) -> dict:
    try:
        with open(os.path.join(repo.dir, STATE)) as f:
            return json.load(f)
    except FileNotFoundError:
        raise BadInputError("no merge is in progress", "start one with `mmvc merge BRANCH`") from None


def _clear_state(repo) -> None:
    for name in ("MERGE_HEAD", STATE, "MERGE_MSG"):
        try:
            os.unlink(os.path.join(repo.dir, name))
        except FileNotFoundError:
            pass


def _finish(repo, state: dict, no_verify: bool) -> str:
    from mmvc.ops.commit import commit

    r = commit(repo, state["message"], extra_parents=(state["theirs"],), no_verify=no_verify, hook="pre-merge")
    _clear_state(repo)
    return r.oid


def merge_continue(repo, strategies: list[str] = (), no_verify: bool = False) -> MergeResult:
    """Commit the merge once every conflict is settled: by a strategy rule, or by the user
    having staged a version of the path that differs from what HEAD holds."""
    state = _read_state(repo)
    rules = parse_strategies(list(strategies))
    tree = repo.tree
    t_ours = repo.read_commit(state["ours"]).tree
    t_theirs = repo.read_commit(state["theirs"]).tree
    paths = sorted(c["path"] for c in state["conflicts"])
    ours_entries = tree.get_many(t_ours, paths)
    theirs_entries = tree.get_many(t_theirs, paths)
    open_conflicts = []
    take = []
    with repo.locked("merge"):
        index = repo.load_index()
        for c in state["conflicts"]:
            p = c["path"]
            side = _strategy_for(p, rules)
            if side == "theirs":
                take.append((p, theirs_entries.get(p)))
            elif side == "ours":
                continue
            else:
                cur = index.get(p)
                resolved = not _same(cur.manifest() if cur else None, ours_entries.get(p))
                if not resolved:
                    open_conflicts.append(Conflict(p, c["base"], c["ours"], c["theirs"]))
        if open_conflicts:
            res = MergeResult("conflicts", state["ours"], state["theirs"], state["base"], conflicts=open_conflicts)
            return res
        from mmvc.ops.checkout import Sparse, apply_to_worktree

        sparse = Sparse.load(repo)
        todo = [(p, e, e is not None and sparse.wants(p, e.modality, e.meta)) for p, e in take]
        apply_to_worktree(repo, index, {}, todo, force=True, target=state["theirs"])
        index.write()
        state["conflicts"] = []
        _write_state(repo, state)
    oid = _finish(repo, state, no_verify=no_verify)
    return MergeResult("merged", state["ours"], state["theirs"], state["base"], commit=oid)


def merge_abort(repo) -> MergeResult:
    """Put back the index and work tree of every path the merge touched, from ORIG_HEAD."""
    from mmvc.ops.checkout import Sparse, apply_to_worktree

    state = _read_state(repo)
    tree = repo.tree
    t_ours = repo.read_commit(state["ours"]).tree
    paths = sorted(set(state["taken"]) | {c["path"] for c in state["conflicts"]})
    ours_entries = tree.get_many(t_ours, paths)
    with repo.locked("merge"):
        index = repo.load_index()
        sparse = Sparse.load(repo)
        todo = [(p, ours_entries.get(p), ours_entries.get(p) is not None and sparse.wants(p, ours_entries[p].modality, ours_entries[p].meta)) for p in paths]
        apply_to_worktree(repo, index, {}, todo, force=True, target=state["ours"])
        index.write()
        _clear_state(repo)
    return MergeResult("aborted", state["ours"], state["theirs"], state["base"])
