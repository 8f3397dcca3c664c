"""Names of the temp files mmvc writes before renaming them into place.

A temp file sits in the folder of the file it becomes (so the rename is atomic) under a short
name of its own, never ``<name>`` plus a suffix: a name of 250 bytes is legal, and one more
suffix would pass the filesystem's 255-byte limit. The fixed prefix makes every temp file
recognisable: the work-tree walk, ``add`` and ``status`` never see one, and ``fsck``/``gc``
report and remove the ones an interrupted command left. Names written by older versions
(``<name>.mmvc-tmp-<pid>`` in the work tree, ``<name>.tmp-<pid>-<thread>`` under ``.mmvc``)
are recognised too.
"""

from __future__ import annotations

import os
import re
import secrets

TEMP_PREFIX = ".mmvc-tmp-"
_LEGACY = re.compile(r"\.(?:mmvc-tmp-\d+|tmp-\d+-\d+)$")


def temp_path(path: str) -> str:
    """A fresh temp name beside ``path`` (at most 28 bytes, whatever ``path``'s length)."""
    return os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")


def is_temp_name(name: str) -> bool:
    """Whether a file name (not a path) is one of mmvc's temp files."""
    return name.startswith(TEMP_PREFIX) or "tmp-" in name and _LEGACY.search(name) is not None
