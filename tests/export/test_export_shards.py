"""`mmvc export --webdataset`: shards the webdataset library reads back, byte-identical reruns,
resume after an interruption, and every refusal the issue lists."""

from __future__ import annotations

import json
import os
import tarfile

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import ConflictError, CorruptError, ExitCode
from mmvc.ops.export import export, parse_size
from tests.export.versions import make_version, mixed_items


def mmvc(repo, *args, expect=0):
    res = CliRunner().invoke(cli, ["-C", repo.root, *args], catch_exceptions=False)
    assert res.exit_code == expect, res.output
    return res


def shard_files(out) -> list[str]:
    return sorted(os.path.join(out, n) for n in os.listdir(out) if n.endswith(".tar"))


def test_webdataset_reads_every_sample_back(data_repo, tmp_path):
    import webdataset as wds

    out = str(tmp_path / "out")
    res = json.loads(mmvc(data_repo, "export", "--webdataset", out, "--shard-items", "16", "--seed", "7",
                          "--allow-ungated", "--json").output)
    assert res["samples"] == 50 and res["shards"] == 4
    items = mixed_items()
    seen = {}
    for s in wds.WebDataset(shard_files(out), shardshuffle=False, empty_check=False):
        meta = json.loads(s["json"])
        payload = s["png"] if "png" in s else s["txt"]
        data, m = items[meta["key"]]
        assert payload == data
        assert meta["source"] == m["source"] and meta["license"] == m["license"] and meta.get("caption") == m.get("caption")
        assert meta["sample"] == int(s["__key__"]) and len(meta["oid"]) == 64 and meta["size"] == len(data)
        seen[meta["key"]] = s["__key__"]
    assert set(seen) == set(items)
    # the index: wids shape, sizes and BLAKE3 of the files
    from blake3 import blake3

    idx = json.load(open(os.path.join(out, "index.json")))
    assert idx["__kind__"] == "wids-shard-index-v1" and idx["wids_version"] == 1
    assert [s["nsamples"] for s in idx["shardlist"]] == [16, 16, 16, 2]
    for s in idx["shardlist"]:
        data = open(os.path.join(out, s["url"]), "rb").read()
        assert len(data) == s["filesize"] and blake3(data).hexdigest() == s["blake3"]
    assert idx["mmvc"]["commit"] == data_repo.resolve("main") and idx["mmvc"]["seed"] == 7
    assert res["export_id"] == blake3(open(os.path.join(out, "index.json"), "rb").read()).hexdigest()
    # fixed tar headers
    with tarfile.open(shard_files(out)[0]) as t:
        for m in t.getmembers():
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)


def test_two_exports_are_byte_identical(data_repo, tmp_path):
    a = export(data_repo, str(tmp_path / "a"), seed=3, shard_size="20KB", jobs=1, allow_ungated=True)
    b = export(data_repo, str(tmp_path / "b"), seed=3, shard_size="20KB", jobs=3, allow_ungated=True)
    assert a.export_id == b.export_id and a.shards > 2
    for name in sorted(os.listdir(tmp_path / "a")):
        assert open(tmp_path / "a" / name, "rb").read() == open(tmp_path / "b" / name, "rb").read()
    assert sorted(os.listdir(tmp_path / "a")) == sorted(os.listdir(tmp_path / "b"))
    c = export(data_repo, str(tmp_path / "c"), seed=4, shard_size="20KB", allow_ungated=True)
    assert c.export_id != a.export_id
    # shard-size: no shard over the limit unless it holds a single sample
    idx = json.load(open(tmp_path / "a" / "index.json"))
    assert all(s["filesize"] <= 20_000 or s["nsamples"] == 1 for s in idx["shardlist"])


def test_parse_size():
    assert parse_size("256MB") == 256_000_000 and parse_size("1GiB") == 1 << 30 and parse_size("1000") == 1000


def test_resume_after_interruption_gives_the_same_export(data_repo, tmp_path):
    full = export(data_repo, str(tmp_path / "full"), seed=1, shard_items=8, jobs=1, allow_ungated=True)
    out = str(tmp_path / "part")

    def stop_after(done, done_bytes, total, total_bytes):
        if done == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(data_repo, out, seed=1, shard_items=8, jobs=1, allow_ungated=True, progress=stop_after)
    names = sorted(os.listdir(out))
    assert "index.json" not in names and ".mmvc-export.json" in names
    assert names.count("shard-000000.tar") == 1 and "shard-000002.tar" not in names
    assert not [n for n in names if ".tmp-" in n]  # no half shard left behind
    with pytest.raises(ConflictError, match="not empty"):
        export(data_repo, out, seed=1, shard_items=8, allow_ungated=True)
    with pytest.raises(ConflictError, match="other settings"):
        export(data_repo, out, seed=2, shard_items=8, allow_ungated=True, resume=True)
    res = export(data_repo, out, seed=1, shard_items=8, allow_ungated=True, resume=True)
    assert res.reused_shards == 2 and res.export_id == full.export_id
    assert sorted(os.listdir(out)) == sorted(os.listdir(tmp_path / "full"))
    for n in os.listdir(out):
        assert open(os.path.join(out, n), "rb").read() == open(tmp_path / "full" / n, "rb").read()
    again = export(data_repo, out, seed=1, shard_items=8, allow_ungated=True, resume=True)
    assert again.complete_already and again.export_id == full.export_id


