"""Evals and training-run records in a repository: the one module that reads and writes their
refs and objects, and that summarises a version's evals.

Evals live under ``refs/evals/<commit>/<eval id>`` and training runs under ``refs/runs/<name>``
(``mmvc.core.layout``; object formats in ``mmvc.core.evals`` and ``mmvc.core.training_runs``).
The per-version summary here (mean and spread over the runs of one eval name) is the one
formula ``log --evals``, ``diff --md/--json``, ``eval compare``, ``lineage`` and the datasheet
all show. Many versions at once go through the summary cache (``cache/eval-summaries.json``,
derived data keyed by the exact set of evals it summarises, safe to delete).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmvc.core.layout import EVALS, RUNS, run_ref

if TYPE_CHECKING:
    from mmvc.core.evals import Eval
    from mmvc.core.training_runs import TrainingRun


@dataclass
class MetricStat:
    """One metric of one eval name on one version, over its runs."""

    mean: float
    spread: float  # sample standard deviation over the runs (0 for one run)
    runs: int
    values: list = field(default_factory=list)


@dataclass
class EvalSummary:
    """All evals of one name on one version (``log --evals``, the datasheet)."""

    name: str
    runs: int
    metrics: dict[str, MetricStat]
    better: dict


# -- evals


def eval_ids(repo, commit: str | None = None) -> list[tuple[str, str]]:
    """(commit, eval id) of every eval (of ``commit``), from the ref names alone."""
    from mmvc.core.evals import parse_eval_ref

    prefix = EVALS + commit if commit else EVALS.rstrip("/")
    return [p for p in map(parse_eval_ref, repo.refs.names(prefix)) if p is not None]


def evals_by_commit(repo) -> dict[str, list[str]]:
    """Commit → the ids of its evals, for every evaluated version."""
    out: dict[str, list[str]] = {}
    for c, o in eval_ids(repo):
        out.setdefault(c, []).append(o)
    return out


def read_evals(repo, ids: Iterable[str]) -> list[tuple[str, Eval]]:
    """(id, Eval) of each stored eval, in the order given."""
    from mmvc.core.evals import Eval

    get = repo.store.get
    return [(o, Eval.decode(get(o), o)) for o in ids]


def write_eval(repo, e: Eval, who: str) -> tuple[str, bool]:
    """Store ``e`` and name it; (its id, False when the same eval was already recorded). The
    object is durable before its ref exists."""
    data, ref = e.encode(), e.ref
    oid = ref.rsplit("/", 1)[1]
    with repo.locked("eval"):
        if repo.refs.read(ref) == oid:
            return oid, False
        with repo.store.writer(durable=True) as w:
            w.put_bytes(data)
        repo.refs.update(ref, oid, None, f"eval: {e.name}", who)
    return oid, True


# -- training runs


def run_names(repo) -> dict[str, str]:
    """Run name → the id of its newest record."""
    return {ref[len(RUNS):]: tip for ref, tip in repo.refs.list(RUNS.rstrip("/")).items()}


def run_tip(repo, name: str) -> str | None:
    """The newest record of run ``name``, or None when no run has that name."""
    return repo.refs.read(run_ref(name))


def read_run(repo, oid: str) -> TrainingRun:
    from mmvc.core.training_runs import TrainingRun

    return TrainingRun.decode(repo.store.get(oid), oid)


def run_chain(get: Callable[[str], bytes | None], tip: str, limit: int | None = None) -> Iterator[tuple[str, TrainingRun]]:
    """(id, record) from ``tip`` back to the run's first record; ``get`` reads an object's bytes
    (None when it is not here, which ends the walk)."""
    from mmvc.core.training_runs import TrainingRun

    oid: str | None = tip
    n = 0
    while oid and (limit is None or n < limit):
        data = get(oid)
        if data is None:
            return
        rec = TrainingRun.decode(data, oid)
        yield oid, rec
        oid, n = rec.previous, n + 1


def run_follows(get: Callable[[str], bytes | None], newer: str, older: str) -> bool:
    """Whether ``older`` is in the chain that ends at ``newer`` (a run's ref only moves forward)."""
    return any(oid == older for oid, _ in run_chain(get, newer))


def append_run(repo, rec: TrainingRun, expected: str | None, message: str) -> str:
    """Store record ``rec`` of run ``rec.name`` and move the run's ref to it from ``expected``
    (compare-and-swap; the record is durable first). Raises LockedError while another writer
    holds the repository."""
    with repo.locked(f"run {rec.name}"):
        with repo.store.writer(durable=True) as w:
            oid = w.put_bytes(rec.encode())
        repo.refs.update(run_ref(rec.name), oid, expected, message, rec.author.who)
    return oid


# -- summaries


def _stat(values: list[float]) -> MetricStat:
    n = len(values)
    if n == 1:
        return MetricStat(values[0], 0.0, 1, values)
    mean = math.fsum(values) / n
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return MetricStat(mean, spread, n, list(values))


def summarize(evals: Iterable[Eval]) -> dict[str, EvalSummary]:
    """Eval name → its runs' mean and spread per metric (evals in time order: the newest hint wins)."""
    runs: dict[str, int] = {}
    values: dict[str, dict[str, list[float]]] = {}
    better: dict[str, dict] = {}
    for e in sorted(evals, key=lambda e: e.author.time):
        runs[e.name] = runs.get(e.name, 0) + 1
        per = values.setdefault(e.name, {})
        for k, v in e.metrics.items():
            per.setdefault(k, []).append(v)
        better.setdefault(e.name, {}).update(e.better)
    return {n: EvalSummary(n, runs[n], {k: _stat(v) for k, v in sorted(values[n].items())}, better[n]) for n in sorted(values)}


def summaries_of(repo, commits: Iterable[str]) -> dict[str, dict[str, EvalSummary]]:
    """commit → eval name → summary, for the commits that have evals (one listing of the names).
    Many versions at once (``log --evals``) go through the summary cache."""
    wanted = set(commits)
    if len(wanted) < CACHE_FROM:  # a few versions: their folders only
        by_commit = {c: [o for _, o in eval_ids(repo, c)] for c in wanted}
        return {c: summarize(e for _, e in read_evals(repo, ids)) for c, ids in by_commit.items() if ids}
    every = evals_by_commit(repo)
    by_commit = {c: ids for c, ids in every.items() if c in wanted}
    if len(by_commit) < CACHE_FROM:
        return {c: summarize(e for _, e in read_evals(repo, ids)) for c, ids in by_commit.items()}
    return _cached_summaries(repo, by_commit, every)


# -- the summary cache

CACHE_FROM = 32  # versions per call from which reading the cache beats reading the evals
CACHE_FORMAT = 2  # 2: numbers packed as doubles


def _pack_stats(stats) -> str:
    """Each metric's mean, spread, number of runs and values as little-endian doubles, in base64:
    a cache of a thousand versions parses several times faster than as JSON numbers."""
    import base64
    import sys
    from array import array

    a = array("d")
    for st in stats:
        a.extend((st.mean, st.spread, float(st.runs)))
        a.extend(st.values)
    if sys.byteorder == "big":
        a.byteswap()
    return base64.b64encode(a.tobytes()).decode("ascii")


def _unpack_stats(names: list[str], packed: str) -> dict[str, MetricStat]:
    import base64
    import sys
    from array import array

    a = array("d")
    a.frombytes(base64.b64decode(packed))
    if sys.byteorder == "big":
        a.byteswap()
    nums = a.tolist()
    out, i = {}, 0
    for m in names:
        n = int(nums[i + 2])
        out[m] = MetricStat(nums[i], nums[i + 1], n, nums[i + 3:i + 3 + n])
        i += 3 + n
    if i != len(nums):
        raise ValueError("the packed numbers do not match the metrics")
    return out


def _ids_key(ids: list[str]) -> str:
    from mmvc.core.hashing import hash_bytes

    return hash_bytes("".join(sorted(ids)).encode())


def _cached_summaries(repo, by_commit: dict[str, list[str]], every: dict[str, list[str]]) -> dict[str, dict[str, EvalSummary]]:
    import json
    import os

    path = repo.layout.eval_summaries
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        cache = doc["summaries"] if isinstance(doc, dict) and doc.get("format") == CACHE_FORMAT else {}
    except (OSError, ValueError, KeyError):
        cache = {}
    out: dict[str, dict[str, EvalSummary]] = {}
    dirty = False
    for c, ids in by_commit.items():
        key = _ids_key(ids)
        hit = cache.get(c)
        if isinstance(hit, dict) and hit.get("key") == key:
            try:
                out[c] = {n: EvalSummary(n, s["runs"], _unpack_stats(s["metrics"], s["numbers"]), s["better"])
                          for n, s in hit["evals"].items()}
                continue
            except (KeyError, TypeError, ValueError, IndexError):
                pass  # a damaged entry: summarise again
        out[c] = summarize(e for _, e in read_evals(repo, ids))
        cache[c] = {"key": key, "evals": {n: {"runs": s.runs, "better": s.better, "metrics": list(s.metrics),
                                                "numbers": _pack_stats(s.metrics.values())}
                                            for n, s in out[c].items()}}
        dirty = True
    if dirty:
        from mmvc.core.atomicfile import atomic_write

        keep = {c: v for c, v in cache.items() if c in every}  # versions whose evals are gone drop out
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, json.dumps({"format": CACHE_FORMAT, "summaries": keep}, separators=(",", ":")).encode(), fsync=False)
        except OSError:
            pass  # a cache that cannot be written is only a slower next read
    return out
