"""``mmvc fsck``: prove that every version the repository can name is whole, or say what is not.

It walks what gc would keep (refs, HEAD, MERGE_HEAD/ORIG_HEAD, reflogs, the index: see
``mmvc.services.reachability``). Full mode re-hashes every object it reaches and every pack file
against the digest its index records, because a flipped bit is only visible to a rehash;
``quick`` only proves the structure (every object present, every commit and node decodes),
which costs reads of the nodes rather than of the data.

A finding about an object says which versions (commit ids) and which names (refs, reflogs,
the index) it breaks, since "object 3fa2… is missing" alone tells nobody what they have lost.
fsck takes no lock: it only reads, and what a concurrent writer adds is at worst reported as
unreachable for a moment.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from mmvc.services.reachability import Finding, Inventory, Walk, hash_file

LEFTOVER_TEXT = {
    "tmp": "temp file(s) in .mmvc/objects/tmp",
    "partial": "temp file(s) of interrupted writes",
    "orphan-pack": "pack file(s) without an index (an unfinished or half-deleted pack)",
    "stale-index-base": "index base(s) the index no longer names",
}


@dataclass
class FsckResult:
    mode: str  # "full" | "quick"
    ok: bool = True
    roots: int = 0  # names walked from (refs, detached HEAD, reflogs, MERGE_HEAD …)
    commits: int = 0
    nodes: int = 0
    blobs: int = 0
    other_objects: int = 0  # tags, process reports and results
    packs: int = 0
    loose: int = 0
    bytes_hashed: int = 0
    unreachable: int = 0
    unreachable_bytes: int = 0
    broken_versions: list[str] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    info: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


def fsck(repo, quick: bool = False, progress=None) -> FsckResult:
    """Check the repository. Never raises for what it finds: findings are the result."""
    t0 = time.perf_counter()
    res = FsckResult(mode="quick" if quick else "full")
    inv = Inventory(repo.layout.objects)
    try:
        walk = Walk(repo, inv, verify=not quick).run()
        findings: list[Finding] = list(inv.bad_packs) + list(walk.issues)
        if not quick:
            for p in inv.packs:
                digest = hash_file(p.pack_path)
                walk.bytes_hashed += p.pack_size
                if digest != p.digest:
                    findings.append(Finding("error", "bad-pack", f"pack file {os.path.basename(p.pack_path)} is corrupt "
                                            "(its bytes no longer match the digest its index records)", path=p.pack_path,
                                            hint="the objects it breaks are listed as corrupt; restore them from a remote or a backup"))
            walk.hash_leaves(progress)
        walk.attribute()
        findings += walk.bad.values()
        findings += _path_findings(walk, inv)
        findings += _index_findings(repo)
        if walk.promised:
            findings.append(Finding("info", "promised", f"{walk.promised} blob(s) not fetched yet (a partial clone)", count=walk.promised,
                                    hint="they are fetched from the promisor remote on first use; `mmvc checkout BRANCH --no-sparse` fetches them all"))
        findings += _lock_findings(repo)
        from mmvc.catalog.check import catalog_findings

        findings += catalog_findings(repo)
        findings += _leftover_findings(inv)
        n, nbytes = _unreachable(inv, walk)
        if n:
            findings.append(Finding("info", "unreachable", f"{n} unreachable object(s)", count=n, bytes=nbytes,
                                    hint="`mmvc gc` removes those older than its grace period (2 weeks by default)"))
        res.unreachable, res.unreachable_bytes = n, nbytes
        res.roots = len({name for name, _ in walk.roots})
        c = walk.counts
        res.commits, res.nodes, res.blobs, res.other_objects = c["commit"], c["node"], c["blob"], c["tag"] + c["object"]
        res.packs, res.loose = len(inv.packs), len(inv.loose)
        res.bytes_hashed = walk.bytes_hashed
    finally:
        inv.close()
    for f in findings:
        getattr(res, {"error": "errors", "warning": "warnings"}.get(f.severity, "info")).append(f)
    res.errors.sort(key=lambda f: (f.kind != "missing", f.what != "commit", f.oid, f.path))
    res.broken_versions = sorted({v for f in res.errors for v in f.versions})
    res.ok = not res.errors
    res.seconds = time.perf_counter() - t0
    return res


def _unreachable(inv: Inventory, walk: Walk) -> tuple[int, int]:
    reached = walk.reached
    n = nbytes = 0
    for raw in inv.all_ids():
        if raw not in reached:
            n += 1
            nbytes += inv.stored_size(raw) or 0
    return n, nbytes


MAX_PATH_FINDINGS = 1000


def _path_findings(walk, inv: Inventory) -> list[Finding]:
    """Every path of every version that breaks the format's rules (``.git``/``.mmvc`` at any
    depth or alias, ``..``, a file that is also a folder). Each version's keys are scanned in
    order, carrying the keys a later one could clash with across node boundaries; a subtree
    met again with the same carry (shared by many versions) is not read again."""
    from mmvc.core.manifest import decode_node
    from mmvc.core.pathrules import display_path, tree_keys_problems
    from mmvc.errors import CorruptError

    memo: dict[tuple[bytes, tuple], tuple[list, tuple]] = {}

    def scan(raw: bytes, carried: tuple) -> tuple[list, tuple]:
        hit = memo.get((raw, carried))
        if hit is not None:
            return hit
        res: tuple[list, tuple] = ([], carried)
        data = None if raw in walk.bad else inv.read(raw)
        if data is not None:  # a missing or corrupt node is reported as such already
            try:
                node = decode_node(data, raw.hex())
            except CorruptError:
                node = None
            if node is not None and node.is_leaf:
                res = tree_keys_problems(node.keys, carried)
            elif node is not None:
                found: list = []
                open_keys = carried
                for it in node.items:
                    f, open_keys = scan(it[1], open_keys)
                    found += f
                res = (found, open_keys)
        memo[(raw, carried)] = res
        return res

    by_path: dict[tuple[str, str], list[str]] = {}
    for commit, (tree, _, _) in walk.commits.items():
        for path, why in scan(tree, ())[0]:
            by_path.setdefault((path, why), []).append(commit.hex())
    out = []
    for (path, why), versions in sorted(by_path.items())[:MAX_PATH_FINDINGS]:
        out.append(Finding("error", "bad-path", f"path {display_path(path)} breaks the format's rules: {why}", path=path,
                           versions=sorted(versions), hint="never check these versions out; remove the path in a new commit "
                           "(`mmvc rm --cached PATH`), or delete the refs that reach them and run `mmvc gc`"))
    if len(by_path) > MAX_PATH_FINDINGS:
        out.append(Finding("error", "bad-path", f"{len(by_path) - MAX_PATH_FINDINGS} more path(s) break the format's rules",
                           count=len(by_path) - MAX_PATH_FINDINGS))
    return out


def _index_findings(repo) -> list[Finding]:
    path = repo.layout.index
    if os.path.exists(path):
        return []
    from mmvc.errors import MmvcError

    try:
        _, head = repo.head()
    except MmvcError:
        return []  # a bad HEAD or ref is reported by the walk
    if head is None:
        return []  # nothing committed, nothing staged: no index yet
    return [Finding("warning", "missing-index", "the index (.mmvc/index) is missing: every tracked file shows as deleted and untracked",
                    path=path, hint="rebuild it from HEAD with `mmvc restore --staged .` (staged changes that were in it are lost)")]


def _lock_findings(repo) -> list[Finding]:
    from mmvc.core.lock import inspect_lock

    path = repo.layout.lock
    state = inspect_lock(path)
    if state is None:
        return []
    if state.stale:
        return [Finding("warning", "stale-lock", f"stale lock: .mmvc/lock was left by {state.describe()}: {state.why}",
                        path=path, hint="the next writing command removes it and says so")]
    if not state.owner:
        return [Finding("warning", "stale-lock", ".mmvc/lock exists but is unreadable", path=path,
                        hint="if no mmvc command is running, the next writing command removes it once it is a few seconds old")]
    return [Finding("info", "locked", f"{state.describe()} holds the lock; what it is writing may show as unreachable", path=path)]


def _leftover_findings(inv: Inventory) -> list[Finding]:
    out = []
    by_kind: dict[str, list] = {}
    for lo in inv.leftovers:
        by_kind.setdefault(lo.kind, []).append(lo)
    for kind, items in sorted(by_kind.items()):
        out.append(Finding("info", "leftover" if kind in ("tmp", "partial") else kind,
                           f"{len(items)} {LEFTOVER_TEXT[kind]}", path=items[0].path,
                           count=len(items), bytes=sum(i.size for i in items),
                           hint="`mmvc gc` removes them once they are older than its grace period"))
    return out
