"""Want/have negotiation: the objects one side must send so the other can hold the wanted tips.

The commit walk stops at commits the receiver already has (for a push: everything reachable
from the remote's refs that we know of; for a fetch: commits already stored locally, which
are only ever stored after everything they reach). The tree walk then runs level by level
from the top over the wanted trees *and* the trees the receiver has: a node id present on both
sides cancels out and is never read, so the cost follows the change, not the dataset. Blobs
named by wanted leaves and not by the receiver's differing leaves are sent.

Reads go through ``read_want`` / ``read_have`` (batch: list of ids → {id: bytes}) so the same
walk serves a push (both sides read locally) and a fetch (wanted objects come from the remote,
a level at a time, in few ranged reads).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mmvc.core.objects import COMMIT, EVAL, NODE, RECIPE, TAG, TRAINING_RUN, kind_of
from mmvc.errors import CorruptError

TIPS = (COMMIT, TAG, RECIPE, EVAL, TRAINING_RUN)  # what a ref, a parent, a tag's target or a record's link may name

NODE_LEVEL_OFFSET = 7  # "MMVN" u16 version u8 kind u8 level


@dataclass
class Plan:
    """What the receiver lacks. ``origin`` maps every object to a version (commit id) that needs it,
    so a missing or corrupt object can be reported with what it breaks."""

    commits: list[str] = field(default_factory=list)  # newest first (walk order)
    tags: list[str] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)  # recipe objects (each names one commit)
    records: list[str] = field(default_factory=list)  # eval and training-run objects (a commit and the records they link)
    others: list[str] = field(default_factory=list)  # process reports, dedup-features objects
    nodes: list[str] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)  # id -> size as the manifest records it
    origin: dict[str, str] = field(default_factory=dict)
    data: dict[str, bytes] = field(default_factory=dict)  # commits, tags and recipes read on the way (stored last by a fetch)

    @property
    def structural(self) -> list[str]:
        return self.nodes + self.others + self.commits + self.tags + self.recipes + self.records


def plan_transfer(read_want, read_have, want_tips: list[str], is_have_commit, have_commit_tree, extra_have_trees=(),
                  with_blobs: bool = True, keep_data: bool = False) -> Plan:
    """Walk from ``want_tips`` (commit, tag or recipe ids) down to what the receiver lacks."""
    from mmvc.core.manifest import decode_node
    from mmvc.core.objects import Commit, Tag, recipe_commit

    plan = Plan()
    seen: set[str] = set()
    want_roots: dict[str, str] = {}  # tree id -> commit
    have_roots: set[str] = set(t for t in extra_have_trees if t)
    frontier = [t for t in want_tips if t]
    while frontier:
        batch = []
        for o in frontier:
            if o not in seen and not is_have_commit(o):
                seen.add(o)
                batch.append(o)
        frontier = []
        if not batch:
            break
        got = read_want(batch, plan)
        for oid in batch:
            data = got[oid]
            kind = kind_of(data, TIPS + (NODE,))
            if kind in (TAG, RECIPE):  # both name one object to follow
                (plan.tags if kind == TAG else plan.recipes).append(oid)
                if keep_data:
                    plan.data[oid] = data
                target = Tag.decode(data, oid).object if kind == TAG else recipe_commit(data, oid)
                plan.origin.setdefault(target, plan.origin.get(oid, oid))
                frontier.append(target)
            elif kind in (EVAL, TRAINING_RUN):
                plan.records.append(oid)
                if keep_data:
                    plan.data[oid] = data
                for target in _named(kind, data, oid):
                    plan.origin.setdefault(target, plan.origin.get(oid, oid))
                    frontier.append(target)
            elif kind == COMMIT:
                c = Commit.decode(data, oid)
                plan.commits.append(oid)
                if keep_data:
                    plan.data[oid] = data
                want_roots.setdefault(c.tree, oid)
                plan.origin.setdefault(c.tree, oid)
                if c.gate.report:
                    plan.others.append(c.gate.report)
                    plan.origin.setdefault(c.gate.report, oid)
                if c.gate.dedup:  # the dedup index's rows for this commit's items travel with it
                    plan.others.append(c.gate.dedup)
                    plan.origin.setdefault(c.gate.dedup, oid)
                for p in c.parents:
                    if is_have_commit(p):
                        have_roots.add(have_commit_tree(p))
                    else:
                        plan.origin.setdefault(p, p)
                        frontier.append(p)
            elif kind == NODE:
                want_roots.setdefault(oid, plan.origin.get(oid, oid))
            else:
                raise CorruptError(f"object {oid} is named as a version but is not a commit, tag or recipe",
                                   "run `mmvc fsck` where it came from")
    _walk_trees(plan, read_want, read_have, want_roots, have_roots, with_blobs, decode_node)
    plan.others = list(dict.fromkeys(plan.others))
    return plan


def _named(kind: str, data: bytes, oid: str) -> list[str]:
    """What an eval or a training-run record needs beside it: its commit, then the records it links."""
    from mmvc.core.evals import Eval
    from mmvc.core.training_runs import TrainingRun

    obj = Eval.decode(data, oid) if kind == EVAL else TrainingRun.decode(data, oid)
    return [obj.commit, *obj.linked()]


def _walk_trees(plan: Plan, read_want, read_have, want_roots: dict[str, str], have_roots: set[str], with_blobs: bool, decode_node) -> None:
    want_lv: dict[int, dict[str, str]] = defaultdict(dict)  # level -> node id -> commit
    have_lv: dict[int, set[str]] = defaultdict(set)
    want_data: dict[str, bytes] = {}
    have_data: dict[str, bytes] = {}
    have_blobs: set[bytes] = set()

    def place_have(ids):
        ids = [i for i in ids if i not in have_data]
        for oid, data in read_have(ids).items():
            have_data[oid] = data
            have_lv[data[NODE_LEVEL_OFFSET]].add(oid)

    def place_want(ids: dict[str, str], cancel: set[str]):
        todo = [i for i in ids if i not in cancel and i not in want_data]
        for i in todo:  # known before the read, so a refused node can name the version it is for
            plan.origin.setdefault(i, ids[i])
        got = read_want(todo, plan) if todo else {}
        for oid in ids:
            if oid in cancel:
                continue
            data = got.get(oid) or want_data.get(oid)
            assert data is not None  # read_want returns every id it is asked for
            want_data[oid] = data
            want_lv[data[NODE_LEVEL_OFFSET]].setdefault(oid, ids[oid])

    place_have(list(have_roots))
    place_want(want_roots, set(have_data))
    done: set[str] = set()
    while want_lv:
        level = max(want_lv)
        wants = want_lv.pop(level)
        while have_lv and max(have_lv) > level:  # a taller have tree: open it down to this level
            for oid in have_lv.pop(max(have_lv)):
                node = decode_node(have_data[oid], oid)
                place_have([it[1].hex() for it in node.items])
        haves = have_lv.pop(level, set())
        # Expand the have side first, so wanted children it already holds are never read.
        have_children: list[str] = []
        for oid in haves - wants.keys():
            node = decode_node(have_data.pop(oid), oid)
            if node.is_leaf:
                have_blobs.update(it[1] for it in node.items)
            else:
                have_children.extend(it[1].hex() for it in node.items)
        place_have(have_children)
        next_want: dict[str, str] = {}
        for oid, origin in wants.items():
            if oid in haves or oid in done:
                continue
            done.add(oid)
            plan.nodes.append(oid)
            plan.origin.setdefault(oid, origin)
            data = want_data.pop(oid)
            if not with_blobs and data[NODE_LEVEL_OFFSET] == 0:
                continue  # a leaf names only blobs, and blobs stay behind
            node = decode_node(data, oid)
            if node.is_leaf:
                if with_blobs:
                    for it in node.items:
                        if it[1] not in have_blobs:
                            b = it[1].hex()
                            if b not in plan.blobs:
                                plan.blobs[b] = it[2]
                                plan.origin.setdefault(b, origin)
            else:
                for it in node.items:
                    next_want.setdefault(it[1].hex(), origin)
        if with_blobs and have_blobs:
            for b in [b for b in plan.blobs if bytes.fromhex(b) in have_blobs]:
                del plan.blobs[b]
        cancel = set(have_data) | done
        place_want(next_want, cancel)


def ancestors(read_local, tips, limit: int = 1_000_000) -> set[str]:
    """Every commit reachable from ``tips`` that is stored locally (tags, recipes, evals and
    training-run records peeled)."""
    from mmvc.core.objects import Commit, Tag, recipe_commit

    out: set[str] = set()
    todo = [t for t in tips if t]
    while todo and len(out) < limit:
        oid = todo.pop()
        if oid in out:
            continue
        data = read_local(oid)
        if data is None:
            continue
        kind = kind_of(data, TIPS)
        out.add(oid)
        if kind == COMMIT:
            todo.extend(Commit.decode(data, oid).parents)
        elif kind == TAG:
            todo.append(Tag.decode(data, oid).object)
        elif kind == RECIPE:
            todo.append(recipe_commit(data, oid))
        elif kind in (EVAL, TRAINING_RUN):
            todo.extend(_named(kind, data, oid))
    return out

