"""What a loader reads: the shards of an export (a folder or fsspec URL), or a version straight
from the object store (its samples cut into virtual shards of fixed size).

A source has ``counts`` (samples per shard), an ``identity`` (the export id or the recipe id a
state dict is tied to) and ``open(j)``, which returns a handle whose ``sample(i)`` gives the i-th
sample of shard j as (payload bytes, metadata dict, {vector name: array}).
"""

from __future__ import annotations

import json
import mmap
import os
import threading
import warnings
from typing import TYPE_CHECKING

from mmvc.errors import BadInputError, CorruptError

if TYPE_CHECKING:
    from mmvc.export.objectviews import ObjectViews
    from mmvc.loader.workers import SharedChecks

_JSON = json.JSONDecoder()


class ShardHandle:
    """A finished shard in memory (mapped): a table of its samples' members, and which
    samples failed their checks (only filled when the shard failed its checksum)."""

    def __init__(self, name: str, buf, members: list, bad: dict):
        self.name = name
        self.buf = buf
        self.members = members  # per sample: (key, {ext: (offset, size)})
        self.bad = bad  # sample index -> why

    def sample(self, i: int):
        key, mem = self.members[i]
        meta = payload = None
        vectors = {}
        for ext, (off, size) in mem.items():
            if ext == "json":
                meta = _JSON.decode(str(self.buf[off:off + size], "utf-8"))
            elif ext.endswith(".npy"):
                import io

                import numpy as np

                vectors[ext[:-4]] = np.load(io.BytesIO(self.buf[off:off + size]), allow_pickle=False)
            else:
                payload = self.buf[off:off + size]
        return payload, meta, vectors

    def close(self) -> None:
        if isinstance(self.buf, mmap.mmap):
            try:
                self.buf.close()
            except BufferError:
                pass


def scan_tar(buf, limit: int | None = None, checksums: bool = True):
    """(samples, error): members grouped by key in order, and why the scan stopped early
    (None for a clean end). Never reads past the buffer. ``checksums=False`` skips the header
    checksums, for a shard whose BLAKE3 already matched its index (they cannot fail then)."""
    samples: list = []
    pos, n = 0, len(buf)
    last: tuple[str, dict] | None = None
    while pos + 512 <= n:
        head = buf[pos:pos + 512]
        if head[:1] == b"\0" and head.count(0) == 512:
            return samples, None
        try:
            name = bytes(head[0:100]).split(b"\0", 1)[0].decode("utf-8")
            size = int(bytes(head[124:136]).split(b"\0", 1)[0].strip() or b"0", 8)
        except (UnicodeDecodeError, ValueError):
            return samples, f"unreadable tar header at byte {pos}"
        if checksums:
            chk = int(bytes(head[148:156]).split(b"\0", 1)[0].strip() or b"0", 8) if head[148:156].strip(b"\0 ") else -1
            if chk != sum(head[:148]) + 256 + sum(head[156:]):
                return samples, f"tar header checksum mismatch at byte {pos}"
        data = pos + 512
        if data + size > n:
            return samples, f"member {name} is cut short (truncated shard)"
        base = name.rsplit("/", 1)[-1]
        key, _, ext = base.partition(".")
        if last is None or last[0] != key:
            last = (key, {})
            samples.append(last)
        last[1][ext] = (data, size)
        pos = data + (size + 511) // 512 * 512
    return samples, "the end-of-archive blocks are missing (truncated shard)"


def check_samples(buf, samples: list) -> dict:
    """Sample index -> what is wrong with it: payload bytes that no longer hash to the id its
    ``.json`` records, or a missing or unreadable ``.json``."""
    from blake3 import blake3

    bad = {}
    for i, (_key, mem) in enumerate(samples):
        if "json" not in mem:
            bad[i] = "no .json member"
            continue
        off, size = mem["json"]
        try:
            meta = json.loads(buf[off:off + size])
        except ValueError:
            bad[i] = "unreadable .json member"
            continue
        payload = [v for e, v in mem.items() if e != "json" and not e.endswith(".npy")]
        if len(payload) != 1:
            bad[i] = "no payload member"
            continue
        off, size = payload[0]
        if size != meta.get("size") or blake3(buf[off:off + size]).hexdigest() != meta.get("oid"):
            bad[i] = f"payload does not match its id {str(meta.get('oid'))[:12]} ({meta.get('key')})"
    return bad


