"""``mmvc process``: run the curation pipeline over the staged items and record each verdict.

Every staged item (additions and modifications) ends ``passed``, ``duplicate`` (with
``duplicate_of``) or ``rejected`` (with reason and stage); nothing is deleted. The run writes a
process report (a Parquet object: the failure dataset, plus the passed rows) and a small run
object naming the report and the config hash, then stamps each index entry with its verdict
and the run. Those stamps are what ``commit``'s gate checks. The index is written once, at the
end, so an interrupted run records nothing as processed (computed features stay cached).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from mmvc.core.index import PROC_DUPLICATE, PROC_PASSED, PROC_REJECTED
from mmvc.core.modality import BY_NAME
from mmvc.errors import BadInputError

_CODE = {"passed": PROC_PASSED, "duplicate": PROC_DUPLICATE, "rejected": PROC_REJECTED}


@dataclass
class ProcessResult:
    run: str | None
    report: str | None
    config: str
    counts: dict = field(default_factory=dict)  # status -> modality -> n
    items: int = 0
    decoded: int = 0
    embedded: dict = field(default_factory=dict)
    families: dict = field(default_factory=dict)
    seconds: float = 0.0
    stages: dict = field(default_factory=dict)
    engine: str = "none"  # where the per-blob work ran: none (all cached) | in-process | ray
    ran_on: dict = field(default_factory=dict)  # local, or the cluster's address and node count (the run record's)
    user_stages: dict = field(default_factory=dict)  # user stage name -> {"version", "cached", "computed"} blobs
    history: str = "none"  # what staged items were compared with: none (no HEAD) | dedup-index | feature-cache


def process(repo, only: list[str] | None = None, text_model: str | None = None, image_model: str | None = None,
            batch_size: int | None = None, num_gpus: float | None = None, ray_address: str | None = None,
            progress=None) -> ProcessResult:
    from mmvc.core.extras import require

    require("process", what="mmvc process")
    from mmvc.process.config import ProcessConfig
    from mmvc.process.pipeline import ItemRef, Pipeline, summarize
    from mmvc.services.runs import ran_on, report_bytes, run_bytes

    t0 = time.perf_counter()
    if text_model or image_model:
        from mmvc.core.config import set_value

        with repo.locked("config"):
            if text_model:
                set_value(repo, "process.models", "text", text_model)
            if image_model:
                set_value(repo, "process.models", "image", image_model)
        repo.__dict__.pop("config", None)
    cfg = ProcessConfig.load(repo)
    _refuse_column_clashes(cfg.stages)
    if batch_size:
        cfg.batch_size = batch_size
    if num_gpus is not None:
        cfg.num_gpus = num_gpus
    if ray_address:
        cfg.ray_address = ray_address
    mods = None
    if only:
        try:
            mods = {BY_NAME[m.strip()] for m in only}
        except KeyError as err:
            raise BadInputError(f"unknown modality {err.args[0]!r} in --only", f"use some of: {', '.join(BY_NAME)}") from None
    with repo.locked("process"):
        index = repo.load_index()
        head_root = repo.head_tree()
        staged = [(p, e) for p, e, _ in index.staged(repo.tree, head_root) if e is not None]
        if mods is not None:
            staged = [(p, e) for p, e in staged if e.modality in mods]
        res = ProcessResult(run=None, report=None, config=cfg.config_hash(), families=dict(cfg.families))
        if not staged:
            return res
        items = [ItemRef(p, e.oid, e.modality, e.size, json.loads(e.meta) if e.meta else {}, e.mtime_ns) for p, e in staged]

        def head_paths_by_oid():
            """{blob id: (its first path in HEAD, modality)}."""
            if not head_root:
                return {}
            out = {}
            for h in repo.tree.iter_entries(head_root):
                out.setdefault(h.oid, (h.path, h.modality))
            return out

        pipe = Pipeline(repo, cfg, progress=progress, history=_history(repo, cfg, res))
        verdicts = pipe.run(items, head_paths_by_oid)
        counts = summarize(verdicts)
        res.ran_on = ran_on(pipe.stats.address, pipe.stats.nodes, pipe.stats.blobs)
        with repo.store.writer(durable=True) as w:
            report = w.put_bytes(report_bytes(verdicts))
            run = w.put_bytes(run_bytes(res.config, cfg.describe(), report, int(time.time()), len(verdicts), counts, res.ran_on))
        by_key = {v.key: v for v in verdicts}
        for p, e in staged:
            v = by_key[p]
            index.set(e._replace(proc_status=_CODE[v.status], proc_id=run))
        index.write()
    res.run, res.report, res.counts, res.items = run, report, counts, len(verdicts)
    res.decoded = pipe.stats.decoded
    res.embedded = {"text": pipe.stats.embedded_text, "clip": pipe.stats.embedded_clip}
    res.stages = {k: round(v, 3) for k, v in pipe.stats.seconds.items()}
    res.engine = pipe.stats.engine
    res.user_stages = {s.name: {"version": s.version, **pipe.stats.stages.get(s.name, {"cached": 0, "computed": 0})} for s in cfg.stages}
    res.seconds = time.perf_counter() - t0
    return res


def _refuse_column_clashes(stages) -> None:
    """A stage's output becomes a catalog column: it may not take a built-in column's name
    (checked here, above both process and catalog, which the column list belongs to)."""
    from mmvc.catalog.schema import NAMES
    from mmvc.errors import StageError

    for s in stages:
        clash = sorted(set(s.outputs) & set(NAMES))
        if clash:
            raise StageError(f"stage {s.ref!r}: output {clash[0]!r} is a built-in catalog column", "give the output a name of its own")


def _history(repo, cfg, res: ProcessResult):
    """The dedup index, brought up to date with HEAD's history, when it covers that history
    under the current config; else None: the pipeline then compares with the feature cache's
    rows (what this clone processed itself), as before the index existed. Commits older than
    the index, or items committed under another config, leave it incomplete until
    ``mmvc catalog rebuild`` (docs/process.md, "Dedup against history")."""
    _, head = repo.head()
    if not head:
        return None
    from mmvc.catalog.dedup_index import DedupIndex
    from mmvc.process.dedupfeatures import dedup_config

    index = DedupIndex(repo, dedup_config(cfg.describe()))
    coverage = index.sync(head)
    res.history = "dedup-index" if coverage.complete else "feature-cache"
    return index if coverage.complete else None
