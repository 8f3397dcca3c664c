"""Moving HEAD to another version and making the work tree and the index match it.

Only the items that differ between the two versions are touched, found by diffing the two
manifest trees, so switching between two 200,000-item versions that differ by 1,000 items
writes 1,000 files. Before anything is written every needed object is checked to exist and
every local change that would be overwritten is listed (and refused unless ``force``); paths
from a manifest are validated and never written through a symbolic link, so nothing lands
outside the work tree whatever a manifest says. Order: work-tree files, then the index, then
HEAD, so an interruption leaves the old HEAD with local modifications that a re-run repairs.

Switch, checkout, a fast-forward merge and clone move HEAD through ``move_head``; a three-way
merge, its ``--continue`` and ``--abort`` write their chosen entries through ``apply_to_worktree``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.core.index import FLAG_SKIP_WORKTREE, IndexEntry
from mmvc.core.materialize import write_items
from mmvc.core.worktree import prune_empty_dirs, validate_key
from mmvc.errors import BadInputError, ConflictError, CorruptError
from mmvc.services.signature import committer
from mmvc.services.sparse import Sparse


@dataclass
class CheckoutResult:
    target: str
    branch: str | None
    previous: str | None
    written: int = 0
    removed: int = 0
    sparse_skipped: int = 0
    created_branch: bool = False
    conflicts: list = field(default_factory=list)


def _short(repo, branch: str | None, oid: str | None) -> str:
    return branch.split("/", 2)[-1] if branch else (oid[:12] if oid else "(none)")


def move_head(repo, target: str, ref: str | None, force: bool, new_sparse: Sparse | None, advance: str = "") -> CheckoutResult:
    """Make HEAD ``target``: switch HEAD to ``ref`` (None: detach), or with ``advance`` (a reflog
    note) move the current branch itself forward to ``target`` (a fast-forward merge)."""
    from mmvc.core.diff import diff_trees

    tree = repo.tree
    with repo.locked("checkout"):
        branch, head = repo.head()
        H = repo.read_commit(head).tree if head else ""
        T = repo.read_commit(target).tree
        res = CheckoutResult(target=target, branch=ref, previous=head)
        index = repo.load_index()
        sparse = new_sparse if new_sparse is not None else Sparse.load(repo)
        changes = {p: (a, b) for p, a, b in diff_trees(tree, H, T)}
        staged = {p: e for p, e, _ in index.staged(tree, H)}
        if force:
            # discard staged changes too: those paths go back to what the target holds
            for p, t in tree.get_many(T, sorted(p for p in staged if p not in changes)).items():
                changes[p] = (None, t)
            for p in staged:
                changes.setdefault(p, (None, None))
        resparse = new_sparse is not None
        todo = []  # (path, target entry or None, write file?)
        for p, (_, b) in changes.items():
            todo.append((p, b, b is not None and sparse.wants(p, b.modality, b.meta)))
        if resparse:
            for e in tree.iter_entries(T):
                if e.path not in changes:
                    want = sparse.wants(e.path, e.modality, e.meta)
                    cur = index.get(e.path)
                    present = cur is not None and not cur.flags & FLAG_SKIP_WORKTREE
                    if want != present:
                        todo.append((e.path, e, want))
        todo.sort(key=lambda t: t[0])

        res.written, res.removed, res.sparse_skipped = apply_to_worktree(repo, index, staged, todo, force, target)
        if index.should_fold() and not index.staged(tree, T):
            index.fold()
        index.write()
        if new_sparse is not None:
            new_sparse.save(repo)
        note = f"checkout: moving from {_short(repo, branch, head)} to {_short(repo, ref, target)}"
        if advance:
            if branch:
                repo.refs.update(branch, target, head, advance, committer(repo))
            else:
                repo.refs.set_head_detached(head, target, advance, committer(repo))
        elif ref is not None:
            repo.refs.set_head_symbolic(ref, head, target, note, committer(repo))
        else:
            repo.refs.set_head_detached(head, target, note, committer(repo))
    return res


def apply_to_worktree(repo, index, staged: dict, todo: list, force: bool, target: str) -> tuple[int, int, int]:
    """Make the work tree and the index hold ``todo``'s entries: (path, entry or None to remove,
    materialise?). Everything is checked before the first file is touched: local changes that
    would be lost, objects that are missing, paths that would escape the work tree.
    Returns (files written, files removed, entries left out by the sparse filter)."""
    wt = repo.worktree
    written = removed = skipped = 0
    if not force:
        conflicts = _local_changes(repo, index, staged, todo)
        if conflicts:
            shown = "; ".join(f"{p} ({why})" for p, why in conflicts[:10])
            more = f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
            raise ConflictError(
                f"{len(conflicts)} local change(s) would be overwritten: {shown}{more}",
                "commit or stash them (`mmvc restore` discards them), or pass --force to overwrite",
            )
    needed = sorted({b.oid for _, b, write in todo if b is not None and write})
    missing = sorted(set(needed) - repo.store.has_many(needed))
    if missing:
        raise CorruptError(
            f"{len(missing)} object(s) needed by version {target[:12]} are missing: {', '.join(m[:12] for m in missing[:5])}",
            "run `mmvc fsck`; nothing in the work tree was changed",
        )
    for p, _b, write in todo:
        validate_key(p, "path in the target version")
        if write:
            _check_no_link_in_path(wt.root, p)
    _check_case_collisions(index, todo)

    for p, b, write in todo:  # removals first, so a file can give way to a folder
        if b is None or not write:
            full = wt.abspath(p)
            if os.path.lexists(full) and not os.path.isdir(full):
                os.unlink(full)
                removed += 1
                prune_empty_dirs(wt.root, os.path.dirname(full))
    writes = []
    for p, b, write in todo:
        if b is None:
            index.remove(p)
        elif write:
            full = wt.abspath(p)
            if os.path.isdir(full) and not os.path.islink(full):
                raise ConflictError(f"{p} is a folder in the work tree but a file in {target[:12]}", "move the folder away and retry")
            writes.append((p, b, full))
        else:
            index.set(IndexEntry(p, b.oid, b.size, b.modality, b.flags | FLAG_SKIP_WORKTREE, b.meta))
            skipped += 1
    stats = write_items(repo.store, [(b.oid, full, bool(b.flags & 1)) for _, b, full in writes])
    for (p, b, _), st in zip(writes, stats):
        index.set(IndexEntry(p, b.oid, b.size, b.modality, b.flags, b.meta, st.st_mtime_ns, st.st_ino))
        written += 1
    return written, removed, skipped


def _local_changes(repo, index, staged: dict, todo: list) -> list[tuple[str, str]]:
    """Paths the move would overwrite that hold work not recorded in HEAD."""
    from mmvc.core.hashing import hash_file

    wt = repo.worktree
    out = []
    for p, b, write in todo:
        if p in staged:
            if not (b is not None and staged[p] is not None and staged[p].same_content(b)):
                out.append((p, "staged change"))
            continue
        full = wt.abspath(p)
        cur = index.get(p)
        if cur is None:
            if write and os.path.lexists(full):
                out.append((p, "untracked file"))
            continue
        if cur.flags & FLAG_SKIP_WORKTREE or not os.path.lexists(full):
            continue
        st = os.lstat(full)
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (cur.size, cur.mtime_ns, cur.ino) and hash_file(full) != cur.oid:
            out.append((p, "modified"))
    return out


def _check_no_link_in_path(root: str, key: str) -> None:
    d = root
    for part in key.split("/")[:-1]:
        d = os.path.join(d, part)
        if os.path.islink(d):
            raise BadInputError(f"refusing to write {key}: {os.path.relpath(d, root)} is a symbolic link", "replace the link with a real folder")


def _check_case_collisions(index, todo: list) -> None:
    """Two items whose names differ only in case would overwrite each other on a case-folding
    filesystem; refuse rather than lose one silently. Only paths new to the index can collide,
    and only with names in the same folder, so only those folders are looked at."""
    import bisect

    new = [p for p, b, write in todo if b is not None and write and index.get(p) is None]
    if not new:
        return
    removing = {p for p, b, _ in todo if b is None}
    paths = index.base.paths
    by_dir: dict[str, dict[str, str]] = {}
    for p in sorted(new):
        d = p.rsplit("/", 1)[0] + "/" if "/" in p else ""
        if d not in by_dir:
            names: dict[str, str] = {}
            lo = bisect.bisect_left(paths, d)
            hi = bisect.bisect_left(paths, d + "\U0010ffff", lo) if d else len(paths)
            for q in paths[lo:hi]:
                if "/" not in q[len(d):] and q not in removing:
                    names.setdefault(q.casefold(), q)
            for q, e in index.overlay.items():
                if e is not None and q.startswith(d) and "/" not in q[len(d):] and q not in removing:
                    names.setdefault(q.casefold(), q)
            by_dir[d] = names
        other = by_dir[d].setdefault(p.casefold(), p)
        if other != p:
            raise BadInputError(f"{p!r} and {other!r} differ only in case", "rename one of them; on case-insensitive filesystems they are the same file")
