"""Import checkpoints: the finished units of one source under ``.mmvc/import/<source id>/``, so
``mmvc import --resume`` continues an interrupted import where it stopped.

A unit's objects are complete before its checkpoint is written; a checkpoint whose header no
longer matches the unit (other files, another selection, another format) is read as absent.
"""

from __future__ import annotations

import json
import os
import shutil

from mmvc.core.objects import canonical_json
from mmvc.importers.base import ImportOptions, Unit
from mmvc.importers.chunk import Chunk

CHECKPOINT_FORMAT = 2


def source_id(connector, options: ImportOptions, limit, sample, seed) -> str:
    from mmvc.core.hashing import hash_bytes

    doc = {"connector": connector.name, "uri": connector.uri, "paths": list(connector.paths), "options": options.key_fields(),
           "revision": connector.revision, "limit": limit, "sample": sample, "seed": seed}
    return hash_bytes(canonical_json(doc))[:24]


class Checkpoints:
    """Finished units of one source, one file each, written whole (temp + rename): a JSON header
    line, then the unit's rows as ``Chunk.encode`` writes them."""

    def __init__(self, repo, sid: str):
        self.layout, self.sid = repo.layout, sid
        self.dir = repo.layout.import_source(sid)

    def _path(self, n: int) -> str:
        return self.layout.import_checkpoint(self.sid, n)

    @staticmethod
    def _header(unit: Unit, selection) -> dict:
        return {"format": CHECKPOINT_FORMAT, "unit": unit.name, "files": [[f.path, *f.fingerprint()] for f in unit.files],
                "selection": selection.describe()}

    def load(self, n: int, unit: Unit, selection) -> dict | None:
        import zlib

        try:
            with open(self._path(n), "rb") as f:
                data = f.read()
            nl = data.index(b"\n")
            head = json.loads(data[:nl])
            if {k: head.get(k) for k in ("format", "unit", "files", "selection")} != json.loads(canonical_json(self._header(unit, selection))):
                return None
            chunk = Chunk.decode(data, nl + 1)
            if chunk.n != head["rows"]:
                return None
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, zlib.error):
            return None
        return {"chunk": chunk, "skips": head.get("skips", []), "written": head.get("written", 0)}

    def save(self, n: int, unit: Unit, selection, chunk: Chunk, skips: list, written: int) -> None:
        from mmvc.core.atomicfile import atomic_write

        os.makedirs(self.dir, exist_ok=True)
        head = {**self._header(unit, selection), "rows": chunk.n, "skips": [list(s) for s in skips], "written": written}
        atomic_write(self._path(n), [canonical_json(head), b"\n", chunk.encode()], fsync=False)

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
