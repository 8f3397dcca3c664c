"""``mmvc merge``: bring another branch's changes into the current one.

Fast-forward when the current version is an ancestor of the other. Otherwise a three-way merge
of manifests against the merge base: both diffs are computed by walking the trees (cost follows
the changes), a path changed on one side takes that side, a path changed identically on both
is taken once, and a path changed differently on both sides is a conflict unless a
``--strategy ours|theirs[:GLOB]`` rule settles it.

In a gated repository the merge also goes through the gate of merges (``curate_merge``): the
items one side brings are checked against those the other brings, by every dedup tier; a pair
of duplicates is a curation conflict, settled like a path conflict by a strategy (the side
whose item survives; the other side's change of that path is left out) or by ``mmvc rm`` of
one item. The merged result then goes through the index and the ordinary commit path, so
``admit`` sees a merge like any other commit.

While conflicts are open, ``.mmvc/MERGE_HEAD`` names the other commit, ``ORIG_HEAD`` the one
merged into, and ``MERGE_STATE.json`` the conflicts and the paths already changed; ``--continue``
commits once each conflict is settled (by ``mmvc add`` of the chosen content, ``mmvc rm`` of
one item of a curation pair, or a strategy) and ``--abort`` puts the index and the work tree
back as they were.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from mmvc.core.failpoints import reached as failpoint
from mmvc.core.manifest import ManifestEntry
from mmvc.errors import BadInputError, ConflictError
from mmvc.services.gate import CurationConflict
from mmvc.services.history import merge_base


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
    curation: list[CurationConflict] = field(default_factory=list)  # duplicates brought by both sides
    gate: str = "gated"  # ungated: the merge was not checked for duplicates across the sides


def parse_strategies(specs: list[str]) -> list[tuple[str, str]]:
    """``ours``, ``theirs``, ``ours:GLOB``, ``theirs:GLOB`` → [(side, glob)], first match wins."""
    out = []
    for spec in specs:
        side, _, glob = spec.partition(":")
        if side not in ("ours", "theirs"):
            raise BadInputError(f"unknown merge strategy {spec!r}", "use ours, theirs, ours:GLOB or theirs:GLOB")
        out.append((side, glob or "*"))
    return out


def _strategy_for(path: str, rules: list[tuple[str, str]], *more: str) -> str | None:
    """The side of the first rule matching ``path`` (or any of ``more``)."""
    for side, glob in rules:
        for p in (path, *more):
            if fnmatch.fnmatchcase(p, glob) or fnmatch.fnmatchcase(p, glob.rstrip("/") + "/*") or glob == "*":
                return side
    return None


def _settle_curation(pairs: list[CurationConflict], rules) -> tuple[list[CurationConflict], set[str], set[str]]:
    """Apply the strategy rules to curation pairs: (pairs left open, our paths to drop, their
    paths to drop). A rule matching either path of a pair names the side whose item survives.
    Rules that keep an item against one partner and drop it against another cannot be
    followed: that is an error, raised before anything is written."""
    left, drop_ours, drop_theirs = [], set(), set()
    kept: dict[tuple[str, str], str] = {}  # (side, path) -> the partner it was kept against
    for c in pairs:
        side = _strategy_for(c.ours, rules, c.theirs)
        if side is None:
            left.append(c)
        elif side == "ours":
            drop_theirs.add(c.theirs)
            kept[("ours", c.ours)] = c.theirs
        else:
            drop_ours.add(c.ours)
            kept[("theirs", c.theirs)] = c.ours
    both = sorted({("ours", p) for p in drop_ours} & set(kept) | {("theirs", p) for p in drop_theirs} & set(kept))
    if both:
        side, p = both[0]
        raise BadInputError(f"--strategy cannot settle the curation conflicts of {p}: it keeps that item against "
                            f"{kept[(side, p)]} and drops it against another duplicate",
                            "give one side for all of these paths, or `mmvc rm` the items you do not want and run `mmvc merge --continue`")
    return left, drop_ours, drop_theirs


def _same(x: ManifestEntry | None, y: ManifestEntry | None) -> bool:
    if x is None or y is None:
        return x is y
    return tuple(x)[1:] == tuple(y)[1:]


def merge(repo, rev: str, strategies: Sequence[str] = (), message: str | None = None, no_verify: bool = False,
          no_ff: bool = False) -> MergeResult:
    from mmvc.core.diff import diff_trees
    from mmvc.core.hooks import run_hook
    from mmvc.services.worktree_update import apply_to_worktree, move_head

    if os.path.exists(repo.layout.merge_head):
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
        move_head(repo, theirs, branch, force=False, new_sparse=None, advance=f"merge {rev}: Fast-forward")
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

    from mmvc.process.curation import curate_merge

    taken = {p for p, _ in take}
    open_paths = {c.path for c in conflicts}
    ours_new = [e for p, e in sorted(d_ours.items()) if e is not None and p not in taken and p not in open_paths]
    curation, drop_ours, drop_theirs = _settle_curation(curate_merge(repo, ours_new, [e for _, e in take if e is not None]), rules)
    if drop_theirs:  # their change of that path stays out: it keeps what we have
        take = [(p, e) for p, e in take if p not in drop_theirs]
    from_theirs = len(take)
    if drop_ours:  # our change of that path is undone: back to the merge base
        take += _back_to_base(repo, t_base, drop_ours)

    from mmvc.services.sparse import Sparse

    sparse = Sparse.load(repo)
    with repo.locked("merge"):
        index = repo.load_index()
        staged = {p: e for p, e, _ in index.staged(tree, t_ours)}
        if staged:
            raise ConflictError(f"{len(staged)} staged change(s) would be mixed into the merge", "commit them first, or unstage them with `mmvc restore --staged .`")
        todo = [(p, e, e is not None and sparse.wants(p, e.modality, e.meta)) for p, e in take]
        state = {"base": base, "ours": ours, "theirs": theirs, "rev": rev, "taken": [p for p, _ in take],
                 "message": message or f"Merge {_describe(rev)} into {(branch or 'HEAD').split('/', 2)[-1]}\n",
                 "conflicts": [c.__dict__ for c in conflicts], "curation": [c.__dict__ for c in curation],
                 "applied": False, "from_base": sorted(drop_ours)}
        # The state is on disk before the first file is written, so that an interruption leaves
        # a merge that --continue finishes and --abort undoes.
        apply_to_worktree(repo, index, staged, todo, force=False, target=theirs, before_writing=lambda: _write_state(repo, state))
        index.write()
        failpoint("worktree-index")
        state["applied"] = True
        _write_state(repo, state)
    res = MergeResult("conflicts" if conflicts or curation else "merged", ours, theirs, base, taken_from_theirs=from_theirs,
                      conflicts=conflicts, curation=curation, gate="gated" if repo.config.gated else "ungated")
    if conflicts or curation:
        return res
    res.commit = _finish(repo, state, no_verify=True)
    return res


def _back_to_base(repo, t_base: str, paths: set[str]) -> list[tuple[str, ManifestEntry | None]]:
    from_base = repo.tree.get_many(t_base, sorted(paths)) if t_base else {}
    return [(p, from_base.get(p)) for p in sorted(paths)]


def _oid(e: ManifestEntry | None) -> str | None:
    return e.oid if e is not None else None


def _describe(rev: str) -> str:
    return f"branch '{rev}'" if not all(c in "0123456789abcdef" for c in rev) else f"commit {rev[:12]}"


def _write_state(repo, state: dict) -> None:
    from mmvc.core.atomicfile import atomic_write

    atomic_write(repo.layout.merge_state, json.dumps(state, indent=1, sort_keys=True).encode())
    atomic_write(repo.layout.orig_head, (state["ours"] + "\n").encode())
    atomic_write(repo.layout.merge_head, (state["theirs"] + "\n").encode())


def _read_state(repo) -> dict:
    try:
        with open(repo.layout.merge_state) as f:
            return json.load(f)
    except FileNotFoundError:
        raise BadInputError("no merge is in progress", "start one with `mmvc merge BRANCH`") from None


def curation_in_progress(repo) -> list[CurationConflict]:
    """The curation conflicts of the merge in progress, if any."""
    try:
        with open(repo.layout.merge_state) as f:
            return [CurationConflict(**c) for c in json.load(f).get("curation", [])]
    except FileNotFoundError:
        return []


def _clear_state(repo) -> None:
    for path in (repo.layout.merge_head, repo.layout.merge_state, repo.layout.merge_msg):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _finish(repo, state: dict, no_verify: bool) -> str:
    from mmvc.ops.commit import commit

    r = commit(repo, state["message"], extra_parents=(state["theirs"],), no_verify=no_verify, hook="pre-merge")
    _clear_state(repo)
    return r.oid


def merge_continue(repo, strategies: Sequence[str] = (), no_verify: bool = False) -> MergeResult:
    """Commit the merge once every conflict is settled: a path conflict by a strategy rule or
    by the user having staged a version of the path that differs from what HEAD holds; a
    curation conflict by a strategy rule or by one of its two items no longer being staged
    as its side brought it (``mmvc rm`` of one of them)."""
    state = _read_state(repo)
    rules = parse_strategies(list(strategies))
    tree = repo.tree
    t_ours = repo.read_commit(state["ours"]).tree
    t_theirs = repo.read_commit(state["theirs"]).tree
    t_base = repo.read_commit(state["base"]).tree if state.get("base") else ""
    pairs = [CurationConflict(**c) for c in state.get("curation", [])]
    paths = sorted({c["path"] for c in state["conflicts"]} | {c.ours for c in pairs} | {c.theirs for c in pairs})
    ours_entries = tree.get_many(t_ours, paths)
    theirs_entries = tree.get_many(t_theirs, paths)
    open_conflicts = []
    take = []
    with repo.locked("merge"):
        if not state.get("applied", True):
            _reapply(repo, state, t_base, t_theirs)
        index = repo.load_index()

        def staged_as(p: str, entry) -> bool:
            cur = index.get(p)
            return _same(cur.manifest() if cur else None, entry)

        for c in state["conflicts"]:
            p = c["path"]
            side = _strategy_for(p, rules)
            if side == "theirs":
                take.append((p, theirs_entries.get(p)))
            elif side == "ours":
                continue
            else:
                resolved = not _same(index.get(p).manifest() if index.get(p) else None, ours_entries.get(p))
                if not resolved:
                    open_conflicts.append(Conflict(p, c["base"], c["ours"], c["theirs"]))
        still = [c for c in pairs if staged_as(c.ours, ours_entries.get(c.ours)) and staged_as(c.theirs, theirs_entries.get(c.theirs))]
        open_curation, drop_ours, drop_theirs = _settle_curation(still, rules)
        take += [(p, ours_entries.get(p)) for p in sorted(drop_theirs)]  # their item gives way to what we have there
        take += _back_to_base(repo, t_base, drop_ours)
        if open_conflicts or open_curation:
            return MergeResult("conflicts", state["ours"], state["theirs"], state["base"], conflicts=open_conflicts, curation=open_curation,
                               gate="gated" if repo.config.gated else "ungated")
        from mmvc.services.sparse import Sparse
        from mmvc.services.worktree_update import apply_to_worktree

        sparse = Sparse.load(repo)
        todo = [(p, e, e is not None and sparse.wants(p, e.modality, e.meta)) for p, e in take]
        apply_to_worktree(repo, index, {}, todo, force=True, target=state["theirs"])
        index.write()
        state["conflicts"] = []
        state["curation"] = []
        state["taken"] = sorted(set(state["taken"]) | {p for p, _ in take})
        _write_state(repo, state)
    oid = _finish(repo, state, no_verify=no_verify)
    return MergeResult("merged", state["ours"], state["theirs"], state["base"], commit=oid, gate="gated" if repo.config.gated else "ungated")


def _reapply(repo, state: dict, t_base: str, t_theirs: str) -> None:
    """Write the entries an interrupted merge was writing when it stopped (the lock held): the
    paths it takes, from their side or, for ``from_base``, from the merge base. Those paths were
    free of local changes when it began, so what is there now is its own half-done work."""
    from mmvc.services.sparse import Sparse
    from mmvc.services.worktree_update import apply_to_worktree, remove_stale_temp_files

    back = set(state.get("from_base", []))
    taken = state["taken"]
    entries = repo.tree.get_many(t_theirs, [p for p in taken if p not in back])
    if back and t_base:
        entries.update(repo.tree.get_many(t_base, sorted(back)))
    sparse = Sparse.load(repo)
    index = repo.load_index()
    todo = sorted((p, entries.get(p), entries.get(p) is not None and sparse.wants(p, entries[p].modality, entries[p].meta)) for p in taken)
    apply_to_worktree(repo, index, {}, todo, force=True, target=state["theirs"])
    remove_stale_temp_files(repo.root)  # what writers the interrupted merge ran left half-written
    index.write()
    state["applied"] = True
    _write_state(repo, state)


def merge_abort(repo) -> MergeResult:
    """Put back the index and work tree of every path the merge touched, from ORIG_HEAD."""
    from mmvc.services.sparse import Sparse
    from mmvc.services.worktree_update import apply_to_worktree, remove_stale_temp_files

    state = _read_state(repo)
    tree = repo.tree
    t_ours = repo.read_commit(state["ours"]).tree
    paths = sorted(set(state["taken"]) | {c["path"] for c in state["conflicts"]}
                   | {c["ours"] for c in state.get("curation", [])} | {c["theirs"] for c in state.get("curation", [])})
    ours_entries = tree.get_many(t_ours, paths)
    with repo.locked("merge"):
        index = repo.load_index()
        sparse = Sparse.load(repo)
        todo = [(p, ours_entries.get(p), ours_entries.get(p) is not None and sparse.wants(p, ours_entries[p].modality, ours_entries[p].meta)) for p in paths]
        apply_to_worktree(repo, index, {}, todo, force=True, target=state["ours"])
        remove_stale_temp_files(repo.root)  # what writers the interrupted merge ran left half-written
        index.write()
        _clear_state(repo)
    return MergeResult("aborted", state["ours"], state["theirs"], state["base"])
