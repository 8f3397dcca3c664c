"""The .mmvc layout: every file mmvc writes is described by one entry of mmvc.core.layout and by
docs/format.md. A whole workflow runs on a real repository (no Ray: an ungated repository; the
processed side is checked on the catalog's processed repository, tests/catalog/test_catalog_e2e.py)
and every file it leaves under .mmvc/ must be one the layout knows."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from mmvc.core.layout import Layout
from mmvc.errors import BadInputError
from mmvc.importers.base import ImportOptions
from mmvc.repo import Repo
from tests.process_fixtures import STORY, build, png

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "format.md")


def _format_md() -> str:
    with open(DOCS, encoding="utf-8") as f:
        return f.read()


def _headings(text: str) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#{2,4} (.+)$", text, re.M)}


def test_every_layout_entry_is_in_docs_format_md():
    text = _format_md()
    block = text[text.index("## Repository layout"):text.index("## Configuration")]
    sections = _headings(text)
    for e in Layout.entries():
        assert e.pattern in block, f"{e.pattern} ({e.name}) is missing from the layout block of docs/format.md"
        assert e.section in sections, f"{e.name}: docs/format.md has no section {e.section!r}"
        assert e.doc, f"{e.name} says nothing about what it holds"
    # and the layout block lists nothing the layout object does not know
    listed = {ln.split()[0] for ln in block.split("```")[1].splitlines()[2:] if ln.strip()}
    assert listed == {e.pattern for e in Layout.entries()}


def test_code_points_at_sections_that_exist():
    """``docs/format.md, "Section"`` in code and docs names a real section."""
    sections = _headings(_format_md())
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    cited = set()
    for folder in ("mmvc", "docs"):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in files:
                if name.endswith((".py", ".md")):
                    with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                        cited |= {" ".join(c.split()) for c in re.findall(r"format\.md,? \"([^\"]+)\"", f.read())}
    assert cited and cited <= sections, cited - sections


@pytest.mark.parametrize("rel, name", [
    ("config.toml", "config"),
    ("refs/heads/feature/x", "branch"),
    ("refs/remotes/origin/main", "tracking"),
    ("logs/refs/heads/main", "reflog"),
    ("logs/HEAD", "reflog"),
    ("objects/ab/cd/" + "ab" * 32, "objects"),
    ("objects/pack/pack-" + "0" * 64 + ".idx", "objects"),
    ("index.d/" + "1" * 64 + ".base", "index_base"),
    ("process/cache/embed_text/0123/part.parquet", "feature_cache"),
    ("catalog/items.lance/_versions/1.manifest", "catalog_table"),
    ("refs/heads/main.tmp-123-456", "temp"),
    ("hooks/pre-commit.sample", "hook"),
    ("refs/evals/" + "ab" * 32 + "/" + "cd" * 32, "eval"),
    ("refs/runs/team/r1", "run"),
    ("cache/eval-summaries.bin", "eval_summaries"),
])
def test_describe(rel, name):
    assert Layout.describe(rel).name == name


@pytest.mark.parametrize("rel", ["notes.txt", "refs/main", "objects/ab/x", "catalog/other", "index.tmp-x", "nope.tmp-1"])
def test_describe_refuses_what_no_entry_says(rel):
    assert Layout.describe(rel) is None


def _write(root, rel: str, data) -> None:
    build(root, {rel: data})


def test_a_full_workflow_leaves_only_described_files(tmp_path):
    root = str(tmp_path / "work")
    repo = Repo.init(root, ungated=True)
    lay = repo.layout
    hook = lay.hook("commit-msg")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(hook, os.stat(hook).st_mode | stat.S_IXUSR)

    # add text and images, commit (the commit-msg hook leaves COMMIT_EDITMSG)
    build(root, {"text/story.txt": STORY + "\n", "text/a.txt": "alpha\n", "images/a.png": png(1), "images/b.png": png(2)})
    repo.add(["."], cwd=root)
    first = repo.commit("first version of the data").oid
    repo.catalog("HEAD", allow_ungated=True).to_arrow()  # rows and the scope cache

    # branch, tag, recipe
    repo.branch("side")
    repo.tag("v1", message="first release")
    repo.tag("light")
    repo.create_recipe("all-text", where="modality = 'text'", allow_ungated=True)

    # an import that stops half-way leaves its checkpoint
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "a.jsonl").write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(3)))
    (rows / "b.jsonl").write_text('{"text": oops}\n')
    with pytest.raises(BadInputError):
        repo.import_("jsonl", [str(rows / "*.jsonl")], options=ImportOptions(text_field="text", prefix="imported"), jobs=1)

    # a remote: push everything, fetch back
    from mmvc.ops.fetch import fetch
    from mmvc.ops.push import push
    from mmvc.ops.remote import add_remote

    add_remote(repo, "origin", str(tmp_path / "remote"))
    push(repo, all_branches=True, tags=True)
    fetch(repo)

    # gc repacks; a sparse checkout remembers its filter
    repo.gc()
    repo.checkout("main", sparse=["text/**"])

    # a merge left with a conflict: MERGE_HEAD, MERGE_STATE.json, ORIG_HEAD
    repo.switch("side")
    _write(root, "text/a.txt", "alpha from side\n")
    repo.add(["text/a.txt"], cwd=root)
    repo.commit("side edits alpha")
    repo.switch("main")
    _write(root, "text/a.txt", "alpha from main\n")
    repo.add(["text/a.txt"], cwd=root)
    repo.commit("main edits alpha")
    assert repo.merge("side").status == "conflicts"
    assert len(repo.refs.read_log("HEAD")) >= 5

    with repo.locked("layout check"):  # the lock file too
        files = lay.files()
    undescribed = sorted(rel for rel, e in files.items() if e is None)
    assert not undescribed, f"files under .mmvc/ that mmvc.core.layout does not describe: {undescribed}"
    seen = {e.name for e in files.values()}
    assert seen >= {"config", "head", "branch", "tag", "recipe", "tracking", "reflog", "merge_head", "orig_head",
                    "merge_state", "commit_editmsg", "index", "objects", "sparse", "lock", "hook",
                    "import_checkpoint", "catalog_table", "scope", "remote_packs"}, seen
    assert repo.fsck().ok and repo.resolve("v1") == first
    _write(lay.dir, "notes/todo.txt", "not mmvc's\n")
    assert lay.files()["notes/todo.txt"] is None
