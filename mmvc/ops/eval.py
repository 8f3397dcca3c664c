"""``mmvc eval``: pin a model's results to the version (recipe, export, training run) it was
trained on, and read them back per version, per name, or as deltas between two versions.

Evals are immutable objects under ``refs/evals/<commit>/<eval id>`` (``mmvc.core.evals``). The
per-version summaries here (mean and spread over the runs of one name) are the one formula
``log --evals``, ``diff --md/--json``, ``eval compare`` and the datasheet all show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmvc.errors import BadInputError

if TYPE_CHECKING:
    from mmvc.core.evals import Eval


@dataclass
class EvalInfo:
    id: str
    name: str
    commit: str
    metrics: dict  # metric -> value
    better: dict  # metric -> "higher" | "lower", where known
    model: str | None
    run: str | None
    run_record: str | None
    recipe: str | None
    export: str | None
    notes: str
    author: str
    email: str
    time: int
    tz: int
    created: bool = True  # False: the same eval was already recorded


@dataclass
class MetricStat:
    """One metric of one eval name on one version, over its runs."""

    mean: float
    spread: float  # sample standard deviation over the runs (0 for one run)
    runs: int
    values: list = field(default_factory=list)


@dataclass
class MetricDelta:
    name: str  # eval name
    metric: str
    a: MetricStat | None
    b: MetricStat | None
    delta: float | None  # b.mean - a.mean
    better: str | None  # "higher" | "lower" when known
    verdict: str  # "improved" | "regressed" | "unchanged" | "" (direction unknown, or a side missing)


@dataclass
class EvalSide:
    rev: str
    commit: str
    evals: int


@dataclass
class EvalComparison:
    a: EvalSide
    b: EvalSide
    rows: list[MetricDelta]


@dataclass
class EvalSummary:
    """All evals of one name on one version (``log --evals``, the datasheet)."""

    name: str
    runs: int
    metrics: dict[str, MetricStat]
    better: dict


def _info(oid: str, e, created: bool = True) -> EvalInfo:
    return EvalInfo(oid, e.name, e.commit, dict(e.metrics), dict(e.better), e.model, e.run, e.run_record, e.recipe, e.export, e.notes,
                    e.author.name, e.author.email, e.author.time, e.author.tz, created)


# -- adding


def add_eval(repo, rev: str, name: str, metrics, *, fmt: str = "auto", model: str | None = None, run: str | None = None,
             recipe: str | None = None, export: str | None = None, notes: str | None = None, higher: Iterable[str] = (),
             lower: Iterable[str] = ()) -> EvalInfo:
    """Store an eval of ``rev``. ``metrics``: a file path, the bytes of a file, a mapping, or a
    ``Metrics``; ``higher``/``lower`` name metrics whose direction the file does not give."""
    from mmvc.core.evals import Eval
    from mmvc.core.metrics import Metrics, from_mapping, parse_metrics, read_metrics_file
    from mmvc.ops.commit import signature

    name = _check_name(name)
    commit = _commit_of(repo, rev)
    if isinstance(metrics, Metrics):
        m = metrics
    elif isinstance(metrics, dict):
        m = from_mapping(metrics)
    elif isinstance(metrics, (bytes, bytearray)):
        m = parse_metrics(bytes(metrics), "standard input", "json" if fmt == "auto" else fmt)
    else:
        m = read_metrics_file(str(metrics), fmt)
    better = dict(m.better)
    for metric, direction in [(x, "higher") for x in higher] + [(x, "lower") for x in lower]:
        if metric not in m.values:
            raise BadInputError(f"--{direction}-is-better names {metric!r}, which is not a metric of this eval",
                                "metrics: " + ", ".join(sorted(m.values)[:10]))
        better[metric] = direction
    run_record, run_doc = _run_record(repo, run, commit, rev)
    recipe_oid = _recipe(repo, recipe, commit, rev) if recipe else (run_doc.recipe if run_doc else None)
    export_id, export_recipe = _export(repo, export, commit, rev) if export else ((run_doc.export if run_doc else None), None)
    if recipe_oid is None and export_recipe and repo.store.has(export_recipe):
        recipe_oid = export_recipe
    e = Eval(commit=commit, name=name, metrics=m.values, author=signature(repo, "AUTHOR"), better=better, model=model or None,
             run=run or None, run_record=run_record, recipe=recipe_oid, export=export_id, notes=notes or "")
    data = e.encode()
    ref = e.ref
    with repo.locked("eval"):
        oid = e.oid
        if repo.refs.read(ref) == oid:
            return _info(oid, e, created=False)
        with repo.store.writer(durable=True) as w:
            w.put_bytes(data)
        repo.refs.update(ref, oid, None, f"eval: {name}", signature(repo, "COMMITTER").who)
    return _info(oid, e)


def _check_name(name: str) -> str:
    if not name or not name.strip() or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadInputError(f"{name!r} is not a valid eval name", "name the benchmark, e.g. --name mmlu (printable, at most 200 characters)")
    return name


def _commit_of(repo, rev: str) -> str:
    from mmvc.core.objects import object_kind
    from mmvc.errors import ObjectNotFound

    oid = repo.resolve(rev)
    try:
        kind = object_kind(repo.store.get(oid))
    except ObjectNotFound:
        raise BadInputError(f"revision {rev!r} names commit {oid[:12]}, which is not in this repository",
                            "fetch the version first (`mmvc fetch`), or evaluate a version this repository has") from None
    if kind != "commit":
        raise BadInputError(f"{rev!r} names a {kind}, not a version", "give a branch, a tag or a commit id")
    return oid


def _run_record(repo, run: str | None, commit: str, rev: str):
    """(record id, record) of a training run recorded in this repository under ``run``; (None,
    None) for a run id that names no record here (a tracker's id is kept as it is)."""
    if not run:
        return None, None
    from mmvc.core.refs import check_ref_name
    from mmvc.core.training_runs import REF_PREFIX, TrainingRun

    try:
        check_ref_name(run, "run")
    except BadInputError:
        return None, None  # not a name a record could have
    oid = repo.refs.read(REF_PREFIX + run)
    if oid is None:
        return None, None
    rec = TrainingRun.decode(repo.store.get(oid), oid)
    if rec.commit != commit:
        raise BadInputError(f"training run {run!r} read version {rec.commit[:12]}, not {rev} ({commit[:12]})",
                            f"evaluate the version the run trained on: `mmvc eval add {rec.commit[:12]} …`")
    return oid, rec


def _recipe(repo, recipe: str, commit: str, rev: str) -> str:
    from mmvc.ops.recipe import resolve_recipe

    _, oid, r = resolve_recipe(repo, recipe)
    if r.commit != commit:
        raise BadInputError(f"recipe {recipe!r} selects from version {r.commit[:12]}, not {rev} ({commit[:12]})",
                            f"evaluate the recipe's version: `mmvc eval add {r.commit[:12]} --recipe {recipe} …`")
    return oid


def _export(repo, export: str, commit: str, rev: str) -> tuple[str, str | None]:
    """(export id, the recipe id it was made from) for an export folder or URL; an export id as is."""
    from mmvc.core.hashing import is_object_id

    if is_object_id(export):
        return export, None
    from mmvc.export.index import read_index
    from mmvc.export.target import ExportTarget

    idx = read_index(ExportTarget(export))
    made_from = idx.info.get("commit")
    if made_from != commit:
        raise BadInputError(f"the export at {export} holds version {str(made_from)[:12]}, not {rev} ({commit[:12]})",
                            f"evaluate the export's version: `mmvc eval add {str(made_from)[:12]} --export {export} …`")
    return idx.export_id, idx.info.get("recipe")


# -- reading


def eval_ids(repo, commit: str | None = None) -> list[tuple[str, str]]:
    """(commit, eval id) of every eval (of ``commit``), from the ref names alone."""
    from mmvc.core.evals import REF_PREFIX, parse_eval_ref

    prefix = REF_PREFIX + commit if commit else REF_PREFIX.rstrip("/")
    return [p for p in map(parse_eval_ref, repo.refs.names(prefix)) if p is not None]


def read_evals(repo, ids: Iterable[str]) -> list[tuple[str, Eval]]:
    """(id, Eval) of each stored eval, in the order given."""
    from mmvc.core.evals import Eval

    get = repo.store.get
    return [(o, Eval.decode(get(o), o)) for o in ids]


def list_evals(repo, rev: str | None = None, name: str | None = None) -> list[EvalInfo]:
    """Evals of ``rev`` (default: every version), oldest first; ``name`` keeps one benchmark."""
    commit = repo.resolve(rev) if rev else None
    out = [_info(o, e) for o, e in read_evals(repo, [o for _, o in eval_ids(repo, commit)]) if name is None or e.name == name]
    out.sort(key=lambda i: (i.time, i.name, i.id))
    return out


def show_eval(repo, eval_id: str) -> EvalInfo:
    """An eval by its id or a unique prefix of it (at least 4 hex digits)."""
    from mmvc.core.hashing import is_object_id

    text = eval_id.strip().lower()
    if not (4 <= len(text) <= 64 and all(c in "0123456789abcdef" for c in text)):
        raise BadInputError(f"{eval_id!r} is not an eval id", "give the id `mmvc eval list` prints, or a unique prefix of it (4+ hex digits)")
    matches = sorted({o for _, o in eval_ids(repo) if o.startswith(text)})
    if not matches and is_object_id(text) and repo.store.has(text):
        matches = [text]  # an eval object no name points at (any longer)
    if not matches:
        raise BadInputError(f"no eval {eval_id!r} in this repository", "`mmvc eval list` lists the evals")
    if len(matches) > 1:
        raise BadInputError(f"ambiguous eval id {eval_id!r}: {', '.join(m[:12] for m in matches[:10])}", "give more digits")
    return _info(*read_evals(repo, matches)[0])


# -- summaries and deltas


def _stat(values: list[float]) -> MetricStat:
    n = len(values)
    if n == 1:
        return MetricStat(values[0], 0.0, 1, values)
    mean = math.fsum(values) / n
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return MetricStat(mean, spread, n, list(values))


def summarize(evals: Iterable) -> dict[str, EvalSummary]:
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
    every: dict[str, list[str]] = {}
    for c, o in eval_ids(repo):
        every.setdefault(c, []).append(o)
    by_commit = {c: ids for c, ids in every.items() if c in wanted}
    if len(by_commit) < CACHE_FROM:
        return {c: summarize(e for _, e in read_evals(repo, ids)) for c, ids in by_commit.items()}
    return _cached_summaries(repo, by_commit, every)


# -- the summary cache: derived data, safe to delete, keyed by the exact set of evals it summarises

CACHE_FROM = 32  # versions per call from which reading the cache beats reading the evals
CACHE_FORMAT = 2  # 2: numbers packed as doubles


def _cache_path(repo) -> str:
    import os

    return os.path.join(repo.dir, "cache", "eval-summaries.json")


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

    try:
        with open(_cache_path(repo), "rb") as f:
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
        from mmvc.core.store import atomic_write

        keep = {c: v for c, v in cache.items() if c in every}  # versions whose evals are gone drop out
        try:
            os.makedirs(os.path.dirname(_cache_path(repo)), exist_ok=True)
            atomic_write(_cache_path(repo), json.dumps({"format": CACHE_FORMAT, "summaries": keep}, separators=(",", ":")).encode(),
                         fsync=False)
        except OSError:
            pass  # a cache that cannot be written is only a slower next read
    return out


def metric_deltas(a: dict[str, EvalSummary], b: dict[str, EvalSummary], name: str | None = None,
                  shared_only: bool = False) -> list[MetricDelta]:
    """Per (eval name, metric): A, B and B − A. ``shared_only`` keeps names both sides have."""
    names = sorted(set(a) & set(b)) if shared_only else sorted(set(a) | set(b))
    rows = []
    for n in names:
        if name is not None and n != name:
            continue
        sa, sb = a.get(n), b.get(n)
        hints = {**(sa.better if sa else {}), **(sb.better if sb else {})}
        for metric in sorted(set(sa.metrics if sa else {}) | set(sb.metrics if sb else {})):
            ma = sa.metrics.get(metric) if sa else None
            mb = sb.metrics.get(metric) if sb else None
            delta = mb.mean - ma.mean if ma is not None and mb is not None else None
            rows.append(MetricDelta(n, metric, ma, mb, delta, hints.get(metric), _verdict(delta, hints.get(metric))))
    return rows


def _verdict(delta: float | None, better: str | None) -> str:
    if delta is None or better is None:
        return ""
    if delta == 0:
        return "unchanged"
    return "improved" if (delta > 0) == (better == "higher") else "regressed"


def compare_evals(repo, rev_a: str, rev_b: str, name: str | None = None) -> EvalComparison:
    """``mmvc eval compare A B``: every metric of either side, with the delta where both have it."""
    ca, cb = repo.resolve(rev_a), repo.resolve(rev_b)
    sums = summaries_of(repo, [ca, cb])
    a, b = sums.get(ca, {}), sums.get(cb, {})
    if name is not None and name not in a and name not in b:
        raise BadInputError(f"neither {rev_a} nor {rev_b} has an eval named {name!r}",
                            "`mmvc eval list REV` lists a version's evals")
    count = lambda s: sum(x.runs for x in s.values())  # noqa: E731
    return EvalComparison(EvalSide(rev_a, ca, count(a)), EvalSide(rev_b, cb, count(b)), metric_deltas(a, b, name))
