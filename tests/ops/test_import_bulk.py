"""The first-import fast path (rows held in compressed columns, written by ``Index.write_bulk``)
against the row-by-row path: the same entries, the same objects, and the fallbacks for keys
out of order, repeated keys and an index that already holds the prefix."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmvc.errors import BadInputError
from mmvc.importers.base import ImportOptions
from tests.importers import mirrors


def _entries(repo, prefix):
    return [(e.path.split("/", 1)[1], e.oid, e.size, e.modality, e.flags, e.meta) for e in repo.ls_files(None, prefix + "/")]


def test_fast_and_row_by_row_paths_stage_the_same_entries(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=2, rows=700, row_group=300)
    src = [str(tmp_path / "fw/data/*.parquet")]
    opts = dict(text_field="text", meta_fields=["url", "score", "language"], license="odc-by", retrieved=5)
    r1 = repo.import_("parquet", src, options=ImportOptions(prefix="fast", **opts), jobs=2)
    # --sample of everything reads the same rows through the per-row path
    r2 = repo.import_("parquet", src, options=ImportOptions(prefix="slow", **opts), jobs=1, sample=1400)
    assert r1.added == r2.added == 1400 and r1.bytes == r2.bytes and r1.by_modality == r2.by_modality == {"text": 1400}
    assert _entries(repo, "fast") == _entries(repo, "slow")
    assert json.loads(_entries(repo, "fast")[0][5])["extra"] == {"language": "en", "score": 0.0, "url": "https://example.org/0"}
    st = repo.status()
    assert len(st.staged) == 2800 and st.unstaged == []
    # a second import of the same source goes row by row and finds nothing new
    r3 = repo.import_("parquet", src, options=ImportOptions(prefix="fast", **opts), jobs=1)
    assert (r3.added, r3.modified, r3.unchanged) == (0, 0, 1400)
    assert repo.fsck().ok


def test_ids_out_of_order_fall_back_and_repeated_ids_are_refused(repo, tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "id": ["z", "m", "a"]}), path)
    r = repo.import_("parquet", [str(path)], options=ImportOptions(text_field="text", id_field="id", prefix="p"), jobs=1)
    assert r.added == 3 and [e.path for e in repo.ls_files(None, "p/")] == ["p/a.txt", "p/m.txt", "p/z.txt"]
    assert repo.store.get(repo.load_index().get("p/z.txt").oid) == b"a"
    pq.write_table(pa.table({"text": ["a", "b"], "id": ["x", "x"]}), path)
    with pytest.raises(BadInputError, match="two items of the source map to the key 'q/x.txt'"):
        repo.import_("parquet", [str(path)], options=ImportOptions(text_field="text", id_field="id", prefix="q"), jobs=1)
    assert [e.path for e in repo.ls_files(None, "q/")] == []
