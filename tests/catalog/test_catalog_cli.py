"""The catalog commands through click: exit codes, stdout data, stderr chatter."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.repo import Repo


def mmvc(root, *args, expect=0):
    res = CliRunner().invoke(cli, ["-C", str(root), *args], catch_exceptions=False)
    assert res.exit_code == expect, f"mmvc {' '.join(args)} -> {res.exit_code}\n{res.output}"
    return res


@pytest.fixture
def repo_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repo = Repo.init(str(tmp_path), ungated=True)
    for i in range(3):
        (tmp_path / f"doc{i}.txt").write_text("x" * (10 + i) + "\n")
    repo.add(["."], cwd=str(tmp_path))
    repo.commit("three docs")
    return tmp_path


def test_query_formats(repo_dir):
    out = json.loads(mmvc(repo_dir, "query", "--where", "size >= 12", "--columns", "key,size", "--json").stdout)
    assert out == [{"key": "doc1.txt", "size": 12}, {"key": "doc2.txt", "size": 13}]
    lines = mmvc(repo_dir, "query", "--format", "jsonl", "--limit", "1").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["key"] == "doc0.txt"
    mmvc(repo_dir, "query", "--format", "parquet", "-o", "out.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(repo_dir / "out.parquet").column("key").to_pylist() == ["doc0.txt", "doc1.txt", "doc2.txt"]
    csv = mmvc(repo_dir, "query", "--format", "csv", "--columns", "key,status").stdout.splitlines()
    assert csv == ["key,status", "doc0.txt,ungated", "doc1.txt,ungated", "doc2.txt,ungated"]
    assert "doc2.txt" in mmvc(repo_dir, "query").stdout


def test_bad_input_exit_codes(repo_dir):
    r = mmvc(repo_dir, "query", "--where", "widthh > 3", expect=4)
    assert "widthh" in r.stderr and "hint:" in r.stderr and "width" in r.stderr.split("hint:")[1]
    mmvc(repo_dir, "query", "--format", "parquet", expect=2)
    r = mmvc(repo_dir, "search", "a query", expect=9)
    assert "--allow-ungated" in r.stderr
    mmvc(repo_dir, "search", "a query", "--allow-ungated", "--modality", "text", expect=4)
    mmvc(repo_dir, "lineage", "nope.txt", expect=4)
    mmvc(repo_dir, "query", "--rev", "nosuchbranch", expect=4)


def test_lineage_datasheet_and_catalog_commands(repo_dir):
    lin = json.loads(mmvc(repo_dir, "lineage", "doc0.txt@HEAD", "--json").stdout)
    assert lin["key"] == "doc0.txt" and lin["gate"]["mode"] == "ungated" and lin["in_catalog"]
    assert "doc0.txt @ HEAD" in mmvc(repo_dir, "lineage", "doc0.txt").stdout
    r = mmvc(repo_dir, "datasheet", "-o", "sheet")
    assert r.stdout.strip() == os.path.join("sheet", "datasheet.md")
    assert (repo_dir / "sheet" / "items_by_modality.png").read_bytes()[:4] == b"\x89PNG"
    st = json.loads(mmvc(repo_dir, "catalog", "status", "--json").stdout)
    assert st["rows"] == 3 and st["head_missing"] == 0 and st["by_modality"] == {"text": 3}
    rb = json.loads(mmvc(repo_dir, "catalog", "rebuild", "--json").stdout)
    assert rb["rows"] == 3 and rb["commits"] == 1
    assert "HEAD:    3 items, 0 without a row" in mmvc(repo_dir, "catalog", "status").stdout


def test_search_cli_on_a_processed_repository(committed, tmp_path):
    repo, _, _ = committed
    r = mmvc(repo.root, "search", "databases", "--modality", "text", "-k", "2")
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(" text " in x or " audio" in x for x in lines)
    assert "text family" in r.stderr
    out = json.loads(mmvc(repo.root, "search", "a square", "--json", "-k", "1", "--where", "license = 'cc0-1.0'").stdout)
    fams = {f["family"]: f for f in out["families"]}
    assert [h["key"] for h in fams["clip"]["hits"]] == ["images/b.png"]
    assert [h["key"] for h in fams["text"]["hits"]] == ["audio/tone.wav"]
    (tmp_path / "q.txt").write_text(open(os.path.join(repo.root, "text/db.txt")).read())
    out = json.loads(mmvc(repo.root, "search", "--text-file", str(tmp_path / "q.txt"), "--modality", "text", "-k", "1", "--json").stdout)
    assert out["families"][0]["hits"][0]["key"] == "text/db.txt" and out["families"][0]["model"]


def test_a_piped_query_table_keeps_one_line_per_row(repo_dir):
    """Wider than any terminal (every column), yet each row stays on one line for grep and cut."""
    lines = mmvc(repo_dir, "query", "--columns", "all").stdout.splitlines()
    assert len(lines) == 4 and max(len(line) for line in lines) > 120
    assert lines[0].split()[:2] == ["key", "row_id"] and [line.split()[0] for line in lines[1:]] == ["doc0.txt", "doc1.txt", "doc2.txt"]
    assert all(line == line.rstrip() for line in lines)


def test_the_catalog_names_the_language_of_each_text(committed):
    """Detected offline by the process extra's detector, not `und` for every text."""
    repo, _, _ = committed
    rows = json.loads(mmvc(repo.root, "query", "--where", "modality = 'text'", "--columns", "key,language", "--json").stdout)
    languages = {r["key"]: r["language"] for r in rows}
    assert {"text/db.txt", "text/story.txt"} <= set(languages) and set(languages.values()) == {"en"}
