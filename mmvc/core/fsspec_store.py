"""The bucket store: objects in a folder of any fsspec filesystem (``s3://``, ``gs://``,
``memory://``, ``file://``) — what a remote's ``objects/`` is (docs/format.md, "Remote layout").

It keeps the local store's layout and pack format byte for byte (loose objects at ``ab/cd/<id>``,
``pack/pack-<h>.pack`` + ``.idx``), so a store moves between a folder and a bucket with plain copy
tools and either backend reads it. Buckets have no appends and no rename, so small objects are
gathered into a pack (up to ``pack_max_bytes``, 64 MiB, spooled to a local temp file as it is
built) and sent whole, streamed from that file, then its index,
which is what makes it visible: a reader finds a whole pack or none, and an interrupted upload
leaves whole packs that a rerun skips. Large objects travel alone, as files. Transfers run
``jobs`` at a time, with at most ``PACKS_IN_FLIGHT`` packs among them. Nothing a push sends is
held whole in memory, so its memory does not grow with the repository (holding a 64 MiB pack
as bytes cost several times that in the S3 client's copies).

Packed objects are read by byte ranges: the wanted records of one pack are sorted by offset and
neighbours are merged into one ranged GET. Each pack index is read whole once (and kept in
``index_cache_dir`` when given: indexes are immutable). Every object fetched into another store
is re-hashed first; one that does not match its id, or is nowhere in the bucket, is an error
naming the object and the version that needs it.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO
from collections.abc import Iterable, Iterator

from blake3 import blake3

from mmvc.core.bucket import Bucket
from mmvc.core.hashing import ID_RAW_LEN, hash_bytes, is_object_id
from mmvc.core.pack import PackBuilder, PackIndex
from mmvc.core.store import COPY_CHUNK, DEFAULT_PACK_THRESHOLD, HashMismatchError, ObjectStore, ObjectWriter, Spooled, copy_hashed
from mmvc.errors import CorruptError, MmvcError, ObjectNotFound

PACK_TARGET_BYTES = 64 << 20  # a pack is cut once the next object would take it past this
PACKS_IN_FLIGHT = 2  # packs being sent at once (besides the one being built), whatever ``jobs`` is
RANGE_GAP = 256 << 10  # wanted records closer than this are read in one GET
RANGE_MAX = 32 << 20
DEFAULT_JOBS = 8
HEADS_BEFORE_LISTING = 1000  # more objects to look for than this: list the loose ones instead of a HEAD each
KEEP_SMALL = 1 << 20  # a loose object below this size can be handed back instead of stored


class Progress:
    """Counts objects and bytes moved and reports them as (done, done_bytes, total, total_bytes)."""

    def __init__(self, callback, total: int, total_bytes: int):
        self.callback = callback
        self.total, self.total_bytes = total, total_bytes
        self.done = self.done_bytes = 0
        self._lock = threading.Lock()

    def add(self, n: int, nbytes: int) -> None:
        with self._lock:
            self.done += n
            self.done_bytes += nbytes
            if self.callback:
                self.callback(self.done, self.done_bytes, self.total, self.total_bytes)


class FsspecObjectStore(ObjectStore):
    """Objects under ``prefix`` of a ``Bucket``."""

    def __init__(self, bucket: Bucket, prefix: str = "", pack_threshold: int = DEFAULT_PACK_THRESHOLD,
                 pack_max_bytes: int = PACK_TARGET_BYTES, index_cache_dir: str | None = None, jobs: int = DEFAULT_JOBS):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.pack_threshold = pack_threshold
        self.pack_max_bytes = pack_max_bytes
        self.index_cache_dir = index_cache_dir
        self.jobs = max(1, jobs)
        self._packs: dict[str, PackIndex] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kw) -> FsspecObjectStore:
        return cls(Bucket.from_url(url), **kw)

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _loose_key(self, oid: str) -> str:
        return self._key(f"{oid[:2]}/{oid[2:4]}/{oid}")

    # -- packs: each index is read whole once (one GET); packs are read by byte ranges

    def packs(self, rescan: bool = False) -> list[PackIndex]:
        """The packs known; ``rescan`` lists ``pack/`` again for packs written since."""
        with self._lock:
            if self._packs is None or rescan:
                self._packs = self._packs or {}
                names = [posixpath.basename(p) for p in self.bucket.list_files(self._key("pack")) if p.endswith(".idx")]
                todo = [n for n in names if n not in self._packs]
                with ThreadPoolExecutor(max_workers=min(self.jobs, max(1, len(todo)))) as pool:
                    for name, index in zip(todo, pool.map(self._load_index, todo)):
                        if index is not None:
                            self._packs[name] = index
            return list(self._packs.values())

    def refresh(self) -> None:
        if self._packs is not None:
            self.packs(rescan=True)

    def _load_index(self, name: str) -> PackIndex | None:
        key = self._key(f"pack/{name}")
        cached = os.path.join(self.index_cache_dir, name) if self.index_cache_dir else None
        if cached and os.path.exists(cached):
            with open(cached, "rb") as f:
                data = f.read()
            try:
                return PackIndex(key, data=data)
            except CorruptError:
                os.unlink(cached)
        data = self.bucket.cat(key)
        if data is None:
            return None
        try:
            index = PackIndex(key, data=data)
        except CorruptError as e:
            raise self.bucket.corrupt(f"remote {self.bucket.name}: pack index {name} is corrupt ({e.message})",
                                      "delete the pack and its index on the remote and push again from a complete clone") from None
        self._cache_index(name, data)
        return index

    def _cache_index(self, name: str, data: bytes) -> None:
        if self.index_cache_dir:
            from mmvc.core.atomicfile import atomic_write

            os.makedirs(self.index_cache_dir, exist_ok=True)
            atomic_write(os.path.join(self.index_cache_dir, name), data, fsync=False)

    def _register_pack(self, name: str, idx: bytes) -> None:
        """A pack this process has just sent: known from now on, without a LIST or a GET."""
        self._cache_index(name + ".idx", idx)
        with self._lock:
            if self._packs is not None:
                self._packs[name + ".idx"] = PackIndex(self._key(f"pack/{name}.idx"), data=idx)

    def _find_packed(self, oid: str) -> tuple[PackIndex, int] | None:
        raw = bytes.fromhex(oid)
        for p in self.packs():
            i = p.find(raw)
            if i >= 0:
                return p, i
        return None

    def _locate(self, oid: str) -> tuple[PackIndex, int] | str:
        """A pack entry, else the loose key; pack/ is listed again only before giving up."""
        found = self._find_packed(oid)
        if found is None and not self.bucket.exists(self._loose_key(oid)):
            self.packs(rescan=True)
            found = self._find_packed(oid)
            if found is None:
                raise ObjectNotFound(oid)
        return found or self._loose_key(oid)

    # -- reads

    def has(self, oid: str) -> bool:
        try:
            return bool(self._locate(oid))
        except ObjectNotFound:
            return False

    def has_many(self, oids: Iterable[str], loose: set[str] | None = None) -> set[str]:
        """Which of ``oids`` the bucket holds: by its pack indexes (``pack/`` listed once, for
        what an interrupted upload left), then by one HEAD each, in parallel, for those in no
        pack; with ``loose``, only for those of it (the objects that travel as files)."""
        packs = self.packs(rescan=True)
        out, rest = set(), []
        for o in oids:
            raw = bytes.fromhex(o)
            if any(p.find(raw) >= 0 for p in packs):
                out.add(o)
            elif loose is None or o in loose:
                rest.append(o)
        if len(rest) > HEADS_BEFORE_LISTING:  # one listing (1,000 names a request) costs less
            listed = set(self._loose_ids())
            out.update(o for o in rest if o in listed)
        elif rest:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                for o, ok in zip(rest, pool.map(lambda o: self.bucket.exists(self._loose_key(o)), rest)):
                    if ok:
                        out.add(o)
        return out

    def get(self, oid: str) -> bytes:
        where = self._locate(oid)
        if isinstance(where, str):
            data = self.bucket.cat(where)
            if data is None:
                raise ObjectNotFound(oid)
            return data
        off, length = where[0].location(where[1])
        return self.bucket.cat_range(where[0].pack_path, off, off + length) if length else b""

    def location(self, oid: str) -> str | tuple[str, int, int]:
        """Where the object lies: (pack file, offset, length), or its loose file; what
        ``read_located`` reads it by, with no pack index at hand."""
        where = self._locate(oid)
        if isinstance(where, str):
            return where
        off, length = where[0].location(where[1])
        return where[0].pack_path, off, length

    def read_located(self, where: dict[str, str | tuple[str, int, int]]) -> dict[str, bytes]:
        """The bytes of objects by their ``location``: packed neighbours in one ranged GET each,
        loose ones whole, every one checked against its id."""
        by_pack: dict[str, list] = {}
        loose = []
        for o, loc in where.items():
            if isinstance(loc, str):
                loose.append((o, loc))
            else:
                by_pack.setdefault(loc[0], []).append((loc[1], loc[2], o))
        out: dict[str, bytes] = {}
        lock = threading.Lock()

        def keep(o: str, data: bytes) -> None:
            if blake3(data).hexdigest() != o:
                raise self._bad(o, "is corrupt (its bytes do not hash to its id)", {})
            with lock:
                out[o] = data

        def get_range(job):
            pack, items = job
            start = items[0][0]
            data = self.bucket.cat_range(pack, start, items[-1][0] + items[-1][1]) if items[-1][0] + items[-1][1] > start else b""
            for off, length, o in items:
                keep(o, data[off - start : off - start + length])

        def get_loose(job):
            o, key = job
            data = self.bucket.cat(key)
            if data is None:
                raise self._bad(o, "is missing", {})
            keep(o, data)

        jobs = [(get_range, r) for r in _coalesce(by_pack)] + [(get_loose, j) for j in loose]
        with ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(jobs)))) as pool:
            for f in [pool.submit(fn, j) for fn, j in jobs]:
                f.result()
        return out

    def open(self, oid: str) -> BinaryIO:
        where = self._locate(oid)
        return self.bucket.open_read(where) if isinstance(where, str) else io.BytesIO(self.get(oid))

    def size(self, oid: str) -> int:
        where = self._locate(oid)
        return self.bucket.size(where) if isinstance(where, str) else where[0].location(where[1])[1]

    def iter_ids(self) -> Iterator[str]:
        seen = set()
        for p in self.packs():
            blob = p.raw_ids()
            seen.update(blob[i : i + ID_RAW_LEN].hex() for i in range(0, len(blob), ID_RAW_LEN))
        yield from sorted(seen)
        yield from (o for o in self._loose_ids() if o not in seen)

    def _loose_ids(self) -> Iterator[str]:
        """The ids of the loose objects, from one listing."""
        for rel in self.bucket.list_files(self.prefix):
            parts = rel[len(self.prefix) :].strip("/").split("/") if self.prefix else rel.split("/")
            if len(parts) == 3 and is_object_id(parts[2]) and parts[:2] == [parts[2][:2], parts[2][2:4]]:
                yield parts[2]

    # -- writes

    def writer(self, durable: bool | None = None, progress: Progress | None = None) -> FsspecObjectWriter:
        """A write to a bucket is durable once its request returns: ``durable`` changes nothing."""
        return FsspecObjectWriter(self, progress)

    def send_from(self, src: ObjectStore, packed: list[str], loose: list[str], progress=None) -> tuple[int, int]:
        """Upload objects another store holds: ``packed`` ids in packs, ``loose`` ids as files
        (streamed from the source's own files where it has them). Returns (packs sent, bytes
        sent). Memory is bounded by ``PACKS_IN_FLIGHT + 1`` packs."""
        sizes = {o: src.size(o) for o in loose}
        with self.writer(progress=Progress(progress, len(packed) + len(loose), 0)) as w:
            for oid in loose:
                w.send_stored(src, oid, sizes[oid])
            for oid in packed:
                if w.failed:
                    break  # close() raises what failed; build no pack nobody will send
                w.add_packed(bytes.fromhex(oid), src.get(oid))
        return w.packs_sent, w.bytes_sent

    # -- fetching into another store

    def fetch_into(self, dest: ObjectStore, oids: list[str], needed_by: dict[str, str] | None = None, keep: bool = False,
                   store_now: bool = True, progress=None, rescan: bool = False) -> dict[str, bytes]:
        """Copy ``oids`` into ``dest``, every one verified by hash. ``keep`` returns the bytes of
        the small ones; ``store_now=False`` returns them without storing them (commits, which a
        fetch stores last). Large loose objects are streamed, never held whole. ``needed_by``
        names the version that needs each object, for the error when one is bad or missing;
        ``rescan``: list ``pack/`` again first when some of ``oids`` are in no known pack."""
        needed_by = needed_by or {}
        out: dict[str, bytes] = {}
        if not oids:
            return out
        if rescan and any(self._find_packed(o) is None for o in oids):
            self.packs(rescan=True)
        by_pack: dict[PackIndex, list] = {}
        loose: list[str] = []
        for o in oids:
            found = self._find_packed(o)
            if found is None:
                loose.append(o)
            else:
                off, length = found[0].location(found[1])
                by_pack.setdefault(found[0], []).append((off, length, o))
        prog = Progress(progress, len(oids), 0)
        results: dict[str, bytes] = {}
        lock = threading.Lock()

        def get_range(job):
            pack, items = job
            start, end = items[0][0], items[-1][0] + items[-1][1]
            data = self.bucket.cat_range(pack.pack_path, start, end)
            got = {}
            for off, length, o in items:
                piece = data[off - start : off - start + length]
                if blake3(piece).hexdigest() != o:
                    raise self._bad(o, "is corrupt (its bytes do not hash to its id)", needed_by)
                got[o] = piece
            with lock:
                results.update(got)
            prog.add(len(items), sum(len(v) for v in got.values()))

        def get_loose(o):
            got = self._fetch_loose(o, dest, needed_by, keep)
            if isinstance(got, bytes):
                with lock:
                    results[o] = got
                got = len(got)
            prog.add(1, got)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = [pool.submit(get_range, r) for r in _coalesce(by_pack)] + [pool.submit(get_loose, o) for o in loose]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        if store_now and results:
            with dest.writer() as w:
                for o in oids:
                    data = results.get(o)
                    if data is not None:
                        w.put_bytes(data)
        return results if keep or not store_now else out

    def _bad(self, oid: str, what: str, needed_by: dict[str, str]) -> MmvcError:
        version = needed_by.get(oid)
        needed = f", needed by version {version}" if version and version != oid else ""
        return self.bucket.corrupt(f"object {oid} on remote {self.bucket.name} {what}{needed}",
                                   "push it again from a clone that has it intact (`mmvc fsck` there proves it), then fetch again")

    def _fetch_loose(self, oid: str, dest: ObjectStore, needed_by: dict[str, str], keep: bool) -> bytes | int:
        """Stream a loose object of the bucket into ``dest``, hashing on the way. Returns its size,
        or with ``keep`` its bytes when it is small (a commit or a node that travelled alone:
        the caller stores it)."""
        try:
            src = self.bucket.open_read(self._loose_key(oid))
        except FileNotFoundError:
            raise self._bad(oid, "is missing", needed_by) from None

        def read(n: int) -> bytes:
            try:
                return src.read(n)
            except FileNotFoundError:
                raise self._bad(oid, "is missing", needed_by) from None
            except MmvcError:
                raise
            except Exception as e:
                raise self.bucket.error(e, f"reading object {oid}") from e

        def chunks(first: bytes):
            yield first
            while chunk := read(COPY_CHUNK):
                yield chunk

        with src:
            first = read(KEEP_SMALL if keep else COPY_CHUNK)
            if keep and len(first) < KEEP_SMALL:
                if blake3(first).hexdigest() != oid:
                    raise self._bad(oid, "is corrupt (its bytes do not hash to its id)", needed_by)
                return first
            try:
                with dest.writer() as w:
                    return w.put_stream(chunks(first), expect=oid)[1]
            except HashMismatchError:
                raise self._bad(oid, "is corrupt (its bytes do not hash to its id)", needed_by) from None


def _coalesce(by_pack: dict) -> list[tuple]:
    """The records wanted from each pack, sorted by offset, in runs that one ranged GET reads:
    neighbours at most ``RANGE_GAP`` apart, a run at most ``RANGE_MAX`` long."""
    ranges = []
    for pack, items in by_pack.items():
        items.sort()
        cur = [items[0]]
        for it in items[1:]:
            start, end = cur[0][0], cur[-1][0] + cur[-1][1]
            if it[0] - end <= RANGE_GAP and it[0] + it[1] - start <= RANGE_MAX:
                cur.append(it)
            else:
                ranges.append((pack, cur))
                cur = [it]
        ranges.append((pack, cur))
    return ranges


class FsspecObjectWriter(ObjectWriter):
    """Small objects go into a pack built in memory, sent whole (pack, then index) once the next
    object would take it past the store's ``pack_max_bytes``, or when the writer closes; large
    objects are sent alone. Sends run ``jobs`` at a time with at most ``PACKS_IN_FLIGHT + 1``
    packs in memory (a pack is a whole request: a few of them keep the line busy); ``close`` waits for them all and raises the first failure.

    Only the packs already known are consulted before writing (no LIST request per object): at
    worst an object another writer finished meanwhile is stored twice, which is harmless."""

    def __init__(self, store: FsspecObjectStore, progress: Progress | None = None):
        self.store, self.bucket = store, store.bucket
        self.pack_max_bytes = store.pack_max_bytes
        self.progress = progress
        self._pack: PackBuilder | None = None
        self._spool_file = None  # the local temp file the pack being built goes to
        self._spools: list = []  # every such file this writer made (removed at close)
        self._ids: set[bytes] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list = []
        self._in_flight = threading.BoundedSemaphore(min(store.jobs, PACKS_IN_FLIGHT))
        self._failed = threading.Event()
        self._lock = threading.Lock()
        self.written = 0
        self.packs_sent = 0
        self.bytes_sent = 0

    @property
    def failed(self) -> bool:
        """Whether a send has failed (``close`` raises it)."""
        return self._failed.is_set()

    # -- sending, in the background

    def _submit(self, fn, *args, holds_pack: bool = False) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.store.jobs)
        if holds_pack:
            self._in_flight.acquire()
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._sent(f, holds_pack))
        self._futures.append(future)

    def _sent(self, future, holds_pack: bool) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._failed.set()
        if holds_pack:
            self._in_flight.release()

    def _count(self, objects: int, nbytes: int, sent: int, packs: int = 0) -> None:
        with self._lock:
            self.bytes_sent += sent
            self.packs_sent += packs
        if self.progress:
            self.progress.add(objects, nbytes)

    def _send_pack(self, pack: PackBuilder, spool) -> None:
        try:
            name, idx = pack.finish()
            spool.close()
            self.bucket.put_file(spool.name, self.store._key(f"pack/{name}.pack"))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(spool.name)
        self.bucket.put(self.store._key(f"pack/{name}.idx"), idx)  # the index lands last: it makes the pack visible
        self.store._register_pack(name, idx)
        self._count(len(pack.entries), pack.size, pack.size + len(idx), packs=1)

    def _ship_pack(self) -> None:
        pack, spool, self._pack, self._spool_file = self._pack, self._spool_file, None, None
        if pack is not None and pack.entries:
            self._submit(self._send_pack, pack, spool, holds_pack=True)

    def add_packed(self, raw: bytes, data) -> None:
        """Put one object into the pack being built, as it is (the caller vouches for its id)."""
        if self._pack is not None and self._pack.size + len(data) > self.pack_max_bytes:
            self._ship_pack()
        if self._pack is None:
            import tempfile

            self._spool_file = tempfile.NamedTemporaryFile(prefix="mmvc-pack-", delete=False)
            self._spools.append(self._spool_file)
            self._pack = PackBuilder(sink=self._spool_file.write)
        self._pack.add(raw, data)
        self._ids.add(raw)
        self.written += 1

    def send_stored(self, src: ObjectStore, oid: str, size: int) -> None:
        """Send an object of ``src`` alone, as a file: streamed from the source's own file where
        it has one (multipart where the backend does that), else from its bytes."""
        key = self.store._loose_key(oid)

        def send():
            path = src.loose_path(oid)
            if path and os.path.exists(path):
                self.bucket.put_file(path, key)
            else:
                self.bucket.put(key, src.get(oid))
            self._count(1, size, size)

        self._ids.add(bytes.fromhex(oid))
        self.written += 1
        self._submit(send)

    # -- the ObjectWriter interface

    def _known(self, oid: str, raw: bytes, loose_too: bool) -> bool:
        if raw in self._ids or self.store._find_packed(oid) is not None:
            return True
        return loose_too and self.bucket.exists(self.store._loose_key(oid))

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        raw = bytes.fromhex(oid)
        large = len(data) > self.store.pack_threshold
        if self._known(oid, raw, loose_too=large):
            return oid
        if not large:
            self.add_packed(raw, data)
            return oid
        data = bytes(data)

        def send():
            self.bucket.put(self.store._loose_key(oid), data)
            self._count(1, len(data), len(data))

        self._ids.add(raw)
        self.written += 1
        self._submit(send)
        return oid

    def _spool(self, chunks: Iterable[bytes], head: int = 0) -> Spooled:
        tmp = self.bucket.temp_name(self.store.prefix)

        def write():
            with self.bucket.open_write(tmp) as out:
                return copy_hashed(chunks, out.write, head)

        try:
            oid, total, first = self.bucket.guard("writing an object", write)
        except BaseException:
            with contextlib.suppress(MmvcError):  # the failure that matters is the one above
                self.bucket.remove(tmp)
            raise
        return Spooled(tmp, oid, total, first)

    def _publish(self, spooled: Spooled) -> None:
        if self._known(spooled.oid, bytes.fromhex(spooled.oid), loose_too=True):
            self._discard(spooled)
            return
        self.bucket.move(spooled.tmp, self.store._loose_key(spooled.oid))
        self._ids.add(bytes.fromhex(spooled.oid))
        self.written += 1

    def _discard(self, spooled: Spooled) -> None:
        self.bucket.remove(spooled.tmp)

    def close(self) -> None:
        if not self.failed:
            self._ship_pack()
        self._pack = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._drop_spools()
        errors = [f.exception() for f in self._futures if not f.cancelled() and f.exception() is not None]
        self._futures = []
        if errors:
            raise errors[0]

    def abort(self) -> None:
        """Drop the pack being built; sends under way finish (what lands whole is harmless)."""
        self._pack = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures = []
        self._drop_spools()

    def _drop_spools(self) -> None:
        """Remove the temp files of packs not sent (a failure, an abort): sent ones are gone."""
        spools, self._spools, self._spool_file = self._spools, [], None
        for spool in spools:
            spool.close()
            with contextlib.suppress(OSError):
                os.unlink(spool.name)
