"""Objects on a remote: which it holds, sending them there, fetching them back.

Small objects travel in pack files of the local format (MMPK + MMPI, docs/format.md), tens of
MiB each, so pushing 200,000 captions is a few dozen PUTs; large objects travel alone, as
files, several at a time (multipart with a bounded buffer where the backend does that). A pack
is uploaded before its index, and its index is what makes it visible, so an interrupted push
leaves either a whole pack or an invisible one; a re-run sends only what no visible pack or
loose file holds yet.

Fetches read packs by byte ranges: the wanted records of one pack are sorted by offset and
neighbours are merged into one ranged GET. Every fetched object is re-hashed before it is
stored; one that does not match its id, or is nowhere on the remote, is a ``RemoteError``
naming the object and a version that needs it.
"""

from __future__ import annotations

import os
import posixpath
import threading
from concurrent.futures import ThreadPoolExecutor

from blake3 import blake3

from mmvc.core.hashing import hash_bytes
from mmvc.core.store import PACK_HEADER, RECORD_HEADER, PackIndex, encode_pack_index
from mmvc.errors import RemoteError

PACK_TARGET_BYTES = 64 << 20  # a pack is cut once it holds this much
RANGE_GAP = 256 << 10  # wanted records closer than this are read in one GET
RANGE_MAX = 32 << 20
DEFAULT_JOBS = 8


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


