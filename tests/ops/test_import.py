"""`mmvc import` as a verb: staging without a work-tree copy, idempotence, --replace, the
zero-item guard, --dry-run, --resume, parallel reads, a source changing underneath, plug-in
connectors."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from mmvc.errors import BadInputError
from mmvc.importers.base import ImportOptions
from tests.importers import mirrors

TEXT = ImportOptions(text_field="text")


def _index_bytes(repo) -> bytes:
    p = os.path.join(repo.dir, "index")
    return open(p, "rb").read() if os.path.exists(p) else b""


def test_imported_items_live_in_the_index_not_the_work_tree(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=1, rows=5)
    repo.import_("parquet", [str(tmp_path / "fw/data/train-00000.parquet")], options=ImportOptions(text_field="text", prefix="web"))
    st = repo.status()
    assert [c.kind for c in st.staged] == ["added"] * 5 and st.unstaged == []
    assert not os.path.exists(os.path.join(repo.root, "web"))
    c = repo.commit("import")
    assert repo.status().staged == [] and repo.status().unstaged == []
    assert [e.path for e in repo.ls_files("HEAD")] == [f"web/train-00000/{i:08d}.txt" for i in range(5)]
    assert json.loads(next(iter(repo.ls_files("HEAD"))).meta)["provenance"]["connector"] == "parquet"
    assert repo.diff().changes == []  # the work tree against the index: nothing "deleted"

    # switching away and back leaves imported items out of the work tree
    repo.switch("side", create=True)
    (tmp_path / "note.txt").write_text("note\n")
    repo.add(["note.txt"], cwd=repo.root)
    repo.commit("note")
    repo.switch("main")
    repo.switch("side")
    assert not os.path.exists(os.path.join(repo.root, "web")) and repo.status().unstaged == []

    # on request: restore writes one out, and from then on it is an ordinary work-tree file
    key = "web/train-00000/00000002.txt"
    repo.restore([key], cwd=repo.root)
    assert open(os.path.join(repo.root, key)).read() == mirrors.text_row(2)
    with open(os.path.join(repo.root, key), "a") as f:
        f.write(" edited")
    assert [(ch.path, ch.kind) for ch in repo.status().unstaged] == [(key, "modified")]
    repo.checkout("HEAD", paths=[key], cwd=repo.root)
    assert open(os.path.join(repo.root, key)).read() == mirrors.text_row(2) and repo.status().unstaged == []
    # checkout --no-sparse materialises every item, imported ones included
    repo.checkout("side", no_sparse=True)
    assert len(os.listdir(os.path.join(repo.root, "web/train-00000"))) == 5
    assert c.oid


def test_reimport_is_idempotent_and_sees_changes(repo, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(pa.table({"text": ["a", "b", "c"]}), src / "t.parquet")
    r1 = repo.import_("parquet", [str(src / "t.parquet")], options=ImportOptions(text_field="text", retrieved=1000))
    repo.commit("v1")
    r2 = repo.import_("parquet", [str(src / "t.parquet")], options=ImportOptions(text_field="text", retrieved=2000))
    assert (r1.added, r2.added, r2.modified, r2.unchanged) == (3, 0, 0, 3) and repo.status().staged == []
    repo.restore(["src/t/00000001.txt"], cwd=repo.root)  # a copy written out on request
    pq.write_table(pa.table({"text": ["a", "B", "c", "d"]}), src / "t.parquet")
    r3 = repo.import_("parquet", [str(src / "t.parquet")], options=TEXT)
    assert (r3.added, r3.modified, r3.unchanged) == (1, 1, 2)
    # that copy is now older than what is staged, and status says so; the others stay out of sight
    assert [(c.path, c.kind) for c in repo.status().unstaged] == [("src/t/00000001.txt", "modified")]


def test_replace_is_explicit_and_reports_removals(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=1, rows=10)
    src = [str(tmp_path / "fw/data/train-00000.parquet")]
    repo.import_("parquet", src, options=TEXT)
    r = repo.import_("parquet", src, options=TEXT, limit=4)
    assert r.removed == [] and len(list(repo.ls_files())) == 10
    r = repo.import_("parquet", src, options=TEXT, limit=4, replace=True, dry_run=True)
    assert len(r.removed) == 6 and len(list(repo.ls_files())) == 10
    r = repo.import_("parquet", src, options=TEXT, limit=4, replace=True)
    assert r.removed == [f"data/train-00000/{i:08d}.txt" for i in range(4, 10)]
    assert len(list(repo.ls_files())) == 4


def test_zero_item_import_never_removes_or_stages(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=1, rows=10)
    src = [str(tmp_path / "fw/data/train-00000.parquet")]
    repo.import_("parquet", src, options=TEXT)
    repo.commit("v1")
    before = _index_bytes(repo)
    r = repo.import_("parquet", src, options=TEXT, limit=0, replace=True)
    assert (r.selected, r.removed, r.staged) == (0, [], False)
    # every row skipped is also zero items: nothing replaced
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array([None, None], type=pa.string())}), tmp_path / "fw/data/train-00000.parquet")
    r = repo.import_("parquet", src, options=TEXT, replace=True)
    assert (r.added, r.removed, r.staged, len(r.skipped)) == (0, [], False, 2)
    assert _index_bytes(repo) == before and repo.status().staged == []


def test_dry_run_stores_and_stages_nothing(repo, tmp_path):
    mirrors.coco(tmp_path / "coco", images=3)
    before = set(repo.store.iter_ids())
    r = repo.import_("coco", [str(tmp_path / "coco")], dry_run=True)
    assert r.added == 3 and r.dry_run and not r.staged
    assert set(repo.store.iter_ids()) == before and list(repo.ls_files()) == []
    assert not os.path.exists(os.path.join(repo.dir, "import"))


def test_resume_continues_from_checkpoints(repo, tmp_path):
    d = tmp_path / "rows"
    d.mkdir()
    (d / "a.jsonl").write_text("".join(json.dumps({"text": f"a{i}"}) + "\n" for i in range(5)))
    (d / "b.jsonl").write_text('{"text": "b0"}\n{"text": oops}\n')
    src = [str(d / "*.jsonl")]
    with pytest.raises(BadInputError, match="b.jsonl is not valid JSONL"):
        repo.import_("jsonl", src, options=TEXT, jobs=1)
    assert list(repo.ls_files()) == []  # nothing staged by a failed import
    cps = os.listdir(os.path.join(repo.dir, "import"))
    assert len(cps) == 1 and os.listdir(os.path.join(repo.dir, "import", cps[0])) == ["unit-000000.ckpt"]
    (d / "b.jsonl").write_text('{"text": "b0"}\n{"text": "b1"}\n')
    r = repo.import_("jsonl", src, options=TEXT, resume=True, jobs=1)
    assert (r.resumed_units, r.units, r.added) == (1, 2, 7)
    assert len(list(repo.ls_files())) == 7 and not os.path.exists(os.path.join(repo.dir, "import"))

    # without --resume a stale checkpoint is not used
    (d / "b.jsonl").write_text('{"text": oops}\n')
    with pytest.raises(BadInputError):
        repo.import_("jsonl", src, options=ImportOptions(text_field="text", prefix="again"), jobs=1)
    (d / "b.jsonl").write_text('{"text": "b0"}\n')
    r = repo.import_("jsonl", src, options=ImportOptions(text_field="text", prefix="again"), jobs=1)
    assert (r.resumed_units, r.added) == (0, 6)


def test_parallel_and_serial_imports_agree(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=3, rows=900, row_group=300)
    src = [str(tmp_path / "fw/data/*.parquet")]
    r1 = repo.import_("parquet", src, options=ImportOptions(text_field="text", prefix="serial", retrieved=5), jobs=1)
    r2 = repo.import_("parquet", src, options=ImportOptions(text_field="text", prefix="parallel", retrieved=5), jobs=2, sample=2500, seed=1)
    r3 = repo.import_("parquet", src, options=ImportOptions(text_field="text", prefix="serial2", retrieved=5), jobs=1, sample=2500, seed=1)
    assert r1.added == 2700 and r2.added == r3.added == 2500
    par = [(e.path.split("/", 1)[1], e.oid, e.meta) for e in repo.ls_files(None, "parallel/")]
    ser = [(e.path.split("/", 1)[1], e.oid, e.meta) for e in repo.ls_files(None, "serial2/")]
    assert par == ser
    assert repo.fsck().ok


GROWING = textwrap.dedent('''
    from mmvc.importers.tables import JsonlConnector

    class GrowingJsonl(JsonlConnector):
        """Appends to its source while reading it, as a live dataset might."""
        name = "growing"

        def read(self, unit, wanted):
            for n, item in enumerate(super().read(unit, wanted)):
                if n == 0:
                    with open(unit.files[0].path, "a") as f:
                        f.write('{"text": "late"}\\n')
                yield item
''')


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A third-party package on sys.path that registers a connector under ``mmvc.connectors``."""
    site = tmp_path / "site"
    (site / "growing_pkg-1.0.dist-info").mkdir(parents=True)
    (site / "growing_pkg.py").write_text(GROWING)
    (site / "growing_pkg-1.0.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: growing-pkg\nVersion: 1.0\n")
    (site / "growing_pkg-1.0.dist-info/entry_points.txt").write_text("[mmvc.connectors]\ngrowing = growing_pkg:GrowingJsonl\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("growing_pkg", None)


def test_plugin_connector_and_a_source_changing_during_import(repo, tmp_path, plugin):
    from mmvc.importers.registry import connector_names

    assert "growing" in connector_names()
    d = tmp_path / "live"
    d.mkdir()
    (d / "rows.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n')
    with pytest.raises(BadInputError) as e:
        repo.import_("growing", [str(d / "rows.jsonl")], options=TEXT, jobs=1)
    assert "rows.jsonl changed during the import (size" in e.value.message and "--resume" in e.value.hint
    assert list(repo.ls_files()) == []
    with pytest.raises(BadInputError, match="no connector named 'nope'.*") as e:
        repo.import_("nope", ["x"])
    assert "growing" in e.value.hint and "parquet" in e.value.hint


def test_ctrl_c_mid_import_stages_nothing_and_resume_finishes(repo, tmp_path):
    """Interrupted once a unit is checkpointed: exit 130, index untouched, lock released, no
    temp packs left; `--resume` then reads only the units that had not finished."""
    import signal
    import subprocess
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 4 * 32768
    pq.write_table(pa.table({"text": [f"row {i} " + "lorem ipsum dolor sit amet " * 8 for i in range(rows)]}),
                   tmp_path / "big.parquet", row_group_size=8192)
    mmvc = os.path.join(os.path.dirname(sys.executable), "mmvc")
    argv = [mmvc, "import", "parquet", str(tmp_path / "big.parquet"), "--text-field", "text", "-j", "1"]
    proc = subprocess.Popen(argv, cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpt = os.path.join(repo.dir, "import")
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
        if os.path.isdir(ckpt) and any(n.endswith(".ckpt") for d in os.listdir(ckpt) for n in os.listdir(os.path.join(ckpt, d))):
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the import finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert not os.path.exists(os.path.join(repo.dir, "index")) and list(repo.ls_files()) == []
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
    assert not [n for n in os.listdir(os.path.join(repo.dir, "objects", "tmp")) if n.startswith("pack-")]
    r = repo.import_("parquet", [str(tmp_path / "big.parquet")], options=TEXT, resume=True, jobs=1)
    assert r.resumed_units >= 1 and r.units == 4 and r.added == rows
    assert repo.fsck().ok
