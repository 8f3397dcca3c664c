"""``mmvc diff`` end to end on a real repository: every output format, exit codes, renames,
metadata-only changes, the work tree / index / HEAD pairings as Git has them, path limits."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.core.objects import canonical_meta
from mmvc.errors import ExitCode
from mmvc.repo import Repo

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32




@pytest.fixture
def two_versions(tmp_path, run):
    """v1: two images, two captions, one audio clip. v2: an image renamed, a caption edited,
    one removed, one added, and a caption's metadata changed (same bytes)."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(PNG + b"a")
    (tmp_path / "images" / "b.png").write_bytes(PNG + b"b")
    (tmp_path / "captions").mkdir()
    (tmp_path / "captions" / "a.txt").write_text("a red apple\n")
    (tmp_path / "captions" / "old.txt").write_text("to be removed\n")
    (tmp_path / "captions" / "meta.txt").write_text("same bytes\n")
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "x.wav").write_bytes(b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 24)
    run("init", "--ungated")
    run("add", ".")
    run("commit", "-m", "v1")
    os.rename(tmp_path / "images" / "a.png", tmp_path / "images" / "c.png")
    (tmp_path / "captions" / "a.txt").write_text("a green apple, bigger\n")
    os.unlink(tmp_path / "captions" / "old.txt")
    (tmp_path / "captions" / "new.txt").write_text("brand new\n")
    run("add", ".")
    set_meta(tmp_path, "captions/meta.txt", {"license": "cc-by-4.0"})
    run("commit", "-m", "v2")
    return tmp_path


def set_meta(root, path: str, meta: dict) -> None:
    idx = Repo(str(root)).load_index()
    e = idx.get(path)
    idx.set(e._replace(meta=canonical_meta(meta)))
    idx.write()


EXPECTED_NAME_STATUS = [
    "M\tcaptions/a.txt",
    "T\tcaptions/meta.txt",
    "A\tcaptions/new.txt",
    "D\tcaptions/old.txt",
    "R\timages/a.png\timages/c.png",
]


def test_name_status_between_two_versions(run, two_versions):
    assert run("diff", "HEAD~1", "HEAD", "--name-status").output.splitlines() == EXPECTED_NAME_STATUS
    assert run("diff", "HEAD~1..HEAD", "--name-status").output.splitlines() == EXPECTED_NAME_STATUS
    assert run("diff", "HEAD~1..", "--name-status").output.splitlines() == EXPECTED_NAME_STATUS
    back = run("diff", "HEAD", "HEAD~1", "--name-status").output.splitlines()
    assert back == ["M\tcaptions/a.txt", "T\tcaptions/meta.txt", "D\tcaptions/new.txt", "A\tcaptions/old.txt",
                    "R\timages/c.png\timages/a.png"]


def test_default_output_has_letters_paths_and_sizes(run, two_versions):
    lines = run("diff", "main~1", "main").output.splitlines()
    assert lines == [
        "M  captions/a.txt  (text, 12 B -> 22 B)",
        "T  captions/meta.txt  (text, meta)",
        "A  captions/new.txt  (text, +10 B)",
        "D  captions/old.txt  (text, -14 B)",
        "R  images/a.png -> images/c.png  (image, 41 B)",
    ]


def test_json_schema(run, two_versions):
    doc = json.loads(run("diff", "HEAD~1", "HEAD", "--json").output)
    assert doc["schema"] == 1
    head = Repo(str(two_versions)).resolve("HEAD")
    assert doc["to"] == {"kind": "commit", "rev": "HEAD", "commit": head, "tree": doc["to"]["tree"]}
    assert doc["from"]["rev"] == "HEAD~1" and doc["paths"] == []
    by_path = {c["path"]: c for c in doc["changes"]}
    assert [c["status"] for c in doc["changes"]] == ["modified", "meta", "added", "removed", "renamed"]
    assert by_path["images/c.png"]["old_path"] == "images/a.png"
    assert by_path["images/c.png"]["old"]["oid"] == by_path["images/c.png"]["new"]["oid"]
    meta = by_path["captions/meta.txt"]
    assert meta["fields"] == ["meta"] and meta["old"]["meta"] is None and meta["new"]["meta"] == {"license": "cc-by-4.0"}
    assert by_path["captions/old.txt"]["new"] is None and by_path["captions/new.txt"]["old"] is None
    assert by_path["captions/a.txt"]["new"] == {"oid": by_path["captions/a.txt"]["new"]["oid"], "size": 22, "modality": "text",
                                                "executable": False, "meta": None}
    s = doc["summary"]
    assert s["by_modality"]["text"] == {"added": 1, "removed": 1, "modified": 1, "renamed": 0, "meta": 1,
                                        "bytes_added": 10 + 22, "bytes_removed": 14 + 12}
    assert s["by_modality"]["image"]["renamed"] == 1
    assert s["total"]["added"] == 1 and s["total"]["renamed"] == 1


