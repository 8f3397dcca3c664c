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

A move is journalled: once its checks pass and before its first file is written, where it goes
is written to ``.mmvc/WORKTREE_OP.json``, which goes away once HEAD has moved. A move that was
interrupted (kill, Ctrl-C, power cut, a full disk) is finished by the next command that takes
the repository lock (``finish_interrupted_move``): the same move again, which finds the files
already written holding the target's bytes and writes the rest. The journal is what makes the
re-run safe without ``--force``: every path it touches was free of local changes when it began.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

from mmvc.core.failpoints import reached as failpoint
from mmvc.core.index import FLAG_SKIP_WORKTREE, IndexEntry
from mmvc.core.materialize import check_no_link_in_path, link_in_path, write_items
from mmvc.core.pathrules import display_path, key_problem, prefix_conflicts, validate_key
from mmvc.core.worktree import prune_empty_dirs
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


log = logging.getLogger("mmvc")


def move_head(repo, target: str, ref: str | None, force: bool, new_sparse: Sparse | None, advance: str = "") -> CheckoutResult:
    """Make HEAD ``target``: switch HEAD to ``ref`` (None: detach), or with ``advance`` (a reflog
    note) move the current branch itself forward to ``target`` (a fast-forward merge)."""
    with repo.locked("checkout"):
        if not force:  # a forced move overwrites what an interrupted one left, so it needs no finishing
            finish_interrupted_move(repo)
        return _move_head(repo, target, ref, force, new_sparse, advance)


def _move_head(repo, target: str, ref: str | None, force: bool, new_sparse: Sparse | None, advance: str) -> CheckoutResult:
    """``move_head`` with the lock held."""
    from mmvc.core.diff import diff_trees

    tree = repo.tree
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

    journal = {"advance": advance, "force": force, "from": head, "ref": ref, "target": target,
               "sparse": new_sparse.doc() if new_sparse is not None else None}
    res.written, res.removed, res.sparse_skipped = apply_to_worktree(
        repo, index, staged, todo, force, target, before_writing=lambda: _write_journal(repo, journal))
    if index.should_fold() and not index.staged(tree, T):
        index.fold()
    index.write()
    failpoint("worktree-index")
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
    _remove_journal(repo)
    return res


def _write_journal(repo, journal: dict) -> None:
    from mmvc.core.atomicfile import atomic_write

    atomic_write(repo.layout.worktree_op, json.dumps(journal, sort_keys=True).encode())


def _remove_journal(repo) -> None:
    try:
        os.unlink(repo.layout.worktree_op)
    except FileNotFoundError:
        pass


def interrupted_move(repo) -> dict | None:
    """The journal of a move that was interrupted, or None."""
    try:
        with open(repo.layout.worktree_op, encoding="utf-8") as f:
            journal = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: written whole by a rename, so only a damaged disk gets here
    return journal if isinstance(journal, dict) else {}


def finish_interrupted_move(repo) -> CheckoutResult | None:
    """Finish the switch or checkout the journal names (the lock held); None when there is none.
    It is said on stderr; when local changes made since stand in its way, the error names the
    command that finishes it by overwriting them."""
    journal = interrupted_move(repo)
    if journal is None:
        return None
    target, ref = journal.get("target"), journal.get("ref")
    if not isinstance(target, str) or not repo.store.has(target):
        log.warning("mmvc: removed an unreadable record of an interrupted switch (%s)", repo.layout.worktree_op)
        _remove_journal(repo)
        return None
    where = (ref or "").split("/", 2)[-1] if ref else target[:12]
    head_ref, head = repo.head()
    if head == target and (journal.get("advance") or head_ref == ref):  # it got as far as moving HEAD
        _remove_journal(repo)
        return None
    sparse = journal.get("sparse")
    try:
        res = _move_head(repo, target, ref, bool(journal.get("force")), Sparse.from_doc(sparse) if sparse is not None else None,
                         journal.get("advance") or "")
    except (ConflictError, BadInputError) as e:
        command = f"mmvc switch -f {where}" if ref and not journal.get("advance") else f"mmvc checkout -f {target[:12]}"
        raise ConflictError(f"an interrupted move of the work tree to {where} cannot be finished: {e.message}",
                            f"`{command}` finishes it, overwriting those files") from None
    removed = remove_stale_temp_files(repo.root)
    log.warning("mmvc: finished the interrupted move of the work tree to %s (%d file(s) written%s)", where, res.written,
                f", {removed} leftover temp file(s) removed" if removed else "")
    return res


