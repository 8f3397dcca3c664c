"""Loading exports and versions for training: ``MMVCDataset`` (a torch IterableDataset) and
``DataLoader`` (torch's, counting what it hands out so ``state_dict()`` is exact with workers).

Imported on use only: ``DataLoader`` and ``standard_decoders`` need the loader extra (torch,
pillow, soundfile), which ``import mmvc`` never pulls in; ``MMVCDataset`` iterates without it.
"""

from __future__ import annotations

__all__ = ["MMVCDataset", "DataLoader", "collate", "standard_decoders", "record_run"]


def __getattr__(name):
    if name == "MMVCDataset":
        from mmvc.loader.dataset import MMVCDataset

        return MMVCDataset
    if name in ("DataLoader", "collate"):  # MMVCDataset iterates without torch; these need it
        from mmvc.core.extras import require

        require("loader", "torch", what=f"mmvc.loader.{name}")
        from mmvc.loader import torch_loader

        return getattr(torch_loader, name)
    if name == "record_run":
        from mmvc.loader.run_record import record_run

        return record_run
    if name == "standard_decoders":
        from mmvc.loader.decoders import standard_decoders

        return standard_decoders
    raise AttributeError(name)
