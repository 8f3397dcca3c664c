"""The catalog table's schema (catalog format 1, docs/format.md "Catalog").

One table across modalities. A row describes an *item content* (blob id + item metadata) as one
process config judged it, so its identity is ``row_id = H(item_id ‖ config)`` with
``item_id = H(oid ‖ NUL ‖ meta)``: two branches holding the same item share its row, and an item
key (which is per version) is never part of a row. Columns are only ever added.
"""

from __future__ import annotations

from mmvc.core.families import CLIP_FAMILY, FAMILIES, TEXT_FAMILY

CATALOG_FORMAT = 1
FORMAT_KEY = b"mmvc.catalog.format"
TEXT_DIM = TEXT_FAMILY.width
CLIP_DIM = CLIP_FAMILY.width

# name, arrow type name, meaning (the order is the table's column order)
COLUMNS = (
    ("row_id", "string", "H(item_id ‖ config): the merge key"),
    ("item_id", "string", "H(oid ‖ NUL ‖ meta): what a version's entry joins on"),
    ("oid", "string", "blob id"),
    ("config", "string", "process config hash the item passed under; empty for ungated rows"),
    ("first_key", "string", "the item key the row was first committed under (keys are per version)"),
    ("modality", "string", "text | image | video | audio | unknown"),
    ("size", "int64", "blob size in bytes"),
    ("mime", "string", "decoded format (PNG, JPEG, mp4 …) where the decoder names one"),
    ("width", "int32", "pixels (image, video)"),
    ("height", "int32", "pixels (image, video)"),
    ("duration_s", "float64", "seconds (video, audio)"),
    ("fps", "float64", "frames per second (video)"),
    ("sample_rate", "int32", "Hz (audio)"),
    ("language", "string", "detected language (text)"),
    ("chars", "int64", "characters (text)"),
    ("caption", "string", "item metadata `caption`"),
    ("transcript", "string", "item metadata `transcript`"),
    ("license", "string", "item metadata `license`"),
    ("source", "string", "item metadata `source`"),
    ("provenance", "string", "item metadata `provenance` as canonical JSON"),
    ("meta", "string", "the whole item metadata, canonical JSON"),
    ("status", "string", "passed | ungated"),
    ("reason", "string", "why the status (null for passed)"),
    ("features", "string", "every feature the decoder extracted, canonical JSON (quality scores live here)"),
    ("run", "string", "id of the process-run object that judged the item, when known"),
    ("report", "string", "id of the process report object"),
    *((f.model_column, "string", f"model id behind {f.column}") for f in FAMILIES),
    ("written", "int64", "unix seconds the row was written"),
    *((f.column, f.column, f"fixed_size_list<float32, {f.width}>, L2-normalised, nullable") for f in FAMILIES),
)

NAMES = tuple(c[0] for c in COLUMNS)


def arrow_schema():
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(),
             **{f.column: pa.list_(pa.float32(), f.width) for f in FAMILIES}}
    return pa.schema([pa.field(n, types[t], nullable=n not in ("row_id", "item_id", "oid")) for n, t, _ in COLUMNS],
                     metadata={FORMAT_KEY: str(CATALOG_FORMAT).encode()})
