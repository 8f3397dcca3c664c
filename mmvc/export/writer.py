"""Writing planned shards: streamed from the object store, temp name first, rename when whole.

Shard boundaries are planned from the samples' sizes before anything is written (the tar layout
is fixed, see ``mmvc.export.shards``), so shards can be written in parallel and an interrupted
export can tell, by name and exact size, which shards are already done.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mmvc.errors import CorruptError
from mmvc.export.index import ShardInfo
from mmvc.export.shards import archive_size, member_size, npy_bytes, padded, payload_ext, sample_json, sample_key, tar_header

STREAM_THRESHOLD = 8 << 20  # objects not mapped from a local store: larger ones are copied in chunks
_FLUSH = 8 << 20  # bytes gathered per writev
_IOV_MAX = 512  # pieces per writev (the kernel's limit is 1024)
_CHUNK = 1 << 20  # both hashers see a chunk while it is in cache
_SMALL = 64 << 10  # packed objects up to this size are joined with their headers: fewer calls per sample


@dataclass(frozen=True)
class ShardPlan:
    name: str
    start: int  # first sample (position in the export)
    stop: int
    size: int  # exact bytes of the tar


def shard_name(j: int) -> str:
    return f"shard-{j:06d}.tar"


def sample_bytes(i: int, s, vectors, js: bytes | None = None) -> int:
    n = member_size(s.size) + member_size(len(js if js is not None else sample_json(i, s)))
    for v in (vectors.get(s.path, {}) if vectors else {}).values():
        n += member_size(128 + 4 * len(v))
    return n


def plan_shards(samples: list, shard_items: int | None, shard_size: int | None, vectors=None, jsons=None) -> list[ShardPlan]:
    """Cut the samples into shards of at most ``shard_items`` samples and (when a sample fits)
    at most ``shard_size`` bytes; a sample larger than ``shard_size`` gets a shard of its own."""
    out: list[ShardPlan] = []
    start, body = 0, 0
    for i, s in enumerate(samples):
        n = sample_bytes(i, s, vectors, jsons[i] if jsons is not None else None)
        full = (shard_items is not None and i - start >= shard_items) or \
               (shard_size is not None and i > start and archive_size(body + n) > shard_size)
        if full:
            out.append(ShardPlan(shard_name(len(out)), start, i, archive_size(body)))
            start, body = i, 0
        body += n
    if start < len(samples):
        out.append(ShardPlan(shard_name(len(out)), start, len(samples), archive_size(body)))
    return out


class ShardWriter:
    """Writes one planned shard to the target; every byte passes through one BLAKE3 hasher.

    Payloads are views of the mapped store (``ObjectViews``): each is hashed for the object
    check and for the shard checksum chunk by chunk while it sits in cache. A packed payload is
    then copied pack to shard inside the kernel (``copy_file_range``: the bytes need no
    transform); small ones are joined with their headers and everything else goes out in large
    ``writev`` calls. Payload bytes are read once and copied once."""

    def __init__(self, target, store, samples: list, vectors=None, verify_objects: bool = True, on_progress=None, jsons=None):
        from mmvc.export.objectviews import ObjectViews

        self.jsons = jsons  # each sample's .json bytes, when the planner already made them
        self.target = target
        self.store = store
        self.views = ObjectViews(store)
        self.samples = samples
        self.vectors = vectors or {}
        self.verify_objects = verify_objects
        self.on_progress = on_progress

    def close(self) -> None:
        self.views.close()

    def write(self, plan: ShardPlan) -> ShardInfo:
        h = _Hasher(self.verify_objects)
        tmp = self.target.tmp_name(plan.name)
        f = self.target.open_write(tmp)
        fd = f.fileno() if self.target.local else -1
        wb = _Writeback(fd)
        iov: list = []  # pieces waiting for one writev, in shard order, already queued for hashing
        pending = 0
        written = 0

        def flush() -> None:
            nonlocal pending, written
            if not iov:
                return
            if fd >= 0:
                _writev_all(fd, iov)
            else:
                for b in iov:
                    f.write(b)
            written += pending
            iov.clear()
            pending = 0
            wb.kick(written)

        def add(n: int) -> None:
            nonlocal written
            written += n
            wb.kick(written)

        def put(b) -> None:
            nonlocal pending
            iov.append(b)
            pending += len(b)
            if pending >= _FLUSH or len(iov) >= _IOV_MAX:
                flush()

        try:
            located = self.views.locate_many([self.samples[i].oid for i in range(plan.start, plan.stop)])
            for i in range(plan.start, plan.stop):
                s = self.samples[i]
                key = sample_key(i)
                head = tar_header(f"{key}.{payload_ext(s.path, s.modality)}", s.size)
                js = self.jsons[i] if self.jsons is not None else sample_json(i, s)
                members = [b"\0" * (padded(s.size) - s.size), tar_header(f"{key}.json", len(js)), js, b"\0" * (padded(len(js)) - len(js))]
                for fam, vec in sorted(self.vectors.get(s.path, {}).items()):
                    nb = npy_bytes(vec)
                    members += [tar_header(f"{key}.{fam}.npy", len(nb)), nb, b"\0" * (padded(len(nb)) - len(nb))]
                tail = b"".join(members)
                where = located[i - plan.start]
                if where is not None and where[2] == s.size and s.size <= _SMALL:
                    # a small packed object: its members become one piece, hashed and written once
                    m, off, n = where
                    view = memoryview(m)[off:off + n]
                    h.check(s, view)
                    piece = b"".join((head, view, tail))
                    h.shard(piece)
                    put(piece)
                else:
                    h.shard(head)
                    put(head)
                    self._payload(s, h, put, flush, where, fd, add)
                    h.shard(tail)
                    put(tail)
                if self.on_progress is not None:
                    self.on_progress(1, s.size)
            body = written + pending
            end = b"\0" * (archive_size(body) - body)
            h.shard(end)
            put(end)
            flush()
            if written != plan.size:
                raise CorruptError(f"shard {plan.name} came out {written} bytes where {plan.size} were planned",
                                   "an object's stored size differs from its version's record: run `mmvc fsck`")
            digest = h.finish()  # a corrupt object raises here, before the shard is renamed
            self.target.commit(tmp, plan.name, f)
            f = None
        except BaseException:
            h.abandon()
            iov.clear()
            if f is not None:
                try:
                    f.close()
                except Exception:
                    pass
            self.target.remove(tmp)
            raise
        return ShardInfo(plan.name, plan.stop - plan.start, plan.size, digest)

    def _payload(self, s, h, put, flush, where=None, fd: int = -1, add=None) -> None:
        """Queue the object's bytes for hashing (object check + shard checksum, on the hashing
        thread) and for writing; a mismatch raises at ``finish``, before the shard is renamed."""
        if where is None and fd >= 0 and _COPY_RANGE and s.size > 0 and self._loose(s, h, fd, flush, add):
            return
        view = memoryview(where[0])[where[1]:where[1] + where[2]] if where is not None else self.views.view(s.oid)
        if view is not None:
            got = len(view)
            if got != s.size:
                self._verify(s, got, None)
            h.both(s, view)
            if where is not None and fd >= 0 and _COPY_RANGE:
                flush()  # the bytes need no transform: the kernel copies them pack to shard
                _copy_range(self.views.pack_fd(where[0]), fd, where[1], got)
                add(got)
            else:
                put(view)
            return
        if s.size <= STREAM_THRESHOLD:
            data = self.store.get(s.oid)
            self._verify(s, len(data), None)
            h.both(s, data)
            put(data)
            return
        got = 0
        check = blake3_new() if self.verify_objects else None
        flush()
        with self.store.open(s.oid) as src:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                if check is not None:
                    check.update(chunk)
                h.shard(chunk)
                put(chunk)
                flush()
                h.wait()  # bounded memory: no more than one chunk waits for the hashing thread
        self._verify(s, got, check)

    def _loose(self, s, h, fd: int, flush, add) -> bool:
        """A loose object: hashed from a map of its file, copied file to shard in the kernel.
        False when it is not a loose object here (the caller reads it another way)."""
        import mmap

        src = self.views.loose_fd(s.oid)
        if src is None:
            return False
        try:
            got = os.fstat(src).st_size
            if got != s.size:
                self._verify(s, got, None)
            if got:
                m = mmap.mmap(src, 0, access=mmap.ACCESS_READ)
                h.both(s, m, close=m)  # the hashing thread unmaps it when done
            flush()
            _copy_range(src, fd, 0, got)
            add(got)
            return True
        finally:
            os.close(src)

    @staticmethod
    def _verify(s, got: int, check) -> None:
        if got != s.size or (check is not None and check.hexdigest() != s.oid):
            raise CorruptError(f"object {s.oid} ({s.path}) is corrupt in the store: its bytes no longer hash to its id",
                               "run `mmvc fsck`; restore the object from a remote or the original file, then export again")


def blake3_new():
    from blake3 import blake3

    return blake3()


class _Hasher:
    """The shard's BLAKE3 and the objects' checks, computed on a thread of their own while the
    writing thread copies the same bytes (BLAKE3 releases the GIL): the two overlap instead of
    adding up. Work is queued in shard order; ``finish`` waits for it and raises the first
    corrupt object."""

    def __init__(self, verify_objects: bool):
        import queue
        import threading

        self.verify_objects = verify_objects
        self.h = blake3_new()
        self.error: BaseException | None = None
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.t = threading.Thread(target=self._run, name="mmvc-export-hash", daemon=True)
        self.t.start()

    def shard(self, b) -> None:
        self.q.put((0, None, b, None))

    def check(self, s, b) -> None:
        if self.verify_objects:
            self.q.put((1, s, b, None))

    def both(self, s, b, close=None) -> None:
        self.q.put((2 if self.verify_objects else 3, s, b, close))

    def wait(self) -> None:
        import threading

        done = threading.Event()
        self.q.put((4, None, done, None))
        done.wait()

    def _run(self) -> None:
        while True:
            kind, s, b, close = self.q.get()
            if kind == 5:
                return
            if kind == 4:
                b.set()
                continue
            try:
                if self.error is not None:
                    continue
                if kind == 0:
                    self.h.update(b)
                elif kind == 1:
                    check = blake3_new()
                    check.update(b)
                    ShardWriter._verify(s, len(b), check)
                else:
                    check = blake3_new() if kind == 2 else None
                    with memoryview(b) as mv:
                        for a in range(0, len(mv), _CHUNK):
                            with mv[a:a + _CHUNK] as piece:  # both hashers see a chunk while it is in cache
                                if check is not None:
                                    check.update(piece)
                                self.h.update(piece)
                    if check is not None:
                        ShardWriter._verify(s, len(b), check)
            except BaseException as e:
                self.error = e
            finally:
                if close is not None:
                    close.close()

    def finish(self) -> str:
        self.q.put((5, None, None, None))
        self.t.join()
        if self.error is not None:
            raise self.error
        return self.h.hexdigest()

    def abandon(self) -> None:
        if self.t.is_alive():
            self.error = self.error or RuntimeError("abandoned")
            self.q.put((5, None, None, None))
            self.t.join()


class _Writeback:
    """Starts the disk writes of a shard's bytes as they are written (``sync_file_range``,
    Linux), so the fsync at the end waits for the last few megabytes instead of the whole shard."""

    STEP = 8 << 20

    def __init__(self, fd: int):
        self.fd = fd
        self.done = 0
        self.fn = _sync_file_range() if fd >= 0 else None

    def kick(self, written: int) -> None:
        if self.fn is not None and written - self.done >= self.STEP:
            self.fn(self.fd, self.done, written - self.done, 2)  # SYNC_FILE_RANGE_WRITE: start, don't wait
            self.done = written


_SFR: list = []


def _sync_file_range():
    """libc's ``sync_file_range`` (not in ``os``), or None where there is none."""
    if not _SFR:
        fn = None
        try:
            import ctypes

            f = ctypes.CDLL(None, use_errno=True).sync_file_range
            f.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
            f.restype = ctypes.c_int
            fn = f
        except (OSError, AttributeError):
            pass
        _SFR.append(fn)
    return _SFR[0]


_COPY_RANGE = hasattr(os, "copy_file_range")
def _copy_range(src: int, dst: int, off: int, n: int) -> None:
    """``n`` bytes of ``src`` from ``off`` appended to ``dst`` inside the kernel."""
    done = 0
    while done < n:
        k = os.copy_file_range(src, dst, n - done, off + done)
        if k <= 0:
            _writev_all(dst, [os.pread(src, n - done, off + done)])
            return
        done += k


def _writev_all(fd: int, iov: list) -> None:
    """``os.writev`` until every piece is written (it may stop short, like ``write``)."""
    views = [memoryview(b) for b in iov]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if n:
            views[0] = views[0][n:]


def rehash(target, name: str) -> str:
    """BLAKE3 of a shard already at the target (a finished shard found by --resume)."""
    from blake3 import blake3

    h = blake3()
    with target.open_read(name) as f:
        while True:
            chunk = f.read(8 << 20)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()

