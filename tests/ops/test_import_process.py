"""Imported items go through `process` and `commit` like added files: real Ray (local mode),
tiny seeded models, and provenance still on every item of the committed version."""

from __future__ import annotations

import json


from mmvc.importers.base import ImportOptions
from mmvc.repo import Repo
from tests.process_fixtures import use_tiny_models
from tests.importers import mirrors


def test_import_process_commit_keeps_provenance(tmp_path, tiny_models, ray_local):
    from mmvc.ops.process import process
    from mmvc.ops.report import report

    repo = Repo.init(str(tmp_path / "repo"))
    use_tiny_models(repo, tiny_models)

    mirrors.fineweb(tmp_path / "fw", files=1, rows=6)
    mirrors.coco(tmp_path / "coco", images=3)
    base = mirrors.librispeech(tmp_path)
    repo.import_("parquet", [str(tmp_path / "fw/data/train-00000.parquet")],
                 options=ImportOptions(text_field="text", meta_fields=["url"], license="odc-by", source="fineweb"))
    repo.import_("coco", [str(tmp_path / "coco")])
    repo.import_("librispeech", [base])
    # one row twice: the second copy must come out as an exact duplicate, as with added files
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [mirrors.text_row(0)]}), tmp_path / "again.parquet")
    repo.import_("parquet", [str(tmp_path / "again.parquet")], options=ImportOptions(text_field="text", prefix="web-copy"))

    r = process(repo)
    assert r.items == 6 + 3 + 6 + 1
    rows = {row.path: row for row in report(repo, include_passed=True).rows}
    assert rows["web-copy/again/00000000.txt"].status == "duplicate"
    assert rows["web-copy/again/00000000.txt"].duplicate_of == "fineweb/train-00000/00000000.txt"
    assert all(rows[k].status == "passed" for k in rows if k.startswith(("fineweb/", "coco/", "librispeech/"))), \
        {k: (v.status, v.reason) for k, v in rows.items()}
    c = repo.commit("imported fineweb, coco, librispeech")
    assert repo.read_commit(c.oid).gate.mode == "gated"
    committed = {e.path: json.loads(e.meta) for e in repo.ls_files("HEAD")}
    assert len(committed) == 15 and "web-copy/again/00000000.txt" not in committed
    assert committed["fineweb/train-00000/00000003.txt"]["provenance"]["location"] == {"file": "train-00000.parquet", "row": 3}
    assert committed["coco/val2017/000000000001.jpg"]["caption"].startswith("image 1 caption 0")
    assert committed["librispeech/dev-clean/84/121123/84-121123-0000.flac"]["transcript"] == "SPEAKER 84 SAYS LINE 0"
    st = repo.status()
    assert st.staged == [] or all(ch.path.startswith("web-copy/") for ch in st.staged)
    assert st.unstaged == []