def test_stat_table(run, two_versions):
    out = run("diff", "HEAD~1", "HEAD", "--stat").output.splitlines()
    assert out[0].startswith("HEAD~1 (") and " -> HEAD (" in out[0]
    assert out[1].split() == ["modality", "added", "removed", "modified", "renamed", "meta", "bytes", "added", "bytes", "removed"]
    assert out[2].split() == ["image", "0", "0", "0", "1", "0", "+0", "B", "-0", "B"]
    assert out[3].split() == ["text", "1", "1", "1", "0", "1", "+32", "B", "-26", "B"]
    assert out[-1].split()[:6] == ["total", "1", "1", "1", "1", "1"]


def test_markdown_summary_and_limit(run, two_versions):
    md = run("diff", "HEAD~1", "HEAD", "--md").output
    assert md.startswith("### mmvc diff: HEAD~1 (")
    assert "| modality | added | removed | modified | renamed | metadata | bytes added | bytes removed |" in md
    assert "| text | 1 | 1 | 1 | 0 | 1 | +32 B | -26 B |" in md
    assert "| R | `images/a.png` → `images/c.png` | image | 41 B |" in md
    assert "more" not in md
    short = run("diff", "HEAD~1", "HEAD", "--md", "--limit", "2").output
    rows = [ln for ln in short.splitlines() if ln.startswith("| M ") or ln.startswith("| T ") or ln.startswith("| A ")]
    assert len(rows) == 2 and short.rstrip().endswith("… and 3 more")
    assert run("diff", "HEAD", "HEAD", "--md").output.rstrip().endswith("No differences.")


def test_exit_code(run, two_versions):
    assert run("diff", "HEAD", "HEAD", "--exit-code").output == ""
    run("diff", "HEAD~1", "HEAD", "--exit-code", "--name-status", expect=ExitCode.DIFFERENCES)
    run("diff", "HEAD~1", "HEAD")  # without --exit-code differences are not a failure
    run("diff", "--exit-code")  # clean work tree
    (two_versions / "captions" / "a.txt").write_text("edited again\n")
    run("diff", "--exit-code", expect=ExitCode.DIFFERENCES)
    run("diff", "--cached", "--exit-code")


def test_path_limits(run, two_versions):
    assert run("diff", "HEAD~1", "HEAD", "--name-status", "--", "images").output.splitlines() == ["R\timages/a.png\timages/c.png"]
    assert run("diff", "HEAD~1", "HEAD", "--name-status", "--", "captions/new.txt", "captions/old.txt").output.splitlines() == [
        "A\tcaptions/new.txt", "D\tcaptions/old.txt"]
    assert run("diff", "HEAD~1", "HEAD", "--name-status", "--", "captions/*.txt").output.splitlines() == EXPECTED_NAME_STATUS[:4]
    assert run("diff", "HEAD~1", "HEAD", "--name-status", "--", "audio").output == ""
    doc = json.loads(run("diff", "HEAD~1", "HEAD", "--json", "--", "images").output)
    assert doc["paths"] == ["images"] and doc["summary"]["total"]["renamed"] == 1
    # relative to the current folder, like every path the user types (no -C here)
    os.chdir(two_versions / "captions")
    res = CliRunner().invoke(cli, ["diff", "HEAD~1", "HEAD", "--name-status", "--", "new.txt"], catch_exceptions=False)
    assert res.exit_code == 0 and res.output.splitlines() == ["A\tcaptions/new.txt"]


