"""``mmvc recipe``: name an immutable selection of a version (filter, mixture, seed, epoch size)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.errors import BadInputError
from mmvc.export.recipe import build_recipe, resolve_recipe


@dataclass
class RecipeInfo:
    name: str
    oid: str
    commit: str
    rev: str
    filter: str | None
    mix: list  # [{"where", "weight"}]
    seed: int
    epoch_size: int | None
    gate: str = ""  # the commit's gate mode
    components: list = field(default_factory=list)  # per component: where, weight, pool, samples
    items: int = 0  # items of the version
    selected: int = 0  # items the filter keeps
    samples: int = 0  # samples per epoch
    uncovered: int = 0  # selected items that no mixture component selects (never drawn)


def _info(repo, name: str, oid: str, r, p=None) -> RecipeInfo:
    info = RecipeInfo(name, oid, r.commit, r.rev, r.filter, [c.to_json() for c in r.mix], r.seed, r.epoch_size)
    try:
        info.gate = repo.read_commit(r.commit).gate.mode
    except Exception:
        info.gate = "missing"
    if p is not None:
        info.components, info.items, info.selected, info.samples = p.components, p.items, p.selected, len(p.samples)
        info.uncovered = p.uncovered
    return info


def create_recipe(repo, name: str, rev: str = "HEAD", where: str | None = None, mix: str | None = None, seed: int = 0,
                  epoch_size: int | None = None, force: bool = False, allow_ungated: bool = False) -> RecipeInfo:
    """Check the recipe selects something (every component too), store it, point the ref at it."""
    from mmvc.core.refs import check_ref_name
    from mmvc.export.recipe import REF_PREFIX
    from mmvc.export.selection import plan
    from mmvc.services.signature import signature
    from mmvc.services.gate import require_gated

    check_ref_name(name, "recipe")
    r = build_recipe(repo, rev, where, mix, seed, epoch_size)
    require_gated(repo, r.commit, rev, allow_ungated, "recipes")
    p = plan(repo, r)
    ref = REF_PREFIX + name
    with repo.locked("recipe"):
        old = repo.refs.read(ref)
        if old is not None and not force:
            raise BadInputError(f"recipe {name!r} already exists ({old[:12]})",
                                "recipes are immutable: pick another name, or pass --force to point the name at the new recipe")
        with repo.store.writer(durable=True) as w:
            oid = w.put_bytes(r.encode())
        who = signature(repo, "COMMITTER")
        repo.refs.update(ref, oid, old, f"recipe: {name}", who.who)
    return _info(repo, name, oid, r, p)


def show_recipe(repo, name: str, stats: bool = False) -> RecipeInfo:
    from mmvc.export.selection import plan

    n, oid, r = resolve_recipe(repo, name)
    return _info(repo, n, oid, r, plan(repo, r) if stats else None)


def list_recipes(repo) -> list[RecipeInfo]:
    from mmvc.export.recipe import REF_PREFIX, Recipe

    out = []
    for ref, oid in repo.refs.list(REF_PREFIX).items():
        out.append(_info(repo, ref[len(REF_PREFIX):], oid, Recipe.decode(repo.store.get(oid), oid)))
    return out


def delete_recipe(repo, name: str) -> RecipeInfo:
    from mmvc.export.recipe import REF_PREFIX

    n, oid, r = resolve_recipe(repo, name)
    with repo.locked("recipe"):
        repo.refs.delete(REF_PREFIX + n, oid)
    return _info(repo, n, oid, r)
