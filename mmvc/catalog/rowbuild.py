"""Catalog rows for items crossing into a version: metadata from the item, features from the
process report that judged it, vectors from the feature cache under the stage hashes of the
config it passed under. Nothing is computed here: a row only records what ``process`` produced.
"""

from __future__ import annotations

import json
import time

from mmvc.catalog.schema import NAMES, arrow_schema
from mmvc.catalog.scope import item_id
from mmvc.core.families import FAMILIES
from mmvc.core.modality import modality_name


def row_id(item: str, config: str | None) -> str:
    from blake3 import blake3

    return blake3(f"{item}\0{config or 'ungated'}".encode()).hexdigest()[:32]


class FeatureSource:
    """Where one config's features and vectors are found; reports and cache parts read once."""

    def __init__(self, repo, config: str | None, config_doc: dict | None):
        self.repo = repo
        self.config = config
        self.doc = config_doc
        self.features: dict[str, dict] = {}
        self.runs: dict[str, str] = {}  # oid -> run id
        self.reports: dict[str, str] = {}  # oid -> report id

    def add_report(self, report: str | None, run: str | None = None) -> None:
        if not report:
            return
        from mmvc.errors import MmvcError
        from mmvc.services.runs import read_report

        try:
            t = read_report(self.repo, report, columns=["oid", "status", "features"])
        except (MmvcError, OSError, ValueError):
            return
        for oid, status, feats in zip(*(t.column(c).to_pylist() for c in ("oid", "status", "features"))):
            if status == "passed" or oid not in self.features:
                self.features[oid] = json.loads(feats or "{}")
                self.reports[oid] = report
                if run:
                    self.runs[oid] = run

    def model(self, family) -> str | None:
        """The model behind ``family``'s vectors under this config (None: the family was off)."""
        doc = (self.doc or {}).get(family.stage, {})
        return doc.get("model") if doc.get("on", True) else None

    def vectors(self, family, oids: set[str]) -> dict:
        if not self.doc or not oids:
            return {}
        from mmvc.process.cache import FeatureCache

        if family.stage not in self.doc or not self.doc[family.stage].get("on", True):
            return {}
        rows = FeatureCache(self.repo, family.stage, self.doc).load(oids)
        return {o: r["vector"] for o, r in rows.items() if r.get("vector") is not None}

    def fill_missing_features(self, oids: set[str]) -> None:
        """Decode features from the prep cache for items no report described (a rebuild)."""
        missing = {o for o in oids if o not in self.features}
        if not missing or not self.doc or "gates" not in self.doc:
            return
        from mmvc.process.cache import PREP, FeatureCache

        for oid, r in FeatureCache(self.repo, PREP, self.doc).load(missing).items():
            self.features[oid] = json.loads(r.get("features") or "{}")


def build_rows(repo, items: list, source: FeatureSource | None, now: int | None = None):
    """Arrow table of catalog rows for ``items``: (key, entry) pairs with oid, size, modality, meta."""
    import numpy as np
    import pyarrow as pa

    now = int(time.time()) if now is None else now
    config = source.config if source else None
    if source is not None:
        source.fill_missing_features({e.oid for _, e in items})
    models = {f: source.model(f) if source else None for f in FAMILIES}
    vecs = {f: source.vectors(f, {e.oid for _, e in items if e.modality in f.modalities}) if source else {} for f in FAMILIES}
    vector_columns = {f.column for f in FAMILIES}
    cols: dict[str, list] = {n: [] for n in NAMES if n not in vector_columns}
    flat = {f: np.zeros((len(items), f.width), dtype=np.float32) for f in FAMILIES}
    null = {f: np.ones(len(items), dtype=bool) for f in FAMILIES}
    for i, (key, e) in enumerate(items):
        meta = json.loads(e.meta) if e.meta else {}
        feats = source.features.get(e.oid, {}) if source else {}
        iid = item_id(e.oid, e.meta)
        prov = meta.get("provenance")
        has = {}
        for f in FAMILIES:
            v = vecs[f].get(e.oid) if e.modality in f.modalities else None
            if v is not None:
                flat[f][i], null[f][i] = v, False
            has[f] = v is not None
        row = {
            "row_id": row_id(iid, config), "item_id": iid, "oid": e.oid, "config": config or "", "first_key": key,
            "modality": modality_name(e.modality), "size": int(e.size),
            "mime": feats.get("format") or feats.get("container") or feats.get("sniffed"),
            "width": _int(feats.get("width")), "height": _int(feats.get("height")),
            "duration_s": _float(feats.get("duration_s")), "fps": _float(feats.get("fps")),
            "sample_rate": _int(feats.get("sample_rate")), "language": feats.get("language") or None,
            "chars": _int(feats.get("chars")),
            "caption": _str(meta.get("caption")), "transcript": _str(meta.get("transcript")),
            "license": _str(meta.get("license")), "source": _str(meta.get("source")),
            "provenance": json.dumps(prov, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if prov is not None else None,
            "meta": e.meta or "",
            "status": "passed" if config else "ungated",
            "reason": None if config else "committed to an ungated repository",
            "features": json.dumps(feats, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str) if feats else None,
            "run": source.runs.get(e.oid) if source else None,
            "report": source.reports.get(e.oid) if source else None,
            **{f.model_column: models[f] if has[f] else None for f in FAMILIES},
            "written": now,
        }
        for k, v in row.items():
            cols[k].append(v)
    schema = arrow_schema()
    arrays = [pa.array(cols[n], schema.field(n).type) for n in NAMES if n in cols]
    arrays += [_vectors(flat[f], null[f], f.width) for f in FAMILIES]
    names = [n for n in NAMES if n in cols] + [f.column for f in FAMILIES]
    table = pa.Table.from_arrays(arrays, names=names).select(list(NAMES)).cast(schema)
    return _with_stage_columns(table, items, source)


def _with_stage_columns(table, items: list, source: FeatureSource | None):
    """The scalar outputs of the user stages the config ran, one column each (after the built-in
    ones), from the features the report recorded: what ``query --where`` and gates filter on."""
    import pyarrow as pa

    from mmvc.process.stages import arrow_type, catalog_columns

    if source is None:
        return table
    for col, typ in sorted(catalog_columns(source.doc).items()):
        values = [source.features.get(e.oid, {}).get(col) for _, e in items]
        table = table.append_column(pa.field(col, arrow_type(typ)), pa.array(values, arrow_type(typ)))
    return table


def _vectors(flat, null, dim):
    import pyarrow as pa

    values = pa.array(flat.reshape(-1))
    if null.any():
        return pa.FixedSizeListArray.from_arrays(values, dim, mask=pa.array(null))
    return pa.FixedSizeListArray.from_arrays(values, dim)


def _int(v):
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _float(v):
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _str(v):
    return None if v is None else str(v)
