"""Training-run records: which data a training run read, and where it was at each checkpoint.

A run is a chain of immutable objects of kind ``training-run`` (docs/format.md, "Training
runs"), newest first through ``previous``, named by ``refs/runs/<name>``. The first record says
what the run reads (commit, recipe or export, seed, world size); each checkpoint the trainer
saves adds one record holding that checkpoint's loader state, so a record never grows with the
run's length and an older record is never rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.core.objects import TRAINING_RUN, Signature, canonical_json, encode_object, open_json
from mmvc.errors import CorruptError

_KNOWN = {"author", "checkpoint", "commit", "export", "name", "previous", "recipe", "setup"}


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
               "name": self.name, "previous": self.previous, "recipe": self.recipe, "setup": dict(self.setup)}
        doc.update(self.extra)
        return doc

    def encode(self) -> bytes:
        return encode_object(TRAINING_RUN, canonical_json(self.to_json()))

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> TrainingRun:
        doc, _ = open_json(data, oid, TRAINING_RUN)
        try:
            if doc.get("checkpoint") is not None and not isinstance(doc["checkpoint"], dict):
                raise ValueError("checkpoint must be an object or null")
            if not isinstance(doc["commit"], str):
                raise ValueError("commit must be an object id")
            return cls(name=doc["name"], commit=doc["commit"], author=Signature(**doc["author"]), setup=dict(doc.get("setup") or {}),
                       recipe=doc.get("recipe"), export=doc.get("export"), checkpoint=doc.get("checkpoint"),
                       previous=doc.get("previous"), extra={k: v for k, v in doc.items() if k not in _KNOWN})
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid training-run record ({e})", "run `mmvc fsck`") from None

    def linked(self) -> list[str]:
        """Objects besides the commit that this record keeps alive: the record it follows, its recipe."""
        return [o for o in (self.previous, self.recipe) if o]
