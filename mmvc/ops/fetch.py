"""``mmvc fetch``: bring a remote's commits, manifests and (unless this is a partial clone) blobs
here, and record its branches as ``refs/remotes/NAME/BRANCH``. Its tags, recipes, evals and
training runs become local ``refs/tags/*``, ``refs/recipes/*``, ``refs/evals/**`` and
``refs/runs/*`` where no such name exists here; a local one with another value is kept and
reported as rejected (they are immutable), except a training run whose remote record continues
the local chain, which moves forward.

The walk asks the remote only for what is not stored here, a tree level at a time, and skips
every subtree a local version already holds. Every object is re-hashed on arrival. Blobs and
manifest nodes are stored as they arrive; commits (and tags, recipes) are stored last, after everything
they reach, so "this commit is here" always means "its whole version is here" and an
interrupted fetch, run again, resumes instead of trusting a half-fetched version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mmvc.core.layout import EVALS, HEADS, RECIPES, RUNS, TAGS, tracking_ref
from mmvc.ops.push import RefUpdate

BLOB_BATCH_BYTES = 64 << 20  # small blobs fetched, and held until stored, at a time: about one pack
BLOB_BATCH_IDS = 20_000  # and at most this many blobs (large ones are streamed, never held)


@dataclass
class FetchResult:
    remote: str
    url: str
    updates: list[RefUpdate] = field(default_factory=list)
    commits: int = 0
    nodes: int = 0
    blobs: int = 0
    objects: int = 0  # objects downloaded
    bytes: int = 0
    partial: bool = False  # blobs were left on the remote (a partial clone)
    requests: dict = field(default_factory=dict)
    seconds: float = 0.0


def _run_moves(local, old: str, new: str) -> bool:
    """Whether training-run record ``new`` continues the chain that ``old`` ends (both stored here)."""
    from mmvc.services.evals import run_follows

    return local.has(new) and run_follows(lambda o: local.get(o) if local.has(o) else None, new, old)


def fetch(repo, remote: str | None = None, progress=None, jobs: int = 8, blobs: bool | None = None, transport=None) -> FetchResult:
    """``blobs``: fetch blobs too (default: unless the remote is this partial clone's promisor).
    ``transport``: an already open, already checked ``Remote`` for it (clone's probe)."""
    from mmvc.core.fsspec_store import Progress
    from mmvc.core.objects import COMMIT, EVAL, NODE, RECIPE, TAG, TRAINING_RUN, Commit, kind_of
    from mmvc.services.remotes import get_spec, pack_cache_dir
    from mmvc.remote.negotiate import plan_transfer
    from mmvc.remote.refs import RemoteRefs
    from mmvc.remote.transport import Remote

    t0 = time.perf_counter()
    spec = get_spec(repo, remote)
    r = transport
    if r is None:
        r = Remote(spec)
        r.require_repository()
    with_blobs = (not spec.promisor) if blobs is None else blobs
    res = FetchResult(spec.name, spec.url, partial=not with_blobs)
    theirs = RemoteRefs(r).list()
    store = repo.store
    local = getattr(store, "local", store)
    objects = r.objects(cache_dir=pack_cache_dir(repo, spec.name), jobs=jobs)
    stats = {"objects": 0, "bytes": 0}

    def read_want(ids, plan):
        here = local.has_many(ids)
        out = {o: local.get(o) for o in ids if o in here}
        todo = [o for o in ids if o not in here]
        if todo:
            got = objects.fetch_into(local, todo, plan.origin, keep=True, store_now=False)
            for o in todo:
                if o not in got:  # a large object streamed straight into the store
                    got[o] = local.get(o)
            stats["objects"] += len(got)
            stats["bytes"] += sum(len(v) for v in got.values())
            _refuse_bad_paths(got, plan.origin, spec.name)
            keep_for_last = {o for o, d in got.items() if kind_of(d, (COMMIT, TAG, RECIPE, EVAL, TRAINING_RUN, NODE)) not in (NODE, None)}
            with local.writer() as w:
                for o, d in got.items():
                    if o not in keep_for_last:
                        w.put_bytes(d)
            out.update(got)
        return out

    def read_have(ids):
        return {o: local.get(o) for o in ids}

    def is_have(c):
        return local.has(c)

    def commit_tree(c):
        data = local.get(c)
        return Commit.decode(data, c).tree if kind_of(data, (COMMIT, TAG, RECIPE)) == COMMIT else ""

    want = [o for o in dict.fromkeys(theirs.values()) if not local.has(o)]
    known = [o for o in list(repo.refs.list(HEADS).values()) + list(repo.refs.list(tracking_ref(spec.name)).values())
             if local.has(o)]
    plan = plan_transfer(read_want, read_have, want, is_have, commit_tree, [commit_tree(c) for c in known], with_blobs=with_blobs,
                         keep_data=True)
    res.commits, res.nodes = len(plan.commits), len(plan.nodes)
    # Reports and blobs: whatever is not here yet, blobs in batches of bounded size.
    others = [o for o in plan.others if o not in local.has_many([o])]
    if others:
        objects.fetch_into(local, others, plan.origin)
        stats["objects"] += len(others)
    if with_blobs and plan.blobs:
        ids = list(plan.blobs)
        here = local.has_many(ids)
        todo = [b for b in ids if b not in here]
        res.blobs = len(todo)
        prog = Progress(progress, len(todo), sum(plan.blobs[b] for b in todo))
        threshold = repo.config.pack_threshold
        batch, size, held = [], 0, 0
        for b in todo + [None]:
            if b is not None:
                batch.append(b)
                size += plan.blobs[b]
                held += plan.blobs[b] if plan.blobs[b] <= threshold else 0
            if batch and (b is None or held >= BLOB_BATCH_BYTES or len(batch) >= BLOB_BATCH_IDS):
                n = len(batch)
                objects.fetch_into(local, batch, plan.origin)
                prog.add(n, size)
                stats["objects"] += n
                stats["bytes"] += size
                batch, size, held = [], 0, 0
    # Commits, tags and recipes last: from here on each one stands for a whole version.
    if plan.data:
        with local.writer(durable=True) as w:
            for o in reversed(plan.records + plan.recipes + plan.commits + plan.tags):
                if o in plan.data:
                    w.put_bytes(plan.data[o])
    res.objects, res.bytes = stats["objects"], stats["bytes"]
    with repo.locked("fetch"):
        for ref, oid in theirs.items():
            if ref.startswith(HEADS):
                mine = tracking_ref(spec.name, ref[len(HEADS):])
                old = repo.refs.read(mine)
                if old != oid:
                    repo.refs.update(mine, oid, old, f"fetch from {spec.name}", "")
                    res.updates.append(RefUpdate(mine, old, oid, "new" if old is None else "updated"))
            elif ref.startswith((TAGS, RECIPES, EVALS, RUNS)):
                old = repo.refs.read(ref)
                if old is None:
                    repo.refs.update(ref, oid, None, f"fetch from {spec.name}", "")
                    res.updates.append(RefUpdate(ref, None, oid, "new"))
                elif old != oid and ref.startswith(RUNS) and _run_moves(local, old, oid):
                    repo.refs.update(ref, oid, old, f"fetch from {spec.name}", "")
                    res.updates.append(RefUpdate(ref, old, oid, "fast-forward"))
                elif old != oid and not (ref.startswith(RUNS) and _run_moves(local, oid, old)):
                    res.updates.append(RefUpdate(ref, old, oid, "rejected"))  # a local tag, recipe, eval or run is never replaced
        gone = set(repo.refs.list(tracking_ref(spec.name))) - {tracking_ref(spec.name, r[len(HEADS):])
                                                               for r in theirs if r.startswith(HEADS)}
        for ref in sorted(gone):
            old = repo.refs.read(ref)
            repo.refs.delete(ref, old)
            res.updates.append(RefUpdate(ref, old, None, "deleted"))
    res.requests = dict(r.requests)
    res.seconds = time.perf_counter() - t0
    return res


def _refuse_bad_paths(got: dict[str, bytes], origin: dict[str, str], remote: str) -> None:
    """Refuse, on receipt and before it is stored, a manifest node whose paths break the
    format's rules (``.git``/``.mmvc`` at any depth and in any alias, ``..``, a file that is also a
    folder): checking such a version out would let the remote plant hooks that run code."""
    from mmvc.core.manifest import NODE_MAGIC, decode_node
    from mmvc.core.pathrules import display_path, tree_keys_problems
    from mmvc.errors import RemoteError

    for oid, data in got.items():
        if data[:4] != NODE_MAGIC:
            continue
        node = decode_node(data, oid)
        if not node.is_leaf:
            continue
        problems, _ = tree_keys_problems(node.keys)
        if problems:
            path, why = problems[0]
            version = origin.get(oid, oid)
            raise RemoteError(f"remote {remote} sent version {version[:12]} holding the path {display_path(path)}, which is refused: {why}",
                              "no ref moved and nothing was written to the work tree; `mmvc fsck` in the repository that pushed it "
                              "lists the versions holding such paths")
