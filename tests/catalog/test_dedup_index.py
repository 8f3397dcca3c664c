"""The history-wide dedup index: written at commit, carried to remotes as one dedup-features
object per commit, read into a fresh clone's index, and what `process` compares staged items
with. Real repositories, real remotes (file://), real pipeline on the tiny seeded models."""

from __future__ import annotations

import os
import shutil

from mmvc.ops.process import process
from mmvc.repo import Repo
from tests.ops.test_gate import edit_one_word, text
from tests.process_fixtures import build, use_tiny_models


def commit_texts(repo, files: dict, message: str):
    build(repo.root, files)
    repo.add(list(files), cwd=repo.root)
    process(repo)
    return repo.commit(message)


def upstream_with_history(tmp_path, tiny_models, n: int = 40):
    from mmvc.ops.push import push
    from mmvc.ops.remote import add_remote

    origin = Repo.init(str(tmp_path / "origin"))
    use_tiny_models(origin, tiny_models)
    files = {f"t/{i:02d}.txt": text(i) for i in range(n)}
    commit_texts(origin, files, "forty texts")
    url = f"file://{tmp_path}/remote"
    add_remote(origin, "origin", url)
    push(origin)
    return origin, url, files


def test_a_fresh_clone_dedups_new_items_against_upstream_history(tmp_path, tiny_models, ray_local):
    """The issue's clone test: upstream processes, commits and pushes 40 texts; a fresh clone
    adds one-word edits of 10 of them; `process` in the clone marks all 10 as near duplicates
    of the upstream items, without having processed any upstream item itself."""
    from mmvc.ops.clone import clone
    from mmvc.ops.report import report

    origin, url, files = upstream_with_history(tmp_path, tiny_models)
    head = origin.read_commit(origin.head()[1])
    assert head.gate.dedup  # the commit names its items' dedup features

    mine = Repo(clone(url, str(tmp_path / "mine")).path)
    use_tiny_models(mine, tiny_models)
    assert not os.path.exists(mine.layout.feature_cache("prep", "x").rsplit("/", 2)[0])  # nothing processed here
    edits = {f"new/{i:02d}.txt": edit_one_word(files[f"t/{i:02d}.txt"]) for i in range(0, 40, 4)}
    build(mine.root, edits)
    mine.add(list(edits), cwd=mine.root)
    r = process(mine)
    assert r.history == "dedup-index" and r.decoded == 10  # only the staged items were decoded
    rows = {row.path: row for row in report(mine, include_passed=True).rows}
    for i in range(0, 40, 4):
        row = rows[f"new/{i:02d}.txt"]
        assert (row.status, row.stage, row.duplicate_of) == ("duplicate", "near", f"t/{i:02d}.txt"), row


def test_index_rebuilt_from_the_objects_when_deleted_and_same_verdicts_as_the_feature_cache(tmp_path, tiny_models, ray_local):
    """Deleting the table costs a re-read of the objects, and the verdicts through the index are
    the ones the feature cache gives in the clone that processed everything itself."""
    from mmvc.ops.report import report

    origin = Repo.init(str(tmp_path / "origin"))
    use_tiny_models(origin, tiny_models)
    files = {f"t/{i:02d}.txt": text(i) for i in range(12)}
    commit_texts(origin, files, "base")
    edits = {f"new/{i:02d}.txt": edit_one_word(files[f"t/{i:02d}.txt"]) for i in range(0, 12, 3)}
    edits["new/fresh.txt"] = text(500)
    build(origin.root, edits)
    origin.add(list(edits), cwd=origin.root)
    seen = {}
    for how in ("dedup-index", "rebuilt", "feature-cache"):
        if how == "rebuilt":
            shutil.rmtree(os.path.dirname(origin.layout.dedup_table))
        if how == "feature-cache":  # a history the index does not cover: a commit of another config's items
            with open(origin.layout.dedup_synced, "w") as f:
                f.write(f"{origin.read_commit(origin.head()[1]).gate.dedup} another-config\n")
        r = process(origin)
        assert r.history == ("dedup-index" if how != "feature-cache" else "feature-cache")
        seen[how] = {row.path: (row.status, row.stage, row.duplicate_of) for row in report(origin, include_passed=True).rows}
    assert seen["dedup-index"] == seen["rebuilt"] == seen["feature-cache"]
    assert seen["dedup-index"]["new/fresh.txt"][0] == "passed"
    assert all(seen["dedup-index"][f"new/{i:02d}.txt"] == ("duplicate", "near", f"t/{i:02d}.txt") for i in range(0, 12, 3))


def test_an_unreadable_index_is_one_line_error_naming_the_fix_and_catalog_rebuild_restores_it(tmp_path, tiny_models, ray_local):
    from click.testing import CliRunner

    from mmvc.cli.main import cli
    from mmvc.errors import CorruptError, ExitCode

    origin = Repo.init(str(tmp_path / "origin"))
    use_tiny_models(origin, tiny_models)
    files = {f"t/{i:02d}.txt": text(i) for i in range(6)}
    commit_texts(origin, files, "base")
    for name in os.listdir(origin.layout.dedup_table):  # the table's insides gone, the folder left
        shutil.rmtree(os.path.join(origin.layout.dedup_table, name))
    build(origin.root, {"new/edit.txt": edit_one_word(files["t/03.txt"])})
    origin.add(["new"], cwd=origin.root)
    r = CliRunner().invoke(cli, ["-C", origin.root, "process"])
    assert r.exit_code == ExitCode.CORRUPT and "dedup index" in r.output and "mmvc catalog rebuild" in r.output, r.output
    assert CorruptError.exit_code == ExitCode.CORRUPT
    r = CliRunner().invoke(cli, ["-C", origin.root, "catalog", "rebuild"])
    assert r.exit_code == 0 and "dedup index: 6 rows" in r.output, r.output
    assert process(origin).history == "dedup-index"
    from mmvc.ops.report import report

    row = {row.path: row for row in report(origin).rows}["new/edit.txt"]
    assert (row.status, row.duplicate_of) == ("duplicate", "t/03.txt")
