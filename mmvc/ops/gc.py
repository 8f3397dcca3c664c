"""``mmvc gc``: drop what no version can reach, and fold many packs into one.

Safety rules, in the order they matter:

1. *Reachable* is exactly what fsck walks (refs, HEAD, MERGE_HEAD/ORIG_HEAD, reflogs, and the
   index's staged blobs and process results). If the walk cannot see everything (a commit or
   node is missing or undecodable, a ref or the index is unreadable, a pack index is damaged),
   gc refuses to prune: whatever that hidden part names would look unreachable.
2. Unreachable objects are removed only once they are older than the grace period (default
   2 weeks), judged by the loose file's mtime or the pack file's mtime. Objects are written
   before anything refers to them (``add`` stores blobs before the index names them; a lockless
   writer may do the same), so a young unreachable object may be about to become reachable.
3. Repacking writes the new pack completely (fsync), then its index (fsync, rename: this is
   the moment it becomes visible), and only then deletes old pack indexes, old packs and the
   loose copies it absorbed. A ``kill -9`` anywhere leaves every reachable object in at least
   one visible place; a rerun converges (the new pack's name is the hash of its ids, so a rerun
   that finds a pack with exactly its ids already visible re-hashes and keeps that one).
4. Young unreachable objects are carried into the new pack, and the new pack's mtime is set
   to the newest of their old mtimes, so carrying them never extends or shortens their grace.
   (Reachable objects do not care about mtimes.) Every copied object is re-hashed; gc never
   launders a corrupt copy into a fresh pack.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass

from mmvc.core.pack import pack_name, read_records
from mmvc.errors import BadInputError, CorruptError, storage_error
from mmvc.services.reachability import Inventory, Walk

DEFAULT_PRUNE = "2.weeks.ago"
CRASH_ENV = "MMVC_GC_CRASH_AT"  # fault tests: SIGKILL this process at a named step

_UNITS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
    "w": 7 * 86400, "week": 7 * 86400,
    "month": 30 * 86400,
    "y": 365 * 86400, "year": 365 * 86400,
}
_RELATIVE = re.compile(r"^(\d+)[.\s_]*([a-z]+?)s?(?:[.\s_]+ago)?$")


def parse_expiry(text: str, now: float | None = None) -> float | None:
    """Cutoff (epoch seconds) for a git-style ``--prune`` value; None for ``never``.

    Accepts ``now``, ``never``, ``N.units.ago`` (seconds … years; ``2.weeks.ago``,
    ``3 days ago``, ``1.hour``), ISO dates and times (``2024-05-01``, ``2024-05-01T12:00``,
    with or without a zone; without one it is local time) and ``@EPOCH``."""
    now = time.time() if now is None else now
    t = (text or "").strip().lower()
    if t == "now":
        return now
    if t == "never":
        return None
    if t.startswith("@") and t[1:].isdigit():
        return float(t[1:])
    m = _RELATIVE.match(t)
    if m and m.group(2) in _UNITS:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    from datetime import datetime

    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadInputError(f"cannot understand the date {text!r}",
                            "use now, never, N.units.ago (e.g. 2.weeks.ago, 3.days.ago) or an ISO date like 2024-05-01") from None
    return dt.timestamp()  # naive datetimes are local time


@dataclass
class GcResult:
    dry_run: bool
    prune: str
    cutoff: float | None  # epoch seconds; unreachable objects not newer than this go; None: never
    reachable: int = 0
    missing: int = 0  # reachable objects already gone or corrupt (fsck says what they break)
    packs_before: int = 0
    packs_after: int = 0
    loose_before: int = 0
    loose_after: int = 0
    packed: int = 0  # objects in the new pack
    loose_packed: int = 0  # small loose objects folded into it
    pruned: int = 0  # unreachable objects removed
    pruned_bytes: int = 0
    kept_young: int = 0  # unreachable objects kept because they are younger than the cutoff
    dropped_corrupt: int = 0  # unreachable objects whose every copy was corrupt (dropped)
    leftovers_removed: int = 0  # temp files, unfinished packs, stale index bases
    leftovers_kept: int = 0  # ... younger than the cutoff
    bytes_before: int = 0
    bytes_after: int = 0
    bytes_freed: int = 0
    seconds: float = 0.0


def _crash_point(step: str) -> None:
    """A real SIGKILL at ``step`` when MMVC_GC_CRASH_AT names it: how the fault tests prove
    that every step leaves the repository whole (no mock can show what a dead process leaves)."""
    if os.environ.get(CRASH_ENV) == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def gc(repo, prune: str | None = None, dry_run: bool = False, progress=None) -> GcResult:
    t0 = time.time()
    if prune is None:
        prune = str(repo.config.raw.get("gc", {}).get("prune", DEFAULT_PRUNE))
    cutoff = parse_expiry(prune, t0)
    res = GcResult(dry_run=dry_run, prune=prune, cutoff=cutoff)
    if dry_run:
        _run(repo, res, progress)
    else:
        with repo.locked("gc"):
            try:
                _run(repo, res, progress)
            finally:
                repo.store.close()  # this process's view of the packs is stale now
    res.seconds = time.time() - t0
    return res


def _run(repo, res: GcResult, progress) -> None:
    cutoff = res.cutoff
    inv = Inventory(repo.layout.objects)
    try:
        walk = Walk(repo, inv).run()
        if inv.bad_packs:
            walk.blind += [f.message for f in inv.bad_packs]
        if walk.blind:
            shown = "; ".join(walk.blind[:3]) + (f" (and {len(walk.blind) - 3} more)" if len(walk.blind) > 3 else "")
            raise CorruptError(f"gc refuses to prune: the repository cannot be fully walked ({shown})",
                               "run `mmvc fsck` to see what is missing or corrupt; nothing was deleted")
        reached = walk.reached
        res.reachable = sum(1 for r in reached if inv.has(r))
        res.missing = len(walk.bad)
        _plan_and_apply(repo, inv, reached, res, cutoff, progress)
    finally:
        inv.close()


def _old(mtime: float, cutoff: float | None) -> bool:
    return cutoff is not None and mtime <= cutoff


def _plan_and_apply(repo, inv: Inventory, reached: dict, res: GcResult, cutoff: float | None, progress) -> None:
    threshold = repo.store.pack_threshold
    dry = res.dry_run
    res.packs_before = len(inv.packs)
    res.loose_before = len(inv.loose)

    # 1. what each stored object becomes: kept in the new pack, kept loose, or pruned
    young: dict[bytes, float] = {}  # unreachable but too young to prune -> newest mtime of its copies
    for p in inv.packs:
        if not _old(p.mtime, cutoff):
            blob = p.index.raw_ids()
            for i in range(0, len(blob), 32):
                raw = blob[i : i + 32]
                if raw not in reached and young.get(raw, 0.0) < p.mtime:
                    young[raw] = p.mtime
    loose_st: dict[bytes, os.stat_result] = {}
    for raw, path in inv.loose.items():
        try:
            st = os.stat(path)
        except OSError:
            continue
        loose_st[raw] = st
        if raw not in reached and not _old(st.st_mtime, cutoff) and young.get(raw, 0.0) < st.st_mtime:
            young[raw] = st.st_mtime

    pruned_packed = 0
    for raw, loc in inv.where.items():
        if raw not in reached and raw not in young:
            pruned_packed += 1
            res.pruned += 1
            res.pruned_bytes += inv.location(loc)[1]
    fold: dict[bytes, int] = {}  # loose objects to move into the new pack -> size
    delete_loose: list[tuple[str, int]] = []
    for raw, st in loose_st.items():
        if raw not in reached and raw not in young:
            if raw not in inv.where:
                res.pruned += 1
                res.pruned_bytes += st.st_size
            delete_loose.append((inv.loose[raw], st.st_size))
        elif st.st_size <= threshold or raw in inv.where:  # small, or a second copy of a packed one
            fold[raw] = st.st_size
    res.kept_young = sum(1 for raw in young if raw in inv.where or raw in loose_st)
    repack = len(inv.packs) > 1 or pruned_packed > 0 or bool(fold)
    res.bytes_before = (sum(p.pack_size + p.idx_size for p in inv.packs) + sum(st.st_size for st in loose_st.values())
                        + sum(lo.size for lo in inv.leftovers))
    freed = 0

    # 2. the new pack, written in objects/tmp and made visible whole
    new_idx = None
    absorbed: list[tuple[str, int]] = []
    if repack:
        written, new_idx, new_bytes = _repack(repo, inv, reached, young, fold, res, progress)
        absorbed = [(inv.loose[raw], size) for raw, size in fold.items() if raw in written]
        res.loose_packed = len(absorbed)
        res.packed = len(written)
        res.packs_after = 1 if written else 0
        freed -= new_bytes
        _crash_point("pack-visible")
        # 3. old packs: index first (the pack turns invisible), then the pack file
        for p in inv.packs:
            if p.idx_path == new_idx:
                continue
            if not dry:
                _unlink(p.idx_path)
                _crash_point("idx-deleted")
                _unlink(p.pack_path)
            freed += p.pack_size + p.idx_size
    else:
        res.packs_after = len(inv.packs)

    # 4. loose copies now in the new pack, and old unreachable loose objects
    for i, (path, size) in enumerate(absorbed + delete_loose):
        if not dry:
            _unlink(path)
            if i == 0:
                _crash_point("loose-deleting")
        freed += size
    res.loose_after = res.loose_before - len(absorbed) - len(delete_loose)

    # 5. temp files, unfinished packs and stale index bases past the grace period
    protect = {new_idx[:-4] + ".pack"} if new_idx else set()
    for lo in inv.leftovers:
        if not _old(lo.mtime, cutoff) or lo.path in protect:
            res.leftovers_kept += 1
            continue
        if not dry:
            _unlink(lo.path)
        res.leftovers_removed += 1
        freed += lo.size
    res.bytes_freed = freed
    res.bytes_after = res.bytes_before - freed


def _repack(repo, inv: Inventory, reached: dict, young: dict, fold: dict, res: GcResult, progress):
    """Copy every kept packed object and the folded loose ones into one new pack (the store
    re-hashes each copy). Returns (ids written, index path of the pack that now holds them,
    bytes it added)."""
    from mmvc.core.pack import index_size, pack_size

    dry = res.dry_run
    written: set[bytes] = set()
    dry_lengths: list[int] = []  # dry run: the records the pack would hold
    total = sum(1 for raw in inv.where if raw in reached or raw in young) + sum(1 for raw in fold if raw not in inv.where)
    with contextlib.nullcontext() if dry else repo.store.repack() as rp:
        for pn, p in enumerate(inv.packs):
            blob = p.index.raw_ids()
            offs, lens = inv.offs[pn], inv.lens[pn]
            wanted = []
            for i in range(p.index.count):
                raw = blob[i * 32 : (i + 1) * 32]
                if raw not in written and (raw in reached or raw in young):
                    wanted.append((offs[i], lens[i], raw))
            if dry:
                dry_lengths += [w[1] for w in wanted]
                written.update(w[2] for w in wanted)
                if progress:
                    progress(len(written), 0, total, 0)
                continue
            for raw, data in read_records(p.pack_path, wanted):
                if raw not in written and rp.add(raw, data):  # else another pack or a loose copy may be intact
                    written.add(raw)
                    if progress and len(written) & 1023 == 0:
                        progress(len(written), 0, total, 0)
        for raw, size in fold.items():
            if raw in written:
                continue
            if dry:
                dry_lengths.append(size)
                written.add(raw)
                continue
            try:
                with open(inv.loose[raw], "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if rp.add(raw, data):
                written.add(raw)
        lost = [raw for raw in reached if raw not in written and (raw in inv.where or raw in fold)]
        if lost:
            raise CorruptError(f"gc stopped: {len(lost)} reachable object(s) have no intact copy, e.g. {lost[0].hex()}",
                               "run `mmvc fsck` to see which versions they break; nothing was deleted")
        res.dropped_corrupt = sum(1 for raw in young if raw not in written and (raw in inv.where or raw in fold))
        if progress:
            progress(len(written), 0, total, 0)
        if dry:
            if not written:
                return written, None, 0
            existing = os.path.join(inv.pack_dir, pack_name(written) + ".idx")
            if any(p.idx_path == existing for p in inv.packs):
                return written, existing, 0
            return written, None, pack_size(dry_lengths) + index_size(len(written))
        carried = max((young[raw] for raw in written if raw in young), default=None)
        idx_path, nbytes = rp.finish(carried, checkpoint=_crash_point)
        return written, idx_path, nbytes


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise storage_error(e, f"removing {path}") from e
