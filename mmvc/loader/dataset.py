"""``MMVCDataset``: a torch IterableDataset over an export or a version in the object store,
with a reproducible order, rank and worker splitting, and exact mid-epoch resume.

The order is ``mmvc.loader.order``'s (a pure function of seed, epoch and the shards' sample
counts). Samples are read by position, never by skipping: a shard is mapped (or fetched into
the cache) and its member table read once, so resuming at position p opens only the shards
that p and later positions need.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from concurrent.futures import ThreadPoolExecutor

from mmvc.errors import BadInputError, NewerFormatError

STATE_KIND = "mmvc-loader-state"
STATE_FORMAT = 1

try:  # torch is heavy; only this module (imported on use) needs it
    from torch.utils.data import IterableDataset as _Base
except ImportError:  # a light install (no mmvc[loader]): a plain iterable
    _Base = object


def _dist_defaults() -> tuple[int, int]:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:
        pass
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class MMVCDataset(_Base):
    """Samples of an export (``source``: folder or fsspec URL) or of a version read straight
    from the object store (``repo`` with ``recipe`` or ``rev`` [+ ``where``]).

    Each sample is a dict: ``data`` (payload bytes, or what the modality's decoder returns),
    ``meta`` (the export's ``.json``: key, oid, modality, license, source, caption …),
    ``key`` (the item path), ``modality``, vectors by name when exported, and ``__key__``,
    ``__index__`` (position in the epoch), ``__epoch__`` and ``__shard__``.

    ``batch_size`` must be the per-rank batch size the DataLoader uses (it decides which
    worker serves which batch); keep ``world_size × batch_size`` constant across a resume.

    ``run="NAME"`` records the run (``refs/runs/NAME``: what it reads, and on rank 0 the state at
    every ``state_dict()`` call, i.e. every checkpoint) in ``repo``, or for an export in the
    repository of the current folder unless ``repo=`` names one.
    """

    def __init__(self, source: str | None = None, *, repo=None, recipe: str | None = None, rev: str | None = None,
                 where: str | None = None, seed: int = 0, shuffle: bool = True, epoch: int = 0,
                 rank: int | None = None, world_size: int | None = None, batch_size: int = 1, drop_last: bool = False,
                 shuffle_block: int = 1, decoders: dict | None = None, skip_corrupt: bool = False, verify: bool = True,
                 prefetch: int = 2, cache_dir: str | None = None, allow_ungated: bool = False, store_shard_items: int = 1024,
                 run: str | None = None):
        from mmvc.loader.sources import ExportSource, StoreSource

        if (source is None) == (repo is None) and not (source is not None and run is not None):
            raise BadInputError("give an export location, or repo= with recipe= or rev=", "MMVCDataset('out/') or MMVCDataset(repo=repo, recipe='mix-v2-train')")
        if source is not None:
            if recipe is not None or rev is not None or where is not None:
                raise BadInputError("recipe=, rev= and where= read from a repository; an export already fixes them")
            self.source: ExportSource | StoreSource = ExportSource(source, verify=verify, cache_dir=cache_dir, skip_corrupt=skip_corrupt, allow_ungated=allow_ungated)
        else:
            self.source = StoreSource(repo, recipe=recipe, rev=rev, where=where, shard_items=store_shard_items, allow_ungated=allow_ungated, seed=seed)
        r, w = _dist_defaults()
        self.rank = r if rank is None else int(rank)
        self.world_size = w if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise BadInputError(f"rank {self.rank} is outside world size {self.world_size}", "ranks run from 0 to world_size - 1")
        if batch_size < 1 or shuffle_block < 1:
            raise BadInputError("batch_size and shuffle_block must be positive")
        self.seed, self.shuffle, self.shuffle_block = int(seed), bool(shuffle), int(shuffle_block)
        self.batch_size, self.drop_last = int(batch_size), bool(drop_last)
        self.decoders = dict(decoders or {})
        self.skip_corrupt, self.prefetch = skip_corrupt, max(0, int(prefetch))
        self.epoch = int(epoch)
        self._start = 0  # epoch position where this pass begins (a restored state's "consumed")
        self._delivered = 0  # samples this rank has handed out since _start
        self.skipped = 0  # corrupt samples skipped (skip_corrupt=True), in this process
        self.run = None  # with run=NAME: the RunRecorder that state_dict() reports checkpoints to (rank 0)
        if run is not None and self.rank == 0:
            from mmvc.loader.run_record import record_run

            self.run = record_run(repo if repo is not None else ".", run, self)

    # -- sizes

    @property
    def total(self) -> int:
        """Samples per epoch, all ranks together."""
        return sum(self.source.counts)

    def __len__(self) -> int:
        """Samples this rank reads in the rest of the current epoch."""
        from mmvc.loader.order import rank_count

        return rank_count(self._start, self.total, self.rank, self.world_size, self.batch_size, self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self._start, self._delivered = int(epoch), 0, 0

    # -- state

    def state_dict(self, delivered: int | None = None) -> dict:
        """Where training is: (epoch, samples consumed globally), tied to this export or recipe.
        ``delivered`` overrides the count of samples this rank has taken since the last start
        (counted automatically when iterating in-process or through ``mmvc.loader.DataLoader``)."""
        m = self._delivered if delivered is None else int(delivered)
        epoch, consumed = self.epoch, self._start
        if m >= len(self) and len(self) > 0 or (m > 0 and len(self) == 0):
            epoch, consumed = epoch + 1, 0
        else:
            g = self.world_size * self.batch_size
            consumed = self._start + (m if self.world_size == 1 else (m // self.batch_size) * g)
            consumed = min(consumed, self.total)
        state = {"kind": STATE_KIND, "format": STATE_FORMAT, "source": {"kind": self.source.kind, "id": self.source.identity},
                 "seed": self.seed, "shuffle": self.shuffle, "shuffle_block": self.shuffle_block, "samples": self.total,
                 "epoch": epoch, "consumed": consumed, "global_batch": self.world_size * self.batch_size}
        if self.run is not None:  # a checkpoint is being saved: the run record says where training was
            self.run.checkpoint(state)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where ``state`` stopped, over this loader's ranks and workers."""
        if not isinstance(state, dict) or state.get("kind") != STATE_KIND:
            raise BadInputError("not an mmvc loader state dict", "pass what MMVCDataset.state_dict() returned")
        if state.get("format", 0) > STATE_FORMAT:
            raise NewerFormatError("the loader state", state.get("format"), STATE_FORMAT)
        src = state.get("source") or {}
        if src.get("id") != self.source.identity:
            what = "export" if src.get("kind") == "export" else "recipe"
            raise BadInputError(f"the state dict is from another {what} ({str(src.get('id'))[:12]}), this loader reads {self.source.identity[:12]}",
                                "load it into a dataset over the same export or recipe it was saved from")
        for k in ("seed", "shuffle", "shuffle_block", "samples"):
            if state.get(k) != getattr(self, k, None) and not (k == "samples" and state.get(k) == self.total):
                raise BadInputError(f"the state dict was saved with {k}={state.get(k)!r}, this loader has {getattr(self, k, self.total)!r}",
                                    f"create the dataset with {k}={state.get(k)!r} to continue the same order")
        consumed = int(state["consumed"])
        if not 0 <= consumed <= self.total:
            raise BadInputError(f"the state dict's position {consumed} is outside the epoch's {self.total} samples")
        gb = state.get("global_batch")
        if gb and gb != self.world_size * self.batch_size and consumed % (self.world_size * self.batch_size):
            import warnings

            warnings.warn(f"global batch changed from {gb} to {self.world_size * self.batch_size}; the order stays exact, batch boundaries move",
                          RuntimeWarning, stacklevel=2)
        self.epoch, self._start, self._delivered = int(state["epoch"]), consumed, 0

    # -- iteration

    def _worker(self) -> tuple[int, int]:
        try:
            from torch.utils.data import get_worker_info

            info = get_worker_info()
        except ImportError:
            info = None
        if info is None:
            return 0, 1
        from mmvc.loader.workers import exit_with_parent

        exit_with_parent()
        return info.id, info.num_workers

    def __iter__(self):
        from mmvc.loader.order import EpochOrder, positions

        worker, workers = self._worker()
        self.source.own()
        self._labels = [self.source.shard_label(j) for j in range(len(self.source.counts))]
        order = EpochOrder(self.source.counts, self.seed, self.epoch, self.shuffle, self.shuffle_block)
        pos_iter = positions(self._start, order.total, self.rank, self.world_size, worker, workers, self.batch_size, self.drop_last)
        in_process = workers == 1 and worker == 0
        pool = ThreadPoolExecutor(max_workers=max(1, self.prefetch), thread_name_prefix="mmvc-prefetch") if self.prefetch else None
        opened: dict = {}  # shard -> future or handle
        lo_pos = hi_pos = 0  # epoch positions of the current block
        perm = shards = starts = None
        last_shard, h = -1, None
        decoders, epoch, labels = self.decoders, self.epoch, self._labels
        try:
            for pos in pos_iter:
                if not lo_pos <= pos < hi_pos:  # positions ascend: this runs once per block
                    b = order.block_of(pos)
                    lo_pos, hi_pos = order.block_starts[b], order.block_starts[b + 1]
                    perm, (shards, starts) = order._block(b)
                    keep = set()
                    for bb in range(b, min(len(order.blocks), b + 1 + (1 if self.prefetch else 0))):
                        keep.update(order.blocks[bb])
                    for s in [s for s in opened if s not in keep]:
                        old = opened.pop(s)
                        if hasattr(old, "result"):
                            old = old.result()
                        old.close()
                    last_shard, h = -1, None
                    for s in sorted(keep, key=lambda s: (order.block_of_shard(s), s)):
                        if s not in opened and pool is not None:
                            opened[s] = pool.submit(self.source.open, s)
                local = perm[pos - lo_pos]
                if len(shards) == 1:
                    shard, i = shards[0], local
                else:
                    k = bisect_right(starts, local) - 1
                    shard, i = shards[k], local - starts[k]
                if shard != last_shard:
                    h = opened.get(shard)
                    if h is None:
                        h = opened[shard] = self.source.open(shard)
                    elif hasattr(h, "result"):
                        h = opened[shard] = h.result()
                    last_shard = shard
                if h.bad and i in h.bad:
                    self.skipped += 1
                    continue
                payload, meta, vectors = h.sample(i)
                modality = meta.get("modality", "unknown")
                dec = decoders.get(modality) if decoders else None
                sample = {"data": payload if dec is None else dec(payload, meta), "meta": meta, "key": meta.get("key"),
                          "modality": modality, "__key__": "%09d" % meta.get("sample", pos), "__index__": pos,
                          "__epoch__": epoch, "__shard__": labels[shard]}
                if vectors:
                    sample.update(vectors)
                if in_process:
                    self._delivered += 1
                yield sample
            if in_process:
                self.set_epoch(self.epoch + 1)
        finally:
            for h in opened.values():
                try:
                    (h.result() if hasattr(h, "result") else h).close()
                except Exception:
                    pass
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
