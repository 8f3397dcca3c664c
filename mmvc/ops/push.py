"""``mmvc push``: send the objects a remote lacks, then move its refs by compare-and-swap.

Order, so that no remote ref ever names a missing object: negotiate (what the remote's refs
already reach is skipped, subtree by subtree), drop what the remote already holds from an
earlier, interrupted push (its pack indexes, and a HEAD per large object), upload blobs, then
manifests and commits, and only then swap each ref from the value read at the start. A ref that
moved meanwhile, or a push that would drop commits the remote has (non-fast-forward), is a
ConflictError telling the user to pull, or to pass --force (which still refuses to overwrite a
ref that moved after it was read). Tags and recipes are immutable: one that exists on the remote
with another value is refused unless --force; so is a training run whose remote record is not in
the local run's chain. An eval's ref is named by its id, so it is only ever created.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from mmvc.core.layout import EVALS, HEADS, RECIPES, REFS, RUNS, TAGS, branch_ref, recipe_ref, run_ref, tag_ref, tracking_ref
from mmvc.errors import BadInputError, ConflictError


@dataclass
class RefUpdate:
    ref: str
    old: str | None
    new: str | None
    status: str  # "new", "fast-forward", "forced", "up-to-date", "rejected"


@dataclass
class PushResult:
    remote: str
    url: str
    updates: list[RefUpdate] = field(default_factory=list)
    objects: int = 0  # objects uploaded
    packs: int = 0
    bytes: int = 0
    already_there: int = 0  # objects an earlier (interrupted) push had already uploaded
    requests: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return all(u.status == "up-to-date" for u in self.updates)


def _local_refs(repo, names: list[str], all_branches: bool, tags: bool, recipes: bool = False, evals: bool = False) -> list[str]:
    refs: list[str] = []
    if all_branches:
        refs += list(repo.refs.list(HEADS))
    if tags:
        refs += list(repo.refs.list(TAGS))
    if recipes or all_branches:
        refs += list(repo.refs.list(RECIPES))
    if evals or all_branches:
        refs += list(repo.refs.list(EVALS)) + list(repo.refs.list(RUNS))
    for n in names:
        for cand in (n if n.startswith(REFS) else "", branch_ref(n), tag_ref(n), recipe_ref(n), run_ref(n)):
            if cand and repo.refs.read(cand) is not None:
                refs.append(cand)
                break
        else:
            raise BadInputError(f"no branch, tag, recipe or training run named {n!r} to push",
                                "`mmvc branch`, `mmvc tag` and `mmvc recipe list` list them")
    if not refs and not (all_branches or tags or recipes or evals):
        branch, oid = repo.head()
        if branch is None:
            raise BadInputError("HEAD is detached: there is no current branch to push", "name the branch: `mmvc push origin BRANCH`")
        if oid is None:
            raise BadInputError(f"branch {branch.split('/', 2)[-1]} has no commits yet", "commit something first")
        refs.append(branch)
    return list(dict.fromkeys(refs))


def _local_reader(store):
    def read(ids, plan=None):
        return {o: store.get(o) for o in ids}

    return read


def push(repo, remote: str | None = None, refs: Sequence[str] = (), all_branches: bool = False, tags: bool = False,
         force: bool = False, progress=None, jobs: int = 8, pack_bytes: int | None = None, no_verify: bool = False,
         recipes: bool = False, evals: bool = False) -> PushResult:
    """``all_branches`` pushes every branch, recipe, eval and training run; ``recipes`` every
    recipe; ``evals`` every eval and training run."""
    from mmvc.core.fsspec_store import PACK_TARGET_BYTES, Progress
    from mmvc.core.objects import COMMIT, RECIPE, TAG, Commit, kind_of
    from mmvc.services.history import merge_base
    from mmvc.services.remotes import get_spec, pack_cache_dir
    from mmvc.remote.negotiate import ancestors, plan_transfer
    from mmvc.remote.refs import RemoteRefs
    from mmvc.remote.transport import Remote

    t0 = time.perf_counter()
    spec = get_spec(repo, remote)
    local_refs = _local_refs(repo, list(refs), all_branches, tags, recipes, evals)
    r = Remote(spec)
    res = PushResult(spec.name, spec.url)
    r.check_marker(create=True)
    rrefs = RemoteRefs(r)
    theirs = rrefs.list()
    store = repo.store

    local = getattr(store, "local", store)  # a partial clone: what is here, not what the promisor could fetch

    def has_local(o):
        return o is not None and local.has(o)

    updates: list[RefUpdate] = []
    for ref in local_refs:
        new = repo.refs.read(ref)
        old = theirs.get(ref)
        name = ref.split("/", 2)[-1]
        if old == new:
            updates.append(RefUpdate(ref, old, new, "up-to-date"))
            continue
        if old is None:
            updates.append(RefUpdate(ref, old, new, "new"))
            continue
        if force:
            updates.append(RefUpdate(ref, old, new, "forced"))
            continue
        if ref.startswith(TAGS):
            raise ConflictError(f"tag {name} already exists on {spec.name} with another value", "pass --force to replace it")
        if ref.startswith(RECIPES):
            raise ConflictError(f"recipe {name} already exists on {spec.name} with another value ({old[:12]})",
                                "recipes are immutable: push it under another name, or pass --force to replace it")
        if ref.startswith(EVALS):
            raise ConflictError(f"{ref} names another object on {spec.name} ({old[:12]})",
                                "an eval's name is its id: run `mmvc fsck` here and on the remote's side")
        if ref.startswith(RUNS):
            from mmvc.services.evals import run_follows

            if has_local(old) and run_follows(lambda o: local.get(o) if local.has(o) else None, new, old):
                updates.append(RefUpdate(ref, old, new, "fast-forward"))
                continue
            raise ConflictError(f"training run {name} on {spec.name} has records this repository does not",
                                "record the run under another name, or pass --force to replace it")
        if not has_local(old) or merge_base(repo, old, new) != old:
            raise ConflictError(
                f"{spec.name} has commits on {name} that this repository does not (non-fast-forward push refused)",
                f"run `mmvc pull {spec.name} {name}` to merge them, then push again; or `mmvc push --force` to overwrite them",
            )
        updates.append(RefUpdate(ref, old, new, "fast-forward"))
    res.updates = updates
    moving = [u for u in updates if u.status != "up-to-date"]
    if not moving:
        res.requests = dict(r.requests)
        res.seconds = time.perf_counter() - t0
        return res

    if not no_verify:
        from mmvc.core.hooks import run_hook
        from mmvc.core.refs import ZERO

        lines = "".join(f"{u.ref} {u.new} {u.ref} {u.old or ZERO}\n" for u in moving)
        branch = (repo.head()[0] or "").split("/", 2)[-1]
        run_hook(repo, "pre-push", args=(spec.name, spec.url), stdin=lines, env={"MMVC_BRANCH": branch})
    read = _local_reader(store)
    have_tips = [o for o in theirs.values() if has_local(o)]
    have = ancestors(lambda o: store.get(o) if has_local(o) else None, have_tips)

    def commit_tree(c):
        data = store.get(c)
        return Commit.decode(data, c).tree if kind_of(data, (COMMIT, TAG, RECIPE)) == COMMIT else ""

    have_trees = [commit_tree(c) for c in have_tips]
    plan = plan_transfer(read, read, [u.new for u in moving if u.new], lambda c: c in have, commit_tree, have_trees)
    threshold = repo.config.pack_threshold
    large = {b for b, size in plan.blobs.items() if size > threshold}
    candidates = list(plan.blobs) + plan.structural
    objects = r.objects(cache_dir=pack_cache_dir(repo, spec.name), jobs=jobs, pack_max_bytes=pack_bytes or PACK_TARGET_BYTES)
    there = objects.has_many(candidates, loose=large)
    res.already_there = len(there)
    blobs_small = [b for b in plan.blobs if b not in large and b not in there]
    blobs_large = [b for b in plan.blobs if b in large and b not in there]
    structural = [o for o in plan.structural if o not in there]
    total = len(blobs_small) + len(blobs_large) + len(structural)

    overall = Progress(progress, total, sum(plan.blobs[b] for b in blobs_small + blobs_large))

    def relay():
        last = [0, 0]

        def cb(done, nbytes, _t, _tb):
            overall.add(done - last[0], nbytes - last[1])
            last[0], last[1] = done, nbytes

        return cb if progress else None

    # Blobs first, then the manifests, commits, tags and recipes that name them; refs last.
    p1, b1 = objects.send_from(store, blobs_small, blobs_large, relay())
    p2, b2 = objects.send_from(store, structural, [], relay())
    res.objects, res.packs, res.bytes = total, p1 + p2, b1 + b2

    for u in moving:
        rrefs.update(u.ref, u.new, u.old)
    if rrefs.head_branch() is None:
        head_branch, _ = repo.head()
        heads = [u.ref for u in moving if u.ref.startswith(HEADS)]
        if heads:
            rrefs.set_head_branch(head_branch if head_branch in heads else heads[0])
    with repo.locked("push"):
        for u in moving:
            if u.ref.startswith(HEADS):
                tracking = tracking_ref(spec.name, u.ref[len(HEADS):])
                repo.refs.update(tracking, u.new, repo.refs.read(tracking), f"push to {spec.name}", "")
    res.requests = dict(r.requests)
    res.seconds = time.perf_counter() - t0
    return res
