"""Every built-in connector on a small mirror of its real layout, through the real verb."""

from __future__ import annotations

import json
import os

import pytest

from mmvc.core.modality import AUDIO, IMAGE, OTHER, TEXT, VIDEO
from mmvc.errors import BadInputError, RemoteError
from mmvc.importers.base import ImportOptions
from tests.importers import mirrors


def metas(repo, prefix=""):
    return {e.path: (e, json.loads(e.meta)) for e in repo.ls_files(None, prefix)}


def test_parquet_rows_become_text_items_with_metadata(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw")
    r = repo.import_("parquet", [str(tmp_path / "fw/data/*.parquet")],
                     options=ImportOptions(text_field="text", meta_fields=["url", "score"], license="odc-by", source="fineweb"))
    assert (r.added, r.candidates, r.skipped) == (100, 100, [])
    items = metas(repo, "fineweb/")
    e, m = items["fineweb/train-00001/00000007.txt"]
    assert repo.store.get(e.oid).decode() == mirrors.text_row(57) and e.modality == TEXT
    assert m["license"] == "odc-by" and m["source"] == "fineweb"
    assert m["extra"] == {"score": 0.57, "url": "https://example.org/57"}
    prov = m["provenance"]
    assert prov["connector"] == "parquet" and prov["location"] == {"file": "train-00001.parquet", "row": 7}
    assert prov["uri"].startswith("file://") and prov["retrieved"] > 0 and prov["etag"]
    assert e.meta == json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # canonical


def test_parquet_license_per_row_id_keys_limit_and_sample(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=1, rows=60)
    src = [str(tmp_path / "fw/data/train-00000.parquet")]
    r = repo.import_("parquet", src, options=ImportOptions(text_field="text", id_field="id", license_field="license"), limit=5, dry_run=True)
    assert r.selected == 5 and r.added == 5 and not r.staged
    r = repo.import_("parquet", src, options=ImportOptions(text_field="text", id_field="id", license_field="license"), limit=5)
    items = metas(repo)
    assert sorted(items) == [f"data/doc-{i:05d}.txt" for i in range(5)]
    assert items["data/doc-00001.txt"][1]["license"] == "odc-by" and items["data/doc-00002.txt"][1]["license"] == "cc-by-4.0"

    def sampled(seed):
        res = repo.import_("parquet", src, options=ImportOptions(text_field="text", prefix="s"), sample=7, seed=seed, dry_run=True)
        assert res.selected == 7
        return res

    from mmvc.ops.import_ import select
    from mmvc.importers.base import Unit

    units = [Unit("a", 25, {}), Unit("b", 35, {})]
    picks = lambda seed: [(i, sorted(s.picks)) for i, s in select(units, None, 7, seed)]  # noqa: E731
    assert picks(3) == picks(3) and picks(3) != picks(4)
    assert sum(len(p) for _, p in picks(3)) == 7
    sampled(1)


def test_null_and_non_string_text_are_reported_per_row(repo, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["ok one", None, "ok two"], "n": [1, 2, 3]}), tmp_path / "t.parquet")
    r = repo.import_("parquet", [str(tmp_path / "t.parquet")], options=ImportOptions(text_field="text"))
    assert r.added == 2 and r.skipped == [("t.parquet row 1", "the text field 'text' is null")]
    with open(tmp_path / "rows.jsonl", "w") as f:
        f.write('{"text": "fine"}\n{"text": 42}\n')
    r = repo.import_("jsonl", [str(tmp_path / "rows.jsonl")], options=ImportOptions(text_field="text"))
    assert r.added == 1 and r.skipped == [("rows.jsonl row 1", "the text field 'text' is a int, not a string")]
    with pytest.raises(BadInputError) as e:
        repo.import_("parquet", [str(tmp_path / "t.parquet")], options=ImportOptions(text_field="body"))
    assert "no column 'body'" in e.value.message and "text, n" in e.value.hint


