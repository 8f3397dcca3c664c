from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.core.index import FLAG_SKIP_WORKTREE
from mmvc.core.materialize import check_no_link_in_path, write_items
from mmvc.core.pathrules import display_path, validate_key
from mmvc.errors import BadInputError
from mmvc.services.pathspecs import tracked_matches


@dataclass
class RestoreResult:
    worktree: list[str] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)


def restore(repo, paths: list[str], staged: bool = False, worktree: bool | None = None, source: str | None = None,
            cwd: str | None = None, literal: bool = False) -> RestoreResult:
    """Put back work-tree files (from the index, or ``source``) and/or index entries (from HEAD,
    or ``source``), as ``git restore`` does."""
    if worktree is None:
        worktree = not staged
    res = RestoreResult()
    with repo.locked("restore"):
        index = repo.load_index()
        src_root = None
        if source is not None or staged:
            rev = source or "HEAD"
            _, head = repo.head()
            src_root = repo.read_commit(repo.resolve(rev)).tree if (source or head) else ""

        def keys_from_source(prefix):
            seen = set()
            if src_root:
                for e in repo.tree.iter_entries(src_root, prefix):
                    seen.add(e.path)
                    yield e.path
            for e in index.iter_entries(prefix):
                if e.path not in seen:
                    yield e.path

        keys = tracked_matches(repo, keys_from_source, paths, cwd, recursive=True, literal=literal)
        from_tree = repo.tree.get_many(src_root, keys) if src_root else {}
        if staged:
            from mmvc.core.index import IndexEntry

            for k in keys:
                t = from_tree.get(k)
                cur = index.get(k)
                if t is None:
                    index.remove(k)
                elif cur is None or not cur.same_content(t):
                    index.set(IndexEntry(*t))
                res.staged.append(k)
        if worktree:
            for k in keys:  # every path checked before the first file is written
                validate_key(k, "path to restore")
                check_no_link_in_path(repo.worktree.root, k)
            writes = []
            for k in keys:
                e = from_tree.get(k) if source is not None else index.get(k)
                if e is None:
                    if source is not None:
                        raise BadInputError(f"{display_path(k)} is not in {source}")
                    continue
                writes.append((k, e))
            stats = write_items(repo.store, [(e.oid, repo.worktree.abspath(k), bool(e.flags & 1)) for k, e in writes])
            for (k, e), st in zip(writes, stats):
                cur = index.get(k)
                if cur is not None and cur.same_content(e):
                    # written out on request: an imported (skip-worktree) item is now in the work tree
                    index.set(cur._replace(mtime_ns=st.st_mtime_ns, ino=st.st_ino, flags=cur.flags & ~FLAG_SKIP_WORKTREE))
                res.worktree.append(k)
        index.write()
    return res
