from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Iterator


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


def log(repo, rev: str = "HEAD", max_count: int | None = None) -> Iterator[LogEntry]:
    """Commits reachable from ``rev``, newest first (by committer time, ties by id)."""
    start = repo.resolve(rev)
    heap = [(0, start)]
    seen = {start}
    n = 0
    while heap and (max_count is None or n < max_count):
        _, oid = heapq.heappop(heap)
        c = repo.read_commit(oid)
        yield LogEntry(oid, c.parents, c.author.name, c.author.email, c.committer.time, c.committer.tz, c.message, c.gate.mode)
        n += 1
        for p in c.parents:
            if p not in seen:
                seen.add(p)
                heapq.heappush(heap, (-repo.read_commit(p).committer.time, p))