def test_duplicate_ids_are_refused(repo, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", "b", "c"], "id": ["x", "y", "x"]}), tmp_path / "t.parquet")
    with pytest.raises(BadInputError, match="two items of the source map to the key 't/x.txt'"):
        repo.import_("parquet", [str(tmp_path / "t.parquet")], options=ImportOptions(text_field="text", id_field="id", prefix="t"))
    assert list(repo.ls_files()) == []


def test_malformed_jsonl_names_file_and_line(repo, tmp_path):
    with open(tmp_path / "bad.jsonl", "w") as f:
        f.write('{"text": "a"}\n{"text": "b",,}\n')
    with pytest.raises(BadInputError, match=r"bad.jsonl is not valid JSONL: .* at line 2 column 14"):
        repo.import_("jsonl", [str(tmp_path / "bad.jsonl")], options=ImportOptions(text_field="text"))
    assert list(repo.ls_files()) == []


def test_csv_rows(repo, tmp_path):
    (tmp_path / "tbl").mkdir()
    with open(tmp_path / "tbl/t.csv", "w") as f:
        f.write("text,lang,lic\nhello there,en,mit\nbonjour,fr,cc0-1.0\n")
    repo.import_("csv", [str(tmp_path / "tbl/t.csv")], options=ImportOptions(text_field="text", meta_fields=["lang"], license_field="lic"))
    items = metas(repo)
    e, m = items["tbl/t/00000001.txt"]
    assert repo.store.get(e.oid) == b"bonjour" and m["extra"] == {"lang": "fr"} and m["license"] == "cc0-1.0"


@pytest.mark.parametrize("kind,body", [("csv", "text,lang\nhello,en\n"), ("jsonl", '{"text": "hello", "lang": "en"}\n')])
def test_a_byte_order_mark_is_not_part_of_the_first_field(repo, tmp_path, kind, body):
    """Excel and Windows tools start UTF-8 files with a BOM; the first column must still be found."""
    (tmp_path / f"t.{kind}").write_bytes(b"\xef\xbb\xbf" + body.encode())
    r = repo.import_(kind, [str(tmp_path / f"t.{kind}")], options=ImportOptions(text_field="text", meta_fields=["lang"]))
    assert r.added == 1
    (e, m), = metas(repo).values()
    assert repo.store.get(e.oid) == b"hello" and m["extra"] == {"lang": "en"}


@pytest.mark.parametrize("kind,body", [("csv", b"text\nok\n\xff\xfe latin-1 bytes\n"), ("jsonl", b'{"text": "ok"}\n{"text": "\xff\xfe"}\n')])
def test_a_table_that_is_not_utf8_is_refused_naming_it(repo, tmp_path, kind, body):
    (tmp_path / f"t.{kind}").write_bytes(body)
    with pytest.raises(BadInputError, match=rf"t\.{kind} is not UTF-8 text \(byte 0xff"):
        repo.import_(kind, [str(tmp_path / f"t.{kind}")], options=ImportOptions(text_field="text"))
    assert not list(repo.load_index().iter_entries())


def test_a_csv_cell_longer_than_128_kib_is_read(repo, tmp_path):
    """Python's csv module stops at 128 KiB per field by default; a long document is no error."""
    long = "word " * 60_000
    (tmp_path / "t.csv").write_text(f"text\n{long}\n")
    r = repo.import_("csv", [str(tmp_path / "t.csv")], options=ImportOptions(text_field="text"))
    assert r.added == 1
    (e, _), = metas(repo).values()
    assert repo.store.get(e.oid) == long.encode()


def test_a_truncated_compressed_table_is_refused_naming_it(repo, tmp_path):
    import gzip

    data = gzip.compress(b"".join(b'{"text": "%s"}\n' % os.urandom(16).hex().encode() for _ in range(4000)))
    (tmp_path / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match=r"t\.jsonl\.gz is truncated or not a valid compressed file"):
        repo.import_("jsonl", [str(tmp_path / "t.jsonl.gz")], options=ImportOptions(text_field="text"))


def test_coco_images_with_captions_and_missing_files(repo, tmp_path):
    mirrors.coco(tmp_path / "coco2017", images=4, missing=(3,))
    r = repo.import_("coco", [str(tmp_path / "coco2017")], options=ImportOptions(split="val"))
    assert r.added == 3 and r.source == "coco"
    assert r.skipped == [("annotations/captions_val2017.json image 3 (000000000003.jpg)",
                          "the annotations name val2017/000000000003.jpg, which is not in the folder")]
    items = metas(repo, "coco/")
    e, m = items["coco/val2017/000000000002.jpg"]
    assert e.modality == IMAGE and repo.store.get(e.oid) == (tmp_path / "coco2017/val2017/000000000002.jpg").read_bytes()
    assert m["caption"] == "image 2 caption 0\nimage 2 caption 1"
    assert m["license"] == "cc-by-2.0"  # from the annotations' licenses table
    assert m["provenance"]["location"] == {"file": "annotations/captions_val2017.json", "image_id": 2, "annotation_ids": [1003, 1004]}
    assert m["extra"]["width"] == 64


def test_coco_malformed_annotations_name_file_and_position(repo, tmp_path):
    path = mirrors.coco(tmp_path / "coco", images=1)
    with open(path, "w") as f:
        f.write('{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(BadInputError) as e:
        repo.import_("coco", [str(tmp_path / "coco")])
    assert "annotations/captions_val2017.json is not valid JSON" in e.value.message and "line 2 column 12" in e.value.message
    with pytest.raises(BadInputError, match="split 'train'"):
        repo.import_("coco", [str(tmp_path / "coco")], options=ImportOptions(split="train"))


def test_librispeech_flac_with_transcripts(repo, tmp_path):
    base = mirrors.librispeech(tmp_path, missing=("174-50561-0001",))
    r = repo.import_("librispeech", [base])
    assert r.added == 5 and r.skipped == [("dev-clean/174/50561/174-50561.trans.txt line 2", "174-50561-0001.flac is missing")]
    e, m = metas(repo)["librispeech/dev-clean/84/121123/84-121123-0002.flac"]
    assert e.modality == AUDIO and m["transcript"] == "SPEAKER 84 SAYS LINE 2" and m["source"] == "librispeech"
    assert m["provenance"]["location"] == {"file": "dev-clean/84/121123/84-121123.trans.txt", "line": 3, "utterance": "84-121123-0002"}
    import io

    import soundfile as sf

    data, rate = sf.read(io.BytesIO(repo.store.get(e.oid)))
    assert rate == 16000 and len(data) == 8000


def test_finevideo_mp4_and_json(repo, tmp_path):
    d = mirrors.finevideo(tmp_path)
    r = repo.import_("finevideo", [d])
    assert r.added == 3
    e, m = metas(repo)["finevideo/vid001.mp4"]
    assert e.modality == VIDEO and m["caption"] == "a video about 1" and m["license"] == "cc-by-4.0"
    assert m["extra"] == {"duration_seconds": 11, "youtube_channel": "chan", "youtube_title": "title 1"}
    assert m["provenance"]["location"] == {"file": "vid001.mp4", "sidecar": "vid001.json"}


def test_folder_with_sidecars_and_metadata_table(repo, tmp_path):
    d = tmp_path / "pics"
    (d / "sub").mkdir(parents=True)
    (d / "a.jpg").write_bytes(mirrors.jpeg(1))
    (d / "a.jpg.json").write_text(json.dumps({"caption": "first", "photographer": "kim", "nested": {"x": 1}}))
    (d / "sub/b.png").write_bytes(mirrors.jpeg(2))
    (d / "sub/c.bin").write_bytes(b"\x00\x01\x02 what is this")
    (d / "metadata.jsonl").write_text('{"file_name": "sub/b.png", "caption": "second", "license": "cc0-1.0"}\n')
    r = repo.import_("folder", [str(d)], options=ImportOptions(license="cc-by-4.0"))
    items = metas(repo)
    assert sorted(items) == ["pics/a.jpg", "pics/sub/b.png", "pics/sub/c.bin"]
    assert r.skipped == [] and items["pics/sub/c.bin"][0].modality == OTHER  # what matches nothing is versioned as other
    assert items["pics/a.jpg"][1]["caption"] == "first" and items["pics/a.jpg"][1]["extra"] == {"photographer": "kim"}
    assert items["pics/a.jpg"][1]["license"] == "cc-by-4.0"  # the flag wins for the whole source
    assert items["pics/sub/b.png"][1]["caption"] == "second" and items["pics/sub/b.png"][0].modality == IMAGE
    (d / "a.jpg.json").write_text('{"caption": ')
    with pytest.raises(BadInputError, match=r"a.jpg.json is not valid JSON: .* line 1 column 13"):
        repo.import_("folder", [str(d)])


def test_webdataset_shards_read_back(repo, tmp_path):
    mirrors.webdataset_shards(tmp_path)
    r = repo.import_("webdataset", [str(tmp_path / "shards/{000..001}.tar")])
    assert r.added == 6 and r.source == "shards"
    e, m = metas(repo)["shards/001/sample0004.jpg"]
    assert e.modality == IMAGE and repo.store.get(e.oid) == mirrors.jpeg(104)
    assert m["caption"] == "caption of 4" and m["license"] == "cc-by-4.0" and m["extra"] == {"aesthetic": 0.4}
    assert m["provenance"]["location"] == {"file": "001.tar", "member": "sample0004.jpg", "sample": 1}


def test_a_sparse_tar_member_is_skipped_not_expanded(repo, tmp_path):
    """A 10 KiB member declaring 2 GiB of holes (PAX sparse, as GNU tar writes with --sparse):
    reading it would cost 2 GiB of memory and store 2 GiB of zeros."""
    import io
    import tarfile

    with tarfile.open(tmp_path / "shard.tar", "w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("s0001.bin")
        ti.size = 10240
        ti.pax_headers = {"GNU.sparse.map": "0,10240", "GNU.sparse.size": str(2 << 30)}
        t.addfile(ti, io.BytesIO(b"x" * 10240))
        for name, data in (("s0002.txt", b"a caption"),):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    r = repo.import_("webdataset", [str(tmp_path / "shard.tar")])
    assert r.added == 1 and [e.path.rsplit("/", 2)[-2:] for e in repo.load_index().iter_entries()] == [["shard", "s0002.txt"]]
    assert any("sparse member (declares 2147483648 bytes, holds 10240)" in why for _, why in r.skipped)


@pytest.mark.parametrize("name", ["../x.txt", "/etc/x.txt", "a/../../x.txt"])
def test_tar_members_escaping_are_refused(repo, tmp_path, name):
    mirrors.evil_tar(tmp_path / "evil.tar", name)
    with pytest.raises(BadInputError, match="would escape"):
        repo.import_("webdataset", [str(tmp_path / "evil.tar")])
    assert list(repo.ls_files()) == [] and not os.path.exists(tmp_path / "x.txt")


def test_unsupported_scheme_lists_supported(repo):
    with pytest.raises(BadInputError) as e:
        repo.import_("ftp://example.org/data/", [])
    assert "unsupported URL scheme 'ftp://'" in e.value.message and "s3://" in e.value.hint and "hf://" in e.value.hint


def test_auto_detects_tables_from_a_bare_path(repo, tmp_path):
    mirrors.fineweb(tmp_path / "fw", files=1, rows=4)
    r = repo.import_(str(tmp_path / "fw"), [], options=ImportOptions(text_field="text"))
    assert r.connector == "parquet" and r.added == 4 and r.source == "fw"


def test_memory_url_through_fsspec(repo, tmp_path):
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/raw/images/a.jpg", mirrors.jpeg(5))
    fs.pipe("/bucket/raw/images/deep/b.jpg", mirrors.jpeg(6))
    r = repo.import_("memory://bucket/raw/images/", [], options=ImportOptions(modality=IMAGE, license="cc-by-4.0"))
    assert r.connector == "folder" and r.added == 2
    e, m = metas(repo)["images/deep/b.jpg"]
    assert repo.store.get(e.oid) == mirrors.jpeg(6) and m["provenance"]["uri"] == "memory://bucket/raw/images/"


def _local_hub_class(root: str, sha: str):
    """An fsspec filesystem answering hf:// paths from a local folder, with the surface of
    HfFileSystem that the import uses (``resolve_path``, ``_api.repo_info``): no hub is
    reachable here, so this stands in for it on the same code path."""
    from types import SimpleNamespace

    from fsspec.implementations.local import LocalFileSystem

    class LocalHubFS(LocalFileSystem):
        protocol = ("hf",)

        def __init__(self, *a, **kw):
            super().__init__()
            self._api = SimpleNamespace(repo_info=lambda repo_id, repo_type, revision: SimpleNamespace(sha=sha))

        @classmethod
        def _strip_protocol(cls, path):
            path = path[len("hf://"):] if path.startswith("hf://") else path
            return path if path.startswith(root) else f"{root}/{path}"

        def resolve_path(self, path, revision=None):
            parts = self._strip_protocol(path)[len(root) + 1:].split("/")
            return SimpleNamespace(repo_type="dataset", repo_id="/".join(parts[1:3]), revision=revision or "main")

    return LocalHubFS


def test_hf_url_through_the_hub_filesystem_code_path(repo, tmp_path, monkeypatch):
    import fsspec

    hub = tmp_path / "hub"
    mirrors.fineweb(hub / "datasets/HuggingFaceFW/tinyweb", files=2, rows=6)
    (hub / "datasets/HuggingFaceFW/tinyweb/data/test-00000.parquet").write_bytes(
        (hub / "datasets/HuggingFaceFW/tinyweb/data/train-00000.parquet").read_bytes())
    sha = "0123456789abcdef0123456789abcdef01234567"
    fsspec.register_implementation("hf", _local_hub_class(str(hub), sha), clobber=True)
    try:
        r = repo.import_("hf://datasets/HuggingFaceFW/tinyweb", [], options=ImportOptions(text_field="text", split="train"), limit=8)
    finally:
        from huggingface_hub import HfFileSystem

        fsspec.register_implementation("hf", HfFileSystem, clobber=True)
    assert (r.connector, r.source, r.revision, r.added, r.candidates) == ("parquet", "tinyweb", sha, 8, 12)
    items = metas(repo, "tinyweb/")
    assert sorted(items)[0] == "tinyweb/data/train-00000/00000000.txt"
    assert not any("test-" in k for k in items)
    prov = items["tinyweb/data/train-00001/00000001.txt"][1]["provenance"]
    assert prov["revision"] == sha and prov["uri"] == "hf://datasets/HuggingFaceFW/tinyweb"


def test_s3_bucket_through_the_s3_server(repo, tmp_path, s3_server, monkeypatch):
    s3_server.apply_env(monkeypatch)
    bucket = s3_server.make_bucket()
    fs = s3_server.filesystem()
    fs.pipe(f"{bucket}/raw/images/a.jpg", mirrors.jpeg(7))
    fs.pipe(f"{bucket}/raw/images/b.jpg", mirrors.jpeg(8))
    r = repo.import_(f"s3://{bucket}/raw/images/", [], options=ImportOptions(modality=IMAGE, license="cc-by-4.0"))
    assert r.added == 2
    e, m = metas(repo)["images/b.jpg"]
    assert repo.store.get(e.oid) == mirrors.jpeg(8) and m["provenance"]["etag"] and m["license"] == "cc-by-4.0"


def test_s3_without_credentials_is_a_remote_error(repo, s3_server, monkeypatch, tmp_path):
    s3_server.apply_env(monkeypatch)
    bucket = s3_server.make_bucket()
    s3_server.filesystem().pipe(f"{bucket}/x/a.txt", b"hello")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(RemoteError) as e:
        repo.import_(f"s3://{bucket}/x/", [])
    assert "no credentials" in e.value.message and "AWS_ACCESS_KEY_ID" in e.value.hint


def test_folder_never_imports_a_repository_store(repo, tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics/a.jpg").write_bytes(mirrors.jpeg(1))
    repo.add(["pics"], cwd=repo.root)
    repo.commit("one")
    r = repo.import_("folder", [repo.root], options=ImportOptions(prefix="all"))
    assert [e.path for e in repo.ls_files(None, "all/")] == ["all/pics/a.jpg"] and r.added == 1
