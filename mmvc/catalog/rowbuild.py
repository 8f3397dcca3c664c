"""Catalog rows for items crossing into a version: metadata from the item, features from the
process report that judged it, vectors from the feature cache under the stage hashes of the
config it passed under. Nothing is computed here: a row only records what ``process`` produced.
"""

from __future__ import annotations

import json
import time

from mmvc.catalog.schema import CLIP_DIM, NAMES, TEXT_DIM, arrow_schema
from mmvc.catalog.scope import item_id
from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO, modality_name


def row_id(item: str, config: str | None) -> str:
    from blake3 import blake3

    return blake3(f"{item}\0{config or 'ungated'}".encode()).hexdigest()[:32]


def stage_hash(config_doc: dict, stage: str) -> str:
    """The stage hash ``ProcessConfig.stage_hash`` gives, from a run's recorded config document."""
    from mmvc.core.hashing import hash_bytes
    from mmvc.core.objects import canonical_json

    return hash_bytes(canonical_json({"stage": stage, **config_doc[stage]}))[:32]


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

    def models(self) -> tuple[str | None, str | None]:
        if not self.doc:
            return None, None
        t = self.doc.get("embed_text", {})
        c = self.doc.get("embed_clip", {})
        return (t.get("model") if t.get("on", True) else None), (c.get("model") if c.get("on", True) else None)

    def vectors(self, family: str, oids: set[str]) -> dict:
        if not self.doc or not oids:
            return {}
        from mmvc.process.cache import FeatureCache

        stage = f"embed_{family}"
        if stage not in self.doc or not self.doc[stage].get("on", True):
            return {}
        rows = FeatureCache(self.repo, stage, stage_hash(self.doc, stage)).load(oids)
        return {o: r["vector"] for o, r in rows.items() if r.get("vector") is not None}

    def fill_missing_features(self, oids: set[str]) -> None:
        """Decode features from the prep cache for items no report described (a rebuild)."""
        missing = {o for o in oids if o not in self.features}
        if not missing or not self.doc or "gates" not in self.doc:
            return
        from mmvc.process.cache import FeatureCache

        for oid, r in FeatureCache(self.repo, "prep", stage_hash(self.doc, "gates")).load(missing).items():
            self.features[oid] = json.loads(r.get("features") or "{}")


def build_rows(repo, items: list, source: FeatureSource | None, now: int | None = None):
    """Arrow table of catalog rows for ``items``: (key, entry) pairs with oid, size, modality, meta."""
    import numpy as np
    import pyarrow as pa

    now = int(time.time()) if now is None else now
    config = source.config if source else None
    if source is not None:
        source.fill_missing_features({e.oid for _, e in items})
    text_model, clip_model = source.models() if source else (None, None)
    tv = source.vectors("text", {e.oid for _, e in items if e.modality in (TEXT, AUDIO)}) if source else {}
    cv = source.vectors("clip", {e.oid for _, e in items if e.modality in (IMAGE, VIDEO)}) if source else {}
    cols: dict[str, list] = {n: [] for n in NAMES if n not in ("text_vector", "clip_vector")}
    text_flat = np.zeros((len(items), TEXT_DIM), dtype=np.float32)
    clip_flat = np.zeros((len(items), CLIP_DIM), dtype=np.float32)
    text_null = np.ones(len(items), dtype=bool)
    clip_null = np.ones(len(items), dtype=bool)
    for i, (key, e) in enumerate(items):
        meta = json.loads(e.meta) if e.meta else {}
        feats = source.features.get(e.oid, {}) if source else {}
        iid = item_id(e.oid, e.meta)
        prov = meta.get("provenance")
        t = tv.get(e.oid) if e.modality in (TEXT, AUDIO) else None
        c = cv.get(e.oid) if e.modality in (IMAGE, VIDEO) else None
        if t is not None:
            text_flat[i], text_null[i] = t, False
        if c is not None:
            clip_flat[i], clip_null[i] = c, False
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
            "text_model": text_model if t is not None else None,
            "clip_model": clip_model if c is not None else None,
            "written": now,
        }
        for k, v in row.items():
            cols[k].append(v)
    schema = arrow_schema()
    arrays = [pa.array(cols[n], schema.field(n).type) for n in NAMES if n in cols]
    arrays.append(_vectors(text_flat, text_null, TEXT_DIM))
    arrays.append(_vectors(clip_flat, clip_null, CLIP_DIM))
    names = [n for n in NAMES if n in cols] + ["text_vector", "clip_vector"]
    return pa.Table.from_arrays(arrays, names=names).select(list(NAMES)).cast(schema)


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