def test_force_replaces_and_refusals(data_repo, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    mmvc(data_repo, "export", "--webdataset", str(out), "--allow-ungated", expect=ExitCode.CONFLICT)
    mmvc(data_repo, "export", "--webdataset", str(out), "--allow-ungated", "--force", "--shard-items", "10")
    assert len(shard_files(out)) == 5 and (out / "notes.txt").exists()
    mmvc(data_repo, "export", "--webdataset", str(out), "--allow-ungated", "--force", "--shard-items", "25")
    assert len(shard_files(out)) == 2  # the old export's extra shards are gone
    new = str(tmp_path / "new")
    mmvc(data_repo, "export", "--webdataset", new, expect=ExitCode.GATE)
    mmvc(data_repo, "export", "--webdataset", new, "--rev", "nope", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    mmvc(data_repo, "export", "--webdataset", new, "--recipe", "nope", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    r = mmvc(data_repo, "export", "--webdataset", new, "--where", "source = 'nope'", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    assert "selects no items" in r.output
    mmvc(data_repo, "recipe", "create", "r", "--allow-ungated")
    mmvc(data_repo, "export", "--webdataset", new, "--recipe", "r", "--seed", "3", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    mmvc(data_repo, "export", "--webdataset", new, "--shard-size", "lots", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    assert not os.path.exists(new)


def test_missing_and_corrupt_objects_write_nothing(repo, tmp_path):
    big = os.urandom(300_000)  # above the pack threshold: a loose object we can take away
    make_version(repo, {"video/big.mp4": (big, {"source": "x"}), "text/a.txt": b"hello\n"})
    from mmvc.core.hashing import hash_bytes

    loose = repo.store.loose_path(hash_bytes(big))
    os.chmod(loose, 0o644)
    with open(loose, "r+b") as f:  # flip one byte: the object no longer hashes to its id
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 1]))
    out = str(tmp_path / "out")
    with pytest.raises(CorruptError, match="video/big.mp4"):
        export(repo, out, allow_ungated=True)
    assert "index.json" not in os.listdir(out) and not [n for n in os.listdir(out) if n.endswith(".tar")]
    os.unlink(loose)
    with pytest.raises(CorruptError, match=r"missing from the store: .*video/big.mp4"):
        export(repo, str(tmp_path / "out2"), allow_ungated=True)
    assert not os.path.exists(tmp_path / "out2")


def test_corrupt_packed_object_writes_nothing(repo, tmp_path):
    """Small objects are hashed straight out of the mapped pack: a flipped byte there is caught."""
    small = os.urandom(5_000)  # below the pack threshold: it lives in a pack
    make_version(repo, {"img/small.jpg": (small, {"source": "x"}), "text/a.txt": b"hello\n"})
    from mmvc.core.hashing import hash_bytes

    found = repo.store.locate(hash_bytes(small))
    assert found is not None
    pack_path, off, length = found
    assert length == len(small)
    os.chmod(pack_path, 0o644)
    with open(pack_path, "r+b") as f:
        f.seek(off + 100)
        b = f.read(1)
        f.seek(off + 100)
        f.write(bytes([b[0] ^ 1]))
    out = str(tmp_path / "out")
    with pytest.raises(CorruptError, match="img/small.jpg"):
        export(repo, out, allow_ungated=True)
    assert "index.json" not in os.listdir(out) and not [n for n in os.listdir(out) if n.endswith(".tar")]


def test_fsspec_target_gives_the_same_bytes(data_repo, tmp_path):
    import fsspec

    local = export(data_repo, str(tmp_path / "local"), seed=5, shard_items=20, allow_ungated=True)
    remote = export(data_repo, "memory://exports/run1", seed=5, shard_items=20, allow_ungated=True)
    assert remote.export_id == local.export_id and remote.index.endswith("exports/run1/index.json")
    assert fsspec.open(remote.index, "rb").open().read() == open(tmp_path / "local" / "index.json", "rb").read()
    fs = fsspec.filesystem("memory")
    for n in os.listdir(tmp_path / "local"):
        assert fs.cat(f"/exports/run1/{n}") == open(tmp_path / "local" / n, "rb").read()
    with pytest.raises(ConflictError):
        export(data_repo, "memory://exports/run1", seed=5, allow_ungated=True)
    fs.rm("/exports", recursive=True)


def test_export_to_a_real_s3_server_and_load_it_back(data_repo, tmp_path, s3_server, monkeypatch):
    from mmvc.loader import MMVCDataset

    s3_server.apply_env(monkeypatch)
    bucket = s3_server.make_bucket()
    local = export(data_repo, str(tmp_path / "local"), seed=2, shard_items=16, allow_ungated=True)
    res = export(data_repo, f"s3://{bucket}/exports/v1/", seed=2, shard_items=16, allow_ungated=True)
    assert res.export_id == local.export_id
    fs = s3_server.filesystem()
    for n in os.listdir(tmp_path / "local"):
        assert fs.cat(f"{bucket}/exports/v1/{n}") == open(tmp_path / "local" / n, "rb").read()
    ds = MMVCDataset(f"s3://{bucket}/exports/v1/", seed=1, cache_dir=str(tmp_path / "cache"), allow_ungated=True)
    assert sorted(s["key"] for s in ds) == sorted(s["key"] for s in MMVCDataset(str(tmp_path / "local"), allow_ungated=True))
