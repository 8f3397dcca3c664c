"""`mmvc import` on the command line: JSON out, chatter and exit codes."""

from __future__ import annotations

import json

from tests.importers import mirrors


def test_cli_import_json_and_exit_codes(run, tmp_path):
    run("init", "--ungated")
    mirrors.webdataset_shards(tmp_path / "w", shards=1, per_shard=2)
    out = run("import", "webdataset", str(tmp_path / "w/shards/000.tar"), "--license", "cc-by-4.0", "--json").stdout
    doc = json.loads(out)
    assert doc["added"] == 2 and doc["connector"] == "webdataset" and doc["staged"] is True
    listed = json.loads(run("ls-files", "--json").stdout)
    assert listed[0]["meta"]["provenance"]["location"]["member"] == "sample0000.jpg"
    assert listed[0]["meta"]["license"] == "cc-by-4.0"
    res = run("import", "ftp://host/x", expect=4)
    assert "unsupported URL scheme" in res.output and "s3://" in res.output
    res = run("import", "parquet", str(tmp_path / "w/shards/000.tar"), expect=4)
    assert "--text-field" in res.output
    res = run("import", "webdataset", str(tmp_path / "w/shards/000.tar"), "--limit", "0")
    assert "nothing was imported" in res.output
