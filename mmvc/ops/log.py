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
    graph: str = ""  # the commit's row of the graph: '*' on its column, '|' on the others
    connectors: tuple[str, ...] = ()  # rows drawn above it: '\\' where a merge forks, '/' where lines join
    graph_below: str = ""  # the lines that pass by under the commit (the prefix of its message rows)
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
    """A column per line of descent, Git's way: '*' marks the commit and '|' the lines passing
    by; a merge forks a column for each further parent ('\\' on the row under it), and columns
    that reach the same commit join into the leftmost ('/' on the row above it). Column i is
    drawn at character 2i, so a connector sits between the two columns it links."""
    columns: list[str] = []
    fork: int | None = None  # the column of a merge that opened columns, drawn under it
    for e in entries:
        connectors = []
        if fork is not None:
            connectors.append(_fork_row(len(columns), fork))
            fork = None
        if e.oid not in columns:
            columns.append(e.oid)
        col = columns.index(e.oid)
        joining = [i for i, c in enumerate(columns) if c == e.oid and i != col]
        if joining:
            connectors.append(_join_row(len(columns), joining))
            for i in reversed(joining):
                columns.pop(i)
        e.connectors = tuple(connectors)
        e.graph = " ".join("*" if i == col else "|" for i in range(len(columns)))
        if e.parents:
            columns[col] = e.parents[0]
        else:
            columns.pop(col)
        e.graph_below = " ".join("|" for _ in columns)  # a merge's own rows come before its fork
        opened = 0
        for p in e.parents[1:]:
            if p not in columns:
                opened += 1
                columns.insert(col + opened, p)
        if opened:
            fork = col
        yield e


def _fork_row(width: int, col: int) -> str:
    row = [" "] * (2 * width - 1)
    for i in range(width):
        if i <= col:
            row[2 * i] = "|"
        else:
            row[2 * i - 1] = "\\"  # a new column, or one pushed right by it
    return "".join(row).rstrip()


def _join_row(width: int, joining: list[int]) -> str:
    row = [" "] * (2 * width - 1)
    shift = 0
    for i in range(width):
        if i in joining:
            shift += 1
            row[2 * i - 1] = "/"
        elif shift:
            row[2 * i - 1] = "/"  # pulled left into the place of a joined column
        else:
            row[2 * i] = "|"
    return "".join(row).rstrip()
