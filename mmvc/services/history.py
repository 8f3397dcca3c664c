"""The shape of history: commits in topological order, ancestry, merge bases.

``log`` prints this walk, ``merge`` and ``push`` ask it for a merge base (is the other side an
ancestor? a fast-forward?), and ``branch -d`` whether a branch is merged.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


def topological(repo, starts: list[str]) -> Iterator[tuple[str, object]]:
    """(id, Commit) of every commit reachable from ``starts``, children before parents, newest
    first among the commits free to come next (git's ``--topo-order`` with commit dates)."""
    commits = {}
    children: dict[str, int] = {}
    stack = list(dict.fromkeys(starts))
    while stack:
        oid = stack.pop()
        if oid in commits:
            continue
        c = commits[oid] = repo.read_commit(oid)
        children.setdefault(oid, 0)
        for p in c.parents:
            children[p] = children.get(p, 0) + 1
            stack.append(p)
    order = 0
    heap: list[tuple[int, int, str]] = []
    for oid, n in children.items():
        if n == 0:
            heapq.heappush(heap, (-commits[oid].committer.time, order, oid))
            order += 1
    while heap:
        _, _, oid = heapq.heappop(heap)
        c = commits[oid]
        yield oid, c
        for p in c.parents:
            children[p] -= 1
            if children[p] == 0:
                heapq.heappush(heap, (-commits[p].committer.time, order, p))
                order += 1


def merge_base(repo, a: str, b: str) -> str | None:
    """A best common ancestor: the newest commit reachable from both."""
    ancestors_a = {oid for oid, _ in topological(repo, [repo.resolve(a)])}
    for oid, _ in topological(repo, [repo.resolve(b)]):
        if oid in ancestors_a:
            return oid
    return None


def is_ancestor(repo, oid: str, of: str) -> bool:
    """Whether commit ``oid`` is reachable from commit ``of`` (``of`` itself included)."""
    return any(o == oid for o, _ in topological(repo, [repo.resolve(of)]))
