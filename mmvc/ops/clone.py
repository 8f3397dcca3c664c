"""``mmvc clone URL [DIR]``: a new repository holding a remote's versions, its default (or the
named) branch checked out.

``--filter blob:none`` makes a partial clone: commits and manifests only, the remote recorded as
the promisor (``[remote.origin] promisor = true``), and blobs fetched on first use by whatever
reads them (see ``mmvc.core.promisor_store``). ``--sparse PATTERN`` materialises only matching
items, so a partial, sparse clone downloads exactly the blobs it writes. ``--no-checkout``
writes no file at all: the index records the version with every item outside the work tree,
which is all `diff`, `log` and `show` need (the CI case).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from mmvc.core.layout import HEADS, branch_ref, tracking_ref
from mmvc.errors import BadInputError

FILTERS = ("blob:none",)
NOTHING = "!*"  # the sparse pattern that materialises no item


@dataclass
class CloneResult:
    path: str
    url: str
    branch: str | None
    commit: str | None
    filter: str | None
    fetch: object = None  # FetchResult
    written: int = 0  # files written to the work tree
    sparse_skipped: int = 0
    blobs_fetched: int = 0  # blobs a partial clone fetched for its checkout
    seconds: float = 0.0
    warnings: list = field(default_factory=list)


def default_dir(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return name[:-5] if name.endswith(".mmvc") else (name or "repo")


def clone(url: str, path: str | None = None, branch: str | None = None, filter: str | None = None, sparse: Sequence[str] = (),
          no_checkout: bool = False, endpoint_url: str | None = None, progress=None, jobs: int = 8) -> CloneResult:
    from mmvc.core.config import set_value
    from mmvc.core.objects import Commit
    from mmvc.ops.fetch import fetch
    from mmvc.ops.init import init
    from mmvc.ops.remote import add_remote
    from mmvc.remote.refs import RemoteRefs
    from mmvc.remote.transport import Remote
    from mmvc.services.remotes import RemoteSpec, normalise_url
    from mmvc.services.sparse import Sparse
    from mmvc.services.worktree_update import move_head

    t0 = time.perf_counter()
    if filter is not None and filter not in FILTERS:
        raise BadInputError(f"unknown filter {filter!r}", f"use one of {', '.join(FILTERS)}")
    url = normalise_url(url)
    dest = os.path.abspath(path or default_dir(url))
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise BadInputError(f"{dest} already exists and is not an empty folder", "clone into a new or empty folder")
    # Ask the remote first, so a bad URL or bad credentials leave no half-made folder behind.
    probe = Remote(RemoteSpec("origin", url, endpoint_url or ""))
    probe.require_repository()
    rrefs = RemoteRefs(probe)
    theirs = rrefs.list()
    heads = {r[len(HEADS):]: o for r, o in theirs.items() if r.startswith(HEADS)}
    if branch is None:
        head = rrefs.head_branch()
        branch = head[len(HEADS):] if head and head[len(HEADS):] in heads else ("main" if "main" in heads else
                                                                                                 (sorted(heads)[0] if heads else None))
    elif branch not in heads:
        raise BadInputError(f"remote {url} has no branch {branch!r}", f"its branches: {', '.join(sorted(heads)) or 'none'}")
    made = not os.path.exists(dest)
    try:
        repo = init(dest, ungated=False, branch=branch or "main")
        add_remote(repo, "origin", url, endpoint_url=endpoint_url)
        if filter == "blob:none":
            with repo.locked("clone"):
                set_value(repo, "remote.origin", "promisor", True)
                set_value(repo, "remote.origin", "partial_clone_filter", filter)
            repo.__dict__.pop("config", None)
            repo.__dict__.pop("store", None)
        res = CloneResult(dest, url, branch, None, filter)
        probe.name = probe.spec.name = "origin"
        res.fetch = fetch(repo, "origin", progress=progress, jobs=jobs, transport=probe)
        if branch is None:
            res.warnings.append("the remote has no branches: cloned an empty repository")
            res.seconds = time.perf_counter() - t0
            return res
        tip = repo.refs.read(tracking_ref("origin", branch))
        res.commit = tip
        if Commit.decode(repo.store.get(tip), tip).gate.mode == "ungated":
            # the version was recorded without the gate: new commits here follow the same mode
            with repo.locked("clone"):
                set_value(repo, "process", "gated", False)
            repo.__dict__.pop("config", None)
        if no_checkout:
            res.sparse_skipped = _record_without_files(repo, branch, tip, f"clone: from {url}")
        else:
            store = repo.store
            before = getattr(store, "fetched", 0)
            # HEAD already names the (unborn) branch: moving it forward creates the branch and
            # writes the version into the index and the work tree.
            co = move_head(repo, tip, None, False, Sparse(list(sparse)) if sparse else None, advance=f"clone: from {url}")
            res.written, res.sparse_skipped = co.written, co.sparse_skipped
            res.blobs_fetched = getattr(store, "fetched", 0) - before
    except BaseException:
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            shutil.rmtree(os.path.join(dest, ".mmvc"), ignore_errors=True)
        raise
    res.seconds = time.perf_counter() - t0
    return res


def _record_without_files(repo, branch: str, tip: str, note: str) -> int:
    """The index of a fresh clone that writes no file: every item of the version, outside the
    work tree (so `status` is clean and `checkout --no-sparse` materialises them later).
    The work tree is empty, so there is nothing to compare: the manifest's leaves are copied
    column by column into the index, a million items in a few seconds."""
    from array import array

    from mmvc.core.index import FLAG_SKIP_WORKTREE, EntryTable
    from mmvc.services.signature import committer
    from mmvc.services.sparse import Sparse

    tree = repo.tree
    table = EntryTable()

    def leaves(oid: str):
        node = tree.node(oid)
        if node.is_leaf:
            yield node
        else:
            for it in node.items:
                yield from leaves(it[1].hex())

    for node in leaves(repo.read_commit(tip).tree):
        if not node.items:
            continue
        paths, raws, sizes, mods, flags, metas = zip(*node.items)
        table.paths.extend(paths)
        table.ids += b"".join(raws)
        table.sizes.extend(sizes)
        table.mods += bytes(mods)
        table.flags += bytes(f | FLAG_SKIP_WORKTREE for f in flags)
        table.metas.extend(metas)
    n = len(table.paths)
    table.mtimes = array("q", bytes(8 * n))
    table.inos = array("Q", bytes(8 * n))
    table.proc_status = bytearray(n)
    table.proc_ids = bytearray(32 * n)
    table.tombstones = bytearray(n)
    with repo.locked("clone"):
        index = repo.load_index()
        index.reset_to_table(table)
        index.write()
        Sparse([NOTHING]).save(repo)
        repo.refs.update(branch_ref(branch), tip, None, note, committer(repo))
    return n