class ExportSource:
    kind = "export"

    def __init__(self, location: str, verify: bool = True, cache_dir: str | None = None, skip_corrupt: bool = False,
                 allow_ungated: bool = False):
        from mmvc.export.index import read_index
        from mmvc.export.target import ExportTarget

        self.location = location
        self.target = ExportTarget(location)
        self.index = read_index(self.target)
        if self.index.info.get("gate", "gated") != "gated" and not allow_ungated:
            from mmvc.errors import GateError

            raise GateError(f"the export at {location} holds an ungated version ({str(self.index.info.get('commit'))[:12]})",
                            "pass allow_ungated=True to load it anyway, or export a gated version")
        self.identity = self.index.export_id
        self.counts = [s.nsamples for s in self.index.shards]
        self.verify = verify
        self.skip_corrupt = skip_corrupt
        self.cache_dir = cache_dir
        self._verified: set[int] = set()  # checked in this process
        self.checks: SharedChecks | None = None  # checked by a fellow DataLoader worker

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_verified"] = set()
        return d

    def own(self) -> None:
        """Nothing here is shared with another process: each open maps its shard anew."""

    def share_checks(self, ctx) -> None:
        """Let the DataLoader workers about to start check each shard once among them."""
        if self.checks is None and (self.verify or not self.target.local):
            from mmvc.loader.workers import SharedChecks

            self.checks = SharedChecks(len(self.counts), ctx)

    def shard_label(self, j: int) -> str:
        return self.target.url(self.index.shards[j].url)

    def _local_file(self, j: int) -> str:
        s = self.index.shards[j]
        if self.target.local:
            return self.target.path(s.url)
        from blake3 import blake3

        root = self.cache_dir or os.path.join(os.path.expanduser("~/.cache/mmvc/shards"), self.identity[:16])
        os.makedirs(root, exist_ok=True)
        path = os.path.join(root, s.url)
        if os.path.exists(path) and os.path.getsize(path) == s.filesize:
            return path
        tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
        h = blake3()
        with self.target.open_read(s.url) as src, open(tmp, "wb") as dst:
            while True:
                chunk = src.read(8 << 20)
                if not chunk:
                    break
                h.update(chunk)
                dst.write(chunk)
        if s.blake3 and h.hexdigest() != s.blake3:
            if not self.skip_corrupt:
                os.unlink(tmp)
                raise CorruptError(f"shard {self.shard_label(j)} fails its checksum (as downloaded)",
                                   "export again, or load with skip_corrupt=True to skip its bad samples")
        else:
            self._verified.add(j)  # hashed while it downloaded
        os.replace(tmp, path)
        return path

    def open(self, j: int) -> ShardHandle:
        if self.checks is None or j in self._verified:
            return self._open(j)
        from mmvc.loader.workers import BAD, CHECKING, GOOD, UNKNOWN

        verdict = self.checks.claim(j)
        if verdict == GOOD:
            self._verified.add(j)
        if verdict != CHECKING:
            return self._open(j)
        try:
            handle = self._open(j)
        except BaseException:
            self.checks.settle(j, UNKNOWN)
            raise
        self.checks.settle(j, GOOD if j in self._verified else BAD)
        return handle

    def _open(self, j: int) -> ShardHandle:
        s = self.index.shards[j]
        label = self.shard_label(j)
        try:
            path = self._local_file(j)
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            if isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_WILLNEED"):
                buf.madvise(mmap.MADV_WILLNEED)  # the kernel reads the shard in, in large sequential reads
        except FileNotFoundError:
            raise CorruptError(f"shard {label} is missing", "export again, or restore the shard") from None
        bad: dict = {}
        intact = size == s.filesize
        hashed = intact and bool(s.blake3) and j in self._verified
        if intact and self.verify and s.blake3 and j not in self._verified:
            from blake3 import blake3

            from mmvc.core.hashing import hash_threads

            intact = hashed = blake3(buf, max_threads=hash_threads(len(buf))).hexdigest() == s.blake3
        if intact:
            if hashed:
                self._verified.add(j)
            samples, err = scan_tar(buf, checksums=not hashed)
            intact = err is None and len(samples) == s.nsamples
        if not intact:
            samples, err = scan_tar(buf)
            bad = check_samples(buf, samples)
            for i in range(len(samples), s.nsamples):
                bad[i] = "missing: " + (err or "shard ends early")
            if not bad:
                bad[min(len(samples), s.nsamples - 1)] = f"shard fails its checksum ({err or 'damage outside the samples'})"
            if not self.skip_corrupt:
                first = min(bad)
                key = samples[first][0] if first < len(samples) else f"{first:09d}"
                raise CorruptError(f"shard {label} is corrupt: sample {first} (key {key}): {bad[first]}"
                                   + (f"; {len(bad) - 1} more bad sample(s)" if len(bad) > 1 else ""),
                                   "export again (`mmvc export … --force`), or load with skip_corrupt=True to skip bad samples")
            warnings.warn(f"shard {label}: skipping {len(bad)} corrupt sample(s)", RuntimeWarning, stacklevel=2)
            samples = samples + [("", {})] * max(0, s.nsamples - len(samples))
        return ShardHandle(label, buf, samples[: s.nsamples], bad)


