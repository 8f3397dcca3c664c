"""``mmvc report``: why each item was rejected or deduplicated, from a process report.

Without ``rev``, the report of the latest run that judged the staged items, led by the
curation conflicts of a merge in progress (status ``conflict``: ``path`` is the item the other
side brings, ``duplicate_of`` ours); with ``rev``, the report recorded in that version's
commit (its failure dataset)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.errors import BadInputError


@dataclass
class ReportRow:
    path: str
    modality: str
    status: str
    stage: str | None
    reason: str | None
    duplicate_of: str | None
    detail: str
    oid: str = ""
    kept: str = ""  # a duplicate: why duplicate_of was kept instead; a survivor: the duplicates it was kept over


@dataclass
class Report:
    report: str | None
    rows: list[ReportRow] = field(default_factory=list)
    by_reason: dict = field(default_factory=dict)  # "stage/reason" -> n


def report(repo, rev: str | None = None, include_passed: bool = False) -> Report:
    from mmvc.core.extras import require

    require("catalog", "pyarrow", what="mmvc report")
    from mmvc.services.runs import read_report

    out = Report(report=None)
    if rev is None:
        _merge_rows(repo, out)
    try:
        report_id = _report_id(repo, rev)
    except BadInputError:
        if out.rows:
            return out
        raise
    table = read_report(repo, report_id)
    out.report = report_id
    names = ("path", "oid", "modality", "status", "stage", "reason", "duplicate_of", "detail", "kept")
    cols = {c: table.column(c).to_pylist() for c in names if c in table.column_names}  # reports before "kept" lack it
    for i in range(table.num_rows):
        row = ReportRow(**{c: cols[c][i] or "" if c == "kept" else cols[c][i] for c in cols})
        if row.status == "passed" and not include_passed:
            continue
        out.rows.append(row)
        if row.status != "passed":
            k = f"{row.stage}/{row.reason}"
            out.by_reason[k] = out.by_reason.get(k, 0) + 1
    out.by_reason = dict(sorted(out.by_reason.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def _merge_rows(repo, out: Report) -> None:
    from mmvc.core.modality import modality_name
    from mmvc.ops.merge import curation_in_progress

    pairs = curation_in_progress(repo)
    if not pairs:
        return
    index = repo.load_index()
    for c in pairs:
        e = index.get(c.theirs)
        out.rows.append(ReportRow(c.theirs, modality_name(e.modality) if e else "unknown", "conflict", c.tier, "curation_conflict", c.ours,
                                  f"brought by the other side of the merge; {c.detail or c.tier + ' duplicate'} of {c.ours}, brought by this side"))
        k = f"{c.tier}/curation_conflict"
        out.by_reason[k] = out.by_reason.get(k, 0) + 1


def _report_id(repo, rev: str | None) -> str:
    if rev is not None:
        c = repo.read_commit(repo.resolve(rev))
        if not c.gate.report:
            raise BadInputError(f"version {rev} has no process report ({c.gate.mode})", "only gated commits record one")
        return c.gate.report
    from mmvc.services.runs import read_run

    index = repo.load_index()
    runs = {e.proc_id for p, e, _ in index.staged(repo.tree, repo.head_tree()) if e is not None and e.proc_id}
    if not runs:
        _, head = repo.head()
        if head and repo.read_commit(head).gate.report:
            return repo.read_commit(head).gate.report
        raise BadInputError("no process report: nothing staged has been processed", "run `mmvc process`, or pass --rev REV")
    latest = max(runs, key=lambda r: read_run(repo, r).get("time", 0))
    return read_run(repo, latest)["report"]
