"""Training-run records: which data a training run read, and where it was at each checkpoint.

A run is a chain of immutable objects (canonical JSON, ``"type": "training-run"``, format 1,
docs/format.md "Training runs"), newest first through ``previous``, named by
``refs/runs/<name>``. The first record says what the run reads (commit, recipe or export, seed,
world size); each checkpoint the trainer saves adds one record holding that checkpoint's loader
state, so a record never grows with the run's length and an older record is never rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mmvc.core.objects import Signature, canonical_json
from mmvc.errors import CorruptError, NewerFormatError

RUN_FORMAT = 1
RUN_TYPE = "training-run"
REF_PREFIX = "refs/runs/"


@dataclass(frozen=True)
class TrainingRun:
    name: str
    commit: str
    author: Signature  # who ran it, and when this record was written
    setup: dict  # seed, world_size, batch_size, shuffle, shuffle_block, samples, source
    recipe: str | None = None  # recipe object id the run reads (named or not)
    export: str | None = None  # export id, when it reads an export
    checkpoint: dict | None = None  # {"step": int | None, "state": the loader's state dict}; None: the start
    previous: str | None = None  # the record this one follows
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        doc = {"author": self.author.to_json(), "checkpoint": self.checkpoint, "commit": self.commit, "export": self.export,
               "format": RUN_FORMAT, "name": self.name, "previous": self.previous, "recipe": self.recipe, "setup": dict(self.setup),
               "type": RUN_TYPE}
        doc.update(self.extra)
        return doc

    def encode(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> TrainingRun:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("type") != RUN_TYPE:
                raise ValueError("not a training-run record")
            if doc.get("format", 0) > RUN_FORMAT:
                raise NewerFormatError(f"training-run record {oid}", doc["format"], RUN_FORMAT)
            if doc.get("checkpoint") is not None and not isinstance(doc["checkpoint"], dict):
                raise ValueError("checkpoint must be an object or null")
            known = {"author", "checkpoint", "commit", "export", "format", "name", "previous", "recipe", "setup", "type"}
            return cls(name=doc["name"], commit=doc["commit"], author=Signature(**doc["author"]), setup=dict(doc.get("setup") or {}),
                       recipe=doc.get("recipe"), export=doc.get("export"), checkpoint=doc.get("checkpoint"),
                       previous=doc.get("previous"), extra={k: v for k, v in doc.items() if k not in known})
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid training-run record ({e})", "run `mmvc fsck`") from None

    def linked(self) -> list[str]:
        """Objects besides the commit that this record keeps alive: the record it follows, its recipe."""
        return [o for o in (self.previous, self.recipe) if o]


def chain(get, tip: str, limit: int | None = None):
    """(id, record) from ``tip`` back to the run's first record; ``get`` reads an object's bytes
    (None when it is not here, which ends the walk)."""
    oid: str | None = tip
    n = 0
    while oid and (limit is None or n < limit):
        data = get(oid)
        if data is None:
            return
        rec = TrainingRun.decode(data, oid)
        yield oid, rec
        oid, n = rec.previous, n + 1


def follows(get, newer: str, older: str) -> bool:
    """Whether ``older`` is in the chain that ends at ``newer`` (a run record only moves forward)."""
    return any(oid == older for oid, _ in chain(get, newer))
