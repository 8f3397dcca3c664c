"""mmvc: Git for multimodal training data.

Only light modules load at import time; the heavy engines (ray, torch, lance, pyarrow)
are imported inside the functions that need them so that the CLI starts fast.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "Repo":
        from mmvc.repo import Repo

        return Repo
    if name == "MmvcError":
        from mmvc.errors import MmvcError

        return MmvcError
    raise AttributeError(name)
