"""The table fast path splices metadata into a template instead of serialising a dict per
row; the bytes must be exactly what canonical_json writes for the same dict."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from mmvc.core.objects import canonical_json
from mmvc.importers.base import MetaTemplate, scalar_extra
from mmvc.importers.tables import _json_scalar

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.text())


@given(st.dictionaries(st.text(min_size=1), scalars, max_size=4), st.integers(0, 10**9), st.one_of(st.none(), st.text(min_size=1)), st.text())
def test_spliced_metadata_equals_canonical_json(extra, row, license, uri):
    names = sorted(extra)
    doc = {"provenance": {"connector": "parquet", "location": {"file": "f\u00e9\"x\n.parquet", "row": MetaTemplate.slot("row")},
                          "retrieved": 1, "uri": uri}, "source": "s", "extra": MetaTemplate.slot("extra")}
    if license is not None:
        doc["license"] = MetaTemplate.slot("license")
    t = MetaTemplate(doc)
    assert t.names == [n for n in ("extra", "license", "row") if n in t.names]
    pairs = [(json.dumps(k, ensure_ascii=False), _json_scalar(extra[k])) for k in names]
    values = ["{" + ",".join(f"{k}:{v}" for k, v in pairs if v is not None) + "}"]
    if license is not None:
        values.append(json.dumps(license, ensure_ascii=False))
    values.append(str(row))
    got = t.render_values(values)

    want = json.loads(canonical_json({**doc}).decode())
    want["provenance"]["location"]["row"] = row
    want["extra"] = scalar_extra(extra, names) if names else {}
    if license is not None:
        want["license"] = license
    assert got == canonical_json(want).decode()
