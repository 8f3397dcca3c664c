"""``mmvc add``: hash and store files, then stage them in the index.

Objects are written before the index, and the index is replaced in one rename at the end, so
an interrupted add (Ctrl-C, a full disk, a file that changed under us) leaves the index as it
was; the objects it did store are complete and simply unreferenced until the next add or gc.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from mmvc.core.index import IndexEntry
from mmvc.core.modality import OTHER, SNIFF_BYTES, detect, modality_name
from mmvc.core.pathrules import display_path
from mmvc.core.worktree import BAD_NAME
from mmvc.errors import BadInputError

PARALLEL_MIN_FILES = 2000
PARALLEL_MIN_BYTES = 256 << 20
FLAG_EXEC = 1


@dataclass
class AddResult:
    added: int = 0
    modified: int = 0
    unchanged: int = 0
    removed: int = 0
    bytes_hashed: int = 0
    objects_written: int = 0
    by_modality: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, why) some platform cannot check it out
    seconds: float = 0.0


Progress = Callable[[int, int, int, int], None]  # files done, bytes done, files total, bytes total


def add(repo, paths: list[str], modality: int | None = None, force: bool = False, jobs: int | None = None,
        progress: Progress | None = None, cwd: str | None = None) -> AddResult:
    t0 = time.perf_counter()
    if not paths:
        raise BadInputError("nothing specified, nothing added", "name files or folders, e.g. `mmvc add .`")
    result = AddResult()
    with repo.locked("add"):
        index = repo.load_index()
        walk = repo.worktree.resolve(paths, cwd=cwd, force=force)
        result.skipped = walk.skipped
        bad = [k for k, why in walk.skipped if why == BAD_NAME]
        if bad:
            shown = ", ".join(bad[:5])
            raise BadInputError(f"{len(bad)} file name(s) are not valid UTF-8: {shown}",
                                "rename them (e.g. with `convmv -f latin1 -t utf8`) or list them in .mmvcignore")
        todo = []
        unchanged = index.unchanged
        for f in walk.files:
            if unchanged(f.key, f.size, f.mtime_ns, f.ino, modality):
                result.unchanged += 1
                continue
            todo.append(f)
        removals = _removals(repo, index, walk)
        missing = [k for k in walk.explicit if index.get(k) is None]
        if missing:
            raise BadInputError(f"pathspec {missing[0]!r} did not match any files" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                                "check the path; to stage the removal of a tracked file use `mmvc rm`")
        tracked = index.tracked
        new_keys = [f.key for f in todo if not tracked(f.key)]
        removals = sorted(set(removals) | _replaced_by_new(index, new_keys))
        result.warnings = _check_portable(repo, index, new_keys, removals)
        hashed = hash_files(repo, todo, jobs=jobs, progress=progress)
        staged_mods: Counter[int] = Counter()
        for key, oid, size, mod, flags, mtime, ino, written in hashed:
            old = index.get(key)
            if modality is not None:
                mod = modality
            elif mod == OTHER and old is not None:
                mod = old.modality  # a tracked file keeps the modality it was staged with when its bytes no longer tell
            if old is None:
                entry = IndexEntry(key, oid, size, mod, flags, "", mtime, ino)
                result.added += 1
                staged_mods[mod] += 1
            else:
                keep_proc = old.oid == oid and old.modality == mod
                entry = IndexEntry(key, oid, size, mod, flags, old.meta, mtime, ino,
                                   old.proc_status if keep_proc else 0, old.proc_id if keep_proc else "")
                if old.same_content(entry):
                    result.unchanged += 1
                else:
                    result.modified += 1
                    staged_mods[mod] += 1
            result.bytes_hashed += size
            result.objects_written += written
            index.set(entry)
        result.by_modality = {modality_name(m): n for m, n in sorted(staged_mods.items())}
        for key in removals:
            index.remove(key)
        result.removed = len(removals)
        index.write()
    result.seconds = time.perf_counter() - t0
    return result


def _replaced_by_new(index, new_keys: list[str]) -> set[str]:
    """Tracked entries a new file shows to be gone: a tracked file ``d`` when ``d/x`` is new (``d``
    is a folder now), and everything tracked below ``d/`` when a file ``d`` is new."""
    out = set()
    parents = {k.rsplit("/", 1)[0] for k in new_keys if "/" in k}
    for d in {"/".join(p.split("/")[:i]) for p in parents for i in range(1, p.count("/") + 2)}:
        if index.get(d) is not None:
            out.add(d)
    for k in new_keys:
        if index.is_folder(k):
            out.update(e.path for e in index.iter_entries(k + "/"))
    return out


def _check_portable(repo, index, new_keys: list[str], removals: list[str]) -> list[tuple[str, str]]:
    """Refuse (``core.portability = refuse``, the default) new paths that Linux, macOS or Windows
    cannot check out; return the ones that only warrant a warning."""
    mode = repo.config.portability
    if mode == "off" or not new_keys:
        return []
    from mmvc.core.pathrules import portability_problems

    gone: dict[str, set[str]] = {}
    for k in removals:
        folder, _, name = k.rpartition("/")
        gone.setdefault(folder, set()).add(name)
    problems = portability_problems(sorted(new_keys), lambda folder: index.names_in(folder) - gone.get(folder, set()))
    refused = [(k, why) for k, sev, why in problems if sev == "refuse" and mode == "refuse"]
    if refused:
        shown = "; ".join(f"{display_path(k)} ({why})" for k, why in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise BadInputError(f"{len(refused)} path(s) cannot be checked out on every platform: {shown}{more}",
                            "rename them, list them in .mmvcignore, or allow them with `mmvc config core.portability warn`")
    return [(k, why) for k, sev, why in problems if (k, why) not in refused]


def _removals(repo, index, walk) -> list[str]:
    """Tracked files under the folders walked (or named one by one) that are gone from disk."""
    out = []
    if walk.covered:
        present = {f.key for f in walk.files}
        for prefix in walk.covered:
            for e in index.iter_entries(prefix + "/" if prefix else ""):
                if e.path not in present and not os.path.lexists(repo.worktree.abspath(e.path)):
                    out.append(e.path)
    out += [k for k in walk.explicit if index.get(k) is not None]
    return sorted(set(out))


# --------------------------------------------------------------------------- hashing


def _plan_slices(files, jobs: int) -> list[list]:
    """Contiguous runs of the walk (folder locality) with about equal bytes + per-file cost each."""
    cost = [f.size + 65536 for f in files]
    total = sum(cost)
    slices: list[list] = []
    cur, acc, goal = [], 0, total / jobs
    for f, c in zip(files, cost):
        cur.append(f)
        acc += c
        if acc >= goal * (len(slices) + 1) and len(slices) < jobs - 1:
            slices.append(cur)
            cur = []
    slices.append(cur)
    return [s for s in slices if s]


def _hash_slice(store_args: dict, root: str, items: list, slot: int, counters=None) -> tuple[list, int]:
    from mmvc.core.store import FileFingerprint
    from mmvc.services.workerpool import open_store, worker_counters

    if counters is None:
        counters = worker_counters()

    store = open_store(store_args)
    out = []
    done = nbytes = 0
    with store.writer() as w:
        sep = os.sep
        for key, size, mtime, ino, mode in items:
            before = w.written
            oid, n, head = w.put_file(root + sep + key, FileFingerprint(size, mtime, ino), head=SNIFF_BYTES)
            out.append((key, oid, n, detect(key, head), FLAG_EXEC if mode & 0o111 else 0, mtime, ino, w.written - before))
            done += 1
            nbytes += n
            if counters is not None and (done & 63 == 0 or n > 1 << 20):
                counters[2 * slot] = done
                counters[2 * slot + 1] = nbytes
    if counters is not None:
        counters[2 * slot] = done
        counters[2 * slot + 1] = nbytes
    return out, w.written


def hash_files(repo, files, jobs: int | None = None, progress: Progress | None = None) -> list[tuple]:
    """(key, id, size, detected modality, flags, mtime_ns, inode, objects written) per file,
    hashed on every core."""
    if not files:
        return []
    from mmvc.services import workerpool

    store = repo.store
    args = workerpool.store_args(store)
    jobs = jobs or repo.config.jobs or os.cpu_count() or 1
    total_bytes = sum(f.size for f in files)
    root = repo.worktree.root
    if jobs <= 1 or (len(files) < PARALLEL_MIN_FILES and total_bytes < PARALLEL_MIN_BYTES) or len(files) == 1:
        out, _ = _hash_slice(args, root, files, 0, [0, 0])
        if progress:
            progress(len(files), total_bytes, len(files), total_bytes)
        store.refresh()
        return out
    slices = _plan_slices(files, jobs)
    tick = (lambda c: progress(sum(c[0::2]), sum(c[1::2]), len(files), total_bytes)) if progress else None
    done = dict(workerpool.run(_hash_slice, [(args, root, s, i) for i, s in enumerate(slices)], workers=len(slices), store=store,
                               preload=("mmvc.ops.add", "mmvc.core.modality"), counters=2 * len(slices), on_progress=tick))
    out = []
    for i in range(len(slices)):
        out.extend(done[i][0])
    store.refresh()
    return out
