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

    ``changes``: (key, index entry or None) pairs the gate admitted, or an iterable of lists of
    them (``chunked=True`` in ``record_commit_chunks``); ``gate``: the commit's Gate.
    Rows are keyed by content and config, so writing them before the ref moves is safe: a crash
    in between leaves rows no version names yet (harmless, reused if the commit is retried),
    never a version whose rows are missing. Entries without a process run (a merge bringing in
    another branch's item unchanged) already have their rows. Returns the rows inserted, or None
    when an ungated commit skipped the catalog because its packages are not installed (a light
    install: the version is whole without rows, as after a clone; ``mmvc catalog rebuild`` adds them)."""
    return record_commit_chunks(repo, [changes], gate)


def record_commit_chunks(repo, chunks, gate) -> int | None:
    """``record_commit`` for changes that come in chunks: each chunk's rows are built and
    streamed into the catalog in one write, so the rows of a million-item commit are never
    all in memory."""
    from mmvc.catalog.rowbuild import FeatureSource, build_rows
    from mmvc.catalog.table import BATCH_ROWS, insert_batches, maintain_indexes
    from mmvc.core.extras import installed, require

    if gate.mode != "gated" and not installed("pyarrow", "lance"):
        return None
    from mmvc.services.runs import read_run

    runs: dict[str, dict] = {}
    sources: dict = {}  # config -> FeatureSource (a merge may bring items another branch processed under its config)

    def source_for(rid: str):
        if rid not in runs:
            require("catalog", "pyarrow", "lance", what="a gated commit")
            runs[rid] = read_run(repo, rid)
            config = runs[rid].get("config") or gate.config
            if config not in sources:
                sources[config] = FeatureSource(repo, config, runs[rid].get("config_doc"))
            elif sources[config].doc is None:
                sources[config].doc = runs[rid].get("config_doc")
            sources[config].add_report(runs[rid].get("report"), rid)
        return sources[runs[rid].get("config") or gate.config]

    def tables():
        for changes in chunks:
            items = [(k, e) for k, e in changes if e is not None]
            for lo in range(0, len(items), BATCH_ROWS):
                part = items[lo:lo + BATCH_ROWS]
                if gate.mode != "gated":
                    yield build_rows(repo, part, None)
                    continue
                groups: dict = {}
                for k, e in part:
                    if getattr(e, "proc_id", None):
                        src = source_for(e.proc_id)
                        groups.setdefault(id(src), (src, []))[1].append((k, e))
                for src, group in groups.values():
                    yield build_rows(repo, group, src)

    n = insert_batches(repo, tables())
    if n:
        maintain_indexes(repo)
    return n


def catalog_columns() -> tuple[str, ...]:
    from mmvc.catalog.read import OUTPUT_COLUMNS

    return OUTPUT_COLUMNS
