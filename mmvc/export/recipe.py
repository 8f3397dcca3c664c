"""Recipes: the immutable answer to "which data did run 42 see".

A recipe pins a commit, a filter, mixture weights, a seed and an epoch size. It is an object
(canonical JSON behind the recipe header) in the object store (so its id changes when anything in it changes) and is named by
``refs/recipes/NAME``. The samples it selects, and their order, are a pure function of the
recipe: ``mmvc.export.selection.plan``. Byte layout: docs/format.md, "Recipes". ``build_recipe``
makes one from a version and settings, ``resolve_recipe`` finds a stored one by name or id: the
recipe verb, export and the loader all go through them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mmvc.core.layout import RECIPES
from mmvc.errors import BadInputError, CorruptError, ObjectNotFound

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
    def decode(cls, data: bytes, oid: str = "?") -> Recipe:
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
    parts, depth, quote = [], 0, False
    cur: list[str] = []
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


def build_recipe(repo, rev: str, where: str | None = None, mix: str | None = None, seed: int = 0, epoch_size: int | None = None):
    """The (unsaved) recipe for these settings; exports (and the loader) without a recipe use one too."""
    commit = repo.resolve(rev)
    components = parse_mix(mix)
    if where is not None and not where.strip():
        raise BadInputError("empty --where filter", "write a condition such as \"source = 'coco'\", or leave --where out")
    if epoch_size is not None and epoch_size <= 0:
        raise BadInputError(f"epoch size {epoch_size} is not positive", "give a positive number of samples per epoch")
    return Recipe(commit=commit, rev=rev, filter=where or None, mix=components, seed=int(seed), epoch_size=epoch_size)


def resolve_recipe(repo, name: str):
    """(name, object id, Recipe) for a recipe name or a recipe object id."""
    from mmvc.core.hashing import is_object_id

    ref = name if name.startswith(REF_PREFIX) else REF_PREFIX + name
    oid = repo.refs.read(ref) if not is_object_id(name) else name
    if oid is None:
        known = sorted(r[len(REF_PREFIX):] for r in repo.refs.list("refs/recipes"))
        raise BadInputError(f"unknown recipe {name!r}",
                            ("known recipes: " + ", ".join(known[:10])) if known else "create one with `mmvc recipe create NAME --rev REV`")
    try:
        data = repo.store.get(oid)
    except ObjectNotFound:
        raise BadInputError(f"recipe {name!r} names object {oid[:12]}, which is not in this repository",
                            "run `mmvc fsck`; fetch it from the remote it came from") from None
    return (name if not is_object_id(name) else "", oid, Recipe.decode(data, oid))