class StoreHandle:
    """A virtual shard of a version: its samples' bytes come from the object store. Objects in
    a local pack are located for the whole shard at once (``ObjectViews.locate_many``) and
    sliced out of the mapped pack, read ahead as it is mapped; anything else, e.g. a loose
    object or one a partial clone fetches on demand, is read with ``store.get``."""

    def __init__(self, name: str, store, samples: list, offset: int, views=None):
        self.name = name
        self.store = store
        self.samples = samples
        self.offset = offset
        self.bad: dict = {}
        self.where = views.locate_many([s.oid for s in samples]) if views is not None else [None] * len(samples)
        from mmvc.export.shards import sample_meta

        self.metas = [sample_meta(offset + i, s) for i, s in enumerate(samples)]  # made here, in the prefetch thread

    def sample(self, i: int):
        w = self.where[i]
        data = w[0][w[1]:w[1] + w[2]] if w is not None else self.store.get(self.samples[i].oid)
        return data, self.metas[i], {}

    def close(self) -> None:
        pass


class StoreSource:
    """A version read straight from the object store: no export, the recipe's samples in its
    order, cut into virtual shards of ``shard_items`` samples for the shuffle and the prefetch."""

    kind = "store"

    def __init__(self, repo, recipe: str | None = None, rev: str | None = None, where: str | None = None,
                 shard_items: int = 1024, allow_ungated: bool = False, seed: int = 0):
        from mmvc.export.selection import plan
        from mmvc.services.gate import require_gated
        from mmvc.export.recipe import build_recipe, resolve_recipe

        if isinstance(repo, str):
            from mmvc.services.repository import Repository

            repo = Repository.discover(repo)
        if recipe is not None:
            if rev is not None or where is not None:
                raise BadInputError("a recipe already fixes the version and filter; give recipe or rev/where, not both")
            _, oid, r = resolve_recipe(repo, recipe)
        else:
            r = build_recipe(repo, rev or "HEAD", where, seed=seed)  # as `mmvc export --rev REV --seed SEED` would
            oid = r.oid
        require_gated(repo, r.commit, r.rev or r.commit[:12], allow_ungated, "the loader")
        self.repo = repo
        self.recipe = r  # the selection, named or not (a run record stores it)
        self.identity = oid
        self.location = f"{repo.root} recipe {oid[:12]}"
        self.samples = plan(repo, r).samples
        self.shard_items = max(1, int(shard_items))
        n = len(self.samples)
        self.counts = [min(self.shard_items, n - i) for i in range(0, n, self.shard_items)]
        self._views: ObjectViews | None = None  # mapped packs, shared by this process's handles (made on first open)
        self._pid = os.getpid()

    def __getstate__(self):
        d = dict(self.__dict__)
        d["repo"] = self.repo.root
        d["_views"] = None
        return d

    def __setstate__(self, d):
        from mmvc.services.repository import Repository

        d["repo"] = Repository(d["repo"])
        d["_pid"] = os.getpid()
        self.__dict__.update(d)

    def share_checks(self, ctx) -> None:
        """Objects are not checked as they are read: nothing to share."""

    def own(self) -> None:
        """In a process forked from the one that made this source, open the repository anew:
        its packs' locks and handles may have been held by a thread the fork did not copy."""
        if self._pid != os.getpid():
            from mmvc.services.repository import Repository

            self.repo, self._views, self._pid = Repository(self.repo.root), None, os.getpid()

    def shard_label(self, j: int) -> str:
        return f"{self.location} part {j}"

    def open(self, j: int) -> StoreHandle:
        lo = j * self.shard_items
        if self._views is None:
            from mmvc.export.objectviews import ObjectViews

            self._views = ObjectViews(self.repo.store, willneed=True)  # packs hold small objects: read them in ahead
        return StoreHandle(self.shard_label(j), self.repo.store, self.samples[lo:lo + self.counts[j]], lo, self._views)
