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
        from blake3 import blake3

        h = blake3()
        tmp = self.target.tmp_name(plan.name)
        f = self.target.open_write(tmp)
        fd = f.fileno() if self.target.local else -1
        iov: list = []  # pieces waiting for one writev, in shard order, already hashed
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

        def add(n: int) -> None:
            nonlocal written
            written += n

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
                    if self.verify_objects:
                        self._verify(s, n, blake3(view))
                    piece = b"".join((head, view, tail))
                    h.update(piece)
                    put(piece)
                else:
                    h.update(head)
                    put(head)
                    self._payload(s, h, put, flush, where, fd, add)
                    h.update(tail)
                    put(tail)
                if self.on_progress is not None:
                    self.on_progress(1, s.size)
            body = written + pending
            end = b"\0" * (archive_size(body) - body)
            h.update(end)
            put(end)
            flush()
            if written != plan.size:
                raise CorruptError(f"shard {plan.name} came out {written} bytes where {plan.size} were planned",
                                   "an object's stored size differs from its version's record: run `mmvc fsck`")
            self.target.commit(tmp, plan.name, f)
            f = None
        except BaseException:
            iov.clear()
            if f is not None:
                try:
                    f.close()
                except Exception:
                    pass
            self.target.remove(tmp)
            raise
        return ShardInfo(plan.name, plan.stop - plan.start, plan.size, h.hexdigest())

    def _payload(self, s, h, put, flush, where=None, fd: int = -1, add=None) -> None:
        """Hash the object's bytes (object check + shard checksum, chunk by chunk from the same
        buffer) and queue them for writing; a mismatch raises before the shard is renamed."""
        from blake3 import blake3

        check = blake3() if self.verify_objects else None
        if where is None and fd >= 0 and _COPY_RANGE and s.size > 0 and self._loose(s, h, check, fd, flush, add):
            return
        view = memoryview(where[0])[where[1]:where[1] + where[2]] if where is not None else self.views.view(s.oid)
        if view is not None:
            got = len(view)
            if got == s.size:
                for a in range(0, got, _CHUNK):
                    piece = view[a:a + _CHUNK]
                    if check is not None:
                        check.update(piece)
                    h.update(piece)
                self._verify(s, got, check)
                if where is not None and fd >= 0 and _COPY_RANGE:
                    flush()  # the bytes need no transform: the kernel copies them pack to shard
                    _copy_range(self.views.pack_fd(where[0]), fd, where[1], got)
                    add(got)
                else:
                    put(view)
                return
        elif s.size <= STREAM_THRESHOLD:
            data = self.store.get(s.oid)
            got = len(data)
            if check is not None:
                check.update(data)
            h.update(data)
            self._verify(s, got, check)
            put(data)
            return
        else:
            got = 0
            flush()
            with self.store.open(s.oid) as src:
                while True:
                    chunk = src.read(_CHUNK)
                    if not chunk:
                        break
                    got += len(chunk)
                    if check is not None:
                        check.update(chunk)
                    h.update(chunk)
                    put(chunk)
                    flush()  # bounded memory; the shard is a temp file until the check passes
        self._verify(s, got, check)

    def _loose(self, s, h, check, fd: int, flush, add) -> bool:
        """A loose object: hashed from a map of its file, copied file to shard in the kernel.
        False when it is not a loose object here (the caller reads it another way)."""
        import mmap

        src = self.views.loose_fd(s.oid)
        if src is None:
            return False
        try:
            got = os.fstat(src).st_size
            if got == s.size:
                m = mmap.mmap(src, 0, access=mmap.ACCESS_READ)
                try:
                    with memoryview(m) as mv:
                        for a in range(0, got, _CHUNK):
                            with mv[a:a + _CHUNK] as piece:
                                if check is not None:
                                    check.update(piece)
                                h.update(piece)
                finally:
                    m.close()
            self._verify(s, got, check)
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

