"""The conveniences Git users reach for: `status -s` / `--porcelain[=v2]` with renames,
`branch --show-current`, `config --list`, and config edits that keep the file's comments."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def committed(run, tmp_path):
    """main with three text items; then a staged `mmvc mv`, a plain `mv`, an edit and a new file."""
    run("init", "--ungated")
    for name, text in (("b.txt", "bee"), ("c.txt", "sea"), ("d/a.txt", "hi")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    run("add", ".")
    run("commit", "-m", "one")
    return tmp_path


def change_everything(run, root):
    run("mv", "b.txt", "b2.txt")
    (root / "c.txt").rename(root / "c2.txt")
    (root / "d" / "a.txt").write_text("changed")
    (root / "n.txt").write_text("new")


def test_status_shows_moves_as_renames(run, committed):
    change_everything(run, committed)
    out = run("status").output
    assert "renamed:   b.txt -> b2.txt" in out  # staged (mmvc mv)
    assert "renamed:   c.txt -> c2.txt" in out  # in the work tree (plain mv): same bytes, new name
    assert "deleted" not in out and "c2.txt\n" not in out.split("Untracked files")[1]
    doc = json.loads(run("status", "--json").output)
    assert [(c["kind"], c["from_path"], c["path"]) for c in doc["staged"]] == [("renamed", "b.txt", "b2.txt")]
    assert [(c["kind"], c["from_path"], c["path"]) for c in doc["unstaged"]] == [("renamed", "c.txt", "c2.txt"), ("modified", None, "d/a.txt")]
    assert [c["path"] for c in doc["untracked"]] == ["n.txt"]


def test_a_changed_file_moved_is_a_deletion_and_an_untracked_file(run, committed):
    (committed / "c.txt").rename(committed / "c2.txt")
    (committed / "c2.txt").write_text("not the same bytes")
    assert run("status", "--porcelain").output.splitlines() == [" D c.txt", "?? c2.txt"]


def test_short_and_porcelain_v1(run, committed):
    change_everything(run, committed)
    run("add", "d/a.txt")
    (committed / "d" / "a.txt").write_text("changed again")
    expected = ["R  b.txt -> b2.txt", " R c.txt -> c2.txt", "MM d/a.txt", "?? n.txt"]
    assert run("status", "--porcelain").output.splitlines() == expected
    assert run("status", "--porcelain=v1").output.splitlines() == expected
    assert run("status", "-s").output.splitlines() == expected  # no colour when not a terminal
    # without looking at untracked files the moved bytes cannot be found again
    assert run("status", "--porcelain", "--no-untracked").output.splitlines() == [expected[0], " D c.txt", expected[2]]


def test_porcelain_v2(run, committed):
    change_everything(run, committed)
    head = json.loads(run("show", "--json").output)["oid"]
    lines = run("status", "--porcelain=v2").output.splitlines()
    assert lines[:2] == [f"# branch.oid {head}", "# branch.head main"]
    kinds = [line.split(" ")[:8] for line in lines[2:-1]]
    oid = {k["path"]: k["oid"] for k in json.loads(run("ls-files", "--json").output)}
    assert kinds[0] == ["2", "R.", "N...", "100644", "100644", "100644", oid["b2.txt"], oid["b2.txt"]]
    assert lines[2].endswith("R100 b2.txt\tb.txt")
    assert kinds[1][:2] == ["2", ".R"] and lines[3].endswith("R100 c2.txt\tc.txt")
    assert kinds[2] == ["1", ".M", "N...", "100644", "100644", "100644", oid["d/a.txt"], oid["d/a.txt"]]
    assert lines[-1] == "? n.txt"


def test_porcelain_of_a_clean_tree_and_before_the_first_commit(run, tmp_path):
    run("init", "--ungated")
    assert run("status", "--porcelain=v2").output.splitlines() == ["# branch.oid (initial)", "# branch.head main"]
    (tmp_path / "a.txt").write_text("a")
    run("add", "a.txt")
    assert run("status", "--porcelain").output.splitlines() == ["A  a.txt"]
    run("commit", "-m", "one")
    assert run("status", "--porcelain").output == ""
    run("status", "--porcelain=v3", expect=2)


def test_branch_show_current(run, committed):
    assert run("branch", "--show-current").output == "main\n"
    run("switch", "-c", "exp")
    assert run("branch", "--show-current").output == "exp\n"
    run("checkout", "main~0")
    assert run("branch", "--show-current").output == ""  # detached: nothing, as Git


def test_config_list_and_comments_survive_a_set(run, committed):
    cfg = committed / ".mmvc" / "config.toml"
    cfg.write_text(cfg.read_text().replace("[process]\n", "[process]  # x\n# my note\n"))
    run("config", "process.families.clip", "false")
    run("config", "process.gated", "true")
    run("config", "remote.backup.url", "file:///tmp/backup")
    text = cfg.read_text()
    assert "[process]  # x\n# my note\n" in text and "# mmvc repository configuration" in text
    assert "gated = true" in text and "[process.families]\nclip = false" in text
    listed = run("config", "--list").output.splitlines()
    assert "process.families.clip=false" in listed and "core.format=2" in listed
    assert "remote.backup.url=file:///tmp/backup" in listed
    assert json.loads(run("config", "--list", "--json").output)["process.gated"] is True
    run("remote", "remove", "backup")
    assert "backup" not in cfg.read_text() and "# my note" in cfg.read_text()
    run("config", expect=2)
    run("config", "--list", "core.format", expect=2)
    run("config", "process.gated.x", "1", expect=4)  # gated is a value, not a table
