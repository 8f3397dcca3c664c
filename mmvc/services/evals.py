"""Evals and training-run records in a repository: the one module that reads and writes their
refs and objects, and that summarises a version's evals.

Evals live under ``refs/evals/<commit>/<eval id>`` and training runs under ``refs/runs/<name>``
(``mmvc.core.layout``; object formats in ``mmvc.core.evals`` and ``mmvc.core.training_runs``).
The per-version summary here (mean and spread over the runs of one eval name) is the one
formula ``log --evals``, ``diff --md/--json``, ``eval compare``, ``lineage`` and the datasheet
all show. Many versions at once go through the summary cache (``cache/eval-summaries.bin``,
derived data keyed by the exact set of evals it summarises, safe to delete).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
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
    metrics: Mapping[str, MetricStat]  # a dict, or read lazily from the cache (``PackedStats``)
    better: dict

    def means(self, limit: int | None = None) -> list[tuple[str, float]]:
        """(metric, mean) of the first ``limit`` metrics, without building their ``MetricStat``
        where they come from the cache (a line of ``log --evals``)."""
        if isinstance(self.metrics, PackedStats):
            return self.metrics.means(limit)
        return [(m, st.mean) for m, st in islice(self.metrics.items(), limit)]


# -- evals


def eval_ids(repo, commit: str | None = None) -> list[tuple[str, str]]:
    """(commit, eval id) of every eval (of ``commit``), from the ref names alone."""
    from mmvc.core.evals import parse_eval_ref

    prefix = EVALS + commit if commit else EVALS.rstrip("/")
    return [p for p in map(parse_eval_ref, repo.refs.names(prefix)) if p is not None]


def evals_by_commit(repo) -> dict[str, list[str]]:
    """Commit → the ids of its evals (sorted), for every evaluated version: one folder listing per
    version, the names checked as ``parse_eval_ref`` does (``log --evals`` lists ten thousand)."""
    import os

    from mmvc.core.evals import is_hex_id, is_hex_id_run

    out: dict[str, list[str]] = {}
    try:
        folders = os.scandir(repo.layout.ref(EVALS.rstrip("/")))
    except (FileNotFoundError, NotADirectoryError):
        return out
    with folders:
        for d in folders:
            if not is_hex_id(d.name):
                continue
            try:
                names = os.listdir(d.path)
            except (NotADirectoryError, FileNotFoundError):
                continue
            ids = [n for n in names if len(n) == 64]
            if not is_hex_id_run("".join(ids)):  # one check for the whole folder; per name only when it fails
                ids = [n for n in ids if is_hex_id(n)]
            ids.sort()
            if ids:
                out[d.name] = ids
    return dict(sorted(out.items()))


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
CACHE_FORMAT = 3  # 3: every number in one block of doubles, metric lists and hints shared


class PackedStats(Mapping[str, MetricStat]):
    """The metrics of one summary read from the cache: each ``MetricStat`` is made when it is
    read, so ``log --evals`` over a thousand versions builds only what it shows."""

    __slots__ = ("_names", "_nums", "_start", "_at")

    def __init__(self, names: list[str], nums, start: int):  # nums: array("d") of the whole cache
        self._names, self._nums, self._start = names, nums, start
        self._at: dict[str, int] | None = None

    def _offsets(self) -> dict[str, int]:
        if self._at is None:
            at, i, nums = {}, self._start, self._nums
            for m in self._names:
                at[m] = i
                i += 3 + int(nums[i + 2])
            self._at = at
        return self._at

    def __getitem__(self, metric: str) -> MetricStat:
        i, nums = self._offsets()[metric], self._nums
        n = int(nums[i + 2])
        return MetricStat(nums[i], nums[i + 1], n, nums[i + 3:i + 3 + n].tolist())

    def means(self, limit: int | None = None) -> list[tuple[str, float]]:
        out, i, nums = [], self._start, self._nums
        for m in self._names[:limit]:
            out.append((m, nums[i]))
            i += 3 + int(nums[i + 2])
        return out

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __deepcopy__(self, memo) -> dict[str, dict]:
        """``dataclasses.asdict`` (JSON output) deep-copies what is not a dict: it gets what it
        makes of a dict of ``MetricStat``."""
        from dataclasses import asdict

        return {m: asdict(st) for m, st in self.items()}


def _ids_key(ids: list[str]) -> str:
    from mmvc.core.hashing import hash_bytes

    return hash_bytes("".join(sorted(ids)).encode())


def _read_cache(path: str) -> dict[str, tuple[str, dict[str, EvalSummary]]]:
    """Commit → (key, summaries) from the cache file (a JSON line, then the numbers as
    little-endian doubles); empty when it is absent, of another format, or damaged (its numbers
    no longer hash to the digest it records)."""
    import json
    import sys
    from array import array

    from mmvc.core.hashing import hash_bytes

    try:
        with open(path, "rb") as f:
            data = f.read()
        end = data.index(b"\n")
        doc = json.loads(data[:end])
        if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
            return {}
        raw = memoryview(data)[end + 1:]
        if hash_bytes(raw) != doc["digest"]:
            return {}
        nums = array("d")
        nums.frombytes(raw)
        if sys.byteorder == "big":
            nums.byteswap()
        lists, hints = doc["metrics"], doc["better"]
        return {c: (key, {name: EvalSummary(name, runs, PackedStats(lists[mi], nums, at), hints[bi]) for name, runs, mi, bi, at in evals})
                for c, (key, evals) in doc["versions"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return {}


def _write_cache(path: str, entries: dict[str, tuple[str, dict[str, EvalSummary]]]) -> None:
    import json
    import os
    import sys
    from array import array

    from mmvc.core.atomicfile import atomic_write
    from mmvc.core.hashing import hash_bytes

    a = array("d")
    lists: dict[tuple, int] = {}
    hints: dict[str, int] = {}
    versions = {}
    for c, (key, sums) in entries.items():
        row = []
        for name, s in sums.items():
            mi = lists.setdefault(tuple(s.metrics), len(lists))
            bi = hints.setdefault(json.dumps(s.better, sort_keys=True), len(hints))
            row.append([name, s.runs, mi, bi, len(a)])
            for st in s.metrics.values():
                a.extend((st.mean, st.spread, float(st.runs)))
                a.extend(st.values)
        versions[c] = [key, row]
    if sys.byteorder == "big":
        a.byteswap()
    raw = a.tobytes()
    doc = {"format": CACHE_FORMAT, "metrics": [list(n) for n in lists], "better": [json.loads(h) for h in hints],
           "versions": versions, "digest": hash_bytes(raw)}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, [json.dumps(doc, separators=(",", ":")).encode(), b"\n", raw], fsync=False)
    except OSError:
        pass  # a cache that cannot be written is only a slower next read


def _cached_summaries(repo, by_commit: dict[str, list[str]], every: dict[str, list[str]]) -> dict[str, dict[str, EvalSummary]]:
    path = repo.layout.eval_summaries
    cache = _read_cache(path)
    out: dict[str, dict[str, EvalSummary]] = {}
    dirty = False
    for c, ids in by_commit.items():
        key = _ids_key(ids)
        hit = cache.get(c)
        if hit is not None and hit[0] == key:
            out[c] = hit[1]
            continue
        out[c] = summarize(e for _, e in read_evals(repo, ids))
        cache[c] = (key, out[c])
        dirty = True
    if dirty:
        _write_cache(path, {c: v for c, v in cache.items() if c in every})  # versions whose evals are gone drop out
    return out
