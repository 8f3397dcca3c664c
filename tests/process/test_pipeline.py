"""`mmvc process` end to end: real Ray (local mode), real decoders, tiny seeded models built
through the real loading code, and the gate that commit enforces."""

from __future__ import annotations

import json
import os

import pytest

from mmvc.errors import GateError
from mmvc.ops.init import init
from tests.process_fixtures import STORY, build, jpeg, png, use_tiny_models, wav


def sample_files() -> dict:
    return {
        "images/a.png": png(1), "images/b.png": png(2), "images/a-copy.png": png(1),
        "images/broken.png": png(3)[:60],
        "text/story.txt": STORY + "\n",
        "text/story2.txt": STORY.replace("lazy", "sleepy") + "\n",
        "text/other.txt": "Completely different words about databases, indexes, transactions and query planners in production systems.\n",
        "text/empty.txt": "",
        "text/latin1.txt": "caf\xe9 ol\xe9 ".encode("latin-1") * 5,
        "audio/tone.wav": wav(440), "audio/silent.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x10\0\0\0\1\0\1\0\x80>\0\0\0}\0\0\2\0\x10\0data\0\0\0\0",
    }


def tiny_repo(root, tiny_models, files: dict | None = None, **process_settings):
    """A gated repository on the tiny models with ``files`` staged; ``process_settings`` go
    under [process] (``in_process_max=0`` puts every stage on Ray)."""
    from mmvc.core.config import set_value

    repo = init(str(root))
    use_tiny_models(repo, tiny_models)
    for key, value in process_settings.items():
        set_value(repo, "process", key, value)
    repo.__dict__.pop("config", None)
    if files:
        build(root, files)
        repo.add(["."], cwd=repo.root)
    return repo


@pytest.fixture
def gated_repo(tmp_path, tiny_models, ray_local):
    return tiny_repo(tmp_path, tiny_models, sample_files())


def rows_by_path(repo, **kw) -> dict:
    from mmvc.ops.report import report

    return {row.path: row for row in report(repo, include_passed=True, **kw).rows}


def test_process_verdicts_gate_and_cache(gated_repo):
    repo = gated_repo
    with pytest.raises(GateError, match="not processed"):
        repo.commit("before processing")
    from mmvc.ops.process import process
    from mmvc.ops.report import report

    r = process(repo)
    assert r.items == 11
    rep = {row.path: row for row in report(repo, include_passed=True).rows}
    assert rep["images/broken.png"].status == "rejected" and rep["images/broken.png"].stage == "decode"
    assert rep["text/empty.txt"].status == "rejected"
    assert rep["text/latin1.txt"].status == "rejected" and rep["text/latin1.txt"].reason == "not_utf8"
    assert rep["audio/silent.wav"].status == "rejected"
    # identical bytes: the first in path order is kept ("a-copy" sorts before "a.png")
    assert rep["images/a.png"].status == "duplicate" and rep["images/a.png"].duplicate_of == "images/a-copy.png"
    assert rep["images/a.png"].stage == "exact"
    assert rep["text/story2.txt"].status == "duplicate" and rep["text/story2.txt"].duplicate_of == "text/story.txt"
    assert rep["text/story2.txt"].stage == "near"
    passed = sorted(p for p, row in rep.items() if row.status == "passed")
    assert passed == ["audio/tone.wav", "images/a-copy.png", "images/b.png", "text/other.txt", "text/story.txt"]

    st = repo.status()
    assert sum(st.verdicts["passed"].values()) == 5 and sum(st.verdicts["rejected"].values()) == 4

    # nothing changed: everything comes from the cache and Ray is not even started
    again = process(repo)
    assert again.decoded == 0 and again.embedded == {"text": 0, "clip": 0}
    assert again.counts == r.counts

    c = repo.commit("curated")
    assert c.held == 6 and c.added == 5
    commit = repo.read_commit(c.oid)
    assert commit.gate.mode == "gated" and commit.gate.report and commit.gate.config == r.config
    assert sorted(e.path for e in repo.ls_files("HEAD")) == passed
    assert commit.gate.report == again.report


def test_config_change_makes_verdicts_stale(gated_repo):
    from mmvc.core.config import set_value
    from mmvc.ops.process import process

    repo = gated_repo
    process(repo)
    with repo.locked("config"):
        set_value(repo, "process.semantic", "eps", 0.02)
    repo.__dict__.pop("config", None)
    assert "stale" in repo.status().verdicts
    with pytest.raises(GateError, match="different process config"):
        repo.commit("stale")
    r = process(repo)
    assert r.decoded == 0  # only the semantic stage's config changed: decoding is reused
    repo.commit("fresh")


