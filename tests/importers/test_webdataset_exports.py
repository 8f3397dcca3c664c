"""Our own exports come back: `mmvc import` of an export's folder, its index.json or its
shards restores every item as it was in the version (key, bytes, modality, metadata), and a
wids shard index names the shards of any WebDataset."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import BadInputError
from mmvc.repo import Repo
from tests.export.versions import make_version, mixed_items
from tests.importers import mirrors

PROVENANCE = {"connector": "parquet", "uri": "s3://bucket/web/part-0.parquet", "location": {"file": "part-0.parquet", "row": 3},
              "retrieved": 1700000000}


@pytest.fixture
def exported(repo, tmp_path):
    """A version whose items carry sources, licences, captions and a provenance, exported in
    three shards; (the repository, the export folder)."""
    items = mixed_items(6, 4)
    items["web/doc000.txt"] = (items["web/doc000.txt"][0], {**items["web/doc000.txt"][1], "provenance": PROVENANCE})
    make_version(repo, items)
    out = tmp_path / "export"
    repo.export(str(out), shard_items=4, allow_ungated=True)
    return repo, out


def entries(repo) -> list[tuple]:
    return [(e.path, e.oid, e.size, e.modality, e.meta) for e in repo.ls_files("HEAD" if repo.head()[1] else None)]


def fresh(tmp_path, name="back"):
    return Repo.init(str(tmp_path / name), ungated=True)


@pytest.mark.parametrize("how", ["folder", "index", "shards", "auto-folder", "auto-index"])
def test_an_export_imports_as_the_version_it_was_made_from(exported, tmp_path, how):
    repo, out = exported
    back = fresh(tmp_path)
    kind, sources = {"folder": ("webdataset", [str(out)]), "index": ("webdataset", [str(out / "index.json")]),
                     "shards": ("webdataset", [str(out / "shard-{000000..000002}.tar")]),
                     "auto-folder": (str(out), []), "auto-index": (str(out / "index.json"), [])}[how]
    r = back.import_(kind, sources)
    assert r.connector == "webdataset" and r.prefix == "" and (r.added, r.skipped) == (10, [])
    back.commit("back")
    assert entries(back) == entries(repo)  # keys, bytes, modalities and metadata, provenance included
    meta = json.loads(next(e for e in back.ls_files("HEAD") if e.path == "web/doc000.txt").meta)
    assert meta["provenance"] == PROVENANCE and meta["license"] == "odc-by" and meta["source"] == "fineweb"


def test_prefix_license_and_source_options_still_apply(exported, tmp_path):
    _, out = exported
    back = fresh(tmp_path)
    back.import_("webdataset", [str(out)], prefix="restored", license="cc0-1.0", source="mirror")
    got = {e.path: json.loads(e.meta) for e in back.ls_files()}
    assert sorted(got)[0] == "restored/coco/img000.png"
    assert {m["license"] for m in got.values()} == {"cc0-1.0"} and {m["source"] for m in got.values()} == {"mirror"}
    assert got["restored/coco/img000.png"]["caption"] == "picture 0"


def test_a_mixture_that_drew_an_item_twice_gives_it_back_once(repo, tmp_path):
    make_version(repo, mixed_items(3, 2))
    out = tmp_path / "mix"
    e = repo.export(str(out), mix="source='coco':0.8,source='fineweb':0.2", epoch_size=20, seed=1, allow_ungated=True)
    assert e.samples == 20
    back = fresh(tmp_path)
    back.import_(str(out), [])
    assert sorted(x.path for x in back.ls_files()) == sorted(x.path for x in repo.ls_files("HEAD"))


def _tar(path, members: dict) -> None:
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def test_a_payload_that_is_not_the_object_its_json_names_is_skipped(exported, tmp_path):
    _, out = exported
    doc = {"key": "web/evil.txt", "modality": "text", "oid": "0" * 64, "sample": 0, "size": 4}
    _tar(out / "shard-000000.tar", {"000000000.txt": b"evil", "000000000.json": json.dumps(doc).encode()})
    back = fresh(tmp_path)
    r = back.import_("webdataset", [str(out / "shard-000000.tar"), str(out / "shard-000001.tar")])
    assert [why for _, why in r.skipped] == ["its payload is not the object 000000000000 its .json names (a damaged export)"]
    assert "web/evil.txt" not in {x.path for x in back.ls_files()}


def test_a_wids_index_names_the_shards_of_any_webdataset(repo, tmp_path):
    mirrors.webdataset_shards(tmp_path)
    index = {"__kind__": "wids-shard-index-v1", "wids_version": 1,
             "shardlist": [{"url": "000.tar", "nsamples": 3}, {"url": "001.tar", "nsamples": 3}]}
    (tmp_path / "shards" / "index.json").write_text(json.dumps(index))
    r = repo.import_(str(tmp_path / "shards"), [])
    assert r.connector == "webdataset" and r.added == 6
    assert "shards/001/sample0004.jpg" in {e.path for e in repo.ls_files()}  # not an mmvc export: WebDataset's keys


def test_an_index_naming_a_missing_shard_is_refused(exported, tmp_path):
    _, out = exported
    (out / "shard-000001.tar").unlink()
    with pytest.raises(BadInputError, match="shard-000001.tar, which does not exist"):
        fresh(tmp_path).import_("webdataset", [str(out)])


def test_import_of_an_export_folder_on_the_command_line(exported, tmp_path):
    _, out = exported
    back = fresh(tmp_path)
    res = CliRunner().invoke(cli, ["-C", back.root, "import", "webdataset", str(out)])
    assert res.exit_code == 0, res.output
    assert "staged 10 new" in res.output


def test_the_webdataset_package_is_for_tests_only():
    """mmvc reads and writes WebDataset tars itself; the `webdataset` package (the test extra)
    only checks from outside that others' readers agree."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "mmvc"
    users = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "webdataset" or n.startswith("webdataset.") for n in names):
                users.append(str(path.relative_to(root.parent)))
    assert not users, f"mmvc imports webdataset in {users}: it is a test dependency"
