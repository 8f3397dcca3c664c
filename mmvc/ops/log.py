"""``mmvc log``: history in topological order (children before parents, newest first among
the commits that are free to be shown), optionally from every ref, with a column graph."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class LogEntry:
    oid: str
    parents: tuple[str, ...]
    author: str
    email: str
    time: int
    tz: int
    message: str
    gate: str
    refs: tuple[str, ...] = ()
    graph: str = ""
    evals: dict | None = None  # with ``evals=True``: eval name -> mmvc.ops.eval.EvalSummary


def _entry(oid, c, refs=()) -> LogEntry:
    return LogEntry(oid, c.parents, c.author.name, c.author.email, c.committer.time, c.committer.tz, c.message, c.gate.mode, refs)


def log(repo, rev: str = "HEAD", max_count: int | None = None, all_refs: bool = False, graph: bool = False,
        evals: bool = False) -> Iterator[LogEntry]:
    starts = [repo.resolve(rev)] if not all_refs else []
    decorations: dict[str, list[str]] = {}
    if all_refs or graph:
        branch, head = repo.head()
        for ref in {**repo.refs.list("refs/heads"), **repo.refs.list("refs/tags")}:
            peeled = repo.resolve(ref)
            decorations.setdefault(peeled, []).append(ref.split("/", 2)[-1] if ref.startswith("refs/heads/") else "tag: " + ref.split("/", 2)[-1])
            if all_refs:
                starts.append(peeled)
        if head and all_refs:
            starts.append(head)
    if not starts:
        return iter(())
    entries = _topo(repo, starts, decorations)
    if graph:
        entries = _with_graph(entries)
    if max_count is not None:
        import itertools

        entries = itertools.islice(entries, max_count)
    if evals:
        entries = _with_evals(repo, entries)
    return entries


def _with_evals(repo, entries) -> Iterator[LogEntry]:
    """Each entry with its evals summarised, all shown versions at once (through the summary cache)."""
    from mmvc.ops.eval import summaries_of

    shown = list(entries)
    sums = summaries_of(repo, [e.oid for e in shown])
    for e in shown:
        e.evals = sums.get(e.oid, {})
        yield e


def _topo(repo, starts: list[str], decorations: dict) -> Iterator[LogEntry]:
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
        yield _entry(oid, c, tuple(decorations.get(oid, ())))
        for p in c.parents:
            children[p] -= 1
            if children[p] == 0:
                heapq.heappush(heap, (-commits[p].committer.time, order, p))
                order += 1


def _with_graph(entries) -> Iterator[LogEntry]:
    """A column per line of descent: '*' marks the commit, '|' the lines passing by; a merge
    opens a column for its second parent, and columns that reach the same commit join."""
    columns: list[str] = []
    for e in entries:
        if e.oid not in columns:
            columns.append(e.oid)
        col = columns.index(e.oid)
        for i in reversed([i for i, c in enumerate(columns) if c == e.oid and i != col]):
            columns.pop(i)  # lines of descent that reach this commit join here
        e.graph = " ".join("*" if i == col else "|" for i in range(len(columns)))
        yield e
        if not e.parents:
            columns.pop(col)
            continue
        columns[col] = e.parents[0]
        for p in e.parents[1:]:
            if p not in columns:
                columns.insert(col + 1, p)
