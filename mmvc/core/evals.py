"""Eval objects: one model's results on one version, stored as an immutable fact.

An eval is an object of kind ``eval`` (docs/format.md, "Evaluations"): its header, then
canonical JSON. It is named by ``refs/evals/<commit id>/<eval id>`` (``mmvc.core.layout``): the
commit comes first so that the evals of one version are one folder listing, and the eval's own
id comes last so that a name can only ever hold one object (several evals of one version and
one name, seeds and reruns, sit side by side).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mmvc.core.layout import EVALS, eval_ref
from mmvc.core.objects import EVAL, Signature, canonical_json, encode_object, open_object
from mmvc.errors import CorruptError

DIRECTIONS = ("higher", "lower")  # append-only: which way a metric gets better
_KNOWN = {"author", "better", "commit", "export", "metrics", "model", "name", "notes", "recipe", "run", "run_record"}


@dataclass(frozen=True)
class Eval:
    commit: str
    name: str
    metrics: dict  # metric name -> float
    author: Signature
    better: dict = field(default_factory=dict)  # metric name -> "higher" | "lower" (only where known)
    model: str | None = None
    run: str | None = None  # a run name or id as the trainer knows it
    run_record: str | None = None  # the training-run object ``run`` named when the eval was added
    recipe: str | None = None  # recipe object id
    export: str | None = None  # export id (the BLAKE3 of its index.json)
    notes: str = ""
    extra: dict = field(default_factory=dict)  # keys written by a newer mmvc, kept as they are

    def to_json(self) -> dict:
        doc = {"author": self.author.to_json(), "better": dict(self.better), "commit": self.commit, "export": self.export,
               "metrics": dict(self.metrics), "model": self.model, "name": self.name, "notes": self.notes,
               "recipe": self.recipe, "run": self.run, "run_record": self.run_record}
        doc.update(self.extra)
        return doc

    def encode(self) -> bytes:
        return encode_object(EVAL, canonical_json(self.to_json()))

    @property
    def oid(self) -> str:
        from mmvc.core.hashing import hash_bytes

        return hash_bytes(self.encode())

    @property
    def ref(self) -> str:
        return eval_ref(self.commit, self.oid)

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> Eval:
        _, _, body = open_object(data, oid, (EVAL,))
        try:
            doc = _DECODER.decode(body.decode("utf-8"))
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            metrics = doc["metrics"]
            if not isinstance(metrics, dict):
                raise ValueError("metrics must map names to numbers")
            for v in metrics.values():
                if type(v) is not float and type(v) is not int:  # bool is an int subclass, and not a metric
                    raise ValueError("metrics must map names to numbers")
            better = doc.get("better") or {}
            if not isinstance(better, dict) or any(v not in DIRECTIONS for v in better.values()):
                raise ValueError("better must map metric names to 'higher' or 'lower'")
            commit = doc["commit"]
            if not isinstance(commit, str) or len(commit) != 64 or not _HEX.issuperset(commit):
                raise ValueError("commit must be an object id")
            return cls(commit=commit, name=doc["name"], metrics={k: float(v) for k, v in metrics.items()},
                       author=Signature(**doc["author"]), better=better, model=doc.get("model"), run=doc.get("run"),
                       run_record=doc.get("run_record"), recipe=doc.get("recipe"), export=doc.get("export"),
                       notes=doc.get("notes") or "", extra={k: v for k, v in doc.items() if k not in _KNOWN})
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CorruptError(f"object {oid} is not a valid eval ({e})", "run `mmvc fsck`") from None

    def linked(self) -> list[str]:
        """Objects besides the commit that the eval names and keeps alive (its run record, recipe)."""
        return [o for o in (self.run_record, self.recipe) if o]


def _no_constant(name: str):
    raise ValueError(f"{name} is not a metric value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_HEX = frozenset("0123456789abcdef")


def parse_eval_ref(ref: str) -> tuple[str, str] | None:
    """(commit, eval id) of ``refs/evals/<commit>/<eval id>``; None for any other name. Cheap:
    ``log --evals`` parses ten thousand of them."""
    start, n = len(EVALS), 64
    if len(ref) != start + 2 * n + 1 or not ref.startswith(EVALS) or ref[start + n] != "/":
        return None
    commit, oid = ref[start:start + n], ref[start + n + 1:]
    return (commit, oid) if _HEX.issuperset(commit) and _HEX.issuperset(oid) else None


def is_hex_id_run(text: str) -> bool:
    """Whether ``text`` is lowercase hex digits only (names of 64 such digits, joined)."""
    return _HEX.issuperset(text)


def is_hex_id(name: str) -> bool:
    """Whether a name is 64 lowercase hex digits (a commit's folder or an eval's file under refs/evals)."""
    return len(name) == 64 and _HEX.issuperset(name)