def test_exact_duplicate_of_head_and_ungated(gated_repo, tmp_path):
    from mmvc.ops.process import process

    repo = gated_repo
    process(repo)
    repo.commit("v1")
    build(repo.root, {"elsewhere/story-again.txt": STORY + "\n"})
    repo.add(["elsewhere"], cwd=repo.root)
    process(repo)
    from mmvc.ops.report import report

    [row] = [r for r in report(repo).rows if r.path == "elsewhere/story-again.txt"]
    assert row.status == "duplicate" and row.duplicate_of == "text/story.txt" and row.stage == "exact"

    raw = init(str(tmp_path / "raw"), ungated=True)
    build(raw.root, {"x.txt": ""})
    raw.add(["x.txt"], cwd=raw.root)
    assert raw.read_commit(raw.commit("raw").oid).gate.mode == "ungated"


def test_missing_model_names_it_and_the_fix(gated_repo):
    from mmvc.core.config import set_value
    from mmvc.errors import BadInputError
    from mmvc.ops.process import process

    repo = gated_repo
    with repo.locked("config"):
        set_value(repo, "process.models", "image", "no-such-org/no-such-clip")
    repo.__dict__.pop("config", None)
    with pytest.raises(BadInputError) as e:
        process(repo)
    assert "no-such-org/no-such-clip" in e.value.message and ("local" in (e.value.hint or "") or "clip" in (e.value.hint or ""))
    assert json.dumps(e.value.hint)


def test_ctrl_c_during_process_records_nothing(gated_repo):
    """An interrupted run leaves every staged item unprocessed, the lock released, and the
    repository usable; features it finished computing may stay cached."""
    import signal
    import subprocess
    import sys
    import time

    from mmvc.core.config import set_value

    repo = gated_repo
    set_value(repo, "process", "in_process_max", 0)  # a Ray run, the one with workers to stop
    before = open(os.path.join(repo.dir, "index"), "rb").read()
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", repo.root, "process"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(4)  # inside the Ray run (start-up alone takes longer than this)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("process finished before the interrupt arrived on this machine")
    assert proc.returncode == 130, err
    assert open(os.path.join(repo.dir, "index"), "rb").read() == before
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
    assert "unprocessed" in repo.status().verdicts


def test_worker_killed_mid_batch_is_retried(gated_repo, tmp_path, monkeypatch):
    """A decode worker that dies once (as under the OOM killer) is restarted by Ray and its
    batch retried: the run completes with the same verdicts as an undisturbed one."""
    from mmvc.ops.process import process
    from mmvc.ops.report import report
    from mmvc.process.pipeline import FAILPOINT_ENV

    marker = tmp_path / "fired"
    monkeypatch.setenv(FAILPOINT_ENV, f"decode:text/other.txt:once:{marker}")
    process(gated_repo)
    assert marker.exists()  # the worker really died
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert rep["text/other.txt"].status == "passed" and rep["images/b.png"].status == "passed"
    assert not any(row.reason == "worker_died" for row in rep.values())


def test_item_that_keeps_killing_its_worker_is_reported_not_fatal(gated_repo, monkeypatch):
    """An item whose decoding kills the worker on every retry becomes that item's rejection; the
    rest of the run completes, and since a death is not the item's verdict, it is not cached."""
    from mmvc.ops.process import process
    from mmvc.ops.report import report
    from mmvc.process.pipeline import FAILPOINT_ENV

    monkeypatch.setenv(FAILPOINT_ENV, "decode:text/other.txt")
    r = process(gated_repo)
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert rep["text/other.txt"].status == "rejected" and rep["text/other.txt"].reason == "worker_died"
    assert rep["text/other.txt"].stage == "decode"
    assert rep["text/story.txt"].status == "passed" and rep["images/b.png"].status == "passed"
    assert sum(r.counts["passed"].values()) == 4

    monkeypatch.delenv(FAILPOINT_ENV)
    process(gated_repo)
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert rep["text/other.txt"].status == "passed"


def test_embedding_worker_death_rejects_only_that_item(gated_repo, monkeypatch):
    from mmvc.ops.process import process
    from mmvc.ops.report import report
    from mmvc.process.pipeline import FAILPOINT_ENV

    oid = {e.path: e.oid for e in gated_repo.ls_files()}["images/b.png"]
    monkeypatch.setenv(FAILPOINT_ENV, f"embed:{oid}")
    process(gated_repo)
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert (rep["images/b.png"].status, rep["images/b.png"].stage, rep["images/b.png"].reason) == ("rejected", "embed", "worker_died")
    assert rep["images/a-copy.png"].status == "passed" and rep["text/story.txt"].status == "passed"


