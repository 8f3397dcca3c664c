"""A DataLoader that tells its MMVCDataset how many samples it handed out.

With worker processes the dataset object in the training process never sees a sample, so
``state_dict()`` could not know where training is. This subclass counts the samples of every
batch it yields (in order, as torch hands them out) into the dataset, gives the dataset the
batch size (which decides which worker serves which batch), and starts the next epoch when
one is exhausted. Workers hand large batches of payloads over through shared memory
(``mmvc.loader.handover``).
"""

from __future__ import annotations

import torch.utils.data as tud

from mmvc.loader.dataset import MMVCDataset


def collate(samples: list) -> dict:
    """A dict of lists; ``__index__``/``__epoch__`` as tensors and same-shape vectors stacked.
    Metadata differs from item to item, which torch's default collate refuses."""
    import numpy as np
    import torch

    out = {}
    for k in samples[0]:
        vals = [s.get(k) for s in samples]
        if k in ("__index__", "__epoch__"):
            out[k] = torch.tensor(vals, dtype=torch.int64)
        elif all(isinstance(v, np.ndarray) for v in vals) and len({v.shape for v in vals}) == 1:
            out[k] = torch.from_numpy(np.stack(vals))
        else:
            out[k] = vals
    return out


class WorkerCollate:
    """``collate``, with a worker's payload bytes packed into one of its ``slots``
    shared-memory slots (``mmvc.loader.handover``; the training process unpacks them)."""

    def __init__(self, slots: int):
        self.slots = slots

    def __call__(self, samples: list) -> dict:
        out = collate(samples)
        data = out.get("data")
        if self.slots and tud.get_worker_info() is not None and isinstance(data, list) \
                and all(isinstance(v, bytes) for v in data):
            from mmvc.loader.handover import pack

            packed = pack(data, self.slots)
            if packed is not None:
                out["data"] = packed
        return out


def _batch_len(batch) -> int:
    if isinstance(batch, dict) and "__index__" in batch:
        return len(batch["__index__"])
    try:
        return len(batch)
    except TypeError:
        return 1


def _fork_unsafe() -> bool:
    """Whether this process holds libraries whose threads make a forked worker hang (Lance,
    which a filtered recipe reads through the catalog; Ray). Workers then start from a fork
    server instead, which costs a moment at start-up and nothing per sample."""
    import sys

    return any(m in sys.modules for m in ("lance", "ray"))


class DataLoader(tud.DataLoader):
    def __init__(self, dataset, batch_size: int | None = 1, **kw):
        if isinstance(dataset, MMVCDataset) and batch_size:
            dataset.batch_size = int(batch_size)
        if "collate_fn" not in kw:
            # batches are copied out in order as they are handed out; out of order, a worker
            # could be more batches ahead than it has slots
            slots = kw.get("prefetch_factor") or 2
            kw["collate_fn"] = WorkerCollate(slots + 1 if kw.get("in_order", True) else 0)
        if kw.get("num_workers", 0) > 0 and kw.get("multiprocessing_context") is None and _fork_unsafe():
            import multiprocessing

            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["mmvc.loader.torch_loader"])  # torch imported once, not per worker
            kw["multiprocessing_context"] = ctx
        super().__init__(dataset, batch_size=batch_size, **kw)

    def __iter__(self):
        ds = self.dataset
        counting = isinstance(ds, MMVCDataset) and self.num_workers > 0
        if counting:
            import multiprocessing

            ds.source.share_checks(self.multiprocessing_context or multiprocessing.get_context())
        from mmvc.loader.handover import ReceivedPayloads

        for batch in super().__iter__():
            if isinstance(batch, dict) and isinstance(batch.get("data"), ReceivedPayloads):
                batch["data"] = batch["data"].unpack()
            if counting:
                ds._delivered += _batch_len(batch)
            yield batch
        if counting:
            ds.set_epoch(ds.epoch + 1)
