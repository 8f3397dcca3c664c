"""``mmvc import``: stage the items a connector yields straight into the store and the index.

Imported items have no work-tree copy: their blobs go through the store's writer (small ones
into packs) and their index entries are marked skip-worktree, so ``status`` does not call them
deleted, ``switch`` leaves them out of the work tree, and ``restore``/``checkout -- PATH``
writes one out on request. They then go through ``process`` and ``commit`` like added files.

Work is split into the connector's units; each finished unit is checkpointed under
``.mmvc/import/<source id>/`` (its objects are complete before its checkpoint is written), so
``--resume`` continues an interrupted import where it stopped. The index is written once, at
the end: an import that fails or yields nothing stages nothing and removes nothing.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mmvc.core.index import FLAG_SKIP_WORKTREE, IndexEntry
from mmvc.core.modality import SNIFF_BYTES, detect, modality_name
from mmvc.core.objects import canonical_json
from mmvc.core.pathrules import validate_key
from mmvc.errors import BadInputError, MmvcError
from mmvc.importers.base import ImportOptions, Item, Rows, Skip, Unit
from mmvc.importers.checkpoint import Checkpoints, source_id
from mmvc.importers.chunk import Chunk, ChunkBuilder

PARALLEL_MIN_ITEMS = 2000
REMOTE_SPOOL_BYTES = 64 << 20  # remote files larger than this are spooled to disk, not held in memory

Progress = Callable[[int, int, int, int], None]  # items done, bytes done, items total, 0


@dataclass
class ImportResult:
    connector: str
    source: str
    uri: str
    prefix: str
    revision: str | None = None
    candidates: int = 0  # what the source holds
    selected: int = 0  # what --limit / --sample kept
    added: int = 0
    modified: int = 0
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)  # --replace
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    by_modality: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    objects_written: int = 0
    units: int = 0
    resumed_units: int = 0
    dry_run: bool = False
    staged: bool = False  # False: nothing was written to the index (dry run, or nothing imported)
    seconds: float = 0.0


class Selection:
    """Which candidates of a unit are imported: all, the first ``stop``, or the ``picks``."""

    def __init__(self, stop: int | None = None, picks: frozenset | None = None):
        self.stop = stop
        self.picks = picks

    def __call__(self, i: int) -> bool:
        if self.picks is not None:
            return i in self.picks
        return self.stop is None or i < self.stop

    @property
    def everything(self) -> bool:
        return self.picks is None and self.stop is None

    def count(self, n: int) -> int:
        if self.picks is not None:
            return len(self.picks)
        return n if self.stop is None else min(n, self.stop)

    def describe(self):
        return sorted(self.picks) if self.picks is not None else self.stop


def select(units: list[Unit], limit: int | None, sample: int | None, seed: int) -> list[tuple[int, Selection]]:
    """(unit number, selection) for every unit with something selected; the same on every run."""
    if sample is None:
        out, left = [], limit
        for i, u in enumerate(units):
            if left is not None and left <= 0:
                break
            sel = Selection(stop=left if left is not None and left < u.count else None)
            if u.count:
                out.append((i, sel))
            if left is not None:
                left -= u.count
        return out
    total = sum(u.count for u in units)
    chosen = sorted(random.Random(seed).sample(range(total), min(sample, total)))
    if limit is not None:
        chosen = chosen[:limit]
    out, k, start = [], 0, 0
    for i, u in enumerate(units):
        end = start + u.count
        picks = []
        while k < len(chosen) and chosen[k] < end:
            picks.append(chosen[k] - start)
            k += 1
        if picks:
            out.append((i, Selection(picks=frozenset(picks))))
        start = end
    return out


# --------------------------------------------------------------------------- reading units


class _HashOnly:
    """The writer a dry run uses: ids computed, nothing stored."""

    written = 0

    def put_bytes(self, data: bytes) -> str:
        from mmvc.core.hashing import hash_bytes

        return hash_bytes(data)

    def put_many(self, datas) -> bytes:
        from blake3 import blake3

        return b"".join(blake3(d).digest() for d in datas)

    def put_file(self, path: str, expected=None, head: int = 0):
        from mmvc.core.hashing import new_hasher

        h, n, first = new_hasher(), 0, b""
        with open(path, "rb") as f:
            while chunk := f.read(8 << 20):
                if n < head:
                    first += chunk[: head - n]
                h.update(chunk)
                n += len(chunk)
        return h.hexdigest(), n, first

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def read_unit(store_args: dict | None, connector, unit: Unit, selection: Selection, prefix: str, slot: int = 0,
              counters=None) -> tuple[Chunk, list, int]:
    """Read one unit into the store: (its rows as a Chunk, skips, objects written). Runs in this
    process or in a worker."""
    from mmvc.importers.fsio import check_unchanged, protocols, remote_error

    from mmvc.services.workerpool import open_store, worker_counters

    if counters is None:
        counters = worker_counters()
    writer = _HashOnly() if store_args is None else open_store(store_args).writer()
    fs = connector.fs
    local = "file" in protocols(fs)
    forced = connector.options.modality
    out, skips = ChunkBuilder(), []
    pre = prefix + "/" if prefix else ""
    done = 0
    with writer as w:
        try:
            for it in connector.read(unit, selection):
                done += 1
                if isinstance(it, Skip):
                    skips.append((it.location, it.reason))
                    continue
                if isinstance(it, Rows):
                    done += len(it.keys) - 1
                    mod = forced if forced is not None else it.modality
                    if pre:
                        validate_key(pre + it.keys[0], "item key")
                    for key in it.keys:
                        if "/" not in key or ".." in key or key.startswith("/"):  # ids from a column: check them all
                            validate_key(pre + key, "item key")
                    out.add([pre + k for k in it.keys] if pre else it.keys, w.put_many(it.datas), map(len, it.datas),
                            bytes([mod]) * len(it.keys), it.metas)
                    if counters is not None:
                        counters[slot] = done
                    continue
                key = pre + it.key
                validate_key(key, "item key")
                if it.data is not None:
                    oid, size, head = w.put_bytes(it.data), len(it.data), it.data[:SNIFF_BYTES]
                elif local:
                    oid, size, head = w.put_file(it.path, head=SNIFF_BYTES)
                else:
                    oid, size, head = _put_remote(w, fs, it.path)
                mod = forced if forced is not None else it.modality
                if mod is None:
                    mod = detect(key, head)
                out.add([key], bytes.fromhex(oid), (size,), bytes((mod,)), [canonical_json(it.meta).decode("utf-8")])
                if counters is not None and (done & 255 == 0):
                    counters[slot] = done
            for f in unit.files:
                check_unchanged(fs, f)
        except MmvcError:
            raise
        except Exception as e:  # noqa: BLE001 — remote libraries raise their own types; translated by remote_error
            err = remote_error(e, connector.uri)
            if err is e:
                raise
            raise err from None
    if counters is not None:
        counters[slot] = done
    return out.finish(), skips, w.written


def _where(it: Item) -> str:
    loc = it.location
    return " ".join(f"{k} {v}" for k, v in loc.items()) if loc else it.key


def _put_remote(w, fs, path: str):
    """A file of a remote source into the store: small ones through memory, large ones spooled."""
    size = fs.size(path) or 0
    if size <= REMOTE_SPOOL_BYTES:
        with fs.open(path, "rb") as f:
            data = f.read()
        return w.put_bytes(data), len(data), data[:SNIFF_BYTES]
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="import-", suffix=".tmp", dir=getattr(getattr(w, "store", None), "tmp_dir", None))
    os.close(fd)
    try:
        fs.get_file(path, tmp)
        return w.put_file(tmp, head=SNIFF_BYTES)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


# --------------------------------------------------------------------------- the verb


def import_(repo, kind: str, sources: list[str], options: ImportOptions | None = None, limit: int | None = None,
            sample: int | None = None, seed: int = 0, resume: bool = False, replace: bool = False, dry_run: bool = False,
            jobs: int | None = None, progress: Progress | None = None) -> ImportResult:
    from mmvc.importers.registry import open_connector

    t0 = time.perf_counter()
    options = options or ImportOptions()
    if limit is not None and limit < 0 or sample is not None and sample < 0:
        raise BadInputError("--limit and --sample take a number of items (0 or more)")
    if not options.retrieved:
        options.retrieved = int(time.time())
    with repo.locked("import"):
        conn = open_connector(kind, list(sources), options)
        source = conn.source_name()
        prefix = options.prefix.strip("/") if options.prefix is not None else conn.default_prefix()
        if prefix:
            validate_key(prefix, "--prefix")
        res = ImportResult(conn.name, source, conn.uri, prefix, conn.revision, dry_run=dry_run)
        units = conn.plan()
        res.candidates = sum(u.count for u in units)
        chosen = select(units, limit, sample, seed)
        res.selected = sum(sel.count(units[i].count) for i, sel in chosen)
        res.units = len(chosen)
        sid = source_id(conn, options, limit, sample, seed)
        cps = Checkpoints(repo, sid)
        if not resume and not dry_run and cps.exists():
            cps.clear()
        if resume:
            repo.store.refresh()  # packs another process finished since this store last looked
        index = repo.load_index()
        stager = _Stager(index, res, track=replace or bool(options.id_field), prefix=prefix)
        todo = []
        for n, sel in chosen:
            doc = cps.load(n, units[n], sel) if resume else None
            if doc is not None:
                chunk = doc["chunk"]
                oids = {chunk.ids[i : i + 32].hex() for i in range(0, len(chunk.ids), 32)}
                if oids - repo.store.has_many(oids):
                    doc = None  # its objects were collected since: read the unit again
            if doc is None:
                todo.append((n, sel))
                continue
            res.resumed_units += 1
            res.skipped += [tuple(s) for s in doc["skips"]]
            stager.stage(chunk)
        for n, chunk, skips, written in _run_units(repo, conn, units, todo, prefix, dry_run, jobs, progress, res.selected):
            if not dry_run:
                cps.save(n, units[n], dict(todo)[n], chunk, skips, written)
            res.skipped += skips
            res.objects_written += written
            stager.stage(chunk)
        stager.finish()
        if replace and stager.count and stager.seen is not None:
            for e in index.iter_entries(prefix + "/" if prefix else ""):
                if e.path not in stager.seen:
                    res.removed.append(e.path)
            for p in res.removed:
                index.remove(p)
        res.by_modality = {modality_name(m): c for m, c in sorted(stager.mods.items())}
        if stager.count and not dry_run:
            if stager.held is not None:
                index.write_bulk([c.bulk(FLAG_SKIP_WORKTREE) for c in stager.held])
            else:
                index.write()
            res.staged = True
        if not dry_run:
            cps.clear()
            _prune_empty(repo.layout.imports)
    res.skipped.sort()
    res.seconds = time.perf_counter() - t0
    return res


def _prune_empty(d: str) -> None:
    try:
        os.rmdir(d)
    except OSError:
        pass


class _Stager:
    """Rows into the index: new keys added, changed ones replaced, identical ones left alone
    (a new retrieval time or source-file etag alone does not make an item new).

    Where the index holds nothing under the import's prefix (a first import), every row is new:
    the chunks are then only held (``held``), checked to be strictly sorted and disjoint, and
    written by ``Index.write_bulk``, so memory stays at ~50 bytes a row. Anything else (a
    re-import, keys out of order or repeated) goes row by row through the index."""

    def __init__(self, index, res: ImportResult, track: bool, prefix: str = ""):
        self.index = index
        self.res = res
        self.count = 0
        self.track = track
        self.seen: set[str] | None = None
        self.mods: dict[int, int] = {}
        self.held: list[Chunk] | None = [] if prefix and not _holds_prefix(index, prefix + "/") else None
        if self.held is None:
            self._go_slow([])

    def _go_slow(self, chunks: list[Chunk]) -> None:
        self.held = None
        # every key, where it matters (--replace; keys from an id column may repeat): 1M keys cost ~100 MB
        self.seen = set() if self.track else None
        self.count, self.mods = 0, {}
        self.res.added = self.res.modified = self.res.unchanged = self.res.bytes = 0
        for c in chunks:
            self._stage_rows(c.rows())

    def stage(self, chunk: Chunk) -> None:
        if self.held is None:
            self._stage_rows(chunk.rows())
        elif not chunk.ordered:
            self._go_slow(self.held + [chunk])
        else:
            self.held.append(chunk)
            self.count += chunk.n
            self.res.added += chunk.n
            self.res.bytes += chunk.bytes
            for m, k in chunk.by_mod.items():
                self.mods[m] = self.mods.get(m, 0) + k

    def finish(self) -> None:
        if self.held is None:
            return
        chunks = sorted((c for c in self.held if c.n), key=lambda c: c.first)
        if any(not a.last < b.first for a, b in zip(chunks, chunks[1:])):
            self._go_slow(self.held)
            return
        self.held = chunks

    def _stage_rows(self, rows) -> None:
        index, res, seen, mods = self.index, self.res, self.seen, self.mods
        get, put = index.get, index.set
        self.count += len(rows)
        for key, oid, size, mod, meta in rows:
            if seen is not None:
                if key in seen:
                    raise BadInputError(f"two items of the source map to the key {key!r}",
                                        "with --id-field, the ids must be unique; otherwise report this as a connector bug")
                seen.add(key)
            res.bytes += size
            old = get(key)
            flags = FLAG_SKIP_WORKTREE
            if old is not None:
                if old.oid == oid and old.size == size and old.modality == mod and _same_meta(old.meta, meta):
                    res.unchanged += 1
                    continue
                res.modified += 1
                # a copy the user wrote out stays tracked as one: `status` then says it is not what is staged
                flags = old.flags & FLAG_SKIP_WORKTREE
            else:
                res.added += 1
            mods[mod] = mods.get(mod, 0) + 1
            put(IndexEntry(key, oid, size, mod, flags, meta))


def _holds_prefix(index, pre: str) -> bool:
    """Whether the index (base or overlay, deletions included) mentions any path under ``pre``."""
    import bisect

    if any(p.startswith(pre) for p in index.overlay):
        return True
    paths = index.base.paths
    i = bisect.bisect_left(paths, pre)
    return i < len(paths) and paths[i].startswith(pre)


def _same_meta(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        da, db = json.loads(a), json.loads(b)
    except ValueError:
        return False
    for d in (da, db):
        if isinstance(d.get("provenance"), dict):
            d["provenance"].pop("retrieved", None)
            d["provenance"].pop("etag", None)
    return da == db


def _run_units(repo, conn, units, todo, prefix, dry_run, jobs, progress, total):
    """Yield (unit number, rows, skips, objects written) as units finish, in or out of order."""
    from mmvc.importers.fsio import protocols
    from mmvc.services import workerpool

    if not todo:
        return
    store = repo.store
    store_args = None if dry_run else workerpool.store_args(store)
    jobs = jobs or repo.config.jobs or os.cpu_count() or 1
    selected = sum(sel.count(units[n].count) for n, sel in todo)
    in_process = (jobs <= 1 or len(todo) == 1 or selected < PARALLEL_MIN_ITEMS or "memory" in protocols(conn.fs))
    if in_process:
        done = 0
        counters = [0]
        for n, sel in todo:
            rows, skips, written = read_unit(store_args, conn, units[n], sel, prefix, 0, counters)
            done += counters[0]
            if progress:
                progress(done, 0, total, 0)
            yield n, rows, skips, written
        if not dry_run:
            store.refresh()
        return
    calls = [(store_args, conn, units[n], sel, prefix, slot) for slot, (n, sel) in enumerate(todo)]
    tick = (lambda c: progress(sum(c), 0, total, 0)) if progress else None
    for slot, (rows, skips, written) in workerpool.run(read_unit, calls, workers=min(jobs, len(todo)), store=None if dry_run else store,
                                                       preload=("mmvc.ops.import_", "fsspec", type(conn).__module__, *conn.preload),
                                                       counters=len(todo), on_progress=tick):
        yield todo[slot][0], rows, skips, written
    if not dry_run:
        store.refresh()
