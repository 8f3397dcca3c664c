"""Recipes: the immutable answer to "which data did run 42 see".

A recipe pins a commit, a filter, mixture weights, a seed and an epoch size. It is an object
(canonical JSON behind the recipe header) in the object store (so its id changes when anything in it changes) and is named by
``refs/recipes/NAME``. The samples it selects, and their order, are a pure function of the
recipe: ``mmvc.export.selection.plan``. Byte layout: docs/format.md, "Recipes".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mmvc.core.layout import RECIPES
from mmvc.errors import BadInputError, CorruptError

REF_PREFIX = RECIPES


@dataclass(frozen=True)
class MixComponent:
    where: str  # a catalog filter (mmvc.catalog.rows) over the version's items
    weight: float

    def to_json(self) -> dict:
        return {"weight": self.weight, "where": self.where}


@dataclass(frozen=True)
class Recipe:
    commit: str
    rev: str = ""  # the name the commit was given as when the recipe was made (for people)
    filter: str | None = None
    mix: tuple[MixComponent, ...] = ()
    seed: int = 0
    epoch_size: int | None = None  # samples per epoch; None: every selected item once
    extra: dict = field(default_factory=dict)  # keys written by a newer mmvc, kept as they are

    def to_json(self) -> dict:
        doc = {"commit": self.commit, "epoch_size": self.epoch_size, "filter": self.filter,
               "mix": [c.to_json() for c in self.mix], "rev": self.rev, "seed": self.seed}
        doc.update(self.extra)
        return doc

    def encode(self) -> bytes:
        from mmvc.core.objects import RECIPE, canonical_json, encode_object

        return encode_object(RECIPE, canonical_json(self.to_json()))

    @property
    def oid(self) -> str:
        from mmvc.core.hashing import hash_bytes

        return hash_bytes(self.encode())

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> "Recipe":
        from mmvc.core.objects import RECIPE, open_json

        doc, _ = open_json(data, oid, RECIPE)
        try:
            known = {"commit", "epoch_size", "filter", "mix", "rev", "seed"}
            return cls(commit=doc["commit"], rev=doc.get("rev", ""), filter=doc.get("filter"),
                       mix=tuple(MixComponent(m["where"], float(m["weight"])) for m in doc.get("mix", [])),
                       seed=int(doc.get("seed", 0)), epoch_size=doc.get("epoch_size"),
                       extra={k: v for k, v in doc.items() if k not in known})
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid recipe ({e})", "run `mmvc fsck`") from None


def parse_mix(spec: str | None) -> tuple[MixComponent, ...]:
    """``"source='coco':0.7,source='fineweb':0.3"`` → components. Commas and colons inside
    quotes or parentheses belong to the predicate; the weight follows the last colon."""
    if spec is None or not spec.strip():
        return ()
    parts, depth, quote, cur = [], 0, False, []
    for ch in spec:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "," and not quote and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    out = []
    for p in parts:
        where, sep, weight = _split_weight(p)
        if not sep or not where.strip():
            raise BadInputError(f"mixture component {p.strip()!r} has no weight", "write PREDICATE:WEIGHT, e.g. --mix \"source='coco':0.7,source='fineweb':0.3\"")
        try:
            w = float(weight)
        except ValueError:
            raise BadInputError(f"mixture weight {weight.strip()!r} is not a number", "weights are positive numbers, e.g. 0.7") from None
        if not math.isfinite(w) or w <= 0:
            raise BadInputError(f"mixture weight {weight.strip()!r} must be a positive number", "drop the component instead of giving it weight 0")
        out.append(MixComponent(where.strip(), w))
    return tuple(out)


def _split_weight(part: str) -> tuple[str, str, str]:
    quote = False
    last = -1
    for i, ch in enumerate(part):
        if ch == "'":
            quote = not quote
        elif ch == ":" and not quote:
            last = i
    if last < 0:
        return part, "", ""
    return part[:last], ":", part[last + 1:]


def format_mix(mix) -> str:
    return ",".join(f"{c.where}:{c.weight:g}" for c in mix)
