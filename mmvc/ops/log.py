"""``mmvc log``: history in topological order (children before parents, newest first among
the commits that are free to be shown), optionally from every ref, with a column graph."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mmvc.core.layout import HEADS, TAGS, short_ref
from mmvc.services.history import topological


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
    evals: dict | None = None  # with ``evals=True``: eval name -> mmvc.services.evals.EvalSummary


def _entry(oid, c, refs=()) -> LogEntry:
    return LogEntry(oid, c.parents, c.author.name, c.author.email, c.committer.time, c.committer.tz, c.message, c.gate.mode, refs)


def log(repo, rev: str = "HEAD", max_count: int | None = None, all_refs: bool = False, graph: bool = False,
        evals: bool = False) -> Iterator[LogEntry]:
    starts = [repo.resolve(rev)] if not all_refs else []
    decorations: dict[str, list[str]] = {}
    if all_refs or graph:
        branch, head = repo.head()
        for ref in {**repo.refs.list(HEADS), **repo.refs.list(TAGS)}:
            peeled = repo.resolve(ref)
            decorations.setdefault(peeled, []).append(short_ref(ref) if ref.startswith(HEADS) else "tag: " + short_ref(ref))
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
    from mmvc.services.evals import summaries_of

    shown = list(entries)
    sums = summaries_of(repo, [e.oid for e in shown])
    for e in shown:
        e.evals = sums.get(e.oid, {})
        yield e


def _topo(repo, starts: list[str], decorations: dict) -> Iterator[LogEntry]:
    for oid, c in topological(repo, starts):
        yield _entry(oid, c, tuple(decorations.get(oid, ())))


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
