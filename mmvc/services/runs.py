"""Process-run records: what ``mmvc process`` leaves for the gate, commits, the catalog,
``report``, ``lineage`` and ``datasheet``.

A run is two stored objects (docs/format.md), each behind its object header: the report, a Parquet table with a row per item
judged (the failure dataset, and the passed rows), and the run object, canonical JSON naming
the report, the config hash and its document, the time and the counts. Index entries name the
run that judged them; the gate admits an item only if that run's config is the current one.
This module is the only code that writes or parses either of them.
"""

from __future__ import annotations

import json

REPORT_COLUMNS = ("path", "oid", "modality", "size", "status", "stage", "reason", "duplicate_of", "detail", "features", "kept")


def report_bytes(verdicts) -> bytes:
    """The report of a run's verdicts (``mmvc.process.pipeline.Verdict``), zstd Parquet."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmvc.core.modality import modality_name

    rows = {
        "path": [v.key for v in verdicts],
        "oid": [v.oid for v in verdicts],
        "modality": [modality_name(v.modality) for v in verdicts],
        "size": [v.size for v in verdicts],
        "status": [v.status for v in verdicts],
        "stage": [v.stage for v in verdicts],
        "reason": [v.reason for v in verdicts],
        "duplicate_of": [v.duplicate_of for v in verdicts],
        "detail": [v.detail for v in verdicts],
        "features": [json.dumps(v.features, sort_keys=True) for v in verdicts],
        "kept": [v.kept for v in verdicts],
    }
    from mmvc.core.objects import encode_report

    buf = io.BytesIO()
    pq.write_table(pa.table(rows), buf, compression="zstd")
    return encode_report(buf.getvalue())


def read_report(repo, report_id: str, columns=None):
    """A stored report as a ``pyarrow.Table`` (``columns``: some of ``REPORT_COLUMNS``)."""
    import io

    import pyarrow.parquet as pq

    from mmvc.core.objects import report_parquet

    data = io.BytesIO(report_parquet(repo.store.get(report_id), report_id))
    return pq.ParquetFile(data).read(columns=list(columns) if columns is not None else None)  # read_table would import pandas


def run_bytes(config: str, config_doc: dict, report: str, time: int, items: int, counts: dict, ran_on: dict | None = None) -> bytes:
    """``ran_on``: where the run's per-blob work ran (docs/format.md, "Process runs and reports")."""
    from mmvc.core.objects import encode_run

    doc = {"config": config, "config_doc": config_doc, "report": report, "time": time, "items": items, "counts": counts}
    if ran_on is not None:
        doc["ran_on"] = ran_on
    return encode_run(doc)


def ran_on(address: str, nodes: int, blobs: str) -> dict:
    """The run record's ``ran_on``: {"mode": "local"} on this machine; on a Ray cluster its
    address, its live nodes when the run joined it, and where the workers read blobs."""
    if not address:
        return {"mode": "local"}
    return {"mode": "cluster", "address": address, "nodes": nodes, "blobs": blobs}


def read_run(repo, run_id: str) -> dict:
    """The run object ``run_id`` names; a missing object raises ObjectNotFound."""
    from mmvc.core.objects import decode_run

    return decode_run(repo.store.get(run_id), run_id)


def find_run(repo, run_id: str | None) -> dict | None:
    """Like ``read_run``, for readers that carry on without it: None when it is absent or unreadable."""
    if not run_id:
        return None
    from mmvc.errors import MmvcError

    try:
        return read_run(repo, run_id)
    except (MmvcError, ValueError):
        return None
