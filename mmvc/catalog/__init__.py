"""The Lance catalog: one table of every committed item's metadata, features and vectors.

This package is the only place that imports ``lance``. Rows are written at commit time from
what ``mmvc process`` produced (``record_commit``) and nothing else; every read is scoped to one
version through its manifest (``mmvc.catalog.scope``), so branches share rows and no table is
copied per branch. Layout and schema: docs/format.md, "Catalog"; guide: docs/catalog.md.
"""

from __future__ import annotations

from mmvc.catalog.schema import CATALOG_FORMAT, CLIP_DIM, NAMES, TEXT_DIM  # noqa: F401  (re-exported)


def rows(repo, rev: str = "HEAD", where: str | None = None, columns=None, allow_ungated: bool = False):
    """One row per item of the version ``rev`` as a ``pyarrow.Table``, sorted by key.

    This is the stable API that export, recipes and the loader build on. Columns: ``key`` (the
    item key in that version) followed by the catalog's columns (docs/format.md, "Catalog"):
    oid, modality (name), size, mime, width, height, duration_s, fps, sample_rate, language,
    chars, caption, transcript, license, source, provenance, meta, status, reason, features,
    run, report, text_model, clip_model, written, text_vector, clip_vector (nullable), plus the
    row identity columns row_id, item_id, config and first_key. ``columns`` (a list, or a
    comma-separated string) narrows them; ``key`` is always allowed.

    ``where`` is a Lance (SQL-like) filter over those columns, e.g.
    ``"modality = 'image' AND width >= 512 AND license = 'cc-by-4.0'"``; one that does not parse
    or names a missing column raises BadInputError whose hint lists the columns. An ungated
    version raises GateError (``mmvc.services.gate.require_gated``) unless ``allow_ungated``; a
    version with items the catalog has no row for (it predates the catalog) raises
    BadInputError naming ``mmvc catalog rebuild``.
    """
    from mmvc.catalog.read import rows as _rows
    from mmvc.core.extras import require

    require("catalog", "pyarrow", "lance", what="reading the catalog")
    return _rows(repo, rev, where=where, columns=columns, allow_ungated=allow_ungated)


def record_commit(repo, changes, gate) -> int | None:
    """Write the rows of the items a commit admits, before the commit's ref moves.

    ``changes``: (key, index entry or None) pairs the gate admitted; ``gate``: the commit's Gate.
    Rows are keyed by content and config, so writing them before the ref moves is safe: a crash
    in between leaves rows no version names yet (harmless, reused if the commit is retried),
    never a version whose rows are missing. Entries without a process run (a merge bringing in
    another branch's item unchanged) already have their rows. Returns the rows inserted, or None
    when an ungated commit skipped the catalog because its packages are not installed (a light
    install: the version is whole without rows, as after a clone; ``mmvc catalog rebuild`` adds them)."""
    from mmvc.catalog.rowbuild import FeatureSource, build_rows
    from mmvc.catalog.table import insert_rows, maintain_indexes
    from mmvc.core.extras import installed, require

    items = [(k, e) for k, e in changes if e is not None]
    if not items:
        return 0
    if gate.mode != "gated":
        if not installed("pyarrow", "lance"):
            return None
        table = build_rows(repo, items, None)
    else:
        from mmvc.services.runs import read_run

        items = [(k, e) for k, e in items if getattr(e, "proc_id", None)]
        if not items:
            return 0
        require("catalog", "pyarrow", "lance", what="a gated commit")
        import pyarrow as pa

        runs = {e.proc_id: read_run(repo, e.proc_id) for _, e in items}
        by_config: dict = {}  # a merge may bring items another branch processed under its config
        for k, e in items:
            by_config.setdefault(runs[e.proc_id].get("config") or gate.config, []).append((k, e))
        tables = []
        for config, group in by_config.items():
            doc = next((r.get("config_doc") for r in runs.values() if r.get("config") == config), None)
            source = FeatureSource(repo, config, doc)
            for rid in {e.proc_id for _, e in group}:
                source.add_report(runs[rid].get("report"), rid)
            tables.append(build_rows(repo, group, source))
        table = pa.concat_tables(tables, promote_options="default")  # configs may differ in their stages' columns
    n = insert_rows(repo, table)
    maintain_indexes(repo)
    return n


def catalog_columns() -> tuple[str, ...]:
    from mmvc.catalog.read import OUTPUT_COLUMNS

    return OUTPUT_COLUMNS