def test_worktree_index_and_head_as_in_git(run, tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("bee\n")
    run("init", "--ungated")
    run("add", ".")
    # before the first commit: --cached compares with nothing
    assert run("diff", "--cached", "--name-status").output.splitlines() == ["A\ta.txt", "A\tb.txt"]
    assert run("diff", "--name-status").output == ""
    run("commit", "-m", "v1")

    (tmp_path / "a.txt").write_text("two\n")
    (tmp_path / "untracked.txt").write_text("not part of any diff\n")
    os.unlink(tmp_path / "b.txt")
    assert run("diff", "--name-status").output.splitlines() == ["M\ta.txt", "D\tb.txt"]
    assert run("diff", "--cached", "--name-status").output == ""
    assert run("diff", "HEAD", "--name-status").output.splitlines() == ["M\ta.txt", "D\tb.txt"]
    wt = json.loads(run("diff", "--json").output)
    assert (wt["from"]["kind"], wt["to"]["kind"]) == ("index", "worktree")
    assert wt["changes"][0]["new"]["size"] == 4 and wt["changes"][0]["new"]["oid"] != wt["changes"][0]["old"]["oid"]

    run("add", "a.txt")
    assert run("diff", "--name-status").output.splitlines() == ["D\tb.txt"]
    assert run("diff", "--cached", "--name-status").output.splitlines() == ["M\ta.txt"]
    assert run("diff", "HEAD", "--name-status").output.splitlines() == ["M\ta.txt", "D\tb.txt"]

    # back to HEAD's bytes in the work tree, while the index keeps "two"
    (tmp_path / "a.txt").write_text("one\n")
    assert run("diff", "--name-status").output.splitlines() == ["M\ta.txt", "D\tb.txt"]
    assert run("diff", "--cached", "--name-status").output.splitlines() == ["M\ta.txt"]
    assert run("diff", "HEAD", "--name-status").output.splitlines() == ["D\tb.txt"]
    assert run("diff", "--staged", "HEAD", "--name-status").output.splitlines() == ["M\ta.txt"]

    os.unlink(tmp_path / "untracked.txt")
    run("add", ".")
    run("commit", "-m", "v2")
    assert run("diff", "--name-status").output == ""
    # one revision other than HEAD: that version against the work tree
    (tmp_path / "c.txt").write_text("see\n")
    run("add", "c.txt")
    assert run("diff", "HEAD~1", "--name-status").output.splitlines() == ["D\tb.txt", "A\tc.txt"]
    assert run("diff", "--cached", "HEAD~1", "--name-status").output.splitlines() == ["D\tb.txt", "A\tc.txt"]


def test_worktree_metadata_and_rename_in_the_index(run, tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    run("init", "--ungated")
    run("add", ".")
    run("commit", "-m", "v1")
    set_meta(tmp_path, "a.txt", {"caption": "ünïcode"})
    assert run("diff", "--cached", "--name-status").output.splitlines() == ["T\ta.txt"]
    # the work tree keeps the staged metadata: nothing unstaged
    assert run("diff", "--name-status").output == ""
    doc = json.loads(run("diff", "HEAD", "--json").output)
    assert doc["changes"][0]["new"]["meta"] == {"caption": "ünïcode"}
    run("mv", "a.txt", "b.txt")
    assert run("diff", "--cached", "--name-status").output.splitlines() == ["R\ta.txt\tb.txt"]


def test_bad_revisions_and_usage(run, two_versions):
    res = run("diff", "nope", "HEAD", expect=ExitCode.BAD_INPUT)
    assert "unknown revision 'nope'" in res.output
    res = run("diff", "captions", expect=ExitCode.BAD_INPUT)
    assert "mmvc diff -- captions" in res.output
    run("diff", "--cached", "HEAD~1", "HEAD", expect=ExitCode.BAD_INPUT)
    assert run("diff", "HEAD~1...HEAD").output == run("diff", "HEAD~1", "HEAD").output  # the merge base is HEAD~1
    run("diff", "nope...HEAD", expect=ExitCode.BAD_INPUT)
    run("diff", "--json", "--md", expect=ExitCode.USAGE)
    run("diff", "HEAD", "HEAD", "HEAD", expect=ExitCode.USAGE)


def test_odd_paths_stay_on_one_line(run, tmp_path):
    (tmp_path / "a\tb.txt").write_text("tab\n")
    (tmp_path / "ü x.txt").write_text("spaces and unicode\n")
    run("init", "--ungated")
    run("config", "core.portability", "warn")  # Windows cannot hold a tab in a name
    run("add", ".")
    assert run("diff", "--cached", "--name-status").output.splitlines() == ['A\t"a\\tb.txt"', "A\tü x.txt"]
    md = run("diff", "--cached", "--md").output
    assert "`ü x.txt`" in md


def _evals(run, monkeypatch):
    """mmlu on both versions (three seeds on the new one), gsm8k on the new one only, and a
    perplexity that improves downwards."""
    monkeypatch.setenv("MMVC_AUTHOR_DATE", "1700000001")
    run("eval", "add", "HEAD~1", "--name", "mmlu", "--metrics", "-", "--higher-is-better", "acc",
        input='{"acc": 0.61, "stem": {"acc": 0.5}}')
    run("eval", "add", "HEAD~1", "--name", "wikitext", "--metrics", "-", "--lower-is-better", "ppl", input='{"ppl": 9.5}')
    for t, acc in (("1700000002", 0.64), ("1700000003", 0.66), ("1700000004", 0.68)):
        monkeypatch.setenv("MMVC_AUTHOR_DATE", t)
        run("eval", "add", "HEAD", "--name", "mmlu", "--metrics", "-", input=json.dumps({"acc": acc, "stem": {"acc": 0.5}}))
    run("eval", "add", "HEAD", "--name", "wikitext", "--metrics", "-", input='{"ppl": 9.75}')
    run("eval", "add", "HEAD", "--name", "gsm8k", "--metrics", "-", input='{"exact_match": 0.3}')


def test_markdown_evaluations_table_golden(run, two_versions, monkeypatch):
    _evals(run, monkeypatch)
    repo = Repo(str(two_versions))
    a, b = repo.resolve("HEAD~1")[:12], repo.resolve("HEAD")[:12]
    md = run("diff", "HEAD~1", "HEAD", "--md", "--limit", "0").output
    assert md == (
        f"### mmvc diff: HEAD~1 ({a}) → HEAD ({b})\n"
        "\n"
        "**5 change(s)**: 1 added, 1 removed, 1 modified, 1 renamed, 1 metadata only; +32 B / -26 B\n"
        "\n"
        "| modality | added | removed | modified | renamed | metadata | bytes added | bytes removed |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        "| image | 0 | 0 | 0 | 1 | 0 | +0 B | -0 B |\n"
        "| text | 1 | 1 | 1 | 0 | 1 | +32 B | -26 B |\n"
        "| **total** | 1 | 1 | 1 | 1 | 1 | +32 B | -26 B |\n"
        "\n"
        "#### Evaluations\n"
        "\n"
        f"| eval | metric | HEAD~1 ({a}) | HEAD ({b}) | Δ | |\n"
        "| --- | --- | ---: | ---: | ---: | --- |\n"
        "| mmlu | acc | 0.61 | 0.66 ± 0.02 (3 runs) | +0.05 | ↑ better |\n"
        "| mmlu | stem.acc | 0.5 | 0.5 ± 0 (3 runs) | 0 | = |\n"
        "| wikitext | ppl | 9.5 | 9.75 | +0.25 | ↓ worse |\n"
    )
    # the same data in --json; gsm8k (on one side only) is in neither
    doc = json.loads(run("diff", "HEAD~1", "HEAD", "--json").output)
    rows = [(e["name"], e["metric"], e["a"]["mean"], e["b"]["runs"], e["verdict"]) for e in doc["evaluations"]]
    assert rows == [("mmlu", "acc", 0.61, 3, "improved"), ("mmlu", "stem.acc", 0.5, 3, ""), ("wikitext", "ppl", 9.5, 1, "regressed")]
    # without differences in the data, the evaluations still show
    same = run("diff", "HEAD", "HEAD", "--md").output
    assert "No differences.\n\n#### Evaluations" in same
    assert "| mmlu | acc | 0.66 ± 0.02 (3 runs) | 0.66 ± 0.02 (3 runs) | 0 | = |" in same


def test_no_evaluations_no_table(run, two_versions):
    assert "Evaluations" not in run("diff", "HEAD~1", "HEAD", "--md").output
    assert json.loads(run("diff", "HEAD~1", "HEAD", "--json").output)["evaluations"] == []
    assert json.loads(run("diff", "--json").output)["evaluations"] == []
