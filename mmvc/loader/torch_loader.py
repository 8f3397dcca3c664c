"""A DataLoader that tells its MMVCDataset how many samples it handed out.

With worker processes the dataset object in the training process never sees a sample, so
``state_dict()`` could not know where training is. This subclass counts the samples of every
batch it yields (in order, as torch hands them out) into the dataset, gives the dataset the
batch size (which decides which worker serves which batch), and starts the next epoch when
one is exhausted.
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
        kw.setdefault("collate_fn", collate)
        if kw.get("num_workers", 0) > 0 and kw.get("multiprocessing_context") is None and _fork_unsafe():
            import multiprocessing

            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["mmvc.loader.torch_loader"])  # torch imported once, not per worker
            kw["multiprocessing_context"] = ctx
        super().__init__(dataset, batch_size=batch_size, **kw)

    def __iter__(self):
        ds = self.dataset
        counting = isinstance(ds, MMVCDataset) and self.num_workers > 0
        for batch in super().__iter__():
            if counting:
                ds._delivered += _batch_len(batch)
            yield batch
        if counting:
            ds.set_epoch(ds.epoch + 1)