def test_near_duplicate_of_an_item_already_in_head(gated_repo):
    """A staged text a few words away from one already committed is a duplicate of HEAD's item;
    an edit of a committed file is not a duplicate of the version it replaces."""
    from mmvc.ops.process import process
    from mmvc.ops.report import report

    repo = gated_repo
    process(repo)
    repo.commit("curated")
    build(repo.root, {"text/story3.txt": STORY.replace("quick", "swift") + "\n",
                      "text/other.txt": "Completely different words about databases, indexes, transactions and query planners in busy production systems.\n"})
    repo.add(["text"], cwd=repo.root)
    process(repo)
    rep = {row.path: row for row in report(repo).rows}
    assert rep["text/story3.txt"].status == "duplicate" and rep["text/story3.txt"].stage == "near"
    assert rep["text/story3.txt"].duplicate_of == "text/story.txt"
    assert "text/other.txt" not in rep  # passed: the report lists only failures by default
    c = repo.commit("edit")
    assert c.modified == 1 and c.added == 0


def test_reprocess_keeps_a_near_copy_of_a_committed_item_out(tmp_path, tiny_models):
    """Regression: a committed picture, a byte-identical copy and a re-saved copy. The first run
    holds both copies back; after the commit, a second run with nothing changed used to let the
    re-saved copy pass (HEAD's item stopped anchoring the near tier because a staged item had
    its bytes), and the next commit recorded it."""
    from mmvc.errors import ConflictError
    from mmvc.ops.process import process

    original = png(7, (160, 120))
    repo = tiny_repo(tmp_path, tiny_models, {"img/astronaut.png": original, "img/astronaut_exact.png": original,
                                             "img/astronaut_copy.jpg": jpeg(original, quality=80)})
    process(repo)
    rows = rows_by_path(repo)
    assert (rows["img/astronaut_copy.jpg"].status, rows["img/astronaut_copy.jpg"].stage) == ("duplicate", "near")
    assert (rows["img/astronaut_exact.png"].status, rows["img/astronaut_exact.png"].stage) == ("duplicate", "exact")
    c = repo.commit("v1")
    assert (c.added, c.held) == (1, 2)

    process(repo)
    rows = rows_by_path(repo)
    assert rows["img/astronaut_copy.jpg"].status == "duplicate"
    assert rows["img/astronaut_copy.jpg"].duplicate_of == "img/astronaut.png"
    assert rows["img/astronaut_exact.png"].duplicate_of == "img/astronaut.png"
    with pytest.raises(ConflictError, match="nothing to commit"):
        repo.commit("v2")
    assert [e.path for e in repo.ls_files("HEAD")] == ["img/astronaut.png"]


def test_in_process_and_ray_give_the_same_verdicts(tmp_path, tiny_models, ray_local):
    """Small work runs in the driver without starting Ray; the same UDFs on Ray judge the same
    files the same way, and embed them to the same vectors (up to float rounding)."""
    import numpy as np

    from mmvc.ops.process import process
    from mmvc.process.cache import FeatureCache
    from mmvc.process.config import ProcessConfig

    seen = {}
    for engine, limit in (("in-process", 2000), ("ray", 0)):
        repo = tiny_repo(tmp_path / engine, tiny_models, sample_files(), in_process_max=limit)
        r = process(repo)
        assert r.engine == engine and r.decoded == 10  # eleven files, two with the same bytes
        rows = rows_by_path(repo)
        cfg = ProcessConfig.load(repo)
        vectors = {}
        for family in ("text", "clip"):
            cache = FeatureCache(repo, f"embed_{family}", cfg.stage_hash(f"embed_{family}"))
            vectors.update({(family, o): r["vector"] for o, r in cache.load({row.oid for row in rows.values()}).items()})
        seen[engine] = ({p: (x.status, x.stage, x.reason, x.duplicate_of) for p, x in rows.items()}, vectors)
    assert seen["in-process"][0] == seen["ray"][0]
    local, ray = seen["in-process"][1], seen["ray"][1]
    assert local.keys() == ray.keys() and len(local) == 4  # two texts, two pictures passed the near tier
    for k in local:
        assert np.allclose(local[k], ray[k], atol=1e-5), k
