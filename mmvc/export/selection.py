"""From a recipe to the ordered list of samples it stands for.

Determinism is specified, not left to a library's random generator (whose streams may change
between versions): every random choice is an ordering by BLAKE3 of (seed, purpose, item key),
so the same recipe gives the same samples in the same order on any machine, forever.

* The **filter** keeps the version's items it selects.
* Each **mixture component** takes the kept items its predicate selects that no earlier
  component took (first match wins). The epoch's N samples (``epoch_size``, default: every
  pooled item once) are apportioned to the components by weight (largest remainder). A
  component draws its share from its pool in the order of BLAKE3(seed, "pool", i, round, key),
  without repeats until its pool is used up, then round after round (up-sampling).
* The drawn samples are ordered by BLAKE3(seed, "order", i, round, key).
Without ``--mix`` the filter's items form one component of weight 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from mmvc.errors import BadInputError


class Sample(NamedTuple):  # a tuple: made once per sample, and a million of them must be cheap
    path: str
    oid: str
    size: int
    modality: int
    flags: int
    meta: str
    component: int  # index in the recipe's mix, -1 without one
    round: int  # 0 for an item's first draw within its component, 1.. for up-sampled repeats


@dataclass
class Plan:
    samples: list  # of Sample, in export order
    items: int  # items of the version
    selected: int  # items the filter kept
    components: list  # per component: {"where", "weight", "pool", "samples"}
    uncovered: int = 0  # items the filter keeps that no mixture component selects: never drawn


def _key(seed: int, purpose: str, comp: int, rnd: int, path: str) -> bytes:
    from blake3 import blake3

    return blake3(f"{seed}\0{purpose}\0{comp}\0{rnd}\0".encode() + path.encode("utf-8", "surrogateescape")).digest(length=16)


def _order_key(seed: int):
    """``_key(seed, "order", …)`` of a sample, with the import and the prefixes made once."""
    from blake3 import blake3

    prefixes: dict = {}

    def key(s) -> bytes:
        pre = prefixes.get((s.component, s.round))
        if pre is None:
            pre = prefixes[(s.component, s.round)] = f"{seed}\0order\0{s.component}\0{s.round}\0".encode()
        return blake3(pre + s.path.encode("utf-8", "surrogateescape")).digest(length=16)

    return key


def _masks(repo, commit: str, entries: list, predicates: list[str]) -> list:
    """One boolean mask (aligned with ``entries``) per predicate, answered by the catalog, whose
    columns (modality, source, license, width, language …) are what filters are written over."""
    if not predicates:
        return []
    import numpy as np

    from mmvc.catalog import rows

    index = {e.path: i for i, e in enumerate(entries)}
    out = []
    for p in predicates:
        m = np.zeros(len(entries), dtype=bool)
        for k in rows(repo, rev=commit, where=p, columns=["key"], allow_ungated=True).column("key").to_pylist():
            i = index.get(k)
            if i is not None:
                m[i] = True
        out.append(m)
    return out


def plan(repo, recipe) -> Plan:
    """The samples ``recipe`` stands for, in order. Raises when the filter or a component
    selects nothing: an empty export is never what anyone meant."""
    commit = repo.read_commit(recipe.commit)
    entries = list(repo.tree.iter_entries(commit.tree))
    preds = ([recipe.filter] if recipe.filter else []) + [c.where for c in recipe.mix]
    masks = _masks(repo, recipe.commit, entries, preds)
    if not masks:  # no filter and no mixture: every item once, and no need for numpy
        pools = [list(range(len(entries)))]
        keep = None
        selected = len(entries)
    else:
        import numpy as np

        keep = masks.pop(0) if recipe.filter else np.ones(len(entries), dtype=bool)
        selected = int(keep.sum())
    if selected == 0:
        what = f"filter {recipe.filter!r}" if recipe.filter else "the version"
        raise BadInputError(f"{what} selects no items of {recipe.rev or recipe.commit[:12]} ({len(entries)} items)",
                            "check the filter against `mmvc ls-files REV -l`; string values need single quotes")
    uncovered = 0
    if recipe.mix:
        assert keep is not None  # a mixture has masks
        free = keep.copy()
        pools = []
        for _c, m in zip(recipe.mix, masks):
            take = m & free
            free &= ~take
            pools.append(np.flatnonzero(take).tolist())
        uncovered = int(free.sum())
        weights = [c.weight for c in recipe.mix]
        labels = [c.where for c in recipe.mix]
    else:
        if keep is not None:
            pools = [np.flatnonzero(keep).tolist()]
        weights = [1.0]
        labels = [recipe.filter or "TRUE"]
    for lab, pool in zip(labels, pools):
        if len(pool) == 0:
            raise BadInputError(f"mixture component {lab!r} selects no items" + (f" that the filter {recipe.filter!r} keeps" if recipe.filter else ""),
                                "fix its predicate, or drop it from --mix (a component that an earlier one covers selects nothing)")
    total = recipe.epoch_size if recipe.epoch_size is not None else int(sum(len(p) for p in pools))
    if total <= 0:
        raise BadInputError(f"epoch size {total} is not positive", "give --epoch-size a positive number of samples")
    shares = apportion(total, weights)
    drawn = []
    comps = []
    for ci, (pool, n) in enumerate(zip(pools, shares)):
        comp = -1 if not recipe.mix else ci
        got = 0
        rnd = 0
        while got < n:
            # a whole round needs no pool order: the final order is by the "order" key alone
            order = pool if n - got >= len(pool) else sorted(pool, key=lambda i: _key(recipe.seed, "pool", comp, rnd, entries[i].path))
            for i in order[: n - got]:
                e = entries[i]
                drawn.append(Sample(e.path, e.oid, e.size, e.modality, e.flags, e.meta, comp, rnd))
            got += min(len(order), n - got)
            rnd += 1
        comps.append({"where": labels[ci], "weight": weights[ci], "pool": int(len(pool)), "samples": int(n)})
    drawn.sort(key=_order_key(recipe.seed))
    return Plan(drawn, len(entries), selected, comps, uncovered)


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` by ``weights``: floors first, then the largest remainders (ties: first)."""
    s = float(sum(weights))
    exact = [total * w / s for w in weights]
    base = [int(x) for x in exact]
    left = total - sum(base)
    for i in sorted(range(len(weights)), key=lambda i: (-(exact[i] - base[i]), i))[:left]:
        base[i] += 1
    return base
