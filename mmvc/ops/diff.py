"""``mmvc diff``: what differs between two versions, a version and the index, or the index and
the work tree, with Git's meanings for the arguments.

Between two versions the answer comes from walking both manifest trees together
(``mmvc.core.diff``), so it costs what changed. Every other pairing is a chain of cheap steps,
each of which already costs only what differs: REV → HEAD (tree walk), HEAD → index (the
index overlay's point lookups), index → work tree (the stat-cache scan ``status`` uses). The
steps are composed path by path: a path's old entry is the one before the first step that
touches it, its new entry the one after the last.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mmvc.core.diff import Change, ModalityStat, Triple, classify, diff_trees, total_of
from mmvc.core.manifest import ManifestEntry
from mmvc.errors import BadInputError

COMMIT, INDEX, WORKTREE, EMPTY = "commit", "index", "worktree", "empty"


@dataclass(frozen=True)
class Side:
    """One end of a diff: a version (``rev`` as the user wrote it, resolved to ``commit``), the
    index, the work tree, or nothing yet (``empty``: an unborn branch)."""

    kind: str
    rev: str | None = None
    commit: str | None = None
    tree: str | None = None


@dataclass
class DiffResult:
    a: Side
    b: Side
    changes: list[Change] = field(default_factory=list)
    by_modality: dict[str, ModalityStat] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    evaluations: list = field(default_factory=list)  # two versions: mmvc.ops.eval.MetricDelta per metric of a shared eval name

    @property
    def total(self) -> ModalityStat:
        return total_of(self.by_modality)

    @property
    def has_differences(self) -> bool:
        return bool(self.changes)


def diff(repo, rev_a: str | None = None, rev_b: str | None = None, cached: bool = False, paths: Iterable[str] = (),
         cwd: str | None = None) -> DiffResult:
    """Git's pairings: no rev: index → work tree; ``cached``: REV (default HEAD) → index; one
    rev: REV → work tree; two revs (or ``A..B``): version → version. ``paths`` are prefixes
    (folders or files) or globs, relative to ``cwd`` like every path the user types."""
    if rev_a is None and rev_b is not None:
        raise BadInputError("a second revision was given without a first", "give both, or only the first")
    if rev_a is not None and rev_b is None and ".." in rev_a:
        rev_a, rev_b = _split_range(repo, rev_a)
    keys = _path_keys(repo, list(paths), cwd)
    keep = _path_filter(keys)
    tree = repo.tree
    if rev_b is not None:
        if cached:
            raise BadInputError("--cached compares one version with the index; two revisions were given",
                                "drop --cached to compare two versions, or give one revision")
        a, b = _version(repo, rev_a or "HEAD"), _version(repo, rev_b)
        triples = _filtered(diff_trees(tree, a.tree or "", b.tree or ""), keep)
        res = _result(a, b, triples, keys)
        res.evaluations = _evaluations(repo, a.commit, b.commit)
        return res

    _, head = repo.head()
    head_tree = repo.read_commit(head).tree if head else ""
    index = repo.load_index()
    if cached or rev_a is not None:
        a = _version(repo, rev_a) if rev_a is not None else _head_side(head, head_tree)
        steps = [_filtered(_staged(index, tree, head_tree), keep)]
        if a.tree != (head_tree or None):
            steps.insert(0, _filtered(diff_trees(tree, a.tree or "", head_tree), keep))
        if cached:
            return _result(a, Side(INDEX), _compose(steps), keys)
        steps.append(_worktree_steps(repo, index, keep))
        return _result(a, Side(WORKTREE), _compose(steps), keys)
    return _result(Side(INDEX), Side(WORKTREE), _worktree_steps(repo, index, keep), keys)


def _evaluations(repo, a: str | None, b: str | None) -> list:
    """Metric deltas of the eval names both versions have (what a pull request asks: did it help?)."""
    from mmvc.ops.eval import metric_deltas
    from mmvc.services.evals import summaries_of

    if not a or not b:
        return []
    sums = summaries_of(repo, [a, b])
    return metric_deltas(sums.get(a, {}), sums.get(b, {}), shared_only=True)


def _split_range(repo, spec: str) -> tuple[str, str]:
    """``A..B``: A to B. ``A...B``: what B changed since it and A parted, i.e. from their merge
    base to B (Git's meaning for diff)."""
    if "..." in spec:
        from mmvc.services.history import merge_base

        left, right = (part or "HEAD" for part in spec.split("...", 1))
        base = merge_base(repo, repo.resolve(left), repo.resolve(right))
        if base is None:
            raise BadInputError(f"{spec!r}: {left} and {right} have no common ancestor", f"compare them directly: `mmvc diff {left} {right}`")
        return base, right
    left, right = spec.split("..", 1)
    return left or "HEAD", right or "HEAD"


def _version(repo, rev: str) -> Side:
    try:
        oid = repo.resolve(rev)
    except BadInputError as e:
        if os.path.lexists(rev):
            raise BadInputError(e.message, f"to limit the diff to the path {rev!r}, put it after `--`: mmvc diff -- {rev}") from None
        raise
    return Side(COMMIT, rev, oid, repo.read_commit(oid).tree)


def _head_side(head: str | None, head_tree: str) -> Side:
    return Side(COMMIT, "HEAD", head, head_tree) if head else Side(EMPTY, "HEAD")


def _staged(index, tree, head_tree: str) -> list[Triple]:
    return [(p, h, e.manifest() if e is not None else None) for p, e, h in index.staged(tree, head_tree)]


def _worktree_steps(repo, index, keep) -> list[Triple]:
    """Index → work tree for tracked paths (untracked files are not part of any diff, as in Git)."""
    from mmvc.services.worktree_scan import scan_worktree

    scan = scan_worktree(repo, index, untracked=False, keep=keep)
    out: list[Triple] = [(key, index.get(key).manifest(), None) for key, _ in scan.deleted]
    for key, _, walked, oid in scan.modified:
        old = index.get(key).manifest()
        out.append((key, old, _worktree_entry(repo.worktree.abspath(key), old, walked, oid)))
    out.sort(key=lambda t: t[0])
    return out


def _worktree_entry(full: str, old: ManifestEntry, walked, oid: str | None) -> ManifestEntry | None:
    """The entry ``mmvc add`` would stage for a changed file: its id, size, detected modality
    (the staged one when the bytes do not tell), executable bit, and the staged metadata."""
    from mmvc.core.hashing import new_hasher
    from mmvc.core.index import FLAG_EXEC
    from mmvc.core.modality import OTHER, SNIFF_BYTES, detect

    size = 0
    try:
        with open(full, "rb") as f:
            head = f.read(SNIFF_BYTES)
            size = len(head)
            if oid is None:
                h = new_hasher()
                h.update(head)
                while chunk := f.read(8 << 20):
                    h.update(chunk)
                    size += len(chunk)
                oid = h.hexdigest()
            else:
                size = walked.size
    except FileNotFoundError:
        return None  # removed since the scan: it is a deletion now
    mod = detect(old.path, head)
    flags = (old.flags & ~FLAG_EXEC) | (FLAG_EXEC if walked.mode & 0o111 else 0)
    return old._replace(oid=oid, size=size, modality=old.modality if mod == OTHER else mod, flags=flags)


def _compose(steps: list[Iterable[Triple]]) -> list[Triple]:
    first: dict[str, ManifestEntry | None] = {}
    last: dict[str, ManifestEntry | None] = {}
    for step in steps:
        for p, old, new in step:
            first.setdefault(p, old)
            last[p] = new
    return [(p, first[p], last[p]) for p in sorted(first) if first[p] != last[p]]


def _path_keys(repo, specs: list[str], cwd: str | None) -> list[str]:
    """Item keys (or key globs) for the user's paths; "" stands for the whole tree."""
    wt = repo.worktree
    out = []
    for spec in specs:
        if set("*?[") & set(spec):
            d, pat = os.path.split(spec)
            prefix = wt.key_of(d or ".", cwd)
            out.append((prefix + "/" if prefix else "") + pat)
        else:
            out.append(wt.key_of(spec, cwd))
    return out


def _path_filter(keys: list[str]) -> Callable[[str], bool] | None:
    if not keys or "" in keys:
        return None
    globs = [k for k in keys if set("*?[") & set(k)]
    prefixes = tuple(k + "/" for k in keys if k not in globs)
    exact = {k for k in keys if k not in globs}

    def keep(key: str) -> bool:
        return key in exact or key.startswith(prefixes) or any(fnmatch.fnmatchcase(key, g) for g in globs)

    return keep


def _filtered(triples: Iterable[Triple], keep) -> Iterable[Triple]:
    return triples if keep is None else [t for t in triples if keep(t[0])]


def _result(a: Side, b: Side, triples: Iterable[Triple], keys: list[str]) -> DiffResult:
    entries = classify(triples)
    return DiffResult(a, b, entries.changes, entries.by_modality, keys)
