"""``mmvc eval``: pin a model's results to the version (recipe, export, training run) it was
trained on, and read them back per version, per name, or as deltas between two versions.

Evals are immutable objects under ``refs/evals/<commit>/<eval id>`` (``mmvc.core.evals``), read
and written through ``mmvc.services.evals``, which also owns the per-version summaries (mean and
spread over the runs of one name). The deltas here are the one formula ``diff --md/--json`` and
``eval compare`` show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmvc.errors import BadInputError
from mmvc.services.evals import EvalSummary, MetricStat, eval_ids, read_evals, summaries_of

if TYPE_CHECKING:
    from mmvc.core.evals import Eval

__all__ = ["EvalComparison", "EvalInfo", "EvalSide", "EvalSummary", "MetricDelta", "MetricStat", "add_eval", "compare_evals",
           "list_evals", "metric_deltas", "show_eval", "summaries_of"]


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


def _info(oid: str, e: Eval, created: bool = True) -> EvalInfo:
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
    from mmvc.services.evals import write_eval
    from mmvc.services.signature import committer, signature

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
    oid, created = write_eval(repo, e, committer(repo))
    return _info(oid, e, created)


def _check_name(name: str) -> str:
    if not name or not name.strip() or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadInputError(f"{name!r} is not a valid eval name", "name the benchmark, e.g. --name mmlu (printable, at most 200 characters)")
    return name


def _commit_of(repo, rev: str) -> str:
    from mmvc.core.objects import COMMIT, declared_kind
    from mmvc.errors import ObjectNotFound

    oid = repo.resolve(rev)
    try:
        data = repo.store.get(oid)
    except ObjectNotFound:
        raise BadInputError(f"revision {rev!r} names commit {oid[:12]}, which is not in this repository",
                            "fetch the version first (`mmvc fetch`), or evaluate a version this repository has") from None
    kind = declared_kind(data)
    if kind != COMMIT:
        raise BadInputError(f"{rev!r} names a {kind}, not a version", "give a branch, a tag or a commit id")
    return oid


def _run_record(repo, run: str | None, commit: str, rev: str):
    """(record id, record) of a training run recorded in this repository under ``run``; (None,
    None) for a run id that names no record here (a tracker's id is kept as it is)."""
    if not run:
        return None, None
    from mmvc.core.refs import check_ref_name
    from mmvc.services.evals import read_run, run_tip

    try:
        check_ref_name(run, "run")
    except BadInputError:
        return None, None  # not a name a record could have
    oid = run_tip(repo, run)
    if oid is None:
        return None, None
    rec = read_run(repo, oid)
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


# -- deltas


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
