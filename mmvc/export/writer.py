"""Writing planned shards: streamed from the object store, temp name first, rename when whole.

Shard boundaries are planned from the samples' sizes before anything is written (the tar layout
is fixed, see ``mmvc.export.shards``), so shards can be written in parallel and an interrupted
export can tell, by name and exact size, which shards are already done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mmvc.errors import CorruptError
from mmvc.export.index import ShardInfo
from mmvc.export.shards import archive_size, member_size, npy_bytes, padded, payload_ext, sample_json, sample_key, tar_header

STREAM_THRESHOLD = 8 << 20  # larger blobs are copied in chunks instead of read whole
_FLUSH = 8 << 20  # bytes gathered per write; hashed with every core when this large
_DIRECT = 256 << 10  # payloads this large are written and hashed as they are


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
    """Writes one planned shard to the target; every byte passes through one BLAKE3 hasher."""

    def __init__(self, target, store, samples: list, vectors=None, verify_objects: bool = True, on_progress=None, jsons=None):
        self.jsons = jsons  # each sample's .json bytes, when the planner already made them
        self.target = target
        self.store = store
        self.samples = samples
        self.vectors = vectors or {}
        self.verify_objects = verify_objects
        self.on_progress = on_progress
        self._lock = threading.Lock()

    def write(self, plan: ShardPlan) -> ShardInfo:
        from blake3 import blake3

        h = blake3(max_threads=blake3.AUTO)  # large updates (the write buffer) hash on every core
        tmp = self.target.tmp_name(plan.name)
        f = self.target.open_write(tmp)
        buf = bytearray()
        written = 0

        def emit(b) -> None:
            buf.extend(b)
            if len(buf) >= _FLUSH:
                flush()

        def write_direct(b) -> None:
            nonlocal written
            h.update(b)
            f.write(b)
            written += len(b)

        def flush() -> None:
            nonlocal written
            if buf:
                h.update(buf)
                f.write(buf)
                written += len(buf)
                buf.clear()

        try:
            for i in range(plan.start, plan.stop):
                s = self.samples[i]
                key = sample_key(i)
                emit(tar_header(f"{key}.{payload_ext(s.path, s.modality)}", s.size))
                self._payload(s, emit, flush, write_direct)
                emit(b"\0" * (padded(s.size) - s.size))
                js = self.jsons[i] if self.jsons is not None else sample_json(i, s)
                emit(tar_header(f"{key}.json", len(js)))
                emit(js)
                emit(b"\0" * (padded(len(js)) - len(js)))
                for fam, vec in sorted(self.vectors.get(s.path, {}).items()):
                    nb = npy_bytes(vec)
                    emit(tar_header(f"{key}.{fam}.npy", len(nb)))
                    emit(nb)
                    emit(b"\0" * (padded(len(nb)) - len(nb)))
                if self.on_progress is not None:
                    self.on_progress(1, s.size)
            body = written + len(buf)
            emit(b"\0" * (archive_size(body) - body))
            flush()
            if written != plan.size:
                raise CorruptError(f"shard {plan.name} came out {written} bytes where {plan.size} were planned",
                                   "an object's stored size differs from its version's record: run `mmvc fsck`")
            self.target.commit(tmp, plan.name, f)
            f = None
        except BaseException:
            if f is not None:
                try:
                    f.close()
                except Exception:
                    pass
            self.target.remove(tmp)
            raise
        return ShardInfo(plan.name, plan.stop - plan.start, plan.size, h.hexdigest())

    def _payload(self, s, emit, flush, write_direct) -> None:
        from blake3 import blake3

        check = (blake3(max_threads=blake3.AUTO) if s.size > STREAM_THRESHOLD else blake3()) if self.verify_objects else None
        got = 0
        if s.size <= STREAM_THRESHOLD:
            data = self.store.get(s.oid)
            got = len(data)
            if check is not None:
                check.update(data)
            if got >= _DIRECT:
                flush()
                write_direct(data)  # no copy into the buffer
            else:
                emit(data)
        else:
            flush()
            with self.store.open(s.oid) as src:
                while True:
                    chunk = src.read(8 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
                    if check is not None:
                        check.update(chunk)
                    flush()
                    write_direct(chunk)
        if got != s.size or (check is not None and check.hexdigest() != s.oid):
            raise CorruptError(f"object {s.oid} ({s.path}) is corrupt in the store: its bytes no longer hash to its id",
                               "run `mmvc fsck`; restore the object from a remote or the original file, then export again")


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