class RemoteObjects:
    """The object half of a remote. ``cache_dir`` keeps copies of the remote's pack indexes
    (immutable: a pack's name is the hash of its ids) so each is downloaded once."""

    def __init__(self, remote, cache_dir: str | None = None, jobs: int = DEFAULT_JOBS):
        self.remote = remote
        self.cache_dir = cache_dir
        self.jobs = max(1, jobs)
        self._packs: dict[str, PackIndex] | None = None
        self._lock = threading.Lock()

    # -- what the remote holds

    def packs(self, rescan: bool = False) -> list[PackIndex]:
        with self._lock:
            if self._packs is None or rescan:
                self._packs = self._packs or {}
                names = [posixpath.basename(p) for p in self.remote.list_files("objects/pack") if p.endswith(".idx")]
                todo = [n for n in names if n not in self._packs]
                with ThreadPoolExecutor(max_workers=min(self.jobs, max(1, len(todo)))) as pool:
                    for name, index in zip(todo, pool.map(self._load_index, todo)):
                        if index is not None:
                            self._packs[name] = index
            return list(self._packs.values())

    def _load_index(self, name: str) -> PackIndex | None:
        path = self.remote.path(f"objects/pack/{name}")
        cached = os.path.join(self.cache_dir, name) if self.cache_dir else None
        if cached and os.path.exists(cached):
            with open(cached, "rb") as f:
                data = f.read()
            try:
                return PackIndex(path, data=data)
            except Exception:
                os.unlink(cached)
        data = self.remote.cat(f"objects/pack/{name}")
        if data is None:
            return None
        try:
            index = PackIndex(path, data=data)
        except Exception as e:
            raise RemoteError(f"remote {self.remote.name}: pack index {name} is corrupt ({getattr(e, 'message', e)})",
                              "delete the pack and its index on the remote and push again from a complete clone") from None
        if cached:
            from mmvc.core.store import atomic_write

            os.makedirs(self.cache_dir, exist_ok=True)
            atomic_write(cached, data, fsync=False)
        return index

    def find(self, oid: str) -> tuple[PackIndex, int] | None:
        raw = bytes.fromhex(oid)
        for p in self.packs():
            i = p.find(raw)
            if i >= 0:
                return p, i
        return None

    def present(self, oids, large: set[str]) -> set[str]:
        """Which of ``oids`` the remote holds: by its pack indexes, and for ``large`` ones (which
        travel as files) by a HEAD request each, in parallel."""
        packs = self.packs(rescan=True)
        out = set()
        rest = []
        for o in oids:
            raw = bytes.fromhex(o)
            if any(p.find(raw) >= 0 for p in packs):
                out.add(o)
            elif o in large:
                rest.append(o)
        if rest:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                for o, ok in zip(rest, pool.map(lambda o: self.remote.exists(self.remote.object_path(o)), rest)):
                    if ok:
                        out.add(o)
        return out

    # -- sending

    def upload(self, store, small: list[str], large: list[str], progress=None, pack_bytes: int = PACK_TARGET_BYTES) -> tuple[int, int]:
        """Send ``small`` ids in packs and ``large`` ids as files, all from the local ``store``.
        Returns (packs written, bytes sent). Memory is bounded by ``jobs`` packs in flight."""
        sizes = {o: store.size(o) for o in large}
        prog = Progress(progress, len(small) + len(large), 0)
        sent = [0]
        sent_lock = threading.Lock()
        in_flight = threading.BoundedSemaphore(self.jobs + 1)
        packs_written = 0

        failed = threading.Event()

        def done(fut):
            if fut.exception() is not None:
                failed.set()  # stop building packs nobody will send
            in_flight.release()

        def send_pack(buf: bytearray, entries: list, n: int):
            digest = blake3(buf).digest()
            name = "pack-" + hash_bytes(b"".join(sorted(e[0] for e in entries)))
            idx = encode_pack_index(entries, digest)
            self.remote.put(f"objects/pack/{name}.pack", bytes(buf))
            self.remote.put(f"objects/pack/{name}.idx", idx)  # the index lands last: it makes the pack visible
            if self.cache_dir:
                from mmvc.core.store import atomic_write

                os.makedirs(self.cache_dir, exist_ok=True)
                atomic_write(os.path.join(self.cache_dir, name + ".idx"), idx, fsync=False)
            with sent_lock:
                sent[0] += len(buf) + len(idx)
            prog.add(n, len(buf))

        def send_large(oid: str):
            path = store.loose_path(oid) if hasattr(store, "loose_path") else None
            if path and os.path.exists(path):
                self.remote.put_file(path, self.remote.object_path(oid))
            else:
                self.remote.put(self.remote.object_path(oid), store.get(oid), absolute=True)
            with sent_lock:
                sent[0] += sizes[oid]
            prog.add(1, sizes[oid])

        futures = []
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for oid in large:
                f = pool.submit(send_large, oid)
                f.add_done_callback(lambda f: f.exception() is not None and failed.set())
                futures.append(f)
            buf, entries, n = bytearray(PACK_HEADER), [], 0
            for oid in small:
                if failed.is_set():
                    entries = []
                    break
                data = store.get(oid)
                raw = bytes.fromhex(oid)
                buf += RECORD_HEADER.pack(raw, len(data))
                entries.append((raw, len(buf), len(data)))
                buf += data
                n += 1
                if len(buf) >= pack_bytes:
                    in_flight.acquire()
                    f = pool.submit(send_pack, buf, entries, n)
                    f.add_done_callback(done)
                    futures.append(f)
                    packs_written += 1
                    buf, entries, n = bytearray(PACK_HEADER), [], 0
            if entries:
                in_flight.acquire()
                f = pool.submit(send_pack, buf, entries, n)
                f.add_done_callback(done)
                futures.append(f)
                packs_written += 1
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        return packs_written, sent[0]

    # -- fetching

    def fetch(self, oids: list[str], local_store, origin: dict[str, str], keep: bool = False, store_now: bool = True,
              progress=None) -> dict[str, bytes]:
        """Fetch ``oids`` into ``local_store`` (all of them verified by hash). ``keep`` returns
        the bytes of the small ones; ``store_now=False`` returns them without storing (commits,
        which a fetch stores last). Large loose objects are streamed to disk, never held whole."""
        out: dict[str, bytes] = {}
        if not oids:
            return out
        by_pack: dict[int, list] = {}
        packs = self.packs()
        loose: list[str] = []
        for o in oids:
            raw = bytes.fromhex(o)
            for pn, p in enumerate(packs):
                i = p.find(raw)
                if i >= 0:
                    off, length = p.location(i)
                    by_pack.setdefault(pn, []).append((off, length, o))
                    break
            else:
                loose.append(o)
        ranges = []
        for pn, items in by_pack.items():
            items.sort()
            cur = [items[0]]
            for it in items[1:]:
                start, end = cur[0][0], cur[-1][0] + cur[-1][1]
                if it[0] - end <= RANGE_GAP and it[0] + it[1] - start <= RANGE_MAX:
                    cur.append(it)
                else:
                    ranges.append((packs[pn], cur))
                    cur = [it]
            ranges.append((packs[pn], cur))
        prog = Progress(progress, len(oids), 0)
        results: dict[str, bytes] = {}
        lock = threading.Lock()

        def get_range(job):
            pack, items = job
            start, end = items[0][0], items[-1][0] + items[-1][1]
            data = self.remote.cat_range(pack.pack_path, start, end)
            got = {}
            nbytes = 0
            for off, length, o in items:
                piece = data[off - start : off - start + length]
                self._verify(o, piece, origin)
                got[o] = piece
                nbytes += length
            with lock:
                results.update(got)
            prog.add(len(items), nbytes)

        def get_loose(o):
            n = self._download_loose(o, local_store, origin, small_ok=keep)
            if isinstance(n, bytes):
                with lock:
                    results[o] = n
                n = len(n)
            prog.add(1, n)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = [pool.submit(get_range, r) for r in ranges] + [pool.submit(get_loose, o) for o in loose]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        if store_now and results:
            with local_store.writer() as w:
                for o in oids:
                    data = results.get(o)
                    if data is not None:
                        w.put_bytes(data)
        return results if keep or not store_now else out

    def _verify(self, oid: str, data: bytes, origin: dict[str, str]) -> None:
        if blake3(data).hexdigest() != oid:
            raise self._bad(oid, "is corrupt (its bytes do not hash to its id)", origin)

    def _bad(self, oid: str, what: str, origin: dict[str, str]) -> RemoteError:
        version = origin.get(oid)
        needed = f", needed by version {version}" if version and version != oid else ""
        return RemoteError(f"object {oid} on remote {self.remote.name} {what}{needed}",
                           "push it again from a clone that has it intact (`mmvc fsck` there proves it), then fetch again")

    def _download_loose(self, oid: str, local_store, origin: dict[str, str], small_ok: bool):
        """Stream a loose remote object into the local store's loose layout, hashing on the way.
        Returns its size, or its bytes when it is small enough to hand back (``small_ok``)."""
        import tempfile

        from mmvc.core.hashing import new_hasher

        path = self.remote.object_path(oid)
        self.remote.count("get")
        try:
            src = self.remote.guard(f"reading object {oid}", self.remote.fs.open, path, "rb")
        except FileNotFoundError:
            raise self._bad(oid, "is missing", origin) from None
        os.makedirs(local_store.tmp_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="fetch-", dir=local_store.tmp_dir)
        h = new_hasher()
        total = 0
        head = bytearray()
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with src:
                        while True:
                            chunk = src.read(8 << 20)
                            if not chunk:
                                break
                            h.update(chunk)
                            out.write(chunk)
                            if small_ok and total < (1 << 20):
                                head += chunk
                            total += len(chunk)
                except FileNotFoundError:
                    raise self._bad(oid, "is missing", origin) from None
                except RemoteError:
                    raise
                except Exception as e:
                    raise self.remote.error(e, f"reading object {oid}") from e
            if h.hexdigest() != oid:
                raise self._bad(oid, "is corrupt (its bytes do not hash to its id)", origin)
            if small_ok and total < (1 << 20):
                return bytes(head)  # the caller stores it (a commit or a node that happened to travel alone)
            target = local_store.loose_path(oid)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            tmp = None
            if getattr(local_store, "fsync", True) not in (False, "never"):  # durable before a ref names it
                from mmvc.core.durable import sync_written

                sync_written([target], local_store.root)
            return total
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