def remove_stale_temp_files(root: str) -> int:
    """Delete the temp files that writers no longer running left in the work tree."""
    from mmvc.core.atomicfile import is_temp_name, temp_owner
    from mmvc.core.lock import pid_alive
    from mmvc.core.worktree import ALWAYS_IGNORED_DIRS

    n = 0
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ALWAYS_IGNORED_DIRS]
        for name in files:
            if is_temp_name(name):
                pid = temp_owner(name)
                if pid is None or pid == os.getpid() or not pid_alive(pid):
                    try:
                        os.unlink(os.path.join(dirpath, name))
                        n += 1
                    except OSError:
                        pass
    return n


def apply_to_worktree(repo, index, staged: dict, todo: list, force: bool, target: str, before_writing=None) -> tuple[int, int, int]:
    """Make the work tree and the index hold ``todo``'s entries: (path, entry or None to remove,
    materialise?). Everything is checked before the first file is touched: local changes that
    would be lost, objects that are missing, paths that would escape the work tree; then
    ``before_writing`` is called (to journal the move). Returns (files written, files removed,
    entries left out by the sparse filter)."""
    wt = repo.worktree
    written = removed = skipped = 0
    for p, b, write in todo:
        if b is not None:
            validate_key(p, "path in the target version")
        if write:
            check_no_link_in_path(wt.root, p)
    if not force:
        conflicts = _local_changes(repo, index, staged, [t for t in todo if key_problem(t[0]) is None])
        if conflicts:
            shown = "; ".join(f"{display_path(p)} ({why})" for p, why in conflicts[:10])
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
    _check_case_collisions(index, todo)
    _check_file_folder_clashes(index, todo, target)
    if before_writing is not None:
        before_writing()

    for p, b, write in todo:  # removals first, so a file can give way to a folder
        # a bad path, or one below a link to a folder, leaves the index without touching the disk
        if (b is None or not write) and key_problem(p) is None and link_in_path(wt.root, p) is None:
            full = wt.abspath(p)
            if os.path.lexists(full) and not os.path.isdir(full):
                os.unlink(full)
                removed += 1
                failpoint("worktree-file")
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
        failpoint("worktree-file")
    return written, removed, skipped


def _local_changes(repo, index, staged: dict, todo: list) -> list[tuple[str, str]]:
    """Paths the move would overwrite that hold work not recorded in HEAD."""
    from mmvc.core.hashing import hash_file

    wt = repo.worktree
    out = []
    for p, b, write in todo:
        if p in staged:
            if not (b is None and staged[p] is None or b is not None and staged[p] is not None and staged[p].same_content(b)):
                out.append((p, "staged change"))
            continue
        full = wt.abspath(p)
        cur = index.get(p)
        if cur is None:
            if write and os.path.lexists(full) and not _holds(full, b):
                out.append((p, "untracked file"))
            continue
        if cur.flags & FLAG_SKIP_WORKTREE or not os.path.lexists(full):
            continue
        st = os.lstat(full)
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (cur.size, cur.mtime_ns, cur.ino) and hash_file(full) != cur.oid \
                and not (write and _holds(full, b)):
            out.append((p, "modified"))
    return out


def _holds(full: str, entry) -> bool:
    """Whether the file at ``full`` already holds ``entry``'s bytes (overwriting it loses nothing:
    what an interrupted move wrote, or the same file put there by hand)."""
    from mmvc.core.hashing import hash_file

    if entry is None or not os.path.isfile(full) or os.path.islink(full) or os.path.getsize(full) != entry.size:
        return False
    return hash_file(full) == entry.oid


def _check_file_folder_clashes(index, todo: list, target: str) -> None:
    """Refuse, before anything is touched, a result holding both ``d`` and ``d/x`` (a crafted
    manifest, or a merge of a file and a folder of one name): ``d`` cannot be a file and a folder
    at once. The result is the index with ``todo`` applied, so only the paths ``todo`` sets and
    their parent folders are looked at."""
    after = {p: b is not None for p, b, _ in todo}
    setting = sorted(p for p, b, _ in todo if b is not None)
    clash = next(iter(prefix_conflicts(setting)[0]), None)
    if clash is None:
        parents = {k.rsplit("/", 1)[0] for k in setting if "/" in k}
        for d in sorted({"/".join(p.split("/")[:i]) for p in parents for i in range(1, p.count("/") + 2)}):
            if after[d] if d in after else index.get(d) is not None:
                clash = (d, next(k for k in setting if k.startswith(d + "/")))
                break
    if clash is None:
        for p in setting:
            if index.is_folder(p):
                below = next((e.path for e in index.iter_entries(p + "/") if after.get(e.path, True)), None)
                if below is not None:
                    clash = (p, below)
                    break
    if clash is not None:
        a, b = map(display_path, clash)
        raise ConflictError(f"the result of moving to {target[:12]} would hold both {a} and {b}: a path cannot be a file and a folder at once",
                            "nothing in the work tree was changed; `mmvc fsck` reports versions that hold such pairs")


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
